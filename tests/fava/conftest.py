"""Fixtures of the Fava tests: the demo books served by a real `pkgbooks serve`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from served import Served, copy_demo, serving


@pytest.fixture(scope="session")
def served_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The demo books, without their ledger (so `serve` must build them), in Fava."""
    books = copy_demo(tmp_path_factory.mktemp("served"))
    shutil.rmtree(books / "ledger")
    (books / "main.beancount").unlink()
    with serving(books) as served:
        yield served
