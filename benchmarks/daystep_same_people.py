"""The scenario's own people moved one day at a time, exits only: a like-for-like check of the
event model's life courses (`benchmarks/national_run.py --like-for-like`).

The same people (same caseload, inflow, frailty and groups) as the scenario's replication 0:
every day, every unemployed person exits with probability 1 - exp(-h) where h is their hazard
at the day's duration, the destination drawn in proportion to the destination hazards; job loss
likewise for the employed if the scenario has it. No services, benefits or pricing. Against
it, the event model with services switched off (`policy.strategy: none`). The stock of
jobseekers at each year's end is a check that the two models agree (the daily model's
discretisation error is of the order of h/2 per day).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from incentive_sim.accounting.outcomes import JOBSEEKER_STATES
from incentive_sim.funding.spells import SpellTable
from incentive_sim.scenario import load_scenario
from incentive_sim.scenario.schema import Scenario
from incentive_sim.simulation.engine import population, simulate
from incentive_sim.simulation.hazards import CompetingRisks, Risks
from incentive_sim.simulation.population import People, stream


def stock_at(spells: SpellTable, days: list[float]) -> list[int]:
    seeker = JOBSEEKER_STATES[spells.state]
    return [int(np.count_nonzero(seeker & (spells.start_day <= t) & (spells.end_day > t)))
            for t in days]


def daily_hazards(risks: CompetingRisks, duration: np.ndarray, multiplier: np.ndarray
                  ) -> np.ndarray:
    """(n, destinations) hazards per day at the given spell durations."""
    band = np.searchsorted(risks.edges, duration, side="right") - 1
    return np.asarray(risks.rates[band] * multiplier)


def reference_day_by_day(s: Scenario, people: People, seed: int, replication: int,
                         days: list[float]) -> tuple[list[int], int]:
    """The plain model: returns the jobseeker stock at `days` and the person-days simulated."""
    rng = stream(seed, replication, "benchmark.reference")
    risks = Risks.of(s)
    exits_mult = people.frailty[:, None] * risks.exits.group_multiplier[people.group]
    loss_mult = people.frailty[:, None] * risks.job_loss.group_multiplier[people.group]
    has_job_loss = bool(risks.job_loss.rates.any())
    employment = risks.exits.destinations.index("employment")
    origin = people.arrival_day - people.elapsed_days      # start of the current spell
    arrival = np.floor(people.arrival_day).astype(np.int64)
    bounds = np.searchsorted(arrival, np.arange(s.horizon_days + 1), side="left")
    unemployed = np.zeros(0, np.int64)
    employed = np.zeros(0, np.int64)
    job_start = np.zeros(len(people))
    wanted = {int(d): i for i, d in enumerate(days)}
    stock = [0] * len(days)
    person_days = 0
    # former jobseekers in work at the start begin in their job, under way since -elapsed
    in_work = people.employed_at_start
    job_start[in_work] = -people.elapsed_days[in_work]
    for day in range(s.horizon_days):
        arriving = np.arange(bounds[day], bounds[day + 1])
        if day == 0:
            employed = arriving[in_work[arriving]]
            arriving = arriving[~in_work[arriving]]
        unemployed = np.concatenate([unemployed, arriving])
        if day in wanted:   # the stock at the start of the day: today's later arrivals not yet
            later = np.count_nonzero(people.arrival_day[arriving] > day)
            stock[wanted[day]] = int(unemployed.size - later)
        person_days += unemployed.size + employed.size
        h = daily_hazards(risks.exits, day - origin[unemployed], exits_mult[unemployed])
        total = h.sum(axis=1)
        leave = rng.random(unemployed.size) < -np.expm1(-total)
        who = unemployed[leave]
        u = rng.random(who.size) * total[leave]
        dest = (np.cumsum(h[leave], axis=1) < u[:, None]).sum(axis=1)
        unemployed = unemployed[~leave]
        if has_job_loss:
            found = who[dest == employment]
            job_start[found] = day + 1
            hl = daily_hazards(risks.job_loss, day - job_start[employed], loss_mult[employed])
            lost = rng.random(employed.size) < -np.expm1(-hl[:, 0])
            origin[employed[lost]] = day + 1
            unemployed = np.concatenate([unemployed, employed[lost]])
            employed = np.concatenate([employed[~lost], found])
    return stock, person_days


def like_for_like(path: Path, replication: int = 0) -> dict[str, Any]:
    """Times and year-end stocks of the life courses (services off) and the daily model."""
    s = load_scenario(path)
    seed = s.seed
    quiet = s.model_copy(update={"policy": s.policy.model_copy(update={
        "strategy": "none", "by_municipality": {}})})
    days = [float(d) for d in range(0, s.horizon_days, 365)]
    t0 = time.perf_counter()
    bare = simulate(quiet, replication, seed)
    t1 = time.perf_counter()
    people = population(s, seed, replication)
    t2 = time.perf_counter()
    stock, person_days = reference_day_by_day(s, people, seed, replication, days)
    t3 = time.perf_counter()
    return {"life_courses_s": t1 - t0, "day_by_day_s": t3 - t2, "days": days,
            "life_courses_stock": stock_at(bare.spells, days), "day_by_day_stock": stock,
            "person_days": person_days, "segments": len(bare.spells)}
