"""Properties of pricing and counters over generated spell histories and funding rules.

Histories: several people, each with consecutive segments in random states, durations (zero
included), benefit types, daily amounts (an earnings-related basic part never above the daily
amount), accrued paid days before the history, services. Table rows are shuffled across
people, because a SpellTable need not be sorted, but each person's rows stay in time order as
an engine writes them; one test shuffles everything. Rules: random liability blocks (random
`counts`/`charged` subsets, increasing steps with shares in [0, 1], optional resets), optional
bonuses, and the shipped presets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from incentive_sim.funding import counters, pricing
from incentive_sim.funding.counters import (
    CounterState,
    RuleCounters,
    counters_for_block,
    counters_for_rule,
)
from incentive_sim.funding.pricing import Pricing, ServiceCosts, price, service_costs_of
from incentive_sim.funding.rules import CompiledRule, compile_rule
from incentive_sim.funding.spells import COLUMNS, SpellTable
from incentive_sim.scenario.rules import catalogue, preset, preset_names
from incentive_sim.scenario.schema import FundingRule
from incentive_sim.scenario.vocabulary import (
    BENEFIT_CODE,
    BENEFITS,
    NO_BENEFIT,
    PAYERS,
    STATE_CODE,
    STATES,
    TRANSITIONS,
)

U = STATE_CODE["unemployed"]
SERVICE = STATE_CODE["service"]
ER = BENEFIT_CODE["earnings_related"]
PAID_STATES = (STATE_CODE["unemployed"], STATE_CODE["waiting"], STATE_CODE["service"])
SERVICES = ("coaching", "rehabilitative_work")
RTOL = 1e-9

FEW = settings(max_examples=60, deadline=None)
MANY = settings(max_examples=100, deadline=None)


# ---------------------------------------------------------------- histories

@dataclass
class Segment:
    """One row of a generated history, in the person's time order."""

    person_id: int
    state: int
    benefit: int
    benefit_paid: bool
    service: int
    daily_amount: float
    basic_part: float
    start_day: float
    end_day: float
    censored: bool
    prior_paid_days: float


@dataclass
class History:
    """A generated history: segments per person in time order, plus the row order of the
    SpellTable built from them: row i holds segment row_order[i] (people concatenated)."""

    people: list[list[Segment]]
    row_order: list[int]

    def segments(self) -> list[Segment]:
        return [s for person in self.people for s in person]

    def table(self) -> SpellTable:
        segs = [self.segments()[i] for i in self.row_order]
        cols = {name: np.array([getattr(s, name) for s in segs], dtype=dtype)
                for name, dtype in COLUMNS.items() if name not in ("municipality", "group")}
        cols["municipality"] = np.zeros(len(segs), np.int32)
        cols["group"] = np.zeros(len(segs), np.int32)
        return SpellTable(**cols, services=SERVICES)

    def row_of(self, person: int, k: int) -> int:
        """The table row holding the k-th segment of a person."""
        flat = sum(len(p) for p in self.people[:person]) + k
        return self.row_order.index(flat)

    def replaced(self, person: int, segments: list[Segment]) -> History:
        """The same history with one person's segments replaced; new rows go at the end."""
        people = [list(p) for p in self.people]
        old_len = len(people[person])
        people[person] = segments
        # Keep every unchanged segment in the same table position, append extra rows at the end.
        offset = sum(len(p) for p in people[:person])
        order: list[int] = []
        for flat in self.row_order:
            if flat < offset:
                order.append(flat)
            elif flat < offset + old_len:
                if flat - offset < len(segments):
                    order.append(flat)
            else:
                order.append(flat - old_len + len(segments))
        order += [offset + k for k in range(old_len, len(segments))]
        return History(people, order)


durations = st.one_of(
    st.integers(0, 900).map(float),
    st.integers(0, 40).map(float),      # short stretches: many qualifying intervals, no reset
    st.floats(0.0, 900.0, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 1.0, 7.0, 140.0, 182.0, 364.0, 420.0, 1400.0]),
)
daily_amounts = st.one_of(st.just(37.21), st.floats(1.0, 250.0))


@st.composite
def segment_kinds(draw: st.DrawFn, states: st.SearchStrategy[int] | None = None
                  ) -> dict[str, Any]:
    """State, benefit, service and amounts of one segment."""
    state = draw(states if states is not None else st.sampled_from(range(len(STATES))))
    benefit = draw(st.sampled_from([NO_BENEFIT, 0, 1, 2, 2])) if state in PAID_STATES \
        else NO_BENEFIT
    service = draw(st.sampled_from([-1, 0, 1])) if state == SERVICE else -1
    paid = benefit != NO_BENEFIT
    if state == SERVICE and paid:
        paid = draw(st.sampled_from([True, True, False]))   # some services pay no benefit
    daily = draw(daily_amounts) if benefit != NO_BENEFIT else 0.0
    basic = daily * draw(st.sampled_from([0.0, 0.5, 1.0]) | st.floats(0.0, 1.0)) \
        if benefit == ER else daily
    return dict(state=state, benefit=benefit, benefit_paid=paid, service=service,
                daily_amount=daily, basic_part=basic)


