"""Debian's Chromium driven by Playwright for Python (no browser download: the system binary).

`chromium()` yields a browser, or skips the test with a loud message when
/usr/bin/chromium is missing (`.ci/run` installs it with apt-get; the skip is
only for a machine where it cannot be installed at all).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path(os.environ.get("PKGBOOKS_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = (f"BROWSER TEST SKIPPED: no Chromium at {CHROMIUM} "
                   "(install it: apt-get install -y chromium)")
        print(message, file=sys.stderr)
        warnings.warn(message, stacklevel=2)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
