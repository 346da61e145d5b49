"""Books written by tests: a config and events, or a random history; built and read back.

`build_ok` writes the ledger to disk as `pkgbooks build` does (for the tests of
the commands and reports); `build_in_memory` renders the same ledger text and
loads it with Beancount without writing it (for the rule tests); `load` and
the helpers over it read whichever was built last for a books directory.
`write_history` writes a random history of tools/simulate.py; `built_files`
reads back every file a build wrote, to compare two builds byte for byte.
"""

from __future__ import annotations

import datetime
import json
import textwrap
import tomllib
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import simulate  # tools/simulate.py (tests/conftest.py puts tools/ on the path)
from beancount import loader
from beancount.core import data
from beancount.parser import parser

from pkgbooks.build import Rendered, build, render
from pkgbooks.config import Config
from pkgbooks.engine import apply_rule, commit
from pkgbooks.events import EVENT_ADAPTER
from pkgbooks.ledger import render_main, render_txn
from pkgbooks.rules import Context, Outcome

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "ledgers" / "demo"

BASE_CONFIG = """
title = "Test Spa"
currency = "USD"

[policy]
recognition = "{recognition}"
expired_balance = "{expired_balance}"
payment_allocation = "{payment_allocation}"
redeem_open_packages = {redeem_open}

[locations.loc-11]
name = "Franchise 1 - Location 1.1"
account = "Loc11"
entity = "franchise-1"

[locations.loc-12]
name = "Franchise 1 - Location 1.2"
account = "Loc12"
entity = "franchise-1"

[locations.loc-21]
name = "Franchise 2 - Location 2.1"
account = "Loc21"
entity = "franchise-2"
"""


def config_text(
    extra: str = "",
    *,
    recognition: str = "item_price",
    expired_balance: str = "revenue",
    payment_allocation: str = "products_first",
    redeem_open: bool = False,
) -> str:
    head = BASE_CONFIG.format(
        recognition=recognition, expired_balance=expired_balance,
        payment_allocation=payment_allocation, redeem_open=str(redeem_open).lower(),
    )
    return head + textwrap.dedent(extra)


# books directory -> the entries of its ledger built in memory (the latest few only)
_IN_MEMORY: dict[Path, list[Any]] = {}


def write_books(path: Path, config: str, events: list[dict[str, Any]]) -> Path:
    _IN_MEMORY.pop(path, None)
    path.mkdir(parents=True, exist_ok=True)
    (path / "pkgbooks.toml").write_text(config, encoding="utf-8")
    write_events(path, "events.jsonl", events)
    return path


def write_events(books: Path, name: str, events: list[dict[str, Any]]) -> Path:
    """`events` as the JSONL file `events/NAME` of `books` (beside the files already there)."""
    _IN_MEMORY.pop(books, None)
    (books / "events").mkdir(parents=True, exist_ok=True)
    path = books / "events" / name
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def write_history(seed: int, books: Path, events: int | None = None,
                  move: bool = True) -> Any:
    """A random history of tools/simulate.py written as a books directory; the history.

    With `move`, the last location moves to another entity halfway through
    the history (a new entity when the business has only one), which the
    simulator does not make itself (SPEC 2a): the entity books and the
    partitioned build meet a dated entity change.
    """
    history = simulate.generate(seed, events)
    text = history.config_text
    locations = list(history.config["locations"])
    if move and len(locations) >= 2:
        mover = locations[-1]
        spec = history.config["locations"][mover]
        current = spec.get("entity", mover)
        others = {history.config["locations"][loc].get("entity", loc) for loc in locations}
        target = next((e for e in sorted(others) if e != current), "franchise-new")
        halfway = history.first + (history.last - history.first) / 2
        spec["changes"] = [{"from": halfway, "entity": target}]
        text = simulate.toml_text(history.config)
        history.config_text = text
    books.mkdir(parents=True, exist_ok=True)
    (books / "pkgbooks.toml").write_text(text, encoding="utf-8")
    simulate.write_layout(books, simulate.canonical_layout(history), history.events)
    return history


def today_for(history: Any) -> datetime.date:
    """A build date after every event of the history (dates are checked against today)."""
    last: datetime.date = history.last
    return max(datetime.date.today(), last)


def built_files(books: Path) -> dict[str, bytes]:
    """Every file a build writes, by relative path: main.beancount, all of ledger/ and of
    entities/ (the entities' books are in both)."""
    files = {"main.beancount": (books / "main.beancount").read_bytes()}
    for folder in ("ledger", "entities"):
        for path in sorted((books / folder).rglob("*")):
            if path.is_file():
                files[path.relative_to(books).as_posix()] = path.read_bytes()
    return files


def build_ok(path: Path, as_of: datetime.date | None = None) -> Rendered:
    """Build and insist there was no problem; Beancount must load the result cleanly."""
    result = build(path, as_of)
    assert not result.problems, "\n".join(str(p) for p in result.problems)
    entries, errors, _ = loader.load_file(str(path / "main.beancount"))
    assert not errors, errors
    return result


