"""The month-end summary of open packages and invoices, and the history reports over it.

The reports' figures over a summary are compared with the same reports over
the whole ledger loaded by Beancount (test_loading.py does so for every
report and period on the demo and on generated books); here: what a
summary holds and leaves out, that it reads back as written (an incremental
build goes on from it), that a late change to a package it left out sends
the report through the whole history, and that an edited summary is never
trusted.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from books import build_ok, config_text, pay, redeem, sale, write_books

from pkgbooks.config import load_config
from pkgbooks.reports.books import Books
from pkgbooks.reports.loading import read_files
from pkgbooks.reports.run import run_report, span_of
from pkgbooks.reports.summary import GRACE, Summary

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "ledgers" / "demo"
D = datetime.date.fromisoformat
CATALOG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]
"""


def _at(event: dict[str, Any], month: int) -> dict[str, Any]:
    """The event moved to the same day of another month of 2026."""
    return {**event, "date": event["date"].replace("2026-01-", f"2026-{month:02d}-")}


def _fast_and_whole(books: Path, name: str, start: datetime.date | None,
                    end: datetime.date) -> tuple[Books, Any, Any]:
    part = Books.load(books, span_of(name, start, end))
    fast = run_report(name, part, start, end).as_json()
    return part, fast, run_report(name, Books.load(books), start, end).as_json()


def _months_read(books: Books) -> set[str]:
    """The month files (and summaries) the loaded entries come from."""
    return {Path(e.meta["filename"]).relative_to(books.directory / "ledger").as_posix()
            for e in books.entries if hasattr(e, "postings") and "filename" in e.meta
            and re.search(r"\d{4}-\d{2}\.beancount$", e.meta["filename"])}


@pytest.fixture
def late_void(tmp_path: Path) -> Path:
    """K1 is sold, paid and used up in January; in April a void gives one haircut back.

    K2 is still running (bought in January, one haircut used, paid in part).
    """
    return write_books(tmp_path / "books", config_text(CATALOG, redeem_open=True), [
        sale("s1", 2, "K1"), pay("p1", 2, "K1", "100.00"),
        redeem("r1", 5, "K1"), redeem("r2", 12, "K1"), redeem("r3", 20, "K1"),
        sale("s2", 3, "K2"), pay("p2", 3, "K2", "70.00"), redeem("r4", 6, "K2"),
        _at(redeem("r5", 7, "K2"), 3),
        {"type": "void", "id": "v1", "date": "2026-04-08", "target": "r3",
         "reason": "keyed on the wrong package"},
    ])


def test_a_summary_holds_the_open_packages_and_leaves_out_the_finished(late_void: Path) -> None:
    build_ok(late_void, as_of=D("2026-05-31"))
    summaries = late_void / "ledger" / "summary"
    assert sorted(p.name for p in summaries.iterdir()) == [
        f"2026-0{m}.beancount" for m in range(1, 6)]
    config = load_config(late_void / "pkgbooks.toml")

    def held(month: int) -> Summary:
        found = Summary.read(config, (summaries / f"2026-0{month}.beancount").read_bytes())
        assert found is not None
        return found

    january = held(1)
    assert set(january.packages) == {"K1", "K2"}
    k1, k2 = january.packages["K1"], january.packages["K2"]
    assert (k1.used, k1.held, k1.ends, k1.voided) == ({"haircut": 3}, {}, 0, False)
    # K2 holds what the ledger holds for it at the end of January.
    ((ledger_k2,),) = Books.load(late_void).query(
        "SELECT sum(number) WHERE account ~ ':Packages:(Deposits|Deferred)$' AND "
        "any_meta('instance') = 'K2' AND date <= 2026-01-31")
    assert k2.used == {"haircut": 1} and sum(k2.held.values()) == ledger_k2 != 0
    assert january.invoices["INV-K1"].due == 0 and january.invoices["INV-K2"].due > 0
    # K1 is used up and paid: it stays listed until GRACE month ends have passed.
    assert GRACE == 2
    assert "K1" in held(2).packages and "INV-K1" in held(2).invoices
    assert set(held(3).packages) == {"K2"} and set(held(3).invoices) == {"INV-K2"}
    # The April void changes K1, left out: the summary says it cannot tell its past.
    april = held(4)
    assert not april.packages["K1"].complete and not april.complete
    assert april.packages["K1"].used == {"haircut": -1}


