"""Review: go through the queue lowest confidence first and decide, by mouse or keyboard."""

from __future__ import annotations

import streamlit as st

from curation import insights, review
from curation.errors import CurationError
from curation.export import undecided_choice
from ui import card
from ui import review_panel as panel
from ui.common import annotator, page_header, sidebar, store_or_stop
from ui.hints import point_to

store = store_or_stop()
dataset = sidebar(store)
panel.init_state()
page_header("Review", dataset)

if dataset is None:
    point_to("No dataset yet: import one first.", "pages/1_Import.py", "Import a dataset")
    st.stop()
ds = dataset.dataset_id
who = annotator()
if store.active_score_key(ds) is None:
    point_to(
        "This dataset is not scored yet, so the queue is in file order with no confidence, flags or "
        "proposals. Score it first to review the least trustworthy examples first.",
        "pages/2_Run.py",
        "Score the dataset",
    )
if who == "anonymous":
    st.warning("Enter your name in the sidebar: decisions are recorded as 'anonymous' until you do.")
st.caption(panel.KEY_HELP)
panel.messages()

try:
    flt, all_of_queue = panel.filters(review.signal_names(store, ds), who in store.assignees(ds), who)
    pos = panel.start_position(store, ds, flt)
    offset = pos // panel.PAGE_SIZE * panel.PAGE_SIZE
    window = review.queue_window(store, ds, flt, offset=offset, limit=panel.PAGE_SIZE)
    total = window.total
    agreement = insights.agreement(store, ds)
    if agreement.n_examples:
        kappa = "n/a" if agreement.kappa is None else f"{agreement.kappa:.2f}"
        st.caption(
            f"Annotator agreement: {agreement.simple:.0%} of {agreement.n_examples} examples decided by "
            f"two or more people (Cohen's κ {kappa}) · details on the Team page"
        )
    if total == 0:
        panel.to_url(flt, all_of_queue, None)
        st.info(
            "No example matches these filters. Widen the confidence range, clear the search or pick "
            "another status." + (" Turn off 'Only my assignment' to see the rest of the queue." if flt.assignee else "")
        )
    else:
        if not window.rows:  # the position ran past the end (the queue shrank): show the last page
            pos = total - 1
            offset = pos // panel.PAGE_SIZE * panel.PAGE_SIZE
            window = review.queue_window(store, ds, flt, offset=offset, limit=panel.PAGE_SIZE)
        pos = panel.navigator(min(pos, offset + len(window.rows) - 1), total)
        panel.queue_table(window.rows, offset=offset, pos=pos)
        row = window.rows[pos - offset]
        panel.to_url(flt, all_of_queue, row.example_id)
        st.divider()
        panel.actions(store, ds, flt, row, who)
        card.render(row, history=review.history(store, ds, row.example_id), undecided=undecided_choice(store, ds))
        panel.edit_box(store, ds, flt, row, who)
    panel.bulk_panel(store, ds, flt, who)
except CurationError as e:
    st.error(str(e))
