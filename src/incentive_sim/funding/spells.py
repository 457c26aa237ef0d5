"""The SpellTable: the simulated (or scripted) history that pricing consumes.

One row per spell segment: a stretch of calendar days [start_day, end_day) that one person spends
in one state, with one benefit type and daily amount. Columns are numpy arrays (no Python
object per spell) so national-scale histories of millions of segments price in a fraction of a
second. States and benefits are stored as codes into `vocabulary.STATES` and `BENEFITS`;
municipalities, groups and services as codes into the table's own name tuples.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ..scenario.vocabulary import NO_BENEFIT

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Column name -> dtype. Order is the order of `spells.csv.gz`.
COLUMNS: dict[str, Any] = {
    "person_id": np.int64,
    "municipality": np.int32,
    "group": np.int32,
    "state": np.int8,
    "service": np.int32,       # -1: not in a service (or waiting for none)
    "benefit": np.int8,        # -1: no benefit type (employed, education, ...)
    "benefit_paid": np.bool_,
    "daily_amount": np.float64,  # the whole daily benefit
    "basic_part": np.float64,    # the co-financeable part (= daily_amount except earnings-related)
    "start_day": np.float64,
    "end_day": np.float64,
    "censored": np.bool_,        # still open at the horizon
    "prior_paid_days": np.float64,  # the person's benefit-day counter before any segment here
}


def distinct(values: npt.ArrayLike, runs: bool = False) -> np.ndarray:
    """The distinct values, sorted: `np.unique` by a sort and a comparison of neighbours,
    several times faster than numpy 2's hashing `unique` on large integer arrays (8x on 150,000
    person ids), which the engine and the ledger call on every review day and bill. `runs`:
    the values are a few sorted runs one after the other (lists of people joined), which the
    stable sort (timsort) merges 5-10 times faster than the default sort orders them."""
    a = np.sort(np.asarray(values), axis=None, kind="stable" if runs else None)
    if a.size == 0:
        return a
    return a[np.r_[True, a[1:] != a[:-1]]]


_DAY_TABLE_SPAN = 1 << 16        # whole days a look-up table of bounds may span


@functools.lru_cache(maxsize=32)
def _day_table(bounds: tuple[float, ...]) -> IntArray | None:
    """For increasing whole-day `bounds` spanning at most _DAY_TABLE_SPAN days: how many of
    them lie at or before each whole day from bounds[0] - 1 to bounds[-1], then the count
    once more (for NaN, which searchsorted places after every bound); else None."""
    b = np.asarray(bounds, np.float64)
    if (b.size == 0 or not np.isfinite(b).all() or (b != np.floor(b)).any()
            or (b[1:] < b[:-1]).any() or b[-1] - b[0] > _DAY_TABLE_SPAN):
        return None
    days = np.arange(b[0] - 1.0, b[-1] + 1.0)
    table = np.append(np.searchsorted(b, days, side="right"), b.size).astype(np.int64)
    table.flags.writeable = False
    return table


def searchsorted_days(bounds: npt.ArrayLike, x: npt.ArrayLike,
                      side: Literal["left", "right"] = "right") -> IntArray:
    """`np.searchsorted(bounds, x, side)`, the same integers, for increasing bounds that are
    whole days (calendar month and year starts): for such bounds the count at or before x is
    the count at or before floor(x) (strictly before x: at or before ceil(x) - 1), read from
    a table over the days the bounds span. On the hundreds of thousands of days a ledger
    chunk looks up, several times faster than a binary search per day; other bounds take
    the binary search."""
    b = np.asarray(bounds, np.float64)
    x = np.asarray(x, np.float64)
    table = _day_table(tuple(b.tolist())) if b.size <= 4096 else None
    if table is None:
        return np.asarray(np.searchsorted(b, x, side=side), np.int64)
    day = np.asarray(np.floor(x) if side == "right" else np.ceil(x) - 1.0, np.float64)
    np.clip(day, b[0] - 1.0, b[-1], out=day)
    day -= b[0] - 1.0
    nan = np.isnan(day)
    if nan.any():
        day[nan] = table.size - 1
    return np.asarray(table[day.astype(np.int64)])


def row_blocks(n: int, size: int) -> list[slice]:
    """Rows 0..n-1 as slices of `size` rows: element-wise work a block at a time keeps its
    temporaries in the processor's cache instead of each making a pass over memory."""
    return [slice(lo, lo + size) for lo in range(0, n, size)]


