"""Rules dated in time: each paid day priced under the rule in force on its date, with every
rule's counter running over the whole history; cases on the calendar."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from incentive_sim.accounting.ledger import Ledger, Plan
from incentive_sim.cli import app
from incentive_sim.funding.cases import Case, case_history, price_case
from incentive_sim.funding.pricing import price
from incentive_sim.funding.rules import NO_RULE, compile_rule
from incentive_sim.funding.spells import SpellTable
from incentive_sim.scenario import load_scenario
from incentive_sim.scenario.rules import catalogue
from incentive_sim.scenario.schema import FundingRule
from incentive_sim.scenario.vocabulary import BENEFIT_CODE, STATE_CODE

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "small_run.yaml"
runner = CliRunner()
LMS = BENEFIT_CODE["labour_market_subsidy"]
U = STATE_CODE["unemployed"]


def one_case(**fields: object) -> Case:
    return Case.model_validate({"name": "t", "benefit": "labour_market_subsidy",
                                "daily_amount": 37.21, **fields})


def priced(case: Case) -> dict[str, float]:
    rules = catalogue()
    assert isinstance(case.rule, str)
    compiled = compile_rule(case.rule, rules, case.paid_days_per_week, case.start_date)
    r = price_case(case, case.rule, compiled)
    return {"municipality": r.municipality, "state": r.state, "total": r.total}


def test_the_finland_timeline_switches_rule_on_its_dates() -> None:
    rule = compile_rule("finland", catalogue(), 5, dt.date(2024, 7, 1))
    assert [(p.start_date, p.rule.name) for p in rule.phases] == [
        (None, NO_RULE.name), (dt.date(2006, 1, 1), "fi_2006_one_step"),
        (dt.date(2015, 1, 1), "fi_2015_two_step"), (dt.date(2025, 1, 1), "fi_2025_graduated")]
    # 2024-07-01 + 184 days is 2025-01-01
    assert rule.at(183.99).name == "fi_2015_two_step"
    assert rule.at(184.0).name == "fi_2025_graduated"


def test_a_timeline_of_timelines_is_flattened_and_clipped() -> None:
    rules = {**catalogue(), "my_reform": FundingRule.model_validate({
        "title": "reform", "liability": [{"benefits": ["labour_market_subsidy"],
                                          "counts": ["unemployed"], "charged": ["unemployed"],
                                          "municipality_share": [{"from_day": 0,
                                                                  "share": 1.0}]}]}),
             "reform_2027": FundingRule.model_validate({"timeline": [
                 {"from": "2020-01-01", "rule": "finland"},
                 {"from": "2027-01-01", "rule": "my_reform"}]})}
    rule = compile_rule("reform_2027", rules, 5, dt.date(2025, 1, 1))
    assert [(p.start_date, p.rule.name) for p in rule.phases] == [
        (None, NO_RULE.name), (dt.date(2020, 1, 1), "fi_2015_two_step"),
        (dt.date(2025, 1, 1), "fi_2025_graduated"), (dt.date(2027, 1, 1), "my_reform")]


def test_a_timeline_that_contains_itself_is_refused_with_its_path(tmp_path: Path) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    bad = tmp_path / "loop.yaml"
    bad.write_text(text.replace("rules:", "rules:\n  a: {timeline: [{from: 2025-01-01, rule: b}]}"
                                "\n  b: {timeline: [{from: 2024-01-01, rule: a}]}", 1),
                   encoding="utf-8")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "contains itself" in result.stderr and "rules.a.timeline" in result.stderr


def test_a_timeline_naming_an_unknown_rule_is_reported_at_the_entry(tmp_path: Path) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    bad = tmp_path / "unknown.yaml"
    bad.write_text(text.replace("rules:", "rules:\n  r: {timeline: [{from: 2025-01-01, rule: "
                                "fi_2025_graduated_cap30}]}", 1), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "rules.r.timeline[0].rule: rule 'fi_2025_graduated_cap30' was removed" in \
        result.stderr


def test_a_scenario_naming_the_removed_cap30_reading_is_told_why(tmp_path: Path) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    bad = tmp_path / "cap30.yaml"
    bad.write_text(text.replace("in_force: fi_2025_graduated",
                                "in_force: fi_2025_graduated_cap30", 1), encoding="utf-8")
    assert "fi_2025_graduated_cap30" in bad.read_text(encoding="utf-8")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "funding.in_force: funding rule 'fi_2025_graduated_cap30' was removed" in \
        result.stderr
    assert "701-" in result.stderr


def test_a_case_under_a_timeline_needs_a_start_date(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - name: undated\n    rule: finland\n"
                     "    benefit: labour_market_subsidy\n    daily_amount: 37.21\n"
                     "    history: [{state: unemployed, paid_days: 10}]\n", encoding="utf-8")
    result = runner.invoke(app, ["cases", str(cases)])
    assert result.exit_code == 2
    assert "cases[0].rule: finland is a timeline: give the case a start_date" in result.stderr


def test_dated_periods_pay_monday_to_friday_and_end_after_their_last_paid_day() -> None:
    # Monday 2.12.2024 + 40 paid days: 22 weekdays in December, 18 in January, last Friday
    # 24.1.2025; then 3 calendar days employed (Sat 25 - Mon 27 January)
    table = case_history(one_case(rule="finland", start_date="2024-12-02", history=[
        {"state": "unemployed", "paid_days": 40}, {"state": "employed", "days": 3}]))
    jan1 = (dt.date(2025, 1, 1) - dt.date(2024, 12, 2)).days
    unemployed_end = (dt.date(2025, 1, 25) - dt.date(2024, 12, 2)).days
    paid = table.paid_days
    assert paid.sum() == 40
    assert table.paid_days_per_week == 7       # whole days: a paid weekday is a paid day
    before = np.clip(np.minimum(table.end_day, jan1) - table.start_day, 0, None)
    assert before[table.benefit_paid].sum() == 22
    assert table.end_day[table.state == U].max() == unemployed_end
    assert table.end_day.max() == unemployed_end + 3


def test_days_paid_before_the_switch_count_toward_the_later_rule() -> None:
    # 40 paid days from counter 690 across 1.1.2025, counted by the 2025 rule from December:
    # January's 18 days are at counter 712-730 (class 701-, 50 %), not 690-708
    case = one_case(rule="finland", start_date="2024-12-02", prior_paid_days=690,
                    history=[{"state": "unemployed", "paid_days": 40}])
    got = priced(case)
    assert got["municipality"] == pytest.approx(0.5 * 22 * 37.21 + 0.5 * 18 * 37.21, abs=0.005)
    # priced under the 2025 rule alone from the same date, December is charged at 40-50 %
    graduated = priced(case.model_copy(update={"rule": "fi_2025_graduated"}))
    assert graduated["municipality"] == pytest.approx(
        (0.4 * 10 + 0.5 * 30) * 37.21, abs=0.005)


def test_before_the_first_date_of_a_timeline_no_municipality_pays() -> None:
    case = one_case(rule="finland", start_date="2005-06-01", prior_paid_days=2000,
                    history=[{"state": "unemployed", "paid_days": 20}])
    assert priced(case) == {"municipality": 0.0, "state": 744.2, "total": 744.2}


@pytest.mark.parametrize(("work_days", "expected"), [
    (365, 2 * 0.1 * 50 * 37.21),                          # reset: 101-150 twice
    (364, 0.1 * 50 * 37.21 + (0.1 * 50 + 0.2 * 100) * 37.21),  # no reset: 151-300 next
])
def test_the_graduated_counter_restarts_after_12_months_of_work(work_days: int,
                                                                expected: float) -> None:
    case = one_case(rule="fi_2025_graduated", start_date="2025-01-06", history=[
        {"state": "unemployed", "paid_days": 150}, {"state": "employed", "days": work_days},
        {"state": "unemployed", "paid_days": 150}])
    assert priced(case)["municipality"] == pytest.approx(expected, abs=0.005)


def test_an_allowance_after_exhaustion_is_earned_again_by_12_months_of_work() -> None:
    # 300 paid days of basic allowance (maximum 300), 100 on the subsidy, a year of work, then
    # 50 days: the allowance again (33.40), the counter restarted.
    case = one_case(rule="fi_2025_graduated", benefit="basic_allowance", daily_amount=33.40,
                    max_paid_days=300, history=[
                        {"state": "unemployed", "paid_days": 400},
                        {"state": "employed", "days": 365},
                        {"state": "unemployed", "paid_days": 50}])
    table = case_history(case)
    ba, lms = BENEFIT_CODE["basic_allowance"], LMS
    paid = table.paid_days
    assert paid[table.benefit == ba].sum() == pytest.approx(350)
    assert paid[table.benefit == lms].sum() == pytest.approx(100)
    assert table.benefit[-1] == ba
    # (0.1*100 + 0.2*100)*33.40 for the allowance, 0.3*100*37.21 for the subsidy; 0 after
    assert priced(case)["municipality"] == pytest.approx(30 * 33.40 + 30 * 37.21, abs=0.005)


def test_a_timeline_prices_as_its_rules_on_either_side_of_the_switch() -> None:
    """A history wholly before the switch prices as the old rule; one wholly after as the new
    rule with the counters of the whole history."""
    rules = catalogue()
    start = dt.date(2024, 7, 1)
    timeline = compile_rule("finland", rules, 5, start)
    old = compile_rule("fi_2015_two_step", rules)
    new = compile_rule("fi_2025_graduated", rules)
    switch = float((dt.date(2025, 1, 1) - start).days)
    rng = np.random.default_rng(3)
    n = 200
    start_day = np.sort(rng.uniform(0, 700, n))
    spells = SpellTable.from_columns({
        "person_id": np.arange(n), "state": np.full(n, U), "benefit": np.full(n, LMS),
        "daily_amount": np.full(n, 37.21), "start_day": start_day,
        "end_day": start_day + rng.uniform(0, 400, n), "prior_paid_days": rng.uniform(0, 900, n)})
    m = price(spells, timeline).benefit["municipality"]
    before = spells.end_day <= switch
    after = spells.start_day >= switch
    assert before.any() and after.any() and (~before & ~after).any()
    np.testing.assert_allclose(m[before], price(spells, old).benefit["municipality"][before])
    np.testing.assert_allclose(m[after], price(spells, new).benefit["municipality"][after])
    across = ~before & ~after
    # across: the two-step part up to the switch plus the graduated part from it
    c0 = spells.prior_paid_days[across]
    cut = c0 + (switch - spells.start_day[across]) * 5 / 7
    c1 = c0 + spells.paid_days[across]
    old_s, new_s = old.blocks[0].schedule, new.blocks[0].schedule
    want = 37.21 * (old_s.integral(cut) - old_s.integral(c0)
                    + new_s.integral(c1) - new_s.integral(cut))
    np.testing.assert_allclose(m[across], want, rtol=1e-12)


def test_a_run_from_mid_2024_under_finland_shows_the_switch_in_its_monthly_costs() -> None:
    s = load_scenario(FIXTURE)
    s = s.model_copy(update={"start_date": dt.date(2024, 7, 1), "horizon_days": 366,
                             "funding": s.funding.model_copy(update={
                                 "in_force": "finland", "compare": ["fi_2015_two_step"],
                                 "transfers": None})})
    from incentive_sim.simulation.engine import simulate

    spells = simulate(s, 0, s.seed).spells
    ledger = Ledger.build(s, spells, Plan.of(s))
    finland, two_step = ledger.rule_index("finland"), ledger.rule_index("fi_2015_two_step")
    muni = ledger.amounts[:, :, :, 1, 0].sum(axis=2)          # (rule, month) benefit share
    months = list(ledger.months)
    for month in ("2024-07", "2024-12"):
        k = months.index(month)
        assert muni[finland, k] == pytest.approx(muni[two_step, k], rel=1e-9)
    # after the switch the graduated rule bills clearly more; how much more in one month of
    # one replication of this small run varies with the draws (1.34-1.69 over seeds 7-9)
    k = months.index("2025-03")
    assert muni[finland, k] > 1.3 * muni[two_step, k]


def test_compare_and_sweep_take_a_timeline_wherever_they_take_a_rule(tmp_path: Path) -> None:
    """`compare --funding finland,...` (static and behavioural) and `sweep --set
    funding.in_force=finland` run; in a static comparison the timeline equals the two-step
    rule to the cent over a history that ends before 1.1.2025."""
    import csv

    from incentive_sim.experiments.compare import compare
    from incentive_sim.experiments.sweep import sweep

    s = load_scenario(FIXTURE)
    before_2025 = s.model_copy(update={"start_date": dt.date(2024, 1, 1), "horizon_days": 366,
                                       "funding": s.funding.model_copy(update={
                                           "transfers": None})})
    compare(before_2025, ["finland", "fi_2015_two_step"], tmp_path / "static", replications=2)
    with (tmp_path / "static" / "comparison.csv").open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["rule"] == "fi_2015_two_step"]
    assert rows and all(r["diff_mean"] == "0.00" for r in rows)
    compare(before_2025, ["finland", "fi_2025_graduated"], tmp_path / "behavioural",
            replications=1, behavioural=True)
    assert (tmp_path / "behavioural" / "comparison.json").is_file()
    sweep(before_2025, ["funding.in_force=finland,fi_2025_graduated"], tmp_path / "sweep",
          replications=1)
    header, *lines = (tmp_path / "sweep" / "sweep.csv").read_text(encoding="utf-8").splitlines()
    assert "finland.municipality" in header.split(",")
    assert len(lines) == 2 and all(",ok," in line for line in lines)
