"""Import: upload a dataset file (or pick a sample), check it, map its columns, store it."""

from pathlib import Path

import pandas as pd
import streamlit as st

from curation.errors import CurationError, InvalidRecordError
from curation.ingest import import_file
from curation.readers import dataset_stem
from curation.records import FORMATS
from ui.common import flash, sample_files, select_dataset, sidebar, store_or_stop
from ui.importing import UPLOAD_TYPES, inspect_file, problem_rows, save_upload

SOURCES = ("Upload a file", "A file on this machine", "Sample dataset")
DETECTED = "detected"

store = store_or_stop()
sidebar(store)
st.title("Import a dataset")
st.caption(
    "JSONL, JSON, CSV or Parquet, in chat, Alpaca, ShareGPT or prompt/response shape. "
    "Every record is checked before anything is stored."
)

source = st.radio("Source", SOURCES, horizontal=True, key="import_source")
path: Path | None = None
if source == SOURCES[0]:
    uploaded = st.file_uploader("Dataset file", type=UPLOAD_TYPES, key="import_upload")
    path = save_upload(uploaded) if uploaded is not None else None
elif source == SOURCES[1]:
    typed = st.text_input("Path", key="import_path", placeholder="/data/train.jsonl").strip()
    path = Path(typed).expanduser() if typed else None
else:
    samples = {p.name: p for p in sample_files()}
    picked = st.selectbox("Sample dataset", list(samples), key="import_sample")
    path = samples.get(picked)
if path is None:
    st.info("Choose a file to see its records.")
    st.stop()

source_id = str(path)
fmt_choice = st.selectbox(
    "Format",
    (DETECTED,) + FORMATS,
    key=f"import_format:{source_id}",
    help="The record shape; by default the one most records have.",
)
fmt = None if fmt_choice == DETECTED else fmt_choice
report = inspect_file(path, fmt=fmt)
cols: dict[str, str | None] = {"prompt_col": None, "response_col": None}
if report.format == "prompt-response" and report.keys:
    left, right = st.columns(2)
    for widget, (arg, default) in zip(
        (left, right), (("prompt_col", report.prompt_col), ("response_col", report.response_col))
    ):
        fallback = min(1 if arg == "response_col" else 0, len(report.keys) - 1)
        index = report.keys.index(default) if default in report.keys else fallback
        cols[arg] = widget.selectbox(
            arg.replace("_col", " column"), report.keys, index=index, key=f"import_{arg}:{source_id}"
        )
    if (cols["prompt_col"], cols["response_col"]) != (report.prompt_col, report.response_col):
        report = inspect_file(path, fmt="prompt-response", **cols)

if report.error and not report.problems:
    st.error(report.error)
if report.file_type:
    mapping = (
        f" · prompt column {cols['prompt_col'] or report.prompt_col!r} → response column "
        f"{cols['response_col'] or report.response_col!r}"
        if report.format == "prompt-response"
        else ""
    )
    st.text(f"{report.n_records} records · file type {report.file_type} · format {report.format or 'unknown'}{mapping}")
if report.preview:
    st.subheader("Preview")
    st.dataframe(pd.DataFrame(report.preview), hide_index=True)
if report.problems:
    st.subheader(f"Problems ({len(report.problems)})")
    st.error(report.problem_headline())
    st.code(report.first_problems(), language=None, wrap_lines=True)
    st.dataframe(pd.DataFrame(report.problems), hide_index=True)

st.subheader("Import")
name = st.text_input("Dataset name", value=dataset_stem(path), key=f"import_name:{source_id}")
skip_invalid = False
if report.problems and report.importable:
    skip_invalid = st.checkbox(
        f"Skip the {report.bad_records}",
        key=f"import_skip:{source_id}:{report.n_bad}",
        help="Store the valid records; the bad ones are kept aside with their reason.",
    )
ready = report.importable and (skip_invalid or not report.problems)
if st.button("Import", type="primary", key="import_go", disabled=not ready):
    try:
        result = import_file(
            store,
            path,
            name=name.strip() or dataset_stem(path),
            fmt=fmt or report.format,
            skip_invalid=skip_invalid,
            **{k: v for k, v in cols.items() if v},
        )
    except InvalidRecordError as e:
        st.error(f"Nothing was imported: {len(e.problems)} problem(s).")
        st.dataframe(pd.DataFrame(problem_rows(e.problems)), hide_index=True)
    except CurationError as e:
        st.error(str(e))
    else:
        info = result.dataset
        skipped = f"; {info.n_rejected} invalid record(s) skipped" if info.n_rejected else ""
        select_dataset(info.name)
        flash(f"Imported {info.n_examples} examples into {info.name!r}{skipped}. Next: Run.")
        st.rerun()