def in_time_order_within(groups: list[Any], order: list[int]) -> list[int]:
    """The row order with the rows of each group (`groups[i]`: the group of segment i, the
    segments numbered in time order) put back in time order, in the same positions."""
    out = np.array(order)
    group_at = [groups[i] for i in order]
    for group in set(groups):
        mine = np.array([g == group for g in group_at])
        out[mine] = np.sort(out[mine])
    return [int(i) for i in out]


def time_ordered_within_people(people: list[list[Segment]], order: list[int]) -> list[int]:
    """The row order with each person's rows put back in time order (same positions)."""
    return in_time_order_within([p for p, person in enumerate(people) for _ in person], order)


def untied(people: list[list[Segment]], order: list[int]) -> list[int]:
    """The row order with each set of a person's rows the times cannot order (the same
    start and end day) put back in time order (same positions)."""
    return in_time_order_within([(p, s.start_day, s.end_day) for p, person in enumerate(people)
                                 for s in person], order)


@st.composite
def histories(draw: st.DrawFn, max_people: int = 4, max_segments: int = 6,
              short_jobs: bool = False) -> History:
    """`short_jobs`: short spells of work between spells of paid unemployment, waiting or
    service: many separate stretches of time towards a reset, which may or may not be met."""
    n_people = draw(st.integers(1, max_people))
    ids = draw(st.lists(st.integers(0, 10**6), min_size=n_people, max_size=n_people,
                        unique=True))
    people = []
    for pid in ids:
        t = draw(st.one_of(st.just(0.0), st.integers(0, 300).map(float),
                           st.floats(0.0, 300.0)))
        prior = draw(st.one_of(st.just(0.0), st.integers(0, 1500).map(float),
                               st.floats(0.0, 1500.0)))
        segments = []
        for j in range(draw(st.integers(1, max_segments))):
            if short_jobs:
                kind = draw(segment_kinds(st.just(STATE_CODE["employed"]) if j % 2 else
                                          st.sampled_from(PAID_STATES)))
                d = draw(st.integers(1, 40).map(float) | st.floats(0.5, 40.0))
            else:
                kind = draw(segment_kinds())
                d = draw(durations)
            segments.append(Segment(person_id=pid, start_day=t, end_day=t + d, censored=False,
                                    prior_paid_days=prior, **kind))
            t += d
        segments[-1].censored = draw(st.booleans())
        people.append(segments)
    n = sum(len(p) for p in people)
    order = draw(st.permutations(range(n)))
    return History(people, time_ordered_within_people(people, order))


# ---------------------------------------------------------------- rules

# A timeline preset is priced as if the histories began on this date, so that the switch of
# 1.1.2025 falls 61 days in, inside most generated histories.
TIMELINE_START = dt.date(2024, 11, 1)


@cache
def compiled_preset(name: str) -> CompiledRule:
    return compile_rule(name, catalogue(), 5, TIMELINE_START)


@st.composite
def rule_documents(draw: st.DrawFn, resets: bool | None = None, rising: bool = False,
                   bonuses: bool = True) -> dict[str, Any]:
    """A custom funding rule as data. `resets`: None random, True every block has one (where
    some state is left to qualify), False none. `rising`: non-decreasing shares."""
    block_of = draw(st.lists(st.integers(-1, 2), min_size=len(BENEFITS), max_size=len(BENEFITS)))
    liability = []
    for b in range(3):
        covered = [name for name, blk in zip(BENEFITS, block_of, strict=True) if blk == b]
        if not covered:
            continue
        counts = sorted(draw(st.sets(st.sampled_from(STATES))))
        charged = sorted(draw(st.sets(st.sampled_from(STATES))))
        n_steps = draw(st.integers(1, 5))
        days = sorted(draw(st.sets(st.integers(0, 1200), min_size=n_steps, max_size=n_steps)))
        shares = draw(st.lists(st.sampled_from([0.0, 0.1, 0.5, 0.7, 1.0]) | st.floats(0.0, 1.0),
                               min_size=n_steps, max_size=n_steps))
        if rising:
            shares = sorted(shares)
        if draw(st.booleans()):
            steps = [{"from_day": d, "share": s} for d, s in zip(days, shares, strict=True)]
        else:
            steps = [{"from_week": d / 5, "share": s} for d, s in zip(days, shares, strict=True)]
        block: dict[str, Any] = {"benefits": covered, "counts": counts, "charged": charged,
                                 "municipality_share": steps}
        free = [s for s in STATES if s not in counts]
        want_reset = draw(st.booleans()) if resets is None else resets
        if want_reset and free:
            after = sorted(draw(st.sets(st.sampled_from(free), min_size=1)))
            need = draw(st.sampled_from([1.0, 30.0, 182.0, 364.0]) | st.floats(1.0, 400.0))
            within = need + draw(st.sampled_from([0.0, 670.0]) | st.floats(0.0, 900.0))
            block["reset"] = {"after_days_in": after, "days": need, "within_days": within}
        liability.append(block)
    doc: dict[str, Any] = {"title": "generated", "liability": liability}
    if bonuses:
        doc["bonuses"] = draw(st.lists(st.builds(
            lambda on, amount, lasting, min_counter, payers: {
                "on": on, "amount": amount, "lasting_days": lasting, "min_counter": min_counter,
                "from": payers[0], "to": payers[1]},
            st.sampled_from(sorted(TRANSITIONS)), st.floats(0.0, 3000.0),
            st.sampled_from([0.0, 90.0]) | st.floats(0.0, 400.0),
            st.sampled_from([0.0, 300.0]) | st.floats(0.0, 800.0),
            st.permutations(PAYERS).map(lambda p: p[:2])), max_size=2))
    return doc


