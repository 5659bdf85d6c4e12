"""The fine-tuning hand-off: the rules with their file:line:field problems, the estimate, and
start -> status -> succeeded (or refused) against the loopback server, from the library and `curate`."""

from __future__ import annotations

import json
import shlex

import duckdb
import pytest

from benchmarks.support.fake_finetune import REJECT_MARKER
from benchmarks.support.fake_openai import FakeOpenAIServer
from curation import finetune
from curation.cli import build_parser, main
from curation.cli_pipeline import config_from_flags
from curation.config import Config, LLMConfig
from curation.errors import ConfigError, InvalidRecordError, LLMError
from curation.finetune.rules import auto_epochs
from curation.store import Store

BASE = "gpt-4o-mini-2024-07-18"
KEY_ENV = "CLEAR_TEST_FT_KEY"


def chat(user: str = "abcd", answer: str = "abcdefgh", **extra) -> dict:
    """One example: user 4 chars -> 1 token + 3, assistant 8 chars -> 2 + 3, example + 3: 12 tokens."""
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}], **extra}


def write(path, records) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return str(path)


@pytest.fixture
def project(tmp_path, monkeypatch, capsys):
    """A store with a 12-example chat dataset imported, and an API key in the environment."""
    monkeypatch.setenv(KEY_ENV, "sk-test-ft-SECRET")
    data = write(tmp_path / "qa.jsonl", [chat(f"question {i}", f"answer {i}", id=f"q{i}") for i in range(12)])
    store = str(tmp_path / "project.duckdb")
    assert main(["import", data, "--store", store]) == 0
    capsys.readouterr()
    return store


def record_run(store_path: str, base_url: str) -> None:
    """A finished run on the loopback endpoint: the settings the hand-off reuses."""
    config = Config(llm=LLMConfig(backend="openai", model="fake-model", base_url=base_url, api_key_env=KEY_ENV))
    with Store(store_path) as store:
        store.start_run(
            run_id="r1",
            dataset_id=store.dataset("qa").dataset_id,
            stage="correct",
            backend="openai",
            model="fake-model",
            config=config.to_dict(),
            score_key=None,
            n_examples=12,
        )


# -- the rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, expected",
    [
        (
            {"messages": [{"role": "bot", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
            'f.jsonl:11: messages[0].role must be one of system, user, assistant, tool, got "bot"',
        ),
        (
            {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}]},
            "f.jsonl:11: messages[1].content is empty: the assistant turn teaches nothing",
        ),
        (
            {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None}]},
            "f.jsonl:11: messages[1].content must be a string, got null",
        ),
        (
            {"messages": [{"role": "user", "content": "hi"}]},
            "f.jsonl:11: messages has no assistant turn: there is nothing to learn",
        ),
        (
            {"messages": [{"role": "user", "content": "hi", "mood": 1}, {"role": "assistant", "content": "yo"}]},
            "f.jsonl:11: messages[0].mood is not a message field of the chat shape",
        ),
        ({"messages": []}, "f.jsonl:11: messages is empty: there is nothing to learn"),
        ({"messages": "hi"}, "f.jsonl:11: messages must be a list of turns, got string"),
        ([1, 2], "f.jsonl:11: must be a JSON object, got array"),
        ('{"messages": [', "f.jsonl:11: is not JSON: "),
        ("", "f.jsonl:11: is empty; every line must hold one example"),
    ],
)
def test_each_problem_names_file_line_and_field(tmp_path, monkeypatch, line, expected):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "f.jsonl", [chat()] * 10 + [line])
    report = finetune.validate("f.jsonl", base_model=BASE)
    assert not report.ok
    assert [str(p) for p in report.problems][0].startswith(expected)


