"""The engine's indexes of the history: what stays of a package once nothing of it can be
voided, and where each event was read."""

from __future__ import annotations

import datetime
from pathlib import Path

from books import config_text, d, pay, redeem, sale, write_books
from spec_examples import P5

from pkgbooks.config import load_config
from pkgbooks.engine import Engine
from pkgbooks.errors import Error
from pkgbooks.readers import event_files, read_events
from pkgbooks.state import PAST_EXPIRY


def run(books: Path, as_of: datetime.date | None = None) -> Engine:
    problems: list[Error] = []
    engine = Engine(load_config(books / "pkgbooks.toml"), problems)
    for _txn in engine.run(read_events(event_files(books / "events"), problems), as_of):
        pass
    assert not problems, problems
    return engine


def test_a_used_up_package_keeps_its_records_until_its_expiry_date_then_only_their_ids(
    tmp_path: Path,
) -> None:
    # P5: 3 haircuts valid 90 days and 30 of grace. K1, sold on 2026-01-01, is used up on
    # day 4 and its expiry date is 2026-05-01; K2, sold on 2026-03-01, stays live.
    k2 = [{**sale("s2", 1, "K2"), "date": d(1, month=3)},
          {**pay("p2", 1, "K2", "50.00"), "date": d(1, month=3)},
          {**redeem("r9", 1, "K2"), "date": d(2, month=3)}]
    books = write_books(tmp_path, config_text(P5, redeem_open=True), [
        sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"),
        redeem("r1", 2, "K1"), redeem("r2", 3, "K1"), redeem("r3", 4, "K1"), *k2,
        {**pay("p3", 1, "K2", "10.00"), "date": d(2, month=5)},  # after K1's expiry date
    ])
    before = run(books, as_of=datetime.date(2026, 4, 30)).ctx.state
    kept = before.finished["K1"].history
    assert list(kept) == ["r1", "r2", "r3"]
    assert all(done.txns and done.changes for done in kept.values())

    after = run(books).ctx.state  # K1's expiry date (2026-05-01) has come
    assert after.finished["K1"].status == "used up"
    assert after.finished["K1"].history == dict.fromkeys(kept, PAST_EXPIRY)
    assert list(after.packages["K2"].history) == ["r9"]  # a live package keeps its records
    assert after.packages["K2"].history["r9"].txns
