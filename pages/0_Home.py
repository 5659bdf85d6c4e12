"""Home: what the tool does, the store's datasets, and the sample data one click away."""

import pandas as pd
import streamlit as st

from curation.errors import CurationError
from ui.common import datasets_table, flash, load_samples, select_dataset, sidebar, stage_pages, store_or_stop

store = store_or_stop()
sidebar(store)

st.title("CLEAR Studio")
st.markdown(
    "Find the bad examples in an LLM fine-tuning dataset and fix them with a person in the loop.  \n"
    "An LLM scores every example's confidence, flags the doubtful ones and proposes corrections; "
    "you accept, edit or remove them, and export a curated file with a manifest of every change."
)

rows = datasets_table(store)
if rows:
    st.subheader("Datasets in this store")
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption("Import more data, score a dataset, decide on the flagged examples, write the result out:")
    for column, (path, label) in zip(st.columns(len(stage_pages())), stage_pages()):
        column.page_link(path, label=label)
else:
    st.info("This store has no datasets yet.")
    if st.button(
        "Load the sample data",
        type="primary",
        key="home_load_samples",
        help="Imports the four demo datasets of sample_data/ (chat, Alpaca, ShareGPT, CSV).",
    ):
        try:
            names = load_samples(store)
        except CurationError as e:
            st.error(str(e))
        else:
            if names:
                select_dataset(names[0])
            flash(f"Loaded {len(names)} sample datasets: {', '.join(names)}.")
            st.rerun()
    st.markdown("Or bring your own file (JSONL, JSON, CSV or Parquet):")
    st.page_link("pages/1_Import.py", label="Import a dataset", icon=":material/upload_file:")
