"""Xero's ManualJournals body validated against Xero's published OpenAPI file (SPEC 6)."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30WriteValidator

from pkgbooks.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "ledgers" / "demo"
SPEC = ROOT.parent / "shared" / "vendor-specs" / "xero_accounting.yaml"
if not SPEC.exists():  # a worktree under wt/, or a clone beside shared/
    SPEC = ROOT.parents[1] / "shared" / "vendor-specs" / "xero_accounting.yaml"


@cache
def validator() -> OAS30WriteValidator:
    """The `ManualJournals` schema as a request body: read-only properties refused, and
    no property outside the schema (every object schema made closed)."""
    assert SPEC.exists(), f"{SPEC}: Xero's OpenAPI file (shared/vendor-specs) is missing"
    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    schemas = copy.deepcopy(document["components"]["schemas"])
    for schema in schemas.values():
        if isinstance(schema, dict) and "properties" in schema:
            schema["additionalProperties"] = False
    root = {"components": {"schemas": schemas},
            "$ref": "#/components/schemas/ManualJournals"}
    return OAS30WriteValidator(root)


def body(*extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, [
        "export", "xero", str(DEMO), "--from", "2026-01-01", "--to", "2026-05-31",
        "--format", "json", *extra])
    assert result.exit_code == 0, result.output
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def test_the_demo_body_is_valid_against_xero_openapi() -> None:
    payload = body()
    validator().validate(payload)
    assert len(payload["ManualJournals"]) == 20  # 4 locations x 5 months, each with movements
    journal = payload["ManualJournals"][0]
    assert list(journal) == ["Narration", "Date", "LineAmountTypes", "Status", "JournalLines"]
    assert journal["LineAmountTypes"] == "NoTax" and journal["Status"] == "DRAFT"
    line = journal["JournalLines"][0]
    assert list(line) == ["Description", "LineAmount", "AccountCode", "TaxType", "Tracking"]
    assert line["Tracking"] == [{"Name": "Location", "Option": journal["Narration"].split(
        "pkgbooks: ", 1)[1].rsplit(" (loc-", 1)[0]}]


@pytest.mark.parametrize("bad", [
    {"HasAttachments": False},                       # read-only
    {"UpdatedDateUTC": "/Date(1573755038314)/"},     # read-only
    {"Reference": "not in the schema"},
])
def test_the_validator_refuses_what_xero_would(bad: dict[str, Any]) -> None:
    payload = body("--entity", "franchise-2")
    payload["ManualJournals"][0].update(bad)
    with pytest.raises(ValidationError):
        validator().validate(payload)
