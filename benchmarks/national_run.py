"""A national run, comparison and explanation against the plain day-by-day numpy reference,
in one invocation, so that the ratios come from one run on the same machine.

    python benchmarks/national_run.py [--scenario FILE] [--quick] [--like-for-like]

Stages, each in a fresh Python process (so each peak memory is its own), one after the other:

1. `reference`: the shared plain numpy model `../shared/bench/daystep_reference.py` (beside
   the repository): 2.7 million people stepped day by day over four years, three hazard
   bands, two-step pricing. Imported by path; its own line is printed as it is.
2. `run`: one replication as `incentive-sim run` makes it (`run_scenario`, replications 1,
   into a temporary folder; not `api.run`, which also reads every table back): simulate,
   price the rule in force and the scenario's compared rules, write every output (tables,
   plots, report, explain/; "simulate" includes what a national run's shards do where they
   ran: their pricing, digests and parts of explain/). "Events" are the segments the
   replication records (every change of state, service or benefit of every person, and the
   open segments at the horizon).
3. `compare`: the scenario's rules compared as `incentive-sim compare` does it, over two
   replications (events: the segments of both).
4. `explain`: `incentive-sim explain` of the person with the most segments in the run of
   stage 2, timed from process start (interpreter, imports, reading, printing).

For each: wall time, peak resident memory (ru_maxrss of the stage's process; beside it the
peak of the stage's processes together, their proportional set sizes sampled every 0.2 s: a
national simulation's second shard runs in a process of its own) and events per second,
then the ratios national run / reference and compare / run. `--quick` runs a small scenario
(tests/fixtures/small_run.yaml) and the reference scaled down (1 % of the people, 60 days),
to smoke-test the script. `--like-for-like` adds the earlier stage that moves the
scenario's own people day by day (exits only) and compares its stock with the event model's
life courses.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "bench" / "daystep_reference.py"
NATIONAL = REPO / "scenarios" / "finland_national_2025.yaml"
SMALL = REPO / "tests" / "fixtures" / "small_run.yaml"
# --quick: the reference's people and days scaled down (its source's constants, replaced)
QUICK_REFERENCE = {"N0=300_000": "N0=3_000", "inflow_per_day=600_000/365":
                   "inflow_per_day=6_000/365", "H=1460": "H=60"}


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # kB on Linux


# ---------------------------------------------------------------- stages (child processes)

def stage_reference(quick: bool) -> dict[str, Any]:
    source = REFERENCE.read_text(encoding="utf-8")
    if quick:
        for full, small in QUICK_REFERENCE.items():
            if full not in source:
                raise SystemExit(f"{REFERENCE}: no {full!r} to scale down for --quick")
            source = source.replace(full, small)
    spec = importlib.util.spec_from_file_location("daystep_reference", REFERENCE)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    t0 = time.perf_counter()
    exec(compile(source, str(REFERENCE), "exec"), module.__dict__)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "peak_mib": peak_mib(), "people": int(module.n),
            "days": int(module.H)}


def _timed(module: Any, name: str, times: dict[str, float],
           count: Callable[[Any], int] | None = None, counts: list[int] | None = None) -> None:
    """Wrap module.name so that its calls are timed (and their results counted)."""
    real = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = real(*args, **kwargs)
        times[name] = times.get(name, 0.0) + time.perf_counter() - t0
        if count is not None and counts is not None:
            counts.append(count(out))
        return out

    setattr(module, name, wrapper)


def stage_run(scenario: Path, out: Path) -> dict[str, Any]:
    import incentive_sim.experiments.run as run_module
    from incentive_sim.experiments.explain_store import EXPLAIN, read_index
    from incentive_sim.scenario import load_scenario

    times: dict[str, float] = {}
    _timed(run_module, "simulate", times)
    _timed(run_module, "write_explain_store", times)
    t0 = time.perf_counter()
    summary = run_module.run_scenario(load_scenario(scenario), out, replications=1)
    wall = time.perf_counter() - t0
    # explain's store holds replication 0's segments: one store, or one per shard (format 2),
    # of which this process wrote the first
    store = out / EXPLAIN
    index = read_index(store)
    parts = [store / name for name in index.get("parts", [])] or [store]
    busiest = (-1, -1)
    for part in parts:
        rows = np.diff(np.load(part / "offsets.npy"))
        ids = (np.load(part / "persons.npy") if (part / "persons.npy").is_file()
               else np.arange(rows.size))
        k = int(np.argmax(rows))
        busiest = max(busiest, (int(rows[k]), -int(ids[k])))
    return {"wall_s": wall, "peak_mib": peak_mib(), "events": int(index["rows"]),
            "simulate_s": times["simulate"], "explain_write_s": times["write_explain_store"],
            "explain_parts": len(parts),
            "explain_bytes": sum(p.stat().st_size for p in store.rglob("*") if p.is_file()),
            "people": index["people"], "rules": list(summary["rules"]),
            "busiest_person": -busiest[1], "busiest_rows": busiest[0]}


def stage_compare(scenario: Path, out: Path) -> dict[str, Any]:
    import incentive_sim.experiments.compare as compare_module
    from incentive_sim.scenario import load_scenario

    times: dict[str, float] = {}
    segments: list[int] = []
    _timed(compare_module, "simulate", times, lambda r: r.segments, segments)
    t0 = time.perf_counter()
    compare_module.compare(load_scenario(scenario), None, out, replications=2)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "peak_mib": peak_mib(), "events": sum(segments),
            "simulate_s": times["simulate"], "replications": len(segments)}


def stage_explain(run_dir: Path, person: int) -> dict[str, Any]:
    from incentive_sim.cli import app

    try:
        app(["explain", str(run_dir), "--person", str(person)], standalone_mode=False)
    finally:
        sys.stdout.flush()
    return {"peak_mib": peak_mib()}


def stage_like_for_like(scenario: Path) -> dict[str, Any]:
    from daystep_same_people import like_for_like  # beside this script

    return {**like_for_like(scenario), "peak_mib": peak_mib()}


# ---------------------------------------------------------------- the parent

def tree_pss_mib(root: int) -> float:
    """The proportional set size of a process and all its descendants (MiB; a page shared by
    k processes counts 1/k in each, so a forked copy's shared pages are not counted twice);
    0 where /proc does not tell (not Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/smaps_rollup", encoding="utf-8") as f:
                total += next(int(x.split()[1]) for x in f if x.startswith("Pss:"))
        except (OSError, StopIteration):
            continue
    return total / 1024


def measure(stage: str, *args: str) -> dict[str, Any]:
    """Run one stage in a fresh process; its figures, with the process's own wall time and the
    peak memory of the stage's processes together (sampled every 0.2 s: the shards of a
    national simulation run in a second process)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--stage", stage,
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO, env={**os.environ, "COLUMNS": "80"})
    tree_peak = 0.0
    finished = threading.Event()

    def sample() -> None:
        nonlocal tree_peak
        while not finished.wait(0.2):
            tree_peak = max(tree_peak, tree_pss_mib(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    if os.path.exists("/proc/self/smaps_rollup"):
        sampler.start()
    stdout, stderr = proc.communicate()
    finished.set()
    process_s = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"stage {stage} failed:\n{stdout}\n{stderr}")
    figures: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    figures["process_s"] = process_s
    figures["printed"] = stdout.strip().splitlines()[:-1]
    figures["tree_peak_mib"] = tree_peak
    # progress on stderr as each stage ends (a national run is minutes of otherwise silence)
    print(f"  {stage} done: {figures.get('wall_s', process_s):.1f} s, peak "
          f"{figures['peak_mib'] / 1024:.2f} GiB", file=sys.stderr, flush=True)
    return figures


def line(name: str, f: dict[str, Any], wall: float) -> str:
    rate = f"; {f['events'] / wall / 1e3:,.1f} k events/s" if f.get("events") else ""
    tree = (f" (with the processes it starts: {f['tree_peak_mib'] / 1024:.2f} GiB)"
            if f.get("tree_peak_mib") else "")
    return f"{name:10s} {wall:8.1f} s  peak {f['peak_mib'] / 1024:5.2f} GiB{tree}{rate}"


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, cwd=REPO, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, cwd=REPO, check=False).stdout
    return done.stdout.strip() + (" (uncommitted changes)" if dirty.strip() else "")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--scenario", type=Path, default=None,
                    help="default: scenarios/finland_national_2025.yaml (--quick: "
                         "tests/fixtures/small_run.yaml)")
    ap.add_argument("--quick", action="store_true",
                    help="a small scenario and the reference scaled down: a smoke test")
    ap.add_argument("--like-for-like", action="store_true",
                    help="also the scenario's own people moved day by day (exits only)")
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    stages: dict[str, Callable[[], dict[str, Any]]] = {
        "reference": lambda: stage_reference(a.quick),
        "run": lambda: stage_run(Path(a.args[0]), Path(a.args[1])),
        "compare": lambda: stage_compare(Path(a.args[0]), Path(a.args[1])),
        "explain": lambda: stage_explain(Path(a.args[0]), int(a.args[1])),
        "like_for_like": lambda: stage_like_for_like(Path(a.args[0])),
    }
    if a.stage:
        print(json.dumps(stages[a.stage]()))
        return

    scenario = (a.scenario or (SMALL if a.quick else NATIONAL)).resolve()
    print(f"# national run benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, commit "
          f"{commit()}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numpy {np.__version__}; load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} at the start")
    print(f"scenario: {scenario.relative_to(REPO) if scenario.is_relative_to(REPO) else scenario}"
          f"{' (--quick: the reference scaled down too)' if a.quick else ''}")
    with tempfile.TemporaryDirectory(prefix="national-bench-") as tmp:
        ref = measure("reference", *(["--quick"] if a.quick else []))
        for printed in ref["printed"]:
            print(f"  reference says: {printed}")
        run = measure("run", str(scenario), f"{tmp}/run")
        cmp = measure("compare", str(scenario), f"{tmp}/compare")
        person = str(run["busiest_person"])
        exp = measure("explain", f"{tmp}/run", person)
        like = measure("like_for_like", str(scenario)) if a.like_for_like else None

    print(f"\nevents (segments) of one replication: {run['events']:,}; people "
          f"{run['people']:,}; rules priced: {', '.join(run['rules'])}")
    print(line("reference", ref, ref["wall_s"]) + f" ({ref['people']:,} people, "
          f"{ref['days']:,} days)")
    print(line("run", run, run["wall_s"]) + f" (simulate {run['simulate_s']:.1f} s)")
    by = (f" by the first of {run['explain_parts']} shards, each its part"
          if run["explain_parts"] > 1 else "")
    print(f"{'':10s} explain/ written in {run['explain_write_s']:.2f} s{by} "
          f"({run['explain_write_s'] / run['wall_s']:.1%} of the run), "
          f"{run['explain_bytes'] / 1e6:,.1f} MB ({run['explain_bytes'] / run['events']:.1f} "
          "bytes a segment)")
    print(line("compare", cmp, cmp["wall_s"]) + f" ({cmp['replications']} replications, "
          f"simulate {cmp['simulate_s']:.1f} s)")
    print(f"{'explain':10s} {exp['process_s']:8.1f} s  peak {exp['peak_mib'] / 1024:5.2f} GiB"
          f" (person {person}, {run['busiest_rows']} segments; from process start, "
          "no simulation)")
    print(f"ratio run / reference:  {run['wall_s'] / ref['wall_s']:.2f} "
          "(goal at most 1.5, stretch below 1)")
    print(f"ratio compare / run:    {cmp['wall_s'] / run['wall_s']:.2f} (goal at most 2.5)")
    if like is not None:
        print(f"like for like (exits only, the scenario's people): life courses "
              f"{like['life_courses_s']:.1f} s, day by day {like['day_by_day_s']:.1f} s, "
              f"ratio {like['day_by_day_s'] / like['life_courses_s']:.2f}")
        print("  jobseekers at day " + ", ".join(f"{d:.0f}" for d in like["days"]))
        print("    life courses: " + ", ".join(f"{x:,}" for x in like["life_courses_stock"]))
        print("    day by day:   " + ", ".join(f"{x:,}" for x in like["day_by_day_stock"]))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
