"""The population model: one replication of a scenario, simulated into a SpellTable.

The vectorised life courses (lifecourse.py) move everyone who is not interacting with anything;
a SimPy environment runs what does interact: municipal decisions that refer people to services,
service places shared by a municipality or a cooperation area, queues that people may leave
for a job, and the return of clients to open unemployment with a service's after-effect.

Decisions are per person. Each jobseeker of an acting municipality has a periodic review, the
first one interval after their arrival (anywhere within one interval for the caseload already
under way at the start), each interval `review_every_days` times a uniform factor in
[1 - REVIEW_JITTER, 1 + REVIEW_JITTER] from the person's own stream, so that counters at
review do not fall on a lattice of 5/7 x the interval. The clock runs while the person is a
jobseeker (in a queue or a service too) and restarts at the arrival of a new spell. Under
`threshold` the referral is an event at the moment the person's counter reaches
`refer_at_paid_days` (at arrival for 0), and reviews offer a service again to people whose
counter is past it. Anyone unemployed can be offered a service at any review: again after a
service ends, and again after declining one.

Due reviews and threshold moments sit in buckets by day; one SimPy process takes each day's
bucket in one vectorised step, so work goes with the people concerned, never with the whole
population. Reviews are held on the first whole day at or after their due time, against the
places free then; threshold referrals take effect at their exact moment.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import heapq
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy
from simpy.resources.resource import Request

from ..funding.rules import compile_rule
from ..funding.spells import SpellTable
from ..scenario import scenario_rules
from ..scenario.schema import Scenario
from ..scenario.vocabulary import STATE_CODE
from .lifecourse import DESTINATION_STATE, ENDS_BY_JOB_LOSS, LifeCourses
from .policy import (
    CompiledService,
    current_exit_rates,
    eligible,
    policy_of,
    referral_value,
)
from .population import (
    People,
    PersonStreams,
    inflow,
    initial_caseload,
    initial_employed,
    sample,
    stream,
)

UNEMPLOYED = STATE_CODE["unemployed"]
EMPLOYED = STATE_CODE["employed"]
WAITING = STATE_CODE["waiting"]
SERVICE = STATE_CODE["service"]

# Strategy codes by municipality; at a review, a service's places go to the strategies in
# this order (threshold referrals do not wait for free places, the others fill what is left).
STRATEGIES = ("none", "threshold", "fifo", "incentive_aware")
NONE, THRESHOLD, FIFO, INCENTIVE_AWARE = range(len(STRATEGIES))
REVIEW_JITTER = 0.25        # review intervals are uniform within +-25 % of review_every_days
COUNTER_TOLERANCE = 1e-6    # paid days: a counter this close to the threshold has reached it
NUDGE = 1e-6                # days: a check never falls again at the moment it was made
YEAR_DAYS = 365.0           # municipalities buy places once a year from t = 0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class ServiceStats:
    """What one service did in one replication."""

    capacity: int = 0                  # places over all pools at the start
    place_days: float = 0.0            # integral of places over time (they may change yearly)
    places_end: int = 0                # places over all pools at the horizon
    places_by_year: list[int] = field(default_factory=list)   # in each 365 days from t = 0
    starts: int = 0
    completions: int = 0
    referrals: int = 0                 # accepted referrals (joined the queue)
    declined: int = 0                  # offers not taken up
    left_queue: int = 0                # left the queue before a place came free
    wait_days_total: float = 0.0       # over all starts, zero waits included
    queue_days_total: float = 0.0      # integral of queue length over time
    busy_place_days: float = 0.0       # integral of places in use over time

    def mean_wait_days(self) -> float:
        return self.wait_days_total / self.starts if self.starts else 0.0

    def mean_queue_length(self, horizon_days: float) -> float:
        return self.queue_days_total / horizon_days

    def utilisation(self, horizon_days: float) -> float:
        total = self.place_days or self.capacity * horizon_days
        return self.busy_place_days / total if total else 0.0


@dataclass
class Referrals:
    """One row per accepted referral: who, when, to which service, at what counter, and
    what the municipality expects it to save (net of the service's cost to it, under the rule
    in force, whatever its strategy: comparable across strategies and rules)."""

    person: list[int] = field(default_factory=list)
    day: list[float] = field(default_factory=list)
    service: list[int] = field(default_factory=list)
    municipality: list[int] = field(default_factory=list)
    counter: list[float] = field(default_factory=list)   # in-force rule's paid-day counter
    saving: list[float] = field(default_factory=list)    # expected saving, in the currency

    def arrays(self) -> dict[str, np.ndarray]:
        return {"person": np.asarray(self.person, np.int64), "day": np.asarray(self.day),
                "service": np.asarray(self.service, np.int64),
                "municipality": np.asarray(self.municipality, np.int64),
                "counter": np.asarray(self.counter), "saving": np.asarray(self.saving)}


@dataclass
class SimulationResult:
    spells: SpellTable                 # counter_at_start[in-force rule] recorded online
    services: dict[str, ServiceStats]
    referrals: Referrals
    people: int
    horizon_days: float
    elapsed_days: FloatArray   # by person id: spell duration already elapsed on arrival


class _Users(dict[Request, None]):
    """The requests holding places, in arrival order, with O(1) removal (a national pool holds
    thousands of places; SimPy's list makes each release scan them)."""

    def append(self, request: Request) -> None:
        self[request] = None

    def remove(self, request: Request) -> None:
        try:
            del self[request]
        except KeyError:
            raise ValueError(request) from None


class Places(simpy.Resource):
    """A service pool's places: a SimPy resource whose releases do not scan its users."""

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        super().__init__(env, capacity)
        self.users = _Users()     # type: ignore[assignment]


def population(s: Scenario, seed: int, replication: int) -> People:
    """The initial caseload, the former jobseekers in work at the start, then the inflow
    (person ids are row numbers)."""
    parts = (initial_caseload(s, seed, replication), initial_employed(s, seed, replication),
             inflow(s, seed, replication))
    return People(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                     for f in dataclasses.fields(People)})


