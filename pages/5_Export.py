"""Export: the curated dataset as JSONL with a manifest of every change, downloaded or written."""
import pandas as pd
import streamlit as st

from curation.errors import CurationError
from curation.export import OWN_FORMAT, export_dataset
from curation.records import FORMATS
from ui.common import sidebar, store_or_stop
from ui.exporting import default_out_path, preview_export

COUNT_LABELS = {"total": "Examples", "kept": "Written", "removed": "Removed", "corrected": "Corrected",
                "edited": "Edited", "untouched": "Untouched"}

store = store_or_stop()
dataset = sidebar(store)
st.title("Export")
if dataset is None:
    st.info("Nothing to export yet: import a dataset, run the pipeline and review it first.")
    st.page_link("pages/1_Import.py", label="Import a dataset", icon="📥")
    st.stop()
st.caption("Reviewers' decisions win; then corrections applied automatically (judge ≥ η); then "
           "the Auto-Filter's flags (confidence < γ) drop examples; everything else is written as it came in.")

fmt = st.selectbox("Format", (OWN_FORMAT,) + FORMATS, key=f"export_format:{dataset.name}",
                   format_func=lambda f: f"own shape ({dataset.format})" if f == OWN_FORMAT else f)
try:
    preview = preview_export(store, dataset.name, fmt)
except CurationError as e:
    st.error(str(e))
    st.stop()

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
left, right = st.columns(2)
left.download_button("Download the curated JSONL", preview.data, file_name=f"{dataset.name}.curated.jsonl",
                     mime="application/jsonl", type="primary", key="export_download", on_click="ignore")
right.download_button("Download the manifest", preview.manifest_bytes, mime="application/json",
                      file_name=f"{dataset.name}.curated.jsonl.manifest.json", key="export_download_manifest",
                      on_click="ignore")

st.subheader("Write to a file")
out = st.text_input("Output path", value=default_out_path(store, dataset.name), key=f"export_path:{dataset.name}",
                    help="The manifest is written beside it as <file>.manifest.json; both are replaced atomically.")
if st.button("Write files", key="export_write", disabled=not out.strip()):
    try:
        result = export_dataset(store, out.strip(), dataset=dataset.name, fmt=fmt)
    except CurationError as e:
        st.error(str(e))
    else:
        c = result.counts
        st.success(f"Wrote {c['kept']:,} of {c['total']:,} examples to `{result.path}` "
                   f"(removed {c['removed']:,}, corrected {c['corrected']:,}, edited {c['edited']:,}); "
                   f"manifest: `{result.manifest_path}`")
