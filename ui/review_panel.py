"""Review page widgets: filters, queue navigation, decision buttons with keyboard shortcuts, bulk rules.

Session state holds ids and positions only (keys start with ``review_``); every decision goes
straight to the store through :mod:`curation.review`, so a refresh loses nothing. The filters
and the current example are mirrored in the query string (``status``, ``signal``, ``conf``,
``q``, ``mine``, ``example``), so a reload or a shared link opens the same view.
"""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

from curation import review
from curation.errors import CurationError
from curation.glossary import signal_label
from curation.review import BulkRule, QueueFilter, QueueRow
from curation.store import Store
from curation.team import conflicts
from ui.common import one_line, set_query

PAGE_SIZE = 20
POS, FLASH, ERROR, CONFIRM = "review_pos", "review_flash", "review_error", "review_bulk_confirm"
WARN, GOTO, URL_SEEN = "review_warn", "review_goto", "review_url_seen"
URL_KEYS = ("status", "signal", "conf", "q", "mine", "example")
STATUS_LABELS = {
    "all": "All",
    "flagged": "Flagged",
    "flagged_undecided": "Flagged, undecided",
    "proposed": "Has a proposal",
    "auto_applied": "Auto-corrected",
    "undecided": "Undecided",
    "decided": "Decided",
}
BULK_LABELS = {
    "accept_proposals": "Accept every proposal with judge confidence ≥ …",
    "remove_empty_or_degenerate": "Remove every empty or degenerate response",
    "remove_flagged_unproposed": "Remove every flagged example without a proposal",
    "keep_unflagged": "Keep every unflagged example",
}
#: Button label → shortcut; Streamlit reserves C and R, so remove is X.
KEYS = {"Accept": "A", "Keep": "K", "Remove": "X", "Undo last": "U", "Next": "N", "Previous": "P"}
KEY_HELP = (
    "**Keys:** `A` accept · `K` keep · `X` remove · `U` undo your last decision · `N` next · "
    "`P` previous · `E` edit (focuses the box; `Ctrl`/`⌘`+`Enter` saves) · `Tab` moves between buttons"
)
# Focus the edit box on "e" (static script, no data in it); Streamlit's own shortcuts do the rest.
_EDIT_KEY_JS = """<script>
if (!window.__clearReviewEditKey) {
  window.__clearReviewEditKey = true;
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (e.key !== "e" || e.ctrlKey || e.metaKey || e.altKey) return;
    if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
    const box = document.querySelector('textarea[aria-label="Edited response"]');
    if (box) { e.preventDefault(); box.focus(); }
  });
}
</script>"""


def init_state() -> None:
    """Session defaults; the filters and the example come from the URL when it names a view this
    session has not shown yet (a reload, a bookmark, a shared link, a link from another page)."""
    incoming = _url_view()
    if incoming and incoming != st.session_state.get(URL_SEEN):
        _state_from_url()
    for key, value in ((POS, 0), (FLASH, None), (ERROR, None), (CONFIRM, False), (WARN, None)):
        st.session_state.setdefault(key, value)


def _url_view() -> dict[str, str]:
    return {key: st.query_params[key] for key in URL_KEYS if st.query_params.get(key)}


def _state_from_url() -> None:
    q = _url_view()
    st.session_state["review_status"] = q.get("status") if q.get("status") in STATUS_LABELS else "all"
    st.session_state["review_signal"] = q.get("signal", "(any)")
    st.session_state["review_search"] = q.get("q", "")
    st.session_state["review_mine"] = q.get("mine") != "0"
    try:
        low, high = (float(x) for x in q.get("conf", "").split("-"))
        st.session_state["review_conf"] = (max(0.0, min(low, high)), min(1.0, max(low, high)))
    except ValueError:
        st.session_state["review_conf"] = (0.0, 1.0)
    st.session_state[POS] = 0
    if q.get("example"):
        st.session_state[GOTO] = q["example"]


def start_position(store: Store, dataset_id: int, flt: QueueFilter) -> int:
    """The current position: the example named by the URL on a first visit, else the session's."""
    example_id = st.session_state.pop(GOTO, None)
    if example_id:
        where = review.queue_position(store, dataset_id, flt, example_id)
        if where is not None:
            st.session_state[POS] = where
    return st.session_state[POS]


