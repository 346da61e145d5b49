"""The `pkgbooks` command: click commands only (parse, call, print)."""

from __future__ import annotations

import datetime
import gc
import os
import sys
from pathlib import Path

import click

from pkgbooks import progress
from pkgbooks.build import AS_OF_LIMIT, build
from pkgbooks.demo import place
from pkgbooks.errors import Error, Failed, plain_error
from pkgbooks.events import LAST_DATE
from pkgbooks.exporters import GROUPS, TARGETS
from pkgbooks.layout import books_lock
from pkgbooks.partition import Parallel, default_jobs
from pkgbooks.reports import AS_OF_REPORTS, REPORTS
from pkgbooks.reports.output import FORMATS

# The other commands import what only they need (Beancount, beanquery, Fava, Jinja2)
# inside their functions: a build starts without them.


def _date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime.date | None:
    if value is None:
        return None
    try:
        date = datetime.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date YYYY-MM-DD") from None
    if date > LAST_DATE:
        raise click.BadParameter(f"{value!r} is too far in the future")
    return date


def _as_of(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime.date | None:
    date = _date(ctx, param, value)
    if date is not None and date > datetime.date.today() + AS_OF_LIMIT:
        raise click.BadParameter(
            f"{value!r} is more than {AS_OF_LIMIT.days} days after today: a typo?")
    return date


quiet_option = click.option(
    "--quiet", is_flag=True,
    help="No progress line on the terminal (it is shown only on a terminal, for work over "
         "about 2 seconds).")

books_dir = click.argument(
    "books_dir", metavar="DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)


class _OneLineErrors(click.Group):
    """The last guard: an operating-system error (a file that vanished, a disk that failed)
    is one line naming the path, never a traceback. The commands report the errors they
    expect more precisely before this."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"pkgbooks: {where}{exc.strerror or exc}", err=True)
            sys.exit(1)


@click.group(cls=_OneLineErrors)
@click.version_option(package_name="pkgbooks")
def main() -> None:
    """Books for businesses that sell prepaid packages: events in, Beancount out."""


# `run` is the program (not a test calling `main`); a command whose process may end at once
# when it is done has said so.
_program = False
_quick_exit = False


def _may_exit_at_once() -> None:
    """This command leaves no thread, child process or open file behind when it ends (its
    books are written, fsynced and renamed into place first), so `run` may end the process
    without tearing its objects down one by one: a built state of 100k events is about a
    million objects, some 0.3 s to take apart for nothing. Nor is the cyclic collector
    wanted any more: it would walk them all once more when a build turns it back on."""
    global _quick_exit
    _quick_exit = True
    if _program:
        gc.disable()


def run() -> None:
    """The `pkgbooks` program: `main`, ended at once after a command that allows it."""
    global _program
    _program = True
    try:
        main()
    except SystemExit as done:
        if not _quick_exit:
            raise
        code = done.code
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)  # as Python prints a SystemExit message
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)


@main.command("build")
@books_dir
@click.option("--as-of", callback=_as_of, metavar="DATE",
              help="Books as of this date: later events are left out, packages expiring on "
                   "or before it are expired. Default: the latest event date.")
@click.option("--keep-going", is_flag=True,
              help="Write the books without the refused events (listed in the ledger and "
                   "here) instead of nothing; exit status 3 if any was set aside.")
@click.option("--jobs", type=click.IntRange(min=1), metavar="N",
              help="Apply the events in N partitions by source location, in N processes "
                   "(default: the number of cores; 1: one process). Same output whatever N.")
@click.option("--dask", metavar="ADDRESS",
              help="Run the partitions on the Dask cluster whose scheduler is at ADDRESS "
                   "(tcp://host:8786; needs pkgbooks[dask] here and on the workers).")
@quiet_option
def build_cmd(books_dir: Path, as_of: datetime.date | None, keep_going: bool = False,
              jobs: int | None = None, dask: str | None = None, quiet: bool = False) -> None:
    """Turn DIR's events into DIR/main.beancount and its monthly files."""
    _may_exit_at_once()
    if dask is None:
        jobs = jobs or default_jobs()
    parallel = Parallel(jobs, dask) if dask is not None or (jobs or 1) > 1 else None
    try:
        with progress.shown("build", quiet):
            result = build(books_dir, as_of, keep_going=keep_going, waiting=lambda: progress.note(
                f"pkgbooks: another build of {books_dir} is running; waiting for it to finish"),
                parallel=parallel)
    except Failed as exc:
        _fail(exc.errors, "the configuration has problems; nothing was written")
    counts = result.counts
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.closed_period:
        _fail(result.problems,
              "the books are closed for that period; nothing was written, the previous books "
              "are unchanged (correct in the open period, by void and new events)")
    if result.problems and not result.set_aside:
        _fail(result.problems,
              f"{len(result.problems)} problem(s); nothing was written, the previous books "
              "are unchanged")
    for line in result.rewritten:
        click.echo(f"pkgbooks: this build changes a month already on disk: {line}", err=True)
    click.echo(
        f"{books_dir / 'main.beancount'}: books as of "
        f"{result.as_of.isoformat() if result.as_of else '-'}; "
        f"{counts.read} events read, {counts.applied} applied, {counts.duplicates} duplicates "
        f"skipped, {counts.rejected} rejected, {counts.after_as_of} after the as-of date; "
        f"{counts.expiries} automatic expiries; {counts.transactions} transactions in "
        f"{result.months} month file(s); {result.how}"
    )
    if result.set_aside:
        for problem in result.problems:
            click.echo(f"set aside: {problem}", err=True)
        click.echo(
            f"pkgbooks: {result.set_aside} event(s) set aside (listed in "
            f"{books_dir / 'ledger' / 'refused.beancount'}); the next build tries them again",
            err=True,
        )
        sys.exit(3)


@main.command("validate")
@books_dir
@quiet_option
def validate_cmd(books_dir: Path, quiet: bool = False) -> None:
    """Check DIR's ledger: Beancount's checks, the SPEC 4.7 invariants, and a replay."""
    from pkgbooks.validate import validate

    try:
        with books_lock(books_dir, exclusive=False), progress.shown("validate", quiet):
            report = validate(books_dir)
    except Failed as exc:
        _fail(exc.errors, "the configuration has problems")
    for line in report.notes:
        click.echo(f"note: {line}", err=True)
    if report.errors:
        _fail(report.errors, f"{len(report.errors)} check(s) failed")
    for line in report.passed:
        click.echo(f"ok  {line}")


@main.command("report")
@click.argument("name", type=click.Choice(list(REPORTS)))
@books_dir
@click.option("--from", "start", callback=_date, metavar="DATE",
              help="First day of the period (not for the as-of reports: "
                   f"{', '.join(AS_OF_REPORTS)}).")
@click.option("--to", "end", required=True, callback=_date, metavar="DATE",
              help="Last day of the period (included), or the as-of date.")
@click.option("--basis", type=click.Choice(["payment", "sale"]), default=None,
              help="liability only: which liability is rolled forward [default: payment].")
@click.option("--location", "locations", multiple=True, metavar="ID",
              help="Only this location (repeatable).")
@click.option("--entity", metavar="E", help="Only the locations of this entity (franchise).")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="table",
              show_default=True)
def report_cmd(name: str, books_dir: Path, start: datetime.date | None, end: datetime.date,
               basis: str | None, locations: tuple[str, ...], entity: str | None,
               fmt: str) -> None:
    """Run report NAME (a Beancount query over DIR's ledger) for a period."""
    from pkgbooks.reports.run import cached_report

    try:
        result, set_aside = cached_report(name, books_dir, start, end, basis,
                                          locations=locations, entity=entity)
    except Failed as exc:
        _fail(exc.errors, f"no {name} report")
    click.echo(FORMATS[fmt](result), nl=False)
    _note_set_aside(books_dir, set_aside)


def _note_set_aside(books_dir: Path, count: int) -> None:
    """SPEC 7: a report of books built with events set aside says how many."""
    if count:
        click.echo(
            f"note: {count} event(s) set aside by `pkgbooks build --keep-going` are not in "
            f"these figures (listed in {books_dir / 'ledger' / 'refused.beancount'})",
            err=True,
        )


@main.command("export")
@click.argument("target", type=click.Choice(TARGETS))
@books_dir
@click.option("--from", "start", required=True, callback=_date, metavar="DATE",
              help="First day of the first period.")
@click.option("--to", "end", required=True, callback=_date, metavar="DATE",
              help="Last day of the last period (included).")
@click.option("--group", type=click.Choice(GROUPS), default="month", show_default=True,
              help="One journal per location and month, or day.")
@click.option("--entity", metavar="E", help="Only the locations of entity E.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]),
              help="xero, qbo: csv (default) or json (the API body); iif has one format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE (Xero CSV over 300 rows: FILE-1, FILE-2, ...). "
                   "Default: standard output.")
@quiet_option
def export_cmd(target: str, books_dir: Path, start: datetime.date, end: datetime.date,
               group: str, entity: str | None, fmt: str | None, output: Path | None,
               quiet: bool = False) -> None:
    """Summary journals of DIR's books for Xero, QuickBooks Online (qbo) or Desktop (iif)."""
    from pkgbooks.exporters.run import Request, export, write
    from pkgbooks.reports.books import Books

    try:
        request = Request(target, start, end, group, entity, fmt)
        with progress.shown("export", quiet):
            progress.phase("loading the ledger")
            books = Books.load(books_dir)
            progress.phase("summing the postings")
            texts = export(books, request, split=output is not None)
        if output is None:
            sys.stdout.buffer.write("".join(texts).encode("utf-8"))
            return
        for path in write(output, texts):
            click.echo(str(path))
    except Failed as exc:
        _fail(exc.errors, "nothing was exported")


@main.command("serve")
@books_dir
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (keep 127.0.0.1 unless others must reach it).")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def serve_cmd(books_dir: Path, host: str, port: int) -> None:
    """Review DIR's books in Fava with the pkgbooks page (built first if stale)."""
    from pkgbooks.serve import run_fava, why_build

    try:
        reason = why_build(books_dir)
    except Failed as exc:
        _fail(exc.errors, "the configuration has problems")
    if reason is not None:
        click.echo(f"{books_dir}: {reason}: building", err=True)
        click.get_current_context().invoke(build_cmd, books_dir=books_dir, as_of=None)

    def ready() -> None:
        click.echo(f"Fava on http://{host}:{port}/ (the Packages page is in the sidebar); "
                   "Ctrl-C stops it", err=True)

    try:
        run_fava(books_dir / "main.beancount", host, port, ready)
    except OSError as exc:
        _fail([plain_error(f"cannot serve on {host}:{port}: {exc.strerror or exc}")],
              "Fava did not start")
    click.echo("pkgbooks: Fava stopped", err=True)


@main.command("demo")
@click.option("--dir", "books_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Where to put the demo books (default: a new temporary "
              "directory); books already there are built again.")
def demo_cmd(books_dir: Path | None) -> None:
    """Copy the demo books (shipped with pkgbooks), build and validate them, show two reports."""
    from pkgbooks.reports.books import Books
    from pkgbooks.reports.run import run_report

    try:
        where = place(books_dir)
    except Failed as exc:
        _fail(exc.errors, "the demo books could not be set up")
        return
    ctx = click.get_current_context()
    ctx.invoke(build_cmd, books_dir=where, as_of=None)
    ctx.invoke(validate_cmd, books_dir=where)
    books = Books.load(where)
    first = min(e.date for e in books.entries if hasattr(e, "narration"))
    end = books.as_of or first
    for name in ("liability", "reconciliation"):
        click.echo("")
        click.echo(FORMATS["table"](run_report(name, books, first, end)), nl=False)
    click.echo(f"\nThe demo books are in {where}: `fava {where / 'main.beancount'}`, "
               f"or `pkgbooks report collections {where} --from {first} --to {end}`.")


@main.command("generate")
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--events", type=click.IntRange(1, 100_000_000), default=100_000,
              show_default=True, help="How many events.")
