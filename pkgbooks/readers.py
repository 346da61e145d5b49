"""Event files (SPEC 3.3) to a stream of checked events, in application order.

Files are read in name order. Events are applied by date, then by kind (sale,
payment, redemption, refund, expiry, void), then in reading order (file, line).
A file whose dates never go down (the usual point-of-sale export) is streamed:
only the events of one date are held at a time. A file out of date order is
sorted in memory. A cheap first pass over each file decides which.

Every problem is reported as an `Error` (file, line, event id, what is wrong)
and reading goes on, so one run reports everything.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from pkgbooks.errors import Error, event_error
from pkgbooks.events import EVENT_ADAPTER, EVENT_TYPES, KIND_ORDER, LINK_SAFE, Event
from pkgbooks.wording import describe, field_path


class Read(NamedTuple):
    """An event and where it was read."""

    event: Event
    file: str
    line: int

    @property
    def place(self) -> str:
        """`FILE:LINE` of the event."""
        return f"{self.file}:{self.line}"


# (date text, kind rank, file index, line): the application order.
SortKey = tuple[str, int, int, int]

_DATE_FIELD = re.compile(r'(?<!\\)"date"\s*:\s*"([^"\\]*)"')
_SALE_HEADER = ("id", "date", "location", "invoice", "customer", "staff")
_SALE_LINE = {
    "line_package": "package",
    "line_instance": "instance",
    "line_price": "price",
    "line_product": "product",
    "line_amount": "amount",
    "line_tax": "tax",
}


def event_files(events_dir: Path) -> list[Path]:
    """The event files of a books directory, in name order."""
    if not events_dir.is_dir():
        return []
    return sorted(
        (p for p in events_dir.iterdir() if p.suffix in (".jsonl", ".csv") and p.is_file()),
        key=lambda p: p.name,
    )


def read_events(files: list[Path], problems: list[Error]) -> Iterator[Read]:
    """All events of `files`, merged in application order; problems are appended."""
    streams = []
    for index, path in enumerate(files):
        if path.suffix == ".jsonl":
            streams.append(_jsonl_stream(path, index, problems))
        else:
            streams.append(_csv_stream(path, index, problems))
    for _key, read in heapq.merge(*streams, key=lambda pair: pair[0]):
        yield read


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
    byte-order mark) is decoded whole.
    """
    name = str(path)
    with path.open("rb") as handle:
        head = handle.read(2)
        if head in (b"\xff\xfe", b"\xfe\xff"):
            try:
                text = (head + handle.read()).decode("utf-16")
            except UnicodeDecodeError as exc:
                problems.append(event_error(name, None, None, f"not UTF-16 text ({exc.reason})"))
                return
            # Split at line feeds only: U+2028 may stand inside a JSON string.
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            yield from ((n, line.rstrip("\r")) for n, line in enumerate(lines, 1))
            return
        handle.seek(0)
        for number, raw in enumerate(handle, 1):
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


def _jsonl_lines(path: Path, problems: list[Error]) -> Iterator[tuple[int, str]]:
    return _text_lines(path, problems)


def _jsonl_stream(
    path: Path, index: int, problems: list[Error]
) -> Iterator[tuple[SortKey, Read]]:
    """Events of one JSONL file in application order.

    A first pass reads only the dates. In date order (the usual export) the
    second pass streams, sorting one date's events at a time by kind; out of
    order, the file's events are held and sorted in memory.
    """
    last = ""
    in_date_order = True
    for _number, text in _jsonl_lines(path, []):
        found = _DATE_FIELD.search(text)
        if found is None:
            continue  # a blank or broken line: reported where it stands
        date = found.group(1)
        if date < last:
            in_date_order = False
            break
        last = date
    events = _parse_jsonl(path, index, problems)
    if not in_date_order:
        yield from sorted(events, key=lambda pair: pair[0])
        return
    pending: list[tuple[SortKey, Read]] = []
    for key, read in events:
        if pending and key[0] != pending[0][0][0]:
            pending.sort(key=lambda pair: pair[0])
            yield from pending
            pending = []
        pending.append((key, read))
    pending.sort(key=lambda pair: pair[0])
    yield from pending


def _parse_jsonl(path: Path, index: int, problems: list[Error]) -> Iterator[tuple[SortKey, Read]]:
    """Each line of a JSONL file as an event with its sort key; problems appended."""
    name = str(path)
    for number, text in _jsonl_lines(path, problems):
        if not text.strip():
            continue
        try:
            event: Event | None = EVENT_ADAPTER.validate_json(text)
        except ValidationError:
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
        date = event.date.isoformat()
        # JSON keeps the last of two "date" keys; the first pass read the first.
        first = _DATE_FIELD.search(text) if text.count('"date"') > 1 else None
        if first is not None and first.group(1) != date:
            problems.append(
                event_error(name, number, event.id, "the date field appears more than once")
            )
            continue
        yield (date, KIND_ORDER[event.type], index, number), Read(event, name, number)


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
            events.append(((event.date.isoformat(), KIND_ORDER[kind], index, number),
                           Read(event, name, number)))
    events.sort(key=lambda pair: pair[0])
    yield from events


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
