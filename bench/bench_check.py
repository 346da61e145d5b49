#!/usr/bin/env python3
"""Benchmark `bean-check` on large generated books with and without the invariants plugin.

    .venv/bin/python bench/bench_check.py [--events 100000] [--repeat 3] [--seed 1]
        [--locations 4] [--per-day 250] [--dir DIR]

Generates the books with `bench/generate.py` (reused like `bench_build.py`
does), builds them, writes `main-noplugin.beancount` beside `main.beancount`
(the same text without the `plugin` line), then runs `bean-check` on the two
alternately, `--repeat` times each, each in a fresh process without
Beancount's pickle cache, and prints the medians.
It also times the plugin function alone over the loaded entries.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import timing  # noqa: E402  (bench/timing.py, beside this file)
from bench_build import books_for  # noqa: E402  (bench/bench_build.py, beside this file)

from pkgbooks.build import build  # noqa: E402
from pkgbooks.layout import load_ledger  # noqa: E402
from pkgbooks.ledger import PLUGIN  # noqa: E402
from pkgbooks.plugins.invariants import check_invariants  # noqa: E402


def bean_check(main: Path) -> float:
    """Seconds for one `bean-check` of `main` in a fresh process (no pickle cache)."""
    checker = Path(sys.executable).parent / "bean-check"
    env = dict(os.environ, BEANCOUNT_DISABLE_LOAD_CACHE="1")
    return timing.run_ok([str(checker), str(main)], env).seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--locations", type=int, default=4)
    parser.add_argument("--per-day", type=int, default=250)
    parser.add_argument("--dir", type=Path)
    args = parser.parse_args(argv)
    books = books_for(args)
    result = build(books)
    if result.problems:
        raise SystemExit(f"build failed: {result.problems[0]}")
    main_file = books / "main.beancount"
    plain = books / "main-noplugin.beancount"
    text = main_file.read_text(encoding="utf-8")
    assert f'plugin "{PLUGIN}"\n' in text
    plain.write_text(text.replace(f'plugin "{PLUGIN}"\n', ""), encoding="utf-8")
    times: dict[str, list[float]] = {"with plugin": [], "without": []}
    for _ in range(args.repeat):
        times["with plugin"].append(bean_check(main_file))
        times["without"].append(bean_check(plain))
    for label, runs in times.items():
        print(f"bean-check {label:12} median {statistics.median(runs):6.2f} s  "
              f"min {min(runs):6.2f} s  max {max(runs):6.2f} s  ({args.repeat} runs)")
    entries, _errors, options = load_ledger(plain)
    alone = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        _, errors = check_invariants(entries, options)
        alone.append(time.perf_counter() - started)
        assert errors == [], errors[:3]
    print(f"plugin alone over {len(entries)} entries: median {statistics.median(alone):.3f} s")
    plain.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
