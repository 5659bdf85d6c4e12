"""Reading dataset files: every kind of bad input, each problem named ``file:line`` with its whole message.

The format and column problems of a file's first pass are in ``tests/test_file_format.py``.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from curation.errors import ConfigError, CurationError, InvalidRecordError
from curation.ingest import InputFileError, read_dataset
from tests.support.ingest_files import ALPACA, GOOD, exactly, write
from tests.support.ingest_files import in_tmp as in_tmp  # autouse: each test runs in its tmp_path


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
