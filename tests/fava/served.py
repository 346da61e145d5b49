"""A real `pkgbooks serve` over books on disk, for the Fava tests.

The server runs in its own process on a free port of 127.0.0.1; the fixture
waits until it answers (or fails with its output if it dies first) and always
stops it with SIGINT, as Ctrl-C would, and kills it if that does not work.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "ledgers" / "demo"


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


@contextmanager
def serving(books: Path) -> Iterator[Served]:
    """`pkgbooks serve BOOKS` on a free port, stopped (Ctrl-C) on leaving the block."""
    port = free_port()
    log = books.parent / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "pkgbooks.cli", "serve", str(books), "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT,
        )
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                output = log.read_text(errors="replace")
                pytest.fail(f"pkgbooks serve exited with {process.returncode}:\n{output}")
            try:
                with urllib.request.urlopen(root + "/", timeout=10) as response:
                    landing = response.geturl()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("pkgbooks serve did not answer within 120 s")
                time.sleep(0.3)
        slug = landing.removeprefix(root + "/").split("/")[0]
        yield Served(books, f"{root}/{slug}", process, log)
    finally:
        stop(process, log)


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
