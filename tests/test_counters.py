"""Counter resets: the employment condition restarts the count; qualifying time is consumed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incentive_sim.funding import spells as spells_module
from incentive_sim.funding.counters import (
    CounterState,
    _reached,
    _reached_alone,
    counters_for_rule,
)
from incentive_sim.funding.pricing import price
from incentive_sim.funding.rules import CompiledRule, in_mask, step_of
from incentive_sim.funding.spells import (
    SpellTable,
    distinct,
    searchsorted_days,
    select,
    stable_order,
)
from incentive_sim.scenario.rules import preset
from incentive_sim.scenario.vocabulary import STATE_CODE

U, E = STATE_CODE["unemployed"], STATE_CODE["employed"]
TWO_STEP = CompiledRule.compile("fi_2015_two_step", preset("fi_2015_two_step"))


def history(*periods: tuple[int, float]) -> SpellTable:
    """One person on the labour market subsidy (37.21) through (state, calendar days) periods."""
    lengths = np.array([d for _, d in periods], float)
    ends = np.cumsum(lengths)
    states = np.array([s for s, _ in periods])
    paid = states == U
    return SpellTable.from_columns({
        "person_id": np.zeros(len(periods), np.int64), "state": states,
        "benefit": np.where(paid, 0, -1), "daily_amount": np.where(paid, 37.21, 0.0),
        "start_day": ends - lengths, "end_day": ends})


def test_the_employment_condition_met_restarts_the_counter() -> None:
    # 560 calendar days = 400 paid days; 182 days of work meet the condition
    counters = counters_for_rule(history((U, 560), (E, 182), (U, 560)), TWO_STEP)
    np.testing.assert_allclose(counters, [0, 400, 0])


def test_one_day_short_of_the_condition_keeps_the_counter() -> None:
    counters = counters_for_rule(history((U, 560), (E, 181), (U, 560)), TWO_STEP)
    np.testing.assert_allclose(counters, [0, 400, 400])


def test_the_reset_changes_the_municipal_cost_by_the_legal_amount() -> None:
    # with reset: 100 paid days at 50 % in each spell = 2 * 100 * 0.5 * 37.21 = 3721.00
    # without: 100 days in the first and 400 in the second at 50 % = 500 * 0.5 * 37.21 = 9302.50
    reset = price(history((U, 560), (E, 182), (U, 560)), TWO_STEP).payer_totals()
    kept = price(history((U, 560), (E, 181), (U, 560)), TWO_STEP).payer_totals()
    assert reset["municipality"] == pytest.approx(3721.00, abs=1e-6)
    assert kept["municipality"] == pytest.approx(9302.50, abs=1e-6)


def test_work_split_by_a_short_gap_adds_up_within_the_window() -> None:
    counters = counters_for_rule(history((U, 560), (E, 100), (U, 7), (E, 82), (U, 70)), TWO_STEP)
    np.testing.assert_allclose(counters, [0, 400, 400, 405, 0])


def test_work_used_for_one_reset_does_not_count_again() -> None:
    # 300 days of work: reset at day 182, 118 days left over; then 64 more days make 182
    consumed = counters_for_rule(history((U, 560), (E, 300), (U, 70), (E, 64), (U, 70)), TWO_STEP)
    np.testing.assert_allclose(consumed, [0, 400, 0, 50, 0])
    short = counters_for_rule(history((U, 560), (E, 300), (U, 70), (E, 63), (U, 70)), TWO_STEP)
    np.testing.assert_allclose(short, [0, 400, 0, 50, 50])


def test_work_older_than_the_window_does_not_count() -> None:
    # 100 days of work, 800 days unemployed, 82 days of work: the first work is 882+ days back
    counters = counters_for_rule(history((U, 560), (E, 100), (U, 800), (E, 82), (U, 70)), TWO_STEP)
    assert counters[-1] == pytest.approx(400 + 800 * 5 / 7)


def test_a_priced_table_cannot_be_edited_in_place() -> None:
    # the person order is cached on the table; editing a column would make it stale
    spells = history((U, 560), (E, 182), (U, 560))
    price(spells, TWO_STEP)
    with pytest.raises(ValueError, match="read-only"):
        spells.start_day[0] = 5.0


@pytest.mark.parametrize("shuffled", [False, True])
def test_the_order_by_person_is_the_three_key_sort_whatever_the_row_order(shuffled: bool
                                                                          ) -> None:
    """person_order takes a shortcut when each person's rows already come in time order (as
    the engine writes them); in any row order it must equal the sort on person, start, end,
    zero-length segments and ties included."""
    rng = np.random.default_rng(7)
    people, per = 300, 6
    person = np.repeat(np.arange(people), per)
    lengths = rng.choice([0.0, 1.0, 2.5, 10.0], size=person.size)
    start = np.concatenate([np.r_[0.0, np.cumsum(lengths[i * per:(i + 1) * per])[:-1]]
                            for i in range(people)])
    end = start + lengths
    rows = np.arange(person.size)
    # interleave people as the engine's batches do, each person's rows still in time order
    rows = rows[np.argsort(rng.random(person.size) + (rows % per), kind="stable")]
    if shuffled:
        rows = rng.permutation(person.size)
    table = SpellTable.from_columns({
        "person_id": person[rows], "state": np.full(person.size, U),
        "benefit": np.zeros(person.size, np.int64), "daily_amount": np.full(person.size, 37.21),
        "start_day": start[rows], "end_day": end[rows]})
    expected = np.lexsort((table.end_day, table.start_day, table.person_id))
    np.testing.assert_array_equal(table.person_order(), expected)
    np.testing.assert_array_equal(table.person_starts(), np.arange(people) * per)


@settings(max_examples=30, deadline=None)
@given(people=st.lists(st.lists(st.tuples(st.integers(1, 40), st.integers(1, 30)),
                                min_size=1, max_size=40), min_size=1, max_size=6),
       dense=st.integers(1, 3))
def test_interval_lists_past_the_dense_slots_give_the_same_counters(
        people: list[list[tuple[int, int]]], dense: int) -> None:
    # Short jobs between short spells of unemployment: lists of up to 40 intervals inside the
    # window. The slots past the first `dense` are kept for the people who reach them only;
    # the counters must be those of lists held as columns over everyone, bit for bit.
    block = TWO_STEP.blocks[0]
    n = len(people)
    rounds = max(len(p) for p in people)
    states = [CounterState(block, np.zeros(n), 5, history_slots=slots)
              for slots in (dense, 64)]
    t = np.zeros(n)
    longest = np.zeros(n, np.int64)          # the longest list each person has had
    for k in range(rounds):
        who = np.array([i for i, p in enumerate(people) if k < len(p)], np.int64)
        job = np.array([people[i][k][0] for i in who], float)
        gap = np.array([people[i][k][1] for i in who], float)
        for state, length in ((U, gap), (E, job)):
            start, end = t[who], t[who] + length
            got = [c.advance(who, np.full(who.size, state), np.where(state == U, 0, -1),
                             np.full(who.size, state == U), start, end) for c in states]
            assert np.array_equal(got[0], got[1])
            t[who] = end
            longest = np.maximum(longest, states[1].used)
    assert np.array_equal(states[0].value, states[1].value)
    # only the people whose lists have passed the dense slots have a row of the wide ones
    wide = states[0].slots
    assert wide.rows == int((longest > dense).sum())
    if wide.rows:
        assert np.array_equal(wide.row >= 0, longest > dense)



@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2 ** 62), 2 ** 62), max_size=60),
       st.integers(1, 2 ** 62) | st.sampled_from(
           [2 ** 8, 2 ** 9 - 1, 2 ** 16, 2 ** 17 - 1, 2 ** 24, 2 ** 25 - 1, 2 ** 32, 2 ** 32 + 1]),
       st.booleans())
def test_the_radix_stable_sort_is_the_stable_argsort(keys: list[int], spread: int,
                                                      presorted: bool) -> None:
    """The radix sort by 16-bit digits gives numpy's stable argsort: few distinct keys (many
    ties), negative keys, keys spanning one, two or three digits (the last one of 8 bits or
    of 16), keys too far apart (the fallback) and keys already in order. (Keys in a few
    sorted runs are merged instead: not here, where every key that is out of order is.)"""
    key = np.array(keys, np.int64) % spread - spread // 2
    if presorted:
        key = np.sort(key)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spells_module, "FEW_RUNS", 1)
        order, sorted_key = stable_order(key)
    expected = np.argsort(key, kind="stable")
    np.testing.assert_array_equal(np.arange(key.size) if order is None else order, expected)
    np.testing.assert_array_equal(sorted_key, key[expected])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), max_size=30), min_size=1, max_size=70))
def test_keys_in_a_few_sorted_runs_are_merged_stably(runs: list[list[int]]) -> None:
    """A history joined from its shards, each in person order: its keys are sorted runs,
    merged (fewer than FEW_RUNS of them) or radix-sorted (more), the stable order either way;
    sorted keys need no order."""
    key = np.concatenate([np.sort(np.array(r, np.int64)) for r in runs])
    order, sorted_key = stable_order(key)
    expected = np.argsort(key, kind="stable")
    if np.all(key[1:] >= key[:-1]):
        assert order is None
    else:
        np.testing.assert_array_equal(order, expected)
    np.testing.assert_array_equal(sorted_key, key[expected])


def test_the_order_by_person_when_one_persons_rows_are_out_of_time_order() -> None:
    """Rows in person order but one person's segments swapped, or two zero-length segments
    and a longer one starting together in the wrong order: the three-key sort, and the
    people's first rows."""
    person = np.array([3, 3, 5, 5, 5, 8, 8])
    start = np.array([0.0, 10.0, 20.0, 20.0, 20.0, 5.0, 1.0])
    end = np.array([10.0, 12.0, 30.0, 20.0, 20.0, 9.0, 5.0])
    table = SpellTable.from_columns({
        "person_id": person, "state": np.full(person.size, U),
        "benefit": np.zeros(person.size, np.int64), "daily_amount": np.full(person.size, 37.21),
        "start_day": start, "end_day": end})
    np.testing.assert_array_equal(table.person_order(), [0, 1, 3, 4, 2, 6, 5])
    np.testing.assert_array_equal(table.person_starts(), [0, 2, 5])
    np.testing.assert_array_equal(table.take(table.person_order()).person_order(),
                                  np.arange(person.size))


