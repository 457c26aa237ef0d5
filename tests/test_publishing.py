"""Nothing a crash can corrupt: a run killed (SIGKILL) at each stage of publishing leaves the
previous complete output or the new complete one, never a mix, and run again ends byte for
byte like an undisturbed run, with no staging folder left; a sweep killed at each point
resumes to the same table; a full disk or a folder that cannot be written is a clear message
with exit 2 and the previous output unchanged."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import incentive_sim.experiments.run as run_module
import incentive_sim.experiments.sweep as sweep_module
from incentive_sim.cli import app

REPO = Path(__file__).resolve().parents[1]
SMALL = (REPO / "tests/fixtures/small_run.yaml").read_text(encoding="utf-8").replace(
    "horizon_days: 365", "horizon_days: 45").replace("replications: 2", "replications: 1")
runner = CliRunner()

# The command line, in a process of its own that kills itself (SIGKILL) when publishing
# reaches the stage given as the first argument, or when the sweep has half-written point N.
KILLER = """
import os, signal, sys
import incentive_sim.experiments.run as run_module
import incentive_sim.experiments.sweep as sweep_module
from incentive_sim.cli import app

stage = sys.argv[1]

def checkpoint(name):
    if name == stage:
        os.kill(os.getpid(), signal.SIGKILL)

real_write = run_module.write_atomic

def write_atomic(path, text):
    if stage == "point " + path.parent.name:          # half-written: a partial file, no rename
        path.with_name(f".{path.name}.partial-{os.getpid()}").write_text(text[:50])
        os.kill(os.getpid(), signal.SIGKILL)
    real_write(path, text)

