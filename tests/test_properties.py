"""Property tests: random multi-location histories, built for real, checked against SPEC 4.7.

A Hypothesis strategy writes a random history of point-of-sale events for a
small fixed catalog (taxed, initial-recognition, multi-item, free-item and
any-service packages, three locations in two entities) under randomly drawn
policies: sales, partial payments (also at other locations), redemptions at
any location, refunds, explicit expiries, automatic expiries through
`--as-of`, exact duplicates, and, in some histories, events the engine must
refuse (id conflicts, over-payments, units that are not there, finished
packages, unknown references, malformed lines).

An independent model of SPEC 3-4 (`ModelBooks`, written from the SPEC, not
from the engine) replays the files in SPEC 3.3 application order and says
which events are applied, which are refused, which package instances are
finished and what each package's liability must be.

The history without its refused lines is built with `pkgbooks.build.build`
and the ledger Beancount loads is checked for the SPEC 4.7 invariants:

1. every transaction balances (Beancount loads it without errors), and each
   touches one location's accounts only (SPEC 4);
2. per package instance the liability (Deposits + Deferred) is never
   negative, after every transaction; used-up, expired and refunded
   packages end at exactly 0.00 (and every package at the model's figure);
3. Assets:A:DueFrom:B + Liabilities:B:DueTo:A = 0 at the end of every day;
4. roll-forward per location and month, payment and sale basis:
   closing = opening + sales - redemptions - expirations - refunds,
   every figure classified by the transaction's `kind`;
5. every applied event id is in the ledger's `event` metadata (one date per
   event), no refused one is, the automatic expiries are exactly the ones
   due by the as-of date, and read = applied + duplicates + rejected + later;

plus: a rebuild is byte-identical, `pkgbooks.validate.validate` reports no
failure, and the full history (with the refused lines) is refused line by line,
writes nothing (the previous ledger stays byte for byte, no temporary file
is left), renders no transaction after its own as-of date and, but for that
date, exactly the ledger of the history without them.

PKGBOOKS_PROPERTY_EXAMPLES=N runs N examples per property (default 100).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from beancount import loader
from beancount.core import data
from books import config_text
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pkgbooks.build import build, render
from pkgbooks.entities import with_entity_books
from pkgbooks.validate import validate

D = Decimal
ZERO = D("0.00")
CENT = D("0.01")
START = datetime.date(2026, 1, 1)

# ---------------------------------------------------------------------------
# The fixed catalog
# ---------------------------------------------------------------------------

LOCATIONS = {"loc-11": "Loc11", "loc-12": "Loc12", "loc-21": "Loc21"}
ENTITY = {"loc-11": "franchise-1", "loc-12": "franchise-1", "loc-21": "franchise-2"}
SEGMENT_TO_LOC = {seg: loc for loc, seg in LOCATIONS.items()}

CATALOG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[items.massage]
name = "Massage"
category = "service"
price = "70.00"

[items.facial]
name = "Facial"
category = "service"
price = "varies"

[items.towel]
name = "Hot towel"
category = "service"

[items.oil]
name = "Massage oil"
category = "product"
price = "40.00"

[items.yoga]
name = "Yoga class"
category = "class"
price = "12.00"

[items.trial]
name = "Trial class"
category = "class"
price = "0.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
tax_rate = "0.10"
validity_days = 30
grace_days = 10
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.cuts-3.location_prices.loc-21]
haircut = "90.00"

[packages.combo]
name = "Massage, oil and yoga"
price = "180.00"
tax_rate = "0.0825"
initial_recognition = "5%"
validity_days = 60
items = [ { item = "massage", quantity = 2, price = "120.00" },
          { item = "oil", quantity = 1, price = "30.00" },
          { item = "yoga", quantity = 3, price = "45.00" } ]

[packages.any-5]
name = "Any five services and two free towels"
price = "200.00"
initial_recognition = "10.00"
items = [ { item = "*", quantity = 5, price = "200.00" },
          { item = "towel", quantity = 2, price = "0.00" } ]

[packages.mini]
name = "One facial"
price = "33.33"
tax_rate = "0.07"
validity_days = 7
items = [ { item = "facial", quantity = 1, price = "33.33" } ]

[packages.yoga-10]
name = "Ten yoga classes and a free trial"
price = "99.99"
initial_recognition = "12.34"
validity_days = 45
grace_days = 5
items = [ { item = "yoga", quantity = 10, price = "99.99" },
          { item = "trial", quantity = 1, price = "0.00" } ]

[packages.day-pass]
name = "Same-day pass"
price = "15.00"
tax_rate = "0.05"
validity_days = 0
items = [ { item = "haircut", quantity = 1, price = "15.00" } ]
"""

RECONCILIATION = """
[reconciliation]
start = {start}
rates = {{ service = "0.05", product = "0.30", class = "0.20" }}
"""


@dataclass(frozen=True)
class ItemSpec:
    category: str
    list_price: Decimal | None  # None: "varies" or absent


ITEMS = {
    "haircut": ItemSpec("service", D("40.00")),
    "massage": ItemSpec("service", D("70.00")),
    "facial": ItemSpec("service", None),
    "towel": ItemSpec("service", None),
    "oil": ItemSpec("product", D("40.00")),
    "yoga": ItemSpec("class", D("12.00")),
    "trial": ItemSpec("class", D("0.00")),
}
SERVICES = [name for name, spec in ITEMS.items() if spec.category == "service"]


@dataclass(frozen=True)
class PackageSpec:
    price: Decimal
    tax_rate: Decimal
    ir: str | None  # "5%" or "10.00"
    validity: int | None
    grace: int
    groups: tuple[tuple[str, int, Decimal], ...]  # (item, quantity, group price)
    location_prices: dict[str, dict[str, Decimal]] = field(default_factory=dict)


PACKAGES = {
    "cuts-3": PackageSpec(D("100.00"), D("0.10"), None, 30, 10,
                          (("haircut", 3, D("100.00")),),
                          {"loc-21": {"haircut": D("90.00")}}),
    "combo": PackageSpec(D("180.00"), D("0.0825"), "5%", 60, 0,
                         (("massage", 2, D("120.00")), ("oil", 1, D("30.00")),
                          ("yoga", 3, D("45.00")))),
    "any-5": PackageSpec(D("200.00"), D("0"), "10.00", None, 0,
                         (("*", 5, D("200.00")), ("towel", 2, D("0.00")))),
    "mini": PackageSpec(D("33.33"), D("0.07"), None, 7, 0, (("facial", 1, D("33.33")),)),
    "yoga-10": PackageSpec(D("99.99"), D("0"), "12.34", 45, 5,
                           (("yoga", 10, D("99.99")), ("trial", 1, D("0.00")))),
    "day-pass": PackageSpec(D("15.00"), D("0.05"), None, 0, 0, (("haircut", 1, D("15.00")),)),
}

