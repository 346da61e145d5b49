"""Load only the months a report needs, from the files exactly as the build wrote them.

A report over a period needs the month files of the period and the balance
of each package liability account at its start. The build already writes
that balance: every `ledger/YYYY-MM.beancount` ends with a `balance`
assertion for the Deposits, Deferred and Unclaimed account of every
location, dated the first of the next month. So a period report parses the
month files from `--from`'s month through `--to`'s, plus one opening
transaction made from the assertions that end the month before; a report
that needs a package's whole life (activity, customers, invoices) parses the
months from the first through `--to`'s. Everything else in `ledger/` (the
accounts, the as-of date, the refused events, the queries) is small and
always read.

This is safe only for files the build wrote: the build lists the SHA-256 of
every month file in `accounts.beancount`, and the month files on disk must
match that list exactly (no file edited, added or removed); `main.beancount`
must include `ledger/*.beancount` and nothing else. Otherwise `read_files`
says so and the report loads the whole ledger through Beancount, with
every check, as before. The files read are not booked or validated again
(`pkgbooks validate` and `bean-check` do that); a parse error in one of
them still refuses the report.

The parsed entries of each month file are kept in the report cache
(`pkgbooks.reports.cache`) under the file's path and digest, so a second
report over the same months parses nothing.
"""

from __future__ import annotations

import datetime
import gc
import hashlib
import multiprocessing
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from beancount.core import amount, data
from beancount.parser import parser

from pkgbooks.config import Config
from pkgbooks.layout import Loaded, books_lock
from pkgbooks.ledger import ACCOUNTS, LEDGER_DIR, MONTH_DIGEST
from pkgbooks.reports.cache import Cache
from pkgbooks.reports.summary import SUMMARY_DIR, Summary, summary_name

MONTH_FILE = re.compile(r"(\d{4})-(\d{2})\.beancount")
INCLUDE = f"{LEDGER_DIR}/*.beancount"
OPENING_ACCOUNT = "Equity:Opening-Balances"
_BALANCE_LINE = re.compile(rb"\d{4}-\d{2}-\d{2} balance ")
_DIGEST_LINE = re.compile(rf"^{re.escape(MONTH_DIGEST)} (\S+) ([0-9a-f]{{64}})$", re.MULTILINE)

Month = tuple[int, int]
PARALLEL_FROM = 3  # month files to parse before a second process helps


@dataclass(frozen=True, slots=True)
class Span:
    """The days a report looks at: `first` (None: from the first month) through `last`.

    A span with a `first` starts from the balances asserted at the end of the
    month before `first`'s month.
    """

    first: datetime.date | None
    last: datetime.date
    history: bool = False  # from the summary of open packages before `first`, not balances


@dataclass(frozen=True, slots=True)
class LedgerFiles:
    """The bytes of a ledger's files, read once under the books lock, and their digests."""

    main: Path
    main_text: bytes
    months: dict[Month, tuple[Path, bytes, str]]  # (year, month) -> path, bytes, SHA-256
    others: list[tuple[Path, bytes]]  # accounts, queries, refused events ...
    identity: str  # SHA-256 over the names and contents of every file
    summaries: dict[str, str] = field(default_factory=dict)  # summary/YYYY-MM... -> SHA-256


def read_files(main: Path) -> LedgerFiles | None:
    """The ledger's files, or None unless every month file is as the build wrote it."""
    with books_lock(main.parent, exclusive=False):
        try:
            main_text = main.read_bytes()
            paths = sorted((main.parent / LEDGER_DIR).glob("*.beancount"))
            contents = [(path, path.read_bytes()) for path in paths]
        except OSError:
            return None
    identity = hashlib.sha256(b"main\0" + hashlib.sha256(main_text).digest())
    months: dict[Month, tuple[Path, bytes, str]] = {}
    others: list[tuple[Path, bytes]] = []
    for path, text in contents:
        sha = hashlib.sha256(text).hexdigest()
        identity.update(path.name.encode() + b"\0" + sha.encode())
        month = MONTH_FILE.fullmatch(path.name)
        if month:
            months[(int(month[1]), int(month[2]))] = (path, text, sha)
        else:
            others.append((path, text))
    accounts = next((text for path, text in others if path.name == ACCOUNTS), b"")
    listed = dict(_DIGEST_LINE.findall(accounts.decode("utf-8", "replace")))
    recorded = {name: sha for name, sha in listed.items() if "/" not in name}
    on_disk = {path.name: sha for path, _text, sha in months.values()}
    if not recorded or recorded != on_disk:
        return None
    summaries = {name: sha for name, sha in listed.items() if name.startswith(f"{SUMMARY_DIR}/")}
    return LedgerFiles(main, main_text, months, others, identity.hexdigest(), summaries)


