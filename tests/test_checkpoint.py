"""Incremental builds (pkgbooks/checkpoint.py): the same bytes as a full build, or a full build.

Every test builds the same inputs twice: in the books directory that went on
from its checkpoint, and in a fresh directory from nothing. Every file of the
two ledgers must be byte-identical, and so must the summary's counts.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import random
import shutil
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import generate as bench_generate  # bench/generate.py
import pytest
import simulate as sim  # tools/simulate.py
from books import built_files, write_events

from pkgbooks import checkpoint
from pkgbooks.build import Rendered, build
from pkgbooks.state import PackageState

# --- helpers -------------------------------------------------------------------------------


def same_inputs(books: Path, where: Path) -> Path:
    """A fresh books directory with the same pkgbooks.toml and events/ as `books`."""
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    shutil.copyfile(books / "pkgbooks.toml", where / "pkgbooks.toml")
    shutil.copytree(books / "events", where / "events")
    return where


def summary(result: Rendered) -> tuple[Any, ...]:
    return (result.counts, result.months, result.as_of, result.set_aside, result.rewritten)


def build_both(books: Path, scratch: Path, **options: Any) -> Rendered:
    """Build `books` (going on from its checkpoint where it can) and a copy of it without the
    checkpoint (a full build, over the same ledger on disk); check they agree; the first's result.

    Both have the same ledger on disk before the build, so the closed-period guard and the
    notes on rewritten months see the same books.
    """
    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(books, scratch, ignore=shutil.ignore_patterns(checkpoint.DIRECTORY))
    result = build(books, **options)
    full = build(scratch, **options)
    assert full.how.startswith("full build")
    theirs = sorted(str(p).replace(str(scratch), str(books)) for p in full.problems)
    assert sorted(str(p) for p in result.problems) == theirs
    assert summary(result)[:4] == summary(full)[:4]
    assert result.rewritten == [line.replace(str(scratch), str(books)) for line in full.rewritten]
    mine, fresh = built_files(books), built_files(scratch)
    assert sorted(mine) == sorted(fresh)
    for name in mine:
        assert mine[name] == fresh[name], f"{name} differs from a full build's"
    return result


def generated_books(where: Path, events: int, per_day: int, seed: int = 1) -> Path:
    """bench/generate.py books (monthly JSONL files), the last day moved to `zz-last-day.jsonl`
    and returned separately (the day to append)."""
    bench_generate.generate(where, events=events, seed=seed, per_day=per_day)
    return where


def split_off(books: Path, after: datetime.date, name: str) -> None:
    """Move every event dated after `after` out of the monthly files into `name`, kept aside."""
    moved: list[str] = []
    for path in sorted((books / "events").glob("*.jsonl")):
        keep = []
        for line in path.read_text(encoding="utf-8").splitlines():
            date = datetime.date.fromisoformat(json.loads(line)["date"])
            (moved if date > after else keep).append(line)
        if keep:
            path.write_text("".join(line + "\n" for line in keep), encoding="utf-8")
        else:
            path.unlink()
    (books.parent / name).write_text("".join(line + "\n" for line in moved), encoding="utf-8")


def last_date(books: Path) -> datetime.date:
    return max(datetime.date.fromisoformat(json.loads(line)["date"])
               for path in (books / "events").glob("*.jsonl")
               for line in path.read_text(encoding="utf-8").splitlines())


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About three months of generated books, built once, with the last day set aside."""
    books = generated_books(tmp_path_factory.mktemp("gen") / "books", events=4000, per_day=40)
    last = last_date(books)
    split_off(books, last - datetime.timedelta(days=1), "day.jsonl")
    result = build(books)
    assert not result.problems and result.how == "full build (no checkpoint)"
    return books


@pytest.fixture
def books(base: Path, tmp_path: Path) -> Path:
    """A copy of the built base books (the checkpoint names its books directory, so the copy
    is built once more in place: a full build that leaves its own checkpoint)."""
    copy = tmp_path / "books"
    shutil.copytree(base, copy)
    shutil.copyfile(base.parent / "day.jsonl", tmp_path / "day.jsonl")
    result = build(copy)
    assert not result.problems
    return copy


