#!/usr/bin/env python3
"""Time a full build against appending one day of events (an incremental build).

    python bench/bench_incremental.py [--events 100000] [--repeat 3] [--keep DIR] [--jobs N]

Generates books with `bench/generate.py` (seed 1), sets the last day's events
aside in a file of their own, and builds the rest. Then, `--repeat` times,
interleaved on the same machine load:

* incremental: the day's file is added and `pkgbooks build` runs (it goes on
  from the checkpoint the previous build left);
* full: the same books, checkpoint removed, `pkgbooks build` again;

and the books are put back as they were before the day (a build, not
timed). Every build is the `pkgbooks build` command in a new process (with
`--jobs N` if given, else the default: as many partitions as cores), so the
times include starting Python; the CPU seconds of each (user and system, its
processes' and theirs) are measured too. Prints the medians, their ratio, the
checkpoint's size and the load average, as JSON; the two ledgers are checked
identical.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# bench/generate.py and bench/timing.py, beside this script (a script's folder is on the path)
import generate
import timing

HERE = Path(__file__).resolve().parent
PKGBOOKS = Path(sys.executable).with_name("pkgbooks")


def _generate(out: Path, events: int) -> None:
    generate.generate(out, events=events, seed=1)


def set_last_day_aside(books: Path, day_file: Path) -> str:
    """Move the events of the books' last date out of their files into `day_file`."""
    files = sorted((books / "events").glob("*.jsonl"))
    last = max(json.loads(line)["date"] for line in files[-1].read_text().splitlines())
    day, keep = [], []
    for line in files[-1].read_text().splitlines():
        (day if json.loads(line)["date"] == last else keep).append(line)
    files[-1].write_text("".join(line + "\n" for line in keep))
    day_file.write_text("".join(line + "\n" for line in day))
    return last


JOBS: list[str] = []  # `--jobs N` for every build, or nothing: the default


def _build(books: Path, cpu: list[float] | None = None) -> tuple[float, str]:
    done = timing.run_ok([str(PKGBOOKS), "build", *JOBS, str(books)])
    if cpu is not None:
        cpu.append(done.cpu)
    return done.seconds, done.stdout.strip().rsplit("; ", 1)[-1]


def _ledger_digest(books: Path) -> str:
    digest = hashlib.sha256()
    for path in [books / "main.beancount", *sorted((books / "ledger").rglob("*"))]:
        if path.is_file():
            digest.update(str(path.relative_to(books)).encode() + path.read_bytes())
    return digest.hexdigest()


def measure(events: int, repeat: int, keep: Path | None = None) -> dict[str, object]:
    work = keep or Path(tempfile.mkdtemp(prefix="pkgbooks-incremental-"))
    books = work / "books"
    if not books.exists():
        _generate(books, events)
    day_file = work / "day.jsonl"
    if not day_file.exists():
        set_last_day_aside(books, day_file)
    appended = books / "events" / "zz-appended-day.jsonl"
    appended.unlink(missing_ok=True)
    _build(books)  # the books before the day, with their checkpoint
    incremental, full, hows = [], [], set()
    incremental_cpu: list[float] = []
    full_cpu: list[float] = []
    size = 0
    for _ in range(repeat):
        shutil.copyfile(day_file, appended)
        seconds, how = _build(books, incremental_cpu)
        incremental.append(seconds)
        hows.add(how)
        size = (books / ".pkgbooks" / "checkpoint").stat().st_size
        after_incremental = _ledger_digest(books)
        shutil.rmtree(books / ".pkgbooks")
        seconds, how = _build(books, full_cpu)
        full.append(seconds)
        assert how.startswith("full build"), how
        assert _ledger_digest(books) == after_incremental, "incremental != full"
        appended.unlink()
        _build(books)  # back to the books before the day (a full build: no checkpoint)
    start = time.perf_counter()
    subprocess.run([str(PKGBOOKS), "--version"], capture_output=True, check=True)
    startup = time.perf_counter() - start
    if keep is None:
        shutil.rmtree(work)
    return {
        "events": events,
        "day_events": sum(1 for _ in day_file.open()) if keep else None,
        "full_build_s": round(statistics.median(full), 2),
        "incremental_s": round(statistics.median(incremental), 2),
        "ratio": round(statistics.median(incremental) / statistics.median(full), 3),
        "full_cpu_s": round(statistics.median(full_cpu), 2),
        "incremental_cpu_s": round(statistics.median(incremental_cpu), 2),
        "cpu_ratio": round(statistics.median(incremental_cpu) / statistics.median(full_cpu), 3),
        "jobs": JOBS[1] if JOBS else "default",
        "full_runs": [round(s, 2) for s in full],
        "incremental_runs": [round(s, 2) for s in incremental],
        "incremental_was": sorted(hows),
        "checkpoint_bytes": size,
        "python_startup_s": round(startup, 2),
        "loadavg": os.getloadavg(),
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument("--jobs", type=int, help="pkgbooks build --jobs N (default: its own)")
    args = parser.parse_args()
    if args.jobs is not None:
        JOBS[:] = ["--jobs", str(args.jobs)]
    print(json.dumps(measure(args.events, args.repeat, args.keep), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
