"""`pkgbooks validate`: Beancount's own checks, the SPEC 4.7 invariants, a replay.

The ledger on disk is loaded with Beancount (invariant 1), then read back
posting by posting to check invariants 2-5 from what it says, and finally the
books are re-derived from the events and compared with the files on disk (the
entities' books of SPEC 6b included), so a hand edit that still balances is
caught. Each failure names the invariant, the account or package, and by how much.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from beancount.core import data

from pkgbooks import accounts, progress
from pkgbooks.accounts import Role, suffixes
from pkgbooks.build import no_collector, render
from pkgbooks.config import load_config
from pkgbooks.entities import stale_wrappers, with_entity_books, wrappers
from pkgbooks.errors import Error, Source, file_error
from pkgbooks.layout import load_ledger
from pkgbooks.ledger import AS_OF_DIRECTIVE, LEDGER_DIR, MAIN, render_main
from pkgbooks.money import fmt
from pkgbooks.periods import REFUSED_DIRECTIVE, REFUSED_FILE, Previous

PACKAGE_LIABILITY = suffixes(accounts.PACKAGE_LIABILITY)

# How each kind of transaction moves a package liability (SPEC 5.1 roll-forward).
ROLL_FORWARD_KINDS = {"payment", "close", "redemption", "expiry", "refund", "void"}


@dataclass(slots=True)
class Validation:
    """What `validate` found: the checks that passed, one error per failure, and notes."""

    passed: list[str] = field(default_factory=list)
    errors: list[Error] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. events set aside (SPEC 7)

    def check(self, name: str, errors: list[Error]) -> None:
        """Record one check: passed, or failed with these errors (each says which check)."""
        if errors:
            self.errors.extend(e._replace(message=f"{e.message} (check {name})") for e in errors)
        else:
            self.passed.append(name)


def _at(t: data.Transaction, message: str) -> Error:
    """An error about a transaction of the ledger, at its file and line."""
    meta = t.meta or {}
    event = meta.get("event")
    return Error(Source(meta.get("filename"), meta.get("lineno")), message,
                 str(event) if event else None)


def validate(books_dir: Path) -> Validation:
    """Run every check over the books in `books_dir` (see the module docstring)."""
    report = Validation()
    config = load_config(books_dir / "pkgbooks.toml")
    main = books_dir / MAIN
    if not main.exists():
        report.errors.append(
            file_error(str(main), f"no ledger yet: run `pkgbooks build {books_dir}`"))
        return report
    progress.phase("loading the ledger")
    entries, errors, _options = load_ledger(main)
    progress.phase("checking the ledger")
    txns = [e for e in entries if isinstance(e, data.Transaction)]
    report.check(
        "1 every transaction balances to the cent; Beancount's checks pass",
        [Error(Source(e.source.get("filename"), e.source.get("lineno")), e.message)
         for e in errors] + _exactly_balanced(txns),
    )
    as_of = next(
        (e.date for e in entries if isinstance(e, data.Custom) and e.type == AS_OF_DIRECTIVE),
        None,
    )
    progress.phase("replaying the events")
    rendered, files = render(books_dir, as_of, config, Previous.load(books_dir),
                             list_refused=True)
    with no_collector():
        replayed = dict(with_entity_books(config, files, rendered.balances))
    set_aside = set_aside_count(entries)
    if set_aside:
        report.notes.append(
            f"{set_aside} event(s) set aside by `pkgbooks build --keep-going` are not in these "
            f"books (listed in {books_dir / LEDGER_DIR / REFUSED_FILE})"
        )
    # Refusals the ledger lists as set aside are expected; any other is a failure.
    listed = books_dir / LEDGER_DIR / REFUSED_FILE
    listed_text = listed.read_text(encoding="utf-8") if listed.exists() else ""
    unexpected = [] if replayed.get(REFUSED_FILE, "") == listed_text else rendered.problems
    finished = {i for i, status in rendered.finished.items() if status != "voided"}
    progress.phase("checking the invariants")
    report.check("2 package liability never negative, 0.00 when finished",
                 _liability_never_negative(txns, finished, main))
    report.check("3 due-to / due-from eliminate", _due_eliminate(txns, main))
    report.check("4 roll-forward identity", _roll_forward(txns))
    report.check("5 every event in exactly one transaction set", _events_once(txns))
    report.check("replay: the ledger is what the events give",
                 _replay(books_dir, replayed, unexpected, rendered.balances, entries,
                         {MAIN: render_main(config), **wrappers(config)}))
    return report


def set_aside_count(entries: list[Any]) -> int:
    """How many events a `--keep-going` build left out of a loaded ledger."""
    return sum(1 for e in entries if isinstance(e, data.Custom) and e.type == REFUSED_DIRECTIVE)


def _units(posting: data.Posting) -> Decimal:
    """A posting's amount (pkgbooks writes every amount explicitly)."""
    assert posting.units is not None and posting.units.number is not None
    return posting.units.number


