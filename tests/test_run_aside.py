"""Work run aside: `run` draws its plots in a forked copy of itself while it writes the
tables (its own file: a test that starts a Dask cluster leaves threads, and with other threads
running the work is done in place)."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from incentive_sim.experiments.executors import run_aside


def _write_later(path: Path) -> None:
    time.sleep(1.0)
    path.write_text("drawn")


@pytest.mark.skipif(sys.platform != "linux", reason="work runs aside in a forked copy on Linux")
def test_work_run_aside_runs_in_another_process_and_hands_back_result_and_errors(
        tmp_path: Path) -> None:
    """`run` draws its plots in a forked copy while it writes the tables: the result comes
    back, an error in the copy is raised in the caller, and a failed block stops the copy
    before it writes anything more into a staging folder about to be removed."""
    assert threading.active_count() == 1
    with run_aside(os.getpid) as got:
        assert got() != os.getpid()
    with run_aside(int, "not a number") as got, pytest.raises(ValueError, match="not a num"):
        got()
    late = tmp_path / "late.txt"
    with pytest.raises(KeyError), run_aside(_write_later, late):
        raise KeyError("the tables could not be written")
    time.sleep(1.5)
    assert not late.exists()
