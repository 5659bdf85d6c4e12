"""Team: split the queue among annotators, follow their progress and agreement, settle disagreements."""

import streamlit as st

from ui import team_panel as panel
from ui.common import annotator, page_header, sidebar, store_or_stop

store = store_or_stop()
dataset = sidebar(store)
page_header("Team", dataset)
if dataset is None:
    st.info("No dataset yet: import one first.")
    st.stop()
who = annotator()

st.subheader("Split the queue")
panel.split_form(store, dataset.dataset_id)
st.subheader("Progress and agreement")
panel.progress_table(store, dataset.dataset_id)
panel.adjudication(store, dataset.dataset_id, who)
