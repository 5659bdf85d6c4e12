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
    "[\U0001f000-\U0001faff\ufe0f\u231a\u231b\u23e9-\u23ec\u23f0\u23f3\u25fd\u25fe\u2614\u2615"
    "\u2648-\u2653\u267f\u2693\u26a1\u26aa\u26ab\u26bd\u26be\u26c4\u26c5\u26ce\u26d4\u26ea\u26f2"
    "\u26f3\u26f5\u26fa\u26fd\u2705\u270a\u270b\u2728\u274c\u274e\u2753-\u2755\u2757\u2795-\u2797"
    "\u27b0\u27bf\u2b1b\u2b1c\u2b50\u2b55]"
)


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
