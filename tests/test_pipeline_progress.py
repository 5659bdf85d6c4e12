"""Honest progress: the estimate timed from runs measured in the store (or a default when none
is), and the phase reports a run sends (model loading, scoring, correcting with rate and ETA).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from benchmarks.support.fake_openai import FakeOpenAIServer
from curation import estimate, pipeline
from curation.config import Config
from curation.estimate import estimate_run, measured_seconds, tier_plan_text
from curation.ingest import import_file
from curation.phases import Progress
from curation.pipeline import run_pipeline
from curation.score import score_key
from tests.support.scripted import ARITHMETIC, ArithmeticModel, openai_overrides, write_records

KEY_ENV = "CLEAR_TEST_PROGRESS_KEY"
CONFIG = (
    Config()
)  # embedded, the cascade: 1 call (likelihood) for all, 5 samples + 2 reflections + contrast = 8 for the sampled


def timing(seconds, n_done, *, dataset_id=1, key="k", calls=10, cache_hits=0):
    return {
        "seconds": seconds,
        "n_done": n_done,
        "dataset_id": dataset_id,
        "score_key": key,
        "calls": calls,
        "cache_hits": cache_hits,
    }


# -- measured_seconds (pure) ------------------------------------------------------------------
def test_nothing_measured_with_these_settings_is_none():
    assert measured_seconds([], dataset_id=1, score_key="k") is None
    assert measured_seconds([timing(60, 10, key="other")], dataset_id=1, score_key="k") is None


def test_runs_are_pooled_newest_first_this_dataset_first():
    runs = [timing(100, 10, dataset_id=2), timing(60, 10), timing(999, 10), timing(80, 10, dataset_id=2)]
    # this dataset's two newest (60 s + 999 s for 20 examples) fill the pool of 20
    assert measured_seconds(runs, dataset_id=1, score_key="k") == (pytest.approx(1059 / 20), 20)
    # a larger pool takes the other dataset's runs, newest first, after them
    assert measured_seconds(runs, dataset_id=1, score_key="k", pool=30) == (pytest.approx(1159 / 30), 30)
    # another dataset alone: its runs are all there is
    assert measured_seconds(runs[:1], dataset_id=1, score_key="k") == (pytest.approx(10.0), 10)


def test_runs_served_from_the_cache_do_not_count():
    runs = [timing(2, 10, calls=1, cache_hits=40), timing(50, 10, calls=30, cache_hits=3)]
    assert measured_seconds(runs, dataset_id=1, score_key="k") == (pytest.approx(5.0), 10)


# -- estimate_run over a store ------------------------------------------------------------------
@pytest.fixture(autouse=True)
def assembled(monkeypatch):
    """The default model counts as assembled, whatever this machine's cache holds (its first
    use is timed in tests/test_first_use.py)."""
    monkeypatch.setattr(estimate, "needs_assembly", lambda model, *, model_dir=None: 0)


@pytest.fixture
def arith(store, tmp_path):
    path = tmp_path / "arith.jsonl"
    write_records(path, ARITHMETIC)  # 8 examples
    return import_file(store, path, name="arith").dataset


def record_run(store, info, stage, *, seconds, n_done, config=CONFIG):
    """A finished run of ``stage`` that took ``seconds`` (the store's clock pinned)."""
    start = datetime(2026, 1, 1, 12, 0, 0)
    times = iter([start, start + timedelta(seconds=seconds)])
    run_id = f"{stage}-{config.llm.backend}-{seconds}"
    with pytest.MonkeyPatch.context() as m:
        m.setattr("curation.store.runs.now", lambda: next(times))
        store.start_run(
            run_id=run_id,
            dataset_id=info.dataset_id,
            stage=stage,
            backend=config.llm.backend,
            model=config.llm.model,
            config=config.to_dict(),
            score_key=score_key(config),
            n_examples=8,
        )
        store.update_run(run_id, n_done=n_done, n_failed=0, stats={"calls": 3 * n_done})
        store.finish_run(run_id, status="done")


def test_the_estimate_falls_back_to_the_default_when_nothing_was_measured(store, arith):
    e = estimate_run(store, "arith", CONFIG)
    # 8 to score at 1 call, round(8 x 36 %) = 3 of them sampled at 7 calls (5 samples, 2
    # reflections; open answers have no contrast), round(8 x 20 %) = 2 to correct at 3 calls;
    # 0.85 s a call
    assert (e.examples, e.calls) == (8, 8 * 1 + 3 * 7 + 2 * 3)
    assert {t: v["examples"] for t, v in e.tiers.items()} == {"cheap": 8, "sampled": 3}
    assert e.seconds == pytest.approx((8 * 1 + 3 * 7 + 2 * 3) * 0.85)
    assert "scoring (cheap signals) 0.8 s an example by default" in e.basis
    assert "sampling the uncertain (samples and self-reflection) 6.0 s an example by default" in e.basis
    assert "correcting 2.5 s an example by default" in e.basis
    assert tier_plan_text(e).startswith("cheap tier: 8 examples, 8 calls, ~")


def test_the_estimate_knows_which_stored_cheap_scores_wait_for_samples(store, arith, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-test")
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        cfg = Config().with_overrides(openai_overrides(server.base_url, KEY_ENV))
        run_pipeline(store, "arith", cfg, stages=("score",))
    # every example has its cheap score; the two wrong sums were sampled, nothing waits
    assert estimate_run(store, "arith", cfg).tiers == {
        "cheap": {"examples": 0, "calls": 0, "prompt_tokens": 0, "completion_tokens": 0},
        "sampled": {"examples": 0, "calls": 0, "prompt_tokens": 0, "completion_tokens": 0},
    }
    full = cfg.with_overrides({"scoring.tiers": "full"})  # the six cheap-only ones would now be sampled
    assert estimate_run(store, "arith", full).tiers["sampled"]["examples"] == 6


def test_the_estimate_uses_the_speed_measured_in_the_store(store, arith):
    record_run(store, arith, "score", seconds=60, n_done=10)  # 6 s an example
    e = estimate_run(store, "arith", CONFIG)
    assert e.seconds == pytest.approx(8 * 6.0 + 3 * 7 * 0.85 + 2 * 3 * 0.85)
    assert "scoring (cheap signals) 6.0 s an example, measured on the last 10 run here" in e.basis
    assert "correcting 2.5 s an example by default" in e.basis

    record_run(store, arith, "sample", seconds=30, n_done=3)  # 10 s a sampled example
    record_run(store, arith, "correct", seconds=24, n_done=2)  # 12 s an example
    assert estimate_run(store, "arith", CONFIG).seconds == pytest.approx(8 * 6.0 + 3 * 10.0 + 2 * 12.0)


LABELS = ("spam", "ham", "eggs")
SHAPES = {
    "labels": [(f"l{i}", f"Is message {i} spam?", LABELS[i % 3]) for i in range(12)],  # a closed set of 3
    "spans": [(f"s{i}", f"Passage: town {i} lies on river R{i}.\nQuestion: which river?", f"R{i}") for i in range(12)],
    "open": ARITHMETIC,
}


@pytest.mark.parametrize(
    "shape, embedded, endpoint",
    [("labels", 1, 2), ("spans", 1, 5 + 5), ("open", 0, 0)],  # endpoint: the other members; 5 spans + k samples
)
def test_the_contrast_costs_what_the_datasets_shape_and_the_backend_make_it(store, tmp_path, shape, embedded, endpoint):
    path = tmp_path / f"{shape}.jsonl"
    write_records(path, SHAPES[shape])
    info = import_file(store, path, name=shape).dataset
    vllm = Config().with_overrides(openai_overrides("http://127.0.0.1:9", "KEY", **{"llm.prompt_logprobs": "on"}))
    examples = list(store.iter_examples(info.dataset_id))
    assert estimate.contrast_calls(examples, Config()) == embedded
    assert estimate.contrast_calls(examples, vllm) == endpoint
    assert estimate.calls_per_example(vllm, contrast=endpoint)["contrast"] == endpoint
    # an endpoint without likelihoods has no contrast to pay for
    assert (
        estimate.calls_per_example(vllm.with_overrides({"llm.prompt_logprobs": "off"}), contrast=endpoint)["contrast"]
        == 0
    )


def test_runs_of_other_scoring_settings_do_not_time_this_one(store, arith):
    record_run(store, arith, "score", seconds=60, n_done=10)
    fast = CONFIG.with_overrides({"scoring.k": 0})
    e = estimate_run(store, "arith", fast)
    assert "by default" in e.basis and "measured on" not in e.basis


# -- the reports a run sends ----------------------------------------------------------------------
def test_a_run_reports_each_phase_from_zero_with_rate_and_time_left(store, arith, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-test")
    events: list[Progress] = []
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        cfg = Config().with_overrides(openai_overrides(server.base_url, KEY_ENV))
        run_pipeline(store, "arith", cfg, on_progress=events.append)
    score = [e for e in events if e.stage == "score"]
    assert (score[0].done, score[0].total, score[0].eta_s) == (0, 8, None)  # before the first: unknown
    assert [e.done for e in score] == list(range(9))  # one report per finished example
    assert all(e.rate > 0 and e.eta_s is not None for e in score[1:])
    assert score[-1].eta_s == 0 and score[-1].describe().startswith(
        "scoring (cheap signals): 8 of 8 examples · done in"
    )
    sample = [e for e in events if e.stage == "sample"]  # the two wrong sums (reflection says B)
    assert [e.done for e in sample] == [0, 1, 2] and sample[0].total == 2
    correct = [e for e in events if e.stage == "correct"]
    assert (correct[0].done, correct[-1].done, correct[-1].total) == (0, 2, 2)
    assert "load" not in {e.stage for e in events}  # an endpoint has nothing to load


def test_the_second_run_has_a_time_left_from_the_start(store, arith, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-test")
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        cfg = Config().with_overrides(openai_overrides(server.base_url, KEY_ENV))
        record_run(store, arith, "score", seconds=60, n_done=10, config=cfg)  # 6 s an example
        events: list[Progress] = []
        run_pipeline(store, "arith", cfg, stages=("score",), on_progress=events.append)
    assert events[0].eta_s == pytest.approx(8 * 6.0, rel=0.05)


def test_the_embedded_model_loads_as_a_phase_in_megabytes(store, arith, monkeypatch):
    def fake_load(llm, *, on_assemble, on_progress):
        for done in (0, 100 << 20, 300 << 20, 300 << 20):
            on_progress(done, 300 << 20)

    monkeypatch.setattr("curation.llm.embedded.load", fake_load)
    monkeypatch.setattr(pipeline, "make_client", lambda llm, cache: None)
    events: list[Progress] = []
    client = pipeline._load_client(store, CONFIG.llm, pipeline._Reporter(events.append, dict))
    assert client is None
    assert [(e.stage, e.done, e.total, e.unit) for e in events] == [
        ("load", 0, 300, "MB"),
        ("load", 100, 300, "MB"),
        ("load", 300, 300, "MB"),
        ("load", 300, 300, "MB"),
    ]
    assert events[-1].describe().startswith("loading the model: 300 of 300 MB · done in")


# -- the model's loading --------------------------------------------------------------------------
def test_assembling_a_split_model_reports_its_bytes(tmp_path):
    import hashlib

    from curation.llm.packaged import PackagedModel, _assemble

    parts = [tmp_path / "a.bin", tmp_path / "b.bin"]
    parts[0].write_bytes(b"x" * 10)
    parts[1].write_bytes(b"y" * 5)
    spec = PackagedModel(
        name="tiny",
        filename="tiny.gguf",
        parts=(),
        size=15,
        licence="",
        origin="",
        sha256=hashlib.sha256(b"x" * 10 + b"y" * 5).hexdigest(),
    )
    seen: list[tuple[int, int]] = []
    target = _assemble(spec, parts, tmp_path / "out" / "tiny.gguf", lambda done, total: seen.append((done, total)))
    assert target.read_bytes() == b"x" * 10 + b"y" * 5
    assert seen == [(0, 15), (10, 15), (15, 15)]


@pytest.mark.model
def test_a_loaded_model_reports_done_at_once(default_backend):
    from curation.llm import embedded
    from curation.llm.packaged import PACKAGED_MODELS

    seen: list[tuple[int, int]] = []
    embedded.load(Config().llm, on_progress=lambda done, total: seen.append((done, total)))
    size = PACKAGED_MODELS[Config().llm.model].size
    assert seen == [(0, size), (size, size)]
