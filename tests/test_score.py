"""Stage 2, score: the pure parts (cache key, assembling, final confidence) by hand,
property tests for the confidence invariants, and :func:`finalize` over a tiny store.

The requests and adaptive k are in ``tests/test_bsdetector.py``; the whole stage against a model
is in ``tests/test_pipeline.py``.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation.config import Config
from curation.config_values import RULE_SIGNALS, SOFT_SIGNALS
from curation.fold import final_confidence
from curation.ingest import import_file
from curation.llm.base import ChatResult, TokenScores
from curation.records import Example, Message
from curation.score import finalize, score_key
from curation.score_parts import assemble
from curation.signals import SignalScore


def example(
    prompt: str = "Passage: the ship brought back red seaweed. What did it bring?",
    response: str = "red seaweed",
    example_id: str = "e1",
) -> Example:
    return Example(
        example_id=example_id,
        id_source="record",
        line=1,
        prompt=(Message("user", prompt),),
        response=response,
        record={},
    )


def config(**overrides) -> Config:
    return Config().with_overrides(overrides)


def replies(*texts: str) -> list[ChatResult]:
    return [ChatResult(text=t) for t in texts]


# -- score_key ---------------------------------------------------------------------------
BASE_KEY = score_key(Config())


@pytest.mark.parametrize(
    "key, value",
    [
        ("scoring.k", 3),
        ("llm.model", "another-model"),
        ("scoring.sample_style", "explanation_first"),
        ("scoring.alpha", 0.5),
        ("scoring.beta", 0.5),
        ("scoring.reflection_prompts", 1),
        ("llm.backend", "openai"),
        ("llm.base_url", "http://127.0.0.1:9/v1"),
        ("scoring.temperature", 0.7),
        ("scoring.w_ifd", 2.0),  # IFD weighs in: its pass without the prompt is run
        ("llm.seed", 1),  # other samples
    ],
)
def test_score_key_changes_with_what_decides_the_calls(key, value):
    assert score_key(config(**{key: value})) != BASE_KEY


@pytest.mark.parametrize(
    "key, value",
    [
        ("scoring.w_bsdetector", 0.3),
        ("scoring.w_likelihood", 0.0),
        ("scoring.w_format", 0.0),
        ("scoring.w_degenerate", 3.0),
        ("filter.gamma", 0.9),
        ("filter.gamma_mode", "quantile"),
        ("correct.eta", 0.5),
        ("llm.budget_usd", 1.0),
        ("llm.concurrency", 3),
        ("llm.api_key_env", "OTHER_KEY"),
    ],
)
def test_score_key_ignores_what_needs_no_call(key, value):
    assert score_key(config(**{key: value})) == BASE_KEY


def test_ifd_weights_above_zero_share_a_score_key():
    assert score_key(config(**{"scoring.w_ifd": 0.5})) == score_key(config(**{"scoring.w_ifd": 2.0})) != BASE_KEY


def test_score_key_is_stable_and_short():
    assert score_key(Config()) == score_key(Config())
    assert len(BASE_KEY) == 16 and int(BASE_KEY, 16) >= 0


# -- assemble -----------------------------------------------------------------------------------
def test_assemble_by_hand():
    # Sample 1 "red seaweed": Jaccard 1, exact match 1 -> o = 0.8 + 0.2 = 1.0.
    # Sample 2 "seaweed": Jaccard {seaweed}/{red, seaweed} = 0.5, no match -> o = 0.8 * 0.5 = 0.4.
    # O = 0.7; reflections "A" twice: Correct, then (the second question's choices swapped)
    # Incorrect -> S = 0.5; bsdetector = 0.7 * 0.7 + 0.3 * 0.5 = 0.64.
    c = config(**{"scoring.k": 2, "scoring.alpha": 0.8, "scoring.beta": 0.7})
    samples = replies("explanation: it says so, answer: red seaweed", "explanation: hmm, answer: seaweed")
    parts = assemble(
        example(),
        samples,
        replies("answer: A", "answer: A"),
        rules={"format": SignalScore(1.0)},
        token_scores=None,
        config=c,
    )
    assert parts.consistency == pytest.approx(0.7)
    assert parts.reflection == pytest.approx(0.5)
    assert parts.bsdetector == pytest.approx(0.64)
    assert parts.signals == {"format": 1.0, "degenerate": 1.0, "arithmetic": 1.0, "bsdetector": pytest.approx(0.64)}
    assert [(s["answer"], s["match"], s["agreement"]) for s in parts.explanation["samples"]] == [
        ("red seaweed", True, 1.0),
        ("seaweed", False, 0.4),
    ]
    assert [(r["verdict"], r["score"]) for r in parts.explanation["reflections"]] == [("A", 1.0), ("B", 0.0)]
    assert parts.explanation["unparsed_reflections"] == 0
    assert parts.explanation["reasons"] == {}


def test_assemble_token_scores_become_likelihood_and_ifd():
    # likelihood = exp(-0.5); IFD = 0.5 / 1.0 = 0.5 -> 1 / (1 + 0.5 ** 3) = 1 / 1.125.
    parts = assemble(
        example(),
        [],
        [],
        rules={"format": SignalScore(1.0)},
        token_scores=TokenScores(mean_logprob_with_prompt=-0.5, mean_logprob_without_prompt=-1.0, n_tokens=4),
        config=config(**{"scoring.k": 0, "scoring.reflection_prompts": 0}),
    )
    assert parts.consistency is None and parts.reflection is None and parts.bsdetector is None
    assert "bsdetector" not in parts.signals
    assert parts.signals["likelihood"] == pytest.approx(math.exp(-0.5))
    assert parts.signals["ifd"] == pytest.approx(1 / 1.125)
    assert "min_k" not in parts.signals  # a cached entry from before the signal: left out, not guessed


def test_assemble_min_k_is_the_likelihood_of_the_least_likely_tokens():
    wrong = [-6.0, -0.1, -0.2, -0.1, -0.3]  # a wrong answer's token, then fluent text
    padded = TokenScores.from_logprobs(wrong + [-0.05] * 10, [-1.0] * 15)
    plain = TokenScores.from_logprobs(wrong, [-1.0] * 5)
    assert plain.min_k_logprob == -6.0  # 20 % of 5 tokens: the one least likely
    assert padded.min_k_logprob == pytest.approx((-6.0 - 0.3 - 0.2) / 3)  # ceil(20 % of 15) = 3
    assert padded.mean_logprob_with_prompt > plain.mean_logprob_with_prompt + 0.8  # padding hides it in the mean
    parts = assemble(
        example(),
        [],
        [],
        rules={"format": SignalScore(1.0)},
        token_scores=padded,
        config=config(**{"scoring.k": 0, "scoring.reflection_prompts": 0}),
    )
    assert parts.signals["min_k"] == pytest.approx(math.exp(padded.min_k_logprob))
    assert parts.signals["min_k"] < 0.12 < parts.signals["likelihood"]


@pytest.mark.parametrize(
    "reply, score, parsed",
    [
        ("answer: A, explanation: right", 1.0, True),
        ("**Answer:** B.", 0.0, True),
        ("answer: C", 0.5, True),
        ("", 0.5, False),
        ("I would rather not say", 0.5, False),
    ],
)
def test_assemble_reflection_alone_and_unparsed_replies_score_half(reply, score, parsed):
    c = config(**{"scoring.k": 0, "scoring.reflection_prompts": 1})
    parts = assemble(example(), [], replies(reply), rules={"format": SignalScore(1.0)}, token_scores=None, config=c)
    assert parts.consistency is None
    assert parts.reflection == parts.bsdetector == score  # no samples: C = S
    assert parts.explanation["unparsed_reflections"] == (0 if parsed else 1)


def test_assemble_unlabelled_sample_is_compared_whole():
    # No "answer:" label: the whole reply is the answer; "7" matches "7" -> o = 1.
    c = config(**{"scoring.k": 1, "scoring.reflection_prompts": 0})
    parts = assemble(
        example("What is 3 + 4?", "7"),
        replies("7"),
        [],
        rules={"format": SignalScore(1.0)},
        token_scores=None,
        config=c,
    )
    assert parts.consistency == 1.0
    assert parts.explanation["samples"] == [{"answer": "7", "parsed": False, "match": True, "agreement": 1.0}]


def test_assemble_reports_why_rules_fired():
    parts = assemble(
        example(response="I'm sorry, I cannot answer that."),
        [],
        [],
        rules={"format": SignalScore(0.4, ("long (> 8 words), but 90% of responses: short",))},
        token_scores=None,
        config=config(**{"scoring.k": 0, "scoring.reflection_prompts": 0}),
    )
    assert parts.signals["format"] == 0.4
    assert parts.signals["degenerate"] == pytest.approx(0.2)  # refusal
    assert set(parts.explanation["reasons"]) == {"format", "degenerate"}


# -- final_confidence ----------------------------------------------------------------------------
DEFAULT = Config()  # w_bsdetector 1, w_likelihood 1, w_ifd 0, w_format 1, w_degenerate 1


@pytest.mark.parametrize(
    "values, expected",
    [
        # soft mean (0.8 + 0.4) / 2 = 0.6 (ifd has weight 0), times format 0.5 -> 0.3
        ({"bsdetector": 0.8, "likelihood": 0.4, "ifd": 0.1, "format": 0.5, "degenerate": 1.0}, 0.3),
        # likelihood missing: the soft weights renormalise to bsdetector alone -> 0.8 * 0.5
        ({"bsdetector": 0.8, "format": 0.5, "degenerate": 1.0}, 0.4),
        ({"bsdetector": 0.8, "likelihood": None, "format": 0.5, "degenerate": 1.0}, 0.4),
        # a rule at 0 vetoes whatever the soft signals say
        ({"bsdetector": 1.0, "likelihood": 1.0, "format": 1.0, "degenerate": 0.0}, 0.0),
        # no soft signal: the rules alone
        ({"format": 0.5, "degenerate": 0.5}, 0.25),
        # injection markers multiply in like any rule
        ({"bsdetector": 0.6, "likelihood": 0.6, "format": 1.0, "degenerate": 1.0, "injection": 0.4}, 0.24),
    ],
)
def test_final_confidence_by_hand(values, expected):
    assert final_confidence(values, DEFAULT) == pytest.approx(expected)


def test_final_confidence_weights():
    c = config(**{"scoring.w_bsdetector": 3.0, "scoring.w_likelihood": 1.0, "scoring.w_format": 2.0})
    # (3 * 0.8 + 1 * 0.4) / 4 = 0.7; format 0.5 ** 2 = 0.25 -> 0.175
    assert final_confidence(
        {"bsdetector": 0.8, "likelihood": 0.4, "format": 0.5, "degenerate": 1.0}, c
    ) == pytest.approx(0.175)
    off = config(**{"scoring.w_format": 0.0, "scoring.w_degenerate": 0.0})
    assert final_confidence({"bsdetector": 0.8, "format": 0.0, "degenerate": 0.0}, off) == pytest.approx(0.8)
    assert final_confidence({"format": 0.0}, off) is None  # nothing with a weight is present


NAMES = SOFT_SIGNALS + RULE_SIGNALS
unit = st.floats(0.0, 1.0, allow_nan=False)
weight = st.floats(0.0, 3.0, allow_nan=False)


@st.composite
def inputs(draw):
    values = {n: draw(st.one_of(st.none(), unit)) for n in NAMES}
    values = {n: v for n, v in values.items() if v is not None or draw(st.booleans())}
    weights = {f"scoring.w_{n}": draw(weight) for n in NAMES}
    return values, config(**weights)


@given(inputs())
def test_final_confidence_is_in_unit_interval(case):
    values, c = case
    result = final_confidence(values, c)
    assert result is None or 0.0 <= result <= 1.0


@given(inputs(), st.sampled_from(NAMES), unit)
def test_final_confidence_is_monotone_in_each_signal(case, name, other):
    values, c = case
    if values.get(name) is None:
        return
    low, high = sorted((values[name], other))
    before = final_confidence({**values, name: low}, c)
    after = final_confidence({**values, name: high}, c)
    assert (before is None) == (after is None)
    if before is not None:
        assert after >= before - 1e-12


# -- finalize (dataset-level, no LLM call) ---------------------------------------------------
def test_finalize_folds_ranked_signals_as_percentiles(store, tmp_path):
    path = tmp_path / "tiny.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": f"e{i}", "prompt": f"What is {i} + 1?", "response": str(i + 1)}) + "\n" for i in range(3)
        )
    )
    info = import_file(store, path).dataset
    c = Config()
    key = score_key(c)
    for i, lik in enumerate((0.1, 0.5, 0.9)):
        store.save_score(
            dataset_id=info.dataset_id,
            example_id=f"e{i}",
            score_key=key,
            run_id="r",
            status="ok",
            confidence=0.8,
            consistency=None,
            reflection=None,
            signals={"format": 1.0, "degenerate": 1.0, "bsdetector": 0.8 if i else 0.3, "likelihood": lik},
            fired=[],
            explanation={},
        )
    store.save_score(
        dataset_id=info.dataset_id,
        example_id="e3",
        score_key=key,
        run_id="r",
        status="failed",
        confidence=None,
        consistency=None,
        reflection=None,
        signals={},
        fired=[],
        explanation={},
        error="boom",
    )
    assert finalize(store, info, c) == 3
    rows = {r["example_id"]: r for r in store.scores(info.dataset_id, key)}
    # likelihood percentiles 0, 0.5, 1; confidence = mean(bsdetector, percentile)
    assert rows["e0"]["confidence"] == pytest.approx((0.3 + 0.0) / 2)
    assert rows["e1"]["confidence"] == pytest.approx((0.8 + 0.5) / 2)
    assert rows["e2"]["confidence"] == pytest.approx((0.8 + 1.0) / 2)
    assert rows["e0"]["fired"] == ["bsdetector", "likelihood"]
    assert rows["e1"]["fired"] == rows["e2"]["fired"] == []
    assert rows["e3"]["status"] == "failed" and rows["e3"]["confidence"] is None
    # a weight change re-decides without any call: the signals are kept
    finalize(store, info, config(**{"scoring.w_likelihood": 0.0}))
    assert store.confidences(info.dataset_id, key) == pytest.approx({"e0": 0.3, "e1": 0.8, "e2": 0.8})


def test_reflection_order_is_checked():
    from curation.errors import ConfigError
    from curation.presets import PRESETS

    with pytest.raises(
        ConfigError, match=r"scoring.reflection_order = 'random' is not allowed; expected balanced or fixed"
    ):
        Config().with_overrides({"scoring.reflection_order": "random"})
    assert PRESETS["faithful"].scoring.reflection_order == "fixed" and Config().scoring.reflection_order == "balanced"
