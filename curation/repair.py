"""Repairs of a response (pure): the same content with its broken form taken away, or its
wrong arithmetic recomputed.

In: a recorded response (and whether its dataset ends worked answers on a ``#### N`` line).
Out: the distinct repaired texts, each keeping the response's words. A response whose form
broke while its content stayed right (a chat template's tokens left around it, HTML
around a plain answer, a JSON wrapper, JSON with single quotes, bare values or a trailing
comma, a final answer line in another form) is best corrected by its own content in a sound
form: a model's fresh answer would change what the dataset's author wrote. Auto-Correct
offers them as candidates (source ``repair``) and the contest scores them like every other
one: in a dataset whose responses are HTML, the stripped text loses on format.

A response that states a wrong equation (``16 + 6 = 24``) keeps its plan and gets the
arithmetic's result instead, carried to where it uses that result again (a later step's
operand, the ``#### N`` line): :func:`recompute`. The plan is the author's, the arithmetic is
checked, so no model's judgement enters it.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable

from curation import arithmetic
from curation import confidence as cmath
from curation.injection import TEMPLATE_TOKEN, markers

_ROLE = re.compile(r"^\s*(?:assistant|model|gpt|bot)\b[:\s]*", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
#: Keys under which a JSON wrapper holds the answer itself.
_ANSWER_KEYS = ("content", "answer", "response", "output", "text", "completion")
_WRAPPED = re.compile(r'^\s*\{.*?"(?:' + "|".join(_ANSWER_KEYS) + r')"\s*:\s*("(?:[^"\\]|\\.)*")', re.DOTALL)
_BARE_VALUE = re.compile(r"(:\s*)([A-Za-z_][\w.-]*)(\s*[,}\]])")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
#: A last line that announces the answer (a cut-off step is not one).
_ANSWER_LINE = re.compile(r"^\s*(?:#+\s*)?-?\$?\d[\d,.]*\s*$|\b(?:answer|final|result)\b", re.IGNORECASE)


def strip_template(text: str) -> str:
    """The first turn's text without template tokens: ``<|im_start|>assistant X<|im_end|>...``
    and ``X</s><s>[INST] ...`` give ``X``."""
    if not TEMPLATE_TOKEN.search(text):
        return text
    parts = [p for p in TEMPLATE_TOKEN.split(text) if p.strip()]
    return _ROLE.sub("", parts[0]).strip() if parts else text


def strip_markup(text: str) -> str:
    """Text taken out of the HTML that wraps it (``<div><p>Cairo.</p></div>`` gives
    ``Cairo.``); unchanged when no tag opens or closes it (a ``<s>`` inside prose stays)."""
    stripped = text.strip()
    if not (_TAG.match(stripped) or (stripped.endswith(">") and _TAG.search(stripped[-60:]))):
        return text
    return re.sub(r"\s+", " ", html.unescape(_TAG.sub(" ", text))).strip()


def unwrap_json(text: str) -> str:
    """The answer a JSON wrapper holds (``{"answer": "1956"}``, or ``{"role": "assistant",
    "content": "..."`` cut before its brace); unchanged otherwise."""
    match = _WRAPPED.match(text)
    if not match:
        return text
    try:
        return json.loads(match.group(1)).strip()
    except ValueError:
        return text


def fix_json(text: str) -> str:
    """JSON written loosely, made valid: single quotes, bare word values, a trailing comma
    (``{"intent": refund_request,}`` gives ``{"intent": "refund_request"}``); unchanged when
    it parses already or still does not."""
    stripped = text.strip()
    if stripped[:1] not in "{[":
        return text
    try:
        json.loads(stripped)
        return text
    except ValueError:
        pass
    fixed = stripped.replace("'", '"') if '"' not in stripped else stripped
    fixed = _TRAILING_COMMA.sub(r"\1", _BARE_VALUE.sub(r'\1"\2"\3', fixed))
    try:
        value = json.loads(fixed)
    except ValueError:
        return text
    return json.dumps(value, ensure_ascii=False)


def final_line(text: str) -> str:
    """A worked answer's last line in the ``#### N`` form when it announces one number another
    way (``The answer is 16.``, ``## 16``); unchanged otherwise (a cut-off step is no answer)."""
    head, _, last = text.rstrip().rpartition("\n")
    if not head or last.lstrip().startswith("#### ") or not _ANSWER_LINE.search(last):
        return text
    numbers = re.findall(r"-?\$?\d[\d,]*(?:\.\d+)?", last)
    if len(numbers) != 1 or cmath.final_number(text) is not None:
        return text
    return f"{head}\n#### {numbers[0].lstrip('$').replace(',', '')}"


_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")
#: A number used as an operand: an operator next to it.
_OPERATOR = r"(?:[-+*/×÷]|\b(?:times|plus|minus|multiplied by|divided by)\b)"
#: At most this many wrong equations are recomputed in one response.
RECOMPUTE_STEPS = 8


def _standalone(literal: str) -> re.Pattern:
    return re.compile(rf"(?<![\w.,$]){re.escape(literal)}(?![\w%]|[.,]\d)")


def _uses(tail: str, literal: str) -> list[re.Match]:
    """Where ``tail`` uses the number ``literal`` again: as an operand or on the final line."""
    found = []
    for m in _standalone(literal).finditer(tail):
        line_start = tail.rfind("\n", 0, m.start()) + 1
        before, after = tail[line_start : m.start()], tail[m.end() :]
        if (
            tail[line_start:].lstrip().startswith("####")
            or re.search(_OPERATOR + r"\s*\$?$", before)
            or re.match(r"\s*" + _OPERATOR, after)
        ):
            found.append(m)
    return found


def recompute(text: str, prompt: str = "") -> str:
    """``text`` with each wrong equation's result replaced by what its arithmetic gives
    (:mod:`curation.arithmetic`; ``16 + 6 = 24`` -> ``16 + 6 = 22``), first to last, and the
    old result replaced where a later step uses it as an operand or the ``#### N`` line gives
    it. Unchanged when a result cannot be written at the stated precision, or when the old
    result also stands in ``prompt`` or earlier in ``text`` (a later ``6`` could be either)
    and a later use would need replacing, or when an equation still fails afterwards."""
    fixed = text
    for _ in range(RECOMPUTE_STEPS):
        wrong = arithmetic.wrong(fixed)
        if not wrong:
            return fixed
        eq = wrong[0]
        start = fixed.find(eq.text)
        stated = list(_NUMBER.finditer(eq.text))
        if start < 0 or not stated or (eq.decimals == 0 and not float(eq.computed).is_integer()):
            return text
        old = stated[-1].group(0).lstrip("$")
        new = f"{eq.computed:{',' if ',' in old else ''}.{eq.decimals}f}"
        end = start + len(eq.text)
        tail = fixed[end:]
        forms = {old, old.replace(",", "")}  # "1,600" and the "#### 1600" that repeats it
        uses = sorted((m for form in forms for m in _uses(tail, form)), key=lambda m: m.start())
        if uses and any(_standalone(form).search(f"{prompt}\n{fixed[:start]}") for form in forms):
            return text
        for m in reversed(uses):
            tail = tail[: m.start()] + (new if "," in m.group(0) else new.replace(",", "")) + tail[m.end() :]
        cut = stated[-1].end()
        fixed = fixed[: start + cut - len(old)] + new + fixed[start + cut : end] + tail
    return text


_REPAIRS: tuple[Callable[[str], str], ...] = (strip_template, strip_markup, unwrap_json, fix_json)


def repairs(response: str, *, reasoning: bool = False, prompt: str = "") -> list[str]:
    """Every distinct repair of ``response`` (the repairs above applied in turn, each kept
    when it changed the text; :func:`recompute` last, against ``prompt``), without the
    response itself, an empty text or one that still carries an injection marker
    (:func:`curation.injection.markers`): a repair keeps the response's words, and words
    aimed at a grader are no content to keep."""
    steps = (*_REPAIRS, final_line) if reasoning else _REPAIRS
    steps = (*steps, lambda t: recompute(t, prompt))
    out: list[str] = []
    text = response.strip()
    for step in steps:
        repaired = step(text).strip()
        if repaired and repaired != text:
            text = repaired
            if repaired not in out and repaired != response.strip() and not markers(repaired):
                out.append(repaired)
    return out


__all__ = ["strip_template", "strip_markup", "unwrap_json", "fix_json", "final_line", "recompute", "repairs"]
