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
does not count pays share(c) * n. Only the basic part of an earnings-related benefit is
co-financed; the rest is the `fund`'s. The state pays the remainder of the public part.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..scenario.vocabulary import BENEFIT_CODE, ITEMS, PAYERS, STATE_CODE
from .counters import counters_for_rule
from .rules import CompiledRule
from .spells import SpellTable

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ER = BENEFIT_CODE["earnings_related"]
SERVICE = STATE_CODE["service"]


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
          counter_at_start: FloatArray | None = None) -> Pricing:
    """Price every segment of `spells` under `rule`.

    The counter at each segment start is taken from `counter_at_start`, else from the table's
    stored counter for this rule, else computed from the history (counters.py).
    """
    if counter_at_start is None:
        counter_at_start = spells.counter_at_start.get(rule.name)
    if counter_at_start is None:
        counter_at_start = counters_for_rule(spells, rule)
    n = len(spells)
    paid = spells.paid_days
    basic = np.where(spells.benefit == ER, np.minimum(spells.basic_part, spells.daily_amount),
                     spells.daily_amount)
    gross = spells.daily_amount * paid
    public = basic * paid
    municipality = np.zeros(n)
    for i, block in enumerate(rule.blocks):
        covered = rule.block_of_benefit[spells.benefit] == i
        counts = covered & block.counts[spells.state]
        charged = covered & block.charged[spells.state]
        c0 = counter_at_start
        moving = charged & counts
        still = charged & ~counts
        sched = block.schedule
        municipality[moving] = basic[moving] * (sched.integral(c0[moving] + paid[moving])
                                                - sched.integral(c0[moving]))
        municipality[still] = public[still] * sched.share_at(c0[still])
    benefit = {"municipality": municipality, "state": public - municipality,
               "fund": gross - public}
    service_cost = {p: np.zeros(n) for p in PAYERS}
    if services is not None and len(services.cost_per_day):
        in_service = (spells.state == SERVICE) & (spells.service >= 0)
        code = np.where(in_service, spells.service, 0)
        days = np.where(in_service, spells.duration, 0.0)
        cost = services.cost_per_day[code] * days
        by_state = services.paid_by_state[code]
        compensation = np.minimum(services.state_compensation_per_day[code] * days, cost)
        service_cost["state"] = np.where(by_state, cost, compensation)
        service_cost["municipality"] = np.where(by_state, 0.0, cost - compensation)
    return Pricing(rule.name, benefit, service_cost, bonus_payments(spells, rule, counter_at_start),
                   counter_at_start)


def bonus_payments(spells: SpellTable, rule: CompiledRule, counter_at_start: FloatArray
                   ) -> BonusPayments:
    """Bonuses for entering a state from another (progress), paid `lasting_days` after entry if
    the person stays that long (across consecutive segments in the same state)."""
    if not rule.bonuses or len(spells) == 0:
        return BonusPayments(np.zeros(0, np.int64), np.zeros(0), np.zeros(0),
                             np.zeros(0, np.int8), np.zeros(0, np.int8))
    order = spells.person_order()
    pid = spells.person_id[order]
    state = spells.state[order]
    same_person = np.concatenate([[False], pid[1:] == pid[:-1]])
    prev_state = np.concatenate([[-1], state[:-1]])
    new_run = ~same_person | (prev_state != state)
    run = np.cumsum(new_run) - 1
    run_end = np.zeros(run[-1] + 1)
    np.maximum.at(run_end, run, spells.end_day[order])
    start = spells.start_day[order]
    counter = counter_at_start[order]
    parts = []
    for b in rule.bonuses:
        entry = new_run & same_person & (state == b.target_state)
        ok = entry & (run_end[run] - start >= b.lasting_days) & (counter >= b.min_counter)
        rows = order[ok]
        parts.append((rows, start[ok] + b.lasting_days, np.full(rows.size, b.amount),
                      np.full(rows.size, PAYERS.index(b.payer), np.int8),
                      np.full(rows.size, PAYERS.index(b.payee), np.int8)))
    segment, day, amount, payer, payee = (np.concatenate(column) for column in zip(*parts,
                                                                                  strict=True))
    return BonusPayments(segment.astype(np.int64), day, amount, payer, payee)
