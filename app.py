"""CLEAR Studio: the Streamlit entry point.

Run it with ``curate app`` (or ``streamlit run app.py -- --store PATH``). It sets the page
config once for every page and routes to the pages in ``pages/``: Home, then the stages
Import, Run, Review, Insights, Export.
"""

import streamlit as st

from ui.common import stage_pages

st.set_page_config(page_title="CLEAR Studio", layout="wide")
home = st.Page("pages/0_Home.py", title="Home", icon=":material/home:", default=True)
st.navigation([home, *(st.Page(path, title=label) for path, label in stage_pages())]).run()
