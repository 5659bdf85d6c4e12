"""Compressed input files: every supported type behind gzip, bzip2, xz or zstd reads like the plain file."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.errors import InputFileError
from curation.ingest import import_file, read_dataset
from curation.readers import dataset_stem, file_suffix

RECORDS = [{"id": f"r{i}", "prompt": f"What is {i} + {i}?", "response": str(2 * i)} for i in range(5)]
CODECS = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
    ".zst": lambda data: zstandard.ZstdCompressor().compress(data),
}


def plain_bytes(kind: str) -> bytes:
    if kind == ".jsonl":
        return "".join(json.dumps(r) + "\n" for r in RECORDS).encode()
    if kind == ".json":
        return json.dumps(RECORDS).encode()
    if kind == ".csv":
        return (
            "id,prompt,response\n" + "".join(f"{r['id']},{r['prompt']},{r['response']}\n" for r in RECORDS)
        ).encode()
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(RECORDS), sink)
    return sink.getvalue()


@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize("kind", [".jsonl", ".json", ".csv", ".parquet"])
def test_each_type_reads_the_same_compressed(tmp_path, kind, codec):
    plain, packed = tmp_path / f"data{kind}", tmp_path / f"data{kind}{codec}"
    plain.write_bytes(plain_bytes(kind))
    packed.write_bytes(CODECS[codec](plain_bytes(kind)))
    a, b = read_dataset(plain), read_dataset(packed)
    assert [(e.example_id, e.prompt, e.response) for e in a.examples] == [
        (e.example_id, e.prompt, e.response) for e in b.examples
    ]
    assert b.file_type == a.file_type and b.sha256 != a.sha256  # the digest is of the file as stored


def test_a_compressed_file_imports_under_its_plain_name(store, tmp_path):
    path = tmp_path / "arith.jsonl.gz"
    path.write_bytes(gzip.compress(plain_bytes(".jsonl")))
    assert import_file(store, path).dataset.name == "arith"
    assert file_suffix("x.JSONL.Zst") == (".jsonl", "zstd") and dataset_stem("a/b.csv.xz") == "b"


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_a_truncated_file_says_so(tmp_path, codec):
    whole = CODECS[codec](plain_bytes(".jsonl") * 50)
    path = tmp_path / f"data.jsonl{codec}"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputFileError, match=rf"data.jsonl{codec}: the \w+ file is cut short"):
        read_dataset(path)


def test_a_file_that_is_not_what_its_name_says(tmp_path):
    path = tmp_path / "data.jsonl.gz"
    path.write_bytes(plain_bytes(".jsonl"))
    with pytest.raises(InputFileError, match=r"data.jsonl.gz: not a valid gzip file"):
        read_dataset(path)
    with pytest.raises(InputFileError, match=r"unknown file type '.txt'.*optionally compressed"):
        read_dataset(tmp_path / "notes.txt.gz")


@settings(max_examples=25, deadline=None)
@given(
    texts=st.lists(  # any text a response may hold (a null character is refused by design)
        st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), min_size=1).filter(str.strip),
        min_size=1,
        max_size=5,
    ),
    codec=st.sampled_from(sorted(CODECS)),
)
def test_round_trip_of_any_text(tmp_path_factory, texts, codec):
    records = [{"id": f"t{i}", "prompt": "q", "response": text} for i, text in enumerate(texts)]
    path = tmp_path_factory.mktemp("rt") / f"data.jsonl{codec}"
    path.write_bytes(CODECS[codec]("".join(json.dumps(r) + "\n" for r in records).encode()))
    assert [e.response for e in read_dataset(path).examples] == texts
