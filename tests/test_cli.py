"""SPEC 7 / 7a: `pkgbooks build` and `pkgbooks validate` from the command line: counts,
exit codes, messages without tracebacks, atomic and byte-identical builds, hand edits caught."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from books import config_text, d, write_books, write_events
from click.testing import CliRunner, Result

from pkgbooks.cli import main

CATALOG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
tax_rate = "0.10"
validity_days = 20
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]
"""


def events() -> list[dict[str, Any]]:
    return [
        {"type": "sale", "id": "s1", "date": d(1), "location": "loc-11", "invoice": "I1",
         "customer": "cust-1", "lines": [{"package": "cuts-3", "instance": "K1"},
                                         {"product": "Shampoo", "amount": "20.00",
                                          "tax": "2.00"}]},
        {"type": "payment", "id": "p1", "date": d(2), "location": "loc-11", "invoice": "I1",
         "amount": "132.00", "method": "cash"},
        {"type": "redemption", "id": "r1", "date": d(3), "location": "loc-11",
         "instance": "K1", "item": "haircut"},
        {"type": "payment", "id": "p1", "date": d(2), "location": "loc-11", "invoice": "I1",
         "amount": "132.00", "method": "cash"},  # read twice: skipped
        {"type": "sale", "id": "s2", "date": d(5, 2), "location": "loc-11", "invoice": "I2",
         "customer": "cust-2", "lines": [{"package": "cuts-3", "instance": "K2"}]},
    ]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def snapshot(books: Path) -> dict[str, bytes]:
    """Every file of the books directory except the inputs, by relative path."""
    return {
        str(p.relative_to(books)): p.read_bytes()
        for p in sorted(books.rglob("*"))
        if p.is_file() and "events" not in p.relative_to(books).parts
        and p.name != "pkgbooks.toml"
    }


def no_leftovers(books: Path) -> None:
    names = [str(p.relative_to(books)) for p in books.rglob("*")]
    assert not [n for n in names if n.endswith(".part") or ".tmp" in n or ".old" in n], names


@pytest.fixture
def books(tmp_path: Path) -> Path:
    return write_books(tmp_path / "books", config_text(CATALOG), events())


def test_build_prints_its_counts(books: Path) -> None:
    result = run("build", str(books))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert str(books / "main.beancount") in out
    assert "2026-02-05" in out  # books as of the latest event
    counts = {name: int(n) for n, name in re.findall(
        r"(\d+) (events read|applied|duplicates|rejected|after the as-of date|automatic "
        r"expiries|transactions)", out)}
    # Transactions: s1 (one per line: 2), p1, r1, the automatic expiry of K1 on
    # 2026-01-21, s2 = 6 (p1 pays the invoice at once: no Deposits, no close).
    assert counts == {"events read": 5, "applied": 4, "duplicates": 1, "rejected": 0,
                      "after the as-of date": 0, "automatic expiries": 1,
                      "transactions": 6}
    assert result.stderr == ""
    no_leftovers(books)


def test_build_transaction_count_matches_the_ledger(books: Path) -> None:
    result = run("build", str(books))
    assert result.exit_code == 0
    ledger = "".join(p.read_text() for p in sorted((books / "ledger").glob("*.beancount")))
    in_ledger = len(re.findall(r"^\d{4}-\d{2}-\d{2} \* ", ledger, flags=re.M))
    (n,) = re.findall(r"(\d+) transactions", result.stdout)
    assert int(n) == in_ledger


def test_build_with_as_of_leaves_later_events_out_and_writes_every_month(books: Path) -> None:
    result = run("build", str(books), "--as-of", "2026-03-15")
    assert result.exit_code == 0, result.output
    months = sorted(p.name for p in (books / "ledger").glob("20*.beancount"))
    assert months == ["2026-01.beancount", "2026-02.beancount", "2026-03.beancount"]
    march = (books / "ledger" / "2026-03.beancount").read_text()
    assert "2026-04-01 balance Liabilities:Loc11:Packages:Deferred" in march
    result = run("build", str(books), "--as-of", "2026-01-10")
    assert result.exit_code == 0
    assert re.search(r"\b1 after the as-of date", result.stdout)
    assert sorted(p.name for p in (books / "ledger").glob("20*.beancount")) == [
        "2026-01.beancount"]


