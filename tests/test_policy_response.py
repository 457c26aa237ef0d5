"""Municipalities respond to the rule in force: under the two-step rule incentive-aware
referrals crowd just past paid day 300; under the graduated rule that cliff is gone."""

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


def test_two_step_referrals_crowd_just_past_paid_day_300() -> None:
    counters = referral_counters("fi_2015_two_step")
    assert counters.size > 500
    # a 30-day review cycle is about 21 paid days: the first review past 300 lands by ~321
    just_past = np.mean((counters >= 300) & (counters < 350))
    just_before = np.mean((counters >= 250) & (counters < 300))
    assert just_past > 0.10
    assert just_past > 5 * just_before
    assert np.mean(counters < 200) == 0.0     # nothing to gain before billing starts


def test_graduated_rule_removes_the_cliff_at_300() -> None:
    two_step = referral_counters("fi_2015_two_step")
    graduated = referral_counters("fi_2025_graduated")
    share = lambda c: np.mean((c >= 300) & (c < 350))  # noqa: E731
    assert share(graduated) < share(two_step) / 2
    # referrals are spread over counters instead of piling up at one step
    before = np.mean((graduated >= 250) & (graduated < 300))
    assert share(graduated) < 3 * before
