"""Incremental builds: the engine's state kept beside the books, so a new day costs a day.

A build saves the engine's state at a few *cuts*: points in the event stream
after the last event dated on or before a date and before anything a later
event brings (its automatic expiries included). The next build compares its
inputs with those the saved state came from; when the only difference is
events dated after a cut (a new day in a new file, or a backdated event after
the cut), it restores the state at that cut, takes the month files before the
cut's month from the ledger on disk unchanged, and runs the engine over the
events dated after the cut only. The books it writes are byte for byte those
of a full build (tests/test_checkpoint.py); anything it cannot vouch for
makes it a full build, and the summary line says which it was and why.

What must hold for a cut to be used (else: a full build):

- the checkpoint file is whole (every part's digest), of this format and of
  this very pkgbooks code (a digest of its source), built from this
  `pkgbooks.toml` (byte for byte) and these options
  (`--as-of`, `--keep-going`); the build it describes refused nothing;
- every file of `ledger/` is the one that build wrote (name and digest);
- every event file that is new, changed or gone has all its events, old and
  new, dated after the cut; the books' first two dates are before it (the
  `dates.gap_days` check saw them), and its events are not beyond today's
  `dates.future_days` limit (the limit moves with the day of the build);
- with `locked_through`, every event dated on or before the lock is in the
  ledger on disk (the closed-period guard would let it through again).

The checkpoint is `.pkgbooks/checkpoint` in the books directory (not under
`ledger/`: the ledger stays plain Beancount text, and the checkpoint is not
part of the books one commits or reviews). It can be deleted at any time:
the next build is a full one. See docs/incremental.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import gc
import hashlib
import heapq
import io
import itertools
import json
import os
import pickle
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, cast

from pkgbooks.engine import Engine, EngineState
from pkgbooks.entities import EntityBooks, moves
from pkgbooks.layout import CONFIG, EVENTS
from pkgbooks.ledger import LEDGER_DIR, LedgerText
from pkgbooks.plain import Codec
from pkgbooks.readers import Read, open_event_file, read_events
from pkgbooks.state import BooksState, InvoiceState, PackageState

# 2: the state in plain form (pkgbooks/plain.py), in two parts; 3: each in slices; 4: the index
# of applied events a third part; 5: each live package and open invoice pickled on its own;
# 6: the finished packages' part starts with their keys
FORMAT = 6
DIRECTORY = ".pkgbooks"
FILE = "checkpoint"
CUTS_KEPT = 3  # the latest saved states kept: the end, and the starts of recent months
# A build that went on from a cut saves its end only once it ran this share of the books'
# events (or this many): saving costs about what reading a state back does, so a day
# appended to the books is cheaper run again by the next build than saved.
RESAVE_SHARE = 50
RESAVE_AT_LEAST = 1_000
_MAGIC = b"pkgbooks checkpoint\n"
_TEXT_PIECE = 1 << 20  # characters encoded at a time to digest a text
_MONTH_FILE = re.compile(r"^[0-9]{4}-[0-9]{2}\.beancount$")
_HEADER = struct.Struct(">I Q 32s")  # format, manifest length, manifest sha256
_PARTS = struct.Struct(">QQ")  # a saved state: the lengths of its first two parts
_KEYS = struct.Struct(">Q")  # the finished packages' part: the length of their keys' part
# The live packages, open invoices and finished packages are encoded, pickled and
# compressed this many at a time: their plain form is never made whole (it is some hundred
# megabytes for a million events).
SLICE = 2_000

Month = tuple[int, int]


def _month(date: datetime.date) -> Month:
    return date.year, date.month


def _month_name(month: Month) -> str:
    return f"{month[0]:04d}-{month[1]:02d}"


def _last_day(month: Month) -> datetime.date:
    year, mon = (month[0] + 1, 1) if month[1] == 12 else (month[0], month[1] + 1)
    return datetime.date(year, mon, 1) - datetime.timedelta(days=1)


@cache
def code_digest() -> str:
    """The pkgbooks version and a digest of its source: a state saved by other code is stale."""
    digest = hashlib.sha256()
    with contextlib.suppress(metadata.PackageNotFoundError):
        digest.update(metadata.version("pkgbooks").encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


# --- what a build reads --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scan:
    """The inputs of a build: a digest per event file, and the digest of them all.

    `inputs` is `layout.inputs_digest()` (the one the ledger records), made in
    the same single reading of the files. `hints` is the date of each JSONL
    file's last line: in a file in date order, its last date (only used to
    guess where the books end, to save the state at the start of their last
    month).
    """

    config: str  # sha256 of pkgbooks.toml
    files: dict[str, str]  # event file name -> sha256 of its bytes
    inputs: str
    hints: dict[str, datetime.date]


def scan(books_dir: Path, paths: list[Path]) -> Scan:
    """Read the configuration and every event file once, digesting each and all together."""
    whole = hashlib.sha256()
    digests: list[str] = []
    hints: dict[str, datetime.date] = {}
    for path in [books_dir / CONFIG, *paths]:
        one = hashlib.sha256()
        whole.update(path.name.encode() + b"\0")
        chunk = tail = b""
        try:
            with open_event_file(path) as handle:
                while chunk := handle.read(1 << 20):
                    whole.update(chunk)
                    one.update(chunk)
                    tail = chunk
        except OSError:
            pass  # the readers report it; an unreadable file never matches a saved digest
        whole.update(b"\0")
        digests.append(one.hexdigest())
        if path.suffix == ".jsonl":
            hint = _last_date(tail)
            if hint is not None:
                hints[path.name] = hint
    return Scan(digests[0], {p.name: d for p, d in zip(paths, digests[1:], strict=True)},
                "sha256:" + whole.hexdigest(), hints)


def _last_date(tail: bytes) -> datetime.date | None:
    """The date of the last line of a JSONL file's last bytes, if it reads as one."""
    lines = tail.rstrip().rsplit(b"\n", 1)
    try:
        date = json.loads(lines[-1]).get("date")
        return datetime.date.fromisoformat(date) if isinstance(date, str) else None
    except (ValueError, AttributeError, RecursionError):
        return None


