"""compare: the three invariants of a paired comparison, in static and behavioural mode."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incentive_sim.cli import app
from incentive_sim.experiments.compare import compare
from incentive_sim.scenario import InputError, Scenario, load_scenario

REPO = Path(__file__).resolve().parents[1]
RULES = ("fi_2015_two_step", "fi_2025_graduated", "dk_2016_refusion")
STATS = ("mean", "ci_low", "ci_high")
DIFFS = ("diff_mean", "diff_ci_low", "diff_ci_high")


@pytest.fixture(scope="module")
def small() -> Scenario:
    s = load_scenario(REPO / "tests/fixtures/small_run.yaml")
    return s.model_copy(update={"replications": 3})


def table(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def keyed(rows: list[dict[str, str]], *key: str) -> dict[tuple[str, ...], dict[str, str]]:
    return {tuple(r[k] for k in key): r for r in rows}


@pytest.mark.parametrize("behavioural", [False, True], ids=["static", "behavioural"])
def test_a_rule_compared_with_itself_differs_by_exactly_zero(
        small: Scenario, tmp_path: Path, behavioural: bool) -> None:
    compare(small, ["fi_2025_graduated", "fi_2025_graduated"], tmp_path,
            behavioural=behavioural)
    for name in ("comparison.csv", "outcomes.csv"):
        rows = table(tmp_path / name)
        assert rows
        for row in rows:
            assert all(row[d] == "0.00" for d in DIFFS), row
    means = [r["mean"] for r in table(tmp_path / "comparison.csv")]
    assert any(m != "0.00" for m in means)          # not an empty comparison


def test_static_gross_is_the_same_to_the_cent_and_payer_differences_cancel(
        small: Scenario, tmp_path: Path) -> None:
    compare(small, RULES, tmp_path)
    rows = keyed(table(tmp_path / "comparison.csv"), "rule", "municipality", "payer", "item")
    munis = ("ALL", *small.municipalities)
    for m in munis:
        gross = {rows[(r, m, "gross", "total")]["mean"] for r in RULES}
        assert len(gross) == 1, (m, gross)
        for r in RULES:
            assert rows[(r, m, "gross", "total")]["diff_mean"] == "0.00"
    for r in RULES[1:]:
        for m in munis:
            for item in ("benefit", "total"):
                diffs = [float(rows[(r, m, p, item)]["diff_mean"])
                         for p in ("state", "municipality", "fund")]
                assert abs(sum(diffs)) <= 0.02, (r, m, item)   # the payers' differences cancel
        benefit = float(rows[(r, "ALL", "municipality", "benefit")]["diff_mean"])
        assert abs(benefit) > 1000                              # and the rules do differ


@pytest.mark.parametrize("behavioural", [False, True], ids=["static", "behavioural"])
def test_the_order_of_the_rules_changes_only_the_differences(
        small: Scenario, tmp_path: Path, behavioural: bool) -> None:
    compare(small, RULES, tmp_path / "a", behavioural=behavioural)
    compare(small, RULES[::-1], tmp_path / "b", behavioural=behavioural)
    for name, key in (("comparison.csv", ("rule", "municipality", "payer", "item")),
                      ("outcomes.csv", ("rule", "municipality", "outcome"))):
        a = keyed(table(tmp_path / "a" / name), *key)
        b = keyed(table(tmp_path / "b" / name), *key)
        assert a.keys() == b.keys()
        for k in a:
            assert [a[k][s] for s in STATS] == [b[k][s] for s in STATS], k


def test_winners_and_losers_include_the_cost_neutral_transfer(tmp_path: Path) -> None:
    # two of the scenario's four years: the cost-neutral transfer is the difference of the
    # liabilities over the horizon, whatever its length
    s = load_scenario(REPO / "scenarios/tampere_region_2025.yaml").model_copy(
        update={"horizon_days": 730})
    compare(s, ["fi_2015_two_step", "fi_2025_graduated"], tmp_path, replications=2)
    rows = keyed(table(tmp_path / "winners_losers.csv"), "municipality")
    # cost neutral against the two-step rule: the sector as a whole neither gains nor loses,
    # so what one municipality gains the other loses
    assert abs(float(rows[("ALL",)]["diff_mean"])) <= 0.02
    tampere, nokia = float(rows[("Tampere",)]["diff_mean"]), float(rows[("Nokia",)]["diff_mean"])
    assert tampere != 0 and tampere == pytest.approx(-nokia, abs=0.02)
    headline = json.loads((tmp_path / "comparison.json").read_text(encoding="utf-8"))
    before = headline["rules"]["fi_2025_graduated"]["net_before_transfer"]["diff_mean"]
    assert before > 0                                # before transfers, graduated costs more
    assert headline["rules"]["fi_2015_two_step"]["transfer"]["mean"] == 0.0   # the base


def test_unknown_rules_are_bad_input(small: Scenario, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown rule 'no_such_rule'"):
        compare(small, ["fi_2025_graduated", "no_such_rule"], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(app, ["compare", str(REPO / "tests/fixtures/small_run.yaml"),
                                      "--funding", "nope", "--out", str(tmp_path / "cli")])
    assert result.exit_code == 2
    assert "--funding: unknown rule 'nope'" in result.output


def test_the_command_prints_the_headline(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [
        "compare", str(REPO / "tests/fixtures/small_run.yaml"), "--funding",
        "fi_2015_two_step,fi_2025_graduated", "--replications", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "static comparison" in result.output and "net before transfer" in result.output
    for name in ("comparison.csv", "outcomes.csv", "winners_losers.csv", "comparison.json",
                 "municipalities_yearly.csv", "scenario.resolved.yaml"):
        assert (tmp_path / name).is_file(), name
    picture = (tmp_path / "plots" / "comparison_by_municipality.png").read_bytes()
    assert picture.startswith(b"\x89PNG") and len(picture) > 10_000
