"""A folder of shards of one type is one dataset: records in shard order, problems naming the shard."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.errors import InputFileError, InvalidRecordError
from curation.export import export_dataset
from curation.ingest import import_file, read_dataset


def rec(i: int) -> dict:
    return {"id": f"r{i}", "prompt": f"What is {i} + {i}?", "response": str(2 * i)}


def test_parquet_shards_are_one_dataset_in_name_order(store, tmp_path):
    folder = tmp_path / "shards"
    folder.mkdir()
    for n, part in ((1, [rec(3), rec(4)]), (0, [rec(0), rec(1), rec(2)])):
        pq.write_table(pa.Table.from_pylist(part), folder / f"part-{n:04d}.parquet")
    (folder / "_SUCCESS").write_text("")  # files of no data type are left out
    parsed = read_dataset(folder)
    assert [e.example_id for e in parsed.examples] == ["r0", "r1", "r2", "r3", "r4"]
    info = import_file(store, folder).dataset
    assert info.name == "shards" and info.n_examples == 5
    out = export_dataset(store, tmp_path / "out.jsonl").path
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["r0", "r1", "r2", "r3", "r4"]


def test_a_problem_names_its_shard_and_line(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps(rec(0)) + "\n")
    bad = {"id": "r0", "prompt": "q", "response": None}
    (folder / "b.jsonl.gz").write_bytes(gzip.compress((json.dumps(rec(1)) + "\n" + json.dumps(bad) + "\n").encode()))
    with pytest.raises(InvalidRecordError) as caught:
        read_dataset(folder)
    said = [str(p) for p in caught.value.problems]
    assert f"{folder}/b.jsonl.gz:2: response must be a string, got null" in said
    assert f"{folder}/b.jsonl.gz:2: id 'r0' duplicates {folder}/a.jsonl:1" in said


def test_mixed_types_and_different_columns_are_refused(tmp_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a.jsonl").write_text(json.dumps(rec(0)) + "\n")
    (mixed / "b.csv").write_text("prompt,response\nq,a\n")
    with pytest.raises(InputFileError, match=r"mixed: the folder mixes file types \(csv, jsonl\)"):
        read_dataset(mixed)
    cols = tmp_path / "cols"
    cols.mkdir()
    (cols / "a.csv").write_text("prompt,response\nq,a\n")
    (cols / "b.csv").write_text("question,answer\nq,a\n")
    with pytest.raises(InvalidRecordError, match=r"cols/b.csv: columns \['question', 'answer'\] differ from"):
        read_dataset(cols)
