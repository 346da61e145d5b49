"""The build partitioned by the source of each invoice and package (`--jobs N`, `--dask`).

Every event concerns one invoice or one package instance (a void: its
target), and every invoice and package belongs to the location that sold it
(its source). The books state of one invoice and its packages never reads the
state of another, so the events can be split by source into partitions that
share no state, each run through its own `Engine`, and the transactions
merged back. docs/scaling.md says what runs where; in short:

- the parent reads the events (readers, the closed-period guard, the date
  checks), decides what is global (the books' end date, the events read twice,
  the events after `--as-of`), routes every event to a partition and merges;
- a partition task (`run_task`, a pure function of picklable text, run in
  this process, a local process pool or on a Dask cluster alike) applies the
  rules to its events and returns the rendered transactions, each with its
  place in the sequential order, and the balance changes of each month.

Why the merge is exact: the readers give the events in the order
`(date, kind rank, file index, line)` and the sequential engine writes each
event's transactions at that place; an automatic expiry of date d comes after
that date's events of rank <= expiry, before its voids, in (date, instance)
order. Each transaction carries that key (an automatic expiry:
`(d, EXPIRY_RANK, AUTOMATIC, 0, instance)`), so each partition's output is a
key-ordered part of the sequential output, and a merge by key gives the
sequential order back, byte for byte.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import heapq
import marshal
import multiprocessing
import os
import tempfile
import time
import tomllib
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any

from pkgbooks import checkpoint
from pkgbooks.config import Config
from pkgbooks.engine import EXPIRY_RANK, Counts, Engine, EngineState
from pkgbooks.errors import Error
from pkgbooks.events import (
    EVENT_ADAPTER,
    KIND_ORDER,
    Payment,
    Redemption,
    Refund,
    Sale,
    Void,
    read_event,
)
from pkgbooks.layout import CONFIG
from pkgbooks.ledger import LedgerText, render_txn
from pkgbooks.money import from_cents
from pkgbooks.postings import Txn
from pkgbooks.readers import Read, ReadPlaces
from pkgbooks.state import BooksState

# The file index of an automatic expiry: after every event of its date and rank.
AUTOMATIC = 1 << 62
# A transaction's place in the sequential order: (date, kind rank, file index, line, instance).
TxnKey = tuple[str, int, int, int, str]
EventKey = tuple[str, int, int, int]
Month = tuple[int, int]
# Event files smaller than this in all (about 20,000 events) are built by the
# sequential engine in this process: routing, processes and merging cost more
# than they save there (the output is the same either way). Not for `--dask`.
SMALL_BOOKS_BYTES = 4 << 20
# How long `--dask` waits for the scheduler to answer.
DASK_CONNECT_TIMEOUT = "10s"


class PartitionError(Exception):
    """The partitions could not be run (a process died, the cluster is unreachable).

    The message is one line; the previous books are unchanged.
    """


@dataclass(frozen=True, slots=True)
class Task:
    """One partition's work, as cheap to pickle as it can be: text and bytes.

    `events` are (key, the event as JSON: the line it was read from, or written
    again for an event read from CSV) in application order; `files` names
    the event files by the index the keys hold; `end` is the books' end date,
    to which every partition runs its automatic expiries.
    """

    config_text: str
    files: tuple[str, ...]
    # The events in application order: a list, or the path of a spool file of them
    # (`Spool`; where the task runs on this machine)
    events: list[tuple[EventKey, str | bytes]] | str
    end: datetime.date
    # With `save`: the partition's state is saved (`checkpoint.save`) at the end and, with a
    # `cut`, where the sequential run would be just after the event of that key.
    save: bool = False
    cut: EventKey | None = None
    # Where to write the rendered transactions rather than return them: each month's in a
    # spool file `<out>-YYYY-MM` (`MonthFiles`), from the month `start` to the end's
    out: str | None = None
    start: Month = (1, 1)


@dataclass(slots=True)
class Part:
    """What a partition gives back: rendered transactions by key, and what it counted."""

    # (key, month, text), consecutive transactions of one key joined; None: in the month
    # files of `Task.out` (`MonthFiles`)
    chunks: list[tuple[TxnKey, Month, str]] | None
    deltas: dict[Month, dict[str, Decimal]]  # each month's change of every account posted
    counts: Counts
    problems: list[Error]
    finished: dict[str, str]  # instance -> used up / expired / refunded / voided
    # With `Task.save`: the saved states (at the cut, if any, then at the end) and the
    # balance changes before the cut.
    states: list[bytes] = field(default_factory=list)
    cut_changes: dict[str, Decimal] = field(default_factory=dict)



class Spool:
    """Items appended to a file (marshalled in batches), read back in order by `spooled`.

    A partitioned build keeps its events and its rendered transactions in
    such files, not in memory: the parent holds a batch at a time, whatever
    the size of the books. Text, bytes, numbers and tuples only; read back by
    the same Python.
    """

    BATCH = 1024

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._handle = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._batch: list[Any] = []

    def add(self, item: Any) -> None:
        batch = self._batch
        batch.append(item)
        if len(batch) >= self.BATCH:
            marshal.dump(batch, self._handle)
            batch.clear()

    def close(self) -> None:
        if self._batch:
            marshal.dump(self._batch, self._handle)
            self._batch.clear()
        self._handle.close()


class MonthFiles:
    """A partition's rendered transactions, one spool file a month, each made whole in turn.

    The file of a month gets its final name (`<prefix>-YYYY-MM`) once every
    transaction of the month is in it, followed by the month's balance changes
    (a dict: account -> amount as text), so the parent can merge the months
    the partitions have done while they go on with the next
    (`PartitionedRun`). Every month from `start` to `end` has a file, an
    empty one too.
    """

    def __init__(self, prefix: str, start: Month, end: Month,
                 cents: dict[Month, dict[str, int]]) -> None:
        """`cents`: each month's balance changes in cents (filled in as the months go)."""
        self.prefix, self.month, self.end, self.cents = prefix, start, end, cents
        self._spool = Spool(self._path(start) + ".part")

    def _path(self, month: Month) -> str:
        return month_file(self.prefix, month)

    def add(self, chunk: tuple[TxnKey, Month, str]) -> None:
        while chunk[1] > self.month:
            self._finish()
        self._spool.add(chunk)

    def _finish(self) -> None:
        changes = self.cents.get(self.month, {})
        self._spool.add({account: str(from_cents(amount)) for account, amount in changes.items()})
        self._spool.close()
        os.replace(self._spool.path, self._path(self.month))
        self.month = _next_month(self.month)
        if self.month <= self.end:
            self._spool = Spool(self._path(self.month) + ".part")

    def close(self) -> None:
        while self.month <= self.end:
            self._finish()


