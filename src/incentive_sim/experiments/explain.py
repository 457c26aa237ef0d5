"""`incentive-sim explain DIR --person ID`: one person of replication 0 of a finished run,
simulated again from the run's resolved scenario and seed, and explained line by line
(accounting.explain)."""

from __future__ import annotations

import json
from pathlib import Path

from ..accounting.explain import Explanation, explain_person
from ..scenario import InputError, Problem, load_scenario
from ..scenario.schema import Scenario
from ..simulation.engine import simulate
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


def explain(out_dir: Path | str, person: int, rule: str | None = None) -> Explanation:
    """Explain one person of replication 0 of the run in `out_dir`."""
    scenario, seed = load_run(Path(out_dir))
    spells = simulate(scenario, 0, seed).spells
    return explain_person(scenario, spells, person, rule)
