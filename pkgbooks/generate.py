"""A synthetic business: a large, valid, deterministic history (`pkgbooks generate`).

    pkgbooks generate DIR [--events 100000] [--locations 4] [--entities E] [--seed 1]

Writes `DIR/pkgbooks.toml` and `DIR/events/YYYY-MM.jsonl` (one file per
month, dates never going down inside a file, the events of one day in a
shuffled order as a point-of-sale export would give them). Pure standard
library, one seeded `random.Random`, `Decimal` for every amount: the same
arguments always write the same bytes. It is how users try pkgbooks at scale,
and what `bench/` measures.

The business: spas in franchises (entities), a catalog of services, products
and classes, eight packages (taxed, initial recognition, `*` any-service,
free items, per-location prices, minutes), thousands of customers. The mix is
about 20% sales, 25% payments, 50% redemptions, a few refunds, explicit
expiries and voids; packages that are not used up expire automatically
(breakage), and some payments and redemptions happen at another location,
often of another franchise (reconciliation).

Up to five locations (and no `entities` given) are the fixed ones below, in
up to three franchises; more, or an explicit number of entities, are
`loc-001`, `loc-002`, ... in `franchise-1`, `franchise-2`, ... (contiguous
blocks of locations; with as many entities as locations, no location names an
entity, so each is its own).

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
  less initial recognition, so its net never exceeds the liability;
* a void reverses an event of its own day (it applies after every other event
  of the day): a sale with nothing paid on it, a payment that left its invoice
  open, a redemption or a refund; the model undoes what the target did.

Within a day the engine applies sales, payments, redemptions, refunds and then
expiries (SPEC 3.3); the generator decides a day's events in that same order.
"""

from __future__ import annotations

import datetime
import json
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, NamedTuple

CENT = Decimal("0.01")
START = datetime.date(2025, 1, 1)
PAY_WITHIN_DAYS = 20  # every invoice is paid in full by then (< the shortest validity)

# Share of each kind among the generated events (the rest of a day's quota
# falls back to a sale when a kind has nothing to act on).
MIX = (("sale", 20), ("payment", 25), ("redemption", 50), ("refund", 3), ("expiry", 2))
VOID_WEIGHT = 1  # voids, on the same scale as MIX
KIND_ORDER = ("sale", "payment", "redemption", "refund", "expiry", "void")


class Location(NamedTuple):
    id: str
    name: str
    segment: str  # account segment
    entity: str | None  # None: the location is its own entity
    weight: int  # share of the sales


LOCATIONS = (  # the fixed spas of small books
    Location("loc-11", "Franchise 1 - Downtown", "Loc11", "franchise-1", 5),
    Location("loc-12", "Franchise 1 - Riverside", "Loc12", "franchise-1", 3),
    Location("loc-21", "Franchise 2 - Harbor", "Loc21", "franchise-2", 4),
    Location("loc-22", "Franchise 2 - Hillside", "Loc22", "franchise-2", 2),
    Location("loc-31", "Franchise 3 - Airport", "Loc31", "franchise-3", 2),
)


