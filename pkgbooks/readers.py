"""Event files (SPEC 3.3) to a stream of checked events, in application order.

Files are read in name order. Events are applied by date, then by kind (sale,
payment, redemption, refund, expiry, void), then in reading order (file, line).
A file whose dates never go down (the usual point-of-sale export) is streamed:
only the events of one date are held at a time. A file out of date order is
sorted in memory. A quick first look at each file's bytes decides which
(`_in_date_order`); each line is then parsed and checked once. A key written
twice in one object is refused (`_repeated_key`).

Only regular files named `*.jsonl` or `<type>.csv` directly under `events/` are
read; anything else named like an event file (a directory, a FIFO, a dangling
link, a file that cannot be opened) is a problem naming the path, never
"0 events", and other files are named in a warning. A line longer than
`MAX_LINE_BYTES` is refused before it is read whole.

Every problem is reported as an `Error` (file, line, event id, what is wrong)
and reading goes on, so one run reports everything.
"""

from __future__ import annotations

import csv
import datetime
import errno
import heapq
import io
import itertools
import json
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, NamedTuple

import jiter
from pydantic import ValidationError

from pkgbooks.errors import Error, event_error, file_error, one_line
from pkgbooks.events import (
    EVENT_ADAPTER,
    EVENT_TYPES,
    KIND_ORDER,
    LINK_SAFE,
    Event,
    Sale,
    read_event,
)
from pkgbooks.wording import describe, field_path


class Read(NamedTuple):
    """An event and where it was read; `text`: the JSON line it was read from, if any.

    A partitioned build hands `text` on to its partitions as it is, rather than
    writing each event as JSON again (pkgbooks/partition.py).
    """

    event: Event
    file: str
    line: int
    text: str | None = None

    @property
    def place(self) -> str:
        """`FILE:LINE` of the event."""
        return f"{self.file}:{self.line}"


# Where and when an event was read: (date, file, line).
Place = tuple[datetime.date, str, int]
_LINE_BITS = 40  # a packed place: date ordinal, then file number, then line, in one int
_FILE_BITS = 24


class ReadPlaces(Mapping[str, Place]):
    """Where and when each event id was first read, as a mapping id -> (date, file, line).

    One int per id (the date's ordinal, the file's number and the line packed
    together), not a tuple with a date and a line number: the index holds
    every event of the history, so its size per event counts.
    """

    def __init__(self) -> None:
        self._places: dict[str, int] = {}
        self._numbers: dict[str, int] = {}  # file name -> number
        self._files: list[str] = []  # number -> file name
        # The packed (date, file) of the last place added: events come a file and a date
        # at a time, so most places share it.
        self._last: tuple[datetime.date, str, int] | None = None

    def add(self, read: Read) -> bool:
        """Note where `read`'s id was read, unless it was read before; whether it was new."""
        event, file, line = read.event, read.file, read.line
        places = self._places
        if event.id in places:
            return False
        date = event.date
        last = self._last
        if last is None or last[0] != date or last[1] != file:
            number = self._numbers.get(file)
            if number is None:
                number = self._numbers[file] = len(self._files)
                self._files.append(file)
            last = self._last = (date, file, (date.toordinal() << _FILE_BITS | number)
                                 << _LINE_BITS)
        places[event.id] = last[2] | line
        return True

    def _unpack(self, packed: int) -> Place:
        line = packed & ((1 << _LINE_BITS) - 1)
        packed >>= _LINE_BITS
        number = packed & ((1 << _FILE_BITS) - 1)
        return datetime.date.fromordinal(packed >> _FILE_BITS), self._files[number], line

    def __getitem__(self, event_id: str) -> Place:
        return self._unpack(self._places[event_id])

    def get(self, event_id: str, default: Any = None) -> Any:
        """(date, file, line) where `event_id` was first read, or `default`."""
        packed = self._places.get(event_id)
        return default if packed is None else self._unpack(packed)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._places

    def __iter__(self) -> Iterator[str]:
        return iter(self._places)

    def __len__(self) -> int:
        return len(self._places)

    def moved(self, rename: Callable[[str], str]) -> ReadPlaces:
        """The same places with every file renamed (a checkpoint keeps them relative to
        events/, pkgbooks/checkpoint.py); shares the packed places, which are not changed."""
        moved = ReadPlaces()
        moved._places = self._places
        moved._files = [rename(name) for name in self._files]
        moved._numbers = {name: number for number, name in enumerate(moved._files)}
        return moved

    def head(self, count: int) -> ReadPlaces:
        """The first `count` ids noted (the index as it stood then: ids are only added)."""
        head = ReadPlaces()
        head._places = dict(itertools.islice(self._places.items(), count))
        head._files, head._numbers = list(self._files), dict(self._numbers)
        return head


