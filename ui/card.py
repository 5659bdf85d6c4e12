"""The review card: one example with its scores, its proposed correction and its decision.

Example text is data, never markup: it is shown with ``st.text`` (no Markdown, no HTML; a
tool-call response with ``st.code``, as indented JSON), as HTML built from ``html.escape``-d
pieces only (the word diff), or, in an expander's label (a collapsed turn's preview), with every
punctuation mark backslash-escaped. Signals and settings
are named with the words of :data:`curation.glossary.SIGNAL_GLOSSARY` and ``SETTING_GLOSSARY``;
a reflection or judge explanation that fails :func:`curation.parsers.explanation_problem` is
shown as unreadable, never as a reason.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pandas as pd
import streamlit as st

from curation import tiers
from curation.diff import DELETE, INSERT, word_diff
from curation.export import DEFAULT_UNDECIDED, resolve
from curation.glossary import signal_label, signal_meaning, term
from curation.judge import same_position
from curation.parsers import explanation_problem
from curation.records import parse_calls, turn_text
from curation.review import Proposal, QueueRow

ROLE_AVATARS = {  # Streamlit's names or icons
    "system": ":material/settings:",
    "user": "user",
    "assistant": "assistant",
    "tool": ":material/build:",
}
_DIFF_STYLE = {
    DELETE: "background:rgba(255,75,75,.18);text-decoration:line-through;",
    INSERT: "background:rgba(33,195,84,.22);text-decoration:none;",
}
_TAG = {DELETE: "del", INSERT: "ins"}
_ARROW = '<span class="diff-arrow" aria-hidden="true"> → </span>'
#: A prompt turn longer than this (characters or lines) starts collapsed, as system turns do.
LONG_TURN_CHARS, LONG_TURN_LINES = 400, 8
PREVIEW_CHARS = 70
UNREADABLE = "reply unreadable"
_MD_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def diff_html(before: str, after: str) -> str:
    """The word diff of ``before`` → ``after`` as HTML whose every text piece is escaped; a
    replaced word reads ``old → new`` (an arrow between them), never the two run together."""
    pieces = word_diff(before, after)
    spans = []
    for i, (op, text) in enumerate(pieces):
        escaped = html.escape(text, quote=True)
        if op in _TAG:
            spans.append(f'<{_TAG[op]} style="{_DIFF_STYLE[op]}">{escaped}</{_TAG[op]}>')
        else:
            spans.append(f"<span>{escaped}</span>")
        if op == DELETE and i + 1 < len(pieces) and pieces[i + 1][0] == INSERT:
            spans.append(_ARROW)
    body = "".join(spans) or "<span>(both empty)</span>"
    return f'<div class="review-diff" style="white-space:pre-wrap;line-height:1.6">{body}</div>'


def export_outcome(row: QueueRow, undecided: str = DEFAULT_UNDECIDED) -> tuple[str, str]:
    """What export would do with the example now, and why (``curation.export``'s rule, under the
    dataset's choice for flagged examples nobody decided on)."""
    decision, proposal = row.decision, row.proposal
    outcome, _, reason = resolve(
        {
            "action": decision.action if decision else None,
            "annotator": decision.annotator if decision else None,
            "in_force": row.in_force,
            "auto_applied": bool(proposal and proposal.auto_applied),
            "judge_confidence": proposal.judge_confidence if proposal else None,
            "flagged": row.flagged,
            "confidence": row.confidence,
            "threshold": row.threshold,
        },
        undecided,
    )
    return outcome, reason


def render(row: QueueRow, *, history: list[dict[str, Any]], undecided: str = DEFAULT_UNDECIDED) -> None:
    """Draw the card of ``row``; ``history`` is its review events, oldest first; ``undecided`` is
    the dataset's export choice for flagged examples nobody decided on."""
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown("**Prompt**")
        last_user = max((i for i, t in enumerate(row.prompt) if t.role == "user"), default=None)
        for i, turn in enumerate(row.prompt):
            text = turn_text(turn)  # an assistant's tool calls as "calls name({...})" lines
            with st.chat_message(turn.role, avatar=ROLE_AVATARS.get(turn.role, ":material/help:")):
                st.caption(turn.role)
                if i != last_user and collapses(turn.role, text):
                    with st.expander(turn_preview(text)):
                        st.text(text, width="stretch")
                else:
                    st.text(text, width="stretch")
        st.markdown("**Original response**")
        with st.container(border=True):
            _response(row.response)
        _proposal(row)
    with right:
        _confidence(row)
        _decision(row, history, undecided)
    _explanation(row)


def _response(text: str) -> None:
    """The response under review: tool calls as indented JSON (an edit must stay tool calls),
    any other text as it is."""
    try:
        parse_calls(text)
    except ValueError:
        st.text(text if text.strip() else "(empty response)" if not text else "(blank response)", width="stretch")
        return
    st.caption("Tool calls (JSON: an edit must stay tool calls)")
    st.code(json.dumps(json.loads(text), indent=2, ensure_ascii=False), language="json")


def collapses(role: str, content: str) -> bool:
    """Whether a prompt turn starts collapsed: a system turn, or a long one (the response
    under review then shows without scrolling)."""
    return role == "system" or len(content) > LONG_TURN_CHARS or content.count("\n") >= LONG_TURN_LINES


def turn_preview(content: str) -> str:
    """An expander label for a collapsed turn: its first non-blank line, shortened, as
    Markdown-safe text (every punctuation mark escaped), with the size of the rest."""
    lines = [line.strip() for line in content.splitlines() if line.strip()]
    first = lines[0] if lines else "(empty)"
    if len(first) > PREVIEW_CHARS:
        first = first[:PREVIEW_CHARS].rstrip() + "…"
    more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
    return _MD_PUNCTUATION.sub(r"\\\1", first) + more


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
        st.caption(
            "No proposed correction: no candidate was more plausible than this response."
            if proposal.status == "weaker"
            else "No proposed correction: every candidate gave this answer."
        )
        _candidates(proposal)
        return
    judge = "n/a" if proposal.judge_confidence is None else f"{proposal.judge_confidence:.2f}"
    applied = " · applied automatically" if proposal.auto_applied else ""
    source = f" from {SOURCE_LABELS.get(proposal.source, proposal.source)}" if proposal.source else ""
    st.markdown(f"**Proposed correction**{source} (P(better) {judge}{applied})")
    checked = next((c.get("evidence") for c in proposal.candidates[1:2]), None)
    if checked in EVIDENCE_LABELS:
        st.caption(f"Checked by a rule: {EVIDENCE_LABELS[checked]}.")
    position = same_position(proposal.verdicts)
    if position is not None:
        st.caption(
            f"The judge picked response {position} in both orders, so it followed the position, not "
            "the text: its confidence says nothing here. Decide from the diff."
        )
    with st.container(border=True):
        st.html(diff_html(row.response, proposal.candidate))
    _candidates(proposal)


#: How the review card names where a candidate came from.
SOURCE_LABELS = {
    "original": "the recorded response",
    "repair": "the recorded response, its form or arithmetic repaired",
    "samples": "the samples' majority answer",
    "closed_set": "the dataset's label set",
    "extractive": "a span of the prompt",
    "few_shot": "a few-shot answer",
    "endpoint": "the candidate model",
}


#: How the review card names a rule's check of a candidate (:func:`curation.contest.evidence`).
EVIDENCE_LABELS = {
    "repair": "only what a rule found broken changed (its form, or a result the arithmetic gives)",
    "completion": "the cut-off response, with the only end from the label set or the prompt that fits",
}


def _candidates(proposal: Proposal) -> None:
    """Every response that competed, with its confidence (the original first)."""
    if not proposal.candidates:
        return
    with st.expander(f"All candidates ({len(proposal.candidates) - 1}) and their confidence"):
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "response": c["text"],
                        "from": SOURCE_LABELS.get(c["source"], c["source"]),
                        "confidence": c["confidence"],
                        "P(better)": c.get("p_better"),
                        "checked by a rule": EVIDENCE_LABELS.get(c.get("evidence") or "", ""),
                        signal_label("consistency"): c.get("agreement"),
                        signal_label("likelihood"): c.get("likelihood"),
                        signal_label("format"): c.get("format"),
                        signal_label("arithmetic"): c.get("arithmetic", 1.0),
                        # the recorded response's own rules (a cut-off, an injection): 1 for candidates
                        "own rules (ending, injection)": c.get("rules", 1.0),
                    }
                    for c in proposal.candidates
                ]
            ),
            hide_index=True,
        )


