"""SPEC 2 / 7: pkgbooks.toml is checked when loaded; every problem is reported at once as
`FILE: key: value: what is wrong`, by load_config (`Failed`) and by the CLI (exit 1)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from books import config_text, write_books
from click.testing import CliRunner

from pkgbooks.cli import main
from pkgbooks.config import load_config
from pkgbooks.errors import Failed

D = Decimal

CATALOG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[items.facial]
name = "Facial"
category = "service"
price = "varies"

[items.oil]
name = "Oil"
category = "product"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
tax_rate = "0.10"
validity_days = 90
grace_days = 30
initial_recognition = "5.00"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.cuts-3.location_prices.loc-21]
haircut = "90.00"
"""


def problems(tmp_path: Path, text: str) -> tuple[str, list[str]]:
    path = tmp_path / "pkgbooks.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(Failed) as caught:
        load_config(path)
    lines = [str(e) for e in caught.value.errors]
    assert lines, "a configuration failure must list its problems"
    assert str(caught.value) == "\n".join(lines)
    return str(path), lines


def reported(lines: list[str], file: str, key: str, value: str, *words: str) -> str:
    """The one line `FILE: key: value: what is wrong` for `key`, with `value` and `words`."""
    prefix = f"{file}: {key}: "
    matching = [line for line in lines if line.startswith(prefix)]
    assert matching, f"no problem reported for {key!r}:\n" + "\n".join(lines)
    line = matching[0]
    rest = line[len(prefix):]
    assert rest.startswith(value + ": "), f"value {value!r} not shown after the key: {line}"
    what = rest[len(value) + 2:]
    assert what.strip(), f"nothing says what is wrong: {line}"
    for word in words:
        assert word.lower() in what.lower(), f"{word!r} missing from {line!r}"
    return line


def test_a_good_configuration_loads(tmp_path: Path) -> None:
    path = tmp_path / "pkgbooks.toml"
    path.write_text(config_text(CATALOG + """
[reconciliation]
start = 2026-01-05
rates = { service = "0.05", product = "0.30", class = "0.20" }
""", recognition="proportional", expired_balance="liability",
        payment_allocation="proportional", redeem_open=True), encoding="utf-8")
    cfg = load_config(path)
    assert cfg.policy.recognition == "proportional"
    assert cfg.policy.expired_balance == "liability"
    assert cfg.policy.payment_allocation == "proportional"
    assert cfg.policy.redeem_open_packages is True
    pkg = cfg.packages["cuts-3"]
    assert pkg.price == D("100.00") and pkg.tax_rate == D("0.10")
    assert pkg.validity_days == 90 and pkg.grace_days == 30
    assert pkg.initial_recognition_for(D("100.00")) == D("5.00")
    assert pkg.location_prices == {"loc-21": {"haircut": D("90.00")}}
    assert cfg.items["facial"].list_price is None  # "varies"
    assert cfg.items["oil"].list_price is None  # absent
    assert cfg.items["haircut"].list_price == D("40.00")
    assert cfg.items["haircut"].unit == "visit"
    assert cfg.reconciliation is not None
    assert cfg.reconciliation.start == datetime.date(2026, 1, 5)
    assert cfg.reconciliation.rates["product"] == D("0.30")
    assert cfg.entity_of("loc-11") == "franchise-1"
    assert cfg.account_of("loc-21") == "Loc21"


def test_policy_defaults_and_entity_default(tmp_path: Path) -> None:
    path = tmp_path / "pkgbooks.toml"
    path.write_text("""
title = "Solo"
[locations.main]
name = "Main street"
account = "Main"
""", encoding="utf-8")
    cfg = load_config(path)
    assert cfg.currency == "USD"
    assert cfg.policy.recognition == "item_price"
    assert cfg.policy.expired_balance == "revenue"
    assert cfg.policy.payment_allocation == "products_first"
    assert cfg.policy.redeem_open_packages is False
    assert cfg.entity_of("main") == "main"  # default: the location itself


