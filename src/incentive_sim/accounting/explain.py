"""`explain`: every cost line of one person, with the rule step behind it.

The run's replication 0 is simulated again from `scenario.resolved.yaml` and the run's seed
(the same scenario and seed give the same history, bit for bit), and the person's segments
are priced under each rule with the counters of the whole history. For each segment (split at
a timeline's switch dates, so each line has one rule in force): its dates, state, service and
benefit, the rule in force, the paid days and the amount paid a day, the paid-day counter at its
start and end, the bands (share steps) it crossed, the euros per payer, and what changed at its
start: a counter reset by the employment condition, an entitlement that ran out or was earned
again. The lines add up to what that person costs in
the run's pricing (tested); bonuses are lines of their own. Transfers go to municipalities,
not to people, so they are not part of any person's lines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from ..funding.counters import (
    counted_mask,
    counters_for_rule,
    reset_moment,
    rule_counters,
    split_at,
)
from ..funding.pricing import price
from ..funding.rules import NO_RULE, CompiledRule, ShareSchedule
from ..funding.spells import SpellTable
from ..scenario import InputError, Problem
from ..scenario.schema import Scenario
from ..scenario.vocabulary import BENEFITS, PAYERS, STATES
from .ledger import Plan, service_costs

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Line:
    segment: int                 # position among the person's segments (-1: a bonus)
    what: str                    # state, service, benefit; or the bonus
    start_day: float
    end_day: float
    counter_from: float
    counter_to: float
    steps: str                   # the share steps applied, e.g. "10 % (101-200), 20 % (201-300)"
    amounts: dict[str, float]    # payer -> euros (a bonus: + for its payer, - for its payee)
    start_date: str = ""         # ISO dates of the first day and of the day after the last
    end_date: str = ""
    rule_in_force: str = ""      # the simple rule in force (a timeline's rule on that date)
    bands: list[str] = field(default_factory=list)   # the bands crossed, e.g. ["401-700"]
    paid_days: float = 0.0
    daily_amount: float = 0.0    # paid a day; the co-financeable basic part where it differs
    basic_part: float = 0.0
    events: list[str] = field(default_factory=list)  # resets, entitlement changes, switches


@dataclass(frozen=True)
class Explanation:
    person: int
    municipality: str
    group: str
    rules: dict[str, list[Line]]

    def totals(self, rule: str) -> dict[str, float]:
        return {p: sum(line.amounts[p] for line in self.rules[rule]) for p in PAYERS}

    def as_dict(self) -> dict[str, Any]:
        return {"person": self.person, "municipality": self.municipality, "group": self.group,
                "rules": {rule: {"lines": [line.__dict__ for line in lines],
                                 "totals": self.totals(rule)}
                          for rule, lines in self.rules.items()}}


def explain_person(scenario: Scenario, spells: SpellTable, person: int,
                   rule: str | None = None) -> Explanation:
    """Explain one person of a whole simulated history: the counters are those of the whole
    history (as the run priced it), taken at the person's rows."""
    plan = Plan.of(scenario)
    names = rules_explained(plan, rule)
    order = spells.person_order()
    rows = order[spells.person_id[order] == person]
    if rows.size == 0:
        raise no_such_person(person, int(spells.person_id.max()) if len(spells) else -1)
    counters: dict[str, FloatArray] = {}
    for name in names:
        whole = rule_counters(spells, plan.compiled[name])
        counters.update({simple: counter[rows] for simple, counter in whole.items()})
    mine = replace(spells.take(rows), counter_at_start=counters)
    return explain_history(scenario, mine, rule, plan)


def rules_explained(plan: Plan, rule: str | None) -> tuple[str, ...]:
    """The rules to explain: `rule`, or every rule the run priced."""
    if rule is not None and rule not in plan.compiled:
        raise InputError([Problem("--rule", None, "--rule",
                                  f"the run did not price {rule!r}; it priced: "
                                  f"{', '.join(plan.priced)}")])
    return plan.priced if rule is None else (rule,)


def no_such_person(person: int, last: int) -> InputError:
    return InputError([Problem("--person", None, "--person",
                               f"no person {person} in replication 0 (ids 0-{last})")])


