"""Simulation-based fitting of a small, named parameter vector with common random numbers.

Every evaluation simulates the scenario with the parameters set, the same seed and the same
replications (common random numbers: two parameter vectors differ only by what the parameters
do, not by fresh noise), measures the model's side of every target (moments.py) and scores
the weighted sum of squared relative differences, sum_i w_i ((model_i - value_i) / value_i)^2.

For speed the fit runs on a sample of the population (`sample` F < 1): the initial caseload,
the inflow and the service places are scaled by F, and the extensive figures (euros, people)
back by 1 / F. The best vector found is then confirmed at full scale. Evaluations simulate up
to the end of the last target's period only (the model runs forward, so later days cannot
change earlier figures); the random draws then differ from a full-horizon run by noise only.

The optimiser works on the parameters scaled to their bounds (u = (theta - low) / (high - low)
in [0, 1]): scipy's least_squares (trust region reflective, bounded) on the residual vector with
a forward-difference Jacobian of step `diff_step` in u (large enough to step over the
simulation's graininess; its columns run in `workers` processes), or Nelder-Mead on the
objective. Every simulation counts towards `max_evaluations`; the result is the best vector
evaluated.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pydantic

from ..accounting.ledger import Plan
from ..scenario import InputError, Problem, Scenario
from ..scenario.places import largest_remainder
from ..simulation.engine import simulate
from .moments import measure
from .targets import Spec, apply

FloatArray = npt.NDArray[np.float64]
Method = Literal["least_squares", "nelder_mead"]
METHODS: tuple[str, ...] = ("least_squares", "nelder_mead")


# ---------------------------------------------------------------- one evaluation

def share_out(counts: dict[str, Any], fraction: float) -> dict[str, int]:
    """Whole counts scaled by `fraction`, rounded by largest remainder so that they add up to
    the scaled total (rounded)."""
    names = list(counts)
    raw = np.array([float(counts[n]) for n in names]) * fraction
    whole = largest_remainder(raw, round(float(raw.sum())))
    return {n: int(v) for n, v in zip(names, whole, strict=True)}


def sampled(data: dict[str, Any], fraction: float) -> dict[str, Any]:
    """The scenario dump with its population (the caseload, the former jobseekers in work and
    the inflow) and service places scaled by `fraction`."""
    if fraction == 1:
        return data
    population = dict(data["population"])
    for key in ("initial_stock", "initial_employed"):
        population[key] = share_out(population.get(key, {}), fraction)
    population["inflow_per_year"] = {k: float(v) * fraction
                                     for k, v in population.get("inflow_per_year", {}).items()}
    services = {name: {**svc, "capacity": share_out(svc["capacity"], fraction)}
                for name, svc in data.get("services", {}).items()}
    return {**data, "population": population, "services": services}


@dataclass(frozen=True)
class Setup:
    """What every evaluation needs (picklable, for worker processes)."""

    base: dict[str, Any]          # the scenario as loaded, dumped (full scale and horizon)
    spec: Spec
    seed: int
    replications: int

    def values(self, theta: Sequence[float]) -> dict[str, float]:
        return {name: float(x) for name, x in zip(self.spec.names, theta, strict=True)}

    def scenario(self, theta: Sequence[float], sample: float = 1.0,
                 horizon_days: int | None = None) -> Scenario:
        """The scenario with the parameters at `theta`, sampled, up to `horizon_days`."""
        data = sampled(apply(self.base, self.spec.parameters, self.values(theta)), sample)
        if horizon_days is not None:
            data = {**data, "horizon_days": horizon_days}
        try:
            return Scenario.model_validate(data)
        except pydantic.ValidationError as exc:   # the bounds were checked, a value between
            # them may still fail
            shown = ", ".join(f"{k} = {v:g}" for k, v in self.values(theta).items())
            raise InputError([Problem(self.spec.file, None, "parameters",
                                      f"the scenario refuses the parameters at {shown}: "
                                      f"{exc}")]) from exc


def model_figures(setup: Setup, theta: Sequence[float], sample: float) -> FloatArray:
    """The model's figure for every target at `theta` (a job for any executor): the mean over
    the replications, extensive figures scaled back from the sample."""
    s = setup.scenario(theta, sample, setup.spec.horizon_days)
    plan = Plan.of(s, [s.funding.in_force])
    total = np.zeros(len(setup.spec.targets))
    for r in range(setup.replications):
        total += measure(setup.spec, plan, simulate(s, r, setup.seed))
    figures = total / setup.replications
    extensive = np.array([t.extensive for t in setup.spec.targets])
    return np.where(extensive, figures / sample, figures)


def relative_differences(figures: FloatArray, values: FloatArray) -> FloatArray:
    """(model - target) / target."""
    return np.asarray((figures - values) / values, np.float64)


def objective(figures: FloatArray, spec: Spec) -> float:
    """The weighted sum of squared relative differences."""
    rel = relative_differences(figures, spec.values)
    return float(np.sum(spec.weights * rel ** 2))


# ---------------------------------------------------------------- the search

@dataclass(frozen=True)
class Evaluation:
    number: int                   # 1, 2, ... in the order evaluated
    theta: tuple[float, ...]
    figures: FloatArray
    objective: float
    sample: float


class _Budget(Exception):
    """The evaluation budget is spent."""


@dataclass
class Evaluator:
    setup: Setup
    sample: float
    max_evaluations: int
    pool: cf.Executor | None = None      # runs the evaluations of a batch side by side
    on_evaluation: Callable[[Evaluation], None] = lambda _: None
    evaluations: list[Evaluation] = field(default_factory=list)
    _seen: dict[tuple[float, ...], Evaluation] = field(default_factory=dict)

    @property
    def low(self) -> FloatArray:
        return np.array([p.low for p in self.setup.spec.parameters])

    @property
    def high(self) -> FloatArray:
        return np.array([p.high for p in self.setup.spec.parameters])

    def theta(self, u: FloatArray) -> tuple[float, ...]:
        u = np.clip(np.asarray(u, np.float64), 0.0, 1.0)
        return tuple(float(x) for x in self.low + u * (self.high - self.low))

    def unit(self, theta: Sequence[float]) -> FloatArray:
        return np.asarray((np.asarray(theta) - self.low) / (self.high - self.low), np.float64)

    def batch(self, thetas: Sequence[tuple[float, ...]]) -> list[Evaluation]:
        """Evaluate the new vectors among `thetas` (in parallel with `workers`) up to the
        budget; raises _Budget once it is spent and more was asked for."""
        todo = list(dict.fromkeys(t for t in thetas if t not in self._seen))
        room = self.max_evaluations - len(self.evaluations)
        jobs = [(self.setup, t, self.sample) for t in todo[:max(room, 0)]]
        if self.pool is not None and len(jobs) > 1:
            futures = [self.pool.submit(model_figures, *job) for job in jobs]
            results = [f.result() for f in futures]
        else:
            results = [model_figures(*job) for job in jobs]
        for t, figures in zip(todo, results, strict=False):
            ev = Evaluation(len(self.evaluations) + 1, t, figures,
                            objective(figures, self.setup.spec), self.sample)
            self.evaluations.append(ev)
            self._seen[t] = ev
            self.on_evaluation(ev)
        if len(todo) > len(jobs):
            raise _Budget
        return [self._seen[t] for t in thetas]

    def residuals(self, u: FloatArray) -> FloatArray:
        return self._residuals(self.batch([self.theta(u)])[0])

    def _residuals(self, ev: Evaluation) -> FloatArray:
        spec = self.setup.spec
        return np.asarray(np.sqrt(spec.weights) * relative_differences(ev.figures, spec.values))

    def best(self) -> Evaluation:
        return min(self.evaluations, key=lambda ev: (ev.objective, ev.number))


def search(ev: Evaluator, start: Sequence[float], method: Method = "least_squares",
           diff_step: float = 0.05) -> None:
    """Run the optimiser from `start` until it stops or the budget is spent."""
    from scipy.optimize import least_squares, minimize

    u0 = ev.unit(start)
    n = u0.size
    try:
        ev.batch([ev.theta(u0)])            # the start comes first, whatever the method
        if method == "least_squares":
            def jacobian(u: FloatArray) -> FloatArray:
                r0 = ev.residuals(u)
                steps = [diff_step if u[j] + diff_step <= 1.0 else -diff_step
                         for j in range(n)]
                points = [u + h * np.eye(n)[j] for j, h in enumerate(steps)]
                done = ev.batch([ev.theta(p) for p in points])
                return np.column_stack([(ev._residuals(e) - r0) / h
                                        for e, h in zip(done, steps, strict=True)])

            least_squares(ev.residuals, u0, jac=jacobian, bounds=(0.0, 1.0), method="trf",
                          ftol=1e-4, xtol=1e-4, gtol=1e-8, max_nfev=10 * ev.max_evaluations)
        else:
            simplex = np.array([u0] + [u0 + (0.15 if u0[j] + 0.15 <= 1 else -0.15)
                                       * np.eye(n)[j] for j in range(n)])
            minimize(lambda u: ev.batch([ev.theta(u)])[0].objective, u0,
                     method="Nelder-Mead", bounds=[(0.0, 1.0)] * n,
                     options={"initial_simplex": simplex, "maxfev": 10 * ev.max_evaluations,
                              "xatol": 1e-3, "fatol": 1e-6, "adaptive": n > 3})
    except _Budget:
        pass


@contextlib.contextmanager
def _pool(workers: int) -> Iterator[cf.Executor | None]:
    """Local processes (spawned, the same on every platform) kept for the whole search."""
    if workers <= 1:
        yield None
        return
    with cf.ProcessPoolExecutor(max_workers=workers,
                                mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


@dataclass(frozen=True)
class Calibration:
    """A finished fit."""

    setup: Setup
    sample: float
    method: str
    max_evaluations: int
    diff_step: float
    start: tuple[float, ...]
    evaluations: tuple[Evaluation, ...]
    best: Evaluation
    full: Evaluation | None           # the best vector at full scale (None: sample is 1)
    wall_time_s: float

    @property
    def first(self) -> Evaluation:
        return self.evaluations[0]

    @property
    def confirmed(self) -> Evaluation:
        """The best vector's figures at full scale."""
        return self.full if self.full is not None else self.best

    def fitted_scenario(self) -> Scenario:
        """The input scenario (full scale and horizon) with the fitted values."""
        return self.setup.scenario(self.best.theta)


