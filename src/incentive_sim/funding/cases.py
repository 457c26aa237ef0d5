"""Example jobseekers: scripted benefit histories priced under a rule, with expected euros.

Like the example households of tax-benefit models: each case is a person with a benefit, a
daily amount, an accrued counter and a sequence of periods; the file states what the law says
each payer pays, and `incentive-sim cases` checks it.

Without `start_date`, periods are lengths only and paid days accrue at `paid_days_per_week`/7 a
calendar day. With `start_date`, the history lies end to end from that date on the calendar:
benefit is paid Monday to Friday, a period of `paid_days: N` ends after its N-th weekday, and
each paid day is priced under the rule in force on its date (which a timeline needs).

Entitlements: with `max_paid_days`, a basic or earnings-related allowance ends after that many
paid days and the person goes on with the labour market subsidy (`subsidy_amount` a day),
every counter running on; a job of `employment_condition_days` in a row earns the allowance
again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field, model_validator

from ..scenario.loading import InputError, Located, Problem, read_yaml
from ..scenario.rules import catalogue, timeline_problem, unknown_rule, validate_rules
from ..scenario.schema import MAX_HORIZON_DAYS, FundingRule, NonNegative, Number, Strict
from ..scenario.validation import collect, validate_model
from ..scenario.vocabulary import BENEFIT_CODE, NO_BENEFIT, STATE_CODE, Benefit, State
from .money import cents
from .pricing import price
from .rules import CompiledRule, compile_rule
from .spells import SpellTable

PAID_STATES = ("unemployed", "waiting", "service")
LMS = BENEFIT_CODE["labour_market_subsidy"]
EMPLOYED = STATE_CODE["employed"]


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


Amount = Annotated[float, Number, Field(allow_inf_nan=False)]


class Expect(Strict):
    municipality: Amount | None = None
    state: Amount | None = None
    fund: Amount | None = None
    total: Amount | None = None


class Case(Strict):
    name: Annotated[str, Field(min_length=1)]
    rule: Annotated[str, Field(min_length=1)] | dict[str, Any]
    benefit: Benefit
    daily_amount: NonNegative
    basic_part: NonNegative | None = None
    prior_paid_days: NonNegative = 0.0
    paid_days_per_week: Annotated[int, Number, Field(ge=1, le=7)] = 5
    start_date: dt.date | None = Field(
        None, description="The first day of the history: periods then lie on the calendar, "
        "benefit paid Monday to Friday, each day priced under the rule in force on its date.")
    max_paid_days: Annotated[float, Number, Field(gt=0, allow_inf_nan=False)] | None = Field(
        None, description="Paid days of basic or earnings-related allowance before the "
        "entitlement ends and the labour market subsidy follows.")
    entitlement_used_days: NonNegative | None = Field(
        None, description="Paid days of the allowance already used at the start (default: "
        "prior_paid_days: the employment condition that opened the entitlement also reset the "
        "counter).")
    subsidy_amount: NonNegative = Field(
        37.21, description="The labour market subsidy paid a day once the allowance has ended.")
    paid_fraction: Annotated[float, Number, Field(gt=0, le=1, allow_inf_nan=False)] = Field(
        1.0, description="The part of daily_amount (and basic_part) actually paid, e.g. for an "
        "adjusted allowance: the share is taken on what is paid, and on an adjusted "
        "earnings-related allowance's basic part in proportion.")
    employment_condition_days: Annotated[float, Number, Field(gt=0, allow_inf_nan=False)] = Field(
        365.0, description="Days of work in a row that earn the allowance again (12 months "
        "from 2.9.2024).")
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
        if self.start_date is not None:
            for i, p in enumerate(self.history):
                length = p.paid_days if p.paid_days is not None else p.calendar_days(7)
                if abs(length - round(length)) > 1e-9:
                    raise ValueError(f"history[{i}]: with a start_date, periods are whole "
                                     f"days (got {length:g})")
            # priced day by day on the calendar: it must end, and before the calendar does
            span = sum(p.calendar_days(5) for p in self.history)
            if span > MAX_HORIZON_DAYS:
                raise ValueError(f"history: with a start_date, a history may span at most "
                                 f"{MAX_HORIZON_DAYS:,} days (got about {span:,.0f})")
            if (dt.date(9999, 12, 31) - self.start_date).days < span:
                raise ValueError("history: the history runs past 9999-12-31, the last date "
                                 "there is")
        if self.max_paid_days is not None and self.benefit == "labour_market_subsidy":
            raise ValueError("max_paid_days applies to basic_allowance and earnings_related; "
                             "the labour market subsidy has no maximum")
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
    expected: dict[str, float] | None = None
    passed: dict[str, bool] | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "rule": self.rule,
                               "municipality": self.municipality, "state": self.state,
                               "fund": self.fund, "total": self.total}
        if self.expected is not None:
            out["expected"] = self.expected
            out["pass"] = self.passed
        return out


@dataclass
class _Segment:
    state: int
    benefit: int          # NO_BENEFIT when not paid
    daily: float
    basic: float
    days: float           # calendar days
    paid: bool


class _Person:
    """Walks a case's periods, keeping the entitlement: which benefit is paid, how many of its
    paid days are used, and the unbroken run of work that can earn it again."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.own = BENEFIT_CODE[case.benefit]
        self.benefit = self.own
        used = case.entitlement_used_days
        self.used = case.prior_paid_days if used is None else used
        self.work_run = 0.0
        own_basic = case.basic_part if case.basic_part is not None else case.daily_amount
        paid = case.paid_fraction
        self.amounts = {self.own: (case.daily_amount * paid, own_basic * paid),
                        LMS: (case.subsidy_amount, case.subsidy_amount)}
        if self.own == LMS:
            self.amounts[LMS] = self.amounts[self.own]
        if self.left() <= 1e-9:
            self.benefit = LMS

    def left(self) -> float:
        """Paid days of the current benefit before it ends (inf: it does not)."""
        if self.case.max_paid_days is None or self.benefit == LMS:
            return np.inf
        return self.case.max_paid_days - self.used

    def segment(self, state: int, days: float, paid_days: float, paid: bool) -> _Segment:
        """A stretch of one state; pays the current benefit if `paid`, and uses it up."""
        if state == EMPLOYED:
            self.work_run += days
            if self.work_run >= self.case.employment_condition_days - 1e-9:
                self.benefit, self.used = self.own, 0.0
        else:
            self.work_run = 0.0
        if not paid:
            return _Segment(state, NO_BENEFIT, 0.0, 0.0, days, False)
        daily, basic = self.amounts[self.benefit]
        out = _Segment(state, self.benefit, daily, basic, days, True)
        self.used += paid_days
        if self.left() <= 1e-9:
            self.benefit = LMS
        return out


