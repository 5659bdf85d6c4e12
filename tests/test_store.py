import subprocess
import sys

import duckdb
import pytest

from curation.errors import Problem, StorageError, StoreLockedError
from curation.records import Example, Message, ParsedDataset, Rejected
from curation.store import Store
from curation.store.schema import MIGRATIONS
from tests.support import raw_sql

EXPECTED_COLUMNS = {
    "migrations": ["id", "name", "applied_at"],
    "datasets": [
        "dataset_id",
        "name",
        "source_path",
        "source_sha256",
        "file_type",
        "format",
        "options",
        "n_examples",
        "n_rejected",
        "imported_at",
    ],
    "examples": [
        "dataset_id",
        "example_id",
        "id_source",
        "position",
        "line",
        "prompt",
        "prompt_text",
        "response",
        "record",
    ],
    "rejected": ["dataset_id", "line", "field", "message", "raw"],
    "runs": [
        "run_id",
        "dataset_id",
        "stage",
        "backend",
        "model",
        "config",
        "score_key",
        "status",
        "started_at",
        "finished_at",
        "n_examples",
        "n_done",
        "n_failed",
        "calls",
        "cache_hits",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "error",
    ],
    "scores": [
        "dataset_id",
        "example_id",
        "score_key",
        "run_id",
        "status",
        "confidence",
        "consistency",
        "reflection",
        "signals",
        "fired",
        "explanation",
        "error",
        "scored_at",
    ],
    "flags": ["dataset_id", "example_id", "flagged", "threshold", "run_id"],
    "proposals": [
        "dataset_id",
        "example_id",
        "run_id",
        "candidate",
        "judge_confidence",
        "verdicts",
        "auto_applied",
        "status",
        "error",
        "created_at",
        "candidates",
        "source",
        "margin",
        "calibration",
    ],
    "review_log": [
        "event_id",
        "dataset_id",
        "example_id",
        "action",
        "annotator",
        "before",
        "after",
        "batch_id",
        "undoes",
        "created_at",
        "adjudicates",
    ],
    "llm_cache": ["key", "backend", "model", "request", "result", "created_at"],
    "dataset_settings": ["dataset_id", "key", "value", "updated_at"],
    "assignments": ["dataset_id", "example_id", "annotator", "assigned_at"],
}


def parsed(n=3, rejected=()):
    examples = [
        Example(
            example_id=f"ex-{i}",
            id_source="record",
            line=i + 1,
            prompt=(Message("user", f"question {i}"),),
            response=f"answer {i}",
            record={"id": f"ex-{i}", "prompt": f"question {i}", "response": f"answer {i}"},
        )
        for i in range(n)
    ]
    return ParsedDataset(
        path="data.jsonl",
        file_type="jsonl",
        format="prompt-response",
        sha256="ab" * 32,
        examples=examples,
        rejected=list(rejected),
    )


def test_migrations_on_empty_store_give_exact_columns(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store(path) as store:
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
    con = duckdb.connect(str(path))
    for table, columns in EXPECTED_COLUMNS.items():
        got = [
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
        ]
        assert got == columns, table
    con.close()


def test_migrations_are_applied_once(tmp_path):
    path = tmp_path / "s.duckdb"
    Store(path).close()
    with Store(path) as store:
        assert store.migrate() == []
        assert len(store.applied_migrations()) == len(MIGRATIONS)


def test_add_dataset_round_trips_examples(store):
    problem = Problem("data.jsonl", 4, "response", "must be a string, got null")
    info = store.add_dataset(parsed(rejected=[Rejected(problem, '{"bad": 1}')]), name="demo")
    assert (info.name, info.n_examples, info.n_rejected, info.format) == ("demo", 3, 1, "prompt-response")
    examples = list(store.iter_examples(info.dataset_id, batch=2))
    assert [e.example_id for e in examples] == ["ex-0", "ex-1", "ex-2"]
    assert examples[1].prompt == (Message("user", "question 1"),)
    assert examples[1].record == {"id": "ex-1", "prompt": "question 1", "response": "answer 1"}
    assert store.rejected(info.dataset_id)[0]["message"] == "data.jsonl:4: response must be a string, got null"


def test_duplicate_dataset_name_is_refused_and_nothing_written(store):
    store.add_dataset(parsed(), name="demo")
    with pytest.raises(StorageError, match="a dataset named 'demo' exists already"):
        store.add_dataset(parsed(5), name="demo")
    assert store.dataset("demo").n_examples == 3


def test_failed_import_writes_nothing(store):
    bad = parsed(2)
    bad.examples.append(bad.examples[0])  # duplicate primary key fails inside the transaction
    with pytest.raises(StorageError, match="store query failed"):
        store.add_dataset(bad, name="demo")
    assert store.datasets() == []


def test_dataset_lookup_errors_name_the_choices(store):
    with pytest.raises(StorageError, match="none yet"):
        store.dataset()
    store.add_dataset(parsed(), name="a")
    store.add_dataset(parsed(), name="b")
    with pytest.raises(StorageError, match=r"name a dataset with --dataset \(datasets: a, b\)"):
        store.dataset()
    with pytest.raises(StorageError, match=r"no dataset named 'c' \(datasets: a, b\)"):
        store.dataset("c")


def test_cache_put_and_get(store):
    store.cache_put("k1", backend="openai", model="m", request={"x": 1}, result={"text": "hi"})
    store.cache_put("k1", backend="openai", model="m", request={"x": 1}, result={"text": "other"})
    assert store.cache_get_many(["k1", "k2"]) == {"k1": {"text": "hi"}}
    assert store.cache_size() == 1


def test_review_log_is_append_only_and_undo_restores(store):
    info = store.add_dataset(parsed(), name="demo")
    first = store.append_review(
        dataset_id=info.dataset_id, example_id="ex-0", action="remove", annotator="ann", before="answer 0", after=None
    )
    second = store.append_review(
        dataset_id=info.dataset_id, example_id="ex-0", action="edit", annotator="bob", before="answer 0", after="better"
    )
    assert store.current_decisions(info.dataset_id)["ex-0"]["action"] == "edit"
    store.append_review(
        dataset_id=info.dataset_id,
        example_id="ex-0",
        action="undo",
        annotator="bob",
        before=None,
        after=None,
        undoes=second,
    )
    current = store.current_decisions(info.dataset_id)["ex-0"]
    assert (current["event_id"], current["action"], current["annotator"]) == (first, "remove", "ann")
    assert raw_sql.rows(store, "SELECT count(*) FROM review_log")[0][0] == 3


def test_locked_store_says_so_in_one_line(tmp_path):
    path = tmp_path / "s.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; con = duckdb.connect({str(path)!r}); print('ok', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(StoreLockedError, match=r"in use by another process \(PID \d+\)") as info:
            Store(path)
        assert "\n" not in str(info.value)
    finally:
        holder.kill()
        holder.wait()
