"""The one error type of pkgbooks, in the spirit of Beancount's `BeancountError`.

Beancount reports every problem as `(source, message, entry)`: where it came
from, what is wrong, and which entry. pkgbooks does the same for everything a
person can get wrong, whichever part finds it: an event file the reader
cannot use, an event a rule refuses, a configuration key, a ledger a report
or `validate` cannot accept. Every command prints them the same way:

    FILE:LINE: event ID: what is wrong       (an event, or a line of an event file)
    FILE: key: value: what is wrong          (a configuration key)
    FILE: what is wrong                      (a whole file)
    what is wrong                            (an option given on the command line)

Errors are values collected in lists, so one run reports everything; a
function that cannot go on raises `Failed`, which carries its list.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_NO_VALUE = object()


def one_line(text: str) -> str:
    """`text` on one line, whatever the input held: control characters are shown escaped."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class Source(NamedTuple):
    """Where an error comes from: a file, a line in it, or a configuration key in it."""

    file: str | None = None
    line: int | None = None
    key: str | None = None
    # The configuration value at `key`, shown with repr(); absent when there is none to show.
    value: object = _NO_VALUE

    def __str__(self) -> str:
        """`FILE:LINE`, `FILE: key: value` or `FILE`, as the error's prefix."""
        if self.key is not None:
            head = f"{self.file}: {self.key}" if self.file else self.key
            return head if self.value is _NO_VALUE else f"{head}: {self.value!r}"
        if self.line is not None:
            return f"{self.file}:{self.line}"
        return self.file or ""


class Error(NamedTuple):
    """One problem: where it comes from, what is wrong, which event (or entry) it concerns."""

    source: Source
    message: str
    event: str | None = None

    def __str__(self) -> str:
        """The line a person reads; see the module docstring for its shapes."""
        where = str(self.source)
        if self.event is not None or (self.source.line is not None and self.source.key is None):
            body = f"event {self.event or '?'}: {self.message}"
        else:
            body = self.message
        return one_line(f"{where}: {body}" if where else body)

    def at(self, file: str, line: int | None, event: str | None) -> Error:
        """This error, placed at an event's file and line."""
        return self._replace(source=Source(file, line), event=event)


def event_error(file: str, line: int | None, event: str | None, message: str) -> Error:
    """An error about an event, or about a line of an event file (`event` unknown)."""
    return Error(Source(file, line), message, event)


def file_error(file: str, message: str) -> Error:
    """An error about a whole file."""
    return Error(Source(file), message)


def config_error(file: str, key: str, message: str, value: object = _NO_VALUE) -> Error:
    """An error about a configuration key (and the value found there, when there is one)."""
    return Error(Source(file, key=key, value=value), message)


def plain_error(message: str) -> Error:
    """An error with no file behind it (an option given on the command line)."""
    return Error(Source(), message)


class Failed(Exception):
    """Raised when a step cannot go on; `errors` says every reason, in reading order."""

    def __init__(self, errors: list[Error]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors
