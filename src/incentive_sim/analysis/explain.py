"""`explain`: every cost line of one person, with the rule step behind it.

The run's replication 0 is simulated again from `scenario.resolved.yaml` and the run's seed
(the same scenario and seed give the same history, bit for bit), and the person's segments
are priced under each rule with the counters of the whole history. For each segment: its
state, service and benefit, its days, the rule's paid-day counter at its start and end, the
share steps it crossed, and the euros per payer. The lines add up to what that person costs in
the run's pricing (tested); bonuses are lines of their own. Transfers go to municipalities,
not to people, so they are not part of any person's lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..funding.pricing import price
from ..funding.rules import CompiledRule, ShareSchedule
from ..funding.spells import SpellTable
from ..scenario import InputError, Problem, load_scenario
from ..scenario.schema import Scenario
from ..scenario.vocabulary import BENEFITS, PAYERS, STATES
from ..simulation.engine import simulate
from .ledger import Plan, rule_counter, service_costs
from .run import RESOLVED, SUMMARY


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


def load_run(out_dir: Path) -> tuple[Scenario, int]:
    """The scenario and seed of a run's outputs."""
    resolved, summary = out_dir / RESOLVED, out_dir / SUMMARY
    if not resolved.is_file() or not summary.is_file():
        raise InputError([Problem(str(out_dir), None, "DIR",
                                  "not the output folder of a finished run (needs "
                                  f"{RESOLVED} and {SUMMARY})")])
    seed = json.loads(summary.read_text(encoding="utf-8"))["provenance"]["seed"]
    return load_scenario(resolved), int(seed)


def explain(out_dir: Path | str, person: int, rule: str | None = None) -> Explanation:
    """Explain one person of replication 0 of the run in `out_dir`."""
    scenario, seed = load_run(Path(out_dir))
    spells = simulate(scenario, 0, seed).spells
    return explain_person(scenario, spells, person, rule)


def explain_person(scenario: Scenario, spells: SpellTable, person: int,
                   rule: str | None = None) -> Explanation:
    plan = Plan.of(scenario)
    names = plan.priced if rule is None else (rule,)
    if rule is not None and rule not in plan.compiled:
        raise InputError([Problem("--rule", None, "--rule",
                                  f"the run did not price {rule!r}; it priced: "
                                  f"{', '.join(plan.priced)}")])
    order = spells.person_order()
    rows = order[spells.person_id[order] == person]
    if rows.size == 0:
        last = int(spells.person_id.max()) if len(spells) else -1
        raise InputError([Problem("--person", None, "--person",
                                  f"no person {person} in replication 0 (ids 0-{last})")])
    mine = spells.take(rows)
    costs = service_costs(scenario, spells.services)
    out: dict[str, list[Line]] = {}
    for name in names:
        compiled = plan.compiled[name]
        counter = rule_counter(spells, compiled)[rows]
        pricing = price(mine, compiled, costs, counter)
        lines = []
        for k in range(rows.size):
            c0, c1, steps = _steps(compiled, mine, k, float(counter[k]))
            lines.append(Line(
                k, _what(mine, k), float(mine.start_day[k]), float(mine.end_day[k]), c0, c1,
                steps, {p: float(pricing.segment_total(p)[k]) for p in PAYERS}))
        for b in range(pricing.bonuses.segment.size):
            seg = int(pricing.bonuses.segment[b])
            net = {p: float(pricing.bonus_net(p)[b]) for p in PAYERS}
            lines.append(Line(-1, f"bonus on entering {STATES[int(mine.state[seg])]}",
                              float(pricing.bonuses.day[b]), float(pricing.bonuses.day[b]),
                              float(counter[seg]), float(counter[seg]), "", net))
        out[name] = lines
    return Explanation(person, spells.municipalities[int(mine.municipality[0])],
                       spells.groups[int(mine.group[0])], out)


def _what(s: SpellTable, k: int) -> str:
    parts = [STATES[int(s.state[k])]]
    if s.service[k] >= 0:
        parts.append(s.services[int(s.service[k])])
    if s.benefit_paid[k]:
        parts.append(BENEFITS[int(s.benefit[k])])
    return ", ".join(parts)


def _steps(rule: CompiledRule, s: SpellTable, k: int, c0: float) -> tuple[float, float, str]:
    """The counter range of segment k and the share steps it was charged at."""
    if not s.benefit_paid[k]:
        return c0, c0, ""
    block_index = int(rule.block_of_benefit[int(s.benefit[k])])
    if block_index < 0:
        return c0, c0, "not covered"
    block = rule.blocks[block_index]
    state = int(s.state[k])
    c1 = c0 + (float(s.paid_days[k]) if block.counts[state] else 0.0)
    if not block.charged[state]:
        return c0, c1, "not charged"
    return c0, c1, _crossed(block.schedule, c0, c1)


def _crossed(schedule: ShareSchedule, c0: float, c1: float) -> str:
    t, shares = schedule.thresholds, schedule.shares
    first = int(np.searchsorted(t, c0, side="right")) - 1
    last = int(np.searchsorted(t, max(c1, c0) - 1e-9, side="right")) - 1 if c1 > c0 else first
    parts = []
    for i in range(max(first, 0), max(last, first) + 1):
        lo = t[i]
        hi = t[i + 1] if i + 1 < t.size else np.inf
        days = f"{lo + 1:g}-{hi:g}" if np.isfinite(hi) else f"{lo + 1:g}-"
        parts.append(f"{shares[i] * 100:g} % (paid days {days})")
    return ", ".join(parts)
