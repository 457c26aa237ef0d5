"""benchmarks/national_run.py --quick: the benchmark runs end to end on a small scenario and
prints every figure it promises (the national run itself is measured by hand, see
benchmarks/RESULTS.md; no time is asserted here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "national_run.py"
REFERENCE = REPO.parent / "shared" / "bench" / "daystep_reference.py"
SECONDS = r"\s+[\d.]+ s\s+peak\s+[\d.]+ GiB"
TREE = r" \(with the processes it starts: [\d.]+ GiB\)"     # where /proc tells
RATE = r"; [\d,.]+ k events/s"


@pytest.mark.skipif(not REFERENCE.is_file(),
                    reason=f"the shared daystep reference is not beside the repository "
                           f"({REFERENCE})")
def test_the_national_benchmark_prints_times_peaks_rates_and_ratios_on_a_small_scenario(
        ) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True,
                          text=True, cwd=REPO, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"^# national run benchmark, .* commit \w+", out, re.M), out
    assert "reference says: " in out                     # the shared script's own line
    assert re.search(r"^reference" + SECONDS, out, re.M), out
    tree = TREE if Path("/proc/self/smaps_rollup").exists() else ""
    assert re.search(r"^run" + SECONDS + tree + RATE + r" \(simulate [\d.]+ s\)", out,
                     re.M), out
    assert re.search(r"explain/ written in [\d.]+ s \([\d.]+% of the run\), [\d,.]+ MB", out)
    assert re.search(r"^compare" + SECONDS + tree + RATE + r" \(2 replications", out,
                     re.M), out
    assert re.search(r"^explain" + SECONDS + r" \(person \d+, \d+ segments", out, re.M), out
    assert re.search(r"^ratio run / reference:\s+[\d.]+", out, re.M), out
    assert re.search(r"^ratio compare / run:\s+[\d.]+", out, re.M), out
    events = re.search(r"events \(segments\) of one replication: ([\d,]+)", out)
    assert events and int(events.group(1).replace(",", "")) > 1000, out


def test_the_pricing_benchmark_measures_every_simple_preset_on_a_small_table() -> None:
    """benchmarks/pricing_throughput.py on 20,000 segments: it runs and prints a row of rates
    for every simple preset (a timeline preset is made of them) and the custom bonus rule."""
    from incentive_sim.scenario.rules import preset, preset_names

    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "pricing_throughput.py"),
                           "--segments", "20000", "--repeats", "1"], capture_output=True,
                          text=True, cwd=REPO, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    simple = [name for name in preset_names() if not preset(name).timeline]
    for name in [*simple, "fi_2025_graduated+bonus"]:
        assert re.search(rf"^{re.escape(name)}\s+[\d.]+ \(", done.stdout, re.M), name
