"""SPEC 3 / 7: event files (JSONL and CSV), their order, and every bad input reported at once
as `FILE:LINE: event ID: what is wrong`."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from books import (
    bal,
    build_ok,
    config_text,
    d,
    expire,
    pay,
    problems_of,
    redeem,
    refund,
    sale,
    txns,
    write_books,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from pkgbooks.build import build
from pkgbooks.events import Expiry
from pkgbooks.readers import Read, ReadPlaces

D = Decimal

CATALOG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.cuts-1]
name = "One haircut"
price = "40.00"
items = [ { item = "haircut", quantity = 1, price = "40.00" } ]
"""

PROBLEM = re.compile(r"^(?P<file>.+):(?P<line>\d+): event (?P<id>\S+): (?P<what>.+)$")


def books_with(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    """A books directory whose events/ holds exactly `files` (name -> text)."""
    books = write_books(tmp_path / "books", config_text(CATALOG), [])
    (books / "events" / "events.jsonl").unlink()
    for name, content in files.items():
        path = books / "events" / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return books


def jsonl(*events: dict[str, Any]) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


def parsed(lines: list[str]) -> list[tuple[str, int, str, str]]:
    out = []
    for line in lines:
        m = PROBLEM.match(line)
        assert m, f"not in the FILE:LINE: event ID: form: {line!r}"
        out.append((m["file"], int(m["line"]), m["id"], m["what"]))
    return out


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_files_one_per_type_with_sale_lines(tmp_path: Path) -> None:
    books = books_with(tmp_path, {
        "sale.csv": (
            "id,date,location,invoice,customer,staff,line_package,line_instance,line_price,"
            "line_product,line_amount,line_tax\n"
            "s1,2026-01-01,loc-11,I1,cust-1,amy,cuts-3,K1,,,,\n"
            "s1,2026-01-01,loc-11,I1,cust-1,amy,,,,Shampoo,20.00,2.00\n"
            "s2,2026-01-01,loc-11,I2,cust-2,,cuts-3,K2,90.00,,,\n"
        ),
        "payment.csv": (
            "id,date,location,invoice,amount,method\n"
            "p1,2026-01-01,loc-11,I1,122.00,card\n"
            "p2,2026-01-02,loc-11,I2,90.00,cash\n"
        ),
        "redemption.csv": (
            "id,date,location,instance,item,quantity,staff\n"
            "r1,2026-01-03,loc-11,K1,haircut,2,bo\n"
            "r2,2026-01-03,loc-11,K2,haircut,,\n"
        ),
        "refund.csv": (
            "id,date,location,instance,amount,method\n"
            "f1,2026-01-04,loc-11,K2,50.00,cash\n"
        ),
    })
    result = build_ok(books)
    assert result.counts.read == 7 and result.counts.applied == 7
    sales = txns(books, "sale")
    assert [(t.meta["event"], t.meta.get("instance"), t.meta.get("product"), t.meta["price"],
             t.meta["tax"]) for t in sales] == [
        ("s1", "K1", None, "100.00", "0.00"),
        ("s1", None, "Shampoo", "20.00", "2.00"),
        ("s2", "K2", None, "90.00", "0.00"),
    ]
    assert sales[0].meta["staff"] == "amy" and "staff" not in sales[2].meta
    # K1: 122.00 = product 20.00 + tax 2.00 + package 100.00; two haircuts: 33.34 + 33.33.
    # K2 (price 90.00 on the line, SPEC 4.3: the group's 100.00 scaled to 90.00, 30.00 a
    # unit): one haircut 30.00, then refund 50.00 of the 60.00 left: 10.00 forfeited.
    assert bal(books, "Assets:Loc11:Cash:Card") == D("122.00")
    assert bal(books, "Assets:Loc11:Cash:Cash") == D("40.00")  # 90.00 in, 50.00 out
    assert bal(books, "Liabilities:Loc11:SalesTax") == D("-2.00")
    assert bal(books, "Income:Loc11:Products") == D("-20.00")
    assert bal(books, "Income:Loc11:Packages:Redemptions") == D("-96.67")
    assert bal(books, "Income:Loc11:Packages:Breakage") == D("-10.00")
    assert bal(books, "Liabilities:Loc11:Packages:Deferred") == D("-33.33")
    r1 = next(t for t in txns(books, "redemption") if t.meta["event"] == "r1")
    assert r1.meta["quantity"] == "2" and r1.meta["staff"] == "bo"
    r2 = next(t for t in txns(books, "redemption") if t.meta["event"] == "r2")
    assert r2.meta["quantity"] == "1"  # an empty quantity cell is the default, 1


def test_csv_expiry_file_and_bom_and_blank_lines(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    books = books_with(tmp_path, {
        "sale.csv": bom + (
            b"id,date,location,invoice,customer,line_package,line_instance\n"
            b"s1,2026-01-01,loc-11,INV-K1,cust-1,cuts-3,K1\n"
            b"\n"
        ),
        "payment.csv": bom + b"id,date,location,invoice,amount,method\n\n"
                             b"p1,2026-01-01,loc-11,INV-K1,100.00,card\n",
        "expiry.csv": bom + b"id,date,instance\ne1,2026-01-05,K1\n",
    })
    build_ok(books)
    (expiry,) = txns(books, "expiry")
    assert expiry.meta["event"] == "e1"
    assert bal(books, "Income:Loc11:Packages:Breakage") == D("-100.00")


def test_csv_problems_name_the_csv_line(tmp_path: Path) -> None:
    books = books_with(tmp_path, {
        "sale.csv": (
            "id,date,location,invoice,customer,line_package,line_instance\n"
            "s1,2026-01-01,loc-11,INV-K1,cust-1,cuts-3,K1\n"
        ),
        "payment.csv": (
            "id,date,location,invoice,amount,method\n"
            "p1,2026-01-01,loc-11,INV-K1,10.005,card\n"
            "\n"
            "p2,2026-01-01,loc-11,INV-K1,10.00,\n"
            "p3,2026-31-01,loc-11,INV-K1,10.00,card\n"
            "p4,2026-01-01,loc-11,INV-K1,-5.00,card,extra\n"
        ),
        "redemption.csv": (
            "id,date,location,instance,item,quantity\n"
            "r1,2026-01-02,loc-11,K1,haircut,0\n"
            "r2,2026-01-02,loc-11,K1,haircut,-1\n"
        ),
    })
    found = parsed(problems_of(books))
    pay_csv, red_csv = str(books / "events" / "payment.csv"), str(books / "events" /
                                                                   "redemption.csv")
    by_id = {(f, line, eid): what for f, line, eid, what in found}
    assert set(by_id) == {(pay_csv, 2, "p1"), (pay_csv, 4, "p2"), (pay_csv, 5, "p3"),
                          (pay_csv, 6, "p4"), (red_csv, 2, "r1"), (red_csv, 3, "r2")}
    assert "amount" in by_id[(pay_csv, 2, "p1")]
    assert "method" in by_id[(pay_csv, 4, "p2")] and "missing" in by_id[(pay_csv, 4, "p2")]
    assert "date" in by_id[(pay_csv, 5, "p3")]
    assert "quantity" in by_id[(red_csv, 2, "r1")]
    assert "quantity" in by_id[(red_csv, 3, "r2")]


def test_csv_named_after_no_event_type_is_refused(tmp_path: Path) -> None:
    books = books_with(tmp_path, {"events.csv": "id,date\nx,2026-01-01\n",
                                  "a.jsonl": jsonl(sale("s1", 1, "K1"))})
    (line,) = problems_of(books)
    assert line.startswith(str(books / "events" / "events.csv") + ": ")
    assert "sale" in line and "payment" in line


def test_sale_csv_rows_of_one_sale_must_agree(tmp_path: Path) -> None:
    books = books_with(tmp_path, {"sale.csv": (
        "id,date,location,invoice,customer,line_package,line_instance\n"
        "s1,2026-01-01,loc-11,I1,cust-1,cuts-3,K1\n"
        "s1,2026-01-01,loc-12,I1,cust-1,cuts-3,K2\n"
    )})
    (f, line, eid, what), = parsed(problems_of(books))
    assert (f, line, eid) == (str(books / "events" / "sale.csv"), 3, "s1")
    assert "location" in what and "loc-12" in what


# --- JSONL -------------------------------------------------------------------------------------


def test_jsonl_with_bom_and_blank_lines(tmp_path: Path) -> None:
    text = jsonl(sale("s1", 1, "K1")) + "\n   \n" + jsonl(pay("p1", 2, "K1", "100.00")) + "\n"
    books = books_with(tmp_path, {"a.jsonl": b"\xef\xbb\xbf" + text.encode("utf-8")})
    result = build_ok(books)
    assert result.counts.read == 2
    assert bal(books, "Liabilities:Loc11:Packages:Deferred") == D("-100.00")


def test_blank_line_inside_one_date_keeps_the_kind_order(tmp_path: Path) -> None:
    text = jsonl(pay("p1", 1, "K1", "100.00")) + "\n" + jsonl(sale("s1", 1, "K1"))
    books = books_with(tmp_path, {"a.jsonl": text})
    build_ok(books)
    assert bal(books, "Liabilities:Loc11:Packages:Deferred") == D("-100.00")


def test_every_bad_line_is_reported_at_once(tmp_path: Path) -> None:
    good_pay = pay("x", 1, "K1", "1.00")

    def p(eid: str, **changes: Any) -> str:
        event = {**good_pay, "id": eid, **changes}
        return json.dumps({k: v for k, v in event.items() if v is not None})

    lines = [
        json.dumps(sale("s1", 1, "K1")),  # 1 good
        '{"type": "payment", "id": "j1", "date": "2026-01-01"',  # 2 invalid JSON
        json.dumps({"type": "gift", "id": "t1", "date": d(1)}),  # 3 unknown type
        p("u1", colour="red"),  # 4 unknown field
        p("m1", invoice=None),  # 5 missing field
        p("a1", amount="1.005"),  # 6 three decimals
        p("a2", amount="-1.00"),  # 7 negative
        p("a3", amount=1.5),  # 8 not a string
        p("a4", amount="0.00"),  # 9 zero payment
        p("a5", amount="1e2"),  # 10 not a plain decimal
        p("d1", date="01/02/2026"),  # 11 not ISO
        p("d2", date="2026-02-30"),  # 12 impossible date
        p("d3", date="2026-1-5"),  # 13 not ISO either
        json.dumps({**redeem("q1", 1, "K1"), "quantity": 0}),  # 14 zero quantity
        json.dumps({**redeem("q2", 1, "K1"), "quantity": -2}),  # 15 negative quantity
        json.dumps({**redeem("q3", 1, "K1"), "quantity": 1.5}),  # 16 not an integer
        p("k1", method="cheque"),  # 17 unknown method
        "[1, 2]",  # 18 not an object
        json.dumps({"type": "refund", "id": "f1", "date": d(1), "location": "loc-11",
                    "instance": "K1", "amount": "5.00", "method": "cash",
                    "extra": 1}),  # 19 unknown field on another type
    ]
    books = books_with(tmp_path, {"a.jsonl": "\n".join(lines) + "\n"})
    got = parsed(problems_of(books))
    file = str(books / "events" / "a.jsonl")
    assert {f for f, *_ in got} == {file}
    by_line: dict[int, list[tuple[str, str]]] = {}
    for _f, line, eid, what in got:
        by_line.setdefault(line, []).append((eid, what))
    assert sorted(by_line) == list(range(2, 20))
    expect = {
        3: ("t1", "gift"), 4: ("u1", "colour"), 5: ("m1", "invoice"), 6: ("a1", "amount"),
        7: ("a2", "amount"), 8: ("a3", "amount"), 9: ("a4", "amount"), 10: ("a5", "amount"),
        11: ("d1", "date"), 12: ("d2", "date"), 13: ("d3", "date"), 14: ("q1", "quantity"),
        15: ("q2", "quantity"), 16: ("q3", "quantity"), 17: ("k1", "method"),
        19: ("f1", "extra"),
    }
    for line, (eid, word) in expect.items():
        ids = {e for e, _ in by_line[line]}
        assert ids == {eid}, (line, by_line[line])
        assert any(word in what for _, what in by_line[line]), (line, by_line[line])
    assert any("unknown field" in what for _, what in by_line[4])
    assert any("missing" in what for _, what in by_line[5])
    assert any("JSON" in what for _, what in by_line[2])
    # The one good sale was still applied: checking goes on after a refusal.
    assert build(books).counts.applied == 1


def test_rule_refusals_are_reported_with_file_line_and_id_and_all_at_once(
    tmp_path: Path,
) -> None:
    books = books_with(tmp_path, {
        "a.jsonl": jsonl(sale("s1", 1, "K1"), pay("p1", 1, "K1", "150.00"),
                         pay("p2", 2, "NOPE", "10.00")),
        "b.jsonl": jsonl(redeem("r1", 3, "K9")),
    })
    got = parsed(problems_of(books))
    events = books / "events"
    assert [(f, line, eid) for f, line, eid, _ in got] == [
        (str(events / "a.jsonl"), 2, "p1"),
        (str(events / "a.jsonl"), 3, "p2"),
        (str(events / "b.jsonl"), 1, "r1"),
    ]
    assert "150.00" in got[0][3] and "100.00" in got[0][3]
    assert "INV-NOPE" in got[1][3]
    assert "K9" in got[2][3]


def test_non_utf8_file_is_a_problem(tmp_path: Path) -> None:
    books = books_with(tmp_path, {"a.jsonl": b'{"type": "sale", "id": "\xff"}\n'})
    (line,) = problems_of(books)
    assert line.startswith(str(books / "events" / "a.jsonl"))
    assert "UTF-8" in line


# --- order: date, then kind, then file name and line ---------------------------------------------


def test_events_out_of_date_order_within_a_file(tmp_path: Path) -> None:
    books = books_with(tmp_path, {"a.jsonl": jsonl(
        redeem("r1", 3, "K1"), pay("p1", 2, "K1", "100.00"), sale("s1", 1, "K1"),
        redeem("r2", 2, "K1"),
    )})
    build_ok(books)
    assert [t.meta["event"] for t in txns(books) if t.meta["kind"] != "close"] == [
        "s1", "p1", "r2", "r1"]
    assert [t.postings[0].units.number for t in txns(books, "redemption")] == [
        D("33.34"), D("33.33")]


def test_events_out_of_order_across_files(tmp_path: Path) -> None:
    books = books_with(tmp_path, {
        "a.jsonl": jsonl(pay("p1", 2, "K1", "100.00"), redeem("r1", 3, "K1")),
        "b.jsonl": jsonl(sale("s1", 1, "K1")),
        "c.csv.txt": "ignored",  # not an event file
    })
    build_ok(books)
    assert [t.meta["event"] for t in txns(books)] == ["s1", "p1", "r1"]


def test_within_a_date_sale_payment_redemption_refund_expiry(tmp_path: Path) -> None:
    # Every event on day 1, listed in reverse kind order. Applied sale < payment <
    # redemption < refund < expiry, each one needs the one before it.
    books = books_with(tmp_path, {"a.jsonl": jsonl(
        expire("e2", 1, "K2"),
        refund("f1", 1, "K1", "66.66"),
        redeem("r2", 1, "K2"),
        redeem("r1", 1, "K1"),
        pay("p2", 1, "K2", "100.00"),
        pay("p1", 1, "K1", "100.00"),
        sale("s2", 1, "K2"),
        sale("s1", 1, "K1"),
    )})
    build_ok(books)
    order = [(t.meta["kind"], t.meta["event"]) for t in txns(books)]
    assert order == [
        ("sale", "s2"), ("sale", "s1"), ("payment", "p2"), ("payment", "p1"),
        ("redemption", "r2"), ("redemption", "r1"), ("refund", "f1"), ("expiry", "e2"),
    ]
    # K1: 33.34 redeemed, refund 66.66 = exactly the liability left, nothing forfeited.
    # K2: 33.34 redeemed, the expiry takes the 66.66 left.
    assert bal(books, "Income:Loc11:Packages:Breakage") == D("-66.66")
    assert bal(books, "Liabilities:Loc11:Packages:Deferred") == D("0.00")


def test_kind_order_across_files(tmp_path: Path) -> None:
    # The payment's file comes first by name, the sale's second: same date, sale first.
    books = books_with(tmp_path, {
        "1-payments.jsonl": jsonl(pay("p1", 1, "K1", "100.00")),
        "2-sales.jsonl": jsonl(sale("s1", 1, "K1")),
    })
    build_ok(books)
    assert [t.meta["event"] for t in txns(books)] == ["s1", "p1"]


def test_void_comes_last_within_a_date(tmp_path: Path) -> None:
    # The void is listed before its target on the same date: it is applied after it.
    books = books_with(tmp_path, {"a.jsonl": jsonl(
        sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"),
        {"type": "void", "id": "v1", "date": d(2), "target": "r1", "reason": "wrong client"},
        redeem("r1", 2, "K1"),
    )})
    build_ok(books)
    assert [t.meta["event"] for t in txns(books) if t.date.day == 2] == ["r1", "v1"]
    assert bal(books, "Liabilities:Loc11:Packages:Deferred") == D("-100.00")
    assert bal(books, "Income:Loc11:Packages:Redemptions") == D("0.00")


def test_same_date_and_kind_then_file_name_then_line(tmp_path: Path) -> None:
    # cuts-1 holds one unit: whichever redemption is applied first wins, the other is refused.
    # Files are written in reverse name order to show that name order, not creation, counts.
    events = {
        "b.jsonl": jsonl(redeem("r-b1", 2, "K1")),
        "a.jsonl": jsonl(sale("s1", 1, "K1", package="cuts-1"), pay("p1", 1, "K1", "40.00"),
                         redeem("r-a1", 2, "K1"), redeem("r-a2", 2, "K1")),
    }
    books = books_with(tmp_path, events)
    got = parsed(problems_of(books))
    assert [(Path(f).name, line, eid) for f, line, eid, _ in got] == [
        ("a.jsonl", 4, "r-a2"), ("b.jsonl", 1, "r-b1")]
    assert all("used up" in what for *_, what in got)


def test_jsonl_before_csv_by_file_name(tmp_path: Path) -> None:
    books = books_with(tmp_path, {
        "a.jsonl": jsonl(sale("s1", 1, "K1", package="cuts-1"), pay("p1", 1, "K1", "40.00"),
                         redeem("r-json", 2, "K1")),
        "redemption.csv": "id,date,location,instance,item\nr-csv,2026-01-02,loc-11,K1,haircut\n",
    })
    (line,) = parsed(problems_of(books))
    assert (Path(line[0]).name, line[1], line[2]) == ("redemption.csv", 2, "r-csv")


# --- the same event read twice ----------------------------------------------------------


def test_duplicate_id_with_the_same_content_is_skipped(tmp_path: Path) -> None:
    books = books_with(tmp_path, {
        "a.jsonl": jsonl(sale("s1", 1, "K1"), pay("p1", 1, "K1", "60.00")),
        "b.jsonl": jsonl(pay("p1", 1, "K1", "60.00"), pay("p2", 2, "K1", "40.00")),
    })
    result = build_ok(books)
    assert result.counts.duplicates == 1
    assert result.counts.applied == 3
    assert [t.meta["event"] for t in txns(books, "payment")] == ["p1", "p2"]
    assert bal(books, "Assets:Loc11:Cash:Card") == D("100.00")


def test_duplicate_across_json_and_csv_with_the_same_content_is_skipped(tmp_path: Path) -> None:
    books = books_with(tmp_path, {
        "a.jsonl": jsonl(sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00")),
        "payment.csv": "id,date,location,invoice,amount,method\n"
                       "p1,2026-01-01,loc-11,INV-K1,100.00,card\n",
    })
    assert build_ok(books).counts.duplicates == 1


def test_duplicate_id_with_other_content_is_refused_naming_the_first_place(
    tmp_path: Path,
) -> None:
    books = books_with(tmp_path, {
        "a.jsonl": jsonl(sale("s1", 1, "K1"), pay("p1", 1, "K1", "60.00")),
        "b.jsonl": jsonl(pay("p1", 1, "K1", "50.00")),
    })
    (f, line, eid, what), = parsed(problems_of(books))
    assert (Path(f).name, line, eid) == ("b.jsonl", 1, "p1")
    assert f"{books / 'events' / 'a.jsonl'}:2" in what


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(
    st.sampled_from(["e-1", "e-2", "e-3", "x"]),
    st.dates(min_value=datetime.date(1, 1, 1), max_value=datetime.date(9999, 12, 31)),
    st.sampled_from(["events/2026-01.jsonl", "events/sale.csv", "/abs/other.jsonl"]),
    st.integers(min_value=1, max_value=(1 << 40) - 1),
)))
def test_read_places_give_back_where_and_when_each_id_was_first_read(
    reads: list[tuple[str, datetime.date, str, int]],
) -> None:
    places = ReadPlaces()
    first: dict[str, tuple[datetime.date, str, int]] = {}
    for event_id, date, file, line in reads:
        event = Expiry.model_construct(type="expiry", id=event_id, date=date, instance="K")
        assert places.add(Read(event, file, line)) == (event_id not in first)
        first.setdefault(event_id, (date, file, line))
    assert dict(places.items()) == first
    assert len(places) == len(first)
    assert places.get("never read") is None and "never read" not in places