def test_a_summary_reads_back_as_it_was_written(late_void: Path) -> None:
    build_ok(late_void, as_of=D("2026-05-31"))
    config = load_config(late_void / "pkgbooks.toml")
    for path in sorted((late_void / "ledger" / "summary").iterdir()):
        text = path.read_text(encoding="utf-8")
        found = Summary.read(config, text)
        assert found is not None and found.text(path.stem) == text


@pytest.mark.parametrize(("name", "start", "end"), [
    ("activity", D("2026-04-01"), D("2026-04-30")),  # K1 changes in the period
    ("activity", D("2026-05-01"), D("2026-05-31")),  # K1 is incomplete in the summary
    ("customers", None, D("2026-03-31")),
    ("customers", None, D("2026-05-31")),
    ("invoices", None, D("2026-04-30")),
])
def test_a_late_change_to_a_package_left_out_reads_the_whole_history(
    late_void: Path, name: str, start: datetime.date | None, end: datetime.date
) -> None:
    build_ok(late_void, as_of=D("2026-05-31"))
    part, fast, whole = _fast_and_whole(late_void, name, start, end)
    assert fast == whole
    if end >= D("2026-04-01"):
        assert "2026-01.beancount" in _months_read(part), "January was read again"
    else:
        assert _months_read(part) == {"summary/2026-02.beancount", "2026-03.beancount"}
    if name == "customers" and end == D("2026-05-31"):
        k1 = next(row for row in fast["rows"] if row["instance"] == "K1")
        assert (k1["used"], k1["available"]) == (2, 1), "the void gave a haircut back"


def test_a_history_report_reads_its_month_and_the_summary_before() -> None:
    part, fast, whole = _fast_and_whole(DEMO, "customers", None, D("2026-04-30"))
    assert fast == whole
    assert _months_read(part) == {"summary/2026-03.beancount", "2026-04.beancount"}
    part, fast, whole = _fast_and_whole(DEMO, "activity", D("2026-03-10"), D("2026-04-03"))
    assert fast == whole
    assert _months_read(part) == {"summary/2026-02.beancount", "2026-03.beancount",
                                  "2026-04.beancount"}


def test_an_edited_summary_is_not_trusted(tmp_path: Path) -> None:
    books = tmp_path / "demo"
    shutil.copytree(DEMO, books, ignore=shutil.ignore_patterns(".*"))
    summary = books / "ledger" / "summary" / "2026-03.beancount"
    text = summary.read_text(encoding="utf-8")
    edited = re.sub(r"Deferred +-(\d+)\.", lambda m: f"Deferred -{int(m[1]) + 1}.", text, count=1)
    assert edited != text
    summary.write_text(edited, encoding="utf-8")
    assert read_files(books / "main.beancount") is not None, "the month files are as built"
    part, fast, whole = _fast_and_whole(books, "customers", None, D("2026-04-30"))
    assert part.span is None, "the whole ledger was loaded"
    assert fast == whole
    summary.unlink()
    part, fast, whole = _fast_and_whole(books, "activity", D("2026-04-01"), D("2026-04-30"))
    assert part.span is None and fast == whole


def test_names_with_quotes_and_backslashes_read_back(tmp_path: Path) -> None:
    odd = 'Ann "Nan" O\\Brien'
    books = write_books(tmp_path / "books", config_text(CATALOG, redeem_open=True), [
        {**sale("s1", 2, "K1"), "customer": odd, "staff": 'Bo "B"'},
        pay("p1", 2, "K1", "50.00"), _at(redeem("r1", 3, "K1"), 2),
    ])
    build_ok(books, as_of=D("2026-02-28"))
    part, fast, whole = _fast_and_whole(books, "customers", None, D("2026-02-28"))
    assert fast == whole and fast["rows"][0]["customer"] == odd
    assert _months_read(part) == {"summary/2026-01.beancount", "2026-02.beancount"}
    part, fast, whole = _fast_and_whole(books, "invoices", None, D("2026-02-28"))
    assert fast == whole and fast["rows"][0]["customer"] == odd
    part, fast, whole = _fast_and_whole(books, "activity", D("2026-02-01"), D("2026-02-28"))
    assert fast == whole and fast["rows"][0]["staff"] == 'Bo "B"'


