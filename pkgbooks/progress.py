"""A status line on the terminal while long work runs (build, validate, export).

    pkgbooks build: 412,345 events read (51,200/s), 8 month files - 8 s

Work that takes longer than about two seconds shows what it is doing on
standard error, redrawn in place (a carriage return) a few times a second
and cleared when the work ends, so the command's final output is exactly
what it is without it. Nothing is shown when standard error is not a
terminal (a pipe, a file, CI) or with `--quiet`.

The line is drawn by a small thread that reads counters the work already
keeps (`watch`), so the work itself does no extra step per event; a loop
that keeps no counter can be wrapped (`counting`). The hooks are module
functions that do nothing when no status line is shown, so the code they
sit in does not depend on the command running it. The delay before the
line appears is `PKGBOOKS_PROGRESS_DELAY` seconds (default 2; 0 shows it at
once, which the tests use).

A process forked while the line is shown (the partitioned build) gets no
status line of its own, and the fork never happens half-way through a
redraw: the line's lock is held across it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO, TypeVar

T = TypeVar("T")

DELAY_VARIABLE = "PKGBOOKS_PROGRESS_DELAY"
DELAY = 2.0  # seconds of work before the line appears
INTERVAL = 0.25  # seconds between redraws


@dataclass(slots=True)
class _Counter:
    label: str
    probe: Callable[[], int]
    rate: bool  # show a rate per second beside the count
    since: float  # when counting began (for the rate) ...
    changed: float = 0.0  # ... and when the count last moved: the rate of the work done
    last: int = 0


@dataclass
class Status:
    """The status line of one command: a title, the current phase, its counters."""

    title: str
    stream: TextIO
    delay: float = DELAY
    interval: float = INTERVAL
    clock: Callable[[], float] = time.monotonic
    phase_text: str = ""
    counters: list[_Counter] = field(default_factory=list)
    started: float = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _width: int = 0  # characters of the line now on the screen
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.started = self.clock()

    def line(self) -> str:
        """The text of the status line now."""
        now = self.clock()
        parts = []
        for counter in self.counters:
            value = counter.probe()
            if value != counter.last:
                counter.last, counter.changed = value, now
            text = f"{value:,} {counter.label}"
            counting = counter.changed - counter.since
            if counter.rate and counting > 0:
                text += f" ({value / counting:,.0f}/s)"
            parts.append(text)
        what = ", ".join(parts)
        if self.phase_text:
            what = f"{self.phase_text}: {what}" if what else self.phase_text
        elapsed = f"{now - self.started:.0f} s"
        return f"pkgbooks {self.title}: {what} - {elapsed}" if what else \
            f"pkgbooks {self.title}: {elapsed}"

    def draw(self) -> None:
        """Redraw the line in place, cut to the terminal's width (a wrapped line cannot be)."""
        columns = shutil.get_terminal_size().columns
        text = self.line()[: max(10, columns - 1)]
        with self.lock:
            self.stream.write("\r" + text.ljust(self._width))
            self.stream.flush()
            self._width = len(text)

    def clear(self) -> None:
        """Take the line off the screen."""
        with self.lock:
            if self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
                self._width = 0

    def note(self, message: str) -> None:
        """A line of its own on the stream, above the status line (drawn again if shown)."""
        shown = self._width > 0
        self.clear()
        with self.lock:
            self.stream.write(message + "\n")
            self.stream.flush()
        if shown:
            self.draw()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pkgbooks-progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the line: once more with the final counts if it is shown, then cleared.

        The last redraw makes what the line shows not depend on how the work's
        end fell between two redraws.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._width:
            self.draw()
        self.clear()

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return
        while True:
            self.draw()
            if self._stop.wait(self.interval):
                return


_active: Status | None = None
_forking: Status | None = None


def delay_setting() -> float:
    """Seconds before the line appears: `PKGBOOKS_PROGRESS_DELAY`, else 2."""
    try:
        return max(0.0, float(os.environ.get(DELAY_VARIABLE, DELAY)))
    except ValueError:
        return DELAY


@contextlib.contextmanager
def shown(title: str, quiet: bool = False, stream: TextIO | None = None) -> Iterator[None]:
    """Show a status line for the work inside, if `stream` (stderr) is a terminal."""
    global _active
    out = stream if stream is not None else sys.stderr
    if quiet or _active is not None or not out.isatty():
        yield
        return
    status = Status(title, out, delay=delay_setting())
    _active = status
    status.start()
    try:
        yield
    finally:
        _active = None
        status.stop()


def phase(text: str) -> None:
    """The work moves to a new phase: say so, and drop the counters of the last one."""
    status = _active
    if status is not None:
        status.counters = []
        status.phase_text = text


def watch(label: str, probe: Callable[[], int], rate: bool = False) -> None:
    """Show `probe()` (a count the work keeps anyway) as `N label`, with a rate if asked."""
    status = _active
    if status is not None:
        status.counters = [*status.counters, _Counter(label, probe, rate, status.clock())]


def counting(items: Iterable[T], label: str, rate: bool = False) -> Iterable[T]:
    """`items`, counted on the status line as they are taken; `items` itself when none is shown."""
    if _active is None:
        return items
    done = [0]
    watch(label, lambda: done[0], rate)
    return _counted(items, done)


def _counted(items: Iterable[T], done: list[int]) -> Iterator[T]:
    for item in items:
        yield item
        done[0] += 1


def note(message: str, stream: TextIO | None = None) -> None:
    """Print a line on standard error without tearing the status line."""
    status = _active
    if status is not None:
        status.note(message)
    else:
        print(message, file=stream if stream is not None else sys.stderr, flush=True)


def _before_fork() -> None:
    global _forking
    _forking = _active
    if _forking is not None:
        _forking.lock.acquire()


def _after_fork_in_parent() -> None:
    global _forking
    if _forking is not None:
        _forking.lock.release()
    _forking = None


def _after_fork_in_child() -> None:
    global _active, _forking
    if _forking is not None:
        _forking.lock.release()
    _active = _forking = None  # the thread that draws does not exist in the child


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                    after_in_child=_after_fork_in_child)
