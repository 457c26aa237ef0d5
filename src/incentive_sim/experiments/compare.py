"""`compare`: what would rule B cost each municipality and the state, compared with rule A,
and how sure are we?

- Static: every rule prices the same simulated histories (simulated under the scenario's rule
  in force), so differences are exact for each history: no noise from re-simulation.
- Behavioural: the population is simulated again with each rule in force, so municipalities
  respond to it. Common random numbers (the same seed and replication, and random streams
  keyed by process name) make the differences paired.

With transfers on (the default, as the law has it) every rule gets its own transfers as the
scenario defines them (a cost-neutral transfer against a base rule is zero for the base
itself), exactly as `run` prices them: the same scenario, seed and setting give the same euros
per rule, payer and municipality. With transfers off every rule is priced alone, so the rules'
own municipal costs can be compared. Figures are means over replications with 95 % Student-t
intervals across replications; differences are against the first rule, paired replication by
replication. Outputs: comparison.csv, outcomes.csv, winners_losers.csv,
municipalities_yearly.csv, comparison.json (the headline and provenance, written last) and
scenario.resolved.yaml.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..accounting.behaviour import Behaviour
from ..accounting.ledger import Booking, Ledger, Plan, added_in_order, year_starts
from ..accounting.money import MEASURES, measures, yearly_values
from ..accounting.money import interval as interval
from ..accounting.outcomes import (
    OUTCOME_SUMS,
    Runs,
    outcome_sums,
    outcomes_of,
    services_by_month,
    stock_by_month,
)
from ..funding.money import cents
from ..funding.spells import SpellTable
from ..memory import release_freed_memory
from ..report.columns_csv import format_count
from ..report.html import compare_report
from ..report.plots import write_behaviour_plots, write_comparison_plot
from ..report.tables import csv_bytes as _csv
from ..report.tables import yearly_csv
from ..scenario import InputError, Problem, scenario_rules
from ..scenario.rules import unknown_rule
from ..scenario.schema import Scenario
from ..scenario.vocabulary import ITEMS, PAYERS, STATE_CODE
from ..simulation.engine import SimulationResult, simulate
from .executors import run_jobs
from .run import (
    MUNICIPALITIES_YEARLY,
    REFERRAL_COLUMNS,
    REFERRALS,
    RESOLVED,
    output_folder,
    price_part,
    progress_bar,
    provenance,
    publish,
    resolved_yaml,
    unstarted_services,
    write_output,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

COMPARISON = "comparison.csv"
OUTCOMES = "outcomes.csv"
WINNERS = "winners_losers.csv"
HEADLINE = "comparison.json"
PLOTS = "plots"
COMPARISON_PLOT = "comparison_by_municipality.png"
REPORT = "report.html"
ALL = "ALL"
PAYER_COLUMNS = (*PAYERS, "gross")
ITEM_COLUMNS = (*ITEMS, "total")
OUTCOME_KEYS = ("exits_to_employment", "exits_to_education", "exits_to_inactivity",
                "unemployed_end", "long_term_unemployed_end", "mean_spell_days",
                "service_days")
SERVICE = STATE_CODE["service"]
STATISTICS = ("mean", "ci_low", "ci_high", "diff_mean", "diff_ci_low", "diff_ci_high")


@dataclass(frozen=True, eq=False)
class ComparedRun:
    """One replication's figures for some rules: amounts (rule, ALL + municipalities, payer +
    gross, item + total), outcomes (rule, ALL + municipalities, OUTCOME_KEYS) and the yearly
    table's values (rule, year, municipality, money.YEARLY_MEASURES)."""

    rules: tuple[str, ...]
    amounts: FloatArray
    outcomes: FloatArray
    yearly: FloatArray
    behaviour: Behaviour       # what the municipalities did in the history simulated


