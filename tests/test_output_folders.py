"""Output folders you can trust: each command records what it wrote in `manifest.json`; a
command refuses (exit 2, one line naming the folder and what it found, suggesting --force) a
folder that holds another command's output or files it did not write; `--force` replaces the
folder's content as a whole; rerunning a command into its own folder is the normal case."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import incentive_sim as isim
from incentive_sim.cli import app
from incentive_sim.experiments.run import MANIFEST
from incentive_sim.scenario import InputError

REPO = Path(__file__).resolve().parents[1]
SMALL = (REPO / "tests/fixtures/small_run.yaml").read_text(encoding="utf-8").replace(
    "horizon_days: 365", "horizon_days: 45").replace("replications: 2", "replications: 1")
RUN_FILES = {"summary.json", "costs_monthly.csv", "municipal_share_monthly.csv",
             "municipalities_yearly.csv",
             "stock_monthly.csv", "indicators_monthly.csv", "transitions.csv", "referrals.csv",
             "scenario.resolved.yaml", "report.html", "plots", "explain", MANIFEST}
COMPARE_FILES = {"comparison.csv", "outcomes.csv", "winners_losers.csv",
                 "municipalities_yearly.csv", "comparison.json", "referrals.csv",
                 "scenario.resolved.yaml", "report.html", "plots", MANIFEST}
runner = CliRunner()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def cli(*args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def run(scenario: Path, out: Path, *extra: str) -> Any:
    return cli("run", scenario, "--out", out, *extra)


def compare(scenario: Path, out: Path, *extra: str) -> Any:
    return cli("compare", scenario, "--funding", "fi_2015_two_step,fi_2025_graduated",
               "--out", out, *extra)


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def refusal(result: Any) -> str:
    """The one line a refused command prints; asserts exit code 2 and no traceback."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return str(lines[0])


# ---------------------------------------------------------------- the manifest

