"""SPEC 2a closed periods, SPEC 7 refusals explained and `--keep-going` (pkgbooks/periods.py).

Each test builds real books twice: once to put a ledger on disk, then again
after a change to the events or to pkgbooks.toml, and checks what the second
build refuses, writes, or says.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from beancount.core import data
from books import (
    bal,
    build_ok,
    config_text,
    load,
    pay,
    redeem,
    sale,
    txns,
    write_books,
)
from click.testing import CliRunner

from pkgbooks.build import build
from pkgbooks.cli import main
from pkgbooks.periods import config_differences, month_change
from pkgbooks.validate import validate

D = Decimal

CATALOG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
tax_rate = "0.10"
initial_recognition = "5.00"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]
"""


def locked(through: str, extra: str = "") -> str:
    return f"locked_through = {through}\n" + config_text(CATALOG + extra)


def add_events(books: Path, *events: dict[str, Any], name: str = "late.jsonl") -> Path:
    path = books / "events" / name
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def problems_of(books: Path) -> list[str]:
    """What a build refuses, as printed: held to the ledger on disk, as `pkgbooks build` is."""
    return [str(p) for p in build(books).problems]


def ledger_files(books: Path) -> dict[str, bytes]:
    return {p.relative_to(books / "ledger").as_posix(): p.read_bytes()
            for p in sorted((books / "ledger").rglob("*")) if p.is_file()}


JANUARY = [sale("s1", 5, "K1"), pay("p1", 5, "K1", "50.00")]
FEBRUARY = [{**pay("p2", 1, "K1", "50.00"), "date": "2026-02-03"}]


# --- a locked period ------------------------------------------------------------------------


def test_the_first_build_with_a_lock_proceeds(tmp_path: Path) -> None:
    books = write_books(tmp_path / "b", locked("2026-01-31"), JANUARY + FEBRUARY)
    build_ok(books)
    assert bal(books, "Assets:Loc11:Cash:Card") == D("100.00")


def test_a_backdated_event_in_a_locked_period_is_refused(tmp_path: Path) -> None:
    """A payment dated 01-20 arrives after January was closed: refused, nothing written."""
    books = write_books(tmp_path / "b", locked("2026-01-31"), JANUARY + FEBRUARY)
    build_ok(books)
    before = ledger_files(books)
    late = add_events(books, pay("p9", 20, "K1", "10.00"))
    (line,) = problems_of(books)
    assert line == (f"{late}:1: event p9: period closed through 2026-01-31: this event, dated "
                    "2026-01-20, is not in the closed books; enter the correction after "
                    "2026-01-31 (a void and new events)")
    assert ledger_files(books) == before


def test_an_event_after_the_lock_is_accepted(tmp_path: Path) -> None:
    books = write_books(tmp_path / "b", locked("2026-01-31"), JANUARY)
    build_ok(books)
    add_events(books, *FEBRUARY)
    build_ok(books)
    assert bal(books, "Assets:Loc11:Cash:Card") == D("100.00")


def test_a_catalog_edit_that_would_change_a_locked_month_is_refused(tmp_path: Path) -> None:
    """K1 paid 50.00 in January on 110.00 (tax 10%): tax 4.55, recognition 5.00, deposits 40.45.

    Raising cuts-3's initial recognition to 10.00 would make January's payment
    recognise 10.00 and leave 35.45 in deposits: Income +5.00 of credit,
    Deposits 5.00 less. January is closed, so the build is refused, naming the
    month, the accounts and amounts, the pkgbooks.toml key and the event.
    """
    books = write_books(tmp_path / "b", locked("2026-01-31"), JANUARY + FEBRUARY)
    build_ok(books)
    before = ledger_files(books)
    config = books / "pkgbooks.toml"
    config.write_text(config.read_text().replace('initial_recognition = "5.00"',
                                                 'initial_recognition = "10.00"'))
    result = build(books)
    assert result.closed_period
    (line,) = [str(p) for p in result.closed_period]
    assert line.startswith(f"{config}: locked_through: '2026-01-31': this build would change "
                           "the closed period: 2026-01: ")
    assert "Income:Loc11:Packages:InitialRecognition -5.00" in line
    assert "Liabilities:Loc11:Packages:Deposits +5.00" in line
    assert 'packages.cuts-3.initial_recognition: "5.00" -> "10.00"' in line
    assert "p1 (" in line
    assert ledger_files(books) == before


def test_a_dated_change_after_the_lock_is_accepted(tmp_path: Path) -> None:
    """The same edit as a change from 02-01 leaves January as it was: built."""
    books = write_books(tmp_path / "b", locked("2026-01-31"), JANUARY)
    build_ok(books)
    config = books / "pkgbooks.toml"
    config.write_text(config.read_text() + """
[[packages.cuts-3.changes]]
from = 2026-02-01
initial_recognition = "10.00"
""")
    add_events(books, {**sale("s2", 1, "K2"), "date": "2026-02-02"},
               {**pay("p2", 1, "K2", "50.00"), "date": "2026-02-02"})
    build_ok(books)
    # K1 (January) recognised 5.00 and keeps it; K2, sold in February, recognises 10.00.
    assert bal(books, "Income:Loc11:Packages:InitialRecognition") == D("-15.00")


