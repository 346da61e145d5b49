"""QuickBooks Online JournalEntry JSON as the API takes it, read by python-quickbooks (SPEC 6)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from quickbooks.objects.journalentry import JournalEntry, JournalEntryLine

from pkgbooks.cli import main

DEMO = Path(__file__).resolve().parents[2] / "ledgers" / "demo"


def test_journal_entries_read_back_with_the_quickbooks_client() -> None:
    result = CliRunner().invoke(main, [
        "export", "qbo", str(DEMO), "--from", "2026-02-01", "--to", "2026-02-28",
        "--format", "json", "--entity", "franchise-1"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout, parse_float=Decimal)
    entries = [JournalEntry.from_json(raw) for raw in body["JournalEntries"]]
    assert [e.DocNumber for e in entries] == ["Loc11-260201-260228", "Loc12-260201-260228"]
    for entry in entries:
        assert entry.TxnDate == "2026-02-28"
        assert all(isinstance(line, JournalEntryLine) for line in entry.Line)
        debits = sum(line.Amount for line in entry.Line
                     if line.JournalEntryLineDetail.PostingType == "Debit")
        credits = sum(line.Amount for line in entry.Line
                      if line.JournalEntryLineDetail.PostingType == "Credit")
        assert debits == credits > 0
        for line in entry.Line:
            detail = line.JournalEntryLineDetail
            assert detail.AccountRef.value and detail.AccountRef.name
            assert detail.DepartmentRef.value in {"1", "2"}  # [export.qbo.locations]
            assert detail.ClassRef is None
            assert line.Description.startswith(("Assets:", "Liabilities:", "Income:",
                                                "Expenses:"))
        # The client writes the entry back as the API expects it.
        again = json.loads(entry.to_json())
        assert again["DocNumber"] == entry.DocNumber and len(again["Line"]) == len(entry.Line)
