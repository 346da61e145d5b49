import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _report_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Reports keep their cache in a directory of the test run, not in the user's."""
    import os

    os.environ["PKGBOOKS_CACHE"] = str(tmp_path_factory.mktemp("pkgbooks-cache"))
