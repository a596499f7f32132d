"""Settings every producer and consumer shares (``ClientConfig`` in the Java client)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from rmqcore.clock import SYSTEM_CLOCK, Clock

DEFAULT_NAMESRV_ADDR = "127.0.0.1:9876"


def local_ip() -> str:
    """The address other hosts would see (no packet is sent; a UDP connect only picks a route)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def namesrv_addr_from_env(default: str | None = DEFAULT_NAMESRV_ADDR) -> str | None:
    """``NAMESRV_ADDR`` (env) or the ``rocketmq.namesrv.addr`` equivalent, else ``default``."""
    return os.environ.get("NAMESRV_ADDR") or default


def parse_namesrv_addrs(text: str | None) -> list[str]:
    """``"a:9876;b:9876"`` → ``["a:9876", "b:9876"]``.

    >>> parse_namesrv_addrs(" 127.0.0.1:9876 ; 10.0.0.2:9876;")
    ['127.0.0.1:9876', '10.0.0.2:9876']
    """
    return [a.strip() for a in (text or "").split(";") if a.strip()]


@dataclass
class ClientConfig:
    """Name servers, identity and the periods of the background services.

    ``client_id`` is ``ip@instanceName``; the instance name defaults to the process id,
    as in the Java client, so two consumers of one group in one process need distinct
    instance names.
    """

    namesrv_addr: str | None = None
    instance_name: str | None = None
    client_ip: str | None = None
    request_timeout: float = 3.0
    poll_name_server_interval: float = 30.0
    heartbeat_broker_interval: float = 30.0
    persist_consumer_offset_interval: float = 5.0
    clock: Clock = field(default=SYSTEM_CLOCK, repr=False)

    def __post_init__(self) -> None:
        if self.namesrv_addr is None:
            self.namesrv_addr = namesrv_addr_from_env()
        if not self.instance_name:
            self.instance_name = str(os.getpid())
        if not self.client_ip:
            self.client_ip = local_ip()

    @property
    def namesrv_addrs(self) -> list[str]:
        return parse_namesrv_addrs(self.namesrv_addr)

    @property
    def client_id(self) -> str:
        return f"{self.client_ip}@{self.instance_name}"
