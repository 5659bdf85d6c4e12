"""The Insights page driven through streamlit.testing.v1.AppTest on a temporary, seeded store."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from curation import review
from curation.store import Store
from tests.test_review import seed
from ui import charts, common

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "5_Insights.py")


@pytest.fixture
def path(tmp_path, monkeypatch):
    path = tmp_path / "store.duckdb"
    monkeypatch.setenv(common.STORE_ENV, str(path))
    common.open_store.clear()
    yield path
    common.open_store.clear()


def run(path, *, decisions=(), seeded=True):
    if seeded:
        with Store(path) as store:
            ds = seed(store)
            for eid, action in decisions:
                review.decide(store, ds, eid, action, annotator="ann")
    return AppTest.from_file(PAGE, default_timeout=30).run()


def metric(at, label):
    return next(m for m in at.metric if m.label == label)


def test_charts_and_counts_render(path):
    at = run(path)
    assert not at.exception
    assert metric(at, "Flagged").value == "4" and metric(at, "Examples").value == "10"
    assert len(at.get("plotly_chart")) == 2  # confidence histogram and signals
    assert metric(at, "Would be flagged").value == "4 (50%)"  # γ starts at the one in force
    assert any("No one-by-one reviews yet" in i.value for i in at.info)


def test_gamma_slider_counts_in_sql(path):
    at = run(path)
    at.slider(key="insights_gamma").set_value(0.75).run()
    assert metric(at, "Would be flagged").value == "6 (75%)"
    assert metric(at, "Would be flagged").delta == "+2 vs now"
    at.radio(key="insights_colour").set_value("decision").run()
    assert not at.exception


def test_measured_precision_and_thresholds(path):
    at = run(path, decisions=[("e0", "accept"), ("e1", "remove"), ("e2", "keep"), ("e3", "remove"), ("e4", "keep")])
    assert not at.exception
    assert metric(at, "Auto-Filter precision").value == "75%"  # e0 e1 e3 confirmed, e2 kept
    assert metric(at, "Missed (passed but bad)").value == "0%"
    assert metric(at, "Auto-Correct precision").value == "100%"
    at.number_input(key="insights_target").set_value(0.75).run()
    assert metric(at, "γ (flag threshold) for 75% precision").value == "0.50"
    assert metric(at, "η (auto-apply threshold) for 75% precision").value == "0.95"
    at.number_input(key="insights_target").set_value(1.0).run()
    assert metric(at, "γ (flag threshold) for 100% precision").value == "0.25"
    assert len(at.get("plotly_chart")) == 4


def test_empty_store_points_to_import(path):
    at = run(path, seeded=False)
    assert not at.exception
    assert any("No dataset yet" in i.value for i in at.info)


def test_unscored_dataset_points_to_run(path):
    from curation.records import Example, Message, ParsedDataset

    with Store(path) as store:
        store.add_dataset(
            ParsedDataset(
                path="d",
                file_type="jsonl",
                format="chat",
                sha256="1" * 64,
                examples=[Example("x1", "record", 1, (Message("user", "q"),), "r", {})],
            ),
            name="raw",
        )
    at = run(path, seeded=False)
    assert not at.exception
    assert any("not scored yet" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_confidence_histogram_figure_stacks_groups():
    rows = [
        {"bin": 0, "status": "flagged", "decision": "remove", "n": 2},
        {"bin": 0, "status": "flagged", "decision": "undecided", "n": 1},
        {"bin": 9, "status": "passed", "decision": "undecided", "n": 5},
    ]
    by_status = charts.confidence_histogram(rows, by="status", bins=10, gamma=0.5)
    assert [(t.name, list(t.y)) for t in by_status.data] == [("flagged", [3]), ("passed", [5])]
    by_decision = charts.confidence_histogram(rows, by="decision", bins=10)
    assert [(t.name, list(t.x)) for t in by_decision.data] == [
        ("remove", [pytest.approx(0.05)]),
        ("undecided", [pytest.approx(0.05), pytest.approx(0.95)]),
    ]
