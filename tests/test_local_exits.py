"""Local labour markets: the exit rates fitted to monthly register rates, and the multiplier a
municipality's attribute puts on its unemployed's exit hazards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from incentive_sim.cli import app
from incentive_sim.data import exit_fit, finland_2025
from incentive_sim.data.dynamics import fit_exit_rates
from incentive_sim.scenario import load_scenario
from incentive_sim.scenario.vocabulary import STATE_CODE
from incentive_sim.simulation.engine import simulate

runner = CliRunner()


def _stock_series(h: np.ndarray, b: np.ndarray, s: np.ndarray, u0: np.ndarray) -> np.ndarray:
    u = np.empty((h.size, s.size + 1))
    u[:, 0] = u0
    for t in range(s.size):
        u[:, t + 1] = (1 - h) * u[:, t] + b * s[t]
    return u


def test_the_stock_model_recovers_exit_rates_and_their_slope_without_noise() -> None:
    rng = np.random.default_rng(5)
    n, months = 60, 25
    level = rng.uniform(4, 16, n)                   # steady-state rates, %
    h = 0.2 * (level / 10) ** -0.5                  # true slope -0.5
    season = 1 + 0.3 * np.sin(np.arange(months - 1) * 2 * np.pi / 12) + 0.01 * np.arange(
        months - 1)
    u = _stock_series(h, h * level, season, level)
    fit = fit_exit_rates(u, np.ones(n))
    assert np.allclose(fit.h, h, rtol=1e-4)
    # the line is drawn against each series' mean rate (not the steady state it moves around)
    assert abs(fit.slope - np.polyfit(np.log(u.mean(1)), np.log(h), 1)[0]) < 1e-3
    # without noise nothing is shrunk, and the index is h relative to its mean over the
    # unemployed
    assert np.allclose(fit.shrunk, fit.h, rtol=1e-3)
    assert abs(np.average(fit.index, weights=u.mean(1)) - 1) < 1e-12


def test_noisy_small_places_are_shrunk_towards_the_line() -> None:
    rng = np.random.default_rng(6)
    n, months = 200, 25
    level = rng.uniform(4, 16, n)
    h = 0.2 * (level / 10) ** -0.5
    season = 1 + 0.3 * np.sin(np.arange(months - 1) * 2 * np.pi / 12)
    u = _stock_series(h, h * level, season, level)
    size = np.where(np.arange(n) < 20, 100.0, 1.0)   # 20 large places, 180 small ones
    noisy = u + rng.normal(0, 0.05, u.shape) / np.sqrt(size)[:, None]
    fit = fit_exit_rates(noisy, size)
    err_raw = (np.log(fit.h) - np.log(h))[20:]
    err_shrunk = (np.log(fit.shrunk) - np.log(h))[20:]
    # the true values lie on a line (up to the small common offset of drawing it against the
    # series' mean rate), so shrinking the noisy small places towards it removes their noise
    assert fit.spread < 0.05
    assert err_shrunk.std() < 0.5 * err_raw.std()
    assert abs(fit.slope + 0.5) < 0.1


def test_the_shipped_fit_gives_slower_exits_where_unemployment_is_high() -> None:
    fit = exit_fit()
    # standard errors of the slope are not given by the fit; the split halves of the data give
    # -0.57 and -0.40, so any value in (-0.8, -0.2) is the data speaking
    assert -0.8 < fit.slope < -0.2
    records = finland_2025()
    rate = np.array([m.unemployment_rate for m in records])
    index = np.array([m.exit_index for m in records])
    assert np.corrcoef(np.log(rate), np.log(index))[0, 1] < -0.5
    assert all(0.5 < m.exit_index < 2.5 for m in records)
    assert all(0.6 < m.labour_force_participation < 0.9 for m in records)


SCENARIO = """name: local exits
start_date: 2025-01-01
horizon_days: 3000
seed: 3
replications: 1
municipalities:
  slow: {working_age_population: 1000, attributes: {pace: 0.5}}
  fast: {working_age_population: 1000, attributes: {pace: 2.0}}
groups: {all: {share: 1.0, benefit_mix: {labour_market_subsidy: 1.0}}}
population:
  initial_stock: {slow: 0, fast: 0}
  inflow_per_year: {slow: 3000, fast: 3000}
transitions:
  employment: {rate_per_day: 0.01}
  exit_multiplier_by: pace
funding: {in_force: fi_2025_graduated}
"""


def test_an_attribute_multiplies_the_exit_hazards_of_the_municipality(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    s = load_scenario(path)
    result = simulate(s, seed=3, replication=0)
    t = result.spells
    for m, pace in ((0, 0.5), (1, 2.0)):
        # the unemployment of people arriving in the first 1000 days (mean 1 / (0.01 pace)
        # = 200 or 50 days); the exponential's mean from censored data is the time at risk
        # over the exits (the maximum likelihood estimate, standard error mean / sqrt(exits))
        mine = (t.municipality == m) & (t.state == STATE_CODE["unemployed"]) & (
            t.start_day < 1000)
        d = t.end_day[mine] - t.start_day[mine]
        exits = int(np.count_nonzero(~t.censored[mine]))
        estimate = d.sum() / exits
        mean = 1 / (0.01 * pace)
        assert abs(estimate - mean) < 4 * mean / np.sqrt(exits), (m, estimate, exits)


def test_a_missing_attribute_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace("attributes: {pace: 2.0}", "attributes: {}"),
                    encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "transitions.exit_multiplier_by" in result.output
    assert "no attribute 'pace'" in result.output


def test_the_fit_is_printed_for_anyone_to_rerun(capsys: pytest.CaptureFixture[str]) -> None:
    from incentive_sim.data.dynamics import main

    main()
    out = capsys.readouterr().out
    fit = exit_fit()
    assert f"slope of log exit rate on log unemployment rate: {fit.slope:.3f}" in out
    assert "seasonal factors January to December" in out
    assert "Helsinki" in out


def test_the_inflow_path_splits_into_its_trend_and_seasons() -> None:
    from incentive_sim.data.dynamics import inflow_path

    season = np.array([1.0, 1.1, 0.9, 0.8, 0.8, 1.3, 1.2, 0.6, 0.9, 1.0, 1.0, 1.4])
    season = season / np.exp(np.log(season).mean())       # the product of the factors is 1
    months = np.arange(24)
    first = 2                                                # the path begins in February
    path = 1.08 ** (months / 12) * season[(first - 1 + months) % 12]
    got = inflow_path(path, first)
    assert got.growth_per_year == pytest.approx(0.08, abs=1e-9)
    assert np.allclose(got.seasonality, season / season.mean())
    # the shipped data: unemployment grew through 2024, and June, July and December are the
    # months of the year's largest inflow
    fit = exit_fit()
    shipped = inflow_path(fit.path, 2)
    assert shipped.growth_per_year > 0
    assert set(np.argsort(shipped.seasonality)[-3:]) == {5, 6, 11}