def test_bad_as_of_date_is_a_usage_error(books: Path) -> None:
    result = run("build", str(books), "--as-of", "2026-02-30")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "2026-02-30" in result.stderr


def test_rebuild_is_byte_identical(books: Path, tmp_path: Path) -> None:
    assert run("build", str(books)).exit_code == 0
    first = snapshot(books)
    assert run("build", str(books)).exit_code == 0
    assert snapshot(books) == first
    # The same inputs in another directory give the same files too.
    other = tmp_path / "other"
    shutil.copytree(books / "events", other / "events")
    shutil.copy(books / "pkgbooks.toml", other / "pkgbooks.toml")
    assert run("build", str(other)).exit_code == 0
    assert snapshot(other) == first
    no_leftovers(books)


def test_failed_build_leaves_the_previous_ledger_byte_identical(books: Path) -> None:
    assert run("build", str(books)).exit_code == 0
    before = snapshot(books)
    with (books / "events" / "later.jsonl").open("w") as f:
        f.write(json.dumps({"type": "payment", "id": "p9", "date": d(10, 2),
                            "location": "loc-11", "invoice": "I2", "amount": "999.00",
                            "method": "card"}) + "\n")
        f.write(json.dumps({"type": "redemption", "id": "r9", "date": d(11, 2),
                            "location": "loc-11", "instance": "K9",
                            "item": "haircut"}) + "\n")
    result = run("build", str(books))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    err = result.stderr
    later = books / "events" / "later.jsonl"
    assert f"{later}:1: event p9: " in err and "999.00" in err
    assert f"{later}:2: event r9: " in err and "K9" in err
    assert result.stdout == ""
    assert snapshot(books) == before
    no_leftovers(books)


def test_failed_build_by_config_leaves_the_previous_ledger(books: Path) -> None:
    assert run("build", str(books)).exit_code == 0
    before = snapshot(books)
    toml = books / "pkgbooks.toml"
    toml.write_text(toml.read_text().replace('tax_rate = "0.10"', 'tax_rate = "10"'))
    result = run("build", str(books))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{toml}: packages.cuts-3.tax_rate: '10': " in result.stderr
    assert snapshot(books) == before


def test_validate_passes_on_fresh_books(books: Path) -> None:
    assert run("build", str(books)).exit_code == 0
    result = run("validate", str(books))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.strip()


def test_validate_before_any_build_fails(books: Path) -> None:
    result = run("validate", str(books))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "main.beancount" in result.stderr


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, (old, text)
    path.write_text(text.replace(old, new))


def test_validate_catches_a_hand_edit_that_still_balances(books: Path) -> None:
    # The payment: Cash 132.00, SalesTax -12.00, Products -20.00, Deferred -100.00.
    # Move 1.00 from cash to products: the transaction still balances, Beancount is happy,
    # no balance assertion covers these accounts; only the replay can tell.
    assert run("build", str(books)).exit_code == 0
    month = books / "ledger" / "2026-01.beancount"
    _edit(month, "132.00 USD", "131.00 USD")
    _edit(month, "-20.00 USD", "-19.00 USD")
    from beancount import loader
    _entries, errors, _ = loader.load_file(str(books / "main.beancount"))
    assert errors == []
    result = run("validate", str(books))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    err = result.stderr
    assert str(month) in err or "Income:Loc11:Products" in err
    assert "Income:Loc11:Products" in err and "19.00" in err and "20.00" in err
    assert "Assets:Loc11:Cash:Cash" in err and "131.00" in err and "132.00" in err


