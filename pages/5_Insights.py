"""Insights: where the confidence lies, what the signals say, and how right the automatic stages were."""

from __future__ import annotations

import streamlit as st

from curation import insights
from curation.errors import CurationError
from curation.glossary import signal_label, signal_meaning, term
from ui import charts
from ui.common import page_header, sidebar, store_or_stop
from ui.hints import point_to

BINS = 20

store = store_or_stop()
dataset = sidebar(store)
page_header("Insights", dataset)
if dataset is None:
    point_to("No dataset yet: import one first.", "pages/1_Import.py", "Import a dataset")
    st.stop()
ds = dataset.dataset_id
if store.active_score_key(ds) is None:
    point_to("This dataset is not scored yet: there is nothing to chart.", "pages/2_Run.py", "Score the dataset")
    st.stop()

try:
    status = store.status(ds)
    cols = st.columns(6)
    for col, (label, key) in zip(
        cols,
        [
            ("Examples", "examples"),
            ("Scored", "scored"),
            ("Flagged", "flagged"),
            ("Proposed", "proposed"),
            ("Auto-corrected", "auto_applied"),
            ("Decided", "decided"),
        ],
    ):
        col.metric(label, f"{status[key]:,}")

    st.subheader("Confidence")
    now = insights.count_below(store, ds, 0.5)
    st.session_state.setdefault("insights_gamma", round(now["gamma"] if now["gamma"] is not None else 0.5, 2))
    st.session_state.setdefault("insights_colour", "status")
    left, right = st.columns([3, 1])
    gamma = left.slider(term("gamma"), 0.0, 1.0, step=0.01, key="insights_gamma")
    by = right.radio("Colour by", ["status", "decision"], key="insights_colour", horizontal=True)
    counted = insights.count_below(store, ds, gamma)
    share = counted["below"] / counted["scored"] if counted["scored"] else 0.0
    right.metric(
        "Would be flagged",
        f"{counted['below']:,} ({share:.0%})",
        delta=f"{counted['below'] - counted['flagged']:+,} vs now",
        delta_color="off",
    )
    st.plotly_chart(
        charts.confidence_histogram(insights.confidence_histogram(store, ds, bins=BINS), by=by, bins=BINS, gamma=gamma)
    )

    st.subheader("Signals")
    signal_rows = insights.signal_histogram(store, ds, bins=BINS)
    if signal_rows:
        st.plotly_chart(charts.signal_histograms(signal_rows, bins=BINS))
        with st.expander("What each signal means (all in [0, 1], higher = looks fine)"):
            st.table(
                [
                    {"signal": signal_label(n), "meaning": signal_meaning(n)}
                    for n in sorted({r["signal"] for r in signal_rows})
                ]
            )
    else:
        st.caption("No signal values recorded.")

    st.subheader("Automatic decisions, as measured by reviewers")
    measured = insights.auto_precision(store, ds)
    if measured.flagged_reviewed + measured.passed_reviewed + measured.auto_reviewed == 0:
        point_to(
            "No one-by-one reviews yet. Decisions on the Review page measure how often the filter and "
            "the corrections were right (bulk rules measure nothing).",
            "pages/3_Review.py",
            "Review",
        )
        st.stop()
    cols = st.columns(3)
    for col, label, value, n, what in [
        (cols[0], "Auto-Filter precision", measured.filter_precision, measured.flagged_reviewed, "flagged"),
        (cols[1], "Missed (passed but bad)", measured.missed_rate, measured.passed_reviewed, "unflagged"),
        (cols[2], "Auto-Correct precision", measured.correction_precision, measured.auto_reviewed, "auto-corrected"),
    ]:
        col.metric(label, "n/a" if value is None else f"{value:.0%}", help=f"over {n} reviewed {what} examples")
        col.caption(f"{n} reviewed {what}")

    target = st.number_input("Target precision", 0.5, 1.0, 0.9, 0.01, key="insights_target")
    choice = insights.thresholds_for_precision(store, ds, target)
    pairs = insights.reviewed_pairs(store, ds)
    cols = st.columns(2)
    for col, name, key, direction, rule in [
        (cols[0], term("gamma", short=True), "gamma", "below", "flag confidence below"),
        (cols[1], term("eta", short=True), "eta", "at_or_above", "auto-apply judge confidence at or above"),
    ]:
        chosen = choice[key]
        if chosen is None:
            col.metric(
                f"{name} for {target:.0%} precision",
                "not reachable",
                help=f"No threshold reaches the target on {len(pairs[key])} reviewed examples.",
            )
        else:
            col.metric(
                f"{name} for {target:.0%} precision",
                f"{chosen.threshold:.2f}",
                help=f"{rule} {chosen.threshold:.2f}: precision {chosen.precision:.0%}, "
                f"{chosen.selected} of {chosen.total} reviewed examples selected",
            )
        if pairs[key]:
            col.plotly_chart(
                charts.precision_curve(
                    insights.precision_curve(pairs[key], direction=direction), target=target, name=name, chosen=chosen
                )
            )
except CurationError as e:
    st.error(str(e))
