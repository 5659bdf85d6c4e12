"""The scoring cascade (issue #18): cheap signals for every example, samples and reflections for
the uncertain ones, one scale for both; the ending signal; resuming and switching tiers.

Through the real ``openai`` package against the loopback server (a backend without likelihoods:
its cheap tier is the first self-reflection question), and one test on the embedded model for
the end-of-turn log-probability. Hand counts for the 8 sums (2 wrong): the cheap tier asks 8
first reflections; the reflection says B (incorrect) on the 2 wrong sums, so their cheap
confidence is 0, below the band: they get the second reflection and one request for 3 samples
(which agree, early stop) = 4; the 6 right sums (cheap confidence 1) are not sampled.
"""

from __future__ import annotations

import pytest

from benchmarks.support.fake_openai import FakeOpenAIServer
from curation import likelihood_signals, tiers
from curation.config import Config
from curation.fold import cheap_confidences, final_confidences
from curation.ingest import import_file
from curation.pipeline import run_pipeline
from curation.records import Message
from curation.score import score_key
from curation.store import Store
from tests.support.scripted import REFLECTION, SAMPLE, WRONG, ArithmeticModel, kind_of, openai_overrides, write_records

KEY_ENV = "CLEAR_TEST_CASCADE_KEY"


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-test")


@pytest.fixture
def arith(store, tmp_path):
    path = tmp_path / "arith.jsonl"
    write_records(path)
    return import_file(store, path, name="arith").dataset


def config(server, **more) -> Config:
    return Config().with_overrides(openai_overrides(server.base_url, KEY_ENV, **more))


def tiers_of(store, info, cfg) -> dict[str, str]:
    return {r["example_id"]: tiers.tier_of(r) for r in store.scores(info.dataset_id, score_key(cfg))}


# -- over an endpoint ------------------------------------------------------------------------------
def test_the_cascade_samples_only_what_the_cheap_tier_leaves_low(store, arith):
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        cfg = config(server)
        summary = run_pipeline(store, "arith", cfg, stages=("score", "filter"))
        kinds = [kind_of(r) for r in server.requests]
    assert {k: kinds.count(k) for k in set(kinds)} == {REFLECTION: 8 + 2, SAMPLE: 2}
    assert tiers_of(store, arith, cfg) == {i: "sampled" if i in WRONG else "cheap" for i in tiers_of(store, arith, cfg)}
    assert summary.tiers["cheap"]["examples"] == 6 and summary.tiers["sampled"]["examples"] == 2
    assert (summary.tiers["cheap"]["calls"], summary.tiers["sampled"]["calls"]) == (8, 4)
    assert any("6 by cheap signals only, 2 sampled" in note for note in summary.notes)
    # one scale: a right sum the cheap tier settled (S = 1) sits where the map puts 1; the
    # sampled wrong sums score 0 and are the ones flagged
    confidences = store.confidences(arith.dataset_id, score_key(cfg))
    assert confidences == {i: 0.0 if i in WRONG else pytest.approx(tiers.on_sampled_scale(1.0)) for i in confidences}
    assert summary.flagged == 2 and store.flagged_ids(arith.dataset_id) == sorted(WRONG)
    runs = {r["stage"]: r for r in store.runs(arith.dataset_id)}
    assert (runs["score"]["n_done"], runs["sample"]["n_done"]) == (8, 2)  # each tier timed apart


def test_a_stop_between_the_tiers_resumes_with_the_sampled_tier_and_no_call_twice(store, arith):
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        cfg = config(server)
        events = []
        stopped = run_pipeline(
            store, "arith", cfg, on_progress=events.append, should_stop=lambda: any(e.stage == "sample" for e in events)
        )
        assert stopped.stopped == "cancelled" and server.count() == 8  # the cheap tier only
        assert set(tiers_of(store, arith, cfg).values()) == {"cheap"}
        resumed = run_pipeline(store, "arith", cfg, stages=("score",))
        assert resumed.stopped is None and resumed.scored == 0  # nothing new to score cheaply...
        assert server.count() == 8 + 4  # ...and only the two wrong sums' samples and reflections
        assert resumed.tiers["sampled"]["examples"] == 2