class Engine:
    """One replication: the life courses plus a SimPy environment for services and reviews."""

    def __init__(self, s: Scenario, replication: int, seed: int) -> None:
        self.s = s
        rules = scenario_rules(s)
        ppw = s.benefits.paid_days_per_week
        self.rule = compile_rule(s.funding.in_force, rules, ppw, s.start_date)
        self.people = population(s, seed, replication)
        self.courses = LifeCourses(s, self.people, seed, replication, in_force=self.rule)
        self.env = simpy.Environment()
        self.horizon = float(s.horizon_days)
        self.rate = ppw / 7.0
        self.services = [CompiledService.compile(i, name, spec, s)
                         for i, (name, spec) in enumerate(s.services.items())]
        self.pools = [[Places(self.env, capacity=max(c, 1)) if c > 0 else None
                       for c in svc.pool_capacity] for svc in self.services]
        self.has_places = [np.array([p is not None for p in pools] + [False])
                           for pools in self.pools]   # by pool index; [-1]: no pool
        self.stats = {svc.name: ServiceStats(capacity=sum(svc.pool_capacity))
                      for svc in self.services}
        self.referrals = Referrals()
        self.open: dict[int, tuple[int, float, int]] = {}   # person -> (state, start, service)
        # Clients' closed segments and returns, applied to the life courses in batches before
        # anything reads them (at each day's decisions and at the end): exact, and far cheaper
        # than one person at a time. Each row: (person, state, start, end, service, paid) and
        # (person, day, state, boost row or None, boost days).
        self._records: list[tuple[int, int, float, float, int, bool]] = []
        self._returns: list[tuple[int, float, int, FloatArray | None, float]] = []
        self.rng_wait = stream(seed, replication, "services.waiting_exits")
        self.rng_duration = stream(seed, replication, "services.durations")
        self.rng_in_service = stream(seed, replication, "services.exits")
        self.rng_outcome = stream(seed, replication, "services.outcomes")
        self.policies = {m: policy_of(s.policy, name)
                         for m, name in enumerate(s.municipalities)}
        # the policies as arrays by municipality code
        pols = [self.policies[m] for m in range(len(self.policies))]
        self.strategy = np.array([STRATEGIES.index(p.strategy) for p in pols], np.int64)
        self.interval = np.array([p.review_every_days for p in pols], np.float64)
        self.refer_at = np.array([p.refer_at_paid_days for p in pols], np.float64)
        self.take_up = np.array([p.take_up for p in pols], np.float64)
        self.planning = np.array([p.planning_horizon_days for p in pols], np.float64)
        self.response = np.array([p.response_strength for p in pols], np.float64)
        # The places each pool has now (they start at `capacity` and may change yearly); with
        # a response, since the last change: by pool, the incentive-aware referrals that
        # did not pay and the distinct candidates turned away whose referral would have (a
        # person's mark is the year they were last counted in, + 1).
        self.places = [list(svc.pool_capacity) for svc in self.services]
        self.places_since = 0.0
        self.responds = bool((self.response[self.strategy == INCENTIVE_AWARE] > 0).any())
        self.margin = [np.zeros((len(svc.pool_capacity), 2)) for svc in self.services]
        self.year = 0
        self.turned_away = [np.zeros(len(self.people) if self.responds else 0, np.int32)
                            for _ in self.services]
        self.rule_changes = np.array(sorted(ph.start_day for ph in self.rule.phases
                                            if 0 < ph.start_day < self.horizon), np.float64)
        # Per person: the next review (exact due time, and the day it is held on, -1 for
        # none), the due time the current interval was counted from, and the next moment to
        # look at their counter under `threshold` (and its day). Review intervals and take-up
        # are drawn from each person's own stream.
        n = len(self.people)
        self.review_due = np.full(n, np.inf)
        self.review_day = np.full(n, -1, np.int64)
        self.review_from = np.full(n, -np.inf)
        self.threshold_due = np.full(n, np.inf)
        self.threshold_day = np.full(n, -1, np.int64)
        self.review_draws = PersonStreams(seed, replication, "policy.reviews", n)
        self.take_up_draws = PersonStreams(seed, replication, "policy.take_up", n)
        self._reviews_on: dict[int, list[IntArray]] = {}
        self._thresholds_on: dict[int, list[IntArray]] = {}
        self._days: list[int] = []              # heap of the days in either bucket
        self._day_set: set[int] = set()

    def run(self) -> SimulationResult:
        if self.services and (self.strategy != NONE).any():
            self._first_decisions()
            self.env.process(self._decision_days())
            if self.responds:
                self.env.process(self._buy_places())
            self.env.run(until=self.horizon)
        elif self.services:
            self.env.run(until=self.horizon)
        self._flush()
        self._count_place_days(self.horizon)
        # clients still in a queue or a service at the horizon, by state and service
        still: dict[tuple[int, int], list[tuple[int, float]]] = {}
        for person, (state, start, service) in sorted(self.open.items()):
            still.setdefault((state, service), []).append((person, start))
        for (state, service), rows in sorted(still.items()):
            paid = state == WAITING or self.services[service].spec.benefit_paid
            self.courses.record(np.array([r[0] for r in rows], np.int64), state,
                                np.array([r[1] for r in rows]), self.horizon,
                                service=service, paid=paid, censored=True)
        spells = self.courses.finish()
        return SimulationResult(spells, self.stats, self.referrals, len(self.people),
                                self.horizon, self.people.elapsed_days)

    # ---------------------------------------------------------------- scheduling

    def _first_decisions(self) -> None:
        """Everyone's first review and, under `threshold`, first look at their counter."""
        people, courses = self.people, self.courses
        who = np.flatnonzero(self.strategy[people.municipality] != NONE)
        in_work = people.employed_at_start[who]
        # the former jobseekers in work: from the job loss that makes them jobseekers again
        job = who[in_work]
        back = job[(courses.ends_by[job] == ENDS_BY_JOB_LOSS) & (courses.seg_end[job]
                                                                  < self.horizon)]
        self._next_review(back, courses.seg_end[back], 0)
        self._due_threshold(back, courses.seg_end[back], 0)
        # jobseekers: one interval after arrival; a caseload spell already under way is met
        # anywhere within its current interval
        seeker = who[~in_work]
        arrival = people.arrival_day[seeker]
        under_way = people.elapsed_days[seeker] > 0
        u = self._uniform(seeker)
        interval = self.interval[people.municipality[seeker]]
        step = np.where(under_way, u, 1 - REVIEW_JITTER + 2 * REVIEW_JITTER * u) * interval
        self.review_from[seeker] = arrival
        self._schedule_review(seeker, arrival + step, 0)
        self._due_threshold(seeker, arrival, 0)

    def _uniform(self, who: IntArray) -> FloatArray:
        """The next draw of each person's own review stream: reproducible whoever else is
        reviewed on the same day."""
        return self.review_draws.uniform(who)

    def _next_review(self, who: IntArray, base: FloatArray, today: int) -> None:
        """Schedule one jittered review interval after `base` (held after `today`)."""
        if who.size == 0:
            return
        interval = self.interval[self.people.municipality[who]]
        step = interval * (1 - REVIEW_JITTER + 2 * REVIEW_JITTER * self._uniform(who))
        self.review_from[who] = base
        self._schedule_review(who, base + step, today + 1)

    def _schedule_review(self, who: IntArray, due: FloatArray, earliest: int) -> None:
        day = np.maximum(np.ceil(due), earliest).astype(np.int64)
        keep = day < self.horizon
        self.review_due[who] = np.where(keep, due, np.inf)
        self.review_day[who] = np.where(keep, day, -1)
        self._add(self._reviews_on, who[keep], day[keep])

    def _due_threshold(self, who: IntArray, when: FloatArray, today: int) -> None:
        """Look at the counters of `who` at `when` (people under `threshold` only)."""
        if who.size == 0:
            return
        mine = self.strategy[self.people.municipality[who]] == THRESHOLD
        if self.rule_changes.size:        # a new rule's counter may be past the threshold
            at = int(np.searchsorted(self.rule_changes, today, side="right"))
            if at < self.rule_changes.size:
                when = np.minimum(when, self.rule_changes[at])
        who, when = who[mine], when[mine]
        keep = when < self.horizon
        day = np.maximum(np.floor(np.where(keep, when, today)), today).astype(np.int64)
        self.threshold_due[who] = np.where(keep, when, np.inf)
        self.threshold_day[who] = np.where(keep, day, -1)
        self._add(self._thresholds_on, who[keep], day[keep])

    def _add(self, buckets: dict[int, list[IntArray]], who: IntArray, day: IntArray) -> None:
        if who.size == 0:
            return
        order = np.argsort(day, kind="stable")
        day, who = day[order], who[order]
        cut = np.flatnonzero(np.diff(day)) + 1
        bounds = np.r_[0, cut, day.size].tolist()
        for d, lo, hi in zip(day[bounds[:-1]].tolist(), bounds[:-1], bounds[1:], strict=True):
            buckets.setdefault(d, []).append(who[lo:hi])
            if d not in self._day_set:
                self._day_set.add(d)
                heapq.heappush(self._days, d)

    @staticmethod
    def _due(buckets: dict[int, list[IntArray]], day: int, held_on: IntArray) -> IntArray:
        """The people whose entry in a bucket is still their current one (others moved)."""
        parts = buckets.pop(day, [])
        if not parts:
            return np.zeros(0, np.int64)
        who = np.sort(np.concatenate(parts))
        who = who[np.r_[True, who[1:] != who[:-1]]]
        return np.asarray(who[held_on[who] == day])

    def _decision_days(self) -> Generator[simpy.Event, Any, None]:
        while self._days:
            day = heapq.heappop(self._days)
            self._day_set.discard(day)
            if day >= self.horizon:
                return
            if day > self.env.now:
                yield self.env.timeout(day - self.env.now)
            self._flush()
            who = self._due(self._reviews_on, day, self.review_day)
            if who.size:
                self._reviews(who, day)
            while True:      # a counter looked at today may be due again later today
                who = self._due(self._thresholds_on, day, self.threshold_day)
                if who.size == 0:
                    break
                self._crossings(who, day)

    def _flush(self) -> None:
        """Apply the clients' pending segments, then their returns, to the life courses."""
        records, self._records = self._records, []
        chunk: list[tuple[int, int, float, float, int, bool]] = []
        seen: set[int] = set()
        for row in [*records, None]:
            if row is None or row[0] in seen:   # a person's second segment: next chunk
                if chunk:
                    person, state, start, end, service, paid = (np.array(c) for c in zip(
                        *chunk, strict=True))
                    self.courses.record(person, state, start, end, service=service, paid=paid)
                chunk, seen = [], set()
            if row is not None:
                chunk.append(row)
                seen.add(row[0])
        returns, self._returns = self._returns, []
        if returns:
            dims = self.courses.boost.shape[1]
            person = np.array([r[0] for r in returns])
            day = np.array([r[1] for r in returns])
            state = np.array([r[2] for r in returns])
            boost = np.array([r[3] if r[3] is not None else np.ones(dims) for r in returns])
            days = np.array([r[4] for r in returns])
            self.courses.rejoin(person, day, state, boost=boost, boost_days=days)

    # ---------------------------------------------------------------- decisions

    def _reviews(self, who: IntArray, day: int) -> None:
        """The reviews held on `day` (due since the day before)."""
        t = float(day)
        courses = self.courses
        courses.advance_people(who, t)
        active = courses.active[who]
        state = courses.state[who]
        # with the event layer (in a queue, a service or on the way there): the clock runs on
        held = ~active
        # in work with a job loss ahead: counted again from that new spell's arrival
        job = active & (state == EMPLOYED) & (courses.ends_by[who] == ENDS_BY_JOB_LOSS) & (
            courses.seg_end[who] < self.horizon)
        unemployed = active & (state == UNEMPLOYED)
        # a spell begun since the last due time (a job found and lost in between) restarts
        # the clock from its arrival
        restarted = unemployed & (courses.spell_start[who] > self.review_from[who])
        seekers = who[unemployed & ~restarted]
        base = np.where(job, courses.seg_end[who],
                        np.where(restarted, courses.spell_start[who], self.review_due[who]))
        on = held | job | unemployed
        gone = who[~on]                         # out of the labour market for good
        self.review_due[gone] = np.inf
        self.review_day[gone] = -1
        self._next_review(who[on], base[on], day)
        back = who[job]
        back = back[self.threshold_due[back] == np.inf]
        self._due_threshold(back, courses.seg_end[back], day)
        if seekers.size:
            muni = self.people.municipality[seekers]
            self._decide(seekers, np.full(seekers.size, t), courses.counter_now(seekers, t),
                         self.strategy[muni], t)

    def _crossings(self, who: IntArray, day: int) -> None:
        """Under `threshold`: whose counter has reached `refer_at_paid_days` at the moment
        looked at; the others are looked at again when it can first have got there."""
        courses = self.courses
        t = self.threshold_due[who]
        self.threshold_due[who] = np.inf
        self.threshold_day[who] = -1
        courses.advance_people(who, t)
        active = courses.active[who]
        state = courses.state[who]
        # in work with a job loss ahead: the new spell's arrival
        job = active & (state == EMPLOYED) & (courses.ends_by[who] == ENDS_BY_JOB_LOSS) & (
            courses.seg_end[who] < self.horizon)
        self._due_threshold(who[job], np.maximum(courses.seg_end[who[job]], t[job] + NUDGE),
                            day)
        unemployed = active & (state == UNEMPLOYED)
        seekers, t = who[unemployed], t[unemployed]
        counter = courses.counter_now(seekers, t, day=float(day))
        gap = self.refer_at[self.people.municipality[seekers]] - counter
        reached = gap <= COUNTER_TOLERANCE
        below, t_below = seekers[~reached], t[~reached]
        # at full speed it gets there after gap / rate days; a counter that stands still
        # (a benefit or state the rule does not count) can only move when the segment ends
        grows = courses.counter_grows(below, float(day))
        when = np.where(grows, t_below + gap[~reached] / self.rate, courses.seg_end[below])
        self._due_threshold(below, np.maximum(when, t_below + NUDGE), day)
        crossed = seekers[reached]
        self._decide(crossed, t[reached], counter[reached], np.full(crossed.size, THRESHOLD),
                     float(day))

    def _decide(self, who: IntArray, t: FloatArray, counter: FloatArray, strategy: IntArray,
                now: float) -> None:
        """Refer unemployed people (in the life courses up to their times t) to at most one
        service each, by their municipalities' strategies, and offer it."""
        if who.size == 0:
            return
        muni = self.people.municipality[who]
        group = self.people.group[who]
        taken = np.zeros(who.size, bool)
        for svc in self.services:
            pool_index = svc.pool_of[muni]
            ok = ~taken & self.has_places[svc.index][pool_index] & eligible(svc, group, counter)
            for code in (THRESHOLD, FIFO, INCENTIVE_AWARE):
                mine = ok & (strategy == code)
                if not mine.any():
                    continue
                chosen, saving = self._choose(code, svc, who, counter, mine, pool_index, now)
                if chosen.size == 0:
                    continue
                taken[chosen] = True
                self._offer(who[chosen], counter[chosen], svc, pool_index[chosen],
                            muni[chosen], t[chosen], saving)

    def _choose(self, code: int, svc: CompiledService, who: IntArray, counter: FloatArray,
                ok: np.ndarray, pool_index: IntArray, t: float
                ) -> tuple[IntArray, FloatArray | None]:
        """Positions in `who` to refer to `svc`, in order, and their expected saving where
        the strategy has worked it out (incentive_aware; None for the others)."""
        courses = self.courses
        if code == THRESHOLD:
            refer_at = self.refer_at[self.people.municipality[who]]
            return np.flatnonzero(ok & (counter >= refer_at - COUNTER_TOLERANCE)), None
        pos = np.flatnonzero(ok)
        if code == FIFO:
            rank_key = courses.spell_start[who[pos]]
        else:       # incentive_aware: the largest saving net of the service's cost first
            gross, cost = self._referral_value(svc, who[pos], counter[pos], t)
            rank_key = cost - gross
        # while places are free, pool by pool
        pools = self.pools[svc.index]
        places = self.places[svc.index]
        free = np.array([places[i] - p.count - len(p.queue) if p is not None else 0
                         for i, p in enumerate(pools)] + [0])
        order = np.lexsort((rank_key, pool_index[pos]))
        pos = pos[order]
        pool = pool_index[pos]
        rank = np.arange(pos.size) - np.searchsorted(pool, pool, side="left")
        chosen = rank < free[pool]
        if code == INCENTIVE_AWARE and self.responds:
            pays = rank_key[order] < 0
            margin = self.margin[svc.index]
            np.add.at(margin[:, 0], pool[chosen & ~pays], 1.0)
            mark = self.turned_away[svc.index]
            person = who[pos]
            new = ~chosen & pays & (mark[person] != self.year + 1)
            mark[person[new]] = self.year + 1
            np.add.at(margin[:, 1], pool[new], 1.0)
        return pos[chosen], (-rank_key[order][chosen] if code == INCENTIVE_AWARE else None)

    def _referral_value(self, svc: CompiledService, person: IntArray, counter: FloatArray,
                        t: float | FloatArray) -> tuple[FloatArray, FloatArray]:
        """(saving before the service's cost, that cost) of referring each person at their
        time t (all on one day), over their municipality's planning horizon."""
        courses = self.courses
        multiplier = courses._multiplier(person, courses.risks.exits)
        rates = current_exit_rates(courses.risks.exits, t - courses.spell_start[person],
                                   multiplier)
        horizon = self.planning[self.people.municipality[person]]
        gross, cost = np.zeros(person.size), np.zeros(person.size)
        rule = self.rule.at(float(np.min(t)))
        for h in np.unique(horizon).tolist():
            mine = horizon == h
            gross[mine], cost[mine] = referral_value(
                rule, svc, counter[mine], courses.basic[person[mine]],
                courses.benefit[person[mine]], rates[mine],
                self.s.benefits.paid_days_per_week, h)
        return gross, cost

    # ---------------------------------------------------------------- places

    def _buy_places(self) -> Generator[simpy.Event, Any, None]:
        """Each year, every pool with an incentive-aware member buys a place for each distinct
        candidate of theirs it turned away whose referral would have saved more than it
        costs, and gives one up for each of their referrals that saved less: a place is worth
        what its marginal client saves against its cost. `response_strength` is the share of
        that change made in a year, within `places_range` times the starting places."""
        low, high = self.s.policy.places_range
        year = YEAR_DAYS
        while self.env.now + year < self.horizon:
            yield self.env.timeout(year)
            self._count_place_days(self.env.now)
            for svc in self.services:
                margin = self.margin[svc.index]
                for i, pool in enumerate(self.pools[svc.index]):
                    members = np.flatnonzero((svc.pool_of == i)
                                             & (self.strategy == INCENTIVE_AWARE))
                    if pool is None or members.size == 0:
                        continue
                    losing, missed = margin[i].tolist()
                    strength = float(self.response[members].mean())
                    # a place serves 365 / mean_days clients a year
                    change = strength * (missed - losing) * svc.mean_days / year
                    start = svc.pool_capacity[i]
                    places = int(np.clip(np.rint(self.places[svc.index][i] + change),
                                         np.ceil(low * start), np.floor(high * start)))
                    self._set_places(pool, places)
                    self.places[svc.index][i] = places
                margin[:] = 0.0
            self.year += 1

    @staticmethod
    def _set_places(pool: Places, places: int) -> None:
        """Change a pool's places: new places go to the queue at once; with fewer, clients
        in a service keep theirs and nobody starts until they are under the new number."""
        pool._capacity = places
        pool._trigger_put(None)

    def _count_place_days(self, until: float) -> None:
        """Add the place-days since the last change of places to each service's total."""
        for svc in self.services:
            stats = self.stats[svc.name]
            places = sum(p for p, pool in zip(self.places[svc.index], self.pools[svc.index],
                                              strict=True) if pool is not None)
            stats.place_days += places * (until - self.places_since)
            stats.places_end = places
            # places change only at whole years from t = 0: one entry per year begun
            years = int(np.ceil(until / YEAR_DAYS) - np.ceil(self.places_since / YEAR_DAYS))
            stats.places_by_year.extend([places] * years)
        self.places_since = until

    def _offer(self, who: IntArray, counter: FloatArray, svc: CompiledService,
               pool_index: IntArray, muni: npt.NDArray[np.integer[Any]], t: FloatArray,
               saving: FloatArray | None = None) -> None:
        accept = self.take_up_draws.uniform(who) < self.take_up[muni]
        self.stats[svc.name].declined += int((~accept).sum())
        self.refer(who[accept], counter[accept], svc, pool_index[accept], muni[accept],
                   t[accept], None if saving is None else saving[accept])

    def refer(self, who: IntArray, counter: FloatArray, svc: CompiledService,
              pool_index: IntArray, muni: npt.NDArray[np.integer[Any]],
              t: FloatArray | float, saving: FloatArray | None = None) -> None:
        """Send people (unemployed, in the life courses up to their times t, now or later
        today) to the queues of a service's pools: they leave the life courses at once, and
        join the queue at t. `saving`: what each referral is expected to save the
        municipality, when the strategy has worked it out already."""
        if who.size == 0:
            return
        at = np.broadcast_to(np.asarray(t, np.float64), who.shape)
        stats = self.stats[svc.name]
        if saving is None:
            gross, cost = self._referral_value(svc, who, counter, at)
            saving = gross - cost
        self.courses.take(who, at)
        stats.referrals += int(who.size)
        self.referrals.person.extend(who.tolist())
        self.referrals.day.extend(at.tolist())
        self.referrals.service.extend([svc.index] * who.size)
        self.referrals.municipality.extend(muni.tolist())
        self.referrals.counter.extend(counter.tolist())
        self.referrals.saving.extend(saving.tolist())
        now = self.env.now
        at_once = at <= now
        if at_once.all():
            self._request(who, svc, pool_index, now)
            return
        self._request(who[at_once], svc, pool_index[at_once], now)
        for person, p, when in zip(who[~at_once].tolist(), pool_index[~at_once].tolist(),
                                   at[~at_once].tolist(), strict=True):
            self.env.timeout(when - now).callbacks.append(functools.partial(
                self._request_one, person, svc, p, when))

    def _request_one(self, person: int, svc: CompiledService, pool_index: int, t: float,
                     _: simpy.Event) -> None:
        self._request(np.array([person]), svc, np.array([pool_index]), t)

    def _request(self, who: IntArray, svc: CompiledService, pool_index: IntArray, t: float
                 ) -> None:
        """Requests are made now, in referral order: those granted at once start the service
        now; the others wait in their pool's queue, from which they may leave for a job."""
        if who.size == 0:
            return
        pools = self.pools[svc.index]
        mine = [pools[i] for i in pool_index.tolist()]
        requests = [p.request() for p in mine if p is not None]
        placed = np.fromiter((r.triggered for r in requests), bool, who.size)
        at_once = np.flatnonzero(placed)
        self._start(who[placed], svc, [mine[i] for i in at_once],
                    [requests[i] for i in at_once], t)
        queued = np.flatnonzero(~placed)
        if queued.size:
            exit_at, dest = self._exit_draws(who[queued], t, self.horizon, None, self.rng_wait)
            for i, leave_at, where in zip(queued.tolist(), exit_at.tolist(), dest.tolist(),
                                          strict=True):
                self._wait(int(who[i]), svc, mine[i], requests[i], t,
                           leave_at, where)

    # ---------------------------------------------------------------- clients

    def _exit_draws(self, who: IntArray, t_from: float, t_until: FloatArray | float,
                    boost: FloatArray | None, rng: np.random.Generator
                    ) -> tuple[FloatArray, IntArray]:
        """When (absolute days) and where these people would leave unemployment between
        t_from and t_until, with exit hazards multiplied by `boost` (inf, -1 if not). One
        person takes the scalar path, which makes the same draws."""
        courses = self.courses
        exits = courses.risks.exits
        origin = courses.spell_start[who]
        until = np.broadcast_to(np.asarray(t_until, np.float64), who.shape)
        multiplier = courses._multiplier(who, exits)
        if boost is not None:
            multiplier = multiplier * boost
        if who.size == 1:
            d, dest = exits.sample_one(t_from - origin[0], until[0] - origin[0],
                                       multiplier[0].tolist(), rng)
            return np.array([origin[0] + d]), np.array([dest])
        d_, dest_ = exits.sample(t_from - origin, until - origin, multiplier, rng)
        return origin + d_, dest_

    def _wait(self, person: int, svc: CompiledService, pool: simpy.Resource,
              request: Request, t0: float, exit_at: float, dest: int) -> None:
        """A client in the queue: a place comes free, or they leave first."""
        env = self.env
        stats = self.stats[svc.name]
        self.open[person] = (WAITING, t0, svc.index)

        def granted(_: simpy.Event) -> None:
            t1 = env.now
            if t1 > t0:
                self._records.append((person, WAITING, t0, t1, svc.index, True))
            stats.wait_days_total += t1 - t0
            self._start(np.array([person]), svc, [pool], [request], t1)

        def leave(_: simpy.Event) -> None:
            if request.triggered:       # a place came first
                return
            request.cancel()           # left for a job, education or inactivity
            stats.left_queue += 1
            del self.open[person]
            self._records.append((person, WAITING, t0, env.now, svc.index, True))
            self._returns.append((person, env.now, int(DESTINATION_STATE[dest]), None, 0.0))

        request.callbacks.append(granted)
        if exit_at < self.horizon:
            env.timeout(exit_at - t0).callbacks.append(leave)

    def _start(self, who: IntArray, svc: CompiledService, pools: list[simpy.Resource],
               requests: list[Request], t1: float) -> None:
        """Clients who got a place at t1: the service's length and the exits it locks in are
        drawn for all of them at once; the end of each is an event."""
        if who.size == 0:
            return
        stats = self.stats[svc.name]
        stats.starts += int(who.size)
        planned_end = t1 + sample(svc.spec.duration_days, who.size, self.rng_duration)
        exit_at, dest = self._exit_draws(who, t1, np.minimum(planned_end, self.horizon),
                                         svc.during, self.rng_in_service)
        end = np.minimum(exit_at, planned_end)
        exited = exit_at <= planned_end
        for person, pool, request, e, out, where in zip(who.tolist(), pools, requests,
                                                        end.tolist(), exited.tolist(),
                                                        dest.tolist(), strict=True):
            self.open[person] = (SERVICE, t1, svc.index)
            if e < self.horizon:        # else still in the service at the horizon: censored
                self.env.timeout(e - t1).callbacks.append(
                    functools.partial(self._end, person, svc, pool, request, t1,
                                      int(DESTINATION_STATE[where]) if out else -1))

    def _end(self, person: int, svc: CompiledService, pool: simpy.Resource,
             request: Request, t1: float, left_to: int, _: simpy.Event) -> None:
        """A client's service ends: left early for `left_to` (a state), or completed (-1)."""
        end = self.env.now
        pool.release(request)
        del self.open[person]
        self._records.append((person, SERVICE, t1, end, svc.index, svc.spec.benefit_paid))
        if left_to >= 0:
            self._returns.append((person, end, left_to, None, 0.0))
            return
        stats = self.stats[svc.name]
        stats.completions += 1
        hit = bisect.bisect_right(svc.outcome_cumulative, self.rng_outcome.random())
        if hit < len(svc.outcome_cumulative):
            self._returns.append((person, end, int(svc.outcome_states[hit]), None, 0.0))
        else:
            self._returns.append((person, end, UNEMPLOYED, svc.after,
                                  svc.spec.hazard_after.days))


def simulate(s: Scenario, replication: int = 0, seed: int | None = None) -> SimulationResult:
    """Simulate one replication of the scenario."""
    result = Engine(s, replication, s.seed if seed is None else seed).run()
    _service_time_stats(result)
    return result


def _service_time_stats(result: SimulationResult) -> None:
    """Queue and place-use integrals from the recorded waiting and service segments."""
    spells = result.spells
    for code, stats in enumerate(result.services.values()):
        mine = spells.service == code
        stats.queue_days_total = float(spells.duration[mine & (spells.state == WAITING)].sum())
        stats.busy_place_days = float(spells.duration[mine & (spells.state == SERVICE)].sum())

