"""indicators_monthly.csv agrees with the run's other outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from incentive_sim.experiments.run import run_scenario
from incentive_sim.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("indicators")
    run_scenario(load_scenario(REPO / "tests/fixtures/small_run.yaml"), out, replications=2)
    return out


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_indicators_agree_with_the_outcomes_and_the_stock(run_dir: Path) -> None:
    table = rows(run_dir / "indicators_monthly.csv")
    outcomes = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["outcomes"]
    all_rows = [r for r in table if r["municipality"] == "ALL"]
    first = all_rows[0]
    assert float(first["jobseekers"]) == pytest.approx(outcomes["unemployed_start"])
    assert float(first["long_term"]) == pytest.approx(outcomes["long_term_unemployed_start"])
    for key in ("exits_to_employment", "exits_to_education"):
        assert sum(float(r[key]) for r in all_rows) == pytest.approx(outcomes[key])
    # ALL is the sum of the municipalities; shares are the ratios
    months = sorted({r["month"] for r in table})
    for month in months:
        here = [r for r in table if r["month"] == month]
        total = next(r for r in here if r["municipality"] == "ALL")
        for key in ("jobseekers", "in_service", "long_term", "exits_to_employment"):
            parts = sum(float(r[key]) for r in here if r["municipality"] != "ALL")
            assert float(total[key]) == pytest.approx(parts)
        assert float(total["activation_rate"]) == pytest.approx(
            float(total["in_service"]) / float(total["jobseekers"]), abs=1e-4)
    # jobseekers at each month start are the unemployed, waiting and service stock
    stock = rows(run_dir / "stock_monthly.csv")
    for month in months[:3]:
        seekers = sum(float(r["count"]) for r in stock if r["month"] == month
                      and r["state"] in ("unemployed", "waiting", "service"))
        total = next(r for r in table if r["month"] == month and r["municipality"] == "ALL")
        assert float(total["jobseekers"]) == pytest.approx(seekers)
    assert np.mean([float(r["long_term_share"]) for r in all_rows]) > 0
    # the duration classes partition the jobseekers; the last two are the long-term
    classes = ("under_3_months", "3_to_12_months", "12_to_24_months", "24_months_or_more")
    for r in table:
        parts = [float(r[f"unemployed_{c}"]) for c in classes]
        assert sum(parts) == pytest.approx(float(r["jobseekers"]))
        assert parts[2] + parts[3] == pytest.approx(float(r["long_term"]))


def test_service_clients_by_month_add_up_to_the_stock_in_services() -> None:
    from incentive_sim.accounting.ledger import Plan
    from incentive_sim.accounting.outcomes import services_by_month, stock_by_month
    from incentive_sim.scenario.vocabulary import STATE_CODE
    from incentive_sim.simulation.engine import simulate

    s = load_scenario(REPO / "tests/fixtures/small_run.yaml")
    spells = simulate(s, 0).spells
    starts = Plan.of(s).month_starts
    by_service = services_by_month(spells, starts)
    stock = stock_by_month(spells, starts).sum(axis=(1, 2))      # (month, state)
    assert by_service[:, :, 1].sum() > 0
    np.testing.assert_allclose(by_service[:, :, 1].sum(axis=1), stock[:, STATE_CODE["service"]])
    np.testing.assert_allclose(by_service[:, :, 0].sum(axis=1), stock[:, STATE_CODE["waiting"]])


def test_the_digest_read_in_chunks_of_rows_is_the_digest_read_whole(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs, the stock by month and the transitions are read a million rows at a time at
    national scale: chunks of a few dozen rows (people never split where it matters) give
    the same runs, in the same order, and the same counts."""
    import dataclasses

    from incentive_sim.accounting import outcomes
    from incentive_sim.accounting.ledger import Plan
    from incentive_sim.simulation.engine import simulate

    s = load_scenario(REPO / "tests/fixtures/small_run.yaml")
    result = simulate(s, 0)
    spells, months = result.spells, Plan.of(s).month_starts
    whole = outcomes.Runs.of(spells, result.elapsed_days, chunk_rows=10 ** 9)
    stock, transitions = (outcomes.stock_by_month(spells, months),
                          outcomes.transition_counts(spells))
    monkeypatch.setattr(outcomes, "CHUNK_ROWS", 37)
    chunked = outcomes.Runs.of(spells, result.elapsed_days)
    assert len(outcomes.person_chunks(spells, 37)) > 10
    for f in dataclasses.fields(whole):
        assert np.array_equal(getattr(whole, f.name), getattr(chunked, f.name)), f.name
    assert np.array_equal(outcomes.stock_by_month(spells, months), stock)
    assert np.array_equal(outcomes.transition_counts(spells), transitions)
    assert stock.sum() > 0 and transitions.sum() > 0
