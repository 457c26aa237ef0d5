"""The statutory baseline of services: places taken from the first day, and places that
follow the caseload (policy.places_taken_at_start, policy.places_follow_caseload)."""

from __future__ import annotations

from typing import Any

import numpy as np

from incentive_sim.accounting.outcomes import JOBSEEKER_STATES
from incentive_sim.scenario.schema import Scenario
from incentive_sim.scenario.vocabulary import STATE_CODE
from incentive_sim.simulation.engine import FOLLOW_EVERY_DAYS, simulate

SERVICE = STATE_CODE["service"]


def scenario(policy: dict[str, Any], exit_rate: float = 0.0, horizon: int = 400,
             duration: float = 1000.0) -> Scenario:
    return Scenario.model_validate({
        "name": "baseline", "horizon_days": horizon, "seed": 11,
        "municipalities": {"A": {"working_age_population": 1000}},
        "groups": {"all": {"share": 1.0, "benefit_mix": {"labour_market_subsidy": 1.0}}},
        "population": {"initial_stock": {"A": 2000},
                       "initial_duration_days": {"dist": "fixed", "value": 100},
                       "initial_paid_days": {"dist": "fixed", "value": 100}},
        "transitions": {"employment": {"rate_per_day": exit_rate}},
        "services": {"coaching": {"capacity": {"A": 300},
                                  "duration_days": {"dist": "fixed", "value": duration}}},
        "policy": {"strategy": "fifo", "review_every_days": 90, "take_up": 1.0, **policy},
        "funding": {"in_force": "fi_2025_graduated"},
    })


def starts_on_day_0(s: Scenario) -> int:
    spells = simulate(s).spells
    return int(np.count_nonzero((spells.state == SERVICE) & (spells.start_day == 0.0)))


def test_places_taken_at_start_go_to_the_caseload_on_day_0() -> None:
    assert starts_on_day_0(scenario({"places_taken_at_start": True})) == 300
    # without: the first reviews of a caseload under way fall within its first interval
    assert starts_on_day_0(scenario({})) == 0


def test_places_follow_the_jobseekers_each_quarter() -> None:
    """With exits and no inflow the caseload shrinks; after the last quarterly change the
    pool has its starting places times its jobseekers then over those at the start."""
    s = scenario({"places_follow_caseload": True}, exit_rate=0.004, duration=20.0)
    result = simulate(s)
    spells = result.spells
    last = FOLLOW_EVERY_DAYS * int((s.horizon_days - 1e-9) // FOLLOW_EVERY_DAYS)
    if last >= s.horizon_days:
        last -= FOLLOW_EVERY_DAYS

    def seekers(t: float) -> int:
        on = (spells.start_day <= t) & (spells.end_day > t) & JOBSEEKER_STATES[spells.state]
        return int(np.count_nonzero(on))

    assert seekers(0.0) == 2000
    expected = 300 * seekers(last) / 2000
    assert expected < 150                                 # the caseload more than halved
    assert abs(result.services["coaching"].places_end - expected) <= 1.0
    # fixed places without the key
    assert simulate(scenario({}, exit_rate=0.004, duration=20.0)).services[
        "coaching"].places_end == 300
