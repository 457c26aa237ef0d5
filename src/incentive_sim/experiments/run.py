"""`run`: simulate a scenario's replications, price each under every rule, and write the
DESIGN outputs (summary.json, costs_monthly.csv, stock_monthly.csv, indicators_monthly.csv,
transitions.csv, scenario.resolved.yaml, explain/ (replication 0 by person, for `explain`)
and, on request, spells.csv.gz).

Outputs are written into a private staging folder beside the output folder, which replaces the
output folder as a whole only once the whole run has succeeded (see "publishing" below), so a
failed or interrupted run leaves no half-written file behind and the previous output intact.
Same scenario and seed give byte-identical files, apart from the wall time in `summary.json`'s
provenance.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import glob
import hashlib
import importlib.resources
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn, TypeVar

try:
    import fcntl
except ImportError:   # pragma: no cover - not on Linux
    fcntl = None  # type: ignore[assignment]

import numpy as np
import numpy.typing as npt
import yaml

from .. import __version__
from ..accounting.behaviour import Behaviour
from ..accounting.kela import Bill, band_labels
from ..accounting.ledger import Booking, Ledger, Plan, added_in_order, year_starts
from ..accounting.money import YEARLY_COLUMNS as YEARLY_COLUMNS  # the file's contract columns
from ..accounting.money import measures_dict, yearly_values
from ..accounting.outcomes import (
    COUNTER_BIN_EDGES,
    DURATION_CLASSES,
    Runs,
    added_sums,
    counter_histogram,
    jobseekers_and_in_service,
    monthly_indicators,
    outcome_sums,
    outcomes_of,
    services_by_month,
    stock_by_month,
    transition_counts,
)
from ..funding.counters import counter_in_force, counters_for_rule
from ..funding.money import cents
from ..funding.spells import SpellTable, parts_of
from ..memory import libc, release_freed_memory
from ..report.columns_csv import (
    CentsColumn,
    Column,
    CountColumn,
    FixedColumn,
    NameColumn,
    csv_chunks,
    format_count,
)
from ..report.html import run_report
from ..report.plots import load_matplotlib, write_behaviour_plots, write_run_plots
from ..report.tables import csv_bytes as _csv
from ..report.tables import yearly_csv
from ..scenario import InputError, Problem
from ..scenario.schema import Scenario
from ..scenario.vocabulary import BENEFITS, ITEMS, PAYERS, STATES
from ..simulation.engine import SimulationResult, simulate
from .executors import run_aside, run_jobs
from .explain_store import EXPLAIN, part_folder, write_explain_store, write_parts_index
from .spells_csv import write_spells_csv, write_spells_csv_of_parts, write_spells_part

FloatArray = npt.NDArray[np.float64]

SUMMARY = "summary.json"
COSTS = "costs_monthly.csv"
MUNICIPAL_SHARE = "municipal_share_monthly.csv"
MUNICIPALITIES_YEARLY = "municipalities_yearly.csv"
STOCK = "stock_monthly.csv"
INDICATORS_FILE = "indicators_monthly.csv"
REFERRALS = "referrals.csv"
PLOTS = "plots"
REPORT = "report.html"
TRANSITIONS = "transitions.csv"
SPELLS = "spells.csv.gz"
T = TypeVar("T")
RESOLVED = "scenario.resolved.yaml"
SERVICE_STATS = ("starts", "completions", "referrals", "declined", "left_queue")


def number(x: float, digits: int = 4) -> float:
    return round(float(x), digits) + 0.0


# ---------------------------------------------------------------- one replication

@dataclass(frozen=True, eq=False)
class Replication:
    """What the outputs need from one simulated and priced replication: small arrays and
    numbers (never the spell table), so a worker process can send it back cheaply."""

    groups: tuple[str, ...]
    services_names: tuple[str, ...]
    amounts: FloatArray                        # Ledger.amounts
    stock: FloatArray
    transitions: FloatArray
    totals: dict[str, dict[str, float]]        # rule -> payer (and gross) -> total
    transfers: dict[str, FloatArray]
    services: dict[str, dict[str, float]]      # service -> statistic -> value
    outcomes: dict[str, float]
    referral_counters: FloatArray
    referrals_by_service: FloatArray
    indicators: FloatArray                     # monthly_indicators
    services_by_month: FloatArray              # services_by_month
    paid_days_by_counter: dict[str, FloatArray]
    bill: FloatArray                           # Bill: recipients, paid days, euros stacked
    yearly: FloatArray                         # money.yearly_values (rule, year, muni, measure)
    behaviour: Behaviour                       # what the municipalities did
    # files the job wrote for the output folder but could not put there itself (a worker on
    # another machine): {path relative to the staging folder: content}
    files: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def of(cls, scenario: Scenario, plan: Plan, result: SimulationResult,
           ledger: Ledger, history: HistoryDigest | None = None) -> Replication:
        h = HistoryDigest.of(plan, result) if history is None else history
        assert ledger.yearly is not None, "a ledger built from a history has its yearly view"
        return cls(
            result.spells.groups, result.spells.services, ledger.amounts, h.stock,
            h.transitions, {rule: ledger.totals(rule) for rule in ledger.rules},
            dict(ledger.transfers), h.services, h.outcomes, h.referral_counters,
            h.referrals_by_service, h.indicators, h.services_by_month,
            dict(ledger.paid_days_by_counter), h.bill,
            yearly_values(ledger.yearly.amounts, ledger.yearly.stacked_people()),
            h.behaviour)


@dataclass(frozen=True, eq=False)
class DigestPart:
    """What HistoryDigest reads from a part of a history (whole people: a national
    simulation's shard), as amounts that add up over the parts: counts, and the sums that
    outcomes' means are made of."""

    stock: FloatArray
    transitions: FloatArray
    services_by_month: FloatArray
    indicators: FloatArray
    outcomes: dict[str, float]                 # outcome_sums

    @classmethod
    def of(cls, plan: Plan, spells: SpellTable, horizon_days: float,
           elapsed_days: FloatArray) -> DigestPart:
        runs = Runs.of(spells, elapsed_days)             # read twice, made once
        return cls(stock_by_month(spells, plan.month_starts), transition_counts(spells),
                   services_by_month(spells, plan.month_starts),
                   monthly_indicators(spells, plan.month_starts, elapsed_days, runs),
                   outcome_sums(spells, horizon_days, elapsed_days, runs))

    @classmethod
    def added(cls, parts: Sequence[DigestPart]) -> DigestPart:
        """The parts added, in order (their counts: exact)."""
        if len(parts) == 1:
            return parts[0]
        counts = {name: added_in_order([getattr(p, name) for p in parts])
                  for name in ("stock", "transitions", "services_by_month", "indicators")}
        return cls(**counts, outcomes=added_sums([p.outcomes for p in parts]))


@dataclass(frozen=True)
class HistoryDigest:
    """What a replication reports that does not depend on pricing: the stock, transitions,
    services, outcomes, referrals, indicators and Kela's bill."""

    stock: FloatArray
    transitions: FloatArray
    services: dict[str, dict[str, float]]
    outcomes: dict[str, float]
    referral_counters: FloatArray
    referrals_by_service: FloatArray
    indicators: FloatArray
    services_by_month: FloatArray
    bill: FloatArray
    behaviour: Behaviour

    @classmethod
    def of(cls, plan: Plan, result: SimulationResult, bill: FloatArray | None = None,
           parts: Sequence[DigestPart] | None = None) -> HistoryDigest:
        """`bill`: Bill.stacked of the history, and `parts`: DigestPart of each of its parts,
        drawn up already (by its shards); else read from the history, part by part (so a
        history gives the same bits whether its shards or the caller drew it up)."""
        spells = result.spells
        horizon = result.horizon_days
        services: dict[str, dict[str, float]] = {}
        for name, stats in result.services.items():
            row = {key: float(getattr(stats, key)) for key in SERVICE_STATS}
            row["mean_wait_days"] = stats.mean_wait_days()
            row["mean_queue_length"] = stats.mean_queue_length(horizon)
            row["utilisation"] = stats.utilisation(horizon)
            services[name] = row
        referrals = result.referrals.arrays()
        n_services = len(spells.services)
        if parts is None:
            parts = [DigestPart.of(plan, part, horizon, result.elapsed_days)
                     for _, part in parts_of(spells)]
        digest = DigestPart.added(parts)
        return cls(
            digest.stock, digest.transitions, services, outcomes_of(digest.outcomes),
            referrals["counter"],
            np.bincount(referrals["service"], minlength=n_services)[:n_services].astype(
                np.float64),
            digest.indicators, digest.services_by_month,
            Bill.stacked(spells, plan) if bill is None else bill,
            Behaviour.of(referrals, digest.stock, digest.services_by_month, result.services,
                         len(plan.municipalities), horizon))


def replicate(scenario: Scenario, seed: int, replication: int,
              spells_path: Path | None = None, transfers: bool = True,
              explain_dir: Path | None = None) -> Replication:
    """Simulate and price one replication (a job for any executor); with `spells_path`, also
    write its segments there, and with `explain_dir` what `explain` reads (explain_store).
    `transfers`: whether each rule gets its transfers. Both are paths in a run's staging
    folder: a job on a machine that does not see that folder (a remote Dask worker) writes
    them into a folder of its own and sends them back in `Replication.files`."""
    with _job_outputs(spells_path, explain_dir) as (here, files):
        rep = _replicate(scenario, seed, replication, here[0], transfers, here[1])
    return replace(rep, files=files) if files else rep


def _replicate(scenario: Scenario, seed: int, replication: int, spells_path: Path | None,
               transfers: bool, explain_dir: Path | None) -> Replication:
    plan = Plan.of(scenario, transfers=transfers)
    # A national simulation's shards price their histories where they ran, draw up their
    # digests and write their parts of explain's store (price_part); only with --spells is
    # the history joined here.
    # (--spells: its columns, beside the file, until the file is written from them)
    parts_dir = None if spells_path is None else spells_path.with_name(spells_path.name
                                                                       + ".parts")
    try:
        result = simulate(scenario, replication, seed, then=functools.partial(
            price_part, plan, True, digest=True, explain_dir=explain_dir,
            spells_dir=parts_dir, keep_history=False))
        release_freed_memory()
        priced: list[PricedPart] = list(result.parts_done)
        if not priced:
            ledger, history = _price_whole(scenario, plan, result, explain_dir)
            if spells_path is not None:
                write_spells_csv(spells_path, result.spells, ledger.counter_in_force)
            return Replication.of(scenario, plan, result, ledger, history)
        if explain_dir is not None:
            write_parts_index(explain_dir, len(priced))
        bill = Bill.added([p.bill for p in priced if p.bill is not None]).stack()
        ledger = Ledger.build(scenario, result.spells, plan,
                              bookings=[p.booking for p in priced])
        history = HistoryDigest.of(plan, result, bill,
                                   [p.digest for p in priced if p.digest is not None])
        if spells_path is not None and parts_dir is not None:
            write_spells_csv_of_parts(spells_path, [part_folder(parts_dir, k)
                                                    for k in range(len(priced))],
                                      result.spells)
        return Replication.of(scenario, plan, result, ledger, history)
    finally:
        if parts_dir is not None:
            shutil.rmtree(parts_dir, ignore_errors=True)


def _price_whole(scenario: Scenario, plan: Plan, result: SimulationResult,
                 explain_dir: Path | None) -> tuple[Ledger, HistoryDigest]:
    """The ledger and digest of a history simulated in one part, and explain's store."""
    spells = result.spells
    # The digest of the history (Kela's bill above all) and the ledger read the same history
    # and write nothing shared: the digest is drawn up in a second thread while the ledger
    # prices (numpy releases the interpreter in the sorting, counting and arithmetic that
    # dominate both), with identical results; the second thread then writes explain's store.
    # The counters of rules the engine did not keep are shared out between the two threads
    # too, the second's first, so the ledger has them soon.
    spells.person_order()            # cached on the table, with the person starts, before
                                     # both threads read them
    simple = plan.simple_rules()
    missing = [name for name in simple if name not in spells.counter_at_start]
    with ThreadPoolExecutor(max_workers=1) as pool:
        later = {name: pool.submit(released, counters_for_rule, spells, simple[name])
                 for name in missing[1::2]}
        digest = pool.submit(released, HistoryDigest.of, plan, result)
        given = {name: released(counters_for_rule, spells, simple[name])
                 for name in missing[0::2]}
        given.update({name: future.result() for name, future in later.items()})
        stored = None
        if explain_dir is not None:
            # what explain reads: the counters as priced (kept online by the engine, or
            # computed above)
            for name, counter in given.items():
                spells = spells.with_counter(name, counter)
            stored = pool.submit(released, _write_store, explain_dir, plan, spells,
                                 result.horizon_days)
        ledger = Ledger.build(scenario, spells, plan, counters_given=given)
        history = digest.result()
        if stored is not None:
            stored.result()
    return ledger, history


def _write_store(folder: Path, plan: Plan, spells: SpellTable, horizon_days: float) -> None:
    """explain's store of a history whose table holds the counters of the plan's simple
    rules."""
    write_explain_store(folder, spells, {name: spells.counter_at_start[name]
                                         for name in plan.explained_rules()},
                        plan.simple_rules(), horizon_days)


@dataclass(frozen=True, eq=False)
class PricedPart:
    """A shard's history priced where it was simulated: its amounts before transfers and, if
    asked for, its Kela bill and its digest."""

    booking: Booking
    bill: Bill | None
    digest: DigestPart | None = None


def price_part(plan: Plan, with_bill: bool, result: SimulationResult, *, digest: bool = False,
               explain_dir: Path | None = None, spells_dir: Path | None = None,
               keep_history: bool = True) -> SimulationResult:
    """simulate's `then` for a shard: the counters of the plan's rules that the engine did not
    keep (added to the shard's history, so the joined history has them), the shard's ledger
    booking and bill. What Ledger.build and Bill.of of the joined history work out part by
    part, the same bits. With `digest`, the shard's DigestPart too (as HistoryDigest.of draws
    it up part by part); with `explain_dir`, its part of explain's store is written there
    (explain_store.part_folder), and with `spells_dir` the columns of its part of
    spells.csv.gz (spells_csv.write_spells_part, into part_folder(spells_dir, ...)); without
    `keep_history`, the history is not sent back (an empty table with its names)."""
    spells = result.spells
    for name, rule in plan.simple_rules().items():
        if name not in spells.counter_at_start:
            spells = spells.with_counter(name, released(counters_for_rule, spells, rule))
    booking = released(Booking.of, plan.scenario, spells, plan)
    bill = released(Bill.of, spells, plan) if with_bill else None
    part = (released(DigestPart.of, plan, spells, result.horizon_days, result.elapsed_days)
            if digest else None)
    if explain_dir is not None:
        released(_write_store, part_folder(explain_dir, result.part), plan, spells,
                 result.horizon_days)
    if spells_dir is not None:
        released(write_spells_part, part_folder(spells_dir, result.part), spells,
                 counter_in_force(spells, plan.counter_shown, spells.counter_at_start))
    if not keep_history:
        spells = spells.take(slice(0, 0))
    return replace(result, spells=spells, elapsed_days=np.zeros(0),
                   parts_done=(PricedPart(booking, bill, part),))


def released(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)`, then the heap it freed handed back. Each thread allocates from an arena of
    its own, which keeps what it frees: a national replication's pricing and digest so held
    their peaks one on top of the other (2.5 GiB through the ledger, 2.9 at explain's store)."""
    try:
        return fn(*args)
    finally:
        release_freed_memory()


def sees_folder(folder: Path) -> bool:
    """Whether this process sees `folder` (a staging folder, whose name is random, so that a
    folder of that path on another machine is no false positive)."""
    return folder.is_dir()


@contextlib.contextmanager
def _job_outputs(*targets: Path | None) -> Iterator[tuple[list[Path | None],
                                                          dict[str, bytes]]]:
    """Where a job writes the files and folders `targets` (paths in one staging folder): there,
    when this process sees that folder (the run's own process, a local worker, a Dask worker
    on the same filesystem); else in a temporary folder of its own, whose files are handed
    back, once the job is done, as {path relative to the staging folder: content}."""
    given = [t for t in targets if t is not None]
    if not given or sees_folder(given[0].parent):
        yield list(targets), {}
        return
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="incentive-sim-job-") as own:
        yield [Path(own) / t.name if t is not None else None for t in targets], files
        for path in sorted(Path(own).rglob("*")):
            if path.is_file():
                files[path.relative_to(own).as_posix()] = path.read_bytes()


def write_job_files(staging: Path, files: Mapping[str, bytes]) -> None:
    """Put the files a job handed back (`Replication.files`) into the staging folder."""
    for name, data in files.items():
        path = staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_output(path, data)


# ---------------------------------------------------------------- accumulating replications

@dataclass
class Accumulator:
    """Sums over replications of everything the outputs report (means are sums / count)."""

    scenario: Scenario
    plan: Plan
    count: int = 0
    groups: tuple[str, ...] = ()               # name tables of the simulated histories
    services_names: tuple[str, ...] = ()
    amounts: FloatArray | None = None
    stock: FloatArray | None = None
    indicators: FloatArray | None = None
    services_by_month: FloatArray | None = None
    paid_days_by_counter: dict[str, FloatArray] = field(default_factory=dict)
    bill: FloatArray | None = None
    yearly: list[FloatArray] = field(default_factory=list)   # per replication
    transitions: FloatArray | None = None
    totals: list[dict[str, dict[str, float]]] = field(default_factory=list)
    transfers: dict[str, FloatArray] = field(default_factory=dict)
    services: dict[str, dict[str, float]] = field(default_factory=dict)
    outcomes: dict[str, float] = field(default_factory=dict)
    referrals: float = 0.0
    referrals_by_service: FloatArray | None = None
    behaviour: Behaviour | None = None
    histogram: FloatArray = field(default_factory=lambda: np.zeros(len(COUNTER_BIN_EDGES) - 1))
    above_histogram: float = 0.0

    def add(self, rep: Replication) -> None:
        """Add one replication's digest (replications must be added in order)."""
        if self.count == 0:
            self.groups, self.services_names = rep.groups, rep.services_names
        elif (rep.groups, rep.services_names) != (self.groups, self.services_names):
            raise ValueError("replications disagree on the group or service names")
        self.count += 1
        self.amounts = _plus(self.amounts, rep.amounts)
        self.stock = _plus(self.stock, rep.stock)
        self.indicators = _plus(self.indicators, rep.indicators)
        self.services_by_month = _plus(self.services_by_month, rep.services_by_month)
        for rule, days in rep.paid_days_by_counter.items():
            self.paid_days_by_counter[rule] = _plus(self.paid_days_by_counter.get(rule), days)
        self.transitions = _plus(self.transitions, rep.transitions)
        self.bill = _plus(self.bill, rep.bill)
        self.yearly.append(rep.yearly)
        self.totals.append(rep.totals)
        for rule, amounts in rep.transfers.items():
            self.transfers[rule] = _plus(self.transfers.get(rule), amounts)
        for name in self.scenario.services:
            row = self.services.setdefault(name, dict.fromkeys(
                (*SERVICE_STATS, "mean_wait_days", "mean_queue_length", "utilisation"), 0.0))
            for key, value in rep.services.get(name, {}).items():
                row[key] += value
        for key, value in rep.outcomes.items():
            self.outcomes[key] = self.outcomes.get(key, 0.0) + value
        self.referrals += float(rep.referral_counters.size)
        self.referrals_by_service = _plus(self.referrals_by_service, rep.referrals_by_service)
        self.behaviour = rep.behaviour if self.behaviour is None else (
            self.behaviour + rep.behaviour)
        counts, above = counter_histogram(rep.referral_counters)
        self.histogram = self.histogram + counts
        self.above_histogram += above

    # ------------------------------------------------------------ means

    def summary(self) -> dict[str, Any]:
        n = self.count
        assert self.amounts is not None
        plan = self.plan
        rules: dict[str, Any] = {}
        for rule in plan.priced:
            mean = Ledger(plan.priced, plan.months, plan.municipalities, self.amounts / n,
                          np.zeros(0), {}, np.zeros(0), {})
            per_rep = {p: np.array([t[rule][p] for t in self.totals])
                       for p in (*PAYERS, "gross")}
            entry: dict[str, Any] = {
                "in_force": rule == plan.in_force,
                "totals": {p: cents(v) for p, v in mean.totals(rule).items()},
                "totals_sd": {p: cents(v.std(ddof=1)) if n > 1 else 0.0
                              for p, v in per_rep.items()},
                "by_item": {p: {item: cents(v) for item, v in items.items()}
                            for p, items in mean.by_item(rule).items()},
                "by_municipality": {m: {p: cents(v) for p, v in payers.items()}
                                    for m, payers in mean.by_municipality(rule).items()},
                "money": measures_dict(mean.amounts[plan.priced.index(rule)].sum(axis=(0, 1))),
                "money_by_municipality": {
                    m: measures_dict(mean.amounts[plan.priced.index(rule)][:, k].sum(axis=0))
                    for k, m in enumerate(plan.municipalities)},
            }
            if rule in self.transfers:
                entry["transfers"] = {m: cents(v) for m, v in
                                      zip(plan.municipalities, self.transfers[rule] / n,
                                          strict=True)}
            rules[rule] = entry
        services = {name: {k: number(v / n) for k, v in row.items()}
                    for name, row in self.services.items()}
        by_service = (self.referrals_by_service if self.referrals_by_service is not None
                      else np.zeros(len(self.services_names)))
        return {
            "currency": plan.scenario.benefits.currency,   # of every amount in the outputs
            "rules": rules,
            "services": services,
            "warnings": unstarted_services({name: row.get("starts", 0.0)
                                            for name, row in services.items()}),
            "outcomes": {k: number(v / n) for k, v in self.outcomes.items()},
            "referrals": {
                "count": number(self.referrals / n),
                "by_service": {name: number(v / n) for name, v in
                               zip(self.services_names, by_service, strict=True)},
                "counter_histogram": {
                    "bin_edges": [float(e) for e in COUNTER_BIN_EDGES],
                    "counts": [number(c / n) for c in self.histogram],
                    "above_last_edge": number(self.above_histogram / n),
                },
            },
        }


def unstarted_services(starts: Mapping[str, float], rule: str | None = None) -> list[str]:
    """A warning for each service nobody started in any replication (`starts` by service) of
    the histories simulated (under `rule`, when there are several)."""
    under = f"under {rule}: " if rule is not None else ""
    return [f"{under}service {name!r} was started by nobody: no one referred to it took up a "
            "place (check its capacity, eligibility and the municipalities' policy)"
            for name, n in starts.items() if n == 0.0]


def _plus(total: FloatArray | None, value: FloatArray) -> FloatArray:
    return np.array(value, np.float64, copy=True) if total is None else total + value


# ---------------------------------------------------------------- the run

def run_scenario(scenario: Scenario, out_dir: Path | str, *, replications: int | None = None,
                 seed: int | None = None, write_spells: bool = False,
                 progress: bool | None = None, command: Sequence[str] | None = None,
                 workers: int = 1, scheduler: str | None = None,
                 force: bool = False, transfers: bool = True) -> dict[str, Any]:
    """Simulate replications 0..R-1, price each under every rule, write the outputs into
    `out_dir` and return the summary (what summary.json holds).

    `transfers`: each priced rule gets its own transfers as the scenario defines them (the
    default, as the law has it), or none: every rule priced alone.

    `replications` and `seed` default to the scenario's. `command` (the command line that
    asked for the run) is recorded in the provenance. Replications run in `workers` local
    processes or on the Dask scheduler at `scheduler`; the outputs are the same either way.
    An output folder that cannot be created or written, or that holds files other than an
    earlier run's, is bad input (InputError); `force` replaces such a folder's content.
    """
    started = time.perf_counter()
    reps = scenario.replications if replications is None else int(replications)
    if reps < 1:
        raise ValueError("replications must be at least 1")
    seed = scenario.seed if seed is None else int(seed)
    out = Path(out_dir)
    with output_folder(out, "run", force) as staging:
        plan = Plan.of(scenario, transfers=transfers)
        acc = Accumulator(scenario, plan)
        jobs = [(scenario, seed, r, staging / SPELLS if write_spells and r == 0 else None,
                 transfers, staging / EXPLAIN if r == 0 else None) for r in range(reps)]
        with progress_bar(bool(progress), reps, f"{scenario.name}: replications") as advance:
            for rep in run_jobs(replicate, jobs, workers=workers, scheduler=scheduler,
                                done=advance):
                write_job_files(staging, rep.files)
                acc.add(rep)
        summary = acc.summary()
        # the plots are drawn on the second core while the tables are written, by a copy
        # that starts with matplotlib loaded (once per process, not once per copy); the
        # behaviour plots here once the tables are written, so that both end about together
        load_matplotlib()
        with run_aside(write_run_plots, staging / PLOTS, plan, acc, False) as plotted:
            write_output(staging / COSTS, _costs_csv(acc, plan))
            write_output(staging / MUNICIPAL_SHARE, _municipal_share_csv(acc, plan))
            write_output(staging / MUNICIPALITIES_YEARLY, _municipalities_yearly_csv(acc, plan))
            write_output(staging / STOCK, _stock_csv(acc, plan))
            write_output(staging / INDICATORS_FILE, _indicators_csv(acc, plan))
            write_output(staging / TRANSITIONS, _transitions_csv(acc, scenario))
            write_output(staging / REFERRALS, _referrals_csv(acc, plan))
            write_output(staging / RESOLVED, resolved_yaml(scenario, seed, reps))
            summary["provenance"] = provenance(scenario, seed, reps, command, started, transfers)
            write_output(staging / SUMMARY,
                         json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
            _checkpoint("tables written")
            assert acc.behaviour is not None
            try:
                behaviour = write_behaviour_plots(staging / PLOTS, plan,
                                                  {plan.in_force: acc.behaviour})
            except Exception:
                plotted()       # the copy's plots come first: a failure of its is the one
                raise           # to report, whichever process got there first
            plots = plotted() + behaviour
        _checkpoint("plots written")
        write_output(staging / REPORT, run_report(
            scenario, summary, plots, (staging / INDICATORS_FILE).read_text(encoding="utf-8")))
        files = [COSTS, MUNICIPAL_SHARE, MUNICIPALITIES_YEARLY, STOCK, INDICATORS_FILE,
                 TRANSITIONS, REFERRALS, RESOLVED, REPORT, PLOTS, EXPLAIN,
                 *([SPELLS] if write_spells else [])]
        publish(staging, out, files, SUMMARY, command="run", force=force)
        return summary


def provenance(scenario: Scenario, seed: int, replications: int,
               command: Sequence[str] | None, started: float,
               transfers: bool = True) -> dict[str, Any]:
    """Where a set of outputs comes from (`started`: time.perf_counter() at the start)."""
    return {
        "package_version": __version__,
        "scenario": scenario.name,
        "scenario_sha256": scenario_hash(scenario),
        "resolved_scenario": RESOLVED,
        "seed": seed,
        "replications": replications,
        "start_date": scenario.start_date.isoformat(),
        "horizon_days": scenario.horizon_days,
        "transfers": "on" if transfers else "off",
        "command": list(command) if command is not None else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "wall_time_s": round(time.perf_counter() - started, 3),
    }


# ---------------------------------------------------------------- publishing
#
# A run's outputs are written into a staging folder beside the output folder D (in D's parent,
# named `.D.partial-<random>`), and the finished staging folder then replaces D as a whole: on
# Linux by one atomic exchange of the two folders (renameat2 with RENAME_EXCHANGE), so that a
# reader sees the old complete folder or the new complete one and never a mix; elsewhere by two
# renames (D aside, staging in), so that for a moment there is no D. The old folder, now under
# the staging name, is then removed. Each staging folder is locked (flock) while its run lives;
# a run removes the unlocked staging folders of D that killed runs left behind.

MANIFEST = "manifest.json"
"""What a command wrote into its folder: the command, the package version and every file with
its size and sha256 (see `manifest`)."""
OUTPUTS: dict[str, frozenset[str]] = {
    "run": frozenset({SUMMARY, COSTS, MUNICIPAL_SHARE, MUNICIPALITIES_YEARLY, STOCK,
                      INDICATORS_FILE, PLOTS, REPORT, TRANSITIONS, SPELLS, RESOLVED,
                      REFERRALS, EXPLAIN}),
    "compare": frozenset({"comparison.csv", "outcomes.csv", "winners_losers.csv", REFERRALS,
                          MUNICIPALITIES_YEARLY, "comparison.json", RESOLVED, REPORT, PLOTS}),
    "calibrate": frozenset({"scenario.fitted.yaml", "fit.csv", "parameters.csv",
                            "evaluations.csv", "calibration.json", PLOTS}),
    "sweep": frozenset({"sweep.json", "sweep.csv", "points"}),
}
"""The names each command writes at the top of its folder (besides MANIFEST)."""
KNOWN_OUTPUTS = frozenset().union(*OUTPUTS.values(), {MANIFEST})
"""Every name a command writes."""
MARKERS = {SUMMARY: "run", "comparison.json": "compare", "calibration.json": "calibrate",
           "sweep.json": "sweep"}
"""The file that tells which command wrote a folder that has no manifest (an output of an
earlier version, or a sweep still running)."""
STAGING_TAG = ".partial-"


class OutputError(InputError):
    """The outputs could not be written (a full disk, a read-only folder); what was in the
    output folder before is unchanged. Reported like bad input, with exit code 2."""


def _checkpoint(stage: str) -> None:
    """A stage of publishing (the fault tests stop a run at each one); does nothing."""


@contextlib.contextmanager
def output_folder(out: Path, command: str, force: bool = False) -> Iterator[Path]:
    """A private staging folder for the outputs of `command` into `out`, to `publish`; removed
    afterwards, so a failed run leaves nothing and `out` as it was. `out` must be new, empty or
    the command's own earlier output (`check_output_folder`) unless `force`. A write that fails
    for want of space or permission becomes an OutputError naming the file."""
    out = Path(out)
    check_output_folder(out, command, force)
    staging, lock = _staging(out)
    existed = out.exists()
    try:
        yield staging
    except OSError as exc:
        raise _output_error(exc, out, staging, existed) from exc
    finally:
        _remove(staging)
        _unlock(lock)


def publish(staging: Path, out: Path, files: Sequence[str], last: str, *, command: str,
            force: bool = False) -> None:
    """Make the staging folder the output folder `out`, as a whole, with the manifest of what
    it holds. `files` and `last` (the completion marker, such as summary.json) must all be in
    it. `out` is checked again (`check_output_folder`): files put there during the run are not
    silently replaced."""
    missing = [name for name in [*files, last] if not (staging / name).exists()]
    if missing:
        raise RuntimeError(f"not staged: {', '.join(missing)}")
    write_output(staging / MANIFEST, manifest_text(staging, command))
    _checkpoint("staged")
    check_output_folder(out, command, force)
    existed = out.exists()
    try:
        _swap(staging, out)
    except OSError as exc:
        raise _output_error(exc, out, staging, existed) from exc
    _checkpoint("swapped")
    # `staging` now holds the previous output (or nothing); output_folder removes it


def manifest(folder: Path, command: str) -> dict[str, Any]:
    """What `command` wrote into `folder`: every file (in subfolders too, by relative path,
    in path order) with its size in bytes and its sha256, so a reader can tell that a file is
    the one written and that nothing was added. Nothing in it depends on the time."""
    files = []
    for path in sorted(_files_in(folder), key=lambda p: p.relative_to(folder).as_posix()):
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(functools.partial(f.read, 1 << 20), b""):
                digest.update(block)
        files.append({"path": path.relative_to(folder).as_posix(),
                      "bytes": path.stat().st_size, "sha256": digest.hexdigest()})
    return {"command": command, "package_version": __version__, "files": files}


def manifest_text(folder: Path, command: str) -> str:
    return json.dumps(manifest(folder, command), indent=2, ensure_ascii=False) + "\n"


def _files_in(folder: Path) -> Iterator[Path]:
    """The files under `folder` but its manifest and the partial files of killed writers."""
    for path in folder.rglob("*"):
        if path.is_file() and not _leftover(path.name) and path != folder / MANIFEST:
            yield path


def _leftover(name: str) -> bool:
    """A partial file or staging folder that a killed writer left (removed when found)."""
    return name.startswith(".") and STAGING_TAG in name


def write_atomic(path: Path, text: str) -> None:
    """Write a file whole or not at all: a temporary file beside it, renamed over it."""
    partial = path.with_name(f".{path.name}{STAGING_TAG}{os.getpid()}")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if exc.filename is None:
            exc.filename = str(path)
        raise


def write_output(path: Path, data: bytes | str) -> None:
    """Write one output file into a staging folder; a failure names the file."""
    try:
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise


def remove_stale_partials(folder: Path) -> None:
    """Remove the `.NAME.partial-PID` files that write_atomic left in `folder` when its
    process was killed (a process that still lives keeps its own)."""
    with contextlib.suppress(OSError):
        for path in folder.glob(f".*{STAGING_TAG}*"):
            pid = path.name.rsplit(STAGING_TAG, 1)[1]
            if path.is_file() and pid.isdigit() and not _alive(int(pid)):
                path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True        # another user's process
    return True


def _reason(exc: OSError) -> str:
    reasons = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "the disk quota is "
               "used up", errno.EROFS: "the file system is read-only", errno.EACCES:
               "permission denied", errno.EPERM: "permission denied", errno.EFBIG:
               "the file is too large for the file system", errno.EIO: "an input/output error"}
    return reasons.get(exc.errno or 0, exc.strerror or str(exc))


def _output_error(exc: OSError, out: Path, staging: Path, existed: bool) -> OutputError:
    where = ""
    if exc.filename is not None:
        name = Path(os.fsdecode(exc.filename))
        with contextlib.suppress(ValueError):
            name = name.relative_to(staging)
        where = f" while writing {name.as_posix()}"
    state = (f"the previous output in {out} is unchanged" if existed
             else f"nothing was written to {out}")
    return OutputError([Problem(str(out), None, "--out", f"{_reason(exc)}{where}; {state}")])


def check_output_folder(out: Path, command: str, force: bool = False) -> None:
    """Refuse (InputError) an `out` that `command` may not replace as a whole: a file, the
    folder the command runs in (or one holding it), and, unless `force`, a folder that holds
    another command's output or files `command` did not write. A new or empty folder, or the
    command's own earlier output, is fine."""
    def refuse(message: str) -> NoReturn:
        raise InputError([Problem(str(out), None, "--out", message)])

    try:
        if out.exists() and not out.is_dir():
            refuse("is a file, not a folder")
        here = Path.cwd().resolve()
        target = out.resolve()
        if target == here or target in here.parents:
            refuse("is the folder the command runs in (or holds it); the outputs replace "
                   "their folder as a whole: give --out a folder of its own")
        if force or not out.is_dir():
            return
        names = sorted(p.name for p in out.iterdir() if not _leftover(p.name))
        if not names:
            return
        written = _read_manifest(out) if MANIFEST in names else None
    except OSError as exc:
        refuse(f"cannot use this folder: {_reason(exc)}")
    advice = "give --out a new or empty folder, or add --force to replace its content"
    owner = written["command"] if written is not None else next(
        (MARKERS[n] for n in names if n in MARKERS and MARKERS[n] != command), command)
    if owner != command:
        found = MANIFEST if written is not None else next(
            n for n in names if MARKERS.get(n) == owner)
        refuse(f"holds the output of `{owner}` ({found}), not of `{command}`; {advice}")
    if written is not None:
        listed = {entry["path"] for entry in written["files"]}
        try:
            foreign = sorted(p.relative_to(out).as_posix() for p in _files_in(out)
                             if p.relative_to(out).as_posix() not in listed)
        except OSError as exc:
            refuse(f"cannot use this folder: {_reason(exc)}")
    else:
        foreign = [n for n in names if n not in OUTPUTS[command] and n != MANIFEST]
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        refuse(f"holds files that `{command}` did not write ({shown}); {advice}")


def _read_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest in `out`, or None where it cannot be read as one (then the folder's
    markers tell whose it is)."""
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (isinstance(data, dict) and data.get("command") in OUTPUTS
            and isinstance(data.get("files"), list)
            and all(isinstance(f, dict) and isinstance(f.get("path"), str)
                    for f in data["files"])):
        return data
    return None


def _staging(out: Path) -> tuple[Path, int | None]:
    """A fresh, locked staging folder beside `out` (its parents are created); stale staging
    folders of `out` that killed runs left are removed first."""
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(parent, out.name)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}{STAGING_TAG}", dir=parent))
    except OSError as exc:
        raise InputError([Problem(str(out), None, "--out",
                                  f"cannot write the outputs here: {_reason(exc)}")]) from exc
    return staging, _lock(staging)


def _lock(folder: Path) -> int | None:
    """Hold an exclusive lock on `folder` for as long as this process lives (or _unlock)."""
    if fcntl is None:   # pragma: no cover - not on Linux
        return None
    fd = os.open(folder, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


def _remove_stale(parent: Path, name: str) -> None:
    """Remove the staging folders of `parent / name` whose run no longer lives."""
    for path in parent.glob(f".{glob.escape(name)}{STAGING_TAG}*"):
        if fcntl is None:   # pragma: no cover - not on Linux: no way to tell; leave them
            return
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue          # a live run's
        try:
            _remove(path)
        finally:
            os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _swap(staging: Path, out: Path) -> None:
    """Put `staging` in the place of `out`; the previous `out` (if any) ends up at `staging`."""
    if not out.exists():
        try:
            os.rename(staging, out)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        else:
            staging.mkdir()     # an empty folder for output_folder to remove
            return
    if _exchange(staging, out):
        return
    aside = staging.with_name(staging.name + "-previous")  # pragma: no cover - not on Linux
    os.rename(out, aside)
    _checkpoint("moved aside")
    os.rename(staging, out)
    os.rename(aside, staging)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Exchange two paths atomically (Linux renameat2); False where that is not available."""
    rename = getattr(libc(), "renameat2", None) if sys.platform == "linux" else None
    if rename is None:
        return False
    result = rename(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False        # the kernel or the file system cannot exchange
    raise OSError(code, os.strerror(code), str(b))


@contextlib.contextmanager
def progress_bar(show: bool, total: int, description: str, fields: Sequence[str] = ()
                 ) -> Iterator[Callable[..., None]]:
    """A rich progress bar over `total` jobs on stderr, only when stderr is a terminal; it
    yields `advance(**values)`, one job done, with the values of the extra `fields` shown
    after the count (each as "name value")."""
    if not (show and sys.stderr.isatty()):
        yield lambda **_: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    extra = [TextColumn(f"{name} {{task.fields[{name}]}}") for name in fields]
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  *extra, TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        start: dict[str, Any] = dict.fromkeys(fields, "-")
        task = bar.add_task(description, total=total, **start)
        yield lambda **values: bar.update(task, advance=1, **values)


# ---------------------------------------------------------------- files

def scenario_hash(scenario: Scenario) -> str:
    return hashlib.sha256(scenario.model_dump_json().encode("utf-8")).hexdigest()


def resolved_yaml(scenario: Scenario, seed: int | None = None,
                  replications: int | None = None) -> str:
    """The validated scenario (every default filled in, `extends:` resolved) as YAML that
    loads back to an equal Scenario; a header comment gives the run's seed and replications
    when given (they may differ from the scenario's)."""
    header = (f"# {scenario.name}: the scenario as loaded and validated (defaults filled in, "
              f"extends resolved).\n")
    if seed is not None and replications is not None:
        header += f"# This run: seed {seed}, {replications} replications.\n"
    body = yaml.safe_dump(scenario.model_dump(by_alias=True, mode="json"), sort_keys=False,
                          allow_unicode=True, width=100)
    return header + body


def _cells_csv(header: Sequence[str], names: Sequence[tuple[npt.NDArray[np.intp], Sequence[str]]],
               values: Sequence[Column]) -> bytes:
    """A CSV of the cells of an array, one row each: the names of the cell's indices (codes,
    names), then its `values` (report.columns_csv: the text Python's formatting gives)."""
    columns: list[Column] = [NameColumn(codes, table) for codes, table in names]
    columns += values
    rows = np.arange(len(names[0][0]), dtype=np.int64)
    return b"".join(csv_chunks(header, columns, rows))


def _costs_csv(acc: Accumulator, plan: Plan) -> bytes:
    assert acc.amounts is not None
    mean = np.round(acc.amounts / acc.count, 2)
    r, m, k, p, i = cell = np.nonzero(mean)
    return _cells_csv(("rule", "month", "municipality", "payer", "item", "amount"),
                      [(r, plan.priced), (m, plan.months), (k, plan.municipalities),
                       (p, PAYERS), (i, ITEMS)], [FixedColumn(mean[cell], 2)])


def _municipal_share_csv(acc: Accumulator, plan: Plan) -> bytes:
    """municipal_share_monthly.csv: Kela's bill's cells of the rule in force (see kela.py),
    means over replications; only cells with co-financed days."""
    assert acc.bill is not None
    recipients, paid_days, euros = acc.bill / acc.count
    labels = band_labels(plan.compiled[plan.in_force])
    munis = plan.scenario.municipalities
    codes = [munis[name].code or name for name in plan.municipalities]
    m, k, b, c = cell = np.nonzero(paid_days)
    return _cells_csv(("month", "municipality_code", "municipality", "benefit", "day_class",
                       "recipients", "paid_days", "municipal_share_eur"),
                      [(m, plan.months), (k, codes), (k, plan.municipalities), (b, BENEFITS),
                       (c, labels)],
                      [CountColumn(recipients[cell]), FixedColumn(paid_days[cell], 4),
                       CentsColumn(euros[cell])])


def _municipalities_yearly_csv(acc: Accumulator, plan: Plan) -> bytes:
    """municipalities_yearly.csv of a run: per rule, municipality and calendar year, means
    over replications (see ledger.Yearly for which year each amount falls in, and money.py
    for the measures). The interval columns are compare's: a run reports the means only."""
    years = year_starts(plan.month_starts, plan.months)[0]
    codes = {name: m.code or name for name, m in plan.scenario.municipalities.items()}
    return yearly_csv(plan.priced, plan.municipalities, codes, years, np.stack(acc.yearly),
                      with_intervals=False)


REFERRAL_COLUMNS = ("rule", "municipality", "service", "counter_at_referral", "count",
                    "mean_saving")


def _referrals_csv(acc: Accumulator, plan: Plan) -> bytes:
    """Referrals by the in-force rule's counter at referral (20-day bins), means over
    replications: the history is simulated under the rule in force."""
    assert acc.behaviour is not None
    return _csv(list(REFERRAL_COLUMNS), acc.behaviour.referrals_rows(
        plan.in_force, plan.municipalities, acc.services_names, format_count))


def _stock_csv(acc: Accumulator, plan: Plan) -> bytes:
    assert acc.stock is not None
    mean = acc.stock / acc.count
    m, k, g, st = cell = np.nonzero(mean)
    return _cells_csv(("month", "municipality", "group", "state", "count"),
                      [(m, plan.months), (k, plan.municipalities), (g, acc.groups),
                       (st, STATES)], [CountColumn(mean[cell])])


def _indicators_csv(acc: Accumulator, plan: Plan) -> bytes:
    """Monthly monitoring indicators per municipality and for all (`ALL`): jobseekers and
    those in a service (activation rate = in a service / jobseekers), the long-term
    unemployed and their share, exits to work and to education during the month."""
    assert acc.stock is not None and acc.indicators is not None
    seekers, in_service = (x / acc.count for x in jobseekers_and_in_service(acc.stock))
    extra = acc.indicators / acc.count
    with_all = [(name, k) for k, name in enumerate(plan.municipalities)] + [("ALL", -1)]
    rows = []
    for m, month in enumerate(plan.months):
        for name, k in with_all:
            pick = slice(None) if k < 0 else slice(k, k + 1)
            n, svc = seekers[m, pick].sum(), in_service[m, pick].sum()
            long_term, to_work, to_education, *by_duration = extra[m, pick].sum(axis=0)
            rows.append((month, name, format_count(n), format_count(svc),
                         f"{svc / n:.4f}" if n else "", format_count(long_term),
                         f"{long_term / n:.4f}" if n else "", format_count(to_work),
                         format_count(to_education), *map(format_count, by_duration)))
    return _csv(("month", "municipality", "jobseekers", "in_service", "activation_rate",
                 "long_term", "long_term_share", "exits_to_employment", "exits_to_education",
                 *(f"unemployed_{name}" for _, _, name in DURATION_CLASSES)), rows)


def _transitions_csv(acc: Accumulator, scenario: Scenario) -> bytes:
    assert acc.transitions is not None
    mean = acc.transitions / acc.count
    rows = []
    for index in zip(*np.nonzero(mean), strict=True):
        a, b, slot = (int(x) for x in index)
        service = acc.services_names[slot - 1] if slot else ""
        provider = scenario.services[service].provider if service in scenario.services else ""
        rows.append((STATES[a], STATES[b], service, provider, format_count(mean[index])))
    return _csv(("from_state", "to_state", "service", "provider", "count"), rows)


@contextlib.contextmanager
def default_scenario() -> Iterator[Path]:
    """The path of the default scenario shipped inside the package (`scenarios/default.yaml`),
    as a real file for as long as the context lasts (also from a zipped install)."""
    resource = importlib.resources.files("incentive_sim").joinpath("scenarios", "default.yaml")
    with importlib.resources.as_file(resource) as path:
        yield Path(path)
