"""The review card: one example with its scores, its proposed correction and its decision.

Example text is data, never markup: it is shown with ``st.text`` (no Markdown, no HTML) or,
for the word diff, as HTML built from ``html.escape``-d pieces only.
"""
from __future__ import annotations

import html
from typing import Any

import pandas as pd
import streamlit as st

from curation.correct import same_position
from curation.diff import DELETE, INSERT, word_diff
from curation.export import resolve
from curation.review import Proposal, QueueRow

ROLE_AVATARS = {"system": "⚙️", "user": "user", "assistant": "assistant"}  # names Streamlit knows, or emoji
_DIFF_STYLE = {
    DELETE: "background:rgba(255,75,75,.18);text-decoration:line-through;",
    INSERT: "background:rgba(33,195,84,.22);text-decoration:none;",
}
_TAG = {DELETE: "del", INSERT: "ins"}


def diff_html(before: str, after: str) -> str:
    """The word diff of ``before`` → ``after`` as HTML whose every text piece is escaped."""
    spans = []
    for op, text in word_diff(before, after):
        escaped = html.escape(text, quote=True)
        if op in _TAG:
            spans.append(f'<{_TAG[op]} style="{_DIFF_STYLE[op]}">{escaped}</{_TAG[op]}>')
        else:
            spans.append(f"<span>{escaped}</span>")
    body = "".join(spans) or "<span>(both empty)</span>"
    return f'<div class="review-diff" style="white-space:pre-wrap;line-height:1.6">{body}</div>'


def export_outcome(row: QueueRow) -> tuple[str, str]:
    """What export would do with the example now, and why (the same rule as ``curation.export``)."""
    decision, proposal = row.decision, row.proposal
    outcome, _, reason = resolve({
        "action": decision.action if decision else None, "annotator": decision.annotator if decision else None,
        "after": decision.after if decision else None, "response": row.response,
        "auto_applied": bool(proposal and proposal.auto_applied),
        "candidate": proposal.candidate if proposal else None,
        "judge_confidence": proposal.judge_confidence if proposal else None,
        "flagged": row.flagged, "confidence": row.confidence, "threshold": row.threshold,
    })
    return outcome, reason


def render(row: QueueRow, *, history: list[dict[str, Any]]) -> None:
    """Draw the card of ``row``; ``history`` is its review events, oldest first."""
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown("**Prompt**")
        for turn in row.prompt:
            with st.chat_message(turn.role, avatar=ROLE_AVATARS.get(turn.role, "❔")):
                st.caption(turn.role)
                st.text(turn.content, width="stretch")
        st.markdown("**Original response**")
        with st.container(border=True):
            st.text(row.response if row.response else "(empty response)", width="stretch")
        _proposal(row)
    with right:
        _confidence(row)
        _decision(row, history)
    _explanation(row)


def _proposal(row: QueueRow) -> None:
    proposal = row.proposal
    if proposal is None:
        st.caption("No proposed correction.")
        return
    if proposal.status == "failed":
        st.warning("The correction step failed for this example.")
        st.text(proposal.error or "", width="stretch")
        return
    if proposal.status != "ok":
        st.caption("No proposed correction: no candidate was more plausible than this response."
                   if proposal.status == "weaker" else "No proposed correction: every candidate gave this answer.")
        _candidates(proposal)
        return
    judge = "n/a" if proposal.judge_confidence is None else f"{proposal.judge_confidence:.2f}"
    applied = " · applied automatically" if proposal.auto_applied else ""
    source = f" from {SOURCE_LABELS.get(proposal.source, proposal.source)}" if proposal.source else ""
    st.markdown(f"**Proposed correction**{source} (P(better) {judge}{applied})")
    position = same_position(proposal.verdicts)
    if position is not None:
        st.caption(f"The judge picked response {position} in both orders, so it followed the position, not "
                   "the text: its confidence says nothing here. Decide from the diff.")
    with st.container(border=True):
        st.html(diff_html(row.response, proposal.candidate))
    _candidates(proposal)


#: How the review card names where a candidate came from.
SOURCE_LABELS = {"original": "the recorded response", "samples": "the samples' majority answer",
                 "closed_set": "the dataset's label set", "extractive": "a span of the prompt",
                 "few_shot": "a few-shot answer", "endpoint": "the candidate model"}


