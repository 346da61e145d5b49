#!/usr/bin/env python3
"""Time every report for one month, cold and warm, next to `bean-check -C` on the same ledger.

    .venv/bin/python bench/bench_reports.py [--events 100000] [--repeat 3]
        [--from 2026-01-01 --to 2026-01-31] [--report NAME ...] [--dir DIR]

Generates the books with `bench/generate.py` (reused like `bench_build.py`
does) and builds them. Then, `--repeat` times, in turn so that the load of a
shared machine falls on all alike: `bean-check -C main.beancount`, and for
every report `pkgbooks report NAME DIR --from --to --format json` in a fresh
process twice: **cold** (the first run after a build: the report cache
emptied first) and **warm** (the same command again). The as-of reports
(customers, invoices) take `--to` only. Prints the medians, each report's
cold and warm time as a fraction of `bean-check -C` (elapsed, and processor
time, which a shared machine's load disturbs far less), and the load average.
The report cache of the runs is a directory of their own (`PKGBOOKS_CACHE`),
removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import timing  # noqa: E402  (bench/timing.py, beside this file)
from bench_build import books_for  # noqa: E402  (bench/bench_build.py, beside this file)

from pkgbooks.build import build  # noqa: E402
from pkgbooks.reports import AS_OF_REPORTS, REPORTS  # noqa: E402

BIN = Path(sys.executable).parent


CPU: dict[str, list[float]] = {}


def timed(command: list[str], env: dict[str, str], label: str) -> float:
    """Seconds for one command in a fresh process; stop the benchmark if it fails.

    Its processor time (user + system, its helpers included) goes to `CPU`: on
    a shared machine it varies far less with the load than the elapsed time.
    """
    done = timing.run_ok(command, env)
    CPU.setdefault(label, []).append(done.cpu)
    return done.seconds



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--locations", type=int, default=4)
    parser.add_argument("--per-day", type=int, default=250)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--from", dest="start", default="2026-01-01")
    parser.add_argument("--to", dest="end", default="2026-01-31")
    parser.add_argument("--report", action="append", choices=list(REPORTS),
                        help="only this report (repeatable; default: every report)")
    args = parser.parse_args(argv)
    books = books_for(args)
    result = build(books)
    if result.problems:
        raise SystemExit(f"build failed: {result.problems[0]}")
    cache = Path(tempfile.mkdtemp(prefix="pkgbooks-bench-cache-"))
    env = dict(os.environ, PKGBOOKS_CACHE=str(cache), BEANCOUNT_DISABLE_LOAD_CACHE="1")
    names = args.report or list(REPORTS)
    check = [str(BIN / "bean-check"), "-C", str(books / "main.beancount")]
    times: dict[str, list[float]] = {"bean-check -C": []}
    loads = [timing.load()]
    try:
        for _ in range(args.repeat):
            times["bean-check -C"].append(timed(check, env, "bean-check -C"))
            print(f"  bean-check -C: {times['bean-check -C'][-1]:.2f} s (load {timing.load()})",
                  flush=True)
            for name in names:
                period = (["--to", args.end] if name in AS_OF_REPORTS
                          else ["--from", args.start, "--to", args.end])
                command = [str(BIN / "pkgbooks"), "report", name, str(books), *period,
                           "--format", "json"]
                shutil.rmtree(cache, ignore_errors=True)
                times.setdefault(f"{name} cold", []).append(timed(command, env, f"{name} cold"))
                times.setdefault(f"{name} warm", []).append(timed(command, env, f"{name} warm"))
                print(f"  {name}: cold {times[f'{name} cold'][-1]:.2f} s, warm "
                      f"{times[f'{name} warm'][-1]:.2f} s (load {timing.load()})", flush=True)
            loads.append(timing.load())
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    check_s = statistics.median(times["bean-check -C"])
    print(f"books: {books}, period {args.start}..{args.end}, {args.repeat} run(s) each, "
          f"medians; load average (1/5/15 min) before and after each round: "
          f"{' | '.join(loads)}")
    print(f"bean-check -C: {check_s:.2f} s (min {min(times['bean-check -C']):.2f})\n")
    check_cpu = statistics.median(CPU["bean-check -C"])
    print(f"bean-check -C processor time: {check_cpu:.2f} s\n")
    print("| report | cold s | warm s | cold / bean-check | warm / bean-check "
          "| cold / bean-check (CPU) | warm / bean-check (CPU) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in names:
        cold = statistics.median(times[f"{name} cold"])
        warm = statistics.median(times[f"{name} warm"])
        cold_cpu = statistics.median(CPU[f"{name} cold"])
        warm_cpu = statistics.median(CPU[f"{name} warm"])
        print(f"| {name} | {cold:.2f} | {warm:.2f} | {cold / check_s:.2f}x | "
              f"{warm / check_s:.2f}x | {cold_cpu / check_cpu:.2f}x | "
              f"{warm_cpu / check_cpu:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