def test_an_assistant_turn_that_only_calls_a_tool_is_fine(tmp_path):
    call = {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function"}]}
    record = {
        "messages": [{"role": "user", "content": "hi"}, call, {"role": "tool", "content": "4", "tool_call_id": "c"}]
    }
    assert finetune.check_record(record)[0] == []


def test_too_few_examples(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "f.jsonl", [chat()] * 9)
    (problem,) = finetune.validate("f.jsonl").problems
    assert str(problem) == "f.jsonl: has 9 example(s); openai needs at least 10"


def test_another_shape_is_named_once_with_how_to_export_chat(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "f.jsonl", [{"instruction": "a", "input": "", "output": "b"}] * 12)
    (problem,) = finetune.validate("f.jsonl").problems
    assert str(problem).startswith("f.jsonl:1: messages is missing: the file is in the alpaca shape")
    assert "curate export --format chat" in str(problem)


def test_estimate_worked_by_hand(tmp_path):
    report = finetune.validate(write(tmp_path / "f.jsonl", [chat()] * 10), base_model=BASE)
    assert report.ok and report.examples == 10
    # 12 tokens an example; 10 examples -> OpenAI's auto: 10 epochs (to see 100 examples); $3 per 1M.
    assert (report.tokens, report.epochs, report.trained_tokens) == (120, 10, 1200)
    assert report.cost_usd == pytest.approx(1200 * 3.00 / 1e6)
    assert report.estimate() == (
        "10 examples, ~120 tokens x 10 epochs = ~1,200 trained tokens, ~$0.0036 at $3 per 1M tokens"
    )
    priced = finetune.validate(tmp_path / "f.jsonl", base_model="someone/else", epochs=2, price_per_m=10.0)
    assert (priced.trained_tokens, priced.cost_usd) == (240, pytest.approx(240 * 10 / 1e6))
    unknown = finetune.validate(tmp_path / "f.jsonl", base_model="someone/else")
    assert unknown.cost_usd is None and "cost unknown" in unknown.estimate()


def test_long_examples_and_extra_fields_are_warnings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "f.jsonl", [chat(id=i) for i in range(10)] + [chat(answer="x" * 400)])
    report = finetune.validate("f.jsonl", max_example_tokens=50)
    assert report.ok
    assert [str(w) for w in report.warnings] == [
        "f.jsonl:1: id is not a field of the chat shape; OpenAI may refuse it (on 10 lines)",
        "f.jsonl:11: holds ~110 tokens, over the 50 an example may hold; truncated",
    ]
    assert report.tokens == 10 * 12 + 50  # the long one is billed up to the limit


@pytest.mark.parametrize("examples, epochs", [(1, 25), (10, 10), (33, 4), (34, 3), (9000, 2), (100_000, 1)])
def test_auto_epochs(examples, epochs):
    assert auto_epochs(examples) == epochs


def test_bad_options_are_config_errors(tmp_path):
    path = write(tmp_path / "f.jsonl", [chat()] * 10)
    with pytest.raises(ConfigError, match="provider 'mistral' is not one of openai"):
        finetune.validate(path, "mistral")
    with pytest.raises(ConfigError, match="epochs must be 1 to 25, got 0"):
        finetune.validate(path, epochs=0)


# -- the store ------------------------------------------------------------------------------


def test_migration_gives_the_jobs_table_exact_columns(tmp_path):
    Store(tmp_path / "s.duckdb").close()
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    columns = [
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            ["finetune_jobs"],
        ).fetchall()
    ]
    con.close()
    assert columns == [
        "job_id",
        "dataset_id",
        "provider",
        "base_model",
        "base_url",
        "file_id",
        "export_path",
        "status",
        "fine_tuned_model",
        "error",
        "created_at",
        "updated_at",
    ]


# -- the hand-off against the loopback server ---------------------------------------------------


def test_dry_run_of_a_file_needs_no_store(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "f.jsonl", [chat()] * 10)
    assert main(["finetune", "--model", BASE, "--file", "f.jsonl", "--dry-run"]) == 0
    assert capsys.readouterr().out == (
        "estimate: 10 examples, ~120 tokens x 10 epochs = ~1,200 trained tokens, ~$0.0036 at $3 per 1M tokens\n"
    )
    assert not (tmp_path / "curation.duckdb").exists()


def test_an_invalid_file_is_refused_with_exit_2_and_nothing_sent(project, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "bad.jsonl", [chat()] * 10 + [{"messages": [{"role": "user", "content": "hi"}]}])
    with FakeOpenAIServer() as server:
        code = main(
            ["finetune", "--store", project, "--model", BASE, "--file", "bad.jsonl", "--base-url", server.base_url]
        )
        assert server.fine_tuning.files == {}
    err = capsys.readouterr().err
    assert code == 2
    assert "bad.jsonl:11: messages has no assistant turn: there is nothing to learn" in err
    assert "bad.jsonl: breaks openai's fine-tuning rules; nothing was uploaded" in err