def test_validate_catches_a_cash_and_liability_edit(books: Path) -> None:
    # Books as of 2026-01-10 (before K1 expires): the payment is Cash 132.00, SalesTax -12.00,
    # Products -20.00, Deferred -100.00; r1 takes 33.34, so January ends at -66.66.
    # Cash 132.00 -> 122.00 and Deferred -100.00 -> -90.00 together, with the month-end
    # balance assertion edited to match (-56.66): it balances and Beancount passes.
    assert run("build", str(books), "--as-of", "2026-01-10").exit_code == 0
    month = books / "ledger" / "2026-01.beancount"
    _edit(month, "132.00 USD", "122.00 USD")
    _edit(month, "-100.00 USD", "-90.00 USD")
    _edit(month, "-66.66 USD", "-56.66 USD")
    from beancount import loader
    _entries, errors, _ = loader.load_file(str(books / "main.beancount"))
    assert errors == [], errors
    result = run("validate", str(books))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    err = result.stderr
    assert str(month) in err
    assert "Liabilities:Loc11:Packages:Deferred" in err
    assert "-56.66" in err and "-66.66" in err
    assert "Assets:Loc11:Cash:Cash" in err and "122.00" in err and "132.00" in err


def test_validate_catches_a_deleted_transaction(books: Path) -> None:
    assert run("build", str(books)).exit_code == 0
    month = books / "ledger" / "2026-02.beancount"
    text = month.read_text()
    start = text.index("2026-02-05 *")
    end = text.index("\n\n", start) + 2
    month.write_text(text[:start] + text[end:])
    result = run("validate", str(books))
    assert result.exit_code == 1
    assert str(month) in result.stderr