# SPEC 3.3: within a date, events apply by kind in this order.
RANK = {"sale": 0, "payment": 1, "redemption": 2, "refund": 3, "expiry": 4, "void": 5}

# ---------------------------------------------------------------------------
# Money, from the SPEC (not from pkgbooks.money)
# ---------------------------------------------------------------------------


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def largest_remainder(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `total` pro rata to `weights`; floors first, then leftover cents by remainder."""
    n_cents = int(total * 100)
    wsum = sum(weights, D(0))
    if wsum == 0:
        weights, wsum = [D(1)] * len(weights), D(len(weights))
    exact = [D(n_cents) * w / wsum for w in weights]
    floors = [int(e.to_integral_value(rounding=ROUND_FLOOR)) for e in exact]
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[: n_cents - sum(floors)]:
        floors[i] += 1
    return [D(c) / 100 for c in floors]


def unit_allocation(total: Decimal, groups: list[tuple[Decimal, int]]) -> list[Decimal]:
    """Proportional recognition (4.3): `total` over every unit of the groups, largest remainder.

    `groups` = (weight of the group, its units); a group's units share its weight
    equally. Each unit first takes its exact share rounded down to the cent; the
    cents left go one by one to the units with the largest remainders, ties to
    the earlier unit. Returns each group's total. All-zero weights: by units.
    """
    n_cents = int(total * 100)
    weights = [Fraction(w) for w, _q in groups]
    if sum(weights) == 0:
        weights = [Fraction(q) for _w, q in groups]
    wsum = sum(weights)
    units = []  # (group, exact share in cents) for every unit, in order
    for g, ((_w, qty), weight) in enumerate(zip(groups, weights, strict=True)):
        units += [(g, n_cents * weight / wsum / qty)] * qty
    floors = [math.floor(share) for _g, share in units]
    order = sorted(range(len(units)), key=lambda i: (floors[i] - units[i][1], i))
    for i in order[: n_cents - sum(floors)]:
        floors[i] += 1
    totals = [0] * len(groups)
    for (g, _share), c in zip(units, floors, strict=True):
        totals[g] += c
    return [D(c) / 100 for c in totals]


def equal_share(total: Decimal, count: int, used: int, taken: int) -> Decimal:
    """Units used+1 .. used+taken of `total` split equally (largest remainder: extra cents
    go to the first units)."""
    base, extra = divmod(int(total * 100), count)
    parts = [base + (1 if i < extra else 0) for i in range(count)]
    return D(sum(parts[used:used + taken])) / 100


def fmt(amount: Decimal) -> str:
    return f"{amount:.2f}"


# ---------------------------------------------------------------------------
# The model: SPEC 3-4 replayed on the package / invoice level
# ---------------------------------------------------------------------------


class Refused(Exception):
    pass


@dataclass
class MGroup:
    item: str
    quantity: int
    value: Decimal
    used: int = 0


@dataclass
class MPackage:
    instance: str
    package: str
    invoice: str
    location: str
    expires: datetime.date | None
    price: Decimal
    tax: Decimal
    ir: Decimal
    groups: dict[str, MGroup]
    ir_done: Decimal = ZERO
    recognised: Decimal = ZERO
    liability: Decimal = ZERO
    tax_paid: Decimal = ZERO
    status: str = "live"
    finished_on: datetime.date | None = None

    @property
    def units_left(self) -> int:
        return sum(g.quantity - g.used for g in self.groups.values())

    @property
    def total_units(self) -> int:
        return sum(g.quantity for g in self.groups.values())


@dataclass
class MLine:
    gross: Decimal
    tax: Decimal
    instance: str | None = None
    paid: Decimal = ZERO
    tax_paid: Decimal = ZERO

    @property
    def unpaid(self) -> Decimal:
        return self.gross - self.paid


@dataclass
class MInvoice:
    invoice: str
    location: str
    lines: list[MLine]
    closed: bool = False

    @property
    def unpaid(self) -> Decimal:
        return sum((ln.unpaid for ln in self.lines), ZERO)


@dataclass
class Policy:
    recognition: str
    expired_balance: str
    payment_allocation: str
    redeem_open: bool


class ModelBooks:
    """The books on the level of packages and invoices; `apply` raises Refused."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.packages: dict[str, MPackage] = {}
        self.invoices: dict[str, MInvoice] = {}
        self.auto_expired: list[str] = []

    # -- queries the generator uses ------------------------------------------
    def live(self) -> list[MPackage]:
        return [p for p in self.packages.values() if p.status == "live"]

    def open_invoices(self) -> list[MInvoice]:
        return [inv for inv in self.invoices.values() if not inv.closed]

    def is_open(self, pkg: MPackage) -> bool:
        return not self.invoices[pkg.invoice].closed

    # -- time ------------------------------------------------------------------
    def expire_before(self, date: datetime.date, inclusive: bool = False) -> None:
        """Automatic expiries (4.4) due before events of `date` (through it if inclusive)."""
        due = sorted(
            (p.expires, p.instance) for p in self.live()
            if p.expires is not None and (p.expires < date or (inclusive and p.expires == date))
        )
        for when, instance in due:
            self.auto_expired.append(instance)
            self._finish(self.packages[instance], "expired", when)

    # -- events ----------------------------------------------------------------
    def apply(self, ev: dict[str, Any]) -> None:
        kind = ev["type"]
        date = datetime.date.fromisoformat(ev["date"])
        if kind != "expiry" and ev["location"] not in LOCATIONS:
            raise Refused("unknown location")
        getattr(self, "_" + kind)(ev, date)

    def _sale(self, ev: dict[str, Any], date: datetime.date) -> None:
        if ev["invoice"] in self.invoices:
            raise Refused("invoice already sold")
        seen: set[str] = set()
        for line in ev["lines"]:
            if "package" in line:
                if line["package"] not in PACKAGES:
                    raise Refused("unknown package")
                if line["instance"] in seen or line["instance"] in self.packages:
                    raise Refused("instance already sold")
                seen.add(line["instance"])
        lines = []
        for line in ev["lines"]:
            if "product" in line:
                amount, tax = D(line["amount"]), D(line.get("tax", "0.00"))
                lines.append(MLine(amount + tax, tax))
                continue
            spec = PACKAGES[line["package"]]
            price = D(line["price"]) if "price" in line else spec.price
            tax = cents(price * spec.tax_rate)
            if spec.ir is None:
                ir = ZERO
            elif spec.ir.endswith("%"):
                ir = min(cents(price * D(spec.ir[:-1]) / 100), price)
            else:
                ir = min(D(spec.ir), price)
            expires = None
            if spec.validity is not None:
                expires = date + datetime.timedelta(days=spec.validity + spec.grace)
            overrides = spec.location_prices.get(ev["location"], {})
            prices = [overrides.get(item, gp) for item, _q, gp in spec.groups]
            if self.policy.recognition == "item_price":
                values = prices
                if price != spec.price and spec.price:  # a line price scales them (4.3)
                    values = largest_remainder(cents(sum(prices, ZERO) * price / spec.price),
                                               prices)
            else:
                weights = []
                for (item, qty, _gp), gp in zip(spec.groups, prices, strict=True):
                    lp = ITEMS[item].list_price if item in ITEMS else None
                    weights.append((lp * qty if lp is not None else gp, qty))
                values = unit_allocation(max(price - ir, ZERO), weights)
            groups = {item: MGroup(item, qty, value)
                      for (item, qty, _gp), value in zip(spec.groups, values, strict=True)}
            self.packages[line["instance"]] = MPackage(
                line["instance"], line["package"], ev["invoice"], ev["location"], expires,
                price, tax, ir, groups)
            lines.append(MLine(price + tax, tax, instance=line["instance"]))
        inv = MInvoice(ev["invoice"], ev["location"], lines)
        inv.closed = inv.unpaid == 0
        self.invoices[ev["invoice"]] = inv

    def _payment(self, ev: dict[str, Any], date: datetime.date) -> None:
        inv = self.invoices.get(ev["invoice"])
        amount = D(ev["amount"])
        if inv is None or inv.closed:
            raise Refused("unknown or fully paid invoice")
        if amount > inv.unpaid:
            raise Refused("payment exceeds what the invoice owes")
        closes = amount == inv.unpaid
        open_lines = [ln for ln in inv.lines if ln.unpaid > 0]
        if self.policy.payment_allocation == "proportional":
            shares = list(zip(open_lines,
                              largest_remainder(amount, [ln.unpaid for ln in open_lines]),
                              strict=True))
        else:
            order = ([ln for ln in open_lines if ln.instance is None]
                     + [ln for ln in open_lines if ln.instance is not None])
            shares, left = [], amount
            for ln in order:
                part = min(left, ln.unpaid)
                shares.append((ln, part))
                left -= part
        for ln, share in shares:
            if not share:
                continue
            tax_left = ln.tax - ln.tax_paid
            if share == ln.unpaid or ln.gross == 0:
                tax = tax_left
            else:
                net_left = ln.unpaid - tax_left
                tax = min(max(cents(share * ln.tax / ln.gross), share - net_left, ZERO),
                          tax_left, share)
            ln.paid += share
            ln.tax_paid += tax
            if ln.instance is None:
                continue
            pkg = self.packages[ln.instance]
            if pkg.status != "live":
                continue  # an ended package's money is an expired balance (4.9)
            net = share - tax
            ir = min(net, pkg.ir - pkg.ir_done)
            pkg.ir_done += ir
            pkg.tax_paid += tax
            pkg.liability += net - ir
        if closes:
            inv.closed = True

    def _live(self, instance: str) -> MPackage:
        pkg = self.packages.get(instance)
        if pkg is None:
            raise Refused("unknown instance")
        if pkg.status != "live":
            raise Refused(f"package is {pkg.status}")
        return pkg

    def redemption_value(self, pkg: MPackage, group: MGroup, quantity: int) -> Decimal:
        remaining = pkg.price - pkg.ir - pkg.recognised
        if quantity == pkg.units_left:
            return remaining
        return min(equal_share(group.value, group.quantity, group.used, quantity), remaining)

    def group_for(self, pkg: MPackage, item: str) -> MGroup | None:
        if item not in ITEMS:
            return None
        group = pkg.groups.get(item)
        star = pkg.groups.get("*")
        if ITEMS[item].category == "service" and star is not None and (
                group is None or group.used == group.quantity):
            group = star  # not listed, or none of its own units left (4.3)
        return group

    def _redemption(self, ev: dict[str, Any], date: datetime.date) -> None:
        pkg = self._live(ev["instance"])
        if pkg.expires is not None and date >= pkg.expires:
            raise Refused("on or after the expiry date")
        group = self.group_for(pkg, ev["item"])
        if group is None:
            raise Refused("item not in the package")
        quantity = ev.get("quantity", 1)
        if quantity > group.quantity - group.used:
            raise Refused("more units than remain")
        is_open = self.is_open(pkg)
        if is_open and not self.policy.redeem_open:
            raise Refused("open invoice")
        value = self.redemption_value(pkg, group, quantity)
        if is_open and value > pkg.liability:
            raise Refused("beyond the payments of an open invoice")
        group.used += quantity
        pkg.recognised += value
        pkg.liability -= value
        if pkg.units_left == 0:
            self._finish(pkg, "used up", date)

    def refund_net(self, pkg: MPackage, amount: Decimal) -> Decimal:
        gross = pkg.price + pkg.tax
        tax = cents(amount * pkg.tax / gross) if gross else ZERO
        return amount - min(tax, pkg.tax_paid)

    def _refund(self, ev: dict[str, Any], date: datetime.date) -> None:
        pkg = self._live(ev["instance"])
        amount = D(ev["amount"])
        net = self.refund_net(pkg, amount)  # never refused (4.5): goodwill beyond
        pkg.tax_paid -= amount - net
        self._finish(pkg, "refunded", date)

    def _expiry(self, ev: dict[str, Any], date: datetime.date) -> None:
        pkg = self._live(ev["instance"])
        if pkg.expires is not None and date > pkg.expires:
            raise Refused("already expired")
        self._finish(pkg, "expired", date)

    def _finish(self, pkg: MPackage, status: str, date: datetime.date) -> None:
        pkg.status, pkg.finished_on = status, date
        pkg.liability = ZERO if status in ("expired", "refunded") else pkg.liability
        # What is unpaid on its invoice line stays payable (4.9).


# ---------------------------------------------------------------------------
# Histories
# ---------------------------------------------------------------------------


@dataclass
class Line:
    """One line of an event file: an event (or a malformed record) and its role."""

    event: dict[str, Any] | None
    text: str
    role: str  # "event", "dup" (exact copy), "conflict" (old id, new content), "malformed"
    rank: int
    date: str


@dataclass(repr=False)
class History:
    policy: Policy
    reconciliation_start: datetime.date | None
    files: dict[str, list[Line]]  # file name -> lines, in file order
    as_of: datetime.date | None

    def config(self) -> str:
        extra = CATALOG
        if self.reconciliation_start is not None:
            extra += RECONCILIATION.format(start=self.reconciliation_start.isoformat())
        return config_text(
            extra, recognition=self.policy.recognition,
            expired_balance=self.policy.expired_balance,
            payment_allocation=self.policy.payment_allocation,
            redeem_open=self.policy.redeem_open,
        )

    def write(self, books: Path, keep: set[tuple[str, int]] | None = None) -> None:
        """Write the books; `keep` = the (file, line) to write (default: all)."""
        books.mkdir(parents=True, exist_ok=True)
        (books / "pkgbooks.toml").write_text(self.config(), encoding="utf-8")
        events = books / "events"
        events.mkdir(exist_ok=True)
        for old in events.iterdir():
            old.unlink()
        for name, lines in self.files.items():
            text = "".join(
                ln.text + "\n" for n, ln in enumerate(lines, 1)
                if keep is None or (name, n) in keep
            )
            (events / name).write_text(text, encoding="utf-8")

    def __repr__(self) -> str:
        return "History:\n" + self.describe()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # Hypothesis' printer
        printer.text(repr(self))

    def describe(self) -> str:
        out = [f"policy={self.policy} reconciliation={self.reconciliation_start} "
               f"as_of={self.as_of}"]
        for name, lines in self.files.items():
            out.append(f"--- {name}")
            out.extend(f"{n:3d} [{ln.role}] {ln.text}" for n, ln in enumerate(lines, 1))
        return "\n".join(out)


@dataclass
class Outcome:
    """What the model says a history gives."""

    applied: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, id)
    refused: list[tuple[str, int, str, str]] = field(default_factory=list)  # + reason
    malformed: list[tuple[str, int]] = field(default_factory=list)
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    after_as_of: list[tuple[str, int]] = field(default_factory=list)
    end: datetime.date | None = None
    books: ModelBooks | None = None