def test_the_mass_failure_warning_counts_each_example_once_across_the_tiers(store, arith, tmp_path):
    # the 8 cheap calls answer, the sampled tier's (the two wrong sums) fail: 2 of 8, no warning
    with FakeOpenAIServer(reply=ArithmeticModel(), faults=[None] * 8 + ["bad_request"] * 4) as server:
        summary = run_pipeline(store, "arith", config(server), stages=("score",))
    assert (summary.failed, summary.warnings) == (2, [])
    # a new store, every example sampled, every sampled call failing: 8 of the 8 examples
    # tried, each tried in both tiers in this run and counted once
    failing = {"faults": [None] * 8, "fault_rate": 1.0, "fault_kinds": ("bad_request",)}
    with Store(tmp_path / "other.duckdb") as other, FakeOpenAIServer(reply=ArithmeticModel(), **failing) as server:
        import_file(other, tmp_path / "arith.jsonl", name="arith")
        summary = run_pipeline(other, "arith", config(server, **{"scoring.tiers": "full"}), stages=("score",))
    assert summary.failed == 8
    assert [w.split(";")[0] for w in summary.warnings] == ["Scoring failed on 8 of 8 examples tried"]


def test_switching_to_full_samples_only_the_rest(store, arith):
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        run_pipeline(store, "arith", config(server), stages=("score",))
        before = server.count()
        full = config(server, **{"scoring.tiers": "full"})
        summary = run_pipeline(store, "arith", full, stages=("score",))
        assert server.count() - before == 6 * 2  # the 6 cheap-only sums: second reflection + samples
        assert summary.tiers["sampled"]["examples"] == 8
        assert set(store.confidences(arith.dataset_id, score_key(full)).values()) == {0.0, 1.0}


def test_the_cheap_tier_alone_never_samples(store, arith):
    with FakeOpenAIServer(reply=ArithmeticModel()) as server:
        cfg = config(server, **{"scoring.tiers": "cheap"})
        summary = run_pipeline(store, "arith", cfg, stages=("score", "filter"))
        assert server.count() == 8 and summary.tiers["sampled"]["examples"] == 0
    # the map is monotone: the ranking is the cheap tier's, and the wrong sums are still flagged
    assert store.flagged_ids(arith.dataset_id) == sorted(WRONG)


# -- the decisions, pure -----------------------------------------------------------------------------
def test_to_sample_takes_those_below_the_band_least_confident_first():
    cheap = {"a": 0.9, "b": 0.1, "c": None, "d": 0.29, "e": 0.3}
    assert tiers.to_sample(cheap, mode="cascade", band=0.3) == ["c", "b", "d"]  # no signal at all first
    assert tiers.to_sample(cheap, mode="full", band=0.3) == ["c", "b", "d", "e", "a"]
    assert tiers.to_sample(cheap, mode="cheap", band=0.3) == []


def test_the_scale_map_is_monotone_and_clipped():
    scale = tiers.ScaleMap(version=0, intercept=0.1, slope=0.6, fitted_on="test")
    assert tiers.on_sampled_scale(None, scale) is None
    assert [tiers.on_sampled_scale(x, scale) for x in (0.0, 0.5, 1.0)] == pytest.approx([0.1, 0.4, 0.7])
    assert tiers.on_sampled_scale(1.0, tiers.ScaleMap(0, 0.5, 0.9, "t")) == 1.0


def test_rows_from_before_the_cascade_count_as_sampled():
    rows = [
        {"explanation": {}},
        {"explanation": {"tier": "cheap"}},
        {"explanation": {"tier": "cheap"}, "status": "failed"},
    ]
    assert tiers.tier_counts(rows) == {"cheap": 1, "sampled": 1}


def row(example_id: str, tier: str, **values: float) -> dict:
    return {"example_id": example_id, "status": "ok", "signals": values, "explanation": {"tier": tier}}


