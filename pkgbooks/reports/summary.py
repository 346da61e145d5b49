"""The month-end summary of open packages and invoices, for the history reports.

`activity`, `customers` and `invoices` need each package's and invoice's
life up to `--to`: its sale (who, where, when), what it holds, the units
used, whether it ended, what was paid on its invoice. Rather than parse
every month from the first, such a report parses the months of its period
and the summary the build wrote at the end of the month before:
`ledger/summary/YYYY-MM.beancount`, one per month file, Beancount `custom`
directives (outside `ledger/*.beancount`, so never part of the books):

    SOLD custom "pkgbooks-package" INSTANCE COMPLETE INVOICE PACKAGE LOCATION CUSTOMER STAFF
                                   VOIDED ENDS TOUCHED
    END  custom "pkgbooks-package-held" INSTANCE ACCOUNT AMOUNT     ; per liability account
    END  custom "pkgbooks-package-used" INSTANCE LINE UNITS         ; per package line
    SOLD custom "pkgbooks-invoice" INVOICE COMPLETE LOCATION CUSTOMER TOTAL TOUCHED
    END  custom "pkgbooks-invoice-paid" INVOICE ACCOUNT AMOUNT      ; per cash account

Each holds exactly what those reports' queries read of the months before:
the facts of the sale record, the liability by account, the units used per
line, the net count of expiries and refunds (`ENDS`, less voided refunds),
an invoice's lines (net + tax, less voided sales) and the cash its payments
brought in (less voided payments). `Summary.entries` turns it back into
transactions of those kinds, so the reports' BQL runs unchanged over them
and the period's months, and gives the figures of the whole history.

What is left out: a package that holds nothing, has ended (expired,
refunded, voided, or all its units used, by the terms of its sale date) and
whose invoice is paid; an invoice paid in full; each only once it has not
changed for `GRACE` month ends, so that a late void or payment finds it.
Such a package or invoice shows in no history report, unless a later
transaction changes it: then the summary cannot say what it held before,
so a month that changes one it does not hold (`Summary.apply` marks it
incomplete) makes the report read the whole history instead. A package or
invoice once incomplete stays listed as such.

The summary is made from the month files' text alone (`Summary.month`),
the same whatever `--jobs`, and read back (`Summary.read`) by an
incremental build that goes on from a later month. A report reads it only
if its SHA-256 is the one `accounts.beancount` lists.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import multiprocessing
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pkgbooks.accounts import CASH_BY_METHOD, PACKAGE_LIABILITY, Role
from pkgbooks.config import Config
from pkgbooks.ledger import quote
from pkgbooks.money import ZERO, fmt

if TYPE_CHECKING:
    from beancount.core import data

SUMMARY_DIR = "summary"
GRACE = 2  # month ends a finished package or paid invoice stays listed after its last change
PACKAGE, HELD, USED = "pkgbooks-package", "pkgbooks-package-held", "pkgbooks-package-used"
INVOICE, PAID = "pkgbooks-invoice", "pkgbooks-invoice-paid"
BALANCING = "Equity:Opening-Balances"
# A month text goes to the summaries' helper process this many characters at a time: pickled
# whole, a month of a million-event book would be a second copy of some 50 MB at once.
PIECE = 1 << 20


def _accounts(roles: Iterable[Role]) -> re.Pattern[str]:
    alternatives = []
    for role in roles:
        root, rest = role.split(":", 1)
        alternatives.append(f"{root}:[^:\\s]+:{rest}")
    return re.compile("|".join(alternatives))


_LIABILITY = _accounts(PACKAGE_LIABILITY)
_CASH = _accounts(CASH_BY_METHOD.values())
# The metadata the history reports read, and the postings on package liability and cash
# accounts, as `pkgbooks.ledger.render_txn` writes them (a value ends at its line's last quote).
_KEYS = ("kind", "target_kind", "instance", "invoice", "package", "location", "customer",
         "staff", "price", "tax", "item", "line", "quantity")
_META = re.compile(rf'\n  ({"|".join(_KEYS)}): "([^\n]*)"')
_POSTING = re.compile(
    rf"\n  ({_LIABILITY.pattern}|{_CASH.pattern}) +(-?[0-9.]+) [A-Z][A-Z0-9'._-]*"
    r'(?:\n    instance: "([^\n]*)")?')
_ESCAPE = re.compile(r"\\(.)")
# A summary line's tokens (`Summary.text`): a quoted string (group 1, escapes kept) or a bare
# word (group 2: a date, TRUE/FALSE, a number, an account, the currency).
_TOKEN = re.compile(r'"((?:[^"\\\n]|\\.)*)"|([^\s"]+)')
_WORD = r'(?:"(?:[^"\\\n]|\\.)*"|[^\s"]+)'
_LINE = re.compile(rf"(?:{_WORD} )*{_WORD}")  # nothing but tokens, one space apart

Posting = tuple[str, Decimal, str | None]  # account, number, the posting's own instance


def summary_name(month: str) -> str:
    """The summary's path under `ledger/` for a month `YYYY-MM`."""
    return f"{SUMMARY_DIR}/{month}.beancount"


