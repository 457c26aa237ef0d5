"""Checks that relate one part of a scenario to another: names refer to things that exist,
shares add up, capacities are not given twice for the same place."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from .loading import Located, Path_, Problem
from .rules import catalogue, preset_names, timeline_problem, unknown_rule
from .schema import FundingRule, Scenario, Transfers

SUM_TOLERANCE = 1e-9
MAX_PEOPLE = 20_000_000
"""The most people one replication may simulate (the caseload and the expected inflow over the
horizon); the national scenario has about 2.5 million."""
LAST_DATE = dt.date(9999, 12, 31)


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    return f"unknown {kind} {name!r}; known: {', '.join(known) or '(none)'}"


def cross_reference_problems(s: Scenario, doc: Located) -> list[Problem]:
    problems: list[Problem] = []

    def report(path: Path_, message: str) -> None:
        problems.append(doc.problem(path, message))

    munis = set(s.municipalities)
    groups = set(s.groups)

    # Groups: shares of the population and each benefit mix add up to one.
    total = sum(g.share for g in s.groups.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        report(("groups",), f"group shares add up to {total:g}, not 1")
    if any(g.inflow_share is not None for g in s.groups.values()):
        inflow_total = sum(g.share if g.inflow_share is None else g.inflow_share
                           for g in s.groups.values())
        if abs(inflow_total - 1.0) > SUM_TOLERANCE:
            report(("groups",), f"group inflow shares (inflow_share, else share) add up to "
                                f"{inflow_total:g}, not 1")
    for name, group in s.groups.items():
        mix = sum(group.benefit_mix.values())
        if abs(mix - 1.0) > SUM_TOLERANCE:
            report(("groups", name, "benefit_mix"), f"benefit shares add up to {mix:g}, not 1")

    # Areas: members exist, each municipality in one area at most, no name clashes.
    area_of: dict[str, str] = {}
    for area, members in s.areas.items():
        if area in munis:
            report(("areas", area), "an area cannot have the name of a municipality")
        for i, m in enumerate(members):
            if m not in munis:
                report(("areas", area, i), _unknown("municipality", m, s.municipalities))
            elif m in area_of:
                report(("areas", area, i), f"{m} is already in area {area_of[m]!r}")
            else:
                area_of[m] = area

    for key in ("initial_stock", "initial_employed", "inflow_per_year"):
        for m in getattr(s.population, key):
            if m not in munis:
                report(("population", key, m), _unknown("municipality", m, s.municipalities))
    season = max(s.population.seasonality or [1.0]) * max(
        [p.level for p in s.population.inflow_trend] or [1.0])
    people = (sum(s.population.initial_stock.values())
              + sum(s.population.inflow_per_year.values()) * season * s.horizon_days / 365.25)
    if people > MAX_PEOPLE:
        report(("population",), f"about {people:,.0f} people over the horizon (caseload and "
                                f"inflow); at most {MAX_PEOPLE:,} can be simulated")
    if (LAST_DATE - s.start_date).days < s.horizon_days:
        report(("horizon_days",), f"the horizon runs past {LAST_DATE}, the last date there is")

    for hazard_name in ("employment", "education", "inactivity", "job_loss"):
        hazard = getattr(s.transitions, hazard_name)
        if hazard is None:
            continue
        for g in hazard.group_multiplier:
            if g not in groups:
                report(("transitions", hazard_name, "group_multiplier", g),
                       _unknown("group", g, s.groups))
    by = s.transitions.exit_multiplier_by
    if by is not None:
        lacking = [m for m, spec in s.municipalities.items() if by not in spec.attributes]
        zero = [m for m, spec in s.municipalities.items() if spec.attributes.get(by) == 0]
        if lacking:
            report(("transitions", "exit_multiplier_by"),
                   f"{len(lacking)} municipalities have no attribute {by!r} "
                   f"(e.g. {lacking[0]!r}); give it under municipalities.NAME.attributes")
        elif zero:
            report(("transitions", "exit_multiplier_by"),
                   f"attribute {by!r} is 0 for {zero[0]!r}: an exit multiplier must be "
                   "positive")

    for name, svc in s.services.items():
        covered: dict[str, str] = {}
        for place in svc.capacity:
            if place in munis:
                members = [place]
            elif place in s.areas:
                members = list(s.areas[place])
            else:
                report(("services", name, "capacity", place),
                       _unknown("municipality or area", place, [*s.municipalities, *s.areas]))
                continue
            for m in members:
                if m in covered:
                    report(("services", name, "capacity", place),
                           f"capacity for {m} is already given by {covered[m]!r}")
                covered[m] = place
        for i, g in enumerate(svc.eligible.groups or []):
            if g not in groups:
                report(("services", name, "eligible", "groups", i), _unknown("group", g, s.groups))
        outcome = sum(svc.on_completion.values())
        if outcome > 1 + SUM_TOLERANCE:
            report(("services", name, "on_completion"),
                   f"outcome probabilities add up to {outcome:g}, more than 1")
        mx = svc.eligible.max_paid_days
        if mx is not None and mx < svc.eligible.min_paid_days:
            report(("services", name, "eligible", "max_paid_days"),
                   "max_paid_days is below min_paid_days")

    for m in s.policy.by_municipality:
        if m not in munis:
            report(("policy", "by_municipality", m), _unknown("municipality", m, s.municipalities))

    # A custom rule that is itself invalid is reported where it is defined, not again as an
    # unknown name wherever it is used: its name is taken from the document.
    declared = [p[1] for p in doc.lines
                if len(p) == 2 and p[0] == "rules" and isinstance(p[1], str)]
    known_rules = list(dict.fromkeys([*preset_names(), *s.rules, *declared]))
    if s.funding.in_force not in known_rules:
        report(("funding", "in_force"),
               unknown_rule(s.funding.in_force, known_rules, "funding rule"))
    for i, r in enumerate(s.funding.compare):
        if r not in known_rules:
            report(("funding", "compare", i), unknown_rule(r, known_rules, "funding rule"))
    rules = catalogue(s.rules)
    for name, rule in s.rules.items():
        if rule.timeline is not None:
            for i, entry in enumerate(rule.timeline):
                if entry.rule not in known_rules:
                    report(("rules", name, "timeline", i, "rule"),
                           unknown_rule(entry.rule, known_rules))
            if all(e.rule in known_rules for e in rule.timeline):
                problem = timeline_problem(name, rules)
                if problem:
                    report(("rules", name, "timeline"), problem)
    if s.funding.transfers is not None:
        problems.extend(_transfer_problems(s.funding.transfers, ("funding", "transfers"),
                                           s, known_rules, doc))
    for name, rule in s.rules.items():
        problems.extend(_rule_problems(rule, ("rules", name), s, known_rules, doc))
    problems.extend(_currency_problems(s, doc))
    return problems


def _money(rule: FundingRule) -> list[str]:
    """What in a rule is an amount of money (in the rule's `currency`) rather than a share."""
    parts = ["bonuses"] if rule.bonuses else []
    if rule.transfers is not None and rule.transfers.kind == "fixed" and rule.transfers.amounts:
        parts.append("fixed transfers")
    return parts


def _currency_problems(s: Scenario, doc: Located) -> list[Problem]:
    """A priced rule with amounts of its own must be in the currency of the scenario's benefits,
    since the amounts are added up together; a rule of shares only fits any currency."""
    rules = catalogue(s.rules)
    in_force = rules.get(s.funding.in_force)
    uses: list[tuple[Path_, str]] = [(("funding", "in_force"), s.funding.in_force)]
    uses += [(("funding", "compare", i), r) for i, r in enumerate(s.funding.compare)]
    # the base of a cost-neutral transfer of the rule in force is priced too
    if s.funding.transfers is not None and s.funding.transfers.kind == "cost_neutral":
        uses.append((("funding", "transfers", "base"), s.funding.transfers.base))
    if in_force is not None and in_force.transfers is not None \
            and in_force.transfers.kind == "cost_neutral":
        where: Path_ = (("rules", s.funding.in_force, "transfers", "base")
                        if s.funding.in_force in s.rules else ("funding", "in_force"))
        uses.append((where, in_force.transfers.base))
    problems: list[Problem] = []
    seen: set[str] = set()
    currency = s.benefits.currency
    for path, name in uses:
        rule = rules.get(name)
        if rule is None or name in seen:
            continue  # an unknown rule is reported as such
        seen.add(name)
        money = _money(rule)
        if money and rule.currency.upper() != currency.upper():
            problems.append(doc.problem(
                path, f"rule {name!r} has amounts ({' and '.join(money)}) in {rule.currency} "
                      f"but the scenario's benefits are in {currency} (benefits.currency)"))
    return problems


def _rule_problems(rule: FundingRule, path: Path_, s: Scenario, known_rules: list[str],
                   doc: Located) -> list[Problem]:
    if rule.transfers is None:
        return []
    return _transfer_problems(rule.transfers, (*path, "transfers"), s, known_rules, doc)


def _transfer_problems(t: Transfers, path: Path_, s: Scenario, known_rules: list[str],
                       doc: Located) -> list[Problem]:
    problems: list[Problem] = []
    if t.kind == "fixed":
        for m in t.amounts:
            if m not in s.municipalities:
                problems.append(doc.problem((*path, "amounts", m),
                                            _unknown("municipality", m, s.municipalities)))
        return problems
    if t.base not in known_rules:
        problems.append(doc.problem((*path, "base"),
                                    unknown_rule(t.base, known_rules, "funding rule")))
    if t.allocate_by != "working_age_population":
        missing = [m for m, v in s.municipalities.items() if t.allocate_by not in v.attributes]
        if missing:
            problems.append(doc.problem(
                (*path, "allocate_by"),
                f"municipalities {', '.join(missing)} have no attribute {t.allocate_by!r} "
                f"(give it under municipalities.<name>.attributes)"))
            return problems
    weights = [v.working_age_population if t.allocate_by == "working_age_population"
               else v.attributes[t.allocate_by] for v in s.municipalities.values()]
    if sum(weights) <= 0:
        problems.append(doc.problem(
            (*path, "allocate_by"),
            f"every municipality has {t.allocate_by} 0: a cost-neutral transfer has nothing "
            f"to allocate by"))
    return problems
