"""The words people read for signals and settings (:data:`curation.glossary.SIGNAL_GLOSSARY`,
``SETTING_GLOSSARY``): every signal the scorer can emit has a label and a meaning, so a new
signal without words fails here."""

from __future__ import annotations

from dataclasses import fields

import pytest

from curation.config import Config, ScoringConfig
from curation.config_values import RULE_SIGNALS, SOFT_SIGNALS
from curation.fold import RANKED_SIGNALS
from curation.glossary import SIGNAL_GLOSSARY, setting_help, signal_label, signal_meaning, term
from curation.llm.base import TokenScores
from curation.score_compute import _rival
from curation.score_parts import assemble, dataset_view
from curation.store.insights import SQL_SIGNAL_HISTOGRAM
from tests.test_score import example, replies
from tests.test_score_compute import Likelihoods

#: The score columns shown beside the signals (the card's bars, the Insights histograms).
PARTS = ("consistency", "reflection")


def test_every_weighted_signal_and_part_has_a_label_and_a_meaning():
    weighted = {f.name[2:] for f in fields(ScoringConfig) if f.name.startswith("w_")}
    names = set(SOFT_SIGNALS) | set(RULE_SIGNALS) | set(RANKED_SIGNALS) | weighted | set(PARTS)
    assert names <= set(SIGNAL_GLOSSARY), f"no words for {sorted(names - set(SIGNAL_GLOSSARY))}"
    assert set(SIGNAL_GLOSSARY) == names  # and no words for a signal that is gone
    assert all(f"'{part}'" in SQL_SIGNAL_HISTOGRAM for part in PARTS)


def test_every_signal_a_full_score_emits_has_words():
    spans = [
        example(f"Passage: the ship brought back red seaweed {i}. What did it bring?", "red seaweed", f"e{i}")
        for i in range(4)
    ] + [example("Passage: the ship brought back red seaweed. What did it bring?", "ship")]
    view = dataset_view(spans)
    tokens = TokenScores.from_logprobs([-3.0, -0.1], [-4.0, -0.2])
    rival = _rival(
        spans[-1],
        replies("answer: red seaweed"),
        tokens,
        Likelihoods({"red seaweed": -0.1}),
        view=view,
        config=Config(),
    )
    parts = assemble(
        spans[-1],
        replies("answer: red seaweed"),
        replies("answer: B", "answer: A"),
        rules=view.rules[spans[-1].example_id],
        token_scores=tokens,
        config=Config(),
        rival=rival,
    )
    emitted = set(parts.signals) | set(parts.explanation["reasons"])
    assert {"bsdetector", "likelihood", "min_k", "ifd", "contrast", "format", "degenerate", "injection"} <= emitted
    assert all(signal_label(n) != n and signal_meaning(n) for n in emitted)


def test_labels_are_distinct_and_unknown_names_show_as_they_are():
    labels = [label for label, _ in SIGNAL_GLOSSARY.values()]
    assert len(set(labels)) == len(labels)
    assert signal_label("ifd") == "Prompt fit" and signal_label("a_future_signal") == "a_future_signal"
    assert signal_meaning("a_future_signal") == ""


@pytest.mark.parametrize("setting, symbol", [("k", "k"), ("alpha", "α"), ("beta", "β"), ("gamma", "γ"), ("eta", "η")])
def test_every_symbol_comes_with_words(setting, symbol):
    assert term(setting).startswith(f"{symbol} (") and len(term(setting)) > len(symbol) + 6
    assert setting_help(setting)


def test_term_by_hand():
    assert term("gamma", short=True) == "γ (flag threshold)"
    assert term("gamma") == "γ (flag threshold: flag examples below this confidence)"
    assert term("eta", short=True) == "η (auto-apply threshold)"
    assert term("k") == "k (samples per example)"  # the browser test types into this label
