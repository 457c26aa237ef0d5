"""The event layer against queueing theory, and the engine's reproducibility.

Tolerances are four standard errors estimated from independent replications (queue waits are
autocorrelated within a run, so replications, not customers, are the independent samples)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from incentive_sim.scenario.schema import Scenario
from incentive_sim.scenario.vocabulary import STATE_CODE
from incentive_sim.simulation.engine import Engine, simulate

Z = 4.0
REPLICATIONS = 10


def scenario(**over: Any) -> Scenario:
    data: dict[str, Any] = {
        "name": "queue", "horizon_days": 1461, "seed": 3,
        "municipalities": {"A": {"working_age_population": 1000}},
        "groups": {"all": {"share": 1.0, "benefit_mix": {"labour_market_subsidy": 1.0}}},
        "population": {"initial_stock": {"A": 0},
                       "initial_duration_days": {"dist": "fixed", "value": 0},
                       "initial_paid_days": {"dist": "fixed", "value": 0}},
        "transitions": {"employment": {"rate_per_day": 0.0}},
        "services": {"coaching": {"capacity": {"A": 4},
                                  "duration_days": {"dist": "exponential", "mean": 10}}},
        "funding": {"in_force": "fi_2025_graduated"},
    }
    data.update(over)
    return Scenario.model_validate(data)


def erlang_c_wait(arrival: float, service: float, servers: int) -> float:
    """Mean wait in queue of an M/M/c queue."""
    a = arrival / service
    rho = a / servers
    top = a**servers / math.factorial(servers) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(servers)) + top)
    return p_wait / (servers * service - arrival)


def mmc_mean_wait(replication: int, arrival: float, horizon: float) -> float:
    """Feed the engine's own pool and clients with Poisson arrivals; nobody leaves a queue."""
    n = int(arrival * horizon * 1.3) + 100
    s = scenario(horizon_days=int(horizon), population={
        "initial_stock": {"A": n}, "initial_duration_days": {"dist": "fixed", "value": 0},
        "initial_paid_days": {"dist": "fixed", "value": 0}})
    engine = Engine(s, replication, seed=100)
    svc = engine.services[0]
    rng = np.random.default_rng(1000 + replication)

    def arrivals() -> Any:
        for person in range(n):
            yield engine.env.timeout(rng.exponential(1 / arrival))
            engine._flush()
            engine.courses.advance_people(np.array([person]), engine.env.now)
            engine.refer(np.array([person]), np.zeros(1), svc, np.zeros(1, np.int64),
                         np.zeros(1, np.int64), engine.env.now)

    engine.env.process(arrivals())
    result = engine.run()
    stats = result.services["coaching"]
    return stats.mean_wait_days()


def test_an_mmc_service_queue_gives_the_erlang_c_mean_wait() -> None:
    arrival, mean_days, servers = 0.3, 10.0, 4          # rho = 0.75
    waits = np.array([mmc_mean_wait(r, arrival, 6000.0) for r in range(8)])
    expected = erlang_c_wait(arrival, 1 / mean_days, servers)   # 5.09 days
    se = waits.std(ddof=1) / np.sqrt(waits.size)
    # starting empty biases waits down; over 6000 days (1800 arrivals) that is far below 1 SE
    assert abs(waits.mean() - expected) < Z * se, (waits, expected)


def test_the_queue_never_holds_more_clients_in_service_than_places() -> None:
    s = scenario(population={"initial_stock": {"A": 300},
                             "initial_duration_days": {"dist": "fixed", "value": 0},
                             "initial_paid_days": {"dist": "fixed", "value": 0}},
                 policy={"strategy": "threshold", "review_every_days": 30})
    spells = simulate(s).spells
    in_service = spells.state == STATE_CODE["service"]
    starts, ends = spells.start_day[in_service], spells.end_day[in_service]
    for t in np.linspace(0, 1460, 200):
        assert np.sum((starts <= t) & (ends > t)) <= 4


def test_people_in_a_queue_can_leave_it_for_a_job() -> None:
    s = scenario(population={"initial_stock": {"A": 400},
                             "initial_duration_days": {"dist": "fixed", "value": 0},
                             "initial_paid_days": {"dist": "fixed", "value": 0}},
                 transitions={"employment": {"rate_per_day": 0.01}},
                 policy={"strategy": "threshold", "review_every_days": 30})
    result = simulate(s)
    stats = result.services["coaching"]
    assert stats.left_queue > 0
    waiting = result.spells.state == STATE_CODE["waiting"]
    assert waiting.any()
    # everyone referred either started, left the queue, or was still waiting at the horizon
    still = int(np.sum(waiting & result.spells.censored))
    assert stats.starts + stats.left_queue + still == stats.referrals


def test_the_same_seed_gives_identical_histories_with_services() -> None:
    s = scenario(population={"initial_stock": {"A": 500}, "inflow_per_year": {"A": 500},
                             "initial_duration_days": {"dist": "exponential", "mean": 200},
                             "initial_paid_days": {"dist": "exponential", "mean": 300}},
                 transitions={"employment": {"rate_per_day": 0.004},
                              "job_loss": {"rate_per_day": 0.002}},
                 policy={"strategy": "incentive_aware", "review_every_days": 30})
    a, b = simulate(s), simulate(s)
    for name, column in a.spells.columns().items():
        assert np.array_equal(column, b.spells.columns()[name]), name
    c = simulate(s, seed=99)
    assert len(c.spells) != len(a.spells) or not np.array_equal(c.spells.end_day,
                                                                a.spells.end_day)


def arrivals_referred_at_once(arrival: float, servers: int, mean_days: float, horizon: int,
                              **over: Any) -> Scenario:
    """Poisson newcomers referred the moment they arrive (`threshold` at 0 paid days) to an
    exponential service with `servers` places, after which they leave for a job; nobody
    leaves a queue. The reviews keep the scenario defaults."""
    data: dict[str, Any] = {
        "horizon_days": horizon,
        "population": {"initial_stock": {"A": 0}, "inflow_per_year": {"A": arrival * 365.25},
                       "initial_duration_days": {"dist": "fixed", "value": 0},
                       "initial_paid_days": {"dist": "fixed", "value": 0}},
        "services": {"coaching": {"capacity": {"A": servers},
                                  "duration_days": {"dist": "exponential", "mean": mean_days},
                                  "on_completion": {"employment": 1.0}}},
        "policy": {"strategy": "threshold", "refer_at_paid_days": 0},
    }
    data.update(over)
    return scenario(**data)


def test_referral_at_arrival_gives_the_erlang_c_mean_wait() -> None:
    arrival, mean_days, servers = 0.3, 10.0, 4          # rho = 0.75
    s = arrivals_referred_at_once(arrival, servers, mean_days, horizon=6000)
    waits = np.array([simulate(s, replication=r).services["coaching"].mean_wait_days()
                      for r in range(REPLICATIONS)])
    expected = erlang_c_wait(arrival, 1 / mean_days, servers)   # 5.09 days
    # Each replication's mean wait over ~1800 customers is one sample; waits within a run are
    # autocorrelated, so the replications (not customers) give the standard error. Starting
    # empty biases the mean down by far less than one standard error over 6000 days.
    se = waits.std(ddof=1) / np.sqrt(waits.size)
    assert abs(waits.mean() - expected) < 3 * se, (waits.mean(), se, expected)
