import json

import pytest

from curation.errors import CurationError
from curation.export import UNDECIDED_SETTING, export_dataset, held_path, resolve
from curation.ingest import import_file
from tests.support import raw_sql


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


CHAT = [
    {
        "id": f"c{i}",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": f"What is {i} + {i}?"},
            {"role": "assistant", "content": str(2 * i)},
        ],
        "meta": {"source": "unit", "n": i},
        "tools": [],
    }
    for i in range(5)
]


@pytest.fixture
def chat_dataset(store, tmp_path):
    return import_file(store, write_jsonl(tmp_path / "chat.jsonl", CHAT), name="chat").dataset


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_untouched_dataset_round_trips_exactly(store, chat_dataset, tmp_path):
    result = export_dataset(store, tmp_path / "out.jsonl")
    assert read_jsonl(result.path) == CHAT
    assert result.counts == {
        "total": 5,
        "kept": 5,
        "removed": 0,
        "corrected": 0,
        "edited": 0,
        "untouched": 5,
        "held": 0,
        "undecided": 0,
    }
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["source"]["sha256"] == chat_dataset.source_sha256
    assert manifest["changes"] == [] and manifest["output"]["format"] == "chat"


@pytest.mark.parametrize(
    "fmt, key",
    [("alpaca", "output"), ("sharegpt", "conversations"), ("prompt-response", "response"), ("chat", "messages")],
)
def test_export_in_another_shape_keeps_ids_and_extra_fields(store, chat_dataset, tmp_path, fmt, key):
    records = read_jsonl(export_dataset(store, tmp_path / f"{fmt}.jsonl", fmt=fmt).path)
    assert [r["id"] for r in records] == [r["id"] for r in CHAT]
    assert all(key in r and r["meta"]["source"] == "unit" for r in records)


def _decide_some(store, ds):
    """c0 removed, c1 edited, c2 accepted; c3 flagged and undecided; c4 flagged and auto-corrected."""
    store.append_review(dataset_id=ds, example_id="c0", action="remove", annotator="ann", before="0", after=None)
    store.append_review(dataset_id=ds, example_id="c1", action="edit", annotator="bob", before="2", after="two")
    store.append_review(dataset_id=ds, example_id="c2", action="accept", annotator="ann", before="4", after="four")
    raw_sql.rows(store, "INSERT INTO flags VALUES (?, 'c3', true, 0.5, 'r1')", (ds,))
    raw_sql.rows(store, "INSERT INTO flags VALUES (?, 'c4', true, 0.5, 'r1')", (ds,))
    store.save_proposal(
        dataset_id=ds,
        example_id="c4",
        run_id="r1",
        candidate="EIGHT",
        judge_confidence=0.93,
        verdicts=[],
        auto_applied=True,
        candidates=[{"text": "8", "source": "original"}, {"text": "EIGHT", "source": "repair", "evidence": "repair"}],
    )


REASONS = {
    "c0": "removed by ann",
    "c1": "edited by bob",
    "c2": "correction accepted by ann",
    "c4": "auto-corrected (judge confidence 0.93; a repair a rule checked)",
}


@pytest.mark.parametrize(
    "choice, written, counts, c3",
    [
        (
            "hold",
            {"c1": "two", "c2": "four", "c4": "EIGHT"},
            {"kept": 3, "removed": 1, "held": 1, "untouched": 0},
            ("held", "flagged (confidence n/a < γ 0.50), undecided: held for review"),
        ),
        (
            "drop",
            {"c1": "two", "c2": "four", "c4": "EIGHT"},
            {"kept": 3, "removed": 2, "held": 0, "untouched": 0},
            ("removed", "flagged (confidence n/a < γ 0.50), undecided: dropped"),
        ),
        (
            "keep",
            {"c1": "two", "c2": "four", "c3": "6", "c4": "EIGHT"},
            {"kept": 4, "removed": 1, "held": 0, "untouched": 1},
            ("flag_kept", "flagged (confidence n/a < γ 0.50), undecided: kept unchanged"),
        ),
    ],
)
def test_decisions_and_the_undecided_choice_decide_what_is_written(
    store, chat_dataset, tmp_path, choice, written, counts, c3
):
    _decide_some(store, chat_dataset.dataset_id)
    out = tmp_path / "out.jsonl"
    result = export_dataset(store, out, undecided=choice)
    records = {r["id"]: r["messages"][-1]["content"] for r in read_jsonl(result.path)}
    assert records == written
    assert result.counts == {"total": 5, "corrected": 2, "edited": 1, "undecided": 1, **counts}
    manifest = json.loads(result.manifest_path.read_text())
    changes = {c["id"]: (c["outcome"], c["reason"]) for c in manifest["changes"]}
    assert changes.pop("c3") == c3
    assert {k: reason for k, (_, reason) in changes.items()} == REASONS
    assert manifest["undecided"] == {
        "choice": choice,
        "count": 1,
        "held_path": str(held_path(out)) if choice == "hold" else None,
    }
    if choice == "hold":  # the held example is kept, unchanged, in the side file
        assert result.held_path == held_path(out) and read_jsonl(held_path(out)) == [CHAT[3]]
    else:
        assert result.held_path is None and not held_path(out).exists()