def compile_document(doc: dict[str, Any]) -> CompiledRule:
    return CompiledRule.compile("generated", FundingRule.model_validate(doc))


presets = st.sampled_from(preset_names()).map(compiled_preset)
simple_presets = st.sampled_from([n for n in preset_names() if not preset(n).is_timeline]
                                 ).map(compiled_preset)
generated_rules = rule_documents().map(compile_document)
rules = st.one_of(presets, generated_rules)
simple_rules = st.one_of(simple_presets, generated_rules)

service_costs = st.builds(
    lambda cost, by_state, comp: ServiceCosts(np.array(cost), np.array(by_state),
                                              np.array(comp)),
    st.lists(st.floats(0.0, 200.0), min_size=2, max_size=2),
    st.lists(st.booleans(), min_size=2, max_size=2),
    st.lists(st.floats(0.0, 250.0), min_size=2, max_size=2),
)


# ---------------------------------------------------------------- helpers

def public_part(spells: SpellTable) -> np.ndarray:
    """The co-financeable daily amount: the basic part of an earnings-related benefit (never
    above the daily amount), the whole daily amount otherwise."""
    return np.where(spells.benefit == ER, np.minimum(spells.basic_part, spells.daily_amount),
                    spells.daily_amount)


def service_outlay(spells: SpellTable, services: ServiceCosts) -> np.ndarray:
    in_service = (spells.state == SERVICE) & (spells.service >= 0)
    code = np.where(in_service, spells.service, 0)
    return np.where(in_service, services.cost_per_day[code] * spells.duration, 0.0)


def municipal_cost(p: Pricing) -> float:
    """The municipality's benefit and service cost (bonuses excluded)."""
    return float(p.segment_total("municipality").sum())


def scale_of(*values: float) -> float:
    return max(1.0, *(abs(v) for v in values))


def assert_totals_close(a: dict[str, float], b: dict[str, float]) -> None:
    tol = RTOL * scale_of(*a.values(), *b.values())
    for payer in a:
        assert a[payer] == pytest.approx(b[payer], rel=RTOL, abs=tol), payer


def block_index(rule: CompiledRule, benefit: int) -> int:
    """The block whose counter is the rule's counter for a segment with this benefit."""
    return max(int(rule.block_of_benefit[benefit]), 0)


def lengthened(history: History, person: int, k: int, extra: float) -> History:
    """The history with the person's k-th segment `extra` days longer; later ones move on."""
    segs = [Segment(**{f.name: getattr(s, f.name) for f in fields(Segment)})
            for s in history.people[person]]
    segs[k].end_day += extra
    for s in segs[k + 1:]:
        s.start_day += extra
        s.end_day += extra
    return history.replaced(person, segs)


def with_unemployment_appended(history: History, person: int, days: float,
                               kind: dict[str, Any]) -> History:
    """The history with an unemployed segment of `days` after the person's last segment."""
    segs = list(history.people[person])
    last = segs[-1]
    segs.append(Segment(person_id=last.person_id, start_day=last.end_day,
                        end_day=last.end_day + days, censored=False,
                        prior_paid_days=last.prior_paid_days, service=-1,
                        **{**kind, "state": U}))
    return history.replaced(person, segs)


unemployed_kinds = st.builds(
    lambda benefit, daily, basic_share: dict(
        benefit=benefit, benefit_paid=benefit != NO_BENEFIT,
        daily_amount=daily if benefit != NO_BENEFIT else 0.0,
        basic_part=daily * basic_share if benefit == ER else daily),
    st.sampled_from([NO_BENEFIT, 0, 1, 2]), daily_amounts, st.floats(0.0, 1.0))


# ---------------------------------------------------------------- properties