@pytest.mark.parametrize(("text", "price", "expected"), [
    ("5.00", "100.00", "5.00"),
    ("5%", "100.00", "5.00"),
    ("5%", "80.00", "4.00"),
    ("2.5%", "99.99", "2.50"),  # 2.49975 rounds half up
    ("0%", "100.00", "0.00"),
    ("100%", "100.00", "100.00"),
    ("150.00", "100.00", "100.00"),  # never more than the price
])
def test_initial_recognition_amount_or_percent(
    tmp_path: Path, text: str, price: str, expected: str
) -> None:
    path = tmp_path / "pkgbooks.toml"
    path.write_text(config_text(CATALOG.replace('initial_recognition = "5.00"',
                                                f'initial_recognition = "{text}"')),
                    encoding="utf-8")
    pkg = load_config(path).packages["cuts-3"]
    assert pkg.initial_recognition_for(D(price)) == D(expected)


# --- every reference check of SPEC 2 --------------------------------------------------------


def test_unknown_location_in_location_prices(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG + """
[packages.cuts-3.location_prices.loc-99]
haircut = "80.00"
"""))
    reported(lines, file, "packages.cuts-3.location_prices.loc-99", "'loc-99'",
             "unknown location")
    assert len(lines) == 1


def test_unknown_item_in_location_prices(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG + """
[packages.cuts-3.location_prices.loc-11]
facial = "80.00"
massage = "10.00"
"""))
    # facial is in the catalog but not in this package; massage is in neither.
    reported(lines, file, "packages.cuts-3.location_prices.loc-11.facial", "'facial'", "item")
    reported(lines, file, "packages.cuts-3.location_prices.loc-11.massage", "'massage'",
             "item")
    assert len(lines) == 2


def test_unknown_item_in_a_package(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG + """
[packages.mix]
name = "Mix"
price = "50.00"
items = [ { item = "haircut", quantity = 1, price = "20.00" },
          { item = "massage", quantity = 2, price = "30.00" } ]
"""))
    reported(lines, file, "packages.mix.items[1].item", "'massage'", "unknown item")
    assert len(lines) == 1


def test_any_service_line_is_not_an_unknown_item(tmp_path: Path) -> None:
    path = tmp_path / "pkgbooks.toml"
    path.write_text(config_text(CATALOG + """
[packages.any-3]
name = "Any three services"
price = "120.00"
items = [ { item = "*", quantity = 3, price = "120.00" } ]
"""), encoding="utf-8")
    assert load_config(path).packages["any-3"].items[0].item == "*"


@pytest.mark.parametrize(("key", "bad"), [
    ("recognition", "fifo"),
    ("expired_balance", "keep"),
    ("payment_allocation", "cheapest_first"),
])
def test_bad_policy_value(tmp_path: Path, key: str, bad: str) -> None:
    kwargs = {key: bad}
    file, lines = problems(tmp_path, config_text(CATALOG, **kwargs))  # type: ignore[arg-type]
    reported(lines, file, f"policy.{key}", f"'{bad}'")
    assert len(lines) == 1


def test_bad_redeem_open_packages_value(tmp_path: Path) -> None:
    text = config_text(CATALOG).replace("redeem_open_packages = false",
                                        'redeem_open_packages = "sometimes"')
    file, lines = problems(tmp_path, text)
    reported(lines, file, "policy.redeem_open_packages", "'sometimes'")


def test_unknown_category_and_unit(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG + """
[items.sauna]
name = "Sauna"
category = "spa"
unit = "days"
"""))
    reported(lines, file, "items.sauna.category", "'spa'", "service")
    reported(lines, file, "items.sauna.unit", "'days'")


def test_negative_package_price(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG.replace(
        'price = "100.00"\ntax_rate', 'price = "-100.00"\ntax_rate')))
    reported(lines, file, "packages.cuts-3.price", "'-100.00'", "negative")
    assert len(lines) == 1


