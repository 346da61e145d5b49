"""`pkgbooks serve`: the books in Fava, with the pkgbooks extension (SPEC 6a).

Before Fava starts, the books are built if their ledger is missing or stale:
built from other inputs than `pkgbooks.toml` and `events/` now hold (the
digest the build recorded), or with a `main.beancount` that is not what this
version of pkgbooks writes (say, from before the invariants plugin). Fava is
then served by the same WSGI server its own command uses (cheroot); Ctrl-C
or SIGTERM stops it cleanly.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from pkgbooks.config import load_config
from pkgbooks.layout import CONFIG, inputs_digest
from pkgbooks.ledger import ACCOUNTS, INPUTS_DIRECTIVE, LEDGER_DIR, MAIN, render_main

_RECORDED = re.compile(rf'^\S+ custom "{INPUTS_DIRECTIVE}" "([^"]*)"$', re.MULTILINE)


def why_build(books_dir: Path) -> str | None:
    """Why the ledger must be built before it is served, or None if it is up to date."""
    main = books_dir / MAIN
    accounts = books_dir / LEDGER_DIR / ACCOUNTS
    if not main.exists() or not accounts.exists():
        return "no ledger yet"
    if main.read_text(encoding="utf-8") != render_main(load_config(books_dir / CONFIG)):
        return f"{MAIN} is not what this pkgbooks writes"
    recorded = _RECORDED.search(accounts.read_text(encoding="utf-8"))
    if recorded is None or recorded[1] != inputs_digest(books_dir):
        return "the ledger is older than pkgbooks.toml or events/"
    return None


def run_fava(main: Path, host: str, port: int, ready: Callable[[], None]) -> None:
    """Serve Fava on the ledger until Ctrl-C or SIGTERM; `ready()` once it listens."""
    from cheroot.wsgi import Server
    from fava.application import create_app

    server = Server((host, port), create_app([str(main)]))

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a shell starts background jobs with it ignored, and Ctrl-C must still stop.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.prepare()  # binds the port: an address in use fails here, before `ready()`
        ready()
        server.serve()
    except KeyboardInterrupt:
        server.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