def _candidates(proposal: Proposal) -> None:
    """Every response that competed, with its confidence (the original first)."""
    if not proposal.candidates:
        return
    with st.expander(f"All candidates ({len(proposal.candidates) - 1}) and their confidence"):
        st.dataframe(pd.DataFrame([
            {"response": c["text"], "from": SOURCE_LABELS.get(c["source"], c["source"]),
             "confidence": c["confidence"], "P(better)": c.get("p_better"), "agreement": c.get("agreement"),
             "likelihood": c.get("likelihood"), "format": c.get("format")}
            for c in proposal.candidates]), hide_index=True)


def _confidence(row: QueueRow) -> None:
    if row.score_status is None:
        st.info("Not scored yet.")
        return
    if row.score_status != "ok":
        st.warning("Scoring failed for this example; a rerun retries it.")
        st.text(row.score_error or "", width="stretch")
        return
    conf = row.confidence
    st.metric("Confidence", "n/a" if conf is None else f"{conf:.2f}",
              help="In [0, 1]; higher = more likely correct. Combines consistency and self-reflection.")
    for name, value in (("consistency", row.consistency), ("reflection", row.reflection)):
        if value is not None:
            st.progress(min(max(value, 0.0), 1.0), text=f"{name} {value:.2f}")
    if row.flagged:
        st.error(f"Flagged: confidence below γ = {row.threshold:.2f}", icon="🚩")
    if row.fired:
        st.caption("Fired signals")
        st.text(", ".join(row.fired))


def _decision(row: QueueRow, history: list[dict[str, Any]]) -> None:
    outcome, reason = export_outcome(row)
    decision = row.decision
    if decision is None:
        st.caption("No decision yet")
    else:
        st.markdown(f"**Decision: {decision.action}**")
        st.text(f"by {decision.annotator} at {decision.decided_at:%Y-%m-%d %H:%M}")
    st.caption("Export now")
    st.text(f"{outcome}{' — ' + reason if reason else ''}")
    if row.n_annotators >= 2:
        latest = _latest_by_annotator(history)
        agree = len(set(latest.values())) == 1
        (st.success if agree else st.warning)(
            f"{len(latest)} annotators {'agree' if agree else 'disagree'}", icon="👥")
        st.text("\n".join(f"{who}: {action}" for who, action in latest.items()))
    if history:
        with st.expander(f"History ({len(history)} events)"):
            st.dataframe(pd.DataFrame(history)[["event_id", "action", "annotator", "created_at", "undone",
                                                "batch_id"]], hide_index=True)


def _explanation(row: QueueRow) -> None:
    explanation = row.explanation or {}
    with st.expander("Why this score"):
        if row.signals:
            st.markdown("**Signals** (in [0, 1], higher = looks fine)")
            reasons = explanation.get("reasons", {})
            st.dataframe(pd.DataFrame([
                {"signal": name, "score": value, "fired": name in row.fired,
                 "reasons": "; ".join(map(str, reasons.get(name, [])))}
                for name, value in sorted(row.signals.items())
            ]), hide_index=True)
        samples = explanation.get("samples") or []
        if samples:
            st.markdown("**Sampled answers** (do they agree with the response?)")
            st.dataframe(pd.DataFrame(samples), hide_index=True)
        reflections = explanation.get("reflections") or []
        if reflections:
            st.markdown("**Self-reflection verdicts** (A = correct, B = incorrect, C = unsure)")
            st.dataframe(pd.DataFrame(reflections), hide_index=True)
        if row.proposal is not None and row.proposal.verdicts:
            st.markdown("**Judge verdicts** on the proposed correction")
            st.dataframe(pd.DataFrame(row.proposal.verdicts), hide_index=True)
        if not (row.signals or samples or reflections):
            st.caption("No explanation recorded.")


def _latest_by_annotator(history: list[dict[str, Any]]) -> dict[str, str]:
    latest: dict[str, str] = {}
    for event in history:
        if event["action"] != "undo" and not event["undone"]:
            latest[event["annotator"]] = event["action"]
    return latest
