"""The ledger: month splitting, booking by month/municipality/payer/item, transfers.

Histories are generated with numpy (fixed seeds): people with consecutive segments in every
state, zero-length and long segments, services, every benefit type, accrued counters; and a
simulated history of the small fixture scenario.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incentive_sim.accounting.ledger import (
    ITEM_INDEX,
    PAYER_INDEX,
    Ledger,
    Plan,
    cells_of_distinct_pairs,
    counted_mask,
    month_index,
    service_costs,
    split_by_month,
)
from incentive_sim.funding.counters import counters_for_rule
from incentive_sim.funding.pricing import price
from incentive_sim.funding.rules import CompiledRule
from incentive_sim.funding.spells import SpellTable
from incentive_sim.funding.transfers import DAYS_PER_YEAR
from incentive_sim.scenario import Scenario, load_scenario, scenario_rules
from incentive_sim.scenario.schema import FundingRule
from incentive_sim.scenario.vocabulary import BENEFIT_CODE, NO_BENEFIT, PAYERS, STATE_CODE, STATES
from incentive_sim.simulation.engine import simulate

FIXTURE = Path(__file__).parent / "fixtures/small_run.yaml"
RTOL = 1e-9
PAID_STATES = [STATE_CODE[s] for s in ("unemployed", "waiting", "service")]
ER = BENEFIT_CODE["earnings_related"]

# charged but not counted states (priced at the share the counter has reached), and a service
# state that counts without being charged
STILL_RULE = FundingRule.model_validate({
    "title": "still", "liability": [{
        "benefits": ["labour_market_subsidy", "basic_allowance"],
        "counts": ["unemployed"], "charged": ["unemployed", "waiting", "service"],
        "municipality_share": [{"from_day": 30, "share": 0.25}, {"from_day": 200, "share": 0.6}],
    }, {
        "benefits": ["earnings_related"], "counts": ["unemployed", "service"],
        "charged": ["waiting"], "municipality_share": [{"from_day": 0, "share": 0.1}],
    }],
    "bonuses": [{"on": "education", "amount": 300.0, "lasting_days": 20, "from": "state",
                 "to": "municipality"}],
})


@cache
def small() -> Scenario:
    return load_scenario(FIXTURE)


def all_rules() -> list[CompiledRule]:
    s = small()
    rules = scenario_rules(s)
    compiled = [CompiledRule.compile(n, r) for n, r in rules.items() if not r.is_timeline]
    return [*compiled, CompiledRule.compile("still", STILL_RULE)]


def history(seed: int, people: int = 60, horizon: float = 365.0) -> SpellTable:
    """Consecutive segments per person in random states, durations from 0 to 400 days (some
    ending exactly at a month start), rows shuffled."""
    rng = np.random.default_rng(seed)
    s = small()
    month_starts = Plan.of(s).month_starts
    cols: dict[str, list[float]] = {k: [] for k in (
        "person_id", "municipality", "group", "state", "service", "benefit", "benefit_paid",
        "daily_amount", "basic_part", "start_day", "end_day", "censored", "prior_paid_days")}
    for pid in range(people):
        t = float(rng.choice([0.0, rng.uniform(0, 200)]))
        prior = float(rng.choice([0.0, rng.uniform(0, 700)]))
        muni, group = int(rng.integers(2)), int(rng.integers(2))
        for _ in range(int(rng.integers(1, 7))):
            state = int(rng.choice([*PAID_STATES, *PAID_STATES, *range(len(STATES))]))
            kind = rng.random()
            if kind < 0.15:
                d = 0.0
            elif kind < 0.3:       # end exactly at a month start
                later = month_starts[month_starts > t]
                d = float(later[0] - t) if later.size else 5.0
            else:
                d = float(rng.choice([rng.uniform(0, 40), rng.uniform(0, 400)]))
            benefit = int(rng.integers(-1, 3)) if state in PAID_STATES else NO_BENEFIT
            paid = benefit != NO_BENEFIT and (state != STATE_CODE["service"]
                                              or rng.random() < 0.8)
            daily = float(rng.uniform(30, 120)) if benefit != NO_BENEFIT else 0.0
            basic = min(37.21, daily) if benefit == ER else daily
            service = 0 if state in PAID_STATES[1:] and rng.random() < 0.9 else -1
            end = min(t + d, horizon)
            for key, value in (("person_id", pid), ("municipality", muni), ("group", group),
                               ("state", state), ("service", service), ("benefit", benefit),
                               ("benefit_paid", paid), ("daily_amount", daily),
                               ("basic_part", basic), ("start_day", t), ("end_day", end),
                               ("censored", end >= horizon), ("prior_paid_days", prior)):
                cols[key].append(value)
            t = end
            if t >= horizon:
                break
    order = rng.permutation(len(cols["person_id"]))
    return SpellTable.from_columns({k: np.asarray(v)[order] for k, v in cols.items()},
                                   municipalities=tuple(s.municipalities),
                                   groups=tuple(s.groups), services=tuple(s.services))


@pytest.mark.parametrize("seed", range(6))
def test_splitting_at_month_boundaries_keeps_every_rules_prices(seed: int) -> None:
    spells = history(seed)
    plan = Plan.of(small())
    rules = all_rules()
    counters = {r: counters_for_rule(spells, r) for r in rules}
    pieces, piece_counters = split_by_month(spells, plan.month_starts, counters)
    costs = service_costs(small(), spells.services)
    # no piece crosses a month boundary, and the pieces tile each segment
    month = month_index(plan.month_starts, pieces.start_day)
    bounds = np.append(plan.month_starts, np.inf)
    assert np.all(pieces.end_day <= bounds[month + 1])
    assert np.isclose(pieces.duration.sum(), spells.duration.sum(), rtol=RTOL)
    assert pieces.censored.sum() == spells.censored.sum()
    for rule in rules:
        whole = price(spells, rule, costs, counters[rule])
        split = price(pieces, rule, costs, piece_counters[rule])
        for payer in PAYERS:
            for a, b in ((whole.benefit[payer], split.benefit[payer]),
                         (whole.service[payer], split.service[payer]),
                         (whole.bonus_net(payer), split.bonus_net(payer))):
                assert b.sum() == pytest.approx(a.sum(), rel=RTOL, abs=1e-6), (rule.name, payer)
        assert np.array_equal(np.sort(whole.bonuses.day), np.sort(split.bonuses.day))


@pytest.mark.parametrize("seed", range(3))
def test_split_pieces_carry_the_counter_reached_at_their_start(seed: int) -> None:
    spells = history(seed)
    plan = Plan.of(small())
    rules = all_rules()
    pieces, piece_counters = split_by_month(
        spells, plan.month_starts, {r: counters_for_rule(spells, r) for r in rules})
    for rule in rules:
        # recomputed from the split history itself: the same counters wherever the counter
        # can move (pieces of a segment in which a reset may happen keep the segment's own)
        recomputed = counters_for_rule(pieces, rule)
        resettable = np.zeros(len(pieces), bool)
        for block in rule.blocks:
            if block.reset_states is not None:
                resettable |= block.reset_states[pieces.state]
        moving = counted_mask(pieces, rule)
        assert moving.any()
        np.testing.assert_allclose(piece_counters[rule][~resettable],
                                   recomputed[~resettable], rtol=RTOL, atol=1e-9)
        assert pieces.counter_at_start[rule.name] is piece_counters[rule]


def test_a_zero_length_segment_stays_one_piece_in_its_month() -> None:
    spells = history(1)
    plan = Plan.of(small())
    pieces, _ = split_by_month(spells, plan.month_starts, {})
    zero = spells.duration == 0
    assert zero.any()
    assert (pieces.duration == 0).sum() == zero.sum()


@cache
def simulated() -> tuple[Scenario, SpellTable, Ledger]:
    s = small()
    spells = simulate(s, 0).spells
    return s, spells, Ledger.build(s, spells)


def test_payers_add_up_to_the_gross_outlay_in_every_month_and_municipality() -> None:
    for spells in (simulated()[1], history(3)):
        s = small()
        ledger = Ledger.build(s, spells)
        paid = ledger.amounts.sum(axis=(3, 4))               # (rule, month, municipality)
        np.testing.assert_allclose(paid, np.broadcast_to(ledger.gross, paid.shape),
                                   rtol=RTOL, atol=1e-6)
        # bonuses and transfers move money between payers only
        for item in ("bonus", "transfer"):
            net = ledger.amounts[..., ITEM_INDEX[item]].sum(axis=3)
            np.testing.assert_allclose(net, 0.0, atol=1e-6)
        # the gross outlay is what was paid out: benefits plus service days
        costs = service_costs(s, spells.services)
        whole = price(spells, CompiledRule.compile("x", scenario_rules(s)["fi_2015_two_step"]),
                      costs)
        assert ledger.gross.sum() == pytest.approx(whole.payer_totals()["gross"], rel=RTOL)


def test_ledger_totals_before_transfers_equal_pricing_the_unsplit_history() -> None:
    s, spells, ledger = simulated()
    rules = scenario_rules(s)
    costs = service_costs(s, spells.services)
    for name in ledger.rules:
        expected = price(spells, CompiledRule.compile(name, rules[name]), costs).totals()
        got = ledger.by_item(name)
        for payer in PAYERS:
            for item in ("benefit", "service", "bonus"):
                assert got[payer][item] == pytest.approx(expected[payer][item], rel=RTOL,
                                                         abs=1e-6), (name, payer, item)


def test_the_progress_bonus_is_booked_and_nets_out() -> None:
    _, _, ledger = simulated()
    bonus = ledger.by_item("progress_bonus")
    assert bonus["state"]["bonus"] > 0
    assert bonus["municipality"]["bonus"] == pytest.approx(-bonus["state"]["bonus"])
    assert bonus["gross"]["bonus"] == pytest.approx(0.0, abs=1e-6)


def test_a_cost_neutral_transfer_is_in_force_minus_base_municipal_liability() -> None:
    s, spells, ledger = simulated()
    rules = scenario_rules(s)
    costs = service_costs(s, spells.services)
    base = s.funding.transfers.base  # type: ignore[union-attr]
    assert base not in ledger.rules          # priced for the transfer even though not compared

    def liability(name: str) -> float:
        return price(spells, CompiledRule.compile(name, rules[name]), costs).payer_totals()[
            "municipality"]

    in_force = s.funding.in_force
    transfers = ledger.transfers[in_force]
    expected = liability(in_force) - liability(base)
    assert transfers.sum() == pytest.approx(expected, rel=1e-9)
    # shared out by working-age population: Alpha 30000, Beta 10000
    assert transfers[0] == pytest.approx(0.75 * expected, rel=1e-9)
    items = ledger.by_item(in_force)
    assert items["state"]["transfer"] == pytest.approx(expected, rel=1e-9)
    assert items["municipality"]["transfer"] == pytest.approx(-expected, rel=1e-9)
    assert items["gross"]["transfer"] == pytest.approx(0.0, abs=1e-6)
    # the municipal sector as a whole pays under the rule in force what it paid under the base
    assert ledger.totals(in_force)["municipality"] == pytest.approx(liability(base), rel=1e-9)
    # every priced rule gets its own transfer, cost neutral against the same base
    for name in ledger.rules[1:]:
        assert ledger.transfers[name].sum() == pytest.approx(
            liability(name) - liability(base), rel=1e-9)
        assert ledger.totals(name)["municipality"] == pytest.approx(liability(base), rel=1e-9)


def test_a_cost_neutral_transfer_is_zero_for_its_base_and_off_means_none() -> None:
    s, spells, _ = simulated()
    base = s.funding.transfers.base  # type: ignore[union-attr]
    ledger = Ledger.build(s, spells, Plan.of(s, [s.funding.in_force, base]))
    assert np.all(ledger.transfers[base] == 0.0)
    off = Ledger.build(s, spells, Plan.of(s, transfers=False))
    assert off.transfers == {}
    for name in off.rules:
        assert off.by_item(name)["state"]["transfer"] == 0.0
        assert off.by_item(name)["municipality"]["transfer"] == 0.0


def test_a_fixed_transfer_is_spread_over_the_months_by_days() -> None:
    data = small().model_dump(by_alias=True)
    data["funding"]["transfers"] = {"kind": "fixed", "amounts": {"Alpha": 365_250.0}}
    s = Scenario.model_validate(data)
    spells = simulate(s, 0).spells
    ledger = Ledger.build(s, spells)
    per_month = ledger.amounts[0, :, 0, PAYER_INDEX["state"], ITEM_INDEX["transfer"]]
    days = np.diff(np.append(Plan.of(s).month_starts, s.horizon_days))
    # 365 250 a year is 1000 a day
    assert DAYS_PER_YEAR == 365.25
    np.testing.assert_allclose(per_month, 1000.0 * days, rtol=1e-12)
    assert ledger.amounts[0, :, 1, PAYER_INDEX["state"], ITEM_INDEX["transfer"]].sum() == 0.0


def test_bonuses_are_booked_in_the_month_of_payment_and_the_municipality_of_the_segment(
        ) -> None:
    s = small()      # starts 2025-03-10: month starts at days 0, 22 (April), 52 (May), ...
    u, e = STATE_CODE["unemployed"], STATE_CODE["employed"]
    lms = BENEFIT_CODE["labour_market_subsidy"]
    spells = SpellTable.from_columns({
        "person_id": [0, 0], "municipality": [1, 1], "group": [0, 0], "state": [u, e],
        "benefit": [lms, NO_BENEFIT], "daily_amount": [37.21, 0.0],
        "start_day": [0.0, 10.0], "end_day": [10.0, 200.0]},
        municipalities=tuple(s.municipalities), groups=tuple(s.groups),
        services=tuple(s.services))
    ledger = Ledger.build(s, spells)
    r = ledger.rule_index("progress_bonus")
    bonus = ledger.amounts[r, :, :, :, ITEM_INDEX["bonus"]]
    # paid on day 10 + 30 = 40: April (days 22-51), to Beta (municipality 1)
    assert ledger.months[1] == "2025-04"
    assert bonus[1, 1, PAYER_INDEX["state"]] == 800.0
    assert bonus[1, 1, PAYER_INDEX["municipality"]] == -800.0
    assert np.count_nonzero(bonus) == 2


def test_pricing_in_chunks_of_people_gives_the_same_ledger() -> None:
    s = small()
    for spells in (simulated()[1], history(4)):
        whole = Ledger.build(s, spells, chunk_rows=10**9)
        for chunk_rows in (1, 7, 50):
            chunked = Ledger.build(s, spells, chunk_rows=chunk_rows)
            np.testing.assert_allclose(chunked.amounts, whole.amounts, rtol=RTOL, atol=1e-6)
            np.testing.assert_allclose(chunked.gross, whole.gross, rtol=RTOL, atol=1e-6)
            assert np.array_equal(chunked.counter_in_force, whole.counter_in_force)


def test_paid_days_spread_over_the_counter_range_they_were_paid_in() -> None:
    from incentive_sim.accounting.ledger import COUNTER_DAY_BINS, paid_days_by_counter

    lms = BENEFIT_CODE["labour_market_subsidy"]
    unemployed, service = STATE_CODE["unemployed"], STATE_CODE["service"]
    # paid days = calendar days x 5/7: 56, 28 and 42 calendar days give 40, 20 and 30
    spells = SpellTable.from_columns({
        "person_id": np.array([0, 1, 2]), "state": np.array([unemployed, service, unemployed]),
        "service": np.array([-1, 0, -1]), "benefit": np.array([lms, lms, lms]),
        "benefit_paid": np.array([True, True, True]), "daily_amount": np.full(3, 37.21),
        "start_day": np.zeros(3), "end_day": np.array([56.0, 28.0, 42.0])},
        services=("coaching",))
    rule = CompiledRule.compile("fi_2015_two_step",
                                scenario_rules(load_scenario(FIXTURE))["fi_2015_two_step"], 5)
    got = paid_days_by_counter(spells, rule, np.array([10.0, 30.0, 1990.0]))
    expected = np.zeros(COUNTER_DAY_BINS.size - 1)
    expected[0] = 15.0          # days 10-25 of the first spell
    expected[1] = 25.0 + 20.0   # its days 25-50, and the service days (not counted) at 30
    expected[-1] = 30.0         # 1990-2000 and the 20 days above 2000: the last bin
    np.testing.assert_allclose(got, expected, atol=1e-9)
    # days of a benefit the rule does not cover are not on its staircase
    er = np.full(3, BENEFIT_CODE["earnings_related"])
    other = spells.take(np.arange(3))
    uncovered = SpellTable.from_columns({**other.columns(), "benefit": er},
                                        services=("coaching",))
    assert not paid_days_by_counter(uncovered, rule, np.array([10.0, 30.0, 1990.0])).any()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 9)), max_size=40), st.booleans())
def test_the_cells_of_distinct_pairs_are_those_a_sort_finds(pairs: list[tuple[int, int]],
                                                            by_person: bool) -> None:
    """Recipients are counted once per (cell, person) pair: pieces in person order with
    cells that do not decrease within a person (as a chunk comes), or in any order."""
    if by_person:
        pairs = sorted(pairs, key=lambda p: (p[1], p[0]))
    cell = np.array([p[0] for p in pairs], np.int64)
    person = np.array([p[1] for p in pairs], np.int64)
    expected = sorted(c for c, _ in set(pairs))
    assert sorted(cells_of_distinct_pairs(cell, person, 10).tolist()) == expected