@dataclass(slots=True)
class Span:
    """The first and last event dates of one event file."""

    first: datetime.date
    last: datetime.date


def spans_of(reads: Iterable[Read], spans: dict[str, Span]) -> Iterator[Read]:
    """Pass `reads` through, noting each file's first and last event date (by file path)."""
    for read in reads:
        date = read.event.date
        span = spans.get(read.file)
        if span is None:
            spans[read.file] = Span(date, date)
        elif date < span.first:
            span.first = date
        elif date > span.last:
            span.last = date
        yield read


# --- the checkpoint file ----------------------------------------------------------------


@dataclass(slots=True)
class Cut:
    """A saved state: every event dated on or before `date` is in it, none after."""

    date: datetime.date
    month: str  # YYYY-MM: the month file being written at the cut
    prefix: int  # that month's text so far, in characters
    first: datetime.date | None  # the books' first month (`LedgerText.first`)
    blob: str = ""  # sha256 of the saved state, as stored
    offset: int = 0
    length: int = 0
    # A partitioned build saves a state in parts (`merged`): the length of each, in order;
    # empty for a state saved whole.
    parts: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Manifest:
    """What a checkpoint was made from and holds (stored as JSON before the states)."""

    code: str
    config: str
    as_of: datetime.date | None
    keep_going: bool
    files: dict[str, tuple[str, datetime.date | None, datetime.date | None]]  # digest, span
    ledger: dict[str, str]  # file name under ledger/ -> sha256
    second_date: datetime.date | None  # the books' second date (the gap check's)
    lock_ok: bool  # every event up to locked_through is in the ledger
    cuts: list[Cut] = field(default_factory=list)

    def to_json(self) -> bytes:
        def day(d: datetime.date | None) -> str | None:
            return d.isoformat() if d else None

        return json.dumps({
            "format": FORMAT, "code": self.code, "config": self.config,
            "as_of": day(self.as_of), "keep_going": self.keep_going,
            "files": {n: [d, day(a), day(b)] for n, (d, a, b) in sorted(self.files.items())},
            "ledger": dict(sorted(self.ledger.items())),
            "second_date": day(self.second_date), "lock_ok": self.lock_ok,
            "cuts": [{"date": c.date.isoformat(), "month": c.month, "prefix": c.prefix,
                      "first": day(c.first), "blob": c.blob, "offset": c.offset,
                      "length": c.length, "parts": c.parts} for c in self.cuts],
        }, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        data = json.loads(raw)
        if data["format"] != FORMAT:
            raise ValueError("another format")

        def day(text: str | None) -> datetime.date | None:
            return datetime.date.fromisoformat(text) if text is not None else None

        cuts = []
        for c in data["cuts"]:
            date = day(c["date"])
            assert date is not None
            cuts.append(Cut(date, str(c["month"]), int(c["prefix"]), day(c["first"]),
                            str(c["blob"]), int(c["offset"]), int(c["length"]),
                            [int(n) for n in c["parts"]]))
        return cls(
            str(data["code"]), str(data["config"]), day(data["as_of"]),
            bool(data["keep_going"]),
            {str(n): (str(d), day(a), day(b)) for n, (d, a, b) in data["files"].items()},
            {str(n): str(d) for n, d in data["ledger"].items()},
            day(data["second_date"]), bool(data["lock_ok"]), cuts,
        )


def checkpoint_path(books_dir: Path) -> Path:
    return books_dir / DIRECTORY / FILE


def read_manifest(path: Path) -> tuple[Manifest, int]:
    """A checkpoint's manifest and where its states start; ValueError if it is not whole."""
    with open(path, "rb") as handle:
        if handle.read(len(_MAGIC)) != _MAGIC:
            raise ValueError("not a pkgbooks checkpoint")
        header = handle.read(_HEADER.size)
        if len(header) != _HEADER.size:
            raise ValueError("truncated")
        form, length, digest = _HEADER.unpack(header)
        if form != FORMAT:
            raise ValueError("another format")
        raw = handle.read(length)
    if len(raw) != length or hashlib.sha256(raw).digest() != digest:
        raise ValueError("damaged")
    return Manifest.from_json(raw), len(_MAGIC) + _HEADER.size + length


@dataclass(slots=True)
class Saved:
    """One cut's state, as the engine and the ledger text had it.

    The finished packages are stored apart (`finished`, their plain form
    compressed) and read back only if the run looks one up (`LazyFinished`):
    most of a state's objects are theirs, and a day's events seldom touch a
    finished package. The index of applied events (one entry per event of
    the history) likewise (`LazyEvents`): only a void looks it up.
    """

    engine: EngineState
    balances: dict[str, Decimal]
    finished: bytes | list[bytes] = b""  # a list: the finished packages of each part (`merged`)
    # The applied events' (kind, invoice or instance), which only a void reads: likewise
    events: bytes | list[bytes] = b""


class Lazy(MutableMapping[str, Any]):
    """A restored state's dict, read back only when the run first looks a key up.

    Keys added before then (`__setitem__`, which needs no lookup) wait in
    `_added`, and a lookup of one of them is answered from there. The first
    lookup of another reads the stored ones back (`_read_back`, a dict per
    blob: the parts of a state saved in parts are disjoint), adds those added
    (a dict in the same order as if they had been there all along) and puts
    the dict in the state in place of this mapping (`_install`). A key is
    never in `_added` and among the stored ones at once: each is new to the run
    or comes back only through a lookup.
    """

    def __init__(self, blob: bytes | list[bytes]) -> None:
        self._blob: list[bytes] | None = blob if isinstance(blob, list) else [blob]
        self._added: dict[str, Any] = {}
        self._real: dict[str, Any] | None = None
        self._known: set[str] | None = None  # the stored keys, once asked (`_keys_of`)

    def _read_back(self, blob: bytes) -> dict[str, Any]:
        raise NotImplementedError

    def _keys_of(self, blob: bytes) -> list[str] | None:
        """The keys `blob` holds, if it can tell them without reading the entries back."""
        return None

    def _absent(self, key: object) -> bool:
        """Whether `key` is known to be neither added nor stored, with nothing read back."""
        if self._real is not None or key in self._added:
            return False
        if self._known is None:
            assert self._blob is not None
            known: set[str] = set()
            for blob in self._blob:
                keys = self._keys_of(blob) if blob else []
                if keys is None:
                    return False
                known.update(keys)
            self._known = known
        return key not in self._known

    def _install(self, real: dict[str, Any]) -> None:
        raise NotImplementedError

    def load(self) -> dict[str, Any]:
        """The stored and added entries as a plain dict, now also the state's."""
        if self._real is None:
            assert self._blob is not None
            real: dict[str, Any] = {}
            for blob in self._blob:
                part = self._read_back(blob) if blob else {}
                if real:
                    real.update(part)
                else:
                    real = part
            real.update(self._added)
            self._real, self._blob, self._added = real, None, {}
            self._install(real)
        return self._real

    def __setitem__(self, key: str, value: Any) -> None:
        if self._real is None:
            self._added[key] = value
        else:
            self._real[key] = value

    def __getitem__(self, key: str) -> Any:
        value = self._added.get(key) if self._real is None else None
        if value is not None:
            return value
        if self._absent(key):
            raise KeyError(key)
        return self.load()[key]

    def get(self, key: str, default: Any = None) -> Any:
        value = self._added.get(key) if self._real is None else None
        if value is not None:
            return value
        return default if self._absent(key) else self.load().get(key, default)

    def __contains__(self, key: object) -> bool:
        if self._real is None and key in self._added:
            return True
        return not self._absent(key) and key in self.load()

    def __delitem__(self, key: str) -> None:
        del self.load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.load())

    def __len__(self) -> int:
        return len(self.load())


