"""The interface every export target implements, and the Jinja2 templates they share.

Modelled on beangulp's `Importer`: an abstract class whose few documented
methods are all a new target needs. A target says which formats it writes,
reads its account map from its `[export.TARGET]` table, checks what its
format needs beyond the map, splits its output into files if the target
limits their size, and gives its template the journals in its own words.
"""

from __future__ import annotations

import abc
import json
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

from pkgbooks.config import Config
from pkgbooks.errors import Error
from pkgbooks.exporters.journals import AccountMap, GLAccount, Journal
from pkgbooks.money import fmt

if TYPE_CHECKING:
    from jinja2 import Environment

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_IIF_UNSAFE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029\"]")


def csv_field(value: object) -> str:
    """One CSV field (RFC 4180): control characters become spaces, quoted where needed."""
    text = _CONTROL.sub(" ", str(value))
    if any(c in text for c in ',"') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_row(fields: list[object]) -> str:
    return ",".join(csv_field(f) for f in fields)


def iif_field(value: object) -> str:
    """One IIF field: no tab, newline, other control character or double quote inside."""
    return _IIF_UNSAFE.sub(" ", str(value))


def json_value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


@lru_cache(maxsize=4)
def _environment(newline: str) -> Environment:
    # Imported here: a command that writes no export (`build`) need not load Jinja.
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("pkgbooks.exporters", "templates"),
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        newline_sequence=newline,  # type: ignore[arg-type]
    )
    env.filters.update(csv=csv_row, iif=iif_field, json=json_value, amount=fmt)
    return env


class Exporter(abc.ABC):
    """One general-ledger target (Xero, QuickBooks Online, QuickBooks Desktop).

    An exporter is made for one business (`config`, read from the file
    `source`) and writes the journals
    `pkgbooks.exporters.journals` made, in one of its `formats`.
    """

    target: ClassVar[str]
    """The target's name on the command line and in `[export.TARGET]`."""

    formats: ClassVar[tuple[str, ...]]
    """The formats it writes; the first is the default."""

    newline: ClassVar[str] = "\n"
    """The line ending of its files."""

    def __init__(self, config: Config, source: str) -> None:
        self.config = config
        self.source = source  # the configuration file, for errors about it

    @abc.abstractmethod
    def account_map(self) -> AccountMap:
        """The target's account map, from its `[export.TARGET.accounts]` table."""
        raise NotImplementedError

    def check(self, journals: list[Journal], fmt: str) -> list[Error]:
        """Problems that keep `journals` from importing in `fmt`, all of them (none by default).

        Called after the map has resolved every account; a non-empty list
        stops the export before anything is written.
        """
        return []

    def split(self, journals: list[Journal], fmt: str) -> list[list[Journal]]:
        """The journals of each file, for targets that limit a file's size (one file by default).

        A journal is never split across files.
        """
        return [journals]

    @abc.abstractmethod
    def context(self, journals: list[Journal], fmt: str) -> dict[str, Any]:
        """The variables of the format's template for one file of journals."""
        raise NotImplementedError

    def render(self, journals: list[Journal], fmt: str) -> str:
        """One file: the template `TARGET.FORMAT.j2` over the journals."""
        template = _environment(self.newline).get_template(f"{self.target}.{fmt}.j2")
        return template.render(**self.context(journals, fmt))


def plain_map(mapping: dict[str, str]) -> AccountMap:
    """An account map whose values are GL account names or codes only."""
    return AccountMap({key: GLAccount(value) for key, value in mapping.items()})
