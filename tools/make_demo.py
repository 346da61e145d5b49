#!/usr/bin/env python3
"""Generate the demo events of `ledgers/demo/` (SPEC 1, 3).

    python tools/make_demo.py [--no-voids] [BOOKS_DIR]

Reads the catalog from `BOOKS_DIR/pkgbooks.toml` and writes
`BOOKS_DIR/events/YYYY-MM.jsonl` (one file per month) plus a small
`BOOKS_DIR/events/redemption.csv`, for a simulated business day by day from
START to END. Deterministic: a fixed seed, pure standard library, `Decimal` for
every amount (never float), so the same script always writes the same bytes.

The generator keeps a small model of every invoice and package instance so that
every event it writes is one the engine must accept:

* payments never exceed what is left to pay on the invoice (net + tax of all lines);
* a redemption names an item the package holds (or a service taken from its
  `*` line), never more units than remain, never on or after the expiry date
  (sale date + validity + grace), never after a refund, an expiry or a void of
  the sale; from an open invoice only when what was paid for the package (net
  of tax and initial recognition, less what was already redeemed) covers the
  value of the units, and never the package's last unit;
* refunds and explicit expiries only on packages whose invoice is closed; a
  refund's net never exceeds the package's remaining liability;
* voids only of a sale with no payments, of a payment that neither closed its
  invoice nor paid for anything redeemed, or of a redemption (at the source,
  not the package's last unit) before anything else happens to the package.

The rules are the small functions under "Package rules" below: fix a
validity/units mistake there and every caller follows.
"""

from __future__ import annotations

import csv
import io
import json
import random
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from pathlib import Path
from typing import Any

SEED = 20260101
START = date(2026, 1, 1)
END = date(2026, 5, 31)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Slack kept between the model's estimate of a package's paid / remaining
# liability and what an event uses, so that cent-level rounding differences
# (largest-remainder splits of tax, price across units) can never make the
# engine refuse an event.
MARGIN = Decimal("0.10")

RETAIL_TAX_RATE = Decimal("0.10")
RETAIL_PRODUCTS = [  # free-text product lines on invoices (not catalog items)
    ("Shampoo", Decimal("20.00")),
    ("Conditioner", Decimal("22.00")),
    ("Hair oil", Decimal("18.50")),
    ("Scented candle", Decimal("24.00")),
    ("Face mask", Decimal("12.00")),
]

PACKAGE_WEIGHTS = {
    "cuts-3": 20,
    "massage-5": 9,
    "yoga-10": 12,
    "class-mix": 10,
    "spa-day": 12,
    "massage-time-120": 10,
    "glow-bundle": 10,
    "any-service-5": 8,
    "spa-club": 5,
}

STAFF = {
    "loc-11": ["Maria Lopez", "James Carter", "Aiko Tanaka"],
    "loc-12": ["Priya Shah", "Tom Becker", "Lucia Romano"],
    "loc-21": ["Sam Okafor", "Emma Novak", "Diego Alvarez"],
    "loc-22": ["Hannah Lee", "Omar Haddad", "Grace Kim"],
}
FIRST_NAMES = [
    "Ava", "Liam", "Olivia", "Noah", "Emma", "Ethan", "Sophia", "Mason", "Isabella",
    "Lucas", "Mia", "Logan", "Amelia", "Elijah", "Harper", "Oliver", "Evelyn", "Aiden",
    "Abigail", "Carter", "Ella", "Jayden", "Scarlett", "Wyatt", "Chloe", "Leo", "Zoe",
    "Nora", "Ruby", "Felix",
]
LAST_NAMES = [
    "Thompson", "Nguyen", "Patel", "Garcia", "Kowalski", "Murphy", "Schmidt", "Rossi",
    "Johansson", "Dubois", "Silva", "Cohen", "Okoro", "Yamamoto", "Fischer", "Brennan",
    "Moreau", "Larsen", "Costa", "Reyes",
]
CUSTOMERS_PER_LOCATION = 60
VOID_REASONS = {
    "sale": ["entered in error", "customer changed their mind at the till", "duplicate invoice"],
    "payment": ["card payment reversed by the bank", "payment keyed on the wrong invoice"],
    "redemption": ["customer did not show up", "recorded on the wrong package"],
}


