"""The people: the initial caseload (already unemployed at t = 0, with elapsed durations and
accrued counters) and the Poisson inflow of new spells, as columnar arrays."""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..scenario.schema import (
    Distribution,
    Empirical,
    Exponential,
    Fixed,
    Frailty,
    Gamma,
    Lognormal,
    Scenario,
    Uniform,
)
from ..scenario.vocabulary import BENEFIT_CODE, BENEFITS
from .hazards import Risks

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def stream(seed: int, replication: int, name: str) -> np.random.Generator:
    """The random stream of one stochastic process in one replication.

    Streams are keyed by the process's name, not by creation order, so adding a service or a
    process does not shift the draws of any other; replications are independent children of
    the scenario seed.
    """
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(replication, key)))


def person_uniform(key: int, person: npt.ArrayLike, k: npt.ArrayLike) -> FloatArray:
    """Uniform draws in [0, 1) keyed by (key, person, k): the k-th draw of each person's own
    stream (splitmix64 of the three), whoever else is drawn at the same time."""
    with np.errstate(over="ignore"):      # in place: one array, not one per operation
        z = np.asarray(person, np.uint64) << np.uint64(24)
        z ^= np.asarray(k, np.uint64)
        z += np.uint64(key)
        z += np.uint64(0x9E3779B97F4A7C15)
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
        z >>= np.uint64(11)
    return np.asarray(z.astype(np.float64) * 2.0**-53)


