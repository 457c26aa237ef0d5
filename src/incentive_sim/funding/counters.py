"""Benefit-day counters and their reset windows: one implementation, used online by the engine
(a municipality's policy looks at the counter now) and offline by pricing.

A block's counter advances by `paid_days_per_week / 7` per calendar day a person spends in one
of its `counts` states while paid one of its `benefits`. It restarts at 0 once the person has
spent `reset.days` calendar days in the `reset.after_days_in` states (the employment condition)
within a trailing window of `reset.within_days`. Qualifying time is consumed by a reset: work
used to meet the condition once does not count towards meeting it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from ..memory import release_freed_memory
from .rules import NO_RULE, CompiledBlock, CompiledRule, in_mask
from .spells import (
    SpellTable,
    distinct,
    parts_of,
    person_chunk_bounds,
    row_blocks,
    searchsorted_days,
    select,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CHUNK_ROWS = 1_000_000     # segments whose counters are computed at a time (whole people)
BLOCK_ROWS = 1 << 16       # rows of element-wise work at a time


class IntervalSlots:
    """The qualifying-interval lists of `n` people, slot j holding each person's j-th
    [start, end) (NaN: empty). The first `dense` slots are columns over everyone; a slot past
    them is kept only for the people whose lists have reached it, as rows of a matrix that
    grows with them: a few people with many short jobs in the window would otherwise give
    everyone a column of every slot (over 360 MB of NaN at national scale)."""

    def __init__(self, n: int, dense: int) -> None:
        self.dense = dense
        self.start = [np.full(n, np.nan) for _ in range(dense)]
        self.end = [np.full(n, np.nan) for _ in range(dense)]
        self.row = np.zeros(0, np.int32)       # each person's row of the wide slots, or -1
        self.wide_start = np.empty((0, 0))
        self.wide_end = np.empty((0, 0))
        self.rows = 0                          # rows of the wide slots in use
        self.n = n

    def __len__(self) -> int:
        """Slots any list has needed so far."""
        return self.dense + self.wide_start.shape[1]

    def gather(self, persons: IntArray, width: int) -> tuple[FloatArray, FloatArray]:
        """The first `width` slots of the persons' lists, one row per person."""
        hs = np.empty((persons.size, width))
        he = np.empty((persons.size, width))
        for j in range(min(width, self.dense)):
            hs[:, j] = self.start[j][persons]
            he[:, j] = self.end[j][persons]
        if width > self.dense:
            wide = slice(self.dense, width)
            hs[:, wide] = np.nan
            he[:, wide] = np.nan
            row = self.row[persons]
            has = np.flatnonzero(row >= 0)
            hs[has, wide] = self.wide_start[row[has], :width - self.dense]
            he[has, wide] = self.wide_end[row[has], :width - self.dense]
        return hs, he

    def scatter(self, persons: IntArray, hs: FloatArray, he: FloatArray) -> None:
        """Write the first hs.shape[1] slots of the persons' lists (slots past them are left
        as they are)."""
        width = hs.shape[1]
        for j in range(min(width, self.dense)):
            self.start[j][persons] = hs[:, j]
            self.end[j][persons] = he[:, j]
        if width <= self.dense:
            return
        wide = slice(self.dense, width)
        self._make_room(persons[~np.isnan(hs[:, wide]).all(axis=1)], width - self.dense)
        row = self.row[persons]
        has = np.flatnonzero(row >= 0)
        self.wide_start[row[has], :width - self.dense] = hs[has, wide]
        self.wide_end[row[has], :width - self.dense] = he[has, wide]

    def _make_room(self, persons: IntArray, columns: int) -> None:
        """Rows for those of `persons` without one, and at least `columns` wide slots."""
        if self.row.size == 0:
            self.row = np.full(self.n, -1, np.int32)
        new = persons[self.row[persons] < 0]
        rows = max(self.rows + new.size, self.wide_start.shape[0])
        if rows > self.wide_start.shape[0]:
            rows = max(rows, 2 * self.wide_start.shape[0], 1024)
        columns = max(columns, self.wide_start.shape[1])
        if (rows, columns) != self.wide_start.shape:
            self.wide_start = _grown(self.wide_start, rows, columns)
            self.wide_end = _grown(self.wide_end, rows, columns)
        self.row[new] = np.arange(self.rows, self.rows + new.size, dtype=np.int32)
        self.rows += new.size