def replay(history: History, keep: set[tuple[str, int]] | None = None) -> Outcome:
    """Run the model over the files in SPEC 3.3 order: date, kind, file name, line."""
    out = Outcome()
    names = sorted(history.files)
    keyed = []
    for index, name in enumerate(names):
        for n, ln in enumerate(history.files[name], 1):
            if keep is not None and (name, n) not in keep:
                continue
            if ln.role == "malformed":
                out.malformed.append((name, n))
                continue
            keyed.append(((ln.date, ln.rank, index, n), name, n, ln))
    keyed.sort(key=lambda k: k[0])
    model = ModelBooks(history.policy)
    seen: dict[str, str] = {}
    last: datetime.date | None = None
    for _key, name, n, ln in keyed:
        ev = ln.event
        assert ev is not None
        date = datetime.date.fromisoformat(ev["date"])
        if history.as_of is not None and date > history.as_of:
            out.after_as_of.append((name, n))
            continue
        model.expire_before(date)
        last = date if last is None else max(last, date)
        content = json.dumps(ev, sort_keys=True)
        if ev["id"] in seen:
            if seen[ev["id"]] == content:
                out.duplicates.append((name, n))
            else:
                out.refused.append((name, n, ev["id"], "id used by a different event"))
            continue
        seen[ev["id"]] = content
        try:
            model.apply(ev)
        except Refused as why:
            out.refused.append((name, n, ev["id"], str(why)))
            continue
        out.applied.append((name, n, ev["id"]))
    out.end = history.as_of or last  # the latest date read (refused events too)
    if out.end is not None:
        model.expire_before(out.end, inclusive=True)
    out.books = model
    return out


