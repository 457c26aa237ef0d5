"""Pricing throughput: spell segments per second for counters and for pricing, per shipped rule.

Builds a synthetic national-scale SpellTable (default 5 million segments, about 2 million
people with several segments each, a mix of states and benefits), then measures separately
(a) the counters of each rule (`counters_for_rule`) and (b) pricing with those counters given
(`price(spells, rule, counter_at_start=c)`), best of `--repeats`, and the peak resident memory.

A SpellTable caches its person order (a stable sort of the rows by person, checked to be in
time order within each person) on first use, and every rule's counters (and bonuses) reuse it.
Counters are therefore timed both "cold" (a fresh copy of the table each repeat, the sort
included) and "warm" (order cached, as for the second and later rule priced on one history);
the sort alone is reported too.

    python benchmarks/pricing_throughput.py [--segments N] [--repeats R] [--seed S]
        [--rows person|closing] [--profile]

`--rows`: the table's row order. `person` (the default): as the engine writes a history
(since 4dbc22f), by person, each person's rows in time order; the cold person order then only
checks that (and a joined national history, two such runs, is merged). `closing`: as segments
close (by end day), the order histories had before; the cold call then sorts every row.

The goal (issue 15): counters plus pricing of a fresh table, at least 5 million segments a
second per rule (the "cold+pricing" column).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import platform
import pstats
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from incentive_sim.funding.counters import counters_for_rule
from incentive_sim.funding.pricing import ServiceCosts, price
from incentive_sim.funding.rules import CompiledRule
from incentive_sim.funding.spells import SpellTable
from incentive_sim.scenario.rules import preset, preset_names
from incentive_sim.scenario.schema import FundingRule
from incentive_sim.scenario.vocabulary import BENEFIT_CODE, STATE_CODE, STATES

GOAL = 5_000_000  # segments per second per rule, counters (person sort included) + pricing

# Share of segments in each state, and mean calendar days of a segment there.
STATE_MIX = {
    "unemployed": (0.40, 180.0), "waiting": (0.07, 30.0), "service": (0.10, 90.0),
    "employed": (0.24, 300.0), "subsidised_employment": (0.04, 180.0),
    "education": (0.07, 240.0), "inactive": (0.06, 200.0), "exit": (0.02, 0.0),
}
BENEFIT_MIX = {"labour_market_subsidy": 0.50, "basic_allowance": 0.15, "earnings_related": 0.35}
N_MUNICIPALITIES = 293
SERVICES = ("coaching", "training", "rehabilitative_work")


def synthetic_spells(n_segments: int, seed: int, rows: str = "person") -> SpellTable:
    """About n/2.5 people, 1 + Poisson(1.5) consecutive segments each (cut to exactly n rows);
    rows by person, each person's in time order, as the engine writes them (`rows`
    "person"), or in the order segments close, by end day ("closing")."""
    rng = np.random.default_rng(seed)
    per_person = 1 + rng.poisson(1.5, size=int(n_segments / 2.5) + 1000)
    per_person = per_person[np.cumsum(per_person) <= n_segments]
    if per_person.sum() < n_segments:
        per_person = np.append(per_person, n_segments - per_person.sum())
    n_people = per_person.size
    person = np.repeat(np.arange(n_people, dtype=np.int64), per_person)
    first_row = np.cumsum(per_person) - per_person

    names = list(STATE_MIX)
    p_state = np.array([STATE_MIX[s][0] for s in names])
    state = rng.choice([STATES.index(s) for s in names], size=n_segments, p=p_state / p_state.sum())
    mean_days = np.array([STATE_MIX[s][1] for s in STATES])
    duration = np.floor(rng.exponential(1.0, n_segments) * mean_days[state]) + 1.0
    duration[state == STATE_CODE["exit"]] = 0.0
    # People in the initial stock start on day 0 with accrued paid days; inflow arrives later.
    in_stock = rng.random(n_people) < 0.3
    entry = np.where(in_stock, 0.0, np.floor(rng.uniform(0, 1461, n_people)))
    ends = np.cumsum(duration)
    person_offset = (ends - duration)[first_row]
    end_day = entry[person] + ends - person_offset[person]
    start_day = end_day - duration
    prior = np.where(in_stock, np.floor(rng.exponential(500.0, n_people)), 0.0)[person]

    benefit_of_person = rng.choice([BENEFIT_CODE[b] for b in BENEFIT_MIX], size=n_people,
                                   p=list(BENEFIT_MIX.values()))
    paid_state = state <= STATE_CODE["service"]
    benefit = np.where(paid_state, benefit_of_person[person], -1).astype(np.int8)
    in_service = state == STATE_CODE["service"]
    benefit_paid = paid_state & ~(in_service & (rng.random(n_segments) < 0.1))
    er = benefit == BENEFIT_CODE["earnings_related"]
    daily = np.where(er, np.maximum(rng.normal(68.0, 18.0, n_segments), 37.21), 37.21)
    daily[benefit < 0] = 0.0
    basic = np.where(er, 37.21, daily)
    last = np.zeros(n_segments, bool)
    last[first_row + per_person - 1] = True
    censored = last & (rng.random(n_segments) < 0.6)

    order = (np.arange(n_segments) if rows == "person"        # the engine's order
             else np.argsort(end_day, kind="stable"))        # as segments close
    columns = {
        "person_id": person, "municipality": rng.integers(0, N_MUNICIPALITIES, n_people)[person],
        "group": rng.integers(0, 3, n_people)[person], "state": state.astype(np.int8),
        "service": np.where(in_service, rng.integers(0, len(SERVICES), n_segments), -1),
        "benefit": benefit, "benefit_paid": benefit_paid, "daily_amount": daily,
        "basic_part": basic, "start_day": start_day, "end_day": end_day, "censored": censored,
        "prior_paid_days": prior,
    }
    return SpellTable.from_columns(
        {k: v[order] for k, v in columns.items()},
        municipalities=tuple(f"m{i:03d}" for i in range(N_MUNICIPALITIES)),
        groups=("youth", "immigrant", "other"), services=SERVICES)


def rules_to_measure() -> dict[str, CompiledRule]:
    # the simple presets (a timeline such as `finland` is made of them)
    rules = {name: CompiledRule.compile(name, preset(name)) for name in preset_names()
             if not preset(name).timeline}
    # One custom rule with a progress bonus, since bonuses add a sort of the whole table.
    doc = preset("fi_2025_graduated").model_dump(by_alias=True)
    doc["bonuses"] = [{"on": "employment", "lasting_days": 90, "amount": 1500,
                       "from": "state", "to": "municipality"}]
    rules["fi_2025_graduated+bonus"] = CompiledRule.compile(
        "fi_2025_graduated+bonus", FundingRule.model_validate(doc))
    return rules


def best_of(repeats: int, run: Callable[..., Any],
            setup: Callable[[], Any] | None = None) -> tuple[float, Any]:
    """The shortest of `repeats` timings of run(setup()) (setup untimed), and the last result."""
    best, result = np.inf, None
    for _ in range(repeats):
        arg = setup() if setup is not None else None
        t0 = time.perf_counter()
        result = run() if setup is None else run(arg)
        best = min(best, time.perf_counter() - t0)
    return best, result


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def profile(label: str, run: Callable[[], Any], lines: int = 16) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    print(f"\n--- profile: {label} (by own time) ---")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--rows", choices=("person", "closing"), default="person",
                        help="row order of the table: as the engine writes it (by person) or "
                             "as segments close (by end day)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile counters and pricing of fi_2025_graduated once")
    args = parser.parse_args(argv)

    print(f"date: {dt.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or '?'}"
          f", Python {platform.python_version()}, numpy {np.__version__}")
    t0 = time.perf_counter()
    spells = synthetic_spells(args.segments, args.seed, args.rows)
    n = len(spells)
    people = np.unique(spells.person_id).size
    per_person = np.bincount(np.unique(spells.person_id, return_inverse=True)[1])
    print(f"table: {n:,} segments, {people:,} people (max {per_person.max()} segments each), "
          f"rows {'by person' if args.rows == 'person' else 'as segments close'}, "
          f"built in {time.perf_counter() - t0:.1f} s; peak RSS {peak_mib():,.0f} MiB")
    services = ServiceCosts(np.array([15.0, 40.0, 20.0]), np.array([False, True, False]),
                            np.array([0.0, 0.0, 12.0]))

    t_order, _ = best_of(args.repeats, lambda t: t.person_order(), setup=lambda: replace(spells))
    print(f"person order (sort of all rows by person, once per table): {t_order:.2f} s")

    rows = []
    for name, rule in rules_to_measure().items():
        t_cold, _ = best_of(args.repeats, lambda t, r=rule: counters_for_rule(t, r),
                            setup=lambda: replace(spells))
        spells.person_order()
        t_warm, counters = best_of(args.repeats, lambda r=rule: counters_for_rule(spells, r))
        t_price, _ = best_of(args.repeats, lambda r=rule, c=counters: price(
            spells, r, services, counter_at_start=c))
        rows.append((name, t_cold, t_warm, t_price))
        print(f"  measured {name}: counters {t_cold:.2f} s cold, {t_warm:.2f} s warm; "
              f"pricing {t_price:.2f} s", flush=True)

    print(f"\nsegments: {n:,}; best of {args.repeats}; peak RSS {peak_mib():,.0f} MiB")
    print("rates in million segments per second (seconds in brackets); cold = person order "
          "sorted in the call, warm = cached\n")
    header = (f"{'rule':<24} {'counters cold':>17} {'counters warm':>17} {'pricing':>17} "
              f"{'cold+pricing':>17} {'warm+pricing':>17} {'cold+pricing >= 5M/s':>21}")
    print(header)
    print("-" * len(header))

    def cell(seconds: float) -> str:
        return f"{n / seconds / 1e6:6.2f} ({seconds:6.3f})"

    for name, t_cold, t_warm, t_price in rows:
        print(f"{name:<24} {cell(t_cold):>17} {cell(t_warm):>17} {cell(t_price):>17} "
              f"{cell(t_cold + t_price):>17} {cell(t_warm + t_price):>17} "
              f"{'yes' if n / (t_cold + t_price) >= GOAL else 'no':>21}")

    if args.profile:
        rule = rules_to_measure()["fi_2025_graduated"]
        cold = replace(spells)
        profile("counters_for_rule(fi_2025_graduated), cold table",
                lambda: counters_for_rule(cold, rule))
        counters = counters_for_rule(spells, rule)
        profile("price(fi_2025_graduated, counters given)",
                lambda: price(spells, rule, services, counter_at_start=counters))
        bonus = rules_to_measure()["fi_2025_graduated+bonus"]
        profile("price(fi_2025_graduated+bonus, counters given, order cached)",
                lambda: price(spells, bonus, services, counter_at_start=counters))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
