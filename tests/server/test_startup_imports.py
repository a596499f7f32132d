"""What the broker imports to become ready, pinned structurally (which modules are loaded),
never by wall-clock time.

Each check runs in a fresh interpreter: this test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

# Not needed before the boot line: the client (and with it the SQL92 grammar), lark, and the
# delay and transaction services, which the broker opens just after the line.
NOT_AT_BOOT = ("rmqcore.client", "lark", "rmqcore.filter.sql92", "rmqcore.timer", "rmqcore.transaction")


def _run(code: str) -> object:
    """Run ``code`` in a new interpreter; it prints one JSON value last, which is returned."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _matching(modules: object, prefixes: tuple[str, ...]) -> list[str]:
    assert isinstance(modules, list)
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_cli_broker_path_imports_no_client_grammar_or_services() -> None:
    modules = _run(
        """
        import json, sys
        from rmqcore.cli import build_parser
        build_parser("broker")
        import rmqcore.server.broker
        from rmqcore.server.broker.controller import BrokerController
        print(json.dumps(sorted(sys.modules)))
        """
    )
    assert _matching(modules, ("rmqcore.cli.server",)) == ["rmqcore.cli.server"]
    others = ("rmqcore.cli.admin", "rmqcore.cli.quickstart", "rmqcore.cli.bench")
    assert _matching(modules, (*NOT_AT_BOOT, *others)) == []


def test_deferred_services_open_on_first_use(tmp_path: Path) -> None:
    """``open_store_and_services(defer_services=True)``, what ``run`` does before its boot line,
    opens the store and builds the handlers without importing the timer or transaction
    pieces; the first use of a service opens them, and shutdown closes them."""
    loaded = _run(
        f"""
        import asyncio, json, sys
        from rmqcore.server.broker import BrokerController
        from rmqcore.server.config import BrokerConfig

        def pieces():
            return sorted(m for m in sys.modules if m.startswith(("rmqcore.timer", "rmqcore.transaction", "lark")))

        config = BrokerConfig(broker_name="b", store_path_root_dir={str(tmp_path)!r}, listen_port=0, namesrv_addr="")
        config.mapped_file_size_commit_log = 1 << 20
        broker = BrokerController(config)
        broker.open_configs()
        broker.open_store_and_services(("127.0.0.1", 10911), defer_services=True)
        assert broker.handler_table()
        at_boot = pieces()
        assert broker.tick_delay() == 0 and broker.check_transactions() == 0
        assert broker.delay_service is not None and broker.transactions is not None
        after_use = pieces()
        asyncio.run(broker.shutdown())
        assert broker.delay_service is None and broker.store is None
        print(json.dumps([at_boot, after_use]))
        """
    )
    assert isinstance(loaded, list)
    at_boot, after_use = loaded
    assert at_boot == []
    assert "rmqcore.timer.delay_service" in after_use and "rmqcore.transaction.checker" in after_use


def test_tag_subscription_does_not_load_the_sql92_grammar() -> None:
    """A broker compiles every heartbeat's subscription; a TAG one must not import lark (the
    SQL92 grammar), nor importlib.metadata (read only for an unknown filter type). SQL92 loads
    it on first use."""
    loaded = _run(
        """
        import json, sys
        from rmqcore.server.broker.filtering import FilterFactory, SubscriptionFilter

        def heavy():
            return sorted(m for m in sys.modules if m.startswith(("lark", "rmqcore.filter.sql92", "importlib.metadata")))

        tag = SubscriptionFilter.build("T", "TagA || TagB", "TAG", 1, FilterFactory())
        assert tag.matches_tag_code(2598919) and not tag.matches_tag_code(1)
        after_tag = heavy()
        sql = SubscriptionFilter.build("T", "a > 1", "SQL92", 1, FilterFactory())
        assert sql.matches_properties({"a": "2"})
        print(json.dumps([after_tag, heavy()]))
        """
    )
    assert isinstance(loaded, list)
    after_tag, after_sql = loaded
    assert after_tag == []
    assert "lark" in after_sql and "rmqcore.filter.sql92" in after_sql