def test_the_installed_command_runs(books: Path) -> None:
    exe = Path(sys.executable).parent / "pkgbooks"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "pkgbooks.cli"]
    done = subprocess.run([*command, "build", str(books)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "events read" in done.stdout
    done = subprocess.run([*command, "validate", str(books)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    (books / "events" / "bad.jsonl").write_text('{"type": "payment", "id": "x"\n')
    done = subprocess.run([*command, "build", str(books)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"{books / 'events' / 'bad.jsonl'}:1: " in done.stderr
    # The build command ends its process at once when done: its exit status and every line
    # it wrote come through as they would otherwise.
    done = subprocess.run([*command, "build", "--keep-going", str(books)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert "events read" in done.stdout and "1 event(s) set aside" in done.stderr


MIXED = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
tax_rate = "0.10"
validity_days = 10
initial_recognition = "5%"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[reconciliation]
start = 2026-01-01
rates = { service = "0.05", product = "0.30", class = "0.20" }
"""


def test_validate_passes_on_books_with_every_kind_of_event(tmp_path: Path) -> None:
    def sale(eid: str, day: int, inst: str, loc: str = "loc-11") -> dict[str, Any]:
        return {"type": "sale", "id": eid, "date": d(day), "location": loc,
                "invoice": f"I-{inst}", "customer": "cust-1", "staff": "amy",
                "lines": [{"package": "cuts-3", "instance": inst},
                          {"product": "Shampoo", "amount": "20.00", "tax": "2.00"}]}

    def pay(eid: str, day: int, inst: str, amount: str, loc: str = "loc-11") -> dict[str, Any]:
        return {"type": "payment", "id": eid, "date": d(day), "location": loc,
                "invoice": f"I-{inst}", "amount": amount, "method": "card"}

    def redeem(eid: str, day: int, inst: str, loc: str = "loc-11") -> dict[str, Any]:
        return {"type": "redemption", "id": eid, "date": d(day), "location": loc,
                "instance": inst, "item": "haircut"}

    books = write_books(tmp_path / "books", config_text(MIXED, redeem_open=True), [
        sale("s1", 1, "K1"), pay("p1", 1, "K1", "50.00", loc="loc-12"),
        pay("p2", 3, "K1", "82.00", loc="loc-21"), redeem("r1", 3, "K1", loc="loc-21"),
        redeem("r2", 4, "K1", loc="loc-21"),
        sale("s2", 1, "K2", loc="loc-21"), pay("p3", 2, "K2", "132.00"),
        {"type": "refund", "id": "f1", "date": d(5), "location": "loc-12", "instance": "K2",
         "amount": "55.00", "method": "cash"},
        sale("s3", 20, "K3"), pay("p4", 20, "K3", "132.00"), redeem("r3", 21, "K3", loc="loc-12"),
        {"type": "void", "id": "v1", "date": d(22), "target": "r3", "reason": "wrong client"},
    ])
    result = run("build", str(books), "--as-of", "2026-03-31")
    assert result.exit_code == 0, result.output
    assert re.search(r"\b2 automatic expiries", result.stdout)  # K1 (one unit left), K3
    result = run("validate", str(books))
    assert result.exit_code == 0, result.output


def test_an_unexpected_system_error_is_one_line(books: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import pkgbooks.validate

    def failing(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.EIO, "Input/output error", str(books / "ledger"))

    monkeypatch.setattr(pkgbooks.validate, "validate", failing)  # as `validate_cmd` imports it
    result = CliRunner().invoke(main, ["validate", str(books)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output == f"pkgbooks: {books / 'ledger'}: Input/output error\n"


# What a build never needs: it writes the ledger, the reports' `query` directives and the
# summaries as text, so neither Beancount nor the query engine, Fava or the exporters.
NOT_FOR_A_BUILD = ("beancount", "beanquery", "tatsu", "fava", "flask", "jinja2",
                   "pkgbooks.exporters.run", "pkgbooks.reports.books", "pkgbooks.validate",
                   "pkgbooks.generate")


def _build_in_a_new_process(books: Path, *options: str) -> tuple[str, list[str]]:
    """`pkgbooks build BOOKS` in a fresh interpreter: its summary line, and the modules of
    NOT_FOR_A_BUILD (or in them) that it imported."""
    script = ("import json, sys\n"
              "from pkgbooks.cli import main\n"
              "try:\n"
              f"    main(['build', '--quiet', *{options!r}, {str(books)!r}])\n"
              "except SystemExit:\n"
              "    pass\n"
              f"unwanted = {NOT_FOR_A_BUILD!r}\n"
              "print(json.dumps(sorted(m for m in sys.modules if m in unwanted\n"
              "                        or m.startswith(tuple(u + '.' for u in unwanted)))))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    *output, imported = done.stdout.splitlines()
    return "\n".join(output), json.loads(imported)


def test_a_build_imports_neither_beancount_nor_beanquery_fava_or_the_exporters(
        books: Path) -> None:
    """Starting Python is a good part of an appended day's build: a full build and an
    incremental one import only what a build uses (docs/performance.md)."""
    output, imported = _build_in_a_new_process(books)
    assert "full build" in output
    assert imported == []
    write_events(books, "zz-day.jsonl", [
        {"type": "sale", "id": "s9", "date": d(7, 2), "location": "loc-11", "invoice": "I9",
         "customer": "cust-3", "lines": [{"package": "cuts-3", "instance": "K9"}]}])
    output, imported = _build_in_a_new_process(books)
    assert "rebuilt from" in output  # the appended day alone, from the checkpoint
    assert imported == []
    assert (books / "ledger" / "queries.beancount").exists()


def test_a_build_with_one_job_loads_neither_the_export_templates_nor_the_generator(
        books: Path) -> None:
    """Starting the command costs its imports: a build needs no Jinja and no generator."""
    output, imported = _build_in_a_new_process(books, "--jobs", "1")
    assert "full build" in output
    assert imported == []


def test_export_offers_every_exporter_and_only_those() -> None:
    """`pkgbooks export` lists its targets without importing the exporters: the same ones."""
    from pkgbooks.exporters import TARGETS
    from pkgbooks.exporters.run import EXPORTERS

    assert tuple(EXPORTERS) == TARGETS
