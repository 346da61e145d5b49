#!/usr/bin/env python3
"""Memory and time of the rules' account names (`postings.Accounts`) for many locations.

    .venv/bin/python bench/bench_accounts.py 250 500 1000 2000 6000

For each count of locations: build `Accounts` and ask for the DueTo / DueFrom
pair of every location with its neighbour (as payments taken at another
location do), and print the peak of Python allocations (tracemalloc) and the
time taken. Memory must grow linearly with the locations.
"""

from __future__ import annotations

import sys
import time
import tracemalloc

from pkgbooks.postings import Accounts


def measure(count: int) -> tuple[float, float]:
    """(peak MiB, seconds) for `count` locations."""
    segments = {f"loc-{i}": f"Loc{i}" for i in range(count)}
    tracemalloc.start()
    start = time.perf_counter()
    names = Accounts(segments)
    for i in range(count):
        here, there = f"loc-{i}", f"loc-{(i + 1) % count}"
        names.due_to(here, there)
        names.due_from(there, here)
    elapsed = time.perf_counter() - start
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20, elapsed


def main() -> None:
    for count in map(int, sys.argv[1:] or ["250", "500", "1000", "2000"]):
        peak, elapsed = measure(count)
        print(f"{count:>6} locations: peak {peak:8.1f} MiB  {elapsed:6.2f} s")


if __name__ == "__main__":
    main()
