"""A partitioned build (`--jobs N`) leaves a checkpoint, and the next build goes on from it.

Each partition saves its own state at the cuts and the parent its part (the
duplicate index, the counts of events read, the balances); the next build
reads them back as one state (`checkpoint.merged`) and goes on with the
sequential engine, whatever `--jobs` says. Every build here is compared, file
by file, with a full sequential (`--jobs 1`) build of the same inputs in a
fresh directory, and the merged states with the states a sequential build
saves.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
import simulate  # tools/simulate.py
from books import today_for

from pkgbooks import checkpoint, partition
from pkgbooks.build import Rendered, build
from pkgbooks.generate import generate
from pkgbooks.layout import EVENTS
from pkgbooks.partition import Parallel


@pytest.fixture(autouse=True)
def _processes_even_for_small_books(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small test books would be built by the sequential engine: partition them."""
    monkeypatch.setattr(partition, "SMALL_BOOKS_BYTES", 0)


def _generated(books: Path) -> dict[str, bytes]:
    """Every file a build writes (the inputs and the checkpoint aside)."""
    return {p.relative_to(books).as_posix(): p.read_bytes() for p in sorted(books.rglob("*"))
            if p.is_file() and not p.relative_to(books).parts[0].startswith(".")
            and p.relative_to(books).parts[0] not in (EVENTS, "pkgbooks.toml")}


def _build(books: Path, jobs: int, **options: Any) -> Rendered:
    return build(books, parallel=Parallel(jobs) if jobs > 1 else None, **options)


def _as_full_sequential(books: Path, scratch: Path, jobs: int, **options: Any) -> Rendered:
    """Build `books` with `jobs` (going on from its checkpoint where it can), and a fresh copy
    of its inputs in full with `--jobs 1`: the same files, the same counts."""
    result = _build(books, jobs, **options)
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    shutil.copyfile(books / "pkgbooks.toml", scratch / "pkgbooks.toml")
    shutil.copytree(books / EVENTS, scratch / EVENTS)
    full = _build(scratch, 1, **options)
    assert full.how.startswith("full build")
    assert [str(p).replace(str(books), "BOOKS") for p in result.problems] == \
        [str(p).replace(str(scratch), "BOOKS") for p in full.problems]
    assert (result.counts, result.months, result.as_of, result.set_aside) == \
        (full.counts, full.months, full.as_of, full.set_aside)
    mine, theirs = _generated(books), _generated(scratch)
    assert sorted(mine) == sorted(theirs)
    for name in mine:
        assert mine[name] == theirs[name], f"{name} differs from a full --jobs 1 build's"
    return result


