"""Real servers for the tests: `pkgbooks serve` (and plain Fava) on a free port of 127.0.0.1.

Each server runs in its own process on a port the kernel picked free, so
tests on parallel workers never meet on one. A port can still be taken
between the pick and the server's bind (by a server of another worker): a
server that exits because its address is in use is started again on another
port. `serving` waits until the server answers (or fails with its output if
it dies first) and always stops it with SIGINT, as Ctrl-C would, and kills it
if that does not work.
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[1] / "ledgers" / "demo"
PR_SET_PDEATHSIG = 1  # prctl(2)
ATTEMPTS = 5  # ports tried before a server that finds its address in use fails the test


@dataclass
class Served:
    books: Path
    base: str  # http://127.0.0.1:PORT/<ledger slug>
    process: subprocess.Popen[bytes]
    log: Path  # what the server printed (a file: a pipe nobody reads could fill and block it)

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=60) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def copy_demo(target: Path) -> Path:
    books = target / "demo"
    shutil.copytree(DEMO, books)
    return books


def pkgbooks_serve(books: Path) -> Callable[[int], list[str]]:
    """The command line of `pkgbooks serve BOOKS` on a given port."""
    return lambda port: [sys.executable, "-m", "pkgbooks.cli", "serve", str(books),
                         "--port", str(port)]


def plain_fava(main: Path) -> Callable[[int], list[str]]:
    """The command line of Fava itself on `main` on a given port."""
    fava = shutil.which("fava", path=str(Path(sys.executable).parent)) or "fava"
    return lambda port: [fava, "--host", "127.0.0.1", "--port", str(port), str(main)]


def _die_with_the_test_process() -> None:
    """In the server's process before it starts (Linux): SIGINT when the process that started
    it ends, so that a test run stopped half-way (its workers killed) leaves no server."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)


def _in_use(output: str) -> bool:
    return "in use" in output  # pkgbooks: "Address already in use"; Fava: "already in use"


@contextmanager
def running(command: Callable[[int], list[str]], books: Path, logs: Path,
            ready: Callable[[int], str] | None = None) -> Iterator[Served]:
    """A server of `books` started by `command(port)` on a free port, until it answers at `/`;
    its output goes to a log in `logs`.

    With `ready`, the server is ours once its output holds `ready(port)` (a line it prints
    after it has bound the port), so an answer on the port is never another's. Every
    attempt's output goes to one log, so it holds all the server did (a build first, say).
    """
    handle, name = tempfile.mkstemp(prefix="serve-", suffix=".log", dir=logs)
    os.close(handle)
    log = Path(name)
    for _attempt in range(ATTEMPTS):
        port = free_port()
        start = log.stat().st_size
        with log.open("ab") as out:
            process = subprocess.Popen(command(port), stdout=out, stderr=subprocess.STDOUT,
                                       preexec_fn=_die_with_the_test_process)
        root = f"http://127.0.0.1:{port}"
        try:
            landing = _answer(root, process, functools.partial(_tail, log, start),
                              ready(port) if ready else None)
            if landing is None:
                continue  # the port was taken: another one
            slug = landing.removeprefix(root + "/").split("/")[0]
            yield Served(books, f"{root}/{slug}", process, log)
            return
        finally:
            stop(process, log)
    pytest.fail(f"no free port found in {ATTEMPTS} attempts:\n{log.read_text(errors='replace')}")


def _tail(log: Path, start: int) -> str:
    with log.open("rb") as handle:
        handle.seek(start)
        return handle.read().decode(errors="replace")


def _answer(root: str, process: subprocess.Popen[bytes], output: Callable[[], str],
            ready: str | None) -> str | None:
    """The landing URL once the server answers; None if it exited finding its port in use."""
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            if _in_use(output()):
                return None
            pytest.fail(f"the server exited with {process.returncode}:\n{output()}")
        if ready is None or ready in output():
            try:
                with urllib.request.urlopen(root + "/", timeout=10) as response:
                    return str(response.geturl())
            except OSError:
                pass
        if time.monotonic() > deadline:
            pytest.fail(f"the server did not answer within 120 s:\n{output()}")
        time.sleep(0.3)


@contextmanager
def serving(books: Path) -> Iterator[Served]:
    """`pkgbooks serve BOOKS` on a free port, stopped (Ctrl-C) on leaving the block."""
    with running(pkgbooks_serve(books), books, books.parent,
                 ready=lambda port: f"Fava on http://127.0.0.1:{port}/") as served:
        yield served


def stop(process: subprocess.Popen[bytes], log: Path) -> tuple[int, str]:
    """Ctrl-C (SIGINT), then a kill if it has not stopped within 30 s: exit code, output."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
    return process.returncode, log.read_text(errors="replace")