def to_url(flt: QueueFilter, all_of_queue: bool, example_id: str | None) -> None:
    """Mirror the filters and the current example in the query string."""
    conf = (
        None
        if flt.conf_min is None and flt.conf_max is None
        else f"{flt.conf_min or 0.0:.2f}-{1.0 if flt.conf_max is None else flt.conf_max:.2f}"
    )
    view = {
        "status": None if flt.status == "all" else flt.status,
        "signal": flt.signal,
        "conf": conf,
        "q": flt.search,
        "mine": "0" if all_of_queue else None,
        "example": example_id,
    }
    set_query(**view)
    st.session_state[URL_SEEN] = {key: value for key, value in view.items() if value}


def messages() -> None:
    """Show (once) what the last action did, why it failed, or whose decision it conflicts with."""
    if st.session_state[FLASH]:
        st.toast(st.session_state[FLASH])
        st.session_state[FLASH] = None
    if st.session_state[ERROR]:
        st.error(st.session_state[ERROR])
        st.session_state[ERROR] = None
    if st.session_state[WARN]:
        st.warning(st.session_state[WARN] + " Settle it on the Team page.", icon=":material/group:")
        st.session_state[WARN] = None


def filters(signals: dict[str, int], assigned: bool, annotator: str) -> tuple[QueueFilter, bool]:
    """The filter widgets; changing one goes back to the top of the queue.

    ``assigned``: part of the queue is assigned to ``annotator``, who then sees only that part
    unless they turn "Only my assignment" off. Returns the filter and whether they did.
    """
    reset = {"on_change": _goto, "args": (0,)}
    if assigned:
        st.session_state.setdefault("review_mine", True)
    mine = assigned and st.toggle("Only my assignment", key="review_mine", **reset)
    cols = st.columns([2, 2, 3, 3])
    status = cols[0].selectbox("Show", list(STATUS_LABELS), format_func=STATUS_LABELS.get, key="review_status", **reset)
    options = ["(any)", *signals]
    if st.session_state.get("review_signal") not in options:
        st.session_state.pop("review_signal", None)
    signal = cols[1].selectbox(
        "Fired signal",
        options,
        key="review_signal",
        format_func=lambda s: s if s == "(any)" else f"{signal_label(s)} ({signals[s]})",
        **reset,
    )
    low, high = cols[2].slider("Confidence", 0.0, 1.0, (0.0, 1.0), 0.01, key="review_conf", **reset)
    search = cols[3].text_input("Search prompt and response", key="review_search", **reset)
    full = low <= 0.0 and high >= 1.0
    return QueueFilter(
        status=status,
        signal=None if signal == "(any)" else signal,
        conf_min=None if full else low,
        conf_max=None if full else high,
        search=search or None,
        assignee=annotator if mine else None,
    ), assigned and not mine


def navigator(pos: int, total: int) -> int:
    """Previous / next buttons (keys P / N) and page buttons; returns the current 0-based position."""
    st.session_state[POS] = pos
    cols = st.columns([1, 1, 1, 1, 4], vertical_alignment="center")
    cols[0].button("Previous", shortcut=KEYS["Previous"], on_click=_goto, args=(pos - 1,), disabled=pos == 0)
    cols[1].button("Next", shortcut=KEYS["Next"], on_click=_goto, args=(pos + 1,), disabled=pos >= total - 1)
    page, pages = pos // PAGE_SIZE, (total - 1) // PAGE_SIZE + 1
    cols[2].button("◀ Page", key="review_prev_page", on_click=_goto, args=((page - 1) * PAGE_SIZE,), disabled=page == 0)
    cols[3].button(
        "Page ▶", key="review_next_page", on_click=_goto, args=((page + 1) * PAGE_SIZE,), disabled=page >= pages - 1
    )
    cols[4].caption(f"Example {pos + 1} of {total} · page {page + 1} of {pages}")
    return pos


