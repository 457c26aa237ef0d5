"""calibrate: the fit, the command and its outputs (the targets file and the model's figures:
test_calibration_targets.py).

The fit is tested on a small region (tests/fixtures/calibration/region.yaml) whose targets are
simulated here at known parameter values, with a seed and replications of their own (so the
fit, which uses the scenario's seed, sees independent noise); the fit must recover the known
values from a start far from them.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import incentive_sim.calibration.outputs as outputs_module
from incentive_sim.calibration.fit import Setup, fit, model_figures, objective, sampled
from incentive_sim.calibration.targets import load_targets
from incentive_sim.cli import app
from incentive_sim.scenario import InputError, Scenario, load_scenario

HERE = Path(__file__).resolve().parent / "fixtures" / "calibration"
REGION = HERE / "region.yaml"
TARGETS = HERE / "targets.yaml"
runner = CliRunner()

PARAMETERS = [
    {"name": "inflow_level", "path": "population.inflow_per_year", "scale": True,
     "start": 1.0, "bounds": [0.6, 1.6]},
    {"name": "exit_level", "path": "transitions.employment.rate_per_day", "scale": True,
     "start": 1.0, "bounds": [0.5, 1.5]},
    {"name": "counter_mean", "path": "population.initial_paid_days.mean", "start": 400,
     "bounds": [200, 1200]},
]
TRUE = (1.25, 0.8, 700.0)
# The targets of the fit: Kela-shaped municipal shares, recipients, stocks and the long-term
# share, as a national targets file has them.
FIGURES: list[dict[str, Any]] = [
    *({"name": f"share {c}", "measure": "municipal_share", "year": 2025, "day_class": c}
      for c in ("101-200", "201-300", "301-400", "401-700", "701-")),
    *({"name": f"share 2025-{m:02d}", "measure": "municipal_share", "month": f"2025-{m:02d}",
       "weight": 0.2} for m in range(1, 13)),
    {"name": "subsidy recipients", "measure": "recipients", "year": 2025,
     "benefit": "labour_market_subsidy"},
    {"name": "earnings-related recipients", "measure": "recipients", "year": 2025,
     "benefit": "earnings_related"},
    {"name": "co-financed recipients", "measure": "recipients", "year": 2025,
     "basis": "co_financed", "tolerance": 0.05},
    *({"name": f"stock {m}", "measure": "stock", "month": m}
      for m in ("2025-07", "2026-01", "2026-07")),
    {"name": "long-term share", "measure": "long_term_share", "year": 2025},
    {"name": "gross benefits", "measure": "gross_benefits", "year": 2025},
    # reported, not fitted: the caseload at the start is the scenario's, whatever the values
    {"name": "stock at the start", "measure": "stock", "month": "2025-01", "weight": 0},
]


@pytest.fixture(scope="module")
def region() -> Scenario:
    return load_scenario(REGION)


def write_targets(path: Path, figures: list[dict[str, Any]], values: Any,
                  parameters: list[dict[str, Any]] = PARAMETERS) -> Path:
    targets = [{**f, "value": float(v), "source": "simulated at the true values"}
               for f, v in zip(figures, values, strict=True)]
    path.write_text(yaml.safe_dump({"parameters": parameters, "targets": targets},
                                   sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def true_targets(region: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The targets simulated at TRUE: seed 999 (not the scenario's 11), mean of 4
    replications."""
    folder = tmp_path_factory.mktemp("targets")
    draft = write_targets(folder / "draft.yaml", FIGURES, [1.0] * len(FIGURES))
    spec = load_targets(draft, region)
    setup = Setup(region.model_dump(mode="json", by_alias=True), spec, 999, 4)
    return write_targets(folder / "targets.yaml", FIGURES, model_figures(setup, TRUE, 1.0))


# ---------------------------------------------------------------- bad input

