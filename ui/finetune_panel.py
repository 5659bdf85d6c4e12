"""Export page widgets: the fine-tuning hand-off. Check the written export against the provider's
rules (problems, tokens, cost), start a job on the endpoint of the dataset's runs, follow the jobs
and show the command that puts a finished model to work. The work is :mod:`curation.finetune`'s."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from curation import finetune
from curation.errors import CurationError, InvalidRecordError
from curation.store import DatasetInfo, Store

JOB_COLUMNS = ["job_id", "base_model", "status", "fine_tuned_model", "error", "updated_at"]


def finetune_panel(store: Store, dataset: DatasetInfo, path: str) -> None:
    """The section under "Write to a file": ``path`` is the export it sends."""
    try:
        llm = finetune.endpoint(store, dataset.name)
    except CurationError as e:
        st.error(str(e))
        return
    st.caption(
        f"Sends the file written above, in the **chat** format, to {llm.base_url or finetune.OPENAI_URL} "
        f"(the endpoint of this dataset's last run; API key from `${llm.api_key_env}`)."
    )
    base = st.text_input(
        "Base model", value=finetune.DEFAULT_BASE_MODEL, key=f"finetune_base:{dataset.name}", help="The model to train"
    )
    cols = st.columns(3)
    check = cols[0].button("Check the file", key="finetune_check", disabled=not path)
    begin = cols[1].button(
        "Start fine-tuning", key="finetune_start", type="primary", disabled=not (path and base.strip())
    )
    refresh = cols[2].button("Refresh the jobs", key="finetune_refresh")
    if check or begin:
        _check_and_start(store, dataset, path, base.strip(), start=begin)
    _jobs(store, dataset, refresh=refresh)


def _check_and_start(store: Store, dataset: DatasetInfo, path: str, base: str, *, start: bool) -> None:
    if not Path(path).is_file():
        st.info(f"Write the export to `{path}` first (format chat), then check it.")
        return
    try:
        report = finetune.validate(path, base_model=base)
    except CurationError as e:
        st.error(str(e))
        return
    _show_report(report)
    if not (start and report.ok):
        return
    try:
        job = finetune.start(path, base, store=store, dataset=dataset.name)
    except CurationError as e:
        st.error(str(e))
    else:
        st.success(f"Started job `{job.job_id}` on {job.base_model} (status {job.status}).")


def _show_report(report: finetune.Report) -> None:
    cols = st.columns(4)
    cols[0].metric("Examples to train", f"{report.examples:,}")
    cols[1].metric("Tokens (estimated)", f"{report.tokens:,}")
    cols[2].metric("Epochs", report.epochs)
    cols[3].metric("Cost (estimated)", "unknown" if report.cost_usd is None else f"${report.cost_usd:,.2f}")
    st.caption(report.estimate())
    if report.warnings:
        st.warning("\n\n".join(str(w) for w in report.warnings))
    if report.ok:
        st.success("The file meets the provider's rules.")
    else:
        problems = str(InvalidRecordError(list(report.problems))).replace("\n", "\n\n")
        st.error(f"The provider would refuse this file:\n\n{problems}")


def _jobs(store: Store, dataset: DatasetInfo, *, refresh: bool) -> None:
    try:
        jobs = finetune.status(store, dataset=dataset.name, refresh=refresh)
    except CurationError as e:
        st.error(str(e))
        return
    if not jobs:
        st.caption("No fine-tuning jobs for this dataset yet.")
        return
    st.dataframe(pd.DataFrame([{c: getattr(job, c) for c in JOB_COLUMNS} for job in jobs]), hide_index=True)
    for job in jobs:
        if job.unreachable:
            st.warning(f"`{job.job_id}` not refreshed: {job.unreachable}")
        command = finetune.correct_command(job, dataset=dataset.name, store_path=store.path)
        if command:
            st.markdown(f"`{job.fine_tuned_model}` is ready: let it write the next corrections.")
            st.code(command, language="bash")
