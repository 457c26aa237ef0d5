"""The share is taken on what is paid: the subsidy and the basic allowance may be drawn per
person, the earnings-related allowance paid at a fraction of its full amount (daily amount and
basic part alike), and a person who moves on to the subsidy gets their own subsidy amount.

Tolerances are four standard errors at the sample sizes (seeds fixed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from incentive_sim.funding.pricing import price
from incentive_sim.funding.rules import CompiledRule
from incentive_sim.scenario import load_scenario
from incentive_sim.scenario.rules import preset
from incentive_sim.scenario.schema import Scenario
from incentive_sim.scenario.vocabulary import BENEFIT_CODE
from incentive_sim.simulation.engine import population
from incentive_sim.simulation.lifecourse import LifeCourses
from incentive_sim.simulation.population import initial_caseload, mean_of

REPO = Path(__file__).resolve().parents[1]
Z = 4.0
BA, ER, LMS = (BENEFIT_CODE[b] for b in ("basic_allowance", "earnings_related",
                                         "labour_market_subsidy"))


def scenario(daily: dict[str, Any] | None = None, mix: dict[str, float] | None = None,
             population: dict[str, Any] | None = None, **benefits: Any) -> Scenario:
    return Scenario.model_validate({
        "name": "amounts", "horizon_days": 1461, "seed": 1,
        "benefits": {"daily": daily or {}, **benefits},
        "municipalities": {"A": {"working_age_population": 1000}},
        "groups": {"all": {"share": 1.0, "benefit_mix": mix or {
            "labour_market_subsidy": 0.4, "basic_allowance": 0.3, "earnings_related": 0.3}}},
        "population": {"initial_stock": {"A": 40000}, "inflow_per_year": {"A": 0},
                       "initial_duration_days": {"dist": "fixed", "value": 0},
                       "initial_paid_days": {"dist": "fixed", "value": 0},
                       **(population or {})},
        "transitions": {"employment": {"rate_per_day": 0.001}},
        "funding": {"in_force": "fi_2025_graduated"},
    })


def test_drawn_daily_amounts_have_the_given_mean_per_person() -> None:
    s = scenario({"labour_market_subsidy": {"dist": "gamma", "mean": 36.17, "sd": 6.0},
                  "basic_allowance": {"dist": "gamma", "mean": 32.70, "sd": 6.0}})
    people = initial_caseload(s, 2, 0)
    for code, mean in ((LMS, 36.17), (BA, 32.70)):
        x = people.daily_amount[people.benefit == code]
        assert x.std() > 5.0                       # drawn per person, not one number
        # sd 6 over about 12,000-16,000 people: standard error about 0.05
        assert abs(x.mean() - mean) < Z * x.std() / np.sqrt(x.size)
        # the subsidy and the basic allowance are paid whole: no earnings part
        np.testing.assert_array_equal(people.basic_part[people.benefit == code], x)
    sub = people.subsidy_amount
    assert abs(sub.mean() - 36.17) < Z * sub.std() / np.sqrt(sub.size)


def test_a_fixed_amount_is_the_same_for_everyone_as_before() -> None:
    people = initial_caseload(scenario(), 2, 0)
    assert (people.daily_amount[people.benefit != ER] == 37.21).all()
    assert (people.subsidy_amount == 37.21).all()


def test_drawing_amounts_shifts_no_other_draw() -> None:
    # every other per-person draw is random here: elapsed spells, counters, frailty, inflow
    randomised = {"initial_duration_days": {"dist": "exponential", "mean": 300},
                  "initial_paid_days": {"dist": "exponential", "mean": 500},
                  "inflow_per_year": {"A": 5000},
                  "inflow_paid_days": {"dist": "exponential", "mean": 100},
                  "heterogeneity": {"dist": "gamma", "variance": 0.3}}

    def people(daily: dict[str, Any]) -> Any:
        return population(scenario(daily, population=randomised,
                                   max_paid_days={"dist": "uniform", "low": 300, "high": 500}),
                          3, 0)

    fixed = people({})
    drawn = people({
        "labour_market_subsidy": {"dist": "gamma", "mean": 36.17, "sd": 6.0},
        "basic_allowance": {"dist": "uniform", "low": 20, "high": 37.21},
        "earnings_related": {"mean": 68.0, "sd": 18.0, "basic_part": 37.21,
                             "paid_fraction": {"dist": "uniform", "low": 0.5, "high": 1}}})
    assert len(fixed) == len(drawn) > 40000
    for name in ("group", "benefit", "frailty", "arrival_day", "elapsed_days",
                 "prior_paid_days"):
        np.testing.assert_array_equal(getattr(fixed, name), getattr(drawn, name), name)
    # the maximum too, but for the caseload whose entitlement ran out (inf: on the subsidy)
    np.testing.assert_array_equal(fixed.max_paid_days, drawn.max_paid_days)


@pytest.mark.parametrize("fraction", [0.6, {"dist": "empirical", "values": [0.5, 1.0]}])
def test_paid_fraction_scales_the_earnings_related_amount_and_its_basic_part_alike(
        fraction: Any) -> None:
    er = {"mean": 68.0, "sd": 18.0, "basic_part": 37.21}
    full = initial_caseload(scenario({"earnings_related": er}), 4, 0)
    paid = initial_caseload(scenario({"earnings_related": {**er, "paid_fraction": fraction}}),
                            4, 0)
    on = full.benefit == ER
    assert on.any()
    share = paid.daily_amount[on] / full.daily_amount[on]
    np.testing.assert_allclose(paid.basic_part[on] / full.basic_part[on], share)
    np.testing.assert_allclose(paid.basic_part[on], share * 37.21)
    if isinstance(fraction, float):
        np.testing.assert_allclose(share, fraction)
    else:
        assert set(np.round(share, 12)) == {0.5, 1.0}
        # half of each: binomial sd of the share sqrt(0.25 / n)
        assert abs(np.mean(share < 0.75) - 0.5) < Z * np.sqrt(0.25 / on.sum())
    # other benefits are untouched
    np.testing.assert_array_equal(paid.daily_amount[~on], full.daily_amount[~on])


def test_the_municipal_share_is_taken_on_the_earnings_related_amount_paid() -> None:
    # The same histories (the fraction has its own random stream) priced at full and at 60 %:
    # the municipality's part, taken on the basic part, is 60 % of the full one; so is the fund's.
    er = {"mean": 68.0, "sd": 18.0, "basic_part": 37.21}
    mix = {"earnings_related": 1.0}
    rule = CompiledRule.compile("fi_2025_graduated", preset("fi_2025_graduated"))
    totals = []
    for f in (1.0, 0.6):
        s = scenario({"earnings_related": {**er, "paid_fraction": f}}, mix,
                     max_paid_days=10_000)
        spells = LifeCourses(s, population(s, 5, 0), 5, 0).finish()
        totals.append(price(spells, rule).benefit)
    for payer in ("municipality", "fund", "state"):
        assert totals[0][payer].sum() > 0
        assert totals[1][payer].sum() == pytest.approx(0.6 * totals[0][payer].sum(), rel=1e-12)


def test_a_person_who_runs_out_goes_on_at_their_own_subsidy_amount() -> None:
    s = scenario({"labour_market_subsidy": {"dist": "gamma", "mean": 36.17, "sd": 6.0},
                  "basic_allowance": {"dist": "gamma", "mean": 32.70, "sd": 6.0}},
                 {"basic_allowance": 0.5, "earnings_related": 0.5}, max_paid_days=300)
    people = population(s, 6, 0)
    spells = LifeCourses(s, people, 6, 0).finish()
    lms = spells.benefit == LMS
    assert lms.sum() > 10000
    who = spells.person_id[lms]
    np.testing.assert_array_equal(spells.daily_amount[lms], people.subsidy_amount[who])
    np.testing.assert_array_equal(spells.basic_part[lms], people.subsidy_amount[who])
    assert np.unique(spells.daily_amount[lms]).size > 1000        # each their own
    on_allowance = np.isin(spells.benefit, [BA, ER])
    np.testing.assert_array_equal(spells.daily_amount[on_allowance],
                                  people.daily_amount[spells.person_id[on_allowance]])


def test_the_caseload_that_has_run_out_is_on_its_own_subsidy_amount() -> None:
    s = scenario({"labour_market_subsidy": {"dist": "gamma", "mean": 36.17, "sd": 6.0}},
                 {"basic_allowance": 1.0},
                 {"initial_duration_days": {"dist": "lognormal", "mean": 380, "sd": 600}},
                 max_paid_days=300)
    people = initial_caseload(s, 7, 0)
    moved = people.benefit == LMS
    assert moved.any() and (~moved).any()
    np.testing.assert_array_equal(people.daily_amount[moved], people.subsidy_amount[moved])
    assert (people.elapsed_days[moved] * 5 / 7 >= 300).all()


def test_the_national_scenario_pays_the_2025_averages_and_mixes_the_maxima() -> None:
    s = load_scenario(REPO / "scenarios" / "finland_national_2025.yaml")
    daily = s.benefits.daily
    assert not isinstance(daily.labour_market_subsidy, float | int)
    assert not isinstance(daily.basic_allowance, float | int)
    assert mean_of(daily.labour_market_subsidy) == pytest.approx(36.17, abs=1e-9)
    assert mean_of(daily.basic_allowance) == pytest.approx(32.70, abs=1e-9)
    people = initial_caseload(s, 1, 0)
    assert set(np.unique(people.max_paid_days[np.isfinite(people.max_paid_days)])) == {
        300.0, 400.0, 500.0}
    paid = people.daily_amount[people.benefit == BA]
    # two-point law (37.21 or 18.605): sd about 8 at 24 % adjusted
    assert abs(paid.mean() - 32.70) < Z * paid.std() / np.sqrt(paid.size)