def test_cli_refuses_a_locked_change_and_keeps_the_books(tmp_path: Path) -> None:
    books = write_books(tmp_path / "b", locked("2026-01-31"), JANUARY)
    build_ok(books)
    config = books / "pkgbooks.toml"
    config.write_text(config.read_text().replace('tax_rate = "0.10"', 'tax_rate = "0.20"'))
    run = CliRunner().invoke(main, ["build", str(books)])
    assert run.exit_code == 1
    assert "Liabilities:Loc11:SalesTax" in run.stderr
    assert "the books are closed for that period; nothing was written" in run.stderr


# --- without a lock: a rewritten month is said ---------------------------------------------


def test_a_rebuild_that_changes_a_month_on_disk_says_so(tmp_path: Path) -> None:
    """A 10.00 card payment dated 01-20 is added after January and February were built."""
    books = write_books(tmp_path / "b", config_text(CATALOG), JANUARY + FEBRUARY)
    build_ok(books)
    late = add_events(books, pay("p9", 20, "K1", "10.00"))
    run = CliRunner().invoke(main, ["build", str(books)])
    assert run.exit_code == 0, run.output
    said = [line for line in run.stderr.splitlines() if "month already on disk" in line]
    # January: 10.00 of which tax 10/110 -> 0.91 and net 9.09 into deposits.
    # February: the invoice is now paid in full by p2, so its deposits move to deferred.
    assert [line.split(": ")[2] for line in said] == ["2026-01", "2026-02"]
    said_february = said[1]
    said = said[0]
    assert "2026-01: Assets:Loc11:Cash:Card +10.00" in said
    assert "Liabilities:Loc11:Packages:Deposits -9.09" in said
    assert "Liabilities:Loc11:SalesTax -0.91" in said
    assert f"p9 ({late}:1, added)" in said
    # Before: p2's 50.00 was tax 4.55 and deposits 45.45. Now it closes the invoice: it
    # takes the tax left (10.00 - 4.55 - 0.91 = 4.54), its net 45.46 goes to deferred,
    # and the deposits of 40.45 + 9.09 = 49.54 move to deferred: -95.00 in all.
    assert ("2026-02: Liabilities:Loc11:Packages:Deferred -95.00, "
            "Liabilities:Loc11:Packages:Deposits +94.99, Liabilities:Loc11:SalesTax +0.01;"
            ) in said_february


def test_new_events_after_the_books_date_change_nothing_on_disk(tmp_path: Path) -> None:
    books = write_books(tmp_path / "b", config_text(CATALOG), JANUARY)
    build_ok(books)
    add_events(books, *FEBRUARY)
    run = CliRunner().invoke(main, ["build", str(books)])
    assert run.exit_code == 0 and "month already on disk" not in run.stderr


def test_a_rebuild_of_the_same_inputs_says_nothing(tmp_path: Path) -> None:
    books = write_books(tmp_path / "b", config_text(CATALOG), JANUARY + FEBRUARY)
    build_ok(books)
    run = CliRunner().invoke(main, ["build", str(books)])
    assert run.exit_code == 0 and run.stderr == ""


# --- accepted before, refused now (SPEC 7) -------------------------------------------------


def test_an_event_accepted_before_and_refused_now_names_the_added_events(tmp_path: Path) -> None:
    """r2 took the third haircut on 01-20. A backdated r0 on 01-08 uses it first: r2 is
    refused now, and the refusal says the previous build accepted it and names r0."""
    books = write_books(tmp_path / "b", config_text(CATALOG), [
        sale("s1", 2, "K1"), pay("p1", 2, "K1", "110.00"),
        redeem("r1", 10, "K1", 2), redeem("r2", 20, "K1"),
    ])
    build_ok(books)
    late = add_events(books, redeem("r0", 8, "K1"), {**sale("s9", 9, "K9"), "customer": "x"})
    (line,) = problems_of(books)
    assert line.startswith(f"{books / 'events' / 'events.jsonl'}:4: event r2: ")
    assert "the previous build accepted this event" in line
    assert f"events added since, dated on or before it: {late}:1 (r0, 2026-01-08)" in line
    assert "s9" not in line  # about another package: not named when one about K1 is


# --- --keep-going ----------------------------------------------------------------------------


