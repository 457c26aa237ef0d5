"""Pricing: a pure, vectorised function of a spell history and a funding rule.

Money convention: amounts are float64 in the scenario's currency throughout the computation and
rounded to cents only when reported. Float64 carries about 16 significant digits, so a national
total of 10^10 euros accumulates errors far below a cent, while vectorised float arithmetic
prices millions of segments per second; Decimal would be exact to the cent but about two
orders of magnitude slower and cannot be vectorised. The legal examples are checked to the
cent after rounding.

For a segment of n paid days entering with counter c, a block that counts and charges the
segment's state makes the municipality pay
    basic_part_per_day * (S(c + n) - S(c)),   S(x) = integral of the share schedule from 0 to x,
which is exact for any number of share steps crossed within the segment. A charged state that
does not count pays share(c) * n. A timeline prices each paid day under the rule in force on its
date: segments are split at its switch dates, each piece entering with the counter every rule
has reached by then (all counters run over the whole history). Only the basic part of an
earnings-related benefit is co-financed; the rest is the `fund`'s. The state pays the
remainder of the public part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..scenario.vocabulary import BENEFIT_CODE, ITEMS, PAYERS, STATE_CODE, STATES
from .counters import counter_in_force, rule_counters, split_by_phase
from .rules import NO_RULE, CompiledRule, in_mask
from .spells import SpellTable, row_blocks, select

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ER = BENEFIT_CODE["earnings_related"]
SERVICE = STATE_CODE["service"]
BLOCK_ROWS = 1 << 16   # rows priced at a time


@dataclass(frozen=True)
class ServiceCosts:
    """Per service code: cost per day, who pays it, and the state's compensation per day
    (e.g. for rehabilitative work activity) when the municipality pays."""

    cost_per_day: FloatArray
    paid_by_state: npt.NDArray[np.bool_]
    state_compensation_per_day: FloatArray

    @classmethod
    def none(cls, n_services: int) -> ServiceCosts:
        return cls(np.zeros(n_services), np.zeros(n_services, bool), np.zeros(n_services))


@dataclass(frozen=True)
class BonusPayments:
    """One row per bonus paid: the segment that earned it, the day it is paid, the amount."""

    segment: IntArray
    day: FloatArray
    amount: FloatArray
    payer: npt.NDArray[np.int8]   # codes into vocabulary.PAYERS
    payee: npt.NDArray[np.int8]


@dataclass(frozen=True)
class Pricing:
    """Cost lines of one rule on one history: per segment for benefits and services, per
    payment for bonuses. A bonus is a cost to its payer and a receipt (negative) to its payee."""

    rule: str
    benefit: dict[str, FloatArray]   # payer -> amount per segment
    service: dict[str, FloatArray]   # payer -> amount per segment
    bonuses: BonusPayments
    counter_at_start: FloatArray = field(repr=False)

    def segment_total(self, payer: str) -> FloatArray:
        """Benefit plus service cost of each segment to one payer."""
        return self.benefit[payer] + self.service[payer]

    def bonus_net(self, payer: str) -> FloatArray:
        """Per bonus row: + amount for its payer, - amount for its payee, 0 otherwise."""
        code = PAYERS.index(payer)
        sign = (self.bonuses.payer == code).astype(np.float64) - (self.bonuses.payee == code)
        return np.asarray(sign * self.bonuses.amount)

    def totals(self) -> dict[str, dict[str, float]]:
        """payer -> item -> amount, plus payer 'gross' (what all payers pay together, where
        bonuses and transfers net out)."""
        out: dict[str, dict[str, float]] = {}
        for payer in PAYERS:
            out[payer] = {
                "benefit": float(self.benefit[payer].sum()),
                "service": float(self.service[payer].sum()),
                "bonus": float(self.bonus_net(payer).sum()),
                "transfer": 0.0,
            }
        out["gross"] = {item: sum(out[p][item] for p in PAYERS) for item in ITEMS}
        return out

    def payer_totals(self) -> dict[str, float]:
        """payer -> total over items, and 'gross'."""
        return {p: sum(items.values()) for p, items in self.totals().items()}


def price(spells: SpellTable, rule: CompiledRule, services: ServiceCosts | None = None,
          counter_at_start: FloatArray | Mapping[str, FloatArray] | None = None,
          service_cost: Mapping[str, FloatArray] | None = None) -> Pricing:
    """Price every segment of `spells` under `rule` (a simple rule or a timeline).

    The counters at segment starts come from `counter_at_start` (the simple rule's array, or
    arrays by simple-rule name), else from the table's stored counters, else are computed
    from the history (counters.py). `service_cost`: service_costs_of(spells, services), when
    the caller has it.
    """
    if counter_at_start is None or isinstance(counter_at_start, Mapping):
        counters = rule_counters(spells, rule, counter_at_start)
    elif rule.is_timeline:
        raise ValueError("a timeline is priced with the counters of each of its rules, by name")
    else:
        counters = {rule.name: np.asarray(counter_at_start, np.float64)}
    n = len(spells)
    shares = {"municipality": np.empty(n), "state": np.empty(n), "fund": np.empty(n)}
    if rule.is_timeline:
        shares["municipality"] = _timeline_share(spells, rule, counters)
    # Block by block: each row's amounts depend on that row alone, and a block's temporaries
    # stay in the processor's cache instead of each making a pass over memory.
    for rows in row_blocks(n, BLOCK_ROWS):
        _price_rows(spells, rows, rule, counters, shares)
    if service_cost is None:
        service_cost = service_costs_of(spells, services)
    return Pricing(rule.name, shares, dict(service_cost), _bonuses(spells, rule, counters),
                   counter_in_force(spells, rule, counters))


def service_costs_of(spells: SpellTable, services: ServiceCosts | None) -> dict[str, FloatArray]:
    """payer -> the cost of each segment's service days to that payer: the same under every
    rule (what `price` puts in Pricing.service; a caller pricing one table under several
    rules works it out once and hands it to each)."""
    n = len(spells)
    service_cost = {p: np.zeros(n) for p in PAYERS}
    if services is not None and len(services.cost_per_day):
        for rows in row_blocks(n, BLOCK_ROWS):
            _service_rows(spells, rows, services, service_cost)
    return service_cost


def _price_rows(spells: SpellTable, rows: slice, rule: CompiledRule,
                counters: Mapping[str, FloatArray], shares: dict[str, FloatArray]) -> None:
    """The benefit cost of the rows to each payer, written into `shares` (a timeline's
    municipal share is there already)."""
    benefit = spells.benefit[rows]
    daily = spells.daily_amount[rows]
    paid = select(spells.benefit_paid[rows],
                  (spells.end_day[rows] - spells.start_day[rows])
                  * (spells.paid_days_per_week / 7.0), 0.0)
    basic = select(benefit == ER, np.minimum(spells.basic_part[rows], daily), daily)
    public = basic * paid
    municipality = shares["municipality"][rows]
    if not rule.is_timeline:
        municipality[:] = _municipal_share(benefit, spells.state[rows], paid, basic, rule,
                                           counters[rule.name][rows])
    np.subtract(public, municipality, out=shares["state"][rows])
    np.subtract(daily * paid, public, out=shares["fund"][rows])


def _service_rows(spells: SpellTable, rows: slice, services: ServiceCosts,
                  service_cost: dict[str, FloatArray]) -> None:
    """The service cost of the rows to the state and the municipality. A row in no service
    costs what service 0 costs for no days; the others are worked out one by one."""
    to_state = service_cost["state"][rows]
    to_municipality = service_cost["municipality"][rows]
    to_state[:], to_municipality[:] = _service_split(services, np.zeros(1, np.int64),
                                                     np.zeros(1))
    service = spells.service[rows]
    at = np.flatnonzero((spells.state[rows] == SERVICE) & (service >= 0))
    days = spells.end_day[rows][at] - spells.start_day[rows][at]
    to_state[at], to_municipality[at] = _service_split(services, service[at], days)


def _service_split(services: ServiceCosts, code: npt.NDArray[np.integer], days: FloatArray
                   ) -> tuple[FloatArray, FloatArray]:
    """The cost of `days` in services `code` to the state and to the municipality."""
    cost = services.cost_per_day[code] * days
    by_state = services.paid_by_state[code]
    compensation = np.minimum(services.state_compensation_per_day[code] * days, cost)
    return np.where(by_state, cost, compensation), np.where(by_state, 0.0, cost - compensation)


def co_financeable(spells: SpellTable) -> FloatArray:
    """The part of each segment's daily amount a rule can co-finance: the basic part of an
    earnings-related allowance (at most its amount), the whole of the other benefits."""
    return np.asarray(np.where(spells.benefit == ER,
                               np.minimum(spells.basic_part, spells.daily_amount),
                               spells.daily_amount), np.float64)


def _municipal_share(benefit: npt.NDArray[np.int8], state: npt.NDArray[np.int8],
                     paid: FloatArray, basic: FloatArray, rule: CompiledRule,
                     counter: FloatArray) -> FloatArray:
    """The municipality's part of each segment's co-financeable amount under a simple rule.
    Worked out for every row and kept where the block charges it: on a block of rows that
    is faster than picking the rows out and putting them back."""
    municipality = np.zeros(paid.size)
    for i, block in enumerate(rule.blocks):
        covered = in_mask(rule.block_of_benefit == i, benefit)
        counts = in_mask(block.counts, state)
        charged = covered & in_mask(block.charged, state)
        moving = charged & counts
        still = charged & ~counts
        sched = block.schedule
        if not charged.any():
            continue
        at_counter, share = sched.integral_and_share(counter)
        if moving.any():
            municipality = select(moving, basic * (sched.integral(counter + paid) - at_counter),
                                  municipality)
        if still.any():
            municipality = select(still, basic * paid * share, municipality)
    return municipality


def _timeline_share(spells: SpellTable, rule: CompiledRule,
                    counters: Mapping[str, FloatArray]) -> FloatArray:
    """The municipal share under a timeline: each paid segment split at the switch dates and
    each piece priced under the rule in force, with that rule's counter at the piece start."""
    pieces, piece_counters, rows, parts = split_by_phase(spells, rule, counters,
                                                         only=spells.benefit_paid)
    paid = pieces.paid_days
    basic = co_financeable(pieces)
    share = np.zeros(len(pieces))
    for simple, here in parts:
        share[here] = _municipal_share(pieces.benefit[here], pieces.state[here], paid[here],
                                       basic[here], simple, piece_counters[simple][here])
    return np.asarray(np.bincount(rows, weights=share, minlength=len(spells)), np.float64)


