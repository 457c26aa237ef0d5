"""Entitlements as the law has them: the earnings-related and the basic allowance both end after
`benefits.max_paid_days` paid days (drawn per person, by group if a group says so), then the
person goes on with the labour market subsidy; a job of `employment_condition_days` renews it.

Tolerances are four standard errors at the simulated sample sizes (seeds fixed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from incentive_sim.funding.spells import SpellTable
from incentive_sim.scenario.schema import Scenario
from incentive_sim.scenario.vocabulary import BENEFIT_CODE, STATE_CODE
from incentive_sim.simulation.engine import population
from incentive_sim.simulation.lifecourse import LifeCourses
from incentive_sim.simulation.population import inflow, initial_caseload

Z = 4.0
BA, ER, LMS = (BENEFIT_CODE[b] for b in ("basic_allowance", "earnings_related",
                                         "labour_market_subsidy"))
UNEMPLOYED, EMPLOYED = STATE_CODE["unemployed"], STATE_CODE["employed"]
PAID_PER_DAY = 5 / 7


def scenario(*, benefits: dict[str, Any] | None = None, **over: Any) -> Scenario:
    """Everyone on the basic allowance, unemployed from day 0 with nothing elapsed."""
    data: dict[str, Any] = {
        "name": "entitlements", "horizon_days": 1461, "seed": 1,
        "benefits": benefits or {},
        "municipalities": {"A": {"working_age_population": 1000}},
        "groups": {"all": {"share": 1.0, "benefit_mix": {"basic_allowance": 1.0}}},
        "population": {"initial_stock": {"A": 20000}, "inflow_per_year": {"A": 0},
                       "initial_duration_days": {"dist": "fixed", "value": 0},
                       "initial_paid_days": {"dist": "fixed", "value": 0}},
        "transitions": {"employment": {"rate_per_day": 0.0005}},
        "funding": {"in_force": "fi_2025_graduated"},
    }
    for key, value in over.items():
        merge = isinstance(value, dict) and key != "groups"
        data[key] = {**data[key], **value} if merge else value
    return Scenario.model_validate(data)


def run(s: Scenario, seed: int) -> tuple[Any, SpellTable]:
    people = population(s, seed, 0)
    return people, LifeCourses(s, people, seed, 0).finish()


def in_order(spells: SpellTable) -> np.ndarray:
    """Row order by person, then time."""
    return np.lexsort((spells.start_day, spells.person_id))


def paid_before_subsidy(spells: SpellTable, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per person: the start of the first subsidy segment (inf if none) and the allowance's
    paid days before it."""
    lms = spells.benefit == LMS
    first = np.full(n, np.inf)
    np.minimum.at(first, spells.person_id[lms], spells.start_day[lms])
    on_allowance = np.isin(spells.benefit, [BA, ER]) & (spells.end_day <= first[spells.person_id])
    paid = np.bincount(spells.person_id[on_allowance],
                       spells.duration[on_allowance] * PAID_PER_DAY, minlength=n)
    return first, paid


def test_the_basic_allowance_ends_at_its_maximum_and_the_subsidy_follows_the_same_day() -> None:
    s = scenario(benefits={"max_paid_days": 300})
    people, spells = run(s, 3)
    first, paid = paid_before_subsidy(spells, len(people))
    moved = np.isfinite(first)
    # with exits at 0.05 % a day, 81 % are still unemployed at 420 days: almost all move
    assert moved.mean() > 0.75
    np.testing.assert_allclose(first[moved], 300 / PAID_PER_DAY)
    np.testing.assert_allclose(paid[moved], 300.0)
    # the basic-allowance segment is split at exhaustion: it ends where the subsidy starts
    ba = spells.benefit == BA
    ends = np.isclose(spells.end_day[ba], first[spells.person_id[ba]])
    assert ends.sum() == moved.sum()
    assert (paid[~moved] < 300 + 1e-9).all()


