"""What happened to the people of one simulated history, apart from money: exits from
unemployment, spell lengths, the long-term unemployed, stocks at month starts, transitions
between states. Pure functions of a SpellTable (no randomness).

An unemployment spell is a run of consecutive `unemployed`, `waiting` and `service` segments of
one person (a registered jobseeker, activated or not); it ends with a move to any other state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from ..funding.spells import SpellTable, person_chunks, searchsorted_days
from ..scenario.vocabulary import STATE_CODE, STATES, TRANSITIONS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

JOBSEEKER_STATES = np.zeros(len(STATES), bool)
JOBSEEKER_STATES[[STATE_CODE[s] for s in ("unemployed", "waiting", "service")]] = True
# destination state code -> the transition's name (employment, education, ...)
DESTINATIONS: dict[int, str] = {STATE_CODE[state]: name for name, state in TRANSITIONS.items()}
LONG_TERM_DAYS = 365.0
COUNTER_BIN_EDGES = np.arange(0.0, 1500.0 + 50.0, 50.0)
CHUNK_ROWS = 1_000_000     # segments read at a time (whole people where it matters)
INDICATOR_RUNS = 50_000    # spells whose months are counted at a time (at most 2.4 million
                           # (spell, month) pairs over 48 months)


@dataclass(frozen=True, eq=False)
class Runs:
    """The unemployment spells of a history (runs of jobseeker segments), one entry each."""

    person: IntArray
    municipality: IntArray
    origin: FloatArray        # when the spell began (before t = 0 for the initial caseload)
    start: FloatArray         # start of its first segment in the history
    end: FloatArray           # end of its last segment
    censored: BoolArray       # still open at the horizon
    initial: BoolArray        # the caseload at t = 0
    next_state: IntArray      # the state it ended in (-1 if none recorded)

    def take(self, index: npt.ArrayLike) -> Runs:
        """The runs at `index`, in its order."""
        return Runs(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @classmethod
    def of(cls, spells: SpellTable, elapsed_days: FloatArray | None = None,
           chunk_rows: int | None = None) -> Runs:
        """`elapsed_days[person_id]`, when given, is how long the spell of a person already
        unemployed at t = 0 had lasted then (without it their spells begin at t = 0). Made
        some whole people at a time (`chunk_rows` rows), in person order."""
        parts = [cls._of_rows(spells, rows, elapsed_days)
                 for rows in person_chunks(spells, chunk_rows or CHUNK_ROWS)]
        if len(parts) == 1:
            return parts[0]
        # joined a field at a time, each field's parts let go once joined: the runs are held
        # about once, not twice (a national history has millions)
        pieces = [{f.name: getattr(p, f.name) for f in fields(cls)} for p in parts]
        del parts
        return Runs(**{f.name: np.concatenate([p.pop(f.name) for p in pieces])
                       for f in fields(cls)})

    @classmethod
    def _of_rows(cls, spells: SpellTable, order: IntArray,
                 elapsed_days: FloatArray | None) -> Runs:
        """The runs of the rows `order`: whole people, in person order."""
        pid = spells.person_id[order]
        state = spells.state[order]
        seeker = JOBSEEKER_STATES[state]
        same_next = np.append(pid[1:] == pid[:-1], False)
        same_prev = np.concatenate([[False], pid[1:] == pid[:-1]])
        seeker_next = np.append(seeker[1:], False)
        seeker_prev = np.concatenate([[False], seeker[:-1]])
        firsts = np.flatnonzero(seeker & ~(same_prev & seeker_prev))   # first row of each run
        lasts = np.flatnonzero(seeker & ~(same_next & seeker_next))    # last row of each run
        start = spells.start_day[order[firsts]]
        origin = start.copy()
        initial = ~same_prev[firsts] & (start <= 0.0)
        person = pid[firsts]
        if elapsed_days is not None:
            known = initial & (person < len(elapsed_days))
            origin[known] -= elapsed_days[person[known]]
        next_state = np.where(same_next[lasts], np.append(state[1:], -1)[lasts], -1)
        return cls(person, spells.municipality[order[firsts]].astype(np.int64), origin, start,
                   spells.end_day[order[lasts]], spells.censored[order[lasts]], initial,
                   next_state.astype(np.int64))


def outcomes(spells: SpellTable, horizon_days: float,
             elapsed_days: FloatArray | None = None, runs: Runs | None = None
             ) -> dict[str, float]:
    """Exits from unemployment by destination, completed spells and their mean length, the
    jobseeker stock and its long-term part at the start and at the horizon.

    `elapsed_days` as for `Runs.of`: spell lengths of the initial caseload include it.
    `mean_spell_days_new` is over the completed spells that began within the horizon (no left
    truncation). `runs`: `Runs.of(spells, elapsed_days)`, when the caller has it already.
    """
    return outcomes_of(outcome_sums(spells, horizon_days, elapsed_days, runs))


# outcome_sums' keys, in order, and its sums of spell lengths and their counts, from which
# outcomes_of makes the means
OUTCOME_SUMS = (*(f"exits_to_{name}" for name in TRANSITIONS), "exits_total",
                "completed_spells", "spell_days_completed", "completed_spells_new",
                "spell_days_new", "unemployed_start", "long_term_unemployed_start",
                "unemployed_end", "long_term_unemployed_end")
MEAN_SUMS = {"mean_spell_days": ("spell_days_completed", "completed_spells"),
             "mean_spell_days_new": ("spell_days_new", "completed_spells_new")}


def outcome_sums(spells: SpellTable, horizon_days: float,
                 elapsed_days: FloatArray | None = None, runs: Runs | None = None
                 ) -> dict[str, float]:
    """`outcomes` as sums that add up over parts of a history (whole people each, as a
    national simulation's shards): its counts, and instead of its means, the sums of spell
    lengths and the counts they are means over (MEAN_SUMS). `outcomes_of` makes the means."""
    out = dict.fromkeys(OUTCOME_SUMS, 0.0)
    if len(spells) == 0:
        return out
    runs = Runs.of(spells, elapsed_days) if runs is None else runs
    for code, name in DESTINATIONS.items():
        out[f"exits_to_{name}"] = float(np.count_nonzero(runs.next_state == code))
    out["exits_total"] = float(sum(out[f"exits_to_{name}"] for name in TRANSITIONS))
    length = runs.end - runs.origin
    completed = ~runs.censored
    out["completed_spells"] = float(np.count_nonzero(completed))
    out["spell_days_completed"] = float(length[completed].sum())
    new = completed & ~runs.initial
    out["completed_spells_new"] = float(np.count_nonzero(new))
    out["spell_days_new"] = float(length[new].sum())
    at_start = (runs.start <= 0.0) & (runs.end > 0.0)
    out["unemployed_start"] = float(np.count_nonzero(at_start))
    out["long_term_unemployed_start"] = float(np.count_nonzero(
        at_start & (-runs.origin >= LONG_TERM_DAYS)))
    at_end = runs.censored & (runs.end >= horizon_days)
    out["unemployed_end"] = float(np.count_nonzero(at_end))
    out["long_term_unemployed_end"] = float(np.count_nonzero(at_end
                                                             & (length >= LONG_TERM_DAYS)))
    return out


def added_sums(parts: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """outcome_sums of parts of a history, added in order."""
    return {key: float(sum(p[key] for p in parts)) for key in parts[0]}


def outcomes_of(sums: Mapping[str, float]) -> dict[str, float]:
    """`outcomes` from `outcome_sums` (of a history, or added over its parts): each mean is
    its sum over its count (0 with none), the bits `np.mean` gives of one array."""
    spent = {name for pair in MEAN_SUMS.values() for name in pair} - {"completed_spells"}
    out = {key: value for key, value in sums.items() if key not in spent}
    at = list(out).index("completed_spells") + 1
    means = {mean: sums[total] / sums[count] if sums[count] else 0.0
             for mean, (total, count) in MEAN_SUMS.items()}
    items = list(out.items())
    return dict(items[:at] + list(means.items()) + items[at:])


def stock_by_month(spells: SpellTable, month_starts: FloatArray) -> FloatArray:
    """People in each state at the first day of each month:
    `counts[month, municipality, group, state]` (a segment [start, end) holds its person at
    every month start t with start <= t < end)."""
    n_months = len(month_starts)
    shape = (len(spells.municipalities), len(spells.groups), len(STATES))
    cells = int(np.prod(shape))
    size = (n_months + 1) * cells
    delta = np.zeros(size, np.int64)
    for lo_row in range(0, len(spells), CHUNK_ROWS):      # counts: exact whatever the chunks
        rows = slice(lo_row, lo_row + CHUNK_ROWS)
        lo = searchsorted_days(month_starts, spells.start_day[rows], side="left")
        hi = searchsorted_days(month_starts, spells.end_day[rows], side="left")
        cell = np.ravel_multi_index((spells.municipality[rows], spells.group[rows],
                                     spells.state[rows]), shape)
        present = hi > lo
        delta += (np.bincount(lo[present] * cells + cell[present], minlength=size)
                  - np.bincount(hi[present] * cells + cell[present], minlength=size))
    counts = np.cumsum(delta.reshape(n_months + 1, cells), axis=0)[:n_months]
    return np.asarray(counts.reshape(n_months, *shape), np.float64)


def services_by_month(spells: SpellTable, month_starts: FloatArray) -> FloatArray:
    """`counts[month, service, 0]` waiting for each service and `[..., 1]` in it at the first
    day of each month."""
    n_months, n_services = len(month_starts), len(spells.services)
    out = np.zeros((n_months, n_services, 2))
    for slot, state in enumerate(("waiting", "service")):
        rows = (spells.state == STATE_CODE[state]) & (spells.service >= 0)
        lo = searchsorted_days(month_starts, spells.start_day[rows], side="left")
        hi = searchsorted_days(month_starts, spells.end_day[rows], side="left")
        code = spells.service[rows].astype(np.int64)
        size = (n_months + 1) * n_services
        delta = (np.bincount(lo * n_services + code, minlength=size)
                 - np.bincount(hi * n_services + code, minlength=size))
        out[:, :, slot] = np.cumsum(delta.reshape(n_months + 1, n_services), axis=0)[:n_months]
    return out


def transition_counts(spells: SpellTable) -> FloatArray:
    """Consecutive segment pairs of the same person: `counts[from_state, to_state, service]`
    where the service slot is 0 for none and 1 + the service code of a `service` or
    `waiting` from-segment."""
    n_states, n_slots = len(STATES), len(spells.services) + 1
    size = n_states * n_states * n_slots
    if len(spells) < 2:
        return np.zeros((n_states, n_states, n_slots))
    counts = np.zeros(size, np.int64)
    for order in person_chunks(spells, CHUNK_ROWS):     # pairs lie within a person
        pid = spells.person_id[order]
        state = spells.state[order].astype(np.int64)
        service = spells.service[order].astype(np.int64)
        pair = np.flatnonzero(pid[1:] == pid[:-1])
        frm, to = state[pair], state[pair + 1]
        with_service = (frm == STATE_CODE["service"]) | (frm == STATE_CODE["waiting"])
        slot = np.where(with_service & (service[pair] >= 0), service[pair] + 1, 0)
        key = (frm * n_states + to) * n_slots + slot
        counts += np.bincount(key, minlength=size)
    return counts.reshape(n_states, n_states, n_slots).astype(float)


REFERRAL_BIN_DAYS = 20.0        # referrals.csv: bins of 20 paid days...
REFERRAL_BINS = 100             # ...from 0 up to 2000, the last one open ("2000-")


def referral_table(referrals: Mapping[str, npt.NDArray[Any]], municipalities: int,
                   services: int, weights: str | None = None) -> FloatArray:
    """Accepted referrals by municipality, service and 20-paid-day bin of the in-force counter
    at referral: (municipality, service, REFERRAL_BINS + 1), the last bin open above 2000.
    With `weights` (a column of Referrals.arrays(), such as "saving"), its sum per cell."""
    bins = np.minimum(np.floor(np.maximum(referrals["counter"], 0.0) / REFERRAL_BIN_DAYS),
                      REFERRAL_BINS).astype(np.int64)
    cell = (referrals["municipality"] * services + referrals["service"]) * (REFERRAL_BINS + 1)
    size = municipalities * services * (REFERRAL_BINS + 1)
    values = None if weights is None else referrals[weights]
    return np.bincount(cell + bins, values, minlength=size)[:size].astype(np.float64).reshape(
        municipalities, services, REFERRAL_BINS + 1)


def referral_bin_label(k: int) -> str:
    lo = int(k * REFERRAL_BIN_DAYS)
    return f"{lo}-" if k == REFERRAL_BINS else f"{lo}-{lo + int(REFERRAL_BIN_DAYS) - 1}"


def referrals_rows(rule: str, municipalities: Any, services: Any, table: FloatArray,
                   saving: FloatArray, count: Callable[[float], str]) -> list[list[str]]:
    """referrals.csv rows of one rule: the non-empty cells of a table (mean over replications
    already taken), `count` formatting each mean, and the mean expected saving per referral
    of each cell (`saving`, same shape) in cents."""
    rows = []
    for m, muni in enumerate(municipalities):
        for s, svc in enumerate(services):
            for k in np.flatnonzero(table[m, s]).tolist():
                rows.append([rule, muni, svc, referral_bin_label(k), count(table[m, s, k]),
                             f"{round(float(saving[m, s, k]), 2) + 0.0:.2f}"])
    return rows


def counter_histogram(counter: npt.ArrayLike) -> tuple[FloatArray, float]:
    """Counts per bin of 50 paid days from 0 to 1500 (the last bin includes 1500), and the
    number above 1500."""
    values = np.asarray(counter, np.float64)
    counts, _ = np.histogram(values, COUNTER_BIN_EDGES)
    return counts.astype(np.float64), float(np.count_nonzero(values > COUNTER_BIN_EDGES[-1]))


DURATION_CLASSES = ((0.0, 90.0, "under_3_months"), (90.0, 365.0, "3_to_12_months"),
                    (365.0, 730.0, "12_to_24_months"), (730.0, np.inf, "24_months_or_more"))
INDICATORS = ("long_term", "exits_to_employment", "exits_to_education",
              *(name for _, _, name in DURATION_CLASSES))


def jobseekers_and_in_service(stock: FloatArray) -> tuple[FloatArray, FloatArray]:
    """From stock_by_month's counts (month, municipality, group, state): the jobseekers
    (unemployed, waiting or in a service) and those in a service, by month and municipality.
    The activation rate is the second over the first."""
    by_state = stock.sum(axis=2)
    return by_state[:, :, JOBSEEKER_STATES].sum(axis=2), by_state[:, :, STATE_CODE["service"]]


def monthly_indicators(spells: SpellTable, month_starts: FloatArray,
                       elapsed_days: FloatArray | None = None, runs: Runs | None = None
                       ) -> FloatArray:
    """`values[month, municipality, k]` for k in INDICATORS: jobseekers unemployed for a year
    or more at the month's first day; spells that ended in a job or in education during the
    month (up to the next month's start, the last month up to the horizon); and jobseekers at
    the month's first day by how long they have been unemployed (DURATION_CLASSES). `runs`
    as for `outcomes`."""
    n_months, n_munis = len(month_starts), len(spells.municipalities)
    out = np.zeros((n_months, n_munis, len(INDICATORS)))
    if len(spells) == 0:
        return out
    runs = Runs.of(spells, elapsed_days) if runs is None else runs
    first_class = len(INDICATORS) - len(DURATION_CLASSES)
    # A spell is present at the month starts t with start <= t < end: months first to
    # last - 1. Each (spell, month) pair it is present at is counted once, a block of spells
    # at a time, rather than every spell looked at for every month.
    first = searchsorted_days(month_starts, runs.start, side="left")
    last = searchsorted_days(month_starts, runs.end, side="left")
    spanning = np.flatnonzero(last > first)
    kinds = 1 + len(DURATION_CLASSES)                  # long-term, then the classes
    counts = np.zeros(n_months * n_munis * kinds)
    for lo_run in range(0, spanning.size, INDICATOR_RUNS):
        some = spanning[lo_run:lo_run + INDICATOR_RUNS]
        months = last[some] - first[some]
        run = np.repeat(some, months)
        at = (np.repeat(first[some] - (np.cumsum(months) - months), months)
              + np.arange(int(months.sum())))
        duration = month_starts[at] - runs.origin[run]
        cell = (at * n_munis + runs.municipality[run]) * kinds
        counts += np.bincount(cell[duration >= LONG_TERM_DAYS], minlength=counts.size)
        for c, (lo, hi, _) in enumerate(DURATION_CLASSES):
            inside = (duration >= lo) & (duration < hi)
            counts += np.bincount(cell[inside] + 1 + c, minlength=counts.size)
    by_cell = counts.reshape(n_months, n_munis, kinds)
    out[:, :, 0] = by_cell[:, :, 0]
    out[:, :, first_class:] = by_cell[:, :, 1:]
    month = searchsorted_days(month_starts, runs.end) - 1
    for k, state in ((1, "employed"), (2, "education")):
        ended = ~runs.censored & (runs.next_state == STATE_CODE[state]) & (month >= 0)
        cell = month[ended] * n_munis + runs.municipality[ended]
        out[:, :, k] = np.bincount(cell, minlength=n_months * n_munis).reshape(n_months,
                                                                                n_munis)
    return out
