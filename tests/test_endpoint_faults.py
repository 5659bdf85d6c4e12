"""A whole run against an endpoint that fails one call in five, in every way it can.

40 arithmetic examples (8 wrong) go through score → filter → correct on the loopback server,
answered by the scripted model, with 20 % of calls failing: 429 with a ``Retry-After``,
500, a stall past the client's timeout, a body that is not JSON, and 200 replies with no
choices or no content. One call in flight at a time, so the seeded faults land on the same
calls every run.

With ``llm.max_attempts = 2`` some calls fail twice: the run must still finish, each example
must be scored or marked failed with its reason, and a later ``curate run`` must ask for
exactly what is missing (the failed rows' calls, none of the ok rows'). With the default
number of attempts, everything ends up scored and corrected.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from benchmarks.support.fake_http import EMPTY_CHOICES, MALFORMED, NULL_CONTENT, RATE_LIMIT, SERVER_ERROR, TIMEOUT
from benchmarks.support.fake_openai import FakeOpenAIServer
from curation.cli import main
from curation.config import Config, LLMConfig
from curation.ingest import import_file
from curation.pipeline import run_pipeline
from curation.score import score_key
from curation.store import Store
from tests.support.scripted import ArithmeticModel, openai_overrides, question_of, write_records
from tests.test_kill_resume import sample_keys, saved_samples

KEY_ENV = "CLEAR_TEST_FAULTS_KEY"
FAULTS = (RATE_LIMIT, SERVER_ERROR, TIMEOUT, MALFORMED, EMPTY_CHOICES, NULL_CONTENT)
RECORDS = tuple((f"f{i:02d}", f"What is {i} + {i + 20}?", str(2 * i + 20 + (i % 5 == 4))) for i in range(40))
WRONG = {i for i, _, r in RECORDS if int(r) % 2}  # the right sums are all even
QUESTION = {i: q for i, q, _ in RECORDS}
#: What a failed row's error must say: the attempts, then the endpoint's reason.
REASON = re.compile(
    r"failed after 2 attempts: openai backend, model 'fake-model': .*"
    r"(rate limited|internal error|timed out|malformed reply)",
    re.DOTALL,
)


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-test-faults")


def faulty(**more) -> FakeOpenAIServer:
    return FakeOpenAIServer(
        reply=ArithmeticModel(),
        fault_rate=0.2,
        fault_kinds=FAULTS,
        seed=3,
        retry_after="0.01",
        timeout_sleep_s=1.5,
        **more,
    )


def config(server, **more) -> Config:
    """Every example sampled (``scoring.tiers = full``), so a right sum scores exactly 1."""
    return Config().with_overrides(
        openai_overrides(
            server.base_url,
            KEY_ENV,
            **{"scoring.tiers": "full", "llm.concurrency": 1, "llm.timeout_s": 0.3, "correct.few_shot": 0, **more},
        )
    )


def project(tmp_path, name: str) -> Store:
    path = tmp_path / f"{name}.jsonl"
    write_records(path, RECORDS)
    store = Store(tmp_path / f"{name}.duckdb")
    import_file(store, path, name="arith")
    return store


def outcome(store: Store, cfg: Config) -> tuple[dict, dict]:
    info = store.dataset("arith")
    scores = {r["example_id"]: r for r in store.scores(info.dataset_id, score_key(cfg))}
    return scores, store.proposals(info.dataset_id)


def samples(bodies) -> Counter:
    return Counter(s for b in bodies for s in sample_keys(b))


def test_failed_calls_fail_their_rows_and_a_rerun_asks_only_for_what_is_missing(tmp_path):
    with faulty() as server:
        # the reference: the calls a run makes when nothing fails
        server.fault_rate = 0.0
        with project(tmp_path, "fresh") as fresh:
            run_pipeline(fresh, "arith", config(server))
            reference = outcome(fresh, config(server))
        needed = samples(server.requests)
        assert max(needed.values()) == 1
        server.fault_rate, before = 0.2, len(server.requests)

        store = project(tmp_path, "faulty")
        cfg = config(server)
        summary = run_pipeline(store, "arith", cfg)
        assert summary.stopped is None
        served = Counter(server.counts)
        assert all(served[kind] for kind in FAULTS), served  # every kind of fault was met
        assert summary.stats["retries"] > 0 and summary.stats["failures"] > 0

        scores, proposals = outcome(store, cfg)
        assert set(scores) == set(QUESTION)  # every example has a row: scored or failed
        failed = {i for i, r in scores.items() if r["status"] == "failed"}
        assert failed and len(failed) == summary.failed
        for i, r in scores.items():
            if r["status"] == "failed":
                assert r["confidence"] is None and REASON.search(r["error"]), r["error"]
            else:
                assert r["status"] == "ok" and r["error"] is None
                assert r["confidence"] == (0.0 if i in WRONG else 1.0)
        for i, p in proposals.items():
            assert i in WRONG
            assert p["status"] in ("ok", "failed")
            if p["status"] == "failed":
                assert REASON.search(p["error"]), p["error"]
                failed.add(i)
            else:
                assert p["error"] is None and p["candidate"] == str(2 * int(i[1:]) + 20)
        store.close()

        # a later `curate run` on a healthy endpoint asks for what is missing, and only that
        saved = saved_samples(tmp_path / "faulty.duckdb")
        assert saved < set(needed)
        server.fault_rate, before = 0.0, len(server.requests)
        assert (
            main(
                [
                    "run",
                    "--store",
                    str(tmp_path / "faulty.duckdb"),
                    "--backend",
                    "openai",
                    "--base-url",
                    server.base_url,
                    "--api-key-env",
                    KEY_ENV,
                    "--model",
                    "fake-model",
                ]
            )
            == 0
        )
        retried = list(server.requests)[before:]

    asked = samples(retried)
    assert max(asked.values()) == 1 and set(asked) == set(needed) - saved
    assert {question_of(b["messages"][-1]["content"]) for b in retried} <= {QUESTION[i] for i in failed}
    with Store(tmp_path / "faulty.duckdb") as store:
        scores, proposals = outcome(store, cfg)
        assert {i: r["status"] for i, r in scores.items()} == {i: "ok" for i in QUESTION}
        assert ({i: r["confidence"] for i, r in scores.items()}, proposals.keys()) == (
            {i: r["confidence"] for i, r in reference[0].items()},
            reference[1].keys(),
        )
        assert {i: (p["status"], p["candidate"], p["auto_applied"]) for i, p in proposals.items()} == {
            i: ("ok", str(2 * int(i[1:]) + 20), True) for i in WRONG
        }


def test_with_the_default_attempts_every_example_ends_up_ok(tmp_path):
    with faulty() as server, project(tmp_path, "faulty") as store:
        cfg = config(server, **{"llm.max_attempts": LLMConfig().max_attempts})
        summary = run_pipeline(store, "arith", cfg)
        assert summary.stopped is None and summary.failed == 0
        assert summary.stats["retries"] > 0 and summary.stats["failures"] == 0
        assert server.count() > server.count("ok")  # faults were served
        scores, proposals = outcome(store, cfg)
        assert {i: (r["status"], r["confidence"]) for i, r in scores.items()} == {
            i: ("ok", 0.0 if i in WRONG else 1.0) for i in QUESTION
        }
        assert {i: (p["status"], p["candidate"], p["auto_applied"]) for i, p in proposals.items()} == {
            i: ("ok", str(2 * int(i[1:]) + 20), True) for i in WRONG
        }
