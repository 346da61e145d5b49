"""`pkgbooks demo` works from any directory: the demo books ship inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pkgbooks.cli import main
from pkgbooks.demo import shipped

PKGBOOKS = Path(sys.executable).parent / "pkgbooks"


def test_the_demo_books_ship_with_the_package() -> None:
    books = shipped()
    assert (books / "pkgbooks.toml").is_file()
    assert {p.suffix for p in (books / "events").iterdir()} == {".csv", ".jsonl"}


@pytest.mark.slow
def test_demo_from_another_directory_builds_a_copy(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = sorted(p.name for p in shipped().iterdir())
    result = subprocess.run(
        [str(PKGBOOKS), "demo"], cwd=elsewhere, capture_output=True, text=True, timeout=300,
        env={**os.environ, "TMPDIR": str(tmp_path)}, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "liability 2026-01-01 .. 2026-05-31" in result.stdout
    [line] = [ln for ln in result.stdout.splitlines() if ln.startswith("The demo books are in")]
    copy = Path(line.split(" are in ", 1)[1].split(":", 1)[0])
    assert copy.parent == tmp_path and (copy / "main.beancount").is_file()
    assert list(elsewhere.iterdir()) == []  # nothing written where it was run
    assert sorted(p.name for p in shipped().iterdir()) == before  # nor into the package


def test_demo_refuses_a_directory_that_holds_something_else(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "not empty and holds no pkgbooks.toml" in result.output
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"