def q(amount: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    return amount.quantize(CENT, rounding=rounding)


def fmt(amount: Decimal) -> str:
    return str(q(amount))


# --- catalog ----------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    item: str  # catalog item id or "*"
    quantity: int
    price: Decimal  # price of the whole group


@dataclass(frozen=True)
class PackageDef:
    id: str
    price: Decimal
    tax_rate: Decimal
    validity_days: int | None
    grace_days: int
    initial_recognition: str | None
    groups: tuple[Group, ...]
    location_prices: dict[str, dict[str, Decimal]]

    def tax(self, price: Decimal) -> Decimal:
        """SPEC 2/4.2: tax charged on the package at sale."""
        return q(price * self.tax_rate)

    def ir_amount(self, price: Decimal) -> Decimal:
        text = self.initial_recognition
        if text is None:
            return ZERO
        if text.endswith("%"):
            return min(q(price * Decimal(text[:-1]) / 100), price)
        return min(Decimal(text), price)

    def group_price(self, item: str, location: str) -> Decimal:
        for g in self.groups:
            if g.item == item:
                return self.location_prices.get(location, {}).get(item, g.price)
        raise KeyError(item)


@dataclass(frozen=True)
class Catalog:
    locations: dict[str, str]  # location id -> entity (before any dated change)
    items: dict[str, dict[str, Any]]  # item id -> {"category", "unit", ...}
    packages: dict[str, PackageDef]
    reconciliation_start: date | None
    # SPEC 2a: package id -> [(from, terms)], and location id -> [(from, entity)]
    package_changes: dict[str, list[tuple[date, PackageDef]]] = field(default_factory=dict)
    entity_changes: dict[str, list[tuple[date, str]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Catalog:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        locations = {lid: loc.get("entity", lid) for lid, loc in raw["locations"].items()}
        entity_changes = {
            lid: [(c["from"], c["entity"]) for c in loc.get("changes", [])]
            for lid, loc in raw["locations"].items() if loc.get("changes")
        }
        items = {iid: dict(it) for iid, it in raw.get("items", {}).items()}
        packages = {}
        package_changes = {}
        for pid, p in raw.get("packages", {}).items():
            packages[pid] = _package(pid, p)
            terms = dict(p)
            for change in p.get("changes", []):
                terms.update({k: v for k, v in change.items() if k != "from"})
                package_changes.setdefault(pid, []).append((change["from"], _package(pid, terms)))
        rec = raw.get("reconciliation")
        return cls(locations, items, packages, rec["start"] if rec else None,
                   package_changes, entity_changes)

    def package_on(self, pid: str, day: date) -> PackageDef:
        """The terms of a package sold on `day` (SPEC 2a: the last change from on or before)."""
        terms = self.packages[pid]
        for since, changed in self.package_changes.get(pid, []):
            if since <= day:
                terms = changed
        return terms

    def entity_on(self, loc: str, day: date) -> str:
        entity = self.locations[loc]
        for since, changed in self.entity_changes.get(loc, []):
            if since <= day:
                entity = changed
        return entity

    def category(self, item: str) -> str:
        return "service" if item == "*" else self.items[item]["category"]

    def unit(self, item: str) -> str:
        return "visit" if item == "*" else self.items[item].get("unit", "visit")

    def any_service_items(self) -> list[str]:
        """Services a customer may take from a `*` line (visit-based ones)."""
        return [
            i for i, it in self.items.items()
            if it["category"] == "service" and it.get("unit", "visit") == "visit"
        ]


def _package(pid: str, p: dict[str, Any]) -> PackageDef:
    return PackageDef(
        id=pid,
        price=Decimal(p["price"]),
        tax_rate=Decimal(p.get("tax_rate", "0")),
        validity_days=p.get("validity_days"),
        grace_days=p.get("grace_days", 0),
        initial_recognition=p.get("initial_recognition"),
        groups=tuple(
            Group(g["item"], int(g["quantity"]), Decimal(g["price"])) for g in p["items"]
        ),
        location_prices={
            loc: {i: Decimal(v) for i, v in prices.items()}
            for loc, prices in p.get("location_prices", {}).items()
        },
    )


# --- model ------------------------------------------------------------------------


@dataclass
class Draw:
    """A planned redemption: on or after `date`, `quantity` of `item`."""
    date: date
    item: str
    quantity: int


@dataclass
class Instance:
    id: str
    pkg: PackageDef
    source: str
    sale_date: date
    invoice: Invoice
    price: Decimal
    tax: Decimal
    ir: Decimal
    remaining: dict[str, int]  # group item ("*" included) -> units left
    unit_value: dict[str, Decimal]  # group item -> value of one unit (item_price, SPEC 4.3)
    expires: date | None
    grace_from: date | None
    state: str = "active"  # active | used | expired | refunded | voided
    redeemed_value: Decimal = ZERO
    pending: list[Draw] = field(default_factory=list)
    refund_on: date | None = None
    expire_on: date | None = None
    locked_until: date | None = None  # a redemption of it is about to be voided
    last_redemption: date | None = None

    @property
    def gross(self) -> Decimal:
        return self.price + self.tax

    def units_left(self) -> int:
        return sum(self.remaining.values())


@dataclass
class Pay:
    date: date
    amount: Decimal | None  # None: whatever is left to pay
    location: str
    method: str
    void_next_day: bool = False


@dataclass
class Invoice:
    id: str
    location: str
    customer: str
    sale_date: date
    sale_event: str
    total: Decimal = ZERO
    products: list[Decimal] = field(default_factory=list)  # product lines' gross, in order
    packages: list[Instance] = field(default_factory=list)  # package lines, in order
    paid: Decimal = ZERO
    closed_on: date | None = None
    plan: list[Pay] = field(default_factory=list)
    redeem_block_until: date | None = None
    voided: bool = False

    @property
    def is_closed(self) -> bool:
        return self.closed_on is not None

    @property
    def unpaid(self) -> Decimal:
        return self.total - self.paid


# --- package rules (SPEC 2, 4.3, 4.4) ---------------------------------------------


def expiry_date(pkg: PackageDef, sale_date: date) -> date | None:
    """The day a package expires: sale date + validity + grace; None: never."""
    if pkg.validity_days is None:
        return None
    return sale_date + timedelta(days=pkg.validity_days + pkg.grace_days)


def grace_start(pkg: PackageDef, sale_date: date) -> date | None:
    """First day of the grace period (still a normal redemption)."""
    if pkg.validity_days is None or pkg.grace_days == 0:
        return None
    return sale_date + timedelta(days=pkg.validity_days)


def redeemable_on(inst: Instance, day: date) -> bool:
    """May the package be used on `day` at all (ignoring payments and units)?"""
    return (
        inst.state == "active"
        and day >= inst.sale_date
        and (inst.expires is None or day < inst.expires)
    )


def line_for(cat: Catalog, inst: Instance, item: str) -> str | None:
    """The package group a redemption of `item` draws on (SPEC 4.3).

    A listed item uses its own group (even once it is used up); a service that
    is not listed uses the `*` group if the package has one.
    """
    if item in inst.remaining:
        return item
    if "*" in inst.remaining and cat.category(item) == "service":
        return "*"
    return None


def unit_values(pkg: PackageDef, source: str) -> dict[str, Decimal]:
    """item_price: a unit's value is the group price at the source / quantity."""
    return {g.item: pkg.group_price(g.item, source) / g.quantity for g in pkg.groups}


def liability(inst: Instance) -> Decimal:
    """Remaining liability of a package on a closed invoice (estimate)."""
    return inst.price - inst.ir - inst.redeemed_value


def package_paid_gross(inv: Invoice, inst: Instance) -> Decimal:
    """products_first (SPEC 4.1): products in line order, then packages in line order."""
    rest = inv.paid
    for gross in inv.products:
        rest -= min(rest, gross)
    for pkg_line in inv.packages:
        share = min(rest, pkg_line.gross)
        if pkg_line is inst:
            return share
        rest -= share
    raise KeyError(inst.id)


def deposits(inv: Invoice, inst: Instance) -> Decimal:
    """What is left of the payments for a package on an open invoice (estimate)."""
    paid_gross = package_paid_gross(inv, inst)
    if inst.gross == 0:
        return ZERO
    net_paid = q(paid_gross * inst.price / inst.gross, ROUND_DOWN)
    return max(ZERO, net_paid - inst.ir) - inst.redeemed_value


def redemption_value(inst: Instance, line: str, quantity: int, available: Decimal) -> Decimal:
    """Value recognised by a redemption, capped; the last unit takes all that is left."""
    if quantity == inst.units_left():
        return available
    return min(q(inst.unit_value[line] * quantity), available)


# --- the simulation ---------------------------------------------------------------


class Demo:
    def __init__(self, cat: Catalog, seed: int = SEED, voids: bool = True) -> None:
        self.cat = cat
        # at most this many voids of each kind (0: none, e.g. for an engine without voids)
        self.max_voids = {"sale": 4, "payment": 4, "redemption": 5} if voids else Counter()
        self.rng = random.Random(seed)
        self.events: list[dict[str, Any]] = []
        self.counters: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self.invoices: list[Invoice] = []
        self.instances: list[Instance] = []
        self.voids: list[tuple[date, str, str, Any]] = []  # (date, target, kind, payload)
        self.csv_rows = 0
        locs = list(cat.locations)
        self.customers: dict[str, list[str]] = {}
        names = [f"{first} {last}" for last in LAST_NAMES for first in FIRST_NAMES]
        self.rng.shuffle(names)
        for i, loc in enumerate(locs):
            self.customers[loc] = sorted(
                names[i * CUSTOMERS_PER_LOCATION:(i + 1) * CUSTOMERS_PER_LOCATION]
            )
        self.invoice_seq: Counter[str] = Counter()

    # ids
    def next_id(self, prefix: str) -> str:
        self.counters[prefix] += 1
        return f"{prefix}-{self.counters[prefix]:06d}"

    def emit(self, event: dict[str, Any], csv_file: bool = False) -> None:
        event["_csv"] = csv_file
        self.events.append(event)
        self.stats[event["type"]] += 1

    def other_location(self, loc: str, same_entity: bool) -> str | None:
        ent = self.cat.locations[loc]
        choices = [
            lid for lid, e in self.cat.locations.items()
            if lid != loc and (e == ent) == same_entity
        ]
        return self.rng.choice(choices) if choices else None

    def method(self) -> str:
        return self.rng.choices(["card", "cash", "other"], [65, 25, 10])[0]

    # ---- sales
    def make_sale(self, day: date, loc: str) -> None:
        rng = self.rng
        cat = self.cat
        self.invoice_seq[loc] += 1
        inv_id = f"INV-{cat_seg(loc)}-{self.invoice_seq[loc]:05d}"
        customer = rng.choice(self.customers[loc])
        staff = rng.choice(STAFF[loc])
        sale_id = self.next_id("s")
        inv = Invoice(inv_id, loc, customer, day, sale_id)
        json_lines: list[dict[str, str]] = []

        product_only = rng.random() < 0.04
        n_packages = 0 if product_only else (2 if rng.random() < 0.12 else 1)
        n_products = rng.randint(1, 2) if product_only else (1 if rng.random() < 0.25 else 0)
        products_after = rng.random() < 0.5

        def add_products() -> None:
            for name, amount in rng.sample(RETAIL_PRODUCTS, n_products):
                tax = q(amount * RETAIL_TAX_RATE)
                json_lines.append({"product": name, "amount": fmt(amount), "tax": fmt(tax)})
                inv.products.append(amount + tax)
                inv.total += amount + tax

        if not products_after:
            add_products()
        pkg_ids = rng.sample(list(PACKAGE_WEIGHTS), k=n_packages,
                             counts=list(PACKAGE_WEIGHTS.values())) if n_packages else []
        if len(pkg_ids) == 2 and pkg_ids[0] == pkg_ids[1]:
            pkg_ids = pkg_ids[:1]
        for pid in pkg_ids:
            pkg = cat.package_on(pid, day)
            inst_id = f"PK-{len(self.instances) + 1:05d}"
            inst = Instance(
                id=inst_id, pkg=pkg, source=loc, sale_date=day, invoice=inv,
                price=pkg.price, tax=pkg.tax(pkg.price), ir=pkg.ir_amount(pkg.price),
                remaining={g.item: g.quantity for g in pkg.groups},
                unit_value=unit_values(pkg, loc),
                expires=expiry_date(pkg, day), grace_from=grace_start(pkg, day),
            )
            self.instances.append(inst)
            json_lines.append({"package": pid, "instance": inst_id})
            inv.packages.append(inst)
            inv.total += inst.gross
        if products_after:
            add_products()

        event: dict[str, Any] = {
            "type": "sale", "id": sale_id, "date": day.isoformat(), "location": loc,
            "invoice": inv_id, "customer": customer,
        }
        if rng.random() > 0.04:
            event["staff"] = staff
        event["lines"] = json_lines
        self.emit(event)
        self.invoices.append(inv)

        insts = list(inv.packages)
        # A sale keyed in error and voided a few days later, before any payment.
        if insts and rng.random() < 0.012 and self.stats["void_sale"] < self.max_voids["sale"]:
            void_day = day + timedelta(days=rng.randint(1, 3))
            if void_day <= END:
                self.stats["void_sale"] += 1
                self.voids.append((void_day, sale_id, "sale", inv))
                return
        self.plan_payments(inv, day, insts)
        for inst in insts:
            self.plan_usage(inst)

    def plan_payments(self, inv: Invoice, day: date, insts: list[Instance]) -> None:
        rng = self.rng
        src = inv.location

        def where() -> str:
            if rng.random() < 0.09:
                return self.other_location(src, same_entity=rng.random() < 0.6) or src
            return src

        def part(of: Decimal) -> Decimal:
            # a round deposit: 20-60 % of what is left, in whole tens
            tens = of * Decimal(rng.randint(20, 60)) / 100 / 10
            amount = tens.to_integral_value(ROUND_DOWN) * 10
            return max(Decimal("10.00"), amount)

        r = rng.random()
        plan: list[Pay] = []
        if r < 0.55 or inv.total < 40:
            plan.append(Pay(day, None, where(), self.method()))
        elif r < 0.82:  # installments over a few weeks
            k = rng.randint(2, 4)
            left = inv.total
            d = day
            for _ in range(k - 1):
                amount = part(left)
                if amount >= left:
                    break
                plan.append(Pay(d, amount, where(), self.method()))
                left -= amount
                d = d + timedelta(days=rng.randint(3, 10))
            plan.append(Pay(d, None, where(), self.method()))
            if (len(plan) >= 2 and rng.random() < 0.05
                    and self.stats["void_payment"] < self.max_voids["payment"]):
                plan[0].void_next_day = True
        elif r < 0.94:  # pays in full a little later
            plan.append(Pay(day + timedelta(days=rng.randint(1, 14)), None, where(), self.method()))
        else:  # slow payer: a deposit now, the rest after a month or more
            plan.append(Pay(day + timedelta(days=rng.randint(0, 3)), part(inv.total), where(),
                            self.method()))
            plan.append(Pay(day + timedelta(days=rng.randint(25, 45)), None, where(),
                            self.method()))
        # Every invoice is fully paid before any of its packages can expire.
        expiries = [i.expires for i in insts if i.expires is not None]
        if expiries:
            assert plan[-1].date < min(expiries), (inv.id, plan[-1].date, min(expiries))
        inv.plan = plan

    def make_draws(self, inst: Instance) -> list[tuple[str, int]]:
        """Split a package's units into visits: (item, quantity)."""
        rng = self.rng
        draws: list[tuple[str, int]] = []
        services = self.cat.any_service_items()
        for g in inst.pkg.groups:
            if g.item == "*":
                for _ in range(g.quantity):
                    draws.append((rng.choice(services), 1))
            elif self.cat.unit(g.item) != "visit":
                left = g.quantity
                while left > 0:
                    chunk = min(left, rng.choice([30, 30, 45, 60, 60, 90]))
                    draws.append((g.item, chunk))
                    left -= chunk
            else:
                left = g.quantity
                while left > 0:
                    two = self.cat.category(g.item) == "class" and left >= 2 and rng.random() < 0.1
                    draws.append((g.item, 2 if two else 1))
                    left -= 2 if two else 1
        rng.shuffle(draws)
        return draws

    def plan_usage(self, inst: Instance) -> None:
        rng = self.rng
        pkg = inst.pkg
        day = inst.sale_date
        draws = self.make_draws(inst)
        has_grace = inst.grace_from is not None
        profile = rng.choices(
            ["full", "partial", "grace", "idle"], [58, 20, 14 if has_grace else 0, 4]
        )[0]
        # a few packages are refunded or expired early (SPEC 4.5, 3.2 `expiry`)
        cut: date | None = None
        if rng.random() < (0.08 if pkg.validity_days is None else 0.015):
            inst.expire_on = day + timedelta(days=rng.randint(30, 90))
            cut = inst.expire_on
        elif rng.random() < 0.03:
            inst.refund_on = day + timedelta(days=rng.randint(20, 55))
            cut = inst.refund_on
        if cut is not None:
            if inst.expires is not None and cut >= inst.expires - timedelta(days=2):
                inst.expire_on = inst.refund_on = None
                cut = None
            else:
                profile = "partial"
        if profile == "idle":
            return
        if profile == "partial":
            draws = draws[: max(1, int(len(draws) * rng.uniform(0.2, 0.8)))]
        grace_draws: list[tuple[str, int]] = []
        if profile == "grace" and len(draws) >= 2:
            g = rng.randint(1, min(2, len(draws) - 1))
            draws, grace_draws = draws[:-g], draws[-g:]
        horizon = pkg.validity_days if pkg.validity_days is not None else 150
        first = rng.randint(0, 7)
        last = max(first + 1, int(horizon * 0.9))
        if cut is not None:
            last = min(last, (cut - day).days - 2)
        if last < first:
            return
        offsets = sorted(rng.randint(first, last) for _ in draws)
        pending = [Draw(day + timedelta(days=o), it, n)
                   for o, (it, n) in zip(offsets, draws, strict=True)]
        if grace_draws:
            assert inst.grace_from is not None
            g_off = sorted(rng.randint(0, pkg.grace_days - 1) for _ in grace_draws)
            pending += [Draw(inst.grace_from + timedelta(days=o), it, n)
                        for o, (it, n) in zip(g_off, grace_draws, strict=True)]
        inst.pending = pending

    # ---- payments
    def pay(self, day: date) -> None:
        for inv in self.invoices:
            if inv.voided or inv.is_closed:
                continue
            while inv.plan and inv.plan[0].date <= day:
                p = inv.plan.pop(0)
                amount = inv.unpaid if p.amount is None or p.amount >= inv.unpaid else p.amount
                if amount <= 0:
                    continue
                pid = self.next_id("p")
                self.emit({"type": "payment", "id": pid, "date": day.isoformat(),
                           "location": p.location, "invoice": inv.id, "amount": fmt(amount),
                           "method": p.method})
                if p.location != inv.location:
                    self.stats["payment_elsewhere"] += 1
                inv.paid += amount
                assert inv.paid <= inv.total
                if inv.paid == inv.total:
                    inv.closed_on = day
                    self.stats["invoice_closed"] += 1
                elif p.void_next_day and day + timedelta(days=1) <= END:
                    void_day = day + timedelta(days=1)
                    self.stats["void_payment"] += 1
                    self.voids.append((void_day, pid, "payment", (inv, amount)))
                    # nothing is redeemed from the invoice until the void is in
                    inv.redeem_block_until = void_day
                    # the customer pays again the day after the void
                    inv.plan.insert(0, Pay(void_day + timedelta(days=1), amount, inv.location,
                                           "card"))
                    inv.plan.sort(key=lambda x: x.date)

    # ---- redemptions
    def redeem(self, day: date) -> None:
        rng = self.rng
        cat = self.cat
        for inst in self.instances:
            if not inst.pending or inst.pending[0].date > day:
                continue
            if not redeemable_on(inst, day):
                inst.pending.clear()  # expired / refunded / voided: the rest is never used
                continue
            if inst.locked_until is not None and day <= inst.locked_until:
                continue
            if inst.last_redemption == day:
                continue
            inv = inst.invoice
            if inv.redeem_block_until is not None and day <= inv.redeem_block_until:
                continue
            draw = inst.pending[0]
            line = line_for(cat, inst, draw.item)
            assert line is not None and inst.remaining[line] >= draw.quantity, (inst.id, draw)
            if inv.is_closed:
                available = liability(inst)
            else:
                # open invoice (redeem_open_packages = true): only what was paid for,
                # and never the last unit while money is still owed
                if draw.quantity == inst.units_left():
                    continue
                available = deposits(inv, inst)
                need = q(inst.unit_value[line] * draw.quantity, ROUND_UP)
                if available - MARGIN < need:
                    continue
            inst.pending.pop(0)
            value = redemption_value(inst, line, draw.quantity, available)
            # where is it used?
            r = rng.random()
            where = inst.source
            if r < 0.10:
                where = self.other_location(inst.source, same_entity=True) or inst.source
            elif r < 0.22:
                where = self.other_location(inst.source, same_entity=False) or inst.source
            rid = self.next_id("r")
            event: dict[str, Any] = {
                "type": "redemption", "id": rid, "date": day.isoformat(), "location": where,
                "instance": inst.id, "item": draw.item,
            }
            if draw.quantity != 1 or rng.random() < 0.5:
                event["quantity"] = draw.quantity
            if rng.random() > 0.03:
                event["staff"] = rng.choice(STAFF[where])
            to_csv = (
                self.csv_rows < 10 and rng.random() < 0.012 and "staff" in event
            )
            if to_csv:
                self.csv_rows += 1
            self.emit(event, csv_file=to_csv)
            self.count_redemption(inst, day, where, line, draw)
            inst.remaining[line] -= draw.quantity
            inst.redeemed_value += value
            inst.last_redemption = day
            if inst.units_left() == 0:
                inst.state = "used"
                self.stats["package_used_up"] += 1
            elif (
                not to_csv and where == inst.source and inv.is_closed
                and self.stats["void_redemption"] < self.max_voids["redemption"]
                and rng.random() < 0.006
            ):
                void_day = day + timedelta(days=rng.randint(1, 2))
                if void_day <= END and (inst.expires is None or void_day + timedelta(days=5)
                                        < inst.expires):
                    self.stats["void_redemption"] += 1
                    inst.locked_until = void_day
                    self.voids.append((void_day, rid, "redemption", (inst, line, draw, value)))

    def count_redemption(self, inst: Instance, day: date, where: str, line: str,
                         draw: Draw) -> None:
        s = self.stats
        if not inst.invoice.is_closed:
            s["redemption_open_invoice"] += 1
        if line == "*":
            s["redemption_any_service"] += 1
        if self.cat.unit(line) == "minutes":
            s["redemption_minutes"] += 1
        if inst.grace_from is not None and day >= inst.grace_from:
            s["redemption_in_grace"] += 1
        if where != inst.source:
            same = self.cat.entity_on(where, day) == self.cat.entity_on(inst.source, day)
            if same:
                s["redemption_elsewhere_same_entity"] += 1
            else:
                rs = self.cat.reconciliation_start
                after = rs is not None and day >= rs
                s["redemption_cross_entity_" + ("reconciled" if after else "before_start")] += 1

    # ---- refunds and explicit expiries
    def refund_and_expire(self, day: date) -> None:
        rng = self.rng
        for inst in self.instances:
            if inst.refund_on != day and inst.expire_on != day:
                continue
            ok = (
                redeemable_on(inst, day)
                and inst.invoice.is_closed
                and (inst.locked_until is None or day > inst.locked_until)
                and (inst.expires is None or day < inst.expires - timedelta(days=1))
            )
            if not ok:
                self.stats["refund_or_expiry_skipped"] += 1
                continue
            if inst.refund_on == day:
                left = liability(inst) - MARGIN
                if left < 5:
                    self.stats["refund_or_expiry_skipped"] += 1
                    continue
                gross_max = left * inst.gross / inst.price
                share = Decimal(rng.randint(50, 100)) / 100
                amount = (gross_max * share).to_integral_value(ROUND_DOWN)
                if amount <= 0:
                    continue
                self.emit({"type": "refund", "id": self.next_id("f"), "date": day.isoformat(),
                           "location": inst.source, "instance": inst.id,
                           "amount": fmt(amount), "method": self.method()})
                inst.state = "refunded"
            else:
                self.emit({"type": "expiry", "id": self.next_id("x"), "date": day.isoformat(),
                           "instance": inst.id})
                inst.state = "expired"
            inst.pending.clear()

    def auto_expire(self, day: date) -> None:
        for inst in self.instances:
            if inst.state == "active" and inst.expires is not None and day >= inst.expires:
                inst.state = "expired"
                inst.pending.clear()
                self.stats["auto_expiry_with_units_left"] += 1

    # ---- voids
    def apply_voids(self, day: date) -> None:
        rng = self.rng
        todo = [v for v in self.voids if v[0] == day]
        self.voids = [v for v in self.voids if v[0] != day]
        for _, target, kind, payload in todo:
            self.emit({"type": "void", "id": self.next_id("v"), "date": day.isoformat(),
                       "target": target, "reason": rng.choice(VOID_REASONS[kind])})
            if kind == "sale":
                inv = payload
                inv.voided = True
                for voided in inv.packages:
                    voided.state = "voided"
                    voided.pending.clear()
            elif kind == "payment":
                inv, amount = payload
                assert not inv.is_closed
                inv.paid -= amount
            else:
                inst, line, draw, value = payload
                inst.remaining[line] += draw.quantity
                inst.redeemed_value -= value
                inst.locked_until = None
                again = day + timedelta(days=rng.randint(3, 10))
                inst.pending.insert(0, Draw(again, draw.item, draw.quantity))

    # ---- main loop
    def run(self) -> None:
        rng = self.rng
        day = START
        while day <= END:
            self.auto_expire(day)
            busy = 1.4 if day.weekday() >= 4 else 1.0  # Fri-Sun
            for loc in self.cat.locations:
                n = rng.choices([0, 1, 2, 3], [52 / busy, 34, 11 * busy, 3 * busy])[0]
                for _ in range(n):
                    self.make_sale(day, loc)
            # same order as the engine applies a day: sale, payment, redemption,
            # refund, expiry, void (SPEC 3.3)
            self.pay(day)
            self.redeem(day)
            self.refund_and_expire(day)
            self.apply_voids(day)
            day += timedelta(days=1)
        self.stats["invoices_open_at_end"] = sum(
            1 for i in self.invoices if not i.is_closed and not i.voided)
        self.stats["expiry_date_on_or_before_end"] = sum(
            1 for i in self.instances
            if i.expires is not None and i.expires <= END and i.state != "voided")


def cat_seg(loc: str) -> str:
    return loc.removeprefix("loc-")


# --- output -----------------------------------------------------------------------

CSV_FIELDS = ["id", "date", "location", "instance", "item", "quantity", "staff"]


def write(demo: Demo, events_dir: Path) -> dict[str, int]:
    events_dir.mkdir(parents=True, exist_ok=True)
    for old in sorted(events_dir.glob("*.jsonl")) + sorted(events_dir.glob("*.csv")):
        old.unlink()
    by_month: dict[str, list[str]] = {}
    csv_rows: list[dict[str, Any]] = []
    for ev in demo.events:
        to_csv = ev.pop("_csv")
        if to_csv:
            csv_rows.append(ev)
            continue
        by_month.setdefault(ev["date"][:7], []).append(
            json.dumps(ev, ensure_ascii=False, separators=(", ", ": ")))
    sizes = {}
    for month, lines in sorted(by_month.items()):
        path = events_dir / f"{month}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
        sizes[path.name] = len(lines)
    if csv_rows:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
        w.writeheader()
        for ev in csv_rows:
            w.writerow({k: ev.get(k, 1 if k == "quantity" else "") for k in CSV_FIELDS})
        # a byte-order mark, as spreadsheet exports write it (SPEC 3.3)
        (events_dir / "redemption.csv").write_text(buf.getvalue(), encoding="utf-8-sig",
                                                   newline="")
        sizes["redemption.csv"] = len(csv_rows)
    return sizes


def main(argv: list[str]) -> int:
    args = argv[1:]
    voids = "--no-voids" not in args
    args = [a for a in args if a != "--no-voids"]
    books = Path(args[0]) if args else (
        Path(__file__).resolve().parent.parent / "ledgers" / "demo")
    cat = Catalog.load(books / "pkgbooks.toml")
    demo = Demo(cat, voids=voids)
    demo.run()
    sizes = write(demo, books / "events")
    for name, n in sizes.items():
        print(f"{name}: {n} events")
    print(f"total: {sum(sizes.values())} events")
    for key, n in sorted(demo.stats.items()):
        print(f"  {key}: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
