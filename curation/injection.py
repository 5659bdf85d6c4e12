"""Injection markers: text in an example that speaks to a model or grader instead of the user.

A fine-tuning example whose response (or prompt) carries a chat template's control tokens,
role markers, the closing tag of an evaluator's data fence, an order to ignore instructions
or a rubric, a line addressed to the grader, a claim that the example was checked and found
correct, or a verdict line for a grader is bad training data whatever the task, and it is
the text an attacker would add to steer the self-reflection or the judge. The rule signal
here flags it for review rather than letting the LLM part of the confidence decide.

Each marker kind multiplies the score (1 = nothing found) by its :data:`MULTIPLIERS` entry,
once per kind. A kind found in at least :data:`COMMON_SHARE` of a dataset's examples is that
dataset's style (role labels in written dialogues, ``answer: A`` in multiple-choice data,
XML-tagged prompts, a template token left on every row) rather than an attack on a few rows,
and does not count. Prompts are checked for the kinds of :data:`PROMPT_KINDS`, and for role
lines only when the role is ``system``: a question may fairly quote a dialogue or ask for a
letter, but has no business giving the grader a system turn. Pure: text in,
:class:`~curation.signals.SignalScore` out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from curation.prompts import TAG_LOOKALIKE
from curation.signals import MIN_ROWS, SignalScore

#: What each marker kind multiplies the score by.
MULTIPLIERS = {"template": 0.2, "fence": 0.2, "override": 0.3, "role": 0.4, "verdict": 0.4}
#: A kind in at least this share of a dataset's examples (of MIN_ROWS or more) does not count.
COMMON_SHARE = 0.2
#: Kinds looked for in the prompt as well as in the response.
PROMPT_KINDS = ("template", "fence", "override")

#: A chat template's control tokens and turn markers (Llama, ChatML, Gemma, Mistral); ``</s>``
#: only where it ends the text or a turn: ``<s>…</s>`` is also HTML strikethrough.
TEMPLATE_TOKEN = re.compile(
    r"<\|[a-z_]{2,30}\|>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>|</s>(?=\s*(?:$|<|\[))|<s>\s*\[", re.IGNORECASE
)
_ROLE_LINE = r"^[ \t]*(?:#{{1,6}}[ \t]*|\*\*)?(?:{roles})\**[ \t]*:"
_SYSTEM_LINE = re.compile(_ROLE_LINE.format(roles="system"), re.IGNORECASE | re.MULTILINE)
_PATTERNS = {
    "template": TEMPLATE_TOKEN,
    "fence": TAG_LOOKALIKE,
    "override": re.compile(
        r"\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}?\b(?:previous|prior|above|earlier|preceding|"
        r"original|system)\s+(?:instructions?|prompts?|rules|messages?|directions)\b"
        r"|\b(?:ignore|disregard|forget)\s+(?:your|the|all|any)\s+(?:grading\s+|scoring\s+|evaluation\s+)?"
        r"(?:rubrics?|criteria|guidelines)\b"
        r"|\bsystem\s+override\b|\b(?:grading|evaluation|judge|developer|admin)\s+mode\b"
        r"|\bnote\s+to\s+the\s+(?:evaluator|grader|judge|reviewer|assessor|model|ai)\b"
        r"|\b(?:the\s+)?(?:evaluator|grader|judge|reviewer|assessor)\s+(?:must|should|has\s+to|is\s+required\s+to)\b"
        # a line or an aside that opens by addressing the grader: "Evaluators: ...", "(Dear grader, ..."
        r"|(?:^|\()[ \t]*(?:dear[ \t]+|to[ \t]+the[ \t]+)?"
        r"(?:evaluator|grader|judge|reviewer|assessor|annotator|rater)s?[ \t]*[:,]"
        # a claim that the example itself was checked and found right
        r"|\b(?:this|the)\s+(?:response|answer|reply|output|label)\b[^.\n]{0,30}?"
        r"\b(?:verified|confirmed|checked|validated|graded|marked)\b[^.\n]{0,20}?\b(?:correct|right|accurate|valid)\b",
        re.IGNORECASE | re.MULTILINE,
    ),
    "role": re.compile(_ROLE_LINE.format(roles="system|assistant|user|human"), re.IGNORECASE | re.MULTILINE),
    "verdict": re.compile(
        r"^[ \t\"'{,]*(?i:(?:final[ \t]+)?(?:answer|verdict|choice|grade|rating))[\"']?[ \t]*[:=]"
        r"[ \t]*[\"'(\[]?[A-D]\b(?![ \t]*[a-z])"
        r"|(?i:\bcorrect\s+(?:choice|option|letter|answer)\s+is)\s*:?\s*\(?[A-D]\)"
        r"|(?i:\b(?:choose|select|pick|reply\s+with|respond\s+with|output))\s*:?\s*\(?[A-D]\)"
        r"|(?i:\"(?:verdict|correct)\")\s*:",
        re.MULTILINE,
    ),
}


def markers(text: str) -> dict[str, str]:
    """The marker kinds found in ``text``, each with the first match (as written)."""
    found = {}
    for kind, pattern in _PATTERNS.items():
        match = pattern.search(text)
        if match:
            found[kind] = match.group(0).strip()
    return found


def _prompt_markers(text: str) -> dict[str, str]:
    found = {k: v for k, v in markers(text).items() if k in PROMPT_KINDS}
    system = _SYSTEM_LINE.search(text)
    if system:
        found["role"] = system.group(0).strip()
    return found


def injection_scores(prompts: Sequence[str], responses: Sequence[str]) -> list[SignalScore]:
    """Score each example (its prompt's message texts and its response) for injection markers.

    Args:
        prompts: per example, the prompt's message contents joined (no role labels added).
        responses: per example, the response.
    Returns:
        One :class:`SignalScore` per example: the product of the multipliers of the kinds
        found, with a reason naming each kind, where it was found and the text.
    Raises:
        ValueError: ``prompts`` and ``responses`` differ in length.
    """
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses: they must pair")
    found = [(_prompt_markers(p), markers(r)) for p, r in zip(prompts, responses)]
    common = {
        kind
        for kind in MULTIPLIERS
        if len(found) >= MIN_ROWS and sum(kind in p or kind in r for p, r in found) >= COMMON_SHARE * len(found)
    }
    out = []
    for in_prompt, in_response in found:
        score, reasons = 1.0, []
        for kind, multiplier in MULTIPLIERS.items():
            if kind in common:
                continue
            where = [
                (part, marks[kind])
                for part, marks in (("response", in_response), ("prompt", in_prompt))
                if kind in marks
            ]
            if where:
                score *= multiplier
                reasons.append(
                    f"{kind} marker in the " + " and the ".join(f"{part} ({text[:40]!r})" for part, text in where)
                )
        out.append(SignalScore(score, tuple(reasons)))
    return out