def _confidence(row: QueueRow) -> None:
    if row.score_status is None:
        st.info("Not scored yet.")
        return
    if row.score_status != "ok":
        st.warning("Scoring failed for this example; a rerun retries it.")
        st.text(row.score_error or "", width="stretch")
        return
    conf = row.confidence
    st.metric(
        "Confidence",
        "n/a" if conf is None else f"{conf:.2f}",
        help="In [0, 1]; higher = more likely correct. Combines sample agreement and self-reflection "
        "with the other signals (see 'Why this score').",
    )
    tier = tiers.tier_of({"explanation": row.explanation})
    st.caption(f"Scored by {tiers.TIER_WORDS[tier]}", help=_TIER_HELP[tier])
    for name, value in (("consistency", row.consistency), ("reflection", row.reflection)):
        if value is not None:
            st.progress(min(max(value, 0.0), 1.0), text=f"{signal_label(name)} {value:.2f}")
    if row.flagged:
        st.error(f"Flagged: confidence below {term('gamma', short=True)} = {row.threshold:.2f}", icon=":material/flag:")
    if row.fired:
        st.caption("Fired signals (low scores)")
        st.text(", ".join(signal_label(name) for name in row.fired))


_TIER_HELP = {
    tiers.CHEAP: "Its cheap confidence was above the band, so the cascade did not spend the model's samples on "
    "it; its confidence is put on the sampled examples' scale. Rerun with 'full' to sample it.",
    tiers.SAMPLED: "Its cheap confidence was below the band (or the run sampled every example).",
}


