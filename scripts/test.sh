#!/usr/bin/env bash
# Install the project with its test extra, then run the whole test suite.
# The browser test (tests/test_browser.py) drives Debian's Chromium with Playwright: when
# /usr/bin/chromium is missing and we are root, install it from the Debian archive here.
# Playwright itself never downloads a browser (it is always given /usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the browser test" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
bash scripts/install.sh test
exec .venv/bin/python -m pytest "$@"
