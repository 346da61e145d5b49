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

from pkgbooks import checkpoint, progress
from pkgbooks.config import Config, load_config
from pkgbooks.engine import Counts, Engine
from pkgbooks.entities import EntityBooks, stale_wrappers, with_entity_books, wrappers
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
from pkgbooks.partition import Parallel, PartitionError, Recorded
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
from pkgbooks.reports.summary import Summaries
from pkgbooks.state import BooksState


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
    # instance -> used up/expired/... (`finished`), worked out when first asked for
    _finished: dict[str, str] | None = None
    _state: BooksState | None = None
    set_aside: int = 0  # events left out by `--keep-going` (listed in ledger/refused.beancount)
    closed_period: list[Error] = field(default_factory=list)  # a closed month would change
    rewritten: list[str] = field(default_factory=list)  # months on disk the build changed
    guard: Guard | None = None
    # Ends what the run started beside it (the summaries' helper) if `files` is left unread
    stop: Callable[[], None] = lambda: None
    # Incremental builds (pkgbooks.checkpoint): what was known, what went on from a cut.
    plan: checkpoint.Plan | None = None
    recorder: checkpoint.Recorder | Recorded | None = None
    spans: dict[str, checkpoint.Span] = field(default_factory=dict)  # path -> event dates

    @property
    def finished(self) -> dict[str, str]:
        """Each finished package's status (asked only by `validate`: an incremental build
        need not read the finished packages back to say it)."""
        if self._finished is None:
            self._finished = ({} if self._state is None else
                              {i: p.status for i, p in self._state.finished.items()})
        return self._finished

    @finished.setter
    def finished(self, value: dict[str, str]) -> None:
        self._finished = value

    @property
    def how(self) -> str:
        """"full build (why)" or "rebuilt from YYYY-MM", for the summary line."""
        return self.plan.summary if self.plan is not None else "full build"


# `--as-of` at most this far after today: books to 9999 would be 95,000 empty month files.
AS_OF_LIMIT = datetime.timedelta(days=3660)


def render(
    books_dir: Path, as_of: datetime.date | None, config: Config | None = None,
    previous: Previous | None = None, list_refused: bool = False,
    today: datetime.date | None = None, parallel: Parallel | None = None,
    incremental: bool = False,
) -> tuple[Rendered, Iterator[tuple[str, str]]]:
    """(summary, files): `files` yields (name under ledger/, text); the summary fills in as it runs.

    `previous` is the ledger on disk, which a closed period (SPEC 2a) is held to.
    With `list_refused`, refused events are listed in `refused.beancount`
    (`--keep-going`). A copy of `pkgbooks.toml` goes with the books, so that
    the next build can name what changed in it. `today` (the system's date
    by default) bounds the event dates (`readers.sane_dates`). With
    `parallel`, the events are applied in partitions by source (pkgbooks/partition.py),
    with the same output.
    With `incremental`, the run goes on from the checkpoint of the last build
    where it can (`pkgbooks.checkpoint`; sequentially, whatever `parallel` says):
    `files` then leaves out the month files before the cut, taken unchanged
    from the disk (`result.plan.resume.kept`), and the states for the next
    checkpoint are saved as it runs (by each partition, in a partitioned run).
    Consume `files` completely before reading the summary.
    """
    config = config or load_config(books_dir / CONFIG)
    today = today or datetime.date.today()
    result = Rendered(config)
    engine = Engine(config, result.problems)
    guard = result.guard = Guard(previous, config.locked_through, result.problems)
    paths = event_files(books_dir / EVENTS, result.problems, result.warnings)
    text = LedgerText(config, result.balances)
    summaries = Summaries(config, text.digests)  # for the history reports
    plan = result.plan = checkpoint.plan(
        books_dir, paths, as_of, list_refused, today, config.dates.future_days,
        config.locked_through is not None, chosen=summaries.going_on) if incremental else None
    resume = plan.resume if plan is not None else None
    if resume is None:
        summaries.abandon()  # if the plan went on from a cut, then found it unusable
    # The summaries' helper is forked now, before the build starts any thread.
    summaries.begin()
    result.stop = summaries.close
    if resume is not None:
        engine.resume(resume.saved.engine)
        result.balances.update(resume.saved.balances)
        text.first = resume.cut.first
        text.month = (int(resume.cut.month[:4]), int(resume.cut.month[5:7]))
        text.chunks = [resume.month_text]
        text.digests.update(resume.month_digests)
        source = _after(resume.cut.date, read_events(resume.read, result.problems))
    else:
        source = checkpoint.spans_of(read_events(paths, result.problems), result.spans)
    dated_out: list[Read] = []
    reads: Iterator[Read] = sane_dates(
        guard(source), result.problems, today=today, future_days=config.dates.future_days,
        gap_days=config.dates.gap_days, as_of=as_of, refused=dated_out,
        started=resume is not None)
    split = (parallel.run(books_dir, config, result.problems, paths)
             if parallel and resume is None else None)
    if split is not None and plan is not None:
        split.events_dir = books_dir / EVENTS  # its states for the next checkpoint
    if split is None:
        progress.watch("events read", lambda: engine.counts.read, rate=True)
        if plan is not None:
            expected_end = plan.last_month(as_of, [p.name for p in paths])
            recorder = result.recorder = checkpoint.Recorder(
                engine, text, as_of, books_dir / EVENTS, expected_end,
                resumed=resume is not None)
            reads = recorder.around(reads, engine.last)
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
            summaries.take(name, month_text)
            del month_text  # not kept while the next month is made
        yield from summaries.made()  # the month-end summaries, for the history reports
        if split is not None:
            engine.end, engine.counts = split.end, split.counts
            result.recorder = split.recorded
        elif isinstance(result.recorder, checkpoint.Recorder) and not result.problems:
            result.recorder.end()
        if resume is not None:
            result.months += resume.months
        result.as_of = engine.end
        result.counts = engine.counts
        result.counts.read += guard.refused + len(dated_out)
        result.counts.rejected += guard.refused + len(dated_out)
        if split is not None:
            result.finished = split.finished
        else:
            result._state = engine.ctx.state
        inputs = plan.scan.inputs if plan is not None else inputs_digest(books_dir, paths)
        yield ACCOUNTS, text.accounts(engine.end, inputs)
        if text.first is not None and engine.end is not None:
            yield QUERIES, query_directives(text.first, engine.end)
        if list_refused and result.problems:
            yield REFUSED_FILE, refused_text(books_dir, result.problems, guard.seen, engine.end)
        yield CONFIG_COPY, config_copy((books_dir / CONFIG).read_text(encoding="utf-8-sig"))

    return result, files()


