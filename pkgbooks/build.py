"""Build a books directory: configuration + events -> the ledger on disk.

`render()` is the pure part (also used by `validate` to replay the events);
`build()` writes its output atomically, and writes nothing if any event or
the configuration has a problem.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pkgbooks import progress
from pkgbooks.config import Config, load_config
from pkgbooks.engine import Counts, Engine
from pkgbooks.entities import stale_wrappers, with_entity_books, wrappers
from pkgbooks.errors import Error, config_error, file_error, plain_error
from pkgbooks.layout import CONFIG, EVENTS, books_lock, inputs_digest
from pkgbooks.ledger import (
    ACCOUNTS,
    QUERIES,
    LedgerText,
    LedgerWriteError,
    LedgerWriter,
    render_main,
)
from pkgbooks.partition import Parallel, PartitionError
from pkgbooks.periods import (
    CONFIG_COPY,
    REFUSED_FILE,
    Comparison,
    Guard,
    Previous,
    config_copy,
    config_differences,
    describe_changes,
    refused_text,
)
from pkgbooks.readers import Read, event_files, read_events, sane_dates
from pkgbooks.reports.directives import query_directives


@dataclass(slots=True)
class Rendered:
    """The outcome of running a books directory's events through the engine."""

    config: Config
    problems: list[Error] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # files in events/ that are not read
    counts: Counts = field(default_factory=Counts)
    balances: dict[str, Decimal] = field(default_factory=dict)
    as_of: datetime.date | None = None
    months: int = 0
    finished: dict[str, str] = field(default_factory=dict)  # instance -> used up/expired/...
    set_aside: int = 0  # events left out by `--keep-going` (listed in ledger/refused.beancount)
    closed_period: list[Error] = field(default_factory=list)  # a closed month would change
    rewritten: list[str] = field(default_factory=list)  # months on disk the build changed
    guard: Guard | None = None


# `--as-of` at most this far after today: books to 9999 would be 95,000 empty month files.
AS_OF_LIMIT = datetime.timedelta(days=3660)


def render(
    books_dir: Path, as_of: datetime.date | None, config: Config | None = None,
    previous: Previous | None = None, list_refused: bool = False,
    today: datetime.date | None = None, parallel: Parallel | None = None,
) -> tuple[Rendered, Iterator[tuple[str, str]]]:
    """(summary, files): `files` yields (name under ledger/, text); the summary fills in as it runs.

    `previous` is the ledger on disk, which a closed period (SPEC 2a) is held to.
    With `list_refused`, refused events are listed in `refused.beancount`
    (`--keep-going`). A copy of `pkgbooks.toml` goes with the books, so that
    the next build can name what changed in it. `today` (the system's date
    by default) bounds the event dates (`readers.sane_dates`). With
    `parallel`, the events are applied in partitions by source (pkgbooks/partition.py),
    with the same output. Consume `files` completely before reading the summary.
    """
    config = config or load_config(books_dir / CONFIG)
    result = Rendered(config)
    engine = Engine(config, result.problems)
    guard = result.guard = Guard(previous, config.locked_through, result.problems)
    paths = event_files(books_dir / EVENTS, result.problems, result.warnings)
    dated_out: list[Read] = []
    reads = sane_dates(guard(read_events(paths, result.problems)), result.problems,
                       today=today or datetime.date.today(),
                       future_days=config.dates.future_days, gap_days=config.dates.gap_days,
                       as_of=as_of, refused=dated_out)
    text = LedgerText(config, result.balances)
    split = parallel.run(books_dir, config, result.problems, paths) if parallel else None
    if split is None:
        progress.watch("events read", lambda: engine.counts.read, rate=True)
    else:  # the partitions' engines are elsewhere: count the events as they are routed
        progress.phase(f"{split.jobs} partitions")
        reads = iter(progress.counting(reads, "events read", rate=True))
    progress.watch("month files", lambda: result.months)

    def files() -> Iterator[tuple[str, str]]:
        months = (split.months(reads, as_of, text) if split is not None
                  else text.months(engine.run(reads, as_of), lambda: engine.end))
        for name, month_text in months:
            result.months += 1
            yield name, month_text
        if split is not None:
            engine.end, engine.counts = split.end, split.counts
        result.as_of = engine.end
        result.counts = engine.counts
        result.counts.read += guard.refused + len(dated_out)
        result.counts.rejected += guard.refused + len(dated_out)
        result.finished = (split.finished if split is not None else
                           {i: p.status for i, p in engine.ctx.state.finished.items()})
        yield ACCOUNTS, text.accounts(engine.end, inputs_digest(books_dir, paths))
        if text.first is not None and engine.end is not None:
            yield QUERIES, query_directives(text.first, engine.end)
        if list_refused and result.problems:
            yield REFUSED_FILE, refused_text(books_dir, result.problems, guard.seen, engine.end)
        yield CONFIG_COPY, config_copy((books_dir / CONFIG).read_text(encoding="utf-8-sig"))

    return result, files()


