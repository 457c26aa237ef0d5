"""The population model: one replication of a scenario, simulated into a SpellTable.

The vectorised life courses (lifecourse.py) move everyone who is not interacting with anything;
a SimPy environment runs what does interact: municipal reviews that refer people to services,
service places shared by a municipality or a cooperation area, queues that people may leave
for a job, and the return of clients to open unemployment with a service's after-effect.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..funding.spells import SpellTable
from ..scenario.schema import Scenario
from .lifecourse import LifeCourses
from .population import People, inflow, initial_caseload

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


def population(s: Scenario, seed: int, replication: int) -> People:
    """The initial caseload followed by the inflow (person ids are row numbers)."""
    stock, arrivals = initial_caseload(s, seed, replication), inflow(s, seed, replication)
    return People(**{f.name: np.concatenate([getattr(stock, f.name), getattr(arrivals, f.name)])
                     for f in dataclasses.fields(People)})


def simulate(s: Scenario, replication: int = 0, seed: int | None = None) -> SimulationResult:
    """Simulate one replication of the scenario."""
    seed = s.seed if seed is None else seed
    people = population(s, seed, replication)
    courses = LifeCourses(s, people, seed, replication)
    spells = courses.finish()
    return SimulationResult(spells, {name: ServiceStats() for name in s.services}, Referrals(),
                            len(people), float(s.horizon_days))
