#!/usr/bin/env bash
# Sets everything up and runs the main job: `rmqcore local --demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
VENV="${RMQ_VENV:-.venv}"
exec "$VENV/bin/rmqcore" local --demo "$@"
