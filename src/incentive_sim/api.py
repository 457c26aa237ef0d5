"""The Python API, for notebooks and scripts: the same work as the command line, with the
results in memory as plain arrays and, where pandas is installed, as DataFrames.

    import incentive_sim as isim

    scenario = isim.load("scenarios/tampere_region_2025.yaml")
    result = isim.run(scenario, replications=5)
    result.summary["rules"]["fi_2025_graduated"]["totals"]
    costs = result.table("costs_monthly")          # {column: numpy array}
    result.frame("costs_monthly")                  # a pandas DataFrame

    cmp = isim.compare(scenario, ["fi_2015_two_step", "fi_2025_graduated"], replications=5)
    off = isim.compare(scenario, replications=5, transfers=False)   # the scenario's rules,
    off.frame("municipalities_yearly")         # ... without transfers, by year
    cmp.frame("winners_losers")

    points = isim.sweep(scenario, ["policy.take_up=0.5,1"], replications=2)
    points.frame("sweep")

    fitted = isim.calibrate("scenarios/finland_national_2025.yaml",
                            "scenarios/targets/finland_2025.yaml", sample=0.1, workers=2)
    fitted.frame("fit")                            # target, value, model, relative difference

Every function writes the same files as its command when given `out` (with its
`manifest.json`); without it the files go to a temporary folder that is read back and removed.
As on the command line, `out` must be new, empty or the same command's earlier output unless
`force=True` (`--force`), which replaces its content. Bad input raises `InputError`, whose
message names the file, line and field.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .scenario import InputError, Scenario, load_scenario

__all__ = ["InputError", "Result", "calibrate", "compare", "load", "run", "sweep"]


def load(path: Path | str) -> Scenario:
    """Read, merge (`extends:`), validate and cross-check a scenario file."""
    return load_scenario(path)


@dataclass(frozen=True)
class Result:
    """What a run, comparison or sweep wrote: its JSON headline and its CSV tables."""

    summary: dict[str, Any]
    tables: dict[str, dict[str, np.ndarray]] = field(repr=False)
    folder: Path | None = None          # where the files are, if they were kept

    def table(self, name: str) -> dict[str, np.ndarray]:
        """A CSV output as {column: array}; numbers as float64, the rest as strings."""
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"no table {name!r}; there are: {', '.join(self.tables)}") from None

    def frame(self, name: str) -> Any:
        """A CSV output as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:   # pragma: no cover - depends on the environment
            raise ImportError("frame() needs pandas; use table() for plain arrays") from exc
        return pd.DataFrame(self.table(name))


def run(scenario: Scenario | Path | str, out: Path | str | None = None, *,
        replications: int | None = None, seed: int | None = None, spells: bool = False,
        workers: int = 1, scheduler: str | None = None, force: bool = False,
        transfers: bool = True) -> Result:
    """Simulate and price a scenario (`incentive-sim run`); `transfers=False` is
    `--transfers off` (no rule gets the scenario's transfers)."""
    from .experiments.run import run_scenario

    s = _scenario(scenario)
    with _folder(out) as folder:
        summary = run_scenario(s, folder, replications=replications, seed=seed,
                               write_spells=spells, workers=workers, scheduler=scheduler,
                               force=force, transfers=transfers)
        return _result(summary, folder, out)


def compare(scenario: Scenario | Path | str, rules: Sequence[str] | None = None,
            out: Path | str | None = None, *, behavioural: bool = False,
            replications: int | None = None, seed: int | None = None, workers: int = 1,
            scheduler: str | None = None, force: bool = False,
            transfers: bool = True) -> Result:
    """Compare funding rules (`incentive-sim compare`); differences against `rules[0]`.
    `rules` defaults to the scenario's (the rule in force, then its `compare` list);
    `transfers=False` is `--transfers off`."""
    from .experiments.compare import compare as compare_rules

    s = _scenario(scenario)
    with _folder(out) as folder:
        headline = compare_rules(s, rules, folder, behavioural=behavioural,
                                 replications=replications, seed=seed, workers=workers,
                                 scheduler=scheduler, force=force, transfers=transfers)
        return _result(headline, folder, out)


def sweep(scenario: Scenario | Path | str, sets: Sequence[str],
          out: Path | str | None = None, *, replications: int | None = None,
          seed: int | None = None, workers: int = 1, scheduler: str | None = None,
          resume: bool = False, force: bool = False, transfers: bool = True) -> Result:
    """The full factorial of `sets` (`incentive-sim sweep`); `summary["points"]` holds each
    point's result."""
    from .experiments.sweep import sweep as run_sweep

    s = _scenario(scenario)
    with _folder(out) as folder:
        points = run_sweep(s, sets, folder, replications=replications, seed=seed,
                           workers=workers, scheduler=scheduler, resume=resume, force=force,
                           transfers=transfers)
        return _result({"points": points}, folder, out)


def calibrate(scenario: Scenario | Path | str, targets: Path | str,
              out: Path | str | None = None, *, sample: float = 1.0, seed: int | None = None,
              replications: int = 1, max_evaluations: int = 60, workers: int = 1,
              force: bool = False) -> Result:
    """Fit the parameters of a targets file to its figures (`incentive-sim calibrate`);
    `summary` is what calibration.json holds, the tables are `fit`, `parameters` and
    `evaluations`."""
    from .calibration import calibrate as run_calibration

    s = _scenario(scenario)
    with _folder(out) as folder:
        _, record = run_calibration(s, targets, folder, sample=sample, seed=seed,
                                    replications=replications,
                                    max_evaluations=max_evaluations, workers=workers,
                                    force=force)
        return _result(record, folder, out)


def _scenario(scenario: Scenario | Path | str) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


@contextmanager
def _folder(out: Path | str | None) -> Iterator[Path]:
    if out is not None:
        yield Path(out)
        return
    with tempfile.TemporaryDirectory(prefix="incentive-sim-") as tmp:
        yield Path(tmp) / "out"


def _result(summary: dict[str, Any], folder: Path, out: Path | str | None) -> Result:
    tables = {path.stem: _read_csv(path) for path in sorted(folder.glob("*.csv"))}
    return Result(json.loads(json.dumps(summary)), tables,
                  Path(out) if out is not None else None)


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        rows = list(reader)
    columns: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        values = [row[j] for row in rows]
        try:
            columns[name] = np.array([float(v) if v != "" else np.nan for v in values])
        except ValueError:
            columns[name] = np.array(values, dtype=str)
    return columns