def month_file(prefix: str, month: Month) -> str:
    return f"{prefix}-{month[0]:04d}-{month[1]:02d}"


def spooled(path: str) -> Iterator[Any]:
    """The items of a `Spool` file, in order."""
    with open(path, "rb") as handle:
        while True:
            try:
                batch = marshal.load(handle)
            except EOFError:
                return
            yield from batch


@functools.lru_cache(maxsize=4)
def _config(text: str) -> Config:
    """The configuration from its text (checked by the parent already); once per process."""
    return Config.model_validate(tomllib.loads(text))


def run_task(task: Task) -> Part:
    """Apply one partition's events under the rules, as the sequential build does.

    A pure function of its input: the same task gives the same part in this
    process, in a pool process or on a Dask worker. It runs without the cyclic
    garbage collector, as the sequential build does (`build.no_collector`).
    """
    from pkgbooks.build import no_collector  # build imports this module

    with no_collector():
        return _run_task(task)


def _run_task(task: Task) -> Part:
    config = _config(task.config_text)
    problems: list[Error] = []
    engine = Engine(config, problems)
    key_of: dict[str, TxnKey] = {}
    files = task.files
    currency = config.currency
    chunks: list[tuple[TxnKey, Month, str]] = []
    # Each month's change of every account posted, in cents (made Decimal at the end: an
    # int added per posting costs an eighth of a Decimal)
    cents: dict[Month, dict[str, int]] = {}
    out = (MonthFiles(task.out, task.start, _month_of(task.end), cents)
           if task.out is not None else None)
    keep = chunks.append if out is None else out.add
    pending: list[Any] = []  # the last chunk: [key, month, texts], until the key changes
    part = Part(chunks if out is None else None, {}, engine.counts, problems, {})

    def add(t: Txn) -> None:
        txn_key = key_of.get(t.meta.event)
        if txn_key is None:  # an automatic expiry: its id is `expiry:<instance>`
            instance = t.meta.event.removeprefix("expiry:")
            txn_key = (t.date.isoformat(), EXPIRY_RANK, AUTOMATIC, 0, instance)
        month = (t.date.year, t.date.month)
        text = render_txn(t, currency)
        if pending and pending[0] == txn_key and pending[1] == month:
            pending[2].append(text)
        else:
            if pending:
                keep((pending[0], pending[1], "".join(pending[2])))
            pending[:] = [txn_key, month, [text]]
        changes = cents.get(month)
        if changes is None:
            changes = cents[month] = {}
        for account, amount, _instance in t.postings:
            changes[account] = changes.get(account, 0) + amount

    def at_cut(cut: EventKey) -> None:
        """As the sequential engine stands just after the event `cut`: the expiries before
        it run, the state saved, the balance changes so far added up."""
        for t in engine._expire_until(datetime.date.fromisoformat(cut[0]), cut[1]):
            add(t)
        part.states.append(_saved(engine))
        for changes in cents.values():
            for account, amount in changes.items():
                part.cut_changes[account] = (part.cut_changes.get(account, Decimal(0))
                                             + from_cents(amount))

    def reads() -> Iterator[Read]:
        cut = task.cut if task.save else None
        events = task.events if isinstance(task.events, list) else spooled(task.events)
        for key, raw in events:
            if cut is not None and key > cut:
                at_cut(cut)
                cut = None
            event = read_event(raw)
            key_of.clear()  # the engine is done with the event before: only this one's
            key_of[event.id] = (*key, "")
            yield Read(event, files[key[2]], key[3])
        if cut is not None:
            at_cut(cut)

    for t in engine.run(reads(), task.end):
        add(t)
    if pending:
        keep((pending[0], pending[1], "".join(pending[2])))
    if out is not None:
        out.close()
    part.deltas = {month: {account: from_cents(amount) for account, amount in changes.items()}
                   for month, changes in cents.items()}
    if task.save:
        part.states.append(_saved(engine))
    part.finished = {i: p.status for i, p in engine.ctx.state.finished.items()}
    return part


