"""Every shipped scenario loads, and a small slice of it (2 % of the people, one year) runs and
is priced under all its rules with every payer's amounts adding up to the gross outlay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from incentive_sim.accounting.ledger import Ledger
from incentive_sim.scenario import Scenario, load_scenario
from incentive_sim.simulation.engine import simulate

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))


def test_the_issue_scenarios_are_all_shipped() -> None:
    assert {p.stem for p in SCENARIOS} >= {
        "tampere_region_2025", "finland_national_2025", "pirkanmaa_2017_activation",
        "denmark_style_refusion", "progress_bonus"}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_a_slice_of_each_shipped_scenario_runs_and_prices(path: Path) -> None:
    s = load_scenario(path)
    assert path.read_text(encoding="utf-8").startswith("#"), "documented at its top"
    pop = s.population
    small = s.model_copy(update={"horizon_days": 365, "population": pop.model_copy(update={
        "initial_stock": {m: max(n // 50, 1) for m, n in pop.initial_stock.items()},
        "inflow_per_year": {m: n / 50 for m, n in pop.inflow_per_year.items()}})})
    assert isinstance(small, Scenario)
    result = simulate(small)
    assert len(result.spells) > 0
    ledger = Ledger.build(small, result.spells)
    gross = ledger.gross.sum()
    assert gross > 0
    for rule in ledger.rules:
        totals = ledger.totals(rule)
        # payers add up to the gross outlay plus what moves between them (transfers, bonuses)
        moved = ledger.by_item(rule)["gross"]
        assert totals["gross"] - moved["transfer"] - moved["bonus"] == pytest.approx(
            gross, rel=1e-9)
        assert np.isfinite(list(totals.values())).all()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_comparison_invariants_hold_on_each_shipped_scenario(path: Path, tmp_path: Path
                                                              ) -> None:
    """On a slice of each scenario (2 % of the people, one year, two replications): the rule in
    force compared with itself differs by exactly zero, every rule has the same gross outlay to
    the cent, and the payers' differences cancel."""
    import csv

    from incentive_sim.experiments.compare import compare

    s = load_scenario(path)
    pop = s.population
    small = s.model_copy(update={"horizon_days": 365, "population": pop.model_copy(update={
        "initial_stock": {m: max(n // 50, 1) for m, n in pop.initial_stock.items()},
        "inflow_per_year": {m: n / 50 for m, n in pop.inflow_per_year.items()}})})
    rules = [s.funding.in_force, *s.rule_names(), s.funding.in_force]
    compare(small, rules, tmp_path, replications=2)
    with (tmp_path / "comparison.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        key = (row["municipality"], row["payer"], row["item"])
        if row["rule"] == s.funding.in_force:   # the reference, and the same rule again
            assert row["diff_mean"] == "0.00", key              # itself: exactly zero
        if row["payer"] == "gross":
            assert row["diff_mean"] == "0.00", (row["rule"], key)   # same gross to the cent
    by_key = {(r["rule"], r["municipality"], r["payer"], r["item"]): r for r in rows}
    for rule in rules:
        for m in ("ALL", *s.municipalities):
            cancel = sum(float(by_key[(rule, m, p, "total")]["diff_mean"])
                         for p in ("state", "municipality", "fund"))
            assert abs(cancel) <= 0.03, (rule, m)
