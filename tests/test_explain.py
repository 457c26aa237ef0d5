"""explain: one person's lines add up to what that person costs in the run's pricing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import incentive_sim.experiments.explain as explain_module
from incentive_sim.accounting.explain import explain_person
from incentive_sim.accounting.ledger import Plan, rule_counter, service_costs
from incentive_sim.cli import app
from incentive_sim.experiments.explain import explain, load_run
from incentive_sim.experiments.explain_store import (
    EXPLAIN,
    read_index,
    read_person,
    write_explain_store,
)
from incentive_sim.experiments.run import run_scenario
from incentive_sim.funding.counters import counters_for_rule, rule_counters
from incentive_sim.funding.pricing import price
from incentive_sim.funding.spells import COLUMNS, SpellTable
from incentive_sim.scenario import InputError, load_scenario
from incentive_sim.scenario.schema import Scenario
from incentive_sim.scenario.vocabulary import PAYERS
from incentive_sim.simulation.engine import simulate

REPO = Path(__file__).resolve().parents[1]
_SMALL = load_scenario(REPO / "tests/fixtures/small_run.yaml")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("explain") / "run"
    run_scenario(load_scenario(REPO / "tests/fixtures/small_run.yaml"), out, replications=1)
    return out


def test_each_persons_lines_add_up_to_their_cost_in_the_whole_pricing(run_dir: Path) -> None:
    scenario, seed = load_run(run_dir)
    spells = simulate(scenario, 0, seed).spells
    plan = Plan.of(scenario)
    costs = service_costs(scenario, spells.services)
    whole = {name: price(spells, rule, costs, rule_counter(spells, rule))
             for name, rule in plan.compiled.items() if name in plan.priced}
    # people with several segments, some of them with bonuses
    people, counts = np.unique(spells.person_id, return_counts=True)
    chosen = list(people[counts >= 4][:25])
    bonused = {int(spells.person_id[s]) for p in whole.values() for s in p.bonuses.segment}
    chosen += sorted(bonused)[:5]
    assert bonused and len(chosen) >= 20
    for person in chosen:
        ex = explain_person(scenario, spells, int(person))
        rows = spells.person_id == person
        for name, pricing in whole.items():
            mine = np.isin(pricing.bonuses.segment, np.flatnonzero(rows))
            for payer in PAYERS:
                expected = (pricing.segment_total(payer)[rows].sum()
                            + pricing.bonus_net(payer)[mine].sum())
                assert ex.totals(name)[payer] == pytest.approx(expected, abs=0.005), (
                    person, name, payer)
            segments = [line for line in ex.rules[name] if line.segment >= 0]
            assert {line.segment for line in segments} == set(range(int(rows.sum())))
            assert all(line.counter_to >= line.counter_from for line in segments)


def test_explain_reads_the_run_back_and_names_the_step(run_dir: Path) -> None:
    ex = explain(run_dir, 5, "fi_2025_graduated")
    assert list(ex.rules) == ["fi_2025_graduated"]
    steps = " ".join(line.steps for line in ex.rules["fi_2025_graduated"])
    assert "%" in steps and "paid days" in steps


def test_bad_person_rule_or_folder_exit_2(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no person 99999999"):
        explain(run_dir, 99_999_999)
    with pytest.raises(InputError, match="did not price 'dk_2016_refusion'"):
        explain(run_dir, 1, "dk_2016_refusion")
    result = CliRunner().invoke(app, ["explain", str(tmp_path), "--person", "1"])
    assert result.exit_code == 2 and "not the output folder of a finished run" in result.output


def test_the_command_prints_lines_and_totals(run_dir: Path) -> None:
    result = CliRunner().invoke(app, ["explain", str(run_dir), "--person", "5"],
                                env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "total" in result.output and "municipality" in result.output
    # it fits an 80-column terminal, and the totals are shown whole, payer by payer
    assert max(len(line) for line in result.output.splitlines()) <= 80
    ex = explain(run_dir, 5)
    for rule in ex.rules:
        for payer, amount in ex.totals(rule).items():
            assert f"{payer} {amount:,.2f}" in result.output
    as_json = CliRunner().invoke(app, ["explain", str(run_dir), "--person", "5", "--json"])
    assert as_json.exit_code == 0 and '"totals"' in as_json.output


def test_explain_shows_the_law_at_work_across_a_switch_of_rules() -> None:
    """Under `finland` from mid-2024, a person unemployed across 1.1.2025 gets one line under
    each rule, with the band, the counter, the amount paid a day and the switch as an event;
    a person whose earnings-related allowance runs out shows that change with its date."""
    import datetime as dt

    s = load_scenario(REPO / "tests/fixtures/small_run.yaml")
    s = s.model_copy(update={"start_date": dt.date(2024, 7, 1), "horizon_days": 366,
                             "funding": s.funding.model_copy(update={
                                 "in_force": "finland", "compare": [], "transfers": None})})
    spells = simulate(s, 0, s.seed).spells
    switch = float((dt.date(2025, 1, 1) - s.start_date).days)
    across = (spells.start_day < switch) & (spells.end_day > switch + 30) & spells.benefit_paid
    person = int(spells.person_id[np.flatnonzero(across)[0]])
    lines = explain_person(s, spells, person).rules["finland"]
    at_switch = [line for line in lines if line.start_date == "2025-01-01"]
    assert at_switch and at_switch[0].rule_in_force == "fi_2025_graduated"
    assert "fi_2025_graduated in force from 2025-01-01" in at_switch[0].events
    before = [line for line in lines if line.end_date == "2025-01-01"]
    assert before and before[0].rule_in_force == "fi_2015_two_step"
    for line in lines:
        if line.segment >= 0 and line.paid_days:
            assert line.daily_amount > 0
            if line.steps not in ("", "not covered", "not charged"):
                assert line.bands and all(b in line.steps for b in line.bands)
    earnings_related = np.unique(spells.person_id[spells.benefit == 2])[:200]
    ran_out = [line for p in earnings_related
               for line in explain_person(s, spells, int(p)).rules["finland"]
               if any("entitlement ran out" in e for e in line.events)]
    assert ran_out
    assert ran_out[0].what.endswith("labour_market_subsidy")


def test_explain_dates_a_reset_on_the_day_the_employment_condition_is_met() -> None:
    """400 days unemployed, 400 days employed, 100 unemployed under the graduated rule: the
    counter restarts on day 560 + 365 = 925 of the history (12 months into the job)."""
    import datetime as dt

    from incentive_sim.funding.spells import SpellTable
    from incentive_sim.scenario.vocabulary import BENEFIT_CODE, STATE_CODE

    s = load_scenario(REPO / "tests/fixtures/small_run.yaml")
    s = s.model_copy(update={"start_date": dt.date(2025, 1, 1), "horizon_days": 2000})
    u, e, lms = STATE_CODE["unemployed"], STATE_CODE["employed"], BENEFIT_CODE[
        "labour_market_subsidy"]
    spells = SpellTable.from_columns(
        {"person_id": [0, 0, 0], "state": [u, e, u], "benefit": [lms, -1, lms],
         "daily_amount": [37.21, 0.0, 37.21], "start_day": [0.0, 560.0, 960.0],
         "end_day": [560.0, 960.0, 1100.0]},
        municipalities=tuple(s.municipalities), groups=tuple(s.groups),
        services=tuple(s.services))
    lines = explain_person(s, spells, 0, "fi_2025_graduated").rules["fi_2025_graduated"]
    events = [e for line in lines for e in line.events]
    reset_on = (dt.date(2025, 1, 1) + dt.timedelta(days=925)).isoformat()
    assert f"fi_2025_graduated counter reset to 0 on {reset_on} (employment condition met)" \
        in events
    last = lines[-1]
    assert (last.counter_from, last.counter_to) == (0.0, 100.0)
    # the last 100 paid days restart from 0: nothing billed, all below class 101-200
    assert last.amounts["municipality"] == 0.0 and last.bands == ["1-100"]
    assert last.steps == "0 % (paid days 1-100)"


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f":
        return a.shape == b.shape and bool(np.all(a.view(np.int64) == b.astype(
            np.float64).view(np.int64)))
    return bool(np.array_equal(a, b))


def test_explain_reads_the_stored_history_and_says_what_simulating_again_says(
        run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run stored replication 0 by person: explain gives exactly the lines (dates,
    counters, bands, euros) that simulating the run again gives, and does not simulate."""
    scenario, seed = load_run(run_dir)
    spells = simulate(scenario, 0, seed).spells
    people, counts = np.unique(spells.person_id, return_counts=True)
    plan = Plan.of(scenario)
    costs = service_costs(scenario, spells.services)
    bonused = {int(spells.person_id[s]) for name in plan.priced
               for s in price(spells, plan.compiled[name], costs,
                              rule_counter(spells, plan.compiled[name])).bonuses.segment}
    with_prior = np.unique(spells.person_id[spells.prior_paid_days > 0])
    chosen = {*people[np.argsort(-counts, kind="stable")[:12]].tolist(),
              *sorted(bonused)[:4], *with_prior[:4].tolist(), *people[::97].tolist()}
    assert bonused and len(chosen) >= 20

    def no_simulation(*args: object) -> None:
        raise AssertionError("explain simulated although the run stored the history")

    monkeypatch.setattr(explain_module, "simulate", no_simulation)
    for person in sorted(chosen):
        again = explain_person(scenario, spells, int(person)).as_dict()
        assert explain(run_dir, int(person)).as_dict() == again, person
    one_rule = explain(run_dir, int(people[0]), "fi_2025_graduated").as_dict()
    assert one_rule == explain_person(scenario, spells, int(people[0]),
                                      "fi_2025_graduated").as_dict()