def select(mask: BoolArray, a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """`np.where(mask, a, b)` for float64 values, bit for bit: the bits of `a` and `b` picked
    with an integer mask (all ones where `mask`), which runs without branches. On an
    irregular mask np.where mispredicts a branch at every other row and is 4 times slower."""
    keep = mask.astype(np.int64)
    np.negative(keep, out=keep)
    out = np.bitwise_and(np.asarray(a, np.float64).view(np.int64), keep)
    other = np.asarray(b, np.float64).view(np.int64)
    if other.ndim or other != 0:                     # b = 0.0 has no bits to add
        np.invert(keep, out=keep)
        out |= other & keep
    return out.view(np.float64)


@dataclass(frozen=True, eq=False)
class SpellTable:
    person_id: IntArray
    municipality: npt.NDArray[np.int32]
    group: npt.NDArray[np.int32]
    state: npt.NDArray[np.int8]
    service: npt.NDArray[np.int32]
    benefit: npt.NDArray[np.int8]
    benefit_paid: BoolArray
    daily_amount: FloatArray
    basic_part: FloatArray
    start_day: FloatArray
    end_day: FloatArray
    censored: BoolArray
    prior_paid_days: FloatArray
    municipalities: tuple[str, ...] = ("",)
    groups: tuple[str, ...] = ("",)
    services: tuple[str, ...] = ()
    paid_days_per_week: int = 5
    # rule name -> paid-day counter at the start of each segment (see counters.py)
    counter_at_start: Mapping[str, FloatArray] = field(default_factory=dict)
    # Where the table's parts begin and end (row numbers: 0, ..., len): histories of groups
    # of people simulated apart (a national simulation's shards), one after the other.
    # Counters and the ledger's and the bill's sums are worked out part by part, then added,
    # as the shards do it themselves (see `parts_of`). Empty: one part. Rows taken out of a
    # table (`take`, a split) are one part.
    parts: tuple[int, ...] = ()
    # computed once per table (init=False: `replace` makes a new table with an empty cache)
    _cache: dict[str, IntArray] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.person_id)
        for name, dtype in COLUMNS.items():
            value = np.asarray(getattr(self, name), dtype=dtype)
            if value.shape != (n,):
                raise ValueError(f"column {name} has shape {value.shape}, expected ({n},)")
            # Read-only through the table, so the cached person order cannot go stale; build a
            # new table (`take`, `replace`) to change a history.
            if value.flags.writeable:
                value = value.view()
                value.flags.writeable = False
            object.__setattr__(self, name, value)
        for rule, counter in self.counter_at_start.items():
            if np.shape(counter) != (n,):
                raise ValueError(f"counter_at_start[{rule}] has the wrong length")
        if n and np.any(self.end_day < self.start_day):
            raise ValueError("a segment ends before it starts")
        if self.parts and (self.parts[0] != 0 or self.parts[-1] != n
                           or any(b < a for a, b in pairwise(self.parts))):
            raise ValueError(f"parts {self.parts} do not cut rows 0..{n} in order")

    @classmethod
    def from_columns(cls, columns: Mapping[str, Any], **meta: Any) -> SpellTable:
        """Build from a mapping of columns; `benefit_paid`, `basic_part`, `service`,
        `censored` and `prior_paid_days` have defaults."""
        n = len(columns["person_id"])
        cols = dict(columns)
        cols.setdefault("service", np.full(n, -1))
        cols.setdefault("censored", np.zeros(n, bool))
        cols.setdefault("prior_paid_days", np.zeros(n))
        cols.setdefault("municipality", np.zeros(n))
        cols.setdefault("group", np.zeros(n))
        if "benefit_paid" not in cols:
            state = np.asarray(cols["state"])
            cols["benefit_paid"] = (np.asarray(cols["benefit"]) != NO_BENEFIT) & (state <= 2)
        cols.setdefault("basic_part", cols["daily_amount"])
        columns_only: dict[str, Any] = {k: cols[k] for k in COLUMNS}
        return cls(**columns_only, **meta)

    @classmethod
    def empty(cls, **meta: Any) -> SpellTable:
        columns: dict[str, Any] = {k: np.empty(0, dtype=d) for k, d in COLUMNS.items()}
        return cls(**columns, **meta)

    def __len__(self) -> int:
        return len(self.person_id)

    @property
    def duration(self) -> FloatArray:
        return self.end_day - self.start_day

    @property
    def paid_days(self) -> FloatArray:
        """Benefit days paid in each segment: `paid_days_per_week` of every 7 calendar days."""
        return np.where(self.benefit_paid, self.duration * (self.paid_days_per_week / 7.0), 0.0)

    def columns(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in COLUMNS}

    def take(self, index: npt.ArrayLike | slice) -> SpellTable:
        """The rows at `index` (an integer or boolean array, or a slice: then the columns
        are views, not copies), counters included."""
        idx = index if isinstance(index, slice) else np.asarray(index)
        rows: dict[str, Any] = {k: v[idx] for k, v in self.columns().items()}
        return replace(self, **rows,
                       counter_at_start={r: c[idx] for r, c in self.counter_at_start.items()},
                       parts=())

    def person_order(self) -> IntArray:
        """Row order by person, start day, then end day (a zero-length segment before the
        segment that starts at the same moment), so any row order of the same history gives
        the same counters and prices."""
        if "person_order" not in self._cache:
            # The engine writes each person's segments in time order, so a stable sort by
            # person alone is usually that order (several times faster than the three-key
            # sort on millions of rows); checked, and sorted on all three keys when it is not.
            order, person = stable_order(self.person_id)
            same = person[1:] == person[:-1]
            start = self.start_day if order is None else self.start_day[order]
            back = same & (start[1:] <= start[:-1])
            if back.any():
                # start ties are rare (a zero-length segment): compare the ends there only
                tie = np.flatnonzero(back & (start[1:] == start[:-1]))
                row = tie if order is None else order[tie]
                row_after = tie + 1 if order is None else order[tie + 1]
                back[tie] = self.end_day[row_after] < self.end_day[row]
            if order is None:
                order = np.arange(len(self), dtype=np.int64)
            if back.any():
                order = np.lexsort((self.end_day, self.start_day, self.person_id)).astype(
                    np.int64)
            self._cache["person_order"] = _frozen(order)
            # any order by person has the people in the same places
            self._cache["person_starts"] = _frozen(
                np.flatnonzero(np.concatenate([[True], ~same]))[:len(self)])
        return self._cache["person_order"]

    def person_starts(self) -> IntArray:
        """Where each person's rows begin in `person_order` (positions into it), one per
        person, increasing."""
        self.person_order()                  # works them out with the order
        return self._cache["person_starts"]

    def with_counter(self, rule: str, counter: FloatArray) -> SpellTable:
        """The same rows with one more counter: what is cached on the rows (their order by
        person) carries over."""
        table = replace(self, counter_at_start={**self.counter_at_start, rule: counter})
        table._cache.update(self._cache)
        return table