def _grown(a: FloatArray, rows: int, columns: int) -> FloatArray:
    out = np.full((rows, columns), np.nan)
    out[:a.shape[0], :a.shape[1]] = a
    return out


class CounterState:
    """The counters of one liability block for a population of `n` people.

    `advance` moves chosen people through one segment each; segments of a person must be
    given in time order. Qualifying time (towards a reset) since the last reset is kept per
    person as a short list of [start, end) intervals, pruned once they leave the window.
    """

    def __init__(self, block: CompiledBlock, initial: npt.ArrayLike, paid_days_per_week: int,
                 history_slots: int = 4) -> None:
        self.block = block
        self.value = np.array(initial, dtype=np.float64, copy=True)
        self.rate = paid_days_per_week / 7.0
        n = len(self.value)
        slots = history_slots if block.reset_states is not None else 0
        self.slots = IntervalSlots(n, slots)
        # each person's intervals fill their first slots: how many (so that a batch works on
        # the slots its people use, not the widest list anyone has)
        self.used = np.zeros(n, np.int32)

    def advance(self, persons: IntArray, state: npt.ArrayLike, benefit: npt.ArrayLike,
                benefit_paid: npt.ArrayLike, start: npt.ArrayLike, end: npt.ArrayLike,
                final: bool = False) -> FloatArray:
        """Move each person (distinct indices) through one segment; return the counters at
        the segment starts. `final` segments are the people's last (the horizon closes
        them): qualifying time in them could not reset a counter any later segment uses, so
        it is not tracked."""
        persons = np.asarray(persons, np.int64)
        state = np.asarray(state)
        start = np.asarray(start, np.float64)
        end = np.asarray(end, np.float64)
        before = self.value[persons]
        counted = (self.block.counts[state] & self.block.benefits[np.asarray(benefit)]
                   & np.asarray(benefit_paid, bool))
        self.value[persons[counted]] += (end[counted] - start[counted]) * self.rate
        if self.block.reset_states is not None and not final:
            q = self.block.reset_states[state]
            if q.any():
                self._qualify(persons[q], start[q], end[q])
        return before

    def _qualify(self, persons: IntArray, start: FloatArray, end: FloatArray) -> None:
        """Add qualifying time [start, end) and reset counters whose condition is met: people
        grouped by the length of their lists (to a power of two), each group working on as
        many slots as its lists need, not the longest list of the batch."""
        slots = np.minimum(self.used[persons] + 1, len(self.slots))
        width = 2 ** np.ceil(np.log2(np.maximum(slots, 1))).astype(np.int64)
        widths = distinct(width).tolist()
        if len(widths) == 1:
            self._qualify_some(persons, start, end, int(slots.max(initial=0)))
            return
        for w in widths:
            mine = width == w
            self._qualify_some(persons[mine], start[mine], end[mine], int(slots[mine].max()))

    def _qualify_some(self, persons: IntArray, start: FloatArray, end: FloatArray,
                      width: int) -> None:
        """_qualify for people whose lists fit in `width` slots (one more than the longest)."""
        need = self.block.reset_days
        hs, he, met, met_at = self._conditions(persons, start, end, width)
        if met.any():
            # After a reset only this segment counts, so later resets come every `need` days.
            left = end[met] - met_at
            restart = met_at + np.floor(left / need) * need
            self.value[persons[met]] = 0.0
            hs[met] = np.nan
            he[met] = np.nan
            hs[met, 0] = np.where(restart < end[met], restart, np.nan)
            he[met, 0] = np.where(restart < end[met], end[met], np.nan)
        keep = np.flatnonzero(~met)
        if keep.size:
            hs, he = self._append(hs, he, keep, start, end)
        self.slots.scatter(persons, hs, he)
        self.used[persons] = (~np.isnan(hs)).sum(axis=1)

    def _conditions(self, persons: IntArray, start: FloatArray, end: FloatArray, width: int
                    ) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_], FloatArray]:
        """The persons' qualifying intervals (the first `width` slots, those too old for any
        window this segment looks at emptied), whether their condition is met inside the
        qualifying segments [start, end), and when, for those where it is."""
        need = self.block.reset_days
        window = self.block.reset_within_days
        hs, he = self.slots.gather(persons, width)
        # Entries that ended before the earliest window this segment can look at never matter.
        stale = he <= (start - window)[:, None]
        hs[stale] = np.nan
        he[stale] = np.nan
        # all the qualifying time there is, in or out of any window, bounds what a window
        # holds: only where it reaches the condition is the window worth measuring
        bound = (end - start) + np.nansum(he - hs, axis=1)
        met = np.zeros(persons.size, bool)
        maybe = np.flatnonzero(bound >= need)
        if maybe.size:
            met[maybe] = _qualified(end[maybe, None], start[maybe], hs[maybe], he[maybe],
                                    window)[:, 0] >= need
        m = np.flatnonzero(met)
        met_at = np.zeros(m.size)
        if m.size:
            # most conditions are met within one long job, with no earlier work in the list
            alone = np.isnan(hs[m]).all(axis=1)
            met_at[alone] = _reached_alone(start[m[alone]], end[m[alone]], need)
            some = m[~alone]
            met_at[~alone] = _reached(start[some], end[some], hs[some], he[some], need,
                                      window)
        return hs, he, met, met_at

    def reset_moment(self, person: int, start: float, end: float) -> float | None:
        """When the person's counter would restart inside a qualifying segment [start, end)
        that follows the segments advanced so far (the condition first met), or None."""
        persons = np.array([person], np.int64)
        width = min(int(self.used[person]) + 1, len(self.slots))
        _, _, met, met_at = self._conditions(persons, np.array([float(start)]),
                                             np.array([float(end)]), width)
        return float(met_at[0]) if met[0] else None

    def _append(self, hs: FloatArray, he: FloatArray, rows: IntArray, start: FloatArray,
                end: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Append [start, end) to the interval lists of `rows` (merging with an adjoining last
        interval); lists are compacted first and widened when one is full."""
        empty = np.isnan(hs)
        if (empty[:, :-1] & ~empty[:, 1:]).any():      # a gap before a used slot: compact
            order = np.argsort(np.where(empty, np.inf, hs), axis=1, kind="stable")
            hs = np.take_along_axis(hs, order, axis=1)
            he = np.take_along_axis(he, order, axis=1)
        used = (~empty).sum(axis=1)
        last = used[rows] - 1
        adjoins = (last >= 0) & (he[rows, np.maximum(last, 0)] == start[rows])
        merged = rows[adjoins]
        he[merged, last[adjoins]] = end[merged]
        new = rows[~adjoins]
        slot = used[new]
        if new.size and slot.max() >= hs.shape[1]:
            pad = np.full((hs.shape[0], 1), np.nan)
            hs, he = np.hstack([hs, pad]), np.hstack([he, pad])
        hs[new, slot] = start[new]
        he[new, slot] = end[new]
        return hs, he


def _qualified(t: FloatArray, start: FloatArray, hs: FloatArray, he: FloatArray,
               window: float) -> FloatArray:
    """Qualifying days in (t - window, t] at times t (n, c) inside segments begun at `start`
    (n), with past qualifying intervals [hs, he) (n, slots; NaN: an empty slot)."""
    lo = (t - window)[..., None]
    past = np.clip(he[:, None, :] - np.maximum(hs[:, None, :], lo), 0.0, None)
    return np.asarray(t - start[:, None] + np.nansum(past, axis=2))


def _reached(start: FloatArray, end: FloatArray, hs: FloatArray, he: FloatArray, need: float,
             window: float) -> FloatArray:
    """When qualifying days in the window first reach `need` inside segments [start, end),
    for people whose segments' ends reach it. `_qualified` is piecewise linear and
    non-decreasing in t, with kinks only where the window's trailing edge t - window passes
    an edge of a past interval: evaluate it at those kinks and interpolate linearly in the
    piece where it reaches `need`."""
    s_, e_ = start[:, None], end[:, None]
    kinks = np.concatenate([s_, hs + window, he + window, e_], axis=1)
    kinks = np.sort(np.clip(np.where(np.isnan(kinks), e_, kinks), s_, e_), axis=1)
    value = _qualified(kinks, start, hs, he, window)
    first = np.argmax(value >= need, axis=1)
    rows = np.arange(first.size)
    before = np.maximum(first - 1, 0)
    t0, t1 = kinks[rows, before], kinks[rows, first]
    f0, f1 = value[rows, before], value[rows, first]
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = t0 + (need - f0) * (t1 - t0) / (f1 - f0)
    return np.asarray(np.where((first == 0) | (f1 <= f0), t1, np.clip(inside, t0, t1)))


def _reached_alone(start: FloatArray, end: FloatArray, need: float) -> FloatArray:
    """`_reached` for people with no past qualifying interval (every slot empty), the same
    operations on one dimension: the qualifying days at t are then t - start, its only
    kinks the segment's ends, and the moment the one interpolation between them."""
    f0 = (start - start) + 0.0            # as `_qualified` sums the empty slots: + 0.0
    f1 = (end - start) + 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = start + (need - f0) * (end - start) / (f1 - f0)
    at_start = f0 >= need                 # np.argmax finds the first kink, `start`, there
    return np.asarray(np.where(at_start, start,
                               np.where(f1 <= f0, end, np.clip(inside, start, end))))


def counters_for_block(spells: SpellTable, block: CompiledBlock,
                       chunk_rows: int = CHUNK_ROWS) -> FloatArray:
    """The block's counter at the start of every segment, computed from the whole history
    (a person's counter depends on their own segments only).

    Without a reset the counter is the prior paid days plus the running sum of counted paid
    days, summed over the rows in person order some whole people (`chunk_rows` rows) at a
    time, as they always were: float sums depend on where they start. People whose
    employment condition can be met are then walked through `CounterState` (_walk_resets).
    """
    n = len(spells)
    if n == 0:
        return np.empty(0)
    order = spells.person_order()
    starts = spells.person_starts()
    # paid days each segment adds, worked out in table order (sequential reads, a block of
    # rows at a time so that temporaries stay in cache) and read in person order once,
    # rather than gathering every column the sum needs
    inc = np.empty(n)
    rate = spells.paid_days_per_week / 7.0
    for rows in row_blocks(n, BLOCK_ROWS):
        counted = (in_mask(block.counts, spells.state[rows])
                   & in_mask(block.benefits, spells.benefit[rows]) & spells.benefit_paid[rows])
        inc[rows] = select(counted, (spells.end_day[rows] - spells.start_day[rows]) * rate, 0.0)
    inc = inc[order]
    bounds = person_chunk_bounds(spells, chunk_rows)
    running = np.empty(n)                               # exclusive running sum per chunk
    for lo, hi in pairwise(bounds.tolist()):
        np.cumsum(inc[lo:hi], out=running[lo:hi])
    running -= inc
    # Full-length arrays are few (a national history has some 10 million rows, and two
    # rules' counters are worked out at once beside the ledger): the counters go into the
    # paid days' array, and the result is allocated once the rest is dropped.
    counter = inc
    del inc
    # dense person index of each row
    person: npt.NDArray[np.signedinteger[Any]] = np.zeros(
        n, np.int32 if starts.size < 2**31 else np.int64)
    person[starts[1:]] = 1
    np.cumsum(person, out=person)
    prior, at_start = spells.prior_paid_days[order[starts]], running[starts]
    for rows in row_blocks(n, BLOCK_ROWS):
        counter[rows] = prior[person[rows]] + running[rows] - at_start[person[rows]]
    if block.reset_states is not None:
        _walk_resets(spells, block, order, starts, person, running, bounds, counter)
    del person, running
    out = np.empty(n)
    out[order] = counter
    return out


# Below this many qualifying segments a person's interval list stays short enough (at most 8
# slots) that its float sums do not depend on the people walked alongside (see _walk_resets).
_SHORT_LISTS = 8


def _walk_resets(spells: SpellTable, block: CompiledBlock, order: IntArray, starts: IntArray,
                 person: npt.NDArray[np.signedinteger[Any]], running: FloatArray,
                 bounds: IntArray, counter: FloatArray) -> None:
    """Redo `counter` (the running sums, in person order) for the people whose employment
    condition can be met, in place.

    Qualifying time in a person's last segment cannot reset a counter any later segment
    uses, so only people whose qualifying time before their last segment adds up to the
    condition are walked (about one person in ten in a national history). Before their
    first qualifying segment nothing can reset the counter (the running sum holds); from
    there to their last qualifying segment they go through `CounterState`, one round per
    segment position and all of them at once; after it the counter runs on from where the
    walk left it.

    All walked people share the rounds when every one of them has fewer than `_SHORT_LISTS`
    qualifying segments. A longer interval list is summed over as many slots as the widest
    list of the people walked with it, and from 9 slots on numpy sums pairwise, so the
    last bits can depend on the company: such histories are walked chunk by chunk
    (`bounds`), the company their counters were always computed in."""
    assert block.reset_states is not None
    qualifying = in_mask(block.reset_states, spells.state)[order]
    qualifying[starts[1:] - 1] = False                     # people's last segments
    qualifying[-1] = False
    q_rows = np.flatnonzero(qualifying)
    person = person[q_rows]
    q_table_rows = order[q_rows]
    total = np.bincount(person, minlength=starts.size,
                        weights=spells.end_day[q_table_rows] - spells.start_day[q_table_rows])
    keep = (total >= block.reset_days)[person]
    q_rows, person = q_rows[keep], person[keep]
    if q_rows.size == 0:
        return
    first = np.flatnonzero(np.r_[True, person[1:] != person[:-1]])
    walked = person[first]                             # dense person index of each walker
    q_first = q_rows[first]
    q_last = q_rows[np.append(first[1:], q_rows.size) - 1]
    person_end = starts[np.minimum(walked + 1, starts.size - 1)]   # the next person's start
    person_end[walked + 1 == starts.size] = order.size
    if np.diff(first, append=q_rows.size).max() < _SHORT_LISTS:
        groups = np.array([0, walked.size])
    else:
        groups = np.searchsorted(q_first, bounds)
    for lo, hi in pairwise(groups.tolist()):
        if hi > lo:
            _walk(spells, block, order, person_end[lo:hi], q_first[lo:hi], q_last[lo:hi],
                  running, counter)
            # each group's rounds free many arrays of many sizes; the heap they leave is
            # handed back, or the next group's are placed beside it and the process grows
            # by the whole walk (0.65 GiB for one rule of a national history)
            release_freed_memory()


def _walk(spells: SpellTable, block: CompiledBlock, order: IntArray, person_end: IntArray,
          q_first: IntArray, q_last: IntArray, running: FloatArray, counter: FloatArray
          ) -> None:
    """Walk some people from their first qualifying row to their last (positions in person
    order), then run their counters on to `person_end` (exclusive)."""
    state = CounterState(block, counter[q_first], spells.paid_days_per_week)
    span = q_last - q_first + 1
    for k in range(int(span.max())):
        who = np.flatnonzero(span > k)
        at = q_first[who] + k
        r = order[at]
        counter[at] = state.advance(who, spells.state[r], spells.benefit[r],
                                    spells.benefit_paid[r], spells.start_day[r],
                                    spells.end_day[r])
    # the rows after the last qualifying one: on from the walk's final value
    resume = q_last + 1
    m = person_end - resume
    at = np.repeat(resume - np.cumsum(m) + m, m) + np.arange(m.sum())
    after = np.repeat(state.value, m)
    after += running[at]
    after -= np.repeat(running[resume], m)
    counter[at] = after


def reset_moment(spells: SpellTable, block: CompiledBlock) -> float | None:
    """One person's segments in time order: when the block's counter restarts inside the last
    of them (the reset condition first met there), or None. The segments before it are
    walked one at a time: for the few segments of one person, not for a population."""
    n = len(spells)
    if block.reset_states is None or n == 0 or not block.reset_states[spells.state[n - 1]]:
        return None
    counters = CounterState(block, spells.prior_paid_days[:1], spells.paid_days_per_week)
    me = np.zeros(1, np.int64)
    for r in range(n - 1):
        at = slice(r, r + 1)
        counters.advance(me, spells.state[at], spells.benefit[at], spells.benefit_paid[at],
                         spells.start_day[at], spells.end_day[at])
    return counters.reset_moment(0, float(spells.start_day[n - 1]), float(spells.end_day[n - 1]))


def counters_for_rule(spells: SpellTable, rule: CompiledRule) -> FloatArray:
    """The rule's counter at the start of every segment: for a segment paid a benefit that one
    of the rule's blocks covers, that block's counter; otherwise the first block's. For a
    timeline, the counter of the rule in force on the segment's first day. A table of parts:
    part by part (what each part's counters are where it is alone), joined."""
    if len(spells.parts) > 2:
        return np.concatenate([counters_for_rule(part, rule) for _, part in parts_of(spells)])
    if rule.is_timeline:
        return counter_in_force(spells, rule, rule_counters(spells, rule))
    if not rule.blocks:
        return np.zeros(len(spells))
    per_block = [counters_for_block(spells, b) for b in rule.blocks]
    if len(per_block) == 1:
        return per_block[0]
    which = np.maximum(rule.block_of_benefit[spells.benefit], 0)
    return np.choose(which, per_block)


def rule_counters(spells: SpellTable, rule: CompiledRule,
                  given: Mapping[str, FloatArray] | None = None) -> dict[str, FloatArray]:
    """The counter at every segment start of each simple rule pricing `rule` needs (itself,
    or each rule of a timeline), by name: from `given`, else recorded in the table by the
    engine, else computed from the whole history."""
    out: dict[str, FloatArray] = {}
    for simple in rule.simple_rules():
        counter = (given or {}).get(simple.name)
        if counter is None:
            counter = spells.counter_at_start.get(simple.name)
        if counter is None:
            counter = counters_for_rule(spells, simple)
        out[simple.name] = np.asarray(counter, np.float64)
    return out


def counter_in_force(spells: SpellTable, rule: CompiledRule,
                     counters: Mapping[str, FloatArray]) -> FloatArray:
    """Per segment: the counter of the simple rule in force on its first day (0 where none)."""
    if not rule.is_timeline:
        return np.asarray(counters[rule.name], np.float64)
    phase = rule.phase_at(spells.start_day)
    out = np.zeros(len(spells))
    for p, ph in enumerate(rule.phases):
        if ph.rule is not NO_RULE:
            here = phase == p
            out[here] = counters[ph.rule.name][here]
    return out


def counted_mask(spells: SpellTable, rule: CompiledRule) -> npt.NDArray[np.bool_]:
    """Segments whose paid days advance the simple rule's counter (the one
    `counters_for_rule` gives the segment: the block covering its benefit, else the first)."""
    # A block covers its own benefits only, so the block covering a segment's benefit is
    # the only one that can count it (and a benefit no block covers is counted by none).
    out = np.zeros(len(spells), bool)
    for block in rule.blocks:
        out |= in_mask(block.counts, spells.state) & in_mask(block.benefits, spells.benefit)
    out &= spells.benefit_paid
    return out


def split_at(spells: SpellTable, bounds: npt.ArrayLike,
             counters: Mapping[CompiledRule, FloatArray],
             only: npt.NDArray[np.bool_] | None = None,
             ) -> tuple[SpellTable, dict[CompiledRule, FloatArray], IntArray]:
    """Split every segment (or the segments where `only` is true) at the days `bounds`
    (increasing; days before the first belong to the first interval); rows stay in the
    table's order, each followed by its later pieces. Returns the pieces, the counters and
    the row of `spells` each piece comes from.

    Each segment becomes one piece per interval it overlaps (a zero-length segment stays one
    piece). Each piece carries the counter of every simple rule in `counters` at its own
    start: the segment's counter plus the paid days before the piece when the segment counts
    under that rule. Only the last piece of a censored segment is censored. The returned
    table holds the pieces' counters under the rules' names.
    """
    starts = np.asarray(bounds, np.float64)
    n = len(spells)

    def interval(day: npt.ArrayLike) -> IntArray:
        i = searchsorted_days(starts, day) - 1
        return np.asarray(np.clip(i, 0, len(starts) - 1), np.int64)

    first = interval(spells.start_day)
    # the interval of the segment's last instant: the one holding end_day, unless end_day is
    # a bound (then the one before); a zero-length segment stays in its first interval
    last = searchsorted_days(starts, spells.end_day, side="left") - 1
    last = np.clip(last, first, len(starts) - 1)
    if only is not None:
        last = np.where(only, last, first)
    pieces = (last - first + 1).astype(np.int64)
    rows = np.repeat(np.arange(n, dtype=np.int64), pieces)
    offset = np.arange(rows.size, dtype=np.int64) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    at = first[rows] + offset
    edges = np.append(starts, np.inf)
    seg_start = spells.start_day[rows]
    seg_end = spells.end_day[rows]
    start = np.where(offset == 0, seg_start, np.maximum(seg_start, edges[at]))
    end = np.where(at == last[rows], seg_end, np.minimum(seg_end, edges[at + 1]))
    columns: dict[str, Any] = {k: v[rows] for k, v in spells.columns().items()}
    columns["start_day"] = start
    columns["end_day"] = end
    columns["censored"] = spells.censored[rows] & (at == last[rows])
    rate = spells.paid_days_per_week / 7.0
    before = (start - seg_start) * rate          # paid days of the segment before the piece
    out: dict[CompiledRule, FloatArray] = {}
    for rule, counter in counters.items():
        counts = counted_mask(spells, rule)[rows]
        out[rule] = np.asarray(counter, np.float64)[rows] + np.where(counts, before, 0.0)
    table = replace(spells, **columns,
                    counter_at_start={rule.name: c for rule, c in out.items()}, parts=())
    return table, out, rows


def split_by_phase(spells: SpellTable, rule: CompiledRule, counters: Mapping[str, FloatArray],
                   only: npt.NDArray[np.bool_] | None = None,
                   more_bounds: npt.ArrayLike = ()) -> tuple[
                       SpellTable, dict[CompiledRule, FloatArray], IntArray,
                       list[tuple[CompiledRule, IntArray]]]:
    """The segments split at the days a rule of the timeline `rule` comes into force (and at
    `more_bounds`), as `split_at` does, with the pieces of each simple rule in force: a list
    of (rule, piece indices); the empty rule before a timeline's first date has none."""
    phases = rule.phases_in_force()
    starts = np.array([ph.start_day for ph in phases], np.float64)
    bounds = np.unique(np.concatenate([starts, np.asarray(more_bounds, np.float64)]))
    pieces, piece_counters, rows = split_at(
        spells, bounds, {r: counters[r.name] for r in rule.simple_rules()}, only)
    phase = np.searchsorted(starts, pieces.start_day, side="right") - 1
    parts = [(ph.rule, np.flatnonzero(phase == p)) for p, ph in enumerate(phases)
             if ph.rule is not NO_RULE]
    return pieces, piece_counters, rows, parts


class RuleCounters:
    """A rule's counters for a population, advanced online segment by segment (the engine's
    view of 'how many paid days has this person accrued under the rule in force')."""

    def __init__(self, rule: CompiledRule, initial: npt.ArrayLike, paid_days_per_week: int
                 ) -> None:
        self.rule = rule
        self.rate = paid_days_per_week / 7.0
        self.blocks = [CounterState(b, initial, paid_days_per_week) for b in rule.blocks]

    def _pick(self, per_block: list[FloatArray], benefit: npt.ArrayLike) -> FloatArray:
        """Per person: the counter of the block covering its benefit, else the first block's."""
        if not per_block:
            return np.zeros(np.size(benefit))
        if len(per_block) == 1:
            return per_block[0]
        which = np.maximum(self.rule.block_of_benefit[np.asarray(benefit)], 0)
        return np.asarray(np.choose(which, per_block))

    def advance(self, persons: IntArray, state: npt.ArrayLike, benefit: npt.ArrayLike,
                benefit_paid: npt.ArrayLike, start: npt.ArrayLike, end: npt.ArrayLike,
                final: bool = False) -> FloatArray:
        """Move people through one segment each; the rule's counter at the segment starts
        (`final` as for CounterState.advance)."""
        before = [c.advance(persons, state, benefit, benefit_paid, start, end, final)
                  for c in self.blocks]
        return self._pick(before, benefit)

    def counting(self, state: npt.ArrayLike, benefit: npt.ArrayLike,
                 benefit_paid: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Per person: whether the counter `now` reports grows (at paid_days_per_week / 7 a
        day) in a segment of this state, benefit and payment."""
        state = np.asarray(state)
        benefit = np.asarray(benefit)
        per_block = [np.asarray(c.block.counts[state] & c.block.benefits[benefit]
                                & np.asarray(benefit_paid, bool), np.float64)
                     for c in self.blocks]
        return np.asarray(self._pick(per_block, benefit) > 0)

    def now(self, persons: IntArray, state: npt.ArrayLike, benefit: npt.ArrayLike,
            benefit_paid: npt.ArrayLike, segment_start: npt.ArrayLike,
            t: npt.ArrayLike) -> FloatArray:
        """The rule's counter at time t for people inside an open segment begun at
        `segment_start` (not yet advanced through)."""
        state = np.asarray(state)
        benefit = np.asarray(benefit)
        elapsed = (np.asarray(t, np.float64) - np.asarray(segment_start, np.float64)) * self.rate
        per_block = []
        for c in self.blocks:
            counted = c.block.counts[state] & c.block.benefits[benefit] & np.asarray(
                benefit_paid, bool)
            per_block.append(c.value[persons] + np.where(counted, elapsed, 0.0))
        return self._pick(per_block, benefit)
