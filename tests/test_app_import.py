"""The Import page (AppTest): preview, column mapping, validation problems, import."""

from __future__ import annotations

import json

import pytest

from curation.store import Store
from tests.browser.apptest import app, texts, use_store


@pytest.fixture
def store_file(tmp_path, monkeypatch):
    return use_store(monkeypatch, tmp_path / "store.duckdb")


def jsonl(records) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


GOOD = [{"instruction": f"Add {i} and {i}.", "output": str(2 * i)} for i in range(5)]
BAD = [GOOD[0], {"instruction": "No output here."}, GOOD[2], {"instruction": 7, "output": "x"}, GOOD[4]]


def uploaded(store_file, name: str, data: bytes):
    at = app("import").run()
    at.file_uploader(key="import_upload").upload(name, data).run()
    assert not at.exception, at.exception
    return at


def key_of(at, prefix: str) -> str:
    return next(k for k in at.session_state if str(k).startswith(prefix))


def datasets(store_file) -> list:
    with Store(store_file) as store:
        return store.datasets()


def test_upload_shows_format_and_preview_then_imports(store_file):
    at = uploaded(store_file, "adds.jsonl", jsonl(GOOD))
    assert "5 records · file type jsonl · format alpaca" in texts(at, "text")
    preview = at.dataframe[0].value
    assert list(preview["prompt"]) == [f"User: Add {i} and {i}." for i in range(5)]
    assert list(preview["response"]) == ["0", "2", "4", "6", "8"]
    assert at.text_input(key=key_of(at, "import_name:")).value == "adds"
    at.button(key="import_go").click().run()
    assert not at.exception
    [info] = datasets(store_file)
    assert (info.name, info.n_examples, info.format) == ("adds", 5, "alpaca")
    assert any("Imported 5 examples into 'adds'" in t for t in texts(at, "success"))
    assert at.session_state["dataset_name"] == "adds"


def skip_box(at):
    return at.checkbox(key=key_of(at, "import_skip:"))


def test_bad_file_lists_problems_and_import_waits_for_the_skip(store_file):
    at = uploaded(store_file, "bad.jsonl", jsonl(BAD))
    problems = at.dataframe[-1].value
    assert list(problems["where"]) == ["bad.jsonl:2", "bad.jsonl:4"]
    assert list(problems["field"]) == ["output", "instruction"]
    assert any("2 of 5 lines have problems" in t for t in texts(at, "error"))
    assert at.code[0].value == (
        "bad.jsonl:2: output is missing\nbad.jsonl:4: instruction must be a string, got integer"
    )
    assert at.button(key="import_go").disabled
    assert skip_box(at).label == "Skip the 2 bad lines" and not skip_box(at).value
    assert datasets(store_file) == []


def test_skip_invalid_imports_the_valid_records(store_file):
    at = uploaded(store_file, "bad.jsonl", jsonl(BAD))
    skip_box(at).check().run()
    assert not at.button(key="import_go").disabled
    at.button(key="import_go").click().run()
    [info] = datasets(store_file)
    assert (info.n_examples, info.n_rejected) == (3, 2)
    assert any("2 invalid record(s) skipped" in t for t in texts(at, "success"))


def test_a_json_syntax_error_reads_in_plain_words(store_file):
    at = uploaded(store_file, "cut.jsonl", jsonl(GOOD[:2]) + b'{"instruction": "Add 2 and 2.", "output": "4"\n')
    assert at.code[0].value == (
        "cut.jsonl:3: invalid JSON: the object is not closed: a '}' is missing at the end of the line"
    )
    assert skip_box(at).label == "Skip the 1 bad line" and at.button(key="import_go").disabled


def test_a_file_with_no_good_record_cannot_be_imported(store_file):
    at = uploaded(store_file, "broken.json", b'[{"instruction": "q", "output": "a"},]')
    assert any("Nothing can be imported" in t for t in texts(at, "error"))
    assert "trailing comma" in at.code[0].value and "broken.json:" in at.code[0].value
    assert not [k for k in at.session_state if str(k).startswith("import_skip:")]
    assert at.button(key="import_go").disabled


def test_flat_file_columns_can_be_mapped(store_file):
    csv = b"id,question,reply,note\n1,Capital of France?,Paris,x\n2,2+2?,4,y\n"
    at = uploaded(store_file, "qa.csv", csv)
    prompt = at.selectbox(key=key_of(at, "import_prompt_col:"))
    response = at.selectbox(key=key_of(at, "import_response_col:"))
    assert prompt.label == "prompt column" and prompt.options == ["id", "question", "reply", "note"]
    assert (prompt.value, response.value) == ("id", "question")  # no known pair: the first two columns
    prompt.select("question").run()
    at.selectbox(key=key_of(at, "import_response_col:")).select("reply").run()
    assert not at.exception
    assert list(at.dataframe[0].value["response"]) == ["Paris", "4"]
    at.button(key="import_go").click().run()
    [info] = datasets(store_file)
    assert info.options["prompt_col"] == "question" and info.options["response_col"] == "reply"


def test_format_override_is_applied(store_file):
    at = uploaded(store_file, "adds.jsonl", jsonl(GOOD))
    at.selectbox(key=key_of(at, "import_format:")).select("chat").run()
    assert not at.exception
    assert at.dataframe[-1].value["problem"].str.contains("looks like alpaca but the file is chat").all()


def test_a_sample_dataset_can_be_imported(store_file):
    at = app("import").run()
    at.radio(key="import_source").set_value("Sample dataset").run()
    at.selectbox(key="import_sample").select("math_word_problems.json").run()
    assert "150 records · file type json · format sharegpt" in texts(at, "text")
    at.button(key="import_go").click().run()
    [info] = datasets(store_file)
    assert (info.name, info.n_examples) == ("math_word_problems", 150)


def test_a_missing_local_file_is_an_error_not_a_crash(store_file, tmp_path):
    at = app("import").run()
    at.radio(key="import_source").set_value("A file on this machine").run()
    at.text_input(key="import_path").input(str(tmp_path / "nope.jsonl")).run()
    assert not at.exception
    assert any("nope.jsonl" in t for t in texts(at, "error"))
    assert at.button(key="import_go").disabled


def test_a_taken_name_is_refused(store_file):
    at = uploaded(store_file, "adds.jsonl", jsonl(GOOD))
    at.button(key="import_go").click().run()
    at.button(key="import_go").click().run()
    assert any("exists already" in t for t in texts(at, "error"))
    assert len(datasets(store_file)) == 1
