"""Places from the shipped public data: the 292 mainland municipalities, their employment
areas, and national figures shared out over them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from incentive_sim.cli import app
from incentive_sim.data import finland_2025, kela_2025
from incentive_sim.scenario import InputError, load_scenario
from incentive_sim.scenario.places import largest_remainder

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()

HEAD = """name: places
groups: {all: {share: 1.0, benefit_mix: {labour_market_subsidy: 1.0}}}
transitions: {employment: {rate_per_day: 0.005}}
funding: {in_force: fi_2025_graduated}
"""


def scenario_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    return path


def test_the_catalogue_has_the_292_mainland_municipalities_with_their_data() -> None:
    munis = finland_2025()
    assert len(munis) == 292
    assert len({m.code for m in munis}) == 292 and all(len(m.code) == 3 for m in munis)
    helsinki = next(m for m in munis if m.code == "091")
    assert (helsinki.name, helsinki.region, helsinki.employment_area) == (
        "Helsinki", "Uusimaa", "Helsinki")
    assert helsinki.population == 684589            # Statistics Finland, end of 2024 (prelim.)
    # the 2024 rate is the mean of the twelve monthly register shares
    assert 5 < helsinki.unemployment_rate < 20
    # Åland (outside Kela's scheme) is not in it
    assert not any(m.region == "Ahvenanmaa" for m in munis)
    # the mainland's population is the national total less Åland's 30,710
    assert sum(m.population for m in munis) == 5637214 - 30710
    # working-age (16-64) population: about 61 % of the population
    share = sum(m.working_age_population for m in munis) / sum(m.population for m in munis)
    assert 0.58 < share < 0.64
    # merged municipalities add the rows of those merged into them (Paavo 2018)
    assert all(m.working_age_population > 0 for m in munis)


def test_municipalities_without_a_known_area_fall_back_to_one_area_per_region() -> None:
    munis = finland_2025()
    unknown = [m for m in munis if not m.employment_area_known]
    assert 0 < len(unknown) < 292
    assert all(m.employment_area == f"{m.region} (area not known)" for m in unknown)


def test_kelas_2025_figures_add_up_to_the_published_total() -> None:
    cells = kela_2025()
    total = next(c for c in cells if c.month == 0 and c.benefit == "all"
                 and c.day_class == "all")
    assert total.municipal_share_eur == pytest.approx(781_133_237.62)
    months = [c for c in cells if c.month > 0 and c.benefit == "all"]
    assert len(months) == 12
    assert sum(c.municipal_share_eur for c in months) == pytest.approx(781_133_237.62)


def test_from_finland_2025_gives_every_municipality_with_code_area_and_rate(
        tmp_path: Path) -> None:
    s = load_scenario(scenario_file(tmp_path, "municipalities: {from: finland_2025}\n"))
    assert len(s.municipalities) == 292
    tampere = s.municipalities["Tampere"]
    assert tampere.code == "837" and tampere.region == "Pirkanmaa"
    assert tampere.unemployment_rate is not None and tampere.population is not None
    assert "unemployment_rate_2023" in tampere.attributes


def test_only_and_set_choose_and_override_by_name_code_or_region(tmp_path: Path) -> None:
    s = load_scenario(scenario_file(tmp_path, """municipalities:
  from: finland_2025
  only: [Kainuu, 91, Nokia]
  set: {Helsinki: {unemployment_rate: 9.5}, 536: {attributes: {pilot: 1}}}
"""))
    kainuu = [m.name for m in finland_2025() if m.region == "Kainuu"]
    assert set(s.municipalities) == {*kainuu, "Helsinki", "Nokia"}
    assert s.municipalities["Helsinki"].unemployment_rate == 9.5
    assert s.municipalities["Nokia"].attributes["pilot"] == 1.0       # Nokia's code is 536
    assert "unemployment_rate_2023" in s.municipalities["Nokia"].attributes


def test_unknown_names_codes_and_catalogues_are_reported_at_their_line(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, """municipalities:
  from: finland_2025
  only: [Tampere, Tampre, 999]
  set: {Helsinki: {population: 1}}
""")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:7: municipalities.only[1]: unknown municipality, code or region " \
           "'Tampre'" in result.stderr
    assert f"{path}:7: municipalities.only[2]" in result.stderr
    assert f"{path}:8: municipalities.set.Helsinki: unknown municipality or code" \
        in result.stderr
    bad = scenario_file(tmp_path, "municipalities: {from: finland_2024}\n")
    with pytest.raises(InputError, match="unknown catalogue of municipalities 'finland_2024'"):
        load_scenario(bad)


def test_areas_by_employment_area_pool_services_and_single_cities_stand_alone(
        tmp_path: Path) -> None:
    s = load_scenario(scenario_file(tmp_path, """municipalities: {from: finland_2025}
areas: {by: employment_area}
population:
  initial_stock: {total: 10000, allocate_by: [working_age_population, unemployment_rate]}
services:
  coaching:
    capacity: {share_of_initial_stock: 0.02}
    duration_days: {dist: exponential, mean: 90}
"""))
    assert "Helsinki" not in s.areas                     # an area of its own: its own pool
    assert "Tampere" in s.services["coaching"].capacity or any(
        "Tampere" in members for members in s.areas.values())
    pooled = {m for members in s.areas.values() for m in members}
    pools = set(s.areas) | (set(s.municipalities) - pooled)
    assert set(s.services["coaching"].capacity) == pools
    stock = s.population.initial_stock
    for pool, places in s.services["coaching"].capacity.items():
        members = s.areas.get(pool, [pool])
        assert places == max(round(0.02 * sum(stock[m] for m in members)), 1)


def test_a_total_is_shared_by_the_product_of_the_weights_and_adds_up_exactly(
        tmp_path: Path) -> None:
    s = load_scenario(scenario_file(tmp_path, """municipalities: {from: finland_2025}
population:
  initial_stock: {total: 334068, allocate_by: [working_age_population, unemployment_rate]}
  inflow_per_year: {total: 730431.5, allocate_by: population}
"""))
    stock = s.population.initial_stock
    assert sum(stock.values()) == 334068
    w = {n: m.working_age_population * (m.unemployment_rate or 0)
         for n, m in s.municipalities.items()}
    total_w = sum(w.values())
    assert all(abs(stock[n] - 334068 * w[n] / total_w) < 1 for n in stock)
    inflow = s.population.inflow_per_year
    assert sum(inflow.values()) == pytest.approx(730431.5, abs=0.1)
    pop = {n: m.population or 0 for n, m in s.municipalities.items()}
    assert inflow["Helsinki"] == pytest.approx(730431.5 * pop["Helsinki"] / sum(pop.values()),
                                               abs=1e-3)


def test_largest_remainder_rounds_to_the_total() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        share = rng.dirichlet(np.ones(20)) * 1000.3
        got = largest_remainder(share, 1000)
        assert got.sum() == 1000 and np.all(np.abs(got - share) < 1.0 + 1e-9)


def test_the_national_scenario_has_the_292_payers_and_the_end_2024_stock() -> None:
    s = load_scenario(REPO / "scenarios" / "finland_national_2025.yaml")
    assert len(s.municipalities) == 292
    assert sum(s.population.initial_stock.values()) == 334068
    assert all(m.code for m in s.municipalities.values())
