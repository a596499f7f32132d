"""``rmqcore namesrv``, ``rmqcore broker``, ``rmqcore local`` and ``rmqcore shutdown``.

Each running server writes a pid file (``$RMQCORE_RUN_DIR`` or ``~/.rmqcore/run``)
so ``rmqcore shutdown`` can stop it with SIGTERM, as RocketMQ's ``mqshutdown`` does.
The boot-success line RocketMQ users look for is printed on stdout.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from rmqcore.logs import configure_logging
from rmqcore.server.config import BrokerConfig, ConfigError, NamesrvConfig, apply_properties, load_config_file

ROLES = ("namesrv", "broker", "local")


def run_dir() -> Path:
    return Path(os.environ.get("RMQCORE_RUN_DIR") or Path.home() / ".rmqcore" / "run")


def _write_pid_file(role: str, port: int) -> Path:
    directory = run_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{role}-{port}.pid"
    path.write_text(f"{os.getpid()}\n")
    return path


# -- shared helpers ---------------------------------------------------------------------------
def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--log-level", default="info", help="debug, info, warning or error")


async def _until_signalled(stop: Callable[[], Awaitable[None]]) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            break
    await stop()


def _say(line: str) -> None:
    print(line, flush=True)


def run_event_loop(main: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """Run ``main`` on anyio's asyncio backend, with uvloop's loop when it is installed.

    uvloop roughly halves the event loop's share of a request round trip (measured in
    benchmarks/e2e_vs_redis.py); ``RMQCORE_EVENT_LOOP=asyncio`` selects the standard loop.
    """
    use_uvloop = os.environ.get("RMQCORE_EVENT_LOOP", "uvloop") != "asyncio"
    if use_uvloop:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            use_uvloop = False
    return anyio.run(main, *args, backend="asyncio", backend_options={"use_uvloop": use_uvloop})


def _startup_failure(exc: BaseException) -> BaseException | None:
    """The start-up error a person can act on, also when anyio wrapped it in an exception group."""
    from rmqcore.server.broker.store_lock import StoreLockedError

    if isinstance(exc, (StoreLockedError, ConfigError)):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _startup_failure(inner)
            if found is not None:
                return found
    return None


# -- namesrv ----------------------------------------------------------------------------------
def add_namesrv_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--port", type=int, default=9876, help="listen port (0 picks a free one)")
    parser.add_argument("-c", "--config", help="name server properties file")
    _common(parser)


def namesrv_config(args: argparse.Namespace) -> NamesrvConfig:
    config = NamesrvConfig()
    if args.config:
        load_config_file(config, args.config)
    apply_properties(config, {"listenPort": str(args.port), "bindAddress": args.host}, source="command line")
    return config


async def _serve_namesrv(config: NamesrvConfig) -> None:
    from rmqcore.server.namesrv import NamesrvController

    namesrv = NamesrvController(config)
    async with anyio.create_task_group() as tg:
        port = await tg.start(namesrv.run)
        pid_file = _write_pid_file("namesrv", port)
        _say(f"The Name Server boot success. serializeType=JSON, address {config.bind_host}:{port}")
        try:
            await _until_signalled(namesrv.shutdown)
        finally:
            pid_file.unlink(missing_ok=True)
            tg.cancel_scope.cancel()


def run_namesrv(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    try:
        config = namesrv_config(args)
    except ConfigError as exc:
        print(f"rmqcore namesrv: {exc}", file=sys.stderr)
        return 2
    run_event_loop(_serve_namesrv, config)
    return 0


# -- broker -----------------------------------------------------------------------------------
def add_broker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", help="broker properties file (RocketMQ's broker.conf keys)")
    parser.add_argument("-n", "--namesrv", help="name server addresses, a:9876;b:9876 (overrides namesrvAddr)")
    parser.add_argument("-p", "--port", type=int, help="listen port (overrides listenPort; 0 picks a free one)")
    parser.add_argument("--store", help="store root directory (overrides storePathRootDir)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any broker.conf key")
    _common(parser)


def broker_config(args: argparse.Namespace) -> BrokerConfig:
    config = BrokerConfig()
    if args.config:
        load_config_file(config, args.config)
    overrides: dict[str, str] = {"bindAddress": args.host}
    if args.namesrv is not None:
        overrides["namesrvAddr"] = args.namesrv
    if args.port is not None:
        overrides["listenPort"] = str(args.port)
    if args.store:
        overrides["storePathRootDir"] = args.store
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value.strip()
    apply_properties(config, overrides, source="command line")
    if config.bind_host not in ("0.0.0.0", "::") and "brokerIP1" not in overrides:
        config.broker_ip1 = config.bind_host if config.broker_ip1 == "127.0.0.1" else config.broker_ip1
    return config


async def _serve_broker(config: BrokerConfig) -> None:
    from rmqcore.server.broker import BrokerController

    broker = BrokerController(config)
    async with anyio.create_task_group() as tg:
        port = await tg.start(broker.run)
        pid_file = _write_pid_file("broker", port)
        namesrv = ";".join(config.namesrv_addrs) or "null"
        _say(f"The broker[{config.broker_name}, {config.broker_ip1}:{port}] boot success. serializeType=JSON and name server is {namesrv}")
        try:
            await _until_signalled(broker.shutdown)
        finally:
            pid_file.unlink(missing_ok=True)


def run_broker(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    try:
        config = broker_config(args)
    except ConfigError as exc:
        print(f"rmqcore broker: {exc}", file=sys.stderr)
        return 2
    try:
        run_event_loop(_serve_broker, config)
    except BaseException as exc:
        failure = _startup_failure(exc)
        if failure is None:
            raise
        print(f"rmqcore broker: {failure}", file=sys.stderr)
        return 1
    return 0


# -- local ------------------------------------------------------------------------------------
def add_local_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--namesrv-port", type=int, default=9876, help="name server port (0 picks a free one)")
    parser.add_argument("-p", "--port", type=int, default=10911, help="broker port (0 picks a free one)")
    parser.add_argument("--store", default=str(Path.home() / ".rmqcore" / "store"), help="store root directory")
    parser.add_argument("-c", "--config", help="broker properties file applied before the options above")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any broker.conf key")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="on free ports, produce and consume a few messages, print the figures, and exit",
    )
    parser.add_argument("--demo-count", type=int, default=1000, help="messages the demo sends (default 1000)")
    _common(parser)


async def _serve_local(args: argparse.Namespace, config: BrokerConfig, ns_config: NamesrvConfig) -> int:
    from rmqcore.server.broker import BrokerController
    from rmqcore.server.namesrv import NamesrvController

    namesrv = NamesrvController(ns_config)
    async with anyio.create_task_group() as tg:
        ns_port = await tg.start(namesrv.run)
        config.namesrv_addr = f"{ns_config.bind_host}:{ns_port}"
        broker = BrokerController(config)
        port = await tg.start(broker.run)
        _say(f"The Name Server boot success. serializeType=JSON, address {ns_config.bind_host}:{ns_port}")
        _say(
            f"The broker[{config.broker_name}, {config.broker_ip1}:{port}] boot success. "
            f"serializeType=JSON and name server is {config.namesrv_addr}"
        )
        code = 0
        try:
            if args.demo:
                from rmqcore.cli.demo import run_demo

                code = await run_demo(config.namesrv_addr, args.demo_count, _say)
            else:
                pid_file = _write_pid_file("local", port)
                try:
                    await _until_signalled(broker.shutdown)
                finally:
                    pid_file.unlink(missing_ok=True)
        finally:
            with anyio.CancelScope(shield=True):
                await broker.shutdown()
                await namesrv.shutdown()
            tg.cancel_scope.cancel()
    return code


def run_local(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    if args.demo:
        # The demo must not collide with a broker already running on the default ports.
        if args.port == 10911:
            args.port = 0
        if args.namesrv_port == 9876:
            args.namesrv_port = 0
    try:
        ns_config = NamesrvConfig(listen_port=args.namesrv_port, bind_host=args.host, kv_config_path="")
        args.namesrv = None
        config = broker_config(args)
        if not args.config:
            config.broker_name = "broker-a"
    except ConfigError as exc:
        print(f"rmqcore local: {exc}", file=sys.stderr)
        return 2
    try:
        return run_event_loop(_serve_local, args, config, ns_config)
    except BaseException as exc:
        failure = _startup_failure(exc)
        if failure is None:
            raise
        print(f"rmqcore local: {failure}", file=sys.stderr)
        return 1


# -- shutdown ---------------------------------------------------------------------------------
def add_shutdown_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("role", nargs="?", default="all", choices=(*ROLES, "all"), help="what to stop (default all)")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for each process to exit")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_shutdown(args: argparse.Namespace) -> int:
    roles = ROLES if args.role == "all" else (args.role,)
    pid_files = sorted(p for role in roles for p in run_dir().glob(f"{role}-*.pid"))
    if not pid_files:
        print(f"No running {'rmqcore server' if args.role == 'all' else args.role} found in {run_dir()}")
        return 0
    status = 0
    for path in pid_files:
        try:
            pid = int(path.read_text().strip())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            continue
        if not _alive(pid):
            path.unlink(missing_ok=True)
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + args.timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            print(f"{path.stem} (pid {pid}) did not stop within {args.timeout:.0f}s", file=sys.stderr)
            status = 1
        else:
            path.unlink(missing_ok=True)
            print(f"The {path.stem.split('-')[0]} (pid {pid}) is stopped.")
    return status
