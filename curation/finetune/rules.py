"""A fine-tuning file against the provider's rules: every problem found, and the cost to expect.

In: a JSONL file meant for fine-tuning. Out: a :class:`Report`: every problem as
``file:line: field message`` (what the provider would refuse), warnings (what it would truncate
or may refuse), and the estimated tokens, epochs and cost. Pure checks; nothing is sent.

The rules are OpenAI's published ones (the fine-tuning guide and the cookbook's data check,
``examples/Chat_finetuning_data_prep.ipynb``): every line a JSON object with a ``messages``
list; every message a known role, known keys and non-empty content; an assistant turn (with
content, or tool calls); at least 10 examples. An example longer than the base model allows is
truncated, so it is a warning. Tokens are estimated as characters / 4 plus the cookbook's 3 per
message and 3 per example; the cookbook's epoch rule gives the epochs OpenAI's ``auto`` picks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation.errors import ConfigError, CurationError, Problem
from curation.formats import detect_format, type_name
from curation.json_errors import explain_json_error
from curation.records import ROLES

PROVIDERS = ("openai",)
MIN_EXAMPLES = 10
MESSAGE_KEYS = frozenset({"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call"})
RECORD_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 3
TOKENS_PER_EXAMPLE = 3
DEFAULT_MAX_EXAMPLE_TOKENS = 65_536
#: OpenAI's ``auto`` epochs (the cookbook's rule): 3, moved so that 100 to 25,000 examples are seen.
TARGET_EPOCHS, MIN_TRAINED, MAX_TRAINED, MAX_EPOCHS = 3, 100, 25_000, 25
#: Training price (dollars per million trained tokens) and the most tokens one example may hold,
#: by base-model prefix, the longest that matches winning. From https://openai.com/api/pricing/
#: and the fine-tuning guide as read in June 2025; prices change, so ``price_per_m`` overrides.
OPENAI_BASE_MODELS: dict[str, tuple[float, int]] = {
    "gpt-4.1-nano": (1.50, 65_536),
    "gpt-4.1-mini": (5.00, 65_536),
    "gpt-4.1": (25.00, 65_536),
    "gpt-4o-mini": (3.00, 65_536),
    "gpt-4o": (25.00, 65_536),
    "gpt-3.5-turbo": (8.00, 16_385),
}


@dataclass(frozen=True)
class Report:
    """What :func:`validate` found in one file.

    ``tokens`` is the estimated size of one pass over the file, each example counted up to
    ``max_example_tokens`` (OpenAI truncates the rest).
    """

    path: str
    provider: str
    base_model: str | None
    examples: int
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    tokens: int
    max_example_tokens: int
    epochs: int
    price_per_m: float | None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def trained_tokens(self) -> int:
        return self.tokens * self.epochs

    @property
    def cost_usd(self) -> float | None:
        """``trained_tokens × price_per_m / 10⁶``; None when the base model's price is unknown."""
        return None if self.price_per_m is None else self.trained_tokens * self.price_per_m / 1e6

    def estimate(self) -> str:
        """One line: examples, tokens, epochs and cost."""
        cost = (
            "cost unknown (no price known for this base model; give one)"
            if self.cost_usd is None
            else f"~${self.cost_usd:,.{2 if self.cost_usd >= 0.01 else 4}f} at ${self.price_per_m:g} per 1M tokens"
        )
        return (
            f"{self.examples:,} examples, ~{self.tokens:,} tokens x {self.epochs} epochs = "
            f"~{self.trained_tokens:,} trained tokens, {cost}"
        )