@MANY
@given(histories(), rules, service_costs)
def test_payers_add_up_to_the_gross_outlay(history: History, rule: CompiledRule,
                                           services: ServiceCosts) -> None:
    spells = history.table()
    p = price(spells, rule, services)
    gross_benefit = spells.daily_amount * spells.paid_days
    outlay = gross_benefit + service_outlay(spells, services)
    per_segment = sum(p.segment_total(payer) for payer in PAYERS)
    tol = RTOL * scale_of(float(np.abs(outlay).sum()))
    np.testing.assert_allclose(sum(p.benefit[payer] for payer in PAYERS), gross_benefit,
                               rtol=RTOL, atol=tol)
    np.testing.assert_allclose(per_segment, outlay, rtol=RTOL, atol=tol)
    totals = p.payer_totals()
    bonus_scale = float(p.bonuses.amount.sum())
    assert totals["gross"] == pytest.approx(float(outlay.sum()), rel=RTOL,
                                            abs=tol + RTOL * bonus_scale)
    assert sum(totals[payer] for payer in PAYERS) == pytest.approx(
        float(outlay.sum()), rel=RTOL, abs=tol + RTOL * bonus_scale)


@MANY
@given(histories(), rules, service_costs)
def test_no_payer_amount_is_negative_for_benefits_and_services(
        history: History, rule: CompiledRule, services: ServiceCosts) -> None:
    spells = history.table()
    p = price(spells, rule, services)
    # Only rounding may dip below zero: state = public - municipality when the share is 1.
    tol = RTOL * scale_of(float((spells.daily_amount * spells.paid_days).max(initial=0.0)))
    for item in (p.benefit, p.service):
        for payer in PAYERS:
            assert np.all(item[payer] >= -tol), (payer, item[payer])


@MANY
@given(histories(), rules)
def test_the_municipal_share_never_exceeds_the_top_share_of_the_basic_amount(
        history: History, rule: CompiledRule) -> None:
    spells = history.table()
    p = price(spells, rule)
    basic_amount = public_part(spells) * spells.paid_days
    ceiling = rule.top_share * basic_amount
    assert np.all(p.benefit["municipality"] <= ceiling * (1 + RTOL) + RTOL)


@MANY
@given(histories(), rules, service_costs, st.data())
def test_more_unemployed_days_at_the_end_of_a_history_never_lower_the_municipal_cost(
        history: History, rule: CompiledRule, services: ServiceCosts, data: st.DataObject
) -> None:
    """Appending unemployment after a person's last segment, and then lengthening it, never
    lowers the municipality's cost, bonuses included: nothing later can be reset or entered.
    (A middle segment is different: see the two tests below.)"""
    person = data.draw(st.integers(0, len(history.people) - 1))
    kind = data.draw(unemployed_kinds)
    short_days = data.draw(durations)
    long_days = short_days + data.draw(st.floats(0.0, 900.0) | st.integers(1, 900).map(float))
    costs = [price(h.table(), rule, services).payer_totals()["municipality"] for h in (
        history,
        with_unemployment_appended(history, person, short_days, kind),
        with_unemployment_appended(history, person, long_days, kind))]
    tol = RTOL * scale_of(*costs)
    assert costs[0] <= costs[1] + tol
    assert costs[1] <= costs[2] + tol


@MANY
@given(histories(), rule_documents(resets=False, rising=True).map(compile_document),
       service_costs, st.data())
def test_lengthening_any_unemployed_segment_never_lowers_the_cost_without_resets(
        history: History, rule: CompiledRule, services: ServiceCosts, data: st.DataObject
) -> None:
    """Without resets and with non-decreasing shares, a longer unemployed segment anywhere in a
    history (later segments moving on) never lowers the municipal benefit and service cost:
    later counters can only rise, and a higher counter never has a lower share."""
    person = data.draw(st.integers(0, len(history.people) - 1))
    k = data.draw(st.integers(0, len(history.people[person]) - 1))
    kind = data.draw(unemployed_kinds)
    segs = list(history.people[person])
    segs[k] = Segment(**{**{f.name: getattr(segs[k], f.name) for f in fields(Segment)},
                         **kind, "state": U, "service": -1})
    base = history.replaced(person, segs)
    longer = lengthened(base, person, k, data.draw(st.floats(0.0, 900.0)))
    before = municipal_cost(price(base.table(), rule, services))
    after = municipal_cost(price(longer.table(), rule, services))
    assert before <= after + RTOL * scale_of(before, after)


