"""JSON syntax errors read as a person would write them, still naming file, line and column."""

from __future__ import annotations

import json

import pytest

from curation.errors import InvalidRecordError
from curation.ingest import read_dataset
from curation.json_errors import explain_json_error

GOOD = '{"prompt": "What is 2 + 2?", "response": "4"}'


def explained(text: str, *, with_line: bool = False) -> str:
    with pytest.raises(json.JSONDecodeError) as info:
        json.loads(text)
    return explain_json_error(info.value, with_line=with_line)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"prompt": "q", "response": "a"', "the object is not closed: a '}' is missing at the end of the line"),
        (
            '{"messages": [{"role": "user", "content": "q"}',
            "the list is not closed: a ']' is missing at the end of the line",
        ),
        ('{"prompt": "q" "response": "a"}', "a ',' or '}' is missing after the value, before column 16"),
        (
            '{"prompt": "say "hi"", "response": "a"}',
            "a ',' or '}' is missing after the value, before column 18 (a '\"' inside the text must be written \\\")",
        ),
        ('{"a": [1, 2}', "a ']' is missing before the '}' at column 12"),
        ('{"a" 1}', "a ':' is missing after the key, before column 6"),
        (
            '{"prompt": "q", "response": "a",}',
            "trailing comma: the ',' before the '}' at column 33 has nothing after it",
        ),
        ('{"a": [1, 2,]}', "trailing comma: the ',' before the ']' at column 13 has nothing after it"),
        ("foo bar", "the line starts with 'foo'"),
        ("// a comment", "the line starts with '//'"),
        ("{prompt: 'q'}", "a key must be a string in double quotes, got 'prompt' at column 2"),
        ("{'prompt': 'q'}", "text must be in double quotes, not single quotes, at column 2"),
        ('{"a": }', "a value is missing before the '}' at column 7"),
        (
            '{"a": True}',
            "not a JSON value at column 7: 'True' (text needs double quotes; true, false and null are lower case)",
        ),
        ('{"prompt": "q', "unterminated string starting at column 12: its closing '\"' is missing"),
        ('{"a": 1}}', "more text after the record ends, at column 9: '}'"),
        ('{"a": 1} {"b": 2}', "more text after the record ends, at column 10: '{' (one record per line)"),
        ('{"a": "x\ty"}', "a raw control character inside a string at column 9: write it as \\t"),
        ('{"a": "C:\\dir"}', "invalid escape '\\d' at column 10 (write a backslash as \\\\)"),
        ('{"a": "\\u12"}', "invalid \\u escape at column 9: it needs four hex digits"),
        ('{"a": 1, "b":', "the object is not closed: the line ends where a value should come"),
        ('{"a": 1,', "the object is not closed: the line ends where a key should come"),
        ('{"a": "b}]", "c": [1', "the list is not closed: a ']' is missing at the end of the line"),
    ],
)
def test_a_broken_line_is_explained_in_plain_words(line, expected):
    assert explained(line) == expected


def test_a_json_file_names_line_and_column_and_says_file():
    assert explained('[{"a": 1},\n {"b": 2,]', with_line=True) == (
        "trailing comma: the ',' before the ']' at line 2 column 10 has nothing after it"
    )
    assert explained('[{"a": 1},\n {"b": 2}', with_line=True) == (
        "the list is not closed: a ']' is missing at the end of the file"
    )


def test_the_problem_names_file_and_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.jsonl").write_text(f"{GOOD}\n{GOOD[:-1]}\n{GOOD}\n", encoding="utf-8")
    with pytest.raises(
        InvalidRecordError,
        match=r"^data\.jsonl:2: invalid JSON: the object is not closed: "
        r"a '\}' is missing at the end of the line$",
    ):
        read_dataset("data.jsonl")


def test_quoted_data_cannot_drive_a_terminal():
    assert explained("\x1b[2J{}") == "the line starts with '\\x1b'"
    assert explained('{"a": "\\\x1b"}') == "invalid escape '\\\\x1b' at column 8 (write a backslash as \\\\)"
