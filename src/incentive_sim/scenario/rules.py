"""The catalogue of funding rules: shipped presets plus a file's own rules, `extends:` resolved."""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping
from functools import cache
from typing import Any

from .loading import InputError, Located, Path_, Problem, dotted, merge_located, parse_yaml
from .schema import FundingRule
from .validation import validate_model


@cache
def _preset_files() -> tuple[tuple[str, str], ...]:
    """(display name, text) of every shipped preset file, in name order. Read as package
    resources rather than from `__file__`'s directory, so that presets are found also when the
    package is installed zipped or otherwise not as plain files."""
    folder = importlib.resources.files("incentive_sim.scenario") / "presets"
    entries = sorted((e for e in folder.iterdir() if e.name.endswith(".yaml")),
                     key=lambda e: e.name)
    return tuple((f"presets/{e.name}", e.read_text(encoding="utf-8")) for e in entries)


@cache
def _preset_documents() -> dict[str, Located]:
    docs: dict[str, Located] = {}
    for display, text in _preset_files():
        doc = parse_yaml(text, display)
        for name in doc.data:
            docs[name] = doc.sub((name,))
    return docs


def preset_names() -> list[str]:
    return list(_preset_documents())


def preset_text(name: str) -> str:
    """The preset's YAML exactly as shipped (with its comments)."""
    for display, text in _preset_files():
        if name in parse_yaml(text, display).data:
            return text
    raise KeyError(name)


@cache
def preset(name: str) -> FundingRule:
    return validate_model(FundingRule, _preset_documents()[name])


def resolve_rule_documents(custom: Located, prefix: Path_) -> dict[str, Located]:
    """Resolve `extends:` for every custom rule (a mapping of name to rule), against the other
    custom rules and the presets. Paths in problems are reported under `prefix`."""
    presets = _preset_documents()
    problems: list[Problem] = []
    if custom.data is None:
        return {}
    if not isinstance(custom.data, Mapping):
        raise InputError([_at(custom, (), prefix, "must be a mapping of rule names to rules")])
    resolved: dict[str, Located] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> Located | None:
        if name in resolved:
            return resolved[name]
        if name not in custom.data:
            return presets.get(name)
        raw = custom.data[name]
        own = custom.sub((name,))
        if not isinstance(raw, Mapping):
            problems.append(_at(own, (), (*prefix, name), "a rule must be a mapping of keys"))
            return None
        base_name = raw.get("extends")
        if base_name is None:
            resolved[name] = own
            return own
        if base_name in chain or base_name == name:
            problems.append(_at(own, ("extends",), (*prefix, name, "extends"),
                                f"circular extends: {' -> '.join((*chain, name, base_name))}"))
            return None
        if not isinstance(base_name, str) or (base_name not in custom.data
                                              and base_name not in presets):
            known = [str(n) for n in (*custom.data, *presets) if n != name]
            problems.append(_at(own, ("extends",), (*prefix, name, "extends"),
                                f"unknown rule {base_name!r}; known: {', '.join(known)}"))
            return None
        base = resolve(base_name, (*chain, name))
        if base is None:
            return None
        body = Located({k: v for k, v in raw.items() if k != "extends"},
                       {p: v for p, v in own.lines.items() if p[:1] != ("extends",)}, own.file)
        merged = merge_located(base, body)
        file, line = own.where(())
        if line is not None:
            merged.lines[()] = (file, line)
        resolved[name] = merged
        return merged

    for name in custom.data:
        if not isinstance(name, str):
            problems.append(_at(custom, (str(name),), (*prefix, str(name)),
                                "a rule name must be text; put it in quotes"))
            continue
        if name in presets:
            problems.append(_at(custom, (name,), (*prefix, name),
                                "is the name of a shipped preset; give the rule another name "
                                "and use `extends:` to start from the preset"))
            continue
        resolve(name, ())
    if problems:
        raise InputError(problems)
    return resolved


def _at(doc: Located, path: Path_, full: Path_, message: str) -> Problem:
    file, line = doc.where(path)
    return Problem(file, line, dotted(full), message)


def validate_rules(custom: Located, prefix: Path_) -> dict[str, FundingRule]:
    """Validate a mapping of custom rules (after resolving their extends)."""
    docs = resolve_rule_documents(custom, prefix)
    rules: dict[str, FundingRule] = {}
    problems: list[Problem] = []
    for name, doc in docs.items():
        try:
            rules[name] = validate_model(FundingRule, doc, (*prefix, name))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return rules


def catalogue(custom: Mapping[str, FundingRule] | None = None) -> dict[str, FundingRule]:
    """Every rule known: presets, then custom rules."""
    rules = {name: preset(name) for name in preset_names()}
    rules.update(custom or {})
    return rules


def rule_as_data(rule: FundingRule) -> dict[str, Any]:
    return rule.model_dump(mode="json", by_alias=True, exclude_defaults=True)
