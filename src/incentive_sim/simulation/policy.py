"""Municipal strategies: whom a municipality refers to a service.

- `none`: nobody.
- `fifo`: at a review, eligible people in order of arrival in unemployment, while places are
  free.
- `threshold`: a referral the moment the person's in-force counter reaches
  `refer_at_paid_days` (0: at arrival), and at each later review while it is past it (after a
  service ended or an offer was declined); a queue forms when places run short.
- `incentive_aware`: the places the municipality has go to the candidates whose referral is
  expected to save it most, net of the service's own cost to it. The saving is derived from
  the rule in force, through its share schedule and the states it counts and charges, never
  per preset, and counted over the municipality's `planning_horizon_days`:

      saving = expected benefit cost to the municipality within the horizon if the person
               stays unemployed
             - the same if referred now: the service period (charged only if the rule
               charges service days, the counter moving only if it counts them), then back
               in unemployment with the after-effect, unless a direct outcome took them out
             + the rule's bonuses the service is expected to bring
             - the municipality's net cost of the service

  Both paths are expected values at the person's current exit rates, so a saving far in the
  future weighs less (the person may well have found work by then). Under the two-step rule
  service days are neither counted nor charged: a referral past paid day 300 avoids half the
  benefit of the service period at once, while below 300 it only postpones the crossing, which
  is worth less the further away it is; referrals step up at day 300. Under the graduated rule
  service days are counted and charged, and only the after-effect (against the lock-in) moves
  the municipality's bill, so the step is gone. A rule's bonuses add the bonus times the extra
  chance of its transition that the service brings (its direct outcomes and its after-effect).

  Above the places a service has at the start (`capacity`), the municipality buys more or
  fewer places each year (engine.py): a place for each distinct candidate it turned away
  whose referral would have saved more than it costs, one fewer for each referral that saved
  less, `response_strength` of that change a year, within `places_range` times the starting
  places. 0 keeps the places fixed.

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
PLANNING_HORIZON_DAYS = 365.0     # the default look-ahead of an incentive-aware municipality


@dataclass(frozen=True)
class MunicipalPolicy:
    strategy: str
    review_every_days: float
    refer_at_paid_days: float
    take_up: float
    response_strength: float
    planning_horizon_days: float


def policy_of(policy: Policy, municipality: str) -> MunicipalPolicy:
    """The policy in force in one municipality: the scenario's, with its own overrides."""
    over = policy.by_municipality.get(municipality, PolicyOverride())

    def pick(name: str) -> float | str:
        value = getattr(over, name)
        return value if value is not None else getattr(policy, name)  # type: ignore[no-any-return]

    return MunicipalPolicy(str(pick("strategy")), float(pick("review_every_days")),
                           float(pick("refer_at_paid_days")), float(pick("take_up")),
                           float(pick("response_strength")),
                           float(pick("planning_horizon_days")))


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
    def all_of(cls, s: Scenario) -> list[CompiledService]:
        """Every service of the scenario, compiled, in the scenario's order (their codes)."""
        return [cls.compile(i, name, spec, s) for i, (name, spec) in enumerate(s.services.items())]

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
                    paid_days_per_week: int, horizon_days: float = PLANNING_HORIZON_DAYS
                    ) -> FloatArray:
    """What referring each candidate is expected to save the municipality within
    `horizon_days`, net of the service's own cost to it (see the module doc).

    `amount` is the co-financeable benefit per paid day (the basic part), `exit_rates` the
    candidates' current exit hazards by destination (n, 3)."""
    gross, cost = referral_value(rule, service, counter, amount, benefit, exit_rates,
                                 paid_days_per_week, horizon_days)
    return gross - cost


