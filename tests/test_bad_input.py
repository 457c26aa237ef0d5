"""Bad input never gives a Python traceback: each kind of mistake in a scenario, a funding rule
or a cases file is reported as `file:line: field.path: message` with exit code 2.

Every fixture in tests/fixtures/bad/ is one of the two valid files in tests/fixtures/bad/valid/
with exactly one defect, so the one problem reported is that defect.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incentive_sim.cli import app

BAD = Path(__file__).parent / "fixtures" / "bad"

# (fixture, command, line (or "line:column" where the reader knows the column), field path,
# message fragment)
CASES: list[tuple[str, str, int | str | None, str, str]] = [
    # ---- YAML and whole-file problems
    ("yaml_syntax_error.yaml", "validate", "29:6", "(document)",
     "invalid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence started on "
     "line 28)"),
    ("duplicate_key.yaml", "validate", 4, "horizon_days", "duplicate key (first given on line 3)"),
    ("recursive_alias.yaml", "validate", 8, "areas.Tampere region[2]",
     "recursive alias: an anchor cannot be used inside itself"),
    ("top_level_list.yaml", "validate", 2, "(document)",
     "expected a mapping of keys at the top level"),
    ("empty.yaml", "validate", 1, "(document)", "the file is empty"),
    ("extends_missing_base.yaml", "validate", 2, "extends", "base file not found: "),
    # ---- scenario: keys, types and ranges
    ("unknown_key_near_miss.yaml", "validate", 3, "horizon_dayz",
     "unknown key (did you mean 'horizon_days'?)"),
    ("missing_required_key.yaml", "validate", 15, "transitions.employment",
     "required key is missing"),
    ("wrong_type_string_for_number.yaml", "validate", 25, "services.coaching.cost_per_day",
     "must be a number (got 'fifteen')"),
    ("invalid_date.yaml", "validate", 3, "start_date",
     "Input should be a valid date or datetime, day value is outside expected range "
     "(got '2025-02-30')"),
    ("negative_rate.yaml", "validate", 20, "transitions.inactivity.rate_per_day",
     "Input should be greater than or equal to 0 (got -0.0003)"),
    ("negative_capacity.yaml", "validate", 23, "services.coaching.capacity.Tampere region",
     "Input should be greater than or equal to 0 (got -900)"),
    ("unknown_dist.yaml", "validate", 14, "population.initial_duration_days.dist",
     "unknown dist 'weibull'; expected one of 'fixed', 'exponential'"),
    ("missing_dist.yaml", "validate", 14, "population.initial_duration_days.dist",
     "required key is missing"),
    ("bands_not_increasing.yaml", "validate", 17, "transitions.employment.bands_days",
     "bands_days must strictly increase"),
    ("bands_rates_length_mismatch.yaml", "validate", 17, "transitions.employment.bands_days",
     "bands_days has 3 entries but rate_per_day has 2"),
    ("max_paid_days_zero_in_distribution.yaml", "validate", 5, "benefits.max_paid_days.values",
     "values must all be positive numbers of paid days"),
    ("paid_fraction_unbounded_dist.yaml", "validate", 7,
     "benefits.daily.earnings_related.paid_fraction.dist",
     "dist 'gamma' can draw shares above 1: use fixed, uniform or empirical"),
    # ---- scenario: keys that have moved
    ("max_paid_days_under_earnings_related.yaml", "validate", 6,
     "benefits.daily.earnings_related.max_paid_days",
     "max_paid_days has moved: give it as benefits.max_paid_days, where it applies to the "
     "basic allowance as well as the earnings-related allowance"),
    # ---- scenario: shares and cross-references
    ("group_shares_not_one.yaml", "validate", 9, "groups", "group shares add up to 0.9, not 1"),
    ("benefit_mix_not_one.yaml", "validate", 11, "groups.other.benefit_mix",
     "benefit shares add up to 0.9, not 1"),
    ("unknown_municipality_in_initial_stock.yaml", "validate", 13,
     "population.initial_stock.Ylöjärvi", "unknown municipality 'Ylöjärvi'; known: Tampere, Nokia"),
    ("unknown_place_in_capacity.yaml", "validate", 23, "services.coaching.capacity.Pirkanmaa",
     "unknown municipality or area 'Pirkanmaa'; known: Tampere, Nokia, Tampere region"),
    ("unknown_group_in_multiplier.yaml", "validate", 19,
     "transitions.employment.group_multiplier.seniors",
     "unknown group 'seniors'; known: youth, other"),
    ("unknown_rule_in_force.yaml", "validate", 27, "funding.in_force",
     "unknown funding rule 'fi_2025_gradual'; known: "),
    # ---- funding rules in a scenario's `rules:`
    ("rule_extends_unknown.yaml", "validate", 31, "rules.local_rule.extends",
     "unknown rule 'fi_2015_two_stop'; known: "),
    ("custom_rule_unknown_key.yaml", "validate", 32, "rules.local_rule.bonus",
     "unknown key (did you mean 'bonuses'?)"),
    ("rule_steps_not_increasing.yaml", "validate", 36,
     "rules.local_rule.liability[0].municipality_share",
     "municipality_share steps must have strictly increasing from_day/from_week"),
    ("rule_name_not_text.yaml", "validate", 30, "rules.2025",
     "a rule name must be text; put it in quotes"),
    ("rule_currency_differs_from_benefits.yaml", "validate", 28, "funding.compare[1]",
     "rule 'local_rule' has amounts (bonuses) in DKK but the scenario's benefits are in EUR "
     "(benefits.currency)"),
    # ---- funding rules in a cases file: its `rules:` and an inline rule
    ("cases_share_above_one.yaml", "cases", 10,
     "rules.local_rule.liability[0].municipality_share[0].share",
     "Input should be less than or equal to 1 (got 1.5)"),
    ("cases_reset_window_too_short.yaml", "cases", 31,
     "cases[2].rule.liability[0].reset.within_days", "within_days must be at least days"),
    # ---- cases files
    ("cases_empty_history.yaml", "cases", 11, "cases[0].history", "must not be empty"),
    ("cases_period_two_lengths.yaml", "cases", 21, "cases[1].history[1]",
     "give exactly one of paid_days, days or weeks (got days, weeks)"),
    ("cases_paid_days_on_employed.yaml", "cases", 21, "cases[1].history[1].paid_days",
     "paid_days needs a state where benefit is paid"),
    ("cases_earnings_related_without_basic_part.yaml", "cases", 14, "cases[1]",
     "an earnings_related case needs basic_part"),
    ("cases_unknown_rule.yaml", "cases", 8, "cases[0].rule",
     "unknown rule 'fi_2015_twostep'; known: "),
    ("cases_unknown_key_near_miss.yaml", "cases", 17, "cases[1].daily_ammount",
     "unknown key (did you mean 'daily_amount'?)"),
    ("cases_top_level_list.yaml", "cases", 2, "(document)",
     "expected a mapping with a `cases:` list"),
    ("cases_empty_file.yaml", "cases", 1, "(document)", "the file is empty"),
    # ---- files that do not exist
    ("no_such_scenario.yaml", "validate", None, "(document)", "file not found"),
    ("no_such_cases.yaml", "cases", None, "(document)", "file not found"),
]


@pytest.fixture()
def in_bad_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the fixtures directory, so that messages name the file as the user typed it."""
    monkeypatch.chdir(BAD)
    return BAD


