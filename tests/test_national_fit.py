"""The national scenario against Kela's 2025 bill, as a user runs it: `incentive-sim run
scenarios/finland_national_2025.yaml --replications 1` writes the bill and the yearly table
for all 292 municipalities, and the bill lies within the bounds the calibration promises
(docs/validation.md has every figure). One full-scale replication: about a minute."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from incentive_sim.accounting.ledger import Plan
from incentive_sim.calibration.moments import measure
from incentive_sim.calibration.targets import load_targets
from incentive_sim.cli import app
from incentive_sim.data import finland_2025, kela_2025
from incentive_sim.scenario import load_scenario
from incentive_sim.simulation.engine import simulate

REPO = Path(__file__).resolve().parents[1]
NATIONAL = REPO / "scenarios" / "finland_national_2025.yaml"
TARGETS = REPO / "scenarios" / "targets" / "finland_2025.yaml"


@pytest.fixture(scope="module")
def national_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("national") / "run"
    result = CliRunner().invoke(app, ["run", str(NATIONAL), "--replications", "1",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def kela(benefit: str = "all", day_class: str = "all") -> float:
    return next(c.municipal_share_eur for c in kela_2025()
                if c.month == 0 and c.benefit == benefit and c.day_class == day_class)


def test_both_files_cover_the_292_municipalities(national_run: Path) -> None:
    codes = {m.code for m in finland_2025()}
    assert len(codes) == 292
    bill = rows_of(national_run / "municipal_share_monthly.csv")
    yearly = rows_of(national_run / "municipalities_yearly.csv")
    assert {r["municipality_code"] for r in bill} == codes
    assert {r["municipality_code"] for r in yearly} == codes
    assert {r["year"] for r in yearly} == {"2025", "2026", "2027", "2028"}


def test_the_2025_bill_is_kelas_within_the_promised_bounds(national_run: Path) -> None:
    rows = [r for r in rows_of(national_run / "municipal_share_monthly.csv")
            if r["month"].startswith("2025")]
    by: dict[tuple[str, str], float] = defaultdict(float)
    for r in rows:
        euros = float(r["municipal_share_eur"])
        by[("all", "all")] += euros
        by[(r["benefit"], "all")] += euros
        by[("all", r["day_class"])] += euros
        by[("month", r["month"])] += euros
    assert by[("all", "all")] == pytest.approx(kela(), rel=0.04)
    for benefit in ("labour_market_subsidy", "earnings_related", "basic_allowance"):
        assert by[(benefit, "all")] == pytest.approx(kela(benefit), rel=0.10), benefit
    for day_class in ("101-200", "201-300", "301-400", "401-700", "701-"):
        assert by[("all", day_class)] == pytest.approx(kela("all", day_class),
                                                       rel=0.15), day_class
    months = [f"2025-{m:02d}" for m in range(2, 10)]
    published = np.mean([c.municipal_share_eur for c in kela_2025()
                         if c.benefit == "all" and c.day_class == "all" and 2 <= c.month <= 9])
    model = np.mean([by[("month", m)] for m in months])
    assert model == pytest.approx(published, rel=0.05)
    # the yearly table's 2025 municipal share of the rule in force is the year's bills
    yearly = sum(float(r["municipal_share_eur"])
                 for r in rows_of(national_run / "municipalities_yearly.csv")
                 if r["rule"] == "fi_2025_graduated" and r["year"] == "2025")
    assert yearly == pytest.approx(by[("all", "all")], abs=0.01 * len(rows))


def test_recipients_during_2025_by_benefit_are_within_ten_percent() -> None:
    """Distinct people paid a subsidy or basic-allowance day during 2025, measured as the
    calibration measures them (on the targets' horizon, the scenario's seed)."""
    scenario = load_scenario(NATIONAL)
    spec = load_targets(TARGETS, scenario)
    wanted = [i for i, t in enumerate(spec.targets) if t.measure == "recipients"
              and t.basis is None and t.year == 2025]
    assert {spec.targets[i].benefit for i in wanted} == {"labour_market_subsidy",
                                                         "basic_allowance"}
    short = scenario.model_copy(update={"horizon_days": 400})
    sub = type(spec)(spec.file, spec.parameters, tuple(spec.targets[i] for i in wanted),
                     tuple(spec.windows[i] for i in wanted), spec.labels, 400)
    plan = Plan.of(short, [short.funding.in_force])
    figures = measure(sub, plan, simulate(short, 0, short.seed))
    for t, model in zip(sub.targets, figures, strict=True):
        assert model == pytest.approx(t.value, rel=0.10), t.name
