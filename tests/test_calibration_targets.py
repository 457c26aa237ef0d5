"""The targets file of calibrate (checked at file and line against the scenario) and the
model's figure for each target, by hand and against Kela's bill."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from incentive_sim.accounting.kela import Bill
from incentive_sim.accounting.ledger import Plan
from incentive_sim.calibration.moments import measure
from incentive_sim.calibration.targets import Spec, apply, load_targets
from incentive_sim.funding.spells import SpellTable
from incentive_sim.scenario import InputError, Scenario, load_scenario
from incentive_sim.scenario.vocabulary import BENEFIT_CODE, STATE_CODE
from incentive_sim.simulation.engine import Referrals, SimulationResult, simulate

HERE = Path(__file__).resolve().parent / "fixtures" / "calibration"
REGION = HERE / "region.yaml"
TARGETS = HERE / "targets.yaml"
PARAMETERS = [{"name": "inflow_level", "path": "population.inflow_per_year", "scale": True,
               "start": 1.0, "bounds": [0.6, 1.6]}]


@pytest.fixture(scope="module")
def region() -> Scenario:
    return load_scenario(REGION)


def write_targets(path: Path, figures: list[dict[str, Any]], values: Any) -> Path:
    targets = [{**f, "value": float(v), "source": "test"}
               for f, v in zip(figures, values, strict=True)]
    path.write_text(yaml.safe_dump({"parameters": PARAMETERS, "targets": targets},
                                   sort_keys=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------- the targets file

def problem(region: Scenario, tmp_path: Path, old: str, new: str) -> str:
    """The first problem of the fixture targets file with `old` replaced by `new`."""
    text = TARGETS.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "targets.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_targets(path, region)
    assert len(caught.value.problems) == 1, caught.value
    return str(caught.value.problems[0])


def test_the_fixture_targets_file_is_valid(region: Scenario) -> None:
    spec = load_targets(TARGETS, region)
    assert spec.names == ("inflow_level", "exit_level", "counter_mean")
    assert [t.name for t in spec.targets] == ["municipal share 701- 2025",
                                              "subsidy recipients March 2025", "stock July 2025"]
    assert spec.labels == ("101-200", "201-300", "301-400", "401-700", "701-")
    assert spec.horizon_days == 365          # the end of 2025, the last target's period
    assert spec.windows[1].months == (2,) and spec.windows[1].benefit == 0


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("measure: municipal_share\n    year: 2025\n    day_class: 701-",
     "measure: municipal_shares\n    year: 2025\n    day_class: 701-",
     ":22: targets[0].measure: must be one of 'municipal_share', 'recipients'"),
    ("day_class: 701-", "day_class: 501-",
     ":24: targets[0].day_class: the rule in force (fi_2025_graduated) bills no class "
     "'501-'; its classes: 101-200, 201-300, 301-400, 401-700, 701-"),
    ("path: population.inflow_per_year", "path: population.inflow",
     ":6: parameters[0].path: no key 'population.inflow' in the scenario; there: "
     "initial_stock"),
    ("path: population.initial_paid_days.mean", "path: population.initial_paid_days",
     ":17: parameters[2].path: population.initial_paid_days is not a number (a mapping); "
     "give `scale: true`"),
    ("    start: 400", "    start: 100",
     ":18: parameters[2].start: start 100 is outside the bounds [200, 1200]"),
    ("bounds: [0.5, 1.5]", "bounds: [-0.5, 1.5]",
     ":15: parameters[1].bounds: -0.5 is refused by the scenario: "
     "transitions.employment.rate_per_day[0]: Input should be greater than or equal to 0"),
    ("path: transitions.employment.rate_per_day", "path: population.inflow_per_year.North",
     ":12: parameters[1].path: population.inflow_per_year.North overlaps the path "
     "population.inflow_per_year of another parameter"),
    ("    year: 2025\n    day_class", "    year: 2027\n    day_class",
     ":23: targets[0].year: 2027 (2027-01-01 to 2027-12-31) is not within the horizon: the "
     "scenario runs from 2025-01-01 to 2026-12-31"),
    ("    month: 2025-07", "    month: 2025-13",
     ":36: targets[2].month: must be a month as YYYY-MM, e.g. 2025-01 (got '2025-13')"),
    ("name: stock July 2025", "name: municipal share 701- 2025",
     ":34: targets[2].name: name 'municipal share 701- 2025' is given twice (first at "
     "targets[0])"),
    ("    quantity: recipients", "    basis: paid",
     ":31: targets[1].basis: basis applies to measure recipients only"),
    ("    source: test\n    weight: 0.5", "    weight: 0.5",
     ":34: targets[2].source: required key is missing"),
    ("    weight: 0.5", "    wieght: 0.5",
     ":39: targets[2].wieght: unknown key (did you mean 'weight'?)"),
])
def test_a_mistake_in_the_targets_file_is_reported_at_its_line(
        region: Scenario, tmp_path: Path, old: str, new: str, expected: str) -> None:
    message = problem(region, tmp_path, old, new)
    assert message.startswith(str(tmp_path / "targets.yaml") + expected), message


# ---------------------------------------------------------------- the model's figures

def history(s: Scenario) -> SimulationResult:
    """Three people, by hand (start 2025-01-01, payment lag 19 days):
    0: in the caseload, unemployed for 500 days already, on the subsidy (37.21, counter 0)
       from day 0 to 400, then employed; North.
    1: new, earnings-related (60 a day, basic part 37.21) unemployed on days 100-200, then
       employed; South.
    2: in the caseload, just arrived: in coaching on days 0-90, unemployed on 90-150 (subsidy
       37.21), then in education; North."""
    u, svc, emp, edu = (STATE_CODE[x] for x in ("unemployed", "service", "employed",
                                                  "education"))
    lms, er = BENEFIT_CODE["labour_market_subsidy"], BENEFIT_CODE["earnings_related"]
    spells = SpellTable.from_columns(
        {"person_id": [0, 0, 1, 1, 2, 2, 2],
         "municipality": [0, 0, 1, 1, 0, 0, 0],
         "state": [u, emp, u, emp, svc, u, edu],
         "service": [-1, -1, -1, -1, 0, -1, -1],
         "benefit": [lms, -1, er, -1, lms, lms, -1],
         "daily_amount": [37.21, 0, 60.0, 0, 37.21, 37.21, 0],
         "basic_part": [37.21, 0, 37.21, 0, 37.21, 37.21, 0],
         "start_day": [0, 400, 100, 200, 0, 90, 150],
         "end_day": [400, 730, 200, 730, 90, 150, 730],
         "censored": [False, True, False, True, False, False, True]},
        municipalities=tuple(s.municipalities), groups=tuple(s.groups),
        services=tuple(s.services))
    return SimulationResult(spells, {}, Referrals(), 3, 730.0, np.array([500.0, 0.0, 0.0]))


def test_each_measure_by_hand(region: Scenario, tmp_path: Path) -> None:
    figures: list[tuple[dict[str, Any], float]] = [
        ({"measure": "stock", "month": "2025-02"}, 2),
        ({"measure": "stock", "month": "2025-02", "benefit": "earnings_related"}, 0),
        ({"measure": "stock", "year": 2025}, (12 + 3 + 5) / 12),   # month starts present
        ({"measure": "activation_rate", "month": "2025-01"}, 0.5),
        ({"measure": "activation_rate", "month": "2025-04"}, 0.0),  # day 90: 2 unemployed
        ({"measure": "long_term_share", "month": "2025-02"}, 0.5),
        ({"measure": "duration_class", "month": "2025-05", "min_months": 0, "max_months": 3},
         1 / 3),                                                      # day 120: person 1
        ({"measure": "duration_class", "month": "2025-05", "min_months": 3, "max_months": 12},
         1 / 3),                                                      # person 2: 120 days
        ({"measure": "duration_class", "month": "2025-05", "min_months": 12}, 1 / 3),
        ({"measure": "recipients", "year": 2025}, 3),
        ({"measure": "recipients", "year": 2025, "benefit": "labour_market_subsidy"}, 2),
        ({"measure": "recipients", "year": 2026}, 1),   # paid on days 346-400, in 2026
        ({"measure": "recipients", "year": 2025, "basis": "co_financed"}, 2),
        # payments of 2025 are the days 0-346: 247.14 paid days of person 0, 71.43 of 1,
        # 107.14 of 2 (coaching days are paid, and count)
        ({"measure": "gross_benefits", "year": 2025},
         (346 * 37.21 + 100 * 60.0 + 150 * 37.21) * 5 / 7),
        ({"measure": "municipal_share", "year": 2025},
         37.21 * (0.1 * (100 + 100 / 14) + 0.2 * (346 * 5 / 7 - 200))),
        ({"measure": "municipal_share", "year": 2025, "day_class": "101-200",
          "quantity": "paid_days"}, 100 + 100 / 14),
        ({"measure": "municipal_share", "year": 2025, "day_class": "101-200",
          "quantity": "recipients"}, 2),
        ({"measure": "municipal_share", "year": 2025, "day_class": "201-300",
          "quantity": "recipients"}, 1),
        ({"measure": "municipal_share", "year": 2025, "benefit": "earnings_related"}, 0.0),
    ]
    path = write_targets(tmp_path / "t.yaml",
                         [{**f, "name": f"figure {i}"} for i, (f, _) in enumerate(figures)],
                         [1.0] * len(figures))
    spec = load_targets(path, region)
    got = measure(spec, Plan.of(region, [region.funding.in_force]), history(region))
    expected = [v for _, v in figures]
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_kela_figures_agree_with_the_bill(region: Scenario, tmp_path: Path) -> None:
    """The euros and paid days of a month or year are the sums of Kela's bill's cells; the
    recipients of one cell are its recipients (people belong to one municipality), and a
    year's distinct recipients are at least any month's and at most their sum."""
    s = region.model_copy(update={"horizon_days": 365})
    figures = [
        {"measure": "municipal_share", "month": "2025-03", "benefit": "labour_market_subsidy"},
        {"measure": "municipal_share", "year": 2025, "day_class": "401-700",
         "quantity": "paid_days"},
        {"measure": "municipal_share", "month": "2025-03", "benefit": "labour_market_subsidy",
         "day_class": "701-", "quantity": "recipients"},
        {"measure": "municipal_share", "year": 2025, "quantity": "recipients"},
        *({"measure": "municipal_share", "month": f"2025-{m:02d}", "quantity": "recipients"}
          for m in range(1, 13)),
    ]
    path = write_targets(tmp_path / "t.yaml",
                         [{**f, "name": f"figure {i}"} for i, f in enumerate(figures)],
                         [1.0] * len(figures))
    spec = load_targets(path, s)
    plan = Plan.of(s, [s.funding.in_force])
    result = simulate(s, 0, 5)
    got = measure(spec, plan, result)
    bill = Bill.of(result.spells, plan)
    lms, c401, c701 = 0, bill.labels.index("401-700"), bill.labels.index("701-")
    assert got[0] == pytest.approx(bill.euros[2, :, lms].sum(), rel=1e-12) and got[0] > 0
    assert got[1] == pytest.approx(bill.paid_days[:, :, :, c401].sum(), rel=1e-12)
    assert got[2] == bill.recipients[2, :, lms, c701].sum() > 0
    monthly = got[4:]
    assert monthly.max() <= got[3] < monthly.sum()


def test_a_balanced_parameter_keeps_the_shares_adding_up(region: Scenario,
                                                         tmp_path: Path) -> None:
    mix = "groups.all.benefit_mix"
    parameters = [{"name": "basic_share", "path": f"{mix}.basic_allowance",
                   "balance": f"{mix}.earnings_related", "start": 0.1, "bounds": [0.05, 0.35]}]
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump({"parameters": parameters, "targets": [
        {"name": "stock", "measure": "stock", "month": "2025-02", "value": 1000.0,
         "source": "test"}]}, sort_keys=False), encoding="utf-8")
    spec = load_targets(path, region)
    data = region.model_dump(mode="json", by_alias=True)
    fitted = apply(data, spec.parameters, {"basic_share": 0.3})["groups"]["all"]["benefit_mix"]
    assert fitted["basic_allowance"] == pytest.approx(0.3)
    assert fitted["earnings_related"] == pytest.approx(0.1)
    assert sum(fitted.values()) == pytest.approx(1.0)
    # a bound the balance cannot take (the earnings-related share would go below 0) is refused
    parameters[0]["bounds"] = [0.05, 0.5]
    path.write_text(yaml.safe_dump({"parameters": parameters, "targets": [
        {"name": "stock", "measure": "stock", "month": "2025-02", "value": 1000.0,
         "source": "test"}]}, sort_keys=False), encoding="utf-8")
    with pytest.raises(InputError, match="bounds"):
        load_targets(path, region)


def test_the_shipped_national_targets_fit_the_national_scenario(repo: Path) -> None:
    """scenarios/targets/finland_2025.yaml checks against the national scenario, and its Kela
    figures are the shipped data's to the cent."""
    from incentive_sim.data import kela_2025

    national = load_scenario(repo / "scenarios" / "finland_national_2025.yaml")
    spec: Spec = load_targets(repo / "scenarios" / "targets" / "finland_2025.yaml", national)
    kela = {(c.month, c.benefit, c.day_class): c for c in kela_2025()}
    checked = 0
    for t in spec.targets:
        if t.measure != "municipal_share" and not (t.measure == "recipients"
                                                   and t.basis == "co_financed"):
            continue
        month = int(t.month[5:]) if t.month is not None else 0
        cell = kela.get((month, t.benefit or "all", t.day_class or "all"))
        if cell is None:
            continue
        quantity = "recipients" if t.measure == "recipients" else (t.quantity or "euros")
        expected = cell.recipients if quantity == "recipients" else cell.municipal_share_eur
        assert t.value == expected, t.name
        checked += 1
    assert checked >= 40
    # the caseload forecast of 2026-2028 takes the fit through the scenario's four years
    assert spec.horizon_days <= 1461
    assert all(t.source for t in spec.targets) and all(
        p.source or p.note for p in spec.parameters)