def build_in_memory(path: Path, as_of: datetime.date | None = None) -> Rendered:
    """Render the ledger as a build would, load the text with Beancount, keep it in memory."""
    result, files = render(path, as_of)
    text = "".join(text for _name, text in files)
    assert not result.problems, "\n".join(str(p) for p in result.problems)
    main = render_main(result.config).replace('include "ledger/*.beancount"\n', "")
    entries, errors, _ = loader.load_string(main + text)
    assert not errors, errors
    _IN_MEMORY[path] = entries
    while len(_IN_MEMORY) > 16:
        del _IN_MEMORY[next(iter(_IN_MEMORY))]
    return result


def problems_of(path: Path, as_of: datetime.date | None = None) -> list[str]:
    """The problems a build of `path` reports, as printed."""
    result, files = render(path, as_of)
    for _file in files:
        pass
    problems = sorted(result.problems, key=lambda p: (p.source.file or "", p.source.line or 0))
    return [str(p) for p in problems]


def load(path: Path) -> list[Any]:
    if path in _IN_MEMORY:
        return _IN_MEMORY[path]
    entries, errors, _ = loader.load_file(str(path / "main.beancount"))
    assert not errors, errors
    return entries


def balances(path: Path, at_end_of: datetime.date | None = None) -> dict[str, Decimal]:
    """Each account's balance from the ledger Beancount loads, up to the end of a day."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for entry in load(path):
        if isinstance(entry, data.Transaction) and (at_end_of is None or entry.date <= at_end_of):
            for posting in entry.postings:
                totals[posting.account] += posting.units.number
    return dict(totals)


def bal(path: Path, account: str, at_end_of: datetime.date | None = None) -> Decimal:
    return balances(path, at_end_of).get(account, Decimal("0.00"))


def txns(path: Path, kind: str | None = None) -> list[data.Transaction]:
    return [
        e for e in load(path)
        if isinstance(e, data.Transaction) and (kind is None or e.meta.get("kind") == kind)
    ]


def d(day: int, month: int = 1, year: int = 2026) -> str:
    return datetime.date(year, month, day).isoformat()


# Events of one package per invoice (`INV-<instance>`), at loc-11 unless told otherwise.

def sale(eid: str, day: int, instance: str, package: str = "cuts-3",
         loc: str = "loc-11") -> dict[str, Any]:
    return {"type": "sale", "id": eid, "date": d(day), "location": loc,
            "invoice": f"INV-{instance}", "customer": "cust-1",
            "lines": [{"package": package, "instance": instance}]}


def pay(eid: str, day: int, instance: str, amount: str, loc: str = "loc-11") -> dict[str, Any]:
    return {"type": "payment", "id": eid, "date": d(day), "location": loc,
            "invoice": f"INV-{instance}", "amount": amount, "method": "card"}


def redeem(eid: str, day: int, instance: str, quantity: int | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "redemption", "id": eid, "date": d(day),
                             "location": "loc-11", "instance": instance, "item": "haircut"}
    if quantity is not None:
        event["quantity"] = quantity
    return event


def refund(eid: str, day: int, instance: str, amount: str, loc: str = "loc-11",
           method: str = "cash") -> dict[str, Any]:
    return {"type": "refund", "id": eid, "date": d(day), "location": loc,
            "instance": instance, "amount": amount, "method": method}


def expire(eid: str, day: int, instance: str) -> dict[str, Any]:
    return {"type": "expiry", "id": eid, "date": d(day), "instance": instance}


# Rule tests as ledger text in, ledger text out, in memory (the model:
# beancount/plugins/check_closing_test.py): a small state made by earlier
# events, one event, and the transactions it writes compared as Beancount text.

def rule_context(config: str, history: list[dict[str, Any]]) -> Context:
    """The books state after `history` (each event must be accepted) under `config`."""
    ctx = Context.new(Config.model_validate(tomllib.loads(config)))
    for raw in history:
        event = EVENT_ADAPTER.validate_python(raw)
        outcome = apply_rule(ctx, event)
        assert not outcome.refusals, outcome.refusals
        commit(ctx, event, outcome)
    return ctx


def outcome_of(config: str, history: list[dict[str, Any]], event: dict[str, Any]) -> Outcome:
    """What `event` does to the books `history` made (not applied)."""
    ctx = rule_context(config, history)
    return apply_rule(ctx, EVENT_ADAPTER.validate_python(event))


def ledger_text(config: str, history: list[dict[str, Any]], event: dict[str, Any]) -> str:
    """The Beancount text of the transactions `event` writes after `history`."""
    outcome = outcome_of(config, history, event)
    assert not outcome.refusals, [str(e) for e in outcome.refusals]
    currency = Config.model_validate(tomllib.loads(config)).currency
    return "".join(render_txn(t, currency) for t in outcome.txns)


def refusal_of(config: str, history: list[dict[str, Any]], event: dict[str, Any]) -> str:
    """The rule `event` breaks after `history`, as the refusal says it."""
    outcome = outcome_of(config, history, event)
    assert outcome.refusals and not outcome.txns and not outcome.changes
    return "; ".join(e.message for e in outcome.refusals)


def assert_ledger(actual: str, expected: str) -> None:
    """Two ledger texts hold the same transactions, line by line, whatever the spacing.

    Both must parse as Beancount; amounts compare as written (two places).
    """
    for text in (actual, expected):
        _entries, errors, _ = parser.parse_string(textwrap.dedent(text))
        assert not errors, errors
    assert _lines(actual) == _lines(expected), "\n" + actual


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in textwrap.dedent(text).splitlines()
            if line.strip()]
