"""Running a third-party client's scenario script in a subprocess and reading what it printed.

The native clients may crash at exit (the C++ push consumer's ``shutdown()`` does), so the
scripts print one JSON event per line and the tests judge by those lines, not the exit code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def run_scenario_script(
    script: Path, namesrv_addr: str, args: tuple[object, ...], *, env: dict[str, str], cwd: Path, timeout: float
) -> tuple[list[dict], subprocess.CompletedProcess[bytes]]:
    """``python script SCENARIO NAMESRV ARGS...``: its JSON events (at least one) and the process."""
    proc = subprocess.run(
        [sys.executable, str(script), str(args[0]), namesrv_addr, *map(str, args[1:])],
        capture_output=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
    )
    events = [json.loads(line) for line in proc.stdout.decode(errors="replace").splitlines() if line.startswith("{")]
    assert events, f"scenario {args[0]} printed nothing; exit {proc.returncode}; stderr: {proc.stderr[-2000:]!r}"
    return events, proc
