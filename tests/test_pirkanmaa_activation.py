"""scenarios/pirkanmaa_2017_activation.yaml reproduces what its header says the 2017-2018
experiment found: from the first full month (September 2017) to the experiment's last
(December 2018) the activation rate rises by 10-15 points while unemployed plus activated
falls by less than 2 %; and the rise comes from the rule: under the graduated rule the same
municipalities raise it by less than half as much."""

from __future__ import annotations

from pathlib import Path

import pytest

from incentive_sim.accounting.ledger import Plan
from incentive_sim.accounting.outcomes import jobseekers_and_in_service, stock_by_month
from incentive_sim.scenario import load_scenario
from incentive_sim.scenario.schema import Scenario
from incentive_sim.simulation.engine import simulate

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "pirkanmaa_2017_activation.yaml"
FIRST, LAST = "2017-09", "2018-12"


def activation(s: Scenario) -> tuple[float, float]:
    """(rise of the activation rate in points, relative change of the jobseekers, who are
    the unemployed plus the activated) from FIRST to LAST, replication 0, all municipalities,
    as indicators_monthly.csv counts them."""
    plan = Plan.of(s)
    result = simulate(s, 0)
    seekers, in_service = (x.sum(axis=1) for x in jobseekers_and_in_service(
        stock_by_month(result.spells, plan.month_starts)))
    a, b = plan.months.index(FIRST), plan.months.index(LAST)
    rate = in_service / seekers
    return 100 * (rate[b] - rate[a]), seekers[b] / seekers[a] - 1


@pytest.fixture(scope="module")
def pirkanmaa() -> Scenario:
    return load_scenario(SCENARIO)


@pytest.fixture(scope="module")
def two_step(pirkanmaa: Scenario) -> tuple[float, float]:
    assert pirkanmaa.funding.in_force == "fi_2015_two_step"
    return activation(pirkanmaa)


def test_activation_rises_10_to_15_points_while_jobseekers_do_not_fall(
        two_step: tuple[float, float]) -> None:
    rise, change = two_step
    assert 10.0 <= rise <= 15.0
    assert change > -0.02


def test_under_the_graduated_rule_the_rise_is_less_than_half(
        pirkanmaa: Scenario, two_step: tuple[float, float]) -> None:
    graduated = pirkanmaa.model_copy(update={"funding": pirkanmaa.funding.model_copy(
        update={"in_force": "fi_2025_graduated"})})
    rise, _ = activation(graduated)
    assert rise < 0.5 * two_step[0]
