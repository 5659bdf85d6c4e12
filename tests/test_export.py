import json

import pytest

from curation.errors import CurationError
from curation.export import export_dataset, resolve
from curation.ingest import import_file


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


CHAT = [
    {"id": f"c{i}", "messages": [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": f"What is {i} + {i}?"},
                                 {"role": "assistant", "content": str(2 * i)}],
     "meta": {"source": "unit", "n": i}, "tools": []}
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
    assert result.counts == {"total": 5, "kept": 5, "removed": 0, "corrected": 0, "edited": 0, "untouched": 5}
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["source"]["sha256"] == chat_dataset.source_sha256
    assert manifest["changes"] == [] and manifest["output"]["format"] == "chat"


@pytest.mark.parametrize("fmt, key", [("alpaca", "output"), ("sharegpt", "conversations"),
                                      ("prompt-response", "response"), ("chat", "messages")])
def test_export_in_another_shape_keeps_ids_and_extra_fields(store, chat_dataset, tmp_path, fmt, key):
    records = read_jsonl(export_dataset(store, tmp_path / f"{fmt}.jsonl", fmt=fmt).path)
    assert [r["id"] for r in records] == [r["id"] for r in CHAT]
    assert all(key in r and r["meta"]["source"] == "unit" for r in records)


def test_decisions_and_pipeline_state_decide_what_is_written(store, chat_dataset, tmp_path):
    ds = chat_dataset.dataset_id
    store.append_review(dataset_id=ds, example_id="c0", action="remove", annotator="ann", before="0", after=None)
    store.append_review(dataset_id=ds, example_id="c1", action="edit", annotator="bob", before="2", after="two")
    store.append_review(dataset_id=ds, example_id="c2", action="accept", annotator="ann", before="4", after="four")
    store.execute("INSERT INTO flags VALUES (?, 'c3', true, 0.5, 'r1')", (ds,))
    store.execute("INSERT INTO flags VALUES (?, 'c4', true, 0.5, 'r1')", (ds,))
    store.save_proposal(dataset_id=ds, example_id="c4", run_id="r1", candidate="EIGHT", judge_confidence=0.93,
                        verdicts=[], auto_applied=True)
    result = export_dataset(store, tmp_path / "out.jsonl")
    records = {r["id"]: r["messages"][-1]["content"] for r in read_jsonl(result.path)}
    assert records == {"c1": "two", "c2": "four", "c4": "EIGHT"}
    assert result.counts == {"total": 5, "kept": 3, "removed": 2, "corrected": 2, "edited": 1, "untouched": 0}
    reasons = {c["id"]: c["reason"] for c in result.manifest["changes"]}
    assert reasons == {
        "c0": "removed by ann", "c1": "edited by bob", "c2": "correction accepted by ann",
        "c3": "auto-filtered (confidence n/a < 0.50)", "c4": "auto-corrected (judge confidence 0.93)",
    }


def test_reviewer_keep_overrides_the_filter():
    row = {"action": "keep", "annotator": "ann", "response": "orig", "flagged": True, "threshold": 0.5}
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
