"""Start and stop a throw-away ``redis-server`` on loopback for the side-by-side benchmarks.

Only the benchmarks use this; Redis is never a dependency of rmqcore.

* :func:`find_redis_server` looks for the binary on ``PATH`` (and ``/usr/bin``,
  ``/usr/sbin``); with ``install=True`` and running as root on a Debian-like system it
  first runs ``apt-get install -y redis-server`` (after ``apt-get update``).
* :func:`ensure_redis_py` imports the ``redis`` Python package, optionally installing it
  with ``python -m pip install redis`` into the running interpreter's environment (it is
  part of the ``bench`` extra).
* :class:`RedisServer` is a context manager: a ``redis-server`` on ``127.0.0.1`` and a
  free port, with persistence off (``--save "" --appendonly no``), stopped (SIGTERM, then
  SIGKILL) and reaped on exit, also when the benchmark fails.

Every function returns ``None`` / raises :class:`RedisUnavailable` with a message saying
why, so a caller can skip the Redis side with a clear line instead of failing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType


class RedisUnavailable(RuntimeError):
    """Redis (the server or the Python package) cannot be used here; the message says why."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_redis_server(install: bool = False) -> str | None:
    """Path of ``redis-server``; with ``install`` try ``apt-get install`` (root only) first."""
    for candidate in (shutil.which("redis-server"), "/usr/bin/redis-server", "/usr/sbin/redis-server"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    if not install:
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for args in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "redis-server"]):
        try:
            subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
    return shutil.which("redis-server")


def ensure_redis_py(install: bool = False) -> ModuleType:
    """The ``redis`` package; with ``install`` pip-install it into this interpreter if missing."""
    try:
        import redis

        return redis
    except ImportError:
        if not install:
            raise RedisUnavailable("the 'redis' Python package is not installed (pip install 'rmqcore[bench]')") from None
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "redis>=5"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RedisUnavailable(f"pip install redis failed: {exc}") from exc
    try:
        import redis

        return redis
    except ImportError:
        raise RedisUnavailable("the 'redis' Python package could not be installed") from None


class RedisServer:
    """``with RedisServer() as r: r.port`` -- a private redis-server on 127.0.0.1."""

    def __init__(self, binary: str | None = None, *, install: bool = False, startup_timeout: float = 10.0) -> None:
        self.binary = binary or find_redis_server(install=install)
        if self.binary is None:
            raise RedisUnavailable(
                "redis-server not found (Debian: apt-get install -y redis-server); the Redis side is skipped"
            )
        self.startup_timeout = startup_timeout
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self._dir = tempfile.TemporaryDirectory(prefix="rmqcore-bench-redis-")
        self.port = _free_port()
        log = Path(self._dir.name) / "redis.log"
        args = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", self._dir.name, "--daemonize", "no", "--protected-mode", "yes", "--logfile", str(log),
        ]  # fmt: skip
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                text = log.read_text(errors="replace") if log.exists() else ""
                self.stop()
                raise RedisUnavailable(f"redis-server exited with {self.proc.returncode}: {text[-500:]}")
            if self._ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RedisUnavailable(f"redis-server did not answer PING within {self.startup_timeout}s")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def rss_kb(self) -> int | None:
        if self.proc is None:
            return None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
