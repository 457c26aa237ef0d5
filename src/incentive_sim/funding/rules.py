"""Funding rules compiled to arrays: the share schedule as a step function of the paid-day
counter, and masks over state and benefit codes, so counting and pricing are vectorised."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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

    @classmethod
    def from_steps(cls, thresholds: list[float], shares: list[float]) -> ShareSchedule:
        t = np.asarray(thresholds, float)
        s = np.asarray(shares, float)
        if t.size == 0 or t[0] > 0:
            t, s = np.concatenate([[0.0], t]), np.concatenate([[0.0], s])
        # integral of share from 0 up to each threshold
        integral = np.concatenate([[0.0], np.cumsum(s[:-1] * np.diff(t))])
        return cls(t, s, t, integral)

    @property
    def top_share(self) -> float:
        return float(self.shares.max())

    def share_at(self, x: npt.ArrayLike) -> FloatArray:
        i = np.searchsorted(self.thresholds, x, side="right") - 1
        return np.asarray(self.shares[np.maximum(i, 0)], dtype=np.float64)

    def integral(self, x: npt.ArrayLike) -> FloatArray:
        """The integral of share from 0 to x: the share-weighted paid days up to counter x."""
        x = np.asarray(x, float)
        i = np.maximum(np.searchsorted(self._knots, x, side="right") - 1, 0)
        return np.asarray(self._integral[i] + self.shares[i] * (x - self._knots[i]))


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
        reset = block.reset
        return cls(
            benefits=benefit_mask(block.benefits),
            counts=state_mask(block.counts),
            charged=state_mask(block.charged),
            schedule=ShareSchedule.from_steps(thresholds, shares),
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
    name: str
    rule: FundingRule
    blocks: tuple[CompiledBlock, ...]
    bonuses: tuple[CompiledBonus, ...]
    block_of_benefit: npt.NDArray[np.int64]  # by benefit code (+ trailing for -1): block or -1
    paid_days_per_week: int

    @classmethod
    def compile(cls, name: str, rule: FundingRule, paid_days_per_week: int = 5) -> CompiledRule:
        blocks = tuple(CompiledBlock.compile(b, paid_days_per_week) for b in rule.liability)
        block_of = np.full(len(BENEFITS) + 1, -1, np.int64)
        for i, b in enumerate(blocks):
            block_of[b.benefits] = i
        return cls(name, rule, blocks, tuple(CompiledBonus.compile(b) for b in rule.bonuses),
                   block_of, paid_days_per_week)

    @property
    def top_share(self) -> float:
        return max((b.schedule.top_share for b in self.blocks), default=0.0)
