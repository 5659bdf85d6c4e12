"""Which cached prompt a new prompt should start from: pure bookkeeping, no model.

The embedded model keeps the KV caches of several recent prompts at once, one llama.cpp
sequence ("slot") each. Scoring asks the model many different kinds of question about one
example, and every kind repeats across examples (a dataset's system prompt, our fixed
instructions), so each kind of prompt finds its own previous instance still cached.

For a new prompt, :meth:`SlotTable.plan` picks the slot sharing the longest token prefix
with it. The prompt extends that slot in place when it continues (or repeats) all of it;
otherwise it *branches*: a free or least recently used slot takes the shared prefix (with a
unified KV cache the cells are shared, not copied) and the source slot stays intact for its
own kind.

Several prompts may be planned before any is evaluated (their new tokens then decode in one
batch): slots still waiting for their tokens are *busy*; plans avoid reading or rewriting
them where a free slot shares nearly as long a prefix.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """How to bring a slot to a prompt: in ``slot``, the first ``keep`` tokens are already
    cached once ``slot`` holds ``source``'s first ``keep`` tokens (``source`` None: in place,
    drop everything after ``keep``); the rest of the prompt must be evaluated."""

    slot: int
    source: int | None
    keep: int


def common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the longest shared prefix of two token lists."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class SlotTable:
    """The tokens cached in each of ``n_slots`` sequences, and their recency."""

    def __init__(self, n_slots: int) -> None:
        if n_slots < 1:
            raise ValueError(f"n_slots must be >= 1, got {n_slots}")
        self.tokens: list[list[int]] = [[] for _ in range(n_slots)]
        self._used = [0] * n_slots
        self._clock = 0

    def plan(self, prompt: list[int], *, busy: Collection[int] = (), slack: int = 0) -> Plan:
        """Where to evaluate ``prompt``. At least its last token is always left to evaluate,
        so that fresh logits follow it.

        Args:
            busy: slots whose tokens are committed but not yet evaluated. A free slot is
                preferred as the source unless a busy one shares more than ``slack`` tokens
                more; a busy slot is never the victim while another can be. The caller
                evaluates the busy slots first when the plan still involves one.

        Raises:
            ValueError: ``prompt`` is empty.
        """
        if not prompt:
            raise ValueError("cannot plan an empty prompt")
        shared = [common_prefix(tokens, prompt) for tokens in self.tokens]
        best = max(range(len(self.tokens)), key=lambda s: (shared[s] + (0 if s in busy else slack), self._used[s]))
        keep = min(shared[best], len(prompt) - 1)
        if shared[best] == len(self.tokens[best]) or keep == 0 or len(self.tokens) == 1:
            slot = best if keep else self._victim(exclude=None, avoid=busy)
            return Plan(slot=slot, source=None, keep=keep)
        return Plan(slot=self._victim(exclude=best, avoid=busy), source=best, keep=keep)

    def commit(self, slot: int, tokens: list[int]) -> None:
        """Record that ``slot`` now caches exactly ``tokens``, and mark it used."""
        self.tokens[slot] = list(tokens)
        self._clock += 1
        self._used[slot] = self._clock

    def drop(self, slot: int) -> None:
        """Forget what ``slot`` holds (its KV cells were lost or never filled)."""
        self.tokens[slot] = []
        self._used[slot] = 0

    def evict_one(self, *, keep: Collection[int] = ()) -> int | None:
        """Forget the least recently used non-empty slot not in ``keep``; its index, or None
        when there is none (the caller then frees its KV cells)."""
        filled = [s for s, t in enumerate(self.tokens) if t and s not in keep]
        if not filled:
            return None
        slot = min(filled, key=lambda s: self._used[s])
        self.drop(slot)
        return slot

    def _victim(self, *, exclude: int | None, avoid: Collection[int]) -> int:
        """An empty slot if any, else the least recently used one; never ``exclude``, and
        not one in ``avoid`` while another is left."""
        allowed = [s for s in range(len(self.tokens)) if s != exclude]
        choices = [s for s in allowed if s not in avoid] or allowed
        return min(choices, key=lambda s: (bool(self.tokens[s]), self._used[s]))
