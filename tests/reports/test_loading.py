"""Reports read only the months they need, and never serve a stale figure.

Every report is compared, period by period, with the same report over the
whole ledger loaded by Beancount (the reference path): on the demo books and
on generated books that span a new year. Then the cache is shown to follow
the files: a hand edit of a month file, a rebuild with other events, a
damaged cache, read-only books, no cache at all.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import stat
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import generate as bench_generate  # bench/generate.py
import pytest

from pkgbooks.build import build
from pkgbooks.reports import AS_OF_REPORTS, REPORTS
from pkgbooks.reports.books import Books
from pkgbooks.reports.cache import Cache
from pkgbooks.reports.loading import Span, read_files
from pkgbooks.reports.run import cached_report, run_report, span_of

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "ledgers" / "demo"
D = datetime.date.fromisoformat


def _same_as_whole(directory: Path, name: str,
                   periods: list[tuple[datetime.date, datetime.date]]) -> None:
    whole = Books.load(directory)
    assert whole.span is None
    for start, end in periods:
        first = None if name in AS_OF_REPORTS else start
        part = Books.load(directory, span_of(name, first, end))
        assert part.span is not None, "the month files are as built: the fast path is taken"
        fast = run_report(name, part, first, end).as_json()
        assert fast == run_report(name, whole, first, end).as_json(), (name, start, end)


DEMO_PERIODS = [
    (D("2026-01-01"), D("2026-01-31")),  # the first month: no opening balances
    (D("2026-02-14"), D("2026-04-03")),  # mid-month to mid-month
    (D("2026-03-15"), D("2026-03-15")),  # a single day
    (D("2026-03-01"), D("2026-03-01")),  # the first day of a month
    (D("2026-05-31"), D("2026-05-31")),  # the last day of the books
    (D("2026-01-01"), D("2026-05-31")),  # the whole books
]


# One test per report (each a minute's work on one core), so that parallel workers share them.
@pytest.mark.slow
@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_on_the_demo_is_the_whole_ledgers(name: str) -> None:
    _same_as_whole(DEMO, name, DEMO_PERIODS)


def test_the_liability_of_a_month_of_the_demo_is_the_whole_ledgers() -> None:
    whole = Books.load(DEMO)
    for start, end in DEMO_PERIODS[1:3]:
        part = Books.load(DEMO, span_of("liability", start, end))
        assert part.span is not None and len(part.entries) < len(whole.entries)
        for basis in ("payment", "sale"):
            assert (run_report("liability", part, start, end, basis).as_json()
                    == run_report("liability", whole, start, end, basis).as_json())


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Books from the benchmark generator over about 14 months (2025-01 .. 2026-02)."""
    books = tmp_path_factory.mktemp("generated") / "books"
    bench_generate.generate(books, events=4200, per_day=10)
    assert not build(books).problems
    return books


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_on_generated_books_is_the_whole_ledgers(generated: Path, name: str) -> None:
    months = sorted(p.name for p in (generated / "ledger").glob("20*.beancount"))
    assert months[0] == "2025-01.beancount" and months[-1] >= "2026-01.beancount"
    _same_as_whole(generated, name, [
        (D("2025-01-01"), D("2025-01-31")),
        (D("2025-06-01"), D("2025-06-30")),
        (D("2025-11-20"), D("2026-01-10")),  # spans the new year
        (D("2025-12-31"), D("2025-12-31")),  # a single day, the last of a year
        (D("2025-03-01"), D("2025-12-31")),
    ])


def test_a_period_reads_its_months_and_the_opening_balances() -> None:
    books = Books.load(DEMO, Span(D("2026-03-10"), D("2026-03-20")))
    assert books.span is not None
    dated = [e.date for e in books.entries if hasattr(e, "postings")]
    opening = [e for e in books.entries
               if getattr(e, "narration", "").startswith("Opening balances")]
    assert len(opening) == 1 and opening[0].date == D("2026-02-28")
    assert min(dated) == D("2026-02-28") and max(dated) <= D("2026-03-31")
    # The opening is what the February file asserts for the first of March.
    february = (DEMO / "ledger" / "2026-02.beancount").read_text(encoding="utf-8")
    asserted = {m[1]: Decimal(m[2]) for m in re.finditer(
        r"^2026-03-01 balance (\S+)\s+(-?[\d.]+) USD$", february, re.MULTILINE)}
    assert {p.account: p.units.number for p in opening[0].postings
            if p.account != "Equity:Opening-Balances"} == asserted