def fit(scenario: Scenario, spec: Spec, *, sample: float = 1.0, seed: int | None = None,
        replications: int = 1, max_evaluations: int = 60, method: Method = "least_squares",
        diff_step: float = 0.05, workers: int = 1,
        on_evaluation: Callable[[Evaluation], None] = lambda _: None) -> Calibration:
    """Fit the parameters of `spec` to its targets (see the module doc)."""
    if not 0 < sample <= 1:
        raise InputError([Problem("--sample", None, "--sample",
                                  f"must be in (0, 1] (got {sample!r})")])
    if max_evaluations < 1:
        raise InputError([Problem("--max-evaluations", None, "--max-evaluations",
                                  "must be at least 1")])
    if method not in METHODS:
        raise InputError([Problem("--method", None, "--method",
                                  f"must be one of {', '.join(METHODS)} (got {method!r})")])
    if not 0 < diff_step <= 0.5:
        raise ValueError("diff_step must be in (0, 0.5]")
    started = time.perf_counter()
    setup = Setup(scenario.model_dump(mode="json", by_alias=True), spec,
                  scenario.seed if seed is None else int(seed), int(replications))
    start = tuple(float(p.start) for p in spec.parameters)
    with _pool(workers) as pool:
        ev = Evaluator(setup, float(sample), int(max_evaluations), pool, on_evaluation)
        search(ev, start, method, diff_step)
    best = ev.best()
    full = None
    if sample < 1:
        figures = model_figures(setup, best.theta, 1.0)
        full = Evaluation(len(ev.evaluations) + 1, best.theta, figures,
                          objective(figures, spec), 1.0)
        on_evaluation(full)
    return Calibration(setup, float(sample), method, int(max_evaluations), diff_step, start,
                       tuple(ev.evaluations), best, full, time.perf_counter() - started)
