"""The catalogue of funding rules: shipped presets plus a file's own rules, `extends:` resolved."""

from __future__ import annotations

import datetime as dt
import importlib.resources
from collections.abc import Iterable, Mapping
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


# Presets that were shipped once and are gone, with why: a scenario naming one is told.
REMOVED_PRESETS = {
    "fi_2025_graduated_cap30": (
        "was removed: it read the 2025 table as capped at 30 %, but Kela bills its class 701- "
        "at 50 % (subsidy recipients about 0.50 x 37.21 EUR a paid day in 2025), which refutes "
        "that reading; use fi_2025_graduated (10/20/30/40/50 % from paid days 101/201/301/401/"
        "701)"),
}


def unknown_rule(name: object, known: Iterable[str], kind: str = "rule") -> str:
    """The message for a rule name that is not in the catalogue."""
    if isinstance(name, str) and name in REMOVED_PRESETS:
        return f"{kind} {name!r} {REMOVED_PRESETS[name]}"
    return f"unknown {kind} {name!r}; known: {', '.join(known) or '(none)'}"


def flatten_timeline(name: str, rules: Mapping[str, FundingRule]
                     ) -> list[tuple[dt.date | None, str | None]]:
    """The simple rules in force from each date on (None: no rule), with timelines that
    name timelines expanded in place. Raises KeyError for an unknown name and ValueError for
    a timeline that contains itself."""

    def expand(rule_name: str, lo: dt.date | None, hi: dt.date | None, chain: tuple[str, ...]
               ) -> list[tuple[dt.date | None, str | None]]:
        if rule_name in chain:
            raise ValueError(f"a timeline contains itself: {' -> '.join((*chain, rule_name))}")
        rule = rules[rule_name]
        if rule.timeline is None:
            return [(lo, rule_name)]
        entries = rule.timeline
        out: list[tuple[dt.date | None, str | None]] = []
        if lo is None or lo < entries[0].from_:
            out.append((lo, None))
        for i, e in enumerate(entries):
            end = entries[i + 1].from_ if i + 1 < len(entries) else None
            a = e.from_ if lo is None else max(lo, e.from_)
            b = end if hi is None else (hi if end is None else min(hi, end))
            if b is not None and a >= b:
                continue
            out.extend(expand(e.rule, a, b, (*chain, rule_name)))
        return [(d, r) for d, r in out if hi is None or d is None or d < hi]

    merged: list[tuple[dt.date | None, str | None]] = []
    for d, r in expand(name, None, None, ()):
        if merged and merged[-1][1] == r:
            continue
        merged.append((d, r))
    return merged


def timeline_problem(name: str, rules: Mapping[str, FundingRule]) -> str | None:
    """What is wrong with the timeline of rule `name` (an unknown rule in it, a timeline that
    contains itself), or None."""
    rule = rules.get(name)
    if rule is None or rule.timeline is None:
        return None
    for entry in rule.timeline:
        if entry.rule not in rules:
            return f"timeline entry from {entry.from_}: " + unknown_rule(entry.rule, rules)
    try:
        for _, inner in flatten_timeline(name, rules):
            if inner is not None and timeline_problem(inner, rules):
                return timeline_problem(inner, rules)
    except (KeyError, ValueError) as exc:
        return str(exc).strip("'\"")
    return None


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
                                unknown_rule(base_name, known)))
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
