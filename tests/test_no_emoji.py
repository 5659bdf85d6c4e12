"""The app's icons are Streamlit's Material icons (``icon=":material/flag:"``), never emoji.

Material icons come with Streamlit's own font; an emoji needs an emoji font, which many Linux
machines (and headless browsers) lack, so it shows as an empty box.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Unicode's Emoji_Presentation characters (drawn as emoji by default) and U+FE0F, which asks
# for the emoji form of the character before it (as in ➡️, ⚙️).
EMOJI = re.compile(
    "[\U0001F000-\U0001FAFF\uFE0F\u231A\u231B\u23E9-\u23EC\u23F0\u23F3\u25FD\u25FE\u2614\u2615"
    "\u2648-\u2653\u267F\u2693\u26A1\u26AA\u26AB\u26BD\u26BE\u26C4\u26C5\u26CE\u26D4\u26EA\u26F2"
    "\u26F3\u26F5\u26FA\u26FD\u2705\u270A\u270B\u2728\u274C\u274E\u2753-\u2755\u2757\u2795-\u2797"
    "\u27B0\u27BF\u2B1B\u2B1C\u2B50\u2B55]")


def emoji_in(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            found += [f"{path.relative_to(ROOT)}:{number}: {ch!r}" for ch in EMOJI.findall(line)]
    return found


def test_the_pattern_knows_an_emoji_from_a_symbol():
    assert EMOJI.findall("📥 🚩 👥 ➡️ ⚙️ ❔ ✅") == ["📥", "🚩", "👥", "\ufe0f", "\ufe0f", "❔", "✅"]
    assert EMOJI.findall("✓ ▶ ◀ ⌘ → ≥ γ · …") == []


def test_no_emoji_in_the_app():
    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").glob("*.py"))]
    assert emoji_in(files) == []