def _undated(case: Case) -> list[_Segment]:
    """Periods as lengths: paid days accrue at paid_days_per_week / 7 a calendar day; a
    segment in which the allowance runs out is split where it does."""
    ppw = case.paid_days_per_week
    person = _Person(case)
    out = []
    for p in case.history:
        state = STATE_CODE[p.state]
        days = p.calendar_days(ppw)
        while True:
            paid_days = days * ppw / 7.0 if p.is_paid else 0.0
            if paid_days > person.left() + 1e-9:
                part = person.left() * 7.0 / ppw
                out.append(person.segment(state, part, person.left(), True))
                days -= part
                continue
            out.append(person.segment(state, days, paid_days, p.is_paid))
            break
    return out


def _dated(case: Case) -> list[_Segment]:
    """Periods on the calendar from start_date, one calendar day at a time (benefit paid
    Monday to Friday; a period of N paid days ends after its N-th weekday), merged into runs
    of equal days. In whole-day segments every paid weekday is one paid day (the table's
    paid_days_per_week is 7)."""
    assert case.start_date is not None
    person = _Person(case)
    weekday = case.start_date.weekday()
    days: list[_Segment] = []
    for p in case.history:
        state = STATE_CODE[p.state]
        paid_left = round(p.paid_days) if p.paid_days is not None else None
        calendar_left = round(p.calendar_days(7)) if p.paid_days is None else None
        while (paid_left or 0) > 0 or (calendar_left or 0) > 0:
            paid = p.is_paid and weekday < 5
            days.append(person.segment(state, 1.0, 1.0 if paid else 0.0, paid))
            if paid_left is not None:
                paid_left -= paid
            else:
                assert calendar_left is not None
                calendar_left -= 1
            weekday = (weekday + 1) % 7
    merged: list[_Segment] = []
    for d in days:
        last = merged[-1] if merged else None
        if last is not None and (last.state, last.benefit, last.daily, last.basic, last.paid) \
                == (d.state, d.benefit, d.daily, d.basic, d.paid):
            last.days += d.days
        else:
            merged.append(d)
    return merged


