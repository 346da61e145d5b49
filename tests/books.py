"""Small books written by tests: a config, some events, built for real and read back."""

from __future__ import annotations

import datetime
import json
import textwrap
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from beancount import loader
from beancount.core import data

from pkgbooks.build import Rendered, build

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


def write_books(path: Path, config: str, events: list[dict[str, Any]]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "pkgbooks.toml").write_text(config, encoding="utf-8")
    (path / "events").mkdir(exist_ok=True)
    (path / "events" / "events.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in events), encoding="utf-8"
    )
    return path


def build_ok(path: Path, as_of: datetime.date | None = None) -> Rendered:
    """Build and insist there was no problem; Beancount must load the result cleanly."""
    result = build(path, as_of)
    assert not result.problems, "\n".join(str(p) for p in result.problems)
    entries, errors, _ = loader.load_file(str(path / "main.beancount"))
    assert not errors, errors
    return result


def problems_of(path: Path, as_of: datetime.date | None = None) -> list[str]:
    return [str(p) for p in build(path, as_of).problems]


def load(path: Path) -> list[Any]:
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
