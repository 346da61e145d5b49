"""Exported files read back, and the ledger's movements read with Beancount, for comparison.

Each reader turns one target's file into `{(location id, first day, last day,
GL account): amount}` (debits positive), the shape `ledger_movements` gives
from Beancount's own postings, so a test compares them with `==`.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from beancount import loader
from beancount.core import data
from quickbooks.objects.journalentry import JournalEntry

Key = tuple[str, datetime.date, datetime.date, str]
Amounts = dict[Key, Decimal]

XERO_HEADER = ["*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount",
               "TrackingName1", "TrackingOption1", "TrackingName2", "TrackingOption2"]
QBO_HEADER = ["Journal No", "Journal Date", "Account Name", "Debits", "Credits", "Description",
              "Name", "Location", "Class"]
IIF_HEADER = [
    "!TRNS\tTRNSID\tTRNSTYPE\tDATE\tACCNT\tCLASS\tAMOUNT\tDOCNUM\tMEMO",
    "!SPL\tSPLID\tTRNSTYPE\tDATE\tACCNT\tCLASS\tAMOUNT\tDOCNUM\tMEMO",
    "!ENDTRNS",
]
NARRATION = re.compile(
    r"\((?P<loc>[^()]*)\), (?P<start>\d{4}-\d\d-\d\d) to (?P<end>\d{4}-\d\d-\d\d)$")
NUMBER = re.compile(r"^(?P<tag>[A-Za-z0-9-]{1,7})-(?P<start>\d{6})-(?P<end>\d{6})$")
MONEY = re.compile(r"^-?\d+\.\d\d$")


def _short(text: str) -> datetime.date:
    return datetime.date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))


def from_narration(narration: str) -> tuple[str, datetime.date, datetime.date]:
    found = NARRATION.search(narration)
    assert found, narration
    return (found["loc"], datetime.date.fromisoformat(found["start"]),
            datetime.date.fromisoformat(found["end"]))


def from_number(number: str, tags: Mapping[str, str]) -> tuple[str, datetime.date, datetime.date]:
    """(location id, first, last) from a journal number; `tags`: number tag -> location id."""
    assert len(number) <= 21, number
    found = NUMBER.match(number)
    assert found, number
    return tags[found["tag"]], _short(found["start"]), _short(found["end"])


def _add(amounts: Amounts, key: Key, amount: Decimal) -> None:
    amounts[key] = amounts.get(key, Decimal(0)) + amount


def _balanced(journals: dict[Any, Decimal]) -> None:
    for journal, total in journals.items():
        assert total == 0, f"journal {journal} is off by {total}"


def read_xero_csv(texts: list[str], files: bool = False) -> Amounts:
    """`files`: each text is one file, so it holds at most 300 rows (Xero's limit)."""
    amounts: Amounts = {}
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for text in texts:
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert rows[0] == XERO_HEADER
        assert not files or len(rows) - 1 <= 300
        for row in rows[1:]:
            narration, _date, _description, code, _tax, amount = row[:6]
            assert MONEY.match(amount), amount
            loc, start, end = from_narration(narration)
            _add(amounts, (loc, start, end, code), Decimal(amount))
            totals[narration] += Decimal(amount)
    _balanced(totals)
    return amounts


def read_xero_json(text: str) -> Amounts:
    body = json.loads(text, parse_float=Decimal)
    amounts: Amounts = {}
    for journal in body["ManualJournals"]:
        loc, start, end = from_narration(journal["Narration"])
        assert journal["Date"] == end.isoformat()
        _balanced({journal["Narration"]: sum(
            (line["LineAmount"] for line in journal["JournalLines"]), Decimal(0))})
        for line in journal["JournalLines"]:
            _add(amounts, (loc, start, end, line["AccountCode"]), line["LineAmount"])
    return amounts


def read_qbo_csv(text: str, tags: Mapping[str, str]) -> Amounts:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == QBO_HEADER
    amounts: Amounts = {}
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows[1:]:
        number, _date, account, debit, credit = row[:5]
        assert (debit == "") != (credit == ""), row
        amount = Decimal(debit) if debit else -Decimal(credit)
        assert MONEY.match(debit or credit) and amount != 0
        loc, start, end = from_number(number, tags)
        _add(amounts, (loc, start, end, account), amount)
        totals[number] += amount
    _balanced(totals)
    return amounts


def read_qbo_json(text: str, tags: Mapping[str, str]) -> Amounts:
    """Through python-quickbooks' own `JournalEntry.from_json`."""
    body = json.loads(text, parse_float=Decimal)
    amounts: Amounts = {}
    for raw in body["JournalEntries"]:
        entry = JournalEntry.from_json(raw)
        loc, start, end = from_number(entry.DocNumber, tags)
        assert entry.TxnDate == end.isoformat()
        total = Decimal(0)
        for line in entry.Line:
            assert line.DetailType == "JournalEntryLineDetail"
            detail = line.JournalEntryLineDetail
            assert line.Amount > 0
            sign = {"Debit": 1, "Credit": -1}[detail.PostingType]
            amount = sign * line.Amount
            total += amount
            _add(amounts, (loc, start, end, detail.AccountRef.name), amount)
        _balanced({entry.DocNumber: total})
    return amounts


def read_iif(text: str, tags: Mapping[str, str]) -> Amounts:
    lines = text.split("\r\n")
    assert lines[:3] == IIF_HEADER and lines[-1] == ""
    amounts: Amounts = {}
    total = Decimal(0)
    state = "end"
    for line in lines[3:-1]:
        fields = line.split("\t")
        if fields == ["ENDTRNS"]:
            assert state == "spl"
            _balanced({"journal": total})
            state = "end"
            continue
        assert len(fields) == 9 and all('"' not in f and "\n" not in f for f in fields), fields
        kind, _id, trnstype, _date, account, _class, amount, number, _memo = fields
        assert trnstype == "GENERAL JOURNAL"
        assert (kind, state) in {("TRNS", "end"), ("SPL", "trns"), ("SPL", "spl")}, (kind, state)
        if kind == "TRNS":
            total = Decimal(0)
        state = "trns" if kind == "TRNS" else "spl"
        assert MONEY.match(amount), amount
        loc, start, end = from_number(number, tags)
        _add(amounts, (loc, start, end, account), Decimal(amount))
        total += Decimal(amount)
    assert state == "end"
    return amounts


def months(start: datetime.date, end: datetime.date) -> list[tuple[datetime.date, datetime.date]]:
    """Calendar months cut to start..end, written out plainly for the comparison."""
    found = []
    first = start
    while first <= end:
        year, month = (first.year + 1, 1) if first.month == 12 else (first.year, first.month + 1)
        last = min(datetime.date(year, month, 1) - datetime.timedelta(days=1), end)
        found.append((first, last))
        first = last + datetime.timedelta(days=1)
    return found


def resolve(mapping: Mapping[str, str], account: str) -> str:
    """SPEC 6's precedence, spelt out: full account, role with counterparty, role alone."""
    parts = account.split(":")
    role = ":".join([parts[0], *parts[2:]])
    for key in (account, role, ":".join([parts[0], *parts[2:3]])):
        if key in mapping:
            return mapping[key]
    raise KeyError(account)


def ledger_movements(
    books: Path,
    start: datetime.date,
    end: datetime.date,
    gl_of: Callable[[str], str],
    locations: Mapping[str, str],
    group: str = "month",
    keep: Callable[[str, datetime.date], bool] | None = None,
) -> Amounts:
    """The ledger's postings in start..end, read with Beancount, summed per GL line.

    `locations`: account segment -> location id; `gl_of`: pkgbooks account -> GL account;
    `keep(location, date)`: whether a transaction of that location and date counts.
    """
    entries, errors, _ = loader.load_file(str(books / "main.beancount"))
    assert not errors, errors
    spans = months(start, end) if group == "month" else [
        (start + datetime.timedelta(days=n),) * 2 for n in range((end - start).days + 1)]
    amounts: Amounts = {}
    for entry in entries:
        if not isinstance(entry, data.Transaction) or not start <= entry.date <= end:
            continue
        first, last = next(s for s in spans if s[0] <= entry.date <= s[1])
        for posting in entry.postings:
            assert posting.units is not None and posting.units.number is not None
            loc = locations.get(posting.account.split(":")[1])
            if loc is None or (keep is not None and not keep(loc, entry.date)):
                continue
            _add(amounts, (loc, first, last, gl_of(posting.account)), posting.units.number)
    return {key: amount for key, amount in amounts.items() if amount}