def test_lengthening_a_middle_segment_can_lower_the_cost_when_resets_exist() -> None:
    """Why the property above excludes resets. Under fi_2015_two_step, 100 days of work, a
    spell on earnings-related allowance (not co-financed), 100 days of work, 280 days (200 paid)
    on labour market subsidy, 82 days of work, 280 days on the subsidy. With 10 days between the
    first two jobs, 100 + 82 days of work reset the counter inside the second job and consume it,
    so 18 + 82 days later do not; the last spell runs from counter 200 to 400: 100 days at 50 %.
    With 800 days between them the first job falls out of the 852-day window, the second and
    third jobs together (182 days) reset the counter just before the last spell, which then
    costs the municipality nothing."""
    rule = compiled_preset("fi_2015_two_step")

    def cost(gap: float) -> float:
        periods = [(3, -1, 100.0), (U, ER, gap), (3, -1, 100.0), (U, 0, 280.0), (3, -1, 82.0),
                   (U, 0, 280.0)]
        ends = np.cumsum([d for _, _, d in periods])
        spells = SpellTable.from_columns({
            "person_id": np.zeros(len(periods), np.int64),
            "state": [s for s, _, _ in periods], "benefit": [b for _, b, _ in periods],
            "daily_amount": [37.21 if b >= 0 else 0.0 for _, b, _ in periods],
            "start_day": ends - [d for _, _, d in periods], "end_day": ends})
        return price(spells, rule).payer_totals()["municipality"]

    assert cost(10.0) == pytest.approx(100 * 0.5 * 37.21)   # 1860.50
    assert cost(800.0) == pytest.approx(0.0, abs=1e-9)


@FEW
@given(histories(), rule_documents())
def test_an_all_zero_rule_charges_municipalities_nothing(
        history: History, doc: dict[str, Any]) -> None:
    for block in doc["liability"]:
        block["municipality_share"] = [{**s, "share": 0.0} for s in block["municipality_share"]]
    doc["bonuses"] = []
    p = price(history.table(), compile_document(doc))
    assert np.all(p.benefit["municipality"] == 0.0)
    assert p.payer_totals()["municipality"] == 0.0


def pricing_arrays(p: Pricing) -> dict[str, np.ndarray]:
    arrays = {f"benefit.{k}": v for k, v in p.benefit.items()}
    arrays |= {f"service.{k}": v for k, v in p.service.items()}
    arrays |= {f"bonuses.{f.name}": getattr(p.bonuses, f.name) for f in fields(p.bonuses)}
    arrays["counter_at_start"] = p.counter_at_start
    return arrays


@FEW
@given(histories(), rules, service_costs, st.booleans())
def test_pricing_is_pure(history: History, rule: CompiledRule, services: ServiceCosts,
                         stored_counter: bool) -> None:
    spells = history.table()
    if stored_counter:
        spells = spells.with_counter(rule.name, counters_for_rule(spells, rule))
    inputs = {k: v.copy() for k, v in spells.columns().items()}
    counters = {k: v.copy() for k, v in spells.counter_at_start.items()}
    service_inputs = {f.name: getattr(services, f.name).copy() for f in fields(services)}
    first = pricing_arrays(price(spells, rule, services))
    second = pricing_arrays(price(spells, rule, services))
    assert first.keys() == second.keys()
    for key in first:
        assert np.array_equal(first[key], second[key]), key
    for key, value in inputs.items():
        assert np.array_equal(getattr(spells, key), value), key
    assert spells.counter_at_start.keys() == counters.keys()
    for key, value in counters.items():
        assert np.array_equal(spells.counter_at_start[key], value), key
    for key, value in service_inputs.items():
        assert np.array_equal(getattr(services, key), value), key


@FEW
@given(histories(), rules, rules, service_costs)
def test_service_costs_and_the_funds_part_are_the_same_under_every_rule(
        history: History, rule: CompiledRule, other: CompiledRule, services: ServiceCosts
) -> None:
    """The ledger works out the service days' costs once for all the rules it prices
    (service_costs_of, handed to price) and books them and the fund's part of the benefits
    once: both must be what price works out under any rule, to the bit."""
    spells = history.table()
    once = service_costs_of(spells, services)
    funds = []
    for r in (rule, other):
        own = pricing_arrays(price(spells, r, services))
        handed = pricing_arrays(price(spells, r, services, service_cost=once))
        for key, value in own.items():
            assert handed[key].tobytes() == value.tobytes(), key
        for payer in PAYERS:
            assert own[f"service.{payer}"].tobytes() == once[payer].tobytes(), payer
        funds.append(own["benefit.fund"].tobytes())
    assert funds[0] == funds[1]


def split(history: History, person: int, k: int, fraction: float) -> History:
    """The person's k-th segment cut into two consecutive segments at `fraction` of its length.
    The first part keeps the original's table row, the second is appended as the last row."""
    segs = list(history.people[person])
    s = segs[k]
    cut = s.start_day + fraction * (s.end_day - s.start_day)
    values = {f.name: getattr(s, f.name) for f in fields(Segment)}
    first = Segment(**{**values, "end_day": cut, "censored": False})
    second = Segment(**{**values, "start_day": cut})
    people = [list(p) for p in history.people]
    people[person] = [*segs[:k], first, second, *segs[k + 1:]]
    offset = sum(len(p) for p in history.people[:person])
    order = [flat if flat <= offset + k else flat + 1 for flat in history.row_order]
    return History(people, [*order, offset + k + 1])