# (date, kind rank, file index, line): the application order.
SortKey = tuple[datetime.date, int, int, int]

# A sale with a few hundred lines is a few tens of KB; a longer line is not an event.
MAX_LINE_BYTES = 1 << 20
EVENT_SUFFIXES = (".jsonl", ".csv")
_SALE_HEADER = ("id", "date", "location", "invoice", "customer", "staff")
_SALE_LINE = {
    "line_package": "package",
    "line_instance": "instance",
    "line_price": "price",
    "line_product": "product",
    "line_amount": "amount",
    "line_tax": "tax",
}


def event_files(
    events_dir: Path,
    problems: list[Error] | None = None,
    warnings: list[str] | None = None,
) -> list[Path]:
    """The event files of a books directory, in name order.

    What cannot be read is a problem (so a build never takes it for "no
    events"): a missing or unreadable `events/`, and any entry named like an
    event file that is not a regular file. Other entries are named in
    `warnings` (hidden files aside), so `2026-05.JSONL` is not skipped unseen.
    """
    problems = [] if problems is None else problems
    warnings = [] if warnings is None else warnings
    try:
        entries = sorted(events_dir.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and not events_dir.is_symlink():
            reason = "no events directory (create it and put the event files there)"
        else:
            reason = f"cannot list the events directory: {_reason(exc)}"
        problems.append(file_error(str(events_dir), reason))
        return []
    files = []
    for path in entries:
        if path.suffix not in EVENT_SUFFIXES:
            if not path.name.startswith("."):
                warnings.append(one_line(
                    f"{path}: not read: event files are named *.jsonl or <type>.csv"
                    + (" (lower case)" if path.suffix.lower() in EVENT_SUFFIXES else "")))
            continue
        why = _not_a_file(path)
        if why is not None:
            problems.append(file_error(str(path), why))
            continue
        files.append(path)
    return files


def _not_a_file(path: Path) -> str | None:
    """Why `path` cannot be an event file, or None if it is a regular file."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "a symbolic link to nothing (dangling): not an event file"
    except OSError as exc:
        return f"cannot be read: {_reason(exc)}"
    if stat.S_ISDIR(mode):
        return "a directory, not an event file"
    if not stat.S_ISREG(mode):
        return "not a regular file (a FIFO, socket or device): not an event file"
    return None


def _reason(exc: OSError) -> str:
    """An OS error in words, without the path (the caller names it)."""
    return exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))


def open_event_file(path: Path) -> IO[bytes]:
    """Open a regular file for reading without ever blocking on a FIFO.

    Raises OSError (EINVAL) when the path is not a regular file, even if it
    was replaced by one since it was listed.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_events(files: list[Path], problems: list[Error]) -> Iterator[Read]:
    """All events of `files`, merged in application order; problems are appended as the
    events are read."""
    streams = []
    for index, path in enumerate(files):
        if path.suffix == ".jsonl":
            streams.append(_jsonl_stream(path, index, problems))
        else:
            streams.append(_csv_stream(path, index, problems))
    return _merged(streams)


def _merged(streams: list[Iterator[tuple[SortKey, Read]]]) -> Iterator[Read]:
    """The events of sorted streams, in key order.

    Like `heapq.merge`, but the stream with the smallest key is read on
    without the heap while its keys stay below every other stream's next
    key: files of successive months (the usual case) then cost one
    comparison per event. Keys are unique (file index, line), so the
    entries compare by key alone.
    """
    heads: list[tuple[SortKey, Read, Iterator[tuple[SortKey, Read]]]] = []
    for stream in streams:
        for key, read in stream:
            heads.append((key, read, stream))
            break
    heapq.heapify(heads)
    while len(heads) > 1:
        _key, read, stream = heads[0]
        yield read
        limit = min(heads[1][0], heads[2][0]) if len(heads) > 2 else heads[1][0]
        for key, read in stream:
            if key > limit:
                heapq.heapreplace(heads, (key, read, stream))
                break
            yield read
        else:
            heapq.heappop(heads)
    if heads:
        _key, read, stream = heads[0]
        yield read
        for _key, read in stream:
            yield read


def sane_dates(
    reads: Iterator[Read],
    problems: list[Error],
    *,
    today: datetime.date,
    future_days: int,
    gap_days: int,
    as_of: datetime.date | None = None,
    refused: list[Read] | None = None,
    started: bool = False,
) -> Iterator[Read]:
    """`reads` (in application order) less the events whose dates must be typos.

    An event dated more than `future_days` after `today` is refused. The
    events of the first date are held until the next date is seen: more than
    `gap_days` before it, they are refused (a year typed `0026` would otherwise
    open 24,000 empty months), and the next date is held in turn. Events after
    `as_of` are not looked at, so the books to a date are the books of the
    events to that date. The events refused are also added to `refused`.
    `started`: the books' first two dates were checked already (the events
    go on from a checkpoint), so only the future limit applies.
    """
    refused = [] if refused is None else refused
    latest = today + datetime.timedelta(days=future_days)
    held: list[Read] | None = None if started else []  # None once the books have started
    for read in reads:
        date = read.event.date
        if date > latest:
            refused.append(read)
            problems.append(event_error(
                read.file, read.line, read.event.id,
                f"date: {date} is too far in the future: more than {future_days} days after "
                f"today ({today}); a typo? (pkgbooks.toml: dates.future_days)"))
            continue
        if held is None or (as_of is not None and date > as_of):
            if held:
                yield from held
                held = None
            yield read
            continue
        first = held[0].event.date if held else date
        if date == first:
            held.append(read)
            continue
        if (date - first).days > gap_days:
            refused.extend(held)
            for early in held:
                problems.append(event_error(
                    early.file, early.line, early.event.id,
                    f"date: {first} is {(date - first).days} days before the next date in "
                    f"the books ({date}, {read.place}): the books cannot start that far "
                    "before the rest; a typo? (pkgbooks.toml: dates.gap_days)"))
            held = [read]
            continue
        yield from held
        held = None
        yield read
    if held:
        yield from held


_PATTERN_MESSAGES = {
    LINK_SAFE: "must be letters, digits and _ - . / only, starting with a letter or digit "
               "(it becomes a Beancount link)",
}


class Rereader:
    """Reads events again by place, to compare a repeated id with its first reading.

    The last file asked for is kept, read once, so that a whole export read
    twice costs one more reading of it, not one per duplicate.
    """

    def __init__(self) -> None:
        self._file: str | None = None
        self._events: dict[int, Event] = {}

    def __call__(self, file: str, line: int) -> Event | None:
        if file != self._file:
            path = Path(file)
            stream = (_jsonl_stream(path, 0, []) if path.suffix == ".jsonl"
                      else _csv_stream(path, 0, []))
            self._events = {key[3]: read.event for key, read in stream}
            self._file = file
        return self._events.get(line)


def _validate(raw: Any, name: str, line: int, problems: list[Error]) -> Event | None:
    """One raw record to an event, or a problem naming every field that is wrong."""
    event_id = raw.get("id") if isinstance(raw, dict) else None
    shown_id = event_id if isinstance(event_id, str) and event_id else None
    if not isinstance(raw, dict):
        problems.append(event_error(name, line, None, "expected a JSON object"))
        return None
    kind = raw.get("type")
    if kind not in EVENT_TYPES:
        problems.append(
            event_error(name, line, shown_id,
                    f"unknown event type {kind!r} (expected one of {', '.join(EVENT_TYPES)})")
        )
        return None
    try:
        return EVENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        for err in exc.errors():
            field = field_path(err["loc"][1:]) or "(event)"
            msg = describe(err, unknown="unknown field", missing="missing field")
            if err["type"] == "string_pattern_mismatch":
                msg = _PATTERN_MESSAGES.get(
                    str(err.get("ctx", {}).get("pattern")),
                    "must be non-empty text without control characters or line breaks",
                )
            problems.append(event_error(name, line, shown_id, f"{field}: {msg}"))
        return None


def _text_lines(path: Path, problems: list[Error]) -> Iterator[tuple[int, str]]:
    """(line number, text) of an event file, read lazily.

    UTF-8, with or without a byte-order mark, is read line by line: a line that
    is not UTF-8 (cp1252 bytes, say) is refused on its own, since which 8-bit
    encoding was meant cannot be known. A UTF-16 file (it must start with its
    byte-order mark) is decoded as it is read. A line longer than
    `MAX_LINE_BYTES` is refused without being held whole; a file that cannot be
    opened or read is one problem naming it.
    """
    name = str(path)
    try:
        with open_event_file(path) as handle:
            head = handle.read(2)
            handle.seek(0)
            if head in (b"\xff\xfe", b"\xfe\xff"):
                yield from _utf16_lines(handle, name, problems)
            else:
                yield from _utf8_lines(handle, name, problems)
    except OSError as exc:
        problems.append(file_error(name, f"cannot be read: {_reason(exc)}"))


def _too_long(name: str, number: int) -> Error:
    return event_error(name, number, None,
                   f"line longer than {MAX_LINE_BYTES // 1024} KB: not an event, not read")


def _utf8_lines(
    handle: IO[bytes], name: str, problems: list[Error]
) -> Iterator[tuple[int, str]]:
    number = 0
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            problems.append(_too_long(name, number))
            while raw and not raw.endswith(b"\n"):
                raw = handle.readline(MAX_LINE_BYTES)
            continue
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield number, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            problems.append(event_error(
                name, number, None,
                f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}): "
                "save the file as UTF-8",
            ))


