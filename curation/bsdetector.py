"""BSDetector's calls for one example (pure): the samples, the self-reflection questions, and
how many samples adaptive k still wants.

In: an :class:`~curation.records.Example` and the :class:`~curation.config.Config`. Out:
:class:`~curation.llm.base.ChatRequest` objects (the scoring stage sends them) and the
reflections read back as they were asked. The questions and templates themselves are
:mod:`curation.prompts`; the maths of the answers, :mod:`curation.confidence`.
"""

from __future__ import annotations

from curation import confidence as cmath
from curation import parsers, prompts
from curation.config import Config
from curation.llm.base import ChatRequest, ChatResult
from curation.records import Example

#: Tokens for a letter-first reflection after the first: ``answer: X`` and no explanation.
#: The score is read from the letter's probabilities, so it equals that of a longer reply;
#: only the first question's explanation is kept (about 1 s a question on the CPU model).
LETTER_ONLY_TOKENS = 5
#: Adaptive k: after k samples, the share of them matching the response that counts as a
#: split (no clear majority either way), worth up to ``k_max`` samples.
SPLIT_SHARE = (0.4, 0.6)


def sample_request(example: Example, config: Config, *, first: int, count: int, opening: str = "") -> ChatRequest:
    """Samples ``first`` .. ``first + count - 1`` of ``example``. Answer-first samples begin
    (``scoring.answer_prefix``) with the template's label, or with the dataset's JSON
    ``opening`` where its responses are JSON (:func:`curation.signals.json_opening`): after
    the label a model told to reply in JSON left that format for prose (support tickets:
    consistency AUROC 0.53 -> 0.44), and the JSON reply itself is the answer. The opening
    runs up to the first value (``{"intent": "``): after ``{`` alone the model wrote keys
    and values without quotes, so no sample matched a ticket exactly."""
    s = config.scoring
    answer_first = s.sample_style == "answer_first"
    prefix = (opening or prompts.ANSWER_FIRST_PREFIX) if samples_prefixed(config) else ""
    return ChatRequest(
        messages=prompts.build_sampling_messages(example.prompt, answer_first=answer_first),
        temperature=s.temperature,
        max_tokens=s.max_tokens,
        stop=prompts.ANSWER_FIRST_STOP if answer_first else (),
        reply_prefix=prefix,
        n=count,
        sample_index=first,
    )


def samples_prefixed(config: Config) -> bool:
    """Whether samples begin with a reply prefix (:func:`sample_request`): answer-first ones
    with ``scoring.answer_prefix`` on."""
    return config.scoring.sample_style == "answer_first" and config.scoring.answer_prefix


def reflection_requests(example: Example, config: Config) -> list[ChatRequest]:
    s = config.scoring
    return [
        ChatRequest(
            messages=prompts.build_reflection_messages(
                example.prompt,
                example.response,
                question=q,
                letter_first=s.letter_first,
                follow_up=s.reflection_style == "follow_up",
                swapped=reflection_swapped(q, config),
            ),
            temperature=0.0,
            max_tokens=reflection_tokens(q, config),
            top_logprobs=s.top_logprobs,
        )
        for q in range(1, s.reflection_prompts + 1)
    ]


def reflection_swapped(question: int, config: Config) -> bool:
    """Whether reflection ``question`` (1-based) offers the swapped choices: the second one of
    a ``balanced`` reflection."""
    return question == 2 and config.scoring.reflection_order == "balanced"


def read_reflections(replies: list[ChatResult], config: Config) -> list[parsers.Reflection]:
    """The reflection replies (in question order) read as :func:`reflection_requests` asked them."""
    return [
        parsers.parse_reflection(r.text, r.top_logprobs, swapped=reflection_swapped(q, config))
        for q, r in enumerate(replies, start=1)
    ]


def reflection_tokens(question: int, config: Config) -> int:
    """Token cap of reflection ``question`` (1-based): the first keeps its explanation; later
    letter-first ones read only the letter when log-probabilities carry the score."""
    s = config.scoring
    if question == 1 or not s.letter_first or not s.top_logprobs:
        return s.reflection_max_tokens
    return min(s.reflection_max_tokens, LETTER_ONLY_TOKENS)


def first_sample_count(config: Config) -> int:
    s = config.scoring
    return min(s.k, s.early_stop_after) if s.early_stop else s.k


def samples_wanted(answers: list[str], reference: str, config: Config) -> int:
    """Adaptive k: how many more samples to draw after ``answers``. None once they settle it
    (all agree with the reference, or all with each other against it: early stop); up to k
    while unsettled; up to ``k_max`` when the k split (a share in :data:`SPLIT_SHARE` matches)."""
    s = config.scoring
    n = len(answers)
    if not s.early_stop:
        return max(0, s.k - n)
    matches = [cmath.answers_match(a, reference) for a in answers]
    if n and (all(matches) or (not any(matches) and all(cmath.answers_match(a, answers[0]) for a in answers))):
        return 0
    if n < s.k:
        return s.k - n
    share = sum(matches) / n if n else 0.0
    return max(0, s.k_max - n) if SPLIT_SHARE[0] <= share <= SPLIT_SHARE[1] else 0
