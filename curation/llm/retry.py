"""Backoff arithmetic for retrying transient LLM failures.

Pure functions of plain values: the wait before a retry (exponential backoff with full
jitter, at least the server's ``Retry-After``) and the parsing of a ``Retry-After`` header
(seconds or an HTTP date). The retry loop itself lives in :mod:`curation.llm.client`.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# A server asking for more than this is obeyed only up to it, so one bad header cannot
# stall a run for hours; the attempt still counts and the call fails for good eventually.
MAX_RETRY_AFTER_S = 600.0


def backoff_delay(
    attempt: int,
    *,
    base_s: float,
    max_s: float,
    rng: random.Random,
    retry_after: float | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt + 1``.

    Full jitter: a uniform draw from ``[0, min(max_s, base_s * 2**attempt)]``, raised to
    the server's ``retry_after`` hint (capped at :data:`MAX_RETRY_AFTER_S`) when given.

    Args:
        attempt: 0 for the wait after the first failed attempt, 1 after the second, ...
        base_s: the first backoff ceiling in seconds.
        max_s: the largest backoff ceiling in seconds.
        rng: source of the jitter (seeded by the caller for reproducible runs).
        retry_after: the server's ``Retry-After`` in seconds, or ``None``.

    Returns:
        A non-negative number of seconds.

    Raises:
        ValueError: if ``attempt`` is negative.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    # 2**attempt overflows a float around attempt 1024; the cap is reached long before.
    ceiling = max_s if attempt >= 64 else min(max_s, base_s * (2.0**attempt))
    delay = rng.uniform(0.0, max(0.0, ceiling))
    if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
    return delay


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header value into seconds from ``now``.

    Args:
        value: the header value: a number of seconds (``"2"``, ``"0.5"``) or an HTTP date
            (``"Wed, 21 Oct 2015 07:28:00 GMT"``).
        now: the current time for the date form (default: the system clock, UTC).

    Returns:
        Seconds to wait (0 for a date in the past), or ``None`` when absent or unparseable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())