def test_keep_going_sets_refused_events_aside_and_the_next_build_tries_them_again(
    tmp_path: Path,
) -> None:
    books = write_books(tmp_path / "b", config_text(CATALOG), [
        sale("s1", 2, "K1"), pay("p1", 2, "K1", "95.00"),
        pay("p2", 3, "NOPE", "10.00"),
        {**pay("p3", 4, "K1", "5.00"), "method": "cheque"},
    ])
    runner = CliRunner()
    run = runner.invoke(main, ["build", "--keep-going", str(books)])
    assert run.exit_code == 3, run.output
    events = books / "events" / "events.jsonl"
    assert f"set aside: {events}:3: event p2: " in run.stderr
    assert f"set aside: {events}:4: event p3: method: " in run.stderr
    assert "2 event(s) set aside" in run.stderr
    assert bal(books, "Assets:Loc11:Cash:Card") == D("95.00")  # the rest is booked
    refused = [e for e in load(books) if isinstance(e, data.Custom)
               and e.type == "pkgbooks-refused"]
    assert [(e.date.isoformat(), e.values[0].value, e.values[1].value) for e in refused] == [
        ("2026-01-03", "p2", "events/events.jsonl:3"),
        # p3 could not be read as an event: it is dated on the books' as-of date.
        ("2026-01-03", "p3", "events/events.jsonl:4"),
    ]
    assert "INV-NOPE" in refused[0].values[2].value

    report = validate(books)
    assert report.errors == []
    assert any("2 event(s) set aside" in note for note in report.notes)
    run = runner.invoke(main, ["validate", str(books)])
    assert run.exit_code == 0 and "2 event(s) set aside" in run.stderr
    run = runner.invoke(main, ["report", "liability", str(books), "--from", "2026-01-01",
                               "--to", "2026-01-03"])  # the books run to 2026-01-03 (SPEC 5)
    assert run.exit_code == 0 and "2 event(s) set aside" in run.stderr

    # The point-of-sale line is corrected: the next build takes both in and lists nothing.
    events.write_text(events.read_text().replace("INV-NOPE", "INV-K1")
                      .replace("cheque", "Cash"))
    run = runner.invoke(main, ["build", str(books)])
    assert run.exit_code == 0, run.output
    assert not (books / "ledger" / "refused.beancount").exists()
    assert {t.meta["event"] for t in txns(books, "payment")} == {"p1", "p2", "p3"}


def test_keep_going_does_not_override_a_closed_period(tmp_path: Path) -> None:
    books = write_books(tmp_path / "b", locked("2026-01-31"), JANUARY)
    build_ok(books)
    config = books / "pkgbooks.toml"
    config.write_text(config.read_text().replace('tax_rate = "0.10"', 'tax_rate = "0.20"'))
    run = CliRunner().invoke(main, ["build", "--keep-going", str(books)])
    assert run.exit_code == 1


def test_without_refusals_keep_going_is_a_plain_build(tmp_path: Path) -> None:
    books = write_books(tmp_path / "b", config_text(CATALOG), JANUARY)
    run = CliRunner().invoke(main, ["build", "--keep-going", str(books)])
    assert run.exit_code == 0
    assert not (books / "ledger" / "refused.beancount").exists()


# --- the comparison itself ------------------------------------------------------------------

OLD = """; T: 2026-01, generated by pkgbooks

2026-01-05 * "Payment" ^K1
  event: "p1"
  kind: "payment"
  Assets:Loc11:Cash:Card      50.00 USD
  Liabilities:Loc11:Packages:Deposits     -50.00 USD

2026-01-20 * "Payment" ^K1
  event: "p2"
  kind: "payment"
  Assets:Loc11:Cash:Card      10.00 USD
  Liabilities:Loc11:Packages:Deposits     -10.00 USD

2026-02-01 balance Liabilities:Loc11:Packages:Deposits     -60.00 USD
"""


def test_month_change_counts_only_transactions_up_to_the_date() -> None:
    new = OLD.replace("10.00 USD", "12.00 USD").replace("-60.00", "-62.00")
    change = month_change("2026-01", OLD, new, datetime.date(2026, 1, 31))
    assert change is not None
    assert change.accounts == {"Assets:Loc11:Cash:Card": D("2.00"),
                               "Liabilities:Loc11:Packages:Deposits": D("-2.00")}
    assert change.events == {"p2"}
    # Up to 01-19 nothing changes; a different balance line or header alone is no change.
    assert month_change("2026-01", OLD, new, datetime.date(2026, 1, 19)) is None
    assert month_change("2026-01", OLD, OLD.replace("; T:", "; U:"),
                        datetime.date(2026, 1, 31)) is None


def test_config_differences_name_keys_and_whole_changes() -> None:
    old = {"title": "A", "packages": {"p": {"price": "1.00", "items": [{"item": "x"}]}}}
    new = {"title": "B", "packages": {"p": {"price": "2.00", "items": [{"item": "x"}],
                                            "changes": [{"from": "2026-07-01",
                                                         "price": "3.00"}]}}}
    assert config_differences(old, new) == [
        "packages.p.changes[0]: added (from \"2026-07-01\")",
        'packages.p.price: "1.00" -> "2.00"',
    ]
