"""Demonstrations: the nearest examples by word overlap, the greedy few-shot request, the cut to the token budget."""

from __future__ import annotations

import pytest

from curation.config import Config
from curation.demonstrations import candidate_request, fit_demonstrations, nearest_demonstrations
from curation.records import Example, Message
from tests.test_correct import ex

TARGET = ex("t", "What is the capital of France?")
SPAIN = ex("s", "What is the capital of Spain?")  # shares 6 of 8 words (with "user")
SPIDER = ex("x", "How many legs does a spider have?")  # shares only "user"
CITY = ex("c", "Which city is the capital?")  # shares user, is, the, capital


def test_nearest_demonstrations_rank_by_word_overlap():
    assert nearest_demonstrations(TARGET, [SPIDER, CITY, SPAIN], 1) == [SPAIN]
    assert nearest_demonstrations(TARGET, [SPIDER, CITY, SPAIN], 2) == [SPAIN, CITY]
    assert nearest_demonstrations(TARGET, [SPIDER, CITY, SPAIN], 10) == [SPAIN, CITY, SPIDER]


def test_nearest_demonstrations_never_shows_the_target_itself():
    same_id = ex("t", "What is the capital of France?", "Paris")
    assert nearest_demonstrations(TARGET, [same_id, SPIDER], 2) == [SPIDER]


@pytest.mark.parametrize("k", [0, -1])
def test_no_demonstrations_asked(k):
    assert nearest_demonstrations(TARGET, [SPAIN], k) == []


def test_nearest_demonstrations_ties_keep_pool_order():
    a, b = ex("a", "alpha beta"), ex("b", "alpha gamma")
    assert nearest_demonstrations(ex("t", "alpha"), [b, a], 2) == [b, a]


def test_candidate_request_is_greedy_few_shot():
    c = Config().with_overrides({"correct.max_tokens": 99})
    r = candidate_request(TARGET, [ex("s", "What is the capital of Spain?", "Madrid")], c)
    assert r.temperature == 0.0 and r.max_tokens == 99 and r.n == 1
    assert [(m.role, m.content) for m in r.messages] == [
        ("user", "What is the capital of Spain?"),
        ("assistant", "Madrid"),
        ("user", "What is the capital of France?"),
    ]


def test_demonstrations_are_cut_to_the_token_budget_and_shared_system_turns_count_once():
    system = Message("system", "S" * 3000)  # 1,000 tokens at 3 characters a token, given once
    target = Example(
        example_id="t", id_source="record", line=1, prompt=(system, Message("user", "q" * 300)), response="r", record={}
    )
    demos = [
        Example(
            example_id=f"d{i}",
            id_source="record",
            line=1,
            prompt=(system, Message("user", "u" * 270)),
            response="a" * 30,
            record={},
        )
        for i in range(5)
    ]  # 100 tokens each
    assert fit_demonstrations(target, demos, budget_tokens=1100 + 250) == demos[:2]
    assert fit_demonstrations(target, demos, budget_tokens=1099) == []
    other = [
        Example(
            example_id="o",
            id_source="record",
            line=1,
            prompt=(Message("system", "T" * 300), Message("user", "u" * 270)),
            response="a" * 30,
            record={},
        )
    ]  # its own system turn is folded in: 200 tokens
    assert fit_demonstrations(target, other, budget_tokens=1299) == []
