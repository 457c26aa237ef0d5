"""Municipalities respond to the rule in force, on the shipped default scenario (Tampere
incentive-aware, Nokia first come first served, one pool of coaching places): compared
behaviourally, every rule gets its own referrals; under the two-step rule Tampere's referrals
step up at paid day 300, where it starts paying and service days are exempt, and under the
graduated rule the step shrinks; Tampere refers people under every rule."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from incentive_sim.experiments.run import default_scenario
from incentive_sim.scenario import load_scenario
from incentive_sim.simulation.engine import simulate

RULES = ("fi_2015_two_step", "fi_2025_graduated", "dk_2016_refusion")


@functools.cache
def referrals(in_force: str) -> dict[str, np.ndarray]:
    """Replication 0 of the default scenario simulated with `in_force` in force, as
    `compare --behavioural` does for each rule."""
    with default_scenario() as path:
        s = load_scenario(path)
    s = s.model_copy(update={"funding": s.funding.model_copy(update={"in_force": in_force})})
    return simulate(s, 0).referrals.arrays()


def tampere_counters(in_force: str) -> np.ndarray:
    r = referrals(in_force)
    return r["counter"][r["municipality"] == 0]


def step_at_300(counters: np.ndarray) -> float:
    """Referrals per 20-day bin at counters 300-399 over those at 160-259 (five bins each)."""
    past = np.sum((counters >= 300) & (counters < 400))
    before = np.sum((counters >= 160) & (counters < 260))
    return float(past / before)


@pytest.mark.parametrize("rule", RULES)
def test_the_incentive_aware_municipality_refers_people_under_every_rule(rule: str) -> None:
    assert tampere_counters(rule).size > 500


def test_each_rule_gets_its_own_referrals() -> None:
    sizes = [referrals(rule)["counter"].size for rule in RULES]
    assert len(set(sizes)) == len(RULES)
    tampere = [tampere_counters(rule).size for rule in RULES]
    assert len(set(tampere)) == len(RULES)


def test_the_two_step_rule_steps_referrals_up_at_day_300_twice_as_much_as_graduated() -> None:
    two_step = step_at_300(tampere_counters("fi_2015_two_step"))
    graduated = step_at_300(tampere_counters("fi_2025_graduated"))
    assert two_step > 2.0
    assert two_step >= 2 * graduated
