"""Export files on disk: the 300-row split, nothing written on error, hostile names (SPEC 6)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from books import build_ok, write_books
from click.testing import CliRunner, Result
from export_readback import (
    XERO_HEADER,
    ledger_movements,
    read_iif,
    read_qbo_csv,
    read_xero_csv,
    read_xero_json,
    resolve,
)

from pkgbooks.cli import main
from pkgbooks.exporters.base import csv_field, iif_field

DEMO = Path(__file__).resolve().parents[2] / "ledgers" / "demo"


def export(*args: str) -> Result:
    return CliRunner().invoke(main, ["export", *args])


def test_xero_csv_splits_at_300_rows_between_journals(tmp_path: Path) -> None:
    args = ["xero", str(DEMO), "--from", "2026-01-01", "--to", "2026-05-31", "--group", "day"]
    whole = export(*args)
    assert whole.exit_code == 0
    rows = whole.stdout.splitlines()
    assert rows[0] == ",".join(XERO_HEADER) and len(rows) - 1 > 600  # standard output: one stream

    out = tmp_path / "out.csv"
    result = export(*args, "-o", str(out))
    assert result.exit_code == 0, result.output
    files = sorted(tmp_path.glob("out-*.csv"), key=lambda p: int(p.stem.split("-")[1]))
    assert [p.name for p in files] == [f"out-{i}.csv" for i in range(1, len(files) + 1)]
    assert len(files) >= 3 and not out.exists()
    assert result.stdout.splitlines() == [str(p) for p in files]
    texts = [p.read_text(encoding="utf-8") for p in files]
    narrations: list[set[str]] = []
    for text in texts:
        lines = text.splitlines()
        assert lines[0] == ",".join(XERO_HEADER)
        assert 1 < len(lines) <= 301
        narrations.append({line.rsplit('",', 1)[0] for line in lines[1:]})
    for a, b in zip(narrations, narrations[1:], strict=False):
        assert not a & b, "a journal is split across files"
    assert "".join(t.split("\n", 1)[1] for t in texts) == whole.stdout.split("\n", 1)[1]
    assert read_xero_csv(texts, files=True) == read_xero_csv([whole.stdout])


def test_a_small_export_to_a_file_is_not_numbered(tmp_path: Path) -> None:
    out = tmp_path / "jan.iif"
    result = export("iif", str(DEMO), "--from", "2026-01-01", "--to", "2026-01-31", "-o", str(out))
    assert result.exit_code == 0 and result.stdout == f"{out}\n"
    assert out.read_bytes().startswith(b"!TRNS\tTRNSID\t")
    assert [p.name for p in tmp_path.iterdir()] == ["jan.iif"]


def test_an_unwritable_output_is_one_clear_line(tmp_path: Path) -> None:
    out = tmp_path / "missing" / "jan.csv"
    result = export("qbo", str(DEMO), "--from", "2026-01-01", "--to", "2026-01-31", "-o", str(out))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{out}: cannot write: No such file or directory", "pkgbooks: nothing was exported"]


UNMAPPED_CONFIG = """
title = "Spa"
[locations.loc-11]
name = "Downtown"
account = "Loc11"
entity = "franchise-1"
[locations.loc-21]
name = "Harbor"
account = "Loc21"
entity = "franchise-2"
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"
[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
tax_rate = "0.10"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]
[export.xero.accounts]
"Liabilities:Packages:Deferred" = "851"
"Liabilities:SalesTax" = "820"
[export.qbo.accounts]
"Assets:Cash" = "x"
"""

EVENTS = [
    {"type": "sale", "id": "s1", "date": "2026-01-05", "location": "loc-11", "invoice": "I1",
     "customer": "c1", "lines": [{"package": "cuts-3", "instance": "P1"}]},
    {"type": "payment", "id": "p1", "date": "2026-01-05", "location": "loc-21",
     "invoice": "I1", "amount": "110.00", "method": "card"},
    {"type": "redemption", "id": "r1", "date": "2026-02-03", "location": "loc-11",
     "instance": "P1", "item": "haircut"},
]


def test_an_account_key_that_is_no_account_or_role_is_refused_at_load(tmp_path: Path) -> None:
    books = write_books(tmp_path / "b", UNMAPPED_CONFIG, EVENTS)
    result = CliRunner().invoke(main, ["build", str(books)])
    assert result.exit_code == 1
    assert "pkgbooks.toml: export.qbo.accounts: 'Assets:Cash' is neither a pkgbooks account" \
        in result.output


def test_unmapped_accounts_are_all_listed_and_nothing_is_written(tmp_path: Path) -> None:
    config = UNMAPPED_CONFIG.replace('"Assets:Cash" = "x"\n', "")
    books = write_books(tmp_path / "b", config, EVENTS)
    build_ok(books)
    out = tmp_path / "out.csv"
    out.write_text("the previous export\n", encoding="utf-8")
    result = export("xero", str(books), "--from", "2026-01-01", "--to", "2026-02-03",
                    "-o", str(out))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{books / 'pkgbooks.toml'}: export.xero.accounts: no mapping for "
        "Assets:Loc11:DueFrom:Loc21, "
        "Assets:Loc21:Cash:Card, Income:Loc11:Packages:Redemptions, "
        "Liabilities:Loc21:DueTo:Loc11",
        "pkgbooks: nothing was exported",
    ]
    assert out.read_text(encoding="utf-8") == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "out.csv"]


@pytest.mark.parametrize(("args", "message"), [
    (["--entity", "franchise-9"],
     "--entity franchise-9: no such entity (the books have franchise-1, franchise-2)"),
    (["--to", "2026-06-30"], "--to 2026-06-30: books run to 2026-02-03"),
    (["--format", "json", "--to", "2026-01-31"], "--format json: iif writes iif"),
    (["--from", "2026-02-01", "--to", "2026-01-31"], "--to 2026-01-31 is before --from 2026-02-01"),
])
def test_bad_requests_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    books = write_books(tmp_path / "b", UNMAPPED_CONFIG.replace(
        '[export.qbo.accounts]\n"Assets:Cash" = "x"\n', ""), EVENTS)
    build_ok(books)
    base = ["iif", str(books), "--from", "2026-01-01"]
    if "--to" not in args:
        base += ["--to", "2026-02-03"]
    result = export(*base, *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_qbo_json_needs_account_ids_and_names_every_missing_one(tmp_path: Path) -> None:
    config = UNMAPPED_CONFIG.replace('"Assets:Cash" = "x"', """