def _copy(source: Path, to: Path) -> Path:
    shutil.copytree(source, to, ignore=shutil.ignore_patterns(".*"))
    return to


def _report(name: str, books: Path, start: str | None, end: str) -> Any:
    report, _ = cached_report(name, books, D(start) if start else None, D(end))
    return report.as_json()


def _whole(name: str, books: Path, start: str | None, end: str) -> Any:
    return run_report(name, Books.load(books), D(start) if start else None, D(end)).as_json()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Iterator[Path]:
    before = os.environ.get("PKGBOOKS_CACHE")
    os.environ["PKGBOOKS_CACHE"] = str(tmp_path / "cache")
    yield tmp_path / "cache"
    if before is None:
        del os.environ["PKGBOOKS_CACHE"]
    else:
        os.environ["PKGBOOKS_CACHE"] = before


def _move_redemption(books: Path, by: Decimal) -> None:
    """By hand: the first April redemption at Loc11 uses `by` less; the asserted balances follow.

    The books stay valid (bean-check clean), so the whole-ledger path answers too.
    """
    april = books / "ledger" / "2026-04.beancount"
    text = april.read_text(encoding="utf-8")
    pattern = re.compile(r'kind: "redemption"\n(?:  \w+: .*\n)*'
                         r"  Liabilities:Loc11:Packages:Deferred +(\d+\.\d\d) USD\n"
                         r"  (Income:Loc11:Packages:Redemptions) +(-\d+\.\d\d) USD\n")
    match = next(m for m in pattern.finditer(text) if Decimal(m[1]) > by)
    block = match[0]
    block = block.replace(f"{Decimal(match[1]):>12.2f} USD", f"{Decimal(match[1]) - by:>12.2f} USD")
    block = block.replace(f"{Decimal(match[3]):>12.2f} USD", f"{Decimal(match[3]) + by:>12.2f} USD")
    april.write_text(text.replace(match[0], block), encoding="utf-8")
    for name in ("2026-04.beancount", "2026-05.beancount"):
        month = books / "ledger" / name
        lines = month.read_text(encoding="utf-8").split("\n")
        for i, line in enumerate(lines):
            parts = line.split()
            if parts[1:3] == ["balance", "Liabilities:Loc11:Packages:Deferred"]:
                lines[i] = line.replace(f"{Decimal(parts[3]):>12.2f}",
                                        f"{Decimal(parts[3]) - by:>12.2f}")
        month.write_text("\n".join(lines), encoding="utf-8")


def test_a_hand_edited_month_file_is_never_served_from_the_cache(
    tmp_path: Path, cache_dir: Path
) -> None:
    books = _copy(DEMO, tmp_path / "demo")
    first = _report("liability", books, "2026-05-01", "2026-05-31")
    assert list(cache_dir.glob("reports/*.pickle")), "the report was kept"
    assert _report("liability", books, "2026-05-01", "2026-05-31") == first
    _move_redemption(books, Decimal("10.00"))
    assert read_files(books / "main.beancount") is None, "not the files the build wrote"
    again = _report("liability", books, "2026-05-01", "2026-05-31")
    assert again == _whole("liability", books, "2026-05-01", "2026-05-31")
    loc11 = next(row for row in again["rows"] if row["location"] == "loc-11")
    before = next(row for row in first["rows"] if row["location"] == "loc-11")
    assert Decimal(loc11["opening"]) == Decimal(before["opening"]) + Decimal("10.00")
    assert Decimal(loc11["closing"]) == Decimal(before["closing"]) + Decimal("10.00")


def test_a_rebuild_with_other_events_gives_the_new_figures(
    tmp_path: Path, cache_dir: Path
) -> None:
    books = _copy(DEMO, tmp_path / "demo")
    first = _report("liability", books, "2026-05-01", "2026-05-31")
    customers = _report("customers", books, None, "2026-05-31")
    with (books / "events" / "2026-05.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"type": "expiry", "id": "late", "date": "2026-05-31", '
                     '"instance": "PK-00001"}\n')
    with pytest.raises(Exception, match="older than pkgbooks.toml or events/"):
        _report("liability", books, "2026-05-01", "2026-05-31")
    assert not build(books).problems
    again = _report("liability", books, "2026-05-01", "2026-05-31")
    assert again == _whole("liability", books, "2026-05-01", "2026-05-31")
    assert Decimal(again["totals"]["expirations"]) > Decimal(first["totals"]["expirations"])
    assert _report("customers", books, None, "2026-05-31") == _whole(
        "customers", books, None, "2026-05-31")
    assert customers is not None


