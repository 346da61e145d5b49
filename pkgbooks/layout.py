"""What a books directory holds (SPEC 1), and a digest of what a build reads."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from beancount import loader

from pkgbooks.readers import event_files

CONFIG = "pkgbooks.toml"
EVENTS = "events"


def inputs_digest(books_dir: Path) -> str:
    """A digest of everything a build reads, so a report can tell the ledger is stale."""
    digest = hashlib.sha256()
    for path in [books_dir / CONFIG, *event_files(books_dir / EVENTS)]:
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"")
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