def test_the_manifest_lists_every_file_written_with_its_size_and_hash(
        scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(scenario, out, "--spells").exit_code == 0
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["command"] == "run"
    assert manifest["package_version"] == isim.__version__
    on_disk = {p.relative_to(out).as_posix(): p for p in out.rglob("*")
               if p.is_file() and p.name != MANIFEST}
    listed = [entry["path"] for entry in manifest["files"]]
    assert listed == sorted(on_disk)                    # every file, in path order
    assert "plots/costs_monthly.png" in listed and "spells.csv.gz" in listed
    for entry in manifest["files"]:
        data = on_disk[entry["path"]].read_bytes()
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()


def test_each_command_writes_a_manifest_naming_it(scenario: Path, tmp_path: Path) -> None:
    assert compare(scenario, tmp_path / "cmp").exit_code == 0
    assert cli("sweep", scenario, "--set", "policy.take_up=0.5,1", "--out",
               tmp_path / "sweep").exit_code == 0
    compared = json.loads((tmp_path / "cmp" / MANIFEST).read_text(encoding="utf-8"))
    swept = json.loads((tmp_path / "sweep" / MANIFEST).read_text(encoding="utf-8"))
    assert compared["command"] == "compare" and swept["command"] == "sweep"
    assert "comparison.json" in [e["path"] for e in compared["files"]]
    assert [e["path"] for e in swept["files"]] == [
        "points/0000/result.json", "points/0001/result.json", "sweep.csv", "sweep.json"]


# ---------------------------------------------------------------- another command's output

def test_compare_into_a_run_folder_stops_with_exit_2_and_leaves_it_alone(
        scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(scenario, out).exit_code == 0
    before = snapshot(out)
    line = refusal(compare(scenario, out))
    assert line == (f"{out}: --out: holds the output of `run` (manifest.json), not of "
                    f"`compare`; give --out a new or empty folder, or add --force to replace "
                    f"its content")
    assert snapshot(out) == before


def test_compare_with_force_replaces_a_run_folder_with_only_the_comparison(
        scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(scenario, out, "--spells").exit_code == 0
    result = compare(scenario, out, "--force")
    assert result.exit_code == 0, result.output
    assert names(out) == COMPARE_FILES
    # none of the run's plots is left: only the comparison's (two have the run's names)
    assert names(out / "plots") == {"comparison_by_municipality.png", "referrals.png",
                                    "behaviour.png"}
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["command"] == "compare"
    assert {e["path"] for e in manifest["files"]} == {
        p.relative_to(out).as_posix() for p in out.rglob("*")
        if p.is_file() and p.name != MANIFEST}


def test_an_output_of_an_earlier_version_is_known_by_its_marker(
        scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert compare(scenario, out).exit_code == 0
    (out / MANIFEST).unlink()                          # as written before manifests
    line = refusal(run(scenario, out))
    assert "holds the output of `compare` (comparison.json), not of `run`" in line
    assert run(scenario, out, "--force").exit_code == 0
    assert names(out) == RUN_FILES


def test_a_sweep_into_a_run_folder_stops_and_with_force_keeps_nothing_of_the_run(
        scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(scenario, out).exit_code == 0
    sweep = ["sweep", scenario, "--set", "policy.take_up=0.5,1", "--out", out]
    assert "holds the output of `run`" in refusal(cli(*sweep))
    assert "summary.json" in names(out)
    assert cli(*sweep, "--force").exit_code == 0
    assert names(out) == {"sweep.json", "sweep.csv", "points", MANIFEST}


def test_force_and_resume_together_are_refused(scenario: Path, tmp_path: Path) -> None:
    line = refusal(cli("sweep", scenario, "--set", "policy.take_up=1", "--out",
                       tmp_path / "out", "--resume", "--force"))
    assert line.startswith("--force: ") and line.count("--force:") == 1
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- files the command did not write

def test_an_unknown_file_in_a_new_folder_stops_the_run(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "budget.xlsx").write_text("mine")
    line = refusal(run(scenario, out))
    assert line == (f"{out}: --out: holds files that `run` did not write (budget.xlsx); give "
                    f"--out a new or empty folder, or add --force to replace its content")
    assert names(out) == {"budget.xlsx"}


def test_a_file_added_to_an_output_folder_stops_the_rerun_and_force_removes_it(
        scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(scenario, out).exit_code == 0
    (out / "plots" / "annotated.png").write_bytes(b"mine")
    assert "did not write (plots/annotated.png)" in refusal(run(scenario, out))
    assert (out / "plots" / "annotated.png").exists()
    assert run(scenario, out, "--force").exit_code == 0
    assert not (out / "plots" / "annotated.png").exists()


def test_another_commands_file_in_a_folder_without_a_marker_is_unknown(
        scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "costs_monthly.csv").write_text("a run's table, but no run's marker")
    assert "did not write (costs_monthly.csv)" in refusal(compare(scenario, out))


def test_force_never_replaces_the_folder_the_command_runs_in(
        scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    monkeypatch.chdir(tmp_path)
    assert "is the folder the command runs in" in refusal(
        run(scenario, Path("."), "--force"))
    assert (tmp_path / "notes.txt").read_text() == "keep me"


# ---------------------------------------------------------------- the normal case

def test_the_same_command_reruns_into_its_own_folder(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(scenario, out, "--spells").exit_code == 0
    assert run(scenario, out, "--seed", "3").exit_code == 0     # no stale spells file
    assert names(out) == RUN_FILES
    assert compare(scenario, tmp_path / "cmp").exit_code == 0
    assert compare(scenario, tmp_path / "cmp", "--seed", "3").exit_code == 0
    assert names(tmp_path / "cmp") == COMPARE_FILES


def test_a_new_sweep_keeps_nothing_of_an_earlier_one(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("sweep", scenario, "--set", "policy.take_up=0.25,0.5,1", "--out",
               out).exit_code == 0
    assert cli("sweep", scenario, "--set", "policy.take_up=0.5,1", "--out",
               out).exit_code == 0
    assert sorted(p.name for p in (out / "points").iterdir()) == ["0000", "0001"]
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert len(manifest["files"]) == 4


# ---------------------------------------------------------------- the Python API

def test_the_api_refuses_like_the_command_line_and_takes_force(
        scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    isim.run(scenario, out)
    with pytest.raises(InputError, match=r"holds the output of `run`"):
        isim.compare(scenario, ["fi_2015_two_step"], out)
    result = isim.compare(scenario, ["fi_2015_two_step"], out,
                          force=True)
    assert result.folder == out and names(out) == COMPARE_FILES


def test_calibrate_checks_its_folder_before_fitting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import incentive_sim.calibration as calibration

    def no_fit(*_: Any, **__: Any) -> None:
        raise AssertionError("the fit started")

    monkeypatch.setattr(calibration, "fit", no_fit)
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    line = refusal(cli("calibrate", REPO / "scenarios/finland_national_2025.yaml",
                       "--targets", REPO / "scenarios/targets/finland_2025.yaml",
                       "--out", out))
    assert "holds the output of `run` (summary.json), not of `calibrate`" in line
