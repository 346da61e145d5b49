#!/usr/bin/env python3
"""Time the partitioned build: `--jobs 1`, `--jobs 2` and a 2-worker Dask LocalCluster.

    python bench/bench_partition.py [BOOKS] [--events 100000] [--runs 3]

BOOKS (default: a temporary directory) is filled by bench/generate.py if it
holds no books. Each run builds once in each mode, the modes interleaved so
that a change of the machine's load falls on all alike; the table gives the
median wall time of each mode, the load average before the runs, and where a
partitioned build spends its time (the parent's reading and routing, each
partition's rules and text, the merge and writing), measured in one process.
Every build's books are checked to be byte-identical.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import timing  # bench/timing.py, beside this script (a script's folder is on the path)

ROOT = Path(__file__).resolve().parent.parent
PKGBOOKS = Path(sys.executable).parent / "pkgbooks"


def _digest(books: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted((books / "ledger").rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(books).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _build(books: Path, *options: str) -> float:
    return timing.run_ok([str(PKGBOOKS), "build", str(books), *options]).seconds


def _phases(books: Path, jobs: int) -> dict[str, float]:
    """CPU seconds of each phase of a partitioned build, run in this one process.

    CPU time, not wall time: on a shared machine it hardly moves with the load,
    so it gives what the build costs on an idle one.
    """
    from pkgbooks import partition
    from pkgbooks.build import build
    from pkgbooks.config import load_config
    from pkgbooks.layout import CONFIG, EVENTS
    from pkgbooks.ledger import LedgerText
    from pkgbooks.readers import event_files, read_events

    clock = time.process_time
    start = clock()
    build(books, parallel=None)
    sequential = clock() - start
    config = load_config(books / CONFIG)
    problems: list[object] = []
    paths = event_files(books / EVENTS, problems)  # type: ignore[arg-type]
    start = clock()
    spool = Path(tempfile.mkdtemp(prefix="pkgbooks-bench-spool-"))
    routing = partition.Routing(config, problems, [str(p) for p in paths], None,  # type: ignore[arg-type]
                                spool / "events")
    routing.read(read_events(paths, problems))  # type: ignore[arg-type]
    assert routing.end is not None
    parts_events = routing.split(jobs, spool)
    read = clock() - start
    text = (books / CONFIG).read_text(encoding="utf-8")
    tasks = [partition.Task(text, tuple(str(p) for p in paths), events, routing.end)
             for events in parts_events]
    task_times = []
    parts = []
    for task in tasks:
        start = clock()
        parts.append(partition.run_task(task))
        task_times.append(clock() - start)
    start = clock()
    merge = partition._Merge(LedgerText(config), [iter(p.chunks or ()) for p in parts],
                             partition._added(p.deltas for p in parts), routing.end, None)
    for _month in merge.months():
        pass
    merge = clock() - start
    sizes = [sum(1 for _ in partition.spooled(str(t.events))) for t in tasks]
    shutil.rmtree(spool)
    return {"sequential build": sequential, "read and route": read,
            "slowest partition": max(task_times), "all partitions": sum(task_times),
            "merge": merge, "events in the smaller partition": float(min(sizes))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("books", type=Path, nargs="?")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args(argv)
    books = args.books or Path(tempfile.mkdtemp(prefix="pkgbooks-bench-")) / "books"
    if not (books / "pkgbooks.toml").exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), str(books),
                        "--events", str(args.events)], check=True, stdout=subprocess.DEVNULL)
    modes: dict[str, list[str]] = {"--jobs 1": ["--jobs", "1"], "--jobs 2": ["--jobs", "2"]}
    cluster = None
    if not args.no_dask:
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        modes["--dask (LocalCluster, 2 workers)"] = ["--dask", cluster.scheduler_address]
    load = os.getloadavg()
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    digests: set[str] = set()
    try:
        for _ in range(args.runs):
            for mode, options in modes.items():
                times[mode].append(_build(books, *options))
                digests.add(_digest(books))
    finally:
        if cluster is not None:
            cluster.close()
    after = os.getloadavg()
    assert len(digests) == 1, "the modes wrote different books"
    base = statistics.median(times["--jobs 1"])
    print(f"# {books}: {args.events} events, {datetime.datetime.now():%Y-%m-%d %H:%M}, "
          f"{os.cpu_count()} cores, load average {load[0]:.2f} before, {after[0]:.2f} after")
    print("| build | median (s) | runs (s) | speed-up |")
    print("|---|---:|---|---:|")
    for mode, values in times.items():
        median = statistics.median(values)
        print(f"| {mode} | {median:.1f} | {', '.join(f'{v:.1f}' for v in values)} | "
              f"{base / median:.2f}x |")
    phases = _phases(books, 2)
    print("\nCPU seconds of each phase, in one process:")
    for name, value in phases.items():
        print(f"- {name}: {int(value)}" if name.startswith("events")
              else f"- {name}: {value:.2f}")
    # What the parent does besides reading and merging: entity books, writing, the rest.
    rest = max(0.0, phases["sequential build"] - phases["read and route"]
               - phases["all partitions"] - phases["merge"])
    two = phases["read and route"] + phases["slowest partition"] + phases["merge"] + rest
    print(f"- the rest (entity books, writing): {rest:.2f}")
    print(f"On an idle machine, 2 partitions in 2 processes: about {two:.1f} s, "
          f"{phases['sequential build'] / two:.2f}x the sequential build")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