def _money(draw: Any, low_cents: int, high_cents: int) -> Decimal:
    return D(draw(st.integers(low_cents, high_cents))) / 100


@st.composite
def histories(draw: Any) -> History:
    policy = Policy(
        recognition=draw(st.sampled_from(["item_price", "proportional"])),
        expired_balance=draw(st.sampled_from(["revenue", "liability"])),
        payment_allocation=draw(st.sampled_from(["products_first", "proportional"])),
        redeem_open=draw(st.booleans()),
    )
    n_days = draw(st.integers(1, 20))
    gaps = draw(st.lists(st.integers(1, 12), min_size=n_days, max_size=n_days))
    days, day = [], START
    for gap in gaps:
        day += datetime.timedelta(days=gap)
        days.append(day)
    rec_start = draw(st.one_of(st.none(), st.integers(-5, 60).map(
        lambda k: START + datetime.timedelta(days=k))))
    bad_rate = draw(st.sampled_from([0, 0, 0, 5, 15]))  # % of deliberately bad events
    dup_rate = draw(st.sampled_from([0, 0, 5]))
    layout = draw(st.sampled_from(["month", "month", "month+kind", "single"]))

    model = ModelBooks(policy)  # the generator's own view, to aim at valid events
    emitted: list[Line] = []
    counter = {"n": 0}

    def new_id(prefix: str) -> str:
        counter["n"] += 1
        return f"{prefix}-{counter['n']}"

    def bad() -> bool:
        return bool(bad_rate) and draw(st.integers(0, 99)) < bad_rate

    def pick(seq: list[Any]) -> Any:
        return draw(st.sampled_from(seq))

    def location(source: str | None = None) -> str:
        if bad() and draw(st.booleans()):
            return "loc-99"
        if source is not None and draw(st.integers(0, 9)) < 6:
            return source
        return pick(list(LOCATIONS))

    for date in days:
        today = date.isoformat()
        model.expire_before(date)
        todays: list[Line] = []

        def emit(ev: dict[str, Any], role: str = "event", _today: list[Line] = todays) -> None:
            line = Line(ev, json.dumps(ev), role, RANK[ev["type"]], ev["date"])
            _today.append(line)
            if role == "event":
                with contextlib.suppress(Refused):
                    model.apply(ev)

        # sales
        for _ in range(draw(st.integers(0, 2))):
            lines = []
            for _ in range(draw(st.integers(1, 3))):
                if draw(st.integers(0, 9)) < 2:
                    amount = _money(draw, 0, 3000)
                    tax = pick([ZERO, cents(amount * D("0.08"))])
                    lines.append({"product": pick(["shampoo", "candle"]),
                                  "amount": fmt(amount), "tax": fmt(tax)})
                    continue
                pkg_id = pick(list(PACKAGES))
                instance = new_id("PK")
                if bad() and model.packages:
                    instance = pick(sorted(model.packages))
                if bad():
                    pkg_id = "no-such-package"
                line = {"package": pkg_id, "instance": instance}
                if draw(st.integers(0, 19)) == 0:
                    line["price"] = fmt(_money(draw, 0, 25000))
                lines.append(line)
            invoice = new_id("INV")
            if bad() and model.invoices:
                invoice = pick(sorted(model.invoices))
            ev = {"type": "sale", "id": new_id("s"), "date": today, "location": location(),
                  "invoice": invoice, "customer": f"cust-{draw(st.integers(1, 4))}",
                  "lines": lines}
            if draw(st.booleans()):
                ev["staff"] = pick(["ann", "bob", "cyd"])
            emit(ev)

        # payments
        for _ in range(draw(st.integers(0, 3))):
            open_invs = sorted(model.open_invoices(), key=lambda i: i.invoice)
            if not open_invs and not bad():
                break
            if open_invs and not bad():
                inv = pick(open_invs)
                unpaid = int(inv.unpaid * 100)
                whole = draw(st.integers(0, 2)) == 0 or unpaid == 1
                amount = D(unpaid if whole else draw(st.integers(1, unpaid - 1))) / 100
                invoice, src = inv.invoice, inv.location
            else:  # over-payment, a paid invoice, or an unknown invoice
                choice = draw(st.integers(0, 2))
                src = pick(list(LOCATIONS))
                if choice == 0 and open_invs:
                    inv = pick(open_invs)
                    invoice, src = inv.invoice, inv.location
                    amount = inv.unpaid + _money(draw, 1, 500)
                elif choice == 1 and model.invoices:
                    invoice = pick(sorted(model.invoices))
                    amount = _money(draw, 1, 20000)
                else:
                    invoice, amount = new_id("INV-NONE"), _money(draw, 1, 5000)
            emit({"type": "payment", "id": new_id("p"), "date": today,
                  "location": location(src), "invoice": invoice, "amount": fmt(amount),
                  "method": pick(["cash", "card", "other"])})

        # redemptions
        for _ in range(draw(st.integers(0, 4))):
            usable = [  # (package, group) the model accepts one unit of, today
                (p, g) for p in sorted(model.live(), key=lambda p: p.instance)
                if p.expires is None or p.expires > date
                for g in p.groups.values() if g.used < g.quantity
                and (not model.is_open(p) or (policy.redeem_open and model.redemption_value(
                    p, g, 1) <= p.liability))
            ]
            is_bad = bad()
            if not is_bad and not usable:
                break
            if is_bad:
                choice = draw(st.integers(0, 3))
                instance = pick(sorted(model.packages)) if model.packages else new_id("PK-NONE")
                if choice == 0:
                    instance = new_id("PK-NONE")
                item = pick([*ITEMS, "unicorn"])
                quantity = draw(st.integers(1, 12))
            else:
                pkg, group = pick(usable)
                instance = pkg.instance
                item = group.item
                if item == "*":  # a service the package does not hold by name
                    item = pick([s for s in SERVICES if s not in pkg.groups])
                left = group.quantity - group.used
                quantity = 1 if draw(st.integers(0, 3)) else draw(st.integers(1, left))
            src = model.packages[instance].location if instance in model.packages else None
            ev = {"type": "redemption", "id": new_id("r"), "date": today,
                  "location": location(src), "instance": instance, "item": item}
            if quantity != 1 or draw(st.booleans()):
                ev["quantity"] = quantity
            if draw(st.booleans()):
                ev["staff"] = pick(["ann", "bob", "cyd", "dee"])
            emit(ev)

        # refunds
        if draw(st.integers(0, 5)) == 0:
            live = sorted((p for p in model.live() if p.liability > 0), key=lambda p: p.instance)
            is_bad = bad()
            if not is_bad and live:
                pkg = pick(live)
                amount = D(draw(st.integers(1, int(pkg.liability * 100)))) / 100
                instance = pkg.instance
            elif not is_bad:
                instance = ""
            elif model.packages:
                instance = pick(sorted(model.packages))
                spec = model.packages[instance]
                amount = spec.price + spec.tax + _money(draw, 1, 1000)
            else:
                instance, amount = new_id("PK-NONE"), _money(draw, 1, 1000)
            src = model.packages[instance].location if instance in model.packages else None
            if instance:
                emit({"type": "refund", "id": new_id("f"), "date": today,
                      "location": location(src), "instance": instance,
                      "amount": fmt(amount), "method": pick(["cash", "card", "other"])})

        # explicit expiries
        if draw(st.integers(0, 6)) == 0:
            live = sorted(model.live(), key=lambda p: p.instance)
            is_bad = bad()
            if not is_bad and live:
                instance = pick(live).instance
            elif not is_bad:
                instance = ""
            elif model.packages:
                instance = pick(sorted(model.packages))
            else:
                instance = new_id("PK-NONE")
            if instance:
                emit({"type": "expiry", "id": new_id("x"), "date": today,
                      "instance": instance})

        # exact duplicates and id conflicts (never applied by the generator's model)
        earlier = [ln for ln in emitted if ln.role == "event"]
        if dup_rate and earlier + todays and draw(st.integers(0, 99)) < dup_rate * 4:
            original = pick([ln for ln in earlier + todays if ln.role == "event"])
            assert original.event is not None
            emit(dict(original.event), role="dup")
        if bad_rate and earlier and bad():
            original = pick(earlier)
            assert original.event is not None
            conflict = dict(original.event, date=today)
            emit(conflict, role="conflict")
        if bad_rate and bad():
            kind = draw(st.integers(0, 2))
            if kind == 0:
                text = json.dumps({"type": "payment", "id": new_id("m"), "date": today,
                                   "location": "loc-11", "invoice": "INV-1",
                                   "amount": "1.234", "method": "card"})
            elif kind == 1:
                text = json.dumps({"type": "redemption", "id": new_id("m"), "date": today,
                                   "location": "loc-11", "instance": "PK-1", "item": "yoga",
                                   "quantity": 0})
            else:
                text = json.dumps({"type": "expiry", "id": new_id("m"), "date": today,
                                   "instance": "PK-1", "colour": "blue"})
            todays.append(Line(None, text, "malformed", RANK["expiry"], today))
        todays.sort(key=lambda ln: ln.rank)  # stable: same-kind lines keep their order
        emitted.extend(todays)

    # Lay the lines out in files; a shuffle keeps each (date, kind)'s relative order.
    files: dict[str, list[Line]] = defaultdict(list)
    for ln in emitted:
        if layout == "single":
            name = "events.jsonl"
        elif layout == "month":
            name = f"{ln.date[:7]}.jsonl"
        else:
            name = f"{ln.date[:7]}-{'sales' if ln.rank == 0 else 'other'}.jsonl"
        files[name].append(ln)
    if draw(st.booleans()):
        rnd = draw(st.randoms(use_true_random=False))
        for name, lines in files.items():
            shuffled = lines[:]
            rnd.shuffle(shuffled)
            slots: dict[tuple[str, int], list[int]] = defaultdict(list)
            for pos, ln in enumerate(shuffled):
                slots[(ln.date, ln.rank)].append(pos)
            order: dict[tuple[str, int], list[Line]] = defaultdict(list)
            for ln in lines:
                order[(ln.date, ln.rank)].append(ln)
            result: list[Line | None] = [None] * len(lines)
            for key, positions in slots.items():
                for pos, ln in zip(positions, order[key], strict=True):
                    result[pos] = ln
            files[name] = [ln for ln in result if ln is not None]

    last = days[-1]
    as_of_mode = draw(st.sampled_from(["none", "none", "later", "inside"]))
    as_of = None
    if as_of_mode == "later":
        as_of = last + datetime.timedelta(days=draw(st.integers(0, 120)))
    elif as_of_mode == "inside":
        as_of = pick(days)
    return History(policy, rec_start, dict(files), as_of)


