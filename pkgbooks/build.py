"""Build a books directory: configuration + events -> the ledger on disk.

`render()` is the pure part (also used by `validate` to replay the events);
`build()` writes its output atomically, and writes nothing if any event or
the configuration has a problem.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from pkgbooks.config import Config, load_config
from pkgbooks.engine import Counts, Engine
from pkgbooks.errors import Error, file_error
from pkgbooks.layout import CONFIG, EVENTS, books_lock, inputs_digest
from pkgbooks.ledger import (
    ACCOUNTS,
    QUERIES,
    LedgerText,
    LedgerWriteError,
    LedgerWriter,
    render_main,
)
from pkgbooks.readers import event_files, read_events, sane_dates
from pkgbooks.reports.directives import query_directives


@dataclass(slots=True)
class Rendered:
    """The outcome of running a books directory's events through the engine."""

    config: Config
    problems: list[Error] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    balances: dict[str, Decimal] = field(default_factory=dict)
    as_of: datetime.date | None = None
    months: int = 0
    finished: dict[str, str] = field(default_factory=dict)  # instance -> used up/expired/...


# `--as-of` at most this far after today: books to 9999 would be 95,000 empty month files.
AS_OF_LIMIT = datetime.timedelta(days=3660)


def render(
    books_dir: Path,
    as_of: datetime.date | None,
    config: Config | None = None,
    today: datetime.date | None = None,
) -> tuple[Rendered, Iterator[tuple[str, str]]]:
    """(summary, files): `files` yields (name under ledger/, text); the summary fills in as it runs.

    Consume `files` completely before reading the summary. `today` (the
    system's date by default) bounds the event dates (`readers.sane_dates`).
    """
    config = config or load_config(books_dir / CONFIG)
    result = Rendered(config)
    engine = Engine(config, result.problems)
    paths = event_files(books_dir / EVENTS, result.problems, result.warnings)
    reads = sane_dates(read_events(paths, result.problems), result.problems,
                       today=today or datetime.date.today(),
                       future_days=config.dates.future_days, gap_days=config.dates.gap_days,
                       as_of=as_of)
    text = LedgerText(config, result.balances)

    def files() -> Iterator[tuple[str, str]]:
        for name, month_text in text.months(engine.run(reads, as_of), lambda: engine.end):
            result.months += 1
            yield name, month_text
        result.as_of = engine.end
        result.counts = engine.counts
        result.finished = {i: p.status for i, p in engine.ctx.state.finished.items()}
        yield ACCOUNTS, text.accounts(engine.end, inputs_digest(books_dir, paths))
        if text.first is not None and engine.end is not None:
            yield QUERIES, query_directives(text.first, engine.end)

    return result, files()


def build(
    books_dir: Path,
    as_of: datetime.date | None = None,
    waiting: Callable[[], None] | None = None,
    today: datetime.date | None = None,
) -> Rendered:
    """Build the books; on any problem write nothing and return the problems.

    One build at a time: the books directory is locked for the whole build
    (`waiting()` is called if another build holds it). A file that cannot be
    written (a full disk, a read-only directory) is a problem like any other,
    with the previous books unchanged.
    """
    with books_lock(books_dir, exclusive=True, waiting=waiting):
        config = load_config(books_dir / CONFIG)
        result, files = render(books_dir, as_of, config, today)
        try:
            _write(books_dir, result, files, render_main(config))
        except LedgerWriteError as exc:
            result.problems.append(file_error(exc.path, exc.reason))
        # Reported in reading order (file, then line), as a person reads the files.
        result.problems.sort(key=lambda p: (p.source.file or "", p.source.line or 0))
        return result


def _write(books_dir: Path, result: Rendered, files: Iterator[tuple[str, str]],
           main_text: str) -> None:
    """Write the rendered files and swap them in, unless the rendering had problems."""
    writer = LedgerWriter(books_dir)
    try:
        with no_collector():
            for name, text in files:
                writer.add(name, text)
        if result.problems:
            writer.abandon()
            return
        writer.commit(main_text)
    except BaseException:
        writer.abandon()
        raise


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
