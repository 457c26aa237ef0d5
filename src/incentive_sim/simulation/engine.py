"""The population model: one replication of a scenario, simulated into a SpellTable.

The vectorised life courses (lifecourse.py) move everyone who is not interacting with anything;
a SimPy environment runs what does interact: municipal decisions that refer people to services,
service places shared by a municipality or a cooperation area, queues that people may leave
for a job, and the return of clients to open unemployment with a service's after-effect.

A pool's places are not a SimPy resource (`Pool`): its clients' ends wait in a heap and are
read, in time order, whenever the engine next looks at the pool (a day's decisions, a
request, a change of places, the horizon); a place freed at time t goes at t to the first
client in the queue who has not left it. A pool without a queue so costs a heap push and pop
per client, and the services that ended are applied to the life courses in one batch a day.

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

import collections
import contextlib
import dataclasses
import functools
import gc
import heapq
import itertools
import math
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy

from ..funding.rules import compile_rule
from ..funding.spells import SpellTable, distinct
from ..memory import release_freed_memory
from ..processes import started
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
from .shards import (
    Shard,
    join_tables,
    likely_shards,
    may_start_processes,
    run_parallel,
    shards_of,
    subset,
    with_ids,
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
FOLLOW_EVERY_DAYS = 365.25 / 4   # places that follow the caseload change each quarter
PREFETCH_DAYS = 30          # life courses move on to the reviews this many days ahead at once
YEAR_DAYS = 365.0           # municipalities buy places once a year from t = 0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class ServiceStats:
    """What one service did in one replication."""

    capacity: int = 0                  # places over all pools at the start
    place_days: float = 0.0            # integral of places over time (they may change yearly)
    places_end: int = 0                # places over all pools at the horizon
    # place-days and days of each 365 days from t = 0 (the last one as far as the horizon)
    place_days_by_year: list[float] = field(default_factory=list)
    days_by_year: list[float] = field(default_factory=list)
    starts: int = 0
    completions: int = 0
    referrals: int = 0                 # accepted referrals (joined the queue)
    declined: int = 0                  # offers not taken up
    left_queue: int = 0                # left the queue before a place came free
    wait_days_total: float = 0.0       # over all starts, zero waits included
    queue_days_total: float = 0.0      # integral of queue length over time
    busy_place_days: float = 0.0       # integral of places in use over time

    @property
    def places_by_year(self) -> list[float]:
        """The mean places of each 365 days from t = 0."""
        return [p / d for p, d in zip(self.place_days_by_year, self.days_by_year, strict=True)
                if d > 0]

    def mean_wait_days(self) -> float:
        return self.wait_days_total / self.starts if self.starts else 0.0

    @classmethod
    def combined(cls, parts: list[ServiceStats]) -> ServiceStats:
        """One service's figures over shards of the country (each with pools of its own):
        counts and integrals add up; the days of each year are the same in every shard."""
        first = parts[0]
        out = cls(days_by_year=list(first.days_by_year))
        for f in ("capacity", "place_days", "places_end", "starts", "completions",
                  "referrals", "declined", "left_queue", "wait_days_total",
                  "queue_days_total", "busy_place_days"):
            setattr(out, f, sum(getattr(p, f) for p in parts))
        out.place_days_by_year = [sum(year) for year in zip(
            *(p.place_days_by_year for p in parts), strict=True)]
        return out

    def mean_queue_length(self, horizon_days: float) -> float:
        return self.queue_days_total / horizon_days

    def utilisation(self, horizon_days: float) -> float:
        total = self.place_days or self.capacity * horizon_days
        return self.busy_place_days / total if total else 0.0


@dataclass
class Referrals:
    """One row per accepted referral: who, when, to which service, at what counter, and
    what the municipality expects it to save (net of the service's cost to it, under the rule
    in force, whatever its strategy: comparable across strategies and rules).

    Kept as the batches they were made in, arrays each (a national run makes over a million
    referrals: as Python numbers they took some 300 MB), joined by `arrays`."""

    FIELDS = ("person", "day", "service", "municipality", "counter", "saving")
    batches: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    count: int = 0

    def add(self, person: IntArray, day: FloatArray, service: int,
            municipality: npt.NDArray[np.integer], counter: FloatArray,
            saving: FloatArray) -> None:
        n = person.size
        self.batches.append((np.array(person, np.int64), np.array(day, np.float64),
                             np.full(n, service, np.int64), np.array(municipality, np.int64),
                             np.array(counter, np.float64), np.array(saving, np.float64)))
        self.count += n

    def _joined(self) -> tuple[np.ndarray, ...]:
        if len(self.batches) != 1:        # joined once, and kept as one batch
            empty = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64),
                     np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
            batches = self.batches or [empty]
            self.batches = [tuple(np.concatenate([b[k] for b in batches])
                                  for k in range(len(self.FIELDS)))]
        return self.batches[0]

    def set_saving(self, rows: IntArray, saving: FloatArray) -> None:
        self._joined()[self.FIELDS.index("saving")][rows] = saving

    def with_ids(self, ids: IntArray) -> Referrals:
        """The same referrals, each person by their id in `ids` (a shard's people's ids in
        the whole population)."""
        person, *rest = self._joined()
        return Referrals([(ids[person], *rest)], self.count)

    @classmethod
    def combined(cls, parts: list[Referrals]) -> Referrals:
        """The referrals of shards of the country, one shard after the other."""
        return cls([b for r in parts for b in r.batches], sum(r.count for r in parts))

    def arrays(self) -> dict[str, np.ndarray]:
        """The columns (read-only views of what is kept)."""
        out = {}
        for name, column in zip(self.FIELDS, self._joined(), strict=True):
            view = column.view()
            view.flags.writeable = False
            out[name] = view
        return out


@dataclass
class SimulationResult:
    spells: SpellTable                 # counter_at_start[in-force rule] recorded online
    services: dict[str, ServiceStats]
    referrals: Referrals
    people: int
    horizon_days: float
    elapsed_days: FloatArray   # by person id: spell duration already elapsed on arrival
    # what simulate's `then` made of each shard's history, in the history's part order
    parts_done: tuple[Any, ...] = ()
    part: int = 0              # a shard's result: its index (for `then`)
    # the segments simulated (also where a shard's `then` did not send its history back)
    segments: int = 0


@dataclass(eq=False)
class Pool:
    """A service pool's places, shared by a municipality or a cooperation area, and its queue
    in order of arrival.

    No SimPy resource: a place is freed at its client's end, which the engine reads when it
    next looks at the pool. While a pool is only ever asked for places on a day whose ends the
    engine has read (reviews are held on whole days), its clients' ends wait in the engine's
    day buckets and are read a day at a time, as arrays. Once it needs the exact moment (a
    request between whole days, or a queue) it is `exact`: its ends wait in its own heap and
    are read in time order, each freed place going at that moment to the first client in the
    queue who has not left it (`Engine._advance`)."""

    index: int
    places: int
    busy: int = 0
    exact: bool = False
    # heap of (end, sequence number, person, start, state left to early or -1)
    ends: list[tuple[float, int, int, float, int]] = field(default_factory=list)
    # (person, in the queue since, leaves it at, for destination index)
    queue: collections.deque[tuple[int, float, float, int]] = field(
        default_factory=collections.deque)


def population(s: Scenario, seed: int, replication: int) -> People:
    """The initial caseload, the former jobseekers in work at the start, then the inflow
    (person ids are row numbers)."""
    parts = (initial_caseload(s, seed, replication), initial_employed(s, seed, replication),
             inflow(s, seed, replication))
    return People(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                     for f in dataclasses.fields(People)})


class Engine:
    """One replication: the life courses plus a SimPy environment for services and reviews."""

    def __init__(self, s: Scenario, replication: int, seed: int, people: People | None = None,
                 shard: Shard | None = None) -> None:
        """`people`: the population, if drawn already; with a `shard`, the shard's people
        (their draws keyed by their ids in the whole population), its pools only, and the
        services' streams of its own (see shards.py)."""
        self.s = s
        rules = scenario_rules(s)
        ppw = s.benefits.paid_days_per_week
        self.rule = compile_rule(s.funding.in_force, rules, ppw, s.start_date)
        self.people = population(s, seed, replication) if people is None else people
        ids = shard.people if shard is not None and shard.count > 1 else None
        self.courses = LifeCourses(s, self.people, seed, replication, in_force=self.rule,
                                   ids=ids)
        self.env = simpy.Environment()
        self.horizon = float(s.horizon_days)
        self.rate = ppw / 7.0
        self.services = CompiledService.all_of(s)
        self.pools = [[Pool(i, c) if c > 0 and (shard is None or shard.pools[svc.index][i])
                       else None for i, c in enumerate(svc.pool_capacity)]
                      for svc in self.services]
        # by service: the ends of clients of pools that are not exact, by the day they fall
        # in (ends in (d - 1, d] on day d), each a chunk: one array of rows (end, sequence, person,
        # start, state left to early or -1, pool); the last day read; and the chunks read
        self._ends_on: list[dict[int, list[FloatArray]]] = [
            {} for _ in self.services]
        self._read_until = [0] * len(self.services)
        self._read: list[list[tuple[np.ndarray, ...]]] = [[] for _ in self.services]
        self.has_places = [np.array([p is not None for p in pools] + [False])
                           for pools in self.pools]   # by pool index; [-1]: no pool
        # by service: whether each pool is exact (Pool.exact), by pool index as has_places
        self.is_exact = [np.zeros(len(pools) + 1, bool) for pools in self.pools]
        self.stats = {svc.name: ServiceStats(capacity=sum(p.places for p in pools
                                                          if p is not None))
                      for svc, pools in zip(self.services, self.pools, strict=True)}
        self.referrals = Referrals()
        # referrals whose expected saving is worked out at the end: (service, their rows in
        # `referrals`, person, time, spell duration, counter, basic part, benefit)
        self._unvalued: list[tuple[Any, ...]] = []
        self._sequence = 0          # of service starts: ties in a pool's ends in start order
        # clients whose service outlasts the horizon: (person, start, service)
        self._past_horizon: list[tuple[int, float, int]] = []
        # Clients' closed segments and returns, applied to the life courses in batches before
        # anything reads them (at each day's decisions and at the end): exact, and far cheaper
        # than one person at a time. Each row: (person, state, start, end, service, paid) and
        # (person, day, state) of those who left a queue; the services ended since the last
        # batch, by service: their pool's end entries.
        self._records: list[tuple[int, int, float, float, int, bool]] = []
        self._returns: list[tuple[int, float, int]] = []
        self._ended: list[list[tuple[float, int, int, float, int]]] = [
            [] for _ in s.services]
        name = shard.stream_name if shard is not None else str
        self.rng_wait = stream(seed, replication, name("services.waiting_exits"))
        self.rng_duration = stream(seed, replication, name("services.durations"))
        self.rng_in_service = stream(seed, replication, name("services.exits"))
        self.rng_outcome = stream(seed, replication, name("services.outcomes"))
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
        # each pool's places are its (bought) places times its caseload's scale (1 unless
        # places follow the caseload), against its jobseekers at the start
        self.scale = [[1.0] * len(svc.pool_capacity) for svc in self.services]
        self._seekers_at_start = (self._jobseekers_by_pool(0.0)
                                  if s.policy.places_follow_caseload else [])
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
        self.review_draws = PersonStreams(seed, replication, "policy.reviews", n, ids)
        self.take_up_draws = PersonStreams(seed, replication, "policy.take_up", n, ids)
        self._reviews_on: dict[int, list[IntArray]] = {}
        self._thresholds_on: dict[int, list[IntArray]] = {}
        self._days: list[int] = []              # heap of the days in either bucket
        self._day_set: set[int] = set()
        self._prefetched_until = 0

    def run(self) -> SimulationResult:
        if self.services and (self.strategy != NONE).any():
            self._first_decisions()
            self.env.process(self._decision_days())
            if self.responds:
                self.env.process(self._buy_places())
            if self.s.policy.places_follow_caseload:
                self.env.process(self._follow_caseload())
            self.env.run(until=self.horizon)
        elif self.services:
            self.env.run(until=self.horizon)
        self._advance_pools(self.horizon, final=True)
        self._flush()
        self._count_place_days(self.horizon)
        # clients still in a queue or a service at the horizon, by state and service
        still: dict[tuple[int, int], list[tuple[int, float]]] = {}
        for person, start, service in self._past_horizon:
            still.setdefault((SERVICE, service), []).append((person, start))
        for svc in self.services:
            for pool in self.pools[svc.index]:
                for person, since, _, _ in pool.queue if pool is not None else ():
                    still.setdefault((WAITING, svc.index), []).append((person, since))
        for rows in still.values():
            rows.sort()
        for (state, service), rows in sorted(still.items()):
            paid = state == WAITING or self.services[service].spec.benefit_paid
            self.courses.record(np.array([r[0] for r in rows], np.int64), state,
                                np.array([r[1] for r in rows]), self.horizon,
                                service=service, paid=paid, censored=True)
        self._value_referrals()
        spells = self.courses.finish()
        return SimulationResult(spells, self.stats, self.referrals, len(self.people),
                                self.horizon, self.people.elapsed_days, segments=len(spells))

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
        if self.s.policy.places_taken_at_start:
            # the caseload under way is offered the places there are, as at a review on day 0
            first = seeker[under_way & (arrival <= 0)]
            strategy = self.strategy[people.municipality[first]]
            first = first[strategy != THRESHOLD]
            self._decide(first, np.zeros(first.size), courses.counter_now(first, 0.0),
                         self.strategy[people.municipality[first]], 0.0)

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
        who = distinct(np.concatenate(parts), runs=True)   # parts mostly in person order
        return np.asarray(who[held_on[who] == day])

    def _decision_days(self) -> Generator[simpy.Event, Any, None]:
        while self._days:
            day = heapq.heappop(self._days)
            self._day_set.discard(day)
            if day >= self.horizon:
                return
            if day > self.env.now:
                yield self.env.timeout(day - self.env.now)
            self._advance_pools(float(day))
            self._flush()
            self._prefetch(day)
            who = self._due(self._reviews_on, day, self.review_day)
            if who.size:
                self._reviews(who, day)
            while True:      # a counter looked at today may be due again later today
                who = self._due(self._thresholds_on, day, self.threshold_day)
                if who.size == 0:
                    break
                self._crossings(who, day)

    def _prefetch(self, day: int) -> None:
        """Every PREFETCH_DAYS days: the life courses of the people to be reviewed in the
        next PREFETCH_DAYS days move on to their review days in one vectorised call, not day
        by day. Only their own review can take them out of the life courses before then
        (people under `threshold` are left out: a crossing may come first), and each person's
        moves are drawn from their own stream, so this changes no draw, only batch sizes."""
        if day < self._prefetched_until:
            return
        end = day + PREFETCH_DAYS
        parts = [part for d in range(day, end) for part in self._reviews_on.get(d, ())]
        self._prefetched_until = end
        if not parts:
            return
        who = distinct(np.concatenate(parts), runs=True)
        on = self.review_day[who]
        keep = (on >= day) & (on < end) & (self.strategy[self.people.municipality[who]]
                                           != THRESHOLD)
        self.courses.advance_people(who[keep], on[keep].astype(np.float64))

    def _flush(self) -> None:
        """Apply the clients' pending segments, then their returns, to the life courses: the
        services ended since the last batch become a service segment and a return each."""
        ended = self._services_ended()
        rows, self._records = self._records, []
        parts = [tuple(np.array(c) for c in zip(*rows, strict=True))] if rows else []
        parts += [e[:6] for e in ended]
        if parts:
            person, state, start, end, service, paid = (
                np.concatenate([p[k] for p in parts]) for k in range(6))
            # a person's segments in time order: their first of this batch in one call, their
            # second in the next, ...
            order = np.argsort(person, kind="stable")
            first = np.r_[True, person[order][1:] != person[order][:-1]]
            run_start = np.maximum.accumulate(np.where(first, np.arange(person.size), 0))
            rank = np.empty(person.size, np.int64)
            rank[order] = np.arange(person.size) - run_start
            for r in range(int(rank.max()) + 1):
                at = np.flatnonzero(rank == r)
                self.courses.record(person[at], state[at], start[at], end[at],
                                    service=service[at], paid=paid[at])
        dims = self.courses.boost.shape[1]
        returns, self._returns = self._returns, []
        back: list[tuple[np.ndarray, ...]] = []
        if returns:
            person, day, state = (np.array(c) for c in zip(*returns, strict=True))
            back.append((person, day, state, np.ones((len(returns), dims)),
                         np.zeros(len(returns))))
        back += [e[6:] for e in ended]
        if back:
            person, day, state, boost, days = (np.concatenate([b[k] for b in back])
                                               for k in range(5))
            self.courses.rejoin(person, day, state, boost=boost, boost_days=days)

    def _services_ended(self) -> list[tuple[np.ndarray, ...]]:
        """The services ended since the last batch, in the order their pools freed the
        places, by service: their segments (person, state, start, end, service, paid) and
        returns (person, day, state, after-effect rows, its days): to what the client left
        for, to a direct outcome of the service, or to unemployment with its after-effect."""
        out: list[tuple[np.ndarray, ...]] = []
        dims = self.courses.boost.shape[1]
        for svc, rows, read in zip(self.services, self._ended, self._read, strict=True):
            parts = [*read, *([tuple(np.array(c) for c in zip(*rows, strict=True))]
                              if rows else [])]
            rows.clear()
            read.clear()
            if not parts:
                continue
            end, _, person, start, left_to = (np.concatenate([p[k] for p in parts])
                                              for k in range(5))
            n = person.size
            completed = left_to < 0
            done = int(completed.sum())
            self.stats[svc.name].completions += done
            states = np.append(svc.outcome_states, UNEMPLOYED)   # none: unemployed again
            hit = np.searchsorted(svc.outcome_cumulative, self.rng_outcome.random(done),
                                  side="right")
            state = left_to.copy()
            state[completed] = states[hit]
            boosted = completed.copy()
            boosted[completed] = hit == len(svc.outcome_cumulative)
            boost = np.ones((n, dims))
            boost[boosted] = svc.after
            out.append((person, np.full(n, SERVICE), start, end, np.full(n, svc.index),
                        np.full(n, svc.spec.benefit_paid), person, end, state, boost,
                        np.where(boosted, float(svc.spec.hazard_after.days), 0.0)))
        return out

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
        free = np.array([p.places - p.busy - len(p.queue) if p is not None else 0
                         for p in self.pools[svc.index]] + [0])
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
        time t, over their municipality's planning horizon."""
        courses = self.courses
        at = np.broadcast_to(np.asarray(t, np.float64), person.shape)
        return self._value(svc, person, counter, at, at - courses.spell_start[person],
                           courses.basic[person], courses.benefit[person])

    def _value(self, svc: CompiledService, person: IntArray, counter: FloatArray,
               t: FloatArray, duration: FloatArray, basic: FloatArray, benefit: np.ndarray
               ) -> tuple[FloatArray, FloatArray]:
        """`_referral_value` of people referred at times t, `duration` into their spell,
        paid `basic` on `benefit` then: under the rule in force at t, by planning horizon."""
        courses = self.courses
        rates = current_exit_rates(courses.risks.exits, duration,
                                   courses._multiplier(person, courses.risks.exits))
        horizon = self.planning[self.people.municipality[person]]
        phase = self.rule.phase_at(t) if self.rule.phases else np.zeros(person.size, np.int64)
        gross, cost = np.zeros(person.size), np.zeros(person.size)
        for p, h in itertools.product(distinct(phase).tolist(), distinct(horizon).tolist()):
            mine = (phase == p) & (horizon == h)
            if not mine.any():
                continue
            rule = self.rule.phases[p].rule if self.rule.phases else self.rule
            gross[mine], cost[mine] = referral_value(
                rule, svc, counter[mine], basic[mine], benefit[mine], rates[mine],
                self.s.benefits.paid_days_per_week, h)
        return gross, cost

    def _value_referrals(self) -> None:
        """The expected saving of the referrals whose strategy did not work it out, all at
        once at the end: what each was expected to save when it was made."""
        pending, self._unvalued = self._unvalued, []
        for svc in self.services:
            mine = [c for c in pending if c[0] == svc.index]
            if not mine:
                continue
            at, person, t, duration, counter, basic, benefit = (
                np.concatenate([c[k] for c in mine]) for k in range(1, 8))
            gross, cost = self._value(svc, person, counter, t, duration, basic, benefit)
            self.referrals.set_saving(at, gross - cost)

    # ---------------------------------------------------------------- places

    def _buy_places(self) -> Generator[simpy.Event, Any, None]:
        """Each year, every pool with an incentive-aware member buys a place for each distinct
        candidate of theirs it turned away whose referral would have saved more than it
        costs, and gives one up for each of their referrals that saved less: a place is worth
        what its marginal client saves against its cost. `response_strength` is the share of
        that change made in a year, within `places_range` times the starting places (at the
        scale of the caseload, when places follow it)."""
        low, high = self.s.policy.places_range
        year = YEAR_DAYS
        while self.env.now + year < self.horizon:
            yield self.env.timeout(year)
            now = self.env.now
            self._advance_pools(now)
            self._count_place_days(now)
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
                    self.places[svc.index][i] = int(np.clip(
                        np.rint(self.places[svc.index][i] + change),
                        np.ceil(low * start), np.floor(high * start)))
                    self._set_places(svc, pool, now)
                margin[:] = 0.0
            self.year += 1

    def _follow_caseload(self) -> Generator[simpy.Event, Any, None]:
        """Every FOLLOW_EVERY_DAYS, each pool's places become its places times its jobseekers
        now (unemployed, waiting and in a service, in the municipalities it serves) over
        those at the start."""
        while self.env.now + FOLLOW_EVERY_DAYS < self.horizon:
            yield self.env.timeout(FOLLOW_EVERY_DAYS)
            now = self.env.now
            self._advance_pools(now)
            self._count_place_days(now)
            seekers = self._jobseekers_by_pool(now)
            for svc in self.services:
                for i, pool in enumerate(self.pools[svc.index]):
                    if pool is not None and self._seekers_at_start[svc.index][i] > 0:
                        self.scale[svc.index][i] = float(
                            seekers[svc.index][i] / self._seekers_at_start[svc.index][i])
                        self._set_places(svc, pool, now)

    def _set_places(self, svc: CompiledService, pool: Pool, now: float) -> None:
        """A pool's places: those bought times the caseload's scale (at least one). New
        places go to the queue at once; with fewer, clients in the service keep theirs and
        nobody starts until they are under the new number."""
        pool.places = max(int(np.rint(self.places[svc.index][pool.index]
                                      * self.scale[svc.index][pool.index])), 1)
        self._serve_queue(svc, pool, now)

    def _jobseekers_by_pool(self, t: float) -> list[FloatArray]:
        """By service, each pool's jobseekers at t: unemployed, waiting or in a service, in
        the municipalities the pool serves. The life courses move on to t for everyone."""
        courses = self.courses
        courses.advance_to(t)
        seeking = ~courses.active | ((courses.state == UNEMPLOYED) & (courses.seg_start <= t))
        by_municipality = np.bincount(self.people.municipality[seeking],
                                      minlength=len(self.policies)).astype(np.float64)
        out = []
        for svc in self.services:
            inside = svc.pool_of >= 0
            out.append(np.asarray(np.bincount(svc.pool_of[inside],
                                              weights=by_municipality[inside],
                                              minlength=len(svc.pool_capacity)), np.float64))
        return out

    def _count_place_days(self, until: float) -> None:
        """Add the place-days since the last change of places to each service's total."""
        for svc in self.services:
            stats = self.stats[svc.name]
            places = sum(pool.places for pool in self.pools[svc.index] if pool is not None)
            stats.place_days += places * (until - self.places_since)
            stats.places_end = places
            # the place-days of each year from t = 0 (its mean places once it is over)
            t = self.places_since
            while t < until:
                year = int(t // YEAR_DAYS)
                upto = min(until, (year + 1) * YEAR_DAYS)
                while len(stats.place_days_by_year) <= year:
                    stats.place_days_by_year.append(0.0)
                    stats.days_by_year.append(0.0)
                stats.place_days_by_year[year] += places * (upto - t)
                stats.days_by_year[year] += upto - t
                t = upto
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
        if saving is None:     # worked out at the end, in one batch
            first = self.referrals.count
            courses = self.courses
            self._unvalued.append((svc.index, np.arange(first, first + who.size), who.copy(),
                                   at.copy(), at - courses.spell_start[who], counter.copy(),
                                   courses.basic[who], courses.benefit[who]))
            saving = np.full(who.size, np.nan)
        self.courses.take(who, at)
        stats.referrals += int(who.size)
        self.referrals.add(who, at, svc.index, muni, counter, saving)
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
        """Requests made at t, in referral order: a pool's free places go at once to its
        first requests while nobody queues for it; the others queue, and may leave the queue
        for a job."""
        if who.size == 0:
            return
        pools = self.pools[svc.index]
        present = distinct(pool_index).tolist()
        free = np.zeros(len(pools), np.int64)
        for i in present:
            pool = pools[i]
            assert pool is not None, "referred to a pool without places"
            if not pool.exact and t > self._read_until[svc.index]:
                self._make_exact(svc, pool)       # asked between whole days
            if pool.exact:
                self._advance(svc, pool, t)
            free[i] = 0 if pool.queue else max(pool.places - pool.busy, 0)
        order = np.argsort(pool_index, kind="stable")
        sorted_pool = pool_index[order]
        rank = np.empty(who.size, np.int64)
        rank[order] = np.arange(who.size) - np.searchsorted(sorted_pool, sorted_pool,
                                                            side="left")
        placed = rank < free[pool_index]
        self._start(who[placed], svc, pool_index[placed], t)
        queued = np.flatnonzero(~placed)
        if queued.size:
            for i in distinct(pool_index[queued]).tolist():
                if not pools[i].exact:
                    self._make_exact(svc, pools[i])
            leave_at, dest = self._exit_draws(who[queued], t, self.horizon, None, self.rng_wait)
            for person, i, at, where in zip(who[queued].tolist(), pool_index[queued].tolist(),
                                            leave_at.tolist(), dest.tolist(), strict=True):
                pools[i].queue.append((person, t, at, where))

    # ---------------------------------------------------------------- pools

    def _advance_pools(self, t: float, final: bool = False) -> None:
        """Every pool up to time t: the day buckets up to t's day (all of them if `final`),
        then each exact pool (see `_advance`)."""
        for svc in self.services:
            buckets = self._ends_on[svc.index]
            day = max(buckets, default=0) if final else math.floor(t)
            first = self._read_until[svc.index] + 1
            if day >= first:
                self._read_until[svc.index] = day
                chunks = [c for d in range(first, day + 1) for c in buckets.pop(d, ())]
                if chunks:
                    self._release(svc, np.concatenate(chunks, axis=1))
            pools = self.pools[svc.index]
            for i in np.flatnonzero(self.is_exact[svc.index]).tolist():
                pool = pools[i]
                assert pool is not None
                if pool.queue or (pool.ends and pool.ends[0][0] <= t):
                    self._advance(svc, pool, t)

    def _release(self, svc: CompiledService, ended: FloatArray) -> None:
        """Services of pools that are not exact ended (a chunk's rows): their places are
        free."""
        whole = ended[[1, 2, 4, 5]].astype(np.int64)      # sequence, person, left to, pool
        self._read[svc.index].append((ended[0], whole[0], whole[1], ended[3], whole[2]))
        pools = self.pools[svc.index]
        freed = np.bincount(whole[3], minlength=len(pools))
        for i in np.flatnonzero(freed).tolist():
            pools[i].busy -= int(freed[i])                  # type: ignore[union-attr]

    def _make_exact(self, svc: CompiledService, pool: Pool) -> None:
        """From now on the pool's ends are read one by one in time order: its clients' ends
        move from the day buckets to its heap."""
        pool.exact = True
        self.is_exact[svc.index][pool.index] = True
        for chunks in self._ends_on[svc.index].values():
            for k, chunk in enumerate(chunks):
                mine = chunk[5] == pool.index
                if not mine.any():
                    continue
                for e, q, p, st, out in chunk[:5, mine].T.tolist():
                    heapq.heappush(pool.ends, (e, int(q), int(p), st, int(out)))
                chunks[k] = chunk[:, ~mine]

    def _advance(self, svc: CompiledService, pool: Pool, t: float) -> None:
        """A pool's services that end by t, in time order: each frees a place, which goes at
        once to the first client in the queue who has not left it by then; a client who
        starts may end by t too. Then the clients who left the queue by t."""
        ends, ended = pool.ends, self._ended[svc.index]
        while ends and ends[0][0] <= t:
            entry = heapq.heappop(ends)
            pool.busy -= 1
            ended.append(entry)
            if pool.queue:
                self._serve_queue(svc, pool, entry[0])
        if pool.queue and min(w[2] for w in pool.queue) <= t:
            stay: collections.deque[tuple[int, float, float, int]] = collections.deque()
            for waiter in pool.queue:
                if waiter[2] <= t:
                    self._leave_queue(svc, waiter)
                else:
                    stay.append(waiter)
            pool.queue = stay

    def _serve_queue(self, svc: CompiledService, pool: Pool, t: float) -> None:
        """Free places at t go to the queue in order; who left it before t is gone."""
        queue = pool.queue
        while queue and pool.busy < pool.places:
            person, since, leave_at, dest = queue.popleft()
            if leave_at <= t:
                self._leave_queue(svc, (person, since, leave_at, dest))
                continue
            if t > since:
                self._records.append((person, WAITING, since, t, svc.index, True))
            self.stats[svc.name].wait_days_total += t - since
            self._start(np.array([person]), svc, None, t, pool=pool)

    def _leave_queue(self, svc: CompiledService, waiter: tuple[int, float, float, int]
                     ) -> None:
        """A client left the queue for a job, education or inactivity before a place came."""
        person, since, leave_at, dest = waiter
        self.stats[svc.name].left_queue += 1
        self._records.append((person, WAITING, since, leave_at, svc.index, True))
        self._returns.append((person, leave_at, int(DESTINATION_STATE[dest])))

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

    def _start(self, who: IntArray, svc: CompiledService, pool_index: IntArray | None,
               t1: float, pool: Pool | None = None) -> None:
        """Clients who got a place at t1 (in the pools of `pool_index`, or all in `pool`):
        the service's length and the exits it locks in are drawn for all of them at once;
        each holds the place until the service ends."""
        if who.size == 0:
            return
        n = int(who.size)
        stats = self.stats[svc.name]
        stats.starts += n
        planned_end = t1 + sample(svc.spec.duration_days, n, self.rng_duration)
        exit_at, dest = self._exit_draws(who, t1, np.minimum(planned_end, self.horizon),
                                         svc.during, self.rng_in_service)
        end = np.minimum(exit_at, planned_end)
        left_to = np.where(exit_at <= planned_end, DESTINATION_STATE[np.maximum(dest, 0)], -1)
        pools = self.pools[svc.index]
        at = np.full(n, pool.index if pool is not None else 0) if pool_index is None \
            else pool_index
        taken = np.bincount(at, minlength=len(pools))
        for i in np.flatnonzero(taken).tolist():
            pools[i].busy += int(taken[i])                  # type: ignore[union-attr]
        seq = np.arange(self._sequence, self._sequence + n)
        self._sequence += n
        past = end >= self.horizon           # still in the service at the horizon: censored
        self._past_horizon.extend((p, t1, svc.index) for p in who[past].tolist())
        exact = self.is_exact[svc.index][at] & ~past
        for e, q, p, i, out in zip(end[exact].tolist(), seq[exact].tolist(),
                                   who[exact].tolist(), at[exact].tolist(),
                                   left_to[exact].tolist(), strict=True):
            heapq.heappush(pools[i].ends, (e, q, p, t1, out))
        rest = ~exact & ~past
        if not rest.any():
            return
        # one float64 array of rows (every integer here is far below 2**53, so exact)
        chunk = np.stack([end[rest], seq[rest], who[rest], np.full(int(rest.sum()), t1),
                          left_to[rest], at[rest]])
        day = np.ceil(chunk[0]).astype(np.int64)
        now = day <= self._read_until[svc.index]     # ends on a day already read: at once
        if now.any():
            self._release(svc, chunk[:, now])
            chunk, day = chunk[:, ~now], day[~now]
        order = np.argsort(day, kind="stable")
        day = day[order]
        chunk = chunk[:, order]
        cuts = np.flatnonzero(np.diff(day)) + 1
        bounds = np.r_[0, cuts, day.size].tolist()
        buckets = self._ends_on[svc.index]
        for lo, hi in itertools.pairwise(bounds):
            buckets.setdefault(int(day[lo]), []).append(chunk[:, lo:hi])


def simulate(s: Scenario, replication: int = 0, seed: int | None = None,
             shards: int | None = None,
             then: Callable[[SimulationResult], SimulationResult] | None = None
             ) -> SimulationResult:
    """Simulate one replication of the scenario: a large one in shards of the country (see
    shards.py; `shards`: how many to aim at, by default as the scenario's size has it), at once
    where this process may start another, with the same results either way.

    `then` (a function pickle can send: a module's, or a partial of one) is applied to each
    shard's result where the shard ran, so that work on a shard's history alone (its pricing)
    is done on the shard's core too; what it puts in `parts_done` is kept, in part order. The
    joined history's parts (SpellTable.parts) are the shards'. With one shard, `then` is not
    applied: the whole history is the caller's to work on."""
    seed = s.seed if seed is None else seed
    apart = may_start_processes()
    with contextlib.ExitStack() as stack:
        # the other shards' processes start, and import the engine, while the population is
        # drawn (any that turn out not to be needed are stopped)
        ready = [stack.enter_context(started(__name__))
                 for _ in range(likely_shards(s, shards) - 1)] if apart else []
        people = population(s, seed, replication)
        parts = shards_of(s, people, shards)
        if len(parts) == 1:
            stack.close()
            return _finished(Engine(s, replication, seed, people))
        everyone, elapsed = len(people), people.elapsed_days
        jobs = _shard_jobs(s, replication, seed, people, parts, then)
        del people                  # while the shards run: their people only
        first = next(jobs)
        # the others' people go with them (the new process need not draw the population)
        results = (run_parallel(simulate_shard, jobs, first, ready) if apart
                   else [simulate_shard(*first), *(simulate_shard(*job) for job in jobs)])
        del first                   # its people, before the histories are joined
        stats = {name: ServiceStats.combined([r.services[name] for r in results])
                 for name in results[0].services}
        referrals = Referrals.combined([r.referrals for r in results])
        done = tuple(x for r in results for x in r.parts_done)
        segments = sum(r.segments for r in results)
        tables = [r.spells for r in results]
        del results
    return SimulationResult(join_tables(tables), stats, referrals, everyone,
                            float(s.horizon_days), elapsed, done, segments=segments)


def simulate_shard(s: Scenario, replication: int, seed: int, mine: list[People], shard: Shard,
                   then: Callable[[SimulationResult], SimulationResult] | None = None
                   ) -> SimulationResult:
    """One shard's replication, of its people (`mine` holds them, and is emptied: they go
    with the engine, before `then` works on the history): its history and referrals with the
    population's person ids, its elapsed days by person id in the whole population (zero
    for other shards' people, up to its last person), then `then` of it."""
    result = _finished(Engine(s, replication, seed, mine.pop(), shard))
    elapsed = np.zeros(int(shard.people[-1]) + 1 if shard.people.size else 0)
    elapsed[shard.people] = result.elapsed_days
    result = dataclasses.replace(result, spells=with_ids(result.spells, shard.people),
                                 referrals=result.referrals.with_ids(shard.people),
                                 elapsed_days=elapsed, part=shard.index)
    return result if then is None else then(result)


def _shard_jobs(s: Scenario, replication: int, seed: int, people: People, parts: list[Shard],
                then: Callable[[SimulationResult], SimulationResult] | None
                ) -> Iterator[tuple[Any, ...]]:
    """simulate_shard's arguments for each shard, made as they are asked for: the whole
    population is let go once the last is made."""
    for part in parts:
        yield s, replication, seed, [subset(people, part.people)], part, then


def _finished(engine: Engine) -> SimulationResult:
    result = engine.run()
    # The engine's processes refer to it (a cycle): it goes at the next full collection, which
    # comes now, before anything more is allocated beside the history, not at some later time;
    # and the heap it held goes back to the system (a national shard's 0.71 GiB fell to 0.49
    # GiB), before its history is priced beside it.
    del engine
    gc.collect()
    release_freed_memory()
    _service_time_stats(result)         # of a shard, then added (ServiceStats.combined)
    return result


def _service_time_stats(result: SimulationResult) -> None:
    """Queue and place-use integrals from the recorded waiting and service segments (taken
    out first: a few of the history's rows, not masks of all of them per service)."""
    spells = result.spells
    rows = np.flatnonzero((spells.state == WAITING) | (spells.state == SERVICE))
    service, state = spells.service[rows], spells.state[rows]
    duration = spells.end_day[rows] - spells.start_day[rows]
    for code, stats in enumerate(result.services.values()):
        mine = service == code
        stats.queue_days_total = float(duration[mine & (state == WAITING)].sum())
        stats.busy_place_days = float(duration[mine & (state == SERVICE)].sum())

