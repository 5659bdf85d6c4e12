"""The store handle, the current dataset and the annotator, shared by every page.

Which store the app opens, first match wins:

1. ``--store PATH`` after ``--`` on the command line (``streamlit run app.py -- --store PATH``,
   which is what ``curate app`` runs);
2. the environment variable ``CLEAR_STUDIO_STORE`` (read here and nowhere else; the app tests
   and the browser test point the app at a temporary store with it);
3. ``./curation.duckdb``.

One :class:`Store` is opened per process and path and shared by every browser session: it
serialises access with its own lock.

Session state: the dataset picked in the sidebar and the annotator's name live under
:data:`DATASET_KEY` and :data:`ANNOTATOR_KEY`. The sidebar widgets use their own keys and copy
their value over on change, because Streamlit drops a widget's state when a page without that
widget runs, and every page must see the same choice.

Both are mirrored in the URL's query string (``?dataset=…&annotator=…``): a new session (a
reload, a bookmark, a shared link) starts from the URL, and every run writes the choice back.
Pages keep their own view there too (the Review page: filters and the current example).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import streamlit as st

from curation.errors import CurationError
from curation.ingest import import_file
from curation.store import DEFAULT_STORE, DatasetInfo, Store

STORE_ENV = "CLEAR_STUDIO_STORE"
DATASET_KEY = "dataset_name"
ANNOTATOR_KEY = "annotator"
_PENDING_DATASET_KEY = "_common_pending_dataset"
_FLASH_KEY = "_common_flash"
_FROM_URL_KEY = "_common_from_url"

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "sample_data"
DATA_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".parquet")


def store_path(argv: list[str] | None = None) -> str:
    """The store file for this app: ``--store``, else ``$CLEAR_STUDIO_STORE``, else the default."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--store", default=None)
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return args.store or os.environ.get(STORE_ENV) or DEFAULT_STORE


@st.cache_resource(show_spinner=False)
def open_store(path: str) -> Store:
    return Store(path)


def get_store() -> Store:
    """The process-wide store for this app.

    Raises:
        StorageError: the file cannot be opened (for instance another process holds it).
    """
    return open_store(store_path())


def store_or_stop() -> Store:
    """:func:`get_store`, or the reason it cannot be opened shown with ``st.error`` and the page stopped."""
    try:
        return get_store()
    except CurationError as e:
        st.error(str(e))
        st.stop()
        raise  # st.stop() raises; this line only tells type checkers so


def select_dataset(name: str) -> None:
    """Make ``name`` the current dataset from the next script run on (safe after the sidebar)."""
    st.session_state[_PENDING_DATASET_KEY] = name


def current_dataset(store: Store) -> DatasetInfo | None:
    """The dataset picked in the sidebar (the first one by default), or None when empty."""
    datasets = store.datasets()
    if not datasets:
        return None
    names = [d.name for d in datasets]
    _start_from_url()
    pending = st.session_state.pop(_PENDING_DATASET_KEY, None)
    if pending in names:
        st.session_state[DATASET_KEY] = pending
    if st.session_state.get(DATASET_KEY) not in names:
        st.session_state[DATASET_KEY] = names[0]
    return datasets[names.index(st.session_state[DATASET_KEY])]


def _start_from_url() -> None:
    """On a session's first run, take the dataset and the annotator from the query string."""
    if st.session_state.get(_FROM_URL_KEY):
        return
    st.session_state[_FROM_URL_KEY] = True
    if st.query_params.get("dataset"):
        st.session_state[DATASET_KEY] = st.query_params["dataset"]
    if st.query_params.get("annotator"):
        st.session_state[ANNOTATOR_KEY] = st.query_params["annotator"]


def set_query(**values: object) -> None:
    """Write ``values`` to the query string (None or "" removes a key); unchanged keys are not rewritten."""
    for key, value in values.items():
        text = "" if value is None else str(value)
        if not text:
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != text:
            st.query_params[key] = text


