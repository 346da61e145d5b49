"""A build killed midway (a real process, SIGKILL) never damages the books (SPEC 7).

The books are built once; then their events change and a new build is killed
at several points through its run. After every kill the books on disk must be
exactly the old ones or exactly the new ones, load in Beancount without an
error, and no `.beancount` file may be anywhere in the books directory but
`main.beancount` and `ledger/`; the next build finishes the job.

The kill points are fractions of a build's duration, measured again on every
build that finishes before its kill (a machine busy with other work makes the
first build slower than the next ones), until enough builds were killed.
`tests/test_ledger_writer.py` kills a build at every single change of the disk,
deterministically; this is the same with a real process and a real signal.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from beancount import loader

from pkgbooks.ledger import staging_dir

DEMO = Path(__file__).resolve().parent.parent / "ledgers" / "demo"
COPIES = 5  # the demo's events five times over: a build long enough to interrupt


def snapshot(books: Path) -> dict[str, bytes]:
    files = {"main.beancount": (books / "main.beancount").read_bytes()}
    for path in sorted([*books.glob("ledger/**/*"), *books.glob("entities/*.beancount")]):
        if path.is_file():  # the entities' books are in ledger/entities/ and entities/
            files[path.relative_to(books).as_posix()] = path.read_bytes()
    return files


def big_books(path: Path) -> Path:
    shutil.copytree(DEMO, path, ignore=shutil.ignore_patterns("ledger", "main.beancount"))
    for events in sorted((path / "events").glob("*.jsonl")):
        lines = [json.loads(x) for x in events.read_text(encoding="utf-8").splitlines() if x]
        out = []
        for copy in range(COPIES):
            for event in lines:
                event = dict(event, id=f"c{copy}-{event['id']}")
                for key in ("invoice", "instance", "target"):
                    if key in event:
                        event[key] = f"c{copy}-{event[key]}"
                if "lines" in event:
                    event["lines"] = [dict(x, instance=f"c{copy}-{x['instance']}")
                                      if "instance" in x else x for x in event["lines"]]
                out.append(event)
        out.sort(key=lambda e: e["date"])  # stable: each copy keeps its own order
        events.write_text("".join(json.dumps(e) + "\n" for e in out), encoding="utf-8")
    (path / "events" / "redemption.csv").unlink()
    return path


def run_build(books: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "pkgbooks.cli", "build", str(books)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def assert_whole(books: Path, allowed: list[dict[str, bytes]]) -> None:
    on_disk = snapshot(books)
    assert any(on_disk == books_state for books_state in allowed), "the books are damaged"
    _entries, errors, _ = loader.load_file(str(books / "main.beancount"))
    assert not errors
    # The entities' books, and the month-end summaries for the history reports.
    generated = (books / "ledger" / "entities", books / "entities", books / "ledger" / "summary")
    stray = [p for p in books.rglob("*.beancount")
             if p.parent != books / "ledger" and p != books / "main.beancount"
             and not any(p.is_relative_to(place) for place in generated)]
    assert not stray, stray


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_builds_leave_old_or_new_books(tmp_path: Path) -> None:
    books = big_books(tmp_path / "books")
    started = time.monotonic()
    first = run_build(books)
    assert first.wait(timeout=300) == 0, first.stderr.read() if first.stderr else ""
    duration = time.monotonic() - started
    old = snapshot(books)

    # New events: a late expiry of a package that is still live changes the last month.
    with (books / "events" / "2026-05.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"type": "expiry", "id": "late-expiry", "date": "2026-05-31",
                                 "instance": "c0-PK-00001"}) + "\n")
    reference = tmp_path / "reference"
    shutil.copytree(books, reference)
    done = run_build(reference)
    assert done.wait(timeout=300) == 0
    new = snapshot(reference)
    assert new != old

    kills = 0
    fractions = (0.05, 0.2, 0.4, 0.6, 0.75, 0.85, 0.92, 0.97, 1.0, 1.05)
    for attempt in range(3 * len(fractions)):
        if kills >= 8:
            break
        fraction = fractions[attempt % len(fractions)]
        build = run_build(books)
        started = time.monotonic()
        time.sleep(duration * fraction)
        if build.poll() is None:
            os.kill(build.pid, signal.SIGKILL)
            kills += 1
        else:
            duration = min(duration, time.monotonic() - started)
        build.wait(timeout=60)
        assert_whole(books, [old, new])
    assert kills >= 5, f"only {kills} builds were still running when killed"

    finished = run_build(books)
    assert finished.wait(timeout=300) == 0
    assert snapshot(books) == new
    assert not (books / ".ledger.tmp").exists()
    assert not staging_dir(books).exists()