def queue_table(rows: list[QueueRow], *, offset: int, pos: int) -> None:
    """The current page of the queue as a table; clicking a row opens that example."""
    table = pd.DataFrame(
        [
            {
                "": "▶" if offset + i == pos else "",
                "#": offset + i + 1,
                "response": one_line(r.response, 70),
                "confidence": r.confidence,
                "flag": "flagged" if r.flagged else "",
                "proposal": one_line(r.proposal.candidate, 40)
                if r.proposal is not None and r.proposal.status == "ok"
                else "",
                "decision": f"{r.decision.action} ({r.decision.annotator})" if r.decision else "",
                "id": r.example_id,
            }
            for i, r in enumerate(rows)
        ]
    )
    key = f"review_queue_table_{pos}"  # a new table per position: a click's highlight does not linger
    st.dataframe(
        table,
        hide_index=True,
        key=key,
        on_select=functools.partial(_open_row, key, offset),
        selection_mode="single-row",
        height=min(38 + 35 * len(rows), 250),
        column_config={
            "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="%.2f"),
            "response": st.column_config.TextColumn("response", width="large"),
        },
    )


def _can_accept(row: QueueRow) -> bool:
    return row.proposal is not None and row.proposal.status == "ok"


def actions(store: Store, dataset_id: int, flt: QueueFilter, row: QueueRow, annotator: str) -> None:
    """Accept / keep / remove / undo buttons, each with its key."""
    args = (store, dataset_id, flt, row.example_id, annotator)
    can_accept = _can_accept(row)
    with st.container(horizontal=True):
        st.button(
            "Accept",
            shortcut=KEYS["Accept"],
            type="primary",
            on_click=_decide,
            args=(*args, "accept"),
            disabled=not can_accept,
            help="Take the proposed correction",
        )
        st.button(
            "Keep", shortcut=KEYS["Keep"], on_click=_decide, args=(*args, "keep"), help="The original response is fine"
        )
        st.button(
            "Remove",
            shortcut=KEYS["Remove"],
            on_click=_decide,
            args=(*args, "remove"),
            help="Drop the example from the export",
        )
        st.button(
            "Undo last",
            shortcut=KEYS["Undo last"],
            on_click=_undo,
            args=(store, dataset_id, flt, annotator),
            help="Undo your latest decision (a new event; nothing is deleted)",
        )


def edit_box(store: Store, dataset_id: int, flt: QueueFilter, row: QueueRow, annotator: str) -> None:
    """The response to save as an edit, starting from the proposal (or the text in force)."""
    args = (store, dataset_id, flt, row.example_id, annotator)
    start = row.proposal.candidate if _can_accept(row) else row.in_force
    edit_key = f"review_edit_{row.example_id}"
    with st.form("review_edit_form", border=False):
        st.text_area("Edited response", value=start, key=edit_key, height=160)
        st.form_submit_button("Save edit", on_click=_decide, args=(*args, "edit", edit_key))
    st.html(_EDIT_KEY_JS, unsafe_allow_javascript=True)


def bulk_panel(store: Store, dataset_id: int, flt: QueueFilter, annotator: str) -> None:
    """Rules applied to the whole filtered queue, after a confirmation showing the count; undo a batch."""
    if not st.toggle("Bulk actions on the whole filtered queue", key="review_bulk_open", on_change=_cancel_bulk):
        return  # counting what a rule would change scans the queue: only when asked
    with st.container(border=True):
        kind = st.selectbox(
            "Rule", list(BULK_LABELS), format_func=BULK_LABELS.get, key="review_bulk_rule", on_change=_cancel_bulk
        )
        min_judge = 0.9
        if kind == "accept_proposals":
            min_judge = st.slider(
                "Minimum judge confidence", 0.0, 1.0, 0.9, 0.01, key="review_bulk_min", on_change=_cancel_bulk
            )
        override = st.checkbox(
            "Also change examples a person already decided", key="review_bulk_override", on_change=_cancel_bulk
        )
        rule = BulkRule(kind, min_judge=min_judge, override=override)
        n = review.bulk_preview(store, dataset_id, flt, rule)
        st.write(f"**{n}** example(s) matching the filters will change.")
        if not st.session_state[CONFIRM]:
            st.button(f"Apply to {n} example(s)…", key="review_bulk_apply", disabled=n == 0, on_click=_ask_bulk)
        else:
            st.warning(
                f"Record {n} '{review.BULK_ACTIONS[kind]}' decisions as {annotator}? They can be undone as one batch."
            )
            with st.container(horizontal=True):
                st.button(
                    "Confirm",
                    key="review_bulk_confirm_button",
                    type="primary",
                    on_click=_bulk,
                    args=(store, dataset_id, flt, rule, annotator),
                )
                st.button("Cancel", key="review_bulk_cancel", on_click=_cancel_bulk)
        batch = review.last_batch(store, dataset_id)
        if batch is not None:
            st.caption(f"Last batch: {batch.action} × {batch.n} by {batch.annotator} at {batch.created_at:%H:%M:%S}")
            st.button(
                "Undo last batch",
                key="review_bulk_undo",
                on_click=_undo_batch,
                args=(store, dataset_id, batch.batch_id, annotator),
            )