def _bonuses(spells: SpellTable, rule: CompiledRule, counters: Mapping[str, FloatArray]
             ) -> BonusPayments:
    """The bonuses of the rule in force on the day each segment begins."""
    if not rule.is_timeline:
        return bonus_payments(spells, rule, counters[rule.name])
    parts = []
    for p, ph in enumerate(rule.phases):
        if not ph.rule.bonuses:
            continue
        got = bonus_payments(spells, ph.rule, counters[ph.rule.name])
        keep = rule.phase_at(spells.start_day[got.segment]) == p
        parts.append(BonusPayments(got.segment[keep], got.day[keep], got.amount[keep],
                                   got.payer[keep], got.payee[keep]))
    if not parts:
        return bonus_payments(spells, NO_RULE, np.zeros(len(spells)))
    return BonusPayments(*(np.concatenate(column) for column in zip(
        *((b.segment, b.day, b.amount, b.payer, b.payee) for b in parts), strict=True)))


def bonus_payments(spells: SpellTable, rule: CompiledRule, counter_at_start: FloatArray
                   ) -> BonusPayments:
    """Bonuses for entering a state from another (progress), paid `lasting_days` after entry if
    the person stays that long (across consecutive segments in the same state)."""
    if not rule.bonuses or len(spells) == 0:
        return BonusPayments(np.zeros(0, np.int64), np.zeros(0), np.zeros(0),
                             np.zeros(0, np.int8), np.zeros(0, np.int8))
    order = spells.person_order()
    n = order.size
    state = spells.state[order]
    # A run: a person's consecutive segments in one state. Only runs entered from another
    # state of the same person, into a state some bonus rewards, are looked at further.
    new_run = np.zeros(n + 1, bool)                      # one past the end: a run ends there
    new_run[spells.person_starts()] = True
    new_run[n] = True
    first = new_run.copy()
    new_run[1:n] |= state[1:] != state[:-1]
    targets = np.zeros(len(STATES), bool)
    targets[[b.target_state for b in rule.bonuses]] = True
    lo = np.flatnonzero(new_run[:n] & ~first[:n] & in_mask(targets, state))
    hi = lo + 1                                          # where each run ends (exclusive)
    going = np.flatnonzero(~new_run[hi])                 # runs of more than one segment
    while going.size:
        hi[going] += 1
        going = going[~new_run[hi[going]]]
    size = hi - lo
    # the day each run ends: the latest end of its segments (at least 0, as it always was)
    offset = np.cumsum(size) - size
    in_runs = np.repeat(lo - offset, size) + np.arange(size.sum())
    run_end = (np.maximum(np.maximum.reduceat(spells.end_day[order[in_runs]], offset), 0.0)
               if lo.size else np.zeros(0))
    entry = order[lo]                                    # each run's first row in the table
    start = spells.start_day[entry]
    counter = counter_at_start[entry]
    parts = []
    for b in rule.bonuses:
        ok = ((state[lo] == b.target_state) & (run_end - start >= b.lasting_days)
              & (counter >= b.min_counter))
        rows = entry[ok].astype(np.int64, copy=False)
        parts.append((rows, start[ok] + b.lasting_days, np.full(rows.size, b.amount),
                      np.full(rows.size, PAYERS.index(b.payer), np.int8),
                      np.full(rows.size, PAYERS.index(b.payee), np.int8)))
    if len(parts) == 1:
        return BonusPayments(*parts[0])
    segment, day, amount, payer, payee = (np.concatenate(column) for column in zip(*parts,
                                                                                  strict=True))
    return BonusPayments(segment, day, amount, payer, payee)
