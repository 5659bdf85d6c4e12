"""A scripted "competent model" for :class:`benchmarks.support.fake_openai.FakeOpenAIServer`.

It knows arithmetic: every question of the form ``What is A + B?`` has the right answer
``A + B``, and it answers each kind of request the library sends the way a good model would:

- sampling prompts (the "explanation: ... answer:" template): ``explanation: ..., answer: <sum>``;
- self-reflection prompts (``<proposed_answer>`` block): the letter of "Correct" when the
  proposed answer is the right sum, else the letter of "Incorrect" (A and B in the paper's
  order; the other way round when the question offers the swapped choices);
- judge prompts (``<response_1>`` / ``<response_2>`` blocks): prefers the response holding the
  right sum (``answer: A`` when response 2 is right and response 1 is not, ``answer: B`` the
  other way round, ``answer: C`` otherwise);
- anything else is a candidate request: the right sum of the last user turn.

It reads data blocks only up to their *real* closing tag, as a model that respects the
fences would. Two knobs give intermediate confidences: ``unsure`` (questions whose
reflections answer C) and ``hedge`` (questions where the judge answers C when the candidate
comes first). Usage::

    model = ArithmeticModel()
    with FakeOpenAIServer(reply=model) as server: ...
"""

from __future__ import annotations

import json
import re
from collections import Counter
from threading import Lock

SAMPLE, REFLECTION, JUDGE, CANDIDATE = "sample", "reflection", "judge", "candidate"
_SUM = re.compile(r"What is (-?\d+) \+ (-?\d+)\?")
_CHOICE = re.compile(r"^\(([AB])\) (Correct|Incorrect)$", re.MULTILINE)
_SAMPLING_MARK = "explanation: [insert step-by-step analysis]"


def right_sum(text: str) -> int | None:
    """The right answer to the first ``What is A + B?`` in ``text``, or None."""
    m = _SUM.search(text)
    return int(m.group(1)) + int(m.group(2)) if m else None


def question_of(text: str) -> str | None:
    """The first ``What is A + B?`` in ``text`` (the key the knobs use)."""
    m = _SUM.search(text)
    return m.group(0) if m else None


def block(text: str, tag: str) -> str | None:
    """The content of the ``<tag>`` data block, up to its real closing tag."""
    m = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL)
    return m.group(1) if m else None


def kind_of(request: dict) -> str:
    """Which judgement a chat request (its JSON body) asks for."""
    content = request["messages"][-1]["content"]
    if "<response_1>" in content:
        return JUDGE
    if "<proposed_answer>" in content:
        return REFLECTION
    if _SAMPLING_MARK in content:
        return SAMPLE
    return CANDIDATE


def request_text(request: dict) -> str:
    return "\n".join(str(m.get("content", "")) for m in request["messages"])


class ArithmeticModel:
    """A reply function ``request_json -> text`` that answers arithmetic questions right.

    Args:
        unsure: questions (``"What is 3 + 4?"``) whose reflections answer C (not sure).
        hedge: questions where the judge answers C when the candidate is response 1.
    Attributes:
        kinds: how many replies of each kind were written.
    """

    def __init__(self, *, unsure: tuple[str, ...] = (), hedge: tuple[str, ...] = ()) -> None:
        self.unsure = frozenset(unsure)
        self.hedge = frozenset(hedge)
        self.kinds: Counter[str] = Counter()
        self._lock = Lock()

    def __call__(self, request: dict) -> str:
        kind = kind_of(request)
        with self._lock:
            self.kinds[kind] += 1
        content = request["messages"][-1]["content"]
        if kind == JUDGE:
            return self._judge(content)
        if kind == REFLECTION:
            return self._reflect(content)
        total = right_sum(content)
        if total is None:
            return "explanation: I cannot tell, answer: unknown" if kind == SAMPLE else "unknown"
        if kind == SAMPLE:
            return f"explanation: adding the two numbers gives {total}, answer: {total}"
        return str(total)

    def _reflect(self, content: str) -> str:
        question = block(content, "question") or ""
        proposed = (block(content, "proposed_answer") or "").strip()
        if question_of(question) in self.unsure:
            return "answer: C, explanation: I am not sure."
        offered = content.rsplit("</proposed_answer>", 1)[-1]  # the choices, after the real data block
        choices = {word: letter for letter, word in _CHOICE.findall(offered)}
        if proposed == str(right_sum(question)):
            return f"answer: {choices['Correct']}, explanation: the sum is right."
        return f"answer: {choices['Incorrect']}, explanation: the sum is wrong."

    def _judge(self, content: str) -> str:
        question = block(content, "question") or ""
        total = str(right_sum(question))
        first_right = (block(content, "response_1") or "").strip() == total
        second_right = (block(content, "response_2") or "").strip() == total
        if first_right and question_of(question) in self.hedge:
            return "answer: C, explanation: hard to say."
        if second_right and not first_right:
            return "answer: A, explanation: response 2 has the right sum."
        if first_right and not second_right:
            return "answer: B, explanation: response 1 has the right sum."
        return "answer: C, explanation: neither is better."


# -- a tiny arithmetic dataset, two of whose responses are wrong ---------------------------
#: ``(id, question, response)``; ``q3`` and ``q6`` are wrong (2 + 2 is 4, 12 + 30 is 42).
ARITHMETIC = (
    ("q1", "What is 3 + 4?", "7"),
    ("q2", "What is 10 + 5?", "15"),
    ("q3", "What is 2 + 2?", "5"),
    ("q4", "What is 6 + 7?", "13"),
    ("q5", "What is 9 + 9?", "18"),
    ("q6", "What is 12 + 30?", "40"),
    ("q7", "What is 1 + 8?", "9"),
    ("q8", "What is 20 + 21?", "41"),
)
WRONG = {"q3": "4", "q6": "42"}


def write_records(path, records=ARITHMETIC) -> None:
    """Write ``(id, prompt, response)`` triples as prompt/response JSONL."""
    with open(path, "w", encoding="utf-8") as f:
        for example_id, prompt, response in records:
            f.write(json.dumps({"id": example_id, "prompt": prompt, "response": response}) + "\n")


def openai_overrides(base_url: str, key_env: str, **more) -> dict:
    """Config overrides for the ``openai`` backend on the fake server, with tiny backoff; an
    endpoint without likelihoods, as the scripted model is (tests/test_prompt_logprobs.py
    covers the ones with them), so that request counts hold no probe for them."""
    return {
        "llm.backend": "openai",
        "llm.model": "fake-model",
        "llm.base_url": base_url,
        "llm.api_key_env": key_env,
        "llm.backoff_base_s": 0.001,
        "llm.backoff_max_s": 0.002,
        "llm.max_attempts": 2,
        "llm.timeout_s": 10.0,
        "llm.prompt_logprobs": "off",
        **more,
    }