finite_or_not = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), finite_or_not, finite_or_not), min_size=1,
                max_size=40), finite_or_not)
def test_the_branch_free_select_is_np_where_bit_for_bit(rows: list[tuple[bool, float, float]],
                                                        scalar: float) -> None:
    mask = np.array([r[0] for r in rows])
    a = np.array([r[1] for r in rows])
    b = np.array([r[2] for r in rows])
    for other in (b, scalar, 0.0):
        expected = np.where(mask, a, other)
        assert select(mask, a, other).tobytes() == expected.tobytes()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=9).map(np.array), st.data())
def test_a_mask_over_codes_by_comparison_is_indexing_it(mask: np.ndarray,
                                                        data: st.DataObject) -> None:
    codes = np.array(data.draw(st.lists(st.integers(-mask.size, mask.size - 1), max_size=30)),
                     np.int8)
    np.testing.assert_array_equal(in_mask(mask, codes), mask[codes])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3) | st.sampled_from([0.0, -0.0, 100.0]), min_size=1,
                max_size=7), st.lists(finite_or_not | st.sampled_from([100.0, -0.0]),
                                      max_size=30), st.booleans())
def test_the_step_of_a_counter_is_the_binary_search(knots: list[float], x: list[float],
                                                    ordered: bool) -> None:
    """Knots tie, counters fall on them, NaN and infinities; unordered knots take the
    binary search itself."""
    k = np.sort(knots) if ordered else np.array(knots)
    values = np.array(x)
    expected = np.maximum(np.searchsorted(k, values, side="right") - 1, 0)
    np.testing.assert_array_equal(step_of(k, values), expected)