def _instance_of(txn: data.Transaction, posting: data.Posting) -> str | None:
    meta = posting.meta or {}
    value = meta.get("instance") or (txn.meta or {}).get("instance")
    return str(value) if value else None


def _exactly_balanced(txns: list[data.Transaction]) -> list[Error]:
    """Beancount tolerates half a cent; pkgbooks' transactions balance exactly."""
    failures = []
    for t in txns:
        total = sum((_units(p) for p in t.postings), Decimal(0))
        if total:
            failures.append(_at(t, f"is off by {total}"))
    return failures


def _liability_never_negative(
    txns: list[data.Transaction], finished: set[str], main: Path
) -> list[Error]:
    """Invariant 2: no package's liability goes below zero; an ended package's is zero."""
    balance: dict[str, Decimal] = defaultdict(Decimal)
    failures = []
    for t in txns:
        touched = set()
        for p in t.postings:
            if p.account.endswith(PACKAGE_LIABILITY):
                instance = _instance_of(t, p) or "(no instance)"
                balance[instance] += _units(p)
                touched.add(instance)
        for instance in touched:
            if balance[instance] > 0:  # a liability is a credit (negative) balance
                failures.append(_at(
                    t, f"package {instance} liability is negative by {fmt(balance[instance])} "
                    f"after this transaction on {t.date}"
                ))
    for instance in sorted(finished):
        if balance.get(instance, Decimal(0)) != 0:
            failures.append(file_error(
                str(main), f"package {instance} is over but its liability is "
                f"{fmt(-balance[instance])}"
            ))
    return failures


def _due_eliminate(txns: list[data.Transaction], main: Path) -> list[Error]:
    """At the end of every day, Assets:A:DueFrom:B + Liabilities:B:DueTo:A = 0."""
    balance: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    failures: list[Error] = []
    day: datetime.date | None = None

    def check(when: datetime.date) -> None:
        for (a, b), amount in sorted(balance.items()):
            if amount:
                failures.append(file_error(
                    str(main), f"{accounts.name(a, Role.DUE_FROM, b)} + "
                    f"{accounts.name(b, Role.DUE_TO, a)} = {fmt(amount)} "
                    f"at the end of {when}"
                ))

    for t in txns:
        if day is not None and t.date != day and not failures:
            check(day)
        day = t.date
        for p in t.postings:
            parsed = accounts.parse(p.account)
            if parsed is None or parsed.counterparty is None:
                continue
            if parsed.role is Role.DUE_FROM:
                balance[(parsed.segment, parsed.counterparty)] += _units(p)
            else:
                balance[(parsed.counterparty, parsed.segment)] += _units(p)
    if day is not None and not failures:
        check(day)
    return failures