def compare_job(scenario: Scenario, rules: tuple[str, ...], seed: int, replication: int,
                behavioural: bool, transfers: bool = True) -> ComparedRun:
    """One replication: static (all `rules` price one history) or behavioural (`rules` is a
    single rule, put in force); `transfers`: whether each rule gets its transfers."""
    if behavioural:
        (rule,) = rules
        scenario = scenario.model_copy(update={"funding": scenario.funding.model_copy(
            update={"in_force": rule})})
    plan = Plan.of(scenario, rules_priced=rules, transfers=transfers)
    # a national simulation's shards price themselves and draw up their outcomes where they
    # ran (compare_part), and send back no history
    result = simulate(scenario, replication, seed,
                      then=functools.partial(compare_part, plan))
    release_freed_memory()
    done: list[ComparedPart] = list(result.parts_done)
    ledger = Ledger.build(scenario, result.spells, plan,
                          bookings=[d.booking for d in done] or None)
    parts = [d.outcomes for d in done] or [OutcomePart.of(
        plan, result.spells, result.horizon_days, result.elapsed_days)]
    outcome_part = OutcomePart.added(parts)
    # a rule may be asked for twice (compared with itself): priced once, reported twice
    order = [plan.priced.index(rule) for rule in rules]
    by_muni = ledger.amounts[order].sum(axis=1)               # (rule, muni, payer, item)
    with_all = np.concatenate([by_muni.sum(axis=1, keepdims=True), by_muni], axis=1)
    with_gross = np.concatenate([with_all, with_all.sum(axis=2, keepdims=True)], axis=2)
    amounts = np.concatenate([with_gross, with_gross.sum(axis=3, keepdims=True)], axis=3)
    per_muni = outcome_part.rows()
    outcome = np.broadcast_to(np.array(per_muni), (len(rules), *np.shape(per_muni))).copy()
    assert ledger.yearly is not None, "a ledger built from a history has its yearly view"
    yearly = yearly_values(ledger.yearly.amounts[order], ledger.yearly.stacked_people())
    behaviour = Behaviour.of(result.referrals.arrays(), outcome_part.stock,
                             outcome_part.services_by_month, result.services,
                             len(scenario.municipalities), result.horizon_days)
    return ComparedRun(rules, amounts, outcome, yearly, behaviour)


@dataclass(frozen=True, eq=False)
class OutcomePart:
    """What compare reads from a part of a history (whole people: a national simulation's
    shard), as amounts that add up over the parts: the outcome sums (outcome_sums, in
    OUTCOME_SUMS order) and the service days of the whole part and of each municipality
    (rows ALL, then the municipalities), and the stock and services by month."""

    sums: FloatArray                   # (ALL + municipalities, OUTCOME_SUMS)
    service_days: FloatArray           # (ALL + municipalities,)
    stock: FloatArray
    services_by_month: FloatArray

    @classmethod
    def of(cls, plan: Plan, spells: SpellTable, horizon: float, elapsed: FloatArray
           ) -> OutcomePart:
        """The runs are made once and shared out: a person's runs all lie in their
        municipality, and each municipality's keep the order the whole has, so each row is
        what the municipality's history alone would give."""
        municipalities = len(plan.municipalities)
        runs = Runs.of(spells, elapsed)
        in_service = np.flatnonzero(spells.state == SERVICE)
        days = spells.end_day[in_service] - spells.start_day[in_service]
        by_run = _groups(runs.municipality, municipalities)
        by_row = _groups(spells.municipality[in_service], municipalities)
        parts = [runs, *(runs.take(r) for r in by_run)]
        sums = [outcome_sums(spells, horizon, elapsed, part) for part in parts]
        return cls(np.array([[s[key] for key in OUTCOME_SUMS] for s in sums]),
                   np.array([float(np.sum(days)), *(float(np.sum(days[d])) for d in by_row)]),
                   stock_by_month(spells, plan.month_starts),
                   services_by_month(spells, plan.month_starts))

    @classmethod
    def added(cls, parts: Sequence[OutcomePart]) -> OutcomePart:
        """The parts added, in order (a municipality is in one part: its rows are that
        part's, exactly)."""
        if len(parts) == 1:
            return parts[0]
        return cls(*(added_in_order([getattr(p, name) for p in parts])
                     for name in ("sums", "service_days", "stock", "services_by_month")))

    def rows(self) -> list[list[float]]:
        """OUTCOME_KEYS of ALL, then of each municipality."""
        out = []
        for sums, days in zip(self.sums.tolist(), self.service_days.tolist(), strict=True):
            o = outcomes_of(dict(zip(OUTCOME_SUMS, sums, strict=True)))
            o["service_days"] = days
            out.append([float(o[k]) for k in OUTCOME_KEYS])
        return out


@dataclass(frozen=True, eq=False)
class ComparedPart:
    """A shard's history priced and its outcomes drawn up where it was simulated."""

    booking: Booking
    outcomes: OutcomePart


def compare_part(plan: Plan, result: SimulationResult) -> SimulationResult:
    """simulate's `then` for a shard in compare: its OutcomePart and its ledger booking
    (price_part); no history is sent back."""
    outcomes = OutcomePart.of(plan, result.spells, result.horizon_days, result.elapsed_days)
    priced = price_part(plan, False, result, keep_history=False)
    (part,) = priced.parts_done
    return replace(priced, parts_done=(ComparedPart(part.booking, outcomes),))


def _groups(codes: npt.NDArray[Any], n: int) -> list[IntArray]:
    """The positions of each code 0..n-1, in order."""
    order = np.argsort(codes, kind="stable")
    return np.split(order, np.searchsorted(codes[order], np.arange(1, n)))