def _saved(engine: Engine) -> bytes:
    """A partition's state as the checkpoint stores it: one part of the state (`merged`).

    The duplicate index and the count of events read are the parent's (its
    part); the rest is this partition's alone.
    """
    snapshot = engine.snapshot()
    counts = dataclasses.replace(snapshot.counts, read=0, after_as_of=0, duplicates=0)
    return checkpoint.save(dataclasses.replace(snapshot, seen=ReadPlaces(), counts=counts),
                           {}, None, Path())


# --- the parent: routing --------------------------------------------------------------------


class _Components:
    """Union-find over invoices and package instances: the sales that share one are one."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, node: str) -> str:
        parent = self.parent
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    def union(self, nodes: list[str]) -> None:
        parent = self.parent
        roots = []
        for node in nodes:
            if node not in parent:
                parent[node] = node
            roots.append(self.find(node))
        for root in roots[1:]:
            if root != roots[0]:
                parent[root] = roots[0]


@dataclass(frozen=True, slots=True)
class Crossing:
    """Where the events cross into a new month: after the event `key` (of `date`).

    `counts` and `seen` (how many ids the duplicate index held) are the
    parent's part of the state there.
    """

    key: EventKey
    date: datetime.date
    into: Month
    counts: Counts
    seen: int


def _month_of(date: datetime.date) -> Month:
    return date.year, date.month


def _key(read: Read, index: dict[str, int]) -> EventKey:
    event = read.event
    return event.date.isoformat(), KIND_ORDER[event.type], index[read.file], read.line


def _invoice(invoice: str) -> str:
    return "i\0" + invoice


def _instance(instance: str) -> str:
    return "p\0" + instance


@dataclass(slots=True)
class Routing:
    """The parent's pass over the events: what is global, and each event's partition.

    It does what the sequential engine does before any rule (count, leave out
    the events after `as_of`, skip an event read twice and refuse an id used
    for another event) and writes each remaining event as JSON with its key to
    the spool file `events`; it keeps in memory only what routing needs.
    """

    config: Config
    problems: list[Error]
    files: list[str]
    as_of: datetime.date | None
    events: Path
    counts: Counts = field(default_factory=Counts)
    end: datetime.date | None = None
    first: datetime.date | None = None  # the first event date
    last: datetime.date | None = None  # the latest event date up to the as-of date
    second_date: datetime.date | None = None  # the books' second date (as `checkpoint.Recorder`)
    seen: ReadPlaces = field(default_factory=ReadPlaces)  # where each id was first read
    # The latest crossing into a new month: the last event before it, as the state there holds
    crossing: Crossing | None = None
    # Of each event kept, in order: its id, the invoice or instance node it concerns
    # ("" for a void), its location or a void's target
    ids: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    wheres: list[str] = field(default_factory=list)
    _components: _Components = field(default_factory=_Components)
    _sales: list[tuple[str, str]] = field(default_factory=list)  # (invoice node, location)

    def read(self, reads: Iterable[Read]) -> None:
        """Take every event; as `Engine.run` before its rules."""
        duplicates = Engine(self.config, self.problems)  # its check of ids read twice
        index = {name: i for i, name in enumerate(self.files)}
        counts, as_of = self.counts, self.as_of
        ids, nodes, wheres = self.ids, self.nodes, self.wheres
        spool = Spool(self.events)
        dump = EVENT_ADAPTER.dump_json
        last: datetime.date | None = None
        before: Read | None = None
        first_date: datetime.date | None = None
        for read in reads:
            event = read.event
            if as_of is not None and event.date > as_of:
                counts.read += 1
                counts.after_as_of += 1
                continue
            if before is None:
                first_date = event.date
            elif self.second_date is None and event.date != first_date:
                self.second_date = event.date
            if before is not None and _month_of(event.date) > _month_of(before.event.date):
                self.crossing = Crossing(
                    _key(before, index), before.event.date, _month_of(event.date),
                    Counts(read=counts.read, duplicates=duplicates.counts.duplicates,
                           rejected=duplicates.counts.rejected), len(duplicates._seen))
            before = read
            counts.read += 1
            last = event.date if last is None or event.date > last else last
            if duplicates._is_duplicate(read):
                continue
            key = (event.date.isoformat(), KIND_ORDER[event.type], index[read.file], read.line)
            node, where = self._concerns(event)
            spool.add((key, read.text if read.text is not None else dump(event)))
            ids.append(event.id)
            nodes.append(node)
            wheres.append(where)
        spool.close()
        counts.duplicates = duplicates.counts.duplicates
        counts.rejected = duplicates.counts.rejected
        self.seen = duplicates._seen
        self.first, self.last = first_date, last
        self.end = as_of or last

    def cut(self) -> Crossing | None:
        """Where to save the state besides the end: the start of the books' last month."""
        crossing, end = self.crossing, self.end
        if crossing is None or end is None or crossing.into != _month_of(end):
            return None
        return crossing

    def _concerns(self, event: Any) -> tuple[str, str]:
        """(the invoice or instance node, the event's location or a void's target)."""
        if isinstance(event, Sale):
            node = _invoice(event.invoice)
            self._components.union([node, *(_instance(line.instance) for line in event.lines
                                             if hasattr(line, "instance"))])
            self._sales.append((node, event.location))
            return node, event.location
        if isinstance(event, Payment):
            return _invoice(event.invoice), event.location
        if isinstance(event, Void):
            return "", event.target
        location = event.location if isinstance(event, Redemption | Refund) else ""
        return _instance(event.instance), location

    def partitions(self, n: int) -> list[int]:
        """Each event's partition, of `n` (numbered in order, empty ones left out).

        A group of sales sharing an invoice or instance belongs to the location
        of its first sale; an event to the group of its invoice or instance (an
        unknown one: to its own location); a void to its target's partition.
        Locations go to partitions by event count, the largest first to the
        least loaded, so the partitions are even and always the same.
        """
        components = self._components
        owner: dict[str, str] = {}
        for node, location in self._sales:
            owner.setdefault(components.find(node), location)
        self._sales.clear()
        sources: list[str] = []
        for node, where in zip(self.nodes, self.wheres, strict=True):
            if node in components.parent:
                sources.append(owner[components.find(node)])
            else:
                sources.append(where if node else "")  # a void: settled below
        load: dict[str, int] = {}
        for source in sources:
            load[source] = load.get(source, 0) + 1
        bucket_of: dict[str, int] = {}
        totals = [0] * max(1, n)
        for source, count in sorted(load.items(), key=lambda kv: (-kv[1], kv[0])):
            emptiest = min(range(len(totals)), key=lambda b: (totals[b], b))
            bucket_of[source] = emptiest
            totals[emptiest] += count
        buckets: list[int] = []
        bucket_of_id: dict[str, int] = {}
        for event_id, node, where, source in zip(self.ids, self.nodes, self.wheres, sources,
                                                 strict=True):
            bucket = bucket_of[source] if node else bucket_of_id.get(where, 0)
            buckets.append(bucket)
            bucket_of_id[event_id] = bucket
        number = {b: i for i, b in enumerate(sorted(set(buckets)))}
        return [number[b] for b in buckets]

    def split(self, n: int, spool_dir: Path | None
              ) -> list[list[tuple[EventKey, str | bytes]] | str]:
        """The events of each partition (`partitions`) in application order: in spool files
        in `spool_dir`, or (without one) in lists. Frees what routing kept."""
        buckets = self.partitions(n)
        self.ids, self.nodes, self.wheres = [], [], []
        self._components = _Components()
        count = max(buckets, default=-1) + 1
        lists: list[list[tuple[EventKey, str | bytes]]] = [[] for _ in range(count)]
        spools = ([Spool(spool_dir / f"events-{i}") for i in range(count)]
                  if spool_dir is not None else [])
        adds = [spool.add for spool in spools] if spools else [e.append for e in lists]
        for event, bucket in zip(spooled(str(self.events)), buckets, strict=True):
            adds[bucket](event)
        for spool in spools:
            spool.close()
        self.events.unlink(missing_ok=True)
        return [spool.path for spool in spools] if spools else list(lists)