# -- callbacks (run before the next script run) ------------------------------------------------
def _open_row(key: str, offset: int) -> None:
    rows = st.session_state[key].selection.rows
    if rows:
        _goto(offset + rows[0])


def _goto(pos: int) -> None:
    st.session_state[POS] = max(pos, 0)
    st.session_state[CONFIRM] = False


def _decide(
    store: Store,
    dataset_id: int,
    flt: QueueFilter,
    example_id: str,
    annotator: str,
    action: str,
    edit_key: str | None = None,
) -> None:
    text = st.session_state.get(edit_key) if edit_key else None
    try:
        review.decide(store, dataset_id, example_id, action, annotator=annotator, text=text)
    except CurationError as e:
        st.session_state[ERROR] = str(e)
        return
    st.session_state[FLASH] = f"{action} recorded for {example_id} by {annotator}"
    clash = conflicts(store, dataset_id, example_id, annotator)
    if clash:
        st.session_state[WARN] = (
            f"Your '{action}' on {example_id} conflicts with "
            + "; ".join(
                f"{'the adjudication by ' if v.adjudicates else ''}{v.annotator}'s '{v.action}'"
                + (f" (“{one_line(v.after, 80)}”)" if v.after else "")
                + f" at {v.created_at:%Y-%m-%d %H:%M}"
                for v in clash
            )
            + ". Both are kept; the latest decision is in force until someone settles it."
        )
    # Move on, unless the decision took the example out of the queue (then the next one slid up).
    # Only the 'undecided' filter depends on decisions, so no query is needed to tell.
    if flt.status != "undecided":
        st.session_state[POS] += 1


def _undo(store: Store, dataset_id: int, flt: QueueFilter, annotator: str) -> None:
    try:
        event_id = review.undo_last(store, dataset_id, annotator=annotator)
    except CurationError as e:
        st.session_state[ERROR] = str(e)
        return
    if event_id is None:
        st.session_state[FLASH] = f"Nothing of {annotator}'s to undo"
        return
    example_id = review.example_of_event(store, dataset_id, event_id)
    st.session_state[FLASH] = f"Undid {annotator}'s decision on {example_id}"
    where = review.queue_position(store, dataset_id, flt, example_id)
    if where is not None:
        st.session_state[POS] = where


def _bulk(store: Store, dataset_id: int, flt: QueueFilter, rule: BulkRule, annotator: str) -> None:
    st.session_state[CONFIRM] = False
    try:
        batch = review.bulk_apply(store, dataset_id, flt, rule, annotator=annotator)
    except CurationError as e:
        st.session_state[ERROR] = str(e)
        return
    st.session_state[FLASH] = f"Bulk rule applied (batch {batch})"


def _undo_batch(store: Store, dataset_id: int, batch_id: str, annotator: str) -> None:
    try:
        n = review.undo_batch(store, dataset_id, batch_id, annotator=annotator)
    except CurationError as e:
        st.session_state[ERROR] = str(e)
        return
    st.session_state[FLASH] = f"Undid {n} decision(s) of batch {batch_id}"


def _ask_bulk() -> None:
    st.session_state[CONFIRM] = True


def _cancel_bulk() -> None:
    st.session_state[CONFIRM] = False
