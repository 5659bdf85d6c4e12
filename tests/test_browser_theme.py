"""The theme follows the OS light / dark setting and keeps the brand colour, in a real browser.

`.streamlit/config.toml` sets the brand colour in ``[theme.light]`` and ``[theme.dark]``; a
colour in ``[theme]`` itself would make one light custom theme that ignores the OS. Chromium
(Debian's, driven by Playwright) emulates the OS setting with ``color_scheme``.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib

import pytest

from tests.browser.driver import CHROMIUM, button, chromium_page, settle
from tests.browser.server import ROOT, streamlit_app

CONFIG = ROOT / ".streamlit" / "config.toml"
no_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing: apt-get install chromium")
no_playwright = pytest.mark.skipif(
    importlib.util.find_spec("playwright") is None, reason="playwright missing: pip install -e '.[test]'"
)
# The Home page's link to Import, drawn with Streamlit's icon font: how wide it is shows whether
# the font loaded (without it the icon's name, "upload_file", is shown as text).
ICON = '[data-testid="stPageLink"] [data-testid="stIconMaterial"]'


def brand() -> str:
    return tomllib.loads(CONFIG.read_text(encoding="utf-8"))["theme"]["light"]["primaryColor"]


def rgb(css: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", css)[:3])


def test_the_brand_colour_is_set_per_theme_not_for_one_custom_theme():
    theme = tomllib.loads(CONFIG.read_text(encoding="utf-8"))["theme"]
    assert not {k for k, v in theme.items() if not isinstance(v, dict)}, "a [theme] key forces one theme"
    assert theme["light"]["primaryColor"] == theme["dark"]["primaryColor"] == brand()


@no_chromium
@no_playwright
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_app_follows_the_os_colour_scheme(tmp_path, scheme):
    with (
        streamlit_app(tmp_path / "store.duckdb", tmp_path / "streamlit.log") as url,
        chromium_page(color_scheme=scheme) as page,
    ):
        page.goto(url)
        settle(page)
        app = page.locator('[data-testid="stApp"]')
        background = rgb(app.evaluate("e => getComputedStyle(e).backgroundColor"))
        primary = rgb(button(page, "Load the sample data").evaluate("e => getComputedStyle(e).backgroundColor"))
        icon = page.locator(ICON).first
        icon.wait_for()
        page.evaluate("document.fonts.ready")
        icon_font, icon_width = icon.evaluate("e => [getComputedStyle(e).fontFamily, e.getBoundingClientRect().width]")
    assert (sum(background) / 3 > 200) if scheme == "light" else (sum(background) / 3 < 60), background
    assert primary == tuple(int(brand()[i : i + 2], 16) for i in (1, 3, 5))
    assert "Material Symbols" in icon_font and icon_width < 40, (icon_font, icon_width)
