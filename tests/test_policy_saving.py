"""The incentive-aware municipality's expected saving, against hand-computed euros.

Five paid days a week: a 90-day service period is 90 x 5/7 = 64.285714 paid days."""

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


def test_two_step_saves_half_the_subsidy_of_the_service_period_past_day_300_only() -> None:
    got = saving(compiled("fi_2015_two_step"), service(), [200.0, 400.0, 1200.0])
    # below 300 the state pays all; 301-1000 the municipality half; from 1001 70 %
    assert got == pytest.approx([0.0, 0.5 * PAID * 37.21, 0.7 * PAID * 37.21])
    assert got[1] == pytest.approx(1196.04, abs=0.01)


def test_graduated_rule_charges_service_days_so_only_the_service_cost_remains() -> None:
    got = saving(compiled("fi_2025_graduated"), service(cost_per_day=10.0), [50.0, 400.0])
    assert got == pytest.approx([-900.0, -900.0])


def test_after_effect_saves_the_unemployed_days_it_avoids_at_the_share_billed() -> None:
    # exit 1 % a day, doubled for 100 days after: days unemployed within 100 days fall from
    # (1 - e^-1) / 0.01 = 63.2121 to (1 - e^-2) / 0.02 = 43.2332
    svc = service(hazard_after={"employment": 2.0, "days": 100}, cost_per_day=10.0)
    days = (1 - math.exp(-1)) / 0.01 - (1 - math.exp(-2)) / 0.02
    got = saving(compiled("fi_2025_graduated"), svc, [20.0, 50.0, 800.0])
    # service days count: after it the counter is 20 + 64.3 (nothing billed below 100),
    # 50 + 64.3 (10 % band, 101-200) or 800 + 64.3 (50 % from 701)
    assert got == pytest.approx([-900.0, days * 5 / 7 * 0.1 * 37.21 - 900.0,
                                 days * 5 / 7 * 0.5 * 37.21 - 900.0])
    assert got[1] == pytest.approx(-846.90, abs=0.01)


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
