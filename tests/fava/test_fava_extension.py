"""The pkgbooks page and endpoints in a real Fava, started by `pkgbooks serve` (SPEC 6a).

The endpoints must answer the very documents `pkgbooks report ... --format
json` prints, for any period and basis, whatever Fava's own time or account
filter is; the page must show the same figures.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from served import Served, copy_demo, serving, stop

from pkgbooks.cli import main

pytestmark = pytest.mark.slow

EXT = "/extension/Pkgbooks"
PERIODS = [("2026-05-01", "2026-05-31"), ("2026-01-01", "2026-05-31"),
           ("2026-03-01", "2026-03-31"), ("2026-02-10", "2026-04-20")]


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def endpoint(served: Served, path: str) -> Any:
    status, body = served.get(f"{EXT}/{path}")
    assert status == 200, body
    return json.loads(body)


@pytest.mark.parametrize("basis", ["payment", "sale"])
@pytest.mark.parametrize(("start", "end"), PERIODS)
def test_liability_endpoint_is_the_cli_report(
    served_demo: Served, start: str, end: str, basis: str
) -> None:
    expected = cli_json("report", "liability", str(served_demo.books), "--from", start,
                        "--to", end, "--basis", basis)
    assert endpoint(served_demo, f"liability?from={start}&to={end}&basis={basis}") == expected


@pytest.mark.parametrize(("start", "end"), PERIODS)
def test_reconciliation_endpoint_is_the_cli_report(
    served_demo: Served, start: str, end: str
) -> None:
    expected = cli_json("report", "reconciliation", str(served_demo.books), "--from", start,
                        "--to", end)
    assert endpoint(served_demo, f"reconciliation?from={start}&to={end}") == expected


def test_figures_ignore_favas_time_and_account_filters(served_demo: Served) -> None:
    plain = endpoint(served_demo, "liability?from=2026-03-01&to=2026-03-31&basis=sale")
    filtered = endpoint(served_demo, "liability?from=2026-03-01&to=2026-03-31&basis=sale"
                        "&time=2026-04&account=Assets&filter=%23nothing")
    assert filtered == plain
    status, page = served_demo.get(f"{EXT}/?from=2026-03-01&to=2026-03-31&basis=sale"
                                   "&time=2026-04&account=Income")
    assert status == 200
    assert liability_table(page) == liability_rows(plain)


def test_default_period_is_the_latest_month_with_activity(served_demo: Served) -> None:
    # The demo's events run to 2026-05-31.
    answer = endpoint(served_demo, "liability")
    assert (answer["from"], answer["to"], answer["basis"]) == ("2026-05-01", "2026-05-31",
                                                               "payment")
    status, page = served_demo.get(f"{EXT}/")
    assert status == 200
    assert liability_table(page) == liability_rows(answer)


def test_the_page_shows_the_cli_figures_for_a_chosen_period_and_basis(
    served_demo: Served,
) -> None:
    expected = cli_json("report", "liability", str(served_demo.books), "--from", "2026-02-01",
                        "--to", "2026-03-31", "--basis", "sale")
    status, page = served_demo.get(f"{EXT}/?from=2026-02-01&to=2026-03-31&basis=sale")
    assert status == 200
    assert liability_table(page) == liability_rows(expected)
    reconciliation = cli_json("report", "reconciliation", str(served_demo.books),
                              "--from", "2026-02-01", "--to", "2026-03-31")
    text = unescape(page.decode())
    for pair in reconciliation["totals"]["net_due"]:
        assert re.search(rf"<td>{pair['source']}</td>.*?<td>{pair['destination']}</td>.*?"
                         rf"<td class=\"num\">{pair['amount']}</td>", text, re.S)


def test_package_lookup_by_hand(served_demo: Served) -> None:
    # PK-00022: class-mix sold at loc-11 for 225.00 (no tax), paid in full; one yoga class
    # (100.00 / 5 = 20.00) and two pilates classes (125.00 / 5 = 25.00 each) redeemed,
    # leaving 155.00; a refund of 137.00 takes 137.00 and forfeits the 18.00 left.
    answer = endpoint(served_demo, "package?instance=PK-00022")
    assert (answer["package"], answer["location"], answer["status"], answer["liability"]) == (
        "class-mix", "loc-11", "refunded", "0.00")
    assert [(u["item"], u["used"], u["left"]) for u in answer["units"]] == [
        ("yoga-class", 1, 4), ("pilates-class", 2, 3)]
    assert [(h["date"], h["kind"], h["staff"], h["liability"]) for h in answer["history"]] == [
        ("2026-01-10", "sale", "James Carter", "0.00"),
        ("2026-01-10", "payment", None, "225.00"),
        ("2026-01-12", "redemption", "James Carter", "205.00"),
        ("2026-01-22", "redemption", "Maria Lopez", "180.00"),
        ("2026-01-24", "redemption", "Aiko Tanaka", "155.00"),
        ("2026-02-02", "refund", None, "0.00"),
    ]


def test_package_liability_and_units_agree_with_the_cli_reports(served_demo: Served) -> None:
    books = str(served_demo.books)
    activity = cli_json("report", "activity", books, "--from", "2026-01-01", "--to", "2026-05-31")
    customers = cli_json("report", "customers", books, "--from", "2026-05-31",
                         "--to", "2026-05-31")
    remaining = {row["instance"]: row["remaining"] for row in activity["rows"]}
    available = {(row["instance"], row["item"]): row["available"] for row in customers["rows"]}
    running = sorted({instance for instance, _ in available})
    assert len(running) > 10
    for instance in [*running[::7], "PK-00022", "PK-00145"]:
        answer = endpoint(served_demo, f"package?instance={instance}")
        assert answer["liability"] == remaining.get(instance, "0.00"), instance
        for unit in answer["units"]:
            if (instance, unit["item"]) in available:
                assert unit["left"] == available[(instance, unit["item"])], instance


def test_bad_requests_are_answered_with_the_reason(served_demo: Served) -> None:
    for path, reason in [
        ("liability?basis=cash", "basis 'cash'"),
        ("liability?from=2026-13-01&to=2026-03-31", "is not a date"),
        ("liability?from=2026-03-31&to=2026-03-01", "before"),
        ("reconciliation?basis=sale", "means nothing"),
        ("package?instance=NOPE-1", "no package 'NOPE-1'"),
        ("package", "instance"),
    ]:
        status, body = served_demo.get(f"{EXT}/{path}")
        assert status == 400, path
        assert reason in json.loads(body)["error"], path


def test_chart_is_each_locations_month_end_liability(served_demo: Served) -> None:
    status, page = served_demo.get(f"{EXT}/?from=2026-01-01&to=2026-05-31")
    assert status == 200
    chart = json.loads(unescape(re.search(
        rb'<svelte-component type="charts"><script type="application/json">(.*?)</script>',
        page, re.S)[1].decode()))
    points = {point["date"]: point["balance"] for point in chart[0]["data"]}
    assert sorted(points) == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30",
                              "2026-05-31"]
    for month_end in points:
        report = cli_json("report", "liability", str(served_demo.books), "--from",
                          month_end[:8] + "01", "--to", month_end)
        assert {loc: f"{amount:.2f}" for loc, amount in points[month_end].items()} == {
            row["location"]: row["closing"] for row in report["rows"]}


def test_serve_builds_stale_books_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    books = copy_demo(tmp_path)
    events = sorted((books / "events").glob("*.jsonl"))[-1]
    with events.open("a", encoding="utf-8") as handle:
        handle.write('{"type": "sale", "id": "s-late", "date": "2026-05-31", '
                     '"location": "loc-11", "invoice": "INV-LATE", "customer": "Late Buyer", '
                     '"lines": [{"package": "class-mix", "instance": "PK-LATE"}]}\n')
    with serving(books) as served:
        assert endpoint(served, "package?instance=PK-LATE")["customer"] == "Late Buyer"
        code, output = stop(served.process, served.log)
    assert code == 0, output
    assert "the ledger is older than pkgbooks.toml or events/: building" in output
    assert "Fava stopped" in output
    assert "Traceback" not in output


def liability_rows(document: dict[str, Any]) -> list[list[str]]:
    columns = ["opening", "sales", "redemptions", "expirations", "refunds", "closing"]
    rows = [[row["location"], *(row[c] for c in columns)] for row in document["rows"]]
    return [*rows, ["total", *(document["totals"][c] for c in columns)]]


def liability_table(page: bytes) -> list[list[str]]:
    """The location and figures of each row of the page's liability table (totals last)."""
    table = re.search(rb'<table id="pkgbooks-liability">(.*?)</table>', page, re.S)
    assert table, page[:2000]
    rows = []
    for row in re.findall(rb'<tr data-location="([^"]+)">(.*?)</tr>', table[1], re.S):
        figures = re.findall(rb'data-column="[a-z]+">([^<]*)<', row[1])
        rows.append([row[0].decode(), *(f.decode() for f in figures)])
    return rows


def test_serve_on_a_port_in_use_says_so(tmp_path: Path) -> None:
    books = copy_demo(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "pkgbooks.cli", "serve", str(books), "--port", str(port)],
            capture_output=True, text=True, timeout=300,
        )
    assert result.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr
    assert "Fava on http" not in result.stderr
    assert "Traceback" not in result.stderr
