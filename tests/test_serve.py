"""`pkgbooks serve` builds first when the ledger is missing or stale (SPEC 6a)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pkgbooks.serve import why_build

DEMO = Path(__file__).resolve().parent.parent / "ledgers" / "demo"


@pytest.fixture
def books(tmp_path: Path) -> Path:
    copy = tmp_path / "demo"
    shutil.copytree(DEMO, copy)
    return copy


def test_the_committed_demo_is_served_as_it_is(books: Path) -> None:
    assert why_build(books) is None


def test_no_ledger_yet(books: Path) -> None:
    shutil.rmtree(books / "ledger")
    assert why_build(books) == "no ledger yet"


def test_events_added_since_the_build(books: Path) -> None:
    events = sorted((books / "events").glob("*.jsonl"))[0]
    events.write_text(events.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert why_build(books) == "the ledger is older than pkgbooks.toml or events/"


def test_configuration_changed_since_the_build(books: Path) -> None:
    config = books / "pkgbooks.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n# a note\n", encoding="utf-8")
    assert why_build(books) == "the ledger is older than pkgbooks.toml or events/"


def test_a_main_file_from_another_version(books: Path) -> None:
    main = books / "main.beancount"
    main.write_text(main.read_text(encoding="utf-8").replace("plugin", "; plugin"),
                    encoding="utf-8")
    assert why_build(books) == "main.beancount is not what this pkgbooks writes"
