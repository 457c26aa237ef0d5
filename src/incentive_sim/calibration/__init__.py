"""`calibrate`: fit a small, named parameter vector of a scenario to target figures by
simulation, with common random numbers, on a sample of the population and confirmed at full
scale.

- targets.py: the targets file (parameters and targets), validated with file and line;
- moments.py: the model's side of each target, measured on a simulated history;
- fit.py: evaluations and the optimiser (scipy.optimize);
- outputs.py, plots.py: the output folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..experiments.run import check_output_folder, progress_bar
from ..scenario import Scenario
from .fit import Calibration, Evaluation, Method, fit
from .outputs import write_outputs
from .targets import Spec, load_targets

__all__ = ["Calibration", "Spec", "calibrate", "fit", "load_targets"]


def calibrate(scenario: Scenario, targets: Path | str, out_dir: Path | str, *,
              sample: float = 1.0, seed: int | None = None, replications: int = 1,
              max_evaluations: int = 60, method: Method = "least_squares",
              diff_step: float = 0.05, workers: int = 1, progress: bool = False,
              command: Sequence[str] | None = None, force: bool = False,
              ) -> tuple[Calibration, dict[str, Any]]:
    """Fit `scenario` to the targets file `targets` and write the outputs into `out_dir`;
    returns the fit and what calibration.json holds. `out_dir` is checked before the fit
    starts: a folder holding other files than an earlier calibration's is refused unless
    `force`."""
    spec = load_targets(targets, scenario)
    check_output_folder(Path(out_dir), "calibrate", force)
    total = max_evaluations + (1 if sample < 1 else 0)
    with progress_bar(progress, total, f"{scenario.name}: calibrate",
                      ("objective", "best")) as advance:
        best = float("inf")

        def tick(ev: Evaluation) -> None:
            """One evaluation done: its objective, and the best of the sample's so far."""
            nonlocal best
            confirmation = ev.sample == 1 and sample < 1
            if not confirmation:
                best = min(best, ev.objective)
            advance(objective=f"{ev.objective:.5g}" + (" (full scale)" if confirmation else ""),
                    best=f"{best:.5g}")

        result = fit(scenario, spec, sample=sample, seed=seed, replications=replications,
                     max_evaluations=max_evaluations, method=method, diff_step=diff_step,
                     workers=workers, on_evaluation=tick)
    record = write_outputs(result, scenario, out_dir, targets, command, force)
    return result, record
