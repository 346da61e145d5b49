"""What a books directory holds (SPEC 1), and a digest of what a build reads."""

from __future__ import annotations

import hashlib
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


def load_ledger(main: Path) -> tuple[list[Any], list[Any], dict[str, Any]]:
    """Load a ledger with Beancount (entries, errors, options).

    Beancount's pickle cache is turned off: it would write a large hidden
    `.main.beancount.picklecache` into the books directory, beside the
    committed ledger, and costs more than it saves for a ledger read once.
    """
    loader.initialize(use_cache=False)
    entries, errors, options = loader.load_file(str(main))
    return entries, errors, options
