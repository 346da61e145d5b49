#!/usr/bin/env python3
"""One table of every command's time and memory at several sizes, run as a user runs them.

    .venv/bin/python bench/bench_all.py [--sizes 10000,100000,1000000] [--locations L]
        [--entities E] [--seed 1] [--repeat 1] [--dir DIR] [--write docs/performance.md]

For each size, `pkgbooks generate` writes the books (see `locations_for` for
the shape), the last day of events is held back for the append, an account
map is added to `pkgbooks.toml` (the export needs one), and then each command
runs as a separate `pkgbooks` process, timed from the outside (wall clock)
with the peak resident memory of that process (`os.wait4`'s `ru_maxrss`: for
`--jobs 2` the largest of its processes, not their sum):

* generate - `pkgbooks generate` itself;
* build - a full build into a directory with no ledger yet (the event files
  are hard links to the same ones); `--jobs 1` and `--jobs 2` likewise;
* validate;
* each report, cold (the first run after the build: the report cache,
  `$PKGBOOKS_CACHE`, is put back as the build left it before each one) and
  warm (run again), for the month in the middle of the history (the as-of
  reports at its end);
* export (Xero CSV, one journal per location, that month);
* bean-check -C on the same `main.beancount` (what Beancount alone costs);
* incremental append - the held-back day added in a new file, then build.

A command or option the installed `pkgbooks` does not have (asked of its
`--help`) shows `n/a`; one that fails shows `failed` and its error is
printed. `x check` is the time over `bean-check -C`'s on the same books. With
`--write FILE`, the table and the machine it ran on replace the part of FILE
between `<!-- bench_all:start -->` and `<!-- bench_all:end -->` (added at the
end if absent).
"""

from __future__ import annotations

import argparse
import calendar
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import timing  # noqa: E402  (bench/timing.py, beside this file)
from bench_export import export_map  # noqa: E402  (bench/bench_export.py, beside this file)

BIN = Path(sys.executable).parent
PKGBOOKS = str(BIN / "pkgbooks")
BEAN_CHECK = str(BIN / "bean-check")
START, END = "<!-- bench_all:start -->", "<!-- bench_all:end -->"
AS_OF_REPORTS = ("customers", "invoices")  # reports that take --to only (SPEC 7a)
NA, FAILED = "n/a", "failed"


# ---------------------------------------------------------------------------
# Running one command
# ---------------------------------------------------------------------------


@dataclass
class Run:
    """One command's measurement (median wall time, largest peak RSS), or why there is none."""

    seconds: float | None = None
    rss_mb: float | None = None
    missing: str | None = None  # NA or FAILED


def run_once(args: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MB, exit status, standard error) of one process."""
    done = timing.run(args, env)
    return done.seconds, done.peak_mib, done.returncode, done.stderr


def measure(args: list[str], env: dict[str, str], repeat: int,
            before: object = None) -> Run:
    """Run `args` `repeat` times (calling `before()` before each); a failure stops it."""
    times, peaks = [], []
    for _ in range(repeat):
        if callable(before):
            before()
        seconds, rss, code, err = run_once(args, env)
        if code != 0:
            print(f"  FAILED ({code}): {' '.join(args)}\n    " +
                  "\n    ".join(err.strip().splitlines()[-5:]), flush=True)
            return Run(missing=FAILED)
        times.append(seconds)
        peaks.append(rss)
    return Run(statistics.median(times), max(peaks))


# ---------------------------------------------------------------------------
# What the installed pkgbooks can do
# ---------------------------------------------------------------------------


def help_text(*command: str) -> str:
    done = subprocess.run([PKGBOOKS, *command, "--help"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else ""


@dataclass
class Abilities:
    commands: set[str]
    build_options: str
    reports: list[str]

    @classmethod
    def ask(cls) -> Abilities:
        top = help_text()
        commands = set(re.findall(r"^  (\w+)  ", top, re.M))
        usage = re.sub(r"\s+", "", help_text("report"))
        found = re.search(r"\{([^}]*)\}", usage)
        reports = found.group(1).split("|") if found else []
        return cls(commands, help_text("build"), reports)

    def build_has(self, option: str) -> bool:
        return re.search(rf"(^|\s){re.escape(option)}\b", self.build_options) is not None


# ---------------------------------------------------------------------------
# The books
# ---------------------------------------------------------------------------


def default_locations(events: int) -> int:
    """About a year of history: the four fixed spas (250 events a day) up to 100k events,
    else 50 events a day per location over 365 days."""
    return 4 if events <= 100_000 else -(-events // (50 * 365))


def hold_back_last_day(books: Path) -> tuple[str, list[str]]:
    """Take the last day's events out of the books: (its date, its lines)."""
    last_file = sorted((books / "events").glob("*.jsonl"))[-1]
    lines = last_file.read_text(encoding="utf-8").splitlines()
    last_day = max(json.loads(line)["date"] for line in lines)
    kept = [line for line in lines if json.loads(line)["date"] != last_day]
    held = [line for line in lines if json.loads(line)["date"] == last_day]
    if kept:
        last_file.write_text("\n".join(kept) + "\n", encoding="utf-8")
    else:
        last_file.unlink()
    return last_day, held


