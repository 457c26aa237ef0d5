"""The targets file of `calibrate`: the parameters to fit and the figures to fit them to.

```yaml
parameters:
  - name: inflow_level
    path: population.inflow_per_year     # a dotted path into the scenario as loaded
    scale: true                          # multiply every number under the path
    start: 1.0
    bounds: [0.7, 1.3]
    source: "..."                        # or note: why these bounds
targets:
  - name: municipal share 2025
    measure: municipal_share             # see MEASURES
    year: 2025                           # or month: 2025-01
    benefit: labour_market_subsidy       # optional
    day_class: 701-                      # optional: a band of the rule in force
    quantity: euros                      # euros (default), recipients or paid_days
    value: 473716014.55
    source: "Kela, ..."
    weight: 1                            # default 1
    tolerance: 0.05                      # optional: a relative difference called a fit
```

Paths address the scenario as loaded (the compact place forms expanded, `municipalities: {from:
...}` listing every municipality); list positions are numbers. Problems are reported as
`file:line: field: message`, like the scenario language's, and checked against the scenario:
a path that leads nowhere, a value the scenario refuses, a day class the rule in force does not
bill, a period outside the horizon.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pydantic
from pydantic import AfterValidator, Field, model_validator

from ..accounting.kela import band_labels
from ..accounting.ledger import Plan
from ..scenario import InputError, Problem, Scenario
from ..scenario.checks import cross_reference_problems
from ..scenario.loading import Located, dotted, read_yaml
from ..scenario.schema import Name, NonNegative, Positive, Strict
from ..scenario.validation import collect, validate_model
from ..scenario.vocabulary import BENEFIT_CODE, Benefit
from ..simulation.population import month_starts

Measure = Literal["municipal_share", "recipients", "stock", "long_term_share",
                  "duration_class", "activation_rate", "gross_benefits"]
MEASURES: tuple[str, ...] = ("municipal_share", "recipients", "stock", "long_term_share",
                             "duration_class", "activation_rate", "gross_benefits")
# Flows over a payment period (a month or a year); the others are measured at month starts.
FLOWS = frozenset({"municipal_share", "recipients", "gross_benefits"})
# Counts of people or euros, which a sampled population gives in proportion to the sample.
EXTENSIVE = frozenset({"municipal_share", "recipients", "stock", "gross_benefits"})
WITH_BENEFIT = frozenset({"municipal_share", "recipients", "stock", "gross_benefits"})
DAYS_PER_MONTH = 365.25 / 12


def _month(text: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise ValueError(f"must be a month as YYYY-MM, e.g. 2025-01 (got {text!r})")
    return text


class Parameter(Strict):
    """One entry of the vector that is fitted."""

    name: Name
    path: Name = Field(description="Dotted path into the scenario as loaded; list positions as "
                                   "numbers.")
    scale: bool = Field(False, description="Multiply every number under the path by the "
                                           "parameter (whole numbers stay whole).")
    balance: Name | None = Field(
        None, description="Dotted path to a number that moves by the opposite amount, so "
                          "that a sum stays as it is (shares that add up to one).")
    start: float = Field(allow_inf_nan=False)
    bounds: list[Annotated[float, Field(allow_inf_nan=False)]] = Field(min_length=2,
                                                                       max_length=2)
    source: str = ""
    note: str = ""

    @model_validator(mode="after")
    def _start_within(self) -> Parameter:
        low, high = self.bounds
        if not low < high:
            raise ValueError(f"bounds must be [low, high] with low < high (got {self.bounds})")
        if not low <= self.start <= high:
            raise ValueError(f"start {self.start:g} is outside the bounds [{low:g}, {high:g}]")
        return self

    @property
    def low(self) -> float:
        return self.bounds[0]

    @property
    def high(self) -> float:
        return self.bounds[1]


class Target(Strict):
    """One figure the model is fitted to."""

    name: Name
    measure: Measure
    value: Positive
    source: Name = Field(description="Where the figure comes from.")
    weight: NonNegative = 1.0
    tolerance: Positive | None = Field(
        None, description="The relative difference within which the fit table calls the "
                          "target met (reporting only).")
    note: str = ""
    year: Annotated[int, Field(ge=1900, le=2200)] | None = None
    month: Annotated[str, AfterValidator(_month)] | None = Field(
        None, description="YYYY-MM: a payment month for flows, the month's first day for "
                          "the measures taken at month starts.")
    benefit: Benefit | None = None
    day_class: Name | None = None
    quantity: Literal["euros", "recipients", "paid_days"] | None = None
    basis: Literal["paid", "co_financed"] | None = None
    min_months: NonNegative | None = None
    max_months: Positive | None = None

    @model_validator(mode="after")
    def _fields_of_the_measure(self) -> Target:
        if self.year is not None and self.month is not None:
            raise ValueError("year and month are both given: give one")
        if self.year is None and self.month is None:
            raise ValueError("year or month is required: the period of the figure")
        if self.benefit is not None and self.measure not in WITH_BENEFIT:
            raise ValueError(f"benefit does not apply to measure {self.measure}")
        for key, measure in (("day_class", "municipal_share"), ("quantity", "municipal_share"),
                             ("basis", "recipients"), ("min_months", "duration_class"),
                             ("max_months", "duration_class")):
            if getattr(self, key) is not None and self.measure != measure:
                raise ValueError(f"{key} applies to measure {measure} only")
        if self.measure == "duration_class":
            if self.min_months is None:
                raise ValueError("min_months is required for a duration_class (with "
                                 "max_months, or none for an open class)")
            if self.max_months is not None and self.max_months <= self.min_months:
                raise ValueError("max_months must be above min_months")
        if self.measure in ("long_term_share", "duration_class", "activation_rate") and \
                self.value > 1:
            raise ValueError(f"value of a {self.measure} is a share between 0 and 1 "
                             f"(got {self.value:g})")
        return self

    @property
    def extensive(self) -> bool:
        return self.measure in EXTENSIVE

    def period(self) -> str:
        return self.month if self.month is not None else str(self.year)


class TargetsFile(Strict):
    description: str = ""
    parameters: list[Parameter] = Field(min_length=1)
    targets: list[Target] = Field(min_length=1)


# ---------------------------------------------------------------- resolved against a scenario

@dataclass(frozen=True)
class Window:
    """Where in a simulated history a target is measured (see moments.py)."""

    months: tuple[int, ...]          # payment months (flows) or month starts: plan indices
    first_day: float                 # flows: the payment period [first_day, end_day), days
    end_day: float                   #   since the start (payments after the horizon: none)
    benefit: int | None              # benefit code, or None for all
    label: int | None                # day class: index into band_labels, or None for all


@dataclass(frozen=True)
class Spec:
    """A targets file checked against a scenario."""

    file: str
    parameters: tuple[Parameter, ...]
    targets: tuple[Target, ...]
    windows: tuple[Window, ...]
    labels: tuple[str, ...]          # the in-force rule's billed classes
    horizon_days: int                # enough for every target: the end of the last period

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def values(self) -> np.ndarray:
        return np.array([t.value for t in self.targets])

    @property
    def weights(self) -> np.ndarray:
        return np.array([t.weight for t in self.targets])


def load_targets(path: Path | str, scenario: Scenario) -> Spec:
    """Read, validate and check a targets file against `scenario` (InputError on problems)."""
    doc = read_yaml(path)
    if doc.data is None:
        raise InputError([Problem(doc.file, 1, "", "the file is empty")])
    if not isinstance(doc.data, Mapping):
        raise InputError([doc.problem((), "expected a mapping with parameters: and targets:")])
    spec = validate_model(TargetsFile, doc)
    return check_targets(spec, doc, scenario)


def check_targets(spec: TargetsFile, doc: Located, scenario: Scenario) -> Spec:
    """The cross-checks that need the scenario; every problem at its key."""
    problems: list[Problem] = []

    def report(path: tuple[str | int, ...], message: str) -> None:
        problems.append(doc.problem(path, message))

    for kind, names in (("parameters", [p.name for p in spec.parameters]),
                        ("targets", [t.name for t in spec.targets])):
        seen: dict[str, int] = {}
        for i, name in enumerate(names):
            if name in seen:
                report((kind, i, "name"), f"name {name!r} is given twice (first at "
                                          f"{kind}[{seen[name]}])")
            seen.setdefault(name, i)

    data = scenario.model_dump(mode="json", by_alias=True)
    paths: list[tuple[str, ...]] = []
    for i, p in enumerate(spec.parameters):
        parts = tuple(p.path.split("."))
        try:
            node = resolve(data, parts)
        except PathError as exc:
            report((("parameters", i, "path")), str(exc))
            continue
        if p.scale and not any(True for _ in numbers(node)):
            report(("parameters", i, "path"), f"{p.path} holds no numbers to scale")
            continue
        if not p.scale and not _is_number(node):
            report(("parameters", i, "path"),
                   f"{p.path} is not a number ({_kind(node)}); give `scale: true` to multiply "
                   f"every number under it, or a path to one number")
            continue
        clash = next((q for q in paths if q == parts[:len(q)] or parts == q[:len(parts)]), None)
        if clash is not None:
            report(("parameters", i, "path"), f"{p.path} overlaps the path {'.'.join(clash)} "
                                              f"of another parameter")
            continue
        paths.append(parts)
        if p.balance is not None:
            other = tuple(p.balance.split("."))
            try:
                balanced = resolve(data, other)
            except PathError as exc:
                report(("parameters", i, "balance"), str(exc))
                continue
            if p.scale or not _is_number(balanced):
                report(("parameters", i, "balance"),
                       f"{p.balance} must be a number, balancing a parameter without `scale`")
                continue
            clash = next((q for q in paths if q == other[:len(q)] or other == q[:len(other)]),
                         None)
            if clash is not None:
                report(("parameters", i, "balance"),
                       f"{p.balance} overlaps the path {'.'.join(clash)} of a parameter")
                continue
            paths.append(other)
    if not problems:
        starts = {p.name: p.start for p in spec.parameters}
        for i, p in enumerate(spec.parameters):
            for key, value in (("start", p.start), ("bounds", p.low), ("bounds", p.high)):
                message = _refused(data, spec.parameters, {**starts, p.name: value})
                if message:
                    report(("parameters", i, key), f"{value:g} is refused by the scenario: "
                                                   f"{message}")
                    break

    plan = Plan.of(scenario, [scenario.funding.in_force])
    labels = band_labels(plan.compiled[plan.in_force])
    windows: list[Window] = []
    horizon = 1
    for i, t in enumerate(spec.targets):
        if t.day_class is not None and t.day_class not in labels:
            report(("targets", i, "day_class"),
                   f"the rule in force ({scenario.funding.in_force}) bills no class "
                   f"{t.day_class!r}; its classes: {', '.join(labels)}")
            continue
        try:
            window, needs = _window(t, scenario, plan)
        except PathError as exc:
            report(("targets", i, "month" if t.month is not None else "year"), str(exc))
            continue
        windows.append(window)
        horizon = max(horizon, needs)
    collect(problems)
    return Spec(doc.file, tuple(spec.parameters), tuple(spec.targets), tuple(windows),
                labels, horizon)


def _window(t: Target, scenario: Scenario, plan: Plan) -> tuple[Window, int]:
    """The target's window in the scenario's history, and the horizon it needs."""
    start = scenario.start_date
    end = start + dt.timedelta(days=scenario.horizon_days)
    if t.month is not None:
        year, month = (int(x) for x in t.month.split("-"))
        first = dt.date(year, month, 1)
        after = dt.date(year + month // 12, month % 12 + 1, 1)
        wanted: tuple[str, ...] = (t.month,)
    else:
        assert t.year is not None
        first, after = dt.date(t.year, 1, 1), dt.date(t.year + 1, 1, 1)
        wanted = tuple(f"{t.year:04d}-{m:02d}" for m in range(1, 13))
    months = tuple(i for i, label in enumerate(plan.months) if label in wanted)
    benefit = BENEFIT_CODE[t.benefit] if t.benefit is not None else None
    label = band_labels(plan.compiled[plan.in_force]).index(t.day_class) \
        if t.day_class is not None else None
    shown = f"{t.period()} ({first.isoformat()} to {(after - dt.timedelta(days=1)).isoformat()})"
    horizon_text = (f"the scenario runs from {start.isoformat()} to "
                    f"{(end - dt.timedelta(days=1)).isoformat()}")
    if t.measure in FLOWS:
        if after > end or first < start:
            raise PathError(f"{shown} is not within the horizon: {horizon_text}")
        return (Window(months, float((first - start).days), float((after - start).days),
                       benefit, label), (after - start).days)
    if not months:
        raise PathError(f"no month start of {t.period()} is within the horizon: "
                        f"{horizon_text}")
    starts = month_starts(start, scenario.horizon_days)
    return Window(months, 0.0, 0.0, benefit, label), math.floor(float(starts[max(months)])) + 1


# ---------------------------------------------------------------- dotted paths

class PathError(Exception):
    """A path that leads nowhere, or a period outside the horizon (the message says which)."""


def resolve(data: Any, parts: tuple[str, ...]) -> Any:
    node = data
    for depth, part in enumerate(parts):
        here = ".".join(parts[:depth + 1])
        if isinstance(node, Mapping):
            if part not in node:
                known = ", ".join(map(str, list(node)[:12])) + (", ..." if len(node) > 12
                                                                 else "")
                raise PathError(f"no key {here!r} in the scenario; there: {known or '(none)'}")
            node = node[part]
        elif isinstance(node, list):
            if not (part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node)):
                raise PathError(f"no position {here!r} in the scenario; there: positions "
                                f"0-{len(node) - 1}")
            node = node[int(part)]
        else:
            where = ".".join(parts[:depth]) or "the scenario"
            raise PathError(f"{where!r} is {_kind(node)}, it has no key {part!r}")
    return node


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{value!r}"


def numbers(node: Any) -> Iterator[float]:
    if _is_number(node):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from numbers(value)
    elif isinstance(node, list):
        for value in node:
            yield from numbers(value)


def _scaled(node: Any, factor: float) -> Any:
    if _is_number(node):
        return round(node * factor) if isinstance(node, int) else node * factor
    if isinstance(node, Mapping):
        return {k: _scaled(v, factor) for k, v in node.items()}
    if isinstance(node, list):
        return [_scaled(v, factor) for v in node]
    return node


def apply(data: dict[str, Any], parameters: tuple[Parameter, ...] | list[Parameter],
          values: Mapping[str, float]) -> dict[str, Any]:
    """A copy of the scenario dump `data` with each parameter set (or scaled) to its value."""
    out = copy.deepcopy(data)
    for p in parameters:
        parts = tuple(p.path.split("."))
        parent = resolve(out, parts[:-1])
        key: Any = int(parts[-1]) if isinstance(parent, list) else parts[-1]
        value = float(values[p.name])
        if p.scale:
            parent[key] = _scaled(parent[key], value)
            continue
        before = parent[key]
        parent[key] = round(value) if isinstance(before, int) else value
        if p.balance is not None:
            other = tuple(p.balance.split("."))
            holder = resolve(out, other[:-1])
            slot: Any = int(other[-1]) if isinstance(holder, list) else other[-1]
            holder[slot] = holder[slot] - (parent[key] - before)
    return out


def _keys(data: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The parts of a pydantic error location that are keys of the document."""
    path: list[str | int] = []
    for part in loc:
        if isinstance(data, list):
            if isinstance(part, int) and 0 <= part < len(data):
                data = data[part]
                path.append(part)
        elif isinstance(data, Mapping) and part in data:
            data = data[part]
            path.append(part)
    return tuple(path)


def _refused(data: dict[str, Any], parameters: list[Parameter],
             values: Mapping[str, float]) -> str | None:
    """Why the scenario refuses the parameters at these values, or None."""
    changed = apply(data, parameters, values)
    try:
        s = Scenario.model_validate(changed)
    except pydantic.ValidationError as exc:
        # the error at the deepest key of the document (not at a union branch's label)
        located = [(_keys(changed, tuple(e["loc"])), e["msg"]) for e in exc.errors()]
        path, message = max(located, key=lambda item: len(item[0]))
        return f"{dotted(path)}: {message}"
    problems = cross_reference_problems(s, Located(changed, {}, "scenario"))
    return f"{problems[0].field}: {problems[0].message}" if problems else None
