"""The outputs do not depend on how replications are executed: serially, in local worker
processes or on a Dask cluster (a LocalCluster started here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from incentive_sim.experiments import executors
from incentive_sim.experiments import run as run_module
from incentive_sim.experiments.executors import run_jobs
from incentive_sim.experiments.run import run_scenario
from incentive_sim.scenario import InputError, Scenario, load_scenario

REPO = Path(__file__).resolve().parents[1]
FILES = ("costs_monthly.csv", "stock_monthly.csv", "transitions.csv", "scenario.resolved.yaml",
         "spells.csv.gz")


@pytest.fixture(scope="module")
def small() -> Scenario:
    s = load_scenario(REPO / "tests/fixtures/small_run.yaml")
    return s.model_copy(update={"replications": 3})


@pytest.fixture(scope="module")
def serial(small: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serial")
    run_scenario(small, out, write_spells=True)
    return out


def summary_without_timing(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    del data["provenance"]["wall_time_s"]
    return data


def assert_same_outputs(a: Path, b: Path) -> None:
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    stored = sorted(p.relative_to(a) for p in (a / "explain").rglob("*"))
    assert stored and stored == sorted(p.relative_to(b) for p in (b / "explain").rglob("*"))
    for name in stored:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert summary_without_timing(a) == summary_without_timing(b)


def _square_or_fail(x: int) -> int:
    if x == 3:
        raise ValueError("three")
    return x * x


def test_jobs_come_back_in_submission_order_and_failures_surface_in_turn() -> None:
    ticks: list[int] = []
    got = run_jobs(_square_or_fail, [(5,), (1,), (4,), (3,)], workers=2,
                   done=lambda: ticks.append(1))
    assert [next(got), next(got), next(got)] == [25, 1, 16]
    with pytest.raises(ValueError, match="three"):
        next(got)
    assert len(ticks) == 4


def test_worker_processes_give_the_same_outputs_as_a_serial_run(
        small: Scenario, serial: Path, tmp_path: Path) -> None:
    run_scenario(small, tmp_path, write_spells=True, workers=2)
    assert_same_outputs(serial, tmp_path)


def test_a_dask_cluster_gives_the_same_outputs_as_a_serial_run(
        small: Scenario, serial: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        run_scenario(small, tmp_path, write_spells=True, scheduler=cluster.scheduler_address)
    assert_same_outputs(serial, tmp_path)


def test_a_worker_that_does_not_see_the_output_folder_sends_its_files_back(
        small: Scenario, serial: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a Dask worker on another machine would: replication 0 writes spells.csv.gz and
    explain/ into a folder of its own, and the run puts them in the output folder."""
    monkeypatch.setattr(run_module, "sees_folder", lambda folder: False)
    handed: list[str] = []
    write = run_module.write_job_files

    def recorded(staging: Path, files: dict[str, bytes]) -> None:
        handed.extend(files)
        write(staging, files)

    monkeypatch.setattr(run_module, "write_job_files", recorded)
    run_scenario(small, tmp_path, write_spells=True)
    assert "spells.csv.gz" in handed and "explain/index.json" in handed
    assert_same_outputs(serial, tmp_path)


def test_an_unreachable_scheduler_is_bad_input(small: Scenario, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        run_scenario(small, tmp_path / "out", scheduler="tcp://127.0.0.1:9")
    assert not (tmp_path / "out").exists()

