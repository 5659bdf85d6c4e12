"""Auto-Correct's few-shot candidate: the demonstrations it shows and the call it makes.

The most confident unflagged examples of the dataset form the pool (:data:`DEMO_POOL`); each
flagged example is shown the pool examples whose prompts share the most words with its own,
as many as fit the context. All but the call itself is pure.
"""

from __future__ import annotations

import re

from curation import prompts
from curation.config import Config
from curation.llm.base import ChatRequest
from curation.records import Example
from curation.store import prompt_text

#: How many of the most confident unflagged examples are candidates for demonstrations.
DEMO_POOL = 200
#: Characters a token is assumed to take when fitting demonstrations into the context (on the
#: short side of real text, 3.5-4.5, so that an estimate errs towards fewer demonstrations).
CHARS_PER_TOKEN = 3.0
#: Tokens kept free for the chat template's markup around the turns.
TEMPLATE_TOKENS = 64
_WORD = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def nearest_demonstrations(target: Example, pool: list[Example], k: int) -> list[Example]:
    """The ``k`` pool examples whose prompts share the most words with the target's (pure)."""
    if k <= 0:
        return []
    target_words = _words(prompt_text(target.prompt))

    def overlap(candidate: Example) -> float:
        words = _words(prompt_text(candidate.prompt))
        union = target_words | words
        return len(target_words & words) / len(union) if union else 0.0

    ranked = sorted((e for e in pool if e.example_id != target.example_id), key=overlap, reverse=True)
    return ranked[:k]


def fit_demonstrations(target: Example, demos: list[Example], *, budget_tokens: int) -> list[Example]:
    """The leading ``demos`` that fit ``budget_tokens`` together with the target's prompt, at
    :data:`CHARS_PER_TOKEN` (pure). System turns equal to the target's are not counted: the
    few-shot prompt gives them once (:func:`curation.prompts.build_candidate_messages`)."""
    shared = {m.content for m in target.prompt if m.role == "system"}
    used = len(prompt_text(target.prompt)) / CHARS_PER_TOKEN
    kept = []
    for demo in demos:
        own = [m for m in demo.prompt if not (m.role == "system" and m.content in shared)]
        used += (sum(len(m.content) for m in own) + len(demo.response)) / CHARS_PER_TOKEN
        if used > budget_tokens:
            break
        kept.append(demo)
    return kept


def candidate_request(example: Example, demos: list[Example], config: Config) -> ChatRequest:
    """The greedy few-shot call: ``demos`` as earlier turns, then the example's prompt."""
    messages = prompts.build_candidate_messages(example.prompt, [(d.prompt, d.response) for d in demos])
    return ChatRequest(messages=messages, temperature=0.0, max_tokens=config.correct.max_tokens)


def demonstrations(batch: list[Example], pool: list[Example], config: Config) -> dict[str, list[Example]]:
    """Per example, the demonstrations its few-shot call shows first (none to an endpoint candidate)."""
    c = config.correct
    if c.candidate_llm(config.llm) is not None:
        return {e.example_id: [] for e in batch}
    budget = config.llm.n_ctx - c.max_tokens - TEMPLATE_TOKENS
    return {
        e.example_id: fit_demonstrations(e, nearest_demonstrations(e, pool, c.few_shot), budget_tokens=budget)
        for e in batch
    }
