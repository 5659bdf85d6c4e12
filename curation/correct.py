"""Stage 4, Auto-Correct: propose a better response for each flagged example, judged.

In: the flagged examples of a dataset. Out: one ``proposals`` row per flagged example with
the candidate, the judge's confidence that it is better than the original, and the verdicts.

- The candidate comes from the candidate model (the user's fine-tuned endpoint when
  ``correct.candidate_model`` is set), else from the main model prompted with few-shot
  demonstrations: the most confident unflagged examples of the same dataset, nearest to the
  target by word overlap (a no-training stand-in for the fine-tuned model). Greedy decoding.
- The judge is asked twice, with the candidate second and then first (against position
  bias); each answer's A/B/C probabilities give a certainty, BSDetector's self-reflection
  style, and the confidence is their mean (:func:`curation.confidence.judge_confidence`).
- A proposal applies itself only when confidence ≥ η and ``correct.auto_apply``; otherwise it
  waits for review. A flagged example without a confident correction stays flagged for removal.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Callable

from curation import confidence as cmath
from curation import prompts
from curation.config import Config
from curation.errors import BudgetExceededError, LLMError
from curation.llm.base import ChatRequest, ChatResult
from curation.llm.client import LLMClient
from curation.records import Example
from curation.store import DatasetInfo, Store, prompt_text

log = logging.getLogger(__name__)

#: How many of the most confident unflagged examples are candidates for demonstrations.
DEMO_POOL = 200
_WORD = re.compile(r"\w+")


@dataclass
class CorrectResult:
    proposed: int = 0
    unchanged: int = 0
    failed: int = 0
    auto_applied: int = 0
    skipped: int = 0
    stopped: str | None = None


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


def candidate_request(example: Example, demos: list[Example], config: Config) -> ChatRequest:
    messages = prompts.build_candidate_messages(example.prompt, [(d.prompt, d.response) for d in demos])
    return ChatRequest(messages=messages, temperature=0.0, max_tokens=config.correct.max_tokens)


def judge_requests(example: Example, candidate: str, config: Config) -> tuple[ChatRequest, ChatRequest]:
    """Two judge calls: (original, candidate) and (candidate, original)."""
    def ask(first: str, second: str) -> ChatRequest:
        return ChatRequest(messages=prompts.build_judge_messages(example.prompt, first, second, letter_first=True),
                           temperature=0.0, max_tokens=config.correct.judge_max_tokens,
                           top_logprobs=config.scoring.top_logprobs)
    return ask(example.response, candidate), ask(candidate, example.response)


def judge(candidate_second: ChatResult, candidate_first: ChatResult) -> tuple[float, list[dict]]:
    """The judge's confidence that the candidate is better, and both verdicts (pure)."""
    a = prompts.parse_judge(candidate_second.text, candidate_second.top_logprobs)
    b = prompts.parse_judge(candidate_first.text, candidate_first.top_logprobs)
    verdicts = [
        {"order": "candidate_second", "p": round(a.p_second_better, 4), "verdict": a.verdict,
         "explanation": a.explanation, "parsed": a.parsed},
        {"order": "candidate_first", "p": round(b.p_second_better, 4), "verdict": b.verdict,
         "explanation": b.explanation, "parsed": b.parsed},
    ]
    return cmath.judge_confidence(a.p_second_better, b.p_second_better), verdicts


def same_position(verdicts: list[dict]) -> int | None:
    """The response position (1 or 2) the judge picked in both orders, else None (pure).

    The two orders show the candidate second and then first, so a judge that reads the
    responses picks a different position each time; the same pick twice (letter A, response
    2 better, or B, response 1, in both) is a preference for a position, and its confidence
    (about 0.5) says nothing about the responses. ``verdicts`` as stored by :func:`judge`.
    """
    letters = [v.get("verdict") for v in verdicts]
    if len(letters) == 2 and letters[0] == letters[1] and letters[0] in ("A", "B"):
        return 2 if letters[0] == "A" else 1
    return None


