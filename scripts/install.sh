#!/usr/bin/env bash
# Create .venv (if missing) and install the project into it, with the extras given as $1
# (e.g. "test").
#
# llama-cpp-python has no binary wheel here: it is built from source once (~7 min) for this
# machine's CPU (GGML_NATIVE: AVX-512/VNNI where the CPU has them, measured 1.6x faster
# prompt evaluation than the generic AVX2 build) and kept in a wheelhouse keyed by the
# version, the build flags and the CPU's features. pip's own wheel cache cannot do this: it
# ignores CMAKE_ARGS and would hand back a wheel built with other flags. Later installs take
# seconds. Set CMAKE_ARGS to build differently (e.g. "-DGGML_NATIVE=OFF" for a portable build).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
pip_install() { .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@"; }

llama="$(grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml)"
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=ON -DLLAVA_BUILD=OFF}"
cpu="$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || uname -m)"
key="$(printf '%s\n%s\n%s\n' "$llama" "$CMAKE_ARGS" "$cpu" | sha256sum | cut -c1-16)"
house="${XDG_CACHE_HOME:-$HOME/.cache}/clear-studio/wheels/$key"
if [ "$(cat .venv/.llama-build 2>/dev/null)" != "$key" ]; then
  if ! ls "$house"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "building $llama for this CPU (once, about 7 min)" >&2
    mkdir -p "$house.tmp"
    .venv/bin/python -m pip wheel --quiet --disable-pip-version-check --no-deps --no-cache-dir \
      --no-binary llama-cpp-python -w "$house.tmp" "$llama"
    rm -rf "$house" && mv "$house.tmp" "$house"
  fi
  pip_install --force-reinstall --no-deps "$house"/llama_cpp_python-*.whl
  echo "$key" > .venv/.llama-build
fi

spec="."
[ -n "$extras" ] && spec=".[$extras]"
pip_install -e "$spec"