run_module._checkpoint = checkpoint
sweep_module.write_atomic = write_atomic
app(sys.argv[2:])
"""


def killed(cwd: Path, stage: str, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-c", KILLER, stage, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr)


def files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by relative path, the run's wall time masked, and with it the
    size and hash the manifest gives summary.json (the manifest is otherwise compared whole)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.name == "summary.json":
                data = re.sub(rb'"wall_time_s": [0-9.e-]+', b'"wall_time_s": 0', data)
            if path.name == "manifest.json":
                manifest = json.loads(data)
                for entry in manifest["files"]:
                    if entry["path"] == "summary.json":
                        entry["bytes"] = entry["sha256"] = 0
                data = json.dumps(manifest).encode()
            out[path.relative_to(folder).as_posix()] = data
    return out


def cli(cwd: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.chdir(cwd)
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def references(scenario: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> dict[str, dict[str, bytes]]:
    """Undisturbed runs with seeds 1 (the earlier output) and 2 (the new one), into `out`."""
    refs = {}
    for seed in ("1", "2"):
        cwd = tmp_path_factory.mktemp(f"seed{seed}")
        proc = subprocess.run([sys.executable, "-m", "incentive_sim", "run", str(scenario),
                               "--out", "out", "--seed", seed], cwd=cwd, capture_output=True,
                              text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr
        refs[seed] = files(cwd / "out")
    assert refs["1"] != refs["2"]
    return refs


STAGES = ["tables written", "plots written", "staged", "swapped"]


@pytest.mark.parametrize("stage", STAGES)
def test_a_run_killed_while_publishing_leaves_a_whole_output_and_reruns_identically(
        scenario: Path, references: dict[str, dict[str, bytes]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    run = ["run", str(scenario), "--out", "out"]
    assert cli(tmp_path, monkeypatch, *run, "--seed", "1").exit_code == 0
    assert files(tmp_path / "out") == references["1"]

    killed(tmp_path, stage, *run, "--seed", "2")
    # what a reader finds: the earlier output whole, or (once swapped) the new one whole
    expected = references["2"] if stage == "swapped" else references["1"]
    assert files(tmp_path / "out") == expected
    stale = [p.name for p in tmp_path.iterdir() if ".partial-" in p.name]
    assert len(stale) == 1                   # the killed run's staging folder

    result = cli(tmp_path, monkeypatch, *run, "--seed", "2")
    assert result.exit_code == 0, result.output
    assert files(tmp_path / "out") == references["2"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]   # nothing stale left


def test_kills_do_not_pile_up_staging_folders_and_the_next_run_removes_them(
        scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # defect 10
    run = ["run", str(scenario), "--out", "out", "--seed", "2"]
    killed(tmp_path, "plots written", *run)
    killed(tmp_path, "staged", *run)          # removes the first killed run's folder
    assert len([p for p in tmp_path.iterdir() if ".partial-" in p.name]) == 1
    assert not (tmp_path / "out").exists()
    assert cli(tmp_path, monkeypatch, *run).exit_code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_live_runs_staging_folder_is_not_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with run_module.output_folder(out, "run") as staging:
        (staging / "x").write_text("busy")
        with run_module.output_folder(out, "run") as other:   # a second run into the same folder
            assert other != staging
        assert (staging / "x").read_text() == "busy"


SETS = ["--set", "policy.take_up=0.5,0.75,1.0"]


@pytest.fixture(scope="module")
def whole_sweep(scenario: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> dict[str, bytes]:
    cwd = tmp_path_factory.mktemp("sweep")
    result = runner.invoke(app, ["sweep", str(scenario), *SETS, "--out", str(cwd / "out")])
    assert result.exit_code == 0, result.output
    return files(cwd / "out")


@pytest.mark.parametrize("point", ["0000", "0001", "0002"])
def test_a_sweep_killed_at_each_point_resumes_to_the_same_files(
        scenario: Path, whole_sweep: dict[str, bytes], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    out = tmp_path / "out"
    killed(tmp_path, f"point {point}", "sweep", str(scenario), *SETS, "--out", str(out))
    assert not (out / "sweep.csv").exists()              # not a finished sweep
    assert list(out.glob(f"points/{point}/.result.json.partial-*"))
    result = cli(tmp_path, monkeypatch, "sweep", str(scenario), *SETS, "--out", str(out),
                 "--resume")
    assert result.exit_code == 0, result.output
    assert files(out) == whole_sweep                     # no partial file left either


# ---------------------------------------------------------------- full disks, no permission

def no_space(*_: Any, **__: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_while_plotting_is_a_message_and_keeps_the_previous_output(
        scenario: Path, references: dict[str, dict[str, bytes]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:   # defect 11
    import matplotlib.figure

    run = ["run", str(scenario), "--out", "out"]
    assert cli(tmp_path, monkeypatch, *run, "--seed", "1").exit_code == 0
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", no_space)
    result = cli(tmp_path, monkeypatch, *run, "--seed", "2")
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr == ("out: --out: no space left on the device while writing "
                             "plots/costs_monthly.png; the previous output in out is "
                             "unchanged\n")
    assert files(tmp_path / "out") == references["1"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_full_disk_while_writing_a_table_into_a_new_folder_writes_nothing(
        scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = run_module.write_output

    def full(path: Path, data: bytes | str) -> None:
        if path.name == "stock_monthly.csv":
            path.write_bytes(b"month,munic")      # the disk filled up halfway
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(run_module, "write_output", full)
    result = cli(tmp_path, monkeypatch, "run", str(scenario), "--out", "new")
    assert result.exit_code == 2
    assert result.stderr == ("new: --out: no space left on the device while writing "
                             "stock_monthly.csv; nothing was written to new\n")
    assert list(tmp_path.iterdir()) == []


def test_a_real_full_device_is_reported_by_name(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    target = tmp_path / "table.csv"
    target.symlink_to("/dev/full")
    with pytest.raises(OSError) as caught:
        run_module.write_output(target, b"x" * 100_000)
    error = run_module._output_error(caught.value, tmp_path, tmp_path, True)
    assert str(error) == (f"{tmp_path}: --out: no space left on the device while writing "
                          f"table.csv; the previous output in {tmp_path} is unchanged")


def test_a_folder_that_cannot_be_written_is_a_message(
        scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(*_: Any, **__: Any) -> str:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(run_module.tempfile, "mkdtemp", read_only)
    result = cli(tmp_path, monkeypatch, "run", str(scenario), "--out", "out")
    assert result.exit_code == 2
    assert result.stderr == ("out: --out: cannot write the outputs here: the file system is "
                             "read-only\n")


def test_a_sweep_on_a_full_disk_says_to_resume_and_resumes(
        scenario: Path, whole_sweep: dict[str, bytes], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = sweep_module.write_atomic

    def full(path: Path, text: str) -> None:
        if path.parent.name == "0001":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, text)

    out = tmp_path / "out"
    monkeypatch.setattr(sweep_module, "write_atomic", full)
    result = cli(tmp_path, monkeypatch, "sweep", str(scenario), *SETS, "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr == (f"{out}: --out: no space left on the device while writing "
                             f"points/0001/result.json; the points finished so far are kept: "
                             f"run the sweep again with --resume\n")
    monkeypatch.setattr(sweep_module, "write_atomic", real)
    result = cli(tmp_path, monkeypatch, "sweep", str(scenario), *SETS, "--out", str(out),
                 "--resume")
    assert result.exit_code == 0, result.output
    assert files(out) == whole_sweep


def test_a_folder_of_other_files_is_not_replaced(
        scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = cli(tmp_path, monkeypatch, "run", str(scenario), "--out", "mine")
    assert result.exit_code == 2
    assert "mine: --out: holds files that `run` did not write (notes.txt)" in result.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    result = cli(tmp_path / "mine", monkeypatch, "run", str(scenario), "--out", ".")
    assert result.exit_code == 2 and "is the folder the command runs in" in result.stderr


def test_an_earlier_output_folder_is_recognised_by_its_files(
        scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = tmp_path / "out"
    old.mkdir()
    for name in ("costs_monthly.csv", "plots", ".partial-abc"):   # a killed earlier version
        (old / name).write_text("old")
    result = cli(tmp_path, monkeypatch, "run", str(scenario), "--out", "out")
    assert result.exit_code == 0, result.output
    assert json.loads((old / "summary.json").read_text())["provenance"]["seed"] == 7
    assert not (old / ".partial-abc").exists()
