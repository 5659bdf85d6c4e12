"""Command-line options the benchmarks share."""

from __future__ import annotations

import argparse


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE ...``: config overrides, e.g. ``scoring.early_stop=false``."""
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides on top of the defaults (or preset), e.g. scoring.early_stop=false",
    )


def parse_set(parser: argparse.ArgumentParser, items: list[str], *, option: str = "--set") -> dict[str, str]:
    """The ``option``'s KEY=VALUE items as a dict (a parser error names a malformed one)."""
    bad = [item for item in items if "=" not in item]
    if bad:
        parser.error(f"{option} takes KEY=VALUE items, not {bad[0]!r}")
    return dict(item.split("=", 1) for item in items)