class LazyFinished(Lazy):
    """A restored state's finished packages (`Lazy`), read back when the run first looks
    one up.

    Packages that finish before then are only added (`BooksState.finish`). A
    package that finished in this run is looked up without reading the others
    back (a redemption that uses a package up keeps its record on it), and so
    is an instance that never finished: each sale asks whether its instances
    were sold before, and the stored part starts with the finished instances
    (`finished_blob`), so a day's new sales read none of the packages back.
    """

    def __init__(self, blob: bytes | list[bytes], state: BooksState) -> None:
        super().__init__(blob)
        self._state = state
        self._past_expiry: list[str] = []  # `past_expiry_later`, in order

    def _read_back(self, blob: bytes) -> dict[str, Any]:
        return _finished_back(blob)

    def _keys_of(self, blob: bytes) -> list[str]:
        return _finished_keys(blob)

    def _install(self, real: dict[str, Any]) -> None:
        self._state.finished = real
        for instance in self._past_expiry:
            self._state.past_expiry(instance)
        self._past_expiry = []

    def past_expiry_later(self, instance: str) -> bool:
        """Shrink a stored package past its expiry date when they are read back, not now.

        `BooksState.past_expiry` asks this first: most automatic expiries of a
        restored run fall on packages that finished long before, and reading
        every finished package back for them would cost more than the day's
        events. Nothing can look such a package up in between without reading
        them all back first (which does the waiting shrinks before answering),
        so the state is the same as if each had been shrunk at once. False if
        they are read back already, or the package finished in this run.
        """
        if self._real is not None or instance in self._added:
            return False
        self._past_expiry.append(instance)
        return True


class LazyEvents(Lazy):
    """A restored state's index of applied events (`BooksState.events`, `Lazy`): every
    event adds to it, only a void looks it up."""

    def __init__(self, blob: bytes | list[bytes], state: BooksState) -> None:
        super().__init__(blob)
        self._state = state

    def _read_back(self, blob: bytes) -> dict[str, Any]:
        with _no_gc():
            return _slices_back(_unpickled(blob), dict)

    def _install(self, real: dict[str, Any]) -> None:
        self._state.events = real


_NOT_THERE = object()


