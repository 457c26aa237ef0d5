"""The incentive-aware municipality's expected saving, against hand-computed euros.

Five paid days a week: a 90-day service period is 90 x 5/7 = 64.285714 paid days. The
municipality looks 365 days ahead; G(a, b, rate) is the expected number of those days, between
day a and day b, that a person exiting at `rate` is still there: (e^-rate a - e^-rate b) / rate.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from incentive_sim.funding.rules import CompiledRule
from incentive_sim.scenario.rules import preset
from incentive_sim.scenario.schema import FundingRule, Scenario
from incentive_sim.scenario.vocabulary import BENEFIT_CODE
from incentive_sim.simulation.policy import CompiledService, expected_saving

LMS = BENEFIT_CODE["labour_market_subsidy"]
PAID = 90 * 5 / 7


def service(**spec: Any) -> CompiledService:
    s = Scenario.model_validate({
        "name": "saving",
        "municipalities": {"A": {"working_age_population": 1000}},
        "groups": {"all": {"share": 1.0, "benefit_mix": {"labour_market_subsidy": 1.0}}},
        "transitions": {"employment": {"rate_per_day": 0.01}},
        "services": {"svc": {"capacity": {"A": 10},
                             "duration_days": {"dist": "fixed", "value": 90}, **spec}},
        "funding": {"in_force": "fi_2015_two_step"},
    })
    return CompiledService.compile(0, "svc", s.services["svc"], s)


def saving(rule: CompiledRule, svc: CompiledService, counters: list[float],
           rates: tuple[float, float, float] = (0.01, 0.0, 0.0)) -> np.ndarray:
    n = len(counters)
    return expected_saving(rule, svc, np.array(counters), np.full(n, 37.21),
                           np.full(n, LMS), np.tile(rates, (n, 1)), 5)


def compiled(name: str, rule: FundingRule | None = None) -> CompiledRule:
    return CompiledRule.compile(name, rule or preset(name), 5)


def G(a: float, b: float, rate: float) -> float:
    return (math.exp(-rate * a) - math.exp(-rate * b)) / rate if rate else b - a


def test_two_step_saves_half_the_subsidy_of_the_service_period_past_day_300_only() -> None:
    # nobody leaves: the service's 90 days are never counted nor charged, so the municipality
    # pays 90 days fewer at its share within the year ahead, once the counter is past 300
    # within it (counter 200 gets there after 140 days); counter 0 does not get there
    got = saving(compiled("fi_2015_two_step"), service(), [0.0, 200.0, 400.0, 1200.0],
                 rates=(0.0, 0.0, 0.0))
    assert got == pytest.approx([0.0, 0.5 * PAID * 37.21, 0.5 * PAID * 37.21,
                                 0.7 * PAID * 37.21])
    assert got[2] == pytest.approx(1196.04, abs=0.01)


def test_a_crossing_postponed_weighs_less_the_likelier_work_comes_first() -> None:
    # exit 1 % a day: past 300 the municipality pays half of every day until the person
    # leaves; referred, nothing for 90 days, then half again if still there
    got = saving(compiled("fi_2015_two_step"), service(), [200.0, 400.0])
    past = 0.5 * (G(0, 365, 0.01) - math.exp(-0.9) * G(0, 275, 0.01))
    # at 200 the share starts on day 140 unreferred, on day 230 referred
    before = 0.5 * (G(140, 365, 0.01) - math.exp(-0.9) * G(140, 275, 0.01))
    assert got == pytest.approx([before * 5 / 7 * 37.21, past * 5 / 7 * 37.21])
    assert got[0] < 0.6 * got[1]


def test_graduated_rule_charges_service_days_so_only_the_service_cost_remains() -> None:
    # service days count and are charged alike: only the service's cost for the days the
    # person is expected to stay in it (exits go on at 1 % a day)
    got = saving(compiled("fi_2025_graduated"), service(cost_per_day=10.0), [50.0, 400.0])
    assert got == pytest.approx([-10.0 * G(0, 90, 0.01)] * 2)
    assert got[0] == pytest.approx(-593.43, abs=0.01)


def test_after_effect_saves_the_unemployed_days_it_avoids_at_the_share_billed() -> None:
    # exit 1 % a day, doubled for 100 days after the service; counter 800 stays in the 50 %
    # band (from day 701) all year
    svc = service(hazard_after={"employment": 2.0, "days": 100}, cost_per_day=10.0)
    got = saving(compiled("fi_2025_graduated"), svc, [800.0])
    unreferred = G(0, 365, 0.01)
    referred = G(0, 90, 0.01) + math.exp(-0.9) * (G(0, 100, 0.02)
                                                  + math.exp(-2.0) * G(0, 175, 0.01))
    expected = 0.5 * (unreferred - referred) * 5 / 7 * 37.21 - 10.0 * G(0, 90, 0.01)
    assert got == pytest.approx([expected])
    assert got[0] == pytest.approx(-381.67, abs=0.01)


def test_a_shorter_planning_horizon_sees_less_of_a_distant_crossing() -> None:
    svc, rule = service(), compiled("fi_2015_two_step")
    args = (np.array([200.0]), np.full(1, 37.21), np.full(1, LMS),
            np.tile((0.0, 0.0, 0.0), (1, 1)), 5)
    # 150 days ahead: the crossing at day 140 leaves 10 charged days unreferred, none referred
    assert expected_saving(rule, svc, *args, 150.0) == pytest.approx([0.5 * 10 * 5 / 7 * 37.21])
    assert expected_saving(rule, svc, *args, 100.0) == pytest.approx([0.0])


def test_a_progress_bonus_is_worth_its_amount_times_the_extra_chance_of_work() -> None:
    bonus = FundingRule.model_validate({
        "title": "bonus only", "bonuses": [
            {"on": "employment", "amount": 1000, "min_counter": 100},
            {"on": "education", "amount": 400, "from": "municipality", "to": "state"}]})
    svc = service(hazard_after={"employment": 2.0, "days": 100},
                  on_completion={"employment": 0.1, "education": 0.05})
    got = saving(compiled("bonus", bonus), svc, [50.0, 150.0])
    # employment within 100 days: 1 - e^-2 = 0.864665 after the service against
    # 1 - e^-1 = 0.632121 without it, plus the direct 10 %; education has no rate here, so
    # only its direct 5 % outcome, and that bonus is paid by the municipality
    work = 0.1 + (1 - math.exp(-2)) - (1 - math.exp(-1))
    assert got == pytest.approx([-400 * 0.05, 1000 * work - 400 * 0.05])
    assert got[1] == pytest.approx(312.54, abs=0.01)