def _utf16_lines(
    handle: IO[bytes], name: str, problems: list[Error]
) -> Iterator[tuple[int, str]]:
    # Split at line feeds only: U+2028 may stand inside a JSON string.
    text = io.TextIOWrapper(handle, encoding="utf-16", newline="\n")
    limit = MAX_LINE_BYTES // 2
    number = 0
    try:
        while line := text.readline(limit + 1):
            number += 1
            if len(line) > limit:
                problems.append(_too_long(name, number))
                while line and not line.endswith("\n"):
                    line = text.readline(limit)
                continue
            yield number, line.rstrip("\r\n")
    except UnicodeDecodeError as exc:
        problems.append(file_error(name, f"not UTF-16 text ({exc.reason})"))
    finally:
        text.detach()


def _jsonl_stream(
    path: Path, index: int, problems: list[Error]
) -> Iterator[tuple[SortKey, Read]]:
    """Events of one JSONL file in application order.

    In date order (the usual export) the file is streamed, one date at a time:
    its events are held by kind, each kind in reading order (the application
    order within a date and a file). Out of order, the file's events are held
    and sorted in memory.
    """
    events = _parse_jsonl(path, index, problems)
    if not _in_date_order(path):
        # Held whole to be sorted: without their lines' text, which only saves a
        # partitioned build writing them as JSON again.
        yield from sorted((key, read._replace(text=None)) for key, read in events)
        return
    day: datetime.date | None = None
    by_kind: list[list[tuple[SortKey, Read]]] = [[] for _kind in KIND_ORDER]
    for pair in events:
        date, kind = pair[0][0], pair[0][1]
        if date != day:
            if day is not None and date < day:
                # Cannot happen (`_in_date_order` is never wrong that way); never stream
                # out of order.
                read = pair[1]
                problems.append(event_error(read.file, read.line, read.event.id,
                                        "date: read differently on a second reading"))
                continue
            for held in by_kind:
                yield from held
                held.clear()
            day = date
        by_kind[kind].append(pair)
    for held in by_kind:
        yield from held


