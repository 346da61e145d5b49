"""The demo books that ship inside the package (SPEC 1, 7a: `pkgbooks demo` from any directory).

`pkgbooks/demo_books` is the project's `ledgers/demo` (a link in the source
tree, real files in an installed package): its `pkgbooks.toml` and events.
`pkgbooks demo` copies them into a directory of the user's, or a new
temporary one, and builds them there, so it never writes into the package.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from pkgbooks.errors import Failed, file_error
from pkgbooks.layout import CONFIG, EVENTS


def shipped() -> Path:
    """The demo books' inputs as shipped with the package (package data beside this module;
    `pkgbooks` is a namespace package, which `importlib.resources` cannot always read)."""
    return Path(__file__).resolve().parent / "demo_books"


def place(target: Path | None) -> Path:
    """A directory holding the demo books' inputs: `target` (filled if it holds no books yet)
    or a new temporary directory."""
    if target is None:
        target = Path(tempfile.mkdtemp(prefix="pkgbooks-demo-"))
    if (target / CONFIG).exists():
        return target  # books already there (an earlier demo): build them again
    if target.exists() and any(target.iterdir()):
        raise Failed([file_error(str(target),
                                 f"not empty and holds no {CONFIG}: choose another --dir")])
    source = shipped()
    try:
        (target / EVENTS).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / CONFIG, target / CONFIG)
        for item in sorted((source / EVENTS).iterdir()):
            if item.is_file():
                shutil.copyfile(item, target / EVENTS / item.name)
    except OSError as exc:
        raise Failed([file_error(str(target), f"cannot copy the demo books there: "
                                              f"{exc.strerror or exc}")]) from None
    return target
