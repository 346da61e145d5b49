#!/usr/bin/env python3
"""Generate a large, valid, deterministic history for benchmarking pkgbooks.

    python bench/generate.py OUT_DIR [--events 100000] [--seed 1] [--locations 4]
                             [--per-day 250]

Writes `OUT_DIR/pkgbooks.toml` and `OUT_DIR/events/YYYY-MM.jsonl` (one file per
month, dates never going down inside a file, the events of one day in a
shuffled order as a point-of-sale export would give them). Pure standard
library, one seeded `random.Random`, `Decimal` for every amount: the same
arguments always write the same bytes.

The business: 3-5 spas in up to 3 franchises, a catalog of services, products
and classes, eight packages (taxed, initial recognition, `*` any-service,
free items, per-location prices, minutes), thousands of customers. The mix is
about 20% sales, 25% payments, 50% redemptions, a few refunds and explicit
expiries; packages that are not used up expire automatically (breakage), and
some redemptions happen at another franchise (reconciliation).

Every event is one the engine must accept. The generator keeps a small model:

* an invoice is paid in one to three payments (sometimes at another location),
  never more than it still owes, and always in full within 20 days of the sale,
  so no package on an open invoice ever reaches its expiry date (the shortest
  validity is 60 days) and no invoice line is ever cancelled;
* redemptions, refunds and explicit expiries only touch packages whose invoice
  is closed, before their expiry date, and never the same package twice in a
  day after a refund or an expiry;
* a redemption names an item the package holds (a service for a `*` line) and
  never more units than remain;
* a refund is only for a package with no redemption yet, for at most its price
  less initial recognition, so its net never exceeds the liability.

Within a day the engine applies sales, payments, redemptions, refunds and then
expiries (SPEC 3.3); the generator decides a day's events in that same order.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import sys
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

CENT = Decimal("0.01")
START = datetime.date(2025, 1, 1)
PAY_WITHIN_DAYS = 20  # every invoice is paid in full by then (< the shortest validity)

# Share of each kind among the generated events (the rest of a day's quota
# falls back to a sale when a kind has nothing to act on).
MIX = (("sale", 20), ("payment", 25), ("redemption", 50), ("refund", 3), ("expiry", 2))
KIND_ORDER = ("sale", "payment", "redemption", "refund", "expiry")

LOCATIONS = (  # id, name, account segment, entity, weight
    ("loc-11", "Franchise 1 - Downtown", "Loc11", "franchise-1", 5),
    ("loc-12", "Franchise 1 - Riverside", "Loc12", "franchise-1", 3),
    ("loc-21", "Franchise 2 - Harbor", "Loc21", "franchise-2", 4),
    ("loc-22", "Franchise 2 - Hillside", "Loc22", "franchise-2", 2),
    ("loc-31", "Franchise 3 - Airport", "Loc31", "franchise-3", 2),
)

ITEMS = (  # id, name, category, price (None: absent), unit
    ("haircut", "Haircut", "service", "40.00", "visit"),
    ("manicure", "Manicure", "service", "30.00", "visit"),
    ("massage", "Massage (60 min)", "service", "80.00", "visit"),
    ("facial", "Signature facial", "service", "varies", "visit"),
    ("consultation", "Skin consultation", "service", None, "visit"),
    ("massage-time", "Massage time", "service", "1.50", "minutes"),
    ("shampoo", "Shampoo", "product", "20.00", "visit"),
    ("oil", "Massage oil", "product", "25.00", "visit"),
    ("yoga", "Yoga class", "class", "15.00", "visit"),
    ("pilates", "Pilates class", "class", "18.00", "visit"),
)
ANY_SERVICE_ITEMS = ("haircut", "manicure", "massage", "facial")


@dataclass(frozen=True)
class PackageSpec:
    name: str
    price: str
    groups: tuple[tuple[str, int, str], ...]  # (item, quantity, group price)
    tax_rate: str = "0"
    validity_days: int | None = None
    grace_days: int = 0
    initial_recognition: str | None = None
    weight: int = 1
    location_prices: tuple[tuple[str, str, str], ...] = ()  # (location, item, price)
    step: int = 1  # units per redemption (minutes packages use 30 at a time)


PACKAGES = {
    "cuts-3": PackageSpec("Three haircuts", "100.00", (("haircut", 3, "100.00"),),
                          tax_rate="0.10", validity_days=90, grace_days=30, weight=6,
                          location_prices=(("loc-21", "haircut", "90.00"),)),
    "mani-5": PackageSpec("Five manicures", "125.00", (("manicure", 5, "125.00"),),
                          tax_rate="0.08", validity_days=120, initial_recognition="5%",
                          weight=4),
    "massage-4": PackageSpec("Four massages", "280.00", (("massage", 4, "280.00"),),
                             tax_rate="0.0825", validity_days=180, initial_recognition="10.00",
                             weight=3),
    "spa-day": PackageSpec("Spa day", "150.00",
                           (("massage", 1, "70.00"), ("facial", 1, "50.00"),
                            ("shampoo", 1, "20.00"), ("consultation", 1, "0.00")),
                           validity_days=60, weight=3),
    "any-10": PackageSpec("Any ten services", "350.00", (("*", 10, "350.00"),),
                          initial_recognition="5%", weight=2),
    "yoga-10": PackageSpec("Ten yoga classes", "120.00", (("yoga", 10, "120.00"),),
                           validity_days=90, grace_days=14, initial_recognition="10.00",
                           weight=4),
    "class-mix": PackageSpec("Yoga and pilates", "200.00",
                             (("yoga", 6, "84.00"), ("pilates", 6, "96.00"),
                              ("shampoo", 1, "20.00")),
                             tax_rate="0.05", validity_days=120, weight=2),
    "massage-minutes": PackageSpec("Three hours of massage", "270.00",
                                   (("massage-time", 180, "270.00"),),
                                   validity_days=365, weight=1, step=30),
}
PRODUCTS = (("Travel kit", "18.00"), ("Gift card box", "5.00"), ("Candle", "24.50"))
PRODUCT_TAX = Decimal("0.08")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def config_text(n_locations: int, start: datetime.date) -> str:
    """The books' pkgbooks.toml."""
    out = [
        "# Benchmark books generated by bench/generate.py: do not edit by hand.",
        'title = "Bench Spa Group"',
        'currency = "USD"',
        "",
        "[policy]",
        'recognition = "item_price"',
        'expired_balance = "revenue"',
        'payment_allocation = "products_first"',
        "redeem_open_packages = false",
        "",
    ]
    for loc_id, name, segment, entity, _w in LOCATIONS[:n_locations]:
        out += [f"[locations.{loc_id}]", f'name = "{name}"', f'account = "{segment}"',
                f'entity = "{entity}"', ""]
    for item_id, name, category, price, unit in ITEMS:
        out += [f"[items.{item_id}]", f'name = "{name}"', f'category = "{category}"']
        if price is not None:
            out.append(f'price = "{price}"')
        if unit != "visit":
            out.append(f'unit = "{unit}"')
        out.append("")
    locations = {loc[0] for loc in LOCATIONS[:n_locations]}
    for pkg_id, spec in PACKAGES.items():
        out += [f"[packages.{pkg_id}]", f'name = "{spec.name}"', f'price = "{spec.price}"']
        if spec.tax_rate != "0":
            out.append(f'tax_rate = "{spec.tax_rate}"')
        if spec.validity_days is not None:
            out.append(f"validity_days = {spec.validity_days}")
        if spec.grace_days:
            out.append(f"grace_days = {spec.grace_days}")
        if spec.initial_recognition is not None:
            out.append(f'initial_recognition = "{spec.initial_recognition}"')
        groups = ", ".join(
            f'{{ item = "{item}", quantity = {qty}, price = "{price}" }}'
            for item, qty, price in spec.groups
        )
        out.append(f"items = [ {groups} ]")
        out.append("")
        for loc_id, item, price in spec.location_prices:
            if loc_id in locations:
                out += [f"[packages.{pkg_id}.location_prices.{loc_id}]", f'{item} = "{price}"',
                        ""]
    recon_start = start + datetime.timedelta(days=14)
    out += ["[reconciliation]", f"start = {recon_start.isoformat()}",
            'rates = { service = "0.05", product = "0.30", class = "0.20" }', ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class Package:
    instance: str
    package: str
    source: str
    invoice: str
    expires: datetime.date | None
    contract: Decimal  # price less initial recognition
    left: dict[str, int]  # item group -> units left
    redeemed: bool = False
    live: bool = True
    slot: int = -1  # position in the pool of redeemable packages


@dataclass(slots=True)
class Invoice:
    invoice: str
    source: str
    date: datetime.date
    unpaid: Decimal
    packages: list[Package]
    payments: int = 0
    slot: int = -1


class Pool:
    """A list with O(1) random pick and removal (swap with the last)."""

    def __init__(self) -> None:
        self.items: list[Package | Invoice] = []

    def __len__(self) -> int:
        return len(self.items)

    def add(self, obj: Package | Invoice) -> None:
        obj.slot = len(self.items)
        self.items.append(obj)

    def remove(self, obj: Package | Invoice) -> None:
        last = self.items.pop()
        if last is not obj:
            self.items[obj.slot] = last
            last.slot = obj.slot
        obj.slot = -1

    def pick(self, rnd: random.Random) -> Package | Invoice:
        return self.items[rnd.randrange(len(self.items))]


@dataclass
class Generator:
    events: int
    seed: int = 1
    n_locations: int = 4
    per_day: int = 250
    start: datetime.date = START
    rnd: random.Random = field(init=False)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KIND_ORDER, 0))

    def __post_init__(self) -> None:
        if not 3 <= self.n_locations <= len(LOCATIONS):
            raise ValueError(f"--locations must be 3..{len(LOCATIONS)}")
        self.rnd = random.Random(self.seed)
        self.locations = [loc[0] for loc in LOCATIONS[: self.n_locations]]
        self.loc_weights = [loc[4] for loc in LOCATIONS[: self.n_locations]]
        self.staff = {loc: [f"{loc}-staff-{i}" for i in range(1, 7)] for loc in self.locations}
        self.customers = max(1000, self.events // 20)
        self.pkg_ids = list(PACKAGES)
        self.pkg_weights = [PACKAGES[p].weight for p in self.pkg_ids]
        self.open = Pool()  # invoices still owed
        self.redeemable = Pool()  # live packages whose invoice is closed
        self.by_due: dict[datetime.date, list[Invoice]] = {}
        self.serial = 0

    def next_id(self) -> int:
        self.serial += 1
        return self.serial

    def other_location(self, here: str) -> str:
        return self.rnd.choice([loc for loc in self.locations if loc != here])

    # -- one event of each kind ------------------------------------------------
    def sale(self, day: datetime.date) -> dict:
        rnd = self.rnd
        n = self.next_id()
        loc = rnd.choices(self.locations, self.loc_weights)[0]
        invoice = f"INV-{n:07d}"
        lines: list[dict] = []
        packages: list[Package] = []
        total = Decimal(0)
        n_packages = 1 if rnd.random() < 0.9 else 2
        for k in range(n_packages):
            pkg_id = rnd.choices(self.pkg_ids, self.pkg_weights)[0]
            spec = PACKAGES[pkg_id]
            instance = f"PK-{n:07d}-{k + 1}"
            price = Decimal(spec.price)
            if rnd.random() < 0.05:  # a promotional price
                price = cents(price * Decimal(rnd.choice(("0.80", "0.90"))))
                lines.append({"package": pkg_id, "instance": instance, "price": money(price)})
            else:
                lines.append({"package": pkg_id, "instance": instance})
            total += price + cents(price * Decimal(spec.tax_rate))
            ir = Decimal(0)
            if spec.initial_recognition is not None:
                text = spec.initial_recognition
                ir = (cents(price * Decimal(text[:-1]) / 100) if text.endswith("%")
                      else Decimal(text))
                ir = min(ir, price)
            expires = None
            if spec.validity_days is not None:
                expires = day + datetime.timedelta(days=spec.validity_days + spec.grace_days)
            packages.append(Package(instance, pkg_id, loc, invoice, expires, price - ir,
                                    {item: qty for item, qty, _p in spec.groups}))
        if rnd.random() < 0.25:
            name, amount = rnd.choice(PRODUCTS)
            tax = cents(Decimal(amount) * PRODUCT_TAX)
            lines.append({"product": name, "amount": amount, "tax": money(tax)})
            total += Decimal(amount) + tax
        inv = Invoice(invoice, loc, day, total, packages)
        self.open.add(inv)
        due = day + datetime.timedelta(days=rnd.randint(1, PAY_WITHIN_DAYS))
        self.by_due.setdefault(due, []).append(inv)
        event = {"type": "sale", "id": f"s-{n:07d}", "date": day.isoformat(), "location": loc,
                 "invoice": invoice, "customer": f"cust-{rnd.randrange(self.customers):06d}"}
        if rnd.random() < 0.9:
            event["staff"] = rnd.choice(self.staff[loc])
        event["lines"] = lines
        return event

    def payment(self, day: datetime.date, inv: Invoice, in_full: bool) -> dict:
        rnd = self.rnd
        if in_full or inv.unpaid <= CENT or (inv.payments == 0 and rnd.random() < 0.55):
            amount = inv.unpaid
        else:
            unpaid_cents = int(inv.unpaid / CENT)
            amount = Decimal(max(1, unpaid_cents * rnd.randint(20, 80) // 100)) * CENT
        inv.unpaid -= amount
        inv.payments += 1
        if inv.unpaid == 0:
            self.open.remove(inv)
            for pkg in inv.packages:
                self.redeemable.add(pkg)
        loc = inv.source if rnd.random() < 0.85 else self.other_location(inv.source)
        return {"type": "payment", "id": f"p-{self.next_id():07d}", "date": day.isoformat(),
                "location": loc, "invoice": inv.invoice, "amount": money(amount),
                "method": rnd.choice(("card", "card", "card", "cash", "other"))}

    def usable_package(self, day: datetime.date) -> Package | None:
        """A random live package of a closed invoice that can still be redeemed today."""
        while len(self.redeemable):
            pkg = self.redeemable.pick(self.rnd)
            assert isinstance(pkg, Package)
            if pkg.expires is not None and day >= pkg.expires:
                self.redeemable.remove(pkg)  # the engine expires it automatically
                pkg.live = False
                continue
            return pkg
        return None

    def redemption(self, day: datetime.date, pkg: Package) -> dict:
        rnd = self.rnd
        spec = PACKAGES[pkg.package]
        group = rnd.choice([item for item, left in pkg.left.items() if left])
        left = pkg.left[group]
        quantity = min(left, spec.step if spec.step > 1 else 1)
        if spec.step > 1 and left >= 2 * spec.step and rnd.random() < 0.3:
            quantity = 2 * spec.step
        item = rnd.choice(ANY_SERVICE_ITEMS) if group == "*" else group
        pkg.left[group] -= quantity
        pkg.redeemed = True
        if not any(pkg.left.values()):
            pkg.live = False
            self.redeemable.remove(pkg)
        loc = pkg.source if rnd.random() < 0.8 else self.other_location(pkg.source)
        event = {"type": "redemption", "id": f"r-{self.next_id():07d}",
                 "date": day.isoformat(), "location": loc, "instance": pkg.instance,
                 "item": item}
        if quantity != 1:
            event["quantity"] = quantity
        if rnd.random() < 0.95:
            event["staff"] = rnd.choice(self.staff[loc])
        return event

    def refund(self, day: datetime.date, pkg: Package) -> dict:
        rnd = self.rnd
        contract_cents = int(pkg.contract / CENT)
        amount = Decimal(rnd.randint(max(1, contract_cents // 2), max(1, contract_cents))) * CENT
        pkg.live = False
        self.redeemable.remove(pkg)
        loc = pkg.source if rnd.random() < 0.9 else self.other_location(pkg.source)
        return {"type": "refund", "id": f"f-{self.next_id():07d}", "date": day.isoformat(),
                "location": loc, "instance": pkg.instance, "amount": money(amount),
                "method": rnd.choice(("card", "cash"))}

    def expiry(self, day: datetime.date, pkg: Package) -> dict:
        pkg.live = False
        self.redeemable.remove(pkg)
        return {"type": "expiry", "id": f"x-{self.next_id():07d}", "date": day.isoformat(),
                "instance": pkg.instance}

    # -- days --------------------------------------------------------------------
    def day(self, day: datetime.date, quota: int) -> list[dict]:
        """One day's events, decided in the engine's order of kinds."""
        rnd = self.rnd
        wanted = dict.fromkeys(KIND_ORDER, 0)
        kinds, weights = zip(*MIX, strict=True)
        for kind in rnd.choices(kinds, weights, k=quota):
            wanted[kind] += 1
        # Invoices due today are paid in full, whatever the draw said.
        due = [inv for inv in self.by_due.pop(day, []) if inv.unpaid > 0]
        shortfall = 0
        payments_possible = len(self.open) - len(due)
        if wanted["payment"] < len(due):
            shortfall -= len(due) - wanted["payment"]  # take the extra payments from sales
        extra_payments = max(0, wanted["payment"] - len(due))
        if extra_payments > payments_possible:
            shortfall += extra_payments - payments_possible
            extra_payments = payments_possible
        sales = max(0, wanted["sale"] + shortfall)
        out: list[dict] = [self.sale(day) for _ in range(sales)]
        out += [self.payment(day, inv, in_full=True) for inv in due]
        for _ in range(extra_payments):
            inv = self.open.pick(rnd)
            assert isinstance(inv, Invoice)
            out.append(self.payment(day, inv, in_full=False))
        touched: set[str] = set()
        for _ in range(wanted["redemption"]):
            pkg = self.usable_package(day)
            if pkg is None:
                break
            out.append(self.redemption(day, pkg))
            touched.add(pkg.instance)
        for kind in ("refund", "expiry"):
            for _ in range(wanted[kind]):
                pkg = self.usable_package(day)
                if pkg is None or pkg.instance in touched or (kind == "refund" and pkg.redeemed):
                    continue
                touched.add(pkg.instance)
                out.append(self.refund(day, pkg) if kind == "refund" else self.expiry(day, pkg))
        return out

    def run(self) -> dict[str, list[str]]:
        """Month file name -> JSON lines; exactly `events` events."""
        files: dict[str, list[str]] = {}
        written = 0
        day = self.start
        while written < self.events:
            quota = max(1, round(self.per_day * self.rnd.uniform(0.7, 1.3)))
            if day.weekday() == 6:
                quota //= 2
            events = self.day(day, quota)[: self.events - written]
            self.rnd.shuffle(events)  # a day's export is in time order, not kind order
            lines = files.setdefault(f"{day:%Y-%m}.jsonl", [])
            for event in events:
                lines.append(json.dumps(event, separators=(", ", ": ")))
                self.counts[event["type"]] += 1
            written += len(events)
            day += datetime.timedelta(days=1)
        self.last_day = day - datetime.timedelta(days=1)
        return files


def generate(out_dir: Path, events: int = 100_000, seed: int = 1, locations: int = 4,
             per_day: int = 250) -> dict[str, object]:
    """Write the books; return a summary (counts by kind, first and last date)."""
    gen = Generator(events, seed, locations, per_day)
    files = gen.run()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "pkgbooks.toml").write_text(config_text(locations, gen.start), encoding="utf-8")
    events_dir = out_dir / "events"
    events_dir.mkdir(exist_ok=True)
    for old in events_dir.glob("*.jsonl"):
        if old.name not in files:
            old.unlink()
    for name, lines in files.items():
        (events_dir / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"events": sum(gen.counts.values()), "by_kind": gen.counts,
            "first": gen.start.isoformat(), "last": gen.last_day.isoformat(),
            "files": len(files), "customers": gen.customers, "locations": locations}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--locations", type=int, default=4, choices=range(3, 6))
    parser.add_argument("--per-day", type=int, default=250)
    args = parser.parse_args(argv)
    summary = generate(args.out_dir, args.events, args.seed, args.locations, args.per_day)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