def test_every_bad_fixture_is_in_the_table() -> None:
    fixtures = {p.name for p in BAD.glob("*.yaml")}
    assert fixtures == {name for name, *_ in CASES if (BAD / name).exists()}
    assert not (BAD / "no_such_scenario.yaml").exists()
    assert not (BAD / "no_such_cases.yaml").exists()


@pytest.mark.parametrize(("command", "name"), [("validate", "scenario.yaml"),
                                               ("cases", "cases.yaml")])
def test_the_files_the_bad_fixtures_are_made_from_are_valid(
        in_bad_dir: Path, command: str, name: str) -> None:
    result = CliRunner().invoke(app, [command, f"valid/{name}"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("fixture", "command", "line", "field", "fragment"), CASES,
                         ids=[c[0].removesuffix(".yaml") for c in CASES])
def test_bad_input_is_reported_at_file_line_and_field_with_exit_code_2(
        in_bad_dir: Path, fixture: str, command: str, line: int | str | None, field: str,
        fragment: str) -> None:
    result = CliRunner().invoke(app, [command, fixture])

    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    where = f"{fixture}:{line}" if line is not None else fixture
    prefix = f"{where}: {field}: "
    reported = [ln for ln in result.stderr.splitlines() if ln.startswith(f"{fixture}:")]
    assert len(reported) == 1, f"expected exactly one problem, got:\n{result.stderr}"
    # one problem per line: a wrapped message would leave a line without the file prefix
    assert result.stderr.splitlines() == reported, result.stderr
    assert reported[0].startswith(prefix), result.stderr
    assert fragment in reported[0], result.stderr


def test_a_case_naming_an_invalid_custom_rule_is_not_also_reported_as_unknown(
        in_bad_dir: Path) -> None:
    # cases[1] uses local_rule, whose share is out of range: one problem, at the rule
    result = CliRunner().invoke(app, ["cases", "cases_share_above_one.yaml"])
    assert result.exit_code == 2
    assert "unknown rule" not in result.stderr


def test_problems_in_custom_rules_and_in_cases_are_reported_together(tmp_path: Path) -> None:
    text = (BAD / "valid" / "cases.yaml").read_text(encoding="utf-8")
    text = text.replace("extends: fi_2015_two_step", "extends: fi_2015_two_stop")
    text = text.replace("daily_amount: 68.0", "daily_amount: -68.0")
    bad = tmp_path / "two_problems.yaml"
    bad.write_text(text, encoding="utf-8")

    result = CliRunner().invoke(app, ["cases", str(bad)])

    assert result.exit_code == 2
    assert f"{bad}:4: rules.local_rule.extends: unknown rule 'fi_2015_two_stop'" in result.stderr
    assert f"{bad}:17: cases[1].daily_amount: Input should be greater than or equal to 0" \
        in result.stderr


def test_bad_input_gives_no_traceback_end_to_end() -> None:
    # a real process: the exit code and the streams are what a user's shell sees
    proc = subprocess.run(
        [sys.executable, "-m", "incentive_sim", "validate", "invalid_date.yaml"],
        cwd=BAD, capture_output=True, text=True, timeout=120, check=False)

    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith(
        "invalid_date.yaml:3: start_date: Input should be a valid date or datetime"), proc.stderr


def test_a_scenario_with_the_moved_maximum_is_told_where_it_went_end_to_end() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "incentive_sim", "validate",
         "max_paid_days_under_earnings_related.yaml"],
        cwd=BAD, capture_output=True, text=True, timeout=120, check=False)

    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == (
        "max_paid_days_under_earnings_related.yaml:6: "
        "benefits.daily.earnings_related.max_paid_days: max_paid_days has moved: give it as "
        "benefits.max_paid_days, where it applies to the basic allowance as well as the "
        "earnings-related allowance\n")