def _copy_widget(key: str) -> None:
    st.session_state[key] = st.session_state[f"_w_{key}"]


def sidebar(store: Store) -> DatasetInfo | None:
    """Wide layout, the dataset picker and the annotator's name; returns the current dataset."""
    st.set_page_config(page_title="CLEAR Studio", layout="wide")
    dataset = current_dataset(store)
    with st.sidebar:
        if dataset is not None:
            st.session_state[f"_w_{DATASET_KEY}"] = dataset.name
            st.selectbox(
                "Dataset",
                [d.name for d in store.datasets()],
                key=f"_w_{DATASET_KEY}",
                on_change=_copy_widget,
                args=(DATASET_KEY,),
            )
        st.session_state[f"_w_{ANNOTATOR_KEY}"] = st.session_state.get(ANNOTATOR_KEY, "")
        st.text_input(
            "Annotator",
            key=f"_w_{ANNOTATOR_KEY}",
            on_change=_copy_widget,
            args=(ANNOTATOR_KEY,),
            placeholder="your name",
            help="Recorded with every review decision.",
        )
        st.caption(f"Store: `{store.path}`")
    _start_from_url()
    set_query(dataset=dataset.name if dataset else None, annotator=st.session_state.get(ANNOTATOR_KEY, "").strip())
    show_flash()
    return dataset


def page_header(title: str, dataset: DatasetInfo | None) -> None:
    """The page's title, naming the dataset it works on."""
    st.title(title)
    if dataset is not None:
        st.caption(f"Dataset **{dataset.name}** · {dataset.n_examples:,} examples · {dataset.format}")


def one_line(text: str | None, width: int) -> str:
    """``text`` on one line (whitespace runs become one space), cut to ``width`` characters with "…"."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def annotator() -> str:
    return (st.session_state.get(ANNOTATOR_KEY) or "").strip() or "anonymous"


def flash(message: str, kind: str = "success") -> None:
    """Show ``message`` once, on the next script run (use before ``st.rerun()``)."""
    st.session_state[_FLASH_KEY] = (kind, message)


def show_flash() -> None:
    pending = st.session_state.pop(_FLASH_KEY, None)
    if pending:
        kind, message = pending
        {"success": st.success, "info": st.info, "warning": st.warning}.get(kind, st.info)(message)


def sample_files() -> list[Path]:
    """The demo datasets shipped in ``sample_data/`` (their ``*.labels.jsonl`` left out)."""
    if not SAMPLE_DIR.is_dir():
        return []
    return sorted(p for p in SAMPLE_DIR.iterdir() if p.suffix in DATA_SUFFIXES and not p.name.endswith(".labels.jsonl"))


def load_samples(store: Store) -> list[str]:
    """Import every sample dataset not in the store yet, named after its file; return the names.

    Raises:
        CurationError: a sample file is missing or bad (a broken checkout).
    """
    files = sample_files()
    if not files:
        raise CurationError(f"{SAMPLE_DIR}: no sample datasets found")
    return [
        import_file(store, path, name=path.stem).dataset.name for path in files if store.find_dataset(path.stem) is None
    ]


def stage_pages() -> list[tuple[str, str]]:
    """``(path relative to app.py, label)`` of each stage page in ``pages/`` (Home excluded), in order."""
    return [
        (f"pages/{p.name}", p.stem.split("_", 1)[-1].replace("_", " "))
        for p in sorted((REPO_ROOT / "pages").glob("[1-9]*_*.py"))
    ]


def datasets_table(store: Store) -> list[dict]:
    """One row per dataset: its name, shape and pipeline counts (``Store.status``)."""
    rows = []
    for info in store.datasets():
        rows.append(
            {
                "dataset": info.name,
                "format": info.format,
                "file": info.file_type,
                **store.status(info.dataset_id),
                "rejected at import": info.n_rejected,
            }
        )
    return rows
