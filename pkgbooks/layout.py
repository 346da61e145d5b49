"""What a books directory holds (SPEC 1), and a digest of what a build reads."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from beancount import loader

from pkgbooks.readers import event_files, open_event_file

CONFIG = "pkgbooks.toml"
EVENTS = "events"


def inputs_digest(books_dir: Path, files: list[Path] | None = None) -> str:
    """A digest of everything a build reads, so a report can tell the ledger is stale.

    `files` are the event files (by default, those `event_files()` lists); a
    file that cannot be read counts as empty (the build has refused it already).
    """
    digest = hashlib.sha256()
    events = event_files(books_dir / EVENTS) if files is None else files
    for path in [books_dir / CONFIG, *events]:
        digest.update(path.name.encode() + b"\0")
        try:
            with open_event_file(path) as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        except OSError:
            pass
        digest.update(b"\0")
    return "sha256:" + digest.hexdigest()


@contextlib.contextmanager
def books_lock(
    books_dir: Path, *, exclusive: bool, waiting: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold the books directory's lock while a build writes or a command reads the ledger.

    A build holds it exclusively (one build at a time); `validate` and the
    reports hold it shared, so they never read a ledger in the middle of a
    swap. It is an `flock` on the books directory itself: nothing to create,
    nothing left behind, and it works on books that are read-only.
    `waiting()` is called once if the lock is held by another process.
    A directory that cannot be opened is not locked (what follows reports it).
    """
    try:
        fd = os.open(books_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        yield
        return
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting()
            fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # releases the lock


def load_ledger(main: Path) -> tuple[list[Any], list[Any], dict[str, Any]]:
    """Load a ledger with Beancount (entries, errors, options), never while a build swaps it.

    Beancount's pickle cache is turned off: it would write a large hidden
    `.main.beancount.picklecache` into the books directory, beside the
    committed ledger, and costs more than it saves for a ledger read once.
    """
    loader.initialize(use_cache=False)
    with books_lock(main.parent, exclusive=False):
        entries, errors, options = loader.load_file(str(main))
    return entries, errors, options