def explain_history(scenario: Scenario, mine: SpellTable, rule: str | None = None,
                    plan: Plan | None = None) -> Explanation:
    """Explain one person from their own rows, in person order, with the counter of every
    simple rule explained in `counter_at_start` (the whole history's, as the run priced it:
    counters recomputed from one person's rows could differ in the last bit)."""
    plan = Plan.of(scenario) if plan is None else plan
    names = rules_explained(plan, rule)
    person = int(mine.person_id[0])
    missing = [r.name for name in names for r in plan.compiled[name].simple_rules()
               if r.name not in mine.counter_at_start]
    if missing:
        raise ValueError(f"no counter of {', '.join(missing)} for person {person}")
    costs = service_costs(scenario, mine.services)
    out: dict[str, list[Line]] = {}
    for name in names:
        compiled = plan.compiled[name]
        counters = rule_counters(mine, compiled)
        simple = compiled.simple_rules()
        bounds = compiled.phase_starts if compiled.is_timeline else np.array([-np.inf])
        pieces, piece_counters, segment = split_at(
            mine, bounds, {r: counters[r.name] for r in simple})
        by_name = {r.name: c for r, c in piece_counters.items()}
        counted = {r.name: counted_mask(pieces, r) for r in simple}
        pricing = price(pieces, compiled, costs, by_name)
        lines = []
        previous: dict[str, float] = {}
        for k in range(len(pieces)):
            in_force = compiled.at(float(pieces.start_day[k]))
            counter = by_name.get(in_force.name, np.zeros(len(pieces)))
            c0, c1, steps, bands = _steps(in_force, pieces, k, float(counter[k]))
            events = _events(compiled, pieces, k, by_name, counted, previous,
                             scenario.start_date)
            lines.append(Line(
                int(segment[k]), _what(pieces, k), float(pieces.start_day[k]),
                float(pieces.end_day[k]), c0, c1, steps,
                {p: float(pricing.segment_total(p)[k]) for p in PAYERS},
                _date(scenario.start_date, float(pieces.start_day[k])),
                _date(scenario.start_date, float(pieces.end_day[k])),
                in_force.name if in_force is not NO_RULE else "", bands,
                float(pieces.paid_days[k]), float(pieces.daily_amount[k]),
                float(pieces.basic_part[k]), events))
        for b in range(pricing.bonuses.segment.size):
            seg = int(pricing.bonuses.segment[b])
            net = {p: float(pricing.bonus_net(p)[b]) for p in PAYERS}
            day = float(pricing.bonuses.day[b])
            c = float(pricing.counter_at_start[seg])
            lines.append(Line(-1, f"bonus on entering {STATES[int(pieces.state[seg])]}",
                              day, day, c, c, "", net, _date(scenario.start_date, day),
                              _date(scenario.start_date, day),
                              compiled.at(float(pieces.start_day[seg])).name))
        out[name] = lines
    return Explanation(person, mine.municipalities[int(mine.municipality[0])],
                       mine.groups[int(mine.group[0])], out)


def _date(start: dt.date, day: float) -> str:
    return (start + dt.timedelta(days=int(np.floor(day)))).isoformat()


def _events(rule: CompiledRule, s: SpellTable, k: int, counters: dict[str, FloatArray],
            counted: dict[str, npt.NDArray[np.bool_]], previous: dict[str, float],
            start: dt.date) -> list[str]:
    """What changed at the start of piece k: the rule in force, a counter that restarted (the
    employment condition was met in what came before), the benefit paid. `previous` holds
    each counter at the end of the piece before."""
    events: list[str] = []
    if k == 0:
        for name, counter in counters.items():
            previous[name] = float(counter[0]) + (float(s.paid_days[0]) if counted[name][0]
                                                  else 0.0)
        return events
    day = float(s.start_day[k])
    before, now = rule.at(float(s.start_day[k - 1])), rule.at(day)
    if before is not now:
        events.append(f"{now.name if now is not NO_RULE else 'no rule'} in force from "
                      f"{_date(start, day)}")
    for name, counter in counters.items():
        c = float(counter[k])
        if c < previous[name] - 1e-9:
            when = _reset_day(s, k, next(r for r in rule.simple_rules() if r.name == name))
            events.append(f"{name} counter reset to 0 on {_date(start, when)} (employment "
                          f"condition met)")
        previous[name] = c + (float(s.paid_days[k]) if counted[name][k] else 0.0)
    paid = np.flatnonzero(s.benefit_paid[:k])
    if s.benefit_paid[k] and paid.size and s.benefit[paid[-1]] != s.benefit[k]:
        was, now_b = BENEFITS[int(s.benefit[paid[-1]])], BENEFITS[int(s.benefit[k])]
        why = ("entitlement ran out" if now_b == "labour_market_subsidy"
               else "entitlement earned again by work")
        events.append(f"{was} -> {now_b} from {_date(start, day)} ({why})")
    return events