def referral_value(rule: CompiledRule, service: CompiledService, counter: FloatArray,
                   amount: FloatArray, benefit: npt.ArrayLike, exit_rates: FloatArray,
                   paid_days_per_week: int, horizon_days: float = PLANNING_HORIZON_DAYS
                   ) -> tuple[FloatArray, FloatArray]:
    """(benefit cost avoided plus bonuses, the service's expected cost to the municipality)
    of referring each candidate now, counted over the next `horizon_days`.

    Both paths are expected values at constant current exit rates: without the referral the
    person stays unemployed until they exit; with it they spend the service's mean length in
    the service (exits locked in by `hazard_during`), leave it for its direct outcomes with
    their probabilities, and are otherwise unemployed again with the after-effect for its
    days. Each path's paid days are priced by the rule's share schedule at the counter they
    reach, which advances only in the states the rule counts; days in states it does not
    charge cost the municipality nothing."""
    r = paid_days_per_week / 7.0
    horizon = float(horizon_days)
    length = min(service.mean_days, horizon)
    paid = 1.0 if service.spec.benefit_paid else 0.0
    benefit = np.asarray(benefit)
    n = counter.size
    base = exit_rates.sum(axis=1)
    during = (exit_rates * service.during).sum(axis=1)
    boosted = (exit_rates * service.after).sum(axis=1)
    window = min(service.spec.hazard_after.days, horizon - length)
    stays = float(1.0 - service.outcome_probability.sum())    # no direct outcome
    in_service = _survival_integral(during, np.zeros(n), length)   # expected service days
    kept = stays * np.exp(-during * length)      # unemployed again when the service ends
    without = np.zeros(n)
    served = np.zeros(n)
    for i, block in enumerate(rule.blocks):
        mine = rule.block_of_benefit[benefit] == i
        if not mine.any():
            continue
        c, sched = counter[mine], block.schedule
        speed_u = r if block.counts[UNEMPLOYED] else 0.0
        speed_s = r * paid if block.counts[SERVICE] else 0.0
        charged_u = float(block.charged[UNEMPLOYED])
        without[mine] = charged_u * _shared_days(sched, c, speed_u, base[mine], horizon)
        cost = paid * float(block.charged[SERVICE]) * _shared_days(
            sched, c, speed_s, during[mine], length)
        # back in unemployment: the after-effect's window, then the usual rates
        c1 = c + speed_s * length
        cost += kept[mine] * charged_u * _shared_days(sched, c1, speed_u, boosted[mine], window)
        c2 = c1 + speed_u * window
        later = kept[mine] * np.exp(-boosted[mine] * window)
        cost += later * charged_u * _shared_days(sched, c2, speed_u, base[mine],
                                                 horizon - length - window)
        served[mine] = cost
    gross = amount * r * (without - served) + _bonus_gain(rule, service, counter, exit_rates)
    return np.asarray(gross), np.asarray(service.municipal_cost_per_day * in_service)


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


def _survival_integral(rate: FloatArray, start: FloatArray, end: float | FloatArray
                       ) -> FloatArray:
    """The integral of exp(-rate u) from u = start to end (days, clipped at 0 from below)."""
    a = np.maximum(start, 0.0)
    b = np.maximum(end, a)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        days = (np.exp(-rate * a) * -np.expm1(-rate * (b - a))) / rate
    return np.asarray(np.where(rate > 0, days, b - a))


def _shared_days(sched: ShareSchedule, c: FloatArray, speed: float, rate: FloatArray,
                 days: float | FloatArray) -> FloatArray:
    """Expected share-weighted calendar days of a period of `days` that a person spends
    unemployed at a constant exit `rate`, with their counter starting at c and growing
    `speed` paid days a calendar day: the integral of exp(-rate u) share(c + speed u) over
    the period, exact band by band of the schedule."""
    days = np.broadcast_to(np.maximum(np.asarray(days, np.float64), 0.0), c.shape)
    if speed == 0.0:
        return np.asarray(sched.share_at(c) * _survival_integral(rate, np.zeros(c.size), days))
    total = np.zeros(c.size)
    edges = np.append(sched.thresholds, np.inf)
    for k, share in enumerate(sched.shares.tolist()):
        if share == 0.0:
            continue
        lo = np.minimum((edges[k] - c) / speed, days)        # when the band is reached
        hi = np.minimum((edges[k + 1] - c) / speed, days)    # and left
        total += share * _survival_integral(rate, lo, np.maximum(hi, np.maximum(lo, 0.0)))
    return total


def current_exit_rates(risks: CompetingRisks, duration: FloatArray, multiplier: FloatArray
                       ) -> FloatArray:
    """Exit hazards by destination at the given spell durations (n, destinations)."""
    band = np.searchsorted(risks.edges, duration, side="right") - 1
    return np.asarray(risks.rates[band] * multiplier)
