"""What a reader sees: the terminal fits 80 columns, an option's error names the option once,
partial months and years are labelled as partial, shares are percentages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incentive_sim import cli
from incentive_sim.report.tables import partial_period, percent, period_label
from incentive_sim.scenario.loading import Problem

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "small_run.yaml"
runner = CliRunner()


@pytest.mark.parametrize("command", [
    ["run", str(FIXTURE), "--municipality", "Alpha"],
    ["compare", str(FIXTURE), "--municipality", "Alpha"],
])
def test_run_and_compare_print_no_line_longer_than_80_columns(
        command: list[str], tmp_path: Path) -> None:
    out = tmp_path / ("a-rather-long-output-folder-name-" * 3)
    result = runner.invoke(cli.app, [*command, "--replications", "2", "--out", str(out)],
                           env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80, max(lines, key=len)
    assert "…" not in result.stdout                       # nothing cut off either
    assert "Alpha under fi_2025_graduated" in result.stdout
    assert str(out) in result.stdout.replace("\n", "")


def test_run_shows_every_net_with_the_parts_it_adds_up_from(tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["run", str(FIXTURE), "--replications", "1", "--out",
                                     str(tmp_path / "out")], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    heads = [line.split() for line in result.stdout.splitlines()
             if line.lstrip().startswith("rule ")]
    assert [" ".join(h) for h in heads] == [
        "rule gross benefits fund part state share benefit share",
        "rule benefit share services transfer bonuses net"]


def test_a_partial_first_and_last_year_are_marked_in_the_terminal(tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["run", str(FIXTURE), "--municipality", "Alpha",
                                     "--replications", "1", "--out", str(tmp_path / "out")],
                           env={"COLUMNS": "80"})
    text = " ".join(result.stdout.split())
    assert "2025*: partial year (from 10 Mar)" in text
    assert "2026*: partial year (to 9 Mar)" in text


@pytest.mark.parametrize(("arguments", "prefix"), [
    (["run", str(FIXTURE), "--municipality", "Atlantis"], "--municipality"),
    (["compare", str(FIXTURE), "--funding", "nope,fi_2015_two_step"], "--funding"),
    (["sweep", str(FIXTURE), "--set", "policy.take_up=1", "--resume", "--force"], "--force"),
    (["sweep", str(FIXTURE), "--set", "polcy.take_up=1"], "--set"),
])
def test_an_option_error_names_the_option_once(arguments: list[str], prefix: str,
                                               tmp_path: Path) -> None:
    result = runner.invoke(cli.app, [*arguments, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    line, = result.stderr.strip().splitlines()
    assert line.startswith(prefix) and line.count(prefix) == 1, line


def test_a_problem_of_an_option_is_located_once_and_one_of_a_file_by_file_and_line() -> None:
    assert str(Problem("--seed", None, "--seed", "bad")) == "--seed: bad"
    assert str(Problem("--set", None, "--set a.b", "bad")) == "--set a.b: bad"
    assert str(Problem("out", None, "--out", "full")) == "out: --out: full"
    assert str(Problem("s.yaml", 3, "horizon_days", "bad")) == "s.yaml:3: horizon_days: bad"


def test_a_month_or_year_the_horizon_covers_in_part_is_labelled_partial() -> None:
    start, end = dt.date(2025, 3, 10), dt.date(2026, 3, 9)
    assert period_label("2025", start, end) == "2025 (partial: from 10 Mar)"
    assert period_label("2026-03", start, end) == "2026-03 (partial: to 9 Mar)"
    assert period_label("2025-04", start, end) == "2025-04"
    assert partial_period("2025", dt.date(2025, 1, 1), dt.date(2025, 12, 31)) is None
    assert partial_period("2025-02", dt.date(2025, 2, 3), dt.date(2025, 2, 20)) == "3 Feb-20 Feb"


def test_a_share_is_printed_as_a_percentage() -> None:
    assert percent(0.1234) == "12.3 %"
    assert percent("0.5000") == "50.0 %"
    assert percent("") == ""