class LazyValues(dict[str, Any]):
    """A restored state's live packages or open invoices, each made again when first looked up.

    It holds every key in the order saved, with the value's stored bytes (its
    plain form, pkgbooks/plain.py, pickled on its own) until a lookup makes the
    object (`decode`) and puts it in that key's place: the order, and so what a
    later save writes, is that of a dict read back whole. A day's events touch
    a few hundred of the tens of thousands of packages, each with the records a
    void would need, so most are never unpickled nor made again, and a save
    writes those bytes as they were read (`stored_items`). A live package or
    open invoice is a dataclass, never `bytes`, so the two cannot be mistaken
    for each other. Whatever reads values in bulk (`values`, `items`,
    comparing) makes them all.
    """

    __slots__ = ("_decode",)

    def __init__(self, stored: dict[str, Any], decode: Callable[[Any], Any]) -> None:
        super().__init__(stored)
        self._decode = decode

    def _made(self, key: str, value: Any) -> Any:
        if type(value) is bytes:
            value = self._decode(value)
            dict.__setitem__(self, key, value)
        return value

    def __getitem__(self, key: str) -> Any:
        return self._made(key, dict.__getitem__(self, key))

    def get(self, key: str, default: Any = None) -> Any:
        value = dict.get(self, key, _NOT_THERE)
        return default if value is _NOT_THERE else self._made(key, value)

    def pop(self, key: str, default: Any = _NOT_THERE) -> Any:
        if key in self:
            value = self[key]
            dict.pop(self, key)
            return value
        if default is _NOT_THERE:
            raise KeyError(key)
        return default

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key in self:
            return self[key]
        self[key] = default
        return default

    def popitem(self) -> tuple[str, Any]:
        key, value = dict.popitem(self)
        return key, self._decode(value) if type(value) is bytes else value

    def values(self) -> Any:
        return [self[key] for key in self]

    def items(self) -> Any:
        return [(key, self[key]) for key in self]

    def copy(self) -> dict[str, Any]:
        return dict(self.items())

    def __eq__(self, other: object) -> bool:
        return dict(self.items()) == other

    def __ne__(self, other: object) -> bool:
        return not self == other


    def stored_items(self) -> Iterator[tuple[str, Any]]:
        """(key, the value as it stands: made, or still its stored plain form), in order."""
        return iter(dict.items(self))


def read_state(path: Path, start: int, cut: Cut) -> Saved:
    """The saved state of `cut`; ValueError if its bytes are not the ones saved.

    The bytes are checked against their digest before they are unpickled. A
    state saved in parts (by a partitioned build) is read back as one.
    """
    blob = read_blob(path, start, cut)
    if cut.parts and sum(cut.parts) != len(blob):
        raise ValueError("damaged")
    pieces, at = [], 0
    for length in cut.parts or [len(blob)]:
        pieces.append(blob[at:at + length])
        at += length
    parts = []
    for piece in pieces:
        main, finished, events = _parts(piece)
        parts.append(Saved(*_state_back(main), finished, events))
    return merged(parts)


def merged(parts: list[Saved]) -> Saved:
    """One state from the disjoint states of a partitioned build's partitions.

    A partitioned build (pkgbooks/partition.py) saves the state of each
    partition at a cut (the packages, invoices, event ids and pending expiries
    of its sources: no two partitions share one) and the parent's part (the
    duplicate index, the counts of events read, the latest date and the
    balances, with an empty books state). Their union is the state the
    sequential engine has at that cut: only the order of the dictionaries
    differs, and no rule reads that order. Counts add up, the expiries make
    one heap, the latest date is the latest.
    """
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    state, engine = first.engine.state, first.engine
    closed = set(state.closed_invoices)
    finished: list[bytes] = []
    events: list[bytes] = []
    balances = dict(first.balances)
    for part in parts:
        for blobs, into in ((part.finished, finished), (part.events, events)):
            into.extend(b for b in (blobs if isinstance(blobs, list) else [blobs]) if b)
        if part is first:
            continue
        other = part.engine
        state.packages.update(other.state.packages)
        state.invoices.update(other.state.invoices)
        state.voided.update(other.state.voided)
        closed.update(other.state.closed_invoices)
        engine.expiries.extend(other.expiries)
        if len(other.seen) > len(engine.seen):
            engine.seen = other.seen  # the parent's part holds them all; the others none
        for count in dataclasses.fields(other.counts):
            setattr(engine.counts, count.name, getattr(engine.counts, count.name)
                    + getattr(other.counts, count.name))
        if other.last is not None and (engine.last is None or other.last > engine.last):
            engine.last = other.last
        for account, amount in part.balances.items():
            balances[account] = balances[account] + amount if account in balances else amount
    state.closed_invoices = closed
    heapq.heapify(engine.expiries)
    return Saved(engine, balances, finished, events)


def read_blob(path: Path, start: int, cut: Cut) -> bytes:
    """A cut's stored bytes, checked against their digest (ValueError if they differ)."""
    with open(path, "rb") as handle:
        handle.seek(start + cut.offset)
        blob = handle.read(cut.length)
    if len(blob) != cut.length or hashlib.sha256(blob).hexdigest() != cut.blob:
        raise ValueError("damaged")
    return blob


def write_checkpoint(books_dir: Path, manifest: Manifest, blobs: list[bytes]) -> None:
    """Write the checkpoint file whole under a temporary name, then rename it into place.

    Not fsynced: a checkpoint torn by a crash fails its digests and is ignored.
    """
    offset = 0
    for cut, blob in zip(manifest.cuts, blobs, strict=True):
        cut.blob, cut.offset, cut.length = hashlib.sha256(blob).hexdigest(), offset, len(blob)
        offset += len(blob)
    raw = manifest.to_json()
    path = checkpoint_path(books_dir)
    path.parent.mkdir(exist_ok=True)
    part = path.with_name(FILE + ".part")
    with open(part, "wb") as handle:
        handle.write(_MAGIC + _HEADER.pack(FORMAT, len(raw), hashlib.sha256(raw).digest()))
        handle.write(raw)
        for blob in blobs:
            handle.write(blob)
    os.replace(part, path)


