"""Arithmetic a response states, checked (pure): ``12 + 9 = 22`` is wrong whatever the task.

In: a response's text. Out: each equation it states whose two sides can be computed, with
the value it states and the value the arithmetic gives. A worked solution with a wrong step
(GSM8K-style ``Change: 50 - 15 = 33 dollars.``) or a chat answer ``8 times 9 is 70.`` states
an equation whose sides differ; a calculator check of such steps is the oldest verifier of
math training data.

What counts as an equation, to stay clear of prose that only looks like one:

- an ``=`` (not ``==``, ``<=``, ``>=``, ``!=``, ``=>``, ``+=``) between an expression of
  numbers with at least one operator (``+ - * / × ÷``, or `` x `` between spaces) and a
  number or expression: the left side is the longest run of numbers and operators that ends
  at the ``=`` on its line, the right side the run that starts after it;
- ``is``/``equals`` after numbers joined by the words ``plus``, ``minus``, ``times``,
  ``multiplied by`` and ``divided by`` or by ``+ * × ÷`` (not ``-`` or ``/``, which write ranges
  and dates in prose);
- a number glued to a letter (``2x``, ``5kg``), a percent sign, a power or a factorial next to
  a side drops the equation: its value is not plain arithmetic.

A stated value matches at its own precision: a whole result exactly, a fraction rounded or
cut at the stated decimals (``10 / 3 = 3.33``, ``2 / 3 = 0.66``, ``20 / 3 = 6 bags``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

_NUMBER = r"\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_TOKEN = re.compile(
    rf"(?P<num>(?<![\w.,]){_NUMBER}(?![\w%!^]|\.\d|,\d))"
    r"|(?P<rel>(?<![=<>!+\-*/])=(?![=>])|\b(?:is|equals)\b)"
    r"|(?P<op>[+*×÷/()-]|(?<=\s)[xX](?=\s)|\b(?:plus|minus|times|multiplied by|divided by)\b)"
    r"|(?P<space>[ \t]+)"
    r"|(?P<other>\S)",
)
_WORD_OPS = {"plus": "+", "minus": "-", "times": "*", "multiplied by": "*", "divided by": "/"}
_SYMBOL_OPS = {"×": "*", "÷": "/", "x": "*", "X": "*"}
_APPLY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
#: Operators prose uses for other things (ranges, dates): not read before ``is``/``equals``.
_PROSE_AMBIGUOUS = {"-", "/"}


@dataclass(frozen=True)
class Equation:
    """One stated equation: its text, the value it states (with its decimals) and the value
    its arithmetic gives."""

    text: str
    stated: float
    computed: float
    decimals: int = 0

    @property
    def holds(self) -> bool:
        """Equal at the stated precision: a whole result exactly, a fraction rounded or cut at
        the stated decimals (``2 / 3 = 0.67`` or ``0.66``; ``20 / 3 = 6 bags``)."""
        unit = 10.0**-self.decimals
        slack = 0.5 * unit if float(self.computed).is_integer() else unit
        return abs(self.stated - self.computed) < slack + 1e-9 * max(1.0, abs(self.computed))


def _evaluate(tokens: list[tuple[str, str]]) -> float | None:
    """The value of ``tokens`` (numbers, operators, parentheses) by the usual precedence, or
    None when they do not form one expression or divide by zero."""
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom() -> float | None:
        token = peek()
        if token is None:
            return None
        kind, value = take()
        if kind == "num":
            return float(value.lstrip("$").replace(",", ""))
        if value == "-":
            inner = atom()
            return None if inner is None else -inner
        if value == "(":
            inner = total()
            if inner is None or peek() != ("op", ")"):
                return None
            take()
            return inner
        return None

    def chain(operand: Callable[[], float | None], ops: str) -> float | None:
        """Operands joined by the left-associative ``ops`` of one precedence level."""
        left = operand()
        while left is not None and peek() in [("op", op) for op in ops]:
            _, op = take()
            right = operand()
            if right is None or (op == "/" and right == 0):
                return None
            left = _APPLY[op](left, right)
        return left

    def product() -> float | None:
        return chain(atom, "*/")

    def total() -> float | None:
        return chain(product, "+-")

    value = total()
    return value if value is not None and pos == len(tokens) else None


_Token = tuple[str, str, str, int, int]  # kind, normalised value, source text, start, end


def _lines(text: str) -> list[tuple[str, list[_Token]]]:
    """Each line with its tokens, spaces dropped."""
    out = []
    for line in text.splitlines():
        tokens = []
        for m in _TOKEN.finditer(line):
            kind, raw = m.lastgroup, m.group(0)
            if kind != "space":
                value = raw.lower() if kind == "rel" else _WORD_OPS.get(raw, _SYMBOL_OPS.get(raw, raw))
                tokens.append((kind, value, raw, m.start(), m.end()))
        out.append((line, tokens))
    return out


def _run(tokens: list[_Token], start: int, step: int) -> int:
    """Index one past the run of number/operator tokens from ``start`` going ``step`` (±1)."""
    i = start
    while 0 <= i < len(tokens) and tokens[i][0] in ("num", "op"):
        i += step
    return i


def _balanced(side: list[_Token]) -> list[_Token]:
    """``side`` without an opening parenthesis that starts it or a closing one that ends it
    unmatched: ``(5 + 3 = 8)``."""
    depth = sum(1 if t[1] == "(" else -1 if t[1] == ")" else 0 for t in side)
    if depth > 0 and side and side[0][1] == "(":
        return side[1:]
    if depth < 0 and side and side[-1][1] == ")":
        return side[:-1]
    return side


def _glued(line: str, start: int, end: int) -> bool:
    """Whether the run at ``line[start:end]`` is part of a larger token (``10:30``, ``a-5``);
    GSM8K's calculator marks (``<<48/2=24>>``) are not."""
    before = line[start - 1] if start > 0 else " "
    after = line[end : end + 2]
    return not (before.isspace() or before in "([\"'<") or bool(re.match(r"[:/^%!]|[-.,]\d", after))


def _value(side: list[_Token]) -> float | None:
    return _evaluate([(t[0], t[1]) for t in side])


def equations(text: str) -> list[Equation]:
    """Every equation ``text`` states that can be computed (see the module docstring)."""
    found = []
    for line, tokens in _lines(text):
        for r, (kind, rel, *_) in enumerate(tokens):
            if kind != "rel":
                continue
            left = _balanced(tokens[_run(tokens, r - 1, -1) + 1 : r])
            right = _balanced(tokens[r + 1 : _run(tokens, r + 1, 1)])
            ops = {t[1] for t in left if t[0] == "op" and t[1] not in "()"}
            if not ops or sum(t[0] == "num" for t in left) < 2 or not right:
                continue
            if rel != "=" and any(t[2] in _PROSE_AMBIGUOUS for t in left):
                continue
            stated = _value(right)
            if stated is None:  # "= 14 dollars" reads 14; "= 2 * 7 = 14" the whole run
                right = right[:1]
                stated = _value(right)
            computed = _value(left)
            if stated is None or computed is None or _glued(line, left[0][3], right[-1][4]):
                continue
            number = right[-1][2] if right[-1][0] == "num" else ""
            decimals = len(number.split(".")[1]) if "." in number else 0
            found.append(Equation(line[left[0][3] : right[-1][4]], stated, computed, decimals))
    return found


def wrong(text: str) -> list[Equation]:
    """The equations ``text`` states whose sides differ."""
    return [e for e in equations(text) if not e.holds]


__all__ = ["Equation", "equations", "wrong"]
