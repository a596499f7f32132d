"""The ``rmqcore`` command line: one module per subcommand group.

Each module in ``COMMANDS`` defines ``add_<name>_arguments(parser)`` and ``run_<name>(args) -> int``
(or plain ``add_arguments``/``run`` when it serves one subcommand).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {}


def _register(name: str, module: str, help_text: str) -> None:
    COMMANDS[name] = (module, help_text)


_register("bench", "rmqcore.cli.bench", "measure the message store: append and read throughput")
_register("namesrv", "rmqcore.cli.server", "run a name server")
_register("broker", "rmqcore.cli.server", "run a broker (-c broker.conf, -n name servers)")
_register("local", "rmqcore.cli.server", "run a name server and a broker in one process on an embedded store")
_register("shutdown", "rmqcore.cli.server", "stop running name servers and brokers (SIGTERM by pid file)")
_register("admin", "rmqcore.cli.admin", "administer topics, groups and messages (mqadmin commands)")
_register("quickstart", "rmqcore.cli.quickstart", "quick start: produce 1000 messages to TopicTest, or consume them")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rmqcore", description="RocketMQ-style messaging primitives and broker")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=help_text)
        add = getattr(module, f"add_{name}_arguments", None) or module.add_arguments
        run = getattr(module, f"run_{name}", None) or module.run
        add(p)
        p.set_defaults(_run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