def remove_checkpoint(books_dir: Path) -> None:
    """Drop the checkpoint (a build that refused events leaves none: the next one is full)."""
    for name in (FILE, FILE + ".part"):
        with contextlib.suppress(OSError):
            (books_dir / DIRECTORY / name).unlink()


# --- the saved state's bytes ----------------------------------------------------------------


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Without the cyclic garbage collector: a state is some hundred thousand new objects
    (none of them in a cycle), and the collector would walk them again and again."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass(frozen=True, slots=True)
class _Codecs:
    """The functions that take a state to its plain form (pkgbooks/plain.py) and back."""

    engine: Callable[[EngineState], Any]
    balances: Callable[[dict[str, Decimal]], Any]
    packages: Callable[[dict[str, PackageState]], Any]  # the finished ones
    engine_back: Callable[[Any], EngineState]
    balances_back: Callable[[Any], dict[str, Decimal]]
    finished_back: Callable[[Any], dict[str, PackageState]]
    package: Callable[[PackageState], Any]  # one live package (`LazyValues`)
    invoice: Callable[[InvoiceState], Any]
    package_back: Callable[[Any], PackageState]
    invoice_back: Callable[[Any], InvoiceState]

    def state(self, plain: Any) -> tuple[EngineState, dict[str, Decimal]]:
        engine, balances = plain
        return self.engine_back(engine), self.balances_back(balances)


@cache
def _decoders() -> _Codecs:
    codec = Codec()
    return _Codecs(
        engine=codec.encoder(EngineState), balances=codec.encoder(dict[str, Decimal]),
        packages=codec.encoder(dict[str, PackageState]),
        engine_back=codec.decoder(EngineState), balances_back=codec.decoder(dict[str, Decimal]),
        finished_back=codec.decoder(dict[str, PackageState]),
        package=codec.encoder(PackageState), invoice=codec.encoder(InvoiceState),
        package_back=codec.decoder(PackageState), invoice_back=codec.decoder(InvoiceState))


def _finished_back(blob: bytes) -> dict[str, PackageState]:
    with _no_gc():
        pickles = _unpickled(_finished_parts(blob)[1])
        return _slices_back(pickles, _decoders().finished_back)


def _finished_keys(blob: bytes) -> list[str]:
    """The instances of the finished packages `blob` holds, without reading the packages."""
    keys = next(_unpickled(_finished_parts(blob)[0]))
    if not isinstance(keys, list):
        raise ValueError("not a saved state")
    return keys


def _finished_parts(blob: bytes) -> tuple[bytes, bytes]:
    """The finished packages' part: their keys, and the packages."""
    if len(blob) < _KEYS.size:
        raise ValueError("truncated")
    (length,) = _KEYS.unpack_from(blob)
    if _KEYS.size + length > len(blob):
        raise ValueError("truncated")
    return blob[_KEYS.size:_KEYS.size + length], blob[_KEYS.size + length:]


def finished_blob(finished: dict[str, PackageState]) -> bytes:
    """The finished packages as `Saved.finished` holds them: their keys (a list, so that a
    lookup of a package not among them reads none back), then their compressed plain form,
    in slices."""
    keys, out = _Deflating(), _Deflating()
    with _no_gc():
        keys.dump(list(finished))
        _slices(out, finished, _decoders().packages)
    stored = keys.close()
    return _KEYS.pack(len(stored)) + stored + out.close()


def _state_back(main: bytes) -> tuple[EngineState, dict[str, Decimal]]:
    """A saved state's first part read back: the engine state, its live packages and open
    invoices put back in, and the balances."""
    codecs = _decoders()
    with _no_gc():
        pickles = _unpickled(main)
        engine, balances = codecs.state(next(pickles))
        if not isinstance(engine, EngineState):
            raise ValueError("not a saved state")
        engine.state.packages = LazyValues(_slices_back(pickles, dict),
                                           lambda raw: codecs.package_back(pickle.loads(raw)))
        engine.state.invoices = LazyValues(_slices_back(pickles, dict),
                                           lambda raw: codecs.invoice_back(pickle.loads(raw)))
        if next(pickles, None) is not None:
            raise ValueError("not a saved state")
    return engine, balances


def _parts(blob: bytes) -> tuple[bytes, bytes, bytes]:
    """A saved state's three parts: the state less its finished packages and its index of
    applied events, those packages, and that index."""
    if len(blob) < _PARTS.size:
        raise ValueError("truncated")
    main, finished = _PARTS.unpack_from(blob)
    if _PARTS.size + main + finished > len(blob):
        raise ValueError("truncated")
    at = _PARTS.size + main
    return blob[_PARTS.size:at], blob[at:at + finished], blob[at + finished:]


def save(engine: EngineState, balances: dict[str, Decimal], as_of: datetime.date | None,
         events_dir: Path) -> bytes:
    """A cut's state as stored: in plain form (pkgbooks/plain.py), pickled, compressed.

    Events after the as-of date are read but not applied; they are counted
    again by the run that goes on from the cut, so they are not counted here.
    The places where events were read are kept relative to `events/`, so the
    state does not depend on where the books are. The finished packages are a
    part of their own, read back only when needed (`LazyFinished`), and so is
    the index of applied events (`LazyEvents`).
    """
    counts = dataclasses.replace(engine.counts)
    counts.read -= counts.after_as_of
    counts.after_as_of = 0
    cut = len(str(events_dir)) + 1
    seen = engine.seen.moved(lambda file: file[cut:])
    finished, applied = engine.state.finished, engine.state.events
    if isinstance(finished, LazyFinished):
        finished = finished.load()
    if isinstance(applied, LazyEvents):
        applied = applied.load()
    books = dataclasses.replace(engine.state, packages={}, invoices={}, finished={},
                                events={})
    state = dataclasses.replace(engine, counts=counts, seen=seen, state=books)
    codecs = _decoders()
    out = _Deflating()
    with _no_gc():
        out.dump((codecs.engine(state), codecs.balances(balances)))
        _each_slices(out, engine.state.packages, codecs.package)
        _each_slices(out, engine.state.invoices, codecs.invoice)
    main = out.close()
    stored = finished_blob(finished)
    return _PARTS.pack(len(main), len(stored)) + main + stored + _events_blob(applied)


