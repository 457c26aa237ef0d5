"""The command line's contract: commands, output formats, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from incentive_sim.cli import app

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_rules_lists_every_preset() -> None:
    result = runner.invoke(app, ["rules"])
    assert result.exit_code == 0
    for name in ("fi_2006_one_step", "fi_2015_two_step", "fi_2025_graduated", "finland",
                 "dk_2016_refusion"):
        assert name in result.stdout
    assert "fi_2025_graduated_cap30" not in result.stdout


def test_rules_show_finland_prints_the_timeline() -> None:
    result = runner.invoke(app, ["rules", "show", "finland"])
    assert result.exit_code == 0
    timeline = yaml.safe_load(result.stdout)["finland"]["timeline"]
    assert [(str(e["from"]), e["rule"]) for e in timeline] == [
        ("2006-01-01", "fi_2006_one_step"), ("2015-01-01", "fi_2015_two_step"),
        ("2025-01-01", "fi_2025_graduated")]


def test_rules_show_of_the_removed_cap30_reading_says_why() -> None:
    result = runner.invoke(app, ["rules", "show", "fi_2025_graduated_cap30"])
    assert result.exit_code == 2
    assert "was removed" in result.stderr and "701-" in result.stderr


def test_rules_show_prints_the_preset_as_yaml() -> None:
    result = runner.invoke(app, ["rules", "show", "fi_2015_two_step"])
    assert result.exit_code == 0
    rule = yaml.safe_load(result.stdout)["fi_2015_two_step"]
    step = rule["liability"][0]["municipality_share"][0]
    assert (step["from_day"], step["share"], step["label"]) == (300, 0.5, "301-1000")


def test_rules_show_of_an_unknown_rule_exits_2() -> None:
    result = runner.invoke(app, ["rules", "show", "no_such_rule"])
    assert result.exit_code == 2
    assert "unknown rule" in result.stderr


def test_schema_is_json_schema_of_the_whole_scenario() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    # the top level lists every key; a file that extends no other must be a whole scenario
    assert schema["else"] == {"$ref": "#/$defs/Scenario"}
    assert set(schema["$defs"]["Scenario"]["required"]) >= {
        "name", "municipalities", "groups", "transitions", "funding"}
    for key in ("benefits", "areas", "population", "services", "policy", "rules", "extends"):
        assert key in schema["properties"]


def test_validate_accepts_the_shipped_scenario() -> None:
    result = runner.invoke(app, ["validate", str(REPO / "scenarios/tampere_region_2025.yaml")])
    assert result.exit_code == 0, result.stderr
    assert "valid scenario" in result.stdout


def test_cases_json_prints_the_contract_fields() -> None:
    result = runner.invoke(app, ["cases", str(REPO / "scenarios/cases/legal_examples.yaml"),
                                 "--json"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    figures = {"name", "rule", "municipality", "state", "fund", "total"}
    assert rows and all(set(r) == figures | {"expected", "pass"} for r in rows)
    first = rows[0]
    assert set(first["expected"]) == set(first["pass"]) <= figures
    assert all(all(r["pass"].values()) for r in rows)


def test_cases_json_gives_expected_and_pass_per_payer_only_where_expected(tmp_path: Path
                                                                          ) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "cases:\n"
        "  - name: checked, one payer wrong\n"
        "    rule: fi_2015_two_step\n"
        "    benefit: labour_market_subsidy\n"
        "    daily_amount: 37.21\n"
        "    history: [{state: unemployed, paid_days: 1200}]\n"
        "    expect: {municipality: 18232.90, state: 1.00}\n"
        "  - name: unchecked\n"
        "    rule: fi_2015_two_step\n"
        "    benefit: labour_market_subsidy\n"
        "    daily_amount: 37.21\n"
        "    history: [{state: unemployed, paid_days: 10}]\n")
    result = runner.invoke(app, ["cases", str(cases), "--json"])
    assert result.exit_code == 1
    checked, unchecked = json.loads(result.stdout)
    assert checked["expected"] == {"municipality": 18232.90, "state": 1.00}
    assert checked["pass"] == {"municipality": True, "state": False}
    assert "expected" not in unchecked and "pass" not in unchecked


def test_a_failed_expectation_exits_1_and_shows_the_difference(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "cases:\n"
        "  - name: wrong on purpose\n"
        "    rule: fi_2015_two_step\n"
        "    benefit: labour_market_subsidy\n"
        "    daily_amount: 37.21\n"
        "    history: [{state: unemployed, paid_days: 1200}]\n"
        "    expect: {municipality: 18000.00}\n")
    result = runner.invoke(app, ["cases", str(cases)])
    assert result.exit_code == 1
    assert "expected 18,000.00, got 18,232.90 (difference +232.90)" in result.stderr


def test_python_dash_m_runs_the_same_command_line() -> None:
    done = subprocess.run([sys.executable, "-m", "incentive_sim", "rules"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert "fi_2015_two_step" in done.stdout
