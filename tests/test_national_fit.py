"""The national scenario against Kela's 2025 bill, as a user runs it: `incentive-sim run
scenarios/finland_national_2025.yaml --replications 1` writes the bill and the yearly table
for all 292 municipalities, and the bill lies within the bounds the calibration promises
(docs/validation.md has every figure). One full-scale replication: about a minute."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from incentive_sim.accounting.ledger import Plan
from incentive_sim.accounting.outcomes import JOBSEEKER_STATES
from incentive_sim.calibration.fit import sampled
from incentive_sim.calibration.moments import measure
from incentive_sim.calibration.targets import load_targets
from incentive_sim.cli import app
from incentive_sim.data import finland_2025, kela_2025
from incentive_sim.scenario import load_scenario
from incentive_sim.scenario.schema import Scenario
from incentive_sim.scenario.vocabulary import STATE_CODE
from incentive_sim.simulation.engine import simulate

REPO = Path(__file__).resolve().parents[1]
NATIONAL = REPO / "scenarios" / "finland_national_2025.yaml"
SERVICE = STATE_CODE["service"]
TARGETS = REPO / "scenarios" / "targets" / "finland_2025.yaml"


@pytest.fixture(scope="module")
def national_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("national") / "run"
    result = CliRunner().invoke(app, ["run", str(NATIONAL), "--replications", "1",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def kela(benefit: str = "all", day_class: str = "all") -> float:
    return next(c.municipal_share_eur for c in kela_2025()
                if c.month == 0 and c.benefit == benefit and c.day_class == day_class)


def test_both_files_cover_the_292_municipalities(national_run: Path) -> None:
    codes = {m.code for m in finland_2025()}
    assert len(codes) == 292
    bill = rows_of(national_run / "municipal_share_monthly.csv")
    yearly = rows_of(national_run / "municipalities_yearly.csv")
    assert {r["municipality_code"] for r in bill} == codes
    assert {r["municipality_code"] for r in yearly} == codes
    assert {r["year"] for r in yearly} == {"2025", "2026", "2027", "2028"}


def test_the_2025_bill_is_kelas_within_the_promised_bounds(national_run: Path) -> None:
    rows = [r for r in rows_of(national_run / "municipal_share_monthly.csv")
            if r["month"].startswith("2025")]
    by: dict[tuple[str, str], float] = defaultdict(float)
    for r in rows:
        euros = float(r["municipal_share_eur"])
        by[("all", "all")] += euros
        by[(r["benefit"], "all")] += euros
        by[("all", r["day_class"])] += euros
        by[("month", r["month"])] += euros
    assert by[("all", "all")] == pytest.approx(kela(), rel=0.04)
    for benefit in ("labour_market_subsidy", "earnings_related", "basic_allowance"):
        assert by[(benefit, "all")] == pytest.approx(kela(benefit), rel=0.10), benefit
    for day_class in ("101-200", "201-300", "301-400", "401-700", "701-"):
        assert by[("all", day_class)] == pytest.approx(kela("all", day_class),
                                                       rel=0.15), day_class
    months = [f"2025-{m:02d}" for m in range(2, 10)]
    published = np.mean([c.municipal_share_eur for c in kela_2025()
                         if c.benefit == "all" and c.day_class == "all" and 2 <= c.month <= 9])
    model = np.mean([by[("month", m)] for m in months])
    assert model == pytest.approx(published, rel=0.05)
    # the yearly table's 2025 municipal share of the rule in force is the year's bills
    yearly = sum(float(r["municipal_share_eur"])
                 for r in rows_of(national_run / "municipalities_yearly.csv")
                 if r["rule"] == "fi_2025_graduated" and r["year"] == "2025")
    assert yearly == pytest.approx(by[("all", "all")], abs=0.01 * len(rows))


def test_recipients_during_2025_by_benefit_are_within_ten_percent() -> None:
    """Distinct people paid a subsidy or basic-allowance day during 2025, measured as the
    calibration measures them (on the targets' horizon, the scenario's seed)."""
    scenario = load_scenario(NATIONAL)
    spec = load_targets(TARGETS, scenario)
    wanted = [i for i, t in enumerate(spec.targets) if t.measure == "recipients"
              and t.basis is None and t.year == 2025]
    assert {spec.targets[i].benefit for i in wanted} == {"labour_market_subsidy",
                                                         "basic_allowance"}
    short = scenario.model_copy(update={"horizon_days": 400})
    sub = type(spec)(spec.file, spec.parameters, tuple(spec.targets[i] for i in wanted),
                     tuple(spec.windows[i] for i in wanted), spec.labels, 400)
    plan = Plan.of(short, [short.funding.in_force])
    figures = measure(sub, plan, simulate(short, 0, short.seed))
    for t, model in zip(sub.targets, figures, strict=True):
        assert model == pytest.approx(t.value, rel=0.10), t.name


def test_the_activation_rate_of_every_year_lies_in_tems_range(national_run: Path) -> None:
    """People in a service over jobseekers (unemployed, waiting and in a service), the mean
    of each year's months for the whole country: TEM's 26-31 % [docs/domain.md]."""
    by_year: dict[str, list[float]] = defaultdict(list)
    for r in rows_of(national_run / "indicators_monthly.csv"):
        if r["municipality"] == "ALL":
            by_year[r["month"][:4]].append(float(r["in_service"]) / float(r["jobseekers"]))
    assert set(by_year) == {"2025", "2026", "2027", "2028"}
    for year, rates in by_year.items():
        assert 0.26 <= float(np.mean(rates)) <= 0.31, (year, np.mean(rates))


def test_the_baseline_activation_lies_in_tems_range_under_every_rule() -> None:
    """The national services are the statutory baseline, offered in order of arrival whatever
    the rule: a 3 % sample simulated under each rule in force over a year activates 26-31 %
    of jobseekers (the rule only moves who is eligible, through the paid days it counts)."""
    data = load_scenario(NATIONAL).model_dump(mode="json", by_alias=True, exclude_unset=True)
    small = sampled({**data, "horizon_days": 400}, 0.03)
    days = np.arange(30.5, 400, 30.4)
    for rule in ("fi_2015_two_step", "fi_2025_graduated", "dk_2016_refusion"):
        s = Scenario.model_validate({**small, "funding": {**small["funding"], "in_force": rule}})
        spells = simulate(s, 0, s.seed).spells
        rates = []
        for day in days:
            on = (spells.start_day <= day) & (spells.end_day > day)
            seekers = np.count_nonzero(on & JOBSEEKER_STATES[spells.state])
            rates.append(np.count_nonzero(on & (spells.state == SERVICE)) / seekers)
        assert 0.26 <= float(np.mean(rates)) <= 0.31, (rule, rates)
