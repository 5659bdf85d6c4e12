"""The store handle, the current dataset and the annotator, shared by every page.

The store path comes from the command line (``streamlit run app.py -- --store PATH``, which
``curate app`` passes) and defaults to ``./curation.duckdb``. One :class:`Store` is opened per
process and shared by every browser session: it serialises access with its own lock.
"""
from __future__ import annotations

import argparse
import sys

import streamlit as st

from curation.store import DEFAULT_STORE, DatasetInfo, Store

DATASET_KEY = "dataset_name"
ANNOTATOR_KEY = "annotator"


def store_path(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--store", default=DEFAULT_STORE)
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return args.store


@st.cache_resource(show_spinner=False)
def open_store(path: str) -> Store:
    return Store(path)


def get_store() -> Store:
    """The process-wide store for this app."""
    return open_store(store_path())


def current_dataset(store: Store) -> DatasetInfo | None:
    """The dataset picked in the sidebar (the first one by default), or None when empty."""
    datasets = store.datasets()
    if not datasets:
        return None
    names = [d.name for d in datasets]
    if st.session_state.get(DATASET_KEY) not in names:
        st.session_state[DATASET_KEY] = names[0]
    return next(d for d in datasets if d.name == st.session_state[DATASET_KEY])


def sidebar(store: Store) -> DatasetInfo | None:
    """Dataset picker and annotator name; returns the current dataset."""
    dataset = current_dataset(store)
    with st.sidebar:
        if dataset is not None:
            st.selectbox("Dataset", [d.name for d in store.datasets()], key=DATASET_KEY)
        st.text_input("Annotator", key=ANNOTATOR_KEY, placeholder="your name",
                      help="Recorded with every review decision.")
        st.caption(f"Store: `{store.path}`")
    return current_dataset(store)


def annotator() -> str:
    return (st.session_state.get(ANNOTATOR_KEY) or "").strip() or "anonymous"
