"""Progress on long work (issue 12): a status line on a terminal, cleared at the end; nothing
when standard error is not a terminal or with `--quiet`; the command's output the same
either way. The commands run as real processes, standard error on a pseudo-terminal."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pkgbooks import partition, progress
from pkgbooks.build import build
from pkgbooks.partition import Parallel
from pkgbooks.progress import DELAY_VARIABLE, Status

DEMO = Path(__file__).resolve().parent.parent / "ledgers" / "demo"
EXPORT = ["export", "xero", "--from", "2026-01-01", "--to", "2026-03-31"]


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------------
# The line itself
# ---------------------------------------------------------------------------


def test_the_line_says_the_counts_a_rate_and_the_time() -> None:
    clock, counts = Clock(), {"events": 0, "months": 0}
    status = Status("build", Terminal(), clock=clock)
    status.counters = [
        progress._Counter("events read", lambda: counts["events"], True, clock()),
        progress._Counter("month files", lambda: counts["months"], False, clock()),
    ]
    clock.now += 4
    counts.update(events=10_000, months=1)
    # 10,000 events in 4 seconds: 2,500 a second.
    assert status.line() == "pkgbooks build: 10,000 events read (2,500/s), 1 month files - 4 s"
    clock.now += 6  # the events are all read; writing goes on: the rate is the reading's
    counts["months"] = 3
    assert status.line() == "pkgbooks build: 10,000 events read (2,500/s), 3 month files - 10 s"


def test_a_phase_replaces_the_counters_of_the_last_one() -> None:
    clock = Clock()
    status = Status("validate", Terminal(), clock=clock)
    progress._active = status
    try:
        assert status.line() == "pkgbooks validate: 0 s"
        progress.phase("replaying the events")
        progress.watch("events read", lambda: 7)
        clock.now += 2
        assert status.line() == "pkgbooks validate: replaying the events: 7 events read - 2 s"
        progress.phase("checking the invariants")
        assert status.line() == "pkgbooks validate: checking the invariants - 2 s"
    finally:
        progress._active = None


def test_counting_counts_what_is_taken_and_is_a_no_op_when_nothing_is_shown() -> None:
    items = [1, 2, 3]
    assert progress.counting(items, "things") is items
    status = Status("export", Terminal(), clock=Clock())
    progress._active = status
    try:
        assert list(progress.counting(items, "things")) == items
        assert status.line() == "pkgbooks export: 3 things - 0 s"
    finally:
        progress._active = None


def test_nothing_is_drawn_on_a_stream_that_is_not_a_terminal() -> None:
    stream = io.StringIO()
    with progress.shown("build", stream=stream):
        assert progress._active is None
        progress.watch("events read", lambda: 1)
    assert stream.getvalue() == ""


def test_quiet_draws_nothing_on_a_terminal() -> None:
    stream = Terminal()
    with progress.shown("build", quiet=True, stream=stream):
        assert progress._active is None
    assert stream.getvalue() == ""


def test_the_line_is_drawn_in_place_and_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DELAY_VARIABLE, "0")
    stream = Terminal()
    with progress.shown("build", stream=stream):
        progress.watch("events read", lambda: 42)
        deadline = time.monotonic() + 10
        while "42 events read" not in stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        progress.note("a message of its own")
    out = stream.getvalue()
    assert out.startswith("\rpkgbooks build: ")
    assert "42 events read" in out
    assert "\na message of its own\n" in out.replace("\r", "\n")
    assert re.search(r"\r {10,}\r$", out)  # the last thing written takes the line away


def test_short_work_shows_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DELAY_VARIABLE, "30")
    stream = Terminal()
    with progress.shown("build", stream=stream):
        progress.watch("events read", lambda: 1)
        time.sleep(0.3)
    assert stream.getvalue() == ""


def test_the_delay_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DELAY_VARIABLE, raising=False)
    assert progress.delay_setting() == 2.0
    monkeypatch.setenv(DELAY_VARIABLE, "0.5")
    assert progress.delay_setting() == 0.5
    monkeypatch.setenv(DELAY_VARIABLE, "soon")
    assert progress.delay_setting() == 2.0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_process_forked_while_the_line_is_shown_has_none(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DELAY_VARIABLE, "0")
    stream = Terminal()
    with progress.shown("build", stream=stream):
        progress.watch("events read", lambda: 1)
        time.sleep(0.05)
        pid = os.fork()
        if pid == 0:  # the child: no line, and the line's lock is free
            ok = progress._active is None and progress._forking is None
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert progress._active is not None
    assert os.waitstatus_to_exitcode(status) == 0


# ---------------------------------------------------------------------------
# The commands, as real processes
# ---------------------------------------------------------------------------


def demo_books(tmp_path: Path, name: str) -> Path:
    books = tmp_path / name
    books.mkdir()
    shutil.copy(DEMO / "pkgbooks.toml", books)
    shutil.copytree(DEMO / "events", books / "events")
    return books


def pkgbooks(args: list[str], *, terminal: bool, delay: str = "0") -> tuple[int, bytes, bytes]:
    """Run the CLI; standard error on a pseudo-terminal or a pipe. (exit, stdout, stderr)"""
    env = {**os.environ, DELAY_VARIABLE: delay, "COLUMNS": "200"}
    command = [sys.executable, "-m", "pkgbooks.cli", *args]
    if not terminal:
        done = subprocess.run(command, capture_output=True, env=env, timeout=600,
                              stdin=subprocess.DEVNULL)
        return done.returncode, done.stdout, done.stderr
    leader, follower = os.openpty()
    with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=follower, env=env) as proc:
        os.close(follower)
        seen = bytearray()
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        os.close(leader)
        assert proc.stdout is not None
        out = proc.stdout.read()
        code = proc.wait(timeout=600)
    # The terminal turns each newline into CR LF; the status line's own CRs stay.
    return code, out, bytes(seen).replace(b"\r\n", b"\n")


def ledger_files(books: Path) -> dict[str, bytes]:
    return {str(p.relative_to(books)): p.read_bytes()
            for p in sorted(books.rglob("*.beancount"))}


def test_build_shows_progress_on_a_terminal(tmp_path: Path) -> None:
    books = demo_books(tmp_path, "books")
    code, out, err = pkgbooks(["build", str(books)], terminal=True)
    assert code == 0, err
    assert b"\rpkgbooks build: " in err and b"events read (" in err
    assert re.search(rb"\r {10,}\r$", err)
    assert cleared(err) == b""
    assert out.startswith(str(books / "main.beancount").encode() + b": books as of ")


@pytest.mark.slow
def test_build_validate_export_show_progress_on_a_terminal_only(tmp_path: Path) -> None:
    on_tty, piped, quiet = (demo_books(tmp_path, n) for n in ("tty", "piped", "quiet"))
    runs = {}
    for books, terminal, extra in ((on_tty, True, []), (piped, False, []),
                                   (quiet, True, ["--quiet"])):
        out = tmp_path / f"{books.name}.csv"
        runs[books.name] = [
            pkgbooks(["build", str(books), *extra], terminal=terminal),
            pkgbooks(["validate", str(books), *extra], terminal=terminal),
            pkgbooks([*EXPORT, str(books), "-o", str(out), *extra], terminal=terminal),
        ]
    for name, results in runs.items():
        for code, _out, err in results:
            assert code == 0, (name, err)
    (build, validate, export) = runs["tty"]
    # On the terminal: the line, redrawn in place with a carriage return, and cleared.
    assert b"\rpkgbooks build: " in build[2]
    assert b"events read (" in build[2] and b"month files" in build[2]
    assert b"\rpkgbooks validate: " in validate[2]
    assert b"replaying the events" in validate[2] or b"loading the ledger" in validate[2]
    assert b"\rpkgbooks export: " in export[2]
    for _code, _out, err in runs["tty"]:
        assert re.search(rb"\r {10,}\r$", err)  # the last thing written takes the line away
        assert cleared(err) == b""  # nothing else was written to standard error
    # Piped, or --quiet on a terminal: nothing at all on standard error.
    for name in ("piped", "quiet"):
        for _code, _out, err in runs[name]:
            assert err == b"", (name, err)
    # The commands' own output is the same in all three ways.
    for step in range(3):
        outputs = {name: runs[name][step][1].replace(name.encode(), b"DIR")
                   for name in runs}
        assert outputs["tty"] == outputs["piped"] == outputs["quiet"]
    assert ledger_files(on_tty) == ledger_files(piped) == ledger_files(quiet)
    exports = {n: (tmp_path / f"{n}.csv").read_bytes() for n in runs}
    assert exports["tty"] == exports["piped"] == exports["quiet"]


def cleared(err: bytes) -> bytes:
    """Standard error less the status line's drawings (each starts with a CR)."""
    return b"".join(part.split(b"\r")[0] for part in err.split(b"\n")).strip(b" ")


def test_short_work_on_a_terminal_shows_nothing(tmp_path: Path) -> None:
    books = demo_books(tmp_path, "books")
    code, _out, err = pkgbooks(["build", str(books)], terminal=True, delay="60")
    assert code == 0
    assert err == b""


def test_a_partitioned_build_counts_the_events_it_routes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The partitions' engines run in other processes: the line counts the events the
    # build hands to them, and the month files as they are merged.
    monkeypatch.setattr(partition, "SMALL_BOOKS_BYTES", 0)
    books = demo_books(tmp_path, "books")
    status = Status("build", Terminal(), delay=3600, clock=Clock())
    progress._active = status
    try:
        result = build(books, parallel=Parallel(jobs=2))
    finally:
        progress._active = None
    assert not result.problems and result.counts.read > 2000
    assert status.line() == (f"pkgbooks build: 2 partitions: {result.counts.read:,} events read, "
                             f"{result.months} month files - 0 s")