class PersonStreams:
    """One random stream per person of a process: a person's draws depend on the seed, the
    process and how many draws the person has had, not on who is drawn with them or when, so
    batching the work differently (or a change elsewhere in the model) leaves them alone."""

    def __init__(self, seed: int, replication: int, name: str, people: int,
                 ids: IntArray | None = None) -> None:
        self.key = int(stream(seed, replication, name).integers(2**62))
        self.drawn = np.zeros(people, np.int64)
        # the people's ids in the whole population, when these are some of it (a shard of the
        # country): a person draws the same numbers whoever they are simulated with
        self.ids = ids

    def uniforms(self, who: npt.ArrayLike, m: int = 1) -> FloatArray:
        """The next m uniforms of each person in `who` (distinct), in one pass: shape
        (m, people), row j each person's j-th next draw."""
        who = np.asarray(who, np.int64)
        k = self.drawn[who]
        self.drawn[who] = k + m
        ids = who if self.ids is None else self.ids[who]
        if m > 1:
            ids, k = np.tile(ids, m), (k + np.arange(m)[:, None]).ravel()
        return person_uniform(self.key, ids, k).reshape(m, who.size)

    def uniform(self, who: npt.ArrayLike) -> FloatArray:
        """The next uniform of each person in `who` (distinct)."""
        return np.asarray(self.uniforms(who)[0])

    def exponential(self, who: npt.ArrayLike) -> FloatArray:
        """The next standard exponential of each person in `who` (distinct)."""
        return np.asarray(-np.log1p(-self.uniform(who)))

    def exponential_and_uniform(self, who: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """`exponential(who)`, then `uniform(who)`: the same draws, made in one pass."""
        u = self.uniforms(who, 2)
        return np.asarray(-np.log1p(-u[0])), u[1]


def sample(dist: Distribution, n: int, rng: np.random.Generator) -> FloatArray:
    """n draws from a scenario distribution (all parameterised by mean and sd where they can)."""
    if isinstance(dist, Fixed):
        return np.full(n, dist.value)
    if isinstance(dist, Exponential):
        return rng.exponential(dist.mean, n)
    if isinstance(dist, Lognormal):
        if dist.sd == 0:
            return np.full(n, dist.mean)
        sigma2 = np.log1p((dist.sd / dist.mean) ** 2)
        return rng.lognormal(np.log(dist.mean) - sigma2 / 2, np.sqrt(sigma2), n)
    if isinstance(dist, Gamma):
        if dist.sd == 0:
            return np.full(n, dist.mean)
        shape = (dist.mean / dist.sd) ** 2
        return rng.gamma(shape, dist.mean / shape, n)
    if isinstance(dist, Uniform):
        return rng.uniform(dist.low, dist.high, n)
    if isinstance(dist, Empirical):
        w = np.asarray(dist.weights if dist.weights is not None else np.ones(len(dist.values)))
        return np.asarray(dist.values)[rng.choice(len(dist.values), n, p=w / w.sum())]
    raise TypeError(f"unknown distribution {dist!r}")  # pragma: no cover - schema forbids


def mean_of(dist: Distribution) -> float:
    """The mean of a scenario distribution (what `sample` draws around)."""
    if isinstance(dist, Fixed):
        return dist.value
    if isinstance(dist, Uniform):
        return (dist.low + dist.high) / 2
    if isinstance(dist, Empirical):
        w = np.ones(len(dist.values)) if dist.weights is None else np.asarray(dist.weights)
        return float(np.dot(dist.values, w) / w.sum())
    return dist.mean


def frailty(spec: Frailty | None, n: int, rng: np.random.Generator) -> FloatArray:
    """Mean-one multipliers of exit hazards with the given variance (1 when not given)."""
    if spec is None or spec.variance == 0:
        return np.ones(n)
    if spec.dist == "gamma":
        return rng.gamma(1.0 / spec.variance, spec.variance, n)
    sigma2 = np.log1p(spec.variance)
    return rng.lognormal(-sigma2 / 2, np.sqrt(sigma2), n)


def frailty_given_survival(spec: Frailty | None, cumulative_hazard: FloatArray,
                           rng: np.random.Generator) -> FloatArray:
    """Frailty of people still unemployed after a spell whose cumulative exit hazard at frailty
    one is H: the prior frailty z weighted by the likelihood exp(-z H) of having survived.

    Long spells select people with low exit chances; drawing the caseload's frailty from the
    prior instead would make its long-term part leave too fast. Gamma(k, rate k) has the
    conjugate posterior Gamma(k, rate k + H). The lognormal posterior is drawn by rejection:
    propose from the prior, accept with probability exp(-z H) (exact; a person needs 1/S rounds
    on average, where S is the share of their kind still unemployed after the spell).
    """
    n = cumulative_hazard.size
    if spec is None or spec.variance == 0:
        return np.ones(n)
    if spec.dist == "gamma":
        k = 1.0 / spec.variance
        return rng.gamma(k, 1.0 / (k + cumulative_hazard))
    out = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        z = frailty(spec, todo.size, rng)
        accept = rng.random(todo.size) < np.exp(-z * cumulative_hazard[todo])
        out[todo[accept]] = z[accept]
        todo = todo[~accept]
    return out


@dataclass(frozen=True, eq=False)
class People:
    """One row per person (a new spell from the inflow is a new person)."""

    municipality: npt.NDArray[np.int32]
    group: npt.NDArray[np.int32]
    benefit: npt.NDArray[np.int8]
    daily_amount: FloatArray
    basic_part: FloatArray
    max_paid_days: FloatArray        # entitlement of a benefit that ends (inf for the others)
    subsidy_amount: FloatArray       # daily labour market subsidy once on it
    frailty: FloatArray
    local_exit: FloatArray           # the municipality's exit multiplier (1 without one)
    arrival_day: FloatArray          # 0 for the initial caseload
    elapsed_days: FloatArray         # spell (or, employed at start: job) duration on arrival
    prior_paid_days: FloatArray      # benefit-day counter accrued before arrival
    entitlement_used: FloatArray     # paid days of the ending benefit used before arrival
    employed_at_start: npt.NDArray[np.bool_]   # in work at t = 0 (a former jobseeker)

    def __len__(self) -> int:
        return len(self.arrival_day)


def month_starts(start: dt.date, horizon_days: int) -> FloatArray:
    """Day offsets of the first day of every calendar month in [0, horizon), from start_date;
    the first entry is 0 (the start, even mid-month)."""
    days = [0.0]
    y, m = start.year, start.month
    while True:
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        offset = (dt.date(y, m, 1) - start).days
        if offset >= horizon_days:
            return np.asarray(days)
        days.append(float(offset))


def draw(spec: float | Distribution, n: int, rng: np.random.Generator) -> FloatArray:
    """n draws of a scenario value that is a number (the same for everyone) or a distribution."""
    if isinstance(spec, int | float):
        return np.full(n, float(spec))
    return sample(spec, n, rng)


def _attributes(s: Scenario, municipality: IntArray, rng: np.random.Generator,
                name: str, seed: int, replication: int) -> dict[str, np.ndarray]:
    """Group, benefit type, amounts, entitlement and frailty for people of the given
    municipalities. Group, benefit, the earnings-related amount and frailty come from `rng`;
    each per-person value added later has a stream of its own (`name` + its key, by group
    for the maximum), so giving one of them a distribution shifts no other draw."""
    n = municipality.size
    groups = list(s.groups.values())
    arriving = name != "population.initial"       # the inflow and the former jobseekers
    shares = np.array([g.inflow_share if arriving and g.inflow_share is not None else g.share
                       for g in groups])
    group = rng.choice(len(groups), n, p=shares / shares.sum())
    mix = np.zeros((len(groups), len(BENEFITS)))
    for i, g in enumerate(groups):
        for b, p in g.benefit_mix.items():
            mix[i, BENEFIT_CODE[b]] = p
    cum = np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1)
    benefit = (cum[group] < rng.random(n)[:, None]).sum(axis=1)
    benefit = np.minimum(benefit, len(BENEFITS) - 1)
    daily = s.benefits.daily
    er = daily.earnings_related
    is_er = benefit == BENEFIT_CODE["earnings_related"]
    is_ba = benefit == BENEFIT_CODE["basic_allowance"]
    er_amount = np.maximum(sample(Lognormal(dist="lognormal", mean=er.mean, sd=er.sd), n, rng),
                           er.basic_part)
    person_frailty = frailty(s.population.heterogeneity, n, rng)
    by = s.transitions.exit_multiplier_by
    local = np.ones(n) if by is None else np.array(
        [spec.attributes[by] for spec in s.municipalities.values()])[municipality]

    def own(key: str) -> np.random.Generator:
        return stream(seed, replication, f"{name}.{key}")

    subsidy = draw(daily.labour_market_subsidy, n, own("subsidy_amount"))
    basic_allowance = draw(daily.basic_allowance, n, own("basic_allowance_amount"))
    # Act 388/2023: an adjusted earnings-related allowance's basic part is co-financed in
    # proportion, so the paid fraction scales both.
    fraction = draw(er.paid_fraction, n, own("paid_fraction"))
    amounts = np.where(is_er, fraction * er_amount, np.where(is_ba, basic_allowance, subsidy))
    basic = np.where(is_er, fraction * er.basic_part, amounts)
    limited = np.isin(benefit, [BENEFIT_CODE[b] for b in s.benefits.max_paid_days_applies_to])
    maximum = np.full(n, np.inf)
    for code, (group_name, spec) in enumerate(s.groups.items()):
        members = np.flatnonzero((group == code) & limited)
        entitlement = spec.max_paid_days if spec.max_paid_days is not None else (
            s.benefits.max_paid_days)
        maximum[members] = draw(entitlement, members.size, own(f"max_paid_days.{group_name}"))
    return {
        "municipality": municipality.astype(np.int32),
        "group": group.astype(np.int32),
        "benefit": benefit.astype(np.int8),
        "daily_amount": amounts,
        "basic_part": basic,
        "max_paid_days": maximum,
        "subsidy_amount": subsidy,
        "frailty": person_frailty,
        "local_exit": local,
    }


