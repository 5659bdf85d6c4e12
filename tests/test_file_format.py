"""Reading dataset files: the first pass that decides a file's record format and prompt-response columns."""

from __future__ import annotations

import pytest

from curation.errors import InvalidRecordError
from curation.ingest import read_dataset
from curation.records import Message
from tests.support.ingest_files import ALPACA, chat, exactly, jsonl, write
from tests.support.ingest_files import in_tmp as in_tmp  # autouse: each test runs in its tmp_path


def test_csv_named_columns_and_alpaca_columns():
    path = write("data.csv", "q,a,note\nhi,hello,n\n")
    ds = read_dataset(path, prompt_col="q", response_col="a")
    assert ds.options["prompt_col"] == "q" and ds.examples[0].response == "hello"
    path = write("alpaca.csv", "instruction,input,output\nAdd.,,4\n")
    ds = read_dataset(path)
    assert ds.format == "alpaca" and ds.examples[0].prompt == (Message("user", "Add."),)


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