def case_history(case: Case) -> SpellTable:
    """The case as a one-person SpellTable (day 0: start_date, when given)."""
    segments = _dated(case) if case.start_date is not None else _undated(case)
    segments = [g for g in segments if g.days > 1e-12]
    lengths = np.array([g.days for g in segments])
    ends = np.cumsum(lengths)
    return SpellTable.from_columns(
        {
            "person_id": np.zeros(len(segments), np.int64),
            "state": [g.state for g in segments],
            "benefit": [g.benefit for g in segments],
            "benefit_paid": [g.paid for g in segments],
            "daily_amount": [g.daily for g in segments],
            "basic_part": [g.basic for g in segments],
            "start_day": ends - lengths,
            "end_day": ends,
            "prior_paid_days": np.full(len(segments), case.prior_paid_days),
        },
        paid_days_per_week=7 if case.start_date is not None else case.paid_days_per_week,
    )


def compile_case_rule(case: Case, rule_name: str, rules: Mapping[str, FundingRule]
                      ) -> CompiledRule:
    """The case's rule, compiled with its week length and start date."""
    return compile_rule(rule_name, rules, case.paid_days_per_week, case.start_date)


def price_case(case: Case, rule_name: str, rule: CompiledRule) -> CaseResult:
    totals = price(case_history(case), rule).payer_totals()
    got = {"municipality": totals["municipality"], "state": totals["state"],
           "fund": totals["fund"], "total": totals["gross"]}
    failures = []
    expected: dict[str, float] | None = None
    passed: dict[str, bool] | None = None
    if case.expect is not None:
        expected = case.expect.model_dump(exclude_none=True)
        passed = {}
        for key, want in expected.items():
            passed[key] = abs(got[key] - want) <= case.tolerance + 1e-9
            if not passed[key]:
                failures.append(f"{key}: expected {want:,.2f}, got {got[key]:,.2f} "
                                f"(difference {got[key] - want:+,.2f})")
    return CaseResult(case.name, rule_name, cents(got["municipality"]), cents(got["state"]),
                      cents(got["fund"]), cents(got["total"]), tuple(failures),
                      case.expect is not None, expected, passed)


def load_cases(path: Path | str) -> list[tuple[Case, str, CompiledRule]]:
    """Read and validate a cases file; every case comes with the rule it names, compiled."""
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
    out: list[tuple[Case, str, CompiledRule]] = []

    def add(i: int, case: Case, label: str, name: str, rules: Mapping[str, FundingRule]
            ) -> None:
        where = ("cases", i, "rule")
        try:
            problem = timeline_problem(name, rules)
            if problem is None and rules[name].is_timeline and case.start_date is None:
                problem = (f"{label} is a timeline: give the case a start_date, so each day "
                           f"is priced under the rule in force on its date")
            if problem is not None:
                problems.append(doc.problem(where, problem))
                return
            out.append((case, label, compile_case_rule(case, name, rules)))
        except (KeyError, ValueError) as exc:  # pragma: no cover - timeline_problem finds these
            problems.append(doc.problem(where, str(exc)))

    for i, case in enumerate(cases_file.cases):
        if isinstance(case.rule, str):
            if case.rule in declared and case.rule not in known:
                continue
            if case.rule not in known:
                problems.append(doc.problem(("cases", i, "rule"),
                                            unknown_rule(case.rule, known)))
                continue
            add(i, case, case.rule, case.rule, known)
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
        add(i, case, f"{label} (inline)", INLINE, {**known, INLINE: rule})
    collect(problems)
    return out


INLINE = "(inline)"


def run_cases(path: Path | str) -> list[CaseResult]:
    return [price_case(case, name, rule) for case, name, rule in load_cases(path)]
