"""A large scenario simulated in shards of whole service pools (simulation/shards.py), and
the fresh processes they run in (processes.py)."""

from __future__ import annotations

import concurrent.futures as cf
import csv
import fcntl
import functools
import gzip
import io
import itertools
import json
import multiprocessing
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from incentive_sim.accounting.kela import Bill
from incentive_sim.accounting.ledger import Ledger, Plan
from incentive_sim.accounting.money import YEARLY_COLUMNS
from incentive_sim.experiments.compare import (
    OUTCOME_KEYS,
    OutcomePart,
    compare,
    compare_job,
    compare_part,
)
from incentive_sim.experiments.explain_store import (
    read_index,
    read_person,
    write_explain_store,
    write_parts_index,
)
from incentive_sim.experiments.run import HistoryDigest, price_part, run_scenario
from incentive_sim.experiments.spells_csv import write_spells_csv, write_spells_csv_of_parts
from incentive_sim.funding.counters import counter_in_force, counters_for_rule
from incentive_sim.funding.spells import SpellTable
from incentive_sim.processes import PIPE_BYTES, spawned, started
from incentive_sim.scenario import load_scenario
from incentive_sim.scenario.schema import Scenario
from incentive_sim.scenario.vocabulary import STATE_CODE
from incentive_sim.simulation import engine, shards
from incentive_sim.simulation.engine import (
    ServiceStats,
    SimulationResult,
    population,
    simulate,
)
from incentive_sim.simulation.population import expected_people
from incentive_sim.simulation.shards import SHARD_MIN_PEOPLE, pool_groups, shards_of

REPO = Path(__file__).resolve().parents[1]
SMALL = REPO / "tests" / "fixtures" / "small_run.yaml"
NATIONAL = REPO / "scenarios" / "finland_national_2025.yaml"
EVENT_STATES = (STATE_CODE["waiting"], STATE_CODE["service"])


def three_municipalities(tmp_path: Path, capacity: str = "{Both: 40, Gamma: 20}",
                         extra_service: str = "") -> Scenario:
    """The small run with a third municipality, ten times the people, and pools as given:
    a queue forms (40 + 20 places for thousands of jobseekers), so pools become exact."""
    text = SMALL.read_text(encoding="utf-8")
    for old, new in [
        ("  Beta:  {working_age_population: 10000}",
         "  Beta:  {working_age_population: 10000}\n  Gamma: {working_age_population: 20000}"),
        ("initial_stock: {Alpha: 150, Beta: 60}",
         "initial_stock: {Alpha: 1500, Beta: 600, Gamma: 900}"),
        ("inflow_per_year: {Alpha: 200, Beta: 80}",
         "inflow_per_year: {Alpha: 2000, Beta: 800, Gamma: 1200}"),
        ("capacity: {Both: 15}", f"capacity: {capacity}"),
        ("\npolicy:", f"{extra_service}\npolicy:"),
    ]:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "three.yaml"
    path.write_text(text, encoding="utf-8")
    return load_scenario(path)


SECOND_SERVICE = """  training:
    capacity: {Both: 10}
    duration_days: {dist: fixed, value: 30}
    cost_per_day: 10.0
    paid_by: state
    provider: state
"""


def test_municipalities_sharing_a_pool_of_any_service_are_one_group(tmp_path: Path) -> None:
    s = three_municipalities(tmp_path)
    assert pool_groups(s).tolist() == [0, 0, 1]          # Alpha and Beta share "Both"
    # pools of their own for the first service, "Both" for a second one: the same groups
    s = three_municipalities(tmp_path, "{Alpha: 20, Beta: 20, Gamma: 20}", SECOND_SERVICE)
    assert pool_groups(s).tolist() == [0, 0, 1]
    s = three_municipalities(tmp_path, "{Alpha: 20, Beta: 20, Gamma: 20}")
    assert pool_groups(s).tolist() == [0, 1, 2]