def append_day(books: Path) -> None:
    shutil.copyfile(books.parent / "day.jsonl", books / "events" / "zz-day.jsonl")


# --- the cases of the issue ---------------------------------------------------------------


def test_a_rebuild_of_the_same_inputs_goes_on_from_the_end(books: Path, tmp_path: Path) -> None:
    result = build_both(books, tmp_path / "full")
    assert result.how.startswith("rebuilt from ")


def test_appending_a_day_goes_on_from_the_end_and_gives_a_full_builds_bytes(
        books: Path, tmp_path: Path) -> None:
    end = build(books).as_of
    assert end is not None
    append_day(books)
    result = build_both(books, tmp_path / "full")
    assert result.how == f"rebuilt from {end + datetime.timedelta(days=1)}"
    # and the next day again, from the checkpoint the incremental build left
    (books / "events" / "zz-day.jsonl").rename(books / "events" / "zz-day-1.jsonl")
    day = [json.loads(line) for line in (books.parent / "day.jsonl").read_text().splitlines()]
    nxt = [dict(e, id=e["id"] + "-b", date=str(datetime.date.fromisoformat(e["date"])
                                             + datetime.timedelta(days=1)))
           for e in day if e["type"] == "sale"]
    for e in nxt:
        e["invoice"] += "-b"
        for line in e["lines"]:
            if "instance" in line:
                line["instance"] += "-b"
    write_events(books, "zz-day-2.jsonl", nxt)
    result = build_both(books, tmp_path / "full")
    assert result.how.startswith("rebuilt from ")


def test_a_backdated_event_rebuilds_from_the_last_saved_state_before_it(
        books: Path, tmp_path: Path) -> None:
    """A sale dated in the books' last month: the months before are kept, the rest rebuilt."""
    end = build(books).as_of
    assert end is not None
    manifest, _start = checkpoint.read_manifest(checkpoint.checkpoint_path(books))
    month_cuts = [c.date for c in manifest.cuts if c.date < end]
    assert month_cuts, "the state at the start of the last month was saved"
    backdated = month_cuts[-1] + datetime.timedelta(days=2)
    sale = _a_sale(books)
    write_events(books, "zz-late-entry.jsonl", [dict(
        sale, id="late-sale", invoice="late-inv", date=backdated.isoformat(),
        lines=[dict(line, instance=f"late-{i}") if "instance" in line else line
               for i, line in enumerate(sale["lines"])])])
    result = build_both(books, tmp_path / "full")
    assert result.how == f"rebuilt from {month_cuts[-1] + datetime.timedelta(days=1)}"


def test_an_event_before_every_saved_state_makes_a_full_build(
        books: Path, tmp_path: Path) -> None:
    sale = _a_sale(books)
    first = min(datetime.date.fromisoformat(json.loads(line)["date"])
                for line in (books / "events").glob("*.jsonl").__next__().read_text()
                .splitlines())
    write_events(books, "zz-early.jsonl", [dict(
        sale, id="early-sale", invoice="early-inv",
        date=(first + datetime.timedelta(days=3)).isoformat(),
        lines=[dict(line, instance=f"early-{i}") if "instance" in line else line
               for i, line in enumerate(sale["lines"])])])
    result = build_both(books, tmp_path / "full")
    assert result.how == "full build (the changes reach back before the saved states)"