def fresh_copy(books: Path, where: Path) -> Path:
    """The books' inputs in a new directory (event files linked, not copied): no ledger yet."""
    if where.exists():
        shutil.rmtree(where)
    (where / "events").mkdir(parents=True)
    shutil.copy(books / "pkgbooks.toml", where / "pkgbooks.toml")
    for path in (books / "events").iterdir():
        try:
            os.link(path, where / "events" / path.name)
        except OSError:
            shutil.copy(path, where / "events" / path.name)
    return where


def middle_month(books: Path) -> tuple[str, str]:
    """(first day, last day) of the month in the middle of the history (a full one if there
    are two; cut at the books' last day if it is the last month)."""
    files = sorted((books / "events").glob("*.jsonl"))
    months = sorted({p.stem[:7] for p in files})
    year, month = (int(x) for x in months[(len(months) - 1) // 2].split("-"))
    end = f"{year:04d}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"
    with files[-1].open(encoding="utf-8") as lines:  # dates never go down in a file
        *_, final = lines
    return f"{year:04d}-{month:02d}-01", min(end, json.loads(final)["date"])


# ---------------------------------------------------------------------------
# One size
# ---------------------------------------------------------------------------


@dataclass
class Size:
    events: int
    locations: int
    entities: str
    period: str = ""
    runs: dict[str, Run] = field(default_factory=dict)
    build_events_per_s: float | None = None


def bench_size(events: int, args: argparse.Namespace, can: Abilities, work: Path) -> Size:
    locations = args.locations or default_locations(events)
    size = Size(events, locations, str(args.entities or "default"))
    root = work / f"{events}"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    cache = root / "cache"
    env = {**os.environ, "PKGBOOKS_CACHE": str(cache)}
    runs = size.runs
    print(f"== {events:,} events, {locations} locations", flush=True)

    generated = root / "generated"
    command = [PKGBOOKS, "generate", str(generated), "--events", str(events),
               "--locations", str(locations), "--seed", str(args.seed)]
    if args.entities:
        command += ["--entities", str(args.entities)]
    runs["generate"] = measure(command, env, 1) if "generate" in can.commands else Run(
        missing=NA)
    if runs["generate"].missing:
        raise SystemExit("pkgbooks generate is needed to make the books")
    last_day, held = hold_back_last_day(generated)
    config = generated / "pkgbooks.toml"
    config.write_text(config.read_text(encoding="utf-8") + export_map(), encoding="utf-8")

    books = root / "books"

    def clean_books() -> None:
        fresh_copy(generated, books)
        shutil.rmtree(cache, ignore_errors=True)

    print("  build", flush=True)
    runs["build"] = measure([PKGBOOKS, "build", str(books)], env, args.repeat, clean_books)
    build = runs["build"]
    if build.seconds:
        size.build_events_per_s = (events - len(held)) / build.seconds
    for jobs in ("1", "2"):
        name = f"build --jobs {jobs}"
        if not can.build_has("--jobs"):
            runs[name] = Run(missing=NA)
            continue
        print(f"  {name}", flush=True)
        other = root / f"books-jobs{jobs}"
        runs[name] = measure([PKGBOOKS, "build", str(other), "--jobs", jobs], env, args.repeat,
                             lambda other=other: fresh_copy(generated, other))
        shutil.rmtree(other, ignore_errors=True)
    if build.missing:
        return size
    # The report cache as the build left it, to put back before each cold run.
    after_build = root / "cache-after-build"
    if cache.exists():
        shutil.copytree(cache, after_build)

    def as_after_build() -> None:
        shutil.rmtree(cache, ignore_errors=True)
        if after_build.exists():
            shutil.copytree(after_build, cache)

    print("  validate", flush=True)
    runs["validate"] = measure([PKGBOOKS, "validate", str(books)], env, args.repeat)
    first, last = middle_month(generated)
    size.period = f"{first} to {last}"
    for report in can.reports:
        span = ["--to", last] if report in AS_OF_REPORTS else ["--from", first, "--to", last]
        command = [PKGBOOKS, "report", report, str(books), *span]
        print(f"  report {report}", flush=True)
        runs[f"report {report} (cold)"] = measure(command, env, args.repeat, as_after_build)
        runs[f"report {report} (warm)"] = measure(command, env, args.repeat)
    print("  export", flush=True)
    out = root / "export.csv"
    runs["export xero"] = measure(
        [PKGBOOKS, "export", "xero", str(books), "--from", first, "--to", last, "-o", str(out)],
        env, args.repeat) if "export" in can.commands else Run(missing=NA)
    print("  bean-check -C", flush=True)
    runs["bean-check -C"] = measure([BEAN_CHECK, "-C", str(books / "main.beancount")], env,
                                    args.repeat)
    print("  incremental append", flush=True)
    appended = books / "events" / f"{last_day}.jsonl"

    def without_the_day() -> None:
        # Each round starts from the books built without the held-back day.
        if appended.exists():
            appended.unlink()
            run_once([PKGBOOKS, "build", str(books)], env)
        appended.write_text("\n".join(held) + "\n", encoding="utf-8")

    runs["incremental append (1 day)"] = measure([PKGBOOKS, "build", str(books)], env,
                                                 args.repeat, without_the_day)
    return size


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------


def label(events: int) -> str:
    if events % 1_000_000 == 0:
        return f"{events // 1_000_000}M"
    if events % 1000 == 0:
        return f"{events // 1000}k"
    return f"{events:,}"


def table(sizes: list[Size]) -> str:
    names = list(dict.fromkeys(name for size in sizes for name in size.runs))
    head = ["command"]
    for size in sizes:
        head += [f"{label(size.events)} s", f"{label(size.events)} x check",
                 f"{label(size.events)} MB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        row = [name]
        for size in sizes:
            run = size.runs.get(name, Run(missing=NA))
            check = size.runs.get("bean-check -C", Run()).seconds
            if run.missing or run.seconds is None:
                row += [run.missing or NA, "", ""]
                continue
            ratio = f"{run.seconds / check:.2f}" if check else ""
            row += [f"{run.seconds:.2f}", ratio, f"{run.rss_mb:.0f}"]
        lines.append("| " + " | ".join(row) + " |")
    row = ["build, events/s"]
    for size in sizes:
        rate = size.build_events_per_s
        row += [f"{rate:,.0f}" if rate else NA, "", ""]
    lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def machine(load_before: str, load_after: str) -> str:
    return (f"{timing.machine()}; load average (1/5/15 min) {load_before} before, "
            f"{load_after} after")


def section(sizes: list[Size], args: argparse.Namespace, about: str) -> str:
    shapes = "; ".join(
        f"{label(s.events)}: {s.locations} locations, entities {s.entities}, reports for "
        f"{s.period or '-'}" for s in sizes)
    return "\n".join([
        START,
        f"Measured {datetime.date.today().isoformat()} by `bench/bench_all.py --sizes "
        f"{','.join(str(s.events) for s in sizes)} --seed {args.seed} --repeat {args.repeat}` "
        f"on {about}.",
        "",
        f"Books: {shapes}. Seconds are wall time (median of {args.repeat}), `x check` is that "
        "time over `bean-check -C`'s on the same ledger, MB the peak resident memory of the "
        "process (with `--jobs`, its largest process). `n/a`: the installed `pkgbooks` has no "
        "such command or option.",
        "",
        table(sizes),
        END,
    ])


def write_section(path: Path, text: str) -> None:
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if START in old and END in old:
        before, rest = old.split(START, 1)
        after = rest.split(END, 1)[1]
        new = before + text + after
    else:
        new = old.rstrip("\n") + "\n\n## Every command at several sizes (bench/bench_all.py)\n\n" \
            + text + "\n"
    path.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="event counts, comma-separated")
    parser.add_argument("--locations", type=int, default=None,
                        help="default: 4 up to 100k events, else 50 events a day each")
    parser.add_argument("--entities", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each command (median)")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (kept)")
    parser.add_argument("--write", type=Path, default=None,
                        help="replace the marked section of this Markdown file")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    work = args.dir or Path(tempfile.mkdtemp(prefix="pkgbooks-bench-all-"))
    can = Abilities.ask()
    load_before = timing.load()
    results = [bench_size(events, args, can, work) for events in sizes]
    about = machine(load_before, timing.load())
    text = section(results, args, about)
    print()
    print(text)
    if args.write:
        write_section(args.write, text)
        print(f"\nwritten to {args.write}")
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