# --- running the tasks ----------------------------------------------------------------------


class Runner:
    """Runs partition tasks somewhere; `local`: where they can read and write this
    machine's files (the tasks' events and transactions then go by spool files)."""

    local = True
    slots = 1

    def __call__(self, tasks: list[Task]) -> list[Part]:
        """Run the tasks here, one after the other."""
        return [run_task(task) for task in tasks]

    def submit(self, tasks: list[Task]) -> list[Future[Part]]:
        """Start the tasks; here: run them now, one after the other."""
        futures = []
        for part in map(run_task, tasks):
            future: Future[Part] = Future()
            future.set_result(part)
            futures.append(future)
        return futures

    def close(self) -> None:
        """Let go of the processes or the cluster."""


class ProcessPool(Runner):
    """Runs the tasks in `jobs` processes of this machine (one task: in this one).

    The processes start at once, before the events are read: forked from a
    small parent, they share none of its later memory (a process forked after
    routing would hold every event the parent held, as far as the operating
    system counts).
    """

    def __init__(self, jobs: int) -> None:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        self.slots = jobs
        self._pool = ProcessPoolExecutor(max_workers=jobs,
                                         mp_context=multiprocessing.get_context(method))
        self._pool.submit(int).result()  # starts every process (a fork pool starts them all)

    def __call__(self, tasks: list[Task]) -> list[Part]:
        return [result(future) for future in self.submit(tasks)]

    def submit(self, tasks: list[Task]) -> list[Future[Part]]:
        if len(tasks) <= 1:
            return super().submit(tasks)
        try:
            return [self._pool.submit(run_task, task) for task in tasks]
        except BrokenProcessPool:  # a process died at once
            raise _died() from None

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskCluster(Runner):
    """Runs the tasks on the Dask cluster at `address` (`pip install 'pkgbooks[dask]'`).

    It connects when made, so an unreachable scheduler stops the build before
    any event is read; `slots` is the number of worker threads. The workers
    may be other machines: the tasks' events and results go over the network.
    """

    local = False

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
            from distributed.comm.addressing import parse_address, parse_host_port
        except ImportError:
            raise PartitionError("--dask needs the dask extra: pip install 'pkgbooks[dask]'") \
                from None
        self.address = address
        try:  # a malformed address, before a client is made (it would linger at exit)
            scheme, where = parse_address(address)
            if scheme in ("tcp", "tls"):
                parse_host_port(where)
        except ValueError as exc:
            raise PartitionError(f"--dask {address}: not a scheduler address like "
                                 f"tcp://host:8786 ({_one_line(exc)})") from None
        connect: Any = Client  # untyped
        self.client: Any
        try:
            self.client = connect(address, timeout=DASK_CONNECT_TIMEOUT, set_as_default=False)
            self.slots = max(1, sum(self.client.nthreads().values()))
        except Exception as exc:  # OSError, TimeoutError ...
            raise PartitionError(f"--dask: cannot connect to the Dask scheduler at {address}: "
                                 f"{_one_line(exc)}") from None

    def __call__(self, tasks: list[Task]) -> list[Part]:
        try:
            # Scattered first: the tasks go to the workers as data, not inside the task graph.
            futures = self.client.map(run_task, self.client.scatter(tasks), pure=False)
            parts: list[Part] = self.client.gather(futures)
            return parts
        except Exception as exc:  # a worker died, the scheduler went away ...
            raise PartitionError(f"--dask: the cluster at {self.address} could not build the "
                                 f"books: {type(exc).__name__}: {_one_line(exc)}") from None

    def close(self) -> None:
        """Leave the cluster (its workers stay up for the next build)."""
        with contextlib.suppress(Exception):
            self.client.close()