def test_a_bad_targets_file_exits_2_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text(TARGETS.read_text(encoding="utf-8").replace("day_class: 701-",
                                                                "day_class: 501-"),
                    encoding="utf-8")
    result = runner.invoke(app, ["calibrate", str(REGION), "--targets", str(path),
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"{path}:24: targets[0].day_class: the rule in force (fi_2025_graduated) bills no "
        f"class '501-'; its classes: 101-200, 201-300, 301-400, 401-700, 701-")
    assert not (tmp_path / "out").exists()
    missing = runner.invoke(app, ["calibrate", str(REGION), "--targets",
                                  str(tmp_path / "none.yaml"), "--out", str(tmp_path / "out")])
    assert missing.exit_code == 2 and "none.yaml: (document): file not found" in missing.stderr


def test_bad_options_exit_2(tmp_path: Path) -> None:
    for options in (["--sample", "0"], ["--sample", "1.5"], ["--method", "newton"]):
        result = runner.invoke(app, ["calibrate", str(REGION), "--targets", str(TARGETS),
                                     "--out", str(tmp_path / "out"), *options])
        assert result.exit_code == 2, (options, result.output)
        assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- the fit

def test_a_sample_scales_people_and_places_and_is_scaled_back(region: Scenario,
                                                             tmp_path: Path) -> None:
    data = sampled(region.model_dump(mode="json", by_alias=True), 0.3)
    assert data["population"]["initial_stock"] == {"North": 420, "South": 180}
    assert data["population"]["inflow_per_year"] == pytest.approx({"North": 480, "South": 240})
    assert data["services"]["coaching"]["capacity"] == {"Both": 18}
    uneven = sampled({"population": {"initial_stock": {"a": 5, "b": 5, "c": 5}},
                      "services": {}}, 0.5)["population"]["initial_stock"]
    assert sum(uneven.values()) == 8 and sorted(uneven.values()) == [2, 3, 3]
    # the former jobseekers in work at the start are people too
    pool = sampled({"population": {"initial_employed": {"a": 100, "b": 300}},
                    "services": {}}, 0.1)["population"]["initial_employed"]
    assert pool == {"a": 10, "b": 30}
    path = write_targets(tmp_path / "t.yaml", [{"name": "start", "measure": "stock",
                                                "month": "2025-01"},
                                               {"name": "share", "measure": "long_term_share",
                                                "month": "2025-01"}], [1.0, 1.0])
    setup = Setup(region.model_dump(mode="json", by_alias=True), load_targets(path, region),
                  11, 1)
    full = model_figures(setup, (1.0, 1.0, 400.0), 1.0)
    half = model_figures(setup, (1.0, 1.0, 400.0), 0.5)
    assert full[0] == half[0] == 2000          # the people at the start, scaled back
    assert 0 < half[1] < 1 and half[1] != full[1]    # a share is not scaled


def test_the_fit_recovers_the_true_parameters(region: Scenario, true_targets: Path) -> None:
    """From (1, 1, 400), with the scenario's seed against targets of another seed.

    Tolerances from the simulation noise: fitting these targets with each of the seeds 1-12
    instead of 11 gave fitted values with standard deviations of about 0.026, 0.027 and 19,
    at most 0.056, 0.058 and 39 away from the true values (the targets' own noise shifts them
    all alike), and objectives 63 to 1,000 times lower than at the start; the tolerances are
    about 1.5 times those largest misses, and the start is more than twice as far away."""
    spec = load_targets(true_targets, region)
    result = fit(region, spec, max_evaluations=40)
    tolerance = np.array([0.08, 0.08, 60.0])
    start = np.array([p.start for p in spec.parameters])
    assert np.all(np.abs(start - TRUE) > 2 * tolerance)
    fitted = np.array(result.best.theta)
    assert np.all(np.abs(fitted - TRUE) < tolerance), fitted
    assert result.best.objective < result.first.objective / 50
    assert len(result.evaluations) <= 40
    assert result.full is None          # no sample: nothing to confirm


def test_every_evaluation_uses_the_same_random_numbers(region: Scenario,
                                                       true_targets: Path) -> None:
    """Common random numbers: the same vector gives the same figures in any evaluation, and a
    small change of the inflow moves the figures a little, not by fresh noise.

    Three replications: a 1 % larger inflow renumbers the newcomers, whose own draws then
    change, so one replication's move is itself noisy (0.2-3 % over seeds 11-16, as much before
    per-person reviews as after); the mean of three stays within 1 %."""
    setup = Setup(region.model_dump(mode="json", by_alias=True),
                  load_targets(true_targets, region), 11, 3)
    a = model_figures(setup, (1.0, 1.0, 400.0), 1.0)
    assert np.array_equal(a, model_figures(setup, (1.0, 1.0, 400.0), 1.0))
    b = model_figures(setup, (1.01, 1.0, 400.0), 1.0)
    c = model_figures(Setup(setup.base, setup.spec, 12, 3), (1.0, 1.0, 400.0), 1.0)
    stocks = [i for i, f in enumerate(FIGURES) if f["measure"] == "stock"
              and f.get("weight", 1) > 0]
    moved = np.abs(b - a)[stocks] / a[stocks]
    noise = np.abs(c - a)[stocks] / a[stocks]
    assert moved.max() < 0.01 and moved.max() < noise.max()


def test_nelder_mead_lowers_the_objective_within_the_budget(region: Scenario,
                                                           true_targets: Path) -> None:
    spec = load_targets(true_targets, region)
    result = fit(region, spec, max_evaluations=15, method="nelder_mead", sample=0.5)
    assert len(result.evaluations) == 15
    assert result.best.objective < result.first.objective / 3
    assert result.full is not None and result.full.sample == 1.0


# ---------------------------------------------------------------- the command and its outputs

def calibrate(tmp_path: Path, targets: Path, out: str, *options: str) -> Path:
    folder = tmp_path / out
    result = runner.invoke(app, ["calibrate", str(REGION), "--targets", str(targets),
                                 "--out", str(folder), *options])
    assert result.exit_code == 0, result.output
    return folder


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def sampled_run(true_targets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sampled calibration through the command: fitted on half the population, confirmed
    at full scale."""
    return calibrate(tmp_path_factory.mktemp("run"), true_targets, "out", "--sample", "0.5",
                     "--max-evaluations", "20")


def test_the_command_writes_every_output(sampled_run: Path, region: Scenario) -> None:
    names = {p.name for p in sampled_run.iterdir()}
    assert names == {"scenario.fitted.yaml", "fit.csv", "parameters.csv", "evaluations.csv",
                     "plots", "calibration.json", "manifest.json"}
    assert {p.name for p in (sampled_run / "plots").iterdir()} == {
        "municipal_share_by_month.png", "municipal_share_by_class.png",
        "relative_differences.png"}
    record = json.loads((sampled_run / "calibration.json").read_text(encoding="utf-8"))
    assert (record["seed"], record["replications"], record["sample"]) == (11, [0], 0.5)
    assert record["evaluations"] == 20 and record["horizon_days"] == 547
    assert record["objective"]["best_sample"] < record["objective"]["start_sample"] / 10
    params = rows(sampled_run / "parameters.csv")
    assert [p["name"] for p in params] == ["inflow_level", "exit_level", "counter_mean"]
    fitted = {p["name"]: float(p["fitted"]) for p in params}
    assert fitted == pytest.approx({k: v["fitted"] for k, v in record["parameters"].items()},
                                   rel=1e-9)
    # the fitted scenario loads, and holds the fitted values at full scale
    scenario = load_scenario(sampled_run / "scenario.fitted.yaml")
    assert scenario.population.inflow_per_year["North"] == pytest.approx(
        1600 * fitted["inflow_level"])
    rates = scenario.transitions.employment.rate_per_day
    assert rates == pytest.approx([r * fitted["exit_level"] for r in (0.006, 0.004, 0.0025)])
    assert scenario.population.initial_paid_days.mean == pytest.approx(  # type: ignore
        fitted["counter_mean"])
    assert scenario.population.initial_stock == region.population.initial_stock
    assert scenario.horizon_days == region.horizon_days
    result = runner.invoke(app, ["validate", str(sampled_run / "scenario.fitted.yaml")])
    assert result.exit_code == 0
    evaluations = rows(sampled_run / "evaluations.csv")
    assert len(evaluations) == 21 and evaluations[-1]["sample"] == "1"
    assert [e["sample"] for e in evaluations[:-1]] == ["0.5"] * 20


def test_the_fit_table_reports_relative_differences_at_both_scales(
        sampled_run: Path, region: Scenario, true_targets: Path) -> None:
    table = rows(sampled_run / "fit.csv")
    assert [r["target"] for r in table] == [f["name"] for f in FIGURES]
    for r in table:    # figures are written with 10 significant digits
        value = float(r["value"])
        for model, rel in (("model_sample", "relative_difference_sample"),
                           ("model_full", "relative_difference"),
                           ("model_start", "relative_difference_start")):
            assert float(r[rel]) == pytest.approx((float(r[model]) - value) / value,
                                                  rel=1e-8, abs=1e-9)
        if r["tolerance"]:
            met = abs(float(r["relative_difference"])) <= float(r["tolerance"])
            assert r["within_tolerance"] == ("yes" if met else "no")
        else:
            assert r["within_tolerance"] == ""
    # the full-scale column is the model at the fitted values, at full scale
    spec = load_targets(true_targets, region)
    setup = Setup(region.model_dump(mode="json", by_alias=True), spec, 11, 1)
    record = json.loads((sampled_run / "calibration.json").read_text(encoding="utf-8"))
    fitted = tuple(p["fitted"] for p in record["parameters"].values())   # full precision
    full = model_figures(setup, fitted, 1.0)
    assert [float(r["model_full"]) for r in table] == pytest.approx(full, rel=1e-9)
    assert record["objective"]["best_full"] == pytest.approx(objective(full, spec), rel=1e-9)
    # weight 0: reported, not fitted; the caseload at the start is exact at either scale
    start = next(r for r in table if r["target"] == "stock at the start")
    assert float(start["model_sample"]) == float(start["model_full"]) == 2000


def test_the_same_seed_gives_the_same_fit(sampled_run: Path, true_targets: Path,
                                          tmp_path: Path) -> None:
    again = calibrate(tmp_path, true_targets, "again", "--sample", "0.5",
                      "--max-evaluations", "20")
    for name in ("fit.csv", "parameters.csv", "evaluations.csv", "scenario.fitted.yaml"):
        assert (again / name).read_bytes() == (sampled_run / name).read_bytes(), name

    def record(folder: Path) -> dict[str, Any]:
        data = json.loads((folder / "calibration.json").read_text(encoding="utf-8"))
        data["provenance"].pop("wall_time_s")
        data["provenance"].pop("command")
        return data
    assert record(again) == record(sampled_run)
    # another seed: the same starting vector, other random numbers, another objective (two
    # evaluations are enough to see it; a whole search would only repeat the point)
    other = calibrate(tmp_path, true_targets, "other", "--sample", "0.5",
                      "--max-evaluations", "2", "--seed", "12")
    first, first_other = rows(sampled_run / "evaluations.csv")[0], rows(
        other / "evaluations.csv")[0]
    names = ["inflow_level", "exit_level", "counter_mean"]
    assert [first[n] for n in names] == [first_other[n] for n in names]
    assert first["sample"] == first_other["sample"] == "0.5"
    assert first["objective"] != first_other["objective"]


def test_a_failed_calibration_leaves_the_earlier_outputs_whole(
        sampled_run: Path, true_targets: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(outputs_module, "write_calibration_plots", broken)
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError, match="disk full"):
        runner.invoke(app, ["calibrate", str(REGION), "--targets", str(true_targets),
                            "--out", str(fresh), "--max-evaluations", "2"],
                      catch_exceptions=False)
    assert not fresh.exists()          # nothing half-written, not even the folder
    earlier = {p.name: p.read_bytes() for p in sampled_run.iterdir() if p.is_file()}
    with pytest.raises(RuntimeError, match="disk full"):
        runner.invoke(app, ["calibrate", str(REGION), "--targets", str(true_targets),
                            "--out", str(sampled_run), "--max-evaluations", "2"],
                      catch_exceptions=False)
    assert {p.name: p.read_bytes() for p in sampled_run.iterdir() if p.is_file()} == earlier
    assert not [p for p in sampled_run.iterdir() if p.name.startswith(".partial")]


def test_a_refused_parameter_value_is_bad_input(region: Scenario, tmp_path: Path) -> None:
    """A value between bounds that the scenario refuses (here the take-up of services may not
    exceed 1) stops the fit with the parameters named."""
    parameters = [{"name": "take_up", "path": "policy.take_up", "start": 0.5,
                   "bounds": [0.0, 1.0]}]
    path = write_targets(tmp_path / "t.yaml", [{"name": "s", "measure": "stock",
                                                "month": "2025-02"}], [2000.0], parameters)
    spec = load_targets(path, region)
    setup = Setup(region.model_dump(mode="json", by_alias=True), spec, 11, 1)
    with pytest.raises(InputError, match=r"take_up = 1\.5"):
        setup.scenario((1.5,))
    assert math.isfinite(model_figures(setup, (0.5,), 1.0)[0])


def test_calibrate_from_python_gives_the_fit_table_and_the_fitted_values(
        true_targets: Path, tmp_path: Path) -> None:
    import incentive_sim as isim

    result = isim.calibrate(REGION, true_targets, max_evaluations=3)
    assert result.folder is None                        # nothing kept without `out`
    assert {"fit", "parameters", "evaluations"} <= set(result.tables)
    fit_table = result.table("fit")
    n = len(FIGURES)
    assert len(fit_table["target"]) == n
    rel = (fit_table["model_full"] - fit_table["value"]) / fit_table["value"]
    np.testing.assert_allclose(fit_table["relative_difference"], rel, rtol=1e-6, atol=1e-9)
    assert list(result.table("parameters")["name"]) == [p["name"] for p in PARAMETERS]
    kept = isim.calibrate(REGION, true_targets, tmp_path / "kept", max_evaluations=3)
    assert (tmp_path / "kept" / "calibration.json").is_file() and kept.folder is not None
    assert kept.table("parameters")["fitted"].tolist() == \
        result.table("parameters")["fitted"].tolist()         # the same seed, the same fit