@dataclass(frozen=True, eq=False)
class Comparison:
    """Per replication figures of every rule, and their summaries."""

    rules: tuple[str, ...]
    municipalities: tuple[str, ...]          # ALL first
    amounts: FloatArray                      # (replication, rule, muni, payer, item)
    outcomes: FloatArray                     # (replication, rule, muni, outcome)
    yearly: FloatArray                       # (replication, rule, year, muni, measure)

    def summary(self, values: FloatArray) -> dict[str, FloatArray]:
        mean, low, high = interval(values)
        diff = values - values[:, :1]
        d_mean, d_low, d_high = interval(diff)
        return dict(zip(STATISTICS, (mean, low, high, d_mean, d_low, d_high), strict=True))


def compare(scenario: Scenario, rules: Sequence[str] | None, out_dir: Path | str, *,
            behavioural: bool = False, replications: int | None = None,
            seed: int | None = None, workers: int = 1, scheduler: str | None = None,
            progress: bool | None = None, command: Sequence[str] | None = None,
            force: bool = False, transfers: bool = True) -> dict[str, Any]:
    """Compare funding rules on the scenario (see the module doc); write the outputs into
    `out_dir` and return the headline (what comparison.json holds). `rules` defaults to the
    scenario's (the rule in force, then its `compare` list). `transfers`: whether each rule
    gets its transfers. `force` replaces a folder that holds other files than an earlier
    comparison's."""
    started = time.perf_counter()
    rules = tuple(scenario.rule_names() if rules is None else rules)
    known = scenario_rules(scenario)
    unknown = [r for r in rules if r not in known]
    if not rules or unknown:
        message = (unknown_rule(unknown[0], known) if unknown else "give at least one rule")
        raise InputError([Problem("--funding", None, "--funding", message)])
    reps = scenario.replications if replications is None else int(replications)
    seed = scenario.seed if seed is None else int(seed)
    jobs: list[tuple[Scenario, tuple[str, ...], int, int, bool, bool]]
    if behavioural:
        jobs = [(scenario, (rule,), seed, r, True, transfers) for r in range(reps)
                for rule in rules]
    else:
        jobs = [(scenario, rules, seed, r, False, transfers) for r in range(reps)]
    out = Path(out_dir)
    with output_folder(out, "compare", force) as staging:
        runs: list[ComparedRun] = []
        with progress_bar(bool(progress), len(jobs), f"{scenario.name}: compare") as advance:
            runs.extend(run_jobs(compare_job, jobs, workers=workers, scheduler=scheduler,
                                 done=advance))
        per_rep = len(rules) if behavioural else 1

        def by_replication(field: str) -> FloatArray:
            """(replication, rule, ...): a replication's jobs are consecutive, rule by rule."""
            return np.stack([np.concatenate([getattr(runs[r * per_rep + k], field)
                                             for k in range(per_rep)]) for r in range(reps)])

        result = Comparison(rules, (ALL, *scenario.municipalities), by_replication("amounts"),
                            by_replication("outcomes"), by_replication("yearly"))
        plan = Plan.of(scenario, rules_priced=rules, transfers=transfers)
        years = year_starts(plan.month_starts, plan.months)[0]
        codes = {name: m.code or name for name, m in scenario.municipalities.items()}
        write_output(staging / MUNICIPALITIES_YEARLY, yearly_csv(
            rules, tuple(scenario.municipalities), codes, years, result.yearly,
            with_intervals=True))
        write_output(staging / COMPARISON, _comparison_csv(result))
        write_output(staging / OUTCOMES, _outcomes_csv(result))
        write_output(staging / WINNERS, _winners_csv(result))
        behaviours = _behaviours(scenario, rules, runs, reps, behavioural)
        write_output(staging / REFERRALS, _csv(list(REFERRAL_COLUMNS), [
            row for rule, b in behaviours.items() for row in b.referrals_rows(
                rule, list(scenario.municipalities), list(scenario.services), format_count)]))
        write_output(staging / RESOLVED, resolved_yaml(scenario, seed, reps))
        (staging / PLOTS).mkdir()
        plots = [staging / PLOTS / COMPARISON_PLOT]
        write_comparison_plot(
            staging / PLOTS / COMPARISON_PLOT, rules, result.municipalities,
            result.summary(_net(result)), scenario.benefits.currency,
            f"{scenario.name}: {'behavioural' if behavioural else 'static'} comparison, net "
            f"municipal cost {'with' if transfers else 'without'} transfers (mean of {reps} "
            f"replications)")
        plots += write_behaviour_plots(staging / PLOTS, plan, behaviours)
        headline = _headline(result, behavioural, scenario, transfers)
        headline["warnings"] = [w for rule, b in behaviours.items()
                                for w in unstarted_services(dict(zip(scenario.services,
                                                                     b.starts.tolist(),
                                                                     strict=True)), rule)]
        headline["provenance"] = provenance(scenario, seed, reps, command, started, transfers)
        write_output(staging / HEADLINE, json.dumps(headline, indent=2, ensure_ascii=False)
                     + "\n")
        write_output(staging / REPORT, compare_report(
            scenario, headline, (staging / WINNERS).read_text(encoding="utf-8"), plots))
        publish(staging, out, [COMPARISON, OUTCOMES, WINNERS, MUNICIPALITIES_YEARLY, REFERRALS,
                               RESOLVED,
                               REPORT, PLOTS],
                HEADLINE, command="compare", force=force)
        return headline


