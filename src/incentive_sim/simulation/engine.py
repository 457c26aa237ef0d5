"""The population model: one replication of a scenario, simulated into a SpellTable.

The vectorised life courses (lifecourse.py) move everyone who is not interacting with anything;
a SimPy environment runs what does interact: municipal reviews that refer people to services,
service places shared by a municipality or a cooperation area, queues that people may leave
for a job, and the return of clients to open unemployment with a service's after-effect.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
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
from .lifecourse import DESTINATION_STATE, LifeCourses
from .policy import (
    CompiledService,
    MunicipalPolicy,
    current_exit_rates,
    eligible,
    expected_saving,
    policy_of,
)
from .population import People, inflow, initial_caseload, initial_employed, sample, stream

UNEMPLOYED = STATE_CODE["unemployed"]
WAITING = STATE_CODE["waiting"]
SERVICE = STATE_CODE["service"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class ServiceStats:
    """What one service did in one replication."""

    capacity: int = 0                  # places over all pools
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
        total = self.capacity * horizon_days
        return self.busy_place_days / total if total else 0.0


@dataclass
class Referrals:
    """One row per accepted referral: who, when, to which service, at what counter."""

    person: list[int] = field(default_factory=list)
    day: list[float] = field(default_factory=list)
    service: list[int] = field(default_factory=list)
    municipality: list[int] = field(default_factory=list)
    counter: list[float] = field(default_factory=list)   # in-force rule's paid-day counter

    def arrays(self) -> dict[str, np.ndarray]:
        return {"person": np.asarray(self.person, np.int64), "day": np.asarray(self.day),
                "service": np.asarray(self.service, np.int64),
                "municipality": np.asarray(self.municipality, np.int64),
                "counter": np.asarray(self.counter)}


@dataclass
class SimulationResult:
    spells: SpellTable                 # counter_at_start[in-force rule] recorded online
    services: dict[str, ServiceStats]
    referrals: Referrals
    people: int
    horizon_days: float
    elapsed_days: FloatArray   # by person id: spell duration already elapsed on arrival


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
        self.services = [CompiledService.compile(i, name, spec, s)
                         for i, (name, spec) in enumerate(s.services.items())]
        self.pools = [[simpy.Resource(self.env, capacity=max(c, 1)) if c > 0 else None
                       for c in svc.pool_capacity] for svc in self.services]
        self.stats = {svc.name: ServiceStats(capacity=sum(svc.pool_capacity))
                      for svc in self.services}
        self.referrals = Referrals()
        self.open: dict[int, tuple[int, float, int]] = {}   # person -> (state, start, service)
        # Clients' closed segments and returns, applied to the life courses in batches before
        # anything reads them (at each review and at the end): exact, and far cheaper than
        # one person at a time. Each row: (person, state, start, end, service, paid) and
        # (person, day, state, boost row or None, boost days).
        self._records: list[tuple[int, int, float, float, int, bool]] = []
        self._returns: list[tuple[int, float, int, FloatArray | None, float]] = []
        self.rng_take_up = stream(seed, replication, "policy.take_up")
        self.rng_wait = stream(seed, replication, "services.waiting_exits")
        self.rng_duration = stream(seed, replication, "services.durations")
        self.rng_in_service = stream(seed, replication, "services.exits")
        self.rng_outcome = stream(seed, replication, "services.outcomes")
        self.policies = {m: policy_of(s.policy, name)
                         for m, name in enumerate(s.municipalities)}

    def run(self) -> SimulationResult:
        if self.services:
            # One review process per review interval: municipalities reviewing on the same
            # days share one scan of the population (a national scenario has 292 of them).
            by_interval: dict[float, list[int]] = {}
            for m, pol in self.policies.items():
                if pol.strategy != "none":
                    by_interval.setdefault(pol.review_every_days, []).append(m)
            for interval, munis in by_interval.items():
                self.env.process(self._reviews(interval, munis))
            self.env.run(until=self.horizon)
        self._flush()
        for person, (state, start, service) in sorted(self.open.items()):
            paid = state == WAITING or self.services[service].spec.benefit_paid
            self.courses.record(np.array([person]), state, start, self.horizon,
                                service=service, paid=paid, censored=True)
        spells = self.courses.finish()
        return SimulationResult(spells, self.stats, self.referrals, len(self.people),
                                self.horizon, self.people.elapsed_days)

    # ---------------------------------------------------------------- reviews

    def _reviews(self, interval: float, munis: list[int]
                 ) -> Generator[simpy.Event, Any, None]:
        while True:
            t = self.env.now
            self._flush()
            self.courses.advance_to(t)
            courses = self.courses
            cand = np.flatnonzero(courses.active & (courses.state == UNEMPLOYED)
                                  & (courses.seg_start <= t) & ~courses.offered)
            where = self.people.municipality[cand]
            order = np.argsort(where, kind="stable")
            bounds = np.searchsorted(where[order], np.arange(len(self.policies) + 1))
            for m in munis:
                mine = cand[np.sort(order[bounds[m]:bounds[m + 1]])]
                if mine.size:
                    self._review(m, self.policies[m], t, mine)
            yield self.env.timeout(interval)

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

    def _review(self, m: int, pol: MunicipalPolicy, t: float, cand: IntArray) -> None:
        """Municipality m's review at t of its candidates `cand` (unemployed, not offered a
        service in this spell, in the life courses)."""
        courses = self.courses
        self._flush()
        counter = courses.counter_now(cand, t)
        taken = np.zeros(cand.size, bool)
        for svc in self.services:
            pool_index = svc.pool_of[m]
            if pool_index < 0:
                continue
            pool = self.pools[svc.index][pool_index]
            if pool is None:        # no places here (capacity 0): nobody can be referred
                continue
            ok = ~taken & eligible(svc, self.people.group[cand], counter)
            free = svc.pool_capacity[pool_index] - pool.count - len(pool.queue)
            chosen = self._choose(pol, svc, cand, counter, ok, free, t)
            if chosen.size == 0:
                continue
            taken[chosen] = True
            self._offer(cand[chosen], counter[chosen], svc, pool, m, pol.take_up, t)

    def _choose(self, pol: MunicipalPolicy, svc: CompiledService, cand: IntArray,
                counter: FloatArray, ok: np.ndarray, free: int, t: float) -> IntArray:
        """Positions in `cand` to refer to `svc`, in order."""
        courses = self.courses
        if pol.strategy == "threshold":
            return np.flatnonzero(ok & (counter >= pol.refer_at_paid_days))
        if free <= 0:
            return np.zeros(0, np.int64)
        pos = np.flatnonzero(ok)
        if pol.strategy == "fifo":
            order = np.argsort(courses.spell_start[cand[pos]], kind="stable")
            return pos[order[:free]]
        # incentive_aware
        who = cand[pos]
        multiplier = courses._multiplier(who, courses.risks.exits)
        rates = current_exit_rates(courses.risks.exits, t - courses.spell_start[who], multiplier)
        saving = expected_saving(self.rule.at(t), svc, counter[pos], courses.basic[who],
                                 courses.benefit[who], rates,
                                 self.s.benefits.paid_days_per_week)
        worth = saving > 0
        pos, saving = pos[worth], saving[worth]
        order = np.argsort(-saving, kind="stable")
        return pos[order[:free]]

    def _offer(self, who: IntArray, counter: FloatArray, svc: CompiledService,
               pool: simpy.Resource, m: int, take_up: float, t: float) -> None:
        accept = self.rng_take_up.random(who.size) < take_up
        self.courses.offered[who] = True
        stats = self.stats[svc.name]
        stats.declined += int((~accept).sum())
        self.refer(who[accept], counter[accept], svc, pool, m, t)

    def refer(self, who: IntArray, counter: FloatArray, svc: CompiledService,
              pool: simpy.Resource, m: int, t: float) -> None:
        """Send people (unemployed, in the life courses) to the queue of a service's pool."""
        if who.size == 0:
            return
        stats = self.stats[svc.name]
        self.courses.take(who, t)
        stats.referrals += int(who.size)
        self.referrals.person.extend(who.tolist())
        self.referrals.day.extend([t] * who.size)
        self.referrals.service.extend([svc.index] * who.size)
        self.referrals.municipality.extend([m] * who.size)
        self.referrals.counter.extend(counter.tolist())
        # Requests are made now, in referral order: those granted at once start the service
        # now; the others wait in the pool's queue, from which they may leave for a job.
        requests = [pool.request() for _ in range(who.size)]
        placed = np.fromiter((r.triggered for r in requests), bool, who.size)
        self._start(who[placed], svc, pool, [requests[i] for i in np.flatnonzero(placed)], t)
        queued = np.flatnonzero(~placed)
        if queued.size:
            exit_at, dest = self._exit_draws(who[queued], t, self.horizon, None, self.rng_wait)
            for i, leave_at, where in zip(queued.tolist(), exit_at.tolist(), dest.tolist(),
                                          strict=True):
                self._wait(int(who[i]), svc, pool, requests[i], t, leave_at, where)

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
            self._start(np.array([person]), svc, pool, [request], t1)

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

    def _start(self, who: IntArray, svc: CompiledService, pool: simpy.Resource,
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
        for person, request, e, out, where in zip(who.tolist(), requests, end.tolist(),
                                                  exited.tolist(), dest.tolist(), strict=True):
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
