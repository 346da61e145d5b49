"""SPEC 3.3 / 7: fuzzing the event readers (JSONL, every `<type>.csv`) and the config loader.

The property: `pkgbooks build DIR` never lets an exception escape. Either it
succeeds (and then Beancount loads the ledger cleanly), or it reports every
problem as one line in the SPEC 7 form (`FILE:LINE: event ID: what is wrong`,
`FILE: key: value: what is wrong` for the configuration), exits with code 1,
and prints no traceback. Inputs are arbitrary bytes / text and mutations of
valid files (tools/fuzz.py: byte flips, truncation, inserted quotes, commas,
newlines and byte-order marks, values replaced by huge numbers, "NaN", "1e3",
"(12.50)", "$12.50", "1,234.50", ambiguous dates...), checked at the reader,
through `pkgbooks.build.build` and through the CLI (click's CliRunner).

Engine bugs the fuzzer found are regression tests at the end of this file
(all fixed in the engine since). An open
bug's crash signature goes in `tools/fuzz.py` KNOWN_BUGS, so that an input
that hits it is counted (hypothesis `event`), not failed, and the properties
keep looking for new bugs; remove it once its xfail test XPASSes. The long
run, `python tools/fuzz.py --inputs 150000 --seed 1`, is recorded in
docs/reliability.md.
"""

from __future__ import annotations

import json
import re
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import fuzz  # tools/fuzz.py
import pytest
from books import config_text, write_books
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pkgbooks.build import build
from pkgbooks.cli import main as cli_main
from pkgbooks.config import load_config
from pkgbooks.errors import Error, Failed
from pkgbooks.readers import read_events
from pkgbooks.validate import validate


@cache
def corpus() -> Any:
    return fuzz.corpus()


