#!/usr/bin/env bash
# Third-party RocketMQ clients used only by the integration tests.
set -euo pipefail
VENV="${1:-.venv}"
"$VENV/bin/python" -m pip install -q --no-warn-script-location "rocketmq-python-cvs==2.1.0.3" \
    || echo "install-test-clients: rocketmq-python-cvs could not be installed; its tests will be skipped" >&2