@click.option("--locations", type=click.IntRange(1, 100_000), default=4, show_default=True,
              help="How many locations.")
@click.option("--entities", type=click.IntRange(1, 100_000), default=None,
              help="How many franchises the locations belong to (default: up to 5 "
                   "locations are the fixed ones in 1-3 franchises; more, one per 10).")
@click.option("--seed", type=int, default=1, show_default=True,
              help="The same seed and options write the same bytes.")
def generate_cmd(out_dir: Path, events: int, locations: int, entities: int | None,
                 seed: int) -> None:
    """Write a synthetic business into DIR (pkgbooks.toml and events/), to try pkgbooks at scale.

    Every event type appears, voids included, and every event is one `pkgbooks
    build` accepts. DIR must be new or empty.
    """
    if entities is not None and entities > locations:
        raise click.BadParameter(f"{entities} entities for {locations} locations: "
                                 "at most one entity a location", param_hint="'--entities'")
    if out_dir.exists() and any(out_dir.iterdir()):
        _fail([plain_error(f"{out_dir}: not empty: generate writes new books into a new "
                           "or empty directory")], "nothing generated")
    from pkgbooks.generate import generate  # only here: other commands need not load it

    summary = generate(out_dir, events, seed, locations, entities=entities)
    plural = {"expiry": "expiries"}
    kinds = ", ".join(f"{n:,} {plural.get(kind, kind + 's')}"
                      for kind, n in summary["by_kind"].items() if n)
    click.echo(f"pkgbooks: generated {summary['events']:,} events ({kinds}) from "
               f"{summary['first']} to {summary['last']}, {locations:,} locations in "
               f"{summary['entities']:,} entities, in {out_dir}")
    click.echo(f"next: pkgbooks build {out_dir}")


def _fail(errors: list[Error], summary: str) -> None:
    """Print every error the one way (see `pkgbooks.errors`), then the summary; exit 1."""
    for error in errors:
        click.echo(str(error), err=True)
    click.echo(f"pkgbooks: {summary}", err=True)
    sys.exit(1)


if __name__ == "__main__":
    run()