def _behaviours(scenario: Scenario, rules: tuple[str, ...], runs: list[ComparedRun],
                reps: int, behavioural: bool) -> dict[str, Behaviour]:
    """What the municipalities did, summed over replications: one entry per rule from its own
    behavioural run; a static comparison has one history, simulated under the rule in force,
    and one entry for it. (A rule compared with itself is one entry.)"""
    blocks = (list(enumerate(rules)) if behavioural
              else [(0, scenario.funding.in_force)])
    per_rep = len(rules) if behavioural else 1
    out: dict[str, Behaviour] = {}
    for k, rule in blocks:
        if str(rule) not in out:
            out[str(rule)] = Behaviour.total([runs[r * per_rep + k].behaviour
                                              for r in range(reps)])
    return out


def _fmt(x: float) -> str:
    return "" if np.isnan(x) else f"{cents(x):.2f}"


def _cents_or_none(x: float) -> float | None:
    return None if np.isnan(x) else cents(x)


def _comparison_csv(c: Comparison) -> bytes:
    s = c.summary(c.amounts)
    rows = []
    for i, rule in enumerate(c.rules):
        for m, muni in enumerate(c.municipalities):
            for p, payer in enumerate(PAYER_COLUMNS):
                for t, item in enumerate(ITEM_COLUMNS):
                    rows.append([rule, muni, payer, item,
                                 *(_fmt(s[k][i, m, p, t]) for k in s)])
    return _csv(["rule", "municipality", "payer", "item", *STATISTICS], rows)


def _outcomes_csv(c: Comparison) -> bytes:
    s = c.summary(c.outcomes)
    rows = [[rule, muni, key, *(_fmt(s[k][i, m, o]) for k in s)]
            for i, rule in enumerate(c.rules) for m, muni in enumerate(c.municipalities)
            for o, key in enumerate(OUTCOME_KEYS)]
    return _csv(["rule", "municipality", "outcome", *STATISTICS], rows)


def _net(c: Comparison) -> FloatArray:
    """What each municipality pays on balance, transfers received included: (rep, rule, muni)."""
    return c.amounts[:, :, :, PAYERS.index("municipality"), ITEM_COLUMNS.index("total")]


def _winners_csv(c: Comparison) -> bytes:
    s = c.summary(_net(c))
    rows = []
    for i, rule in enumerate(c.rules[1:], start=1):
        for m, muni in enumerate(c.municipalities):
            low, high = s["diff_ci_low"][i, m], s["diff_ci_high"][i, m]
            verdict = ("n/a" if np.isnan(low) else "gains" if high < 0
                       else "loses" if low > 0 else "unclear")
            rows.append([rule, c.rules[0], muni, _fmt(s["mean"][0, m]), _fmt(s["mean"][i, m]),
                         _fmt(s["diff_mean"][i, m]), _fmt(low), _fmt(high), verdict])
    return _csv(["rule", "reference", "municipality", "net_reference", "net_rule",
                 "diff_mean", "diff_ci_low", "diff_ci_high", "verdict"], rows)


def _headline(c: Comparison, behavioural: bool, scenario: Scenario, transfers: bool
              ) -> dict[str, Any]:
    """comparison.json: each rule's money measures (docs/glossary.md) for all municipalities
    together, with their statistics (per municipality: comparison.csv and
    municipalities_yearly.csv)."""
    n_payers, n_items = len(PAYERS), len(ITEMS)
    s = c.summary(measures(c.amounts[:, :, :, :n_payers, :n_items]))   # (rule, muni, measure)

    def block(i: int, m: int) -> dict[str, dict[str, float | None]]:
        return {measure: {k: _cents_or_none(s[k][i, m, j]) for k in s}
                for j, measure in enumerate(MEASURES)}

    return {
        "mode": "behavioural" if behavioural else "static",
        "transfers": "on" if transfers else "off",
        "currency": scenario.benefits.currency,
        "reference": c.rules[0],
        "replications": int(c.amounts.shape[0]),
        "rules": {rule: block(i, 0) for i, rule in enumerate(c.rules)},
    }