def _month_end(month: str) -> datetime.date:
    year, mon = int(month[:4]), int(month[5:7])
    following = datetime.date(year + 1, 1, 1) if mon == 12 else datetime.date(year, mon + 1, 1)
    return following - datetime.timedelta(days=1)


def _months_before(month: str, count: int) -> str:
    year, mon = int(month[:4]), int(month[5:7]) - count
    while mon < 1:
        year, mon = year - 1, mon + 12
    return f"{year:04d}-{mon:02d}"


@dataclass(slots=True)
class OpenPackage:
    """What the history reports read of one package instance up to a month end."""

    complete: bool = False  # its sale record is known (else: changed after it was left out)
    sold: datetime.date | None = None
    invoice: str = ""
    package: str = ""
    location: str = ""
    customer: str = ""
    staff: str = ""
    voided: bool = False
    ends: int = 0
    touched: str = ""  # the last month that changed it (YYYY-MM)
    held: dict[str, Decimal] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)
    line: str = ""  # its line in the summary text, until it changes


@dataclass(slots=True)
class OpenInvoice:
    """What the `invoices` report reads of one invoice up to a month end."""

    complete: bool = False
    date: datetime.date | None = None
    location: str = ""
    customer: str = ""
    total: Decimal = ZERO
    touched: str = ""
    paid: dict[str, Decimal] = field(default_factory=dict)
    line: str = ""  # its line in the summary text, until it changes

    @property
    def due(self) -> Decimal:
        return self.total - sum(self.paid.values(), ZERO)


