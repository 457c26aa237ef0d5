"""The input language: scenarios and funding rules, loaded from YAML and validated."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .checks import cross_reference_problems
from .loading import InputError, Located, Problem, read_with_extends
from .places import expand_places
from .rules import catalogue, validate_rules
from .schema import FundingRule, Scenario, json_schema
from .validation import collect, validate_model

__all__ = ["FundingRule", "InputError", "Problem", "Scenario", "json_schema", "load_scenario",
           "scenario_from_document", "scenario_rules"]


def load_scenario(path: Path | str) -> Scenario:
    """Read, merge (`extends:`), validate and cross-check a scenario file."""
    return scenario_from_document(read_with_extends(path))


def scenario_from_document(doc: Located) -> Scenario:
    if not isinstance(doc.data, Mapping):
        raise InputError([doc.problem((), "expected a mapping of keys at the top level")])
    doc = expand_places(doc)
    data = dict(doc.data)
    problems: list[Problem] = []
    if data.get("rules") is not None:
        try:
            rules = validate_rules(doc.sub(("rules",)), ("rules",))
            data["rules"] = {name: rule.model_dump(by_alias=True) for name, rule in rules.items()}
        except InputError as exc:
            problems.extend(exc.problems)
            data["rules"] = {}
    else:
        data.pop("rules", None)
    located = Located(data, doc.lines, doc.file)
    try:
        scenario = validate_model(Scenario, located)
    except InputError as exc:
        collect([*problems, *exc.problems])
        raise  # pragma: no cover - collect always raises here
    collect([*problems, *cross_reference_problems(scenario, located)])
    return scenario


def scenario_rules(scenario: Scenario) -> dict[str, FundingRule]:
    """Every rule a scenario may name: the presets and its own."""
    return catalogue(scenario.rules)