def _events_blob(applied: dict[str, tuple[str, str]]) -> bytes:
    """The index of applied events as `Saved.events` holds it (plain already: in slices)."""
    out = _Deflating()
    with _no_gc():
        _slices(out, applied, dict)
    return out.close()


class _Deflating:
    """Plain values pickled one after another into one zlib stream, as they come.

    Pickled without pickle's memo: equal values are written out each time, so
    the bytes do not depend on which equal strings happen to be one object in
    this process (caches warmed by an earlier build make more of them shared).
    The plain form has no cycles and nothing mutable in two places, so nothing
    is lost; zlib takes out the repeats. Only the compressed bytes are kept.
    """

    def __init__(self) -> None:
        self._zlib = zlib.compressobj(1)
        self._out: list[bytes] = []
        self._pickler = pickle.Pickler(self, protocol=5)
        self._pickler.fast = True

    def write(self, data: bytes) -> int:
        """Take pickled bytes (the pickler writes here)."""
        self._out.append(self._zlib.compress(data))
        return len(data)

    def dump(self, obj: Any) -> None:
        self._pickler.dump(obj)

    def close(self) -> bytes:
        """The compressed stream, whole."""
        self._out.append(self._zlib.flush())
        return b"".join(self._out)


def _slices(out: _Deflating, values: dict[str, Any], encode: Callable[[Any], Any]) -> None:
    """`values` (in their order) encoded and pickled `SLICE` at a time, then a None."""
    items = iter(values.items())
    while whole := dict(itertools.islice(items, SLICE)):
        out.dump(encode(whole))
    out.dump(None)


def _each_slices(out: _Deflating, values: dict[str, Any], encode_one: Callable[[Any], Any]
                 ) -> None:
    """As `_slices`, each value's plain form pickled on its own (`LazyValues` reads one back
    without the others); a restored dict's values never made again are written as read."""
    pickled = _Pickling()
    items = values.stored_items() if isinstance(values, LazyValues) else iter(values.items())
    while piece := list(itertools.islice(items, SLICE)):
        out.dump({key: value if type(value) is bytes else pickled(encode_one(value))
                  for key, value in piece})
    out.dump(None)