def test_the_stored_history_is_the_simulated_one_bit_for_bit(run_dir: Path) -> None:
    """Every person's rows and counters read back from explain/ are the simulated ones, to
    the bit, and the counters are those pricing used."""
    scenario, seed = load_run(run_dir)
    spells = simulate(scenario, 0, seed).spells
    plan = Plan.of(scenario)
    priced: dict[str, np.ndarray] = {}
    for name in plan.priced:
        priced.update(rule_counters(spells, plan.compiled[name]))
    store = run_dir / EXPLAIN
    assert read_index(store)["counters"] == list(priced)
    order = spells.person_order()
    people = np.unique(spells.person_id)
    for person in people.tolist():
        rows = order[spells.person_id[order] == person]
        mine = read_person(store, person, plan.simple_rules())
        assert mine is not None
        for column in COLUMNS:
            assert _same_bits(getattr(mine, column), getattr(spells, column)[rows]), (
                person, column)
        assert list(mine.counter_at_start) == list(priced)
        for name, counter in priced.items():
            assert _same_bits(mine.counter_at_start[name], counter[rows]), (person, name)
        assert (mine.municipalities, mine.groups, mine.services) == (
            spells.municipalities, spells.groups, spells.services)
    assert read_person(store, int(people.max()) + 1, plan.simple_rules()) is None


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_store_written_some_people_at_a_time_is_the_store_written_at_once(
        run_dir: Path, tmp_path: Path) -> None:
    """Chunks of about 50 rows of whole people (the national chunks hold a million): every
    file, the predicted columns' exceptions included, is byte for byte the one-chunk store."""
    scenario, seed = load_run(run_dir)
    spells = simulate(scenario, 0, seed).spells
    plan = Plan.of(scenario)
    rules = plan.simple_rules()
    counters = {name: counters_for_rule(spells, rule) for name, rule in rules.items()}
    write_explain_store(tmp_path / "one", spells, counters, rules, 400.0,
                        chunk_rows=len(spells) + 1)
    write_explain_store(tmp_path / "many", spells, counters, rules, 400.0, chunk_rows=50)
    one = _files(tmp_path / "one")
    assert any(name.endswith(".rows.npy") for name in one)
    assert _files(tmp_path / "many") == one


