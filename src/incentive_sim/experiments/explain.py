"""`incentive-sim explain DIR --person ID`: one person of replication 0 of a finished run,
explained line by line (accounting.explain). The person's history and counters are read from
the run's `explain/` folder (explain_store), without simulating; a run folder written before
that folder existed is simulated again from its resolved scenario and seed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ..accounting.explain import (
    Explanation,
    explain_history,
    explain_person,
    no_such_person,
    rules_explained,
)
from ..accounting.ledger import Plan
from ..scenario import InputError, Problem, load_scenario
from ..scenario.schema import Scenario
from ..simulation.engine import simulate
from .explain_store import EXPLAIN, has_store, read_index, read_person
from .run import RESOLVED, SUMMARY


def load_run(out_dir: Path) -> tuple[Scenario, int]:
    """The scenario and seed of a run's outputs."""
    resolved, summary = out_dir / RESOLVED, out_dir / SUMMARY
    if not resolved.is_file() or not summary.is_file():
        raise InputError([Problem(str(out_dir), None, "DIR",
                                  "not the output folder of a finished run (needs "
                                  f"{RESOLVED} and {SUMMARY})")])
    seed = json.loads(summary.read_text(encoding="utf-8"))["provenance"]["seed"]
    return load_scenario(resolved), int(seed)


def explain(out_dir: Path | str, person: int, rule: str | None = None,
            note: Callable[[str], None] | None = None) -> Explanation:
    """Explain one person of replication 0 of the run in `out_dir`. `note` is told when the
    run folder has no `explain/` and replication 0 is simulated again."""
    folder = Path(out_dir)
    scenario, seed = load_run(folder)
    store = folder / EXPLAIN
    if has_store(store):
        plan = Plan.of(scenario)
        rules_explained(plan, rule)              # an unknown rule is reported first
        mine = read_person(store, person, plan.simple_rules())
        if mine is None:
            raise no_such_person(person, int(read_index(store)["last_person"]))
        return explain_history(scenario, mine, rule, plan)
    if note is not None:
        note(f"{folder} has no {EXPLAIN}/ folder (a run of an earlier version): simulating "
             "replication 0 again, which takes as long as one replication of the run")
    return explain_person(scenario, simulate(scenario, 0, seed).spells, person, rule)
