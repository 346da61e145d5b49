"""`build --jobs N`: the partitioned build writes byte for byte what the sequential one writes.

On the demo, on `bench/generate.py` books and on random histories of
`tools/simulate.py` (with a location that changes entity, cross-entity
redemptions, voids, exact duplicates, refused events of every kind under
`--keep-going`, and `--as-of`), the books built with 2 and 3 partitions in
2 and 3 processes are the sequential build's: every file under the books
directory, and the counts, problems, warnings and finished packages.
"""

from __future__ import annotations

import datetime
import os
import random
import shutil
from pathlib import Path
from typing import Any

import generate as bench_generate  # bench/generate.py
import pytest
import simulate as sim  # tools/simulate.py
from books import DEMO, today_for, write_history

from pkgbooks import partition
from pkgbooks.build import Rendered, build
from pkgbooks.partition import Parallel


@pytest.fixture(autouse=True)
def _processes_even_for_small_books(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small test books would be built by the sequential engine: partition them."""
    monkeypatch.setattr(partition, "SMALL_BOOKS_BYTES", 0)


def _generated(books: Path) -> dict[str, bytes]:
    """Every file a build writes (the inputs and hidden leftovers aside).

    A refusal names the place of the first event with its id by its full path:
    the path of each copy is taken out.
    """
    return {str(p.relative_to(books)): p.read_bytes().replace(bytes(books), b"BOOKS")
            for p in sorted(books.rglob("*"))
            if p.is_file() and not p.relative_to(books).parts[0].startswith(".")
            and p.relative_to(books).parts[0] not in ("events", "pkgbooks.toml")}


def _summary(result: Rendered, books: Path) -> tuple[Any, ...]:
    return (result.counts, [str(p).replace(str(books), "BOOKS") for p in result.problems],
            [w.replace(str(books), "BOOKS") for w in result.warnings],
            result.finished, result.as_of, result.months, result.set_aside,
            sorted(result.balances.items()))


def _same_whatever_the_jobs(books: Path, tmp: Path, jobs: tuple[int, ...] = (2, 3),
                            **options: Any) -> Rendered:
    """Build copies of `books` sequentially and with each number of jobs; all alike."""
    results = {}
    files = {}
    for n in (1, *jobs):
        copy = tmp / f"jobs-{n}"
        shutil.copytree(books, copy)
        result = build(copy, parallel=Parallel(n) if n > 1 else None, **options)
        results[n], files[n] = _summary(result, copy), _generated(copy)
    for n in jobs:
        assert results[n] == results[1], f"--jobs {n}: the summary differs"
        assert sorted(files[n]) == sorted(files[1]), f"--jobs {n}: other files"
        for name in files[1]:
            assert files[n][name] == files[1][name], f"--jobs {n}: {name} differs"
    return result


def test_demo(tmp_path: Path) -> None:
    result = _same_whatever_the_jobs(DEMO, tmp_path)
    assert not result.problems and result.counts.applied > 2000


@pytest.mark.slow
def test_demo_as_of_a_date_in_the_middle(tmp_path: Path) -> None:
    result = _same_whatever_the_jobs(DEMO, tmp_path, as_of=datetime.date(2026, 4, 17))
    assert result.counts.after_as_of > 0


@pytest.mark.slow
def test_generated_books(tmp_path: Path) -> None:
    books = tmp_path / "books"
    made = bench_generate.generate(books, events=3000, seed=7, locations=5, per_day=60)
    # A year after the last event, so that the packages expire in every partition.
    as_of = datetime.date.fromisoformat(str(made["last"])) + datetime.timedelta(days=365)
    result = _same_whatever_the_jobs(books, tmp_path / "builds", as_of=as_of,
                                     today=as_of)
    assert not result.problems and result.counts.expiries > 100


@pytest.mark.slow
def test_generated_chain_with_voids(tmp_path: Path) -> None:
    """`pkgbooks generate`: 12 locations in franchises, voids; 2 and 5 partitions."""
    from pkgbooks.generate import generate

    books = tmp_path / "books"
    made = generate(books, events=4000, seed=3, locations=12, entities=4)
    assert made["by_kind"]["void"] > 10
    as_of = datetime.date.fromisoformat(str(made["last"])) + datetime.timedelta(days=200)
    result = _same_whatever_the_jobs(books, tmp_path / "builds", jobs=(2, 5), as_of=as_of,
                                     today=as_of)
    assert not result.problems and result.counts.expiries > 0


def _faulty_history(seed: int, books: Path) -> Any:
    """A random history with exact duplicates and refused events of every kind injected."""
    history = write_history(seed, books)
    rng = random.Random(seed)
    layout = sim.canonical_layout(history)
    sim.add_duplicates(rng, history, layout, rng.randint(1, 8))
    n = len(history.events)
    home = {i: name for name, items in layout.files.items() for i, _ in items}
    jsonl = [name for name in layout.files if name.endswith(".jsonl")]
    injected: dict[int, Any] = {}
    for _what, entry, conflicts_with in sim.refused_events(rng, history, rng.randint(6, 14)):
        index = n + len(injected)
        injected[index] = entry
        raw = entry if isinstance(entry, str) else None
        if conflicts_with is not None:  # read after the event whose id it takes
            original = next(i for i, e in enumerate(history.events) if e["id"] == conflicts_with)
            items = layout.files[home[original]]
            at = next(k for k, (i, r) in enumerate(items) if i == original and r is None)
            items.insert(rng.randint(at + 1, len(items)), (index, raw))
        else:
            items = layout.files[rng.choice(jsonl)]
            items.insert(rng.randint(0, len(items)), (index, raw))
    sim.write_layout(books, layout, history.events, injected)
    return history


@pytest.mark.parametrize("seed", [3, pytest.param(11, marks=pytest.mark.slow),
                                  pytest.param(29, marks=pytest.mark.slow)])
def test_random_histories_with_faults_keep_going(tmp_path: Path, seed: int) -> None:
    books = tmp_path / "books"
    history = _faulty_history(seed, books)
    result = _same_whatever_the_jobs(books, tmp_path / "builds", keep_going=True,
                                     today=today_for(history))
    assert result.problems and result.set_aside == len(result.problems)
    assert result.counts.duplicates > 0


@pytest.mark.parametrize("seed", [5, pytest.param(17, marks=pytest.mark.slow)])
def test_random_histories_refused_without_keep_going(tmp_path: Path, seed: int) -> None:
    """The build fails alike: the same problems, nothing written by any."""
    books = tmp_path / "books"
    history = _faulty_history(seed, books)
    result = _same_whatever_the_jobs(books, tmp_path / "builds", today=today_for(history))
    assert result.problems and not result.set_aside


@pytest.mark.parametrize("seed", [8, pytest.param(23, marks=pytest.mark.slow)])
def test_random_histories_as_of(tmp_path: Path, seed: int) -> None:
    books = tmp_path / "books"
    history = write_history(seed, books)
    span = (history.last - history.first).days
    as_of = history.first + datetime.timedelta(days=random.Random(seed).randint(0, span))
    result = _same_whatever_the_jobs(books, tmp_path / "builds", as_of=as_of,
                                     today=today_for(history))
    assert not result.problems


def test_cross_entity_and_void_events_cross_partitions(tmp_path: Path) -> None:
    """The routing sends every event of an invoice or package to its source's partition."""
    books = tmp_path / "books"
    history = write_history(3, books)
    from pkgbooks.config import load_config
    from pkgbooks.layout import CONFIG, EVENTS
    from pkgbooks.readers import event_files, read_events

    config = load_config(books / CONFIG)
    problems: list[Any] = []
    paths = event_files(books / EVENTS, problems)
    routing = partition.Routing(config, problems, [str(p) for p in paths], None,
                                tmp_path / "events.spool")
    routing.read(read_events(paths, problems))
    parts = routing.split(3, None)
    assert all(isinstance(part, list) for part in parts)
    assert len(parts) == 3 and sum(map(len, parts)) == len(history.events)
    sizes = sorted(map(len, parts))
    assert sizes[0] > 0.1 * sizes[-1], sizes  # balanced by event count


def _event(**fields: Any) -> str:
    import json

    return json.dumps(fields)


# Every event concerns an invoice or a package sold elsewhere than where it happens, or
# one that is unknown, or an id read before: the cases routing must get right.
CROSSING = [
    _event(type="payment", id="p0", date="2026-05-01", location="loc-21", invoice="INV-A",
           amount="10.00", method="cash"),  # before its invoice's sale: refused
    _event(type="sale", id="s1", date="2026-05-02", location="loc-11", invoice="INV-A",
           customer="Ann", lines=[{"package": "cuts-3", "instance": "PK-A"}]),
    _event(type="sale", id="s5", date="2026-05-01", location="loc-12", invoice="INV-D",
           customer="Dan", lines=[{"package": "cuts-3", "instance": "PK-D"}]),
    _event(type="payment", id="p1", date="2026-05-03", location="loc-21", invoice="INV-A",
           amount="121.00", method="card"),  # at another entity's location
    _event(type="redemption", id="r1", date="2026-05-04", location="loc-22", instance="PK-A",
           item="haircut"),  # cross-entity: reconciliation
    _event(type="sale", id="s2", date="2026-05-05", location="loc-21", invoice="INV-A",
           customer="Bob", lines=[{"package": "cuts-3", "instance": "PK-B"}]),  # invoice taken
    _event(type="sale", id="s3", date="2026-05-05", location="loc-22", invoice="INV-B",
           customer="Cy", lines=[{"package": "cuts-3", "instance": "PK-A"}]),  # instance taken
    _event(type="void", id="v1", date="2026-05-06", target="r1", reason="keyed twice"),
    _event(type="void", id="v2", date="2026-05-06", target="v1", reason="void of a void"),
    _event(type="void", id="v3", date="2026-05-06", target="nope", reason="unknown"),
    _event(type="void", id="v4", date="2026-05-06", target="later", reason="not yet"),
    _event(type="redemption", id="s1", date="2026-05-06", location="loc-12", instance="PK-D",
           item="haircut"),  # the id of another event
    _event(type="payment", id="p1", date="2026-05-03", location="loc-21", invoice="INV-A",
           amount="121.00", method="card"),  # read twice: skipped
    _event(type="redemption", id="r9", date="2026-05-06", location="loc-12", instance="PK-Z",
           item="haircut"),
    _event(type="payment", id="p9", date="2026-05-06", location="loc-11", invoice="INV-Z",
           amount="5.00", method="cash"),
    _event(type="sale", id="s4", date="2026-05-02", location="loc-99", invoice="INV-C",
           customer="Eve", lines=[{"package": "cuts-3", "instance": "PK-C"}]),
    _event(type="payment", id="p4", date="2026-05-03", location="loc-11", invoice="INV-C",
           amount="5.00", method="cash"),
    _event(type="refund", id="f1", date="2026-05-07", location="loc-12", instance="PK-A",
           amount="20.00", method="cash"),
    _event(type="expiry", id="e1", date="2026-05-08", instance="PK-D"),
    _event(type="redemption", id="later", date="2026-05-09", location="loc-11",
           instance="PK-D", item="haircut"),
]


@pytest.mark.parametrize("order", [0, pytest.param(1, marks=pytest.mark.slow),
                                   pytest.param(2, marks=pytest.mark.slow)])
def test_events_about_other_locations_and_unknown_things(tmp_path: Path, order: int) -> None:
    books = tmp_path / "books"
    (books / "events").mkdir(parents=True)
    shutil.copyfile(DEMO / "pkgbooks.toml", books / "pkgbooks.toml")
    lines = list(CROSSING)
    random.Random(order).shuffle(lines)
    half = len(lines) // 2
    (books / "events" / "a.jsonl").write_text("\n".join(lines[:half]) + "\n")
    (books / "events" / "b.jsonl").write_text("\n".join(lines[half:]) + "\n")
    result = _same_whatever_the_jobs(books, tmp_path / "builds", jobs=(2, 3, 4),
                                     keep_going=True, today=datetime.date(2026, 6, 1))
    refused = {p.event for p in result.problems}
    assert {"p0", "s2", "s3", "v2", "v3", "v4", "r9", "p9", "s4", "p4"} <= refused
    assert result.counts.duplicates == 1


def _die(_task: Any) -> Any:
    os._exit(1)  # a build process killed (out of memory, say)


def test_a_process_that_dies_fails_the_build_and_the_books_stay(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    books = tmp_path / "books"
    shutil.copytree(DEMO, books)
    before = _generated(books)
    monkeypatch.setattr(partition, "run_task", _die)
    result = build(books, parallel=Parallel(2))
    assert [str(p) for p in result.problems] == [
        "a build process ended unexpectedly (out of memory?); try fewer --jobs"]
    assert _generated(books) == before


def test_cli_jobs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pkgbooks.cli import main

    books = tmp_path / "books"
    shutil.copytree(DEMO, books)
    done = CliRunner().invoke(main, ["build", str(books), "--jobs", "0"])
    assert done.exit_code == 2 and "--jobs" in done.output
    before = _generated(books)
    done = CliRunner().invoke(main, ["build", str(books), "--jobs", "3"])
    assert done.exit_code == 0, done.output
    assert _generated(books) == before  # the committed demo, rebuilt in 3 processes