def result(future: Future[Part]) -> Part:
    """A task's part, once done; a process that died is one line of error."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise _died() from None


def _died() -> PartitionError:
    return PartitionError("a build process ended unexpectedly (out of memory?); "
                          "try fewer --jobs")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def default_jobs() -> int:
    """The number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True, slots=True)
class Parallel:
    """How a build runs its partitions: in `jobs` processes here, or on a Dask cluster.

    With `dask`, `jobs` (if given) is the number of partitions; by default one
    per worker thread of the cluster.
    """

    jobs: int | None = None
    dask: str | None = None

    def run(self, books_dir: Path, config: Config, problems: list[Error],
            paths: list[Path]) -> PartitionedRun | None:
        """The partitioned run of a build of `books_dir` (connects to the cluster, if any).

        None: build small books with the sequential engine.
        """
        runner: Runner
        if self.dask is not None:
            cluster = DaskCluster(self.dask)
            runner, jobs = cluster, self.jobs or cluster.slots
        else:
            jobs = self.jobs or default_jobs()
            if jobs <= 1 or _size(paths) < SMALL_BOOKS_BYTES:
                return None
            runner = ProcessPool(jobs)
        config_text = (books_dir / CONFIG).read_text(encoding="utf-8-sig")
        return PartitionedRun(config, config_text, problems, [str(p) for p in paths], jobs,
                              runner)


