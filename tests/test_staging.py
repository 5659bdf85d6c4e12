"""Staged import (curation.store.staging): records checked and staged a chunk at a time, duplicate
ids found and examples named in SQL across the whole file, and nothing stored unless all is well.

Chunks of 2 records make every file here span many chunks, so each answer below, worked out by
hand from the file, also shows that chunking changes nothing.
"""

from __future__ import annotations

import json

import pytest

from curation import ingest
from curation.errors import InvalidRecordError
from curation.ingest import content_id, import_file, read_dataset
from curation.records import Message
from curation.store import Store
from tests.support import raw_sql


@pytest.fixture(autouse=True)
def _small_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK", 2)
    monkeypatch.chdir(tmp_path)  # problems name the file as given: just its name


def write(name: str, *records: dict) -> str:
    with open(name, "w", encoding="utf-8") as out:
        out.write("".join(json.dumps(r) + "\n" for r in records))
    return name


def pr(prompt: str, response, **extra) -> dict:
    return {"prompt": prompt, "response": response, **extra}


HASH = content_id((Message("user", "q"),), "a")


def test_duplicates_are_found_across_chunks_and_named_after_the_first():
    path = write(
        "data.jsonl",
        pr("a", "b", id="1"),
        pr("c", None, id="2"),  # bad, but its id still counts
        pr("e", "f", id="2"),
        pr("g", "h", id="1"),
        pr("i", 5, id="1"),  # bad twice: its own problem first, then the duplicate
        pr("k", "l", id=1),  # an integer id is the same id
    )
    with pytest.raises(InvalidRecordError) as caught:
        read_dataset(path)
    assert [str(p) for p in caught.value.problems] == [
        "data.jsonl:2: response must be a string, got null",
        "data.jsonl:3: id '2' duplicates line 2",
        "data.jsonl:4: id '1' duplicates line 1",
        "data.jsonl:5: response must be a string, got integer",
        "data.jsonl:5: id '1' duplicates line 1",
        "data.jsonl:6: id '1' duplicates line 1",
    ]
    parsed = read_dataset(path, skip_invalid=True)
    assert [e.example_id for e in parsed.examples] == ["1"]
    assert [(str(r.problem), json.loads(r.raw)["prompt"]) for r in parsed.rejected] == [
        ("data.jsonl:2: response must be a string, got null", "c"),
        ("data.jsonl:3: id '2' duplicates line 2", "e"),
        ("data.jsonl:4: id '1' duplicates line 1", "g"),
        ("data.jsonl:5: response must be a string, got integer", "i"),
        ("data.jsonl:6: id '1' duplicates line 1", "k"),
    ]


def test_repeated_content_is_numbered_around_the_ids_records_take():
    # The 1st, 2nd... record of one content take HASH, HASH~2, ... skipping what an own id holds.
    path = write(
        "data.jsonl",
        pr("q", "a"),
        pr("q", "a"),
        pr("x", "y", id=HASH),
        pr("q", "a"),
        pr("z", "w", id=f"{HASH}~3"),
        pr("q", "a"),
        pr("u", "v", id=f"{HASH}~1"),  # not a name a repeat takes
    )
    parsed = read_dataset(path)
    assert [(e.example_id, e.id_source) for e in parsed.examples] == [
        (f"{HASH}~2", "hash"),
        (f"{HASH}~4", "hash"),
        (HASH, "record"),
        (f"{HASH}~5", "hash"),
        (f"{HASH}~3", "record"),
        (f"{HASH}~6", "hash"),
        (f"{HASH}~1", "record"),
    ]


def test_an_own_id_on_a_rejected_record_does_not_block_a_name():
    path = write("data.jsonl", pr("q", "a"), pr("q", "a"), pr("x", None, id=HASH))
    parsed = read_dataset(path, skip_invalid=True)
    assert [e.example_id for e in parsed.examples] == [HASH, f"{HASH}~2"]


def test_a_bad_record_in_the_last_chunk_stores_nothing(tmp_path):
    good = [pr(f"q{i}", f"a{i}", id=f"r{i}") for i in range(9)]
    path = write("data.jsonl", *good, pr("bad", None, id="r9"))
    with Store(tmp_path / "store.duckdb") as store:
        import_file(store, write("seed.jsonl", pr("s", "t")), name="seed")
        before = {t: raw_sql.rows(store, f"SELECT count(*) FROM {t}")[0][0] for t in ("datasets", "examples")}
        with pytest.raises(InvalidRecordError, match=r"^data.jsonl:10: response must be a string, got null$"):
            import_file(store, path)
        after = {t: raw_sql.rows(store, f"SELECT count(*) FROM {t}")[0][0] for t in ("datasets", "examples")}
        assert after == before
        temp = "SELECT count(*) FROM duckdb_tables() WHERE temporary OR table_name LIKE 'staged%'"
        assert raw_sql.rows(store, temp) == [(0,)]  # the staging is gone
        info = import_file(store, path, skip_invalid=True).dataset  # and the store goes on
        assert (info.n_examples, info.n_rejected) == (9, 1)


def test_append_adds_only_new_ids_at_the_next_positions(tmp_path):
    with Store(tmp_path / "store.duckdb") as store:
        import_file(store, write("v1.jsonl", *[pr(f"q{i}", "a", id=f"r{i}") for i in range(3)]), name="d")
        grown = [pr(f"q{i}", "a", id=f"r{i}") for i in (4, 1, 3, 0, 2, 5)]
        info = import_file(store, write("v2.jsonl", *grown), name="d", append=True).dataset
        assert info.n_examples == 6
        rows = raw_sql.rows(store, "SELECT example_id, position, line FROM examples ORDER BY position")
        assert rows == [("r0", 0, 1), ("r1", 1, 2), ("r2", 2, 3), ("r4", 3, 1), ("r3", 4, 3), ("r5", 5, 6)]
