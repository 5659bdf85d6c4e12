"""The signals of one teacher-forced pass over a response: its likelihood, IFD and ending, as scores.

In: a backend's teacher-forced log-probabilities of a response (the mean per token with and
without its prompt, and the end-of-turn one: see
:meth:`~curation.llm.likelihoods.LikelihoodCalls.score_tokens`) and, for the ending, the
dataset's typical (median) end-of-turn log-probability. Out: scores in [0, 1], higher = the
response fits its prompt and ends where it should, and the ending's stored form (a
probability) with its inverse. The rules that read the text alone are :mod:`curation.signals`.
"""

from __future__ import annotations

import math


def _check_logprob(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{name} must be a number <= 0 (a mean log-probability), got {value!r}")
    return min(0.0, float(value))  # a hair above 0 is rounding


def ifd_score(mean_lp_with_prompt: float, mean_lp_without_prompt: float, *, steepness: float = 3.0) -> float:
    """Instruction-following difficulty as a score in [0, 1], higher = the pair fits.

    ``IFD = loss(y | x) / loss(y)``, with loss = -mean token log-probability. IFD < 1: the
    prompt helps predict the response (good); IFD > 1: it does not (a mismatched pair).
    Mapped by a logistic in log IFD: ``1 / (1 + IFD ** steepness)``, so IFD 1 -> 0.5,
    0.5 -> 0.89, 2 -> 0.11 (steepness 3), 0 -> 1. Strictly decreasing in IFD, so ranks are kept.
    A response predicted perfectly without the prompt (loss 0) gives IFD 1 if it is also
    perfect with it, else infinity (score 0).

    Raises:
        ValueError: a log-probability is NaN or not a number, or ``steepness`` <= 0.
    """
    if not steepness > 0:
        raise ValueError(f"steepness must be > 0, got {steepness!r}")
    loss_with = -_check_logprob("mean_lp_with_prompt", mean_lp_with_prompt)
    loss_without = -_check_logprob("mean_lp_without_prompt", mean_lp_without_prompt)
    if loss_without == 0.0:
        return 0.5 if loss_with == 0.0 else 0.0
    if math.isinf(loss_with):
        return 0.0 if not math.isinf(loss_without) else 0.5
    ifd = loss_with / loss_without
    log_term = steepness * math.log(ifd) if ifd > 0 else -math.inf
    if log_term > 700:
        return 0.0
    return 1.0 / (1.0 + math.exp(log_term))


def likelihood_score(mean_logprob: float) -> float:
    """Per-token geometric-mean probability ``exp(mean log-prob)`` in [0, 1]; higher = the
    model finds the response more likely given its prompt.

    Raises:
        ValueError: ``mean_logprob`` is NaN or not a number.
    """
    return math.exp(_check_logprob("mean_logprob", mean_logprob))


#: The ending rule's ramp, in nats below the dataset's median end-of-turn log-probability: no
#: effect up to ENDING_SPARE, none left at ENDING_GONE (a response the model would end about
#: e^16 ≈ 9 million times less often than the dataset's usual one). Chosen on the design half of
#: the sample sets (no clean example there below ENDING_SPARE; cut-off answers sit 14-30 nats
#: down), checked on the other half (docs/benchmarks.md).
ENDING_SPARE = 10.0
ENDING_GONE = 16.0


def ending_score(end_logprob: float, typical: float) -> float:
    """How natural a response's ending is, in [0, 1]: 1 while its end-of-turn log-probability
    is within :data:`ENDING_SPARE` nats of the dataset's ``typical`` (median) one, falling
    linearly to 0 at :data:`ENDING_GONE` below (a cut-off response).

    Raises:
        ValueError: a log-probability is NaN or not a number.
    """
    gap = _check_logprob("typical", typical) - _check_logprob("end_logprob", end_logprob)
    return min(1.0, max(0.0, (ENDING_GONE - gap) / (ENDING_GONE - ENDING_SPARE)))


def end_probability(end_logprob: float) -> float:
    """``exp(end_logprob)``: the stored form of the ending (a probability, shown to people)."""
    return math.exp(_check_logprob("end_logprob", end_logprob))


def end_logprob_of(probability: float) -> float:
    """The inverse of :func:`end_probability` (a probability of 0 reads as -745, exp's floor)."""
    return math.log(max(probability, 5e-324))


__all__ = [
    "ifd_score",
    "likelihood_score",
    "ending_score",
    "end_probability",
    "end_logprob_of",
]