def _a_sale(books: Path) -> dict[str, Any]:
    for path in sorted((books / "events").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if event["type"] == "sale":
                return dict(event)
    raise AssertionError("no sale")


def test_books_moved_elsewhere_go_on_from_their_checkpoint(books: Path, tmp_path: Path) -> None:
    """The saved state names the places of events relative to events/ (a duplicate read
    after the move is recognised by re-reading its first place, in the moved books)."""
    moved = tmp_path / "elsewhere" / "books"
    shutil.copytree(books, moved)
    shutil.copyfile(books.parent / "day.jsonl", moved.parent / "day.jsonl")
    append_day(moved)
    first = sorted((moved / "events").glob("20*.jsonl"))[0]
    shutil.copyfile(first, moved / "events" / "zz-again.jsonl")  # every event read twice
    result = build_both(moved, tmp_path / "full")
    assert result.how.startswith("full build (the changes reach back")
    (moved / "events" / "zz-again.jsonl").unlink()
    assert build(moved).how.startswith("full build (the changes reach back")
    day = [json.loads(line) for line in (moved / "events" / "zz-day.jsonl").read_text()
           .splitlines()]
    write_events(moved, "zz-repeat.jsonl", day[:5])  # the same events again: duplicates
    result = build_both(moved, tmp_path / "full")
    assert result.how.startswith("rebuilt from ") and result.counts.duplicates == len(day[:5])


def test_the_summary_line_says_how_the_books_were_built(books: Path) -> None:
    from click.testing import CliRunner

    from pkgbooks.cli import main

    append_day(books)
    out = CliRunner().invoke(main, ["build", str(books)]).output
    assert out.strip().endswith(f"; {build(books).how}") and "; rebuilt from 20" in out
    checkpoint.checkpoint_path(books).unlink()
    out = CliRunner().invoke(main, ["build", str(books)]).output
    assert out.strip().endswith("; full build (no checkpoint)")


def test_a_changed_pkgbooks_toml_makes_a_full_build(books: Path, tmp_path: Path) -> None:
    config = books / "pkgbooks.toml"
    config.write_text(config.read_text().replace('title = "', 'title = "New '), encoding="utf-8")
    append_day(books)
    result = build_both(books, tmp_path / "full")
    assert result.how == "full build (pkgbooks.toml changed since the last build)"
    assert build(books).how.startswith("rebuilt from "), "the full build left a checkpoint"


@pytest.mark.parametrize("damage", ["truncated", "garbled state", "garbled manifest",
                                    "empty", "not a checkpoint"])
def test_a_damaged_checkpoint_is_ignored(books: Path, tmp_path: Path, damage: str) -> None:
    path = checkpoint.checkpoint_path(books)
    raw = bytearray(path.read_bytes())
    if damage == "truncated":
        raw = raw[: len(raw) - 1000]
    elif damage == "garbled state":
        raw[-500] ^= 0xFF
    elif damage == "garbled manifest":
        raw[60] ^= 0x01
    elif damage == "empty":
        raw = bytearray()
    else:
        raw = bytearray(b"hello\n" * 100)
    path.write_bytes(bytes(raw))
    append_day(books)
    result = build_both(books, tmp_path / "full")
    assert result.how.startswith("full build (the checkpoint is damaged"), result.how


def test_the_plan_names_its_cut_before_it_reads_the_state_back(
        books: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """So that the summaries' helper reads its starting summary beside the state (and is
    forked before the plan starts its hashing thread)."""
    told: list[str] = []
    reading, pool = checkpoint.read_state, checkpoint.ThreadPoolExecutor

    def read_state(*args: Any) -> checkpoint.Saved:
        told.append("state read")
        return reading(*args)

    def threads(*args: Any) -> Any:
        told.append("thread started")
        return pool(*args)

    monkeypatch.setattr(checkpoint, "read_state", read_state)
    monkeypatch.setattr(checkpoint, "ThreadPoolExecutor", threads)
    append_day(books)
    paths = sorted((books / "events").glob("*.jsonl"))
    chosen: list[tuple[str, list[str]]] = []

    def tell(month: str, kept: Any, recorded: Any) -> None:
        told.append("cut named")
        chosen.append((month, sorted(kept)))

    found = checkpoint.plan(books, paths, None, False, datetime.date(2100, 1, 1), 0, False,
                            chosen=tell)
    assert found.resume is not None
    assert told == ["cut named", "thread started", "state read"]
    assert chosen == [(found.resume.cut.month, sorted(found.resume.kept))]


def test_a_checkpoint_of_another_pkgbooks_version_is_ignored(
        books: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint, "code_digest", lambda: "another version")
    append_day(books)
    result = build_both(books, tmp_path / "full")
    assert result.how == "full build (the checkpoint is from another pkgbooks version)"


def test_a_checkpoint_of_another_format_is_ignored(books: Path, tmp_path: Path) -> None:
    path = checkpoint.checkpoint_path(books)
    raw = bytearray(path.read_bytes())
    raw[len(b"pkgbooks checkpoint\n") + 3] += 1  # the format number in the header
    path.write_bytes(bytes(raw))
    result = build(books)
    assert result.how.startswith("full build (the checkpoint is damaged or of another format")


@pytest.mark.slow
def test_the_same_inputs_leave_the_same_checkpoint_in_any_process_and_place(
        books: Path, tmp_path: Path) -> None:
    """Sets are stored sorted and equal values written out alike, so neither the string
    hashes of the process (PYTHONHASHSEED) nor where the books are change a byte."""
    import os
    import subprocess

    saved = []
    for seed in ("1", "2"):
        where = tmp_path / f"books-{seed}" / "books"
        shutil.copytree(books, where, ignore=shutil.ignore_patterns(checkpoint.DIRECTORY))
        subprocess.run([sys.executable, "-m", "pkgbooks.cli", "build", "--quiet", "--jobs", "1",
                        str(where)], check=True, capture_output=True,
                       env={**os.environ, "PYTHONHASHSEED": seed})
        saved.append(checkpoint.checkpoint_path(where).read_bytes())
    assert saved[0] == saved[1]
    assert saved[0] == checkpoint.checkpoint_path(books).read_bytes(), "as the in-process build"


def test_a_state_saved_a_few_packages_at_a_time_reads_back_as_saved(
        books: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The live packages, open invoices and finished packages are stored in slices (their
    plain form is never made whole): slices of three give the state the default slices
    give, and a day appended goes on from it to a full build's bytes."""
    path = checkpoint.checkpoint_path(books)
    manifest, start = checkpoint.read_manifest(path)
    saved = checkpoint.read_state(path, start, manifest.cuts[-1])
    monkeypatch.setattr(checkpoint, "SLICE", 3)
    shutil.rmtree(path.parent)
    assert build(books).how == "full build (no checkpoint)"
    manifest, start = checkpoint.read_manifest(path)
    sliced = checkpoint.read_state(path, start, manifest.cuts[-1])
    assert sliced.balances == saved.balances
    mine, theirs = sliced.engine, saved.engine
    assert len(mine.state.packages) > 3 and len(mine.state.invoices) > 3
    for part in ("packages", "invoices", "closed_invoices", "events", "voided"):
        assert getattr(mine.state, part) == getattr(theirs.state, part), part
    assert list(mine.state.packages) == list(theirs.state.packages), "in the order saved"
    finished = [dict(checkpoint.LazyFinished(s.finished, s.engine.state))
                for s in (sliced, saved)]
    assert len(finished[0]) > 3 and finished[0] == finished[1]
    assert list(finished[0]) == list(finished[1])
    assert (mine.expiries, mine.counts, mine.last) == (theirs.expiries, theirs.counts,
                                                       theirs.last)
    assert [(i, mine.seen[i]) for i in mine.seen] == [(i, theirs.seen[i]) for i in theirs.seen]
    append_day(books)
    assert build_both(books, tmp_path / "full").how.startswith("rebuilt from")


def test_a_restored_state_makes_its_live_packages_again_only_when_looked_up(
        books: Path) -> None:
    """The live packages and open invoices read back stay in their stored form until a lookup;
    looked up, changed, removed and added, they behave as the dict read back whole, keep its
    order, and save to the same bytes."""
    path = checkpoint.checkpoint_path(books)
    manifest, start = checkpoint.read_manifest(path)
    events = books / "events"
    lazy = checkpoint._placed(checkpoint.read_state(path, start, manifest.cuts[-1]), events)
    whole = checkpoint._placed(checkpoint.read_state(path, start, manifest.cuts[-1]), events)
    packages = lazy.engine.state.packages
    assert isinstance(packages, checkpoint.LazyValues)
    whole.engine.state.packages = dict(whole.engine.state.packages.items())
    whole.engine.state.invoices = dict(whole.engine.state.invoices.items())
    plain = whole.engine.state.packages
    assert not isinstance(plain, checkpoint.LazyValues) and len(plain) > 10
    keys = list(plain)
    for state in (lazy.engine.state, whole.engine.state):
        mine = state.packages
        assert mine.get(keys[3]) is mine[keys[3]], "made once"
        assert mine.get("no such package") is None and "no such package" not in mine
        mine[keys[5]].redeemed_open += 1  # changed in place
        moved = mine.pop(keys[1])
        mine[keys[1]] = moved  # now the last
        del mine[keys[2]]
        mine["new"] = dataclasses.replace(mine[keys[7]], instance="new")
    assert list(packages) == list(plain)
    assert sum(type(v) is not bytes for _k, v in packages.stored_items()) == 5
    assert packages == plain and plain == packages
    saved = [checkpoint.save(s.engine, s.balances, None, events) for s in (lazy, whole)]
    assert saved[0] == saved[1]
    back = checkpoint.LazyValues(dict(packages.stored_items()), lambda v: v)
    assert back.pop("no such package", "none") == "none"
    with pytest.raises(KeyError):
        back.pop("no such package")


def test_a_checkpoint_from_other_books_is_ignored(books: Path, tmp_path: Path) -> None:
    other = same_inputs(books, tmp_path / "other")
    (other / "pkgbooks.toml").write_text(
        (books / "pkgbooks.toml").read_text().replace("validity_days = ", "validity_days = 1"),
        encoding="utf-8")
    assert not build(other).problems
    shutil.copyfile(checkpoint.checkpoint_path(other), checkpoint.checkpoint_path(books))
    result = build_both(books, tmp_path / "full")
    assert result.how.startswith("full build (")


def test_a_hand_edited_month_file_makes_a_full_build(books: Path, tmp_path: Path) -> None:
    first = sorted((books / "ledger").glob("20*.beancount"))[0]
    first.write_text(first.read_text().replace("generated by pkgbooks", "edited by hand"))
    append_day(books)
    result = build_both(books, tmp_path / "full")
    assert result.how == "full build (ledger/ is not as the last build wrote it)"


@pytest.mark.parametrize("damage", ["removed", "not text"])
def test_a_missing_or_unreadable_last_month_file_makes_a_full_build(
        books: Path, tmp_path: Path, damage: str) -> None:
    """The month a saved state goes on in is read while the ledger's files are still being
    checked: a missing or garbled one makes a full build, never a traceback."""
    last = sorted((books / "ledger").glob("20*.beancount"))[-1]
    if damage == "removed":
        last.unlink()
    else:
        last.write_bytes(b"\xff\xfe" + last.read_bytes())
    append_day(books)
    result = build_both(books, tmp_path / "full")
    assert result.how == "full build (ledger/ is not as the last build wrote it)"


def test_a_removed_event_file_rebuilds_from_before_its_first_event(
        books: Path, tmp_path: Path) -> None:
    append_day(books)
    assert build(books).how.startswith("rebuilt from ")
    (books / "events" / "zz-day.jsonl").unlink()
    result = build_both(books, tmp_path / "full")
    assert result.how.startswith("rebuilt from ")
    last = sorted((books / "events").glob("*.jsonl"))[-1]
    last.unlink()
    result = build_both(books, tmp_path / "full")


def test_a_changed_event_file_counts_its_old_and_new_dates(books: Path, tmp_path: Path) -> None:
    last = sorted((books / "events").glob("*.jsonl"))[-1]
    lines = last.read_text().splitlines()
    last.write_text("\n".join(lines[:-3]) + "\n")  # the last events of the books go
    result = build_both(books, tmp_path / "full")
    first = sorted((books / "events").glob("*.jsonl"))[0]
    first.write_text(first.read_text() + "\n")  # same events, other bytes
    result = build_both(books, tmp_path / "full")
    assert result.how == "full build (the changes reach back before the saved states)"


def test_a_changed_as_of_makes_a_full_build(books: Path, tmp_path: Path) -> None:
    end = build(books).as_of
    assert end is not None
    as_of = end - datetime.timedelta(days=10)
    result = build_both(books, tmp_path / "full", as_of=as_of)
    assert result.how == "full build (--as-of differs from the last build's)"
    append_day(books)
    result = build_both(books, tmp_path / "full", as_of=as_of)
    assert result.how.startswith("rebuilt from ")
    assert result.counts.after_as_of > 0


def test_keep_going_or_not_makes_a_full_build(books: Path, tmp_path: Path) -> None:
    result = build_both(books, tmp_path / "full", keep_going=True)
    assert result.how == "full build (--keep-going differs from the last build's)"
    append_day(books)
    write_events(books, "zz-bad.jsonl", [{
        "id": "bad-1", "type": "redemption", "date": "2099-01-01", "location": "loc-11",
        "instance": "nope", "item": "haircut", "staff": "s1"}])
    result = build_both(books, tmp_path / "full", keep_going=True)
    assert result.how.startswith("rebuilt from ") and result.set_aside == 1
    assert not checkpoint.checkpoint_path(books).exists(), "events set aside: no checkpoint"
    (books / "events" / "zz-bad.jsonl").unlink()
    assert build(books, keep_going=True).how == "full build (no checkpoint)"
    assert build(books).how == "full build (--keep-going differs from the last build's)"


def test_a_later_day_of_build_never_lets_through_what_a_full_build_refuses(
        books: Path, tmp_path: Path) -> None:
    """`dates.future_days` is counted from the day of the build: an earlier `today` refuses
    events a checkpoint holds, as a full build would."""
    end = build(books).as_of
    assert end is not None
    today = end - datetime.timedelta(days=400)
    append_day(books)
    result = build_both(books, tmp_path / "full", today=today)
    assert result.problems and result.how.startswith("full build")


def test_a_build_that_fails_keeps_the_checkpoint_of_the_books_on_disk(
        books: Path, tmp_path: Path) -> None:
    write_events(books, "zz-bad.jsonl", [{"id": "x", "type": "sale"}])
    assert build(books).problems
    (books / "events" / "zz-bad.jsonl").unlink()
    append_day(books)
    result = build_both(books, tmp_path / "full")
    assert result.how.startswith("rebuilt from ")


# --- random histories --------------------------------------------------------------------


def _chain(events: list[dict[str, Any]], sale: dict[str, Any]) -> set[str]:
    """The ids of a sale and of every event about its invoice or packages (voids included)."""
    keys = {sale["invoice"], *(line.get("instance") for line in sale["lines"])} - {None}
    ids = {e["id"] for e in events
           if e["id"] == sale["id"] or e.get("invoice") in keys or e.get("instance") in keys}
    while True:
        more = {e["id"] for e in events if e.get("target") in ids} - ids
        if not more:
            return ids
        ids |= more


def _monthly(books: Path, events: list[dict[str, Any]]) -> None:
    for path in (books / "events").glob("*"):
        path.unlink()
    by_month: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_month.setdefault(event["date"][:7], []).append(event)
    for month, chunk in by_month.items():
        write_events(books, f"{month}.jsonl", chunk)


def _history_steps(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    history = sim.generate(seed, events=rng.choice([120, 200, 300]))
    events = history.events
    dates = sorted({e["date"] for e in events})
    books = tmp_path / "books"
    books.mkdir()
    (books / "pkgbooks.toml").write_text(history.config_text, encoding="utf-8")
    options: dict[str, Any] = {}
    if rng.random() < 0.25:
        options["as_of"] = datetime.date.fromisoformat(dates[-1]) - datetime.timedelta(
            days=rng.randint(0, 20))
    if rng.random() < 0.25:
        options["keep_going"] = True
    cuts = sorted(rng.sample(dates[len(dates) // 3:], 3))
    sales = [e for e in events if e["type"] == "sale" and cuts[0] < e["date"] <= cuts[1]]
    held = _chain(events, rng.choice(sales)) if sales and rng.random() < 0.7 else set()
    # step 1: the books to the first cut, less one sale's chain
    _monthly(books, [e for e in events if e["date"] <= cuts[0] and e["id"] not in held])
    steps: list[tuple[str, list[dict[str, Any]]]] = [
        ("zz-1.jsonl", [e for e in events if cuts[0] < e["date"] <= cuts[1]
                        and e["id"] not in held]),
        ("zz-2.jsonl", [e for e in events if e["id"] in held]),  # backdated
        ("zz-3.jsonl", [e for e in events if cuts[1] < e["date"] <= cuts[2]
                        and e["id"] not in held]),
        ("zz-4.jsonl", [e for e in events if e["date"] > cuts[2] and e["id"] not in held]),
    ]
    build_both(books, tmp_path / "full", **options)
    for name, chunk in steps:
        if chunk:
            write_events(books, name, chunk)
        build_both(books, tmp_path / "full", **options)
    # all the files once more as monthly files (each changed, some gone): from scratch or a cut
    _monthly(books, events)
    build_both(books, tmp_path / "full", **options)


@pytest.mark.parametrize("seed", range(4))
def test_random_histories_build_incrementally_as_in_full(seed: int, tmp_path: Path) -> None:
    _history_steps(seed, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4, 24))
def test_more_random_histories(seed: int, tmp_path: Path) -> None:
    _history_steps(seed, tmp_path)


# --- the finished packages read back lazily ----------------------------------------------


def _package(instance: str) -> PackageState:
    return PackageState(instance, "P10", "INV-" + instance, "L1", "C1", None,
                        datetime.date(2025, 1, 2), None, Decimal("100.00"), Decimal("10.00"),
                        Decimal("0.00"), {})


def test_lazy_finished_packages_read_back_as_if_they_had_been_there_all_along() -> None:
    from pkgbooks.state import BooksState

    a, b, c, d, e = (_package(name) for name in "abcde")
    state = BooksState()
    lazy = checkpoint.LazyFinished(checkpoint.finished_blob({"a": a, "b": b}), state)
    state.finished = lazy  # type: ignore[assignment]
    lazy["c"] = c  # a package finishes: no reading back
    lazy["d"] = d
    assert state.finished is lazy
    assert lazy.get("a") == a  # the first lookup reads them back
    assert state.finished == {"a": a, "b": b, "c": c, "d": d}
    assert list(state.finished) == ["a", "b", "c", "d"] and type(state.finished) is dict
    del lazy["b"]
    lazy["e"] = e
    assert list(state.finished) == ["a", "c", "d", "e"] and "e" in lazy and len(lazy) == 4


def test_a_package_finished_in_the_run_is_looked_up_without_reading_the_others_back() -> None:
    """A redemption that uses a package up keeps its record on the finished package: that
    lookup must not read back every finished package of the books."""
    from pkgbooks.state import BooksState

    a, b = _package("a"), _package("b")
    state = BooksState()
    lazy = checkpoint.LazyFinished(checkpoint.finished_blob({"a": a}), state)
    state.finished = lazy  # type: ignore[assignment]
    lazy["b"] = b
    assert lazy["b"] is b and lazy.get("b") is b and "b" in lazy
    assert state.finished is lazy, "not read back"
    assert lazy.get("a") == a and state.finished == {"a": a, "b": b}  # now read back
    assert "b" in lazy and lazy["b"] is b


def test_an_instance_never_finished_is_looked_up_without_reading_the_finished_back() -> None:
    """Each sale asks whether its instances were sold before: for a new one the answer must
    come from the stored keys, not from reading every finished package of the books back;
    and a part whose keys are no list is refused as not a saved state."""
    from pkgbooks.state import BooksState

    a, b = _package("a"), _package("b")
    state = BooksState()
    lazy = checkpoint.LazyFinished([checkpoint.finished_blob({"a": a}),
                                    checkpoint.finished_blob({"b": b})], state)
    state.finished = lazy  # type: ignore[assignment]
    assert lazy.get("new") is None and "new" not in lazy
    with pytest.raises(KeyError):
        lazy["new"]
    assert state.package_status("new") is None
    assert state.finished is lazy, "not read back"
    assert "b" in lazy and state.finished == {"a": a, "b": b}  # a stored key reads them back
    assert lazy.get("new", "none") == "none"

    damaged = checkpoint._KEYS.pack(3) + b"abc"
    with pytest.raises(Exception):  # noqa: B017 - zlib's or pickle's own error
        checkpoint.LazyFinished(damaged, BooksState()).get("x")
    with pytest.raises(ValueError, match="truncated"):
        checkpoint.LazyFinished(checkpoint._KEYS.pack(99), BooksState()).get("x")


def test_packages_past_their_expiry_shrink_when_read_back_as_they_would_at_once() -> None:
    """An automatic expiry of a package finished long ago (most of a restored run's) must not
    read every finished package back; the shrink waits, and the state read back is the one
    shrinking at once gives."""
    from pkgbooks.state import PAST_EXPIRY, BooksState, Done

    def finished() -> dict[str, PackageState]:
        pkgs = {name: _package(name) for name in "abc"}
        for pkg in pkgs.values():
            pkg.expires = datetime.date(2025, 6, 30)
            pkg.status = "used up"
            pkg.history = {f"r-{pkg.instance}": Done(f"r-{pkg.instance}", "redemption", (), (),
                                                     False)}
        return pkgs

    at_once = BooksState()
    at_once.finished = finished()
    state = BooksState()
    lazy = checkpoint.LazyFinished(checkpoint.finished_blob(finished()), state)
    state.finished = lazy  # type: ignore[assignment]
    d = _package("d")
    d.expires, d.status = datetime.date(2025, 6, 30), "used up"
    d.history = {"r-d": Done("r-d", "redemption", (), (), False)}
    lazy["d"] = d  # finished in this run: shrunk at once, nothing read back
    at_once.finished["d"] = dataclasses.replace(d, history=dict(d.history))
    for instance in ("a", "c", "d", "x"):  # x: never sold
        state.past_expiry(instance)
        at_once.past_expiry(instance)
    assert state.finished is lazy, "nothing read back for the expiries"
    assert d.history == {"r-d": PAST_EXPIRY}
    assert lazy.get("b") is not None  # a lookup reads them back, the shrinks done first
    assert state.finished == at_once.finished
    assert state.finished["a"].history == {"r-a": PAST_EXPIRY}
    assert state.finished["b"].history != {"r-b": PAST_EXPIRY}


def test_the_index_of_applied_events_is_read_back_only_when_a_void_looks_it_up() -> None:
    from pkgbooks.state import BooksState

    stored = {"s1": ("sale", "INV-1"), "r1": ("redemption", "P-1")}
    state = BooksState()
    lazy = checkpoint.LazyEvents(checkpoint._events_blob(stored), state)
    state.events = lazy  # type: ignore[assignment]
    lazy["r2"] = ("redemption", "P-1")  # each applied event: no reading back
    assert lazy.get("r2") == ("redemption", "P-1") and state.events is lazy
    assert lazy.get("r1") == ("redemption", "P-1")  # a void of an earlier event reads it back
    assert state.events == {**stored, "r2": ("redemption", "P-1")}
    assert list(state.events) == ["s1", "r1", "r2"] and type(state.events) is dict


def test_a_saved_state_reads_back_with_the_same_index_of_applied_events(
        books: Path) -> None:
    path = checkpoint.checkpoint_path(books)
    manifest, start = checkpoint.read_manifest(path)
    saved = checkpoint.read_state(path, start, manifest.cuts[-1])
    index = checkpoint.LazyEvents(saved.events, saved.engine.state).load()
    assert len(index) == saved.engine.counts.applied + saved.engine.counts.expiries
    assert {kind for kind, _ in index.values()} >= {"sale", "payment", "redemption"}
