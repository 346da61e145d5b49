"""SPEC 4.7 / 4.8 / 7 under faults: tools/simulate.py on a fixed set of seeds.

Each seed makes a random business and a valid history for it, then checks the
clean build (validate + the invariants from the ledger Beancount loads), a
byte-identical rebuild, duplicated / shuffled / split / re-encoded event files
giving the same ledger, `--as-of`, refused events (reported line by line as
`FILE:LINE: event ID: ...`, the previous ledger untouched) and tampered ledgers
caught by validate. The long runs (hundreds of seeds) are recorded in
docs/reliability.md. The last tests check that the simulator's checks have
teeth: an engine that applies duplicates, or a build that writes on failure,
is caught.
"""

from __future__ import annotations

import random
import shutil
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import simulate as sim  # tools/simulate.py
from books import DEMO

import pkgbooks.build
from pkgbooks.build import build
from pkgbooks.engine import Engine
from pkgbooks.ledger import LedgerWriter

# Chosen to cover both recognition and both allocation policies, both expired-balance
# policies, 1 to 4 locations, with and without reconciliation, refunds, explicit and
# automatic expiries, and voids of sales, payments and redemptions.
CI_SEEDS = [0, 2, 3, 5, 12, 23]


@pytest.mark.slow
@pytest.mark.parametrize("seed", CI_SEEDS)
def test_seed(seed: int, tmp_path: Path) -> None:
    result = sim.simulate(seed, tmp_path)
    assert result.ok, "\n".join(result.failures)
    assert result.faults["duplicates"] > 0 and result.faults["tampered"] == 2
    assert any(k.startswith("refused: ") for k in result.faults)


def test_ci_seeds_cover_every_event_type_and_policy() -> None:
    kinds: Counter[str] = Counter()
    voided: Counter[str] = Counter()
    policies = set()
    for seed in CI_SEEDS:
        history = sim.generate(seed)
        by_id = {e["id"]: e for e in history.events}
        kinds.update(e["type"] for e in history.events)
        voided.update(by_id[e["target"]]["type"] for e in history.events if e["type"] == "void")
        policies.update(f"{k}={v}" for k, v in history.config["policy"].items())
    assert set(kinds) == set(sim.KINDS)
    assert set(voided) == {"sale", "payment", "redemption", "refund"}
    assert {"recognition=item_price", "recognition=proportional",
            "payment_allocation=products_first", "payment_allocation=proportional",
            "expired_balance=revenue", "expired_balance=liability"} <= policies


def test_generation_is_deterministic_and_sized() -> None:
    a, b = sim.generate(7, 150), sim.generate(7, 150)
    assert a.events == b.events and a.config_text == b.config_text
    assert len(a.events) == 150
    assert sim.generate(8, 150).events != a.events


def test_split_layout_keeps_the_order_of_each_date_and_kind(tmp_path: Path) -> None:
    """The faults never reorder events of one date and kind (SPEC 3.3 reading order)."""
    history = sim.generate(5, 300)
    clean = sim.canonical_layout(history)
    order = sim.application_order(history, clean)
    rng = random.Random(1)
    for _ in range(5):
        layout = sim.split_layout(rng, history, order)
        sim.add_duplicates(rng, history, layout, 20)
        for items in layout.files.values():
            sim._shuffle_keeping_classes(rng, items, history)
        again = sim.application_order(history, layout)
        assert sim._classes(history, again) == sim._classes(history, order)


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sim.main(["--seeds", "1", "--events", "80", "--keep", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "seed 1: 80 events" in out and "seeds failed: 0" in out


# --- the checks have teeth -------------------------------------------------------------


def test_an_engine_that_applies_duplicates_is_caught(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Engine, "_is_duplicate", lambda self, read: False)
    result = sim.simulate(1, tmp_path, events=120)
    assert any(f.startswith(("duplicated:", "split:")) for f in result.failures), \
        result.failures


def test_a_build_that_writes_on_failure_is_caught(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    class Leaky(LedgerWriter):
        def abandon(self) -> None:
            self.commit("; written although the build failed\n")

    monkeypatch.setattr(pkgbooks.build, "LedgerWriter", Leaky)
    result = sim.simulate(1, tmp_path, events=120)
    assert any("the previous ledger changed" in f for f in result.failures), result.failures


def test_a_validate_that_misses_edits_is_caught(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim, "validate", lambda books: SimpleNamespace(errors=[]))
    result = sim.simulate(1, tmp_path, events=120)
    assert any(f.startswith("tamper not caught") for f in result.failures), result.failures


# --- an engine bug found with the simulator's duplicates -------------------------------


def test_a_repeated_export_costs_about_as_much_as_the_export(tmp_path: Path) -> None:
    books = tmp_path / "books"
    shutil.copytree(DEMO, books,
                    ignore=shutil.ignore_patterns("ledger", "main.beancount"))
    events = books / "events"
    lines = [x for f in sorted(events.glob("*.jsonl"))
             for x in f.read_text(encoding="utf-8").splitlines() if x][:600]
    for f in events.iterdir():
        f.unlink()
    (events / "export.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # CPU time of this process (the build runs in it): what other processes on the machine
    # do (a parallel test run, say) does not count.
    started = time.process_time()
    assert not build(books).problems
    once = time.process_time() - started
    (events / "export-again.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.process_time()
    result = build(books)
    twice = time.process_time() - started
    assert not result.problems and result.counts.duplicates == len(lines)
    assert twice < 5 * once + 1.0, f"once {once:.2f}s, with a repeated export {twice:.2f}s"
