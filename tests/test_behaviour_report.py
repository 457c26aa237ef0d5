"""What the municipalities did, as `run` and `compare` show it: referrals.csv keeps its contract
columns and adds each cell's mean expected saving; the saving is derived from the rule in force
whatever the strategy; the places by year add up to the place-days; the report's activation
rate is indicators_monthly.csv's; and a behavioural comparison draws every rule's histories."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from incentive_sim.accounting.behaviour import Behaviour
from incentive_sim.accounting.ledger import Plan
from incentive_sim.accounting.outcomes import services_by_month, stock_by_month
from incentive_sim.experiments.compare import compare
from incentive_sim.experiments.run import run_scenario
from incentive_sim.scenario import load_scenario
from incentive_sim.scenario.schema import Scenario
from incentive_sim.simulation import engine
from incentive_sim.simulation.engine import SimulationResult, simulate

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "small_run.yaml"
CONTRACT = ["rule", "municipality", "service", "counter_at_referral", "count"]


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def in_force(s: Scenario, rule: str) -> Scenario:
    return s.model_copy(update={"funding": s.funding.model_copy(update={"in_force": rule})})


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, Path, SimulationResult]:
    """Replication 0 of the fixture, as `run` writes it and as the engine gives it."""
    s = load_scenario(FIXTURE)
    out = tmp_path_factory.mktemp("behaviour") / "run"
    run_scenario(s, out, replications=1)
    return s, out, simulate(s, 0)


def test_referrals_csv_keeps_the_contract_columns_and_adds_the_mean_saving(
        one_run: tuple[Scenario, Path, SimulationResult]) -> None:
    s, out, result = one_run
    table = rows(out / "referrals.csv")
    assert list(table[0])[:5] == CONTRACT and list(table[0])[5:] == ["mean_saving"]
    referred = result.referrals.arrays()
    assert sum(float(r["count"]) for r in table) == referred["counter"].size
    services = list(s.services)
    for r in table:
        low, high = r["counter_at_referral"].split("-")       # the last bin is open: "2000-"
        top = float(high) + 1 if high else np.inf
        cell = ((referred["counter"] >= float(low)) & (referred["counter"] < top)
                & (referred["municipality"] == list(s.municipalities).index(r["municipality"]))
                & (referred["service"] == services.index(r["service"])))
        assert cell.sum() == float(r["count"])
        assert float(r["mean_saving"]) == pytest.approx(referred["saving"][cell].mean(),
                                                        abs=0.006)


def test_the_saving_of_a_threshold_referral_follows_the_rule_in_force() -> None:
    """The fixture's municipalities refer by threshold, not by saving; still each referral's
    expected saving is priced under the rule in force: under the two-step rule it jumps
    where the municipality starts paying (paid day 300) and service days are exempt, under
    the graduated rule it barely moves."""
    s = load_scenario(FIXTURE)
    assert s.policy.strategy == "threshold"
    jump = {}
    for rule in ("fi_2015_two_step", "fi_2025_graduated"):
        referred = simulate(in_force(s, rule), 0).referrals.arrays()
        counter, saving = referred["counter"], referred["saving"]
        before = saving[(counter >= 160) & (counter < 260)]
        after = saving[(counter >= 300) & (counter < 400)]
        assert before.size >= 20 and after.size >= 20
        jump[rule] = after.mean() - before.mean()
    assert jump["fi_2015_two_step"] > 200.0
    assert jump["fi_2015_two_step"] > 5 * abs(jump["fi_2025_graduated"])


def test_the_places_of_each_year_add_up_to_the_place_days() -> None:
    s = load_scenario(FIXTURE)
    s = s.model_copy(update={
        "horizon_days": 1095,
        "policy": s.policy.model_copy(update={"strategy": "incentive_aware",
                                              "response_strength": 1.0})})
    result = simulate(s, 0)
    stats = result.services["coaching"]
    years = stats.places_by_year
    assert len(years) == 3 and years[0] == stats.capacity and years[-1] == stats.places_end
    assert len(set(years)) > 1, "the response should have changed the places"
    assert stats.place_days == pytest.approx(365.0 * sum(years))
    # services.png draws each month on the places of the 365 days from the start that the
    # month begins in (the horizon starts on 10 March 2025: 1 March 2026 is day 356, still
    # in the first year, 1 April 2026 day 387)
    plan = Plan.of(s)
    behaviour = Behaviour.of(result.referrals.arrays(),
                             stock_by_month(result.spells, plan.month_starts),
                             services_by_month(result.spells, plan.month_starts),
                             result.services, len(s.municipalities), result.horizon_days)
    doubled = behaviour + behaviour                       # per replication, whatever the count
    monthly = doubled.places_by_month(plan.month_starts)[:, 0]
    year = [int(d // 365) for d in plan.month_starts]
    assert year[12] == 0 and year[13] == 1 and set(year) == {0, 1, 2}
    assert list(monthly) == [years[y] for y in year]


def test_the_activation_rate_drawn_is_the_one_in_indicators_monthly(
        one_run: tuple[Scenario, Path, SimulationResult]) -> None:
    s, out, result = one_run
    plan = Plan.of(s)
    behaviour = Behaviour.of(result.referrals.arrays(),
                             stock_by_month(result.spells, plan.month_starts),
                             services_by_month(result.spells, plan.month_starts),
                             result.services, len(s.municipalities), result.horizon_days)
    written = [float(r["activation_rate"]) for r in rows(out / "indicators_monthly.csv")
               if r["municipality"] == "ALL"]
    assert np.round(behaviour.activation_rate(), 4) == pytest.approx(written)
    assert max(written) > 0.0


def captions(report: Path) -> list[str]:
    """The captions under the plots of a report."""
    text = report.read_text(encoding="utf-8")
    return [html.unescape(c) for c in re.findall(r"<figcaption[^>]*>([^<]*)<", text)]


@pytest.mark.parametrize("kind", ["run", "compare"])
def test_the_report_draws_referrals_and_behaviour_with_captions(
        one_run: tuple[Scenario, Path, SimulationResult], tmp_path: Path, kind: str) -> None:
    s, out, _ = one_run
    if kind == "compare":
        out = tmp_path / "compare"
        compare(s, ["fi_2015_two_step", "fi_2025_graduated"], out, behavioural=True,
                replications=1)
    assert {"referrals.png", "behaviour.png"} <= {p.name for p in (out / "plots").iterdir()}
    shown = captions(out / "report.html")
    assert any(c.startswith("Look at where each rule's bars step up") for c in shown)
    assert any(c.startswith("Look at how far apart the rules' colours run") for c in shown)


def test_a_behavioural_comparison_writes_each_rules_own_referrals(tmp_path: Path) -> None:
    s = load_scenario(FIXTURE)
    rules = ["fi_2015_two_step", "fi_2025_graduated"]
    compare(s, rules, tmp_path / "c", behavioural=True, replications=1)
    table = rows(tmp_path / "c" / "referrals.csv")
    assert sorted({r["rule"] for r in table}) == sorted(rules)
    for rule in rules:
        mine = [r for r in table if r["rule"] == rule]
        referred = simulate(in_force(s, rule), 0).referrals.arrays()
        assert sum(float(r["count"]) for r in mine) == referred["counter"].size


def test_an_incentive_aware_referral_records_the_saving_it_was_ranked_by(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The strategy hands its own figure on rather than working it out again: it must be
    the one the rule in force gives at the referral, as for every other strategy."""
    s = load_scenario(FIXTURE)
    s = s.model_copy(update={"policy": s.policy.model_copy(update={
        "strategy": "incentive_aware"})})
    handed: list[tuple[np.ndarray, np.ndarray]] = []
    refer = engine.Engine.refer

    def checked(self: engine.Engine, who: Any, counter: Any, svc: Any, pool_index: Any,
                muni: Any, t: Any, saving: Any = None) -> None:
        if saving is not None and who.size:
            gross, cost = self._referral_value(svc, who, counter,
                                               np.broadcast_to(np.asarray(t, float), who.shape))
            handed.append((saving, gross - cost))
        refer(self, who, counter, svc, pool_index, muni, t, saving)

    monkeypatch.setattr(engine.Engine, "refer", checked)
    recorded = engine.simulate(s, 0).referrals.arrays()["saving"]
    assert handed and sum(h[0].size for h in handed) == recorded.size
    for given, recomputed in handed:
        np.testing.assert_allclose(given, recomputed, rtol=1e-12, atol=1e-9)
