"""Example jobseekers: scripted benefit histories priced under a rule, with expected euros.

Like the example households of tax-benefit models: each case is a person with a benefit, a
daily amount, an accrued counter and a sequence of periods; the file states what the law says
each payer pays, and `incentive-sim cases` checks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field, model_validator

from ..scenario.loading import InputError, Located, Problem, read_yaml
from ..scenario.rules import catalogue, validate_rules
from ..scenario.schema import FundingRule, NonNegative, Strict
from ..scenario.validation import collect, validate_model
from ..scenario.vocabulary import BENEFIT_CODE, NO_BENEFIT, STATE_CODE, Benefit, State
from .pricing import price
from .rules import CompiledRule
from .spells import SpellTable

PAID_STATES = ("unemployed", "waiting", "service")


class Period(Strict):
    state: State
    paid_days: NonNegative | None = None
    days: NonNegative | None = None
    weeks: NonNegative | None = None
    benefit_paid: bool | None = None

    @model_validator(mode="after")
    def _one_length(self) -> Period:
        given = [k for k in ("paid_days", "days", "weeks") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of paid_days, days or weeks"
                             + (f" (got {', '.join(given)})" if given else ""))
        if self.state == "exit":
            raise ValueError("exit is not a period; end the history instead")
        if self.paid_days is not None and not self.is_paid:
            raise ValueError(f"paid_days needs a state where benefit is paid "
                             f"({', '.join(PAID_STATES)}); use days or weeks for {self.state}")
        return self

    @property
    def is_paid(self) -> bool:
        return self.benefit_paid if self.benefit_paid is not None else (
            self.state in PAID_STATES)

    def calendar_days(self, paid_days_per_week: int) -> float:
        if self.paid_days is not None:
            return self.paid_days * 7.0 / paid_days_per_week
        if self.weeks is not None:
            return self.weeks * 7.0
        assert self.days is not None
        return self.days


class Expect(Strict):
    municipality: float | None = None
    state: float | None = None
    fund: float | None = None
    total: float | None = None


class Case(Strict):
    name: Annotated[str, Field(min_length=1)]
    rule: Annotated[str, Field(min_length=1)] | dict[str, Any]
    benefit: Benefit
    daily_amount: NonNegative
    basic_part: NonNegative | None = None
    prior_paid_days: NonNegative = 0.0
    paid_days_per_week: Annotated[int, Field(ge=1, le=7)] = 5
    history: list[Period] = Field(min_length=1)
    expect: Expect | None = None
    tolerance: NonNegative = 0.01

    @model_validator(mode="after")
    def _basic_part(self) -> Case:
        if self.benefit == "earnings_related":
            if self.basic_part is None:
                raise ValueError("an earnings_related case needs basic_part")
            if self.basic_part > self.daily_amount:
                raise ValueError("basic_part cannot exceed daily_amount")
        elif self.basic_part is not None and self.basic_part != self.daily_amount:
            raise ValueError("basic_part only applies to earnings_related")
        return self


class CasesFile(Strict):
    cases: list[Case] = Field(min_length=1)
    rules: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class CaseResult:
    name: str
    rule: str
    municipality: float
    state: float
    fund: float
    total: float
    failures: tuple[str, ...]
    checked: bool  # the case states expected amounts

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rule": self.rule, "municipality": self.municipality,
                "state": self.state, "fund": self.fund, "total": self.total}


def case_history(case: Case) -> SpellTable:
    """The case as a one-person SpellTable."""
    ppw = case.paid_days_per_week
    lengths = np.array([p.calendar_days(ppw) for p in case.history])
    ends = np.cumsum(lengths)
    paid = np.array([p.is_paid for p in case.history])
    basic = case.basic_part if case.basic_part is not None else case.daily_amount
    return SpellTable.from_columns(
        {
            "person_id": np.zeros(len(lengths), np.int64),
            "state": [STATE_CODE[p.state] for p in case.history],
            "benefit": np.where(paid, BENEFIT_CODE[case.benefit], NO_BENEFIT),
            "benefit_paid": paid,
            "daily_amount": np.where(paid, case.daily_amount, 0.0),
            "basic_part": np.where(paid, basic, 0.0),
            "start_day": ends - lengths,
            "end_day": ends,
            "prior_paid_days": np.full(len(lengths), case.prior_paid_days),
        },
        paid_days_per_week=ppw,
    )


def price_case(case: Case, rule_name: str, rule: FundingRule) -> CaseResult:
    compiled = CompiledRule.compile(rule_name, rule, case.paid_days_per_week)
    totals = price(case_history(case), compiled).payer_totals()
    got = {"municipality": totals["municipality"], "state": totals["state"],
           "fund": totals["fund"], "total": totals["gross"]}
    failures = []
    if case.expect is not None:
        for key, want in case.expect.model_dump(exclude_none=True).items():
            if abs(got[key] - want) > case.tolerance + 1e-9:
                failures.append(f"{key}: expected {want:,.2f}, got {got[key]:,.2f} "
                                f"(difference {got[key] - want:+,.2f})")
    return CaseResult(case.name, rule_name, round(got["municipality"], 2),
                      round(got["state"], 2), round(got["fund"], 2), round(got["total"], 2),
                      tuple(failures), case.expect is not None)


def load_cases(path: Path | str) -> list[tuple[Case, str, FundingRule]]:
    """Read and validate a cases file; every case comes with the rule it names."""
    doc = read_yaml(path)
    if doc.data is None:
        raise InputError([Problem(doc.file, 1, "", "the file is empty")])
    if not isinstance(doc.data, Mapping):
        raise InputError([doc.problem((), "expected a mapping with a `cases:` list")])
    problems: list[Problem] = []
    custom: dict[str, FundingRule] = {}
    data = dict(doc.data)
    if data.get("rules"):
        try:
            custom = validate_rules(doc.sub(("rules",)), ("rules",))
        except InputError as exc:
            problems.extend(exc.problems)
        data["rules"] = {}
    try:
        cases_file = validate_model(CasesFile, Located(data, doc.lines, doc.file))
    except InputError as exc:
        collect([*problems, *exc.problems])
        raise  # pragma: no cover - collect always raises here
    known = catalogue(custom)
    # a custom rule that is itself invalid is reported where it is defined, not at every use
    raw_rules = doc.data.get("rules")
    declared = raw_rules if isinstance(raw_rules, Mapping) else {}
    out: list[tuple[Case, str, FundingRule]] = []
    for i, case in enumerate(cases_file.cases):
        if isinstance(case.rule, str):
            if case.rule in declared and case.rule not in known:
                continue
            if case.rule not in known:
                problems.append(doc.problem(("cases", i, "rule"),
                                            f"unknown rule {case.rule!r}; known: "
                                            f"{', '.join(known)}"))
                continue
            out.append((case, case.rule, known[case.rule]))
            continue
        # An inline rule: validated as a one-rule mapping named "rule" under cases[i].
        inline = doc.sub(("cases", i))
        inline = Located({"rule": inline.data["rule"]}, {
            p: v for p, v in inline.lines.items() if p[:1] == ("rule",)}, inline.file)
        try:
            rule = validate_rules(inline, ("cases", i))["rule"]
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        label = case.rule.get("title") or case.rule.get("extends") or "inline"
        out.append((case, f"{label} (inline)", rule))
    collect(problems)
    return out


def run_cases(path: Path | str) -> list[CaseResult]:
    return [price_case(case, name, rule) for case, name, rule in load_cases(path)]
