#!/usr/bin/env bash
# Create .venv (if missing) and install the project into it, with the extras given as $1
# (e.g. "test"). llama-cpp-python has no binary wheel here: pip builds it once (~5 min) and
# keeps the wheel in its cache, so later installs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
spec="."
[ -n "$extras" ] && spec=".[$extras]"
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF}"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