# Allowances that need the employment condition, which also restarts the funding counters.
ALLOWANCES = [BENEFIT_CODE["earnings_related"], BENEFIT_CODE["basic_allowance"]]


def _use_entitlement(attrs: dict[str, np.ndarray], used: FloatArray) -> FloatArray:
    """People who have used `used` paid days of an allowance that ends: those past its maximum
    are on the labour market subsidy now (`attrs` changed in place). Returns the days used of
    the benefit each is on (0 on the subsidy, which does not end)."""
    exhausted = used >= attrs["max_paid_days"]
    attrs["benefit"] = np.where(exhausted, BENEFIT_CODE["labour_market_subsidy"],
                                attrs["benefit"]).astype(np.int8)
    attrs["daily_amount"] = np.where(exhausted, attrs["subsidy_amount"], attrs["daily_amount"])
    attrs["basic_part"] = np.where(exhausted, attrs["daily_amount"], attrs["basic_part"])
    attrs["max_paid_days"] = np.where(exhausted, np.inf, attrs["max_paid_days"])
    return np.where(np.isfinite(attrs["max_paid_days"]), used, 0.0)


def _counted(s: Scenario, counts: Mapping[str, int], name: str, seed: int, replication: int
             ) -> tuple[np.random.Generator, dict[str, np.ndarray]]:
    """The stream `name` and the attributes of people counted per municipality at t = 0."""
    rng = stream(seed, replication, name)
    municipality = np.repeat(np.arange(len(s.municipalities)),
                             [counts.get(m, 0) for m in s.municipalities])
    return rng, _attributes(s, municipality, rng, name, seed, replication)


def initial_caseload(s: Scenario, seed: int, replication: int) -> People:
    """The people unemployed at t = 0: elapsed durations and accrued counters as the scenario
    gives them. Counters are at least the paid days of the elapsed spell. An earnings-related
    or basic allowance begins with the employment condition met, which resets the counters (as
    a job of `employment_condition_days` does in the life courses), so their recipients have
    counted the elapsed spell only: in Kela's 2025 bill no earnings-related or basic-allowance
    recipient is above class 401-700. Those whose entitlement is used up by the elapsed spell
    are on the labour market subsidy already. Frailty is drawn given the elapsed spell
    (`frailty_given_survival`); groups keep the shares the scenario gives."""
    rng, attrs = _counted(s, s.population.initial_stock, "population.initial", seed,
                          replication)
    n = attrs["municipality"].size
    # where exits are faster by a factor k, a stock has spells and counters shorter by 1 / k
    local = attrs["local_exit"]
    elapsed = sample(s.population.initial_duration_days, n, rng) / local
    exits = Risks.of(s).exits
    survived = exits.cumulative_at(elapsed, exits.group_multiplier[attrs["group"]]
                                   * local[:, None])
    attrs["frailty"] = frailty_given_survival(s.population.heterogeneity, survived, rng)
    ppw = s.benefits.paid_days_per_week
    spell_paid = elapsed * ppw / 7.0
    allowance = np.isin(attrs["benefit"], ALLOWANCES)
    prior = np.where(allowance, spell_paid,
                     np.maximum(sample(s.population.initial_paid_days, n, rng) / local,
                                spell_paid))
    used = _use_entitlement(attrs, spell_paid)
    return People(**attrs, arrival_day=np.zeros(n), elapsed_days=elapsed, prior_paid_days=prior,
                  entitlement_used=used, employed_at_start=np.zeros(n, bool))


