"""Municipal strategies: whom a municipality refers to a service.

- `none`: nobody.
- `fifo`: at a review, eligible people in order of arrival in unemployment, while places are
  free.
- `threshold`: a referral the moment the person's in-force counter reaches
  `refer_at_paid_days` (0: at arrival), and at each later review while it is past it (after a
  service ended or an offer was declined); a queue forms when places run short.
- `incentive_aware`: candidates ranked by the municipal cost a referral is expected to avoid,
  net of the municipality's own cost of the service, while places are free; only referrals
  that save the municipality money are made. The saving is derived from the rule in force,
  through its share schedule and the states it counts and charges, never per preset:

      saving = benefit cost of the service period if the person stayed unemployed
             - benefit cost of the service period in the service
             + after-effect: expected unemployment days avoided x share after the service
             - the municipality's net cost of the service

  The municipality prices a period at the share it is billed for the person now (the paying
  agency bills it monthly by accrued-day class): it acts on the people on its bill, and is
  myopic about the counter's future. Under the two-step rule, service days are neither counted
  nor charged, so referring someone whose counter is past paid day 300 avoids half their
  benefit for the service period while nothing is saved below 300: referrals crowd just past
  day 300. Under the graduated rule service days are charged as well, the first two terms
  cancel, and only services with a real after-effect pay off. A rule's bonuses (progress
  incentives) add the bonus times the extra chance of its transition that the service brings
  (its direct outcomes and its after-effect).

Reviews are per person, every `review_every_days` (jittered by +-25 %) from their arrival in
unemployment (engine.py); set it to 1 for daily decisions. At a review, the places of a pool
go to the people reviewed that day by their strategies' order, across the municipalities
sharing the pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..funding.rules import CompiledRule, ShareSchedule
from ..scenario.schema import Policy, PolicyOverride, Scenario, Service
from ..scenario.vocabulary import STATE_CODE, TRANSITIONS
from .hazards import CompetingRisks
from .lifecourse import DESTINATION_STATE
from .population import mean_of

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

UNEMPLOYED = STATE_CODE["unemployed"]
SERVICE = STATE_CODE["service"]


@dataclass(frozen=True)
class MunicipalPolicy:
    strategy: str
    review_every_days: float
    refer_at_paid_days: float
    take_up: float


def policy_of(policy: Policy, municipality: str) -> MunicipalPolicy:
    """The policy in force in one municipality: the scenario's, with its own overrides."""
    over = policy.by_municipality.get(municipality, PolicyOverride())

    def pick(name: str) -> float | str:
        value = getattr(over, name)
        return value if value is not None else getattr(policy, name)  # type: ignore[no-any-return]

    return MunicipalPolicy(str(pick("strategy")), float(pick("review_every_days")),
                           float(pick("refer_at_paid_days")), float(pick("take_up")))


@dataclass(frozen=True, eq=False)
class CompiledService:
    """A service's parameters as arrays, and its pools: one per municipality or area."""

    index: int
    name: str
    spec: Service
    pool_of: IntArray                 # by municipality code: pool index, or -1
    pool_capacity: list[int]
    eligible_group: npt.NDArray[np.bool_]
    during: FloatArray                # exit multipliers in the service (employment, education,
    after: FloatArray                 # inactivity) and after it
    outcome_states: IntArray          # direct outcomes on completion...
    outcome_probability: FloatArray   # ...and their probabilities
    outcome_cumulative: list[float]   # running sums of outcome_probability
    mean_days: float
    municipal_cost_per_day: float

    @classmethod
    def compile(cls, index: int, name: str, spec: Service, s: Scenario) -> CompiledService:
        munis = list(s.municipalities)
        pool_of = np.full(len(munis), -1, np.int64)
        capacity: list[int] = []
        for place, places in spec.capacity.items():
            members = s.areas.get(place, [place])
            for m in members:
                pool_of[munis.index(m)] = len(capacity)
            capacity.append(int(places))
        groups = list(s.groups)
        eligible = np.array([spec.eligible.groups is None or g in spec.eligible.groups
                             for g in groups])
        outcomes = list(spec.on_completion.items())
        net = 0.0 if spec.paid_by == "state" else max(
            spec.cost_per_day - spec.state_compensation_per_day, 0.0)
        return cls(
            index, name, spec, pool_of, capacity, eligible,
            np.array([spec.hazard_during.employment, spec.hazard_during.education,
                      spec.hazard_during.inactivity]),
            np.array([spec.hazard_after.employment, spec.hazard_after.education,
                      spec.hazard_after.inactivity]),
            np.array([STATE_CODE[TRANSITIONS[t]] for t, _ in outcomes], np.int64),
            np.array([p for _, p in outcomes], np.float64),
            np.cumsum([p for _, p in outcomes]).tolist(),
            mean_of(spec.duration_days), net,
        )


