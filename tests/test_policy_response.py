"""Municipalities respond to the rule in force: under the two-step rule incentive-aware
referrals start abruptly at paid day 300; under the graduated rule that cliff is gone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from incentive_sim.scenario import load_scenario
from incentive_sim.scenario.schema import Scenario
from incentive_sim.simulation.engine import simulate

PIRKANMAA = Path(__file__).resolve().parents[1] / "scenarios" / "pirkanmaa_2017_activation.yaml"


def referral_counters(in_force: str) -> np.ndarray:
    s = load_scenario(PIRKANMAA)
    small = s.model_copy(update={
        "horizon_days": 730,
        "population": s.population.model_copy(update={
            "initial_stock": {m: n // 2 for m, n in s.population.initial_stock.items()},
            "inflow_per_year": {m: n / 2 for m, n in s.population.inflow_per_year.items()}}),
        "funding": s.funding.model_copy(update={"in_force": in_force}),
    })
    assert isinstance(small, Scenario)
    return simulate(small).referrals.arrays()["counter"]


def past_and_before_300(counters: np.ndarray) -> tuple[int, int]:
    """Referrals at paid days 300-349 and at 250-299."""
    return (int(np.sum((counters >= 300) & (counters < 350))),
            int(np.sum((counters >= 250) & (counters < 300))))


def test_two_step_referrals_start_just_past_paid_day_300() -> None:
    counters = referral_counters("fi_2015_two_step")
    assert counters.size > 500
    # a review falls within 1.25 x 30 days (about 27 paid days) of crossing 300
    just_past, just_before = past_and_before_300(counters)
    assert just_past > 50
    assert just_past > 5 * just_before
    assert np.mean(counters < 200) == 0.0     # nothing to gain before billing starts


def test_graduated_rule_removes_the_cliff_at_300() -> None:
    two_step = past_and_before_300(referral_counters("fi_2015_two_step"))
    graduated = past_and_before_300(referral_counters("fi_2025_graduated"))
    assert graduated[1] > 50
    # referrals go on across 300 instead of starting there
    assert graduated[0] < 3 * graduated[1]
    assert two_step[0] > 5 * two_step[1]