def _size(paths: list[Path]) -> int:
    """Bytes of the event files (one that cannot be read counts 0: the build reports it)."""
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


# --- the parent: merging --------------------------------------------------------------------


@dataclass(slots=True)
class Recorded:
    """The states a partitioned build saved for the checkpoint, as `checkpoint.Recorder`'s."""

    second_date: datetime.date | None
    cuts: list[checkpoint.Cut] = field(default_factory=list)
    blobs: list[bytes] = field(default_factory=list)

    def add(self, cut: checkpoint.Cut, parts: list[bytes]) -> None:
        """A state saved in parts (`checkpoint.merged` reads them back as one)."""
        cut.parts = [len(part) for part in parts]
        self.cuts.append(cut)
        self.blobs.append(b"".join(parts))


@dataclass(slots=True)
class PartitionedRun:
    """Stands where the sequential `Engine` stands in a build: same `end`, `counts`, `finished`.

    `months(reads, as_of, text)` routes the events, runs the partitions with
    `runner` and yields the month files `text.months()` would have yielded
    from the sequential engine. With `events_dir` set, it also saves the
    states for the next build's checkpoint (`recorded`), as
    `checkpoint.Recorder` does for the sequential engine: at the end, and at
    the start of the books' last month.
    """

    config: Config
    config_text: str
    problems: list[Error]
    files: list[str]
    jobs: int
    runner: Runner
    end: datetime.date | None = None
    counts: Counts = field(default_factory=Counts)
    finished: dict[str, str] = field(default_factory=dict)
    events_dir: Path | None = None
    recorded: Recorded | None = None

    def months(self, reads: Iterable[Read], as_of: datetime.date | None,
               text: LedgerText) -> Iterator[tuple[str, str]]:
        with tempfile.TemporaryDirectory(prefix="pkgbooks-partitions-") as spool:
            try:
                yield from self._months(reads, as_of, text, Path(spool))
            finally:
                self.runner.close()

    def _months(self, reads: Iterable[Read], as_of: datetime.date | None,
                text: LedgerText, spool: Path) -> Iterator[tuple[str, str]]:
        counts = self.counts  # counted as the events are read (the progress line shows it)
        routing = Routing(self.config, self.problems, self.files, as_of, spool / "events",
                          counts)
        routing.read(reads)
        self.end = routing.end
        if routing.end is None or not routing.ids:
            return
        save = self.events_dir is not None
        crossing = routing.cut() if save else None
        parent_counts = dataclasses.replace(counts)
        local = self.runner.local
        partitions = routing.split(self.jobs, spool if local else None)
        start = _month_of(routing.first) if routing.first is not None else _month_of(routing.end)
        tasks = [Task(self.config_text, tuple(self.files), events, routing.end, save,
                      crossing.key if crossing else None,
                      str(spool / f"transactions-{i}") if local else None, start)
                 for i, events in enumerate(partitions)]
        del partitions
        cut = (*crossing.key, "") if crossing is not None else None
        if local:  # the months are merged as the partitions finish them
            futures = self.runner.submit(tasks)
            deltas: dict[Month, dict[str, Decimal]] = {}
            streams = [_month_files(task, future, deltas) for task, future in
                       zip(tasks, futures, strict=True)]
            merge = _Merge(text, streams, deltas, routing.end, cut)
            yield from merge.months()
            parts = [result(future) for future in futures]
        else:
            parts = self.runner(tasks)
            merge = _Merge(text, [iter(p.chunks or ()) for p in parts],
                           _added(p.deltas for p in parts), routing.end, cut)
            yield from merge.months()
        for part in parts:
            counts.applied += part.counts.applied
            counts.rejected += part.counts.rejected
            counts.expiries += part.counts.expiries
            counts.transactions += part.counts.transactions
            self.problems.extend(part.problems)
            self.finished.update(part.finished)
        if self.events_dir is None:
            return
        self.recorded = recorded = Recorded(routing.second_date)
        if crossing is not None and merge.at_cut is not None:
            month, prefix, first = merge.at_cut
            balances = dict(merge.balances_before)
            for part in parts:
                for account, amount in part.cut_changes.items():
                    balances[account] = balances.get(account, Decimal(0)) + amount
            mine = self._saved(routing.seen.head(crossing.seen), crossing.counts,
                               crossing.date, balances, as_of)
            recorded.add(checkpoint.Cut(_last_day(_month_of(crossing.date)), _name(month),
                                        prefix, first), [mine, *(p.states[0] for p in parts)])
        if text.month == _month_of(routing.end):
            mine = self._saved(routing.seen, parent_counts, routing.last, text.balances, as_of)
            recorded.add(checkpoint.Cut(routing.end, _name(text.month),
                                        sum(map(len, text.chunks)), text.first),
                         [mine, *(p.states[-1] for p in parts)])

    def _saved(self, seen: ReadPlaces, counts: Counts, last: datetime.date | None,
               balances: dict[str, Decimal], as_of: datetime.date | None) -> bytes:
        """The parent's part of a saved state: what was decided here, no books state."""
        assert self.events_dir is not None
        counts = dataclasses.replace(counts, applied=0, expiries=0, transactions=0)
        return checkpoint.save(EngineState(BooksState(), seen, [], counts, last), balances,
                               as_of, self.events_dir)


