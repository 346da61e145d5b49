"""What a books directory holds (SPEC 1), and a digest of what a build reads."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


# The descriptors of the locks this process holds (`books_lock`). A process forked while
# one is held (the summaries' helper, the partitions' processes) closes its copies at once:
# an flock holds while any copy of its descriptor is open, so a helper that outlived a
# stopped build would otherwise keep the books locked.
_held: set[int] = set()


def _release_in_child() -> None:
    for fd in _held:
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_release_in_child)


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
    _held.add(fd)
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
        _held.discard(fd)
        os.close(fd)  # releases the lock


Loaded = tuple[list[Any], list[Any], dict[str, Any]]

# The last ledger loaded in this process, by the identity of every file it was read from.
_last_loaded: tuple[str, Loaded] | None = None


def _ledger_files_identity(main: Path) -> str:
    """A digest of the names and contents of `main.beancount` and of every file in ledger/.

    Contents, not timestamps: a hand edit within the same clock tick, or one
    that keeps a file's size, still counts as a change. Hashing costs a small
    fraction of what Beancount takes to load the same bytes.
    """
    ledger = main.parent / "ledger"
    paths = [main] + (sorted(p for p in ledger.iterdir() if p.is_file())
                      if ledger.is_dir() else [])
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path).encode() + b"\0")
        with path.open("rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()


def load_ledger(main: Path) -> Loaded:
    """Load a ledger with Beancount (entries, errors, options), never while a build swaps it.

    Beancount's pickle cache is turned off: it would write a large hidden
    `.main.beancount.picklecache` into the books directory, beside the
    committed ledger, and costs more than it saves for a ledger read once.
    Within one process (Fava, a test run) the last ledger loaded is kept and
    served again while none of its files has changed; callers treat the
    entries as read-only.
    """
    global _last_loaded
    # Beancount's loader only here: a build writes the ledger as text and need not import it.
    from beancount import loader

    loader.initialize(use_cache=False)
    with books_lock(main.parent, exclusive=False):
        identity = _ledger_files_identity(main)
        if _last_loaded is not None and _last_loaded[0] == identity:
            return _last_loaded[1]
        entries, errors, options = loader.load_file(str(main))
    _last_loaded = (identity, (entries, errors, options))
    return _last_loaded[1]