def test_negative_group_price(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG.replace(
        'quantity = 3, price = "100.00"', 'quantity = 3, price = "-1.00"')))
    reported(lines, file, "packages.cuts-3.items[0].price", "'-1.00'", "negative")
    assert len(lines) == 1


def test_negative_location_price(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG.replace('haircut = "90.00"',
                                                                 'haircut = "-90.00"')))
    reported(lines, file, "packages.cuts-3.location_prices.loc-21.haircut", "'-90.00'",
             "negative")
    assert len(lines) == 1


def test_negative_item_list_price_is_reported(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG.replace('price = "40.00"',
                                                                 'price = "-40.00"')))
    reported(lines, file, "items.haircut.price", "'-40.00'", "negative")


def test_negative_item_list_price_is_reported_once(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG.replace('price = "40.00"',
                                                                 'price = "-40.00"')))
    about_it = [line for line in lines if line.startswith(f"{file}: items.haircut.price:")]
    assert len(about_it) == 1, about_it
    assert "negative" in about_it[0]


@pytest.mark.parametrize(("where", "text", "key", "value"), [
    ("package", 'tax_rate = "1.5"', "packages.cuts-3.tax_rate", "'1.5'"),
    ("package", 'tax_rate = "-0.01"', "packages.cuts-3.tax_rate", "'-0.01'"),
])
def test_tax_rate_outside_0_to_1(
    tmp_path: Path, where: str, text: str, key: str, value: str
) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG.replace('tax_rate = "0.10"', text)))
    reported(lines, file, key, value, "between 0 and 1")
    assert len(lines) == 1


def test_reconciliation_rate_outside_0_to_1(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG + """
[reconciliation]
start = 2026-01-05
rates = { service = "1.05", product = "-0.30", class = "0.20" }
"""))
    reported(lines, file, "reconciliation.rates.service", "'1.05'", "between 0 and 1")
    reported(lines, file, "reconciliation.rates.product", "'-0.30'", "between 0 and 1")
    assert len(lines) == 2


def test_reconciliation_rate_for_an_unknown_category(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG + """
[reconciliation]
start = 2026-01-05
rates = { service = "0.05", spa = "0.10" }
"""))
    assert any("reconciliation.rates.spa" in line and "spa" in line for line in lines), lines


@pytest.mark.parametrize(("old", "new", "key", "value"), [
    ('price = "40.00"', "price = 40.0", "items.haircut.price", "40.0"),
    ('price = "100.00"\ntax_rate', "price = 100.0\ntax_rate", "packages.cuts-3.price",
     "100.0"),
    ('quantity = 3, price = "100.00"', "quantity = 3, price = 99.99",
     "packages.cuts-3.items[0].price", "99.99"),
    ('haircut = "90.00"', "haircut = 90.5", "packages.cuts-3.location_prices.loc-21.haircut",
     "90.5"),
    ('tax_rate = "0.10"', "tax_rate = 0.1", "packages.cuts-3.tax_rate", "0.1"),
])
def test_float_amounts_are_refused(
    tmp_path: Path, old: str, new: str, key: str, value: str
) -> None:
    text = config_text(CATALOG.replace(old, new))
    assert new in text
    file, lines = problems(tmp_path, text)
    reported(lines, file, key, value, "string")


@pytest.mark.parametrize("bad", ["12.345", "twelve"])
def test_amount_that_is_not_a_cent_amount(tmp_path: Path, bad: str) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG.replace(
        'price = "100.00"\ntax_rate', f'price = "{bad}"\ntax_rate')))
    reported(lines, file, "packages.cuts-3.price", f"'{bad}'")
    assert len(lines) == 1


def test_duplicate_account_segment(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG + """
[locations.loc-13]
name = "Franchise 1 - Location 1.3"
account = "Loc11"
entity = "franchise-1"
"""))
    line = reported(lines, file, "locations.loc-13.account", "'Loc11'", "loc-11")
    assert "already" in line or "used" in line
    assert len(lines) == 1


