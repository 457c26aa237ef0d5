"""The vectorised part of the population model: everyone's moves that involve no interaction.

People move between open unemployment, jobs, education and inactivity by exactly sampled
competing risks; an earnings-related or basic-allowance recipient whose entitlement runs out
moves on to the labour market subsidy (a new segment, same spell); a job can end in job loss
and a new spell.
Each person holds one open segment with a sampled end; `advance_to(T)` closes every segment
ending before T and samples what follows, in rounds vectorised across people. The discrete-event
layer (services, queues, municipal reviews) drives this with `advance_people(those it looks
at, their times)` and takes people out of it while they are referred.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..funding.counters import RuleCounters
from ..funding.rules import CompiledRule
from ..funding.spells import COLUMNS, SpellTable
from ..memory import release_freed_memory
from ..scenario.schema import Scenario
from ..scenario.vocabulary import BENEFIT_CODE, NO_BENEFIT, STATE_CODE
from .hazards import CompetingRisks, Risks
from .population import People, PersonStreams

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

UNEMPLOYED = STATE_CODE["unemployed"]
EMPLOYED = STATE_CODE["employed"]
EXIT_DESTINATIONS = ("employment", "education", "inactivity")
DESTINATION_STATE = np.array([STATE_CODE["employed"], STATE_CODE["education"],
                              STATE_CODE["inactive"]])
LMS = BENEFIT_CODE["labour_market_subsidy"]

# Records hold each counter under this prefix and the rule's name.
COUNTER = "counter:"
# history columns that are attributes of the person, the same in each of their segments
PERSON_COLUMNS = ("municipality", "group", "prior_paid_days")

# What ends a person's open segment.
ENDS_BY_EXIT, ENDS_BY_EXHAUSTION, ENDS_BY_JOB_LOSS, ENDS_NEVER = 0, 1, 2, 3


def column(values: npt.ArrayLike, n: int, dtype: npt.DTypeLike) -> np.ndarray:
    """A new array of n `dtype` values: `values` (n of them, or one for all), cast as
    np.asarray would. What np.broadcast_to(...).copy() gives, for a fraction of its cost
    (it is called a few times a simulated day, on small batches)."""
    out = np.empty(n, dtype)
    out[...] = values
    return out


class LifeCourses:
    """Open segments of all people, advanced in vectorised rounds; closed ones recorded."""

    def __init__(self, s: Scenario, people: People, seed: int, replication: int,
                 in_force: CompiledRule | None = None, ids: IntArray | None = None) -> None:
        self.s = s
        self.people = people
        self.risks = Risks.of(s)
        # each person's own stream: their moves do not depend on how the event layer batches
        # its look at them (`ids`: the people's ids in the whole population, if a part of it)
        self.draws = PersonStreams(seed, replication, "lifecourse.exits", len(people), ids)
        self.horizon = float(s.horizon_days)
        self.rate = s.benefits.paid_days_per_week / 7.0
        # a job this long meets the employment condition again (benefits.employment_condition_days)
        self.condition_days = float(s.benefits.employment_condition_days)
        n = len(people)
        self.state = np.where(people.employed_at_start, EMPLOYED, UNEMPLOYED).astype(np.int8)
        self.benefit = people.benefit.copy()
        self.daily = people.daily_amount.copy()
        self.basic = people.basic_part.copy()
        # the employed at start are in a job that began before t = 0
        self.seg_start = np.where(people.employed_at_start,
                                  people.arrival_day - people.elapsed_days, people.arrival_day)
        self.spell_start = people.arrival_day - people.elapsed_days   # duration origin
        # the entitlement in use (inf on the subsidy) and its paid days used before the current
        # segment: by the elapsed spell only, as the employment condition opened it
        self.max_paid_days = people.max_paid_days.copy()
        self.used = people.entitlement_used.copy()
        self.seg_end = np.full(n, np.inf)
        self.ends_by = np.full(n, ENDS_NEVER, np.int8)
        self.next_state = np.full(n, -1, np.int8)
        self.active = np.ones(n, bool)        # False while the event layer holds the person
        # a service's after-effect: exit multipliers until boost_until
        self.boost = np.ones((n, len(EXIT_DESTINATIONS)))
        self.boost_until = np.full(n, -np.inf)
        self.in_force = in_force
        # the counters of the rule in force (of each rule of a timeline), by rule name
        self.counters = {rule.name: RuleCounters(rule, people.prior_paid_days,
                                                 s.benefits.paid_days_per_week)
                         for rule in (in_force.simple_rules() if in_force is not None else ())}
        self._records: list[dict[str, np.ndarray]] = []
        self._sample(np.arange(n))

    # ---------------------------------------------------------------- sampling

    def _multiplier(self, idx: IntArray, risks: CompetingRisks) -> FloatArray:
        m = self.people.frailty[idx, None] * risks.group_multiplier[self.people.group[idx]]
        if risks is self.risks.exits:
            m = m * self.people.local_exit[idx, None]
        return np.asarray(m)

    def _draws(self, idx: IntArray) -> tuple[FloatArray, FloatArray]:
        """An exponential and a uniform from each person's own stream."""
        return self.draws.exponential_and_uniform(idx)

    def _sample(self, idx: IntArray) -> None:
        """Sample the end of the open segment of people `idx` (who start it at seg_start)."""
        unemployed = idx[self.state[idx] == UNEMPLOYED]
        employed = idx[self.state[idx] == EMPLOYED]
        other = idx[(self.state[idx] != UNEMPLOYED) & (self.state[idx] != EMPLOYED)]
        if unemployed.size:
            self._sample_unemployed(unemployed)
        if employed.size:
            # time in the job so far: 0, but for a job already under way at t = 0
            d_from = np.maximum(-self.seg_start[employed], 0.0)
            until = self.horizon - self.seg_start[employed]
            d, _ = self.risks.job_loss.sample_with(
                d_from, until, self._multiplier(employed, self.risks.job_loss),
                *self._draws(employed))
            self.seg_end[employed] = self.seg_start[employed] + d
            self.ends_by[employed] = np.where(np.isfinite(d), ENDS_BY_JOB_LOSS, ENDS_NEVER)
            self.next_state[employed] = UNEMPLOYED
        self.seg_end[other] = np.inf          # education and inactivity are absorbing here
        self.ends_by[other] = ENDS_NEVER

    def _sample_unemployed(self, idx: IntArray) -> None:
        start = self.seg_start[idx]
        origin = self.spell_start[idx]
        d_from = start - origin
        until = self.horizon - origin
        base = self._multiplier(idx, self.risks.exits)
        d, dest = self.risks.exits.sample_with(d_from, until, base, *self._draws(idx))
        boosted = np.flatnonzero(self.boost_until[idx] > start)
        if boosted.size:
            # exact in two pieces: boosted hazards until the after-effect ends, then the base
            b = idx[boosted]
            edge = np.minimum(self.boost_until[b] - origin[boosted], until[boosted])
            d1, dest1 = self.risks.exits.sample_with(d_from[boosted], edge,
                                                     base[boosted] * self.boost[b],
                                                     *self._draws(b))
            d2, dest2 = self.risks.exits.sample_with(edge, until[boosted], base[boosted],
                                                     *self._draws(b))
            first = np.isfinite(d1)
            d[boosted] = np.where(first, d1, d2)
            dest[boosted] = np.where(first, dest1, dest2)
        exit_at = origin + d
        left = self.max_paid_days[idx] - self.used[idx]
        exhaust_at = start + np.maximum(left, 0.0) / self.rate
        by_exhaustion = exhaust_at < np.minimum(exit_at, self.horizon)
        self.seg_end[idx] = np.where(by_exhaustion, exhaust_at, exit_at)
        self.ends_by[idx] = np.where(by_exhaustion, ENDS_BY_EXHAUSTION,
                                     np.where(np.isfinite(exit_at), ENDS_BY_EXIT, ENDS_NEVER))
        self.next_state[idx] = np.where(by_exhaustion, UNEMPLOYED,
                                        DESTINATION_STATE[np.maximum(dest, 0)])

    # ---------------------------------------------------------------- moving on

    def record(self, idx: IntArray, state: npt.ArrayLike, start: npt.ArrayLike,
               end: npt.ArrayLike, *, service: npt.ArrayLike | int = -1,
               paid: npt.ArrayLike | bool | None = None, censored: bool = False) -> None:
        """Record one closed segment for each person in `idx` (distinct, each person's
        segments in time order): the single place where segments are written, benefit days
        used up, the in-force counter advanced, and an earnings-related or basic-allowance
        entitlement that runs out inside the segment splits it and moves the person to the
        labour market subsidy."""
        idx = np.asarray(idx, np.int64)
        n = idx.size
        state = column(state, n, np.int8)
        start = column(start, n, np.float64)
        end = column(end, n, np.float64)
        service = column(service, n, np.int32)
        paid_arr = state == UNEMPLOYED if paid is None else column(paid, n, np.bool_)
        paid_arr &= self.benefit[idx] != NO_BENEFIT
        maximum = self.max_paid_days[idx]
        limited = paid_arr & np.isfinite(maximum)
        exhaust_at = start + np.maximum(maximum - self.used[idx], 0.0) / self.rate
        split = limited & (exhaust_at < end - 1e-9) & (exhaust_at > start + 1e-9)
        if split.any():
            s_ = np.flatnonzero(split)
            self._append(idx[s_], state[s_], start[s_], exhaust_at[s_], service[s_],
                         paid_arr[s_], False)
            self.used[idx[s_]] = maximum[s_]
            self._to_subsidy(idx[s_])
            start[s_] = exhaust_at[s_]
            limited &= ~split
        self._append(idx, state, start, end, service, paid_arr, censored)
        self.used[idx[limited]] += (end[limited] - start[limited]) * self.rate
        done = idx[limited & (self.used[idx] >= maximum - 1e-9)]
        self._to_subsidy(done)

    def _to_subsidy(self, idx: IntArray) -> None:
        """The entitlement has run out: on to the labour market subsidy, at the person's own
        subsidy amount, with no maximum."""
        self.benefit[idx] = LMS
        self.daily[idx] = self.people.subsidy_amount[idx]
        self.basic[idx] = self.daily[idx]
        self.max_paid_days[idx] = np.inf

    def _append(self, idx: IntArray, state: np.ndarray, start: FloatArray, end: FloatArray,
                service: np.ndarray, paid: np.ndarray, censored: bool) -> None:
        benefit = np.where(paid, self.benefit[idx], NO_BENEFIT).astype(np.int8)
        # the person's own attributes (municipality, group, prior paid days) are not kept
        # per segment here: they are read once for the whole history at the join
        record: dict[str, np.ndarray] = {
            "person_id": idx,
            "state": state,
            "service": service,
            "benefit": benefit,
            "benefit_paid": paid,
            "daily_amount": np.where(paid, self.daily[idx], 0.0),
            "basic_part": np.where(paid, self.basic[idx], 0.0),
            "start_day": start,
            "end_day": end,
            "censored": np.full(idx.size, censored),
        }
        for name, counters in self.counters.items():
            record[COUNTER + name] = counters.advance(idx, state, benefit, paid, start, end,
                                                      final=censored)
        self._records.append(record)

    def counter_now(self, idx: IntArray, t: npt.ArrayLike, day: float | None = None
                    ) -> FloatArray:
        """The counter at time(s) t, of the rule in force on `day` (default: t, a number),
        for people in an open segment (0 before a timeline's first rule)."""
        counters = self._counters_in_force(float(np.asarray(t)) if day is None else day)
        if counters is None:
            return np.zeros(idx.size)
        state, benefit, paid = self._paying(idx)
        return counters.now(idx, state, benefit, paid, self.seg_start[idx], t)

    def counter_grows(self, idx: IntArray, day: float) -> npt.NDArray[np.bool_]:
        """Whether the in-force counter of people in an open segment grows in it (at
        paid_days_per_week / 7 a day)."""
        counters = self._counters_in_force(day)
        if counters is None:
            return np.zeros(idx.size, bool)
        return counters.counting(*self._paying(idx))

    def _counters_in_force(self, day: float) -> RuleCounters | None:
        assert self.in_force is not None, "no rule in force given"
        return self.counters.get(self.in_force.at(day).name)

    def _paying(self, idx: IntArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """State, benefit and payment of people's open segments, as the counters see them."""
        state = self.state[idx]
        paid = (state == UNEMPLOYED) & (self.benefit[idx] != NO_BENEFIT)
        return state, np.where(paid, self.benefit[idx], NO_BENEFIT), paid

    def advance_to(self, t: float) -> None:
        """Close every open segment of active people that ends before `t`, and move on."""
        while True:
            idx = np.flatnonzero(self.active & (self.seg_end < t))
            if idx.size == 0:
                return
            self._move_on(idx)

    def advance_people(self, idx: IntArray, t: npt.ArrayLike) -> None:
        """As advance_to, for the people `idx` (distinct) only, each to their own time t:
        work in proportion to them, not to the population."""
        idx = np.asarray(idx, np.int64)
        t = column(t, idx.size, np.float64)
        while idx.size:
            due = self.active[idx] & (self.seg_end[idx] < t)
            idx, t = idx[due], t[due]
            if idx.size:
                self._move_on(idx)

    def _move_on(self, idx: IntArray) -> None:
        """Close the open segments of `idx` at their ends and sample what follows."""
        end = self.seg_end[idx]
        self.record(idx, self.state[idx], self.seg_start[idx], end)
        lost = self.ends_by[idx] == ENDS_BY_JOB_LOSS
        self._new_spell(idx[lost], end[lost], job_days=end[lost] - self.seg_start[idx[lost]])
        self.state[idx] = self.next_state[idx]
        self.seg_start[idx] = end
        self._sample(idx)

    def _new_spell(self, idx: IntArray, t: FloatArray, job_days: FloatArray) -> None:
        """A new unemployment spell after job loss: the duration clock restarts; a job long
        enough for the employment condition renews an earnings-related or
        basic-allowance entitlement (the person's own benefit, amounts and maximum)."""
        self.spell_start[idx] = t
        renewed = idx[(job_days >= self.condition_days)
                      & np.isfinite(self.people.max_paid_days[idx])]
        self.benefit[renewed] = self.people.benefit[renewed]
        self.daily[renewed] = self.people.daily_amount[renewed]
        self.basic[renewed] = self.people.basic_part[renewed]
        self.max_paid_days[renewed] = self.people.max_paid_days[renewed]
        self.used[renewed] = 0.0

    # ---------------------------------------------------------------- the event layer's door

    def take(self, idx: IntArray, t: npt.ArrayLike) -> None:
        """Hand people over to the event layer at time(s) t: their open segment closes at t
        (people who arrived at t itself have no segment to close)."""
        t = column(t, np.size(idx), np.float64)
        begun = self.seg_start[idx] < t
        who = idx[begun]
        self.record(who, self.state[who], self.seg_start[who], t[begun])
        self.active[idx] = False
        self.seg_end[idx] = np.inf

    def rejoin(self, idx: IntArray, t: npt.ArrayLike, state: npt.ArrayLike, *,
               boost: FloatArray | None = None, boost_days: npt.ArrayLike = 0.0) -> None:
        """Take people back at times t in `state`; returning to unemployment, a service's
        after-effect multiplies their exit hazards (rows of `boost`) for `boost_days`."""
        idx = np.asarray(idx, np.int64)
        t = column(t, idx.size, np.float64)
        self.active[idx] = True
        self.state[idx] = state
        self.seg_start[idx] = t
        if boost is not None:
            days = column(boost_days, idx.size, np.float64)
            on = days > 0
            self.boost[idx[on]] = np.broadcast_to(boost, (idx.size, self.boost.shape[1]))[on]
            self.boost_until[idx[on]] = t[on] + days[on]
        self._sample(idx)

    def finish(self) -> SpellTable:
        """Run to the horizon; open segments are recorded as censored."""
        self.advance_to(self.horizon)
        idx = np.flatnonzero(self.active & (self.seg_start < self.horizon))
        self.record(idx, self.state[idx], self.seg_start[idx], self.horizon, censored=True)
        # Nothing more is recorded: the counters' interval lists go, and each column's
        # batches as soon as the column is joined, so the history is not held twice.
        names = list(self.counters)
        self.counters = {}
        records, self._records = self._records, []
        release_freed_memory()          # the lists' heap, before the columns are joined
        columns = {k: self._join(records, k) for k in COLUMNS if k not in PERSON_COLUMNS}
        for k in PERSON_COLUMNS:
            columns[k] = getattr(self.people, k)[columns["person_id"]]
        columns = {k: columns[k] for k in COLUMNS}
        counters = {name: self._join(records, COUNTER + name) for name in names}
        # Rows in person order (each person's in time order), as pricing reads them: a
        # history's later sorts find it sorted, and its reads by person are sequential.
        # Column by column, each dropped once put in order.
        order = SpellTable.from_columns(columns).person_order()
        if not np.array_equal(order, np.arange(order.size)):
            for k in list(columns):
                columns[k] = columns.pop(k)[order]
            for name in list(counters):
                counters[name] = counters.pop(name)[order]
        del order
        table = SpellTable.from_columns(
            columns, municipalities=tuple(self.s.municipalities), groups=tuple(self.s.groups),
            services=tuple(self.s.services), paid_days_per_week=self.s.benefits.paid_days_per_week)
        for name, counter in counters.items():
            table = table.with_counter(name, counter)
        return table

    @staticmethod
    def _join(records: list[dict[str, np.ndarray]], key: str) -> np.ndarray:
        """One column of the history from its batches, which are dropped and their heap handed
        back: the column is a fresh allocation of its own, which the batches' freed heap
        would not serve."""
        column = np.concatenate([r.pop(key) for r in records])
        release_freed_memory()
        return column
