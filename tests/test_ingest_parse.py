"""Reading dataset files: each file type, each shape, ids, skip_invalid, and random bytes.

Bad input is in ``tests/test_ingest_errors.py``; the format and columns a file is read as in
``tests/test_file_format.py``.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.errors import CurationError, InvalidRecordError
from curation.ingest import content_id, read_dataset
from curation.records import FILE_TYPES, Message, ParsedDataset, messages_of
from curation.render import render_record
from tests.support.ingest_files import ALPACA, GOOD, chat, exactly, jsonl, write
from tests.support.ingest_files import in_tmp as in_tmp  # autouse: each test runs in its tmp_path

# -- each file type and shape -------------------------------------------------------------


def test_jsonl_chat_with_blank_lines_bom_and_crlf():
    text = "\ufeff" + json.dumps(chat("hi", "yo", id=7)) + "\r\n\r\n   \n" + json.dumps(chat())
    path = write("data.jsonl", text)
    ds = read_dataset(path)
    assert isinstance(ds, ParsedDataset)
    assert (ds.path, ds.file_type, ds.format) == ("data.jsonl", "jsonl", "chat")
    assert ds.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert ds.options == {"fmt": "chat", "prompt_col": None, "response_col": None, "skip_invalid": False}
    first, second = ds.examples
    assert (first.example_id, first.id_source, first.line) == ("7", "record", 1)
    assert first.prompt == (Message("user", "hi"),) and first.response == "yo"
    assert first.record == chat("hi", "yo", id=7)
    assert (second.id_source, second.line) == ("hash", 4)
    assert second.example_id == content_id((Message("user", "q"),), "a")
    assert ds.rejected == []


def test_ndjson_extension():
    assert read_dataset(write("data.ndjson", jsonl(ALPACA))).format == "alpaca"


def test_json_array_lines_are_element_indexes():
    path = write("data.json", json.dumps([ALPACA, {**ALPACA, "output": "5"}], indent=2))
    ds = read_dataset(path)
    assert (ds.file_type, ds.format) == ("json", "alpaca")
    assert [e.line for e in ds.examples] == [1, 2]
    assert ds.examples[0].prompt == (Message("user", "Add.\n\n2+2"),)


def test_json_file_holding_json_lines_is_read_as_jsonl():
    ds = read_dataset(write("data.json", jsonl(ALPACA, ALPACA)))
    assert ds.file_type == "jsonl" and len(ds.examples) == 2


def test_csv_rows_count_from_one_without_the_header():
    path = write("data.csv", 'id,question,answer\n1,"two\nlines",x\n\n2,q,"a, b"\n')
    ds = read_dataset(path)
    assert (ds.file_type, ds.format) == ("csv", "prompt-response")
    assert ds.options["prompt_col"] == "question" and ds.options["response_col"] == "answer"
    assert [(e.example_id, e.line, e.response) for e in ds.examples] == [("1", 1, "x"), ("2", 2, "a, b")]
    assert ds.examples[0].prompt == (Message("user", "two\nlines"),)
    assert ds.examples[0].record == {"id": "1", "question": "two\nlines", "answer": "x"}


def test_csv_with_bom_crlf_and_blank_lines_before_the_header():
    ds = read_dataset(write("data.csv", "\ufeff\r\nprompt,response\r\nq,a\r\n"))
    assert [(e.line, e.prompt, e.response) for e in ds.examples] == [(1, (Message("user", "q"),), "a")]
    assert ds.examples[0].record == {"prompt": "q", "response": "a"}


def test_parquet_prompt_response_via_pandas():
    pd.DataFrame({"prompt": ["p1", "p2"], "response": ["r1", "r2"], "score": [0.5, float("nan")]}).to_parquet(
        "data.parquet"
    )
    ds = read_dataset("data.parquet")
    assert (ds.file_type, ds.format) == ("parquet", "prompt-response")
    assert [(e.line, e.response) for e in ds.examples] == [(1, "r1"), (2, "r2")]
    assert ds.examples[1].record == {"prompt": "p2", "response": "r2", "score": None}


def test_parquet_chat_with_nested_messages():
    table = pa.Table.from_pylist([chat("hi", "yo", id=1), chat("a", "b", id=2)])
    pq.write_table(table, "data.parquet")
    ds = read_dataset("data.parquet")
    assert ds.format == "chat" and [e.example_id for e in ds.examples] == ["1", "2"]
    assert ds.examples[0].record == chat("hi", "yo", id=1)


@pytest.mark.parametrize(
    "record",
    [
        {
            "id": "x",
            "messages": [
                {"role": "system", "content": "s", "weight": 0},
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
            ],
            "meta": {"k": [1]},
        },
        {"output": "4", "id": 3, "input": "", "instruction": "Add."},
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], "z": 1},
        {"z": None, "response": "a", "prompt": "q"},
    ],
)
def test_untouched_records_round_trip_exactly(record):
    ds = read_dataset(write("data.jsonl", jsonl(record)))
    ex = ds.examples[0]
    cols = {k: ds.options[k] for k in ("prompt_col", "response_col")}
    out = render_record(ex.record, ds.format, ex.prompt, ex.response, ds.format, **cols)
    assert out == record and list(out) == list(record)


def test_multi_turn_chat_keeps_earlier_turns():
    record = {
        "messages": [
            {"role": "system", "content": "S"},
            {"role": "user", "content": "u1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "u2"},
            {"role": "assistant", "content": "a2"},
        ]
    }
    ex = read_dataset(write("data.jsonl", jsonl(record))).examples[0]
    assert ex.prompt == messages_of([("system", "S"), ("user", "u1"), ("assistant", "a1"), ("user", "u2")])


# -- ids ---------------------------------------------------------------------------------


def test_identical_records_without_ids_get_suffixes_stable_on_reimport():
    path = write("data.jsonl", jsonl(chat(), chat(x=1), chat("other"), chat()))
    ids = [e.example_id for e in read_dataset(path).examples]
    base = content_id((Message("user", "q"),), "a")
    assert ids == [base, f"{base}~2", content_id((Message("user", "other"),), "a"), f"{base}~3"]
    assert [e.example_id for e in read_dataset(path).examples] == ids


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (["abc", "x", "abc"], "data.jsonl:3: id 'abc' duplicates line 1"),
        ([1, "1"], "data.jsonl:2: id '1' duplicates line 1"),
        (["ok", ""], "data.jsonl:2: id is empty"),
        (["ok", [1]], "data.jsonl:2: id must be a string or integer, got array"),
        (["ok", None], "data.jsonl:2: id must be a string or integer, got null"),
        (["ok", True], "data.jsonl:2: id must be a string or integer, got boolean"),
        (["ok", 1.5], "data.jsonl:2: id must be a string or integer, got number"),
    ],
)
def test_bad_ids(ids, expected):
    path = write("data.jsonl", jsonl(*(chat(str(i), id=v) for i, v in enumerate(ids))))
    with pytest.raises(InvalidRecordError, match=exactly(expected)):
        read_dataset(path)


# -- skip_invalid -------------------------------------------------------------------------


def test_skip_invalid_keeps_the_good_and_rejects_the_bad():
    lines = [GOOD, "{oops", json.dumps(chat("", "a", id="b")), json.dumps(chat("q3", id=5))]
    ds = read_dataset(write("data.jsonl", "\n".join(lines)), skip_invalid=True)
    assert [e.line for e in ds.examples] == [1, 4]
    assert [(str(r.problem), r.raw) for r in ds.rejected] == [
        ("data.jsonl:2: invalid JSON: a key must be a string in double quotes, got 'oops' at column 2", "{oops"),
        ("data.jsonl:3: messages[0].content is empty", lines[2]),
    ]
    assert ds.options["skip_invalid"] is True


def test_skip_invalid_with_no_good_record_still_raises():
    with pytest.raises(InvalidRecordError, match=exactly("data.jsonl:1: output is missing")):
        read_dataset(write("data.jsonl", jsonl({"instruction": "x", "input": ""})), fmt="alpaca", skip_invalid=True)


def test_skip_invalid_csv_raw_text_is_the_row():
    ds = read_dataset(write("data.csv", 'prompt,response\nq,a\n,"x\ny"\n'), skip_invalid=True)
    assert [(str(r.problem), r.raw) for r in ds.rejected] == [("data.csv:2: prompt is empty", ',"x\ny"')]


def test_file_types_are_the_known_ones():
    assert {"jsonl", "json", "csv", "parquet"} == set(FILE_TYPES)


# -- property ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.binary(max_size=400)
    | st.text(max_size=200).map(str.encode)
    | st.lists(
        st.sampled_from(
            [
                GOOD,
                "{",
                "[]",
                '{"id": 1}',
                "\ufeff",
                "\xff",
                "\x00",
                "\n",
                json.dumps(ALPACA),
                '{"prompt": "", "response": "a"}',
            ]
        ),
        max_size=8,
    ).map(lambda parts: "\n".join(parts).encode("utf-8", "surrogatepass"))
)
def test_random_bytes_give_a_dataset_or_a_curation_error(data):
    path = write("data.jsonl", data)
    for skip in (False, True):
        try:
            ds = read_dataset(path, skip_invalid=skip)
        except CurationError:
            continue
        assert isinstance(ds, ParsedDataset) and ds.examples


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["data.csv", "data.json", "data.parquet"]),
    st.binary(max_size=300)
    | st.lists(
        st.sampled_from(
            [
                "prompt,response",
                "q,a",
                '"x\ny",b',
                ",",
                "\x00",
                "[",
                '{"prompt": "q"}',
                "]",
                '[{"prompt": "q", "response": "a"}]',
                "\ufeff",
            ]
        ),
        max_size=6,
    ).map(lambda parts: "\n".join(parts).encode("utf-8")),
)
def test_random_csv_json_and_parquet_bytes(name, data):
    path = write(name, data)
    try:
        ds = read_dataset(path, skip_invalid=True)
    except CurationError:
        return
    assert ds.examples and ds.file_type in FILE_TYPES
