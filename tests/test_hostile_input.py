"""Hostile input (what real point-of-sale exports do): each read exactly right where the
meaning is unambiguous, otherwise refused as `FILE:LINE: event ID: reason`; never a
traceback, never a silent misreading."""

from __future__ import annotations

import datetime
import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from books import build_ok, txns
from click.testing import CliRunner
from test_readers import books_with, jsonl, parsed, pay, redeem, sale

from pkgbooks.build import build
from pkgbooks.cli import main

GOOD = [sale("s1", 1, "K1"), pay("p1", 2, "K1", "100.00"), redeem("r1", 3, "K1")]


def problems(books: Path) -> list[tuple[str, int, str, str]]:
    result = CliRunner().invoke(main, ["build", str(books)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    return parsed([line for line in result.output.splitlines()
                   if not line.startswith("pkgbooks:")])


def test_utf16_with_bom_is_read_exactly(tmp_path: Path) -> None:
    plain = books_with(tmp_path / "a", {"e.jsonl": jsonl(*GOOD)})
    wide = books_with(tmp_path / "b", {"e.jsonl": jsonl(*GOOD).encode("utf-16")})
    build_ok(plain)
    build_ok(wide)
    assert ((plain / "ledger" / "2026-01.beancount").read_bytes()
            == (wide / "ledger" / "2026-01.beancount").read_bytes())


def test_cp1252_bytes_are_refused_line_by_line(tmp_path: Path) -> None:
    text = jsonl(*GOOD).replace('"cust-1"', '"Zoë"')
    books = books_with(tmp_path, {"e.jsonl": text.encode("cp1252")})
    found = problems(books)
    (file, line, _id, what) = found[0]
    assert (Path(file).name, line) == ("e.jsonl", 1)
    assert "not UTF-8" in what and "0xeb" in what
    # The sale on that line is not guessed at: what depends on it is refused too.
    assert [event for _f, _l, event, _w in found[1:]] == ["p1", "r1"]


CSV_HEAD = "id,date,location,invoice,customer,staff,line_package,line_instance\n"


def test_csv_quoted_commas_and_reordered_columns_are_read_right(tmp_path: Path) -> None:
    books = books_with(tmp_path, {
        "sale.csv": "customer,id,date,location,invoice,line_package,line_instance\n"
                    '"Smith, Jane",s1,2026-01-01,loc-11,INV-K1,cuts-3,K1\n',
        "payment.csv": "method,amount,id,date,location,invoice\ncard,100.00,p1,2026-01-02,"
                       "loc-11,INV-K1\n",
    })
    build_ok(books)
    [record] = txns(books, "sale")
    assert record.meta["customer"] == "Smith, Jane"


def test_csv_embedded_newline_in_a_name_is_refused(tmp_path: Path) -> None:
    books = books_with(tmp_path, {"sale.csv": CSV_HEAD + 's1,2026-01-01,loc-11,INV-K1,'
                                  '"Jane\nSmith",ana,cuts-3,K1\n'})
    [(_f, line, event, what)] = problems(books)
    assert (line, event) == (3, "s1")  # the record ends on the file's third line
    assert "customer" in what and "line breaks" in what


@pytest.mark.parametrize(("content", "expected"), [
    ("id,date,location,invoice,amount\np1,2026-01-02,loc-11,INV-K1,100.00\n",
     "method: missing field"),
    ("id,date,location,invoice,amount,method,note\np1,2026-01-02,loc-11,INV-K1,100.00,card,x\n",
     "note: unknown field"),
    ("id,date,location,invoice,amount,method\np1,2026-01-02,loc-11,INV-K1,100.00,card,extra\n",
     "more cells than columns"),
    ("id,date,location,invoice,amount,method\np1,2026-01-02,loc-11,INV-K1,100.", "amount"),
])
def test_csv_missing_extra_and_truncated(tmp_path: Path, content: str, expected: str) -> None:
    books = books_with(tmp_path, {"e.jsonl": jsonl(GOOD[0]), "payment.csv": content})
    found = problems(books)
    assert {(Path(file).name, line) for file, line, _e, _w in found} == {("payment.csv", 2)}
    assert any(expected in what for _f, _l, _e, what in found)


def test_truncated_jsonl_line_is_refused(tmp_path: Path) -> None:
    text = jsonl(*GOOD) + '{"type": "payment", "id": "p2", "da'
    [(_f, line, _id, what)] = problems(books_with(tmp_path, {"e.jsonl": text}))
    assert line == 4 and "not valid JSON" in what


@pytest.mark.parametrize("amount", ["1,234.50", "$12.50", "(12.50)", "1,50", "12.345", "NaN",
                                    "1e3", "", " 12.50", "-5.00", "0.00", 12.5, 100, None,
                                    "\uff11\uff12.50", "\u0661\u0662.50"])
def test_amounts_that_are_not_plain_are_refused(tmp_path: Path, amount: object) -> None:
    events = [GOOD[0], {**GOOD[1], "amount": amount}]
    [(_f, line, event, what)] = problems(books_with(tmp_path, {"e.jsonl": jsonl(*events)}))
    assert (line, event) == (2, "p1")
    assert what.startswith("amount:")


@pytest.mark.parametrize("date", ["01/02/2026", "2026-02-30", "2026-1-5", "20260105", "",
                                  "2026-01-05T10:00:00", 20260105])
def test_dates_that_are_not_iso_or_not_real_are_refused(tmp_path: Path, date: object) -> None:
    events = [GOOD[0], {**GOOD[1], "date": date}]
    [(_f, line, _id, what)] = problems(books_with(tmp_path, {"e.jsonl": jsonl(*events)}))
    assert line == 2 and what.startswith("date:")


@pytest.mark.parametrize("quantity", [0, -1, "2", 1.5, True])
def test_quantities_that_are_not_positive_integers_are_refused(
    tmp_path: Path, quantity: object
) -> None:
    events = [*GOOD[:2], {**GOOD[2], "quantity": quantity}]
    [(_f, line, event, what)] = problems(books_with(tmp_path, {"e.jsonl": jsonl(*events)}))
    assert (line, event) == (3, "r1") and what.startswith("quantity:")


def test_events_before_their_sale_and_unknown_references(tmp_path: Path) -> None:
    events = [
        pay("p0", 1, "K1", "10.00"),  # before the sale (day 2)
        {**sale("s1", 2, "K1")},
        {**redeem("r0", 1, "K1")},
        {**sale("s2", 2, "K2"), "location": "loc-99"},
        {**sale("s3", 2, "K3", package="nope")},
        {**redeem("r1", 3, "K1"), "item": "massage"},
    ]
    found = {event: what for _f, _l, event, what in problems(
        books_with(tmp_path, {"e.jsonl": jsonl(*events)}))}
    assert "unknown invoice" in found["p0"] and "no sale before this date" in found["p0"]
    assert "unknown package instance" in found["r0"]
    assert "unknown location 'loc-99'" in found["s2"]
    assert "unknown package 'nope'" in found["s3"]
    assert "unknown item 'massage'" in found["r1"]


def test_every_problem_is_reported_and_nothing_is_written(tmp_path: Path) -> None:
    books = books_with(tmp_path, {"e.jsonl": jsonl(*GOOD)})
    build_ok(books)
    before = (books / "ledger" / "2026-01.beancount").read_bytes()
    bad = jsonl(*GOOD, {**GOOD[1], "id": "p2", "amount": "$5"}, {"type": "refund"}) + "{\n"
    (books / "events" / "e.jsonl").write_text(bad, encoding="utf-8")
    result = build(books)
    assert len({p.source.line for p in result.problems}) == 3
    assert (books / "ledger" / "2026-01.beancount").read_bytes() == before
    assert json.loads(jsonl(GOOD[0]))  # the helpers still make valid JSON


# --- read as JSON reads it (issue 13) ---------------------------------------------------------


def test_an_escaped_date_key_and_value_are_read_as_json_reads_them(tmp_path: Path) -> None:
    """`"d\\u0061te": "2026\\u002d01-02"` is the date 2026-01-02: a payment dated before
    its sale, in a file otherwise in date order, is refused, not booked."""
    escaped = '{"type": "payment", "id": "p0", "d\\u0061te": "2026\\u002d01\\u002d01", ' \
              '"location": "loc-11", "invoice": "INV-K1", "amount": "30.00", "method": "cash"}\n'
    text = jsonl(sale("s1", 5, "K1")) + escaped + jsonl(pay("p1", 6, "K1", "70.00"))
    assert json.loads(escaped)["date"] == "2026-01-01"
    books = books_with(tmp_path, {"e.jsonl": text})
    found = problems(books)
    assert [(Path(f).name, line, event) for f, line, event, _w in found] == [("e.jsonl", 2, "p0")]


def test_escapes_in_a_date_order_the_file_as_their_values_do(tmp_path: Path) -> None:
    plain = books_with(tmp_path / "a", {"e.jsonl": jsonl(pay("p1", 2, "K1", "100.00"),
                                                         sale("s1", 1, "K1"))})
    text = jsonl(pay("p1", 2, "K1", "100.00"), sale("s1", 1, "K1"))
    escaped = books_with(tmp_path / "b", {"e.jsonl": text.replace('"date"', '"d\\u0061te"')})
    build_ok(plain)
    build_ok(escaped)
    assert ((plain / "ledger" / "2026-01.beancount").read_bytes()
            == (escaped / "ledger" / "2026-01.beancount").read_bytes())


@pytest.mark.parametrize("second", ['"amount": "13.20"', '"am\\u006funt": "13.20"'])
def test_a_key_written_twice_is_refused(tmp_path: Path, second: str) -> None:
    line = ('{"type": "payment", "id": "p1", "date": "2026-01-02", "location": "loc-11", '
            f'"invoice": "INV-K1", "amount": "132.00", "method": "cash", {second}}}\n')
    books = books_with(tmp_path, {"e.jsonl": jsonl(sale("s1", 1, "K1")) + line})
    [(file, number, _id, what)] = problems(books)
    assert (Path(file).name, number) == ("e.jsonl", 2)
    assert "amount" in what and "twice" in what


def test_a_key_written_twice_inside_a_sale_line_is_refused(tmp_path: Path) -> None:
    event = sale("s1", 1, "K1")
    text = json.dumps(event).replace('"instance": "K1"', '"instance": "K1", "instance": "K2"')
    books = books_with(tmp_path, {"e.jsonl": text + "\n"})
    [(_file, number, _id, what)] = problems(books)
    assert number == 1 and "instance" in what and "twice" in what


def test_a_date_key_written_plainly_and_escaped_is_refused_not_dated(tmp_path: Path) -> None:
    """One plain `"date"` and one escaped: the line holds the key twice, whichever is read."""
    line = ('{"type": "payment", "id": "p1", "date": "2026-01-09", "d\\u0061te": "2026-01-02", '
            '"location": "loc-11", "invoice": "INV-K1", "amount": "132.00", "method": "cash"}\n')
    books = books_with(tmp_path, {"e.jsonl": jsonl(sale("s1", 1, "K1")) + line})
    [(_file, number, _id, what)] = problems(books)
    assert number == 2 and "date" in what and "twice" in what


def test_text_that_looks_like_keys_and_colons_is_only_text(tmp_path: Path) -> None:
    """A name holding `"date": "2026-01-01"` and colons neither dates the event nor is a
    repeated key; the file, in date order by its real dates, is read as written."""
    looks = 'x "date": "2026-01-01", "amount": "1.00" : y'
    first = sale("s1", 2, "K1")
    tricky = {**first, "customer": looks}
    plain = books_with(tmp_path / "a", {"e.jsonl": jsonl(first, pay("p1", 3, "K1", "100.00"))})
    books = books_with(tmp_path / "b", {"e.jsonl": jsonl(tricky, pay("p1", 3, "K1", "100.00"))})
    build_ok(plain)
    build_ok(books)
    def booked(path: Path) -> list[tuple[Any, ...]]:
        return [(t.date, t.meta["kind"], t.meta["event"],
                 [(p.account, p.units) for p in t.postings]) for t in txns(path)]

    assert booked(books) == booked(plain) and len(booked(plain)) == 2
    assert [t.meta.get("customer") for t in txns(books) if t.meta["kind"] == "sale"] == [looks]


def test_a_column_written_twice_in_a_csv_header_is_refused(tmp_path: Path) -> None:
    books = books_with(tmp_path, {
        "sale.csv": CSV_HEAD + "s1,2026-01-01,loc-11,INV-K1,c,st,cuts-3,K1\n",
        "payment.csv": "id,date,location,invoice,amount,method,amount\n"
                       "p1,2026-01-02,loc-11,INV-K1,132.00,cash,13.20\n",
    })
    result = CliRunner().invoke(main, ["build", str(books)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    [line] = [x for x in result.output.splitlines() if not x.startswith("pkgbooks:")]
    assert line.startswith(f"{books / 'events' / 'payment.csv'}:1: ")
    assert "'amount'" in line and "twice" in line


def test_a_line_over_the_limit_is_refused_without_being_read_whole(tmp_path: Path) -> None:
    from pkgbooks import readers

    huge = '{"type": "void", "id": "v", "date": "2026-01-03", "target": "p1", "reason": "' \
           + "x" * (readers.MAX_LINE_BYTES * 3) + '"}\n'
    books = books_with(tmp_path, {"e.jsonl": jsonl(*GOOD[:2]) + huge + jsonl(GOOD[2])})
    found = problems(books)
    assert [(Path(f).name, line) for f, line, _e, _w in found] == [("e.jsonl", 3)]
    assert "longer than" in found[0][3]


def test_a_utf16_line_over_the_limit_is_refused(tmp_path: Path) -> None:
    from pkgbooks import readers

    huge = '{"id": "' + "x" * readers.MAX_LINE_BYTES + '"}\n'
    books = books_with(tmp_path, {"e.jsonl": (jsonl(*GOOD[:2]) + huge).encode("utf-16")})
    found = problems(books)
    assert [(Path(f).name, line) for f, line, _e, _w in found] == [("e.jsonl", 3)]


# --- input that cannot be read never empties the books (issue 13) ------------------------------


def built_books(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    books = books_with(tmp_path, {"e.jsonl": jsonl(*GOOD)})
    build_ok(books)
    return books, ledger_bytes(books)


def ledger_bytes(books: Path) -> dict[str, bytes]:
    files = {p.relative_to(books).as_posix(): p.read_bytes()
             for p in books.rglob("*") if p.is_file() and "events" not in p.parts}
    files.pop("pkgbooks.toml", None)
    return files


def refused_whole(books: Path, before: dict[str, bytes]) -> list[str]:
    """Build through the CLI: exit 1, no traceback, the books as they were; the error lines."""
    result = CliRunner().invoke(main, ["build", str(books)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert ledger_bytes(books) == before
    return [x for x in result.output.splitlines() if not x.startswith("pkgbooks:")]


@pytest.mark.parametrize("kind", ["dangling link", "directory", "fifo"])
def test_an_event_file_that_is_not_a_file_is_an_error_naming_it(tmp_path: Path,
                                                                kind: str) -> None:
    books, before = built_books(tmp_path)
    odd = books / "events" / "f.jsonl"
    if kind == "dangling link":
        odd.symlink_to(books / "events" / "gone.jsonl")
    elif kind == "directory":
        odd.mkdir()
    else:
        os.mkfifo(odd)
    [line] = refused_whole(books, before)
    assert line.startswith(f"{odd}: ") and kind.split()[0] in line.lower()


def test_an_event_file_that_cannot_be_opened_is_an_error_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    books, before = built_books(tmp_path)
    locked = books / "events" / "e.jsonl"
    real_open = os.open

    def denying_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path) == str(locked):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denying_open)
    [line] = refused_whole(books, before)
    assert line == f"{locked}: cannot be read: Permission denied"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_event_file_is_an_error_naming_it(tmp_path: Path) -> None:
    books, before = built_books(tmp_path)
    locked = books / "events" / "e.jsonl"
    locked.chmod(0)
    try:
        [line] = refused_whole(books, before)
    finally:
        locked.chmod(0o644)
    assert line.startswith(f"{locked}: cannot be read")


def test_a_missing_events_directory_is_an_error(tmp_path: Path) -> None:
    books, before = built_books(tmp_path)
    shutil.rmtree(books / "events")
    [line] = refused_whole(books, before)
    assert line.startswith(f"{books / 'events'}: no events directory")


def test_an_events_path_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    books, before = built_books(tmp_path)
    shutil.rmtree(books / "events")
    (books / "events").write_text("not a directory\n")
    [line] = refused_whole(books, before)
    assert line.startswith(f"{books / 'events'}: cannot list the events directory")


def test_files_with_other_extensions_are_named_in_a_warning(tmp_path: Path) -> None:
    books = books_with(tmp_path, {"e.jsonl": jsonl(*GOOD[:2]), "late.JSONL": jsonl(GOOD[2]),
                                  "old.json": "{}", ".hidden": ""})
    result = CliRunner().invoke(main, ["build", str(books)])
    assert result.exit_code == 0, result.output
    warnings = [x for x in result.output.splitlines() if x.startswith("warning:")]
    assert warnings == [
        f"warning: {books / 'events' / 'late.JSONL'}: not read: event files are named "
        "*.jsonl or <type>.csv (lower case)",
        f"warning: {books / 'events' / 'old.json'}: not read: event files are named "
        "*.jsonl or <type>.csv",
    ]


# --- dates far from the books (issue 13) -------------------------------------------------

TODAY = datetime.date(2026, 3, 1)


def test_a_year_typed_0026_is_refused_with_its_line(tmp_path: Path) -> None:
    typo = dict(sale("s0", 5, "K0"), date="0026-01-05")
    books = books_with(tmp_path, {"e.jsonl": jsonl(*GOOD, typo)})
    found = problems(books)
    assert [(Path(f).name, line, event) for f, line, event, _w in found] == [
        ("e.jsonl", 4, "s0")]
    assert "0026-01-05 is 730" in found[0][3] and "dates.gap_days" in found[0][3]
    assert not (books / "ledger").exists()


def test_the_earliest_date_is_refused_with_all_its_events(tmp_path: Path) -> None:
    early = [dict(sale("s0", 5, "K0"), date="2023-01-05"),
             dict(pay("p0", 5, "K0", "100.00"), date="2023-01-05")]
    books = books_with(tmp_path, {"e.jsonl": jsonl(*early, *GOOD)})
    assert [event for _f, _l, event, _w in problems(books)] == ["s0", "p0"]


def test_a_longer_gap_is_allowed_when_configured(tmp_path: Path) -> None:
    early = [dict(sale("s0", 5, "K0"), date="2023-01-05")]
    books = books_with(tmp_path, {"e.jsonl": jsonl(*early, *GOOD)})
    config = books / "pkgbooks.toml"
    config.write_text(config.read_text() + "\n[dates]\ngap_days = 1200\n")
    build_ok(books)


def test_the_gap_looks_only_at_events_up_to_the_as_of_date(tmp_path: Path) -> None:
    late = [dict(pay("p9", 5, "K9", "1.00"), date="2027-09-05")]
    books = books_with(tmp_path, {"e.jsonl": jsonl(GOOD[0], *late)})
    assert build(books, datetime.date(2026, 6, 30), today=datetime.date(2027, 10, 1)).problems \
        == []


def test_a_date_too_far_in_the_future_is_refused(tmp_path: Path) -> None:
    books = books_with(tmp_path, {"e.jsonl": jsonl(*GOOD, pay("p2", 5, "K1", "1.00"))})
    text = (books / "events" / "e.jsonl").read_text().replace('"2026-01-05"', '"2062-01-05"')
    (books / "events" / "e.jsonl").write_text(text)
    [problem] = build(books, today=TODAY).problems
    assert (problem.source.line, problem.event) == (4, "p2")
    assert "2062-01-05 is too far in the future: more than 366 days after today (2026-03-01)" \
        in problem.message


def test_an_expiry_past_year_9999_is_refused_not_a_traceback(tmp_path: Path) -> None:
    books = books_with(tmp_path, {"e.jsonl": jsonl(dict(sale("s1", 1, "K1"), date="9999-11-01"))})
    config = books / "pkgbooks.toml"
    config.write_text(config.read_text().replace(
        'name = "Three haircuts"', 'name = "Three haircuts"\nvalidity_days = 36500'))
    [(_file, line, event, what)] = problems(books)
    assert (line, event) == (1, "s1") and "too far in the future" in what


@pytest.mark.parametrize("as_of", [
    "9999-11-30", (datetime.date.today() + datetime.timedelta(days=3661)).isoformat()])
def test_as_of_far_beyond_today_is_refused(tmp_path: Path, as_of: str) -> None:
    books = books_with(tmp_path, {"e.jsonl": jsonl(*GOOD)})
    result = CliRunner().invoke(main, ["build", str(books), "--as-of", as_of])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"'{as_of}' is more than 3660 days after today" in result.output
    assert not (books / "ledger").exists()


def test_keep_going_sets_a_far_date_aside_and_counts_it(tmp_path: Path) -> None:
    typo = dict(sale("s0", 5, "K0"), date="0026-01-05")
    books = books_with(tmp_path, {"e.jsonl": jsonl(*GOOD, typo)})
    result = build(books, keep_going=True)
    assert result.set_aside == 1 and [p.event for p in result.problems] == ["s0"]
    counts = result.counts
    assert counts.read == 4 and counts.rejected == 1
    assert counts.read == counts.applied + counts.duplicates + counts.rejected \
        + counts.after_as_of
    assert sorted(p.name for p in (books / "ledger").glob("20*.beancount")) == [
        "2026-01.beancount"]
    assert "s0" in (books / "ledger" / "refused.beancount").read_text()