# A `"date"` key with a plain ISO date as its value, in the bytes of a line.
_DATE_KEY = re.compile(rb'"date"[ \t\r\n]*:[ \t\r\n]*"([0-9]{4}-[0-9]{2}-[0-9]{2})"')


def _in_date_order(path: Path) -> bool:
    """Whether the dates of the valid events of a JSONL file never go down.

    A look at the bytes, without decoding or parsing JSON: a line with one
    `"date": "YYYY-MM-DD"` gives that date. It is the event's date if the event
    is valid: a `"date"` followed by a colon ends a key (a quote inside a
    string is escaped), and a valid event has one date key and no other key
    of that name. A line with none or several (an escaped key or value, an
    invalid event) is parsed as JSON, so `"d\u0061te"` is read as the event
    will be. Where unsure (a UTF-16 file), the answer is no, and the file is
    sorted in memory: never wrong the other way.
    """
    last = ""
    try:
        with open_event_file(path) as handle:
            if handle.read(2) in (b"\xff\xfe", b"\xfe\xff"):
                return False
            handle.seek(0)
            while raw := handle.readline(MAX_LINE_BYTES + 1):
                if len(raw) > MAX_LINE_BYTES:  # refused when parsed
                    while raw and not raw.endswith(b"\n"):
                        raw = handle.readline(MAX_LINE_BYTES)
                    continue
                found = _DATE_KEY.findall(raw)
                if len(found) == 1:
                    date = found[0].decode("ascii")
                else:
                    date = _json_date(raw)
                    if date is None:
                        continue
                if date < last:
                    return False
                last = date
    except OSError:
        return False  # said when the file is parsed
    return True


