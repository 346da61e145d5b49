"""The demo books exported to every target and format, read back and compared with Beancount."""

from __future__ import annotations

import datetime
import functools
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from export_readback import (
    Amounts,
    ledger_movements,
    read_iif,
    read_qbo_csv,
    read_qbo_json,
    read_xero_csv,
    read_xero_json,
    resolve,
)

from pkgbooks.cli import main

DEMO = Path(__file__).resolve().parents[2] / "ledgers" / "demo"
START, END = datetime.date(2026, 1, 1), datetime.date(2026, 5, 31)


@functools.cache
def demo_config() -> dict[str, Any]:
    return tomllib.loads((DEMO / "pkgbooks.toml").read_text(encoding="utf-8"))


def segments() -> dict[str, str]:
    """Account segment -> location id."""
    return {spec["account"]: loc for loc, spec in demo_config()["locations"].items()}


def entity_on(loc: str, date: datetime.date) -> str:
    """A location's entity on a date: its `entity`, then its dated changes (SPEC 2a)."""
    spec = demo_config()["locations"][loc]
    entity: str = spec.get("entity", loc)
    for change in spec.get("changes", []):
        if "entity" in change and change["from"] <= date:
            entity = change["entity"]
    return entity


def gl_names(target: str) -> dict[str, str]:
    mapping = demo_config()["export"][target]["accounts"]
    return {key: value if isinstance(value, str) else value["name"]
            for key, value in mapping.items()}


def run(*args: str) -> str:
    result = CliRunner().invoke(main, ["export", *args])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes.decode("utf-8")  # (`.stdout` turns CR LF into LF)


def expected(target: str, entity: str | None = None, group: str = "month",
             start: datetime.date = START, end: datetime.date = END) -> Amounts:
    mapping = gl_names(target)
    keep = None if entity is None else lambda loc, date: entity_on(loc, date) == entity
    return ledger_movements(DEMO, start, end, lambda a: resolve(mapping, a), segments(),
                            group, keep)


def tags() -> dict[str, str]:
    return {seg: loc for seg, loc in segments().items()}


@pytest.mark.parametrize("entity", [None, "franchise-1", "franchise-2"])
def test_xero_csv_equals_the_ledger(entity: str | None) -> None:
    extra = ["--entity", entity] if entity else []
    text = run("xero", str(DEMO), "--from", str(START), "--to", str(END), *extra)
    assert read_xero_csv([text]) == expected("xero", entity)


def test_a_location_that_changed_entity_posts_to_each_company_by_date() -> None:
    """Hillside (loc-22) joins franchise 1 on 2026-05-01 (demo pkgbooks.toml)."""
    def numbers(entity: str, start: str, end: str) -> set[str]:
        text = run("qbo", str(DEMO), "--from", start, "--to", end, "--entity", entity)
        return {line.split(",")[0] for line in text.splitlines()[1:]}

    assert "Loc22-260401-260430" in numbers("franchise-2", "2026-04-01", "2026-04-30")
    assert "Loc22-260401-260430" not in numbers("franchise-1", "2026-04-01", "2026-04-30")
    assert "Loc22-260501-260531" in numbers("franchise-1", "2026-05-01", "2026-05-31")
    assert "Loc22-260501-260531" not in numbers("franchise-2", "2026-05-01", "2026-05-31")


def test_xero_json_equals_the_ledger() -> None:
    text = run("xero", str(DEMO), "--from", str(START), "--to", str(END), "--format", "json")
    assert read_xero_json(text) == expected("xero")


@pytest.mark.parametrize("entity", [None, "franchise-2"])
def test_qbo_csv_and_json_equal_the_ledger(entity: str | None) -> None:
    extra = ["--entity", entity] if entity else []
    args = ["qbo", str(DEMO), "--from", str(START), "--to", str(END), *extra]
    assert read_qbo_csv(run(*args), tags()) == expected("qbo", entity)
    assert read_qbo_json(run(*args, "--format", "json"), tags()) == expected("qbo", entity)


def test_iif_equals_the_ledger() -> None:
    text = run("iif", str(DEMO), "--from", str(START), "--to", str(END))
    assert read_iif(text, tags()) == expected("iif")


def test_a_half_month_and_days() -> None:
    """Periods cut at --from and --to; --group day gives one journal per day."""
    start, end = datetime.date(2026, 3, 10), datetime.date(2026, 4, 20)
    text = run("xero", str(DEMO), "--from", str(start), "--to", str(end))
    assert read_xero_csv([text]) == expected("xero", start=start, end=end)
    text = run("iif", str(DEMO), "--from", str(start), "--to", str(end), "--group", "day")
    assert read_iif(text, tags()) == expected("iif", group="day", start=start, end=end)


def test_the_same_export_twice_is_byte_identical() -> None:
    for target, fmt in (("xero", "csv"), ("xero", "json"), ("qbo", "csv"), ("qbo", "json")):
        args = [target, str(DEMO), "--from", str(START), "--to", str(END), "--format", fmt]
        assert run(*args) == run(*args)
    args = ["iif", str(DEMO), "--from", str(START), "--to", str(END)]
    assert run(*args) == run(*args)


def test_numbers_differ_by_range_and_repeat_for_the_same_range() -> None:
    """Half a month, then the whole month: another number; the same range: the same one."""
    def numbers(start: str, end: str) -> set[str]:
        text = run("qbo", str(DEMO), "--from", start, "--to", end)
        return {line.split(",")[0] for line in text.splitlines()[1:]}

    half = numbers("2026-03-01", "2026-03-15")
    whole = numbers("2026-03-01", "2026-03-31")
    assert half and whole and not half & whole
    assert numbers("2026-03-01", "2026-03-15") == half
    assert "Loc11-260301-260331" in whole


def test_the_demo_map_is_complete_for_every_target() -> None:
    config = demo_config()["export"]
    assert set(config) == {"xero", "qbo", "iif"}
    for target in config:
        mapping = gl_names(target)
        movements = ledger_movements(DEMO, START, END, lambda a: a, segments())
        for _loc, _first, _last, account in movements:
            resolve(mapping, account)  # raises KeyError if unmapped
