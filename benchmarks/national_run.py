"""A national replication: wall time, peak memory and simulated events per second, against a
plain day-by-day numpy model of the same exit dynamics run in the same process.

    python benchmarks/national_run.py [--scenario FILE] [--replication R] [--skip-reference]

Stages, each timed on its own:

1. `simulate`: one replication of the scenario (default `scenarios/finland_national_2025.yaml`,
   its seed): population, life courses, services, queues and reviews, the in-force counter
   kept online. "Events" are the segments the replication records: every change of state,
   service or benefit of every person, and the open segments at the horizon.
2. `price`: `Ledger.build`, the history priced under every rule the scenario reports, by
   month, municipality, payer and item (what `incentive-sim run` writes).
3. the same scenario with services switched off (`policy.strategy: none`), which leaves only
   the vectorised life courses: the like-for-like comparison with (4).
4. the reference: the same people (same caseload, inflow, frailty and groups) moved one day
   at a time, the way one might write it by hand in numpy: every day, every unemployed person
   exits with probability 1 - exp(-h) where h is their hazard at the day's duration, the
   destination drawn in proportion to the destination hazards; job loss likewise for the
   employed if the scenario has it. No services, benefits or pricing.

Peak memory is the process's peak resident set (ru_maxrss) after stages 1-2, before anything
else ran. The stock of jobseekers at each year's end is printed for (3) and (4) as a check that
the two models agree (the daily model's discretisation error is of the order of h/2 per day).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

from incentive_sim.accounting.ledger import Ledger
from incentive_sim.accounting.outcomes import JOBSEEKER_STATES
from incentive_sim.funding.spells import SpellTable
from incentive_sim.scenario import load_scenario
from incentive_sim.scenario.schema import Scenario
from incentive_sim.simulation.engine import population, simulate
from incentive_sim.simulation.hazards import CompetingRisks, Risks
from incentive_sim.simulation.population import People, stream

REPO = Path(__file__).resolve().parents[1]
GOAL_SECONDS, GOAL_GIB = 60.0, 3.0


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20   # kB on Linux


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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", type=Path,
                    default=REPO / "scenarios" / "finland_national_2025.yaml")
    ap.add_argument("--replication", type=int, default=0)
    ap.add_argument("--skip-reference", action="store_true",
                    help="only stages 1-2 (the replication and its pricing)")
    args = ap.parse_args(argv)

    s = load_scenario(args.scenario)
    seed, rep = s.seed, args.replication
    print(f"# national run benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numpy {np.__version__}; load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"scenario: {args.scenario.name} ({s.name}), seed {seed}, replication {rep}, "
          f"horizon {s.horizon_days} days, rules {', '.join(s.rule_names())}")

    t0 = time.perf_counter()
    result = simulate(s, rep, seed)
    t1 = time.perf_counter()
    ledger = Ledger.build(s, result.spells)
    t2 = time.perf_counter()
    peak = peak_gib()
    events = len(result.spells)
    sim_s, price_s = t1 - t0, t2 - t1
    total = sim_s + price_s
    starts = sum(st.starts for st in result.services.values())
    print(f"\npeople: {result.people:,}; events (segments): {events:,}; service starts: "
          f"{starts:,}")
    print(f"1 simulate:           {sim_s:7.1f} s  ({events / sim_s / 1e3:,.0f} k events/s)")
    print(f"2 price ({len(ledger.rules)} rules):    {price_s:7.1f} s  "
          f"({events * len(ledger.rules) / price_s / 1e6:.2f} M segment-rules/s)")
    print(f"  replication total:  {total:7.1f} s  ({events / total / 1e3:,.0f} k events/s); "
          f"peak memory {peak:.2f} GiB")
    print(f"  goal <= {GOAL_SECONDS:.0f} s and <= {GOAL_GIB:.0f} GiB: "
          f"{'met' if total <= GOAL_SECONDS and peak <= GOAL_GIB else 'NOT met'}")
    yrs = s.horizon_days / 365.25
    print("  bn a year:                 municipal benefits, services, transfers; state; fund")
    for rule in ledger.rules:
        t = ledger.totals(rule)
        m = ledger.by_item(rule)["municipality"]
        print(f"  {rule:26s} {m['benefit'] / yrs / 1e9:6.3f}  {m['service'] / yrs / 1e9:6.3f}  "
              f"{m['transfer'] / yrs / 1e9:6.3f};  {t['state'] / yrs / 1e9:6.3f};  "
              f"{t['fund'] / yrs / 1e9:6.3f}")
    if args.skip_reference:
        return
    del result, ledger

    quiet = s.model_copy(update={"policy": s.policy.model_copy(update={
        "strategy": "none", "by_municipality": {}})})
    days = [float(d) for d in range(0, s.horizon_days, 365)]
    t3 = time.perf_counter()
    bare = simulate(quiet, rep, seed)
    t4 = time.perf_counter()
    people = population(s, seed, rep)
    t5 = time.perf_counter()
    ref_stock, person_days = reference_day_by_day(s, people, seed, rep, days)
    t6 = time.perf_counter()
    bare_s, ref_s = t4 - t3, t6 - t5
    print(f"3 life courses only:  {bare_s:7.1f} s  ({len(bare.spells) / bare_s / 1e3:,.0f} k "
          f"events/s; services off)")
    print(f"4 day-by-day numpy:   {ref_s:7.1f} s  ({person_days / ref_s / 1e6:.1f} M "
          f"person-days/s; {person_days:,} person-days; exits only)")
    print(f"  reference / life courses only: {ref_s / bare_s:.2f}x "
          f"(above 1: the event model is faster)")
    print(f"  reference / full replication (simulate + price): {ref_s / total:.2f}x")
    print("  jobseekers at day " + ", ".join(f"{d:.0f}" for d in days))
    print("    life courses: " + ", ".join(f"{x:,}" for x in stock_at(bare.spells, days)))
    print("    day-by-day:   " + ", ".join(f"{x:,}" for x in ref_stock))


if __name__ == "__main__":
    main()