# ---------------------------------------------------------------------------
# Reading the ledger back
# ---------------------------------------------------------------------------

LIABILITY = (":Packages:Deposits", ":Packages:Deferred")


def ledger_files(books: Path) -> dict[str, bytes]:
    out = {"main.beancount": (books / "main.beancount").read_bytes()}
    for path in sorted([*books.glob("ledger/**/*"), *books.glob("entities/*.beancount")]):
        if path.is_file():  # the entities' books are in ledger/entities/ and entities/
            out[path.relative_to(books).as_posix()] = path.read_bytes()
    return out


def units(p: data.Posting) -> Decimal:
    return p.units.number


def instance_of(t: data.Transaction, p: data.Posting) -> str | None:
    value = (p.meta or {}).get("instance") or t.meta.get("instance")
    return str(value) if value else None


def segment(account: str) -> str:
    return account.split(":")[1]


def check_ledger(books: Path, history: History, out: Outcome, counts: Any) -> None:
    """SPEC 4.7 invariants on the ledger Beancount loads, and the model's figures."""
    entries, errors, _ = loader.load_file(str(books / "main.beancount"))
    # 1. every transaction balances; balance assertions hold; one location per transaction
    assert not errors, "\n".join(str(e.message) for e in errors)
    txns = [e for e in entries if isinstance(e, data.Transaction)]
    for t in txns:
        touched = {segment(p.account) for p in t.postings}
        assert len(touched) <= 1, f"{t.meta.get('event')} touches {sorted(touched)}"
        assert t.meta.get("kind") in {"sale", "payment", "close", "redemption", "expiry",
                                      "refund", "reconciliation"}, t.meta

    # 2. per package: never a negative liability; finished packages at 0.00
    model = out.books
    assert model is not None
    liability: dict[str, Decimal] = defaultdict(Decimal)
    for t in txns:
        touched = set()
        for p in t.postings:
            if p.account.endswith(LIABILITY):
                instance = instance_of(t, p)
                assert instance is not None, f"{t.meta['event']}: {p.account} has no instance"
                liability[instance] += units(p)
                touched.add(instance)
        for instance in touched:
            assert liability[instance] <= 0, (
                f"package {instance} liability is negative ({-liability[instance]}) after "
                f"{t.meta['event']} ({t.meta['kind']}) on {t.date}")
    used: dict[str, int] = defaultdict(int)
    for t in txns:
        if t.meta["kind"] == "redemption":
            used[str(t.meta["instance"])] += int(t.meta["quantity"])
    sold = {str(t.meta["instance"]): str(t.meta["package"]) for t in txns
            if t.meta["kind"] == "sale" and "instance" in t.meta}
    ledger_finished = {str(t.meta["instance"]) for t in txns
                       if t.meta["kind"] in ("expiry", "refund")}
    ledger_finished |= {i for i, pkg in sold.items()
                        if used[i] == sum(q for _, q, _ in PACKAGES[pkg].groups)}
    model_finished = {i for i, p in model.packages.items() if p.status != "live"}
    assert ledger_finished == model_finished, (ledger_finished ^ model_finished)
    for instance in sorted(ledger_finished):
        assert liability.get(instance, ZERO) == 0, (
            f"package {instance} is {model.packages[instance].status} but its liability is "
            f"{-liability[instance]}")
    for instance, pkg in model.packages.items():
        assert -liability.get(instance, ZERO) == pkg.liability, (
            f"package {instance}: ledger liability {-liability.get(instance, ZERO)}, "
            f"model {pkg.liability}")
        assert used[instance] == sum(g.used for g in pkg.groups.values()), instance

    # 3. due-to / due-from eliminate at the end of every day
    due: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    by_day: dict[datetime.date, list[data.Transaction]] = defaultdict(list)
    for t in txns:
        by_day[t.date].append(t)
    for day in sorted(by_day):
        for t in by_day[day]:
            for p in t.postings:
                parts = p.account.split(":")
                if parts[0] == "Assets" and parts[2] == "DueFrom":
                    due[(parts[1], parts[3])] += units(p)
                elif parts[0] == "Liabilities" and parts[2] == "DueTo":
                    due[(parts[3], parts[1])] += units(p)
        for (a, b), amount in due.items():
            assert amount == 0, f"Assets:{a}:DueFrom:{b} + Liabilities:{b}:DueTo:{a} = " \
                                f"{amount} at the end of {day}"

    # 4. roll-forward per location and month, payment and sale basis
    check_roll_forward(txns)

    # 5. events: applied ones in the ledger (one date each), refused ones not
    dates: dict[str, set[datetime.date]] = defaultdict(set)
    for t in txns:
        dates[str(t.meta["event"])].add(t.date)
    for event, when in dates.items():
        assert len(when) == 1, f"event {event} is in the ledger on {sorted(when)}"
    auto = {f"expiry:{i}" for i in model.auto_expired}
    applied = {event for _f, _n, event in out.applied}
    assert set(dates) == applied | auto, (
        f"in the ledger, not applied: {sorted(set(dates) - applied - auto)}; "
        f"applied, not in the ledger: {sorted(applied | auto - set(dates))}")
    refused_ids = {event for _f, _n, event, _why in out.refused}
    assert not (refused_ids - applied) & set(dates)
    assert counts.read == counts.applied + counts.duplicates + counts.rejected + counts.after_as_of
    assert counts.applied == len(out.applied)
    assert counts.duplicates == len(out.duplicates)
    assert counts.after_as_of == len(out.after_as_of)
    assert counts.expiries == len(model.auto_expired)
    assert counts.transactions == len(txns)