def _roll_forward(txns: list[data.Transaction]) -> list[Error]:
    """Every movement of a package liability is one the roll-forward (5.1) accounts for.

    closing = opening + sales - redemptions - expirations - refunds holds for
    every location and period, on both bases, exactly when each liability
    posting belongs to a payment, close, redemption, expiry or refund.
    """
    failures = []
    for t in txns:
        kind = t.meta.get("kind")
        for p in t.postings:
            if p.account.endswith(PACKAGE_LIABILITY) and kind not in ROLL_FORWARD_KINDS:
                failures.append(_at(
                    t, f"{p.account} moves {fmt(_units(p))} on {t.date} in a transaction of "
                    f"kind {kind!r}, which the roll-forward does not account for"
                ))
    return failures


def _events_once(txns: list[data.Transaction]) -> list[Error]:
    """Each event's transactions form one set: one date, all together in the ledger."""
    dates: dict[str, datetime.date] = {}
    failures = []
    for t in txns:
        event = t.meta.get("event")
        if not event:
            failures.append(_at(t, f"transaction on {t.date} ({t.narration}) has no event id"))
            continue
        seen = dates.setdefault(str(event), t.date)
        if seen != t.date:
            failures.append(_at(t, f"applied on {seen} and again on {t.date}"))
    return failures


def _replay(
    books_dir: Path,
    replayed: dict[str, str],
    problems: list[Error],
    balances: dict[str, Decimal],
    entries: list[Any],
    opening: dict[str, str],
) -> list[Error]:
    """The ledger on disk is exactly what the events give (files, main, balances).

    `opening` holds what `main.beancount` and the entities' books (SPEC 6b)
    must say, by path under the books directory.
    """
    failures = [p._replace(message=f"the events now have a problem: {p.message}")
                for p in problems]
    ledger_dir = books_dir / LEDGER_DIR
    on_disk = ({p.relative_to(ledger_dir).as_posix(): p for p in ledger_dir.rglob("*.beancount")}
               if ledger_dir.is_dir() else {})
    for name in sorted(set(on_disk) - set(replayed)):
        failures.append(
            file_error(str(ledger_dir / name), "not produced by the events (extra file)"))
    for name in sorted(set(replayed) - set(on_disk)):
        failures.append(file_error(str(ledger_dir / name), "missing; the events produce it"))
    for name in sorted(set(on_disk) & set(replayed)):
        disk = on_disk[name].read_text(encoding="utf-8")
        if disk != replayed[name]:
            failures.append(
                file_error(str(ledger_dir / name), _first_difference(disk, replayed[name])))
    main = books_dir / MAIN
    for name, text in opening.items():
        path = books_dir / name
        if not path.is_file():
            failures.append(file_error(str(path), "missing; pkgbooks.toml gives it"))
        elif path.read_text(encoding="utf-8") != text:
            failures.append(file_error(str(path), "differs from what pkgbooks.toml gives"))
    for path in stale_wrappers(books_dir, opening):
        failures.append(file_error(str(path), "the books of an entity pkgbooks.toml no longer has"))
    ledger_balances: dict[str, Decimal] = defaultdict(Decimal)
    for e in entries:
        if isinstance(e, data.Transaction):
            for p in e.postings:
                ledger_balances[p.account] += _units(p)
    for account in sorted(set(ledger_balances) | set(balances)):
        diff = ledger_balances.get(account, Decimal(0)) - balances.get(account, Decimal(0))
        if diff:
            failures.append(file_error(
                str(main),
                f"{account}: the ledger holds {fmt(ledger_balances.get(account, Decimal(0)))}, "
                f"the events give {fmt(balances.get(account, Decimal(0)))} (off by {fmt(diff)})"
            ))
    if failures:
        failures.append(file_error(
            str(main), f"rebuild with `pkgbooks build {books_dir}` if the events are right"))
    return failures


def _first_difference(disk: str, expected: str) -> str:
    """Where a file on disk first departs from what the events give."""
    disk_lines, expected_lines = disk.splitlines(), expected.splitlines()
    for number, (a, b) in enumerate(zip(disk_lines, expected_lines, strict=False), 1):
        if a != b:
            return f"line {number} reads {a.strip()!r}, the events give {b.strip()!r}"
    return (
        f"has {len(disk_lines)} lines, the events give {len(expected_lines)}"
    )
