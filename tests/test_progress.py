"""The terminal progress of a run: one bar per named phase with done / total, rate and time
left, and the `curate run` summary pointing at the review."""

from __future__ import annotations

import io

from benchmarks.support.fake_openai import FakeOpenAIServer
from curation.cli import main
from curation.phases import Progress
from curation.progress import ProgressBar, postfix
from tests.support.scripted import ArithmeticModel, write_records

KEY_ENV = "CLEAR_TEST_CLI_PROGRESS_KEY"
STATS = {"calls": 12, "cache_hits": 3, "prompt_tokens": 900, "completion_tokens": 100, "cost_usd": 0.0123}


def test_postfix_says_rate_time_left_and_counts():
    measuring = Progress("score", 0, 40, 0, {}, rate=None, eta_s=None)
    assert postfix(measuring) == "– examples/s, time left: measuring, calls 0, hits 0, tokens 0, failed 0"
    going = Progress("score", 12, 40, 1, STATS, rate=0.2, eta_s=140.0)
    assert postfix(going, price_known=True) == (
        "12.0 examples/min, about 2 min left, calls 12, hits 3, tokens 1,000, failed 1, $0.0123"
    )
    loaded = Progress("load", 471, 471, 0, {}, rate=500.0, eta_s=0.0, elapsed_s=0.9, unit="MB")
    assert postfix(loaded) == "done in 1 s"


def test_each_phase_gets_its_own_named_bar():
    out = io.StringIO()
    with ProgressBar(stream=out) as bar:
        bar.update(Progress("load", 0, 471, 0, {}, unit="MB"))
        bar.update(Progress("load", 471, 471, 0, {}, rate=500.0, eta_s=0.0, elapsed_s=0.9, unit="MB"))
        bar.update(Progress("score", 0, 4, 0, {}))
        bar.update(Progress("score", 2, 4, 0, STATS, rate=0.5, eta_s=4.0))
    text = out.getvalue()
    assert "loading the model: 100%" in text and "471/471 MB, done in 1 s" in text
    assert "scoring (cheap signals):  50%" in text
    assert "2/4 examples, 30.0 examples/min, about 4 s left, calls 12" in text


def test_curate_run_prints_the_phases_and_the_way_to_the_review(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-test")
    data, store = tmp_path / "arith.jsonl", str(tmp_path / "s.duckdb")
    write_records(data)
    assert main(["import", str(data), "--store", store]) == 0
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        code = main(
            [
                "run",
                "--store",
                store,
                "--backend",
                "openai",
                "--model",
                "fake-model",
                "--base-url",
                server.base_url,
                "--api-key-env",
                KEY_ENV,
            ]
        )
    assert code == 0
    said = capsys.readouterr()
    assert "s an example by default (no run of these settings measured yet)" in said.err  # the estimate
    assert "scoring (cheap signals): 100%" in said.err and "8/8 examples, done in" in said.err
    assert "sampling the uncertain (samples and self-reflection): 100%" in said.err and "2/2 examples" in said.err
    assert "estimate by tier: cheap tier: 8 examples, 8 calls" in said.err
    assert "correcting: 100%" in said.err and "2/2 examples" in said.err
    assert f"review the 2 flagged example(s): curate app --store {store}" in said.out
