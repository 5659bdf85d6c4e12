"""The Ray engine (curation.engines.ray_engine) against the local one, a killed Ray run, and
the missing extra.

One local 2-CPU Ray instance serves the module (its start is the slow part). The embedded
comparison scores the same tiny dataset with the small test model on both engines: the same
calls, and the same scores within :data:`TOLERANCE`. The killed run is `curate run --engine
ray` in a subprocess, connected to that instance, against the loopback server answered by the
scripted arithmetic model, SIGKILLed by the server when a chosen request arrives (as in
tests/test_kill_resume.py), then run again.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.support.fake_openai import FakeOpenAIServer
from curation.cli import main
from curation.config import Config, EngineConfig, LLMConfig
from curation.engines import make_engine
from curation.engines.ray_engine import balanced_size, driver_client
from curation.errors import ConfigError
from curation.ingest import import_file
from curation.llm import make_client
from curation.score import SCORE_PHASES, finalize, score_dataset, score_key
from curation.store import Store
from tests.support.scripted import write_records
from tests.test_kill_resume import (
    RECORDS,
    WRONG,
    KillingModel,
    attempt,
    is_reflection_of,
    new_store,
    sample_keys,
    saved_samples,
    state,
)

#: Scores on the two engines may differ by this much. The embedded model's replies depend on its
#: prompt-prefix cache (a prompt evaluated in other chunks rounds otherwise): each Ray worker keeps
#: its model and cache across phases as the local engine does, but holds only the prefixes of its
#: own share of the batches. A long sample at temperature 1 may part after some tokens; its answer,
#: the likelihoods, the reflections and the tiers stay the same (benchmarks/scale_ray.py measures
#: the default model: confidence within 0.02 on 40 examples).
TOLERANCE = 0.05
SMALL = LLMConfig(model="smollm2-135m", n_ctx=1024)


@pytest.fixture(scope="module")
def ray_address():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def ray_config(address: str, llm: LLMConfig = SMALL) -> Config:
    return Config(llm=llm, engine=EngineConfig(kind="ray", ray_address=address, actors=2, cpus_per_actor=1))


def scored(path: Path, config: Config) -> tuple[dict, dict[str, float]]:
    """Score the tiny dataset at ``path`` phase by phase; its score rows by example id, and the LLM
    stats. The local model starts with an empty prompt cache, as the Ray workers do (this process's
    model served earlier tests)."""
    with Store(path) as store:
        client = driver_client(config.llm, store) if config.engine.kind == "ray" else make_client(config.llm, store)
        if config.engine.kind != "ray":
            client.backend._engine.call(client.backend._engine.clear)
        engine, info, result = make_engine(config.engine), store.dataset("arith"), None
        for phase in SCORE_PHASES:
            result = score_dataset(
                store, info, config, client, run_id=phase, phases=(phase,), result=result, engine=engine
            )
            finalize(store, info, config)
        rows = {r["example_id"]: r for r in store.scores(info.dataset_id, score_key(config))}
        return rows, client.snapshot()


def assert_close(a, b) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_close(a[key], b[key])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_close(x, y)
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, abs_tol=TOLERANCE), (a, b)
    else:
        assert a == b


@pytest.mark.model
def test_ray_engine_scores_as_the_local_engine(tmp_path, ray_address):
    data = tmp_path / "arith.jsonl"
    write_records(data, RECORDS[:6])
    local, ray = new_store(tmp_path / "local.duckdb", data), new_store(tmp_path / "ray.duckdb", data)
    local_rows, local_stats = scored(local, Config(llm=SMALL))
    ray_rows, ray_stats = scored(ray, ray_config(ray_address))
    assert local_rows.keys() == ray_rows.keys() and len(ray_rows) == 6
    for example_id, row in local_rows.items():
        other = ray_rows[example_id]
        for column in ("status", "confidence", "consistency", "reflection", "signals", "fired"):
            assert_close(row[column], other[column])
        mine, theirs = row["explanation"], other["explanation"]
        assert_close(mine["reflections"], theirs["reflections"])
        assert mine["tier"] == theirs["tier"]
        assert [s["match"] for s in mine["samples"]] == [s["match"] for s in theirs["samples"]]
    # the same calls: the sampled tier took the cheap tier's likelihoods from the cache on the actors too
    for name in ("calls", "cache_hits", "prompt_tokens"):  # completion tokens: a parted sample
        assert ray_stats[name] == local_stats[name], name


def quiet(server: FakeOpenAIServer, *, for_s: float = 2.0, at_most_s: float = 60.0) -> None:
    """Wait until the killed run's actors have stopped asking (Ray ends a dead driver's actors)."""
    deadline, seen, since = time.monotonic() + at_most_s, len(server.requests), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < for_s:
        time.sleep(0.2)
        if len(server.requests) != seen:
            seen, since = len(server.requests), time.monotonic()


def test_killed_ray_run_resumes_without_redoing_a_finished_example_or_a_paid_call(tmp_path, ray_address):
    data = tmp_path / "arith.jsonl"
    write_records(data, RECORDS)
    killer = KillingModel()
    engine = ["--engine", "ray", "--ray-address", ray_address]
    with FakeOpenAIServer(reply=killer, latency_s=0.02) as server:
        fresh = new_store(tmp_path / "fresh.duckdb", data)  # the reference: the local engine, uninterrupted
        code, fresh_bodies, err = attempt(server, killer, fresh, tmp_path)
        assert code == 0, err

        path = new_store(tmp_path / "killed.duckdb", data)
        code, sent, _ = attempt(server, killer, path, tmp_path, when=is_reflection_of(RECORDS[14][1]), extra=engine)
        assert code == -signal.SIGKILL and killer.killed
        quiet(server)
        saved = saved_samples(path)
        with Store(path) as store:
            ds = store.dataset("arith").dataset_id
            finished = {r["example_id"] for r in store.scores(ds, store.active_score_key(ds))}
        assert 1 <= len(finished) < len(RECORDS)  # batches came back and were committed before the kill

        code, resumed, err = attempt(server, killer, path, tmp_path, extra=engine)
        assert code == 0, err

    asked_again = [s for b in resumed for s in sample_keys(b) if s in saved]
    assert asked_again == []  # no call the store had kept is paid for again
    questions = {i: q for i, q, _ in RECORDS}
    again = [i for i in finished if any(is_reflection_of(questions[i])(b) for b in resumed)]
    assert all(i in WRONG for i in again)  # a finished example is asked about again only when sampled
    fresh_samples = Counter(s for b in fresh_bodies for s in sample_keys(b))
    assert {s for b in sent + resumed for s in sample_keys(b)} == set(fresh_samples)  # the same calls, no others
    assert state(path) == state(fresh)  # the same decisions as the local engine's


def test_ray_engine_without_ray_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if not installed
    with pytest.raises(ConfigError, match=r'pip install -e "\.\[ray\]"'):
        make_engine(EngineConfig(kind="ray"))
    data = tmp_path / "arith.jsonl"
    write_records(data, RECORDS[:2])
    with Store(tmp_path / "s.duckdb") as store:
        import_file(store, data, name="arith")
    assert main(["run", "--store", str(tmp_path / "s.duckdb"), "--engine", "ray"]) == 2
    assert 'pip install -e ".[ray]"' in capsys.readouterr().err


@pytest.mark.parametrize(
    ("most", "items", "workers", "size"),
    [
        (24, 40, 2, 20),  # 2 batches of 20, not 24 and 16
        (4, 12, 2, 3),  # 4 batches of 3, not 3 batches of 4 on 2 workers
        (24, 1000, 8, 21),  # 48 batches: 6 for each of 8 workers
        (24, 0, 2, 24),  # the count unknown: as many as a worker takes
        (24, 20, 2, 24),  # one batch holds them: decoded together, as the local engine does
    ],
)
def test_batches_come_in_a_number_every_worker_gets_alike(most, items, workers, size):
    assert balanced_size(most, items, workers) == size
    batches = math.ceil(items / size) if items else 0
    assert size <= most and (items <= most or batches % workers == 0)