def initial_employed(s: Scenario, seed: int, replication: int) -> People:
    """Former jobseekers in work at t = 0 (`population.initial_employed`): in work for
    `initial_employed_days`, carrying the counters of their last spells
    (`initial_employed_paid_days`). One who loses the job comes back with them; an allowance
    the last spell used up to its maximum is gone (the subsidy follows), and a job as long as
    the employment condition earns it again. Their job began before t = 0, so their first
    segment does: the funding counters see the work that can reset them."""
    rng, attrs = _counted(s, s.population.initial_employed, "population.employed", seed,
                          replication)
    n = attrs["municipality"].size
    worked = sample(s.population.initial_employed_days, n, rng)
    prior = sample(s.population.initial_employed_paid_days, n, rng)
    used = _use_entitlement(attrs, prior)
    return People(**attrs, arrival_day=np.zeros(n), elapsed_days=worked, prior_paid_days=prior,
                  entitlement_used=used, employed_at_start=np.ones(n, bool))


def trend_levels(s: Scenario, days: FloatArray) -> FloatArray:
    """The inflow's level (population.inflow_trend) on the given days since the start."""
    trend = s.population.inflow_trend
    if not trend:
        return np.ones(days.size)
    at = np.array([(p.date - s.start_date).days for p in trend], float)
    return np.asarray(np.interp(days, at, np.array([p.level for p in trend])), np.float64)


def expected_inflow(s: Scenario) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The months (their starts and ends, in days) and the expected new spells of each
    municipality in each: `expected[municipality, month]` (see `inflow`)."""
    starts = month_starts(s.start_date, s.horizon_days)
    ends = np.append(starts[1:], float(s.horizon_days))
    first_month = s.start_date.month - 1
    season = np.ones(12) if s.population.seasonality is None else np.asarray(
        s.population.seasonality)
    month_factor = season[(first_month + np.arange(starts.size)) % 12] * trend_levels(
        s, (starts + ends) / 2)
    rate = np.array([s.population.inflow_per_year.get(m, 0.0) for m in s.municipalities]
                    ) / 365.25
    return starts, ends, rate[:, None] * ((ends - starts) * month_factor)[None, :]


def expected_people(s: Scenario) -> float:
    """How many people the scenario's population has, expected before it is drawn: its
    counts at the start and its expected inflow."""
    p = s.population
    return float(sum(p.initial_stock.values()) + sum(p.initial_employed.values())
                 + expected_inflow(s)[2].sum())


def inflow(s: Scenario, seed: int, replication: int) -> People:
    """New unemployment spells over the horizon: a Poisson process per municipality whose
    rate is inflow_per_year / 365.25, times the month's seasonality multiplier and the level
    of the inflow trend in the middle of the month, if given.
    Arrivals are sorted by day; their counters start at `inflow_paid_days`, except for
    earnings-related and basic-allowance recipients, whose employment condition has just reset
    them."""
    rng = stream(seed, replication, "population.inflow")
    starts, ends, expected = expected_inflow(s)
    names = list(s.municipalities)
    counts = rng.poisson(expected)
    municipality = np.repeat(np.repeat(np.arange(len(names)), starts.size), counts.ravel())
    month = np.tile(np.arange(starts.size), len(names))
    month = np.repeat(month, counts.ravel())
    day = starts[month] + rng.random(month.size) * (ends - starts)[month]
    order = np.argsort(day, kind="stable")
    municipality, day = municipality[order], day[order]
    attrs = _attributes(s, municipality, rng, "population.inflow", seed, replication)
    n = day.size
    allowance = np.isin(attrs["benefit"], ALLOWANCES)
    prior = np.where(allowance, 0.0, sample(s.population.inflow_paid_days, n, rng))
    return People(**attrs, arrival_day=day, elapsed_days=np.zeros(n), prior_paid_days=prior,
                  entitlement_used=np.zeros(n), employed_at_start=np.zeros(n, bool))
