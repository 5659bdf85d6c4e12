"""House style, checked: ruff's lint rules and its formatter (the tools the project pins), and
the library's module size.

The ruff settings are in pyproject.toml; ruff comes with the ``test`` extra.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: House style: a library module stays under about this many lines (one idea a module).
MODULE_LINES = 400


@pytest.mark.parametrize("command", [["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]])
def test_ruff_is_clean(command):
    done = subprocess.run([sys.executable, "-m", "ruff", *command], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_library_modules_stay_within_the_house_size():
    sizes = {
        path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines()) for path in ROOT.glob("curation/**/*.py")
    }
    assert len(sizes) > 50, "the library's modules were not found"
    too_long = {name: lines for name, lines in sizes.items() if lines > MODULE_LINES}
    assert not too_long, f"split these along a seam (house style: under about {MODULE_LINES} lines): {too_long}"