@dataclass(slots=True)
class Summary:
    """The open packages and invoices, carried from month to month."""

    config: Config
    packages: dict[str, OpenPackage] = field(default_factory=dict)
    invoices: dict[str, OpenInvoice] = field(default_factory=dict)

    # --- changing it -------------------------------------------------------------------

    def month(self, name: str, text: str) -> tuple[str, str]:
        """Take in one month file's text; the summary's (name, text) at the month's end."""
        month = name[:7]
        for block in text.split("\n\n"):
            if len(block) < 13 or block[10:13] != " * ":
                continue  # the header, the closing balance assertions
            meta = dict(_META.findall(block))
            if "\\" in block:
                meta = {key: _ESCAPE.sub(r"\1", value) for key, value in meta.items()}
            postings = [(account, Decimal(number), instance or None)
                        for account, number, instance in _POSTING.findall(block)]
            self.apply(month, datetime.date.fromisoformat(block[:10]), meta, postings)
        self._leave_out(month)
        return summary_name(month), self.text(month)

    def apply(self, month: str, date: datetime.date, meta: Mapping[str, Any],
              postings: list[Posting]) -> None:
        """One transaction, as the history reports' queries read it.

        `postings`: those on package liability and cash accounts. A package
        or invoice changed here that the summary does not hold, and that this
        transaction does not sell, becomes an incomplete entry.
        """
        kind, target = meta.get("kind"), meta.get("target_kind")
        instance, invoice = meta.get("instance"), meta.get("invoice")
        sign = -1 if kind == "void" else 1
        if "sale" in (kind, target):
            if instance:
                pkg = self._package(instance, month)
                if kind == "sale" and not pkg.complete:
                    pkg.complete, pkg.sold = True, date
                    pkg.invoice, pkg.package = invoice or "", meta.get("package") or ""
                    pkg.location, pkg.customer = meta.get("location") or "", \
                        meta.get("customer") or ""
                    pkg.staff = meta.get("staff") or ""
                elif kind == "void":
                    pkg.voided = True
            if invoice:
                inv = self._invoice(invoice, month)
                if not inv.complete and kind == "sale":
                    inv.complete, inv.date = True, date
                    inv.location, inv.customer = meta.get("location") or "", \
                        meta.get("customer") or ""
                inv.total += sign * (Decimal(meta.get("price") or 0)
                                     + Decimal(meta.get("tax") or 0))
        if "redemption" in (kind, target) and instance:
            line = meta.get("line") or meta.get("item") or ""
            used = self._package(instance, month).used
            used[line] = used.get(line, 0) + sign * int(meta.get("quantity") or 0)
        if (kind in ("expiry", "refund") or target == "refund") and instance:
            self._package(instance, month).ends += sign
        paying = "payment" in (kind, target)
        for account, number, own in postings:
            if account.startswith("Liabilities:"):
                key = own or instance
                if key:
                    held = self._package(key, month).held
                    held[account] = held.get(account, ZERO) + number
            elif paying and invoice:
                paid = self._invoice(invoice, month).paid
                paid[account] = paid.get(account, ZERO) + number

    def _package(self, instance: str, month: str) -> OpenPackage:
        pkg = self.packages.get(instance)
        if pkg is None:
            pkg = self.packages[instance] = OpenPackage()
        pkg.touched, pkg.line = month, ""
        return pkg

    def _invoice(self, invoice: str, month: str) -> OpenInvoice:
        inv = self.invoices.get(invoice)
        if inv is None:
            inv = self.invoices[invoice] = OpenInvoice()
        inv.touched, inv.line = month, ""
        return inv

    def _leave_out(self, month: str) -> None:
        """Drop what no history report can show any more (see the module docstring)."""
        quiet = _months_before(month, GRACE - 1)  # unchanged since before this month
        for invoice in [i for i, inv in self.invoices.items()
                        if inv.complete and inv.touched < quiet and inv.due <= 0]:
            del self.invoices[invoice]
        for instance in [i for i, pkg in self.packages.items()
                         if pkg.complete and pkg.touched < quiet and self._finished(pkg)]:
            del self.packages[instance]

    def _finished(self, pkg: OpenPackage) -> bool:
        if any(pkg.held.values()):
            return False
        inv = self.invoices.get(pkg.invoice)
        if inv is not None and inv.due > 0:
            return False  # a payment on it is still to come
        if pkg.voided or pkg.ends > 0 or pkg.package not in self.config.packages:
            return True
        assert pkg.sold is not None
        terms = self.config.package_on(pkg.package, pkg.sold)
        return all(group.quantity - pkg.used.get(group.item, 0) <= 0 for group in terms.items)

    # --- as text, and back ---------------------------------------------------------------

    def text(self, month: str) -> str:
        """The summary at the end of `month`, in a fixed order (deterministic).

        A line changes only with its package or invoice, so each is made once
        per change and kept (`line`) until the next. An incomplete one is dated
        the end of the month that last changed it.
        """
        currency = self.config.currency
        out = [f"; {self.config.title}: open packages and invoices at the end of {month}, "
               "generated by pkgbooks for the history reports\n\n"]
        for instance in sorted(self.packages):
            pkg = self.packages[instance]
            if not pkg.line:
                pkg.line = "".join([
                    f"{(pkg.sold or _month_end(pkg.touched)).isoformat()} custom \"{PACKAGE}\" "
                    f"{quote(instance)} {_bool(pkg.complete)} {quote(pkg.invoice)} "
                    f"{quote(pkg.package)} {quote(pkg.location)} {quote(pkg.customer)} "
                    f"{quote(pkg.staff)} {_bool(pkg.voided)} {pkg.ends} \"{pkg.touched}\"",
                    *(f" {account} {fmt(number)} {currency}"
                      for account, number in sorted(pkg.held.items()) if number),
                    *(f" {quote(line)} {units}"
                      for line, units in sorted(pkg.used.items()) if units), "\n"])
            out.append(pkg.line)
        for invoice in sorted(self.invoices):
            inv = self.invoices[invoice]
            if not inv.line:
                inv.line = "".join([
                    f"{(inv.date or _month_end(inv.touched)).isoformat()} custom \"{INVOICE}\" "
                    f"{quote(invoice)} {_bool(inv.complete)} {quote(inv.location)} "
                    f"{quote(inv.customer)} {fmt(inv.total)} {currency} \"{inv.touched}\"",
                    *(f" {account} {fmt(number)} {currency}"
                      for account, number in sorted(inv.paid.items()) if number), "\n"])
            out.append(inv.line)
        return "".join(out)

    @classmethod
    def read(cls, config: Config, text: str | bytes, filename: str = "<summary>") -> Summary | None:
        """The summary a text holds; None if it is not one pkgbooks wrote.

        The lines are read as `text()` writes them, token by token, rather than
        by Beancount's parser: the same values (a test holds the two to it), in
        about a third of the time, and both an incremental build and every
        history report read a summary. Anything else than such lines (or
        another currency) makes it None, and the caller reads the month files
        instead. Each line read is kept as the record's text (`line`): the text
        is one pkgbooks wrote (the caller has checked its digest), so `text()`
        writes it out again only once the record changes.
        """
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                return None
        found = cls(config)
        currency = config.currency
        try:
            for line in text.splitlines():
                if not line or line[0] == ";":
                    continue
                tokens = _TOKEN.findall(line)
                if not _LINE.fullmatch(line) or tokens[1] != ("", "custom"):
                    return None
                date = datetime.date.fromisoformat(_bare(tokens[0]))
                kind = _text(tokens[2])
                if kind == PACKAGE:
                    instance, complete = _text(tokens[3]), _truth(tokens[4])
                    if instance in found.packages:
                        return None
                    pkg = found.packages[instance] = OpenPackage(
                        complete, date if complete else None, _text(tokens[5]),
                        _text(tokens[6]), _text(tokens[7]), _text(tokens[8]), _text(tokens[9]),
                        _truth(tokens[10]), int(_bare(tokens[11])), _text(tokens[12]))
                    pkg.line = line + "\n"  # as `text()` wrote it, until it changes
                    rest = 13
                    while rest < len(tokens):
                        if tokens[rest][1]:  # an account, its amount and currency
                            pkg.held[tokens[rest][1]] = _amount(tokens, rest + 1, currency)
                            rest += 3
                        else:  # a package line and its units used
                            pkg.used[_text(tokens[rest])] = int(_bare(tokens[rest + 1]))
                            rest += 2
                elif kind == INVOICE:
                    invoice, complete = _text(tokens[3]), _truth(tokens[4])
                    if invoice in found.invoices:
                        return None
                    inv = found.invoices[invoice] = OpenInvoice(
                        complete, date if complete else None, _text(tokens[5]),
                        _text(tokens[6]), _amount(tokens, 7, currency), _text(tokens[9]))
                    inv.line = line + "\n"
                    for rest in range(10, len(tokens), 3):
                        inv.paid[_bare(tokens[rest])] = _amount(tokens, rest + 1, currency)
                else:
                    return None
        except (ValueError, IndexError, ArithmeticError):  # decimal's InvalidOperation too
            return None
        return found

    # --- what a report reads --------------------------------------------------------------

    @property
    def complete(self) -> bool:
        """Whether every package and invoice it lists is known from its sale."""
        return (all(p.complete for p in self.packages.values())
                and all(i.complete for i in self.invoices.values()))

    def entries(self, month: str, filename: str) -> list[data.Transaction]:
        """The summary as transactions of the kinds the history reports query.

        Sale records (with the liability held) at their sale dates, a void
        after a voided sale's record, and at the month's end one record per
        line's units used, per expiry or refund, and per invoice's payments.
        """
        # Beancount only here and in `takes_in`, which the reports call: a build writes
        # and reads summaries as text and need not import Beancount.
        from beancount.core import amount, data

        end = _month_end(month)
        currency = self.config.currency
        out: list[data.Transaction] = []

        def add(date: datetime.date, meta: dict[str, Any],
                lines: Iterable[tuple[str, Decimal]] = ()) -> None:
            moved = [(account, number) for account, number in lines if number]
            # Posting metadata as the parser gives it (BQL's any_meta looks there first).
            postings = [data.Posting(account, amount.Amount(number, currency), None, None,
                                     None, data.new_metadata(filename, len(out) + 1))
                        for account, number in moved]
            if postings:
                total = sum((number for _account, number in moved), ZERO)
                postings.append(data.Posting(BALANCING, amount.Amount(-total, currency),
                                             None, None, None,
                                             data.new_metadata(filename, len(out) + 1)))
            out.append(data.Transaction(
                data.new_metadata(filename, len(out) + 1, {k: v for k, v in meta.items() if v}),
                date, "*", None, f"Summary of {month}", frozenset(), frozenset(), postings))

        for instance in sorted(self.packages):
            pkg = self.packages[instance]
            assert pkg.sold is not None
            facts = {"instance": instance, "package": pkg.package, "location": pkg.location,
                     "customer": pkg.customer, "staff": pkg.staff}
            add(pkg.sold, {"kind": "sale", **facts}, sorted(pkg.held.items()))
            if pkg.voided:
                add(pkg.sold, {"kind": "void", "target_kind": "sale", **facts})
            for line, units in sorted(pkg.used.items()):
                if units:
                    add(end, {"kind": "redemption", "instance": instance, "line": line,
                              "quantity": str(units)})
            for _ in range(pkg.ends):
                add(end, {"kind": "expiry", "instance": instance})
            for _ in range(-pkg.ends):
                add(end, {"kind": "void", "target_kind": "refund", "instance": instance})
        for invoice in sorted(self.invoices):
            inv = self.invoices[invoice]
            assert inv.date is not None
            add(inv.date, {"kind": "sale", "invoice": invoice, "location": inv.location,
                           "customer": inv.customer, "price": fmt(inv.total), "tax": "0.00"})
            if any(inv.paid.values()):
                add(end, {"kind": "payment", "invoice": invoice}, sorted(inv.paid.items()))
        return out

    def takes_in(self, month: str, entries: Iterable[data.Directive]) -> bool:
        """Take in loaded transactions; False if one changes a package or invoice it lacks."""
        from beancount.core import data  # see `entries`

        for entry in entries:
            if not isinstance(entry, data.Transaction):
                continue
            postings: list[Posting] = []
            for p in entry.postings:
                if (p.units is not None and p.units.number is not None
                        and (_LIABILITY.fullmatch(p.account) or _CASH.fullmatch(p.account))):
                    own = (p.meta or {}).get("instance")
                    postings.append((p.account, p.units.number, str(own) if own else None))
            self.apply(month, entry.date, entry.meta, postings)
        return self.complete


