"""The model's side of each target, measured on one simulated history (pure, no randomness).

- `municipal_share`: Kela's bill of the rule in force (accounting/kela.py): the co-financed days
  paid in the period's payment months, optionally of one benefit and day class, as euros, paid
  days or distinct recipients (people with such a day in the period: counted over the whole
  period, not added up over months or classes).
- `recipients`: distinct people paid a day of the benefit in the period (`basis: paid`, the
  default), or with a co-financed day (`basis: co_financed`). A day belongs to the period of
  its payment, day + `benefits.payment_lag_days`, as in Kela's statistics.
- `gross_benefits`: benefits paid in the period (whole daily amounts, every payer).
- `stock`: jobseekers (unemployed, waiting for a service or in one) at the first day of the
  month, or the mean over the month starts of the year; optionally of one benefit.
- `long_term_share`, `duration_class`: the share of those jobseekers unemployed for a year or
  more, or for `min_months` to `max_months` (months of 365.25 / 12 days), counted from the
  start of their spell (outcomes.Runs); the mean of the months' shares.
- `activation_rate`: those in a service over all jobseekers (services / (unemployed + waiting
  + in services)), the mean of the months' rates.

Figures are of the history as simulated; `fit.py` scales the extensive ones back from a sample.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..accounting.kela import co_financed
from ..accounting.ledger import Plan
from ..accounting.outcomes import JOBSEEKER_STATES, LONG_TERM_DAYS, Runs
from ..funding.spells import SpellTable, distinct
from ..scenario.vocabulary import STATE_CODE
from ..simulation.engine import SimulationResult
from .targets import DAYS_PER_MONTH, Spec, Target, Window

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
SERVICE = STATE_CODE["service"]


def measure(spec: Spec, plan: Plan, result: SimulationResult) -> FloatArray:
    """The model's figure for every target of `spec`, in order."""
    out = np.zeros(len(spec.targets))
    billed = [i for i, t in enumerate(spec.targets) if t.measure == "municipal_share" or (
        t.measure == "recipients" and t.basis == "co_financed")]
    if billed:
        _billed(spec, plan, result, billed, out)
    spells = result.spells
    lag = float(plan.scenario.benefits.payment_lag_days)
    runs: Runs | None = None
    for i, (t, w) in enumerate(zip(spec.targets, spec.windows, strict=True)):
        if i in billed:
            continue
        if t.measure in ("recipients", "gross_benefits"):
            paid = spells.benefit_paid.copy()
            if w.benefit is not None:
                paid &= spells.benefit == w.benefit
            lo = np.maximum(spells.start_day, w.first_day - lag)
            hi = np.minimum(spells.end_day, w.end_day - lag)
            overlap = np.where(paid, np.clip(hi - lo, 0.0, None), 0.0)
            if t.measure == "recipients":
                out[i] = float(distinct(spells.person_id[overlap > 0]).size)
            else:
                out[i] = float(np.sum(spells.daily_amount * overlap)
                               * spells.paid_days_per_week / 7.0)
            continue
        starts = plan.month_starts[list(w.months)]
        if t.measure in ("stock", "activation_rate"):
            out[i] = float(np.mean([_at_month_start(spells, day, t, w) for day in starts]))
            continue
        if runs is None:
            runs = Runs.of(spells, result.elapsed_days)
        out[i] = float(np.mean([_duration_share(runs, day, t) for day in starts]))
    return out


def _at_month_start(spells: SpellTable, day: float, t: Target, w: Window) -> float:
    present = (spells.start_day <= day) & (spells.end_day > day) & JOBSEEKER_STATES[
        spells.state]
    if t.measure == "stock":
        if w.benefit is not None:
            present &= spells.benefit == w.benefit
        return float(np.count_nonzero(present))
    seekers = np.count_nonzero(present)
    return float(np.count_nonzero(present & (spells.state == SERVICE)) / seekers) \
        if seekers else 0.0


def _duration_share(runs: Runs, day: float, t: Target) -> float:
    present = (runs.start <= day) & (runs.end > day)
    seekers = np.count_nonzero(present)
    if not seekers:
        return 0.0
    duration = day - runs.origin
    if t.measure == "long_term_share":
        inside = duration >= LONG_TERM_DAYS
    else:
        assert t.min_months is not None
        inside = duration >= t.min_months * DAYS_PER_MONTH
        if t.max_months is not None:
            inside &= duration < t.max_months * DAYS_PER_MONTH
    return float(np.count_nonzero(present & inside) / seekers)


def _billed(spec: Spec, plan: Plan, result: SimulationResult, which: list[int],
            out: FloatArray) -> None:
    """The targets read off Kela's bill, chunk by chunk of whole people (so distinct people
    add up over chunks)."""
    n_months = len(plan.months)
    masks = []
    for i in which:
        w = spec.windows[i]
        months = np.zeros(n_months, bool)
        months[list(w.months)] = True
        masks.append((months, w.benefit, w.label))
    for parts in co_financed(result.spells, plan):
        if not parts:
            continue
        month = np.concatenate([p.month for p in parts])
        benefit = np.concatenate([p.benefit for p in parts])
        label = np.concatenate([p.label for p in parts])
        person = np.concatenate([p.person for p in parts])
        euros = np.concatenate([p.euros for p in parts])
        paid_days = np.concatenate([p.paid_days for p in parts])
        for i, (months, b, c) in zip(which, masks, strict=True):
            t = spec.targets[i]
            mask = months[month]
            if b is not None:
                mask &= benefit == b
            if c is not None:
                mask &= label == c
            quantity = "recipients" if t.measure == "recipients" else (t.quantity or "euros")
            if quantity == "euros":
                out[i] += float(euros[mask].sum())
            elif quantity == "paid_days":
                out[i] += float(paid_days[mask].sum())
            else:
                out[i] += float(distinct(person[mask]).size)
