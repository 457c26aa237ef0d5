"""A service nobody starts is named in a warning: in the terminal, in summary.json (in
comparison.json for `compare`, with the rule it was simulated under) and in the report (a run
whose services sit idle is usually a scenario mistake)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from incentive_sim.cli import app

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "small_run.yaml"


def test_a_service_nobody_can_enter_is_named_everywhere(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    # nobody reaches a billion paid days, so nobody is eligible for coaching
    scenario.write_text(f"extends: {FIXTURE}\nservices:\n  coaching:\n"
                        "    eligible: {min_paid_days: 1000000000}\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(scenario), "--out", str(out),
                                      "--replications", "1"])
    assert result.exit_code == 0, result.output
    assert "warning: service 'coaching' was started by nobody" in result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["services"]["coaching"]["starts"] == 0
    assert any("'coaching'" in w for w in summary["warnings"])
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "Warning: service &#x27;coaching&#x27; was started by nobody" in report or \
        "Warning: service 'coaching' was started by nobody" in report


def test_a_run_whose_services_are_used_has_no_warning(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(FIXTURE), "--out", str(out),
                                      "--replications", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["services"]["coaching"]["starts"] > 0
    assert summary["warnings"] == [] and "warning:" not in result.output


def test_a_behavioural_comparison_names_the_rule_under_which_nobody_started(
        tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"extends: {FIXTURE}\nservices:\n  coaching:\n"
                        "    eligible: {min_paid_days: 1000000000}\n", encoding="utf-8")
    out = tmp_path / "out"
    rules = ["fi_2015_two_step", "fi_2025_graduated"]
    result = CliRunner().invoke(app, ["compare", str(scenario), "--funding", ",".join(rules),
                                      "--behavioural", "--out", str(out),
                                      "--replications", "1"])
    assert result.exit_code == 0, result.output
    headline = json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    report = (out / "report.html").read_text(encoding="utf-8").replace("&#x27;", "'")
    for rule in rules:
        warning = f"under {rule}: service 'coaching' was started by nobody"
        assert f"warning: {warning}" in result.output
        assert any(w.startswith(warning) for w in headline["warnings"])
        assert f"Warning: {warning}" in report


def test_a_comparison_whose_services_are_used_has_no_warning(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["compare", str(FIXTURE), "--funding",
                                      "fi_2015_two_step,fi_2025_graduated", "--behavioural",
                                      "--out", str(out), "--replications", "1"])
    assert result.exit_code == 0, result.output
    headline = json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    assert headline["warnings"] == [] and "warning:" not in result.output