def test_a_damaged_cache_is_ignored(tmp_path: Path, cache_dir: Path) -> None:
    books = _copy(DEMO, tmp_path / "demo")
    first = _report("liability", books, "2026-03-01", "2026-03-31")
    kept = list(cache_dir.glob("*/*.pickle"))
    assert {path.parent.name for path in kept} == {"months", "reports"}
    for path in kept:
        path.write_bytes(path.read_bytes()[:60] + b"garbage")
    assert _report("liability", books, "2026-03-01", "2026-03-31") == first
    for path in cache_dir.glob("*/*.pickle"):
        path.write_bytes(b"")
    assert _report("liability", books, "2026-03-01", "2026-03-31") == first


def test_read_only_books_and_no_cache(tmp_path: Path, cache_dir: Path) -> None:
    books = _copy(DEMO, tmp_path / "demo")
    for path in [books, *books.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        expected = _whole("liability", books, "2026-02-01", "2026-02-28")
        assert _report("liability", books, "2026-02-01", "2026-02-28") == expected
        assert not list(books.rglob(".*")), "nothing written into the books"
        os.environ["PKGBOOKS_CACHE"] = "off"
        assert Cache.default().root is None
        assert _report("liability", books, "2026-02-01", "2026-02-28") == expected
    finally:
        for path in [books, *books.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_a_cache_directory_open_to_others_is_not_used(tmp_path: Path, cache_dir: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    os.environ["PKGBOOKS_CACHE"] = str(shared)
    assert Cache.default().root != shared


def test_the_cache_stays_within_its_limit(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir(mode=0o700)
    cache = Cache(tmp_path / "c", limit=10_000)
    for n in range(10):
        cache.put("months", f"{n:064x}", b"x" * 3000)
        os.utime(tmp_path / "c" / "months" / f"{n:064x}.pickle", (n, n))
    total = sum(p.stat().st_size for p in (tmp_path / "c").glob("*/*.pickle"))
    assert total <= 10_000
    assert cache.get("months", f"{9:064x}") == b"x" * 3000
    assert cache.get("months", f"{0:064x}") is None


def test_a_void_of_an_earlier_months_redemption_names_who_redeemed(tmp_path: Path) -> None:
    # The reconciliation row of a void takes customer, staff and item from the voided
    # redemption, here a month before the report's period: the report reads back to it.
    from books import build_ok, config_text, write_books

    catalog = """
    [items.haircut]
    name = "Haircut"
    category = "service"
    price = "40.00"

    [packages.cuts-3]
    name = "Three haircuts"
    price = "100.00"
    items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

    [reconciliation]
    start = 2026-01-01
    rates = { service = "0.05" }
    """
    books = write_books(tmp_path / "books", config_text(catalog), [
        {"type": "sale", "id": "s1", "date": "2026-01-02", "location": "loc-11",
         "invoice": "INV-K1", "customer": "cust-1", "lines": [{"package": "cuts-3",
                                                               "instance": "K1"}]},
        {"type": "payment", "id": "p1", "date": "2026-01-02", "location": "loc-11",
         "invoice": "INV-K1", "amount": "100.00", "method": "card"},
        {"type": "redemption", "id": "r1", "date": "2026-01-20", "location": "loc-21",
         "instance": "K1", "item": "haircut", "staff": "ana"},
        {"type": "void", "id": "v1", "date": "2026-02-03", "target": "r1",
         "reason": "keyed twice"},
    ])
    build_ok(books, as_of=D("2026-02-28"))
    fast = _report("reconciliation", books, "2026-02-01", "2026-02-28")
    assert fast == _whole("reconciliation", books, "2026-02-01", "2026-02-28")
    (row,) = fast["rows"]
    assert (row["customer"], row["staff"], row["quantity"]) == ("cust-1", "ana", -1)
