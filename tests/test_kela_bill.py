"""municipal_share_monthly.csv: the municipal share in the shape of Kela's bill, by payment
month, municipality, benefit and day class of the rule in force."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from incentive_sim.accounting.kela import Bill, band_labels
from incentive_sim.accounting.ledger import Plan
from incentive_sim.experiments.run import run_scenario
from incentive_sim.funding.spells import SpellTable
from incentive_sim.scenario import Scenario, load_scenario
from incentive_sim.scenario.vocabulary import BENEFIT_CODE, BENEFITS, STATE_CODE

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "small_run.yaml"
U, E = STATE_CODE["unemployed"], STATE_CODE["employed"]
LMS, ER = BENEFIT_CODE["labour_market_subsidy"], BENEFIT_CODE["earnings_related"]


def scenario(**update: object) -> Scenario:
    s = load_scenario(FIXTURE)
    return s.model_copy(update={"start_date": dt.date(2025, 1, 1), "horizon_days": 365,
                                **update})


def one_person(s: Scenario, **columns: object) -> SpellTable:
    return SpellTable.from_columns({"person_id": [0] * len(columns["state"]),  # type: ignore
                                    **columns},
                                   municipalities=tuple(s.municipalities),
                                   groups=tuple(s.groups), services=tuple(s.services))


def cells(bill: Bill, plan: Plan) -> dict[tuple[str, str, str], tuple[float, float, float]]:
    out = {}
    for index in zip(*np.nonzero(bill.paid_days), strict=True):
        m, _, b, c = (int(x) for x in index)
        out[(plan.months[m], BENEFITS[b], bill.labels[c])] = (
            float(bill.recipients[index]), float(bill.paid_days[index]),
            float(bill.euros[index]))
    return out


def test_the_2025_classes_are_kelas() -> None:
    plan = Plan.of(scenario())
    assert band_labels(plan.compiled["fi_2025_graduated"]) == (
        "101-200", "201-300", "301-400", "401-700", "701-")


def test_a_persons_days_fall_in_their_months_and_classes_by_hand() -> None:
    """From counter 180, 70 calendar days unemployed in January-March 2025 at 37.21 (50 paid
    days, counter 180-230): January (31 days, 22.142857 paid, counter 180-202.142857) has
    20 days in 101-200 at 10 % and 2.142857 in 201-300 at 20 %; February (28 days, 20 paid,
    202.142857-222.142857) all in 201-300; March 1-11 (11 days, 7.857143 paid) in 201-300."""
    s = scenario()
    plan = Plan.of(s)
    spells = one_person(s, state=[U], benefit=[LMS], daily_amount=[37.21], start_day=[0.0],
                        end_day=[70.0], prior_paid_days=[180.0])
    got = cells(Bill.of(spells, plan), plan)
    jan_101 = got[("2025-01", "labour_market_subsidy", "101-200")]
    jan_201 = got[("2025-01", "labour_market_subsidy", "201-300")]
    feb = got[("2025-02", "labour_market_subsidy", "201-300")]
    mar = got[("2025-03", "labour_market_subsidy", "201-300")]
    assert jan_101 == pytest.approx((1, 20.0, 0.1 * 20 * 37.21))
    assert jan_201 == pytest.approx((1, 31 * 5 / 7 - 20, 0.2 * (31 * 5 / 7 - 20) * 37.21))
    assert feb == pytest.approx((1, 20.0, 0.2 * 20 * 37.21))
    assert mar == pytest.approx((1, 11 * 5 / 7, 0.2 * 11 * 5 / 7 * 37.21))
    assert len(got) == 4


def test_the_payment_lag_moves_days_to_the_month_they_are_paid() -> None:
    """With a lag of 10 days, January's last 10 days are paid in February; days whose payment
    falls after the horizon are not billed."""
    s = scenario()
    s = s.model_copy(update={"benefits": s.benefits.model_copy(update={"payment_lag_days": 10})})
    plan = Plan.of(s)
    spells = one_person(s, state=[U], benefit=[LMS], daily_amount=[37.21], start_day=[0.0],
                        end_day=[365.0], prior_paid_days=[800.0])
    got = cells(Bill.of(spells, plan), plan)
    assert got[("2025-01", "labour_market_subsidy", "701-")][1] == pytest.approx(21 * 5 / 7)
    assert got[("2025-02", "labour_market_subsidy", "701-")][1] == pytest.approx(28 * 5 / 7)
    assert sum(v[1] for v in got.values()) == pytest.approx(355 * 5 / 7)


def test_the_earnings_related_share_is_on_its_basic_part_and_unbilled_days_are_out() -> None:
    """An earnings-related person at 70 a day with basic part 37.21 from counter 0, 140
    calendar days (100 paid): nothing billed (class 1-100 is not co-financed); then from
    counter 100 on, 28 days (20 paid) in 101-200 on the basic part, not the whole 70."""
    s = scenario()
    plan = Plan.of(s)
    spells = one_person(s, state=[U, U], benefit=[ER, ER], daily_amount=[70.0, 70.0],
                        basic_part=[37.21, 37.21], start_day=[0.0, 140.0],
                        end_day=[140.0, 168.0], prior_paid_days=[0.0, 0.0])
    got = cells(Bill.of(spells, plan), plan)
    # day 140 is 21 May: 11 days (7.857 paid) in May, 17 days (12.143 paid) in June
    assert set(got) == {(m, "earnings_related", "101-200") for m in ("2025-05", "2025-06")}
    assert got[("2025-05", "earnings_related", "101-200")][1] == pytest.approx(11 * 5 / 7)
    assert sum(v[1] for v in got.values()) == pytest.approx(20.0)
    assert sum(v[2] for v in got.values()) == pytest.approx(0.1 * 20 * 37.21)


def test_recipients_are_distinct_people_and_the_euros_add_up_to_the_run(tmp_path: Path
                                                                        ) -> None:
    """Without a lag, the file's euros add up to the in-force rule's municipal benefit share
    in summary.json, month by month to costs_monthly.csv; a cell's recipients never exceed
    its paid days divided by the fewest a person can have there (more than zero)."""
    out = tmp_path / "run"
    run_scenario(load_scenario(FIXTURE), out, replications=2)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rule = next(r for r, v in summary["rules"].items() if v["in_force"])
    with (out / "municipal_share_monthly.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and {r["day_class"] for r in rows} <= {"101-200", "201-300", "301-400",
                                                       "401-700", "701-"}
    total = sum(float(r["municipal_share_eur"]) for r in rows)
    assert total == pytest.approx(summary["rules"][rule]["by_item"]["municipality"]["benefit"],
                                  abs=0.01 * len(rows))
    with (out / "costs_monthly.csv").open(encoding="utf-8", newline="") as f:
        costs = [r for r in csv.DictReader(f) if r["rule"] == rule
                 and r["payer"] == "municipality" and r["item"] == "benefit"]
    for month in {r["month"] for r in rows}:
        billed = sum(float(r["municipal_share_eur"]) for r in rows if r["month"] == month)
        booked = sum(float(r["amount"]) for r in costs if r["month"] == month)
        assert billed == pytest.approx(booked, abs=0.01 * len(rows))
    # each person in a cell has at least one co-financed paid day's worth there or crossed in
    assert all(float(r["recipients"]) > 0 for r in rows)


def test_a_recipient_is_counted_once_a_cell_however_many_segments() -> None:
    """Person 0 is paid in January 2025 in two segments (a job between), both in class 701-,
    then in February; person 1 once in January in 701-; person 2 five paid days in January
    in 101-200. January 701- has two recipients, February 701- one, January 101-200 one."""
    s = scenario()
    plan = Plan.of(s)
    spells = SpellTable.from_columns(
        {"person_id": [0, 0, 0, 0, 1, 2], "state": [U, E, U, U, U, U],
         "benefit": [LMS, -1, LMS, LMS, LMS, LMS], "daily_amount": [37.21, 0.0] + [37.21] * 4,
         "start_day": [0.0, 10.0, 15.0, 31.0, 0.0, 0.0],
         "end_day": [10.0, 15.0, 25.0, 40.0, 7.0, 7.0],
         "prior_paid_days": [900.0] * 4 + [800.0, 150.0]},
        municipalities=tuple(s.municipalities), groups=tuple(s.groups),
        services=tuple(s.services))
    got = cells(Bill.of(spells, plan), plan)
    assert got[("2025-01", "labour_market_subsidy", "701-")][:2] == pytest.approx(
        (2, (10 + 10 + 7) * 5 / 7))
    assert got[("2025-02", "labour_market_subsidy", "701-")][:2] == pytest.approx(
        (1, 9 * 5 / 7))
    assert got[("2025-01", "labour_market_subsidy", "101-200")][:2] == pytest.approx((1, 5.0))
    assert len(got) == 3