def validate(
    path: str | Path,
    provider: str = "openai",
    *,
    base_model: str | None = None,
    epochs: int | None = None,
    price_per_m: float | None = None,
    max_example_tokens: int | None = None,
) -> Report:
    """Check a JSONL file against the provider's fine-tuning rules and estimate its cost.

    Args:
        path: the curated export, in OpenAI's chat shape.
        provider: one of :data:`PROVIDERS`.
        base_model: the model to fine-tune (sets the price and the example limit).
        epochs: training epochs (None: what OpenAI's ``auto`` picks for this many examples).
        price_per_m: dollars per million trained tokens (None: :data:`OPENAI_BASE_MODELS`).
        max_example_tokens: the most tokens an example may hold (None: the base model's).
    Returns:
        The report; ``report.ok`` when the provider should accept the file.
    Raises:
        ConfigError: an unknown provider, or epochs / price / limit out of range.
        CurationError: the file cannot be read.
    """
    _check_options(provider, epochs, price_per_m, max_example_tokens)
    known_price, known_limit = _base_model(base_model)
    limit = max_example_tokens or known_limit
    name = str(path)
    problems, warnings, sizes = _check_file(Path(path), name)
    for line, size in sizes:
        if size > limit:
            warnings.append(
                Problem(name, line, None, f"holds ~{size:,} tokens, over the {limit:,} an example may hold; truncated")
            )
    if not problems and len(sizes) < MIN_EXAMPLES:
        problems.append(
            Problem(name, None, None, f"has {len(sizes)} example(s); {provider} needs at least {MIN_EXAMPLES}")
        )
    return Report(
        path=name,
        provider=provider,
        base_model=base_model,
        examples=len(sizes),
        problems=tuple(problems),
        warnings=tuple(warnings),
        tokens=sum(min(size, limit) for _, size in sizes),
        max_example_tokens=limit,
        epochs=epochs or auto_epochs(len(sizes)),
        price_per_m=known_price if price_per_m is None else price_per_m,
    )