FAST = settings(max_examples=400, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BUILDS = settings(FAST, max_examples=150)

mutations = st.lists(
    st.builds(fuzz.Mutation, st.sampled_from(fuzz.OPS), st.integers(0, 2**24),
              st.integers(0, 2**16)),
    min_size=1, max_size=6,
)
kinds = st.sampled_from(fuzz.EVENT_KINDS)


def holds(outcome: Any) -> None:
    """The property, allowing the engine bugs already reported (counted, not failed)."""
    if outcome.status in ("accepted", "refused"):
        event(outcome.status)
        return
    name = fuzz.known_bug(outcome.signature) if outcome.signature else None
    if name is not None:
        event(f"known bug: {name}")
        return
    raise AssertionError(f"{outcome.status}: {outcome.detail}")


def reader_on(name: str, data: bytes) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        return fuzz.run_reader(path)


def config_on(data: bytes) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pkgbooks.toml"
        path.write_bytes(data)
        return fuzz.run_config(path)


# --- the readers and the config loader, called directly -----------------------------


@pytest.mark.slow
@FAST
@given(st.binary(max_size=3000))
def test_jsonl_reader_arbitrary_bytes(data: bytes) -> None:
    holds(reader_on("events.jsonl", data))


@pytest.mark.slow
@FAST
@given(st.text(max_size=1000))
def test_jsonl_reader_arbitrary_text(text: str) -> None:
    holds(reader_on("events.jsonl", text.encode("utf-8", "surrogatepass")))


@pytest.mark.slow
@FAST
@given(st.integers(0, 100), mutations)
def test_jsonl_reader_mutated(which: int, edits: list[Any]) -> None:
    original, _rest = corpus().jsonl[which % len(corpus().jsonl)]
    holds(reader_on("events.jsonl", fuzz.mutate(original, edits, "jsonl")))


@pytest.mark.slow
@FAST
@given(kinds, st.text(max_size=1000))
def test_csv_reader_arbitrary_text(kind: str, text: str) -> None:
    holds(reader_on(f"{kind}.csv", text.encode("utf-8", "surrogatepass")))


@pytest.mark.slow
@FAST
@given(kinds, mutations)
def test_csv_reader_mutated(kind: str, edits: list[Any]) -> None:
    original, _rest = corpus().csv[kind]
    holds(reader_on(f"{kind}.csv", fuzz.mutate(original, edits, "csv")))


@pytest.mark.slow
@FAST
@given(st.binary(max_size=2000))
def test_config_arbitrary_bytes(data: bytes) -> None:
    holds(config_on(data))


@pytest.mark.slow
@FAST
@given(st.integers(0, 1), mutations)
def test_config_mutated(which: int, edits: list[Any]) -> None:
    original = corpus().configs[which].encode()
    holds(config_on(fuzz.mutate(original, edits, "toml")))


# --- whole builds: pkgbooks.build.build and the CLI ----------------------------------


def cli_holds(books: Path, by_build: Any) -> None:
    """`pkgbooks build DIR`: exit 0, or exit 1 with SPEC 7 lines only; never a traceback."""
    result = CliRunner().invoke(cli_main, ["build", str(books)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        holds(fuzz.Outcome("crash", repr(result.exception),
                           fuzz.signature(result.exception)))
        return
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1), result.output
    if by_build.status != "refused" or result.exit_code == 0:
        assert result.exit_code == (0 if by_build.status == "accepted" else 1), result.output
        return
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines and lines[-1].startswith("pkgbooks: "), result.stderr
    for line in lines[:-1]:
        assert line.startswith(f"{books}/"), line
        wrong = fuzz.problem_form(line, line.split(":", 1)[0])
        assert wrong is None, f"{wrong}: {line!r}"


@pytest.mark.slow
@BUILDS
@given(st.sampled_from(["jsonl", "csv", "toml"]), st.integers(0, 100), kinds, mutations)
def test_build_and_cli_never_raise(target: str, which: int, kind: str, edits: list[Any]) -> None:
    base = corpus()
    rest = None
    if target == "jsonl":
        original, rest = base.jsonl[which % len(base.jsonl)]
    elif target == "csv":
        original, rest = base.csv[kind]
    else:
        original = base.configs[0].encode()
    data = fuzz.mutate(original, edits, target)
    with tempfile.TemporaryDirectory() as tmp:
        books = fuzz.books_dir(Path(tmp) / "books", base, target, data, kind, rest)
        outcome = fuzz.run_build(books, check_ledger=True)
        holds(outcome)
        if outcome.status in ("accepted", "refused"):
            cli_holds(books, outcome)


# --- the values the SPEC 7 brief lists, in every amount and date field ---------------

CATALOG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
tax_rate = "0.10"
validity_days = 90
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]
"""
SALE = {"type": "sale", "id": "s1", "date": "2026-01-05", "location": "loc-11",
        "invoice": "I1", "customer": "Ann", "lines": [{"package": "cuts-3", "instance": "P1"}]}
PAYMENT = {"type": "payment", "id": "p1", "date": "2026-01-05", "location": "loc-11",
           "invoice": "I1", "amount": "110.00", "method": "card"}
# (fullwidth and other Unicode digits, "１２.５０", are read as the amount they spell)
BAD_AMOUNTS = ["NaN", "1e3", "(12.50)", "$12.50", "1,234.50", "-12.50", "12.505", "", " 12.50",
               "Infinity", "0x10", "1_000", "12.", ".50", "+12.50"]
BAD_DATES = ["01/02/2026", "2026-02-30", "2026-1-2", "20260102", "2026-01-02T10:00:00", ""]
PROBLEM = re.compile(r"^(?P<file>.+):(?P<line>\d+): event (?P<id>\S+): (?P<what>.+)$")


def refused_through_cli(tmp: Path, fmt: str, field: str, value: str) -> list[str]:
    books = write_books(tmp / "books", config_text(CATALOG), [SALE])
    bad = dict(PAYMENT, **{field: value})
    if fmt == "jsonl":
        (books / "events" / "more.jsonl").write_text(json.dumps(bad) + "\n", encoding="utf-8")
    else:
        cells = [bad[k] for k in ("id", "date", "location", "invoice", "amount", "method")]
        text = "id,date,location,invoice,amount,method\n" + ",".join(
            f'"{c}"' if "," in c else c for c in cells) + "\n"
        (books / "events" / "payment.csv").write_text(text, encoding="utf-8-sig")
    result = CliRunner().invoke(cli_main, ["build", str(books)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("pkgbooks: ")
    assert not (books / "main.beancount").exists()
    return lines[:-1]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("field,value", [("amount", v) for v in BAD_AMOUNTS]
                         + [("date", v) for v in BAD_DATES])
def test_listed_bad_values_are_refused_in_the_spec_7_form(
    tmp_path: Path, fmt: str, field: str, value: str
) -> None:
    lines = refused_through_cli(tmp_path, fmt, field, value)
    name = "more.jsonl" if fmt == "jsonl" else "payment.csv"
    assert lines, "nothing reported"
    for line in lines:
        m = PROBLEM.match(line)
        assert m is not None, line
        assert m["file"].endswith(name) and m["line"] == ("2" if fmt == "csv" else "1")
        assert m["id"] == "p1"


def test_boms_crlf_and_utf16_read_the_same(tmp_path: Path) -> None:
    """The same events as UTF-8, UTF-8 with a BOM, UTF-16, CRLF: the same ledger."""
    ledgers = []
    for encoding, newline in [("utf-8", "\n"), ("utf-8-sig", "\n"), ("utf-16", "\n"),
                              ("utf-8", "\r\n"), ("utf-16", "\r\n")]:
        books = write_books(tmp_path / f"{encoding}{len(newline)}", config_text(CATALOG), [])
        text = "".join(json.dumps(e) + newline for e in (SALE, PAYMENT))
        (books / "events" / "events.jsonl").write_bytes(text.encode(encoding))
        result = build(books)
        assert not result.problems, result.problems
        ledgers.append((books / "ledger" / "2026-01.beancount").read_bytes())
    assert len(set(ledgers)) == 1


# --- bugs this fuzzer found (fixed in c7acf3f and 8275ffe): each input now refused -----


def cli(books: Path, *args: str) -> tuple[int, list[str]]:
    """`pkgbooks build DIR`: (exit code, stderr lines); no exception may escape."""
    result = CliRunner().invoke(cli_main, ["build", str(books), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert "Traceback" not in result.output
    return result.exit_code, result.stderr.splitlines()


def books_with_lines(tmp: Path, lines: list[str], catalog: str = CATALOG,
                     name: str = "events.jsonl", encoding: str = "utf-8") -> Path:
    books = write_books(tmp / "books", config_text(catalog), [])
    (books / "events" / "events.jsonl").unlink()
    (books / "events" / name).write_bytes("".join(x + "\n" for x in lines).encode(encoding))
    return books


def refused_at(books: Path, name: str, line: int, event_id: str, *args: str) -> str:
    """The build fails (exit 1) and reports `name:line: event ID: ...`; the messages."""
    code, lines = cli(books, *args)
    assert code == 1, lines
    where = f"{books / 'events' / name}:{line}: event {event_id}: "
    found = [x[len(where):] for x in lines if x.startswith(where)]
    assert found, lines
    assert not (books / "main.beancount").exists()
    return " | ".join(found)


def config_refused(books: Path, key: str) -> None:
    code, lines = cli(books)
    assert code == 1
    assert any(x.startswith(f"{books / 'pkgbooks.toml'}: {key}: ") for x in lines), lines


def test_jsonl_integer_of_5000_digits(tmp_path: Path) -> None:
    """Was: ValueError out of json.loads (int max_str_digits) in readers._parse_jsonl."""
    line = json.dumps(SALE)[:-1] + ', "x": ' + "9" * 5000 + "}"
    refused_at(books_with_lines(tmp_path, [line]), "events.jsonl", 1, "?")


def test_jsonl_deep_nesting(tmp_path: Path) -> None:
    """Was: RecursionError out of json.loads in readers._parse_jsonl."""
    books = books_with_lines(tmp_path, [json.dumps(SALE), "[" * 100000 + "]" * 100000])
    refused_at(books, "events.jsonl", 2, "?")


def test_csv_carriage_return_inside_a_line(tmp_path: Path) -> None:
    """Was: csv.Error ('new-line character seen in unquoted field') out of _csv_stream."""
    books = books_with_lines(tmp_path, ["id,date,location,instance,item",
                                        "r1,2026-01-06,loc-11,P1\rx,haircut"],
                             name="redemption.csv")
    assert "not valid CSV" in refused_at(books, "redemption.csv", 2, "?")


def test_csv_cell_over_the_field_limit(tmp_path: Path) -> None:
    """Was: csv.Error ('field larger than field limit (131072)') out of _csv_stream."""
    books = books_with_lines(tmp_path, ["id,date,location,instance,item,staff",
                                        "r1,2026-01-06,loc-11,P1,haircut," + "x" * 200000],
                             name="redemption.csv")
    assert "not valid CSV" in refused_at(books, "redemption.csv", 2, "?")


def test_csv_fault_names_its_own_line(tmp_path: Path) -> None:
    rows = [f"r{n},2026-01-0{n + 5},loc-11,P1,haircut" for n in range(1, 4)]
    books = books_with_lines(tmp_path, ["id,date,location,instance,item", *rows,
                                        "r4,2026-01-09,loc-11,P1\rx,haircut"],
                             name="redemption.csv")
    refused_at(books, "redemption.csv", 5, "?")


def test_csv_quantity_in_other_digits(tmp_path: Path) -> None:
    """Was: int('²') raised ValueError (str.isdigit() is true for it) in _csv_stream."""
    for n, digits in enumerate(["\u00b2", "\u0661\u0662"]):
        books = books_with_lines(tmp_path / str(n), ["id,date,location,instance,item,quantity",
                                                     f"r1,2026-01-06,loc-11,P1,haircut,{digits}"],
                                 name="redemption.csv")
        refused_at(books, "redemption.csv", 2, "r1")


def test_lone_surrogate_escape(tmp_path: Path) -> None:
    """Was: accepted as text, then UnicodeEncodeError in ledger._write_part."""
    line = json.dumps(SALE).replace('"Ann"', '"\\ud800"')
    refused_at(books_with_lines(tmp_path, [line]), "events.jsonl", 1, "s1")


def test_event_in_december_9999(tmp_path: Path) -> None:
    """Was: ledger._close_month computed 10000-01-01 (ValueError)."""
    catalog = CATALOG.replace("validity_days = 90\n", "")
    books = books_with_lines(tmp_path, [json.dumps(dict(SALE, date="9999-12-31"))], catalog)
    assert "too far in the future" in refused_at(books, "events.jsonl", 1, "s1")


def test_as_of_in_december_9999(tmp_path: Path) -> None:
    """Was: ValueError in ledger._close_month; now a usage error (exit 2), no traceback."""
    catalog = CATALOG.replace("validity_days = 90\n", "")
    books = books_with_lines(tmp_path, [json.dumps(dict(SALE, date="9999-11-30"))], catalog)
    code, _lines = cli(books, "--as-of", "9999-12-31")
    assert code == 2


def test_validity_beyond_the_calendar(tmp_path: Path) -> None:
    """Was: OverflowError (date + timedelta) in sale.new_package."""
    catalog = CATALOG.replace("validity_days = 90", "validity_days = 3000000")
    config_refused(books_with_lines(tmp_path, [json.dumps(SALE)], catalog),
                   "packages.cuts-3.validity_days")


@pytest.mark.parametrize("title", ["Test\\n2026-01-01 open Assets:X", "Test\\rSpa",
                                   "Test\\u2028Spa", "Test\\u0000"])
def test_title_with_a_control_character(tmp_path: Path, title: str) -> None:
    """Was: written raw into the `;` heading of every ledger file: a line break made the
    ledger unparsable (after a successful build), a CR made fresh books fail validate."""
    books = write_books(tmp_path / "books", config_text(CATALOG).replace(
        'title = "Test Spa"', f'title = "{title}"'), [SALE])
    config_refused(books, "title")


def test_utf16_file_with_a_line_separator_in_a_name(tmp_path: Path) -> None:
    """Was: UTF-16 files split with str.splitlines(), which also breaks at U+2028 / U+0085."""
    ledgers = []
    for encoding in ("utf-8", "utf-16"):
        lines = [json.dumps(dict(SALE, customer=f"Ann{sep}Lee", id=f"s{n}", invoice=f"I{n}",
                                 lines=[{"package": "cuts-3", "instance": f"P{n}"}]),
                            ensure_ascii=False)
                 for n, sep in enumerate(["\u2028", "\u0085", "\u2029"])]
        books = books_with_lines(tmp_path / encoding, lines, encoding=encoding)
        assert cli(books)[0] == 0
        ledgers.append((books / "ledger" / "2026-01.beancount").read_bytes())
    assert ledgers[0] == ledgers[1]


def test_problem_lines_stay_one_line(tmp_path: Path) -> None:
    """Was: ids and field names echoed raw, so a line break split one problem in two."""
    books = books_with_lines(tmp_path, [json.dumps(dict(SALE, id="s\n1")),
                                        json.dumps(dict(PAYMENT, **{"a\rb": 1}))])
    code, lines = cli(books)
    assert code == 1 and len(lines) == 2 + 1, lines
    for line in lines[:-1]:
        assert PROBLEM.match(line), line


def test_amounts_of_more_than_15_digits(tmp_path: Path) -> None:
    """Was: 29+ digits reported as "[<class 'decimal.InvalidOperation'>]", and 27-28 digits
    accepted but computed in Decimal's 28-digit context: a product price of
    99999999999999999999999999.99 was written as 100000000000000000000000000.00."""
    for n, amount in enumerate(["9" * 40, "9" * 26 + ".99", "9" * 16]):
        sale = dict(SALE, lines=[{"product": "x", "amount": amount, "tax": "0.00"}])
        books = books_with_lines(tmp_path / str(n), [json.dumps(sale)])
        assert "15 digits" in refused_at(books, "events.jsonl", 1, "s1")
    big = "9" * 15 + ".99"  # the largest amount, exact through the arithmetic
    sale = dict(SALE, lines=[{"product": "x", "amount": big, "tax": big}])
    books = books_with_lines(tmp_path / "ok", [json.dumps(sale),
                                               json.dumps(dict(PAYMENT, amount="1.00"))])
    assert cli(books)[0] == 0
    text = (books / "ledger" / "2026-01.beancount").read_text(encoding="utf-8")
    assert f'price: "{big}"' in text
    assert validate(books).errors == []


def test_csv_type_column_cannot_change_the_event_type(tmp_path: Path) -> None:
    """Was: a `type` cell overrode the file's type (redemption.csv could carry an expiry)."""
    books = write_books(tmp_path / "books", config_text(CATALOG), [SALE, PAYMENT])
    (books / "events" / "redemption.csv").write_text(
        "type,id,date,instance\nexpiry,x1,2026-01-06,P1\n", encoding="utf-8")
    assert "type" in refused_at(books, "redemption.csv", 2, "x1")


def test_no_known_bugs_left_in_the_fuzzer() -> None:
    """KNOWN_BUGS lists fuzzer signatures of open engine bugs; all found so far are fixed."""
    assert fuzz.KNOWN_BUGS == []


def test_problem_form_helper() -> None:
    assert fuzz.problem_form("/b/e.jsonl:3: event p1: amount: bad", "/b/e.jsonl") is None
    assert fuzz.problem_form("/b/e.jsonl: not UTF-16 text", "/b/e.jsonl") is None
    assert fuzz.problem_form("/b/e.jsonl:3: event p\n1: bad", "/b/e.jsonl") is not None
    assert fuzz.problem_form("Traceback (most recent call last):", "/b/e.jsonl") is not None


def test_reader_problems_are_problem_objects(tmp_path: Path) -> None:
    """The fuzz harness reads through the engine's own entry point (sanity check)."""
    path = tmp_path / "e.jsonl"
    path.write_text("{\n", encoding="utf-8")
    problems: list[Error] = []
    assert list(read_events([path], problems)) == []
    assert [str(p) for p in problems] == [f"{path}:1: event ?: not valid JSON: "
                                          "Expecting property name enclosed in double quotes"]
    with pytest.raises(Failed):
        load_config(tmp_path / "missing.toml")
