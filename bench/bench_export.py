#!/usr/bin/env python3
"""Benchmark `pkgbooks export` against `pkgbooks report liability` on large books.

    .venv/bin/python bench/bench_export.py [--events 100000] [--repeat 3] [--dir DIR]

Generates the books with `bench/generate.py` (seed 1), adds an account map
for every target to their `pkgbooks.toml` (every role mapped, as a real map
would), builds them once, then times each command, `--repeat` rounds of all of them in turn, as the
user runs it (a fresh `pkgbooks` process: Beancount loads the ledger, then
the query or the export runs) over the books' whole span, one journal per
month and location. The goal (issue 9): no export slower than the report.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402  (bench/generate.py, beside this file)
import timing  # noqa: E402  (bench/timing.py, beside this file)

from pkgbooks.accounts import BETWEEN_LOCATIONS, ROLES  # noqa: E402
from pkgbooks.build import build  # noqa: E402

PKGBOOKS = str(Path(sys.executable).with_name("pkgbooks"))


def export_map() -> str:
    """Every role mapped for every target, several roles sharing a GL account."""
    lines = []
    for role in ROLES:
        code = {"Assets": "1", "Liabilities": "2", "Income": "4", "Expenses": "6"}[
            role.split(":")[0]] + ("10" if role in BETWEEN_LOCATIONS else "00")
        lines.append(f'"{role}" = "{code}"')
    table = "\n".join(lines)
    qbo = "\n".join(f'"{role}" = {{ name = "GL {role}", id = "{n}" }}'
                    for n, role in enumerate(ROLES, 1))
    return (f"\n[export.xero]\ntracking = \"Location\"\n[export.xero.accounts]\n{table}\n"
            f"[export.qbo.accounts]\n{qbo}\n[export.iif.accounts]\n{table}\n")


def timed(args: list[str]) -> float:
    return timing.run_ok(args).seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    books = args.dir or Path(tempfile.mkdtemp(prefix="pkgbooks-bench-export-"))
    generate.generate(books, args.events)
    config = books / "pkgbooks.toml"
    config.write_text(config.read_text(encoding="utf-8") + export_map(), encoding="utf-8")
    result = build(books)  # unchanged books are rebuilt to the same bytes
    assert not result.problems and result.as_of is not None
    first = min(p.stem for p in (books / "ledger").glob("[0-9]*.beancount"))
    start, end = datetime.date.fromisoformat(first + "-01"), result.as_of
    span = ["--from", start.isoformat(), "--to", end.isoformat()]
    commands = {
        "report liability": [PKGBOOKS, "report", "liability", str(books), *span],
        "export xero csv": [PKGBOOKS, "export", "xero", str(books), *span],
        "export qbo json": [PKGBOOKS, "export", "qbo", str(books), *span, "--format", "json"],
        "export iif, by day": [PKGBOOKS, "export", "iif", str(books), *span, "--group", "day"],
    }
    print(f"{args.events} events, {start} to {end}, books in {books}")
    # Round-robin, so that a busy machine slows every command alike.
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, command in commands.items():
            times[name].append(timed(command))
    print(f"{'command':<26} {'median s':>9} {'best s':>8}")
    for name, taken in times.items():
        print(f"{name:<26} {statistics.median(taken):>9.2f} {min(taken):>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