def test_the_ending_is_judged_against_the_datasets_median_ending():
    # math-like data: every complete answer ends at about e^-5; one cut off at e^-25
    import math

    rows = [row(f"e{i}", "cheap", ending=math.exp(-5.0 - i * 0.1)) for i in range(9)]
    rows.append(row("cut", "cheap", ending=math.exp(-25.0)))
    out = final_confidences(rows, Config())
    assert all("ending" not in out[f"e{i}"][1] for i in range(9))
    assert "ending" in out["cut"][1] and out["cut"][0] == pytest.approx(tiers.on_sampled_scale(0.0))


def test_cheap_confidences_read_only_the_cheap_rows_before_the_map():
    rows = [
        row("a", "cheap", format=1.0),
        row("b", "sampled", bsdetector=0.2, format=1.0),
        row("c", "cheap", format=0.5),
    ]
    cfg = Config().with_overrides({"scoring.w_format": 1.0})
    assert cheap_confidences(rows, cfg) == {"a": 1.0, "c": 0.5}
    final = final_confidences(rows, cfg)
    assert final["a"][0] == pytest.approx(tiers.on_sampled_scale(1.0)) and final["b"][0] == pytest.approx(0.2)


# -- the embedded model --------------------------------------------------------------------------------
@pytest.mark.model
def test_a_cut_off_answer_is_far_less_likely_to_end_there(default_backend):
    prompt = (
        Message("user", "Passage: The first club secretary was Samir Ostrander.\n\nWho was the first secretary?"),
    )
    whole = default_backend.score_tokens(prompt, "Samir Ostrander")
    cut = default_backend.score_tokens(prompt, "Samir Ostr")
    assert whole.end_logprob is not None and cut.end_logprob is not None
    assert whole.end_logprob - cut.end_logprob > likelihood_signals.ENDING_SPARE  # the rule's threshold, at least


def test_the_draw_spread_is_zero_where_the_samples_agree_and_grows_where_they_split():
    from benchmarks.detection import draw_spread

    def row(i, agreements, reflection=0.5):
        samples = [{"agreement": a} for a in agreements]
        observed = sum(agreements) / len(agreements)
        return {
            "example_id": f"e{i}",
            "reflection": reflection,
            "signals": {"bsdetector": 0.7 * observed + 0.3 * reflection},
            "explanation": {"tier": "sampled", "samples": samples},
        }

    errors = [1, 1, 0, 0]
    settled = [row(0, [0, 0, 0]), row(1, [0, 0, 0]), row(2, [1, 1, 1]), row(3, [1, 1, 1])]
    assert draw_spread(settled, errors, Config(), draws=50) == 0.0
    split = [row(0, [0, 1, 0]), row(1, [1, 0, 1]), row(2, [1, 0, 1]), row(3, [0, 1, 1])]
    assert draw_spread(split, errors, Config(), draws=50) > 0.05
    unsampled = [{**r, "explanation": {"tier": "cheap"}} for r in settled]
    assert draw_spread(unsampled, errors, Config()) is None


def test_the_speed_table_gives_a_multiple_of_the_floor_only_for_variants_run_on_its_cpu(capsys):
    import argparse

    from benchmarks.scoring_speed import parse_variant, print_table

    assert parse_variant(argparse.ArgumentParser(), "one-question:scoring.reflection_prompts=1,scoring.k=3") == (
        "one-question",
        {"scoring.reflection_prompts": "1", "scoring.k": "3"},
    )
    row = {"seconds_per_example": 0.5, "examples_per_hour": 7200, "calls_per_example": 1.0}
    row |= {"prompt_tokens_evaluated_per_example": 10, "generated_tokens_per_example": 0}

    def variant(seconds, cpu):
        return {"datasets": {"d": row}, "overall": {"seconds_per_example": seconds, "examples_per_hour": 1}, "cpu": cpu}

    print_table({"variants": {"floor": variant(0.5, "A"), "here": variant(1.5, "A"), "kept": variant(1.0, "B")}})
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if " all " in line}
    assert lines["here"].endswith("3.0") and lines["kept"].endswith("other CPU")