def _bool(value: bool) -> str:
    return "TRUE" if value else "FALSE"


def _text(token: tuple[str, str]) -> str:
    """A quoted token's text, unescaped; a ValueError if the token is bare."""
    quoted, bare = token
    if bare:
        raise ValueError(f"text expected, found {bare!r}")
    return _ESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted


def _bare(token: tuple[str, str]) -> str:
    """A bare token; a ValueError if the token is quoted."""
    if not token[1]:
        raise ValueError("a bare word expected, found a quoted one")
    return token[1]


def _truth(token: tuple[str, str]) -> bool:
    word = _bare(token)
    if word not in ("TRUE", "FALSE"):
        raise ValueError(f"TRUE or FALSE expected, found {word!r}")
    return word == "TRUE"


def _amount(tokens: list[tuple[str, str]], at: int, currency: str) -> Decimal:
    """The number of the amount at `at` (a number, then `currency`)."""
    if _bare(tokens[at + 1]) != currency:
        raise ValueError(f"an amount in {currency} expected")
    number = Decimal(_bare(tokens[at]))
    if not number.is_finite():
        raise ValueError(f"a number expected, found {number}")
    return number


class Summaries:
    """The build's side: the summary at the end of each month file, and its digest.

    `digests` is where the build lists the SHA-256 of what it writes
    (`LedgerText.digests`, written at the end of `accounts.beancount`).
    Reading the month text again costs about a tenth of a build, so where
    there is a second core a forked helper makes the summaries while the
    build goes on (`take`), and hands them over once the months are over
    (`made`); elsewhere they are made here. The same text either way. The
    month texts go to the helper in pieces, and the summaries come back one
    at a time: neither is ever pickled whole, and the build holds one
    summary at a time, not all of them.
    """

    def __init__(self, config: Config, digests: dict[str, str]) -> None:
        self.summary = Summary(config)
        self.digests = digests
        self._made: list[tuple[str, str]] = []
        self._pipe: Connection | None = None
        self._helper: BaseProcess | None = None
        self._started = False
        self._recorded: dict[str, str] = {}  # the kept summaries' digests (`going_on`)

    def going_on(self, month: str, kept: Mapping[str, Path], recorded: Mapping[str, str]) -> None:
        """An incremental build goes on from `month`: start from the summary before it.

        The kept months' summaries are kept too (their digests are `recorded`);
        without the one before `month`, the kept month files are read again.
        Reading it back is the helper's first work (`_Start`), started here,
        while the build reads its saved state back: `checkpoint.plan` calls
        this once it has chosen the cut, before it reads the state, and
        `abandon()` undoes it if the build turns out a full one after all.
        """
        self._recorded = {name: recorded[name] for name in kept
                          if name.startswith(f"{SUMMARY_DIR}/") and name in recorded}
        self.digests.update(self._recorded)
        months = sorted(name for name in kept if "/" not in name and name[:7] < month)
        if not months:
            return
        start = _Start(self.summary.config, kept.get(summary_name(months[-1][:7])),
                       [kept[name] for name in months])
        self._started = True
        self._start(start)
        if self._pipe is None:
            self.summary = start()

    def abandon(self) -> None:
        """Back to a full build's start: no summary gone on from, its helper ended."""
        for name in self._recorded:
            self.digests.pop(name, None)
        self._recorded = {}
        self.close()
        self.summary = Summary(self.summary.config)
        self._started = False

    def close(self) -> None:
        """End the helper, if it still runs (the build stopped before `made`)."""
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self._helper is not None:
            self._helper.terminate()
            self._helper.join()
            self._helper = None

    def begin(self) -> None:
        """Start the helper now, if there is to be one (before the build starts any thread:
        it is forked)."""
        if not self._started:
            self._started = True
            self._start(self.summary)

    def take(self, name: str, text: str) -> None:
        """Take in month file `name` (its `text`), in order."""
        self.begin()
        if self._pipe is not None:
            with contextlib.suppress(OSError):  # the helper is gone: `made` says so
                self._pipe.send(name)
                for at in range(0, len(text), PIECE):
                    self._pipe.send_bytes(text[at:at + PIECE].encode("utf-8"))
                self._pipe.send_bytes(b"")
        else:
            self._made.append(self.summary.month(name, text))

    def made(self) -> Iterator[tuple[str, str]]:
        """The summaries of the months taken in, their digests listed."""
        if self._pipe is not None and self._helper is not None:
            yield from self._from_helper(self._pipe, self._helper)
            self._pipe = None
        for name, text in self._made:
            self.digests[name] = hashlib.sha256(text.encode("utf-8")).hexdigest()
            yield name, text
        self._made = []

    def _from_helper(self, pipe: Connection, helper: BaseProcess) -> Iterator[tuple[str, str]]:
        """The helper's summaries, as it sends them (one at a time), their digests listed."""
        gone = "its process ended before they were made"
        try:
            with contextlib.suppress(OSError):  # the helper is gone: nothing to receive
                pipe.send(None)
            while True:
                try:
                    made = pipe.recv()
                except (EOFError, OSError):
                    made = gone
                if made is None:
                    return
                if not isinstance(made, tuple):
                    # An OSError, so the command says it in one line and the build writes
                    # nothing (the old books stay as they were).
                    raise ChildProcessError(
                        f"the month-end summaries could not be made: {made}")
                name, text = made
                del made  # the summary is not kept while the next one comes
                self.digests[name] = hashlib.sha256(text.encode("utf-8")).hexdigest()
                yield name, text
        finally:
            pipe.close()  # first: a helper still sending (the build stopped) ends
            helper.join()
            self._helper = None

    def _start(self, summary: Summary | _Start) -> None:
        if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
            return
        context = multiprocessing.get_context("fork")
        ours, theirs = context.Pipe()
        helper = context.Process(target=_helper, args=(summary, theirs, ours),
                                 daemon=True)
        helper.start()
        theirs.close()
        self._pipe, self._helper = ours, helper


