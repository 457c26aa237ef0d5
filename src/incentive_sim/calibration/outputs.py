"""What `calibrate` writes into its output folder, all at once (staged, then moved into place
with `calibration.json` last, so a failed or interrupted calibration leaves no half-written
file and never a stale marker):

- `scenario.fitted.yaml`: the input scenario with the fitted values (resolved: every default
  filled in and every municipality listed; `incentive-sim validate` and `run` read it);
- `fit.csv`: per target its value and source, the model at the start and at the best vector on
  the sample and at full scale, and the relative differences;
- `parameters.csv`: per parameter its path, start, fitted value and bounds;
- `evaluations.csv`: every simulation of the search, in order, and the full-scale confirmation;
- `plots/*.png`: the model against the targets;
- `calibration.json`: the seed and replications (the random numbers used), the sample, the
  method and budget, the objective, the fitted values and the provenance.

The same scenario, targets, seed and options give the same files, apart from the wall time in
`calibration.json`.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..experiments.run import output_folder, publish, resolved_yaml, scenario_hash
from ..report.tables import csv_bytes as _csv
from ..scenario import Scenario
from .fit import Calibration, relative_differences
from .plots import write_calibration_plots

FITTED = "scenario.fitted.yaml"
FIT = "fit.csv"
PARAMETERS = "parameters.csv"
EVALUATIONS = "evaluations.csv"
PLOTS = "plots"
MARKER = "calibration.json"


def write_outputs(result: Calibration, scenario: Scenario, out_dir: Path | str,
                  targets_file: Path | str, command: Sequence[str] | None = None,
                  force: bool = False) -> dict[str, Any]:
    """Write every output of a finished calibration into `out_dir`; returns what
    calibration.json holds."""
    out = Path(out_dir)
    with output_folder(out, "calibrate", force) as staging:
        fitted = result.fitted_scenario()
        (staging / FITTED).write_text(fitted_yaml(result, fitted), encoding="utf-8")
        (staging / FIT).write_bytes(fit_table(result))
        (staging / PARAMETERS).write_bytes(parameters_table(result))
        (staging / EVALUATIONS).write_bytes(evaluations_table(result))
        write_calibration_plots(staging / PLOTS, result)
        record = summary(result, scenario, targets_file, command)
        (staging / MARKER).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
        publish(staging, out, [FITTED, FIT, PARAMETERS, EVALUATIONS, PLOTS], MARKER,
                command="calibrate", force=force)
    return record


def number(x: float) -> str:
    """Up to 10 significant digits, without an exponent for ordinary sizes."""
    text = f"{float(x):.10g}"
    if "e" in text and abs(float(x)) >= 1:
        text = f"{float(x):.2f}"
    return text


def fit_table(result: Calibration) -> bytes:
    """fit.csv: one row per target. `relative_difference` is (model - value) / value of the
    full-scale figure (of the sample's when the fit ran at full scale)."""
    spec = result.setup.spec
    start = result.first.figures
    best = result.best.figures
    full = result.confirmed.figures
    rel_start = relative_differences(start, spec.values)
    rel_sample = relative_differences(best, spec.values)
    rel_full = relative_differences(full, spec.values)
    rows = []
    for i, t in enumerate(spec.targets):
        met = "" if t.tolerance is None else ("yes" if abs(rel_full[i]) <= t.tolerance
                                              else "no")
        quantity = t.quantity or (t.basis if t.measure == "recipients" else "") or ""
        rows.append((t.name, t.measure, t.period(), t.benefit or "", t.day_class or "",
                     quantity if t.measure in ("municipal_share", "recipients") else "",
                     t.source, number(t.value), number(t.weight),
                     "" if t.tolerance is None else number(t.tolerance),
                     number(start[i]), number(rel_start[i]),
                     number(best[i]), number(rel_sample[i]),
                     number(full[i]), number(rel_full[i]), met))
    return _csv(("target", "measure", "period", "benefit", "day_class", "quantity", "source",
                 "value", "weight", "tolerance", "model_start", "relative_difference_start",
                 "model_sample", "relative_difference_sample", "model_full",
                 "relative_difference", "within_tolerance"), rows)


def parameters_table(result: Calibration) -> bytes:
    rows = []
    for p, start, fitted in zip(result.setup.spec.parameters, result.start, result.best.theta,
                                strict=True):
        rows.append((p.name, p.path, "true" if p.scale else "false", number(start),
                     number(fitted), number(p.low), number(p.high),
                     "yes" if min(fitted - p.low, p.high - fitted) <= 1e-3 * (p.high - p.low)
                     else "no", p.source, p.note))
    return _csv(("name", "path", "scale", "start", "fitted", "low", "high", "at_bound",
                 "source", "note"), rows)


def evaluations_table(result: Calibration) -> bytes:
    rows = []
    evaluations = [*result.evaluations, *([result.full] if result.full is not None else [])]
    for ev in evaluations:
        rows.append((ev.number, number(ev.sample), number(ev.objective),
                     "yes" if ev.number == result.best.number else "",
                     *(number(x) for x in ev.theta)))
    return _csv(("evaluation", "sample", "objective", "best", *result.setup.spec.names), rows)


def fitted_yaml(result: Calibration, fitted: Scenario) -> str:
    """The fitted scenario as YAML, with a header that says how it was fitted."""
    lines = [f"# {fitted.name}: fitted by `incentive-sim calibrate` to "
             f"{Path(result.setup.spec.file).name} (seed {result.setup.seed}, replications "
             f"0-{result.setup.replications - 1}, sample {result.sample:g}).",
             "# Fitted parameters (a scaled path has every number under it multiplied):"]
    for p, x in zip(result.setup.spec.parameters, result.best.theta, strict=True):
        how = "x" if p.scale else "="
        lines.append(f"#   {p.name}: {p.path} {how} {number(x)}  (start {number(p.start)}, "
                     f"bounds [{number(p.low)}, {number(p.high)}])")
    body = resolved_yaml(fitted).split("\n", 1)[1]      # without resolved_yaml's own header
    return "\n".join(lines) + "\n" + body


def _sha256(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def summary(result: Calibration, scenario: Scenario, targets_file: Path | str,
            command: Sequence[str] | None) -> dict[str, Any]:
    import scipy

    spec = result.setup.spec
    return {
        "scenario": scenario.name,
        "scenario_sha256": scenario_hash(scenario),
        "targets": str(targets_file),
        "targets_sha256": _sha256(targets_file),
        "seed": result.setup.seed,
        "replications": list(range(result.setup.replications)),
        "sample": result.sample,
        "horizon_days": spec.horizon_days,
        "method": result.method,
        "diff_step": result.diff_step,
        "max_evaluations": result.max_evaluations,
        "evaluations": len(result.evaluations),
        "best_evaluation": result.best.number,
        "objective": {
            "start_sample": result.first.objective,
            "best_sample": result.best.objective,
            "best_full": result.full.objective if result.full is not None else None,
        },
        "parameters": {p.name: {"path": p.path, "scale": p.scale, "start": s, "fitted": x,
                                "bounds": [p.low, p.high]}
                       for p, s, x in zip(spec.parameters, result.start, result.best.theta,
                                          strict=True)},
        "files": [FITTED, FIT, PARAMETERS, EVALUATIONS, PLOTS],
        "provenance": {
            "package_version": __version__,
            "command": list(command) if command is not None else None,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "wall_time_s": round(result.wall_time_s, 3),
        },
    }
