"""A hand-made adjustment that balances but breaks pkgbooks' rules is caught where an
accountant looks: `bean-check`'s output and Fava's Errors page (SPEC 6a)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from browser import chromium
from playwright.sync_api import expect
from served import copy_demo, serving

pytestmark = pytest.mark.slow

# Balanced, with metadata, but a DueTo with no matching DueFrom: loc-12 "owes" loc-11 40.00
# that loc-11's books do not claim.
ADJUSTMENT = """
2026-03-15 * "Hand-made adjustment: loc-12 owes loc-11"
  event: "adj-1"
  kind: "reconciliation"
  Liabilities:Loc12:DueTo:Loc11                          -40.00 USD
  Assets:Loc12:Cash:Cash                                  40.00 USD
"""
MESSAGE = ("Assets:Loc11:DueFrom:Loc12 + Liabilities:Loc12:DueTo:Loc11 = -40.00 at the end of "
           "2026-03-15, not 0.00")


def test_broken_adjustment_in_bean_check_and_on_favas_errors_page(tmp_path: Path) -> None:
    books = copy_demo(tmp_path)
    month = books / "ledger" / "2026-03.beancount"
    line = len(month.read_text(encoding="utf-8").splitlines()) + 2
    with month.open("a", encoding="utf-8") as handle:
        handle.write(ADJUSTMENT)

    checked = subprocess.run(
        [str(Path(sys.executable).parent / "bean-check"), str(books / "main.beancount")],
        capture_output=True, text=True, timeout=300,
    )
    assert checked.returncode == 1
    output = checked.stdout + checked.stderr
    assert f"{month}:{line}: {MESSAGE}" in output
    assert 'Hand-made adjustment: loc-12 owes loc-11' in output
    assert output.count("\n\n") <= 2, "the one broken entry is the only error"

    with serving(books) as served:
        status, body = served.get("/api/errors")
        assert status == 200
        errors = json.loads(body)["data"]
        assert [(e["message"].split(", not")[0], e["source"]["lineno"]) for e in errors] == [
            (MESSAGE.split(", not")[0], line)]
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(served.base + "/extension/Pkgbooks/")
            expect(page.locator(".pkgbooks-warning").first).to_contain_text("1 error(s)")
            page.click("text=Errors")
            page.wait_for_url("**/errors/**")
            expect(page.locator("article")).to_contain_text(MESSAGE)
            page.screenshot(path=str(tmp_path / "errors.png"))
