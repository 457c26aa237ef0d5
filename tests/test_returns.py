"""People who come back: former jobseekers in work at the start (`population.initial_employed`)
lose the job by the job-loss hazard of their time in work and return as the same person, with
their counters, entitlement and the work that may have reset them.

Tolerances are four standard errors at the simulated sample sizes (seeds fixed)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from incentive_sim.funding.counters import counters_for_rule
from incentive_sim.funding.rules import compile_rule
from incentive_sim.scenario.rules import catalogue
from incentive_sim.scenario.schema import Scenario
from incentive_sim.scenario.vocabulary import BENEFIT_CODE, STATE_CODE
from incentive_sim.simulation.engine import population, simulate
from incentive_sim.simulation.lifecourse import LifeCourses

Z = 4.0
BA, LMS = BENEFIT_CODE["basic_allowance"], BENEFIT_CODE["labour_market_subsidy"]
UNEMPLOYED, EMPLOYED = STATE_CODE["unemployed"], STATE_CODE["employed"]


def scenario(worked: float, prior: float, benefit: str = "labour_market_subsidy",
             **over: Any) -> Scenario:
    """20,000 people in work at the start for `worked` days with counters `prior`; job loss
    1 % a day in the first year of a job and 0.1 % after; nobody finds work again."""
    data: dict[str, Any] = {
        "name": "returns", "horizon_days": 100, "seed": 3,
        "municipalities": {"A": {"working_age_population": 1000}},
        "groups": {"all": {"share": 1.0, "benefit_mix": {benefit: 1.0}}},
        "population": {"initial_stock": {"A": 0}, "inflow_per_year": {"A": 0},
                       "initial_employed": {"A": 20000},
                       "initial_employed_days": {"dist": "fixed", "value": worked},
                       "initial_employed_paid_days": {"dist": "fixed", "value": prior}},
        "transitions": {"employment": {"rate_per_day": 0.0},
                        "job_loss": {"bands_days": [0, 365], "rate_per_day": [0.01, 0.001]}},
        "funding": {"in_force": "fi_2015_two_step", "compare": ["fi_2025_graduated"]},
    }
    data.update(over)
    return Scenario.model_validate(data)


def returns(s: Scenario) -> tuple[Any, Any]:
    people = population(s, s.seed, 0)
    spells = LifeCourses(s, people, s.seed, 0).finish()
    back = spells.state == UNEMPLOYED
    return spells, back


def test_the_job_loss_hazard_runs_on_from_the_time_already_in_work() -> None:
    """In work 400 days at the start: the hazard of a job over a year old, 0.1 % a day, so
    1 - e^-0.1 = 9.5 % lose it within 100 days (from day 0 of the job it would be 63 %)."""
    spells, back = returns(scenario(worked=400, prior=0))
    lost = np.unique(spells.person_id[back]).size / 20000
    p = 1 - math.exp(-0.1)
    assert abs(lost - p) < Z * math.sqrt(p * (1 - p) / 20000)
    first = spells.state == EMPLOYED
    assert np.all(spells.start_day[first & (spells.start_day < 0)] == -400)


def test_a_young_job_ends_at_its_own_rate() -> None:
    """In work 300 days: 65 days at 1 % then 35 at 0.1 %: 1 - e^-(0.65 + 0.035)."""
    spells, back = returns(scenario(worked=300, prior=0))
    lost = np.unique(spells.person_id[back]).size / 20000
    p = 1 - math.exp(-(0.65 + 0.035))
    assert abs(lost - p) < Z * math.sqrt(p * (1 - p) / 20000)


def test_returners_bring_their_counters_and_the_work_before_the_start_can_reset_them() -> None:
    """Counters 500 when they left, back within 50 days: after 100-150 days in work the
    two-step counter is still 500 (its reset needs 182 days of work) and so is the graduated
    one (365 days); after 200-250 days the two-step counter has restarted at 0 and the
    graduated one has not."""
    rules = catalogue()
    two_step = compile_rule("fi_2015_two_step", rules)
    graduated = compile_rule("fi_2025_graduated", rules)
    for worked, want_two_step in ((100, 500.0), (200, 0.0)):
        spells, back = returns(scenario(worked=worked, prior=500, horizon_days=50))
        assert back.any()
        np.testing.assert_allclose(counters_for_rule(spells, two_step)[back], want_two_step)
        np.testing.assert_allclose(counters_for_rule(spells, graduated)[back], 500.0)


def test_an_allowance_comes_back_with_what_is_left_of_it_or_renewed_by_a_long_job() -> None:
    """Basic allowance, maximum 400, 300 used: back after a job of under a year, 100 paid
    days of it are left, then the subsidy; after 400 days of work, a whole new 400."""
    short = scenario(worked=100, prior=300, benefit="basic_allowance", horizon_days=400,
                     benefits={"max_paid_days": 400})
    spells, back = returns(short)
    paid_ba = np.bincount(spells.person_id[back & (spells.benefit == BA)],
                          weights=spells.paid_days[back & (spells.benefit == BA)])
    on_lms = np.unique(spells.person_id[back & (spells.benefit == LMS)])
    assert on_lms.size > 0
    np.testing.assert_allclose(paid_ba[on_lms], 100.0)
    long = scenario(worked=400, prior=300, benefit="basic_allowance", horizon_days=400,
                    benefits={"max_paid_days": 400})
    spells, back = returns(long)
    assert back.any() and not (back & (spells.benefit == LMS)).any()   # 400 left: < horizon


def test_a_run_with_returners_prices_and_counts_them_once_each() -> None:
    s = scenario(worked=200, prior=800, horizon_days=365)
    result = simulate(s, 0, s.seed)
    people = result.people
    assert people == 20000                           # the pool only: no new persons
    spells = result.spells
    assert np.unique(spells.person_id).size == 20000


def test_groups_arrive_in_their_inflow_shares_and_the_caseload_keeps_its_shares() -> None:
    from incentive_sim.simulation.population import inflow, initial_caseload
    from incentive_sim.simulation.population import initial_employed as employed_pool

    s = Scenario.model_validate({
        "name": "shares", "horizon_days": 365, "seed": 5,
        "municipalities": {"A": {"working_age_population": 1000}},
        "groups": {"long": {"share": 0.6, "inflow_share": 0.2,
                            "benefit_mix": {"labour_market_subsidy": 1.0}},
                   "short": {"share": 0.4, "benefit_mix": {"earnings_related": 1.0}},
                   "rest": {"share": 0.0, "inflow_share": 0.4,
                            "benefit_mix": {"basic_allowance": 1.0}}},
        "population": {"initial_stock": {"A": 20000}, "inflow_per_year": {"A": 20000},
                       "initial_employed": {"A": 20000}},
        "transitions": {"employment": {"rate_per_day": 0.001}},
        "funding": {"in_force": "fi_2025_graduated"}})
    n = 20000
    for people, want in ((initial_caseload(s, 5, 0), [0.6, 0.4, 0.0]),
                         (inflow(s, 5, 0), [0.2, 0.4, 0.4]),
                         (employed_pool(s, 5, 0), [0.2, 0.4, 0.4])):
        got = np.bincount(people.group, minlength=3) / len(people)
        for g, p in enumerate(want):
            assert abs(got[g] - p) <= Z * math.sqrt(p * (1 - p) / n) + 1e-12, (g, got)


def test_inflow_shares_must_add_up(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from incentive_sim.cli import app

    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nmunicipalities: {A: {working_age_population: 1}}\n"
        "groups:\n  a: {share: 0.5, inflow_share: 0.7, benefit_mix: {basic_allowance: 1}}\n"
        "  b: {share: 0.5, benefit_mix: {basic_allowance: 1}}\n"
        "transitions: {employment: {rate_per_day: 0.01}}\n"
        "funding: {in_force: fi_2025_graduated}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "group inflow shares (inflow_share, else share) add up to 1.2, not 1" in \
        result.stderr