def load_span(files: LedgerFiles, span: Span, cache: Cache, config: Config) -> Loaded | None:
    """The entries of the span's months (and its opening balances), errors and options.

    None when `main.beancount` is not the one the build writes (another
    include, entries of its own) or a summary is not the one it wrote: the
    caller then loads the whole ledger.
    """
    entries, errors, options = parser.parse_string(files.main_text,
                                                   report_filename=str(files.main))
    if entries or errors or options["include"] != [INCLUDE]:
        return None
    for path, text in files.others:
        found, problems, _ = parser.parse_string(text, report_filename=str(path))
        entries.extend(found)
        errors.extend(problems)
    last = (span.last.year, span.last.month)
    first = (span.first.year, span.first.month) if span.first else min(files.months, default=last)
    before = max((m for m in files.months if m < first), default=None)
    summary: Summary | None = None
    if span.history and before is not None:
        name = summary_name(_month_name(before))
        if name in files.summaries:
            summary = _summary(files, name, config)
            if summary is None:
                return None
        if summary is None or not summary.complete:
            # No summary (books built before them) or one that cannot say what some
            # package or invoice held: the history is read from the first month.
            first, before, summary = min(files.months), None, None
    wanted = [files.months[month] for month in sorted(files.months) if first <= month <= last]
    for found, problems in _months_entries(wanted, cache):
        entries.extend(found)
        errors.extend(problems)
    if summary is not None:
        assert before is not None
        path = files.main.parent / LEDGER_DIR / summary_name(_month_name(before))
        earlier: list[Any] = summary.entries(_month_name(before), str(path))
        if not summary.takes_in(_month_name(first), entries):
            # A month of the span changes a package or invoice the summary left out:
            # the months before the span are read instead.
            earlier = []
            before_span = [files.months[month] for month in sorted(files.months) if month < first]
            for found, problems in _months_entries(before_span, cache):
                earlier.extend(found)
                errors.extend(problems)
        entries.extend(earlier)
    if before is not None and not span.history:
        path, text, _sha = files.months[before]
        opening = _opening(path, text, datetime.date(first[0], first[1], 1))
        if opening is None:
            return None
        entries.append(opening)
    entries.sort(key=data.entry_sortkey)
    return entries, errors, options


def _month_name(month: Month) -> str:
    return f"{month[0]:04d}-{month[1]:02d}"


def _summary(files: LedgerFiles, name: str, config: Config) -> Summary | None:
    """The summary `name` (of open packages and invoices), as the build wrote it.

    None: the file is not the one `accounts.beancount` lists (edited by hand,
    or from another build), or not a summary.
    """
    path = files.main.parent / LEDGER_DIR / name
    try:
        text = path.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(text).hexdigest() != files.summaries[name]:
        return None
    return Summary.read(config, text, str(path))


def _months_entries(
    months: list[tuple[Path, bytes, str]], cache: Cache
) -> list[tuple[list[Any], list[Any]]]:
    """The entries of each month file, in order: from the cache, or parsed (and then kept).

    With several months to parse and two cores, a forked helper parses the
    last ones into the cache while this process parses the first ones, then
    reads the helper's from the cache (about three times faster than parsing
    them). Whatever the helper did not leave in the cache is parsed here.
    """
    missing = [i for i, (path, _text, sha) in enumerate(months)
               if not cache.holds("months", _month_key(path, sha))]
    helper, given = None, set[int]()
    if (cache.root is not None and len(missing) >= PARALLEL_FROM
            and (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods()):
        given = set(missing[len(missing) - len(missing) * 2 // 5:])
        helper = multiprocessing.get_context("fork").Process(
            target=_fill_cache, args=([months[i] for i in sorted(given)], cache), daemon=True)
        helper.start()
    found: dict[int, tuple[list[Any], list[Any]]] = {}
    for i, (path, text, sha) in enumerate(months):
        if i not in given:
            found[i] = _month_entries(path, text, sha, cache)
    if helper is not None:
        helper.join()
    for i in sorted(given):
        found[i] = _month_entries(*months[i], cache)
    return [found[i] for i in range(len(months))]


def _fill_cache(months: list[tuple[Path, bytes, str]], cache: Cache) -> None:
    """The helper process: parse these month files into the cache."""
    for path, text, sha in months:
        _month_entries(path, text, sha, cache)


def _month_key(path: Path, sha: str) -> str:
    return hashlib.sha256(f"{path.resolve()}\0{sha}".encode()).hexdigest()


def _month_entries(path: Path, text: bytes, sha: str, cache: Cache) -> tuple[list[Any], list[Any]]:
    """One month file's entries: from the cache, or parsed (and then kept)."""
    key = _month_key(path, sha)
    cached = cache.get("months", key)
    if isinstance(cached, list):
        return cached, []
    enabled = gc.isenabled()
    gc.disable()  # parsing makes many small objects: the collector would only slow it
    try:
        entries, errors, _options = parser.parse_string(text, report_filename=str(path))
    finally:
        if enabled:
            gc.enable()
    if not errors:
        cache.put("months", key, entries)
    return entries, errors


def _opening(path: Path, text: bytes, first_day: datetime.date) -> data.Transaction | None:
    """The balances asserted at the end of the file, as one transaction the day before.

    None if the file does not end with assertions dated `first_day` (not a
    month file as the build writes it).
    """
    lines = text.rstrip(b"\n").split(b"\n")
    start = len(lines)
    while start > 0 and _BALANCE_LINE.match(lines[start - 1]):
        start -= 1
    parsed, errors, _ = parser.parse_string(b"\n".join(lines[start:]) + b"\n",
                                            report_filename=str(path))
    assertions = [a for a in parsed if isinstance(a, data.Balance) and a.date == first_day]
    if errors or len(assertions) != len(parsed):
        return None
    postings = [data.Posting(a.account, a.amount, None, None, None, None) for a in assertions]
    if assertions:
        total = sum((a.amount.number or Decimal(0) for a in assertions), Decimal(0))
        postings.append(data.Posting(OPENING_ACCOUNT, amount.Amount(-total,
                                     assertions[0].amount.currency), None, None, None, None))
    return data.Transaction(
        data.new_metadata(str(path), start + 1), first_day - datetime.timedelta(days=1), "*",
        None, f"Opening balances: the assertions that end {path.name}", frozenset(),
        frozenset(), postings,
    )
