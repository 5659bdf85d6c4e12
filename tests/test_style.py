"""House style, checked: ruff's lint rules and its formatter (the tools the project pins), the
modules' size, and that every ``pytest.raises`` checks what it caught.

The ruff settings are in pyproject.toml; ruff comes with the ``test`` extra.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: House style: a module (library, UI, benchmarks) stays under about this many lines (one idea a module).
MODULE_LINES = 400


@pytest.mark.parametrize("command", [["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]])
def test_ruff_is_clean(command):
    done = subprocess.run([sys.executable, "-m", "ruff", *command], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("folder", ["curation", "ui", "benchmarks"])
def test_modules_stay_within_the_house_size(folder):
    sizes = {
        path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines()) for path in (ROOT / folder).rglob("*.py")
    }
    assert len(sizes) > 5, f"no modules found under {folder}/"
    too_long = {name: lines for name, lines in sizes.items() if lines > MODULE_LINES}
    assert not too_long, f"split these along a seam (house style: under about {MODULE_LINES} lines): {too_long}"


def _raises_without_a_check(path: Path) -> list[str]:
    """``with pytest.raises(...)`` blocks that neither give ``match=`` nor keep the exception."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.With):
            continue
        for item in node.items:
            call = item.context_expr
            is_raises = (
                isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "raises"
            )
            if is_raises and item.optional_vars is None and not any(k.arg == "match" for k in call.keywords):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_pytest_raises_checks_the_message():
    found = [place for path in sorted((ROOT / "tests").rglob("*.py")) for place in _raises_without_a_check(path)]
    assert not found, (
        f"give these pytest.raises a match= (house style), or keep the exception and assert on it: {found}"
    )
