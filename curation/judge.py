"""The paper's LLM judge for Auto-Correct: is the candidate better than the recorded response?

Asked in both orders (candidate second, then first) so that a preference for a position
cancels (:func:`curation.confidence.judge_confidence`); a judge that picks the same position
twice says nothing about the responses (:func:`same_position`).
"""

from __future__ import annotations

from curation import confidence as cmath
from curation import contest, parsers, prompts
from curation.config import Config
from curation.errors import BudgetExceededError, LLMError
from curation.llm.base import ChatRequest, ChatResult
from curation.llm.client import LLMClient
from curation.records import Example


def judge_requests(example: Example, candidate: str, config: Config) -> tuple[ChatRequest, ChatRequest]:
    """Two judge calls: (original, candidate) and (candidate, original)."""

    def ask(first: str, second: str) -> ChatRequest:
        return ChatRequest(
            messages=prompts.build_judge_messages(example.prompt, first, second, letter_first=True),
            temperature=0.0,
            max_tokens=config.correct.judge_max_tokens,
            top_logprobs=config.scoring.top_logprobs,
        )

    return ask(example.response, candidate), ask(candidate, example.response)


def judge(candidate_second: ChatResult, candidate_first: ChatResult) -> tuple[float, list[dict]]:
    """The judge's confidence that the candidate is better, and both verdicts (pure)."""
    a = parsers.parse_judge(candidate_second.text, candidate_second.top_logprobs)
    b = parsers.parse_judge(candidate_first.text, candidate_first.top_logprobs)
    verdicts = [
        {
            "order": "candidate_second",
            "p": round(a.p_second_better, 4),
            "verdict": a.verdict,
            "explanation": a.explanation,
            "parsed": a.parsed,
        },
        {
            "order": "candidate_first",
            "p": round(b.p_second_better, 4),
            "verdict": b.verdict,
            "explanation": b.explanation,
            "parsed": b.parsed,
        },
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


def ask_judge(
    client: LLMClient, batch: list[Example], contests: list[contest.Contest], config: Config
) -> list[tuple | LLMError | None]:
    """Per example, the LLM judge's two replies on the best candidate (None when not asked)."""
    if config.correct.judge == "contest":
        return [None] * len(batch)
    asked = [(i, e) for i, (e, r) in enumerate(zip(batch, contests)) if r.candidates]
    replies = client.complete_many(
        [q for i, e in asked for q in judge_requests(e, contests[i].candidates[0].text, config)]
    )
    if any(isinstance(o, BudgetExceededError) for o in replies):
        raise BudgetExceededError("budget reached")
    out: list[tuple | LLMError | None] = [None] * len(batch)
    for n, (i, _) in enumerate(asked):
        pair = replies[2 * n : 2 * n + 2]
        error = next((o for o in pair if isinstance(o, LLMError)), None)
        out[i] = error if error is not None else (pair[0][0], pair[1][0])
    return out
