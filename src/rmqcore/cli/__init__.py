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


def build_parser(only: str | None = None, *, load_all: bool = True) -> argparse.ArgumentParser:
    """The ``rmqcore`` parser; with ``only`` (or ``load_all=False``) other subcommands get their
    name and help but not their module.

    Importing a subcommand's module can cost tens of milliseconds (``admin`` and ``quickstart``
    import the whole client), so ``main`` loads only the one being run: ``rmqcore broker``
    reaches its boot line sooner.
    """
    parser = argparse.ArgumentParser(prog="rmqcore", description="RocketMQ-style messaging primitives and broker")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == only or (only is None and load_all):
            module = importlib.import_module(module_name)
            add = getattr(module, f"add_{name}_arguments", None) or module.add_arguments
            run = getattr(module, f"run_{name}", None) or module.run
            add(p)
            p.set_defaults(_run=run)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand in ``argv``: the top-level parser has no options but ``-h``, so it is the first
    argument not starting with ``-``."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command(argv), load_all=False)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