class _Merge:
    """The month files of the partitions' transactions merged by key, as
    `LedgerText.months` writes them; where the text stood at a cut, if asked."""

    def __init__(self, text: LedgerText, streams: list[Iterator[tuple[TxnKey, Month, str]]],
                 deltas: dict[Month, dict[str, Decimal]], end: datetime.date,
                 cut: TxnKey | None) -> None:
        """`streams`: each partition's transactions in key order; `deltas`: each month's
        balance changes, all partitions' added up (filled in by the streams as they go,
        at the latest when every stream has gone past the month)."""
        self.text, self.streams, self.deltas, self.end, self.cut = text, streams, deltas, end, cut
        self.balances_before = dict(text.balances)
        # At the cut: (the month being written, its text's length so far, the first month)
        self.at_cut: tuple[Month, int, datetime.date | None] | None = None

    def months(self) -> Iterator[tuple[str, str]]:
        text, end, deltas = self.text, self.end, self.deltas
        balances = text.balances

        def close(month_key: Month, chunks: list[str]) -> tuple[str, str]:
            for account, amount in deltas.get(month_key, {}).items():
                balances[account] = balances.get(account, Decimal(0)) + amount
            return text._close_month(month_key, chunks)

        cut = self.cut
        month: Month | None = None
        chunks: list[str] = []
        for key, month_key, body in heapq.merge(*self.streams, key=itemgetter(0)):
            if cut is not None and key > cut:
                self._cut(month, chunks)
                cut = None
            if month is None:
                month = text.month = month_key
                text.first = datetime.date(month[0], month[1], 1)
                chunks = text.chunks = [text._header(month)]
            while month_key > month:
                yield close(month, chunks)
                month = text.month = _next_month(month)
                chunks = text.chunks = [text._header(month)]
            chunks.append(body)
        if cut is not None:
            self._cut(month, chunks)
        if month is None:
            return
        last = max(month, (end.year, end.month))
        while True:
            yield close(month, chunks)
            if month >= last:
                break
            month = text.month = _next_month(month)
            chunks = text.chunks = [text._header(month)]

    def _cut(self, month: Month | None, chunks: list[str]) -> None:
        if month is not None and self.cut is not None \
                and month == _month_of(datetime.date.fromisoformat(self.cut[0])):
            self.at_cut = (month, sum(map(len, chunks)), self.text.first)


