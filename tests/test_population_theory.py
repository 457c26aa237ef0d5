"""Population sampling against the distributions' formulas (tolerances: 4 standard errors)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from incentive_sim.scenario import InputError, load_scenario
from incentive_sim.scenario.schema import (
    Empirical,
    Exponential,
    Frailty,
    Gamma,
    Lognormal,
    Population,
    Scenario,
)
from incentive_sim.scenario.vocabulary import BENEFIT_CODE
from incentive_sim.simulation.population import (
    PersonStreams,
    frailty,
    frailty_given_survival,
    inflow,
    initial_caseload,
    month_starts,
    sample,
    stream,
)

REPO = Path(__file__).resolve().parents[1]
N = 200_000
Z = 4.0


@pytest.mark.parametrize(("dist", "mean", "var"), [
    (Exponential(dist="exponential", mean=420.0), 420.0, 420.0**2),
    (Lognormal(dist="lognormal", mean=68.0, sd=18.0), 68.0, 18.0**2),
    (Gamma(dist="gamma", mean=90.0, sd=30.0), 90.0, 30.0**2),
    (Empirical(dist="empirical", values=[300, 400, 500], weights=[1, 2, 1]), 400.0, 5000.0),
])
def test_distributions_have_their_stated_mean_and_variance(dist, mean, var) -> None:  # type: ignore[no-untyped-def]
    x = sample(dist, N, np.random.default_rng(1))
    assert abs(x.mean() - mean) < Z * np.sqrt(var / N)
    # the sample variance's standard error needs the fourth moment; estimate it from the sample
    se_var = np.sqrt(np.var((x - x.mean()) ** 2) / N)
    assert abs(x.var() - var) < Z * se_var


@pytest.mark.parametrize("kind", ["gamma", "lognormal"])
def test_frailty_has_mean_one_and_the_stated_variance(kind: str) -> None:
    x = frailty(Frailty(dist=kind, variance=0.4), N, np.random.default_rng(2))  # type: ignore[arg-type]
    assert abs(x.mean() - 1.0) < Z * np.sqrt(0.4 / N)
    assert abs(x.var() - 0.4) < Z * np.sqrt(np.var((x - 1) ** 2) / N)


@pytest.mark.parametrize("kind", ["gamma", "lognormal"])
@pytest.mark.parametrize("survived", [0.5, 2.0])
def test_frailty_given_survival_is_the_prior_weighted_by_the_survival_likelihood(
        kind: str, survived: float) -> None:
    # Posterior moments E[z^k e^(-zH)] / E[e^(-zH)] by quadrature over the prior's density.
    spec = Frailty(dist=kind, variance=0.4)  # type: ignore[arg-type]
    z = np.linspace(1e-6, 12.0, 400_001)
    if kind == "gamma":
        k = 1 / 0.4
        density = z ** (k - 1) * np.exp(-k * z)
    else:
        s2 = np.log1p(0.4)
        density = np.exp(-(np.log(z) + s2 / 2) ** 2 / (2 * s2)) / z
    weight = density * np.exp(-z * survived)
    mean = np.sum(z * weight) / np.sum(weight)
    var = np.sum((z - mean) ** 2 * weight) / np.sum(weight)
    x = frailty_given_survival(spec, np.full(N, survived), np.random.default_rng(7))
    assert mean < 1.0 - 0.1                       # survivors are the less employable
    assert abs(x.mean() - mean) < Z * np.sqrt(var / N)
    assert abs(x.var() - var) < Z * np.sqrt(np.var((x - x.mean()) ** 2) / N)


def test_streams_are_keyed_by_name_not_by_order() -> None:
    a = stream(7, 0, "exits").random(5)
    stream(7, 0, "a new process").random(100)
    assert np.array_equal(a, stream(7, 0, "exits").random(5))
    assert not np.array_equal(a, stream(7, 1, "exits").random(5))


def test_month_starts_follow_the_calendar() -> None:
    starts = month_starts(dt.date(2025, 1, 1), 1461)
    assert list(starts[:4]) == [0, 31, 59, 90]
    assert starts.size == 48


def test_inflow_is_poisson_with_the_yearly_rate_per_municipality() -> None:
    s = load_scenario(REPO / "scenarios" / "tampere_region_2025.yaml")
    counts = []
    for rep in range(20):
        people = inflow(s, 1, rep)
        counts.append(np.bincount(people.municipality, minlength=2))
        assert (np.diff(people.arrival_day) >= 0).all()
        assert people.arrival_day.max() < s.horizon_days
    mean = np.mean(counts, axis=0)
    expected = np.array(list(s.population.inflow_per_year.values())) * s.horizon_days / 365.25
    # mean of 20 Poisson counts: sd sqrt(lambda / 20)
    assert (np.abs(mean - expected) < Z * np.sqrt(expected / 20)).all()


def test_the_inflow_starts_with_zero_counters_unless_it_has_accrued_days() -> None:
    s = load_scenario(REPO / "scenarios" / "tampere_region_2025.yaml")

    def with_inflow_paid_days(dist: Any) -> Scenario:
        return s.model_copy(update={"population": s.population.model_copy(update={
            "inflow_paid_days": dist})})

    unset = with_inflow_paid_days(Population().inflow_paid_days)     # the schema's default
    assert not inflow(unset, 1, 0).prior_paid_days.any()
    accrued = with_inflow_paid_days(Empirical(dist="empirical", values=[0, 600], weights=[3, 1]))
    people = inflow(accrued, 1, 0)
    # the employment condition that opened an allowance reset the counters
    er = np.isin(people.benefit, [BENEFIT_CODE["earnings_related"],
                                  BENEFIT_CODE["basic_allowance"]])
    assert er.any() and not people.prior_paid_days[er].any()
    prior = people.prior_paid_days[~er]
    assert set(np.unique(prior)) == {0.0, 600.0}
    # a quarter at 600: binomial sd of the share sqrt(p (1 - p) / n)
    assert abs(np.mean(prior == 600) - 0.25) < Z * np.sqrt(0.25 * 0.75 / prior.size)


def test_earnings_related_caseload_has_counted_only_its_elapsed_spell() -> None:
    s = load_scenario(REPO / "scenarios" / "tampere_region_2025.yaml")
    people = initial_caseload(s, 3, 0)
    paid = people.elapsed_days * s.benefits.paid_days_per_week / 7
    er = people.benefit == BENEFIT_CODE["earnings_related"]
    assert er.any()
    assert np.allclose(people.prior_paid_days[er], paid[er])
    # others bring counters of earlier spells too (the scenario's mean is 500 days)
    assert (people.prior_paid_days[~er] >= paid[~er]).all()
    assert people.prior_paid_days[~er].mean() > paid[~er].mean() + 100


def test_seasonality_shifts_inflow_between_months(tmp_path: Path) -> None:
    base = REPO / "scenarios" / "tampere_region_2025.yaml"
    season = [2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    (tmp_path / "s.yaml").write_text(f"extends: {base}\npopulation:\n  seasonality: {season}\n")
    s = load_scenario(tmp_path / "s.yaml")
    people = inflow(s, 3, 0)
    jan = np.sum(people.arrival_day < 31)
    feb = np.sum((people.arrival_day >= 31) & (people.arrival_day < 59))
    per_day = sum(s.population.inflow_per_year.values()) / 365.25
    lam_jan, lam_feb = per_day * 31 * 2, per_day * 28
    assert abs(jan - lam_jan) < Z * np.sqrt(lam_jan)
    assert abs(feb - lam_feb) < Z * np.sqrt(lam_feb)


def test_the_inflow_trend_sets_each_months_level_at_its_middle(tmp_path: Path) -> None:
    """Level 1 on 1.1.2025 rising to 2 on 1.1.2026 and flat after: January 2025 is at
    1 + 15/365, July 2025 at 1 + 196/365, every month of 2027 at 2."""
    base = REPO / "scenarios" / "tampere_region_2025.yaml"
    (tmp_path / "s.yaml").write_text(
        f"extends: {base}\npopulation:\n  inflow_trend: [{{date: 2025-01-01, level: 1}}, "
        f"{{date: 2026-01-01, level: 2}}]\n")
    s = load_scenario(tmp_path / "s.yaml")
    people = inflow(s, 3, 0)
    per_day = sum(s.population.inflow_per_year.values()) / 365.25
    for first, days, level in ((0, 31, 1 + 15.5 / 365), (181, 31, 1 + 196.5 / 365),
                               (730, 31, 2.0), (730 + 181, 31, 2.0)):
        count = np.sum((people.arrival_day >= first) & (people.arrival_day < first + days))
        lam = per_day * days * level
        assert abs(count - lam) < Z * np.sqrt(lam), (first, count, lam)


def test_inflow_trend_dates_must_increase(tmp_path: Path) -> None:
    base = REPO / "scenarios" / "tampere_region_2025.yaml"
    (tmp_path / "s.yaml").write_text(
        f"extends: {base}\npopulation:\n  inflow_trend: [{{date: 2026-01-01, level: 1}}, "
        f"{{date: 2025-01-01, level: 2}}]\n")
    with pytest.raises(InputError, match="dates must increase"):
        load_scenario(tmp_path / "s.yaml")


def test_the_caseload_has_the_group_shares_and_benefit_mix_of_the_scenario() -> None:
    s = load_scenario(REPO / "scenarios" / "tampere_region_2025.yaml")
    people = initial_caseload(s, 5, 0)
    n = len(people)
    assert n == 18000 + 2100
    for g, group in enumerate(s.groups.values()):
        p = group.share
        assert abs(np.mean(people.group == g) - p) < Z * np.sqrt(p * (1 - p) / n)
    youth = people.group == 0
    er_or_lms = np.isin(people.benefit[youth], [BENEFIT_CODE["earnings_related"],
                                                 BENEFIT_CODE["labour_market_subsidy"]])
    assert er_or_lms.all()
    # counters cover at least the elapsed spell; exhausted earnings-related moved to the subsidy
    assert (people.prior_paid_days >= people.elapsed_days * 5 / 7 - 1e-9).all()
    er = people.benefit == BENEFIT_CODE["earnings_related"]
    assert (people.elapsed_days[er] * 5 / 7 < 400).all()
    assert (people.daily_amount[er] >= people.basic_part[er]).all()


def test_a_persons_exponential_and_uniform_drawn_together_are_those_drawn_one_by_one() -> None:
    """The life courses draw each person's exponential and uniform in one pass: the same
    numbers as exponential() then uniform(), and the person's next draw is the same too,
    with and without ids in a whole population."""
    for ids in (None, np.array([7, 3, 11, 40, 2], np.int64)):
        one_by_one = PersonStreams(5, 1, "lifecourse.exits", 5, ids)
        together = PersonStreams(5, 1, "lifecourse.exits", 5, ids)
        who = np.array([4, 0, 2])
        one_by_one.uniform(np.array([2]))            # people at different draw counts
        together.uniform(np.array([2]))
        e, u = one_by_one.exponential(who), one_by_one.uniform(who)
        e2, u2 = together.exponential_and_uniform(who)
        assert e.tobytes() == e2.tobytes() and u.tobytes() == u2.tobytes()
        everyone = np.arange(5)
        assert one_by_one.uniform(everyone).tobytes() == together.uniform(everyone).tobytes()