def _decision(row: QueueRow, history: list[dict[str, Any]], undecided: str) -> None:
    outcome, reason = export_outcome(row, undecided)
    decision = row.decision
    if decision is None:
        st.caption("No decision yet")
    else:
        st.markdown(f"**Decision: {decision.action}**")
        st.text(f"by {decision.annotator} at {decision.decided_at:%Y-%m-%d %H:%M}")
    st.caption("Export now")
    st.text(f"{outcome}{' — ' + reason if reason else ''}")
    if decision is None and row.flagged and outcome != "corrected":
        st.caption("Decide here, or change what export does with undecided flags on the Export page.")
    if row.n_annotators >= 2:
        latest = _latest_by_annotator(history)
        agree = len(set(latest.values())) == 1
        (st.success if agree else st.warning)(
            f"{len(latest)} annotators {'agree' if agree else 'disagree'}", icon=":material/group:"
        )
        st.text("\n".join(f"{who}: {action}" for who, action in latest.items()))
    if history:
        with st.expander(f"History ({len(history)} events)"):
            st.dataframe(
                pd.DataFrame(history)[["event_id", "action", "annotator", "created_at", "undone", "batch_id"]],
                hide_index=True,
            )


def _explanation(row: QueueRow) -> None:
    explanation = row.explanation or {}
    with st.expander("Why this score"):
        if row.signals:
            st.markdown("**Signals** (in [0, 1], higher = looks fine)")
            reasons = explanation.get("reasons", {})
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "signal": signal_label(name),
                            "meaning": signal_meaning(name),
                            "score": value,
                            "fired": name in row.fired,
                            "reasons": "; ".join(map(str, reasons.get(name, []))),
                        }
                        for name, value in sorted(row.signals.items())
                    ]
                ),
                hide_index=True,
            )
        samples = explanation.get("samples") or []
        if samples:
            st.markdown("**Sampled answers** (do they agree with the response?)")
            st.dataframe(pd.DataFrame(samples), hide_index=True)
        reflections = explanation.get("reflections") or []
        if reflections:
            st.markdown("**Self-reflection verdicts** (A = correct, B = incorrect, C = unsure)")
            _verdicts(reflections, judge=False)
        if row.proposal is not None and row.proposal.verdicts:
            st.markdown(
                "**Judge verdicts** on the proposed correction (A = response 2 better, B = response 1 "
                "better, C = equal)"
            )
            _verdicts(row.proposal.verdicts, judge=True)
        if not (row.signals or samples or reflections):
            st.caption("No explanation recorded.")


def _verdicts(verdicts: list[dict[str, Any]], *, judge: bool) -> None:
    """The verdicts with their explanation as the reason, or "reply unreadable" where the
    explanation cannot be one (its raw text in an expander below)."""
    shown, unreadable = [], []
    for n, v in enumerate(verdicts, start=1):
        text = str(v.get("explanation") or "")
        why = explanation_problem(v.get("verdict"), text, parsed=v.get("parsed", True), judge=judge)
        shown.append(
            {
                **{k: x for k, x in v.items() if k not in ("explanation", "parsed")},
                "reason": text if why is None else f"{UNREADABLE}: {why}",
            }
        )
        if why is not None:
            unreadable.append((f"Reply {n} (verdict {v.get('verdict') or 'none'}): {why}", text))
    st.dataframe(pd.DataFrame(shown), hide_index=True)
    if unreadable:
        with st.expander(
            f"Raw text of the {len(unreadable)} unreadable {'judge' if judge else 'reflection'} "
            "repl" + ("y" if len(unreadable) == 1 else "ies")
        ):
            for caption, text in unreadable:
                st.caption(caption)
                st.text(text or "(empty)", width="stretch")


def _latest_by_annotator(history: list[dict[str, Any]]) -> dict[str, str]:
    latest: dict[str, str] = {}
    for event in history:
        if event["action"] != "undo" and not event["undone"]:
            latest[event["annotator"]] = event["action"]
    return latest