def _after(cut: datetime.date, reads: Iterator[Read]) -> Iterator[Read]:
    """The events dated after `cut` (those before are in the state the run goes on from)."""
    for read in reads:
        if read.event.date > cut:
            yield read


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
    # Without the collector throughout (`no_collector`): a saved state read back, or the
    # engine's, is a few hundred thousand new objects that a collection would walk for nothing.
    with books_lock(books_dir, exclusive=True, waiting=waiting), no_collector():
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
                           today=today, parallel=parallel, incremental=True)
    comparison = Comparison(previous, config.locked_through) if previous else None
    writer = LedgerWriter(books_dir)
    written: dict[str, str] = {}  # file name -> digest, for the next checkpoint
    try:
        resume = result.plan.resume if result.plan is not None else None
        entity_books = EntityBooks(config)
        if resume is not None:
            for name, path in resume.kept.items():
                writer.link(name, path)
            if comparison is not None:
                comparison.unchanged(resume.kept)
            resume.before_entity_books(entity_books)
        for name, text in with_entity_books(config, comparison(files) if comparison
                                            else files, result.balances, entity_books):
            writer.add(name, text)
            written[name] = checkpoint.text_digest(text)
            del text  # not kept while the next file is made
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
        result.stop()  # a build stopped half-way leaves no helper behind
        raise
    _leave_checkpoint(books_dir, result, as_of, keep_going, written)
    return result


def _leave_checkpoint(books_dir: Path, result: Rendered, as_of: datetime.date | None,
                      keep_going: bool, written: dict[str, str]) -> None:
    """After a build is committed: save the checkpoint the next build can go on from.

    A build that set events aside leaves none (the next build reads everything
    again, as SPEC 7 asks). The checkpoint is an aid, never the books: if it
    cannot be written, the next build is a full one.
    """
    plan, recorder = result.plan, result.recorder
    if plan is None or recorder is None or result.set_aside:
        checkpoint.remove_checkpoint(books_dir)
        return
    resume = plan.resume
    ledger = dict(written)
    spans = {Path(file).name: span for file, span in result.spans.items()}
    second_date = recorder.second_date
    lock_ok = True
    if resume is not None and plan.manifest is not None:
        ledger.update({name: plan.manifest.ledger[name] for name in resume.kept})
        spans = dict(plan.spans)
        second_date = plan.manifest.second_date
        lock_ok = plan.manifest.lock_ok
    lock = result.config.locked_through
    if lock is not None and result.guard is not None:
        on_disk = Previous.load(books_dir)
        accepted = on_disk.accepted(lock) if on_disk is not None else {}
        lock_ok = lock_ok and all(event_id in accepted
                                  for event_id, seen in result.guard.seen.items()
                                  if seen[0] <= lock)
    cuts, blobs = plan.carried(books_dir)
    # A state saved again at the date of one carried over is the same state (the run
    # applied nothing after it): the stored one is kept, so a rebuild of the same
    # inputs leaves the same checkpoint, byte for byte.
    by_date = {cut.date: (cut, blob) for cut, blob in
               zip(recorder.cuts + cuts, recorder.blobs + blobs, strict=True)}
    kept = [by_date[date] for date in sorted(by_date)][-checkpoint.CUTS_KEPT:]
    manifest = checkpoint.new_manifest(books_dir, plan, as_of, keep_going, spans, ledger,
                                       second_date, lock_ok, [c for c, _ in kept])
    try:
        checkpoint.write_checkpoint(books_dir, manifest, [b for _, b in kept])
    except OSError:
        checkpoint.remove_checkpoint(books_dir)


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