def interior_cut(history: History, person: int, k: int, fraction: float) -> bool:
    """Whether the cut falls strictly inside the segment. (A cut at an end makes a zero-length
    segment that starts together with its neighbour; see the test of row order below.)"""
    s = history.people[person][k]
    return s.start_day < s.start_day + fraction * (s.end_day - s.start_day) < s.end_day


@MANY
@pytest.mark.parametrize("rule_kind", ["without resets", "with resets", "presets"])
@given(history=histories(), services=service_costs, data=st.data())
def test_splitting_a_segment_in_two_keeps_every_payers_total(
        rule_kind: str, history: History, services: ServiceCosts, data: st.DataObject) -> None:
    """Unless a reset falls inside the first part: a state charged but not counted pays the
    share at its start for every day, so a cut just after a reset (possible where a custom rule
    charges a state that also qualifies for the reset) prices the rest at the reset counter."""
    rule = data.draw({"without resets": rule_documents(resets=False).map(compile_document),
                      "with resets": rule_documents(resets=True).map(compile_document),
                      "presets": presets}[rule_kind])
    person = data.draw(st.integers(0, len(history.people) - 1))
    k = data.draw(st.integers(0, len(history.people[person]) - 1))
    fraction = data.draw(st.sampled_from([0.5, 1e-9, 1 - 1e-9]) | st.floats(0.0, 1.0))
    assume(interior_cut(history, person, k, fraction))
    pieces = split(history, person, k, fraction)
    whole = price(history.table(), rule, services)
    parts = price(pieces.table(), rule, services)
    first, second = parts.counter_at_start[history.row_of(person, k)], parts.counter_at_start[-1]
    seg = pieces.people[person][k]
    block = rule.blocks[block_index(rule, seg.benefit)] if rule.blocks else None
    reset_between = (block is not None and block.reset_states is not None
                     and bool(block.reset_states[seg.state]) and second != first)
    assume(not reset_between)
    assert_totals_close(parts.payer_totals(), whole.payer_totals())
    for payer in PAYERS:
        assert parts.bonus_net(payer).sum() == pytest.approx(
            whole.bonus_net(payer).sum(), rel=RTOL, abs=RTOL)


@MANY
@pytest.mark.parametrize("rule_kind", ["without resets", "with resets", "presets"])
@given(history=histories(), data=st.data())
def test_splitting_a_segment_in_two_keeps_the_counters(
        rule_kind: str, history: History, data: st.DataObject) -> None:
    """Every other segment keeps its counter; the second part starts where the first ends:
    the counter plus the counted paid days of the first part, or (in a state that qualifies
    for a reset) the same counter, or 0 when a reset fell inside the first part."""
    rule = data.draw({"without resets": rule_documents(resets=False).map(compile_document),
                      "with resets": rule_documents(resets=True).map(compile_document),
                      "presets": presets}[rule_kind])
    assume(rule.blocks)
    person = data.draw(st.integers(0, len(history.people) - 1))
    k = data.draw(st.integers(0, len(history.people[person]) - 1))
    fraction = data.draw(st.sampled_from([0.5, 1e-9, 1 - 1e-9]) | st.floats(0.0, 1.0))
    assume(interior_cut(history, person, k, fraction))
    pieces = split(history, person, k, fraction)
    whole = counters_for_rule(history.table(), rule)
    parts = counters_for_rule(pieces.table(), rule)
    scale = RTOL * scale_of(float(np.abs(whole).max()), float(np.abs(parts).max()))
    # Every original row keeps its position (the first part takes the split segment's row).
    split_row = history.row_of(person, k)
    others = np.arange(len(whole)) != split_row
    np.testing.assert_allclose(parts[:-1][others], whole[others], rtol=RTOL, atol=scale)
    first, second = parts[split_row], parts[-1]
    assert first == pytest.approx(whole[split_row], rel=RTOL, abs=scale)
    seg = pieces.people[person][k]
    block = rule.blocks[block_index(rule, seg.benefit)]
    qualifies = block.reset_states is not None and bool(block.reset_states[seg.state])
    counted = bool(block.counts[seg.state] and block.benefits[seg.benefit] and seg.benefit_paid)
    paid_days = (seg.end_day - seg.start_day) * 5 / 7 if counted else 0.0
    if qualifies:
        assert second == pytest.approx(first, rel=RTOL, abs=scale) or second == 0.0
    else:
        assert second == pytest.approx(first + paid_days, rel=RTOL, abs=scale)


def by_segment(history: History, per_row: np.ndarray) -> np.ndarray:
    """Per-row values of a table rearranged into the history's segment order."""
    out = np.empty_like(per_row)
    out[history.row_order] = per_row
    return out


