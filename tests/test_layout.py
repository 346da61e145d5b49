"""Loading a ledger: the last one loaded is served again only while its files are unchanged."""

from __future__ import annotations

from pathlib import Path

from books import build_ok, config_text, pay, sale, write_books

from pkgbooks.layout import load_ledger

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


def books(tmp_path: Path) -> Path:
    path = write_books(tmp_path / "b", config_text(CATALOG),
                       [sale("s1", 5, "K1"), pay("p1", 5, "K1", "100.00")])
    build_ok(path)
    return path


def test_an_unchanged_ledger_is_loaded_once(tmp_path: Path) -> None:
    main = books(tmp_path) / "main.beancount"
    assert load_ledger(main) is load_ledger(main)


def test_a_hand_edit_of_the_same_size_is_seen(tmp_path: Path) -> None:
    """50.00 for 100.00 in a month file: same size, same clock tick; loaded anew."""
    path = books(tmp_path)
    main = path / "main.beancount"
    before, _, _ = load_ledger(main)
    month = path / "ledger" / "2026-01.beancount"
    text = month.read_text(encoding="utf-8")
    assert "100.00 USD" in text
    month.write_text(text.replace("100.00 USD", "050.00 USD", 1), encoding="utf-8")
    after, errors, _ = load_ledger(main)
    assert after is not before
    assert errors  # the edit unbalances a transaction, and Beancount says so


def test_a_rebuild_is_seen(tmp_path: Path) -> None:
    path = books(tmp_path)
    main = path / "main.beancount"
    first = load_ledger(main)
    write_books(path, config_text(CATALOG),
                [sale("s1", 5, "K1"), pay("p1", 5, "K1", "60.00")])
    build_ok(path)
    assert load_ledger(main) is not first


def test_a_process_forked_under_the_books_lock_does_not_hold_it(tmp_path: Path) -> None:
    """A build forks helpers while it holds the lock; one that outlives the build (a build
    stopped half-way) must not keep the books locked: it closes its copy at once."""
    import fcntl
    import multiprocessing
    import os

    from pkgbooks.layout import books_lock

    def helper() -> None:
        theirs.send("running")
        theirs.recv()  # until told to end

    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    with books_lock(tmp_path, exclusive=True):
        child = context.Process(target=helper, daemon=True)
        child.start()
    assert ours.recv() == "running"
    try:
        other = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if held
        finally:
            os.close(other)
        assert child.is_alive()
    finally:
        ours.send(None)
        child.join()