def eligible(service: CompiledService, group: npt.NDArray[np.integer[Any]], counter: FloatArray
             ) -> np.ndarray:
    spec = service.spec.eligible
    ok = service.eligible_group[group] & (counter >= spec.min_paid_days)
    if spec.max_paid_days is not None:
        ok &= counter <= spec.max_paid_days
    return np.asarray(ok)


def expected_saving(rule: CompiledRule, service: CompiledService, counter: FloatArray,
                    amount: FloatArray, benefit: npt.ArrayLike, exit_rates: FloatArray,
                    paid_days_per_week: int) -> FloatArray:
    """What referring each candidate is expected to save the municipality (see module doc).

    `amount` is the co-financeable benefit per paid day (the basic part), `exit_rates` the
    candidates' current exit hazards by destination (n, 3)."""
    r = paid_days_per_week / 7.0
    length = service.mean_days
    paid_in_service = length * r if service.spec.benefit_paid else 0.0
    benefit = np.asarray(benefit)
    stay = np.zeros(counter.size)
    serve = np.zeros(counter.size)
    share_after = np.zeros(counter.size)
    for i, block in enumerate(rule.blocks):
        mine = rule.block_of_benefit[benefit] == i
        if not mine.any():
            continue
        c = counter[mine]
        sched = block.schedule
        stay[mine] = _period_cost(bool(block.charged[UNEMPLOYED]), sched, c, length * r)
        serve[mine] = _period_cost(bool(block.charged[SERVICE]), sched, c, paid_in_service)
        after_counter = c + (paid_in_service if block.counts[SERVICE] else 0.0)
        share_after[mine] = np.where(block.charged[UNEMPLOYED],
                                     sched.share_at(after_counter), 0.0)
    base = exit_rates.sum(axis=1)
    boosted = (exit_rates * service.after).sum(axis=1)
    window = service.spec.hazard_after.days
    days_saved = _expected_days(base, window) - _expected_days(boosted, window)
    after_effect = days_saved * r * share_after
    return np.asarray(amount * (stay - serve + after_effect)
                      - service.municipal_cost_per_day * length
                      + _bonus_gain(rule, service, counter, exit_rates))


def _bonus_gain(rule: CompiledRule, service: CompiledService, counter: FloatArray,
                exit_rates: FloatArray) -> FloatArray:
    """The rule's bonuses the referral is expected to bring the municipality (net of those it
    pays): amount x the extra chance of the bonus's transition, which is the service's direct
    outcome on completion plus the after-effect's extra exits there within its window, at
    constant current rates. Counted only for people whose counter has reached the bonus's
    `min_counter`; whether the new state lasts `lasting_days` is not weighed."""
    gain = np.zeros(counter.size)
    if not rule.bonuses:
        return gain
    window = service.spec.hazard_after.days

    def reach(rates: FloatArray) -> FloatArray:
        """P(exit to each destination within the window), (n, destinations)."""
        total = rates.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = rates / total * -np.expm1(-total * window)
        return np.asarray(np.where(total > 0, p, 0.0))

    extra = reach(exit_rates * service.after) - reach(exit_rates)
    for b in rule.bonuses:
        sign = (b.payee == "municipality") - (b.payer == "municipality")
        if sign == 0:
            continue
        chance = float(service.outcome_probability[service.outcome_states
                                                   == b.target_state].sum())
        column = np.flatnonzero(b.target_state == DESTINATION_STATE)
        more = extra[:, column[0]] if column.size else 0.0
        gain += sign * b.amount * (chance + more) * (counter >= b.min_counter)
    return gain


def _period_cost(charged: bool, sched: ShareSchedule, c: FloatArray, paid_days: float
                 ) -> FloatArray:
    """Share-weighted paid days of a period of `paid_days`, at the share billed at counter c."""
    if not charged:
        return np.zeros(c.size)
    return np.asarray(sched.share_at(c) * paid_days)


def _expected_days(rate: FloatArray, window: float) -> FloatArray:
    """Expected days still unemployed within `window` days at a constant exit rate."""
    with np.errstate(divide="ignore", invalid="ignore"):
        days = -np.expm1(-rate * window) / rate
    return np.asarray(np.where(rate > 0, days, window))


def current_exit_rates(risks: CompetingRisks, duration: FloatArray, multiplier: FloatArray
                       ) -> FloatArray:
    """Exit hazards by destination at the given spell durations (n, destinations)."""
    band = np.searchsorted(risks.edges, duration, side="right") - 1
    return np.asarray(risks.rates[band] * multiplier)
