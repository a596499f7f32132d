#!/usr/bin/env bash
# Sets everything up and runs the whole test suite against the installed package.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
VENV="${RMQ_VENV:-.venv}"
scripts/install-test-clients.sh "$VENV"
# Tests import the installed wheel (src/ is not on sys.path: --import-mode=importlib).
exec "$VENV/bin/python" -m pytest tests "$@"
