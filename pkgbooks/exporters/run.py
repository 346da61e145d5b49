"""`pkgbooks export`: the books' journals for one target, written to files or standard output.

Everything is computed and checked before anything is written: an export
with a problem (stale books, unknown entity, unmapped accounts, a format's
own limits) writes nothing and names every problem at once.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from pkgbooks.errors import Error, Failed, file_error, plain_error
from pkgbooks.exporters import GROUPS
from pkgbooks.exporters.base import Exporter
from pkgbooks.exporters.iif import IifExporter
from pkgbooks.exporters.journals import journals, movements
from pkgbooks.exporters.qbo import QboExporter
from pkgbooks.exporters.xero import XeroExporter
from pkgbooks.layout import CONFIG
from pkgbooks.reports.books import Books

EXPORTERS: dict[str, type[Exporter]] = {
    exporter.target: exporter for exporter in (XeroExporter, QboExporter, IifExporter)
}


@dataclass(frozen=True, slots=True)
class Request:
    """What `pkgbooks export` was asked for."""

    target: str
    start: datetime.date
    end: datetime.date
    group: str = "month"
    entity: str | None = None
    fmt: str | None = None


def export(books: Books, request: Request, split: bool = True) -> list[str]:
    """The text of each file of the export (one file, with `split=False`: standard output)."""
    source = str(books.directory / CONFIG)
    exporter = EXPORTERS[request.target](books.config, source)
    fmt = request.fmt or exporter.formats[0]
    problems: list[Error] = []
    if fmt not in exporter.formats:
        problems.append(plain_error(f"--format {fmt}: {request.target} writes "
                                    + " or ".join(exporter.formats)))
    if request.group not in GROUPS:
        problems.append(plain_error(f"--group {request.group}: month or day"))
    if request.end < request.start:
        problems.append(plain_error(f"--to {request.end} is before --from {request.start}"))
    if books.as_of is not None and request.end > books.as_of:
        problems.append(plain_error(
            f"--to {request.end}: books run to {books.as_of}: run "
            f"`pkgbooks build {books.directory} --as-of {request.end}` first"))
    config = books.config
    entities = config.entities()
    if request.entity is not None and request.entity not in entities:
        problems.append(plain_error(f"--entity {request.entity}: no such entity (the books "
                                    "have " + ", ".join(sorted(entities)) + ")"))
    if problems:
        raise Failed(problems)
    moved = movements(books, request.start, request.end, request.group, request.entity)
    found = journals(config, moved, config.locations, exporter.account_map(),
                     (source, f"export.{request.target}.accounts"),
                     (request.start, request.end), request.group)
    errors = exporter.check(found, fmt)
    if errors:
        raise Failed(errors)
    parts = exporter.split(found, fmt) if split else [found]
    return [exporter.render(part, fmt) for part in parts]


def output_paths(output: Path, count: int) -> list[Path]:
    """`out.csv` for one file; `out-1.csv`, `out-2.csv`, ... for several."""
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{i}{output.suffix}") for i in range(1, count + 1)]


def write(output: Path, texts: list[str]) -> list[Path]:
    """Write the files under temporary names, then rename them all into place."""
    paths = output_paths(output, len(texts))
    parts: list[Path] = []
    for path, text in zip(paths, texts, strict=True):
        part = path.with_name(f".{path.name}.part")
        try:
            part.write_bytes(text.encode("utf-8"))
        except OSError as exc:
            for written in parts:
                written.unlink(missing_ok=True)
            raise Failed([file_error(str(path), f"cannot write: {exc.strerror}")]) from None
        parts.append(part)
    for part, path in zip(parts, paths, strict=True):
        os.replace(part, path)
    return paths