@pytest.mark.slow
def test_history_reports_on_generated_books_with_voids(tmp_path: Path) -> None:
    from pkgbooks.build import build
    from pkgbooks.generate import generate

    books = tmp_path / "books"
    generate(books, events=4200, per_day=10)  # every event type, voids included
    assert not build(books).problems
    config = load_config(books / "pkgbooks.toml")
    for path in sorted((books / "ledger" / "summary").iterdir()):
        found = Summary.read(config, path.read_bytes())
        assert found is not None and found.complete, path.name  # voids are of their own day
    for name, start, end in [
        ("activity", D("2025-06-01"), D("2025-06-30")),
        ("activity", D("2025-11-20"), D("2026-01-10")),
        ("customers", None, D("2025-09-30")),
        ("customers", None, D("2026-01-15")),
        ("invoices", None, D("2025-12-31")),
        ("invoices", None, D("2026-02-01")),
    ]:
        part, fast, whole = _fast_and_whole(books, name, start, end)
        assert fast == whole, (name, start, end)
        month = (start or end).strftime("%Y-%m")
        assert min(_months_read(part)) >= f"{month}.beancount"[:7], "the summary was used"


@pytest.mark.parametrize("cores", [1, 2])
def test_the_build_writes_the_same_summaries_with_a_helper_or_without(
    monkeypatch: pytest.MonkeyPatch, cores: int
) -> None:
    from pkgbooks.reports import summary

    monkeypatch.setattr(summary.os, "cpu_count", lambda: cores)
    config = load_config(DEMO / "pkgbooks.toml")
    digests: dict[str, str] = {}
    summaries = summary.Summaries(config, digests)
    for path in sorted((DEMO / "ledger").glob("20*.beancount")):
        summaries.take(path.name, path.read_text(encoding="utf-8"))
    assert (summaries._pipe is not None) == (cores > 1)
    made = dict(summaries.made())
    on_disk = {f"summary/{p.name}": p.read_text(encoding="utf-8")
               for p in sorted((DEMO / "ledger" / "summary").iterdir())}
    assert made == on_disk and set(digests) == set(on_disk)
    listed = (DEMO / "ledger" / "accounts.beancount").read_text(encoding="utf-8")
    for name, digest in digests.items():
        assert f"; sha256 {name} {digest}\n" in listed