"Assets:Cash:Card" = "Card clearing"
"Assets:DueFrom" = { name = "Due from", id = "7" }
"Liabilities:DueTo" = { name = "Due to" }
"Liabilities:Packages:Deferred" = { name = "Deferred", id = "9" }
"Liabilities:SalesTax" = { name = "Sales tax", id = "10" }
"Income:Packages:Redemptions" = { name = "Revenue", id = "11" }
""")
    books = write_books(tmp_path / "b", config, EVENTS)
    build_ok(books)
    args = ["qbo", str(books), "--from", "2026-01-01", "--to", "2026-02-03"]
    assert export(*args).exit_code == 0  # the CSV needs names only
    result = export(*args, "--format", "json")
    assert result.exit_code == 1
    assert ("export.qbo.accounts: the API needs an account id (write { name = \"...\", "
            "id = \"...\" }) for Card clearing, Due to") in result.stderr


# Hostile names: quotes, commas, tabs, non-ASCII in location names and GL accounts.
HOSTILE_CONFIG = """
title = "Spa"
[locations.loc-a]
name = "Café \\"Zoë\\", Main St — 東京"
account = "LocA"
[locations.loc-b]
name = "=Bistro, 'B'; \\"North\\""
account = "LocB"
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"
[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
tax_rate = "0.10"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]
[export.xero]
tracking = "Lieu, \\"site\\""
[export.xero.accounts]
{accounts}
[export.qbo]
location = "class"
[export.qbo.accounts]
{accounts}
[export.iif.accounts]
{accounts}
"""

HOSTILE_GL = {
    "Assets:Cash:Card": "Card, \"clearing\"\tbank",
    "Assets:DueFrom": "Dû de l'autre",
    "Liabilities:DueTo": "Due\tto, \"other\"",
    "Liabilities:Packages:Deferred": "Revenus différés",
    "Liabilities:SalesTax": "税金",
    "Income:Packages:Redemptions": "Revenue \"packages\"",
}


def hostile_books(tmp_path: Path) -> Path:
    lines = "\n".join(f"{json.dumps(k)} = {json.dumps(v, ensure_ascii=False)}"
                      for k, v in HOSTILE_GL.items())
    events = [dict(e, location=e["location"].replace("loc-11", "loc-a").replace("loc-21", "loc-b"))
              for e in EVENTS]
    books = write_books(tmp_path / "b", HOSTILE_CONFIG.replace("{accounts}", lines), events)
    build_ok(books)
    return books


def test_hostile_names_survive_every_format(tmp_path: Path) -> None:
    books = hostile_books(tmp_path)
    start, end = datetime.date(2026, 1, 1), datetime.date(2026, 2, 3)
    span = ["--from", str(start), "--to", str(end)]
    locations = {"LocA": "loc-a", "LocB": "loc-b"}

    def expected(clean: dict[str, str]) -> object:
        mapping = {k: clean.get(v, v) for k, v in HOSTILE_GL.items()}
        return ledger_movements(books, start, end, lambda a: resolve(mapping, a), locations)

    def out(*args: str) -> str:
        result = export(*args)
        assert result.exit_code == 0, result.output
        return result.stdout_bytes.decode("utf-8")

    spaced = {v: v.replace("\t", " ") for v in HOSTILE_GL.values()}  # no tab in CSV fields
    assert read_xero_csv([out("xero", str(books), *span)]) == expected(spaced)
    assert read_xero_json(out("xero", str(books), *span, "--format", "json")) == expected({})
    assert read_qbo_csv(out("qbo", str(books), *span), locations) == expected(spaced)
    no_quotes = {v: v.replace("\t", " ").replace('"', " ") for v in HOSTILE_GL.values()}
    iif = out("iif", str(books), *span)
    assert read_iif(iif, locations) == expected(no_quotes)
    assert "Café  Zoë , Main St — 東京" in iif  # the location's name as CLASS, quotes gone


def test_fields_are_cleaned_per_format() -> None:
    assert csv_field('a, "b"') == '"a, ""b"""'
    assert csv_field("tab\there\nnewline") == "tab here newline"
    assert csv_field(" padded ") == '" padded "'
    assert csv_field("Zoë") == "Zoë"
    assert iif_field('Main\tSt "A"\r\nB') == "Main St  A   B"
