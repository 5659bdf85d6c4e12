"""Reading dataset files: each file type, each shape, ids, and every kind of bad input."""

from __future__ import annotations

import hashlib
import json
import re

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.errors import ConfigError, CurationError, InvalidRecordError
from curation.ingest import InputFileError, content_id, read_dataset
from curation.records import FILE_TYPES, Message, ParsedDataset, messages_of
from curation.render import render_record


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Problems name the file as given; run in tmp_path so that is just ``data.jsonl``."""
    monkeypatch.chdir(tmp_path)


def write(name: str, content: str | bytes) -> str:
    data = content.encode("utf-8") if isinstance(content, str) else content
    with open(name, "wb") as f:
        f.write(data)
    return name


def jsonl(*records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def exactly(*lines: str) -> str:
    """A ``match=`` pattern for an error whose whole message is these lines."""
    return "^" + re.escape("\n".join(lines)) + "$"


def chat(q="q", a="a", **extra):
    return {**extra, "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


ALPACA = {"instruction": "Add.", "input": "2+2", "output": "4"}


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


def test_csv_named_columns_and_alpaca_columns():
    path = write("data.csv", "q,a,note\nhi,hello,n\n")
    ds = read_dataset(path, prompt_col="q", response_col="a")
    assert ds.options["prompt_col"] == "q" and ds.examples[0].response == "hello"
    path = write("alpaca.csv", "instruction,input,output\nAdd.,,4\n")
    ds = read_dataset(path)
    assert ds.format == "alpaca" and ds.examples[0].prompt == (Message("user", "Add."),)


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


def test_format_override_and_majority_shape():
    path = write("data.jsonl", jsonl(chat(), ALPACA, chat()))
    with pytest.raises(
        InvalidRecordError, match=exactly("data.jsonl:2: record looks like alpaca but the file is chat")
    ):
        read_dataset(path)
    with pytest.raises(InvalidRecordError, match=r"^data\.jsonl:1: record looks like chat but the file is alpaca\n"):
        read_dataset(path, fmt="alpaca")


def test_columns_given_override_shape_detection():
    ds = read_dataset(write("data.jsonl", jsonl(ALPACA)), prompt_col="instruction", response_col="output")
    assert ds.format == "prompt-response" and ds.examples[0].prompt == (Message("user", "Add."),)


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


# -- bad input -----------------------------------------------------------------------------

GOOD = json.dumps(chat())


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '{"messages": [',
            "data.jsonl:2: invalid JSON: the list is not closed: the line ends where a value should come",
        ),
        ("{'a': 1}", "data.jsonl:2: invalid JSON: text must be in double quotes, not single quotes, at column 2"),
        ("[1, 2]", "data.jsonl:2: record must be a JSON object, got array"),
        ('"text"', "data.jsonl:2: record must be a JSON object, got string"),
        ("null", "data.jsonl:2: record must be a JSON object, got null"),
        (
            '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": null}]}',
            "data.jsonl:2: messages[1].content must be a string, got null",
        ),
        (
            '{"messages": [{"role": "bot", "content": "q"}, {"role": "assistant", "content": "a"}]}',
            "data.jsonl:2: messages[0].role must be one of system, user, assistant, tool, function, got 'bot'",
        ),
        ('{"messages": [{"role": "user", "content": "q"}]}', "data.jsonl:2: messages has no assistant turn"),
        (
            '{"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]}',
            "data.jsonl:2: messages[0].content is empty",
        ),
        (
            '{"messages": [{"role": "user", "content": "\\ud83d"}, {"role": "assistant", "content": "a"}]}',
            "data.jsonl:2: contains an unpaired surrogate escape (\\ud83d), which is not valid Unicode",
        ),
    ],
)
def test_bad_jsonl_line(line, expected):
    path = write("data.jsonl", GOOD + "\n" + line + "\n" + GOOD + "\n")
    with pytest.raises(InvalidRecordError, match=exactly(expected)):
        read_dataset(path)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"n": ' + "1" * 5000 + "}", "integer string conversion"),  # over Python's digit limit
        ("[" * 100_000, "recursion"),
    ],
)
def test_json_that_python_cannot_decode(line, reason):
    path = write("data.jsonl", GOOD + "\n" + line + "\n")
    with pytest.raises(InvalidRecordError, match=rf"^data\.jsonl:2: invalid JSON: .*{reason}"):
        read_dataset(path)


def test_every_problem_is_listed_in_line_order():
    path = write("data.jsonl", "\n".join([GOOD, "{", GOOD, '{"prompt": "q", "response": 1}', json.dumps(ALPACA), ""]))
    with pytest.raises(
        InvalidRecordError,
        match=exactly(
            "data.jsonl:2: invalid JSON: the object is not closed: the line ends where a key should come",
            "data.jsonl:4: record looks like prompt-response but the file is chat",
            "data.jsonl:5: record looks like alpaca but the file is chat",
        ),
    ) as info:
        read_dataset(path)
    assert [p.line for p in info.value.problems] == [2, 4, 5]


def test_the_first_50_problems_are_listed_then_a_count():
    path = write("data.jsonl", "\n".join([GOOD] + ["{"] * 60))
    with pytest.raises(InvalidRecordError) as info:
        read_dataset(path)
    lines = str(info.value).splitlines()
    assert len(info.value.problems) == 60 and len(lines) == 51
    assert lines[0].startswith("data.jsonl:2: invalid JSON") and lines[49].startswith("data.jsonl:51: ")
    assert lines[50] == "... and 10 more problem(s)"


def test_non_utf8_bytes_name_line_and_file_offset():
    data = b"\xef\xbb\xbf" + GOOD.encode() + b'\n{"x": "caf\xe9"}\n'
    offset = data.index(b"\xe9")
    with pytest.raises(
        InvalidRecordError, match=exactly(f"data.jsonl:2: not valid UTF-8: byte 0xe9 at byte offset {offset}")
    ):
        read_dataset(write("data.jsonl", data))


def test_null_byte_in_jsonl():
    data = GOOD.encode() + b"\n" + GOOD.encode()[:5] + b"\x00" + GOOD.encode()[5:] + b"\n"
    offset = data.index(b"\x00")
    with pytest.raises(
        InvalidRecordError, match=exactly(f"data.jsonl:2: contains a null byte at byte offset {offset}")
    ):
        read_dataset(write("data.jsonl", data))


@pytest.mark.parametrize("content", ["", "\n\n  \n", "\ufeff"])
def test_empty_file(content):
    with pytest.raises(InvalidRecordError, match=exactly("data.jsonl: file has no records")):
        read_dataset(write("data.jsonl", content))


@pytest.mark.parametrize(("name", "content"), [("data.csv", "a,b\n"), ("data.json", "[]"), ("data.csv", "")])
def test_empty_csv_and_json(name, content):
    with pytest.raises(InvalidRecordError, match=exactly(f"{name}: file has no records")):
        read_dataset(write(name, content))


def test_unknown_shape():
    with pytest.raises(
        InvalidRecordError,
        match=exactly(
            "data.jsonl: cannot tell the record format: expected messages (chat), conversations "
            "(sharegpt), instruction/output (alpaca) or prompt/response columns; the first "
            "record has keys: text, label (use --format, --prompt-col / --response-col)"
        ),
    ):
        read_dataset(write("data.jsonl", jsonl({"text": "t", "label": 1})))


def test_every_line_unreadable():
    with pytest.raises(
        InvalidRecordError,
        match=exactly(
            "data.jsonl:1: invalid JSON: the line starts with 'x'",
            "data.jsonl:2: record must be a JSON object, got integer",
        ),
    ):
        read_dataset(write("data.jsonl", "x\n3\n"), skip_invalid=True)


def test_csv_without_the_mapped_columns():
    path = write("data.csv", "a,b\n1,2\n")
    hint = "; columns are: a, b (name them with --prompt-col / --response-col)"
    with pytest.raises(
        InvalidRecordError,
        match=exactly(f"data.csv: column 'prompt' not found{hint}", f"data.csv: column 'response' not found{hint}"),
    ):
        read_dataset(path)
    with pytest.raises(InvalidRecordError, match=exactly(f"data.csv: column 'response' not found{hint}")):
        read_dataset(path, prompt_col="a")
    with pytest.raises(
        InvalidRecordError,
        match=exactly(
            "data.csv: column 'instruction' not found; columns are: a, b",
            "data.csv: column 'output' not found; columns are: a, b",
        ),
    ):
        read_dataset(path, fmt="alpaca", skip_invalid=True)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"prompt,response\nq,a\nq2\n", "data.csv:2: row has 1 cells but the header has 2"),
        (b"prompt,response\nq,a\nq2,a,x\n", "data.csv:2: row has 3 cells but the header has 2"),
        (b"prompt,response\nq,a\n,a2\n", "data.csv:2: prompt is empty"),
        (b'prompt,response\nq,a\n"x\ny",\xff\n', "data.csv:2: not valid UTF-8: byte 0xff at byte offset 26"),
        (b"prompt,response\nq,a\nq\x00,a\n", "data.csv:2: contains a null byte at byte offset 21"),
        (b"prompt,prompt\nq,a\n", "data.csv: column 'prompt' appears more than once in the header"),
    ],
)
def test_bad_csv(content, expected):
    with pytest.raises(InvalidRecordError, match=exactly(expected)):
        read_dataset(write("data.csv", content))


def test_parquet_null_and_nan_cells():
    pd.DataFrame({"prompt": ["q", None, "q3"], "response": ["a", "b", float("nan")]}).to_parquet("data.parquet")
    with pytest.raises(
        InvalidRecordError,
        match=exactly(
            "data.parquet:2: prompt must be a string, got null", "data.parquet:3: response must be a string, got null"
        ),
    ):
        read_dataset("data.parquet")
    pd.DataFrame({"prompt": ["q"], "response": [1.5]}).to_parquet("nums.parquet")
    with pytest.raises(InvalidRecordError, match=exactly("nums.parquet:1: response must be a string, got number")):
        read_dataset("nums.parquet")


def test_corrupt_parquet():
    with pytest.raises(InvalidRecordError, match=r"^data\.parquet: cannot read Parquet: "):
        read_dataset(write("data.parquet", b"PAR1 not really"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[{"a": 1},\n  {"b": }]', "data.json: invalid JSON: a value is missing before the '}' at line 2 column 9"),
        ('{"data": [1]}\n', None),
        ('"text"', "data.json: must hold a JSON array of records (or one JSON object per line)"),
        (b'[{"a": "\xff"}]', "data.json: not valid UTF-8: byte 0xff at byte offset 8 (line 1)"),
        ('[1, {"prompt": "q", "response": "a"}]', "data.json:1: record must be a JSON object, got integer"),
    ],
)
def test_bad_json_file(content, expected):
    path = write("data.json", content)
    with pytest.raises(
        InvalidRecordError, match=exactly(expected) if expected else r"^data\.json: cannot tell the record format"
    ):
        read_dataset(path)


def test_missing_file_directory_and_unknown_extension(tmp_path):
    with pytest.raises(InputFileError, match=exactly("nope.jsonl: file not found")):
        read_dataset("nope.jsonl")
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(InputFileError, match=r"^dir.jsonl: a folder with no data files \(expected \.jsonl"):
        read_dataset("dir.jsonl")  # a folder is read as shards; an empty one has none
    write("data.txt", GOOD)
    with pytest.raises(
        InputFileError,
        match=exactly(
            "data.txt: unknown file type '.txt'; expected one of .jsonl, .ndjson, .json, .csv, .parquet"
            " (optionally compressed: .gz, .bz2, .xz, .zst)"
        ),
    ):
        read_dataset("data.txt")
    assert issubclass(InputFileError, CurationError)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"fmt": "csv"}, "format 'csv' is not one of chat, alpaca, sharegpt, prompt-response"),
        (
            {"fmt": "chat", "prompt_col": "q"},
            "prompt_col / response_col apply to the prompt-response format, not 'chat'",
        ),
        ({"prompt_col": ""}, "prompt_col must be a non-empty column name, got ''"),
        ({"prompt_col": "x", "response_col": "x"}, "prompt_col and response_col are both 'x'"),
    ],
)
def test_bad_options(kwargs, expected):
    with pytest.raises(ConfigError, match=exactly(expected)):
        read_dataset(write("data.jsonl", GOOD), **kwargs)


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