def test_bad_account_segment(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG + """
[locations.loc-13]
name = "Bad"
account = "loc 13"
"""))
    reported(lines, file, "locations.loc-13.account", "'loc 13'")


@pytest.mark.parametrize("bad", ["abc", "150%", "-5.00", "5.001", "-1%"])
def test_bad_initial_recognition_is_refused(tmp_path: Path, bad: str) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG.replace(
        'initial_recognition = "5.00"', f'initial_recognition = "{bad}"')))
    assert len(lines) == 1
    assert lines[0].startswith(f"{file}: packages.cuts-3")
    assert f"'{bad}'" in lines[0]
    assert "initial_recognition" in lines[0]


@pytest.mark.parametrize("bad", ["abc", "150%"])
def test_bad_initial_recognition_names_its_key_and_value(tmp_path: Path, bad: str) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG.replace(
        'initial_recognition = "5.00"', f'initial_recognition = "{bad}"')))
    reported(lines, file, "packages.cuts-3.initial_recognition", f"'{bad}'")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = config_text(CATALOG + """
[locations.loc-13]
name = "Franchise 1 - Location 1.3"
account = "Loc21"

[packages.cuts-3.location_prices.loc-99]
haircut = "80.00"

[packages.mix]
name = "Mix"
price = "50.00"
items = [ { item = "massage", quantity = 2, price = "50.00" } ]
""")
    file, lines = problems(tmp_path, text)
    reported(lines, file, "locations.loc-13.account", "'Loc21'")
    reported(lines, file, "packages.cuts-3.location_prices.loc-99", "'loc-99'")
    reported(lines, file, "packages.mix.items[0].item", "'massage'")
    assert len(lines) == 3


def test_every_shape_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = config_text(CATALOG.replace('tax_rate = "0.10"', 'tax_rate = "2"'),
                       recognition="fifo") + """
[items.sauna]
name = "Sauna"
category = "spa"
"""
    file, lines = problems(tmp_path, text)
    reported(lines, file, "policy.recognition", "'fifo'")
    reported(lines, file, "packages.cuts-3.tax_rate", "'2'")
    reported(lines, file, "items.sauna.category", "'spa'")


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "pkgbooks.toml"
    path.write_text('title = "x\n', encoding="utf-8")
    with pytest.raises(Failed) as caught:
        load_config(path)
    assert str(caught.value.errors[0]).startswith(f"{path}: ")
    with pytest.raises(Failed) as caught:
        load_config(tmp_path / "nothing.toml")
    assert str(caught.value.errors[0]).startswith(f"{tmp_path / 'nothing.toml'}: ")


def test_config_with_a_bom_loads(tmp_path: Path) -> None:
    path = tmp_path / "pkgbooks.toml"
    path.write_bytes(b"\xef\xbb\xbf" + config_text(CATALOG).encode("utf-8"))
    assert load_config(path).title == "Test Spa"


# --- through the CLI ---------------------------------------------------------------------------


BAD = CATALOG + """
[packages.cuts-3.location_prices.loc-99]
haircut = "80.00"

[locations.loc-13]
name = "Franchise 1 - Location 1.3"
account = "Loc11"
"""