def check_roll_forward(txns: list[data.Transaction]) -> None:
    """closing = opening + sales - redemptions - expirations - refunds (5.1), by `kind`."""
    months = sorted({(t.date.year, t.date.month) for t in txns})
    for basis, accounts in (("payment", LIABILITY), ("sale", (":Packages:Deferred",))):
        balance: dict[str, Decimal] = defaultdict(Decimal)  # location -> positive liability
        for month in months:
            figures: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
            opening = dict(balance)
            for t in txns:
                if (t.date.year, t.date.month) != month:
                    continue
                kind = t.meta["kind"]
                moves: dict[str, Decimal] = defaultdict(Decimal)  # location -> debit (+)
                for p in t.postings:
                    if p.account.endswith(accounts):
                        moves[segment(p.account)] += units(p)
                for seg, move in moves.items():
                    f = figures[seg]
                    balance[seg] -= move
                    where = f"{basis} basis, {t.meta['event']} ({kind}) on {t.date}"
                    if kind == "payment":
                        assert move <= 0, f"a payment debits the liability: {where}"
                        f["sales"] += -move
                    elif kind == "close":
                        if basis == "payment":
                            assert move == 0, f"a close changes the liability: {where}"
                        else:
                            assert move <= 0, where
                            f["sales"] += -move
                    elif kind == "redemption":
                        assert move >= 0, f"a redemption credits the liability: {where}"
                        f["redemptions"] += move
                    elif kind == "expiry":
                        assert move >= 0, f"an expiry credits the liability: {where}"
                        f["expirations"] += move
                    elif kind == "refund":
                        forfeit = -sum((units(p) for p in t.postings
                                        if p.account.endswith((":Packages:Breakage",
                                                               ":Packages:Unclaimed"))), ZERO)
                        assert 0 <= forfeit <= move, f"refund forfeit {forfeit}: {where}"
                        f["expirations"] += forfeit
                        f["refunds"] += move - forfeit
                    else:
                        raise AssertionError(f"kind {kind!r} moves the liability: {where}")
            for seg in set(balance) | set(opening):
                f = figures[seg]
                closing = opening.get(seg, ZERO) + f["sales"] - f["redemptions"] \
                    - f["expirations"] - f["refunds"]
                assert closing == balance[seg], (basis, month, seg, dict(f))
                assert balance[seg] >= 0, f"{seg} {basis}-basis liability negative in {month}"


