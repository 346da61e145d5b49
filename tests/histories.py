"""Random books for the build-wide tests: tools/simulate.py histories, written to disk.

`write_books` adds what the simulator does not make: a location that moves to
another entity on a date (SPEC 2a), so the entity books and the partitioned
build meet a dated entity change.
"""

from __future__ import annotations

import datetime
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def simulator() -> ModuleType:
    """tools/simulate.py, loaded once."""
    name = "pkgbooks_simulate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "simulate.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def write_books(seed: int, books: Path, events: int | None = None,
                move: bool = True) -> Any:
    """A random history written as a books directory; returns the history.

    With `move`, the last location moves to another entity halfway through
    the history (a new entity when the business has only one).
    """
    sim = simulator()
    history = sim.generate(seed, events)
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
        text = sim.toml_text(history.config)
        history.config_text = text
    books.mkdir(parents=True, exist_ok=True)
    (books / "pkgbooks.toml").write_text(text, encoding="utf-8")
    sim.write_layout(books, sim.canonical_layout(history), history.events)
    return history


def today_for(history: Any) -> datetime.date:
    """A build date after every event of the history (dates are checked against today)."""
    last: datetime.date = history.last
    return max(datetime.date.today(), last)