def test_shards_hold_every_person_municipality_and_pool_once(tmp_path: Path) -> None:
    s = three_municipalities(tmp_path)
    people = population(s, s.seed, 0)
    parts = shards_of(s, people, 2)
    assert [p.index for p in parts] == [0, 1] and {p.count for p in parts} == {2}
    ids = np.concatenate([p.people for p in parts])
    assert np.array_equal(np.sort(ids), np.arange(len(people)))
    # the larger group (Alpha and Beta: 2,100 of the stock and 2,800 a year) is the first shard
    assert parts[0].municipalities.tolist() == [0, 1]
    assert parts[1].municipalities.tolist() == [2]
    for p in parts:
        assert np.all(np.isin(people.municipality[p.people], p.municipalities))
    owned = np.sum([p.pools[0] for p in parts], axis=0)
    assert owned.tolist() == [1, 1]                       # each pool in exactly one shard
    assert parts[0].pools[0].tolist() == [True, False]
    # asked for more shards than there are groups: as many as the groups
    assert len(shards_of(s, people, 5)) == 2


def test_small_scenarios_are_one_shard_with_the_streams_they_always_had() -> None:
    s = load_scenario(SMALL)
    (only,) = shards_of(s, population(s, s.seed, 0))
    assert only.count == 1 and only.stream_name("services.durations") == "services.durations"
    assert len(only.people) < SHARD_MIN_PEOPLE


def test_the_national_scenario_is_two_shards_of_whole_employment_areas() -> None:
    s = load_scenario(NATIONAL)
    people = population(s, s.seed, 0)
    parts = shards_of(s, people)
    assert len(parts) == 2
    sizes = [p.people.size for p in parts]
    assert sum(sizes) == len(people)
    assert abs(sizes[0] - sizes[1]) < 0.02 * len(people)   # balanced to 1.97 M / 40 groups
    group = pool_groups(s)
    for p in parts:       # a group of municipalities joined by pools is never cut in two
        other = np.setdiff1d(np.arange(len(s.municipalities)), p.municipalities)
        assert not np.intersect1d(group[p.municipalities], group[other]).size


def columns(r: SimulationResult) -> dict[str, np.ndarray]:
    out = dict(r.spells.columns())
    out.update({f"counter {k}": v for k, v in r.spells.counter_at_start.items()})
    out.update({f"referral {k}": v for k, v in r.referrals.arrays().items()})
    return out


def test_shards_in_processes_and_one_after_the_other_give_the_same_bits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = three_municipalities(tmp_path)
    calls: list[int] = []
    real = shards.started

    def counted(*args: str) -> object:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(shards, "started", counted)
    monkeypatch.setattr(engine, "started", counted)
    monkeypatch.setattr(engine, "may_start_processes", lambda: True)
    apart = simulate(s, 0, shards=2)
    assert calls == [1]                                    # the second shard ran beside
    monkeypatch.setattr(engine, "may_start_processes", lambda: False)
    together = simulate(s, 0, shards=2)
    assert calls == [1]
    a, b = columns(apart), columns(together)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype and np.array_equal(a[name], b[name],
                                                                  equal_nan=True), name
    assert apart.services == together.services
    assert apart.people == together.people == len(population(s, s.seed, 0))
    # the waiting and the services happened: the shards' pools did work
    stats = apart.services["coaching"]
    assert stats.starts > 0 and stats.left_queue > 0 and stats.capacity == 60
    assert stats.referrals == apart.referrals.count
    assert stats.busy_place_days == pytest.approx(
        float(np.sum((apart.spells.end_day - apart.spells.start_day)[
            apart.spells.state == STATE_CODE["service"]])))


def test_a_services_figures_over_shards_add_up() -> None:
    a = ServiceStats(capacity=10, place_days=3650.0, places_end=12,
                     place_days_by_year=[3650.0], days_by_year=[365.0], starts=7,
                     completions=5, referrals=9, declined=1, left_queue=2,
                     wait_days_total=30.0, queue_days_total=40.0, busy_place_days=50.0)
    b = ServiceStats(capacity=5, place_days=1825.0, places_end=4,
                     place_days_by_year=[1825.0], days_by_year=[365.0], starts=3,
                     completions=2, referrals=4, declined=0, left_queue=1,
                     wait_days_total=6.0, queue_days_total=4.0, busy_place_days=5.0)
    both = ServiceStats.combined([a, b])
    assert both == ServiceStats(capacity=15, place_days=5475.0, places_end=16,
                                place_days_by_year=[5475.0], days_by_year=[365.0], starts=10,
                                completions=7, referrals=13, declined=1, left_queue=3,
                                wait_days_total=36.0, queue_days_total=44.0,
                                busy_place_days=55.0)
    assert both.places_by_year == [15.0] and both.mean_wait_days() == 3.6


