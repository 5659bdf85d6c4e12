"""One exception family for the whole library.

Every error a user can cause is a :class:`CurationError`; its message points at the
problem (``data.jsonl:17: messages[2].content must be a string, got null``). Anything
else escaping the library is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LISTED_PROBLEMS = 50


class CurationError(Exception):
    """Base class of every error the library raises on purpose."""


class InputFileError(CurationError):
    """The input file cannot be opened, or its extension names no known file type."""


class ConfigError(CurationError):
    """A setting has a bad value; the message names the key, the value and what is allowed."""


class StorageError(CurationError):
    """The project store cannot be opened, read or written."""


class StoreLockedError(StorageError):
    """The store file is held by another process."""


class LLMError(CurationError):
    """A language-model call failed for good (after retries) or cannot be made."""


class TransientLLMError(LLMError):
    """A call failed in a way worth retrying (429, 5xx, timeout, lost connection).

    ``retry_after`` is the server's ``Retry-After`` hint in seconds, when it sent one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ContextLengthError(LLMError):
    """A call too long for the model's context (prompt plus reply): retry it in a smaller form."""


class BudgetExceededError(LLMError):
    """The run reached its cost cap; finished work is kept and a rerun resumes."""


class ReviewError(CurationError):
    """A decision, filter or bulk rule that cannot be applied; the message says why."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input record.

    ``line`` is the 1-based line of a JSONL file, the 1-based element of a JSON array,
    or the 1-based data row of a CSV / Parquet file (the header is not counted).
    """

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field} {self.message}" if self.field else f"{where}: {self.message}"


class InvalidRecordError(CurationError):
    """One or more input records are malformed; ``problems`` lists every one found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        shown = [str(p) for p in self.problems[:MAX_LISTED_PROBLEMS]]
        hidden = len(self.problems) - len(shown)
        if hidden > 0:
            shown.append(f"... and {hidden} more problem(s)")
        super().__init__("\n".join(shown))


def mostly_failed(stage: str, failed: int, attempted: int, first_error: str | None, what: str) -> str | None:
    """A loud line when half or more of the ``attempted`` ``what`` failed in ``stage``, else None."""
    if not failed or 2 * failed < attempted:
        return None
    return f"{stage} failed on {failed} of {attempted} {what}; first error: {first_error}"
