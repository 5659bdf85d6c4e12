"""OpenAI's Batch API (``llm.batch``): calls sent as batch files, waited for, their results cached.

Through the real ``openai`` package against the loopback server's ``/v1/files`` and
``/v1/batches``, which answers each line with its normal reply (the scripted arithmetic model
for whole runs). A batch run must decide exactly as a normal run, make no normal chat call but
for the lines a batch failed, and a run killed while it waits must poll the same batches on the
rerun: no batch is sent twice.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import duckdb
import pytest

from benchmarks.support.fake_http import BAD_REQUEST
from benchmarks.support.fake_openai import FakeOpenAIServer
from curation import cli
from curation.config import Config
from curation.errors import BudgetExceededError, ConfigError, LLMError
from curation.estimate import estimate_run
from curation.ingest import import_file
from curation.llm import batch, make_client
from curation.llm.base import ChatRequest, MemoryCache
from curation.pipeline import run_pipeline
from curation.records import messages_of
from curation.store import Store
from tests.support.scripted import ARITHMETIC, JUDGE, ArithmeticModel, kind_of, openai_overrides, write_records
from tests.test_kill_resume import RECORDS, curate, new_store, run_args, state

KEY_ENV = "CLEAR_TEST_BATCH_KEY"
SLOW_STEPS = ("validating", "in_progress", "in_progress", "completed")


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-test-batch")


def settings(server: FakeOpenAIServer, **more) -> Config:
    return Config().with_overrides(openai_overrides(server.base_url, KEY_ENV, **{"llm.batch_poll_s": 0.01, **more}))


def batch_client(server: FakeOpenAIServer, store: Store, **more):
    return make_client(settings(server, **{"llm.batch": True, **more}).llm, store)


def asks(*texts: str, **kwargs) -> list[ChatRequest]:
    return [ChatRequest(messages=messages_of([("user", t)]), **kwargs) for t in texts]


def texts(outcomes) -> list[list[str]]:
    return [[r.text for r in o] for o in outcomes]


def echo(request: dict) -> str:
    return f"{request['messages'][-1]['content']} seed {request['seed']}"


# -- the client -----------------------------------------------------------------------------------
def test_a_batch_answers_every_call_as_a_normal_call_would(tmp_path):
    requests = asks("a", "b") + asks("c", temperature=1.0, n=3)
    with FakeOpenAIServer(reply=echo) as server, Store(tmp_path / "b.duckdb") as store:
        client = batch_client(server, store)
        got = client.complete_many(requests)
        assert server.count() == 0  # not one normal chat call
        assert len(server.batches.created) == 1 and client.snapshot()["batched"] == 5
        (row,) = store.llm_batches()
        assert (row["status"], row["n_lines"], row["n_failed"]) == ("collected", 3, 0)  # c's 3 samples: one line
        normal = make_client(settings(server).llm, MemoryCache())
        assert texts(got) == texts(normal.complete_many(requests))
        assert texts(got)[2] == ["c seed 0", "c seed 0", "c seed 0"]  # one line for n = 3, seeded as a call
        keys = [r.sample(i).cache_key("openai", "fake-model") for r in requests for i in range(r.n)]
        assert len(store.cache_get_many(keys)) == 5  # cached under a normal call's keys

        assert texts(client.complete_many(requests)) == texts(got)  # all cached: nothing sent
        assert len(server.batches.created) == 1 and server.count() == 3  # the normal client's calls alone


def test_failed_lines_are_made_as_normal_calls_and_never_batched_again(tmp_path):
    fails = lambda body: body["messages"][-1]["content"] == "b"  # noqa: E731
    server = FakeOpenAIServer(reply=echo, fail_batch_line=fails, faults=[BAD_REQUEST])  # b's first call: 400
    with server, Store(tmp_path / "b.duckdb") as store:
        got = batch_client(server, store).complete_many(asks("a", "b", "c"))
        assert texts([got[0], got[2]]) == [["a seed 0"], ["c seed 0"]]
        assert isinstance(got[1], LLMError) and server.count() == 1  # b as a normal call, refused
        assert store.llm_batches()[0]["n_failed"] == 1

        again = batch_client(server, store).complete_many(asks("b", "d"))
        assert texts(again) == [["b seed 0"], ["d seed 0"]]
        assert server.count() == 2 and server.requests[-1]["messages"][-1]["content"] == "b"  # a call again
        assert [b["n_lines"] for b in store.llm_batches()] == [3, 1]  # d alone was batched


def test_a_wait_cut_short_is_resumed_on_the_same_batch(tmp_path):
    with FakeOpenAIServer(reply=echo, batch_steps=SLOW_STEPS) as server, Store(tmp_path / "b.duckdb") as store:
        client = batch_client(server, store)

        def killed(done: int, total: int) -> None:
            raise KeyboardInterrupt("killed while waiting")

        client.batches.on_wait = lambda: killed
        with pytest.raises(KeyboardInterrupt, match="killed while waiting"):
            client.complete_many(asks("a", "b"))
        (open_id,) = store.open_llm_batches("openai", "fake-model", server.base_url)
        assert open_id == server.batches.created[0] and store.cache_size() == 0

        again = batch_client(server, store)
        assert texts(again.complete_many(asks("a", "b"))) == [["a seed 0"], ["b seed 0"]]
        assert server.batches.created == [open_id] and server.count() == 0  # polled, not sent again
        assert server.batches.polls[open_id] == len(SLOW_STEPS) - 1
        assert again.snapshot()["batched"] == 2


def test_files_are_cut_at_the_line_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "MAX_LINES", 2)
    with FakeOpenAIServer(reply=echo) as server, Store(tmp_path / "b.duckdb") as store:
        got = batch_client(server, store).complete_many(asks(*"abcde"))
        assert texts(got) == [[f"{t} seed 0"] for t in "abcde"]
        assert len(server.batches.created) == 3 and server.count() == 0
        assert [b["n_lines"] for b in store.llm_batches()] == [2, 2, 1]


def test_a_sample_asked_twice_is_one_line(tmp_path):
    requests = asks("a", "a") + asks("b", temperature=1.0, n=2) + asks("b", temperature=1.0, n=3)
    with FakeOpenAIServer(reply=echo) as server, Store(tmp_path / "b.duckdb") as store:
        got = batch_client(server, store).complete_many(requests)
        assert texts(got) == [["a seed 0"], ["a seed 0"], ["b seed 0"] * 2, ["b seed 0", "b seed 0", "b seed 2"]]
        assert store.llm_batches()[0]["n_lines"] == 3 and server.count() == 0  # a; b 0-1; b 2


def test_a_batch_the_provider_lost_is_sent_again(tmp_path):
    (request,) = asks("a")
    with FakeOpenAIServer(reply=echo) as server, Store(tmp_path / "b.duckdb") as store:
        store.add_llm_batch(
            batch_id="batch_gone",
            backend="openai",
            model="fake-model",
            base_url=server.base_url,
            input_file_id="file-gone",
            status="in_progress",
            lines={request.cache_key("openai", "fake-model"): request.to_json()},
        )
        assert texts(batch_client(server, store).complete_many([request])) == [["a seed 0"]]
        assert [(b["batch_id"], b["status"]) for b in store.llm_batches()] == [
            ("batch_gone", "lost"),
            (server.batches.created[0], "collected"),
        ]


def test_the_budget_counts_batch_prices_and_cuts_the_batch(tmp_path):
    # $1 a token at full price. Each line can cost at most 2/3 + 8 prompt tokens and 4
    # completion tokens at half price: $6.33, so a $15 budget sends two of the four lines.
    prices = {"llm.price_prompt_per_m": 1e6, "llm.price_completion_per_m": 1e6, "llm.budget_usd": 15.0}
    with FakeOpenAIServer(reply="ok") as server, Store(tmp_path / "b.duckdb") as store:
        client = batch_client(server, store, **prices)
        got = client.complete_many(asks("q0", "q1", "q2", "q3", max_tokens=4))
        assert texts(got[:2]) == [["ok"], ["ok"]]
        assert all(isinstance(o, BudgetExceededError) for o in got[2:])
        assert store.llm_batches()[0]["n_lines"] == 2 and server.count() == 0
        # Each answered line: 1 prompt + 1 completion token (the server counts words), at half price.
        assert client.snapshot()["cost_usd"] == pytest.approx(2 * 2 * 0.5)


def test_the_estimate_uses_batch_prices(store, tmp_path):
    path = tmp_path / "arith.jsonl"
    write_records(path, ARITHMETIC)
    import_file(store, path, name="arith")
    with FakeOpenAIServer() as server:
        prices = {"llm.price_prompt_per_m": 2.0, "llm.price_completion_per_m": 8.0}
        normal = estimate_run(store, "arith", settings(server, **prices))
        batched = estimate_run(store, "arith", settings(server, **prices, **{"llm.batch": True}))
    assert batched.calls == normal.calls and normal.cost_usd > 0
    assert batched.cost_usd == pytest.approx(normal.cost_usd / 2)
    assert "Batch API" in batched.basis


def test_batch_mode_is_refused_with_the_embedded_backend_or_without_a_store(tmp_path, capsys):
    with pytest.raises(
        ConfigError, match=r"llm.batch = True is not allowed; expected false with llm.backend = 'embedded'"
    ):
        Config().with_overrides({"llm.batch": True})
    assert cli.main(["score", "--store", str(tmp_path / "s.duckdb"), "--batch"]) == cli.EXIT_USER_ERROR
    assert "llm.batch = True is not allowed" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"llm.batch = True is not allowed; expected false with engine.kind = 'ray'"):
        Config().with_overrides({"llm.backend": "openai", "llm.batch": True, "engine.kind": "ray"})
    with FakeOpenAIServer() as server, pytest.raises(ConfigError, match="llm.batch needs the project store"):
        make_client(settings(server, **{"llm.batch": True}).llm, MemoryCache())


def test_migration_gives_the_batch_tables_exact_columns(tmp_path):
    Store(tmp_path / "s.duckdb").close()
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    sql = "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position"
    columns = {
        table: [row[0] for row in con.execute(sql, [table]).fetchall()] for table in ("llm_batches", "llm_batch_lines")
    }
    con.close()
    assert columns == {
        "llm_batches": [
            "batch_id",
            "backend",
            "model",
            "base_url",
            "input_file_id",
            "status",
            "n_lines",
            "n_failed",
            "failed",
            "created_at",
            "updated_at",
        ],
        "llm_batch_lines": ["batch_id", "custom_id", "request"],
    }


# -- whole runs -------------------------------------------------------------------------------------
def test_a_batch_run_decides_as_a_normal_run_and_retries_failed_lines_as_calls(tmp_path):
    path = tmp_path / "arith.jsonl"
    write_records(path, ARITHMETIC)
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        outcomes = {}
        for mode in ("normal", "batch"):
            server.batches.fail_line = lambda body: kind_of(body) == JUDGE  # every judge line fails
            with Store(tmp_path / f"{mode}.duckdb") as store:
                import_file(store, path, name="arith")
                before, stages = len(server.requests), []
                config = settings(server, **{"llm.batch": mode == "batch"})
                summary = run_pipeline(store, "arith", config, on_progress=lambda p, seen=stages: seen.append(p.stage))
                asked = list(server.requests)[before:]
                outcomes[mode] = (state_of(store), summary, asked, stages)
    (normal, _, normal_asked, normal_stages), (batched, summary, batch_asked, stages) = outcomes.values()
    assert batched == normal and normal[1]  # the same scores, flags and proposals
    judges = [b for b in normal_asked if kind_of(b) == JUDGE]
    assert sorted(map(json.dumps, batch_asked)) == sorted(map(json.dumps, judges))  # the failed lines, as calls
    assert "batch" in stages and "batch" not in normal_stages
    assert summary.stats["batched"] == sum(b.get("n") or 1 for b in normal_asked if kind_of(b) != JUDGE)


def state_of(store: Store) -> tuple:
    info = store.dataset("arith")
    key = store.active_score_key(info.dataset_id)
    scores = {
        r["example_id"]: (r["status"], r["confidence"], r["reflection"]) for r in store.scores(info.dataset_id, key)
    }
    proposals = {
        i: (p["status"], p["candidate"], p["judge_confidence"]) for i, p in store.proposals(info.dataset_id).items()
    }
    return scores, sorted(store.flagged_ids(info.dataset_id)), proposals


def test_a_killed_batch_run_polls_the_same_batches_and_sends_none_again(tmp_path):
    data = tmp_path / "arith.jsonl"
    write_records(data, RECORDS)
    fast = tmp_path / "batch.toml"
    fast.write_text("[llm]\nbatch_poll_s = 0.02\n", encoding="utf-8")
    with FakeOpenAIServer(reply=ArithmeticModel(), batch_steps=SLOW_STEPS) as server:
        batches = server.batches

        def run(path: Path, *flags: str, kill=None) -> int:
            proc = curate(*run_args(path, server), *flags, cwd=tmp_path)

            def poll(batch_id: str, number: int) -> None:
                if kill is not None and kill(batch_id, number):
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=30)

            batches.on_poll = poll
            _, err = proc.communicate(timeout=120)
            batches.on_poll = None
            assert proc.returncode in (0, -signal.SIGKILL), err
            return proc.returncode

        normal = new_store(tmp_path / "normal.duckdb", data)
        assert run(normal) == 0
        fresh = new_store(tmp_path / "fresh.duckdb", data)
        sent, calls = len(batches.created), server.count()
        assert run(fresh, "--batch", "--config", str(fast)) == 0
        per_run = len(batches.created) - sent  # cheap tier, sampled tier, candidates, judges
        assert per_run == 4 and server.count() == calls  # no normal call

        path = new_store(tmp_path / "killed.duckdb", data)
        sent = len(batches.created)
        # 1. killed while waiting for its first batch (the cheap tier's), at its second poll
        first = lambda batch_id, n: batch_id == batches.created[sent] and n == 2  # noqa: E731
        assert run(path, "--batch", "--config", str(fast), kill=first) == -signal.SIGKILL
        with Store(path) as store:
            assert [b["status"] for b in store.llm_batches()] == ["in_progress"]
            ds = store.dataset("arith").dataset_id
            assert not store.scored_ids(ds, store.active_score_key(ds))  # the cheap tier waits for its batch
        # 2. the rerun polls it; killed again while waiting for its last batch (the judges')
        last = lambda batch_id, n: len(batches.created) == sent + per_run and batch_id == batches.created[-1]  # noqa: E731
        assert run(path, "--batch", "--config", str(fast), kill=last) == -signal.SIGKILL
        # 3. resumed to the end
        assert run(path, "--batch", "--config", str(fast)) == 0

    assert len(batches.created) - sent == per_run  # resubmissions: 0
    assert server.count() == calls  # still no normal call
    with Store(path) as store:
        assert {b["status"] for b in store.llm_batches()} == {"collected"}
    assert state(path) == state(normal) == state(fresh)
