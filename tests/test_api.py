"""The Python API (``curation.api``): the README's examples run as written, tables are checked as
files are, and import → run → results → export goes through the functions the CLI calls.

Runs go to the loopback OpenAI-compatible server answered by the scripted arithmetic model
(``tests/support/scripted.py``), every example sampled (``scoring.tiers = full``) where a test
needs to know which are flagged; one run with the small embedded model closes the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.support.fake_openai import FakeOpenAIServer
from curation.api import RESULT_COLUMNS, Project, run_config
from curation.config import Config
from curation.errors import ConfigError, CurationError, InvalidRecordError
from curation.review import decide
from tests.support.scripted import ARITHMETIC, WRONG, ArithmeticModel, openai_overrides, write_records

README = Path(__file__).resolve().parent.parent / "README.md"
README_URL = "http://127.0.0.1:8000/v1"
KEY_ENV = "CLEAR_TEST_API_KEY"


def readme_blocks() -> list[str]:
    """The ``python`` code blocks of the README's "Python API" section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def arithmetic_frame() -> pd.DataFrame:
    return pd.DataFrame(ARITHMETIC, columns=["id", "prompt", "response"])


def endpoint(server: FakeOpenAIServer, **more) -> dict:
    return {"scoring.tiers": "full", **openai_overrides(server.base_url, KEY_ENV, **more)}


@pytest.fixture
def project(tmp_path):
    with Project.open(tmp_path / "project.duckdb") as p:
        yield p


def test_the_readme_examples_run_as_written(tmp_path, monkeypatch):
    blocks = readme_blocks()
    assert len(blocks) == 2 and README_URL in blocks[0]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # the loopback server needs none
    namespace: dict = {}
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        for block in blocks:
            exec(compile(block.replace(README_URL, server.base_url), "README.md", "exec"), namespace)
    table = namespace["table"]
    assert list(table.columns[: len(RESULT_COLUMNS)]) == list(RESULT_COLUMNS)
    assert len(table) == 3 and table["confidence"].between(0, 1).all()
    assert namespace["summary"].scored == 3 and server.requests
    assert (tmp_path / "sums.curated.jsonl").is_file() and (tmp_path / "capitals").is_dir()
    with Project.open(tmp_path / "curation.duckdb") as p:
        assert p.datasets() == ["sums", "capitals", "capitals-from-disk"]
        assert p.status("capitals-from-disk")["examples"] == 1


def test_a_bad_dataframe_row_is_named_by_row_and_column_and_nothing_is_imported(project):
    frame = pd.DataFrame({"prompt": ["What is 1 + 1?", "What is 2 + 2?", "What is 3 + 3?"], "response": ["2", 4, None]})
    with pytest.raises(InvalidRecordError, match=r"^DataFrame:2: response must be a string, got integer\n") as e:
        project.import_records(frame, name="sums")
    assert [str(p) for p in e.value.problems][1] == "DataFrame:3: response is missing"
    assert project.datasets() == []


def test_skip_invalid_keeps_the_good_rows_and_the_rejected_row(project):
    frame = pd.DataFrame({"prompt": ["What is 1 + 1?", "What is 2 + 2?"], "response": ["2", 4]})
    result = project.import_records(frame, name="sums", skip_invalid=True)
    assert result.dataset.n_examples == 1 and result.dataset.file_type == "dataframe"
    assert [r.problem.line for r in result.rejected] == [2]


def test_dataframe_cells_from_parquet_are_plain_values(project):
    """``pd.read_parquet`` gives numpy arrays of dicts and numpy integers; an empty id cell is no id."""

    def turns(question: str, answer: str) -> np.ndarray:
        return np.array([{"role": "user", "content": question}, {"role": "assistant", "content": answer}])

    frame = pd.DataFrame(
        {"id": pd.array([7, None], dtype="Int64"), "messages": [turns("Hi?", "Hello."), turns("1+1?", "2")]}
    )
    info = project.import_records(frame, name="chat").dataset
    assert info.format == "chat" and info.n_examples == 2
    ids = project.results("chat")["id"].tolist()
    assert ids[0] == "7" and len(ids[1]) == 16  # the content hash, as for a JSON line without an id


def test_a_list_of_dicts_and_a_file_path_import_too(project, tmp_path):
    project.import_records([{"question": "What is 1 + 1?", "answer": "2"}], name="qa")
    path = tmp_path / "arith.jsonl"
    write_records(path)
    assert project.import_records(str(path)).dataset.name == "arith"
    assert project.datasets() == ["qa", "arith"]
    assert project.results("qa")["response"].tolist() == ["2"]