def test_start_status_succeeded_and_the_correct_command(project, capsys):
    with FakeOpenAIServer(fine_tune_steps=("validating_files", "queued", "running", "succeeded")) as server:
        url = server.base_url
        record_run(project, url)
        assert main(["finetune", "--store", project, "--model", BASE]) == 0
        out = capsys.readouterr().out
        assert "exported 'qa' in the chat shape to " in out and "12 examples" in out
        assert (
            "started fine-tuning job ftjob-fake2 on gpt-4o-mini-2024-07-18 (file file-fake1, status validating_files)"
            in out
        )
        (uploaded,) = server.fine_tuning.files.values()
        assert len(uploaded.decode().splitlines()) == 12

        statuses = []
        for _ in range(3):
            assert main(["finetune", "--status", "--store", project]) == 0
            out = capsys.readouterr().out
            statuses.append(out.splitlines()[1].split()[2])
        assert statuses == ["queued", "running", "succeeded"]
        model = "ft:gpt-4o-mini-2024-07-18:fake::fake2"
        assert out.splitlines()[1].split()[3] == model
        (line,) = [x for x in out.splitlines() if "close the loop:" in x]
        command = line.split("close the loop: ", 1)[1]
        assert command == shlex.join(
            ["curate", "correct", "--store", project, "--dataset", "qa", "--candidate-backend", "openai"]
            + ["--candidate-model", model, "--candidate-base-url", server.base_url]
        )
        polls = server.fine_tuning.polls
        assert main(["finetune", "--status", "--store", project]) == 0  # a finished job is not asked again
        assert server.fine_tuning.polls == polls

    with Store(project) as store:
        (job,) = store.finetune_jobs(store.dataset("qa").dataset_id)
        assert (job["status"], job["fine_tuned_model"], job["base_url"]) == ("succeeded", model, url)
        last_run = store.last_run_config(store.dataset("qa").dataset_id)
    # The printed command is accepted by `curate correct` and puts the fine-tuned model to work.
    args = build_parser().parse_args(shlex.split(command)[1:])
    candidate = config_from_flags(args, last_run).correct.candidate_llm(config_from_flags(args, last_run).llm)
    assert (candidate.backend, candidate.model, candidate.base_url) == ("openai", model, url)


def test_a_rejected_file_is_reported_and_nothing_recorded(project, capsys):
    with FakeOpenAIServer(reject_fine_tuning=True) as server:
        record_run(project, server.base_url)
        code = main(["finetune", "--store", project, "--model", BASE])
    err = capsys.readouterr().err
    assert code == 2
    assert "refused (400): Invalid file format. Example 1:" in err
    assert "[invalid_training_file]; no job was started" in err
    assert "sk-test-ft-SECRET" not in err
    with Store(project) as store:
        assert store.finetune_jobs(store.dataset("qa").dataset_id) == []
    assert main(["finetune", "--status", "--store", project]) == 0
    assert "no fine-tuning jobs yet" in capsys.readouterr().out


def test_a_file_refused_by_its_content_raises_from_the_library(project, tmp_path):
    path = write(tmp_path / "marked.jsonl", [chat()] * 9 + [chat(answer=REJECT_MARKER)])
    with FakeOpenAIServer() as server, Store(project) as store:
        llm = LLMConfig(backend="openai", model="m", base_url=server.base_url)
        with pytest.raises(LLMError, match=r"marked\.jsonl \(uploaded as file-fake1\) refused \(400\)"):
            finetune.start(path, BASE, store=store, llm=llm, environ={})
        assert finetune.status(store, llm=llm) == []


def test_an_invalid_file_raises_before_anything_is_sent(project, tmp_path):
    path = write(tmp_path / "few.jsonl", [chat()] * 3)
    with FakeOpenAIServer() as server, Store(project) as store:
        llm = LLMConfig(backend="openai", model="m", base_url=server.base_url)
        with pytest.raises(InvalidRecordError, match="few.jsonl: has 3 example"):
            finetune.start(path, BASE, store=store, llm=llm, environ={})
        assert server.fine_tuning.files == {}


def test_a_job_that_fails_records_the_reason(project, capsys):
    with FakeOpenAIServer(fine_tune_steps=("queued", "failed")) as server:
        record_run(project, server.base_url)
        assert main(["finetune", "--store", project, "--model", BASE]) == 0
        assert main(["finetune", "--status", "--store", project]) == 0
    out = capsys.readouterr().out
    assert "  error: Invalid file format. Example 1: the file was refused by the fake server" in out
    assert "close the loop" not in out


def test_an_unreachable_endpoint_keeps_the_recorded_state(project, tmp_path):
    path = write(tmp_path / "ok.jsonl", [chat()] * 10)
    with Store(project) as store:
        with FakeOpenAIServer() as server:
            llm = LLMConfig(backend="openai", model="m", base_url=server.base_url, timeout_s=2)
            job = finetune.start(path, BASE, store=store, llm=llm, environ={})
        (seen,) = finetune.status(store, llm=llm, environ={})
        assert (seen.job_id, seen.status) == (job.job_id, "queued")
        assert "cannot reach the endpoint" in seen.unreachable
