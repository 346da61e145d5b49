"""Closed periods and rewritten months (SPEC 2a, 7): the new books against the books on disk.

An accountant posts a month to the general ledger and expects it never to
move again. So a build is compared with the ledger it replaces:

- `locked_through = DATE`: an event dated on or before DATE that the books on
  disk do not hold is refused ("period closed through DATE"), and a build whose
  transactions dated on or before DATE differ from those on disk is refused,
  naming the month, account and amount that would change and the cause (the
  `pkgbooks.toml` keys that changed, the events whose transactions differ).
- without a lock, a build that changes what the books on disk said (their
  transactions up to their as-of date) says so on standard error.
- an event that the previous build accepted and that is now refused is named
  as such, with the events added since that may have caused it (SPEC 7).

The comparison is on the generated text itself: each month file is split into
its transactions, and only the transactions that differ are read for their
accounts and amounts, so an unchanged month costs one string comparison.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pkgbooks.errors import Error, event_error
from pkgbooks.events import Event, Sale, Void
from pkgbooks.ledger import AS_OF_DIRECTIVE, LEDGER_DIR, quote
from pkgbooks.money import fmt
from pkgbooks.readers import Place, Read, ReadPlaces, Rereader

# The configuration a ledger was built from, kept with it (as Beancount comments, so
# the ledger loads as before) to name what a later build changes in it.
CONFIG_COPY = "config.beancount"
_COPY_HEAD = "; The pkgbooks.toml these books were built from, kept to name what changes in it.\n"
REFUSED_FILE = "refused.beancount"
REFUSED_DIRECTIVE = "pkgbooks-refused"

_MONTH_FILE = re.compile(r"^[0-9]{4}-[0-9]{2}\.beancount$")
_EVENT_OF_TXN = re.compile(
    r'^([0-9]{4}-[0-9]{2}-[0-9]{2}) \* [^\n]*\n  event: ("(?:[^"\\]|\\.)*")$', re.MULTILINE
)
_POSTING = re.compile(r"^  ([A-Z][^ ]*) +(-?[0-9]+\.[0-9]{2}) ", re.MULTILINE)
_AS_OF = re.compile(rf'^([0-9-]{{10}}) custom "{AS_OF_DIRECTIVE}"', re.MULTILINE)
_REFUSED = re.compile(rf'^[0-9-]{{10}} custom "{REFUSED_DIRECTIVE}" ("(?:[^"\\]|\\.)*")',
                      re.MULTILINE)
# Keys of pkgbooks.toml that never change a transaction.
_NO_BEARING = ("title", "export", "locked_through")
_NAMED_AT_MOST = 10
_CHANGE_ENTRY = re.compile(r"^(.*\.changes\[[0-9]+\])\.")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def _unquote(text: str) -> str:
    return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")


@dataclass(slots=True)
class Previous:
    """What the ledger on disk holds: the books as last built.

    The event ids of its months are read only when asked, and only those of
    the months asked for: a closed quarter costs its own months.
    """

    ledger_dir: Path
    as_of: datetime.date | None
    months: dict[str, Path]  # month file name -> path
    set_aside: set[str]  # events a `--keep-going` build left out
    config: dict[str, Any] | None  # the pkgbooks.toml it was built from
    _events: dict[str, dict[str, datetime.date]] = field(default_factory=dict)

    @classmethod
    def load(cls, books_dir: Path) -> Previous | None:
        """The books on disk, or None before the first build."""
        ledger_dir = books_dir / LEDGER_DIR
        if not ledger_dir.is_dir():
            return None
        months = {p.name: p for p in ledger_dir.iterdir() if _MONTH_FILE.match(p.name)}
        if not months:
            return None
        as_of = _AS_OF.search(_read(ledger_dir / "accounts.beancount"))
        refused = _read(ledger_dir / REFUSED_FILE)
        try:
            config = tomllib.loads(config_from_copy(_read(ledger_dir / CONFIG_COPY))) or None
        except tomllib.TOMLDecodeError:
            config = None
        return cls(
            ledger_dir,
            datetime.date.fromisoformat(as_of.group(1)) if as_of else None,
            months,
            {_unquote(m.group(1)) for m in _REFUSED.finditer(refused)},
            config,
        )

    def accepted(self, through: datetime.date | None = None) -> dict[str, datetime.date]:
        """Event id -> date of the events the books hold (those dated up to `through`)."""
        cut = through.isoformat()[:7] if through is not None else "9999-99"
        out: dict[str, datetime.date] = {}
        for name in sorted(self.months):
            if name[:7] <= cut:
                out.update(self._month_events(name))
        return out

    def _month_events(self, name: str) -> dict[str, datetime.date]:
        if name not in self._events:
            found = _EVENT_OF_TXN.finditer(self.month_text(name))
            self._events[name] = {_unquote(m.group(2)): datetime.date.fromisoformat(m.group(1))
                                  for m in found}
        return self._events[name]

    def month_text(self, name: str) -> str:
        path = self.months.get(name)
        return _read(path) if path is not None else ""


def config_copy(text: str) -> str:
    """`pkgbooks.toml` as a Beancount file of comments."""
    return _COPY_HEAD + "".join(f"; {line}\n" for line in text.splitlines())


def config_from_copy(copy: str) -> str:
    """The `pkgbooks.toml` text back from its copy."""
    return "".join(line[2:] + "\n" for line in copy.splitlines()[1:] if line.startswith("; "))


def _read(path: Path) -> str:
    """A file of the ledger on disk as text; "" if it is gone. Bytes that are not UTF-8 (a
    damaged file) read as U+FFFD, so the file compares as changed rather than stopping the
    build with a traceback."""
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


# --- events read, and the closed period ---------------------------------------------------


# Where and when an event was read: (date, file, line); `ReadPlaces` keeps them packed.
Seen = Place


def _place(seen: Seen) -> str:
    return f"{seen[1]}:{seen[2]}"


def _keys(event: Event | None) -> frozenset[str]:
    """The package instances and invoice an event concerns."""
    if event is None:
        return frozenset()
    if isinstance(event, Sale):
        return frozenset({event.invoice, *(getattr(line, "instance", "") for line in event.lines)})
    if isinstance(event, Void):
        return frozenset({event.target})
    return frozenset(
        v for v in (getattr(event, "instance", None), getattr(event, "invoice", None)) if v
    )


@dataclass(slots=True)
class Guard:
    """Stands between the readers and the engine: refuses new events in a closed period.

    It also notes where and when each event was read, to date a refused event
    and explain a refusal afterwards.
    """

    previous: Previous | None
    locked_through: datetime.date | None
    problems: list[Error]
    seen: ReadPlaces = field(default_factory=ReadPlaces)
    refused: int = 0

    def __call__(self, reads: Iterable[Read]) -> Iterator[Read]:
        previous, lock, seen = self.previous, self.locked_through, self.seen
        closed = previous.accepted(lock) if previous is not None and lock is not None else None
        if closed is None:  # nothing closed: only note the places
            add = seen.add
            for read in reads:
                add(read)
                yield read
            return
        for read in reads:
            event = read.event
            event_id, date = event.id, event.date
            seen.add(read)
            if closed is not None and lock is not None and date <= lock \
                    and event_id not in closed:
                self.refused += 1
                self.problems.append(event_error(
                    read.file, read.line, event.id,
                    f"period closed through {lock.isoformat()}: this event, dated "
                    f"{event.date.isoformat()}, is not in the closed books; enter the "
                    f"correction after {lock.isoformat()} (a void and new events)",
                ))
                continue
            yield read

    def explain(self, problems: list[Error], config_changes: list[str]) -> list[Error]:
        """Each refusal of an event the previous build accepted, with the events added since.

        Added events are those the previous books neither hold nor set aside;
        the ones dated on or before the refused event and about the same
        package or invoice are named first (SPEC 7).
        """
        previous = self.previous
        if previous is None or not any(p.event for p in problems):
            return problems
        accepted = previous.accepted()
        added = {eid: s for eid, s in self.seen.items()
                 if eid not in accepted and eid not in previous.set_aside}
        reread = Rereader()
        explained = []
        for problem in problems:
            seen = self.seen.get(problem.event or "")
            if (problem.event not in accepted or seen is None
                    or problem.message.startswith("period closed")):
                explained.append(problem)
                continue
            keys = _keys(reread(seen[1], seen[2]))
            before = {eid: s for eid, s in added.items()
                      if s[0] <= seen[0] and eid != problem.event}
            in_file_order = sorted(before.items(), key=lambda kv: (kv[1][1], kv[1][2]))
            related = {eid: s for eid, s in in_file_order
                       if _keys(reread(s[1], s[2])) & keys} or before
            message = problem.message + "; the previous build accepted this event"
            if related:
                named = sorted(related.items(), key=lambda kv: kv[1])
                shown = ", ".join(f"{_place(s)} ({eid}, {s[0].isoformat()})"
                                  for eid, s in named[:_NAMED_AT_MOST])
                more = len(named) - _NAMED_AT_MOST
                message += (f": it is refused now because of events added since, dated on or "
                            f"before it: {shown}" + (f" and {more} more" if more > 0 else ""))
            elif config_changes:
                message += (": it is refused now because pkgbooks.toml changed ("
                            + "; ".join(config_changes[:_NAMED_AT_MOST]) + ")")
            explained.append(problem._replace(message=message))
        return explained


# --- what the new books change in the old ------------------------------------------------


@dataclass(slots=True)
class MonthChange:
    """How the transactions of one month, up to a cut-off date, differ from those on disk."""

    month: str  # YYYY-MM
    accounts: dict[str, Decimal]  # account -> change of its movement (new - old)
    events: set[str]  # events whose transactions differ


def _transactions(text: str, through: datetime.date) -> Counter[str]:
    """The transactions of a month file dated on or before `through`, as text."""
    cut = through.isoformat()
    return Counter(
        block for block in text.split("\n\n")
        if block[10:13] == " * " and block[:10] <= cut
    )


def month_change(month: str, old: str, new: str, through: datetime.date) -> MonthChange | None:
    """What `new` changes in `old` among the transactions dated on or before `through`."""
    if old == new:
        return None
    old_txns, new_txns = _transactions(old, through), _transactions(new, through)
    if old_txns == new_txns:
        return None
    accounts: dict[str, Decimal] = defaultdict(Decimal)
    events: set[str] = set()
    for blocks, sign in ((new_txns - old_txns, 1), (old_txns - new_txns, -1)):
        for block in blocks.elements():
            found = _EVENT_OF_TXN.match(block)
            if found:
                events.add(_unquote(found.group(2)))
            for account, amount in _POSTING.findall(block):
                accounts[account] += sign * Decimal(amount)
    return MonthChange(month, {a: v for a, v in sorted(accounts.items()) if v}, events)


@dataclass(slots=True)
class Comparison:
    """Compares the month files of a build, as they are made, with those on disk.

    `changes`: what moves among the transactions the books on disk hold (up to
    their as-of date); `locked`: what moves on or before `locked_through`.
    """

    previous: Previous
    locked_through: datetime.date | None
    changes: list[MonthChange] = field(default_factory=list)
    locked: list[MonthChange] = field(default_factory=list)
    _done: set[str] = field(default_factory=set)

    @property
    def through(self) -> datetime.date | None:
        dates = [d for d in (self.previous.as_of, self.locked_through) if d is not None]
        return max(dates) if dates else None

    def unchanged(self, names: Iterable[str]) -> None:
        """Month files the build takes from the disk as they are: nothing to compare."""
        self._done.update(names)

    def __call__(self, files: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
        through = self.through
        cut = through.isoformat()[:7] if through is not None else ""
        for name, text in files:
            if _MONTH_FILE.match(name) and name[:7] <= cut:
                self._done.add(name)
                self._compare(name, self.previous.month_text(name), text)
            yield name, text
        for name in sorted(set(self.previous.months) - self._done):
            if name[:7] <= cut:  # a month the new books no longer have
                self._compare(name, self.previous.month_text(name), "")

    def _compare(self, name: str, old: str, new: str) -> None:
        if old == new:
            return
        for through, found in ((self.previous.as_of, self.changes),
                               (self.locked_through, self.locked)):
            if through is not None and name[:7] <= through.isoformat()[:7]:
                change = month_change(name[:7], old, new, through)
                if change is not None:
                    found.append(change)


def describe_changes(
    changes: list[MonthChange], previous: Previous, config: dict[str, Any] | None,
    guard: Guard, problems: list[Error],
) -> list[str]:
    """One line per changed month: its accounts and amounts, then the causes."""
    refused = {p.event for p in problems if p.event is not None}
    config_changes = config_differences(previous.config, config)
    accepted = previous.accepted() if changes else {}
    lines = []
    for change in sorted(changes, key=lambda c: c.month):
        if change.accounts:
            moves = ", ".join(f"{account} {_signed(amount)}"
                              for account, amount in change.accounts.items())
        else:
            moves = "no account's total changes, but transactions read differently"
        causes = []
        if config_changes:
            causes.append("pkgbooks.toml changed (" + "; ".join(config_changes) + ")")
        named = sorted(change.events)[:_NAMED_AT_MOST]
        causes.append("the transactions of events " + ", ".join(
            _event_cause(eid, guard, refused, accepted) for eid in named
        ) + (f" and {len(change.events) - _NAMED_AT_MOST} more"
             if len(change.events) > _NAMED_AT_MOST else ""))
        lines.append(f"{change.month}: {moves}; because {'; '.join(causes)}")
    return lines


def _signed(amount: Decimal) -> str:
    return ("+" if amount > 0 else "") + fmt(amount)


def _event_cause(
    event_id: str, guard: Guard, refused: set[str], accepted: dict[str, datetime.date]
) -> str:
    if event_id.startswith("expiry:"):
        return f"{event_id} (automatic expiry)"
    seen = guard.seen.get(event_id)
    if seen is None:
        return f"{event_id} (no longer in events/)"
    if event_id in refused:
        return f"{event_id} ({_place(seen)}, now refused)"
    if event_id not in accepted:
        return f"{event_id} ({_place(seen)}, added)"
    return f"{event_id} ({_place(seen)})"


def config_differences(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """`key: old -> new` for every key of pkgbooks.toml that can change a transaction."""
    if old is None or new is None:
        return []
    before, after = _flatten(old), _flatten(new)
    changed = [k for k in sorted(set(before) | set(after))
               if k.split(".")[0].split("[")[0] not in _NO_BEARING
               and before.get(k) != after.get(k)]
    # A dated change added or removed whole is named once, by its date.
    entries: dict[str, list[str]] = defaultdict(list)
    for key in changed:
        found = _CHANGE_ENTRY.match(key)
        entries[found.group(1) if found else key].append(key)
    out = []
    for entry, keys in entries.items():
        since = after.get(f"{entry}.from") or before.get(f"{entry}.from")
        if keys != [entry] and all(k not in before for k in keys):
            out.append(f"{entry}: added (from {_shown(since)})")
        elif keys != [entry] and all(k not in after for k in keys):
            out.append(f"{entry}: removed (was from {_shown(since)})")
        else:
            out += [f"{k}: {_shown(before.get(k))} -> {_shown(after.get(k))}" for k in keys]
    return out


def _shown(value: Any) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return repr(value).replace("'", '"')


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for index, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


# --- events set aside by `build --keep-going` ---------------------------------------------


def refused_text(
    books_dir: Path, problems: list[Error], seen: Mapping[str, Seen], end: datetime.date | None,
) -> str:
    """`custom "pkgbooks-refused"` entries: each refused event, where it is and why.

    Dated on the event's date (the books' as-of date for a line that could not
    be read as an event); places are relative to the books directory so the
    text does not depend on where the books are.
    """
    lines = ["; Events left out of these books by `pkgbooks build --keep-going`,\n"
             "; each with the reason; the next build tries them again.\n\n"]
    fallback = (end or datetime.date(1970, 1, 1)).isoformat()
    for p in sorted(problems, key=lambda p: (p.source.file or "", p.source.line or 0,
                                             p.event or "")):
        file, line = p.source.file or "", p.source.line
        where = _relative(books_dir, file) + (f":{line}" if line is not None else "")
        info = seen.get(p.event or "")
        date = info[0].isoformat() if info is not None and info[2] == line else fallback
        lines.append(f"{date} custom \"{REFUSED_DIRECTIVE}\" {quote(p.event or '?')} "
                     f"{quote(where)} {quote(_CONTROL.sub(' ', p.message))}\n")
    return "".join(lines)


def _relative(books_dir: Path, file: str) -> str:
    try:
        return Path(file).relative_to(books_dir).as_posix()
    except ValueError:
        return file
