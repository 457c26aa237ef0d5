"""Municipal decisions per person: a threshold referral is an event when the counter gets
there, reviews run on each person's own jittered clock, and a service can be offered again."""

from __future__ import annotations

from typing import Any

import numpy as np

from incentive_sim.scenario.schema import Scenario
from incentive_sim.simulation.engine import Engine, SimulationResult
from incentive_sim.simulation.population import person_uniform

RATE = 5 / 7      # paid days per calendar day


def scenario(policy: dict[str, Any], service: dict[str, Any] | None = None,
             inflow: float = 400.0, **over: Any) -> Scenario:
    """Newcomers on the labour market subsidy who never find a job by themselves, and a
    service with more places than they can fill."""
    data: dict[str, Any] = {
        "name": "reviews", "horizon_days": 1461, "seed": 11,
        "municipalities": {"A": {"working_age_population": 1000}},
        "groups": {"all": {"share": 1.0, "benefit_mix": {"labour_market_subsidy": 1.0}}},
        "population": {"initial_stock": {"A": 0}, "inflow_per_year": {"A": inflow},
                       "initial_duration_days": {"dist": "fixed", "value": 0},
                       "initial_paid_days": {"dist": "fixed", "value": 0},
                       "inflow_paid_days": {"dist": "fixed", "value": 0}},
        "transitions": {"employment": {"rate_per_day": 0.0}},
        "services": {"coaching": {"capacity": {"A": 5000},
                                  "duration_days": {"dist": "fixed", "value": 20},
                                  "on_completion": {"employment": 1.0}, **(service or {})}},
        "policy": policy,
        "funding": {"in_force": "fi_2025_graduated"},
    }
    data.update(over)
    return Scenario.model_validate(data)


def run(s: Scenario) -> tuple[Engine, SimulationResult]:
    engine = Engine(s, 0, s.seed)
    return engine, engine.run()


def test_a_threshold_referral_happens_when_the_counter_gets_there() -> None:
    engine, result = run(scenario({"strategy": "threshold", "refer_at_paid_days": 50}))
    referred = result.referrals.arrays()
    arrival = engine.people.arrival_day[referred["person"]]
    assert referred["person"].size > 500
    # the counter starts at 0 and grows at 5/7 a day: paid day 50 is 70 days after arrival,
    # wherever that falls between the 90-day reviews
    np.testing.assert_allclose(referred["day"] - arrival, 50 / RATE, atol=1e-6)
    np.testing.assert_allclose(referred["counter"], 50.0, atol=1e-6)


def test_threshold_zero_refers_at_arrival() -> None:
    engine, result = run(scenario({"strategy": "threshold", "refer_at_paid_days": 0}))
    referred = result.referrals.arrays()
    assert referred["person"].size > 1000
    np.testing.assert_array_equal(referred["day"], engine.people.arrival_day[referred["person"]])


def test_reviews_run_from_each_persons_arrival_with_a_jittered_interval() -> None:
    engine, result = run(scenario({"strategy": "fifo", "review_every_days": 40}))
    referred = result.referrals.arrays()
    waited = referred["day"] - engine.people.arrival_day[referred["person"]]
    assert referred["person"].size > 1000
    # the first review falls within +-25 % of one interval after arrival (held on the first
    # whole day at or after it), and spread over it rather than at one spot
    assert waited.min() >= 30.0 and waited.max() <= 51.0
    assert waited.std() > 40 * 0.5 / np.sqrt(12) * 0.8
    # so the counters at referral do not fall on a lattice of 5/7 x the interval (28.6 here)
    _, count = np.unique(np.round(referred["counter"], 1), return_counts=True)
    assert count.size > 100 and count.max() < 0.05 * referred["counter"].size


def test_a_person_who_declines_is_offered_again_at_a_later_review() -> None:
    s = scenario({"strategy": "fifo", "review_every_days": 30, "take_up": 0.5})
    engine, result = run(s)
    stats = result.services["coaching"]
    assert stats.declined > 200
    # arriving in the first year leaves some 16 reviews before the horizon: nearly everyone
    # says yes to one of them (all declining: 0.5^16)
    early = np.flatnonzero(engine.people.arrival_day < 365)
    referred = np.isin(early, result.referrals.arrays()["person"])
    assert referred.mean() > 0.99


def test_a_person_is_offered_a_service_again_after_it_ends() -> None:
    # completing the service leads back to open unemployment, not to a job
    s = scenario({"strategy": "fifo", "review_every_days": 30},
                 service={"on_completion": {}})
    _, result = run(s)
    referred = result.referrals.arrays()
    _, times = np.unique(referred["person"], return_counts=True)
    assert (times >= 2).mean() > 0.8
    # each later referral comes after the 20-day service that the one before started
    order = np.lexsort((referred["day"], referred["person"]))
    who, day = referred["person"][order], referred["day"][order]
    again = who[1:] == who[:-1]
    assert (np.diff(day)[again] >= 20.0).all()


def test_a_persons_review_draws_do_not_depend_on_who_else_is_drawn() -> None:
    people = np.arange(1000)
    k = np.arange(1000) % 7
    together = person_uniform(12345, people, k)
    alone = np.array([person_uniform(12345, people[i:i + 1], k[i:i + 1])[0]
                      for i in range(0, 1000, 97)])
    np.testing.assert_array_equal(together[::97], alone)
    assert together.min() >= 0.0 and together.max() < 1.0
    assert abs(together.mean() - 0.5) < 0.05


def test_people_the_municipality_never_refers_live_the_same_lives_without_services() -> None:
    """Each person's moves come from their own stream: reviewing, referring and queueing
    others, on whatever days, leaves the life courses of everyone never referred unchanged
    (common random numbers between strategies and rules)."""
    over = {"transitions": {"employment": {"rate_per_day": 0.004},
                            "job_loss": {"rate_per_day": 0.002}},
            "population": {"initial_stock": {"A": 300}, "inflow_per_year": {"A": 400},
                           "initial_duration_days": {"dist": "exponential", "mean": 200},
                           "initial_paid_days": {"dist": "exponential", "mean": 300}}}
    with_services = run(scenario({"strategy": "fifo", "review_every_days": 30},
                                 service={"capacity": {"A": 20}}, **over))[1]
    without = run(scenario({"strategy": "none"}, **over))[1]
    referred = np.unique(with_services.referrals.arrays()["person"])
    assert referred.size > 100

    def lives(result: SimulationResult) -> dict[str, np.ndarray]:
        spells = result.spells
        keep = ~np.isin(spells.person_id, referred)
        order = np.lexsort((spells.start_day[keep], spells.person_id[keep]))
        return {name: getattr(spells, name)[keep][order]
                for name in ("person_id", "state", "benefit", "start_day", "end_day")}

    a, b = lives(with_services), lives(without)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