class _Pickling:
    """One plain value as bytes, pickled as `_Deflating` pickles (protocol 5, no memo)."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._pickler = pickle.Pickler(self._buffer, protocol=5)
        self._pickler.fast = True

    def __call__(self, value: Any) -> bytes:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._pickler.dump(value)
        return self._buffer.getvalue()


def _unpickled(blob: bytes) -> Iterator[Any]:
    """The values `_Deflating` pickled into `blob`, in order."""
    data = zlib.decompress(blob)
    end, raw = len(data), io.BytesIO(data)
    unpickler = pickle.Unpickler(raw)
    while raw.tell() < end:
        yield unpickler.load()


def _slices_back(pickles: Iterator[Any], decode: Callable[[Any], dict[str, Any]]
                 ) -> dict[str, Any]:
    """A dict `_slices` stored, read up to its None."""
    whole: dict[str, Any] = {}
    for piece in pickles:
        if piece is None:
            return whole
        whole.update(decode(piece))
    raise ValueError("truncated")


def _placed(saved: Saved, events_dir: Path) -> Saved:
    """A saved state with the places of its events under `events_dir` again."""
    state = saved.engine.state
    state.finished = cast(dict[str, PackageState], LazyFinished(saved.finished, state))
    state.events = cast(dict[str, tuple[str, str]], LazyEvents(saved.events, state))
    saved.finished = saved.events = b""
    root = str(events_dir) + os.sep
    saved.engine.seen = saved.engine.seen.moved(lambda name: root + name)
    return saved


# --- recording cuts during a build ----------------------------------------------------------


@dataclass(slots=True)
class Recorder:
    """Saves the state at the cuts of a build: its end, and the start of its last month.

    The start of the last month is known only when the event files' date spans
    are (from the previous checkpoint): the first build saves only its end.
    """

    engine: Engine
    text: LedgerText
    as_of: datetime.date | None
    events_dir: Path
    last_month: Month | None  # the month the books are expected to end in
    resumed: bool = False  # the run goes on from a cut
    fed: int = 0  # events passed to the engine
    second_date: datetime.date | None = None
    first_date: datetime.date | None = None
    cuts: list[Cut] = field(default_factory=list)
    blobs: list[bytes] = field(default_factory=list)

    def around(self, reads: Iterable[Read], previous: datetime.date | None) -> Iterator[Read]:
        """Pass the engine's input through, saving the state where a month cut falls."""
        as_of, wanted = self.as_of, self.last_month
        before = previous
        for read in reads:
            self.fed += 1
            date = read.event.date
            if as_of is None or date <= as_of:
                if self.second_date is None and date != self.first_date:
                    if self.first_date is None:
                        self.first_date = date
                    else:
                        self.second_date = date
                if (before is not None and wanted is not None and _month(date) == wanted
                        and _month(before) < wanted):
                    self._cut(_last_day(_month(before)), before)
                before = date
            yield read

    def _cut(self, date: datetime.date, last: datetime.date) -> None:
        text = self.text
        if text.month is None or text.month != _month(date):
            return  # the month has no transaction yet: nothing to go on from
        engine = dataclasses.replace(self.engine.snapshot(), last=last)
        self.blobs.append(save(engine, text.balances, self.as_of, self.events_dir))
        self.cuts.append(Cut(date, _month_name(text.month), sum(map(len, text.chunks)),
                             text.first))

    def end(self) -> None:
        """Save the state at the end of the run (the books' as-of date), if worth it."""
        text, end = self.text, self.engine.end
        if text.month is None or end is None or text.month != _month(end):
            return
        if self.resumed and self.fed < max(RESAVE_AT_LEAST,
                                           self.engine.counts.read // RESAVE_SHARE):
            return  # the next build runs these events again from the same cut
        self.blobs.append(save(self.engine.snapshot(), text.balances, self.as_of,
                               self.events_dir))
        self.cuts.append(Cut(end, _month_name(text.month), sum(map(len, text.chunks)),
                             text.first))


# --- deciding how to build --------------------------------------------------------------


@dataclass(slots=True)
class Resume:
    """How an incremental build goes on from a cut."""

    cut: Cut
    saved: Saved
    read: list[Path]  # the event files with events after the cut
    kept: dict[str, Path]  # month files taken unchanged from the ledger on disk
    month_text: str  # the cut's month text so far

    @property
    def summary(self) -> str:
        return f"rebuilt from {self.cut.date + datetime.timedelta(days=1)}"

    month_digests: dict[str, str] = field(default_factory=dict)  # of the month files kept

    @property
    def months(self) -> int:
        """How many month files of the consolidated ledger are taken unchanged."""
        return sum(1 for name in self.kept if "/" not in name)

    def before_entity_books(self, books: EntityBooks) -> None:
        """Bring the entities' books up to the cut's month, as if they had seen the months kept.

        Only a location that changes entity makes them carry anything from
        month to month (its balances); without one, the first month is all.
        """
        months = sorted(name for name in self.kept if "/" not in name)
        if not months:
            return
        if moves(books.config):
            for name in months:
                books.month(name, self.kept[name].read_text(encoding="utf-8"))
        else:
            books.first = self.cut.first


@dataclass(slots=True)
class Plan:
    """What a build knows of its inputs, and whether it can go on from a checkpoint."""

    scan: Scan
    manifest: Manifest | None  # the previous checkpoint, if usable for this code and config
    spans: dict[str, Span]  # file name -> dates, for the files known without reading them
    resume: Resume | None = None
    why_full: str = "no checkpoint"
    start: int = 0  # where the saved states start in the checkpoint file

    def carried(self, books_dir: Path) -> tuple[list[Cut], list[bytes]]:
        """The saved states still true of the new books: those up to the cut gone on from.

        Their events and month texts are unchanged, so they are kept as stored.
        """
        if self.resume is None or self.manifest is None:
            return [], []
        cuts, blobs = [], []
        for cut in self.manifest.cuts:
            if cut.date <= self.resume.cut.date:
                try:
                    blobs.append(read_blob(checkpoint_path(books_dir), self.start, cut))
                except (OSError, ValueError):
                    continue
                cuts.append(dataclasses.replace(cut))
        return cuts, blobs

    @property
    def summary(self) -> str:
        return self.resume.summary if self.resume else f"full build ({self.why_full})"

    def last_month(self, as_of: datetime.date | None, names: list[str]) -> Month | None:
        """The month the books are expected to end in (a guess: a wrong one costs a cut)."""
        if as_of is not None:
            return _month(as_of)
        lasts = [self.spans[n].last if n in self.spans else self.scan.hints.get(n)
                 for n in names]
        known = [d for d in lasts if d is not None]
        return _month(max(known)) if known else None


# Told the cut an incremental build will go on from, and the month files it keeps, before
# the cut's state is read back (so that work which needs only those can start beside it).
Chosen = Callable[[str, Mapping[str, Path], Mapping[str, str]], None]


def plan(
    books_dir: Path, paths: list[Path], as_of: datetime.date | None, keep_going: bool,
    today: datetime.date, future_days: int, locked: bool, chosen: Chosen | None = None,
) -> Plan:
    """Scan the inputs and decide: a full build, or which cut to go on from.

    `chosen(month, kept, recorded)` is called once the cut is chosen: its
    month, the ledger files kept as they are, the digests the last build
    recorded. It is called before any thread of this function starts (so it
    may fork) and before the state is read back; the plan may still turn
    out a full build (`Plan.resume` None) if that state or the ledger fails
    its checks.
    """
    found = Plan(scan(books_dir, paths), None, {})
    path = checkpoint_path(books_dir)
    if not path.exists():
        return found
    try:
        manifest, start = read_manifest(path)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        found.why_full = "the checkpoint is damaged or of another format"
        return found
    if manifest.code != code_digest():
        found.why_full = "the checkpoint is from another pkgbooks version"
        return found
    names = [p.name for p in paths]
    changed = [n for n in names if manifest.files.get(n, ("",))[0] != found.scan.files[n]]
    gone = [n for n in manifest.files if n not in found.scan.files]
    for name in names:
        if name not in changed:
            _digest, first, last = manifest.files[name]
            if first is not None and last is not None:
                found.spans[name] = Span(first, last)
    found.manifest, found.start = manifest, start
    why = _stale(manifest, found.scan, as_of, keep_going, locked)
    if why:
        found.why_full = why
        return found
    cut = _choose_cut(found, paths, changed, gone, today, future_days)
    if cut is None:
        return found
    ledger_dir = books_dir / LEDGER_DIR
    kept = {n: ledger_dir / n for n in manifest.ledger
            if _MONTH_FILE.match(base := n.rsplit("/", 1)[-1]) and base[:7] < cut.month}
    if chosen is not None:
        chosen(cut.month, kept, manifest.ledger)
    # Every file of ledger/ is hashed (C code that lets other threads run) on another core
    # while the state is read back; then checked first, as if before.
    with ThreadPoolExecutor(1) as pool:
        ledger = pool.submit(ledger_digests, ledger_dir)
        _go_on_from(found, cut, kept, books_dir, paths)
        if ledger.result() != manifest.ledger:
            found.why_full, found.resume = "ledger/ is not as the last build wrote it", None
    return found


def _choose_cut(found: Plan, paths: list[Path], changed: list[str], gone: list[str],
                today: datetime.date, future_days: int) -> Cut | None:
    """The latest cut the changed inputs allow (None: a full build, `found.why_full` says why)."""
    manifest = found.manifest
    assert manifest is not None
    # The new and changed files are read once here for their dates (they are small:
    # a day's export), and again by the build.
    new_spans: dict[str, Span] = {}
    for _read in spans_of(read_events([p for p in paths if p.name in changed], []), new_spans):
        pass  # only the dates are wanted
    for file, span in new_spans.items():
        found.spans[Path(file).name] = span
    touched = [s.first for f, s in new_spans.items()]
    touched += [first for n in changed + gone
                if (first := manifest.files.get(n, ("", None, None))[1]) is not None]
    earliest = min(touched, default=None)
    usable = [c for c in manifest.cuts
              if (earliest is None or c.date < earliest)
              and manifest.second_date is not None and manifest.second_date <= c.date
              and c.date <= today + datetime.timedelta(days=future_days)]
    if not usable:
        found.why_full = "the changes reach back before the saved states"
        return None
    return max(usable, key=lambda c: c.date)


def _go_on_from(found: Plan, cut: Cut, kept: dict[str, Path], books_dir: Path,
                paths: list[Path]) -> None:
    """The cut's state read back and the month text it stands in (`found.resume`)."""
    manifest, start, path = found.manifest, found.start, checkpoint_path(books_dir)
    assert manifest is not None
    try:
        saved = _placed(read_state(path, start, cut), books_dir / EVENTS)
    except Exception:  # noqa: BLE001 - a state that cannot be read back is not used
        found.why_full = "the checkpoint is damaged"
        return
    if f"{cut.month}.beancount" not in manifest.ledger:
        found.why_full = "the ledger has no month file for the saved state"
        return
    try:
        text = (books_dir / LEDGER_DIR / f"{cut.month}.beancount").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):  # gone or not text: the digests differ too
        found.why_full = "ledger/ is not as the last build wrote it"
        return
    read = [p for p in paths if p.name in found.spans and found.spans[p.name].last > cut.date
            or p.name not in found.spans]
    found.resume = Resume(cut, saved, read, kept, text[:cut.prefix],
                          {n: manifest.ledger[n] for n in kept if "/" not in n})


