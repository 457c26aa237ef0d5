"""The Python API returns what the commands write, as arrays (and DataFrames with pandas)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import incentive_sim as isim
from incentive_sim.api import InputError

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests/fixtures/small_run.yaml"


def test_run_in_memory_gives_tables_that_add_up_to_the_summary() -> None:
    result = isim.run(FIXTURE, replications=2)
    assert result.folder is None
    costs = result.table("costs_monthly")
    rule = next(iter(result.summary["rules"]))
    for payer in ("state", "municipality", "fund"):
        mine = (costs["rule"] == rule) & (costs["payer"] == payer)
        assert np.sum(costs["amount"][mine]) == pytest.approx(
            result.summary["rules"][rule]["totals"][payer], abs=0.01 * mine.sum() + 0.01)
    with pytest.raises(KeyError, match="no table 'nope'"):
        result.table("nope")


def test_run_with_a_folder_keeps_the_files(tmp_path: Path) -> None:
    scenario = isim.load(FIXTURE)
    result = isim.run(scenario, tmp_path / "out", replications=1)
    assert result.folder == tmp_path / "out"
    assert (tmp_path / "out" / "summary.json").is_file()


def test_compare_and_sweep_from_python() -> None:
    cmp = isim.compare(FIXTURE, ["fi_2015_two_step", "fi_2015_two_step"], replications=2)
    assert cmp.summary["mode"] == "static"
    assert set(cmp.tables) == {"comparison", "outcomes", "winners_losers",
                               "municipalities_yearly", "referrals"}
    assert not np.any(cmp.table("comparison")["diff_mean"])
    points = isim.sweep(FIXTURE, ["policy.take_up=0.5,1"], replications=1)
    assert len(points.summary["points"]) == 2
    assert list(points.table("sweep")["policy.take_up"]) == [0.5, 1.0]


def test_frames_need_pandas() -> None:
    pd = pytest.importorskip("pandas")
    frame = isim.run(FIXTURE, replications=1).frame("stock_monthly")
    assert isinstance(frame, pd.DataFrame) and len(frame) > 0


def test_bad_input_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.yaml"):
        isim.load(tmp_path / "missing.yaml")