def _json_date(raw: bytes) -> str | None:
    """The `date` of one line of bytes parsed as JSON, if it has a text date."""
    if not raw.strip():
        return None
    try:
        parsed = jiter.from_json(raw.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n"))
    except ValueError:
        return None
    date = parsed.get("date") if isinstance(parsed, dict) else None
    return date if isinstance(date, str) else None


def _keys(event: Event) -> int:
    """How many keys the JSON object of a valid event has (extra keys are refused)."""
    keys = len(event.__pydantic_fields_set__)
    if isinstance(event, Sale):
        for line in event.lines:
            keys += len(line.__pydantic_fields_set__)
    return keys


def _repeated_key(text: str) -> str | None:
    """Why a line is refused for a key written twice in one object, if it is."""
    try:
        jiter.from_json(text.encode("utf-8", "surrogatepass"), catch_duplicate_keys=True)
    except ValueError as exc:
        if str(exc).startswith("Detected duplicate key"):
            key = str(exc).removeprefix("Detected duplicate key ").split(" at line")[0]
            return (f"the key {key} appears twice in one object "
                    "(which value was meant cannot be known)")
    return None


def _parse_jsonl(
    path: Path, index: int, problems: list[Error]
) -> Iterator[tuple[SortKey, Read]]:
    """Each line of a JSONL file as an event with its sort key; problems appended."""
    name = str(path)
    for number, text in _text_lines(path, problems):
        if not text or text.isspace():
            continue
        try:
            event: Event | None = read_event(text)
        except ValidationError:
            event = None
        # Every key is followed by a colon: a line with no more colons than its event
        # has keys holds no key twice.
        if event is None or text.count(":") > _keys(event):
            repeated = _repeated_key(text)
            if repeated is not None:
                problems.append(event_error(name, number, None, repeated))
                continue
        if event is None:
            # Read it again the slow way, for the precise message.
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                problems.append(event_error(name, number, None, f"not valid JSON: {exc.msg}"))
                continue
            except (ValueError, RecursionError) as exc:  # 5000-digit numbers, deep nesting
                problems.append(event_error(name, number, None, f"not usable JSON: {exc}"[:200]))
                continue
            event = _validate(raw, name, number, problems)
            if event is None:
                continue
            yield (event.date, KIND_ORDER[event.type], index, number), Read(event, name, number)
            continue
        yield (event.date, KIND_ORDER[event.type], index, number), Read(event, name, number, text)


def _csv_stream(
    path: Path, index: int, problems: list[Error]
) -> Iterator[tuple[SortKey, Read]]:
    """Events of one CSV file (named after its event type), in application order."""
    name = str(path)
    kind = path.stem
    if kind not in EVENT_TYPES:
        problems.append(
            event_error(name, None, None,
                    f"a CSV event file must be named <type>.csv with type one of "
                    f"{', '.join(EVENT_TYPES)}")
        )
        return
    # A line refused for its encoding stays as an empty line, to keep line numbers right.
    lines: dict[int, str] = dict(_text_lines(path, problems))
    last = max(lines, default=0)
    text = "".join(lines.get(number, "") + "\n" for number in range(1, last + 1))
    reader = csv.DictReader(io.StringIO(text))
    if _repeated_columns(reader, name, problems):
        return
    records: list[tuple[int, dict[str, Any]]] = []
    sales: dict[str, tuple[int, dict[str, Any]]] = {}
    for number, row in _csv_rows(reader, name, problems):
        if None in row:
            problems.append(event_error(name, number, row.get("id"), "more cells than columns"))
            continue
        cells = {k.strip(): v for k, v in row.items() if k and v not in (None, "")}
        if kind == "sale":
            _add_sale_row(cells, number, name, sales, records, problems)
        else:
            quantity = str(cells.get("quantity", "")).strip()
            if quantity.isascii() and quantity.isdigit():
                cells["quantity"] = int(quantity)
            if cells.get("type", kind) != kind:
                problems.append(event_error(
                    name, number, cells.get("id"),
                    f"type: {cells['type']!r} in a file of {kind} events",
                ))
                continue
            records.append((number, {**cells, "type": kind}))
    events: list[tuple[SortKey, Read]] = []
    for number, raw in records:
        event = _validate(raw, name, number, problems)
        if event is not None:
            events.append(((event.date, KIND_ORDER[kind], index, number),
                           Read(event, name, number)))
    events.sort()
    yield from events


def _repeated_columns(reader: csv.DictReader[str], name: str, problems: list[Error]) -> bool:
    """Refuse a header naming a column twice (the csv module would keep the last cell).

    True when the file cannot be read on: a repeated column, or a header that is not CSV.
    """
    try:
        columns = [c.strip() for c in reader.fieldnames or []]
    except csv.Error as exc:
        problems.append(event_error(name, reader.line_num + 1, None, f"not valid CSV: {exc}"))
        return True
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    for column in repeated:
        problems.append(event_error(name, reader.line_num, None,
                                f"the column {column!r} appears twice in the header "
                                "(which cell was meant cannot be known)"))
    return bool(repeated)


def _csv_rows(
    reader: csv.DictReader[str], name: str, problems: list[Error]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rows of a CSV file with their line numbers; a malformed file stops at the fault."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # The csv module counts the faulty line only once it is through with it.
            problems.append(event_error(name, reader.line_num + 1, None, f"not valid CSV: {exc}"))
            return
        yield reader.line_num, row


def _add_sale_row(
    cells: dict[str, Any],
    number: int,
    name: str,
    sales: dict[str, tuple[int, dict[str, Any]]],
    records: list[tuple[int, dict[str, Any]]],
    problems: list[Error],
) -> None:
    """`sale.csv` has one row per invoice line; rows with one id make one sale."""
    line = {field: cells.pop(col) for col, field in _SALE_LINE.items() if col in cells}
    event_id = cells.get("id")
    if not isinstance(event_id, str):
        problems.append(event_error(name, number, None, "id: missing field"))
        return
    if event_id in sales:
        first_number, sale = sales[event_id]
        for field in _SALE_HEADER:
            if field in cells and cells[field] != sale.get(field):
                problems.append(
                    event_error(name, number, event_id,
                            f"{field}: {cells[field]!r} differs from line {first_number} "
                            f"({sale.get(field)!r}) of the same sale")
                )
        sale["lines"].append(line)
        return
    sale = {"type": "sale", **cells, "lines": [line]}
    sales[event_id] = (number, sale)
    records.append((number, sale))
