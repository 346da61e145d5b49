"""What every test process shares: import paths, and no state outside the test run's own.

The suite runs in parallel (pytest-xdist, `-n auto` in pyproject.toml): each
worker gets its own temporary directories (`tmp_path`, `tmp_path_factory`),
its own report cache, and never writes into the repository, so tests can run
in any order and on any worker.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The shared helpers (tests/books.py ...) and the scripts the tests drive
# (tools/simulate.py, tools/fuzz.py, bench/generate.py) import by their names,
# as the scripts import each other.
sys.path.insert(0, str(ROOT / "tests"))
sys.path.extend([str(ROOT / "tools"), str(ROOT / "bench")])

# Beancount's pickle cache would write `.main.beancount.picklecache` beside every ledger a
# test loads, the committed demo's too, where parallel workers would race on it; pkgbooks
# turns it off for its own loads, and the tests' direct loads (and their subprocesses) too.
os.environ["BEANCOUNT_DISABLE_LOAD_CACHE"] = "1"

import pytest  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    """Once per run (not per worker): a pickle cache left by an older run goes, so that no
    two workers find it and race to delete it."""
    if not hasattr(config, "workerinput"):
        for stale in (ROOT / "ledgers").rglob(".*.picklecache"):
            stale.unlink(missing_ok=True)


@pytest.fixture(autouse=True, scope="session")
def _report_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Reports keep their cache in a directory of this worker's, not in the user's."""
    os.environ["PKGBOOKS_CACHE"] = str(tmp_path_factory.mktemp("pkgbooks-cache"))
