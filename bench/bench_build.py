#!/usr/bin/env python3
"""Benchmark `pkgbooks build` (and its parts) on a large generated history.

    /work/venv/bin/python bench/bench_build.py [--events 100000] [--repeat 3]
        [--seed 1] [--locations 4] [--dir DIR] [--validate-repeat 1]
        [--no-validate] [--no-memory] [--no-profile] [--profile-out FILE]
        [--bean-check] [--only-bean-check]

Generates the books with `bench/generate.py` into a temporary directory (kept
and reused while the generator, its arguments and the event count are the
same), then times, over `--repeat` runs each (after one untimed warm-up
build):

* parse    - reading and checking the event files only (`read_events`);
* engine   - the engine alone over already parsed events (`Engine.run`);
* render   - parse + engine + ledger text, nothing written (`render`);
* build    - the whole `pkgbooks.build.build`, files written and swapped in;
* validate - `pkgbooks.validate.validate` (Beancount load, invariants, replay),
             as right after a build: without Beancount's pickle cache of the
             ledger (which it then writes); once more (validate*) with it.

The garbage collector is disabled during parse, engine and render as
`build()` itself does, so that the parts compare with the whole. Peak memory is measured once per
phase in a fresh interpreter (so that one phase's memory does not hide
another's): the process's peak RSS during the phase (VmHWM, reset
through /proc/self/clear_refs once pkgbooks is imported, so import-time
peaks do not mask it), its growth over the RSS at the phase's start, and
for build the peak of Python allocations under `tracemalloc` (a separate,
slower run). Finally one build
runs under cProfile and the top 25 functions by cumulative and by total time
are printed. With `--bean-check`, `pkgbooks build` (a fresh process, `--repeat`
times) and `bean-check -C` on the ledger it wrote are timed side by side, and
the ratio printed (`--only-bean-check`: that alone).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402  (bench/generate.py, beside this file)
import timing  # noqa: E402  (bench/timing.py, beside this file)

from pkgbooks.build import CONFIG, EVENTS, build, render  # noqa: E402
from pkgbooks.checkpoint import remove_checkpoint  # noqa: E402
from pkgbooks.config import load_config  # noqa: E402
from pkgbooks.engine import Engine  # noqa: E402
from pkgbooks.errors import Error  # noqa: E402
from pkgbooks.readers import event_files, read_events  # noqa: E402
from pkgbooks.validate import validate  # noqa: E402

STAMP = ".bench-stamp.json"


# ---------------------------------------------------------------------------
# The books
# ---------------------------------------------------------------------------


def books_for(args: argparse.Namespace) -> Path:
    """The generated books for these arguments, generated now if missing or stale."""
    source = b"".join(path.read_bytes() for path in generate.SOURCE_FILES)
    stamp = {"events": args.events, "seed": args.seed, "locations": args.locations,
             "per_day": args.per_day, "generator": hashlib.sha256(source).hexdigest()[:16]}
    books = args.dir or Path(tempfile.gettempdir()) / (
        f"pkgbooks-bench-{args.events}-s{args.seed}-l{args.locations}-d{args.per_day}")
    stamp_file = books / STAMP
    if stamp_file.exists() and json.loads(stamp_file.read_text()) == stamp:
        print(f"books: {books} (reused)")
        return books
    started = time.perf_counter()
    summary = generate.generate(books, args.events, args.seed, args.locations, args.per_day)
    stamp_file.write_text(json.dumps(stamp))
    print(f"books: {books} (generated in {time.perf_counter() - started:.1f} s)")
    print(f"  {json.dumps(summary)}")
    return books


# ---------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------


def _no_gc(fn: Callable[[], object]) -> object:
    enabled = gc.isenabled()
    gc.disable()
    try:
        return fn()
    finally:
        if enabled:
            gc.enable()


def phase_parse(books: Path) -> int:
    problems: list[Error] = []

    def run() -> int:
        return sum(1 for _ in read_events(event_files(books / EVENTS), problems))

    count = _no_gc(run)
    assert not problems, problems[:5]
    assert isinstance(count, int)
    return count


def parsed(books: Path) -> list:
    problems: list[Error] = []
    reads = list(read_events(event_files(books / EVENTS), problems))
    assert not problems, problems[:5]
    return reads


def phase_engine(books: Path, reads: list) -> int:
    config = load_config(books / CONFIG)
    problems: list[Error] = []

    def run() -> int:
        return sum(1 for _ in Engine(config, problems).run(reads, None))

    count = _no_gc(run)
    assert not problems, problems[:5]
    assert isinstance(count, int)
    return count


def phase_render(books: Path) -> int:
    def run() -> tuple[object, int]:
        result, files = render(books, None)
        return result, sum(len(text) for _name, text in files)

    result, size = _no_gc(run)  # type: ignore[misc]
    assert not result.problems, result.problems[:5]  # type: ignore[attr-defined]
    return size


def phase_build(books: Path) -> int:
    # A full build each time: with the previous build's checkpoint beside the books, an
    # unchanged build goes on from its end and writes nothing new (an incremental no-op).
    remove_checkpoint(books)
    result = build(books)
    if result.problems:
        raise SystemExit("the benchmark books do not build:\n"
                         + "\n".join(str(p) for p in result.problems[:20]))
    return result.counts.transactions


def drop_beancount_cache(books: Path) -> None:
    """Beancount pickles a load that takes over a second next to main.beancount and
    reuses it while no included file changes; a build always changes them."""
    (books / ".main.beancount.picklecache").unlink(missing_ok=True)


def phase_validate(books: Path, cold: bool = True) -> int:
    if cold:
        drop_beancount_cache(books)
    report = validate(books)
    if report.errors:
        raise SystemExit("validate failed:\n" + "\n".join(map(str, report.errors[:20])))
    return len(report.passed)


def bean_check_ratio(books: Path, repeat: int, events: int) -> None:
    """`pkgbooks build` against `bean-check -C` on the ledger it wrote, side by side.

    Each is a fresh process (imports included), timed in turn so that the load
    on the machine falls on both alike: `repeat` builds, then one bean-check
    (without Beancount's pickle cache, `-C`).
    """
    bin_dir = Path(sys.executable).parent
    build_cmd = [str(bin_dir / "pkgbooks"), "build", str(books)]
    check_cmd = [str(bin_dir / "bean-check"), "-C", str(books / "main.beancount")]
    print(f"\n`pkgbooks build` and `bean-check -C` on the ledger it wrote ({events:,} events; "
          f"load average {os.getloadavg()[0]:.1f})")
    builds = []
    for _ in range(repeat):
        remove_checkpoint(books)  # a full build, not a no-op going on from the last one
        builds.append(_run_timed(build_cmd))
    check = _run_timed(check_cmd)
    build = statistics.median(builds)
    print(f"  pkgbooks build   median {build:.2f} s of {repeat} "
          f"[{', '.join(f'{t:.2f}' for t in builds)}]")
    print(f"  bean-check -C    {check:.2f} s")
    print(f"  ratio build / bean-check: {build / check:.3f}")


def _run_timed(command: list[str]) -> float:
    return timing.run_ok(command).seconds


def timed(label: str, repeat: int, events: int, fn: Callable[[], object]) -> dict:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    row = {"phase": label, "runs": repeat, "best_s": min(times), "median_s": median,
           "events_per_s": events / median}
    print(f"  {label:<9} {repeat:>4} {min(times):>9.3f} {median:>9.3f} "
          f"{events / median:>12,.0f}   [{', '.join(f'{t:.3f}' for t in times)}]")
    return row


# ---------------------------------------------------------------------------
# Memory, each phase in a fresh interpreter
# ---------------------------------------------------------------------------


def _status_mib(field: str) -> float | None:
    """A figure of /proc/self/status (VmRSS, VmHWM) in MiB, or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0), so a phase's own peak shows."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    hwm = _status_mib("VmHWM")
    if hwm is not None:
        return hwm
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(phase: str, books: Path, trace: bool) -> None:
    """Run one phase once; print its memory figures as JSON."""
    reads = parsed(books) if phase == "engine" else None
    gc.collect()
    reset = reset_peak_rss()
    baseline = _status_mib("VmRSS") if reset else peak_rss_mib()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    if phase == "parse":
        phase_parse(books)
    elif phase == "engine":
        phase_engine(books, reads or [])
    elif phase == "build":
        phase_build(books)
    elif phase == "validate":
        phase_validate(books)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    print(json.dumps({"phase": phase, "baseline_mib": baseline, "peak_rss_mib": peak_rss_mib(),
                      "tracemalloc_peak_mib": peak, "seconds": elapsed}))


