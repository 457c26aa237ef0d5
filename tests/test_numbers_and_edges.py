"""Numbers are numbers, and what `validate` accepts `run` can run: zero capacities, nobody at
all, a one-day horizon, a municipality without a caseload and a rule without liability run to
a sensible result; what cannot run is refused by `validate` at its key."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incentive_sim.cli import app
from incentive_sim.experiments.run import run_scenario
from incentive_sim.report import plots
from incentive_sim.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
SMALL = (REPO / "tests/fixtures/small_run.yaml").read_text(encoding="utf-8").replace(
    "horizon_days: 365", "horizon_days: 45")
runner = CliRunner()


def variant(tmp_path: Path, *edits: tuple[str, str], base: str = SMALL) -> Path:
    text = base
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, fragment: str) -> int:
    text = path.read_text(encoding="utf-8")
    return text[:text.index(fragment)].count("\n") + 1


# ---------------------------------------------------------------- defect 9: numbers

@pytest.mark.parametrize(("old", "new", "field", "message"), [
    ("initial_stock: {Alpha: 150, Beta: 60}", "initial_stock: {Alpha: true, Beta: 60}",
     "population.initial_stock.Alpha", "must be a number, not true"),
    ("initial_stock: {Alpha: 150, Beta: 60}", 'initial_stock: {Alpha: 150, Beta: "60"}',
     "population.initial_stock.Beta",
     "must be a number, not text ('60'): write it without quotes"),
    ("seed: 7", "seed: false", "seed", "must be a number, not false"),
    ("inflow_per_year: {Alpha: 200, Beta: 80}", "inflow_per_year: {Alpha: '12', Beta: 80}",
     "population.inflow_per_year.Alpha", "must be a number, not text ('12')"),
    ("take_up: 0.9", "take_up: .nan", "policy.take_up", "NaN (.nan) is not a number here"),
    ("cost_per_day: 20.0", "cost_per_day: yes", "services.coaching.cost_per_day",
     "must be a number (got 'yes')"),
])
def test_a_boolean_or_text_where_a_number_belongs_is_refused(
        tmp_path: Path, old: str, new: str, field: str, message: str) -> None:
    path = variant(tmp_path, (old, new))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    line = line_of(path, new.split(":")[0] if "{" not in new else new)
    assert f"{path}:{line}" in result.stderr and f" {field}: {message}" in result.stderr, \
        result.stderr


@pytest.mark.parametrize("value", [".nan", "true", "'18000'", ".inf"])
def test_a_case_expectation_must_be_a_number(tmp_path: Path, value: str) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "cases:\n"
        "  - name: nan expected\n"
        "    rule: fi_2015_two_step\n"
        "    benefit: labour_market_subsidy\n"
        "    daily_amount: 37.21\n"
        "    history: [{state: unemployed, paid_days: 1200}]\n"
        f"    expect: {{municipality: {value}}}\n", encoding="utf-8")
    result = runner.invoke(app, ["cases", str(cases)])
    assert result.exit_code == 2, result.output
    assert f"{cases}:7" in result.stderr and "cases[0].expect.municipality: " in result.stderr


# ---------------------------------------------------------------- defect 8 and its kin

RUNNABLE = {
    "capacity 0, threshold": [("capacity: {Both: 15}", "capacity: {Both: 0}")],
    "capacity 0, fifo": [("capacity: {Both: 15}", "capacity: {Both: 0}"),
                         ("strategy: threshold", "strategy: fifo")],
    "capacity 0, incentive_aware": [("capacity: {Both: 15}", "capacity: {Both: 0}"),
                                    ("strategy: threshold", "strategy: incentive_aware")],
    "nobody": [("initial_stock: {Alpha: 150, Beta: 60}", "initial_stock: {Alpha: 0}"),
               ("inflow_per_year: {Alpha: 200, Beta: 80}", "inflow_per_year: {}")],
    "one-day horizon": [("horizon_days: 45", "horizon_days: 1")],
    "a municipality without caseload": [
        ("initial_stock: {Alpha: 150, Beta: 60}", "initial_stock: {Alpha: 150}"),
        ("inflow_per_year: {Alpha: 200, Beta: 80}", "inflow_per_year: {Alpha: 200}")],
    "a rule without liability": [("    extends: fi_2025_graduated\n",
                                  "    extends: fi_2025_graduated\n    liability: []\n")],
}


@pytest.mark.parametrize("name", list(RUNNABLE))
def test_what_validates_runs_to_a_result_without_warnings(tmp_path: Path, name: str) -> None:
    path = variant(tmp_path, *RUNNABLE[name])
    scenario = load_scenario(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = run_scenario(scenario, tmp_path / "out", replications=1)
    assert [str(w.message) for w in caught] == []
    assert json.loads((tmp_path / "out/summary.json").read_text(encoding="utf-8"))["rules"]
    for rule in summary["rules"].values():
        assert rule["totals"]["gross"] >= 0


def test_a_rule_without_liability_draws_its_staircase_without_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:   # defect 12
    path = variant(tmp_path, *RUNNABLE["a rule without liability"])
    scenario = load_scenario(path)
    drawn = tmp_path / "drawn.txt"      # a file: the plots may be drawn in a forked copy
    real = plots._staircase

    def strict(*args: object) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # any warning of matplotlib fails here
            real(*args)   # type: ignore[arg-type]
        with drawn.open("a", encoding="utf-8") as f:
            f.write("staircase\n")

    monkeypatch.setattr(plots, "_staircase", strict)
    run_scenario(scenario, tmp_path / "out", replications=1)
    assert drawn.read_text(encoding="utf-8").split() == ["staircase"]


def test_the_run_command_prints_no_python_warning(tmp_path: Path) -> None:
    path = variant(tmp_path, *RUNNABLE["a rule without liability"])
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out"),
                                 "--replications", "1"])
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr and result.stderr == ""


REFUSED = {
    "a horizon past the last date": ([("start_date: 2025-03-10", "start_date: 9999-12-01")],
                                     "horizon_days", "the horizon runs past 9999-12-31"),
    "no population to allocate by": (
        [("Alpha: {working_age_population: 30000}", "Alpha: {working_age_population: 0}"),
         ("Beta:  {working_age_population: 10000}", "Beta:  {working_age_population: 0}")],
        "funding.transfers.allocate_by", "every municipality has working_age_population 0"),
    "a rate per year given per day": ([("job_loss: {rate_per_day: 0.003}",
                                        "job_loss: {rate_per_day: 300}")],
                                      "transitions.job_loss.rate_per_day",
                                      "less than or equal to 1"),
    "reviews more often than daily": ([("review_every_days: 30", "review_every_days: 0.001")],
                                      "policy.review_every_days",
                                      "greater than or equal to 1"),
    "more people than can be simulated": ([("inflow_per_year: {Alpha: 200, Beta: 80}",
                                            "inflow_per_year: {Alpha: 900000000}")],
                                          "population", "at most 20,000,000 can be simulated"),
    "a horizon of millennia": ([("horizon_days: 45", "horizon_days: 400000")],
                               "horizon_days", "less than or equal to 73050"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_what_cannot_run_is_refused_by_validate(tmp_path: Path, name: str) -> None:
    edits, field, message = REFUSED[name]
    path = variant(tmp_path, *edits)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path}:" in result.stderr and f": {field}: " in result.stderr, result.stderr
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize(("start", "paid_days", "message"), [
    ("2024-12-02", "100000000", "with a start_date, a history may span at most 73,050 days"),
    ("9999-12-02", "400", "the history runs past 9999-12-31"),
])
def test_a_dated_case_that_would_never_end_is_refused(tmp_path: Path, start: str,
                                                      paid_days: str, message: str) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "cases:\n"
        "  - name: dated\n"
        "    rule: finland\n"
        f"    start_date: {start}\n"
        "    benefit: labour_market_subsidy\n"
        "    daily_amount: 37.21\n"
        f"    history: [{{state: unemployed, paid_days: {paid_days}}}]\n", encoding="utf-8")
    result = runner.invoke(app, ["cases", str(cases)])
    assert result.exit_code == 2, result.output
    assert f"{cases}:2: cases[0]: history: {message}" in result.stderr, result.stderr
