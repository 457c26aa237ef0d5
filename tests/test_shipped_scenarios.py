"""Every shipped scenario loads, and a small slice of it (2 % of the people, one year) runs and
is priced under all its rules with every payer's amounts adding up to the gross outlay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from incentive_sim.analysis.ledger import Ledger
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
