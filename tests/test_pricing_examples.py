"""Pricing worked by hand: each expected euro amount has its arithmetic in a comment.

Paid days accrue at 5/7 per calendar day, so 140 calendar days are 100 paid days; a step
{from_day: 300, share: 0.5} applies from paid day 301, i.e. to counter values [300, ...).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from incentive_sim.funding.pricing import ServiceCosts, price
from incentive_sim.funding.rules import CompiledRule, ShareSchedule
from incentive_sim.funding.spells import SpellTable
from incentive_sim.scenario.rules import preset
from incentive_sim.scenario.schema import FundingRule
from incentive_sim.scenario.vocabulary import BENEFIT_CODE, STATE_CODE

U, SERVICE, E = STATE_CODE["unemployed"], STATE_CODE["service"], STATE_CODE["employed"]
LMS, ER = BENEFIT_CODE["labour_market_subsidy"], BENEFIT_CODE["earnings_related"]
NONE = -1
CENT = 0.005

TWO_STEP = CompiledRule.compile("fi_2015_two_step", preset("fi_2015_two_step"))
GRADUATED = CompiledRule.compile("fi_2025_graduated", preset("fi_2025_graduated"))


def spells(*rows: dict[str, Any], **meta: Any) -> SpellTable:
    """A table from rows of keyword columns; a row leaves out what it does not need."""
    defaults = {"person_id": 1, "benefit": NONE, "daily_amount": 0.0, "service": -1,
                "censored": False, "prior_paid_days": 0.0}
    full = [{**defaults, "basic_part": r.get("daily_amount", 0.0), **r} for r in rows]
    return SpellTable.from_columns({k: [r[k] for r in full] for k in full[0]}, **meta)


def custom(**block: Any) -> CompiledRule:
    doc = {"title": "custom", "liability": [{"benefits": ["labour_market_subsidy"], **block}]}
    return CompiledRule.compile("custom", FundingRule.model_validate(doc))


def with_bonus(**bonus: Any) -> CompiledRule:
    doc = preset("fi_2025_graduated").model_dump(by_alias=True)
    doc["bonuses"] = [{"on": "employment", "amount": 1500.0, "from": "state",
                       "to": "municipality", **bonus}]
    return CompiledRule.compile("bonus", FundingRule.model_validate(doc))


# ---------------------------------------------------------------- the share schedule

def test_the_share_integral_adds_up_every_step_crossed() -> None:
    schedule = ShareSchedule.from_steps([300, 1000], [0.5, 0.7])
    # 0 below 300; 0.5 * (650 - 300) = 175; 0.5 * 700 = 350; 350 + 0.7 * 200 = 490
    np.testing.assert_allclose(schedule.integral([0, 299, 300, 650, 1000, 1200]),
                               [0, 0, 0, 175, 350, 490])
    # the step applies from counter 300 on: paid day 301
    np.testing.assert_allclose(schedule.share_at([299.9, 300, 999.9, 1000]), [0, 0.5, 0.5, 0.7])


def test_a_segment_crossing_several_steps_pays_each_band_at_its_share() -> None:
    # fi_2025_graduated, 1120 calendar days = 800 paid days from counter 0:
    # 100 days at 0 + 100 at 10 % + 100 at 20 % + 100 at 30 % + 300 at 40 % + 100 at 50 %
    # = 230 share-days; 230 * 37.21 = 8558.30; gross 800 * 37.21 = 29768.00
    p = price(spells({"state": U, "benefit": LMS, "daily_amount": 37.21,
                      "start_day": 0.0, "end_day": 1120.0}), GRADUATED).payer_totals()
    assert p["municipality"] == pytest.approx(8558.30, abs=CENT)
    assert p["state"] == pytest.approx(29768.00 - 8558.30, abs=CENT)   # 21209.70
    assert p["gross"] == pytest.approx(29768.00, abs=CENT)


def test_a_segment_crossing_a_step_midway_pays_the_share_from_the_crossing_on() -> None:
    # fi_2015_two_step, counter 250 at the start, 140 calendar days = 100 paid days: 250 -> 350.
    # 50 days below 300 at 0 %, 50 days at 50 %: 25 share-days * 37.21 = 930.25
    # state: 100 * 37.21 - 930.25 = 3721.00 - 930.25 = 2790.75
    p = price(spells({"state": U, "benefit": LMS, "daily_amount": 37.21, "start_day": 0.0,
                      "end_day": 140.0, "prior_paid_days": 250.0}), TWO_STEP)
    assert p.benefit["municipality"][0] == pytest.approx(930.25, abs=CENT)
    assert p.benefit["state"][0] == pytest.approx(2790.75, abs=CENT)
    assert p.benefit["fund"][0] == 0.0


def test_a_long_segment_from_an_accrued_counter_crosses_both_steps() -> None:
    # fi_2015_two_step, counter 250, 1190 calendar days = 850 paid days: 250 -> 1100.
    # 50 days at 0 + 700 days (300..1000) at 50 % + 100 days at 70 % = 350 + 70 = 420 share-days
    # 420 * 37.21 = 15628.20; gross 850 * 37.21 = 31628.50; state 31628.50 - 15628.20 = 16000.30
    p = price(spells({"state": U, "benefit": LMS, "daily_amount": 37.21, "start_day": 0.0,
                      "end_day": 1190.0, "prior_paid_days": 250.0}), TWO_STEP).payer_totals()
    assert p["municipality"] == pytest.approx(15628.20, abs=CENT)
    assert p["state"] == pytest.approx(16000.30, abs=CENT)


# ---------------------------------------------------------------- charged but not counted

def test_a_state_charged_but_not_counted_pays_the_share_at_entry_for_every_day() -> None:
    rule = custom(counts=["unemployed"], charged=["unemployed", "service"],
                  municipality_share=[{"from_day": 300, "share": 0.5}])
    table = spells(
        # counter 350 at the start; 70 days in service = 50 paid days, not counted:
        # share(350) * 50 * 37.21 = 0.5 * 1860.50 = 930.25
        {"state": SERVICE, "benefit": LMS, "daily_amount": 37.21, "start_day": 0.0,
         "end_day": 70.0, "prior_paid_days": 350.0},
        # then unemployed from the same counter 350 (the service did not advance it):
        # 14 days = 10 paid days at 50 %: 5 * 37.21 = 186.05
        {"state": U, "benefit": LMS, "daily_amount": 37.21, "start_day": 70.0,
         "end_day": 84.0, "prior_paid_days": 350.0},
        # another person enters service at counter 280, below the step: share(280) = 0, so
        # nothing, although counting the 50 days would have crossed 300
        {"person_id": 2, "state": SERVICE, "benefit": LMS, "daily_amount": 37.21,
         "start_day": 0.0, "end_day": 70.0, "prior_paid_days": 280.0},
    )
    p = price(table, rule)
    np.testing.assert_allclose(p.counter_at_start, [350.0, 350.0, 280.0])
    np.testing.assert_allclose(p.benefit["municipality"], [930.25, 186.05, 0.0], atol=CENT)


# ---------------------------------------------------------------- earnings-related allowance

def test_only_the_basic_part_of_the_earnings_related_allowance_is_co_financed() -> None:
    # fi_2025_graduated, daily 68.00 of which 37.21 basic part, counter 200, 70 days = 50 paid:
    # municipality 20 % of the basic part: 0.2 * 50 * 37.21 = 372.10
    # state the rest of the basic part: 50 * 37.21 - 372.10 = 1860.50 - 372.10 = 1488.40
    # fund the earnings-related part: 50 * (68.00 - 37.21) = 50 * 30.79 = 1539.50
    # gross 50 * 68.00 = 3400.00
    p = price(spells({"state": U, "benefit": ER, "daily_amount": 68.0, "basic_part": 37.21,
                      "start_day": 0.0, "end_day": 70.0, "prior_paid_days": 200.0}),
              GRADUATED).payer_totals()
    assert p["municipality"] == pytest.approx(372.10, abs=CENT)
    assert p["state"] == pytest.approx(1488.40, abs=CENT)
    assert p["fund"] == pytest.approx(1539.50, abs=CENT)
    assert p["gross"] == pytest.approx(3400.00, abs=CENT)


def test_a_basic_part_above_the_daily_amount_is_capped_at_the_daily_amount() -> None:
    # daily 30.00 with a basic part of 37.21: the co-financed part is 30.00, the fund pays 0
    # 0.2 * 50 * 30.00 = 300.00 municipality; 50 * 30.00 - 300.00 = 1200.00 state
    p = price(spells({"state": U, "benefit": ER, "daily_amount": 30.0, "basic_part": 37.21,
                      "start_day": 0.0, "end_day": 70.0, "prior_paid_days": 200.0}),
              GRADUATED).payer_totals()
    assert p["municipality"] == pytest.approx(300.00, abs=CENT)
    assert p["state"] == pytest.approx(1200.00, abs=CENT)
    assert p["fund"] == pytest.approx(0.0, abs=CENT)


# ---------------------------------------------------------------- services

def test_service_costs_per_calendar_day_with_the_states_compensation() -> None:
    services = ServiceCosts(
        cost_per_day=np.array([20.0, 15.0, 25.0]),
        paid_by_state=np.array([False, False, True]),
        state_compensation_per_day=np.array([12.0, 30.0, 0.0]))
    table = spells(
        # rehabilitative work, 30 calendar days at 20.00 = 600.00 paid by the municipality,
        # which gets 12.00 a day back from the state: state 360.00, municipality 240.00
        {"state": SERVICE, "service": 0, "start_day": 0.0, "end_day": 30.0},
        # compensation 30.00 a day above the cost 15.00: capped at the cost, 30 * 15 = 450.00
        {"person_id": 2, "state": SERVICE, "service": 1, "start_day": 0.0, "end_day": 30.0},
        # a state-paid service: 30 * 25.00 = 750.00, all the state's
        {"person_id": 3, "state": SERVICE, "service": 2, "start_day": 0.0, "end_day": 30.0},
        # waiting for a service costs nothing
        {"person_id": 4, "state": STATE_CODE["waiting"], "service": 0, "start_day": 0.0,
         "end_day": 30.0},
        services=("rehabilitative_work", "coaching", "state_training"))
    p = price(table, TWO_STEP, services)
    np.testing.assert_allclose(p.service["state"], [360.0, 450.0, 750.0, 0.0])
    np.testing.assert_allclose(p.service["municipality"], [240.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(p.service["fund"], 0.0)


# ---------------------------------------------------------------- bonuses

def unemployed_then(*periods: tuple[int, float, float], prior: float = 0.0,
                    censored_last: bool = False) -> list[dict[str, Any]]:
    """Rows of one person: 420 calendar days (300 paid days) on the labour market subsidy from
    day 0, then (state, start, end) periods."""
    rows = [{"state": U, "benefit": LMS, "daily_amount": 37.21, "start_day": 0.0,
             "end_day": 420.0, "prior_paid_days": prior, "censored": False}]
    for state, start, end in periods:
        rows.append({"state": state, "start_day": start, "end_day": end,
                     "prior_paid_days": prior, "censored": False})
    rows[-1]["censored"] = censored_last
    return rows


def test_a_bonus_is_paid_when_the_employment_lasts_long_enough() -> None:
    rule = with_bonus(lasting_days=90)
    lasting = price(spells(*unemployed_then((E, 420.0, 600.0))), rule)   # 180 days >= 90
    assert lasting.bonuses.amount.tolist() == [1500.0]
    assert lasting.bonuses.day.tolist() == [420.0 + 90.0]               # paid on day 510
    assert lasting.bonuses.segment.tolist() == [1]                     # earned by the entry
    # two consecutive employed segments of 50 and 90 days are one stay of 140 days: one bonus
    joined = price(spells(*unemployed_then((E, 420.0, 470.0), (E, 470.0, 560.0))), rule)
    assert joined.bonuses.amount.tolist() == [1500.0]


def test_no_bonus_when_the_employment_ends_too_soon() -> None:
    rule = with_bonus(lasting_days=90)
    # 60 days of work, then unemployed again
    short = price(spells(*unemployed_then((E, 420.0, 480.0), (U, 480.0, 500.0))), rule)
    assert short.bonuses.amount.size == 0


def test_no_bonus_for_censored_employment_shorter_than_the_lasting_days() -> None:
    # still employed at the horizon after 60 days: not (yet) known to last 90, not paid
    rule = with_bonus(lasting_days=90)
    open_job = price(spells(*unemployed_then((E, 420.0, 480.0), censored_last=True)), rule)
    assert open_job.bonuses.amount.size == 0


def test_a_bonus_with_a_minimum_counter_needs_that_many_paid_days_at_entry() -> None:
    rule = with_bonus(min_counter=300)
    # 420 calendar days = 300 paid days at the entry into work: 300 >= 300, paid
    enough = price(spells(*unemployed_then((E, 420.0, 600.0))), rule)
    assert enough.counter_at_start[1] == pytest.approx(300.0)
    assert enough.bonuses.amount.tolist() == [1500.0]
    # 280 calendar days = 200 paid days: not paid
    too_few = spells({"state": U, "benefit": LMS, "daily_amount": 37.21, "start_day": 0.0,
                      "end_day": 280.0}, {"state": E, "start_day": 280.0, "end_day": 600.0})
    assert price(too_few, rule).bonuses.amount.size == 0
    assert price(too_few, with_bonus()).bonuses.amount.tolist() == [1500.0]


def test_a_bonus_moves_money_between_payers_and_nets_out_in_gross() -> None:
    # benefits: 300 paid days on fi_2025_graduated from counter 0: 100 days at 10 % and 100 at
    # 20 % = 30 share-days * 37.21 = 1116.30 municipality; 300 * 37.21 = 11163.00 gross;
    # state 11163.00 - 1116.30 = 10046.70. The bonus of 1500.00 goes from state to municipality.
    p = price(spells(*unemployed_then((E, 420.0, 600.0))), with_bonus(lasting_days=90))
    totals = p.totals()
    assert totals["municipality"]["bonus"] == -1500.0        # a receipt
    assert totals["state"]["bonus"] == 1500.0
    assert totals["gross"]["bonus"] == 0.0
    payer = p.payer_totals()
    assert payer["municipality"] == pytest.approx(1116.30 - 1500.0, abs=CENT)   # -383.70
    assert payer["state"] == pytest.approx(10046.70 + 1500.0, abs=CENT)         # 11546.70
    assert payer["gross"] == pytest.approx(11163.00, abs=CENT)