@settings(max_examples=300, deadline=None)
@given(st.floats(-2000, 2000) | st.integers(-2000, 2000).map(float),
       st.floats(0, 2000) | st.integers(0, 900).map(float) | st.just(0.0),
       st.floats(0, 900) | st.sampled_from([0.0, 182.0, 365.0]), st.integers(1, 5),
       st.floats(1.0, 1200.0) | st.sampled_from([852.0, 1095.0]))
def test_the_reset_moment_of_a_person_with_no_earlier_work_is_the_general_ones(
        start: float, length: float, need: float, slots: int, window: float) -> None:
    """`_reached_alone` takes the same operations as `_reached` over empty slots: the same
    bits, whatever the width of the (empty) interval lists."""
    s, e = np.array([start]), np.array([start + length])
    empty = np.full((1, slots), np.nan)
    if not (e - s)[0] + 0.0 >= need:       # _reached is asked only where the condition is met
        return
    expected = _reached(s, e, empty, empty, need, window)
    assert _reached_alone(s, e, need).tobytes() == expected.tobytes()


whole_days = st.lists(st.integers(-400, 3000), min_size=1, max_size=60).map(sorted)


@settings(max_examples=300, deadline=None)
@given(whole_days | st.lists(st.floats(-400.0, 3000.0), min_size=1, max_size=8).map(sorted)
       | st.just([0.0, float(2 ** 17)]),
       st.lists(st.floats(-500.0, 3100.0) | st.sampled_from(
           [np.nan, np.inf, -np.inf, -0.0, 5e-324]), max_size=40),
       st.lists(st.sampled_from([-1.0, -1e-9, 0.0, 1e-9, 0.5, 1.0]), max_size=20),
       st.sampled_from(["left", "right"]))
