"""The vectorised life courses against queueing theory and closed forms.

Tolerances are four standard errors at the simulated sample sizes (seeds fixed)."""

from __future__ import annotations

from typing import Any

import numpy as np

from incentive_sim.funding.pricing import price
from incentive_sim.funding.rules import CompiledRule
from incentive_sim.scenario.rules import preset
from incentive_sim.scenario.schema import Scenario
from incentive_sim.scenario.vocabulary import BENEFIT_CODE, STATE_CODE
from incentive_sim.simulation.engine import population
from incentive_sim.simulation.lifecourse import LifeCourses
from incentive_sim.simulation.population import People

Z = 4.0


def scenario(**over: Any) -> Scenario:
    data: dict[str, Any] = {
        "name": "theory", "horizon_days": 1461, "seed": 1,
        "municipalities": {"A": {"working_age_population": 1000}},
        "groups": {"all": {"share": 1.0, "benefit_mix": {"labour_market_subsidy": 1.0}}},
        "population": {"initial_stock": {"A": 0}, "inflow_per_year": {"A": 0},
                       "initial_duration_days": {"dist": "fixed", "value": 0},
                       "initial_paid_days": {"dist": "fixed", "value": 0}},
        "transitions": {"employment": {"rate_per_day": 0.004}},
        "funding": {"in_force": "fi_2025_graduated"},
    }
    for key, value in over.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    return Scenario.model_validate(data)


def everyone(s: Scenario, seed: int, rep: int = 0) -> People:
    return population(s, seed, rep)


def unemployed_at(spells: Any, t: float) -> int:
    u = spells.state == STATE_CODE["unemployed"]
    return int(np.sum(u & (spells.start_day <= t) & (spells.end_day > t)))


def test_stock_equals_inflow_times_mean_duration_in_steady_state() -> None:
    # M/M/inf: inflow 7300/year = 20/day, exit 0.004/day -> stock 20 * 250 = 5000, Poisson sd 71
    s = scenario(population={"initial_stock": {"A": 5000}, "inflow_per_year": {"A": 7305.0},
                             "initial_duration_days": {"dist": "exponential", "mean": 250}})
    spells = LifeCourses(s, everyone(s, 11), 11, 0).finish()
    for t in (365.0, 730.0, 1400.0):
        assert abs(unemployed_at(spells, t) - 5000) < Z * np.sqrt(5000), t


def test_a_caseload_with_frailty_drawn_given_its_spells_stays_in_steady_state() -> None:
    # Constant exit rate h with gamma frailty of variance v: survival (1 + v h d)^(-1/v), mean
    # spell 1 / (h (1 - v)) = 400 days, so inflow 50/day holds a stock of 20,000. In steady
    # state the elapsed durations of the stock have density S(d) / E[T], whose inverse cdf is
    # ((1 - u)^(-v / (1 - v)) - 1) / (v h); the caseload gets them as an empirical law on 4,000
    # quantile midpoints. The stock must then stay at 20,000 (Poisson sd 141). Were frailty
    # drawn from the prior instead, the long spells would leave too fast: after a year only
    # 27 % of the caseload would remain instead of 52 %, a dip of about 5,000.
    h, v, per_day = 0.005, 0.5, 50.0
    u = (np.arange(4000) + 0.5) / 4000
    elapsed = ((1 - u) ** (-v / (1 - v)) - 1) / (v * h)
    s = scenario(population={"initial_stock": {"A": 20000},
                             "inflow_per_year": {"A": per_day * 365.25},
                             "initial_duration_days": {"dist": "empirical",
                                                       "values": elapsed.tolist()},
                             "heterogeneity": {"dist": "gamma", "variance": v}},
                 transitions={"employment": {"rate_per_day": h}})
    spells = LifeCourses(s, everyone(s, 15), 15, 0).finish()
    for t in (182.0, 365.0, 730.0):
        assert abs(unemployed_at(spells, t) - 20000) < Z * np.sqrt(20000), t


