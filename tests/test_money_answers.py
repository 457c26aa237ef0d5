"""Answers a finance director can use: run and compare give the same euros for the same rule,
transfers are a choice with one meaning, the money words add up, and one municipality's money
by year fits a terminal."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from incentive_sim import cli
from incentive_sim.accounting.money import YEARLY_COLUMNS, YEARLY_MEASURES, yearly_columns
from incentive_sim.experiments.compare import compare
from incentive_sim.experiments.run import run_scenario
from incentive_sim.scenario import Scenario, load_scenario

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "small_run.yaml"
TAMPERE = REPO / "scenarios" / "tampere_region_2025.yaml"
runner = CliRunner()


@pytest.fixture(scope="module")
def small() -> Scenario:
    return load_scenario(FIXTURE).model_copy(update={"replications": 2})


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def json_of(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("transfers", [True, False], ids=["transfers-on", "transfers-off"])
def test_run_and_compare_give_the_same_euros_per_rule_payer_and_municipality(
        small: Scenario, tmp_path: Path, transfers: bool) -> None:
    run_scenario(small, tmp_path / "run", transfers=transfers)
    compare(small, None, tmp_path / "compare", transfers=transfers)   # the scenario's rules
    # the yearly table: the same bytes in every base column
    ran = rows_of(tmp_path / "run" / "municipalities_yearly.csv")
    compared = rows_of(tmp_path / "compare" / "municipalities_yearly.csv")
    assert len(ran) == len(compared) > 0
    for a, b in zip(ran, compared, strict=True):
        assert {k: a[k] for k in YEARLY_COLUMNS} == {k: b[k] for k in YEARLY_COLUMNS}
    # the totals per rule, payer and municipality
    summary = json_of(tmp_path / "run" / "summary.json")
    table = {(r["rule"], r["municipality"], r["payer"], r["item"]): float(r["mean"])
             for r in rows_of(tmp_path / "compare" / "comparison.csv")}
    for rule, entry in summary["rules"].items():
        for muni, payers in entry["by_municipality"].items():
            for payer, euros in payers.items():
                assert table[(rule, muni, payer, "total")] == pytest.approx(euros, abs=0.011)
        transfer = entry["by_item"]["municipality"]["transfer"]
        assert table[(rule, "ALL", "municipality", "transfer")] == pytest.approx(
            transfer, abs=0.011)
        assert (transfer != 0.0) == (transfers and rule != small.funding.transfers.base)  # type: ignore[union-attr]
    assert json_of(tmp_path / "compare" / "comparison.json")["transfers"] == (
        "on" if transfers else "off")


def test_without_transfers_the_two_step_and_graduated_rules_differ(
        small: Scenario, tmp_path: Path) -> None:
    rules = ["fi_2015_two_step", "fi_2025_graduated"]
    on = compare(small, rules, tmp_path / "on")
    off = compare(small, rules, tmp_path / "off", transfers=False)
    graduated_on, graduated_off = on["rules"]["fi_2025_graduated"], off["rules"][
        "fi_2025_graduated"]
    # with the scenario's cost-neutral transfer (against fi_2006_one_step) the sector's net
    # cost is the same under both rules; without, each rule's own cost shows
    assert graduated_on["net"]["diff_mean"] == pytest.approx(0.0, abs=0.02)
    assert abs(graduated_off["net"]["diff_mean"]) > 1000
    assert graduated_off["net"]["diff_mean"] == graduated_off["municipal_share"]["diff_mean"]
    assert graduated_off["transfer"]["mean"] == 0.0
    # the difference before transfers does not depend on the setting
    assert graduated_off["net_before_transfer"]["diff_mean"] == pytest.approx(
        graduated_on["net_before_transfer"]["diff_mean"], abs=0.01)
    yearly = [r for r in rows_of(tmp_path / "off" / "municipalities_yearly.csv")
              if r["rule"] == "fi_2025_graduated"]
    assert any(float(r["net_eur_diff"]) != 0 for r in yearly)
    assert all(float(r["transfer_eur"]) == 0 for r in yearly)


def test_compares_yearly_table_has_intervals_and_paired_differences(
        small: Scenario, tmp_path: Path) -> None:
    compare(small, ["fi_2025_graduated", "fi_2015_two_step"], tmp_path)
    rows = rows_of(tmp_path / "municipalities_yearly.csv")
    assert tuple(rows[0]) == yearly_columns(with_intervals=True)
    for r in rows:
        for m in YEARLY_MEASURES:
            mean, low, high = (float(r[f"{m}{s}"]) for s in ("", "_ci_low", "_ci_high"))
            assert low <= mean + 0.006 and mean <= high + 0.006, (m, r)
            if r["rule"] == "fi_2025_graduated":     # the baseline, against itself
                assert float(r[f"{m}_diff"]) == 0.0
        net = (float(r["municipal_share_eur"]) + float(r["municipal_services_eur"])
               - float(r["transfer_eur"]) - float(r["bonus_eur"]))
        assert float(r["net_eur"]) == pytest.approx(net, abs=0.02)


def test_every_net_adds_up_from_its_parts_in_the_summary(small: Scenario, tmp_path: Path) -> None:
    summary = run_scenario(small, tmp_path)
    for rule, entry in summary["rules"].items():
        m = entry["money"]
        assert m["gross_benefits"] == pytest.approx(
            m["fund"] + m["state_share"] + m["municipal_share"], abs=0.02), rule
        assert m["net"] == pytest.approx(m["municipal_share"] + m["municipal_services"]
                                         - m["transfer"] - m["bonus"], abs=0.02), rule
        # the state's share is of benefits only; the totals keep their contract meaning
        assert m["state_share"] == entry["by_item"]["state"]["benefit"]
        assert m["net"] == pytest.approx(entry["totals"]["municipality"], abs=0.01)
        assert m["state_net"] == pytest.approx(entry["totals"]["state"], abs=0.01)
        assert m["gross_outlay"] == pytest.approx(entry["totals"]["gross"], abs=0.01)
        for muni, by in entry["money_by_municipality"].items():
            assert by["net"] == pytest.approx(entry["by_municipality"][muni]["municipality"],
                                              abs=0.01)


@pytest.fixture()
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line on a terminal 80 columns wide."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(cli, "out", Console(width=80, emoji=False))


@pytest.mark.usefixtures("narrow")
def test_compare_prints_a_municipality_by_year_with_intervals_in_80_columns(
        tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["compare", str(TAMPERE), "--municipality", "Tampere",
                                     "--replications", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "Tampere under" in line)
    table = [line for line in lines[start:] if not line.startswith("Outputs in")]
    assert all(len(line) <= 80 for line in table), max(table, key=len)
    for year in ("2025", "2026", "2027", "2028"):
        assert any(line.lstrip().startswith(year) for line in table), year
    assert "±" in result.stdout and "diff" in result.stdout
    for rule in ("fi_2025_graduated", "fi_2015_two_step", "dk_2016_refusion"):
        assert f"under {rule}" in result.stdout


@pytest.mark.usefixtures("narrow")
def test_run_prints_a_municipality_by_year(tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["run", str(FIXTURE), "--municipality", "beta",
                                     "--replications", "1", "--transfers", "off", "--out",
                                     str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Beta under fi_2025_graduated" in result.stdout
    summary = json_of(tmp_path / "summary.json")
    assert summary["provenance"]["transfers"] == "off"
    assert all(e["money"]["transfer"] == 0.0 for e in summary["rules"].values())


@pytest.mark.parametrize("command", ["run", "compare"])
def test_an_unknown_municipality_is_bad_input_with_suggestions(
        command: str, tmp_path: Path) -> None:
    result = runner.invoke(cli.app, [command, str(TAMPERE), "--municipality", "Tampre",
                                     "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "--municipality: no municipality 'Tampre' in the scenario (a name or "
        "a three-digit code); did you mean 'Tampere'?"]
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_transfers_takes_on_or_off_only(tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["run", str(FIXTURE), "--transfers", "maybe", "--out",
                                     str(tmp_path / "out")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
