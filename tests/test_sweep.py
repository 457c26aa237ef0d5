"""sweep: settings, the full factorial, failed points, and a killed sweep resumed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import incentive_sim.experiments.sweep as sweep_module
from incentive_sim.cli import app
from incentive_sim.experiments.sweep import parse_set, split_values, sweep, with_setting
from incentive_sim.scenario import InputError, Scenario, load_scenario

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests/fixtures/small_run.yaml"
SETS = ["policy.take_up=0.5,0.75,1.0", "population.initial_paid_days.mean=300,600"]


@pytest.fixture(scope="module")
def small() -> Scenario:
    return load_scenario(FIXTURE)


def test_values_are_yaml_and_commas_inside_brackets_stay() -> None:
    assert split_values("1,[2, 3],{a: 1, b: 2}, x") == ["1", "[2, 3]", "{a: 1, b: 2}", "x"]
    assert parse_set("policy.take_up=0.5,1") == ("policy.take_up", [0.5, 1])
    assert parse_set("policy.strategy=fifo,none") == ("policy.strategy", ["fifo", "none"])
    with pytest.raises(InputError, match=re.escape("expected key.path=value1")):
        parse_set("policy.take_up")


def test_a_setting_changes_only_its_key_and_is_validated(small: Scenario) -> None:
    s = with_setting(small, "policy.take_up", 0.5)
    assert s.policy.take_up == 0.5
    assert s.model_copy(update={"policy": small.policy}) == small
    rates = with_setting(small, "population.inflow_per_year.A", 123.0)
    assert rates.population.inflow_per_year["A"] == 123.0
    with pytest.raises(InputError, match=re.escape("--set policy.take_up: 2 is refused")):
        with_setting(small, "policy.take_up", 2)
    with pytest.raises(InputError, match=re.escape("no key 'policy.take_upp'")):
        with_setting(small, "policy.take_upp", 0.5)


def test_the_command_names_a_bad_key_and_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["sweep", str(FIXTURE), "--set", "polcy.take_up=1",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "--set polcy.take_up: no key 'polcy'" in result.output
    assert not (tmp_path / "out").exists()


def test_a_failed_point_does_not_stop_the_sweep(small: Scenario, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    real = sweep_module.replicate

    def fragile(scenario: Scenario, *args: Any, **kwargs: Any) -> Any:
        if scenario.policy.take_up == 0.75:
            raise RuntimeError("boom")
        return real(scenario, *args, **kwargs)

    monkeypatch.setattr(sweep_module, "replicate", fragile)
    results = sweep(small, [SETS[0]], tmp_path, replications=1)
    assert [r["error"] is None for r in results] == [True, False, True]
    failed = json.loads((tmp_path / "points/0001/result.json").read_text(encoding="utf-8"))
    assert failed["error"]["type"] == "RuntimeError" and "boom" in failed["error"]["message"]
    assert failed["settings"] == {"policy.take_up": 0.75}
    lines = (tmp_path / "sweep.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and ",failed," in lines[2] and lines[2].endswith("RuntimeError: boom")


def test_a_sweep_killed_halfway_and_resumed_equals_an_uninterrupted_one(
        small: Scenario, tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    sweep(small, SETS, whole, replications=1, workers=2)
    assert len((whole / "sweep.csv").read_text(encoding="utf-8").splitlines()) == 7

    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "incentive_sim", "sweep", str(FIXTURE), "--out",
               str(killed), "--replications", "1", *[a for s in SETS for a in ("--set", s)]]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    first = killed / "points/0000/result.json"
    deadline = time.monotonic() + 120
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = sorted(p.parent.name for p in killed.glob("points/*/result.json"))
    assert "0000" in finished and len(finished) < 6, finished   # really killed halfway
    assert not (killed / "sweep.csv").exists()
    kept = first.stat().st_mtime_ns

    sweep(small, SETS, killed, replications=1, resume=True)
    assert first.stat().st_mtime_ns == kept                     # finished points are kept
    assert (killed / "sweep.csv").read_bytes() == (whole / "sweep.csv").read_bytes()


def test_points_run_where_the_sweep_folder_is_not_seen_are_written_by_the_sweep(
        small: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As on Dask workers on other machines: the points' result.json come back with their
    results and are the same files as when the workers write them."""
    sweep(small, [SETS[0]], tmp_path / "seen", replications=1)
    monkeypatch.setattr(sweep_module, "sees_folder", lambda folder: False)
    written: list[Path] = []
    real = sweep_module._write
    monkeypatch.setattr(sweep_module, "_write",
                        lambda out, path, text: (written.append(path), real(out, path, text)))
    sweep(small, [SETS[0]], tmp_path / "unseen", replications=1)
    results = sorted(p.relative_to(tmp_path / "unseen")
                     for p in (tmp_path / "unseen").glob("points/*/result.json"))
    assert [p.relative_to(tmp_path / "unseen") for p in written
            if p.name == "result.json"] == results and len(results) == 3
    for name in (*results, Path("sweep.csv")):
        seen, unseen = (tmp_path / "seen" / name).read_text(), (tmp_path / "unseen" / name
                                                                ).read_text()
        assert seen == unseen, name


def test_resuming_a_different_sweep_is_refused(small: Scenario, tmp_path: Path) -> None:
    sweep(small, [SETS[0]], tmp_path, replications=1)
    with pytest.raises(InputError, match="holds a different sweep"):
        sweep(small, [SETS[1]], tmp_path, replications=1, resume=True)


def test_a_sweep_over_the_rule_in_force_reports_every_rule_priced(
        small: Scenario, tmp_path: Path) -> None:
    sweep(small, ["funding.in_force=fi_2015_two_step,dk_2016_refusion"], tmp_path,
          replications=1)
    header, *lines = (tmp_path / "sweep.csv").read_text(encoding="utf-8").splitlines()
    columns = header.split(",")
    assert "dk_2016_refusion.municipality" in columns
    assert "fi_2015_two_step.municipality" in columns
    assert len(lines) == 2 and all(",ok," in line for line in lines)