def test_a_person_no_service_touched_lives_the_same_life_in_any_shard(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A person's own draws (life course, reviews, take-up) are keyed by their id in the whole
    population, so whoever is never referred has the same history in a shard as in the whole
    country; the services' streams are a shard's own, so the referred ones may differ."""
    monkeypatch.setattr(engine, "may_start_processes", lambda: False)
    s = three_municipalities(tmp_path)
    whole, parts = simulate(s, 0, shards=1), simulate(s, 0, shards=2)
    untouched = np.setdiff1d(
        np.arange(whole.people),
        np.concatenate([whole.referrals.arrays()["person"], parts.referrals.arrays()["person"]]))
    # those who never reach the threshold of 100 paid days: about half of the 7,000
    assert 0.25 * whole.people < untouched.size < 0.75 * whole.people

    def lives(r: SimulationResult) -> dict[str, np.ndarray]:
        t = r.spells
        mine = np.isin(t.person_id, untouched)
        order = np.lexsort((t.start_day[mine], t.person_id[mine]))
        return {k: v[mine][order] for k, v in t.columns().items()}

    a, b = lives(whole), lives(parts)
    assert not np.isin(a["state"], EVENT_STATES).any()
    for name in a:
        if a[name].dtype.kind == "f":
            # the same draws; a shard's decision days differ, so its life courses move on in
            # other batches, which may round a time differently in its last bit
            assert np.allclose(a[name], b[name], rtol=1e-15, atol=1e-12), name
        else:
            assert np.array_equal(a[name], b[name]), name
    # and the referred ones do differ somewhere: the shards' service draws are their own
    assert len(whole.spells) != len(parts.spells) or not np.array_equal(
        whole.spells.end_day, parts.spells.end_day)


def test_a_process_started_before_its_call_runs_it_or_is_stopped_unused() -> None:
    """A shard's process starts, and imports the engine, while the population is drawn; one
    that gets no call (the population turned out smaller than expected) is stopped."""
    with started("incentive_sim.simulation.engine") as process:
        assert process.call(os.getpid)() == process.proc.pid
    assert process.proc.returncode == 0
    with started("json") as unused:
        pid = unused.proc.pid
    assert unused.proc.returncode is not None and unused.wait is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(KeyError), started() as failing:
        failing.call(divmod, 1, 1)
        raise KeyError("the block failed")
    assert failing.proc.returncode is not None
    # what it preloads, it imports before the call comes
    with pytest.raises(RuntimeError, match="died"), started("no.such.module") as broken:
        broken.call(divmod, 1, 1)()
    # the expected size tells before the draw whether the national scenario will be cut
    national = load_scenario(NATIONAL)
    assert len(population(national, national.seed, 0)) == pytest.approx(
        expected_people(national), rel=0.002)
    assert shards.likely_shards(national) == 2 and shards.likely_shards(national, 1) == 1
    assert shards.likely_shards(load_scenario(SMALL)) == 1


def test_a_spawned_call_gives_its_result_or_its_exception() -> None:
    with spawned(divmod, 17, 5) as wait:
        assert wait() == (3, 2)
    with pytest.raises(ValueError, match="invalid literal"), spawned(int, "x") as wait:
        wait()
    with pytest.raises(RuntimeError, match=r"died \(exit status 3\)"), \
            spawned(os._exit, 3) as wait:
        wait()


@pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ") or int(
    Path("/proc/sys/fs/pipe-max-size").read_text()) < PIPE_BYTES, reason="Linux pipes only")
@pytest.mark.parametrize("fd", [0, 1])
def test_a_spawned_calls_pipes_are_widened(fd: int) -> None:
    """A shard's call and its result (hundreds of MB) cross pipes of 1 MiB, not 64 KiB: as
    the new process sees its standard input and output."""
    with spawned(fcntl.fcntl, fd, fcntl.F_GETPIPE_SZ) as wait:
        assert wait() == PIPE_BYTES


def test_a_script_without_a_main_guard_can_spawn(tmp_path: Path) -> None:
    """multiprocessing's spawn would run this script again in the new process, and fail."""
    script = tmp_path / "plain.py"
    script.write_text("from incentive_sim.processes import spawned\n"
                      "with spawned(pow, 3, 4) as wait:\n"
                      "    print(wait())\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "81"


def test_shards_start_a_process_only_from_a_process_not_itself_a_worker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a worker of --workers (a spawned process) or a Dask worker, the cores are in use
    already: the shards run one after the other there."""
    assert shards.may_start_processes() == ((os.cpu_count() or 1) > 1)
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        assert pool.submit(shards.may_start_processes).result() is False
    monkeypatch.setattr(sys, "executable", "")
    assert shards.may_start_processes() is False


def test_shards_price_themselves_as_the_joined_history_is_priced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each shard works out its counters, its ledger booking and its Kela bill where it ran
    (run.price_part); Ledger.build and Bill.of of the joined history work them out part by
    part: the same bits. And it is the same pricing as of the history in one part, but for
    the order in which floats are summed."""
    s = three_municipalities(tmp_path)
    plan = Plan.of(s)
    monkeypatch.setattr(engine, "may_start_processes", lambda: True)
    priced = simulate(s, 0, shards=2, then=functools.partial(price_part, plan, True))
    plain = simulate(s, 0, shards=2)
    parts = plain.spells.parts
    assert len(parts) == 3 and priced.spells.parts == parts and len(priced.parts_done) == 2
    assert np.array_equal(priced.spells.end_day, plain.spells.end_day)
    for name, rule in plan.simple_rules().items():
        counter = plain.spells.counter_at_start.get(name)
        if counter is None:
            counter = counters_for_rule(plain.spells, rule)
            # part by part: each part's counters as if it were alone
            alone = [counters_for_rule(replace(plain.spells.take(slice(a, b)),
                                               counter_at_start={}), rule)
                     for a, b in itertools.pairwise(parts)]
            assert np.array_equal(counter, np.concatenate(alone))
        assert np.array_equal(priced.spells.counter_at_start[name], counter), name
    shard_made = Ledger.build(s, priced.spells, plan,
                              bookings=[p.booking for p in priced.parts_done])
    here = Ledger.build(s, plain.spells, plan)
    for field in ("amounts", "gross", "counter_in_force"):
        assert np.array_equal(getattr(shard_made, field), getattr(here, field)), field
    assert shard_made.yearly is not None and here.yearly is not None
    assert np.array_equal(shard_made.yearly.amounts, here.yearly.amounts)
    assert np.array_equal(shard_made.yearly.stacked_people(), here.yearly.stacked_people())
    for name in plan.priced:
        assert np.array_equal(shard_made.paid_days_by_counter[name],
                              here.paid_days_by_counter[name])
        assert np.array_equal(shard_made.transfers[name], here.transfers[name])
    bill = Bill.added([p.bill for p in priced.parts_done]).stack()
    assert np.array_equal(bill, Bill.stacked(plain.spells, plan))
    # one part: the same euros to a millionth of a cent
    whole = SpellTable(**plain.spells.columns(), municipalities=plain.spells.municipalities,
                       groups=plain.spells.groups, services=plain.spells.services,
                       counter_at_start=plain.spells.counter_at_start)
    one = Ledger.build(s, whole, plan)
    assert np.abs(here.amounts).max() > 1e5
    np.testing.assert_allclose(here.amounts, one.amounts, rtol=1e-12, atol=1e-8)
    np.testing.assert_allclose(bill, Bill.stacked(whole, plan), rtol=1e-12, atol=1e-8)


@pytest.mark.parametrize("spells", [True, False])
def test_a_run_in_shards_gives_the_same_bytes_in_processes_and_one_after_the_other(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spells: bool) -> None:
    """Every output of a run whose shards price themselves (and, without --spells, draw up
    their digests and write explain's store), the second in a process of its own or both
    here: the same bytes (but the time the run took)."""
    s = three_municipalities(tmp_path)
    monkeypatch.setattr(shards, "SHARD_MIN_PEOPLE", 0)
    made = {}
    for apart in (True, False):
        monkeypatch.setattr(engine, "may_start_processes", lambda apart=apart: apart)
        out = tmp_path / f"apart-{apart}"
        run_scenario(s, out, replications=1, write_spells=spells)
        made[apart] = {p.relative_to(out).as_posix(): p.read_bytes()
                       for p in sorted(out.rglob("*")) if p.is_file()}
    assert made[True].keys() == made[False].keys()
    assert ("spells.csv.gz" in made[True]) == spells and "explain/part-1/index.json" in made[True]
    differ = [name for name in made[True] if made[True][name] != made[False][name]]
    assert set(differ) <= {"summary.json", "report.html", "manifest.json"}
    summaries = [json.loads(made[a]["summary.json"]) for a in (True, False)]
    for summary in summaries:
        summary["provenance"].pop("wall_time_s")
    assert summaries[0] == summaries[1]


def test_histories_come_in_person_order_and_their_parts_are_merged(tmp_path: Path) -> None:
    """The engine writes each history by person, each person's rows in time order (what
    pricing reads); a history joined from shards is that part by part, and its order by
    person merges the parts."""
    s = three_municipalities(tmp_path)
    whole = simulate(s, 0).spells
    assert whole.parts == () and np.all(np.diff(whole.person_id) >= 0)
    assert np.array_equal(whole.person_order(), np.arange(len(whole)))
    joined = simulate(s, 0, shards=2).spells
    for a, b in itertools.pairwise(joined.parts):
        part = joined.take(slice(a, b))
        assert np.array_equal(part.person_order(), np.arange(len(part)))
    order = joined.person_order()
    assert not np.array_equal(order, np.arange(len(joined)))      # the shards interleave
    key = np.lexsort((joined.end_day, joined.start_day, joined.person_id))
    assert np.array_equal(joined.person_id[order], joined.person_id[key])
    assert np.array_equal(joined.start_day[order], joined.start_day[key])


def test_shards_digest_and_store_themselves_as_the_joined_history_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With `digest`, `explain_dir` and no history kept, each shard draws up its digest and
    writes its part of explain's store where it ran, and sends back no rows: the digest is
    the joined history's (read part by part) to the bit, every person reads back from the
    parts as from a store of the joined history, and the history in one part has the same
    counts and means to 1e-12."""
    s = three_municipalities(tmp_path)
    plan = Plan.of(s)
    store, columns = tmp_path / "store", tmp_path / "columns"
    monkeypatch.setattr(engine, "may_start_processes", lambda: True)
    priced = simulate(s, 0, shards=2, then=functools.partial(
        price_part, plan, True, digest=True, explain_dir=store, spells_dir=columns,
        keep_history=False))
    plain = simulate(s, 0, shards=2)
    assert len(priced.spells) == 0 and len(plain.spells) > 10_000
    assert priced.segments == plain.segments == len(plain.spells)    # counted where simulated
    assert priced.spells.services == plain.spells.services
    assert priced.services == plain.services          # queue and place integrals by shard
    bill = Bill.added([p.bill for p in priced.parts_done]).stack()
    made = HistoryDigest.of(plan, priced, bill, [p.digest for p in priced.parts_done])
    here = HistoryDigest.of(plan, plain)
    for name in ("stock", "transitions", "services_by_month", "indicators", "bill",
                 "referral_counters", "referrals_by_service"):
        assert np.array_equal(getattr(made, name), getattr(here, name)), name
    assert made.outcomes == here.outcomes and made.services == here.services
    assert made.outcomes["completed_spells"] > 1000
    whole = replace(plain, spells=SpellTable(
        **plain.spells.columns(), municipalities=plain.spells.municipalities,
        groups=plain.spells.groups, services=plain.spells.services,
        counter_at_start=plain.spells.counter_at_start))
    one = HistoryDigest.of(plan, whole)
    for name in ("stock", "transitions", "services_by_month", "indicators"):
        assert np.array_equal(getattr(one, name), getattr(here, name)), name
    assert one.outcomes.keys() == here.outcomes.keys()
    for key, value in one.outcomes.items():
        assert value == pytest.approx(here.outcomes[key], rel=1e-12), key
    # the store: the parts named by an index, read as one store of the joined history
    write_parts_index(store, len(priced.parts_done))
    assert read_index(store)["format"] == 2 and (store / "part-1" / "index.json").is_file()
    joined = plain.spells
    for name, rule in plan.simple_rules().items():
        if name not in joined.counter_at_start:
            joined = joined.with_counter(name, counters_for_rule(joined, rule))
    single = tmp_path / "single"
    write_explain_store(single, joined, {name: joined.counter_at_start[name]
                                         for name in plan.explained_rules()},
                        plan.simple_rules(), plain.horizon_days)
    assert {k: v for k, v in read_index(store).items() if k not in ("format", "parts")} == {
        k: v for k, v in read_index(single).items()
        if k not in ("format", "columns", "persons_numbered")}
    people = np.unique(joined.person_id)
    for person in [*people[::97].tolist(), int(people[-1])]:
        a = read_person(store, person, plan.simple_rules())
        b = read_person(single, person, plan.simple_rules())
        assert a is not None and b is not None
        for column, values in b.columns().items():
            assert np.array_equal(getattr(a, column), values), (person, column)
        for name, counter in b.counter_at_start.items():
            assert np.array_equal(a.counter_at_start[name], counter), (person, name)
    assert read_person(store, int(people[-1]) + 1, plan.simple_rules()) is None
    # spells.csv.gz from the parts' columns, a block of rows at a time: the bytes of the file
    # written from the joined history
    counter = counter_in_force(joined, plan.counter_shown, joined.counter_at_start)
    write_spells_csv(tmp_path / "joined.csv.gz", joined, counter)
    write_spells_csv_of_parts(tmp_path / "parts.csv.gz", [columns / "part-0", columns / "part-1"],
                              priced.spells, block_rows=997)
    joined_bytes = (tmp_path / "joined.csv.gz").read_bytes()
    assert (tmp_path / "parts.csv.gz").read_bytes() == joined_bytes
    assert len(gzip.decompress(joined_bytes).splitlines()) == len(joined) + 1


def test_compares_shards_draw_up_their_outcomes_as_the_joined_history_gives_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """compare's shards draw up their outcomes (ALL and each municipality) where they ran and
    send back no history: each municipality's row is the one the joined history gives, to
    the bit (a municipality is in one shard), and the whole country's adds the shards'."""
    s = three_municipalities(tmp_path)
    plan = Plan.of(s)
    monkeypatch.setattr(engine, "may_start_processes", lambda: True)
    done = simulate(s, 0, shards=2, then=functools.partial(compare_part, plan))
    plain = simulate(s, 0, shards=2)
    assert len(done.spells) == 0 and len(done.parts_done) == 2
    made = OutcomePart.added([d.outcomes for d in done.parts_done])
    joined = OutcomePart.of(plan, plain.spells, plain.horizon_days, plain.elapsed_days)
    rows, here = np.array(made.rows()), np.array(joined.rows())
    assert np.array_equal(rows[1:], here[1:])                  # by municipality: the bits
    np.testing.assert_allclose(rows[0], here[0], rtol=1e-12)   # the country: the shards'
    exits = OUTCOME_KEYS.index("exits_to_employment")          # a count: exact
    assert rows[0, exits] == rows[1:, exits].sum() > 500
    for name in ("stock", "services_by_month", "sums", "service_days"):
        assert getattr(made, name).shape == getattr(joined, name).shape
    assert np.array_equal(made.stock, joined.stock)
    assert np.array_equal(made.services_by_month, joined.services_by_month)
    # and compare's replication gives the same figures in shards in processes or not
    monkeypatch.setattr(shards, "SHARD_MIN_PEOPLE", 0)
    apart = compare_job(s, plan.priced, s.seed, 0, False)
    monkeypatch.setattr(engine, "may_start_processes", lambda: False)
    together = compare_job(s, plan.priced, s.seed, 0, False)
    for name in ("amounts", "outcomes", "yearly"):
        assert np.array_equal(getattr(apart, name), getattr(together, name)), name


def test_run_and_compare_of_a_country_in_shards_give_the_same_yearly_euros(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run prices the shards with the bill, compare without it and with its own rules: the
    same euros, byte for byte, in every base column of municipalities_yearly.csv."""
    s = three_municipalities(tmp_path)
    monkeypatch.setattr(shards, "SHARD_MIN_PEOPLE", 0)
    assert len(shards_of(s, population(s, s.seed, 0))) == 2
    run_scenario(s, tmp_path / "run", replications=1)
    compare(s, None, tmp_path / "compare", replications=1)
    texts = [(tmp_path / kind / "municipalities_yearly.csv").read_text(encoding="utf-8")
             for kind in ("run", "compare")]
    ran, compared = (list(csv.DictReader(io.StringIO(t))) for t in texts)
    assert len(ran) == len(compared) > 0
    for a, b in zip(ran, compared, strict=True):
        assert {k: a[k] for k in YEARLY_COLUMNS} == {k: b[k] for k in YEARLY_COLUMNS}
