"""`run`: the DESIGN output contract, reproducibility, atomic writing, the command line."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import incentive_sim.experiments.run as run_module
from incentive_sim.accounting.ledger import service_costs
from incentive_sim.cli import app
from incentive_sim.experiments.run import default_scenario, run_scenario
from incentive_sim.funding.counters import counters_for_rule
from incentive_sim.funding.pricing import price
from incentive_sim.funding.rules import CompiledRule
from incentive_sim.scenario import Scenario, load_scenario, scenario_rules
from incentive_sim.simulation.engine import simulate

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests/fixtures/small_run.yaml"
CONTRACT_FILES = ("summary.json", "costs_monthly.csv", "municipal_share_monthly.csv",
                  "municipalities_yearly.csv",
                  "stock_monthly.csv", "transitions.csv", "referrals.csv",
                  "indicators_monthly.csv", "scenario.resolved.yaml", "report.html")
PAYERS = ("state", "municipality", "fund", "gross")
SERVICE_KEYS = ("starts", "completions", "referrals", "declined", "left_queue",
                "mean_wait_days", "mean_queue_length", "utilisation")
runner = CliRunner()


@pytest.fixture(scope="module")
def small() -> Scenario:
    return load_scenario(FIXTURE)


@pytest.fixture(scope="module")
def first_run(small: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "first"
    run_scenario(small, out, write_spells=True)
    return out


def summary_of(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return data


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_run_writes_every_contract_file(first_run: Path) -> None:
    for name in (*CONTRACT_FILES, "spells.csv.gz", "explain/index.json"):
        assert (first_run / name).is_file(), name
    assert not [p for p in first_run.iterdir() if p.name.startswith(".partial")]
    headers = {"costs_monthly.csv": ["rule", "month", "municipality", "payer", "item", "amount"],
               "stock_monthly.csv": ["month", "municipality", "group", "state", "count"],
               "transitions.csv": ["from_state", "to_state", "service", "provider", "count"]}
    for name, header in headers.items():
        with (first_run / name).open(encoding="utf-8") as f:
            assert next(csv.reader(f)) == header, name


def test_summary_has_the_contract_key_paths(first_run: Path, small: Scenario) -> None:
    summary = summary_of(first_run)
    assert list(summary["rules"]) == small.rule_names()
    for rule, entry in summary["rules"].items():
        for payer in PAYERS:
            assert isinstance(entry["totals"][payer], float), (rule, payer)
            assert entry["totals_sd"][payer] >= 0
            assert set(entry["by_item"][payer]) == {"benefit", "service", "bonus", "transfer"}
        assert set(entry["by_municipality"]) == set(small.municipalities)
        for municipality in small.municipalities:
            assert set(entry["by_municipality"][municipality]) == set(PAYERS)
    assert set(summary["rules"][small.funding.in_force]["transfers"]) == set(
        small.municipalities)
    for service in small.services:
        assert set(summary["services"][service]) >= set(SERVICE_KEYS)
    outcomes = summary["outcomes"]
    for key in ("exits_to_employment", "exits_to_education", "exits_to_inactivity",
                "mean_spell_days", "long_term_unemployed_end", "unemployed_start",
                "long_term_unemployed_start"):
        assert key in outcomes
    assert outcomes["unemployed_start"] == sum(small.population.initial_stock.values())
    histogram = summary["referrals"]["counter_histogram"]
    assert histogram["bin_edges"] == [50.0 * i for i in range(31)]
    assert len(histogram["counts"]) == 30
    assert summary["referrals"]["count"] == pytest.approx(
        sum(histogram["counts"]) + histogram["above_last_edge"])
    assert summary["currency"] == small.benefits.currency
    provenance = summary["provenance"]
    for key in ("package_version", "seed", "replications", "scenario", "scenario_sha256",
                "command", "wall_time_s", "python", "numpy"):
        assert key in provenance
    assert provenance["seed"] == small.seed
    assert provenance["replications"] == small.replications
    assert len(provenance["scenario_sha256"]) == 64


def test_summary_totals_are_means_over_replications(first_run: Path, small: Scenario) -> None:
    rules = scenario_rules(small)
    # the plain pricing of each replication, plus the rule's own cost-neutral transfer: the
    # sector's municipal cost under the rule minus under the transfer's base (every priced
    # rule gets its transfer, not the rule in force only)
    rule, base = "fi_2015_two_step", small.funding.transfers.base  # type: ignore[union-attr]
    compiled = CompiledRule.compile(rule, rules[rule])
    compiled_base = CompiledRule.compile(base, rules[base])
    totals = []
    for r in range(small.replications):
        spells = simulate(small, r).spells
        costs = service_costs(small, spells.services)
        got = price(spells, compiled, costs).payer_totals()
        transfer = got["municipality"] - price(spells, compiled_base, costs).payer_totals()[
            "municipality"]
        got["state"] += transfer
        got["municipality"] -= transfer
        totals.append(got)
    summary = summary_of(first_run)["rules"][rule]
    for payer in PAYERS:
        values = np.array([t[payer] for t in totals])
        assert summary["totals"][payer] == pytest.approx(values.mean(), abs=0.006)
        assert summary["totals_sd"][payer] == pytest.approx(values.std(ddof=1), abs=0.006)


def test_monthly_costs_add_up_to_the_summary_totals(first_run: Path) -> None:
    summary = summary_of(first_run)
    costs = rows(first_run / "costs_monthly.csv")
    assert all(float(r["amount"]) != 0.0 for r in costs)
    for rule, entry in summary["rules"].items():
        mine = [r for r in costs if r["rule"] == rule]
        for payer in ("state", "municipality", "fund"):
            lines = [float(r["amount"]) for r in mine if r["payer"] == payer]
            # each line is rounded to the cent
            assert sum(lines) == pytest.approx(entry["totals"][payer],
                                               abs=0.005 * len(lines) + 0.01)
        for municipality, payers in entry["by_municipality"].items():
            lines = [float(r["amount"]) for r in mine if r["municipality"] == municipality]
            assert sum(lines) == pytest.approx(payers["gross"], abs=0.005 * len(lines) + 0.01)


def test_stock_at_the_first_month_is_the_initial_caseload(first_run: Path,
                                                          small: Scenario) -> None:
    stock = rows(first_run / "stock_monthly.csv")
    first = [r for r in stock if r["month"] == "2025-03"]
    seekers = {"unemployed", "waiting", "service"}
    for municipality, n in small.population.initial_stock.items():
        got = sum(float(r["count"]) for r in first
                  if r["municipality"] == municipality and r["state"] in seekers)
        assert got == n


def test_transitions_name_the_service_and_provider_of_service_segments(
        first_run: Path) -> None:
    for r in rows(first_run / "transitions.csv"):
        if r["from_state"] in ("service", "waiting") and r["service"]:
            assert r["provider"] == "private"
        if r["from_state"] not in ("service", "waiting"):
            assert r["service"] == "" and r["provider"] == ""
        assert float(r["count"]) > 0


def test_spells_csv_holds_replication_0_with_the_in_force_counter(first_run: Path,
                                                                  small: Scenario) -> None:
    with gzip.open(first_run / "spells.csv.gz", "rt", encoding="utf-8", newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["person_id", "municipality", "group", "state", "service",
                              "benefit", "start_day", "end_day", "censored",
                              "counter_at_start", "daily_amount"]
    spells = simulate(small, 0).spells
    assert len(table) == len(spells)
    assert {r["municipality"] for r in table} <= set(small.municipalities)
    assert {r["service"] for r in table} <= {"", *small.services}
    order = spells.person_order()
    counter = spells.counter_at_start.get(small.funding.in_force)
    if counter is None:
        rule = scenario_rules(small)[small.funding.in_force]
        counter = counters_for_rule(spells, CompiledRule.compile("x", rule))
    np.testing.assert_allclose([float(r["counter_at_start"]) for r in table], counter[order],
                               atol=5e-5)
    assert sum(r["censored"] == "1" for r in table) == int(spells.censored.sum())


def test_the_resolved_scenario_loads_back_equal(first_run: Path, small: Scenario) -> None:
    assert load_scenario(first_run / "scenario.resolved.yaml") == small


def test_run_draws_its_plots(first_run: Path) -> None:
    plots = sorted(p.name for p in (first_run / "plots").iterdir())
    assert plots == ["behaviour.png", "costs_monthly.png", "referrals.png", "services.png",
                     "staircase.png", "stock_by_duration.png", "transitions.png"]
    for name in plots:
        data = (first_run / "plots" / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, name


def test_the_same_seed_gives_byte_identical_outputs(first_run: Path, small: Scenario,
                                                    tmp_path: Path) -> None:
    again = tmp_path / "again"
    run_scenario(small, again, write_spells=True)
    for name in (*CONTRACT_FILES[1:], "spells.csv.gz",
                 *(f"{folder}/{p.name}" for folder in ("plots", "explain")
                   for p in (first_run / folder).iterdir())):
        assert (again / name).read_bytes() == (first_run / name).read_bytes(), name
    a, b = summary_of(first_run), summary_of(again)
    for s in (a, b):
        del s["provenance"]["wall_time_s"]
    assert a == b
    assert json.dumps(a, indent=2) == json.dumps(b, indent=2)


def test_a_different_seed_gives_different_costs(first_run: Path, small: Scenario,
                                                tmp_path: Path) -> None:
    other = run_scenario(small, tmp_path / "other", seed=small.seed + 1)
    rule = small.funding.in_force
    assert other["rules"][rule]["totals"] != summary_of(first_run)["rules"][rule]["totals"]
    assert ((tmp_path / "other/costs_monthly.csv").read_bytes()
            != (first_run / "costs_monthly.csv").read_bytes())


def test_a_failing_run_leaves_no_half_written_output(small: Scenario, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    real = run_module.simulate

    def failing(s: Scenario, replication: int = 0, seed: int | None = None,
                **options: Any) -> Any:
        if replication == 1:
            raise RuntimeError("engine failure")
        return real(s, replication, seed, **options)

    monkeypatch.setattr(run_module, "simulate", failing)
    fresh = tmp_path / "fresh" / "out"
    with pytest.raises(RuntimeError, match="engine failure"):
        run_scenario(small, fresh, write_spells=True)
    assert not fresh.exists()
    # over an earlier complete run: the earlier files stay as they were, nothing is added
    monkeypatch.setattr(run_module, "simulate", real)
    earlier = tmp_path / "earlier"
    run_scenario(small, earlier, replications=1)
    before = {p: p.read_bytes() for p in earlier.rglob("*") if p.is_file()}
    monkeypatch.setattr(run_module, "simulate", failing)
    with pytest.raises(RuntimeError):
        run_scenario(small, earlier, write_spells=True)
    assert {p: p.read_bytes() for p in earlier.rglob("*") if p.is_file()} == before


def test_no_progress_bar_off_a_terminal(small: Scenario, tmp_path: Path,
                                        capfd: pytest.CaptureFixture[str]) -> None:
    run_scenario(small, tmp_path / "quiet", replications=1, progress=True)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_an_unwritable_output_folder_is_bad_input(small: Scenario, tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["run", str(FIXTURE), "--out", str(blocker / "out")])
    assert result.exit_code == 2
    assert "--out" in result.stderr and "Traceback" not in result.stderr


def test_cli_run_of_a_bad_scenario_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(FIXTURE.read_text(encoding="utf-8").replace("horizon_days: 365",
                                                               "horizon_days: -1"))
    result = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "horizon_days" in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_run_prints_the_totals_and_where_the_outputs_are(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = runner.invoke(app, ["run", str(FIXTURE), "--out", str(out), "--seed", "3",
                                 "--replications", "1", "--spells"])
    assert result.exit_code == 0, result.stderr
    assert "fi_2025_graduated" in result.stdout and "net municipal cost" in result.stdout
    assert "millions EUR" in " ".join(result.stdout.split())  # the headline names the currency
    assert str(out) in result.stdout.replace("\n", "")
    provenance = summary_of(out)["provenance"]
    assert provenance["seed"] == 3 and provenance["replications"] == 1
    assert provenance["command"] == ["incentive-sim", "run", str(FIXTURE), "--out", str(out),
                                     "--seed", "3", "--replications", "1", "--spells"]
    assert (out / "spells.csv.gz").is_file()
    assert "This run: seed 3, 1 replications" in (out / "scenario.resolved.yaml").read_text()


def test_cli_run_without_a_scenario_runs_the_shipped_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", "--replications", "1"])
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "runs" / "default"           # --out defaults to runs/<file stem>
    summary = summary_of(out)
    assert summary["provenance"]["scenario"] == "Tampere region 2025"
    assert set(summary["rules"]) == {"fi_2025_graduated", "fi_2015_two_step",
                                     "dk_2016_refusion"}
    for name in CONTRACT_FILES:
        assert (out / name).is_file()


def test_the_shipped_default_is_the_tampere_scenario_with_five_replications() -> None:
    with default_scenario() as path:
        assert path.name == "default.yaml"
        default = load_scenario(path)
    tampere = load_scenario(REPO / "scenarios/tampere_region_2025.yaml")
    assert default.replications == 5
    assert default == tampere.model_copy(update={"replications": 5})
    assert 19_000 <= sum(default.population.initial_stock.values()) <= 21_000


def test_money_in_the_summary_is_rounded_to_cents(first_run: Path) -> None:
    text = (first_run / "summary.json").read_text(encoding="utf-8")
    for entry in json.loads(text)["rules"].values():
        for value in entry["totals"].values():
            assert round(value, 2) == value
    assert "-0.0," not in text and "-0.0\n" not in text


def test_a_run_without_spells_removes_the_spells_file_of_an_earlier_run(
        small: Scenario, tmp_path: Path) -> None:
    out = tmp_path / "reused"
    run_scenario(small, out, replications=1, write_spells=True)
    assert (out / "spells.csv.gz").is_file()
    run_scenario(small, out, replications=1, seed=small.seed + 5)
    assert not (out / "spells.csv.gz").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted([*CONTRACT_FILES, "plots",
                                                           "explain", "manifest.json"])
