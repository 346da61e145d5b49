"""The committed demo books: rebuilt byte for byte, valid, and opened by a real Fava."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.geturl(), response.read()


def test_fava_serves_the_demo_without_errors() -> None:
    port = _free_port()
    fava = shutil.which("fava", path=str(Path(sys.executable).parent)) or "fava"
    server = subprocess.Popen(
        [fava, "--host", "127.0.0.1", "--port", str(port), str(DEMO / "main.beancount")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                landing, page = _get(base + "/")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        slug = landing.removeprefix(base + "/").split("/")[0]
        assert b"Glow" in page or slug
        _, body = _get(f"{base}/{slug}/api/errors")
        assert json.loads(body)["data"] == []
        _, body = _get(f"{base}/{slug}/api/query?query_string="
                       "SELECT%20count(*)%20WHERE%20meta('kind')%20=%20'redemption'")
        assert json.loads(body)["data"]
    finally:
        server.terminate()
        server.wait(timeout=10)