def locations_for(count: int, entities: int | None = None) -> tuple[Location, ...]:
    """The business's locations: the fixed ones for small books, else `count` in blocks.

    `entities` locations' worth of franchises: location i (from 0) belongs to
    franchise `i * entities // count + 1`, so franchises are contiguous and
    differ in size by at most one location.
    """
    if count < 1:
        raise ValueError("--locations must be at least 1")
    if entities is not None and not 1 <= entities <= count:
        raise ValueError("--entities must be between 1 and the number of locations")
    if entities is None and count <= len(LOCATIONS):
        return LOCATIONS[:count]
    if entities is None:
        entities = max(1, (count + 9) // 10)
    width = max(3, len(str(count)))
    out = []
    for i in range(count):
        number = f"{i + 1:0{width}d}"
        franchise = i * entities // count + 1
        entity = None if entities == count else f"franchise-{franchise}"
        out.append(Location(f"loc-{number}", f"Franchise {franchise} - Spa {number}",
                            f"L{number}", entity, 2 + (i * 7) % 5))
    return tuple(out)


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


def config_text(locations: tuple[Location, ...], start: datetime.date) -> str:
    """The books' pkgbooks.toml."""
    out = [
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
    for loc in locations:
        out += [f"[locations.{loc.id}]", f'name = "{loc.name}"', f'account = "{loc.segment}"']
        out += [f'entity = "{loc.entity}"', ""] if loc.entity is not None else [""]
    for item_id, name, category, price, unit in ITEMS:
        out += [f"[items.{item_id}]", f'name = "{name}"', f'category = "{category}"']
        if price is not None:
            out.append(f'price = "{price}"')
        if unit != "visit":
            out.append(f'unit = "{unit}"')
        out.append("")
    ids = {loc.id for loc in locations}
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
            if loc_id in ids:
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


class Done(NamedTuple):
    """An event of the day that a void may reverse, with what the model needs to undo it."""

    event: dict[str, Any]
    target: Package | Invoice
    group: str = ""  # a redemption's item group and units
    quantity: int = 0
    amount: Decimal = Decimal(0)  # a payment's amount


VOID_REASONS = ("keyed twice", "wrong customer", "wrong package", "customer changed mind")


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
    places: tuple[Location, ...] = LOCATIONS[:4]
    per_day: int = 250
    void_weight: int = VOID_WEIGHT  # 0: no voids (the benchmark books of bench/)
    start: datetime.date = START
    rnd: random.Random = field(init=False)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KIND_ORDER, 0))

    def __post_init__(self) -> None:
        self.rnd = random.Random(self.seed)
        self.locations = [loc.id for loc in self.places]
        self.position = {loc: i for i, loc in enumerate(self.locations)}
        self.loc_weights = [loc.weight for loc in self.places]
        self.mix = MIX + ((("void", self.void_weight),) if self.void_weight else ())
        self.staff = {loc: [f"{loc}-staff-{i}" for i in range(1, 7)] for loc in self.locations}
        self.customers = max(1000, self.events // 20)
        self.pkg_ids = list(PACKAGES)
        self.pkg_weights = [PACKAGES[p].weight for p in self.pkg_ids]
        self.open = Pool()  # invoices still owed
        self.redeemable = Pool()  # live packages whose invoice is closed
        self.by_due: dict[datetime.date, list[Invoice]] = {}
        self.serial = 0
        self.today: list[Done] = []  # the day's events a void may reverse

    def next_id(self) -> int:
        self.serial += 1
        return self.serial

    def other_location(self, here: str) -> str:
        """Another location than `here`, uniformly (`here` itself if it is the only one).

        The same draw as `rnd.choice` over the others, without building that list.
        """
        if len(self.locations) == 1:
            return here
        pick = self.rnd.randrange(len(self.locations) - 1)
        return self.locations[pick if pick < self.position[here] else pick + 1]

    # -- one event of each kind ------------------------------------------------
    def sale(self, day: datetime.date) -> dict[str, Any]:
        rnd = self.rnd
        n = self.next_id()
        loc = rnd.choices(self.locations, self.loc_weights)[0]
        invoice = f"INV-{n:07d}"
        lines: list[dict[str, str]] = []
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
        event: dict[str, Any] = {
            "type": "sale", "id": f"s-{n:07d}", "date": day.isoformat(), "location": loc,
            "invoice": invoice, "customer": f"cust-{rnd.randrange(self.customers):06d}"}
        if rnd.random() < 0.9:
            event["staff"] = rnd.choice(self.staff[loc])
        event["lines"] = lines
        self.today.append(Done(event, inv))
        return event

    def payment(self, day: datetime.date, inv: Invoice, in_full: bool) -> dict[str, Any]:
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
        event = {"type": "payment", "id": f"p-{self.next_id():07d}", "date": day.isoformat(),
                 "location": loc, "invoice": inv.invoice, "amount": money(amount),
                 "method": rnd.choice(("card", "card", "card", "cash", "other"))}
        self.today.append(Done(event, inv, amount=amount))
        return event

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

    def redemption(self, day: datetime.date, pkg: Package) -> dict[str, Any]:
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
        event: dict[str, Any] = {
            "type": "redemption", "id": f"r-{self.next_id():07d}", "date": day.isoformat(),
            "location": loc, "instance": pkg.instance, "item": item}
        if quantity != 1:
            event["quantity"] = quantity
        if rnd.random() < 0.95:
            event["staff"] = rnd.choice(self.staff[loc])
        self.today.append(Done(event, pkg, group, quantity))
        return event

    def refund(self, day: datetime.date, pkg: Package) -> dict[str, Any]:
        rnd = self.rnd
        contract_cents = int(pkg.contract / CENT)
        amount = Decimal(rnd.randint(max(1, contract_cents // 2), max(1, contract_cents))) * CENT
        pkg.live = False
        self.redeemable.remove(pkg)
        loc = pkg.source if rnd.random() < 0.9 else self.other_location(pkg.source)
        event = {"type": "refund", "id": f"f-{self.next_id():07d}", "date": day.isoformat(),
                 "location": loc, "instance": pkg.instance, "amount": money(amount),
                 "method": rnd.choice(("card", "cash"))}
        self.today.append(Done(event, pkg))
        return event

    def expiry(self, day: datetime.date, pkg: Package) -> dict[str, Any]:
        pkg.live = False
        self.redeemable.remove(pkg)
        return {"type": "expiry", "id": f"x-{self.next_id():07d}", "date": day.isoformat(),
                "instance": pkg.instance}

    # -- days --------------------------------------------------------------------
    def day(self, day: datetime.date, quota: int) -> list[dict[str, Any]]:
        """One day's events, decided in the engine's order of kinds."""
        rnd = self.rnd
        self.today = []
        wanted = dict.fromkeys(KIND_ORDER, 0)
        kinds, weights = zip(*self.mix, strict=True)
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
        out: list[dict[str, Any]] = [self.sale(day) for _ in range(sales)]
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
        if wanted["void"]:
            out += self.voids(day, wanted["void"])
        return out

    def voids(self, day: datetime.date, wanted: int) -> list[dict[str, Any]]:
        """Up to `wanted` voids of the day's events, each one the engine accepts (see above)."""
        out: list[dict[str, Any]] = []
        voided: set[int] = set()
        for _ in range(wanted):
            if not self.today:
                break
            pick = self.rnd.randrange(len(self.today))
            done = self.today[pick]
            if pick in voided or not self._undo(done):
                continue
            voided.add(pick)
            out.append({"type": "void", "id": f"v-{self.next_id():07d}",
                        "date": day.isoformat(), "target": done.event["id"],
                        "reason": self.rnd.choice(VOID_REASONS)})
        return out

    def _undo(self, done: Done) -> bool:
        """Undo `done` in the model if the engine would accept its void; False if not."""
        kind, target = done.event["type"], done.target
        if isinstance(target, Invoice):
            if target.unpaid <= 0 or (kind == "sale" and target.payments):
                return False  # a sale with payments; a payment that settled its invoice
            if kind == "sale":
                self.open.remove(target)
                target.unpaid = Decimal(0)  # nothing more is ever paid on it
            else:
                target.unpaid += done.amount
            return True
        if kind == "redemption":
            target.left[done.group] += done.quantity
        if not target.live:  # used up by the redemption, or refunded: it comes back
            target.live = True
            self.redeemable.add(target)
        return True

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


HEADER = "# Books generated by `pkgbooks generate`: do not edit by hand."


def default_per_day(locations: int, events: int) -> int:
    """Events a day: 250 for the small books, 50 a location for a chain, more to fit a year.

    A history longer than a year would run past today plus `[dates] future_days`,
    and the build would rightly refuse its last events.
    """
    return max(250 if locations <= len(LOCATIONS) else 50 * locations, -(-events // 365))


def generate(out_dir: Path, events: int = 100_000, seed: int = 1, locations: int = 4,
             per_day: int | None = None, entities: int | None = None,
             void_weight: int = VOID_WEIGHT, header: str = HEADER) -> dict[str, Any]:
    """Write the books into `out_dir`; return a summary (counts by kind, first and last date).

    Event files of `out_dir/events/` that this history does not have are removed,
    so generating again into the same directory gives exactly these books.
    """
    places = locations_for(locations, entities)
    if events < 1:
        raise ValueError("--events must be at least 1")
    gen = Generator(events, seed, places, per_day or default_per_day(locations, events),
                    void_weight)
    files = gen.run()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "pkgbooks.toml").write_text(
        header + "\n" + config_text(places, gen.start), encoding="utf-8")
    events_dir = out_dir / "events"
    events_dir.mkdir(exist_ok=True)
    for old in events_dir.glob("*.jsonl"):
        if old.name not in files:
            old.unlink()
    for name, lines in files.items():
        (events_dir / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"events": sum(gen.counts.values()), "by_kind": gen.counts,
            "first": gen.start.isoformat(), "last": gen.last_day.isoformat(),
            "files": len(files), "customers": gen.customers, "locations": locations,
            "entities": len({loc.entity or loc.id for loc in places})}
