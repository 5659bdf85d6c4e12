"""Empty states: say what is missing and link to the page that provides it."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException


def point_to(message: str, page: str, label: str) -> None:
    """An info box with ``message`` and a link to ``page`` (plain text when the page is not registered)."""
    st.info(message)
    try:
        st.page_link(page, label=label, icon=":material/arrow_forward:")
    except StreamlitAPIException:  # the page is not part of this app run (a page tested on its own)
        st.caption(f"Open **{label}** from the sidebar.")