# ---------------------------------------------------------------------------
# The properties
# ---------------------------------------------------------------------------



def snapshot(books: Path) -> dict[str, bytes]:
    """The generated files of a books directory (not its inputs), by relative path."""
    return {str(p.relative_to(books)): p.read_bytes()
            for p in sorted(books.rglob("*")) if p.is_file() and "events" not in p.parts
            and p.name != "pkgbooks.toml"}


@dataclass
class Plan:
    """A history's full outcome, and the lines that make it valid (`keep`)."""

    full: Outcome
    clean: Outcome
    keep: set[tuple[str, int]]
    bad_lines: set[tuple[str, int]]


def plan(history: History) -> Plan:
    full = replay(history)
    bad_lines = {(f, n) for f, n, _e, _w in full.refused} | set(full.malformed)
    all_lines = {(name, n) for name, lines in history.files.items()
                 for n in range(1, len(lines) + 1)}
    # Without its refused lines (and exact copies of them), the history is all valid.
    refused_content = {json.dumps(history.files[f][n - 1].event, sort_keys=True)
                       for f, n, _e, _w in full.refused}
    keep = {
        (name, n) for name, n in all_lines - bad_lines
        if history.files[name][n - 1].role != "dup"
        or json.dumps(history.files[name][n - 1].event, sort_keys=True) not in refused_content
    }
    clean = replay(history, keep)
    assert not clean.refused and not clean.malformed, clean.refused
    return Plan(full, clean, keep, bad_lines)


def history_of(events: list[dict[str, Any]], as_of: datetime.date | None = None,
               policy: Policy | None = None) -> History:
    """A hand-written history: all events in one file, in the order given."""
    lines = [Line(ev, json.dumps(ev), "event", RANK[ev["type"]], ev["date"]) for ev in events]
    policy = policy or Policy("item_price", "revenue", "products_first", False)
    return History(policy, START, {"events.jsonl": lines}, as_of)


