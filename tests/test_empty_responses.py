"""Empty and whitespace-only responses are findings: they import as examples, the degenerate
rule scores them 0, the queue and the export carry them like any other example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation import review
from curation.config import Config
from curation.export import export_dataset
from curation.ingest import import_file, read_dataset
from curation.llm.client import LLMClient
from curation.pipeline import run_pipeline
from curation.review import QueueFilter
from curation.score import score_key
from curation.signals import degenerate

SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"
EMPTY = ["", "   ", "\n\t"]


@pytest.mark.parametrize(
    "record",
    [
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "{}"}]},
        {"instruction": "q", "output": "{}"},
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "{}"}]},
        {"prompt": "q", "response": "{}"},
    ],
    ids=["chat", "alpaca", "sharegpt", "prompt-response"],
)
@pytest.mark.parametrize("empty", EMPTY, ids=["empty", "spaces", "blank-lines"])
def test_every_shape_imports_an_empty_response_and_exports_it_unchanged(store, tmp_path, record, empty):
    text = json.dumps(record).replace('"{}"', json.dumps(empty))
    good = json.dumps(record).replace('"{}"', '"a"')
    path = tmp_path / "data.jsonl"
    path.write_text(good + "\n" + text + "\n", encoding="utf-8")
    parsed = read_dataset(path)
    assert [e.response for e in parsed.examples] == ["a", empty] and not parsed.rejected
    info = import_file(store, path, name="d").dataset
    assert review.queue_count(store, info.dataset_id, QueueFilter()) == 2
    out = export_dataset(store, tmp_path / "out.jsonl").path
    assert [json.loads(x) for x in out.read_text().splitlines()] == [json.loads(good), json.loads(text)]


def test_the_degenerate_rule_scores_them_zero():
    for empty in EMPTY:
        assert degenerate("What is 2 + 2?", empty).score == 0.0


def test_an_empty_prompt_is_still_refused(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps({"prompt": " ", "response": "a"}) + "\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"data.jsonl:1: prompt is empty"):
        read_dataset(path)


@pytest.mark.model
def test_the_pipeline_flags_them_with_the_embedded_model(store, tmp_path, default_backend):
    records = [json.loads(x) for x in (SAMPLES / "passage_qa.jsonl").read_text().splitlines()[1:4]]
    records[0]["output"], records[1]["output"] = "", "   "  # two clean examples lose their answer
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    info = import_file(store, path, name="qa").dataset
    cfg = Config().with_overrides(
        {
            "scoring.k": 2,
            "scoring.max_tokens": 16,
            "scoring.reflection_prompts": 1,
            "scoring.reflection_max_tokens": 4,
            "correct.max_tokens": 16,
            "correct.judge_max_tokens": 4,
            "correct.few_shot": 1,
        }
    )
    summary = run_pipeline(store, "qa", cfg, client=LLMClient(default_backend, cache=store, config=cfg.llm))
    assert summary.scored == 3 and summary.failed == 0
    rows = {r["example_id"]: r for r in store.scores(info.dataset_id, score_key(cfg))}
    empty_ids = [records[0]["id"], records[1]["id"]]
    for example_id in empty_ids:
        assert rows[example_id]["status"] == "ok" and rows[example_id]["confidence"] == 0.0
        assert "degenerate" in rows[example_id]["fired"]
    assert set(empty_ids) <= set(store.flagged_ids(info.dataset_id))
    # Nobody decided: export holds each one back, or writes the correction the contest applied.
    result = export_dataset(store, tmp_path / "out.jsonl")
    fate = {c["id"]: c["outcome"] for c in result.manifest["changes"]}
    assert all(fate[i] in ("held", "corrected") for i in empty_ids), fate
    written = {json.loads(x)["id"]: json.loads(x)["output"] for x in result.path.read_text().splitlines()}
    assert all(written[i].strip() for i in empty_ids if i in written)  # never written back empty
