"""`build --dask ADDRESS`: the same partition tasks on a Dask cluster, the same books.

A real `distributed.LocalCluster` of two worker processes runs the tasks;
the books it gives are compared byte for byte with a local build. An
unreachable scheduler is one line of error, and the books stay as they were.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pkgbooks import partition
from pkgbooks.cli import main

DEMO = Path(__file__).resolve().parent.parent / "ledgers" / "demo"


def _ledger(books: Path) -> dict[str, bytes]:
    return {str(p.relative_to(books)): p.read_bytes() for p in sorted(books.rglob("*"))
            if p.is_file() and p.relative_to(books).parts[0] in ("ledger", "entities")
            or p.name == "main.beancount"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local.scheduler_address


@pytest.mark.slow
def test_dask_builds_what_a_local_build_writes(tmp_path: Path, cluster: str) -> None:
    local, remote = tmp_path / "local", tmp_path / "remote"
    shutil.copytree(DEMO, local)
    shutil.copytree(DEMO, remote)
    runner = CliRunner()
    done = runner.invoke(main, ["build", str(local), "--jobs", "1"])
    assert done.exit_code == 0, done.output
    done = runner.invoke(main, ["build", str(remote), "--dask", cluster])
    assert done.exit_code == 0, done.output
    expected, got = _ledger(local), _ledger(remote)
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert got[name] == expected[name], f"{name} differs"


def test_unreachable_scheduler_is_one_line_and_the_books_stay(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr(partition, "DASK_CONNECT_TIMEOUT", "1s")
    books = tmp_path / "books"
    shutil.copytree(DEMO, books)
    before = _ledger(books)
    done = CliRunner().invoke(main, ["build", str(books), "--dask", "tcp://127.0.0.1:9"])
    assert done.exit_code == 1
    assert "Traceback" not in done.output
    assert "--dask: cannot connect to the Dask scheduler at tcp://127.0.0.1:9" in done.output
    assert _ledger(books) == before


def test_malformed_address_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    books = tmp_path / "books"
    shutil.copytree(DEMO, books)
    before = _ledger(books)
    done = CliRunner().invoke(main, ["build", str(books), "--dask", "scheduler"])
    assert done.exit_code == 1
    assert "Traceback" not in done.output
    assert "--dask scheduler: not a scheduler address like tcp://host:8786" in done.output
    assert _ledger(books) == before
