#!/usr/bin/env bash
# Install the project and start the review app on http://127.0.0.1:8501 (store: ./curation.duckdb).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/curate app "$@"
