"""Sampling in pure maths: what to draw from a prompt, a sequence's progress, each token's pick.

In: a :class:`Job` (a prompt's tokens, one random generator per sample, the temperature, stop
strings, how many top log-probabilities to keep) and the logits of each step. Out: the token
:func:`pick` draws from them, where :func:`first_stop` cuts the text, and per sample a
:class:`Generation`. :class:`Sampling` holds one sequence's progress while
:meth:`~curation.llm.engine.Engine.generate_batch` decodes it; nothing here touches the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Job:
    """Samples to draw from one prompt, one per random generator in ``rngs``."""

    prompt: list[int]
    rngs: list[np.random.Generator]
    temperature: float
    max_tokens: int
    stop: tuple[str, ...]
    top_logprobs: int


@dataclass(frozen=True)
class Generation:
    """One sample drawn: its text, its tokens, why it ended, the top log-probabilities of its
    first positions."""

    text: str
    n_tokens: int
    finish_reason: str
    top_logprobs: tuple[dict[str, float], ...]


@dataclass
class Sampling:
    """One sequence's progress in :meth:`~curation.llm.engine.Engine.generate_batch`."""

    job: int
    rng: np.random.Generator
    seq: int
    base: int
    max_tokens: int
    scores: np.ndarray | None = None  # the next token's log-probabilities, up to a constant
    tokens: list[int] = field(default_factory=list)
    tops: list[dict[str, float]] = field(default_factory=list)
    text: str = ""
    finish: str | None = None


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


def pick(scores: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """A token drawn from ``softmax(scores / temperature)`` (greedy at 0; ``scores`` are
    logits or log-probabilities): the draw of ``rng.choice(p=...)`` (one uniform against the
    cumulative weights, the same generator state used) without its normalising and checking
    passes over the vocabulary."""
    if temperature <= 0:
        return int(np.argmax(scores))
    scaled = scores / temperature if temperature != 1 else scores
    cdf = np.cumsum(np.exp(scaled - scaled.max()), dtype=np.float64)
    return int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))


def first_stop(text: str, stop: tuple[str, ...]) -> int | None:
    hits = [text.find(s) for s in stop if s and s in text]
    return min(hits) if hits else None
