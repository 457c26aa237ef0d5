"""Nothing a user types can crash it: mutants of the shipped scenarios, case files and
fixtures (tests/mutants.py) give exit 0 or 2 (cases also 1, a failed expectation), never a
traceback, never more than a few seconds; every exit-2 line names a file and a line; and a
refused scenario writes nothing to --out.

Every run checks FUZZ_MUTANTS mutants (default 300) from FUZZ_SEED (default 1). The longer
run, `pytest -m slow tests/test_fuzz.py -s`, checks 10,000 and prints the outcomes by kind.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from incentive_sim.cli import app
from incentive_sim.experiments.run import run_scenario
from incentive_sim.scenario import InputError, Scenario, load_scenario
from mutants import CASES, SCENARIOS, Mutant, mutants, unlocated

BUDGET_S = 10          # no mutant may take longer (a hang)
runner = CliRunner()


class Hang(Exception):
    pass


def _alarm(*_: Any) -> None:
    raise Hang


@pytest.fixture()
def workdir(tmp_path: Path) -> Iterator[Path]:
    """The shipped files side by side, so that a mutant's `extends:` finds its base."""
    for path in [*SCENARIOS, *CASES]:
        shutil.copy(path, tmp_path / path.name)
    previous = signal.signal(signal.SIGALRM, _alarm)
    yield tmp_path
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def judge(mutant: Mutant, folder: Path) -> tuple[str, str, Path]:
    """(outcome, detail, file): ok, rejected, failed_expectation, unlocated, traceback, hang."""
    command = "cases" if mutant.source in CASES else "validate"
    path = folder / f"mutant_{mutant.source.name}"
    path.write_bytes(mutant.data)
    signal.alarm(BUDGET_S)
    try:
        result = runner.invoke(app, [command, str(path)])
    except Hang:
        return "hang", "", path
    finally:
        signal.alarm(0)
    if isinstance(result.exception, Hang):
        return "hang", "", path
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return "traceback", repr(result.exception)[:300], path
    if "Traceback" in result.output:
        return "traceback", result.output[-300:], path
    if result.exit_code == 0:
        return "ok", "", path
    if result.exit_code == 1 and command == "cases" and "FAILED" in result.stderr:
        return "failed_expectation", "", path
    if result.exit_code == 2:
        bad = unlocated(result.stderr)
        return ("unlocated", "\n".join(bad)[:300], path) if bad else ("rejected", "", path)
    return f"exit {result.exit_code}", result.output[-300:], path


def fuzz(folder: Path, seed: int, count: int) -> tuple[collections.Counter[str],
                                                       dict[str, collections.Counter[str]],
                                                       list[str], list[tuple[Mutant, Path]]]:
    """Judge `count` mutants (half scenarios, half case files)."""
    totals: collections.Counter[str] = collections.Counter()
    by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    failures: list[str] = []
    refused: list[tuple[Mutant, Path]] = []
    batch = mutants(seed, count - count // 2, SCENARIOS) + mutants(seed, count // 2, CASES)
    for i, mutant in enumerate(batch):
        started = time.perf_counter()
        outcome, detail, path = judge(mutant, folder)
        if time.perf_counter() - started > BUDGET_S:
            outcome = "hang"
        totals[outcome] += 1
        by_kind[mutant.kind][outcome] += 1
        if outcome not in ("ok", "rejected", "failed_expectation"):
            failures.append(f"#{i} {mutant.kind} of {mutant.source.name} ({mutant.note}): "
                            f"{outcome} {detail}")
        if outcome == "rejected" and mutant.source in SCENARIOS and len(refused) < 5:
            kept = folder / f"refused_{len(refused)}_{mutant.source.name}"
            shutil.copy(path, kept)
            refused.append((mutant, kept))
    return totals, by_kind, failures, refused


def report(totals: collections.Counter[str], by_kind: dict[str, collections.Counter[str]],
           seconds: float) -> str:
    lines = [f"{sum(totals.values())} mutants in {seconds:.1f} s: {dict(totals)}"]
    lines += [f"  {kind:16s} {dict(counts)}" for kind, counts in sorted(by_kind.items())]
    return "\n".join(lines)


def small(scenario: Scenario) -> Scenario:
    """The scenario cut down to a quick run: 30 days, one replication, a few people."""
    population = scenario.population.model_copy(update={
        "initial_stock": {m: min(n, 40) for m, n in scenario.population.initial_stock.items()},
        "inflow_per_year": {m: min(v, 200.0)
                            for m, v in scenario.population.inflow_per_year.items()}})
    return scenario.model_copy(update={"horizon_days": 30, "replications": 1,
                                       "population": population})


def test_mutants_never_crash_hang_or_go_unlocated(workdir: Path) -> None:
    count = int(os.environ.get("FUZZ_MUTANTS", "300"))
    seed = int(os.environ.get("FUZZ_SEED", "1"))
    started = time.perf_counter()
    totals, by_kind, failures, refused = fuzz(workdir, seed, count)
    print("\n" + report(totals, by_kind, time.perf_counter() - started))
    assert not failures, "\n".join(failures[:20])
    assert totals["rejected"] > count // 3          # the mutants really are damaged

    # a refused scenario writes nothing to --out
    for _, path in refused:
        out = workdir / "out"
        result = runner.invoke(app, ["run", str(path), "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert not out.exists() and not list(workdir.glob(".out.partial-*"))


def test_mutants_that_validate_run_to_a_result(workdir: Path) -> None:
    """A slice of the scenario mutants that validate, cut down to 30 days, run (or are
    refused as bad input) without a traceback."""
    seed = int(os.environ.get("FUZZ_SEED", "1"))
    ran = 0
    for i, mutant in enumerate(mutants(seed + 1000, 60, SCENARIOS)):
        path = workdir / f"mutant_{mutant.source.name}"
        path.write_bytes(mutant.data)
        try:
            scenario = small(load_scenario(path))
        except InputError:
            continue
        signal.alarm(60)
        try:
            run_scenario(scenario, workdir / f"out{i}", replications=1)
        except InputError as exc:
            assert all(p.file for p in exc.problems)
        finally:
            signal.alarm(0)
        ran += 1
        if ran == 4:
            break
    assert ran >= 2


@pytest.mark.slow
def test_ten_thousand_mutants(workdir: Path) -> None:
    count = int(os.environ.get("FUZZ_MUTANTS", "10000"))
    seed = int(os.environ.get("FUZZ_SEED", "7"))
    started = time.perf_counter()
    totals, by_kind, failures, _ = fuzz(workdir, seed, count)
    print("\n" + report(totals, by_kind, time.perf_counter() - started))
    for line in failures[:50]:
        print(line)
    assert not failures
