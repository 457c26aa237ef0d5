"""municipalities_yearly.csv: per rule, municipality and calendar year, benefits in the year
they are paid (as Kela's bills add up to a year), and the parts a net adds up from."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest

from incentive_sim.accounting.ledger import Ledger, Plan
from incentive_sim.experiments.run import YEARLY_COLUMNS, run_scenario
from incentive_sim.funding.spells import SpellTable
from incentive_sim.scenario import load_scenario
from incentive_sim.scenario.vocabulary import BENEFIT_CODE, STATE_CODE

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "small_run.yaml"


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def lagged_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    s = load_scenario(FIXTURE)
    s = s.model_copy(update={"benefits": s.benefits.model_copy(
        update={"payment_lag_days": 19})})
    out = tmp_path_factory.mktemp("yearly") / "run"
    run_scenario(s, out, replications=2)
    return out


def test_a_years_municipal_share_is_the_sum_of_its_monthly_bills(lagged_run: Path) -> None:
    """With a payment lag, the in-force rule's municipal share of a year and municipality is
    the sum of that year's payment months in municipal_share_monthly.csv."""
    summary = json.loads((lagged_run / "summary.json").read_text(encoding="utf-8"))
    rule = next(r for r, v in summary["rules"].items() if v["in_force"])
    yearly = [r for r in rows_of(lagged_run / "municipalities_yearly.csv") if r["rule"] == rule]
    billed: dict[tuple[str, str], float] = defaultdict(float)
    cells: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows_of(lagged_run / "municipal_share_monthly.csv"):
        billed[(r["municipality"], r["month"][:4])] += float(r["municipal_share_eur"])
        cells[(r["municipality"], r["month"][:4])] += 1
    assert len(yearly) >= 2 and any(float(r["municipal_share_eur"]) > 0 for r in yearly)
    for r in yearly:
        key = (r["municipality"], r["year"])
        # each monthly cell is rounded to the cent
        assert float(r["municipal_share_eur"]) == pytest.approx(
            billed.get(key, 0.0), abs=0.005 * (cells.get(key, 0) + 1)), key


def test_every_row_adds_up_and_the_payers_share_the_gross(lagged_run: Path) -> None:
    rows = rows_of(lagged_run / "municipalities_yearly.csv")
    assert tuple(rows[0]) == YEARLY_COLUMNS
    for r in rows:
        v = {k: float(r[k]) for k in YEARLY_COLUMNS[4:]}
        assert v["net_eur"] == pytest.approx(v["municipal_share_eur"]
                                             + v["municipal_services_eur"]
                                             - v["transfer_eur"] - v["bonus_eur"], abs=0.02)
        # benefits paid in the year are shared between the state, the municipality and the fund
        assert v["gross_eur"] == pytest.approx(v["municipal_share_eur"] + v["state_share_eur"]
                                               + v["fund_eur"], abs=0.03)
        assert r["municipality_code"]


def test_without_a_lag_the_years_add_up_to_the_run(tmp_path: Path) -> None:
    """Without a lag every amount falls in the year of its day, so the years add up to the
    totals of summary.json, payer by payer and item by item."""
    out = tmp_path / "run"
    run_scenario(load_scenario(FIXTURE), out, replications=1)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rows = rows_of(out / "municipalities_yearly.csv")
    for rule, entry in summary["rules"].items():
        mine = [r for r in rows if r["rule"] == rule]
        items = entry["by_item"]

        def total(column: str, rows: list[dict[str, str]] = mine) -> float:
            return sum(float(r[column]) for r in rows)
        n = len(mine)
        assert total("municipal_share_eur") == pytest.approx(
            items["municipality"]["benefit"], abs=0.01 * n)
        assert total("state_share_eur") == pytest.approx(items["state"]["benefit"],
                                                         abs=0.01 * n)
        assert total("municipal_services_eur") == pytest.approx(
            items["municipality"]["service"], abs=0.01 * n)
        assert total("transfer_eur") == pytest.approx(-items["municipality"]["transfer"],
                                                      abs=0.01 * n)
        assert total("bonus_eur") == pytest.approx(-items["municipality"]["bonus"],
                                                   abs=0.01 * n)


def test_recipients_are_distinct_people_a_year_by_hand() -> None:
    """One person unemployed from 20 December 2025 to 10 January 2026, with a lag of 19 days:
    every day is paid in 2026 (20 December is paid on 8 January), so the person is a
    recipient of 2026, not of 2025. A second spell in March 2026 is the same person, counted
    once."""
    s = load_scenario(FIXTURE)
    s = s.model_copy(update={"start_date": s.start_date.replace(year=2025, month=12, day=1),
                             "horizon_days": 200,
                             "benefits": s.benefits.model_copy(update={"payment_lag_days": 19})})
    plan = Plan.of(s)
    u, e = STATE_CODE["unemployed"], STATE_CODE["employed"]
    lms = BENEFIT_CODE["labour_market_subsidy"]
    spells = SpellTable.from_columns(
        {"person_id": [0, 0, 0, 0], "state": [u, e, u, e], "benefit": [lms, -1, lms, -1],
         "daily_amount": [37.21, 0.0, 37.21, 0.0], "basic_part": [37.21, 0.0, 37.21, 0.0],
         # 20.12.2025 is day 19; 10.1.2026 day 40; 1.3.2026 day 90, 31.3. day 120
         "start_day": [19.0, 40.0, 90.0, 120.0], "end_day": [40.0, 90.0, 120.0, 200.0],
         "censored": [False, False, False, True]},
        municipalities=tuple(s.municipalities), groups=tuple(s.groups),
        services=tuple(s.services))
    ledger = Ledger.build(s, spells, plan)
    assert ledger.yearly is not None
    years = ledger.yearly.years
    assert years == (2025, 2026)
    # the first spell's days from day 19 are paid from day 38 (8 January 2026) on
    assert ledger.yearly.recipients[years.index(2025)].sum() == 0
    assert ledger.yearly.recipients[years.index(2026)].sum() == 1
    paid = (40 - 19 + 120 - 90) * 5 / 7
    assert ledger.yearly.benefit_days.sum() == pytest.approx(paid)
    assert ledger.yearly.gross_benefits.sum() == pytest.approx(paid * 37.21)