def test_drawn_maxima_have_the_given_mix_and_each_person_moves_on_at_their_own() -> None:
    weights = [0.2, 0.7, 0.1]
    s = scenario(benefits={"max_paid_days": {"dist": "empirical", "values": [300, 400, 500],
                                             "weights": weights}})
    people, spells = run(s, 4)
    n = len(people)
    assert set(np.unique(people.max_paid_days)) == {300.0, 400.0, 500.0}
    for value, p in zip([300, 400, 500], weights, strict=True):
        # binomial share: sd sqrt(p (1 - p) / n), 0.0028 for p = 0.2 at n = 20,000
        assert abs(np.mean(people.max_paid_days == value) - p) < Z * np.sqrt(p * (1 - p) / n)
    first, paid = paid_before_subsidy(spells, n)
    moved = np.isfinite(first)
    np.testing.assert_allclose(paid[moved], people.max_paid_days[moved])
    np.testing.assert_allclose(first[moved], people.max_paid_days[moved] / PAID_PER_DAY)
    # everyone who got as far as their maximum moved on (no exit before it is recorded later)
    assert (paid[~moved] < people.max_paid_days[~moved] + 1e-9).all()


def test_earnings_related_and_basic_allowance_share_the_maximum_and_the_subsidy_has_none() -> None:
    s = scenario(benefits={"max_paid_days": 500},
                 groups={"all": {"share": 1.0, "benefit_mix": {
                     "basic_allowance": 0.3, "earnings_related": 0.3,
                     "labour_market_subsidy": 0.4}}})
    people, spells = run(s, 5)
    on = people.benefit
    assert (people.max_paid_days[(on == BA) | (on == ER)] == 500).all()
    assert np.isinf(people.max_paid_days[on == LMS]).all()
    first, paid = paid_before_subsidy(spells, len(people))
    for b in (BA, ER):
        moved = (on == b) & np.isfinite(first)
        assert moved.any()
        np.testing.assert_allclose(paid[moved], 500.0)


def test_a_group_may_have_its_own_maximum() -> None:
    mix = {"basic_allowance": 0.5, "earnings_related": 0.5}
    s = scenario(benefits={"max_paid_days": 400},
                 groups={"youth": {"share": 0.3, "benefit_mix": mix, "max_paid_days": 300},
                         "older": {"share": 0.2, "benefit_mix": mix,
                                   "max_paid_days": {"dist": "fixed", "value": 500}},
                         "other": {"share": 0.5, "benefit_mix": mix}})
    people, spells = run(s, 6)
    for code, expected in enumerate([300.0, 500.0, 400.0]):
        mine = people.group == code
        assert mine.any()
        assert (people.max_paid_days[mine] == expected).all()
    first, paid = paid_before_subsidy(spells, len(people))
    moved = np.isfinite(first)
    np.testing.assert_allclose(first[moved], people.max_paid_days[moved] / PAID_PER_DAY)
    np.testing.assert_allclose(paid[moved], people.max_paid_days[moved])


def test_where_the_maximum_applies_to_the_earnings_related_allowance_only_the_other_never_ends(
        ) -> None:
    s = scenario(benefits={"max_paid_days": 300, "max_paid_days_applies_to": ["earnings_related"]})
    people, spells = run(s, 7)
    assert np.isinf(people.max_paid_days).all()
    assert not (spells.benefit == LMS).any()


