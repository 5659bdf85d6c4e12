"""Team page widgets: split the queue, see each annotator's progress and agreement, settle disagreements."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from curation import insights, team
from curation.errors import CurationError
from curation.review import QueueFilter
from curation.store import Store
from ui.common import flash, one_line

SCOPES = {
    "flagged_undecided": "Flagged, undecided (what export would hold back)",
    "flagged": "Every flagged example",
    "undecided": "Every undecided example",
    "all": "The whole dataset",
}
SHOWN_DISPUTES = 25


def split_form(store: Store, dataset_id: int) -> None:
    """Annotators, scope and overlap share, with the count, then one button to assign."""
    known = ", ".join(store.assignees(dataset_id))
    with st.form("team_split", border=True):
        names = st.text_input("Annotators (comma-separated)", value=known, key="team_names", placeholder="ann, bob, cy")
        cols = st.columns(2)
        scope = cols[0].selectbox("Examples to split", list(SCOPES), format_func=SCOPES.get, key="team_scope")
        overlap = cols[1].slider(
            "Overlap share (decided by two people, for agreement)", 0.0, 0.5, 0.1, 0.05, key="team_overlap"
        )
        submitted = st.form_submit_button("Assign", type="primary")
    if submitted:
        try:
            counts = team.assign(store, dataset_id, names.split(","), overlap=overlap, scope=QueueFilter(status=scope))
        except CurationError as e:
            st.error(str(e))
        else:
            flash(
                "Assigned: " + ", ".join(f"{who} {n}" for who, n in counts.items())
                if counts
                else "Nothing to assign: the chosen examples are all decided",
                "success" if counts else "info",
            )
            st.rerun()
    if known:
        st.caption(
            "Assigned annotators see their part first on the Review page ('Only my assignment'). "
            "Assigning again replaces the split; decisions already made stay."
        )


def progress_table(store: Store, dataset_id: int) -> None:
    rows = team.progress(store, dataset_id)
    if not rows:
        st.info("Nobody has decided anything or been assigned anything yet.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "annotator": p.annotator,
                    "assigned": p.assigned,
                    "done": p.done,
                    "progress": p.done / p.assigned if p.assigned else None,
                    "decided in all": p.decided,
                    "overlap": p.overlap,
                    "agreement": p.agreement,
                }
                for p in rows
            ]
        ),
        hide_index=True,
        column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent"),
            "agreement": st.column_config.NumberColumn(
                "agreement", format="percent", help="Share of shared examples where both decided alike"
            ),
        },
    )
    pairs = insights.agreement(store, dataset_id).pairs
    if pairs:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "annotators": " & ".join(p.annotators),
                        "shared examples": p.n,
                        "agreement": p.agreement,
                        "Cohen's κ": p.kappa,
                    }
                    for p in pairs
                ]
            ),
            hide_index=True,
            column_config={
                "agreement": st.column_config.NumberColumn(format="percent"),
                "Cohen's κ": st.column_config.NumberColumn(
                    format="%.2f", help="Agreement beyond chance: 1 perfect, 0 chance"
                ),
            },
        )


def adjudication(store: Store, dataset_id: int, annotator: str) -> None:
    """Every open disagreement with one 'settle' button per distinct outcome."""
    disputes = team.disputes(store, dataset_id)
    st.subheader(f"Disagreements ({len(disputes)})")
    if not disputes:
        st.caption("None open: every example decided by two or more people has one outcome.")
        return
    st.caption(f"Settling records your decision ({annotator}) like any other, marked as an adjudication.")
    for d in disputes[:SHOWN_DISPUTES]:
        with st.container(border=True):
            st.markdown(f"**{d.example_id}**")
            with st.expander("Prompt and original response"):
                st.text(d.prompt_text)
                st.caption("Original response")
                st.text(d.response)
            for vote in d.votes:
                cols = st.columns([5, 2], vertical_alignment="center")
                who = f"adjudication by {vote.annotator}" if vote.adjudicates else vote.annotator
                text = one_line(vote.after, 90).replace("`", "'")  # inside a Markdown code span
                cols[0].markdown(f"**{who}**: {vote.action}" + (f" → `{text}`" if vote.after else ""))
                cols[1].button(
                    "Settle with this",
                    key=f"team_settle_{d.example_id}_{vote.event_id}",
                    on_click=_settle,
                    args=(store, dataset_id, d.example_id, vote.event_id, annotator),
                )
            st.page_link(
                "pages/3_Review.py",
                label="Open in Review",
                icon=":material/open_in_new:",
                query_params={"example": d.example_id, "mine": "0"},
            )
    if len(disputes) > SHOWN_DISPUTES:
        st.caption(f"{len(disputes) - SHOWN_DISPUTES} more after these are settled.")


def _settle(store: Store, dataset_id: int, example_id: str, event_id: int, annotator: str) -> None:
    try:
        team.settle(store, dataset_id, example_id, event_id, annotator=annotator)
    except CurationError as e:
        flash(str(e), "warning")
    else:
        flash(f"Settled {example_id}")


__all__ = ["split_form", "progress_table", "adjudication"]