@MANY
@given(histories(), rules, service_costs, st.data())
def test_the_row_order_of_a_table_changes_neither_counters_nor_prices(
        history: History, rule: CompiledRule, services: ServiceCosts, data: st.DataObject
) -> None:
    """Rows may come in any order, even a person's: time order is in start_day and end_day
    (a zero-length segment [t, t) comes before a segment [t, u) that starts when it ends).
    Where the times cannot order a person's rows (zero-length segments at one moment), the
    table's order is the time order, so those rows keep their order among themselves."""
    order = data.draw(st.permutations(range(len(history.row_order))))
    shuffled = History(history.people, untied(history.people, order))
    ordered_table, shuffled_table = history.table(), shuffled.table()
    a, b = price(ordered_table, rule, services), price(shuffled_table, rule, services)
    scale = RTOL * scale_of(float(np.abs(a.counter_at_start).max(initial=0.0)))
    np.testing.assert_allclose(by_segment(shuffled, b.counter_at_start),
                               by_segment(history, a.counter_at_start), rtol=RTOL, atol=scale)
    assert_totals_close(b.payer_totals(), a.payer_totals())


def online_counters(spells: SpellTable, rule: CompiledRule) -> tuple[np.ndarray, np.ndarray]:
    """What an engine sees: each person driven through their segments one at a time, in time
    order, (a) with one CounterState per block, the rule's counter being the covering block's,
    and (b) with the RuleCounters wrapper an engine keeps for the rule in force."""
    by_block, by_rule = np.zeros(len(spells)), np.zeros(len(spells))
    for pid in np.unique(spells.person_id):
        rows = np.flatnonzero(spells.person_id == pid)
        rows = rows[np.lexsort((spells.end_day[rows], spells.start_day[rows]))]
        initial = [spells.prior_paid_days[rows[0]]]
        blocks = [CounterState(block, initial, spells.paid_days_per_week)
                  for block in rule.blocks]
        whole_rule = RuleCounters(rule, initial, spells.paid_days_per_week)
        for row in rows:
            segment = (spells.state[[row]], spells.benefit[[row]], spells.benefit_paid[[row]],
                       spells.start_day[[row]], spells.end_day[[row]])
            at_start = [float(c.advance(np.array([0]), *segment)[0]) for c in blocks]
            if at_start:
                by_block[row] = at_start[block_index(rule, int(spells.benefit[row]))]
            by_rule[row] = float(whole_rule.advance(np.array([0]), *segment)[0])
    return by_block, by_rule


@MANY
@given(histories(max_people=3, max_segments=8)
       | histories(max_people=3, max_segments=24, short_jobs=True), simple_rules)
def test_offline_counters_agree_with_the_online_counter_state(
        history: History, rule: CompiledRule) -> None:
    """Some histories alternate short jobs with unemployment, so that more than four separate
    stretches of qualifying time are kept (the interval lists grow)."""
    spells = history.table()
    offline = counters_for_rule(spells, rule)
    by_block, by_rule = online_counters(spells, rule)
    scale = RTOL * scale_of(float(np.abs(by_block).max(initial=0.0)))
    np.testing.assert_allclose(offline, by_block, rtol=RTOL, atol=scale)
    np.testing.assert_allclose(offline, by_rule, rtol=RTOL, atol=scale)


@MANY
@given(histories(max_people=4, max_segments=12)
       | histories(max_people=4, max_segments=24, short_jobs=True), simple_rules,
       st.integers(1, 30))
def test_counters_computed_some_people_at_a_time_are_the_whole_historys(
        history: History, rule: CompiledRule, chunk_rows: int) -> None:
    """A national history's counters are computed a million segments (whole people) at a
    time: cut into chunks of any size, the counters are those of the history in one piece."""
    spells = history.table()
    for block in rule.blocks:
        whole = counters_for_block(spells, block, chunk_rows=len(spells) + 1)
        chunked = counters_for_block(spells, block, chunk_rows=chunk_rows)
        scale = RTOL * scale_of(float(np.abs(whole).max(initial=0.0)))
        np.testing.assert_allclose(chunked, whole, rtol=RTOL, atol=scale)