def test_exponential_spells_have_mean_one_over_the_exit_rate() -> None:
    s = scenario(population={"initial_stock": {"A": 40000}}, horizon_days=20000)
    spells = LifeCourses(s, everyone(s, 12), 12, 0).finish()
    u = spells.state == STATE_CODE["unemployed"]
    assert not spells.censored[u].any()
    d = spells.duration[u]
    assert abs(d.mean() - 250) < Z * 250 / np.sqrt(d.size)


def test_graduated_municipal_cost_matches_its_closed_form_for_exponential_spells() -> None:
    # Counter x (paid days) is reached iff the spell lasts 7x/5 days: P = exp(-k x), k = 7mu/5.
    # E[municipal cost] = a * sum_b share_b * integral over band b of exp(-k x) dx.
    mu, a, n = 0.004, 37.21, 40000
    s = scenario(population={"initial_stock": {"A": n}}, horizon_days=20000)
    spells = LifeCourses(s, everyone(s, 13), 13, 0).finish()
    rule = CompiledRule.compile("fi_2025_graduated", preset("fi_2025_graduated"))
    per_person = np.bincount(spells.person_id,
                             price(spells, rule).benefit["municipality"], minlength=n)
    k = 7 * mu / 5
    edges = [100, 200, 300, 400, 500, np.inf]
    shares = [0.1, 0.2, 0.3, 0.4, 0.5]
    expected = a * sum(sh * (np.exp(-k * lo) - np.exp(-k * hi)) / k
                       for sh, lo, hi in zip(shares, edges, edges[1:], strict=False))
    assert abs(per_person.mean() - expected) < Z * per_person.std() / np.sqrt(n)


def test_earnings_related_entitlement_runs_out_into_the_labour_market_subsidy() -> None:
    s = scenario(groups={"all": {"share": 1.0, "benefit_mix": {"earnings_related": 1.0}}},
                 population={"initial_stock": {"A": 2000}},
                 transitions={"employment": {"rate_per_day": 0.0005}})
    spells = LifeCourses(s, everyone(s, 14), 14, 0).finish()
    lms = spells.benefit == BENEFIT_CODE["labour_market_subsidy"]
    # max 400 paid days = 560 calendar days on the earnings-related allowance
    np.testing.assert_allclose(spells.start_day[lms], 560.0)
    er = spells.benefit == BENEFIT_CODE["earnings_related"]
    assert (spells.end_day[er] <= 560.0 + 1e-9).all()
    assert (spells.daily_amount[lms] == 37.21).all()


def test_a_job_can_end_in_job_loss_and_a_new_spell() -> None:
    s = scenario(population={"initial_stock": {"A": 20000}}, horizon_days=40000,
                 transitions={"employment": {"rate_per_day": 0.01},
                              "inactivity": {"rate_per_day": 0.002},
                              "job_loss": {"rate_per_day": 0.002}})
    spells = LifeCourses(s, everyone(s, 15), 15, 0).finish()
    jobs = (spells.state == STATE_CODE["employed"]) & ~spells.censored
    d = spells.duration[jobs]
    assert abs(d.mean() - 500) < Z * 500 / np.sqrt(d.size)
    # every person alternates unemployment and work until inactivity: spells per person
    # = 1 + jobs per person; with P(employment) = 10/12 at each exit, E[jobs] = 5
    per_person = np.bincount(spells.person_id[spells.state == STATE_CODE["employed"]],
                             minlength=20000)
    assert abs(per_person.mean() - 5.0) < Z * per_person.std() / np.sqrt(20000)


def test_the_same_seed_gives_identical_histories_and_another_seed_does_not() -> None:
    s = scenario(population={"initial_stock": {"A": 3000}, "inflow_per_year": {"A": 3000}})
    a = LifeCourses(s, everyone(s, 21), 21, 0).finish()
    b = LifeCourses(s, everyone(s, 21), 21, 0).finish()
    c = LifeCourses(s, everyone(s, 22), 22, 0).finish()
    for name, column in a.columns().items():
        assert np.array_equal(column, b.columns()[name]), name
    assert not np.array_equal(a.end_day, c.end_day[: a.end_day.size]) or len(a) != len(c)
