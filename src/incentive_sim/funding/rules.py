"""Funding rules compiled to arrays: the share schedule as a step function of the paid-day
counter, and masks over state and benefit codes, so counting and pricing are vectorised."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..scenario.rules import flatten_timeline
from ..scenario.schema import Bonus, FundingRule, Liability
from ..scenario.vocabulary import BENEFIT_CODE, BENEFITS, STATE_CODE, STATES, TRANSITIONS

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def state_mask(names: Sequence[str]) -> BoolArray:
    mask = np.zeros(len(STATES), bool)
    mask[[STATE_CODE[s] for s in names]] = True
    return mask


def benefit_mask(names: Sequence[str]) -> BoolArray:
    """Indexed by benefit code; one extra trailing False so code -1 (no benefit) maps to False."""
    mask = np.zeros(len(BENEFITS) + 1, bool)
    mask[[BENEFIT_CODE[b] for b in names]] = True
    return mask


def in_mask(mask: BoolArray, codes: npt.ArrayLike) -> BoolArray:
    """`mask[codes]` for a short mask over state or benefit codes (-1 reads the last entry,
    as an index does), by comparing the codes with the few entries set: on millions of
    int8 codes several times faster than indexing the mask."""
    codes = np.asarray(codes)
    out = np.zeros(codes.shape, bool)
    for code in np.flatnonzero(mask).tolist():
        out |= codes == code
        out |= codes == code - mask.size
    return out


@dataclass(frozen=True, eq=False)
class ShareSchedule:
    """The municipal share as a right-continuous step function of the counter x (paid days):
    share(x) = shares[i] for thresholds[i] <= x < thresholds[i+1], 0 below the first threshold.
    A step from_day 300 thus applies to paid day 301, which occupies counter values [300, 301).
    """

    thresholds: FloatArray
    shares: FloatArray
    _knots: FloatArray
    _integral: FloatArray
    labels: tuple[str, ...] = ()      # one per threshold: the band's name in outputs

    @classmethod
    def from_steps(cls, thresholds: list[float], shares: list[float],
                   labels: Sequence[str | None] | None = None) -> ShareSchedule:
        t = np.asarray(thresholds, float)
        s = np.asarray(shares, float)
        names = list(labels) if labels is not None else [None] * t.size
        if t.size == 0 or t[0] > 0:
            t, s = np.concatenate([[0.0], t]), np.concatenate([[0.0], s])
            names = [None, *names]
        # integral of share from 0 up to each threshold
        integral = np.concatenate([[0.0], np.cumsum(s[:-1] * np.diff(t))])
        bands = tuple(name if name is not None else band_label(t, i)
                      for i, name in enumerate(names))
        return cls(t, s, t, integral, bands)

    @property
    def top_share(self) -> float:
        return float(self.shares.max())

    def share_at(self, x: npt.ArrayLike) -> FloatArray:
        return np.asarray(np.take(self.shares, step_of(self.thresholds, x)), dtype=np.float64)

    def integral(self, x: npt.ArrayLike) -> FloatArray:
        """The integral of share from 0 to x: the share-weighted paid days up to counter x."""
        return self.integral_and_share(x)[0]

    def integral_and_share(self, x: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """`integral(x)` and `share_at(x)` from one look-up of the step (the knots of the
        integral are the thresholds)."""
        x = np.asarray(x, float)
        i = step_of(self._knots, x)
        share = np.take(self.shares, i)
        return np.asarray(np.take(self._integral, i) + share * (x - np.take(self._knots, i))), \
            np.asarray(share, dtype=np.float64)


def step_of(knots: FloatArray, x: npt.ArrayLike) -> npt.NDArray[np.intp]:
    """The step of increasing `knots` holding each x: `searchsorted(knots, x, side="right")
    - 1`, at least 0. Counted down from the last step, one for each knot after the first
    that x is below (NaN is below none, as searchsorted puts NaN last): a few comparisons
    into a byte counter, without the branches of a binary search, several times faster for
    the handful of steps a schedule has."""
    x = np.asarray(x, float)
    if knots.size > 128 or not np.all(knots[1:] >= knots[:-1]):
        return np.asarray(np.maximum(np.searchsorted(knots, x, side="right") - 1, 0))
    i = np.full(x.shape, knots.size - 1, np.int8)
    below = np.empty(x.shape, bool)
    for knot in knots[1:].tolist():
        np.less(x, knot, out=below)
        i -= below.view(np.int8)
    return i.astype(np.intp)


def band_label(thresholds: FloatArray, i: int) -> str:
    """The paid days band i covers, as the paying agency names its classes: `101-200`, `701-`."""
    lo = thresholds[i]
    hi = thresholds[i + 1] if i + 1 < thresholds.size else np.inf
    return f"{lo + 1:g}-{hi:g}" if np.isfinite(hi) else f"{lo + 1:g}-"


@dataclass(frozen=True, eq=False)
class CompiledBlock:
    """One liability block: which benefits it covers, which states advance its counter and
    which are charged, its share schedule and its reset window."""

    benefits: BoolArray
    counts: BoolArray
    charged: BoolArray
    schedule: ShareSchedule
    reset_states: BoolArray | None
    reset_days: float
    reset_within_days: float

    @classmethod
    def compile(cls, block: Liability, paid_days_per_week: int) -> CompiledBlock:
        thresholds = [s.threshold_days(paid_days_per_week) for s in block.municipality_share]
        shares = [s.share for s in block.municipality_share]
        labels = [s.label for s in block.municipality_share]
        weeks = [s.from_week for s in block.municipality_share]
        if all(w is not None for w in weeks):
            edges = np.asarray(weeks, float)
            labels = [s.label if s.label is not None else "weeks " + band_label(edges, i)
                      for i, s in enumerate(block.municipality_share)]
        reset = block.reset
        return cls(
            benefits=benefit_mask(block.benefits),
            counts=state_mask(block.counts),
            charged=state_mask(block.charged),
            schedule=ShareSchedule.from_steps(thresholds, shares, labels),
            reset_states=state_mask(reset.after_days_in) if reset else None,
            reset_days=reset.days if reset else np.inf,
            reset_within_days=reset.within_days if reset else np.inf,
        )


@dataclass(frozen=True, eq=False)
class CompiledBonus:
    target_state: int
    amount: float
    lasting_days: float
    min_counter: float
    payer: str
    payee: str

    @classmethod
    def compile(cls, bonus: Bonus) -> CompiledBonus:
        return cls(STATE_CODE[TRANSITIONS[bonus.on]], bonus.amount, bonus.lasting_days,
                   bonus.min_counter, bonus.from_, bonus.to)


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """A rule ready for counting and pricing. A simple rule has liability blocks and bonuses;
    a timeline (`phases` not empty) has none of its own, only the simple rules in force from
    given days on."""

    name: str
    rule: FundingRule
    blocks: tuple[CompiledBlock, ...]
    bonuses: tuple[CompiledBonus, ...]
    block_of_benefit: npt.NDArray[np.int64]  # by benefit code (+ trailing for -1): block or -1
    paid_days_per_week: int
    phases: tuple[Phase, ...] = field(default=())

    @classmethod
    def compile(cls, name: str, rule: FundingRule, paid_days_per_week: int = 5) -> CompiledRule:
        """A simple rule (`compile_rule` compiles timelines too)."""
        if rule.timeline is not None:
            raise ValueError(f"{name} is a timeline; compile it with compile_rule")
        blocks = tuple(CompiledBlock.compile(b, paid_days_per_week) for b in rule.liability)
        block_of = np.full(len(BENEFITS) + 1, -1, np.int64)
        for i, b in enumerate(blocks):
            block_of[b.benefits] = i
        return cls(name, rule, blocks, tuple(CompiledBonus.compile(b) for b in rule.bonuses),
                   block_of, paid_days_per_week)

    @property
    def is_timeline(self) -> bool:
        return bool(self.phases)

    @property
    def top_share(self) -> float:
        if self.phases:
            return max(p.rule.top_share for p in self.phases)
        return max((b.schedule.top_share for b in self.blocks), default=0.0)

    def simple_rules(self) -> tuple[CompiledRule, ...]:
        """The simple rules whose counters pricing needs: the rule itself, or each rule of
        the timeline once (the empty rule before the first date needs none)."""
        if not self.phases:
            return (self,)
        rules = {p.rule.name: p.rule for p in self.phases if p.rule is not NO_RULE}
        return tuple(rules.values())

    def phases_in_force(self) -> tuple[Phase, ...]:
        """The timeline's phases, or for a simple rule one phase of itself from -inf."""
        return self.phases or (Phase(-np.inf, None, self),)

    @property
    def phase_starts(self) -> FloatArray:
        """The first day (since the start date) of each phase; the first is -inf."""
        return np.array([p.start_day for p in self.phases], np.float64)

    def phase_at(self, day: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The phase in force on each day."""
        i = np.searchsorted(self.phase_starts, np.asarray(day, np.float64), side="right") - 1
        return np.asarray(np.maximum(i, 0), np.int64)

    def at(self, day: float) -> CompiledRule:
        """The simple rule in force on `day` (the rule itself when it is not a timeline)."""
        if not self.phases:
            return self
        return self.phases[int(self.phase_at(day))].rule


@dataclass(frozen=True, eq=False)
class Phase:
    """A timeline's simple rule in force from `start_day` (days since the start date)."""

    start_day: float
    start_date: dt.date | None      # None: from the beginning of time
    rule: CompiledRule


NO_RULE = CompiledRule("(none)", FundingRule(title="no municipal share"), (), (),
                       np.full(len(BENEFITS) + 1, -1, np.int64), 5)


def compile_rule(name: str, rules: Mapping[str, FundingRule], paid_days_per_week: int = 5,
                 start_date: dt.date | None = None,
                 cache: dict[str, CompiledRule] | None = None) -> CompiledRule:
    """Compile the rule `name` of the catalogue `rules`; a timeline's dates become days since
    `start_date` (which a timeline needs). Simple rules are compiled once per `cache`."""
    cache = {} if cache is None else cache

    def simple(rule_name: str) -> CompiledRule:
        if rule_name not in cache:
            cache[rule_name] = CompiledRule.compile(rule_name, rules[rule_name],
                                                    paid_days_per_week)
        return cache[rule_name]

    rule = rules[name]
    if rule.timeline is None:
        return simple(name)
    if start_date is None:
        raise ValueError(f"the timeline {name} needs a start date to be priced")
    phases = []
    for date, rule_name in flatten_timeline(name, rules):
        day = -np.inf if date is None else float((date - start_date).days)
        phases.append(Phase(day, date, NO_RULE if rule_name is None else simple(rule_name)))
    return CompiledRule(name, rule, (), (), np.full(len(BENEFITS) + 1, -1, np.int64),
                        paid_days_per_week, tuple(phases))