def auto_epochs(examples: int) -> int:
    """The epochs OpenAI's ``auto`` picks: 3, raised to see 100 examples, lowered to see 25,000."""
    if examples <= 0:
        return TARGET_EPOCHS
    if examples * TARGET_EPOCHS < MIN_TRAINED:
        return min(MAX_EPOCHS, math.ceil(MIN_TRAINED / examples))
    if examples * TARGET_EPOCHS > MAX_TRAINED:
        return max(1, MAX_TRAINED // examples)
    return TARGET_EPOCHS


def check_record(record: Any) -> tuple[list[tuple[str | None, str]], list[tuple[str, str]], int]:
    """One decoded line against the chat rules (pure).

    Returns:
        ``(problems, warnings, tokens)``: each problem and warning a ``(field, message)``;
        ``tokens`` the example's estimated size.
    """
    if not isinstance(record, dict):
        return [(None, f"must be a JSON object, got {type_name(record)}")], [], 0
    messages = record.get("messages")
    if not isinstance(messages, list):
        return [("messages", f"must be a list of turns, got {type_name(messages)}")], [], 0
    if not messages:
        return [("messages", "is empty: there is nothing to learn")], [], 0
    warnings = [
        (key, "is not a field of the chat shape; OpenAI may refuse it") for key in record if key not in RECORD_KEYS
    ]
    problems: list[tuple[str | None, str]] = []
    tokens = TOKENS_PER_EXAMPLE
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            problems.append((where, f"must be an object, got {type_name(message)}"))
            continue
        tokens += TOKENS_PER_MESSAGE + math.ceil(_chars(message) / CHARS_PER_TOKEN)
        problems += _check_message(message, where)
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        problems.append(("messages", "has no assistant turn: there is nothing to learn"))
    return problems, warnings, tokens


def _check_options(provider: str, epochs: int | None, price: float | None, limit: int | None) -> None:
    if provider not in PROVIDERS:
        raise ConfigError(f"finetune: provider {provider!r} is not one of {', '.join(PROVIDERS)}")
    if epochs is not None and not 1 <= epochs <= MAX_EPOCHS:
        raise ConfigError(f"finetune: epochs must be 1 to {MAX_EPOCHS}, got {epochs}")
    if price is not None and not (math.isfinite(price) and price >= 0):
        raise ConfigError(f"finetune: price per 1M tokens must be a number >= 0, got {price}")
    if limit is not None and limit < 1:
        raise ConfigError(f"finetune: max example tokens must be >= 1, got {limit}")


def _base_model(base_model: str | None) -> tuple[float | None, int]:
    matches = [prefix for prefix in OPENAI_BASE_MODELS if base_model and base_model.startswith(prefix)]
    if not matches:
        return None, DEFAULT_MAX_EXAMPLE_TOKENS
    return OPENAI_BASE_MODELS[max(matches, key=len)]


def _check_file(path: Path, name: str) -> tuple[list[Problem], list[Problem], list[tuple[int, int]]]:
    """Every line's problems and warnings, and ``(line, tokens)`` of every example."""
    if path.suffix.lower() == ".parquet":
        return [Problem(name, None, None, "is Parquet; fine-tuning takes JSONL (export to a .jsonl file)")], [], []
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise CurationError(f"{name}: cannot read the file: {e}") from e
    except UnicodeDecodeError as e:
        return [Problem(name, None, None, f"is not UTF-8 text (byte {e.start})")], [], []
    problems: list[Problem] = []
    noted: dict[tuple[str, str], list[int]] = {}  # a warning -> its lines: said once for the file
    sizes: list[tuple[int, int]] = []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    for line, raw in enumerate(lines, start=1):
        if not raw.strip():
            problems.append(Problem(name, line, None, "is empty; every line must hold one example"))
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as e:
            problems.append(Problem(name, line, None, f"is not JSON: {explain_json_error(e)}"))
            continue
        shape = detect_format(record) if isinstance(record, dict) and "messages" not in record else None
        if shape is not None:
            problems.append(Problem(name, line, "messages", _wrong_shape(shape)))
            if not sizes:
                return problems, [], sizes  # the file is in another shape: once is enough
            continue
        found, notes, tokens = check_record(record)
        problems += [Problem(name, line, field, message) for field, message in found]
        for note in notes:
            noted.setdefault(note, []).append(line)
        sizes.append((line, tokens))
    warnings = [
        Problem(name, at[0], field, message if len(at) == 1 else f"{message} (on {len(at):,} lines)")
        for (field, message), at in noted.items()
    ]
    return problems, warnings, sizes


def _wrong_shape(shape: str) -> str:
    return (
        f"is missing: the file is in the {shape} shape, fine-tuning takes the chat shape; export with "
        "`curate export --format chat` (or run `curate finetune` without --file)"
    )


def _check_message(message: dict[str, Any], where: str) -> list[tuple[str, str]]:
    problems = [
        (f"{where}.{key}", "is not a message field of the chat shape") for key in message if key not in MESSAGE_KEYS
    ]
    role, content = message.get("role"), message.get("content")
    if role not in ROLES:
        problems.append((f"{where}.role", f"must be one of {', '.join(ROLES)}, got {json.dumps(role)}"))
    calls = role == "assistant" and (message.get("tool_calls") or message.get("function_call"))
    if not (calls and content is None):  # a turn may only call a tool
        problems += _check_content(content, role, f"{where}.content")
    if "weight" in message and message["weight"] not in (0, 1):
        problems.append((f"{where}.weight", f"must be 0 or 1, got {json.dumps(message['weight'])}"))
    return problems


def _check_content(content: Any, role: Any, field: str) -> list[tuple[str, str]]:
    if isinstance(content, str):
        if content.strip():
            return []
        return [(field, "is empty: the assistant turn teaches nothing" if role == "assistant" else "is empty")]
    if isinstance(content, list) and content and role != "assistant":
        return []  # content parts (text and images) in a prompt turn
    return [(field, f"must be a string, got {type_name(content)}")]


def _chars(message: dict[str, Any]) -> int:
    return sum(
        len(v) if isinstance(v, str) else len(json.dumps(v)) for k, v in message.items() if k not in ("role", "weight")
    )


__all__ = [
    "validate",
    "check_record",
    "auto_epochs",
    "Report",
    "PROVIDERS",
    "MIN_EXAMPLES",
    "OPENAI_BASE_MODELS",
]