def build(
    books_dir: Path,
    as_of: datetime.date | None = None,
    keep_going: bool = False,
    waiting: Callable[[], None] | None = None,
    today: datetime.date | None = None,
    parallel: Parallel | None = None,
) -> Rendered:
    """Build the books; on any problem write nothing and return the problems.

    With `keep_going`, refused events are set aside instead (listed in the
    ledger) and the rest is written; a change to a closed period still stops it.
    One build at a time: the books directory is locked for the whole build
    (`waiting()` is called if another build holds it). A file that cannot be
    written (a full disk, a read-only directory) is a problem that stops the
    build, with the previous books unchanged. With `parallel`, the events are
    applied in partitions (`--jobs`, `--dask`), with the same output.
    """
    with books_lock(books_dir, exclusive=True, waiting=waiting):
        config = load_config(books_dir / CONFIG)
        try:
            return _build(books_dir, as_of, keep_going, config, today, parallel)
        except LedgerWriteError as exc:
            result = Rendered(config, problems=[file_error(exc.path, exc.reason)])
            return result
        except PartitionError as exc:
            return Rendered(config, problems=[plain_error(str(exc))])


def _build(books_dir: Path, as_of: datetime.date | None, keep_going: bool, config: Config,
           today: datetime.date | None, parallel: Parallel | None = None) -> Rendered:
    previous = Previous.load(books_dir)
    result, files = render(books_dir, as_of, config, previous, list_refused=keep_going,
                           today=today, parallel=parallel)
    comparison = Comparison(previous, config.locked_through) if previous else None
    writer = LedgerWriter(books_dir)
    try:
        with no_collector():
            for name, text in with_entity_books(config, comparison(files) if comparison
                                                else files, result.balances):
                writer.add(name, text)
        current = _config_table(books_dir)
        if comparison is not None:
            _compare_with_disk(books_dir, result, comparison, current)
        if result.guard is not None and previous is not None:
            result.problems[:] = result.guard.explain(
                result.problems, config_differences(previous.config, current))
        # Reported in reading order (file, then line), as a person reads the files.
        result.problems.sort(key=lambda p: (p.source.file or "", p.source.line or 0))
        if result.closed_period or (result.problems and not keep_going):
            writer.abandon()
            result.problems[:0] = result.closed_period
            result.rewritten = []
            return result
        result.set_aside = len(result.problems)
        beside = wrappers(config)
        writer.commit(render_main(config), beside, stale_wrappers(books_dir, beside))
    except BaseException:
        writer.abandon()
        raise
    return result


def _config_table(books_dir: Path) -> dict[str, Any] | None:
    try:
        return tomllib.loads((books_dir / CONFIG).read_text(encoding="utf-8-sig"))
    except (OSError, tomllib.TOMLDecodeError):
        return None


def _compare_with_disk(
    books_dir: Path, result: Rendered, comparison: Comparison, current: dict[str, Any] | None
) -> None:
    """Name what the new books change in the old: refused in a closed period, else noted."""
    assert result.guard is not None
    lock = result.config.locked_through
    for line in describe_changes(comparison.locked, comparison.previous, current, result.guard,
                                 result.problems):
        result.closed_period.append(config_error(
            str(books_dir / CONFIG), "locked_through",
            f"this build would change the closed period: {line}", str(lock),
        ))
    result.rewritten = describe_changes(comparison.changes, comparison.previous, current,
                                        result.guard, result.problems)


@contextlib.contextmanager
def no_collector() -> Iterator[None]:
    """Run without the cyclic garbage collector.

    The engine makes no reference cycles, and a collector pass over the live
    packages every few thousand new objects would cost a third of the run.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
