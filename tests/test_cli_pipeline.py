"""`curate score / filter / correct / run` against the loopback OpenAI-compatible server,
answered by the scripted arithmetic model (see ``tests/test_pipeline.py`` for the counts)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.support.fake_openai import FakeOpenAIServer
from curation.cli import main
from tests.support.scripted import WRONG, ArithmeticModel, write_records

KEY_ENV = "CLEAR_TEST_CLI_KEY"
SECRET = "sk-test-SECRET-123"
ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(
    r"^arith: scored (\d+), failed (\d+), flagged (\d+), proposed (\d+), auto-applied (\d+); "
    r"(\d+) calls, (\d+) cache hits, [\d,]+ tokens, \$\d+\.\d{4}$"
)


@pytest.fixture
def project(tmp_path, monkeypatch, capsys):
    """A store with the arithmetic set imported, and the API key in the environment."""
    monkeypatch.setenv(KEY_ENV, SECRET)
    data = tmp_path / "arith.jsonl"
    write_records(data)
    store = str(tmp_path / "project.duckdb")
    assert main(["import", str(data), "--store", store]) == 0
    assert capsys.readouterr().out.startswith("imported 8 examples into dataset 'arith'")
    return store


def endpoint(store, server):
    """The flags for the loopback server, every example sampled (the hand counts of
    tests/test_pipeline.py; the cascade's are in tests/test_cascade.py)."""
    return [
        "--tiers",
        "full",
        "--store",
        store,
        "--backend",
        "openai",
        "--base-url",
        server.base_url,
        "--api-key-env",
        KEY_ENV,
        "--model",
        "fake-model",
        "--prompt-logprobs",
        "off",
    ]


def summary_of(out: str) -> tuple[int, ...]:
    """The counts of the summary line; the only other line a run prints is how to review its flags."""
    lines = out.strip().splitlines()
    review = [line for line in lines[1:] if line.startswith("review the ")]
    assert len(lines) == 1 + len(review) and len(review) <= 1, out
    m = SUMMARY.match(lines[0])
    assert m, lines[0]
    return tuple(int(x) for x in m.groups())


def status(store, capsys) -> dict:
    assert main(["status", "--json", "--store", store]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["datasets"]
    return entry


def test_run_then_refilter_without_a_request(project, capsys):
    # q1 gets "not sure" reflections: confidence 0.85, flagged only once γ reaches it
    with FakeOpenAIServer(reply=ArithmeticModel(unsure=("What is 3 + 4?",))) as server:
        assert main(["run", *endpoint(project, server)]) == 0
        out, err = capsys.readouterr()
        # 8 hits: the sampled tier reads each first reflection back from the cheap tier's
        assert summary_of(out) == (8, 0, 2, 2, 2, 30, 8)
        assert "estimate: 8 examples to score" in err
        assert server.count() == 30
        entry = status(project, capsys)
        assert {k: entry[k] for k in ("examples", "scored", "failed", "flagged", "proposed", "auto_applied")} == {
            "examples": 8,
            "scored": 8,
            "failed": 0,
            "flagged": 2,
            "proposed": 2,
            "auto_applied": 2,
        }

        assert main(["filter", "--gamma", "0.9", *endpoint(project, server)]) == 0
        assert summary_of(capsys.readouterr().out)[2] == 3
        assert status(project, capsys)["flagged"] == 3
        assert main(["run", "--gamma", "0.5", *endpoint(project, server)]) == 0  # γ back to 0.5: all cached
        assert summary_of(capsys.readouterr().out) == (0, 0, 2, 0, 2, 0, 0)
        assert server.count() == 30


def test_stages_one_command_at_a_time(project, capsys, tmp_path):
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        assert main(["score", *endpoint(project, server)]) == 0
        assert summary_of(capsys.readouterr().out)[:3] == (8, 0, 0)
        assert server.count() == 24
        assert main(["correct", *endpoint(project, server)]) == 0  # nothing flagged yet
        assert summary_of(capsys.readouterr().out)[3] == 0 and server.count() == 24
        assert main(["filter", *endpoint(project, server)]) == 0
        assert summary_of(capsys.readouterr().out)[2] == 2 and server.count() == 24
        assert main(["correct", "--no-auto-apply", *endpoint(project, server)]) == 0
        assert summary_of(capsys.readouterr().out)[3:5] == (2, 0)
        assert main(["correct", "--auto-apply", *endpoint(project, server)]) == 0  # re-decided, nothing asked again
        assert summary_of(capsys.readouterr().out)[3:5] == (0, 2)
        assert server.count() == 30
    out = tmp_path / "curated.jsonl"
    assert main(["export", "--out", str(out), "--store", project]) == 0
    capsys.readouterr()
    responses = {r["id"]: r["response"] for r in map(json.loads, out.read_text().splitlines())}
    assert {i: responses[i] for i in WRONG} == WRONG


def test_budget_stop_exits_3_and_says_how_to_resume(project, capsys):
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        code = main(
            ["run", "--budget", "0.5", "--price-prompt", "10000", "--concurrency", "1", *endpoint(project, server)]
        )
        out, err = capsys.readouterr()
        assert code == 3
        assert "stopped early (budget); run the same command again to resume" in err
        assert server.count() == 1
        assert main(["run", "--budget", "1000", *endpoint(project, server)]) == 0  # other settings kept
        # the one call paid for was the first example's cheap tier: it is kept, 7 are left
        assert summary_of(capsys.readouterr().out)[:5] == (7, 0, 2, 2, 2)
        assert server.count() == 30


def test_a_score_stage_that_fails_most_examples_warns_and_exits_4(project, capsys):
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        server.fault_rate, server.fault_kinds = 1.0, ("bad_request",)
        assert main(["score", *endpoint(project, server)]) == 4
        out, err = capsys.readouterr()
    assert "WARNING: Scoring failed on 8 of 8 examples tried; first error:" in err


def test_a_stage_that_fails_most_examples_warns_and_exits_4(project, capsys):
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        assert main(["score", *endpoint(project, server)]) == 0 and main(["filter", *endpoint(project, server)]) == 0
        capsys.readouterr()
        server.fault_rate, server.fault_kinds = 1.0, ("bad_request",)
        assert main(["correct", *endpoint(project, server)]) == 4
        out, err = capsys.readouterr()
    assert "WARNING: Auto-Correct failed on 2 of 2 flagged examples; first error:" in err
    assert "correct: not a closed set" in err  # the dataset's shape, and why it falls back
    assert status(project, capsys)["flagged"] == 2


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "nope"], "no dataset named 'nope' (datasets: arith)"),
        (["--alpha", "2"], "config: scoring.alpha = 2.0 is not allowed; expected a number in [0, 1]"),
        (["--gamma", "-0.1"], "config: filter.gamma = -0.1 is not allowed; expected a number in [0, 1]"),
        (["--k", "-1"], "config: scoring.k = -1 is not allowed; expected an integer >= 0"),
    ],
)
def test_user_errors_exit_2_with_one_line(project, capsys, args, message):
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        assert main(["run", *args, *endpoint(project, server)]) == 2
        assert message in one_line_error(capsys.readouterr().err)
        assert server.count() == 0


def test_filter_reuses_the_last_settings_and_refuses_others(project, capsys):
    with FakeOpenAIServer(reply=ArithmeticModel(unsure=("What is 3 + 4?",))) as server:
        assert main(["run", *endpoint(project, server)]) == 0
        capsys.readouterr()
    # no endpoint flags: the dataset's last settings are used, and the filter needs no server
    assert main(["filter", "--gamma", "0.9", "--store", project]) == 0
    assert summary_of(capsys.readouterr().out)[2] == 3
    assert main(["filter", "--backend", "embedded", "--model", "smollm2-135m", "--store", project]) == 2
    assert "was scored with other settings" in one_line_error(capsys.readouterr().err)
    assert status(project, capsys)["flagged"] == 3


def test_bad_config_value_in_a_subprocess(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "curation.cli", "run", "--alpha", "2", "--store", str(tmp_path / "s.duckdb")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2
    assert one_line_error(done.stderr) == (
        "error: config: scoring.alpha = 2.0 is not allowed; expected a number in [0, 1]"
    )
