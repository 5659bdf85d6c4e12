"""Plotly figures for the Insights page, built from small pre-aggregated rows (never raw tables).

Each function takes what :mod:`curation.insights` returns and gives a figure; none touches the store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import plotly.express as px
import plotly.graph_objects as go

from curation.glossary import signal_label, term
from curation.insights import ThresholdChoice

STATUS_COLOURS = {"flagged": "#e45756", "auto-corrected": "#f58518", "passed": "#54a24b"}
DECISION_COLOURS = {
    "remove": "#e45756",
    "edit": "#b279a2",
    "accept": "#4c78a8",
    "keep": "#54a24b",
    "undecided": "#bab0ac",
}


def confidence_histogram(
    rows: Iterable[dict[str, Any]], *, by: str, bins: int, gamma: float | None = None
) -> go.Figure:
    """Stacked histogram of confidence, coloured by ``status`` or ``decision``; a dashed line at γ
    (the flag threshold)."""
    colours = STATUS_COLOURS if by == "status" else DECISION_COLOURS
    counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        counts[row[by]][row["bin"]] += row["n"]
    fig = go.Figure()
    width = 1.0 / bins
    for group in [g for g in colours if g in counts] + sorted(set(counts) - set(colours)):
        per_bin = counts[group]
        fig.add_bar(
            x=[(b + 0.5) * width for b in sorted(per_bin)],
            y=[per_bin[b] for b in sorted(per_bin)],
            width=width,
            name=group,
            marker_color=colours.get(group),
        )
    fig.update_layout(
        barmode="stack",
        xaxis_title="confidence (higher = more likely correct)",
        yaxis_title="examples",
        xaxis_range=[0, 1],
        legend_title=by,
        bargap=0.02,
        margin=dict(t=30, b=40),
    )
    if gamma is not None:
        fig.add_vline(x=gamma, line_dash="dash", annotation_text=f"{term('gamma', short=True)} = {gamma:.2f}")
    return fig


def signal_histograms(rows: Iterable[dict[str, Any]], *, bins: int) -> go.Figure:
    """One small histogram per signal, titled with its label (values in [0, 1], higher = looks fine)."""
    data = [{"signal": signal_label(r["signal"]), "value": (r["bin"] + 0.5) / bins, "examples": r["n"]} for r in rows]
    fig = px.bar(
        data,
        x="value",
        y="examples",
        facet_col="signal",
        facet_col_wrap=3,
        facet_row_spacing=0.12,
        height=max(260, 220 * ((len({d["signal"] for d in data}) + 2) // 3)),
    )
    fig.update_traces(width=1.0 / bins)
    fig.update_xaxes(range=[0, 1])
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_layout(margin=dict(t=30, b=40))
    return fig


def precision_curve(
    curve: list[ThresholdChoice], *, target: float, name: str, chosen: ThresholdChoice | None
) -> go.Figure:
    """Precision and the share selected at each threshold, with the target and the chosen threshold."""
    xs = [c.threshold for c in curve]
    fig = go.Figure()
    fig.add_scatter(x=xs, y=[c.precision for c in curve], mode="lines+markers", name="precision", line_shape="hv")
    fig.add_scatter(
        x=xs,
        y=[c.selected / c.total for c in curve],
        mode="lines",
        name="share selected",
        line_shape="hv",
        line_dash="dot",
    )
    fig.add_hline(y=target, line_dash="dash", annotation_text=f"target {target:.2f}")
    if chosen is not None:
        fig.add_vline(x=chosen.threshold, line_color="#e45756", annotation_text=f"{name} = {chosen.threshold:.2f}")
    fig.update_layout(xaxis_title=name, yaxis_range=[0, 1.05], xaxis_range=[0, 1], margin=dict(t=30, b=40))
    return fig
