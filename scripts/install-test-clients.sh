#!/usr/bin/env bash
# Third-party RocketMQ clients used only by the integration tests.
set -euo pipefail
VENV="${1:-.venv}"
"$VENV/bin/python" -m pip install -q --no-warn-script-location "rocketmq-python-cvs==2.1.0.3" \
    || echo "install-test-clients: rocketmq-python-cvs could not be installed; its tests will be skipped" >&2
# The C++ client 1.x (librocketmq 1.0.x) ships a Python package also named "rocketmq", so it
# goes into its own directory; tests/integration/test_cpp1_client.py runs it in subprocesses
# with PYTHONPATH pointing there (and skips when the directory is missing).
"$VENV/bin/python" -m pip install -q --no-warn-script-location --no-deps --upgrade --target "$VENV/cpp1-client" "rocketmq==0.4.4" \
    || echo "install-test-clients: rocketmq==0.4.4 could not be installed into $VENV/cpp1-client; its tests will be skipped" >&2