def test_a_history_no_prediction_fits_is_stored_whole_and_read_back_exactly(
        tmp_path: Path) -> None:
    """Gaps between segments, -0.0, NaN, amounts and counters that follow nothing, ids
    beyond int32: each column is stored whole or by exceptions, and read back to the bit."""
    rng = np.random.default_rng(3)
    n = 400
    person = np.sort(rng.choice([5, 7, 2**40, 2**40 + 3, 11], n))
    start = np.round(rng.uniform(0, 300, n), 3)
    end = start + rng.choice([0.0, 1.5, 30.0], n)
    amount = rng.choice([0.0, -0.0, 37.21, float(np.nan), 61.3], n)
    table = SpellTable.from_columns(
        {"person_id": person, "state": rng.integers(0, 3, n), "benefit": rng.integers(-1, 3, n),
         "daily_amount": amount, "basic_part": rng.uniform(0, 40, n), "start_day": start,
         "end_day": end, "prior_paid_days": rng.uniform(0, 500, n),
         "censored": rng.random(n) < 0.5, "service": rng.integers(-1, 200, n),
         "municipality": rng.integers(0, 300, n)},
        municipalities=tuple(f"m{i}" for i in range(300)), groups=("",),
        services=tuple(f"s{i}" for i in range(200)))
    s = load_scenario(REPO / "tests/fixtures/small_run.yaml")
    rules = Plan.of(s).simple_rules()
    names = list(rules)[:2]
    counters = {names[0]: rng.uniform(0, 900, n),
                names[1]: np.where(rng.random(n) < 0.3, -0.0, rng.uniform(0, 900, n))}
    store = tmp_path / EXPLAIN
    write_explain_store(store, table, counters, rules, horizon_days=400.0)
    assert "whole" in read_index(store)["columns"].values()
    write_explain_store(tmp_path / "chunked", table, counters, rules, horizon_days=400.0,
                        chunk_rows=30)
    assert _files(tmp_path / "chunked") == _files(store)
    order = table.person_order()
    for p in np.unique(person).tolist():
        rows = order[table.person_id[order] == p]
        mine = read_person(store, p, rules)
        assert mine is not None
        for column in COLUMNS:
            assert _same_bits(getattr(mine, column), getattr(table, column)[rows]), column
        for name, counter in counters.items():
            assert _same_bits(mine.counter_at_start[name], counter[rows]), name