def _reset_day(s: SpellTable, k: int, rule: CompiledRule) -> float:
    """The day on which the rule's counter restarted before piece k of one person's pieces:
    the counter is 0 from the end of the day in which the condition was met (365 days of work
    from day 0: day 365). The restart falls inside piece k - 1 (the counter at its start
    already holds every restart before it): the moment the condition is met there, rounded up
    to the end of its day."""
    block = rule.blocks[max(int(rule.block_of_benefit[int(s.benefit[k])]), 0)]
    met = reset_moment(s.take(np.arange(k)), block)
    if met is None:                   # a counter that fell otherwise: found day by day
        return _reset_day_by_days(s, k, rule)
    return min(float(np.ceil(met)), float(s.end_day[k - 1]))


def _reset_day_by_days(s: SpellTable, k: int, rule: CompiledRule) -> float:
    """_reset_day by brute force: the history before k is cut into whole days and its counter
    recomputed; the first day of piece k - 1 whose end finds it lower than it grew to is the
    day."""
    before = s.take(np.arange(k))
    days = np.arange(np.floor(before.start_day.min()), np.ceil(before.end_day.max()) + 1.0)
    fine, _, _ = split_at(before, days, {})
    fine = replace(fine, counter_at_start={})
    counter = counters_for_rule(fine, rule)
    grown = counter + np.where(counted_mask(fine, rule), fine.paid_days, 0.0)
    drop = np.flatnonzero(counter[1:] < grown[:-1] - 1e-9)
    drop = drop[fine.start_day[drop] >= s.start_day[k - 1]]     # the last restart before k
    return float(fine.end_day[drop[0]]) if drop.size else float(s.start_day[k])


def _what(s: SpellTable, k: int) -> str:
    parts = [STATES[int(s.state[k])]]
    if s.service[k] >= 0:
        parts.append(s.services[int(s.service[k])])
    if s.benefit_paid[k]:
        parts.append(BENEFITS[int(s.benefit[k])])
    return ", ".join(parts)


def _steps(rule: CompiledRule, s: SpellTable, k: int, c0: float
           ) -> tuple[float, float, str, list[str]]:
    """The counter range of segment k and the share steps (bands) it was charged at."""
    if rule is NO_RULE:
        return c0, c0, "no rule in force", []
    if not s.benefit_paid[k]:
        return c0, c0, "", []
    block_index = int(rule.block_of_benefit[int(s.benefit[k])])
    if block_index < 0:
        return c0, c0, "not covered", []
    block = rule.blocks[block_index]
    state = int(s.state[k])
    c1 = c0 + (float(s.paid_days[k]) if block.counts[state] else 0.0)
    if not block.charged[state]:
        return c0, c1, "not charged", []
    steps, bands = _crossed(block.schedule, c0, c1)
    return c0, c1, steps, bands


def _crossed(schedule: ShareSchedule, c0: float, c1: float) -> tuple[str, list[str]]:
    t, shares = schedule.thresholds, schedule.shares
    first = int(np.searchsorted(t, c0, side="right")) - 1
    last = int(np.searchsorted(t, max(c1, c0) - 1e-9, side="right")) - 1 if c1 > c0 else first
    parts, bands = [], []
    for i in range(max(first, 0), max(last, first) + 1):
        parts.append(f"{shares[i] * 100:g} % (paid days {schedule.labels[i]})")
        bands.append(schedule.labels[i])
    return ", ".join(parts), bands
