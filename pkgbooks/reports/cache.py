"""A small on-disk cache for reports: values keyed by a digest of everything they came from.

What is kept: the parsed entries of a month file (keyed by its path and the
SHA-256 of its bytes) and a finished report (keyed by the code, the options
and the digest of every ledger file). A key never names anything that can
change under it, so an entry is either exactly right or never asked for
again: there is nothing to invalidate, and a stale figure cannot be served.

Where: `$PKGBOOKS_CACHE` if set (`off` turns the cache off), else
`$XDG_CACHE_HOME/pkgbooks`, else `~/.cache/pkgbooks`; if none of these can be
used, a private directory under the system's temporary directory. Never in
the books directory: books may be read-only or kept in git, and the build
swaps `ledger/` whole. The directory must belong to the user and be closed to
others (a pickle from someone else is never loaded). It is bounded
(`LIMIT` bytes; the least recently used values go first) and a damaged or
unreadable value is dropped and computed again.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import pickle
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ENV = "PKGBOOKS_CACHE"
LIMIT = 1 << 30  # 1 GiB: the parsed month files of a few million events
FORMAT = b"pkgbooks-cache-1\n"


def _private(path: Path) -> bool:
    """Whether `path` is a directory of ours that nobody else can write to."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = path.stat()
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and not info.st_mode & 0o022 and os.access(path, os.W_OK | os.X_OK))


def cache_root() -> Path | None:
    """The cache directory to use, or None when the cache is off or nowhere is usable."""
    chosen = os.environ.get(ENV)
    if chosen is not None:
        if chosen.strip().lower() in ("", "off", "0", "no", "false"):
            return None
        candidates = [Path(chosen)]
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
        candidates = [base / "pkgbooks"]
    candidates.append(Path(tempfile.gettempdir()) / f"pkgbooks-cache-{os.getuid()}")
    return next((path for path in candidates if _private(path)), None)


def digest(*parts: bytes | str) -> str:
    """SHA-256 of the parts, each length-prefixed (so no two lists of parts collide)."""
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.hexdigest()


@contextlib.contextmanager
def _no_collector() -> Iterator[None]:
    """Unpickling many small objects runs three times faster without the collector."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Cache:
    """Values by (kind, key) in files under `root`; `root` None: a cache that keeps nothing."""

    def __init__(self, root: Path | None, limit: int = LIMIT) -> None:
        self.root = root
        self.limit = limit

    @classmethod
    def default(cls) -> Cache:
        """The user's cache (see the module docstring)."""
        return cls(cache_root())

    def _path(self, kind: str, key: str) -> Path | None:
        return None if self.root is None else self.root / kind / f"{key}.pickle"

    def holds(self, kind: str, key: str) -> bool:
        """Whether a value is kept under (kind, key) (it may still turn out damaged)."""
        path = self._path(kind, key)
        return path is not None and path.exists()

    def get(self, kind: str, key: str) -> Any:
        """The value kept under (kind, key), or None; a damaged file is removed."""
        path = self._path(kind, key)
        if path is None:
            return None
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        header = FORMAT + key.encode() + b"\n"
        try:
            if not blob.startswith(header):
                raise ValueError("not a value of this cache")
            with _no_collector():
                value = pickle.loads(blob[len(header):])
        except Exception:  # damaged, truncated, or from another version: compute it again
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruned last
        return value

    def put(self, kind: str, key: str, value: Any) -> None:
        """Keep a value (best effort: a cache that cannot be written is no error)."""
        path = self._path(kind, key)
        if path is None:
            return
        part: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            blob = FORMAT + key.encode() + b"\n" + pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".", suffix=".part",
                                             delete=False) as handle:
                part = handle.name
                handle.write(blob)
            os.replace(part, path)
        except (OSError, pickle.PicklingError, RecursionError):
            if part is not None:
                with contextlib.suppress(OSError):
                    os.unlink(part)
            return
        self.prune()

    def prune(self) -> None:
        """Remove the least recently used values until the cache is within its limit."""
        if self.root is None:
            return
        files = []
        for path in self.root.glob("*/*.pickle"):
            with contextlib.suppress(OSError):
                info = path.stat()
                files.append((info.st_mtime, info.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.limit:
                break
            with contextlib.suppress(OSError):
                path.unlink()
            total -= size