@dataclass(frozen=True, slots=True)
class _Start:
    """Where an incremental build's summaries start: the summary at the end of the last kept
    month (`before`, if it is there), else the kept month files (`months`) read again."""

    config: Config
    before: Path | None
    months: list[Path]

    def __call__(self) -> Summary:
        found = None
        if self.before is not None:
            with contextlib.suppress(OSError, UnicodeDecodeError):
                found = Summary.read(self.config, self.before.read_text(encoding="utf-8"))
        if found is None:
            found = Summary(self.config)
            for path in self.months:
                found.month(path.name, path.read_text(encoding="utf-8"))
        return found


def _helper(summary: Summary | _Start, pipe: Connection, other_end: Connection) -> None:
    """The forked helper: month texts in, their summaries out once the months are over.

    An incremental build's helper first reads back where its summaries start
    (`_Start`), while the build reads its own state back. A month comes as its
    name, then its text in pieces (UTF-8), then an empty piece; a None ends
    the months. The summaries go back one at a time, then a None. The build's
    end of the pipe is closed here, so that a build that stops half-way (its
    end closed or gone) ends the helper too.
    """
    other_end.close()
    made: list[tuple[str, str]] = []
    try:
        current = summary() if isinstance(summary, _Start) else summary
        while (name := pipe.recv()) is not None:
            pieces: list[bytes] = []
            while piece := pipe.recv_bytes():
                pieces.append(piece)
            text = b"".join(pieces).decode("utf-8")
            del pieces
            made.append(current.month(name, text))
            del text
    except EOFError:
        return
    except Exception as exc:  # noqa: BLE001 - said to the build, which stops
        pipe.send(repr(exc))
        return
    with contextlib.suppress(OSError):  # the build stopped before taking them
        for one in made:
            pipe.send(one)
        pipe.send(None)
