"""The committed demo books: rebuilt byte for byte, valid, and opened by a real Fava."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from served import plain_fava, running

from pkgbooks.build import build
from pkgbooks.validate import validate

DEMO = Path(__file__).resolve().parent.parent / "ledgers" / "demo"


def generated_files(books: Path) -> dict[str, bytes]:
    files = {"main.beancount": (books / "main.beancount").read_bytes()}
    for path in sorted([*books.glob("ledger/**/*"), *books.glob("entities/*.beancount")]):
        if path.is_file():  # the entities' books are in ledger/entities/ and entities/
            files[path.relative_to(books).as_posix()] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("demo") / "demo"
    shutil.copytree(DEMO, copy)
    result = build(copy)
    assert not result.problems, "\n".join(map(str, result.problems))
    return copy


def test_committed_ledger_is_what_the_events_give(rebuilt: Path) -> None:
    committed, fresh = generated_files(DEMO), generated_files(rebuilt)
    assert sorted(committed) == sorted(fresh)
    for name in committed:
        assert committed[name] == fresh[name], f"{name} differs: run `pkgbooks build ledgers/demo`"


def test_demo_validates(rebuilt: Path) -> None:
    report = validate(rebuilt)
    assert report.errors == []


def test_demo_covers_every_event_type_and_feature() -> None:
    kinds: dict[str, int] = {}
    for path in (DEMO / "events").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                kind = json.loads(line)["type"]
                kinds[kind] = kinds.get(kind, 0) + 1
    assert set(kinds) >= {"sale", "payment", "redemption", "refund", "expiry", "void"}
    assert list((DEMO / "events").glob("*.csv")), "the demo exercises the CSV reader too"
    text = "".join(p.read_text(encoding="utf-8") for p in (DEMO / "ledger").glob("*.beancount"))
    for needle in ("kind: \"reconciliation\"", "kind: \"close\"", "Packages:Breakage",
                   "Packages:Unclaimed", "Packages:InitialRecognition", ":DueFrom:",
                   "event: \"expiry:", "kind: \"void\""):
        assert needle in text, needle


def test_fava_serves_the_demo_without_errors(tmp_path: Path) -> None:
    with running(plain_fava(DEMO / "main.beancount"), DEMO, tmp_path) as served:
        status, page = served.get("/")
        assert status == 200 and b"Glow" in page
        status, body = served.get("/api/errors")
        assert status == 200 and json.loads(body)["data"] == []
        status, body = served.get("/api/query?query_string="
                                  "SELECT%20count(*)%20WHERE%20meta('kind')%20=%20'redemption'")
        assert status == 200 and json.loads(body)["data"]