def test_the_caseload_on_basic_allowance_has_used_its_entitlement_in_the_current_spell_only(
        ) -> None:
    # elapsed 392 days = 280 paid days (120 left of 400) or 588 days = 420 paid (used up)
    s = scenario(benefits={"max_paid_days": 400},
                 population={"initial_duration_days": {"dist": "empirical",
                                                       "values": [392, 588]},
                             "initial_paid_days": {"dist": "exponential", "mean": 600}})
    people = initial_caseload(s, 8, 0)
    short = np.isclose(people.elapsed_days, 392)
    assert short.any() and (~short).any()
    assert (people.benefit[short] == BA).all() and (people.max_paid_days[short] == 400).all()
    assert (people.benefit[~short] == LMS).all() and np.isinf(people.max_paid_days[~short]).all()
    assert (people.daily_amount[~short] == people.subsidy_amount[~short]).all()
    # the employment condition that opened the allowance restarted the funding counters too:
    # they hold the current spell only (Kela bills no basic allowance above class 401-700)
    np.testing.assert_allclose(people.prior_paid_days, people.elapsed_days * 5 / 7)
    spells = LifeCourses(s, people, 8, 0).finish()
    first, _ = paid_before_subsidy(spells, len(people))
    moved = short & np.isfinite(first)
    assert moved.mean() > 0.8 * short.mean()
    np.testing.assert_allclose(first[moved], 120 / PAID_PER_DAY)   # day 168 of the simulation


def test_the_inflow_on_basic_allowance_starts_with_a_whole_entitlement() -> None:
    s = scenario(benefits={"max_paid_days": 300},
                 population={"initial_stock": {"A": 0}, "inflow_per_year": {"A": 3000}})
    people = inflow(s, 9, 0)
    assert (people.max_paid_days == 300).all()
    spells = LifeCourses(s, people, 9, 0).finish()
    first, paid = paid_before_subsidy(spells, len(people))
    moved = np.isfinite(first)
    assert moved.any()
    np.testing.assert_allclose(first[moved] - people.arrival_day[moved], 300 / PAID_PER_DAY)
    np.testing.assert_allclose(paid[moved], 300.0)


@pytest.mark.parametrize("benefit", ["basic_allowance", "earnings_related"])
def test_a_job_of_employment_condition_days_renews_the_entitlement_and_one_day_less_does_not(
        benefit: str) -> None:
    # Maximum 100 paid days (140 calendar days), so many run out before they find a job; jobs
    # end at 1/200 a day, so many last close to the 200-day condition on either side.
    condition = 200.0
    s = scenario(benefits={"max_paid_days": 100, "employment_condition_days": condition},
                 groups={"all": {"share": 1.0, "benefit_mix": {benefit: 1.0}}},
                 horizon_days=6000,
                 transitions={"employment": {"rate_per_day": 0.004},
                              "job_loss": {"rate_per_day": 1 / condition}})
    _, spells = run(s, 10)
    order = in_order(spells)
    person, state = spells.person_id[order], spells.state[order]
    on, start, end = spells.benefit[order], spells.start_day[order], spells.end_day[order]
    # a job followed by a new spell of the same person, and the benefit before the job
    job = (state[1:-1] == EMPLOYED) & (person[1:-1] == person[2:]) & (person[:-2] == person[1:-1])
    at = np.flatnonzero(job) + 1
    before, after = on[at - 1], on[at + 1]
    days = end[at] - start[at]
    exhausted = before == LMS
    renewed = after == BENEFIT_CODE[benefit]
    assert exhausted.sum() > 1000
    # exactly the jobs of at least `condition` days renew the entitlement of those who ran out
    assert (renewed[exhausted] == (days[exhausted] >= condition)).all()
    window = exhausted & (np.abs(days - condition) < 1.0)
    assert (window & (days >= condition)).sum() > 10     # a day over the condition: renewed
    assert (window & (days < condition)).sum() > 10      # a day short of it: still subsidy
    # the renewed entitlement is whole again: the new spell's allowance lasts 100 paid days
    fresh = at[exhausted & renewed] + 1
    full = fresh[(end[fresh] - start[fresh]) * PAID_PER_DAY > 100 - 1e-6]
    assert full.size > 0
    assert ((end[full] - start[full]) * PAID_PER_DAY < 100 + 1e-6).all()
    nxt = full + 1
    assert ((on[nxt] == LMS) & (person[nxt] == person[full])
            & np.isclose(start[nxt], end[full])).all()


def test_the_employment_condition_defaults_to_twelve_months() -> None:
    assert scenario().benefits.employment_condition_days == 365
    assert scenario().benefits.max_paid_days == 400
