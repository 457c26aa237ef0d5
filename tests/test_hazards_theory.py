"""The competing-risks sampler against closed forms.

Tolerances are four standard errors of the estimate at the sample size used (a correct sampler
fails a check with probability about 6e-5); seeds are fixed, so the suite is deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest

from incentive_sim.scenario.schema import Hazard
from incentive_sim.simulation.hazards import CompetingRisks

N = 200_000
Z = 4.0


def risks(**hazards: Hazard | None) -> CompetingRisks:
    return CompetingRisks.from_hazards(hazards, ["other", "youth"])


def ones(n: int, d: int) -> np.ndarray:
    return np.ones((n, d))


def test_a_constant_hazard_gives_exponential_spells_with_mean_one_over_rate() -> None:
    cr = risks(employment=Hazard(rate_per_day=0.004))
    rng = np.random.default_rng(1)
    d, dest = cr.sample(np.zeros(N), np.full(N, np.inf), ones(N, 1), rng)
    mean, se = 250.0, 250.0 / np.sqrt(N)       # Exp(rate): mean = sd = 1/rate
    assert abs(d.mean() - mean) < Z * se
    assert (dest == 0).all()


def test_piecewise_hazards_give_the_closed_form_survival() -> None:
    hz = Hazard(bands_days=[0, 90, 180, 365], rate_per_day=[0.008, 0.006, 0.004, 0.0025])
    cr = risks(employment=hz)
    rng = np.random.default_rng(2)
    d, _ = cr.sample(np.zeros(N), np.full(N, np.inf), ones(N, 1), rng)
    for t in (45.0, 90.0, 150.0, 300.0, 500.0, 900.0):
        # H(t) = sum of rate * time spent in each band up to t
        H = sum(r * max(0.0, min(t, hi) - lo) for lo, hi, r in
                [(0, 90, 0.008), (90, 180, 0.006), (180, 365, 0.004), (365, np.inf, 0.0025)])
        p = np.exp(-H)
        se = np.sqrt(p * (1 - p) / N)
        assert abs((d > t).mean() - p) < Z * se, t


def test_destinations_are_drawn_in_proportion_to_their_hazards() -> None:
    cr = risks(employment=Hazard(rate_per_day=0.006), education=Hazard(rate_per_day=0.002),
               inactivity=Hazard(rate_per_day=0.001))
    rng = np.random.default_rng(3)
    _, dest = cr.sample(np.zeros(N), np.full(N, np.inf), ones(N, 3), rng)
    for j, p in enumerate([6 / 9, 2 / 9, 1 / 9]):
        assert abs((dest == j).mean() - p) < Z * np.sqrt(p * (1 - p) / N)


def test_destination_shares_follow_the_band_in_which_the_exit_happens() -> None:
    # employment only in the first 100 days, education only after: P(employment) = 1 - e^-0.5
    cr = risks(employment=Hazard(bands_days=[0, 100], rate_per_day=[0.005, 0.0]),
               education=Hazard(bands_days=[0, 100], rate_per_day=[0.0, 0.01]))
    rng = np.random.default_rng(4)
    d, dest = cr.sample(np.zeros(N), np.full(N, np.inf), ones(N, 2), rng)
    p = 1 - np.exp(-0.5)
    assert abs((dest == 0).mean() - p) < Z * np.sqrt(p * (1 - p) / N)
    assert (d[dest == 0] < 100).all() and (d[dest == 1] >= 100).all()


def test_sampling_in_pieces_equals_sampling_at_once() -> None:
    hz = Hazard(bands_days=[0, 90, 180], rate_per_day=[0.008, 0.004, 0.002])
    cr = risks(employment=hz)
    rng = np.random.default_rng(5)
    first, _ = cr.sample(np.zeros(N), np.full(N, 120.0), ones(N, 1), rng)
    rest, _ = cr.sample(np.full(N, 120.0), np.full(N, np.inf), ones(N, 1), rng)
    d = np.where(np.isfinite(first), first, rest)
    assert (first[np.isfinite(first)] < 120).all()
    for t in (60.0, 120.0, 200.0, 400.0):
        p = float(cr.survival(np.array([t]), ones(1, 1))[0])
        assert abs((d > t).mean() - p) < Z * np.sqrt(p * (1 - p) / N), t


def test_people_already_unemployed_exit_by_the_conditional_survival() -> None:
    # the initial caseload starts at an elapsed duration: S(t | d0) = S(t) / S(d0)
    hz = Hazard(bands_days=[0, 90, 365], rate_per_day=[0.008, 0.004, 0.0015])
    cr = risks(employment=hz)
    rng = np.random.default_rng(6)
    d0 = 200.0
    d, _ = cr.sample(np.full(N, d0), np.full(N, np.inf), ones(N, 1), rng)
    assert (d >= d0).all()
    s0 = float(cr.survival(np.array([d0]), ones(1, 1))[0])
    for t in (300.0, 365.0, 700.0):
        p = float(cr.survival(np.array([t]), ones(1, 1))[0]) / s0
        assert abs((d > t).mean() - p) < Z * np.sqrt(p * (1 - p) / N), t


def test_a_multiplier_scales_the_hazard() -> None:
    cr = risks(employment=Hazard(rate_per_day=0.004, group_multiplier={"youth": 1.5}))
    assert cr.group_multiplier[1, 0] == 1.5 and cr.group_multiplier[0, 0] == 1.0
    rng = np.random.default_rng(7)
    d, _ = cr.sample(np.zeros(N), np.full(N, np.inf), np.full((N, 1), 1.5), rng)
    mean = 1 / (0.004 * 1.5)
    assert abs(d.mean() - mean) < Z * mean / np.sqrt(N)


def test_a_zero_hazard_never_exits_and_the_horizon_censors() -> None:
    cr = risks(employment=Hazard(rate_per_day=0.0))
    rng = np.random.default_rng(8)
    d, dest = cr.sample(np.zeros(10), np.full(10, 50.0), ones(10, 1), rng)
    assert np.isinf(d).all() and (dest == -1).all()


@pytest.mark.parametrize("seed", [11, 12])
def test_the_same_seed_gives_identical_draws(seed: int) -> None:
    cr = risks(employment=Hazard(rate_per_day=0.004), education=Hazard(rate_per_day=0.001))
    a = cr.sample(np.zeros(1000), np.full(1000, 400.0), ones(1000, 2), np.random.default_rng(seed))
    b = cr.sample(np.zeros(1000), np.full(1000, 400.0), ones(1000, 2), np.random.default_rng(seed))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_one_client_at_a_time_follows_the_same_survival() -> None:
    # the event layer's scalar path: piecewise hazards, left truncation, a horizon
    hz = Hazard(bands_days=[0, 90, 180], rate_per_day=[0.008, 0.004, 0.002])
    cr = risks(employment=hz, education=Hazard(rate_per_day=0.001))
    rng = np.random.default_rng(9)
    n = 40_000
    draws = [cr.sample_one(50.0, 600.0, [1.0, 1.0], rng) for _ in range(n)]
    d = np.array([x for x, _ in draws])
    dest = np.array([j for _, j in draws])
    assert (d[np.isfinite(d)] >= 50).all() and (d[np.isfinite(d)] < 600).all()
    s0 = float(cr.survival(np.array([50.0]), ones(1, 2))[0])
    for t in (100.0, 200.0, 400.0, 600.0):
        p = float(cr.survival(np.array([t]), ones(1, 2))[0]) / s0
        assert abs((d > t).mean() - p) < Z * np.sqrt(p * (1 - p) / n), t
    assert (dest[np.isinf(d)] == -1).all()
    # after day 180 the destinations split 2:1
    late = d > 180
    p = 2 / 3
    share = (dest[late & np.isfinite(d)] == 0).mean()
    m = int((late & np.isfinite(d)).sum())
    assert abs(share - p) < Z * np.sqrt(p * (1 - p) / m)