def _stale(
    manifest: Manifest, found: Scan, as_of: datetime.date | None, keep_going: bool,
    locked: bool,
) -> str | None:
    """Why the checkpoint cannot be gone on from, or None (the ledger's files aside)."""
    if manifest.config != found.config:
        return "pkgbooks.toml changed since the last build"
    if manifest.as_of != as_of:
        return "--as-of differs from the last build's"
    if manifest.keep_going != keep_going:
        return "--keep-going differs from the last build's"
    if locked and not manifest.lock_ok:
        return "events in the closed period are not in the ledger"
    return None


def ledger_digests(ledger: Path) -> dict[str, str]:
    """sha256 of every file under `ledger/`, by path relative to it (the entities' books too)."""
    out: dict[str, str] = {}
    try:
        entries = sorted(p for p in ledger.rglob("*") if not p.is_dir())
    except OSError:
        return out
    for path in entries:
        name = path.relative_to(ledger).as_posix()
        try:
            with open(path, "rb") as handle:
                out[name] = hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError:
            out[name] = ""
    return out


def text_digest(text: str) -> str:
    """sha256 of `text` in UTF-8, encoded a piece at a time (a month is tens of megabytes)."""
    digest = hashlib.sha256()
    for at in range(0, len(text), _TEXT_PIECE):
        digest.update(text[at:at + _TEXT_PIECE].encode("utf-8"))
    return digest.hexdigest()


def new_manifest(
    books_dir: Path, found: Plan, as_of: datetime.date | None, keep_going: bool,
    spans: dict[str, Span], ledger: dict[str, str], second_date: datetime.date | None,
    lock_ok: bool, cuts: list[Cut],
) -> Manifest:
    """The manifest of the checkpoint a successful build leaves."""
    files: dict[str, tuple[str, datetime.date | None, datetime.date | None]] = {}
    for name, digest in found.scan.files.items():
        span = spans.get(name)
        files[name] = (digest, span.first if span else None, span.last if span else None)
    return Manifest(code_digest(), found.scan.config, as_of, keep_going,
                    files, ledger, second_date, lock_ok, cuts)