@pytest.mark.parametrize(
    ("data", "name", "error", "match"),
    [
        (pd.DataFrame({"prompt": ["a"], "response": ["b"]}), None, ConfigError, r"name is required for a DataFrame"),
        ({"prompt": "a"}, "x", CurationError, r"expected a pandas DataFrame, a datasets.Dataset or a list of dicts"),
        ([], "x", InvalidRecordError, r"^list: has no rows$"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "x", InvalidRecordError, r"column 'a' appears more than once"),
    ],
)
def test_what_cannot_be_imported_says_why(project, data, name, error, match):
    with pytest.raises(error, match=match):
        project.import_records(data, name=name)


def test_results_before_any_run_hold_the_examples_only(project):
    project.import_records(arithmetic_frame(), name="arith")
    table = project.results()
    assert list(table.columns) == list(RESULT_COLUMNS)
    assert table["id"].tolist() == [row[0] for row in ARITHMETIC]
    assert table["prompt"][0] == "User: What is 3 + 4?"
    assert table["confidence"].isna().all() and not table["flagged"].any()
    assert table["in_force"].tolist() == table["response"].tolist()


def test_run_results_decisions_and_export(project, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-test")
    project.import_records(arithmetic_frame(), name="arith")
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        summary = project.run("arith", settings=endpoint(server))
    assert summary.scored == 8 and summary.flagged == 2 and summary.proposed == 2
    table = project.results("arith").set_index("id")
    flagged = table[table["flagged"]]
    assert sorted(flagged.index) == sorted(WRONG)
    assert flagged["proposal"].to_dict() == WRONG and flagged["p_better"].between(0.5, 1).all()
    assert (flagged["confidence"] < table[~table["flagged"]]["confidence"].min()).all()
    assert table["tier"].eq("sampled").all() and "consistency_score" in table.columns
    assert table[[c for c in table.columns if c.endswith("_score")]].stack().between(0, 1).all()

    info = project.store.dataset("arith")
    decide(project.store, info.dataset_id, "q1", "remove", annotator="ana")
    table = project.results("arith").set_index("id")
    assert (table.loc["q1", "decision"], table.loc["q1", "decided_by"]) == ("remove", "ana")

    result = project.export("arith", tmp_path / "curated.jsonl", fmt="chat", undecided="keep")
    written = [json.loads(line) for line in result.path.read_text().splitlines()]
    assert result.counts["removed"] == 1 and len(written) == 7
    by_question = {r["messages"][0]["content"]: r["messages"][1]["content"] for r in written}
    for example_id, question, _ in ARITHMETIC:
        if example_id in WRONG and table.loc[example_id, "auto_applied"]:
            assert by_question[question] == WRONG[example_id]


def test_run_config_is_picked_as_curate_run_picks_it(project, tmp_path, monkeypatch):
    """The config given, else the last run's settings, else the defaults; settings on top."""
    monkeypatch.setenv(KEY_ENV, "sk-test")
    project.import_records(arithmetic_frame(), name="arith")
    assert run_config(project.store, "arith") == Config()
    assert run_config(project.store, "arith", settings={"scoring.k": 3}).scoring.k == 3
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        project.run("arith", settings=endpoint(server), stages=("score",))
        last = run_config(project.store, "arith", settings={"filter.gamma": 0.4})
        assert (last.llm.base_url, last.filter.gamma) == (server.base_url, 0.4)
        assert project.run("arith", stages=("filter",)).flagged == 2  # the last run's endpoint and key
    toml = tmp_path / "run.toml"
    toml.write_text("[scoring]\nk = 4\n")
    from_file = run_config(project.store, "arith", config=toml)
    assert (from_file.scoring.k, from_file.llm) == (4, Config().llm)  # a file replaces the last run's
    assert run_config(project.store, "arith", config=Config(), settings={"scoring.k": 2}).scoring.k == 2
    with pytest.raises(ConfigError, match=r"scoring"):
        run_config(project.store, "arith", settings={"scoring.nope": 1})


@pytest.mark.model
def test_end_to_end_with_the_small_embedded_model(project, tmp_path):
    """Settings alone pick the model: the same file and settings as ``small_backend``, so the
    process's one loaded engine is shared."""
    frame = pd.DataFrame(
        {
            "prompt": ["What is 2 + 2?", "What colour is the sky on a clear day?", "What is the capital of France?"],
            "response": ["4", "Green.", "Paris"],
        }
    )
    project.import_records(frame, name="tiny")
    settings = {
        "llm.model": "smollm2-135m",
        "llm.n_ctx": 1024,
        "scoring.k": 2,
        "scoring.max_tokens": 16,
        "scoring.reflection_prompts": 1,
        "scoring.reflection_max_tokens": 4,
        "correct.max_tokens": 16,
        "correct.judge_max_tokens": 4,
    }
    summary = project.run("tiny", settings=settings)
    assert summary.stopped is None and summary.scored + summary.failed == 3
    table = project.results("tiny")
    assert table["confidence"].dropna().between(0, 1).all() and table["confidence"].notna().any()
    result = project.export("tiny", tmp_path / "tiny.jsonl", undecided="keep")
    assert result.counts["total"] == 3 and result.path.is_file()
