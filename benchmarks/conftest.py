"""Shared benchmark reporting: throughput figures and target ratios from one run's medians.

A benchmark opts in through ``benchmark.extra_info``:

* ``messages`` / ``bytes``: what one timed round handles, so the summary can turn the
  round's median time into messages/s and MB/s (MB = 10**6 bytes);
* ``targets``: a list of ``[other_benchmark_name, at_least, metric]`` meaning
  "this benchmark's ``metric`` ("msgs/s" or "MB/s") divided by the other's, from this
  same run, should be at least ``at_least``" (``None``: report the ratio only).

The summary is printed after pytest-benchmark's own table and only reports: a missed
target is shown as MISSED, it never fails the run (wall-clock figures are not test
assertions).
"""

from __future__ import annotations

import os
from typing import Any

MB = 1_000_000


def _rates(bench: Any) -> dict[str, float] | None:
    info = bench.extra_info
    if "messages" not in info or not bench.stats or not bench.stats.median:
        return None
    median = bench.stats.median
    return {"msgs/s": info["messages"] / median, "MB/s": info.get("bytes", 0) / median / MB}


def _si(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:7.2f} {unit}"
    return f"{value:7.1f}  "


def pytest_terminal_summary(terminalreporter: Any, config: Any) -> None:
    session = getattr(config, "_benchmarksession", None)
    if session is None:
        return
    rates = {b.name: (b, r) for b in session.benchmarks if (r := _rates(b)) is not None}
    if not rates:
        return
    write = terminalreporter.write_line
    terminalreporter.section("throughput (from each round's median time)")
    # Figures from a shared or busy machine swing by 2-3x between runs; say how busy it was.
    load_1min = os.getloadavg()[0]
    write(f"load average {load_1min:.2f} over the last minute on {os.cpu_count()} CPUs")
    width = max(len(name) for name in rates)
    write(f"{'benchmark':<{width}}  {'median/round':>12}  {'msgs/s':>10}  {'MB/s':>9}")
    for name, (bench, rate) in rates.items():
        write(
            f"{name:<{width}}  {bench.stats.median * 1e3:9.3f} ms  {_si(rate['msgs/s']):>10}  "
            f"{rate['MB/s']:9.1f}"
        )
    rows = []
    for name, (bench, rate) in rates.items():
        for versus, at_least, metric in bench.extra_info.get("targets", ()):
            if versus not in rates:
                rows.append(f"{name} / {versus}: {versus} did not run (skipped or deselected)")
                continue
            ratio = rate[metric] / rates[versus][1][metric]
            if at_least is None:
                verdict = "(no target)"
            elif ratio >= at_least:
                verdict = f"target >= {at_least:g}x  met"
            else:
                verdict = f"target >= {at_least:g}x  MISSED by {at_least / ratio:.2f}x"
            rows.append(f"{name} / {versus} ({metric}): {ratio:8.3f}x  {verdict}")
    if rows:
        terminalreporter.section("ratios measured in this run")
        for row in rows:
            write(row)
