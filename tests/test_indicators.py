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


def test_the_month_start_counts_are_each_month_looked_at_in_turn(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The indicators counted by (spell, month) pairs equal the definition, month by month:
    a spell is present at the month starts t with start <= t < end, and its duration there
    is t - origin. Spells begin and end on month starts, a hair either side, between and
    outside the horizon, zero-length and with origins long before; in blocks smaller than
    the spells (the blocks' edges)."""
    from incentive_sim.accounting import outcomes
    from incentive_sim.accounting.outcomes import DURATION_CLASSES, LONG_TERM_DAYS, Runs
    from incentive_sim.funding.spells import SpellTable

    rng = np.random.default_rng(7)
    starts = np.array([0.0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334])
    n, n_munis = 3000, 4
    edge = rng.choice(starts, n) + rng.choice([0.0, 1e-9, -1e-9, 0.5], n)
    start = np.where(rng.random(n) < 0.4, edge, rng.uniform(-20, 370, n))
    end = start + np.where(rng.random(n) < 0.1, 0.0, rng.exponential(120, n))
    end = np.where(rng.random(n) < 0.2, rng.choice(starts, n), end)
    end = np.maximum(end, start)
    runs = Runs(person=np.arange(n), municipality=rng.integers(0, n_munis, n),
                origin=start - np.where(rng.random(n) < 0.3, rng.exponential(600, n), 0.0),
                start=start, end=end, censored=rng.random(n) < 0.2,
                initial=np.zeros(n, bool), next_state=rng.integers(-1, 8, n))
    spells = SpellTable.from_columns(
        {"person_id": np.arange(1), "state": np.zeros(1, np.int8),
         "benefit": np.zeros(1, np.int8), "daily_amount": np.ones(1),
         "start_day": np.zeros(1), "end_day": np.ones(1)},
        municipalities=tuple(f"m{i}" for i in range(n_munis)))
    got = [outcomes.monthly_indicators(spells, starts, runs=runs)]
    monkeypatch.setattr(outcomes, "INDICATOR_RUNS", 7)
    got.append(outcomes.monthly_indicators(spells, starts, runs=runs))
    expected = np.zeros_like(got[0])
    first_class = expected.shape[2] - len(DURATION_CLASSES)
    for m, t in enumerate(starts):
        present = (runs.start <= t) & (runs.end > t)
        duration = t - runs.origin
        expected[m, :, 0] = np.bincount(runs.municipality[present & (duration
                                                                     >= LONG_TERM_DAYS)],
                                        minlength=n_munis)
        for c, (lo, hi, _) in enumerate(DURATION_CLASSES):
            inside = present & (duration >= lo) & (duration < hi)
            expected[m, :, first_class + c] = np.bincount(runs.municipality[inside],
                                                          minlength=n_munis)
    assert expected[:, :, 0].sum() > 0 and expected[:, :, first_class].sum() > 0
    for counts in got:
        np.testing.assert_array_equal(counts[:, :, [0, *range(first_class, counts.shape[2])]],
                                      expected[:, :, [0, *range(first_class,
                                                                expected.shape[2])]])
