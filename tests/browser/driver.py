"""Drive the app in Debian's Chromium with Playwright (never a downloaded browser).

Streamlit reruns the script after every interaction; :func:`settle` waits until the app is
connected and its script has finished, which is what a person waits for before the next click.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

Label = str | re.Pattern

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium browser (Playwright's sync API); open pages with :func:`new_page`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, *, width: int = 1440, height: int = 1000, **context: object):
    """A page in a new browser context (its own cookies and session: another person).

    ``context``: Playwright's ``new_context`` options, e.g. ``color_scheme="dark"`` to emulate the OS setting.
    """
    page = browser.new_context(viewport={"width": width, "height": height}, **context).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


@contextmanager
def chromium_page(*, width: int = 1440, height: int = 1000, **context: object) -> Iterator[object]:
    """A headless Chromium page in a browser of its own (``context`` as :func:`new_page`)."""
    with chromium() as browser:
        yield new_page(browser, width=width, height=height, **context)


def settle(page, *, pause_ms: int = 150) -> None:
    """Wait until the app is connected and no script run is in progress."""
    page.wait_for_timeout(pause_ms)
    page.wait_for_selector('[data-testid="stApp"][data-test-connection-state="CONNECTED"]')
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    page.wait_for_timeout(pause_ms)


def button(page, label: Label):
    """The first button whose text starts with ``label`` (a keyboard-shortcut hint may follow it)."""
    name = label if isinstance(label, re.Pattern) else re.compile(rf"^{re.escape(label)}(\s|$)")
    return page.get_by_role("button", name=name).first


def click_button(page, label: Label) -> None:
    button(page, label).click()
    settle(page)


def go_to(page, name: str) -> None:
    """Follow the sidebar's link to a page (keeps the session, unlike loading a URL)."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name, exact=True).click()
    settle(page)


def fill_text_input(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    settle(page)


def fill_text_area(page, label: Label, value: str) -> None:
    """Type into a text area and leave it (inside a form the value goes with the submit button)."""
    box = page.get_by_label(label, exact=True) if isinstance(label, str) else page.get_by_label(label)
    box.fill(value)
    box.press("Tab")
    settle(page)