def _added(all_deltas: Iterable[dict[Month, dict[str, Decimal]]]
           ) -> dict[Month, dict[str, Decimal]]:
    """The partitions' balance changes of each month, added up."""
    total: dict[Month, dict[str, Decimal]] = {}
    for deltas in all_deltas:
        for month, changes in deltas.items():
            into = total.setdefault(month, {})
            for account, amount in changes.items():
                into[account] = into.get(account, Decimal(0)) + amount
    return total


def _month_files(task: Task, future: Future[Part], deltas: dict[Month, dict[str, Decimal]]
                 ) -> Iterator[tuple[TxnKey, Month, str]]:
    """A partition's transactions from its month files (`MonthFiles`), each read once whole;
    each month's balance changes added to `deltas` on the way."""
    assert task.out is not None
    month, last = task.start, _month_of(task.end)
    while month <= last:
        path = month_file(task.out, month)
        _wait_for(path, future)
        for item in spooled(path):
            if type(item) is dict:
                into = deltas.setdefault(month, {})
                for account, amount in item.items():
                    into[account] = into.get(account, Decimal(0)) + Decimal(amount)
            else:
                yield item
        os.unlink(path)
        month = _next_month(month)


def _wait_for(path: str, future: Future[Part]) -> None:
    """Until the file is there; a task that failed (or ended without it) is an error."""
    pause = 0.001
    while not os.path.exists(path):
        if future.done():
            result(future)  # raises what the task raised
            if not os.path.exists(path):
                raise PartitionError(f"a build process left no {Path(path).name}")
        time.sleep(pause)
        pause = min(2 * pause, 0.02)


def _name(month: Month) -> str:
    return f"{month[0]:04d}-{month[1]:02d}"


def _last_day(month: Month) -> datetime.date:
    return datetime.date(*_next_month(month), 1) - datetime.timedelta(days=1)


def _next_month(month: Month) -> Month:
    return (month[0] + 1, 1) if month[1] == 12 else (month[0], month[1] + 1)
