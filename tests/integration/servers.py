"""Real name server and broker processes on 127.0.0.1 ephemeral ports, for integration tests.

Each server is ``python -m rmqcore.cli ...`` in its own process group; its port is read
from the boot-success line it prints, so no port is guessed. Stopping sends SIGTERM
(a clean shutdown) or SIGKILL (a crash) and always reaps the process.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

_NAMESRV_READY = re.compile(r"The Name Server boot success\. serializeType=JSON, address ([\d.]+):(\d+)")
_BROKER_READY = re.compile(r"The broker\[([^,]+), ([\d.]+):(\d+)\] boot success")


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    addr: str
    stdout_lines: list[str] = field(default_factory=list)
    stderr_path: Path | None = None

    @property
    def port(self) -> int:
        return int(self.addr.rsplit(":", 1)[1])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def kill(self) -> int:
        return self.stop(signal.SIGKILL)

    def log_text(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path and self.stderr_path.exists() else ""


def _wait_for_line(proc: subprocess.Popen[bytes], pattern: re.Pattern[str], timeout: float, lines: list[str]) -> re.Match[str]:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buffer = b""
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"server did not print its boot line within {timeout}s; output so far: {lines}")
            if not sel.select(remaining):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"server exited with {proc.wait()} before it was ready; output: {lines}")
            buffer += chunk
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                line = raw.decode(errors="replace")
                lines.append(line)
                match = pattern.search(line)
                if match:
                    return match
    finally:
        sel.close()


def _spawn(args: list[str], log_dir: Path, name: str, env: dict[str, str] | None) -> tuple[subprocess.Popen[bytes], Path]:
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = log_dir / f"{name}.log"
    full_env = dict(os.environ)
    full_env["RMQCORE_RUN_DIR"] = str(log_dir / "run")
    full_env["PYTHONUNBUFFERED"] = "1"
    if env:
        full_env.update(env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "rmqcore.cli", *args],
        stdout=subprocess.PIPE,
        stderr=stderr_path.open("wb"),
        stdin=subprocess.DEVNULL,
        env=full_env,
        start_new_session=True,
    )
    return proc, stderr_path


def start_namesrv(log_dir: Path, timeout: float = 20.0) -> ServerProcess:
    proc, stderr_path = _spawn(["namesrv", "-p", "0"], log_dir, "namesrv", None)
    lines: list[str] = []
    match = _wait_for_line(proc, _NAMESRV_READY, timeout, lines)
    return ServerProcess(proc, f"{match.group(1)}:{match.group(2)}", lines, stderr_path)


def write_broker_conf(path: Path, store_dir: Path, namesrv_addr: str, **overrides: object) -> Path:
    settings: dict[str, object] = {
        "brokerClusterName": "DefaultCluster",
        "brokerName": "broker-a",
        "brokerId": 0,
        "namesrvAddr": namesrv_addr,
        "listenPort": 0,
        "brokerIP1": "127.0.0.1",
        "storePathRootDir": store_dir,
        "mapedFileSizeCommitLog": 64 * 1024 * 1024,
        "mapedFileSizeConsumeQueue": 300000 * 20,
        "deleteWhen": "04",
        "fileReservedTime": 48,
        "brokerRole": "ASYNC_MASTER",
        "flushDiskType": "ASYNC_FLUSH",
        "autoCreateTopicEnable": "true",
        "maxHashSlotNum": 50000,
        "maxIndexNum": 200000,
    }
    settings.update(overrides)
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return path


def start_broker(conf: Path, log_dir: Path, timeout: float = 30.0, name: str = "broker") -> ServerProcess:
    proc, stderr_path = _spawn(["broker", "-c", str(conf)], log_dir, name, None)
    lines: list[str] = []
    match = _wait_for_line(proc, _BROKER_READY, timeout, lines)
    return ServerProcess(proc, f"{match.group(2)}:{match.group(3)}", lines, stderr_path)
