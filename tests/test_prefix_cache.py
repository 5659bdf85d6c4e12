"""Slot choice for the embedded model's prompt cache: pure bookkeeping, hand-worked cases."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation.llm.prefix_cache import Plan, SlotTable, common_prefix


def test_common_prefix():
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2, 3]) == 2


def test_first_prompt_goes_to_an_empty_slot_with_nothing_cached():
    table = SlotTable(3)
    assert table.plan([5, 6, 7]) == Plan(slot=0, source=None, keep=0)


def test_a_prompt_that_continues_a_slot_extends_it_in_place():
    table = SlotTable(3)
    table.commit(1, [1, 2, 3])
    assert table.plan([1, 2, 3, 4, 5]) == Plan(slot=1, source=None, keep=3)


def test_the_same_prompt_again_reevaluates_only_its_last_token():
    table = SlotTable(3)
    table.commit(0, [1, 2, 3])
    assert table.plan([1, 2, 3]) == Plan(slot=0, source=None, keep=2)


def test_a_diverging_prompt_branches_into_a_free_slot_and_leaves_the_source_intact():
    table = SlotTable(3)
    table.commit(0, [1, 2, 3, 4])
    assert table.plan([1, 2, 9]) == Plan(slot=1, source=0, keep=2)


def test_branching_reuses_the_least_recently_used_slot_when_all_are_full():
    table = SlotTable(3)
    table.commit(0, [1, 2, 3])
    table.commit(1, [7, 8])
    table.commit(2, [4, 5])
    table.commit(0, [1, 2, 3])  # slot 0 most recent, slot 1 least
    assert table.plan([1, 2, 6]) == Plan(slot=1, source=0, keep=2)


def test_unrelated_prompt_takes_the_least_recently_used_slot():
    table = SlotTable(2)
    table.commit(0, [1, 2])
    table.commit(1, [3, 4])
    assert table.plan([9, 9]) == Plan(slot=0, source=None, keep=0)


def test_one_slot_trims_in_place():
    table = SlotTable(1)
    table.commit(0, [1, 2, 3, 4])
    assert table.plan([1, 2, 9]) == Plan(slot=0, source=None, keep=2)


def test_each_kind_of_prompt_finds_its_own_previous_instance():
    """Two prompt kinds alternate over examples sharing a long system prompt: after the first
    example, each call starts from its own kind's cached prompt."""
    system, kind_a, kind_b = list(range(100)), [500, 501], [600, 601]
    table = SlotTable(4)
    kept = []
    for example in range(3):
        user = [1000 + example]
        for kind in (kind_a, kind_b):
            prompt = system + kind + user
            plan = table.plan(prompt)
            kept.append(plan.keep)
            table.commit(plan.slot, prompt)
    assert kept[2:] == [102, 102, 102, 102]  # system + kind shared, the user turn is new


def test_evict_one_forgets_the_least_recently_used_other_slot():
    table = SlotTable(3)
    table.commit(0, [1])
    table.commit(1, [2])
    table.commit(2, [3])
    assert table.evict_one(keep={0}) == 1
    assert table.tokens[1] == []
    assert table.evict_one(keep={0}) == 2
    assert table.evict_one(keep={0}) is None


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="n_slots must be >= 1"):
        SlotTable(0)
    with pytest.raises(ValueError, match="empty prompt"):
        SlotTable(2).plan([])


@given(st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=6), min_size=1, max_size=12), st.integers(1, 4))
def test_plans_are_always_consistent(prompts, n_slots):
    table = SlotTable(n_slots)
    for prompt in prompts:
        plan = table.plan(prompt)
        assert 0 <= plan.keep < len(prompt) and 0 <= plan.slot < n_slots
        source = table.tokens[plan.slot if plan.source is None else plan.source]
        assert source[: plan.keep] == prompt[: plan.keep]  # what is kept really is cached
        assert plan.source != plan.slot
        table.commit(plan.slot, prompt)


def test_busy_slots_are_avoided_when_a_free_one_shares_nearly_as_much():
    table = SlotTable(4)
    table.commit(0, [1, 2, 3])  # free: shares [1, 2] with the prompt below
    table.commit(1, [1, 2, 3, 4])  # busy (waiting to be evaluated): shares [1, 2]
    prompt = [1, 2, 9]
    assert table.plan(prompt).source == 1  # most recent among equals
    plan = table.plan(prompt, busy={1}, slack=4)
    assert plan.source == 0 and plan.slot not in (0, 1) and plan.keep == 2


def test_a_much_longer_busy_prefix_still_wins_and_victims_are_never_busy():
    table = SlotTable(3)
    table.commit(0, [7])
    table.commit(1, list(range(20)))  # busy
    plan = table.plan(list(range(19)) + [99], busy={1}, slack=4)
    assert plan.source == 1  # 19 shared tokens against 0: the caller evaluates slot 1 first
    assert plan.slot == 2
    table.commit(2, [8])
    assert table.plan([5, 5], busy={1, 2}).slot == 0


@given(
    st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=6), min_size=1, max_size=12),
    st.integers(1, 4),
    st.sets(st.integers(0, 3)),
    st.integers(0, 3),
)
def test_plans_with_busy_slots_stay_consistent(prompts, n_slots, busy, slack):
    table = SlotTable(n_slots)
    busy = {b for b in busy if b < n_slots}
    for prompt in prompts:
        plan = table.plan(prompt, busy=busy, slack=slack)
        source = table.tokens[plan.slot if plan.source is None else plan.source]
        assert source[: plan.keep] == prompt[: plan.keep] and plan.source != plan.slot
        if plan.source is not None and len(busy) < n_slots - 1:
            assert plan.slot not in busy
        table.commit(plan.slot, prompt)
