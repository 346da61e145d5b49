"""The ledger writer (SPEC 7): a build killed at any instant leaves the old or the new books
whole and no `.beancount` file outside `ledger/`; write errors are one line with the books
unchanged; one build at a time; leftovers of a killed build never wedge the next one."""

from __future__ import annotations

import errno
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from beancount import loader
from books import build_ok, config_text, pay, redeem, sale, write_books
from click.testing import CliRunner

import pkgbooks.ledger
from pkgbooks import progress
from pkgbooks.build import build
from pkgbooks.cli import main
from pkgbooks.layout import books_lock
from pkgbooks.ledger import staging_dir

CATALOG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]
"""

OLD_EVENTS = [sale("s1", 5, "K1"), pay("p1", 6, "K1", "100.00")]
NEW_EVENTS = [*OLD_EVENTS, {**redeem("r1", 3, "K1"), "date": "2026-02-03"}]  # a new month


def generated(books: Path) -> dict[str, bytes]:
    """main.beancount and ledger/*, by relative path."""
    files = {"main.beancount": (books / "main.beancount").read_bytes()}
    for path in sorted([*books.glob("ledger/**/*"), *books.glob("entities/*.beancount")]):
        if path.is_file():  # the entities' books are in ledger/entities/ and entities/
            files[path.relative_to(books).as_posix()] = path.read_bytes()
    return files


def strays(books: Path) -> list[Path]:
    """`.beancount` files anywhere in the books directory but where the books keep them."""
    return [p for p in books.rglob("*.beancount")
            if not p.is_relative_to(books / "ledger") and p.parent != books / "entities"
            and p != books / "main.beancount"]


def leftovers(books: Path) -> list[Path]:
    return [p for p in [*books.rglob("*"), staging_dir(books)]
            if p.exists() and (p.name.startswith(".ledger") or p.name.endswith(".part")
                               or p == staging_dir(books))]


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes],
                                                             dict[str, bytes]]:
    """(books built from the old events with the new events in place, old, new)."""
    root = tmp_path_factory.mktemp("writer")
    reference = write_books(root / "reference" / "books", config_text(CATALOG), NEW_EVENTS)
    build_ok(reference)
    books = write_books(root / "old" / "books", config_text(CATALOG), OLD_EVENTS)
    build_ok(books)
    old = generated(books)
    write_books(books, config_text(CATALOG), NEW_EVENTS)
    new = generated(reference)
    assert old != new
    return books, old, new


def crash_at(k: int, books: Path, fallback: bool) -> int:
    """Build `books` in a child process that dies (os._exit, no clean-up) at the k-th change
    of the disk; the child's exit status (0: the build finished before the k-th change)."""
    pid = os.fork()
    if pid:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    try:  # the child: count every call that changes the disk, die at the k-th
        count = [0]

        def dying(real: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                count[0] += 1
                if count[0] == k:
                    os._exit(9)
                result = real(*args, **kwargs)
                count[0] += 1
                if count[0] == k:
                    os._exit(9)
                return result
            return call

        for name in ("replace", "rename", "mkdir", "rmdir", "unlink", "fsync", "chmod"):
            setattr(os, name, dying(getattr(os, name)))
        exchange = (lambda a, b: False) if fallback else pkgbooks.ledger._exchange
        pkgbooks.ledger._exchange = dying(exchange)  # type: ignore[assignment]
        result = build(books)
        os._exit(0 if not result.problems else 3)
    except BaseException:
        os._exit(4)


@pytest.mark.parametrize("fallback", [False, True], ids=["exchange", "two renames"])
def test_a_build_killed_at_any_change_of_the_disk_leaves_whole_books(
        tmp_path: Path, states: tuple[Path, dict[str, bytes], dict[str, bytes]],
        fallback: bool) -> None:
    template, old, new = states
    k = 0
    while True:
        k += 1
        books = tmp_path / str(k) / "books"
        shutil.copytree(template, books)
        status = crash_at(k, books, fallback)
        assert status in (0, 9), f"crash point {k}: the build failed with {status}"
        on_disk = generated(books)
        if fallback and not (books / "ledger").exists():
            # Between the two renames of the fallback (no RENAME_EXCHANGE): the next
            # build puts the previous ledger back first.
            assert status == 9
        else:
            assert on_disk in (old, new), f"crash point {k}: the books are damaged"
            _entries, errors, _ = loader.load_file(str(books / "main.beancount"))
            assert not errors, f"crash point {k}: {errors}"
        if not fallback:
            assert not strays(books), f"crash point {k}: {strays(books)}"
        # Whatever was left, the next build completes the books and leaves nothing behind.
        build_ok(books)
        assert generated(books) == new
        assert not leftovers(books), f"crash point {k}: {leftovers(books)}"
        assert not strays(books)
        shutil.rmtree(books.parent)
        if status == 0:
            break
    assert k > 20, f"only {k} changes of the disk seen: the crash points missed the writer"


def test_after_the_swap_the_previous_ledger_is_not_in_the_books_directory(
        tmp_path: Path, states: tuple[Path, dict[str, bytes], dict[str, bytes]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    template, old, _new = states
    books = tmp_path / "books"
    shutil.copytree(template, books)
    seen: list[list[Path]] = []
    real = pkgbooks.ledger._exchange

    def exchange(a: Path, b: Path) -> bool:
        swapped = real(a, b)
        seen.append(sorted(p for p in books.rglob("*") if p.is_file()))
        return swapped

    monkeypatch.setattr(pkgbooks.ledger, "_exchange", exchange)
    build_ok(books)
    [after_swap] = seen
    assert not [p for p in after_swap if p.suffix == ".beancount"
                and not p.is_relative_to(books / "ledger") and p.parent != books / "entities"
                and p.name != "main.beancount"]
    # The previous ledger is in the staging directory beside the books until it is removed.
    assert staging_dir(books).parent == books.parent
    assert old != generated(books)


# --- write errors: one line, the books unchanged ------------------------------------------


def built(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    books = write_books(tmp_path / "books", config_text(CATALOG), OLD_EVENTS)
    build_ok(books)
    write_books(books, config_text(CATALOG), NEW_EVENTS)
    return books, generated(books)


def failed_build(books: Path) -> str:
    result = CliRunner().invoke(main, ["build", str(books)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    [line, summary] = result.output.splitlines()
    assert summary.startswith("pkgbooks: 1 problem(s); nothing was written")
    return line


def failing(call: Callable[..., Any], error: int, when: Callable[..., bool]) -> Callable[..., Any]:
    def patched(*args: Any, **kwargs: Any) -> Any:
        if when(*args, **kwargs):
            raise OSError(error, os.strerror(error))
        return call(*args, **kwargs)
    return patched


@pytest.mark.parametrize("call", ["fsync", "replace"])
def test_a_full_disk_is_one_line_and_the_books_are_unchanged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str) -> None:
    books, before = built(tmp_path)
    monkeypatch.setattr(os, call, failing(getattr(os, call), errno.ENOSPC, lambda *a: True))
    line = failed_build(books)
    assert "cannot write the books: No space left on device" in line
    monkeypatch.undo()
    assert generated(books) == before
    assert not leftovers(books)


def test_a_full_disk_while_writing_main_beancount_leaves_the_books(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    books, before = built(tmp_path)
    (books / "pkgbooks.toml").write_text(
        config_text(CATALOG).replace('"Test Spa"', '"Test Spa Two"'), encoding="utf-8")
    real_write = pkgbooks.ledger._write_part

    def write(path: Path, text: str) -> Path:
        if path.name.startswith(".main"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path) + ".part")
        return real_write(path, text)

    monkeypatch.setattr(pkgbooks.ledger, "_write_part", write)
    line = failed_build(books)
    assert line.startswith(f"{books / '.main.beancount.part'}: cannot write the books: No space")
    assert generated(books) == before
    assert not leftovers(books)


def test_a_read_only_books_directory_is_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    books, before = built(tmp_path)
    monkeypatch.setattr(os, "mkdir", failing(os.mkdir, errno.EROFS, lambda *a, **k: True))
    real_access = os.access
    monkeypatch.setattr(os, "access",  # the parent is read-only too
                        lambda p, m, **k: Path(p) != books.parent and real_access(p, m, **k))
    line = failed_build(books)
    assert line == f"{books / '.ledger.tmp'}: cannot write the books: Read-only file system"
    monkeypatch.undo()
    assert generated(books) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes whatever the modes say")
def test_a_read_only_books_directory_for_real(tmp_path: Path) -> None:
    books, before = built(tmp_path)
    books.chmod(0o555)
    (books / "ledger").chmod(0o555)
    try:
        line = failed_build(books)
    finally:
        books.chmod(0o755)
        (books / "ledger").chmod(0o755)
    assert "cannot write the books: Permission denied" in line
    assert generated(books) == before
    build_ok(books)


def test_a_symlinked_ledger_is_a_clear_error_and_never_wedges(tmp_path: Path) -> None:
    books, _before = built(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    (books / "ledger").rename(elsewhere)
    (books / "ledger").symlink_to(elsewhere)
    for _ in range(2):  # the second build says the same: nothing was left to wedge it
        line = failed_build(books)
        assert line.startswith(f"{books / 'ledger'}: a symbolic link")
        assert not leftovers(books)
    (books / "ledger").unlink()
    build_ok(books)


def test_leftovers_of_older_builds_never_wedge_a_build(tmp_path: Path) -> None:
    books, _before = built(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (books / ".ledger.tmp").symlink_to(elsewhere)  # what a swap with a linked ledger/ left
    stale = staging_dir(books)
    stale.mkdir()
    (stale / "2026-01.beancount").write_text("; an old ledger\n")
    stale.chmod(0o555)  # a read-only ledger/ swapped out
    (books / ".main.beancount.part").write_text("; half written\n")
    build_ok(books)
    assert not leftovers(books) and not strays(books)
    assert elsewhere.exists()  # a link is removed, never followed


def test_a_read_only_ledger_directory_works(tmp_path: Path) -> None:
    books, _before = built(tmp_path)
    (books / "ledger").chmod(0o555)
    for path in (books / "ledger").iterdir():
        path.chmod(0o444)
    build_ok(books)
    build_ok(books)
    assert not leftovers(books)


# --- one build at a time ------------------------------------------------------------------


def test_a_second_build_waits_for_the_first(tmp_path: Path) -> None:
    books, _before = built(tmp_path)
    waited = threading.Event()
    outcome: list[Any] = []
    with books_lock(books, exclusive=True):  # a build in progress
        second = threading.Thread(
            target=lambda: outcome.append(build(books, waiting=waited.set)))
        second.start()
        assert waited.wait(timeout=30)
        time.sleep(0.2)
        assert second.is_alive() and not outcome
    second.join(timeout=60)
    [result] = outcome
    assert not result.problems


def test_a_second_build_on_the_command_line_says_it_waits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    books, _before = built(tmp_path)
    outputs: list[Any] = []
    said = threading.Event()  # the command has said something: it found the lock held
    note = progress.note
    monkeypatch.setattr(progress, "note", lambda text: (note(text), said.set()))
    with books_lock(books, exclusive=True):
        second = threading.Thread(target=lambda: outputs.append(
            CliRunner().invoke(main, ["build", str(books)])))
        second.start()
        assert said.wait(timeout=60)
        time.sleep(0.2)
        assert second.is_alive()
    second.join(timeout=60)
    [result] = outputs
    assert result.exit_code == 0, result.output
    assert f"another build of {books} is running; waiting" in result.output


def test_validate_and_reports_wait_for_a_build_in_progress(tmp_path: Path) -> None:
    books, _before = built(tmp_path)
    outputs: list[Any] = []
    with books_lock(books, exclusive=True):
        reader = threading.Thread(target=lambda: outputs.append(
            CliRunner().invoke(main, ["validate", str(books)])))
        reader.start()
        time.sleep(0.5)
        assert reader.is_alive() and not outputs
    reader.join(timeout=120)
    assert outputs and outputs[0].exit_code in (0, 1)


@pytest.mark.slow
def test_concurrent_builds_and_validates_on_the_command_line(tmp_path: Path) -> None:
    """Real processes: three builds and two validates at once. Every build
    succeeds, every validate passes (it never reads a ledger mid-swap), no traceback,
    nothing left behind."""
    import subprocess
    import sys

    demo = Path(__file__).resolve().parent.parent / "ledgers" / "demo"
    books = tmp_path / "books"
    shutil.copytree(demo, books)
    expected = generated(books)
    commands = [["build"]] * 3 + [["validate"]] * 2
    runs = [subprocess.Popen([sys.executable, "-m", "pkgbooks.cli", *c, str(books)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for c in commands]
    for command, run in zip(commands, runs, strict=True):
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, (command, out.decode(), err.decode())
        assert b"Traceback" not in err
    assert generated(books) == expected
    assert not leftovers(books) and not strays(books)