def plain_price(spells: SpellTable, rule: CompiledRule, services: ServiceCosts,
                counter: np.ndarray) -> dict[str, np.ndarray]:
    """A simple rule's prices by the plain whole-array formulas (boolean masks, np.where, a
    binary search for the share step), as pricing was first written."""
    def integral(s: Any, x: np.ndarray) -> np.ndarray:
        i = np.maximum(np.searchsorted(s._knots, x, side="right") - 1, 0)
        return np.asarray(s._integral[i] + s.shares[i] * (x - s._knots[i]))

    paid = np.where(spells.benefit_paid, (spells.end_day - spells.start_day) * (5 / 7.0), 0.0)
    basic = np.where(spells.benefit == ER, np.minimum(spells.basic_part, spells.daily_amount),
                     spells.daily_amount)
    public = basic * paid
    municipality = np.zeros(len(spells))
    for i, block in enumerate(rule.blocks):
        covered = rule.block_of_benefit[spells.benefit] == i
        counts = covered & block.counts[spells.state]
        charged = covered & block.charged[spells.state]
        moving, still = charged & counts, charged & ~counts
        s = block.schedule
        municipality[moving] = basic[moving] * (integral(s, counter[moving] + paid[moving])
                                                - integral(s, counter[moving]))
        i_still = np.maximum(np.searchsorted(s.thresholds, counter[still], side="right") - 1, 0)
        municipality[still] = basic[still] * paid[still] * s.shares[i_still]
    in_service = (spells.state == SERVICE) & (spells.service >= 0)
    code = np.where(in_service, spells.service, 0)
    days = np.where(in_service, spells.end_day - spells.start_day, 0.0)
    cost = services.cost_per_day[code] * days
    by_state = services.paid_by_state[code]
    compensation = np.minimum(services.state_compensation_per_day[code] * days, cost)
    out = {"benefit.municipality": municipality, "benefit.state": public - municipality,
           "benefit.fund": spells.daily_amount * paid - public,
           "service.state": np.where(by_state, cost, compensation),
           "service.municipality": np.where(by_state, 0.0, cost - compensation)}
    # bonuses: every run of a person's segments in one state, its end by maximum.at
    order = spells.person_order()
    pid, state = spells.person_id[order], spells.state[order]
    same_person = np.concatenate([[False], pid[1:] == pid[:-1]])
    new_run = ~same_person | (np.concatenate([[-1], state[:-1]]) != state)
    run = np.cumsum(new_run) - 1
    run_end = np.zeros(run[-1] + 1)
    np.maximum.at(run_end, run, spells.end_day[order])
    start = spells.start_day[order]
    segment, day = [], []
    for b in rule.bonuses:
        ok = (new_run & same_person & (state == b.target_state)
              & (run_end[run] - start >= b.lasting_days) & (counter[order] >= b.min_counter))
        segment.append(order[ok])
        day.append(start[ok] + b.lasting_days)
    out["bonuses.segment"] = np.concatenate(segment or [np.zeros(0, np.int64)])
    out["bonuses.day"] = np.concatenate(day or [np.zeros(0)])
    return out


@MANY
@given(histories(max_people=4, max_segments=8), simple_rules, service_costs,
       st.sampled_from([1, 2, 5, 1 << 16]))
def test_pricing_block_by_block_gives_the_bits_of_the_plain_formulas(
        history: History, rule: CompiledRule, services: ServiceCosts, block_rows: int
) -> None:
    """Pricing works a block of rows at a time with branch-free selects, masks by
    comparison and share steps by counting; each row's amounts must be those of the plain
    formulas to the last bit, bonuses included, however the rows are cut into blocks."""
    doc = rule.rule.model_dump(by_alias=True)
    doc["bonuses"] = [{"on": "employment", "lasting_days": 30, "amount": 900, "from": "state",
                       "to": "municipality"}]
    rule = CompiledRule.compile(rule.name, FundingRule.model_validate(doc))
    spells = history.table()
    counter = counters_for_rule(spells, rule)
    default, pricing.BLOCK_ROWS = pricing.BLOCK_ROWS, block_rows
    try:
        got = pricing_arrays(price(spells, rule, services, counter_at_start=counter))
    finally:
        pricing.BLOCK_ROWS = default
    for key, expected in plain_price(spells, rule, services, counter).items():
        assert got[key].tobytes() == expected.tobytes(), key


@MANY
@given(histories(max_people=6, max_segments=8)
       | histories(max_people=6, max_segments=8, short_jobs=True), simple_rules,
       st.integers(1, 30))
def test_walking_people_together_or_chunk_by_chunk_gives_the_same_bits(
        history: History, rule: CompiledRule, chunk_rows: int) -> None:
    """Fewer than 8 qualifying segments each: all the walked people share the rounds of the
    walk. Walked chunk by chunk instead (as people with longer lists are), their counters
    are the same to the last bit."""
    spells = history.table()
    for block in rule.blocks:
        together = counters_for_block(spells, block, chunk_rows=chunk_rows)
        default, counters._SHORT_LISTS = counters._SHORT_LISTS, 0
        try:
            by_chunk = counters_for_block(spells, block, chunk_rows=chunk_rows)
        finally:
            counters._SHORT_LISTS = default
        assert together.tobytes() == by_chunk.tobytes()


@MANY
@given(histories(), rules)
def test_the_counted_segments_are_those_their_block_counts(history: History,
                                                           rule: CompiledRule) -> None:
    """A segment advances the simple rule's counter when it is paid a benefit, in a state
    the block giving its counter (the one covering its benefit, else the first) counts, and
    that block covers the benefit; a timeline's rules each by their own blocks."""
    table = history.table()
    for simple in rule.simple_rules():
        got = counters.counted_mask(table, simple)
        expected = [bool(simple.blocks) and bool(
            simple.blocks[block_index(simple, b)].counts[s]
            and simple.blocks[block_index(simple, b)].benefits[b] and paid)
            for s, b, paid in zip(table.state, table.benefit, table.benefit_paid, strict=True)]
        assert got.tolist() == expected
