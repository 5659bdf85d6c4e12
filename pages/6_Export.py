"""Export: the curated dataset as JSONL with a manifest of every change, downloaded or written, and
handed to a fine-tuning provider."""

import pandas as pd
import streamlit as st

from curation.errors import CurationError
from curation.export import (
    OWN_FORMAT,
    UNDECIDED,
    UNDECIDED_LABELS,
    UNDECIDED_SETTING,
    export_dataset,
    undecided_choice,
)
from curation.records import FORMATS
from ui.common import page_header, sidebar, store_or_stop
from ui.exporting import default_out_path, preview_export
from ui.finetune_panel import finetune_panel

COUNT_LABELS = {
    "total": "Examples",
    "kept": "Written",
    "removed": "Removed",
    "corrected": "Corrected",
    "edited": "Edited",
    "untouched": "Untouched",
    "held": "Held for review",
}

store = store_or_stop()
dataset = sidebar(store)
page_header("Export", dataset)
if dataset is None:
    st.info("Nothing to export yet: import a dataset, run the pipeline and review it first.")
    st.page_link("pages/1_Import.py", label="Import a dataset", icon=":material/upload_file:")
    st.stop()
st.caption(
    "Reviewers' decisions win; then corrections applied automatically (judge ≥ η); then flagged "
    "examples nobody decided on follow the choice below; everything else is written as it came in."
)

fmt = st.selectbox(
    "Format",
    (OWN_FORMAT,) + FORMATS,
    key=f"export_format:{dataset.name}",
    format_func=lambda f: f"own shape ({dataset.format})" if f == OWN_FORMAT else f,
)
saved = undecided_choice(store, dataset.dataset_id)
undecided = st.radio(
    "Flagged examples nobody decided on",
    UNDECIDED,
    index=UNDECIDED.index(saved),
    format_func=UNDECIDED_LABELS.get,
    key=f"export_undecided:{dataset.name}",
    horizontal=False,
    help="Saved for this dataset: the Review page and `curate export` use the same choice.",
)
if undecided != saved:
    store.put_setting(dataset.dataset_id, UNDECIDED_SETTING, undecided)
try:
    preview = preview_export(store, dataset.name, fmt, undecided)
except CurationError as e:
    st.error(str(e))
    st.stop()

n_undecided = preview.counts.get("undecided", 0)
if n_undecided:
    verb = {"hold": "held for review (in a side file)", "drop": "removed", "keep": "written unchanged"}[undecided]
    st.warning(f"**{n_undecided:,}** flagged example(s) nobody decided on will be {verb}.")
    st.page_link(
        "pages/3_Review.py",
        label="Review them first",
        icon=":material/rate_review:",
        query_params={"dataset": dataset.name, "status": "flagged_undecided"},
    )

st.subheader("What will be written")
for col, (key, label) in zip(st.columns(len(COUNT_LABELS)), COUNT_LABELS.items()):
    col.metric(label, f"{preview.counts.get(key, 0):,}")
changes = preview.manifest.get("changes", [])
if changes:
    st.dataframe(pd.DataFrame(changes), hide_index=True)
else:
    st.caption("No changes: the export equals the input.")
with st.expander("Manifest"):
    st.json(preview.manifest, expanded=False)

st.subheader("Download")
cols = st.columns(3)
cols[0].download_button(
    "Download the curated JSONL",
    preview.data,
    file_name=f"{dataset.name}.curated.jsonl",
    mime="application/jsonl",
    type="primary",
    key="export_download",
    on_click="ignore",
)
cols[1].download_button(
    "Download the manifest",
    preview.manifest_bytes,
    mime="application/json",
    file_name=f"{dataset.name}.curated.jsonl.manifest.json",
    key="export_download_manifest",
    on_click="ignore",
)
if preview.held is not None:
    cols[2].download_button(
        "Download the held examples",
        preview.held,
        mime="application/jsonl",
        file_name=f"{dataset.name}.curated.jsonl.held.jsonl",
        key="export_download_held",
        on_click="ignore",
    )

st.subheader("Write to a file")
out = st.text_input(
    "Output path",
    value=default_out_path(store, dataset.name),
    key=f"export_path:{dataset.name}",
    help="The manifest is written beside it as <file>.manifest.json (and, when holding, the "
    "undecided flags as <file>.held.jsonl); all are replaced atomically.",
)
if st.button("Write files", key="export_write", disabled=not out.strip()):
    try:
        result = export_dataset(store, out.strip(), dataset=dataset.name, fmt=fmt, undecided=undecided)
    except CurationError as e:
        st.error(str(e))
    else:
        c = result.counts
        held = f"; held {c['held']:,} in `{result.held_path}`" if result.held_path else ""
        st.success(
            f"Wrote {c['kept']:,} of {c['total']:,} examples to `{result.path}` "
            f"(removed {c['removed']:,}, corrected {c['corrected']:,}, edited {c['edited']:,}{held}); "
            f"manifest: `{result.manifest_path}`"
        )

st.subheader("Fine-tune")
finetune_panel(store, dataset, out.strip())