def test_a_stale_held_file_goes_once_nothing_is_held(store, chat_dataset, tmp_path):
    _decide_some(store, chat_dataset.dataset_id)
    out = tmp_path / "out.jsonl"
    assert export_dataset(store, out).held_path == held_path(out) and held_path(out).exists()
    store.append_review(
        dataset_id=chat_dataset.dataset_id, example_id="c3", action="keep", annotator="ann", before="6", after="6"
    )
    again = export_dataset(store, out)
    assert again.held_path is None and not held_path(out).exists()
    assert again.manifest["undecided"] == {"choice": "hold", "count": 0, "held_path": None}


def test_the_saved_choice_is_the_default_and_hold_before_any(store, chat_dataset, tmp_path):
    _decide_some(store, chat_dataset.dataset_id)
    assert export_dataset(store, tmp_path / "a.jsonl").manifest["undecided"]["choice"] == "hold"
    store.put_setting(chat_dataset.dataset_id, UNDECIDED_SETTING, "drop")
    assert export_dataset(store, tmp_path / "b.jsonl").counts["removed"] == 2
    assert export_dataset(store, tmp_path / "c.jsonl", undecided="keep").counts["kept"] == 4
    with pytest.raises(CurationError, match="undecided 'maybe' is not one of hold, drop, keep"):
        export_dataset(store, tmp_path / "d.jsonl", undecided="maybe")


def test_reviewer_keep_overrides_the_filter():
    row = {
        "action": "keep",
        "annotator": "ann",
        "response": "orig",
        "in_force": "orig",
        "flagged": True,
        "threshold": 0.5,
    }
    assert resolve(row) == ("kept", "orig", "original kept by ann")


def test_failed_export_leaves_the_previous_file_intact(store, chat_dataset, tmp_path):
    out = tmp_path / "out.jsonl"
    export_dataset(store, out)
    before = out.read_bytes()
    with pytest.raises(CurationError, match="simulated failure after 2 records"):
        export_dataset(store, out, fmt="alpaca", fail_after=2)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_unknown_export_format_is_refused(store, chat_dataset, tmp_path):
    with pytest.raises(CurationError, match="format 'csv' is not one of own, chat, alpaca"):
        export_dataset(store, tmp_path / "x.jsonl", fmt="csv")


def test_a_parquet_path_writes_parquet_with_the_same_records(store, chat_dataset, tmp_path):
    import pyarrow.parquet as pq

    _decide_some(store, chat_dataset.dataset_id)
    as_jsonl = export_dataset(store, tmp_path / "out.jsonl")
    as_parquet = export_dataset(store, tmp_path / "out.parquet")
    assert pq.read_table(as_parquet.path).to_pylist() == read_jsonl(as_jsonl.path)
    assert as_parquet.manifest["output"]["file_type"] == "parquet" and as_parquet.counts == as_jsonl.counts
    assert read_jsonl(as_parquet.held_path) == read_jsonl(as_jsonl.held_path)  # the side file stays JSONL


def test_records_that_disagree_on_a_field_type_cannot_be_parquet(store, tmp_path):
    mixed = [
        {"id": "a", "prompt": "q", "response": "r", "extra": 1},
        {"id": "b", "prompt": "q", "response": "r", "extra": "x"},
    ]
    import_file(store, write_jsonl(tmp_path / "mixed.jsonl", mixed), name="mixed")
    with pytest.raises(CurationError, match=r"out.parquet: cannot write Parquet: .*export JSONL"):
        export_dataset(store, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()