@pytest.mark.parametrize("command", ["build", "validate"])
def test_cli_reports_every_config_problem_and_exits_1(tmp_path: Path, command: str) -> None:
    books = write_books(tmp_path / "books", config_text(BAD), [])
    result = CliRunner().invoke(main, [command, str(books)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    file = str(books / "pkgbooks.toml")
    err = result.stderr.splitlines()
    reported(err, file, "packages.cuts-3.location_prices.loc-99", "'loc-99'",
             "unknown location")
    reported(err, file, "locations.loc-13.account", "'Loc11'", "loc-11")
    assert result.stdout == ""
    assert not (books / "main.beancount").exists()
    assert not (books / "ledger").exists()


def test_cli_reports_a_float_price_and_writes_nothing(tmp_path: Path) -> None:
    books = write_books(tmp_path / "books", config_text(
        CATALOG.replace('quantity = 3, price = "100.00"', "quantity = 3, price = 100.0")), [])
    result = CliRunner().invoke(main, ["build", str(books)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    reported(result.stderr.splitlines(), str(books / "pkgbooks.toml"),
             "packages.cuts-3.items[0].price", "100.0", "string")
    assert not (books / "main.beancount").exists()


@pytest.mark.parametrize(("old", "new", "key", "value"), [
    ("validity_days = 90", "validity_days = -1", "packages.cuts-3.validity_days", "-1"),
    ("grace_days = 30", "grace_days = -5", "packages.cuts-3.grace_days", "-5"),
    ("quantity = 3,", "quantity = 0,", "packages.cuts-3.items[0].quantity", "0"),
])
def test_negative_days_and_zero_quantities(
    tmp_path: Path, old: str, new: str, key: str, value: str
) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG.replace(old, new)))
    reported(lines, file, key, value)
    assert len(lines) == 1


def test_unknown_keys_are_reported(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG + """
[items.haircut2]
name = "Haircut"
category = "service"
colour = "red"
"""))
    assert any(line.startswith(f"{file}: items.haircut2.colour: ") for line in lines), lines


def test_an_item_listed_twice_in_a_package_is_reported(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG + """
[packages.twice]
name = "Twice"
price = "50.00"
items = [ { item = "haircut", quantity = 1, price = "25.00" },
          { item = "haircut", quantity = 1, price = "25.00" } ]
"""))
    (line,) = lines
    assert line.startswith(f"{file}: packages.twice")
    assert "haircut" in line


# --- control characters in ids and names, deep nesting (issue 13) ------------------------


@pytest.mark.parametrize(("old", "new", "key", "value"), [
    ("[items.haircut]", '[items."hair\\ncut"]', "items", "'hair\\ncut'"),
    ('[packages.cuts-3]\nname = "Three haircuts"', '[packages."cuts\\r3"]\nname = "Three"',
     "packages", "'cuts\\r3'"),
    ('name = "Three haircuts"', 'name = "Three\\u2028haircuts"', "packages.cuts-3.name",
     "'Three\\u2028haircuts'"),
    ('name = "Haircut"', 'name = "Hair\\tcut"', "items.haircut.name", "'Hair\\tcut'"),
])
def test_control_characters_in_ids_and_names_are_refused(
        tmp_path: Path, old: str, new: str, key: str, value: str) -> None:
    text = config_text(CATALOG).replace(old, new)
    if "cuts\\r3" in new:
        text = text.replace("[packages.cuts-3.location_prices",
                            '[packages."cuts\\r3".location_prices')
    file, lines = problems(tmp_path, text)
    assert all("\n" not in line and "\r" not in line and "\u2028" not in line for line in lines)
    reported(lines, file, key, value, "control characters")


def test_a_location_id_with_a_line_break_is_refused(tmp_path: Path) -> None:
    text = config_text(CATALOG).replace("[locations.loc-21]", '[locations."loc\\n21"]')
    text = text.replace("location_prices.loc-21]", 'location_prices."loc\\n21"]')
    file, lines = problems(tmp_path, text)
    reported(lines, file, "locations", "'loc\\n21'", "line breaks")


@pytest.mark.parametrize("deep", ["x = " + "[" * 500 + "]" * 500,
                                  "x = " + "{a = " * 500 + "1" + "}" * 500])
def test_toml_nested_500_deep_is_one_line(tmp_path: Path, deep: str) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG) + "\n" + deep + "\n")
    assert lines == [f"{file}: not usable TOML: arrays or tables nested too deeply"]


def test_date_limits_are_checked(tmp_path: Path) -> None:
    file, lines = problems(tmp_path, config_text(CATALOG) + "\n[dates]\nfuture_days = 99999\n")
    reported(lines, file, "dates.future_days", "99999", "at most 3660")
