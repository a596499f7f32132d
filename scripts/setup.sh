#!/usr/bin/env bash
# Creates the virtual environment (default .venv, or $RMQ_VENV) and installs rmqcore from
# this tree as a wheel would be installed (not editable), with the given extras.
# Usage: scripts/setup.sh [extras]   e.g. scripts/setup.sh dev
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${RMQ_VENV:-.venv}"
EXTRAS="${1:-}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if [ -n "$EXTRAS" ]; then
    "$VENV/bin/python" -m pip install -q --no-warn-script-location ".[${EXTRAS}]"
else
    "$VENV/bin/python" -m pip install -q --no-warn-script-location .
fi