def test_month_texts_sent_in_pieces_make_the_summaries_of_the_whole_texts(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """The helper gets each month text in pieces (never pickled whole) and sends the
    summaries back one at a time: the same summaries as made here from the whole texts,
    a piece boundary inside a character of more than one byte included."""
    from pkgbooks.reports import summary

    monkeypatch.setattr(summary.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(summary, "PIECE", 997)  # pieces end anywhere, mid-character too
    config = load_config(DEMO / "pkgbooks.toml")
    texts = [(path.name, path.read_text(encoding="utf-8").replace("Moreau", "Moreau Zoë Ünal"))
             for path in sorted((DEMO / "ledger").glob("20*.beancount"))]
    assert any(len(text) > 10 * 997 for _name, text in texts) and "ë" in texts[-1][1]
    here = Summary(config)
    expected = [here.month(name, text) for name, text in texts]
    assert "Zoë Ünal" in expected[-1][1]
    digests: dict[str, str] = {}
    summaries = summary.Summaries(config, digests)
    for name, text in texts:
        summaries.take(name, text)
    assert summaries._pipe is not None, "made by the helper"
    assert list(summaries.made()) == expected
    assert sorted(digests) == sorted(name for name, _text in expected)


@pytest.mark.parametrize("cores", [1, 2])
@pytest.mark.parametrize("with_summary", [True, False])
def test_an_incremental_build_goes_on_with_the_summaries_a_full_build_makes(
    monkeypatch: pytest.MonkeyPatch, cores: int, with_summary: bool
) -> None:
    """Going on from April: the helper reads the March summary back (or, without it, the
    months before April again) while the build reads its state, then takes April."""
    from pkgbooks.reports import summary

    monkeypatch.setattr(summary.os, "cpu_count", lambda: cores)
    config = load_config(DEMO / "pkgbooks.toml")
    ledger = DEMO / "ledger"
    kept = {p.name: p for p in sorted(ledger.glob("2026-0[1-3].beancount"))}
    if with_summary:
        kept.update({f"summary/{p.name}": p
                     for p in sorted((ledger / "summary").glob("2026-0[1-3].beancount"))})
    summaries = summary.Summaries(config, {})
    summaries.going_on("2026-04", kept, {})
    assert (summaries._pipe is not None) == (cores > 1)
    summaries.take("2026-04.beancount", (ledger / "2026-04.beancount").read_text("utf-8"))
    made = dict(summaries.made())
    assert made == {"summary/2026-04.beancount":
                    (ledger / "summary" / "2026-04.beancount").read_text("utf-8")}


@pytest.mark.parametrize("cores", [1, 2])
def test_summaries_that_went_on_from_a_cut_start_over_when_the_build_is_a_full_one(
    monkeypatch: pytest.MonkeyPatch, cores: int
) -> None:
    """The build tells the summaries the cut before it reads the state back; if that state
    then fails its checks, the build is a full one and so are its summaries: none of the
    kept ones listed, all made from the first month."""
    from pkgbooks.reports import summary

    monkeypatch.setattr(summary.os, "cpu_count", lambda: cores)
    config = load_config(DEMO / "pkgbooks.toml")
    ledger = DEMO / "ledger"
    months = sorted(ledger.glob("2026-0[1-4].beancount"))
    kept = {p.name: p for p in months[:3]}
    kept.update({f"summary/{p.name}": ledger / "summary" / p.name for p in months[:3]})
    digests: dict[str, str] = {"2026-01.beancount": "listed by the build"}
    summaries = summary.Summaries(config, digests)
    summaries.going_on("2026-04", kept, {name: "recorded" for name in kept})
    assert sorted(digests) == sorted(["2026-01.beancount", *(n for n in kept if "/" in n)])
    summaries.abandon()
    assert digests == {"2026-01.beancount": "listed by the build"}
    assert summaries._pipe is None
    summaries.begin()
    assert (summaries._pipe is not None) == (cores > 1)
    for path in months:
        summaries.take(path.name, path.read_text("utf-8"))
    made = dict(summaries.made())
    assert made == {f"summary/{p.name}": (ledger / "summary" / p.name).read_text("utf-8")
                    for p in months}


def test_a_summary_helper_that_ends_early_stops_the_build_and_keeps_the_old_books(
    monkeypatch: pytest.MonkeyPatch, late_void: Path
) -> None:
    # The helper (forked) ends without its summaries, as if killed: the build writes
    # nothing, and the command says so in one line (an OSError), never a traceback.
    import os

    from click.testing import CliRunner

    from pkgbooks.cli import main
    from pkgbooks.reports import summary

    build_ok(late_void)
    before = {p: p.read_bytes() for p in sorted((late_void / "ledger").rglob("*"))
              if p.is_file()}
    monkeypatch.setattr(summary.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(summary.Summary, "month", lambda *_: os._exit(0))
    with (late_void / "events.jsonl").open("a", encoding="utf-8") as events:
        events.write(json.dumps(_at(redeem("r9", 9, "K2"), 4)) + "\n")
    result = CliRunner().invoke(main, ["build", str(late_void), "--jobs", "1", "--quiet"])
    assert result.exit_code == 1
    assert "the month-end summaries could not be made" in result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    after = {p: p.read_bytes() for p in sorted((late_void / "ledger").rglob("*"))
             if p.is_file()}
    assert after == before