# PKGBOOKS_PROPERTY_EXAMPLES=2000 for a deeper search than the default run.
EXAMPLES = int(os.environ.get("PKGBOOKS_PROPERTY_EXAMPLES", "100"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.slow
@SETTINGS
@given(histories())
def test_random_histories_keep_the_invariants(history: History) -> None:
    p = plan(history)
    with tempfile.TemporaryDirectory() as tmp:
        books = Path(tmp) / "books"
        history.write(books, p.keep)
        result = build(books, history.as_of)
        assert not result.problems, "\n".join(map(str, result.problems))
        assert result.counts.rejected == 0
        assert result.as_of == p.clean.end
        check_ledger(books, history, p.clean, result.counts)
        first = snapshot(books)

        # A rebuild is byte-identical; validate finds nothing wrong.
        assert not build(books, history.as_of).problems
        assert snapshot(books) == first
        report = validate(books)
        assert not report.errors, "\n".join(map(str, report.errors))

        if not p.bad_lines:
            return
        # The full history: each refused line reported (once), nothing written.
        history.write(books)
        result = build(books, history.as_of)
        reported: dict[tuple[str, int], list[str]] = defaultdict(list)
        for problem in result.problems:
            assert problem.source.line is not None, str(problem)
            reported[(Path(problem.source.file or "").name, problem.source.line)].append(
                str(problem))
        assert set(reported) == p.bad_lines, (
            f"refused by the engine only: {sorted(set(reported) - p.bad_lines)}; "
            f"by the model only: {[r for r in p.full.refused if r[:2] not in reported]}")
        for f, n, event, _why in p.full.refused:
            assert len(reported[(f, n)]) == 1, reported[(f, n)]
            assert f"event {event}:" in reported[(f, n)][0]
        counts = result.counts
        assert counts.rejected == len(p.full.refused)
        assert counts.applied == len(p.full.applied)
        assert counts.duplicates == len(p.full.duplicates)
        assert counts.after_as_of == len(p.full.after_as_of)
        assert counts.read == counts.applied + counts.duplicates + counts.rejected \
            + counts.after_as_of
        assert snapshot(books) == first, "a failed build changed the books"
        leftovers = [p.name for p in books.rglob("*")
                     if p.name.startswith(".ledger") or p.name.endswith(".part")]
        assert not leftovers, leftovers
        # No refused event reaches the rendered ledger.
        _rendered, files = render(books, history.as_of)
        text = "".join(t for _name, t in files)
        applied_ids = {e for _f, _n, e in p.full.applied}
        for event in {e for _f, _n, e, _w in p.full.refused} - applied_ids:
            assert f'event: "{event}"' not in text, event


def without_inputs_digest(text: str) -> str:
    """Ledger text less the digest of the input files (which differ by the refused lines)."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if ' custom "pkgbooks-inputs" ' not in line)


# Regression: the first failure the search found (engine before e979024). A
# package sold on 2026-01-02 expires on 2026-02-11; a refused event on
# 2026-03-01 came after the last applied one. The engine generated the
# automatic expiries due before every event it read, the refused one too, but
# took the last *applied* event's date as the as-of date: the books rendered
# expiry:PK-1 on 2026-02-11 in books as of 2026-01-02.
LATE_REFUSAL = history_of([
    {"type": "sale", "id": "s-1", "date": "2026-01-02", "location": "loc-11",
     "invoice": "INV-1", "customer": "c", "lines": [{"package": "cuts-3", "instance": "PK-1"}]},
    {"type": "payment", "id": "p-1", "date": "2026-03-01", "location": "loc-11",
     "invoice": "INV-NONE", "amount": "1.00", "method": "cash"},
])
_DATED = re.compile(r"^(\d{4}-\d{2}-\d{2}) [*!] ", re.MULTILINE)


@pytest.mark.slow
@example(LATE_REFUSAL)
@SETTINGS
@given(histories())
def test_refused_events_leave_the_rendered_books_unchanged(history: History) -> None:
    """A refused event changes nothing (SPEC 3-4: a rule checks before it changes state).

    The full history renders no transaction after its own as-of date, and, but for
    that date (whether a refused event's date counts as "the latest event date" is
    the engine's choice), exactly the ledger of the history without its refused lines.
    """
    p = plan(history)
    if not p.bad_lines:
        return
    with tempfile.TemporaryDirectory() as tmp:
        books = Path(tmp) / "books"
        history.write(books)
        rendered, files = render(books, history.as_of)
        # The books as a build writes them: the month files and the entity books cut from them.
        texts = {"ledger/" + name: without_inputs_digest(text) for name, text
                 in with_entity_books(rendered.config, files, rendered.balances)}
        assert rendered.problems
        as_of = rendered.as_of
        assert as_of == p.full.end  # --as-of, or the latest date read (SPEC 4.4)
        late = sorted({d for text in texts.values() for d in _DATED.findall(text)
                       if as_of is None or d > as_of.isoformat()})
        assert not late, f"transactions dated {late} in books as of {as_of}"
        history.write(books, p.keep)
        assert not build(books, as_of).problems
        clean = {k: without_inputs_digest(v.decode()) for k, v in snapshot(books).items()
                 if k.startswith("ledger/")}
        assert texts == clean, sorted(set(texts) ^ set(clean)) or [
            name for name in texts if texts[name] != clean.get(name)]


def test_model_agrees_on_a_known_history() -> None:
    """A fixed history exercising every event type, as a smoke test of the harness."""
    history = history_of([
        {"type": "sale", "id": "s-1", "date": "2026-01-01", "location": "loc-11",
         "invoice": "INV-1", "customer": "c",
         "lines": [{"package": "cuts-3", "instance": "PK-1"},
                   {"product": "shampoo", "amount": "10.00", "tax": "0.80"}]},
        {"type": "payment", "id": "p-1", "date": "2026-01-02", "location": "loc-21",
         "invoice": "INV-1", "amount": "50.00", "method": "card"},
        {"type": "payment", "id": "p-2", "date": "2026-01-03", "location": "loc-11",
         "invoice": "INV-1", "amount": "70.80", "method": "cash"},
        {"type": "redemption", "id": "r-1", "date": "2026-01-04", "location": "loc-21",
         "instance": "PK-1", "item": "haircut"},
        {"type": "redemption", "id": "r-2", "date": "2026-01-04", "location": "loc-11",
         "instance": "PK-1", "item": "massage"},
        {"type": "refund", "id": "f-1", "date": "2026-01-05", "location": "loc-12",
         "instance": "PK-1", "amount": "20.00", "method": "cash"},
    ])
    p = plan(history)
    assert [r[2] for r in p.full.refused] == ["r-2"]
    assert p.full.books is not None and p.full.books.packages["PK-1"].status == "refunded"
    with tempfile.TemporaryDirectory() as tmp:
        books = Path(tmp)
        history.write(books, p.keep)
        result = build(books)
        assert not result.problems
        check_ledger(books, history, p.clean, result.counts)
        assert not validate(books).errors