def correct_dataset(store: Store, info: DatasetInfo, config: Config, *, candidates: LLMClient, judge_client: LLMClient,
                    score_key: str, run_id: str, on_progress: Callable[[int, int, int], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> CorrectResult:
    """Propose and judge a correction for every flagged example that has none yet.

    Args:
        candidates: the client that writes candidates (the fine-tuned endpoint or the main model).
        judge_client: the client that judges (the main model).
    Returns:
        Counts; ``stopped`` is ``"cancelled"`` or ``"budget"`` when the run stopped early.
    """
    flagged = set(store.flagged_ids(info.dataset_id))
    existing = store.proposals(info.dataset_id)
    todo_ids = {i for i in flagged if existing.get(i, {}).get("status") not in ("ok", "same")}
    result = CorrectResult(skipped=len(flagged) - len(todo_ids))
    confidences = store.confidences(info.dataset_id, score_key)
    examples = {e.example_id: e for e in store.iter_examples(info.dataset_id) if e.example_id in todo_ids
                or (e.example_id not in flagged and confidences.get(e.example_id) is not None)}
    todo = [examples[i] for i in sorted(todo_ids)]
    use_demos = config.correct.candidate_llm(config.llm) is None
    pool_ids = sorted((i for i in examples if i not in flagged), key=lambda i: -confidences[i])[:DEMO_POOL]
    pool = [examples[i] for i in pool_ids]
    eta, allowed = config.correct.eta, config.correct.auto_apply
    size = judge_client.items_per_batch(2)  # a candidate, then the judge's two orders
    for start in range(0, len(todo), size):
        if should_stop is not None and should_stop():
            result.stopped = "cancelled"
            break
        batch = todo[start:start + size]
        requests = [candidate_request(e, nearest_demonstrations(e, pool, config.correct.few_shot) if use_demos else [],
                                      config) for e in batch]
        drafted = candidates.complete_many(requests)
        if any(isinstance(o, BudgetExceededError) for o in drafted):
            result.stopped = "budget"
            break
        judged_examples = [(e, o[0].text.strip()) for e, o in zip(batch, drafted) if not isinstance(o, LLMError)]
        to_judge = [(e, c) for e, c in judged_examples if c and not cmath.answers_match(c, e.response)]
        verdict_requests = [r for e, c in to_judge for r in judge_requests(e, c, config)]
        verdicts = judge_client.complete_many(verdict_requests)
        if any(isinstance(o, BudgetExceededError) for o in verdicts):
            result.stopped = "budget"
            break
        verdict_of = {e.example_id: (verdicts[2 * i], verdicts[2 * i + 1]) for i, (e, _) in enumerate(to_judge)}
        for example, outcome in zip(batch, drafted):
            _record(store, info, example, outcome, verdict_of.get(example.example_id), run_id=run_id, eta=eta,
                    allowed=allowed, result=result)
            if on_progress is not None:
                on_progress(result.proposed + result.unchanged + result.failed, len(todo), result.failed)
    return result


def _record(store: Store, info: DatasetInfo, example: Example, drafted: list[ChatResult] | LLMError,
            verdict: tuple | None, *, run_id: str, eta: float, allowed: bool, result: CorrectResult) -> None:
    common = {"dataset_id": info.dataset_id, "example_id": example.example_id, "run_id": run_id}
    error = drafted if isinstance(drafted, LLMError) else next(
        (v for v in verdict or () if isinstance(v, LLMError)), None)
    if error is not None:
        store.save_proposal(**common, candidate="", judge_confidence=None, verdicts=[], auto_applied=False,
                            status="failed", error=str(error))
        result.failed += 1
        return
    candidate = drafted[0].text.strip()
    if verdict is None:  # empty, or the same answer as the original: nothing to propose
        store.save_proposal(**common, candidate=candidate, judge_confidence=None, verdicts=[], auto_applied=False,
                            status="same")
        result.unchanged += 1
        return
    conf, verdicts = judge(verdict[0][0], verdict[1][0])
    applied = allowed and conf >= eta
    store.save_proposal(**common, candidate=candidate, judge_confidence=conf, verdicts=verdicts,
                        auto_applied=applied)
    result.proposed += 1
    result.auto_applied += applied