def test_an_empty_history_is_stored_and_has_nobody_to_read(tmp_path: Path) -> None:
    s = load_scenario(REPO / "tests/fixtures/small_run.yaml")
    rules = Plan.of(s).simple_rules()
    store = tmp_path / EXPLAIN
    write_explain_store(store, SpellTable.empty(), {name: np.zeros(0) for name in rules},
                        rules, horizon_days=365.0)
    assert read_index(store)["rows"] == 0
    assert read_person(store, 0, rules) is None


def test_a_run_folder_without_the_stored_history_is_simulated_again_with_a_note(
        run_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "old_run"
    shutil.copytree(run_dir, old, ignore=shutil.ignore_patterns(EXPLAIN))
    notes: list[str] = []
    assert explain(old, 5, note=notes.append).as_dict() == explain(run_dir, 5).as_dict()
    assert len(notes) == 1 and "simulating replication 0 again" in notes[0]
    result = CliRunner().invoke(app, ["explain", str(old), "--person", "5"])
    assert result.exit_code == 0, result.output
    assert "simulating replication 0 again" in result.stderr
    assert "simulating" not in CliRunner().invoke(
        app, ["explain", str(run_dir), "--person", "5"]).stderr


def _one_person(s: Scenario, states: list[int], bounds: list[float]) -> SpellTable:
    from incentive_sim.scenario.vocabulary import BENEFIT_CODE, STATE_CODE

    u, lms = STATE_CODE["unemployed"], BENEFIT_CODE["labour_market_subsidy"]
    n = len(states)
    return SpellTable.from_columns(
        {"person_id": [0] * n, "state": states,
         "benefit": [lms if x == u else -1 for x in states],
         "daily_amount": [37.21 if x == u else 0.0 for x in states],
         "start_day": bounds[:-1], "end_day": bounds[1:]},
        municipalities=tuple(s.municipalities), groups=tuple(s.groups),
        services=tuple(s.services))


def test_explain_dates_each_of_several_resets_in_the_piece_before_it() -> None:
    """Two jobs under the graduated rule (365 days of work within 852): the first restarts
    the counter on day 560 + 365 = 925, and its 35 days after that (925-960) still lie in the
    window of the second job, which so restarts it on day 1100 + 365 - 35 = 1430."""
    import datetime as dt

    from incentive_sim.scenario.vocabulary import STATE_CODE

    s = load_scenario(REPO / "tests/fixtures/small_run.yaml")
    s = s.model_copy(update={"start_date": dt.date(2025, 1, 1), "horizon_days": 2000})
    u, e = STATE_CODE["unemployed"], STATE_CODE["employed"]
    spells = _one_person(s, [u, e, u, e, u], [0.0, 560.0, 960.0, 1100.0, 1500.0, 1600.0])
    lines = explain_person(s, spells, 0, "fi_2025_graduated").rules["fi_2025_graduated"]
    resets = [(line.start_date, ev) for line in lines for ev in line.events if "reset" in ev]
    day = [(dt.date(2025, 1, 1) + dt.timedelta(days=d)).isoformat() for d in (960, 925, 1500,
                                                                              1430)]
    assert resets == [
        (day[0], f"fi_2025_graduated counter reset to 0 on {day[1]} (employment condition met)"),
        (day[2], f"fi_2025_graduated counter reset to 0 on {day[3]} (employment condition met)")]


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.floats(1.0, 700.0).map(lambda x: round(x * 4) / 4), min_size=3,
                        max_size=7),
       rule=st.sampled_from(["fi_2025_graduated", "fi_2015_two_step", "fi_2006_one_step"]))
def test_the_reset_day_is_the_one_found_day_by_day(lengths: list[float], rule: str) -> None:
    """The moment the condition is met, rounded up to its day's end, is the day on which a
    history cut into whole days first shows the counter lower than it grew to."""
    from incentive_sim.accounting import explain as ex
    from incentive_sim.funding.counters import counted_mask, counters_for_rule
    from incentive_sim.scenario.vocabulary import STATE_CODE

    s = _SMALL
    u, e = STATE_CODE["unemployed"], STATE_CODE["employed"]
    states = [u if i % 2 == 0 else e for i in range(len(lengths))]
    spells = _one_person(s, states, [0.0, *np.cumsum(lengths).tolist()])
    compiled = Plan.of(s).compiled[rule]
    counter = counters_for_rule(spells, compiled)
    grown = counter + np.where(counted_mask(spells, compiled), spells.paid_days, 0.0)
    dropped = np.flatnonzero(counter[1:] < grown[:-1] - 1e-9) + 1
    for k in dropped.tolist():
        assert ex._reset_day(spells, k, compiled) == ex._reset_day_by_days(spells, k, compiled)