def parts_of(spells: SpellTable) -> list[tuple[slice, SpellTable]]:
    """The table's parts (see SpellTable.parts): each part's rows and the part as a table of
    its own (views of the columns, counters included; one part: the table itself)."""
    if len(spells.parts) <= 2:
        return [(slice(0, len(spells)), spells)]
    return [(rows, spells.take(rows))
            for rows in (slice(a, b) for a, b in pairwise(spells.parts))]


def _frozen(a: IntArray) -> IntArray:
    a.flags.writeable = False
    return a


FEW_RUNS = 64          # stable_order: keys in fewer sorted runs than this are merged


def stable_order(key: IntArray) -> tuple[IntArray | None, IntArray]:
    """The stable sort of integer keys: (the order, None when the keys are sorted already;
    the keys in that order).

    `np.argsort(kind="stable")` of millions of int64 keys is a merge sort, several times
    slower than a radix sort, and numpy sorts 8- and 16-bit integers stably by radix sort.
    Keys spanning fewer than 2**32 values (person ids) are therefore sorted least
    significant 16 bits first, each pass a stable sort of one 16-bit (or, for the top bits,
    8-bit) digit of the keys in the order so far: a stable radix sort, each key's rows in
    their table order. Wider keys fall back to the stable argsort."""
    n = key.size
    descents = int(np.count_nonzero(key[1:] < key[:-1])) if n > 1 else 0
    if descents == 0:
        return None, key
    if descents < FEW_RUNS:
        # a few sorted runs (a history joined from its shards, each in person order): the
        # stable argsort (a merge sort that finds runs) merges them, much as it reads them
        order = np.argsort(key, kind="stable").astype(np.int64)
        return order, key[order]
    lo = int(key.min())
    bits = (int(key.max()) - lo).bit_length()
    if bits > 32:
        order = np.argsort(key, kind="stable").astype(np.int64)
        return order, key[order]
    offset = key - lo
    order = np.arange(0)                  # no order yet: the first pass sorts the table's rows
    for shift in range(0, bits, 16):
        digit = (offset >> shift).astype(np.uint8 if bits - shift <= 8 else np.uint16)
        order = (np.argsort(digit, kind="stable") if shift == 0
                 else order[np.argsort(digit[order], kind="stable")])
    order = order.astype(np.int64, copy=False)
    return order, key[order]


def person_chunk_bounds(spells: SpellTable, chunk_rows: int) -> IntArray:
    """Where the chunks of `person_chunks` begin and end, as positions into `person_order`:
    0, the cuts, then the number of rows."""
    n = len(spells)
    if n <= chunk_rows:
        return np.array([0, n], np.int64)
    starts = spells.person_starts()
    cuts = distinct(starts[np.minimum(np.searchsorted(starts, np.arange(chunk_rows, n,
                                                                          chunk_rows)),
                                       starts.size - 1)])
    return np.concatenate([[0], cuts[cuts > 0], [n]]).astype(np.int64)


def person_chunks(spells: SpellTable, chunk_rows: int) -> list[IntArray]:
    """Row indices in person order, cut into chunks of about `chunk_rows` rows that never
    split a person (bonuses look at a person's consecutive segments)."""
    order = spells.person_order()
    if order.size <= chunk_rows:
        return [order]
    return np.split(order, person_chunk_bounds(spells, chunk_rows)[1:-1])
