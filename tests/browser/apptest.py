"""Shared bits of the AppTest-based app tests: where the scripts are, and a temp store."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from ui.common import STORE_ENV

ROOT = Path(__file__).resolve().parents[2]
PAGES = {
    "home": "app.py",
    "import": "pages/1_Import.py",
    "run": "pages/2_Run.py",
    "review": "pages/3_Review.py",
    "team": "pages/4_Team.py",
    "insights": "pages/5_Insights.py",
    "export": "pages/6_Export.py",
}
TIMEOUT = 30


def app(page: str) -> AppTest:
    """An AppTest of one page (``home``, ``import``, ...), not run yet.

    It starts from ``app.py``, the entry point, so links between pages resolve as in the app.
    """
    at = AppTest.from_file(str(ROOT / PAGES["home"]), default_timeout=TIMEOUT)
    return at if page == "home" else at.switch_page(PAGES[page])


def use_store(monkeypatch, path: Path) -> Path:
    """Point the app at ``path`` (the app reads ``$CLEAR_STUDIO_STORE``)."""
    monkeypatch.setenv(STORE_ENV, str(path))
    return path


def texts(at: AppTest, kind: str) -> list[str]:
    """The values of every element of one kind (``error``, ``success``, ``text``, ...)."""
    return [str(e.value) for e in getattr(at, kind)]
