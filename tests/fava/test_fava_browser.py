"""An accountant's visit to the Packages page in a real browser (SPEC 6a).

Chromium opens the page `pkgbooks serve` gives, changes the period and the
basis, looks up a package, follows a link to the journal, and checks the
numbers shown against the CLI's reports. The page is saved as a screenshot;
`PKGBOOKS_SCREENSHOT=1` also writes it to docs/fava-packages.png for the README.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from browser import chromium
from click.testing import CliRunner
from playwright.sync_api import Page, expect
from served import Served

from pkgbooks.cli import main

pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[2] / "docs"


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def cells(page: Page, row: str) -> list[str]:
    return page.locator(f'#pkgbooks-liability tr[data-location="{row}"] td.num, '
                        f'#pkgbooks-liability tr[data-location="{row}"] th.num').all_inner_texts()


def test_review_packages_in_the_browser(served_demo: Served, tmp_path: Path) -> None:
    books = str(served_demo.books)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(served_demo.base + "/extension/Pkgbooks/")

        # The latest month with activity, payment basis, as the CLI gives it.
        expect(page.locator("#pkgbooks-liability-title")).to_contain_text(
            "2026-05-01 .. 2026-05-31 (payment basis")
        may = cli_json("report", "liability", books, "--from", "2026-05-01", "--to", "2026-05-31")
        assert cells(page, "total") == [may["totals"][c] for c in (
            "opening", "sales", "redemptions", "expirations", "refunds", "closing")]

        # Another period and the sale basis, chosen on the page.
        page.fill('#pkgbooks-period input[name="from"]', "2026-03-01")
        page.fill('#pkgbooks-period input[name="to"]', "2026-03-31")
        page.select_option('#pkgbooks-period select[name="basis"]', "sale")
        page.click('#pkgbooks-period button[type="submit"]')
        expect(page.locator("#pkgbooks-liability-title")).to_contain_text(
            "2026-03-01 .. 2026-03-31 (sale basis")
        march = cli_json("report", "liability", books, "--from", "2026-03-01",
                         "--to", "2026-03-31", "--basis", "sale")
        for row in march["rows"]:
            assert cells(page, row["location"]) == [row[c] for c in (
                "opening", "sales", "redemptions", "expirations", "refunds", "closing")]
        owed = cli_json("report", "reconciliation", books, "--from", "2026-03-01",
                        "--to", "2026-03-31")["totals"]["net_due"]
        net = page.locator("#pkgbooks-net-due tbody tr").all_inner_texts()
        assert len(net) == len(owed)
        for shown, pair in zip(net, owed, strict=True):
            assert shown.split("\t")[0] == pair["source"]
            assert shown.split("\t")[-1] == pair["amount"]

        # A package looked up by instance: its history, liability and units left.
        page.fill('#pkgbooks-lookup input[name="instance"]', "PK-00022")
        page.click('#pkgbooks-lookup button[type="submit"]')
        expect(page.locator("#pkgbooks-package-liability")).to_have_text("0.00")
        expect(page.locator("#pkgbooks-package-status")).to_have_text("refunded")
        expect(page.locator("#pkgbooks-liability-title")).to_contain_text("(sale basis")
        assert page.locator('#pkgbooks-units tr[data-item="pilates-class"] '
                            'td[data-column="left"]').inner_text() == "3"
        history = page.locator("#pkgbooks-history tbody tr")
        expect(history).to_have_count(6)
        assert history.nth(2).inner_text().split("\t")[:5] == [
            "2026-01-12", "redemption", "r-000006", "loc-11", "James Carter"]
        # Fava scrolls its own content pane: a tall window shows the whole page, chart included.
        page.set_viewport_size({"width": 1400, "height": 1560})
        expect(page.locator("#pkgbooks svg").first).to_be_visible()
        shot = tmp_path / "fava-packages.png"
        page.screenshot(path=str(shot))
        page.set_viewport_size({"width": 1400, "height": 1000})
        if os.environ.get("PKGBOOKS_SCREENSHOT") == "1":
            shutil.copyfile(shot, DOCS / "fava-packages.png")

        # Its redemption of 2026-01-12 in Fava's journal.
        history.nth(2).locator("a.pkgbooks-entry").click()
        page.wait_for_url("**/journal/**")
        assert "filter=%5EPK-00022" in page.url
        journal = page.locator("ol.journal.show-transaction")
        expect(journal).to_contain_text("Redemption of 1 yoga-class from PK-00022 at loc-11")
        expect(journal).not_to_contain_text("PK-00021")
        # ... and opened there: Fava's entry context shows its source.
        expect(page.locator(".cm-content")).to_contain_text('event: "r-000006"')
        page.screenshot(path=str(tmp_path / "journal.png"))
        assert errors == []