def test_the_day_table_finds_what_searchsorted_finds(bounds: list[float], x: list[float],
                                                     near: list[float], side: str) -> None:
    """Whole-day bounds (repeated or not, before day 0 too) looked up by their table, and
    bounds the table does not take (fractional, or spanning too many days), give numpy's
    searchsorted: for days between, on and a hair either side of the bounds, outside them,
    and for NaN and the infinities."""
    b = np.array(bounds, np.float64)
    xs = np.array(x + [bounds[i % len(bounds)] + d for i, d in enumerate(near)], np.float64)
    got = searchsorted_days(b, xs, side=side)  # type: ignore[arg-type]
    np.testing.assert_array_equal(got, np.searchsorted(b, xs, side=side))  # type: ignore[call-overload]
    assert got.dtype == np.int64
    if x:                                      # one day alone, as a number
        one = searchsorted_days(b, x[0], side=side)  # type: ignore[arg-type]
        assert one == np.searchsorted(b, x[0], side=side)  # type: ignore[call-overload]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(-5, 40), max_size=30), max_size=6), st.booleans())
def test_distinct_values_are_numpys_unique_whatever_the_sort(parts: list[list[int]],
                                                             sorted_parts: bool) -> None:
    """The distinct values of joined lists (sorted runs, as the engine's day buckets hold,
    or not) are np.unique's, by either sort."""
    joined = np.array([v for p in parts for v in (sorted(p) if sorted_parts else p)],
                      np.int64)
    for runs in (False, True):
        np.testing.assert_array_equal(distinct(joined, runs=runs), np.unique(joined))