def measure_memory(phase: str, books: Path, trace: bool = False) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", phase, "--dir", str(books)]
    if trace:
        cmd.append("--trace")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# Profile
# ---------------------------------------------------------------------------


def profile_build(books: Path, out: Path | None) -> None:
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(phase_build, books)
    elapsed = time.perf_counter() - started
    print(f"\ncProfile of one build ({elapsed:.2f} s under the profiler)")
    if out is not None:
        profiler.dump_stats(str(out))
        print(f"  raw profile written to {out} (python -m pstats {out})")
    for key, title in (("cumulative", "cumulative time"), ("tottime", "total (own) time")):
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer)
        stats.strip_dirs().sort_stats(key).print_stats(25)
        text = buffer.getvalue()
        start = text.find("   ncalls")
        print(f"\n--- top 25 by {title} ---")
        print(text[start:].rstrip() if start >= 0 else text.rstrip())


# ---------------------------------------------------------------------------


def machine() -> str:
    return timing.machine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--locations", type=int, default=4, choices=range(3, 6))
    parser.add_argument("--per-day", type=int, default=250)
    parser.add_argument("--dir", type=Path, help="books directory (default: a temp dir)")
    parser.add_argument("--validate-repeat", type=int, default=1)
    parser.add_argument("--no-validate", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--profile-out", type=Path)
    parser.add_argument("--bean-check", action="store_true",
                        help="also time `pkgbooks build` and `bean-check -C` side by side")
    parser.add_argument("--only-bean-check", action="store_true",
                        help="only that comparison (no phases, memory or profile)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.dir, args.trace)
        return 0

    print(machine())
    books = books_for(args)
    n = args.events
    print("warm-up build ...", end=" ", flush=True)
    started = time.perf_counter()
    transactions = phase_build(books)
    print(f"{time.perf_counter() - started:.2f} s, {transactions:,} transactions")

    if args.only_bean_check:
        bean_check_ratio(books, args.repeat, n)
        return 0

    print(f"\ntimings for {n:,} events (seconds; events/s from the median)")
    print(f"  {'phase':<9} {'runs':>4} {'best':>9} {'median':>9} {'events/s':>12}   [runs]")
    rows = [timed("parse", args.repeat, n, lambda: phase_parse(books))]
    reads = parsed(books)
    rows.append(timed("engine", args.repeat, n, lambda: phase_engine(books, reads)))
    reads = []  # let the parsed events go before the next phases
    rows.append(timed("render", args.repeat, n, lambda: phase_render(books)))
    rows.append(timed("build", args.repeat, n, lambda: phase_build(books)))
    if not args.no_validate:
        rows.append(timed("validate", args.validate_repeat, n, lambda: phase_validate(books)))
        rows.append(timed("validate*", 1, n, lambda: phase_validate(books, cold=False)))
        print("  validate: as right after a build (no Beancount pickle cache; it writes one); "
              "validate*: reusing that cache")

    if args.bean_check:
        bean_check_ratio(books, args.repeat, n)

    if not args.no_memory:
        print("\npeak memory, each phase once in a fresh interpreter (MiB)")
        print(f"  {'phase':<9} {'peak RSS':>9} {'growth':>9} {'tracemalloc peak':>17}")
        phases = ["parse", "engine", "build"] + ([] if args.no_validate else ["validate"])
        for phase in phases:
            mem = measure_memory(phase, books)
            traced = ""
            if phase == "build":
                traced = f"{measure_memory(phase, books, trace=True)['tracemalloc_peak_mib']:.1f}"
            print(f"  {phase:<9} {mem['peak_rss_mib']:>9.1f} "
                  f"{mem['peak_rss_mib'] - mem['baseline_mib']:>9.1f} {traced:>17}")
        print("  peak RSS: the whole process during the phase; growth: over its RSS at the "
              "start of the phase\n  (engine: the parsed events are already in memory at "
              "the start, so its growth is the engine's own)")

    if not args.no_profile:
        profile_build(books, args.profile_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
