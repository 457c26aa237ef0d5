"""Work run aside: `run` draws its plots in a forked copy of itself while it writes the
tables. Checked in a fresh interpreter: with other threads running (a Dask cluster that an
earlier test in the same worker started, say) the work is done in place instead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHECKS = """
import os, sys, threading, time
from pathlib import Path
from incentive_sim.experiments.executors import run_aside

def write_later(path):
    time.sleep(1.0)
    path.write_text("drawn")

assert threading.active_count() == 1
# the result comes back from another process
with run_aside(os.getpid) as got:
    assert got() != os.getpid()
# an error in the copy is raised in the caller
try:
    with run_aside(int, "not a number") as got:
        got()
except ValueError as exc:
    assert "not a number" in str(exc)
else:
    raise AssertionError("no error")
# a failed block stops the copy before it writes into a folder about to be removed
late = Path(sys.argv[1]) / "late.txt"
try:
    with run_aside(write_later, late):
        raise KeyError("the tables could not be written")
except KeyError:
    pass
time.sleep(1.5)
assert not late.exists()
# with another thread running, the work is done in place
stop = threading.Event()
helper = threading.Thread(target=stop.wait)
helper.start()
with run_aside(os.getpid) as got:
    assert got() == os.getpid()
stop.set()
helper.join()
print("checked")
"""


@pytest.mark.skipif(sys.platform != "linux", reason="work runs aside in a forked copy on Linux")
def test_work_run_aside_runs_in_another_process_and_hands_back_result_and_errors(
        tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", CHECKS, str(tmp_path)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "checked"