def _events(books: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted((books / EVENTS).glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()]


def _write(books: Path, name: str, events: list[dict[str, Any]]) -> None:
    (books / EVENTS / name).write_text("".join(json.dumps(e) + "\n" for e in events),
                                       encoding="utf-8")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pkgbooks generate` books of about three months, their last day set aside in day.jsonl."""
    books = tmp_path_factory.mktemp("gen") / "books"
    generate(books, events=3000, locations=4, entities=2, seed=3, per_day=30)
    events = _events(books)
    last = max(e["date"] for e in events)
    for path in (books / EVENTS).glob("*"):
        path.unlink()
    by_month: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event["date"] < last:
            by_month.setdefault(event["date"][:7], []).append(event)
    for month, chunk in by_month.items():
        _write(books, f"{month}.jsonl", chunk)
    (books.parent / "day.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in events if e["date"] == last), encoding="utf-8")
    return books


@pytest.fixture
def books(base: Path, tmp_path: Path) -> Path:
    """A copy of the base books built in full with `--jobs 2`."""
    copy = tmp_path / "books"
    shutil.copytree(base, copy)
    shutil.copyfile(base.parent / "day.jsonl", tmp_path / "day.jsonl")
    result = _build(copy, 2)
    assert not result.problems and result.how == "full build (no checkpoint)"
    assert checkpoint.checkpoint_path(copy).exists(), "a partitioned build leaves a checkpoint"
    return copy


def _append_day(books: Path) -> None:
    shutil.copyfile(books.parent / "day.jsonl", books / EVENTS / "zz-day.jsonl")


@pytest.mark.parametrize("jobs", [2, 1, 3])
def test_a_day_appended_after_a_partitioned_build_goes_on_from_its_end(
        books: Path, tmp_path: Path, jobs: int) -> None:
    end = _build(books, 2).as_of
    assert end is not None
    _append_day(books)
    result = _as_full_sequential(books, tmp_path / "full", jobs)
    assert result.how == f"rebuilt from {end + datetime.timedelta(days=1)}"


def test_a_partitioned_build_saves_the_states_a_sequential_build_saves(
        books: Path, tmp_path: Path) -> None:
    """The same cuts (date, month, text so far), and read back, the same state: the same
    packages, invoices, event ids, pending expiries, counts, duplicate index, balances."""
    sequential = tmp_path / "sequential"
    shutil.copytree(books, sequential, ignore=shutil.ignore_patterns(checkpoint.DIRECTORY))
    _build(sequential, 1)  # the first build guesses where the books end: built twice
    _build(sequential, 1)
    for jobs in (2, 3):
        shutil.rmtree(books / checkpoint.DIRECTORY)
        _build(books, jobs)
        mine, start = checkpoint.read_manifest(checkpoint.checkpoint_path(books))
        theirs, their_start = checkpoint.read_manifest(checkpoint.checkpoint_path(sequential))
        assert [c.parts for c in mine.cuts] and all(len(c.parts) == jobs + 1 for c in mine.cuts)
        assert len(mine.cuts) == 2
        assert [(c.date, c.month, c.prefix, c.first) for c in mine.cuts] == \
            [(c.date, c.month, c.prefix, c.first) for c in theirs.cuts]
        for cut, their_cut in zip(mine.cuts, theirs.cuts, strict=True):
            ours = checkpoint.read_state(checkpoint.checkpoint_path(books), start, cut)
            seq = checkpoint.read_state(checkpoint.checkpoint_path(sequential), their_start,
                                        their_cut)
            assert _comparable(ours) == _comparable(seq)


def _comparable(saved: checkpoint.Saved) -> dict[str, Any]:
    """A saved state with the dictionaries' order and the sets' storage left out."""
    engine, state = saved.engine, saved.engine.state
    finished: dict[str, Any] = {}
    for blob in (saved.finished if isinstance(saved.finished, list) else [saved.finished]):
        finished.update(checkpoint.LazyFinished(blob, state).load())
    return {
        "packages": dict(sorted(state.packages.items())),
        "invoices": dict(sorted(state.invoices.items())),
        "finished": dict(sorted(finished.items())),
        "closed": sorted(state.closed_invoices), "events": dict(sorted(state.events.items())),
        "voided": dict(sorted(state.voided.items())),
        "expiries": sorted(engine.expiries), "counts": dataclasses.asdict(engine.counts),
        "last": engine.last, "seen": sorted(engine.seen.items()),
        "balances": dict(sorted(saved.balances.items())),
    }


def test_a_backdated_event_goes_on_from_the_start_of_the_last_month(
        books: Path, tmp_path: Path) -> None:
    manifest, _start = checkpoint.read_manifest(checkpoint.checkpoint_path(books))
    month_cut = min(c.date for c in manifest.cuts)
    sale = next(e for e in _events(books) if e["type"] == "sale")
    _write(books, "zz-late-entry.jsonl", [dict(
        sale, id="late-sale", invoice="late-inv",
        date=(month_cut + datetime.timedelta(days=2)).isoformat(),
        lines=[dict(line, instance=f"late-{i}") if "instance" in line else line
               for i, line in enumerate(sale["lines"])])])
    for jobs in (2, 1):
        result = _as_full_sequential(books, tmp_path / "full", jobs)
        assert result.how == f"rebuilt from {month_cut + datetime.timedelta(days=1)}"


def test_a_changed_pkgbooks_toml_makes_a_full_partitioned_build(
        books: Path, tmp_path: Path) -> None:
    config = books / "pkgbooks.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('title = "', 'title = "New ', 1),
                      encoding="utf-8")
    _append_day(books)
    result = _as_full_sequential(books, tmp_path / "full", 2)
    assert result.how == "full build (pkgbooks.toml changed since the last build)"
    assert checkpoint.checkpoint_path(books).exists()
    _write(books, "zz-nothing.jsonl", [])
    assert _as_full_sequential(books, tmp_path / "full", 2).how.startswith("rebuilt from ")


def test_a_damaged_part_makes_a_full_build(books: Path, tmp_path: Path) -> None:
    path = checkpoint.checkpoint_path(books)
    manifest, start = checkpoint.read_manifest(path)
    end = max(manifest.cuts, key=lambda c: c.date)
    raw = bytearray(path.read_bytes())
    raw[start + end.offset + end.parts[0] + 5] ^= 0xFF  # in the first partition's part
    path.write_bytes(bytes(raw))
    _append_day(books)
    result = _as_full_sequential(books, tmp_path / "full", 2)
    assert result.how.startswith("full build")


def _steps(seed: int, tmp_path: Path) -> None:
    """A random history in steps (later days, a backdated chain of events), each built with
    a random number of jobs, each as a full sequential build of the same inputs (with
    `--keep-going` or `--as-of` now and then)."""
    rng = random.Random(seed)
    history = simulate.generate(seed, events=rng.choice([200, 300]))
    events = history.events
    dates = sorted({e["date"] for e in events})
    books = tmp_path / "books"
    (books / EVENTS).mkdir(parents=True)
    (books / "pkgbooks.toml").write_text(history.config_text, encoding="utf-8")
    options: dict[str, Any] = {"today": today_for(history)}
    if rng.random() < 0.3:
        options["keep_going"] = True
    if rng.random() < 0.3:
        options["as_of"] = datetime.date.fromisoformat(dates[-1]) - datetime.timedelta(
            days=rng.randint(0, 20))
    cuts = sorted(rng.sample(dates[len(dates) // 3:], 2))
    held: set[str] = set()
    for sale in events:
        if sale["type"] == "sale" and cuts[0] < sale["date"] <= cuts[1] and rng.random() < 0.2:
            held |= _chain(events, sale)
    steps = [
        [e for e in events if e["date"] <= cuts[0] and e["id"] not in held],
        [e for e in events if cuts[0] < e["date"] <= cuts[1] and e["id"] not in held],
        [e for e in events if e["id"] in held],  # backdated
        [e for e in events if e["date"] > cuts[1] and e["id"] not in held],
    ]
    hows = []
    for number, chunk in enumerate(steps):
        _write(books, f"step-{number}.jsonl", chunk)
        result = _as_full_sequential(books, tmp_path / "full", rng.choice([1, 2, 3]), **options)
        hows.append((result.how, bool(result.problems)))
    assert any(how.startswith("rebuilt from") for how, _ in hows) or any(p for _, p in hows)


def _chain(events: list[dict[str, Any]], sale: dict[str, Any]) -> set[str]:
    """The ids of a sale and of every event about its invoice or packages (voids included)."""
    keys = {sale["invoice"], *(line.get("instance") for line in sale["lines"])} - {None}
    ids = {e["id"] for e in events
           if e["id"] == sale["id"] or e.get("invoice") in keys or e.get("instance") in keys}
    while more := {e["id"] for e in events if e.get("target") in ids} - ids:
        ids |= more
    return ids


@pytest.mark.parametrize("seed", range(3))
def test_random_histories_in_steps_with_any_jobs(seed: int, tmp_path: Path) -> None:
    _steps(seed, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3, 15))
def test_more_random_histories_in_steps(seed: int, tmp_path: Path) -> None:
    _steps(seed, tmp_path)
