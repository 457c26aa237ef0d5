"""The scenario and funding-rule languages as immutable pydantic models.

Field-level checks (types, signs, ranges, list shapes) live here; checks that relate one part of
a scenario to another (every name refers to something that exists, shares add up) live in
`validation.py`, so each problem can be reported at the exact key that causes it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .vocabulary import Benefit, Payer, Provider, State, Transition


def _number_only(value: Any) -> Any:
    """A number is written as a number: `true` or a quoted "60" where a number belongs is a
    mistake to report, not a value to convert."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {str(value).lower()}")
    if isinstance(value, str):
        try:
            float(value.replace("_", ""))
        except ValueError:
            raise ValueError(f"must be a number (got {value!r})") from None
        raise ValueError(f"must be a number, not text ({value!r}): write it without quotes")
    return value


Number = BeforeValidator(_number_only)
"""Refuses booleans and strings before pydantic would convert them to numbers. Put it after
the `Field` of the constraints (`Annotated[float, Field(ge=0), Number]`): it runs first all the
same, and the JSON Schema keeps the constraints (as minimum, maximum)."""

MAX_COUNT = 1_000_000_000
"""The largest count of people or places (the national caseload is 334,000)."""
MAX_HORIZON_DAYS = 73_050
"""The longest horizon, 200 years."""
MAX_REPLICATIONS = 10_000
MAX_NUMBER = 1e12
"""The largest number of the language (amounts, days, rates): larger ones are typing errors, and
would overflow the totals."""

NonNegative = Annotated[float, Field(ge=0, le=MAX_NUMBER, allow_inf_nan=False), Number]
Positive = Annotated[float, Field(gt=0, le=MAX_NUMBER, allow_inf_nan=False), Number]
AtLeastADay = Annotated[float, Field(ge=1, le=MAX_NUMBER, allow_inf_nan=False), Number]
MAX_RATE_PER_DAY = 1.0
"""The largest hazard: one event a day on average (rates are per calendar day, not per year)."""
Rate = Annotated[float, Field(ge=0, le=MAX_RATE_PER_DAY, allow_inf_nan=False), Number]
MAX_MULTIPLIER = 100.0
Multiplier = Annotated[float, Field(ge=0, le=MAX_MULTIPLIER, allow_inf_nan=False), Number]
"""A multiplier of a hazard (by group, during and after a service)."""
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False), Number]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT), Number]
Name = Annotated[str, Field(min_length=1)]


def _currency_code(code: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", code):
        raise ValueError(f"must be a three-letter currency code such as EUR or DKK (got {code!r})")
    return code


Currency = Annotated[str, AfterValidator(_currency_code),
                     Field(json_schema_extra={"pattern": "^[A-Za-z]{3}$"})]
"""A three-letter currency code such as EUR or DKK (compared without regard to case)."""


class Strict(BaseModel):
    """Every model: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------- distributions

class Fixed(Strict):
    dist: Literal["fixed"]
    value: NonNegative


class Exponential(Strict):
    dist: Literal["exponential"]
    mean: Positive


class Lognormal(Strict):
    dist: Literal["lognormal"]
    mean: Positive
    sd: NonNegative


class Gamma(Strict):
    dist: Literal["gamma"]
    mean: Positive
    sd: NonNegative


class Uniform(Strict):
    dist: Literal["uniform"]
    low: NonNegative
    high: NonNegative

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("high must be at least low")
        return self


class Empirical(Strict):
    dist: Literal["empirical"]
    values: list[NonNegative] = Field(min_length=1)
    weights: list[NonNegative] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> Empirical:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(f"weights has {len(self.weights)} entries but values has "
                                 f"{len(self.values)}")
            if sum(self.weights) <= 0:
                raise ValueError("weights must not all be zero")
        return self


Distribution = Annotated[Fixed | Exponential | Lognormal | Gamma | Uniform | Empirical,
                         Field(discriminator="dist")]


class Frailty(Strict):
    """Unobserved heterogeneity: a mean-one multiplier on every exit hazard of a person."""

    dist: Literal["gamma", "lognormal"] = "gamma"
    variance: NonNegative


# ---------------------------------------------------------------- benefits

def _positive_days(spec: int | Fixed | Exponential | Lognormal | Gamma | Uniform | Empirical,
                   ) -> Any:
    """A maximum entitlement is at least some paid days: no draw may be 0."""
    if isinstance(spec, Fixed) and spec.value <= 0:
        raise ValueError("value must be a positive number of paid days")
    if isinstance(spec, Empirical) and min(spec.values) <= 0:
        raise ValueError("values must all be positive numbers of paid days")
    return spec


def _share_of_full(spec: float | Fixed | Exponential | Lognormal | Gamma | Uniform | Empirical,
                   ) -> Any:
    """A paid fraction is a share of the full allowance: every draw must lie in (0, 1]."""
    if isinstance(spec, Fixed) and not 0 < spec.value <= 1:
        raise ValueError(f"value must be in (0, 1] (got {spec.value!r})")
    if isinstance(spec, Uniform) and spec.high > 1:
        raise ValueError(f"high must be at most 1 (got {spec.high!r})")
    if isinstance(spec, Uniform) and spec.high <= 0:
        raise ValueError("high must be above 0")
    if isinstance(spec, Empirical) and not all(0 < v <= 1 for v in spec.values):
        raise ValueError("values must all be in (0, 1]")
    if isinstance(spec, Exponential | Lognormal | Gamma) and (
            spec.dist == "exponential" or getattr(spec, "sd", 0) > 0 or spec.mean > 1):
        raise ValueError(f"dist {spec.dist!r} can draw shares above 1: use fixed, uniform or "
                         f"empirical")
    return spec


EntitlementDays = Annotated[Annotated[int, Field(gt=0, le=MAX_COUNT), Number] | Distribution,
                            AfterValidator(_positive_days)]
"""A maximum in paid days: a whole number, or a distribution drawn once per person."""

DailyAmount = NonNegative | Distribution
"""A benefit's daily amount: fixed, or a distribution drawn once per person."""

PaidFraction = Annotated[Annotated[float, Field(gt=0, le=1, allow_inf_nan=False), Number]
                         | Distribution,
                         AfterValidator(_share_of_full)]
"""The share of the full allowance actually paid: a number in (0, 1], or a distribution drawn
once per person whose every draw lies there."""

LimitedBenefit = Literal["earnings_related", "basic_allowance"]


class EarningsRelatedDaily(Strict):
    mean: Positive
    sd: NonNegative = 0.0
    basic_part: NonNegative
    paid_fraction: PaidFraction = Field(
        1.0, description="Share of the full allowance actually paid (adjusted for part-time "
        "work, for instance), a number in (0, 1] or a distribution drawn per person; it scales "
        "the daily amount and its basic part alike, since an adjusted allowance's basic part is "
        "co-financed in proportion (Act 388/2023).")

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "max_paid_days" in data:
            raise ValueError("max_paid_days has moved: give it as benefits.max_paid_days, "
                             "where it applies to the basic allowance as well as the "
                             "earnings-related allowance")
        return data

    @model_validator(mode="after")
    def _basic_below_mean(self) -> EarningsRelatedDaily:
        if self.basic_part > self.mean:
            raise ValueError("basic_part cannot exceed the mean daily amount")
        return self


class DailyAmounts(Strict):
    labour_market_subsidy: DailyAmount = Field(
        37.21, description="Paid per day: a number, or a distribution drawn per person (adjusted "
        "and partial benefits are lower than the full amount). A person who moves on to the "
        "subsidy gets their own draw.")
    basic_allowance: DailyAmount = Field(
        37.21, description="Paid per day: a number, or a distribution drawn per person.")
    earnings_related: EarningsRelatedDaily = EarningsRelatedDaily(
        mean=68.0, sd=18.0, basic_part=37.21)


class Benefits(Strict):
    paid_days_per_week: Annotated[int, Field(ge=1, le=7), Number] = 5
    daily: DailyAmounts = DailyAmounts()
    currency: Currency = Field(
        "EUR", description="Currency of the daily amounts, and hence of every output amount; "
        "a priced rule with money amounts of its own (bonuses, fixed transfers) must be in it.")
    max_paid_days: EntitlementDays = Field(
        400, description="Maximum duration of the earnings-related allowance and the basic "
        "allowance in paid days (by law 300, 400 or 500 by work history and age), a whole "
        "number or a distribution drawn per person; a group may override it. Then the person "
        "moves on to the labour market subsidy.")
    max_paid_days_applies_to: list[LimitedBenefit] = Field(
        ["earnings_related", "basic_allowance"], min_length=1,
        description="The benefits that end after max_paid_days (Finnish law: both); e.g. "
        "[earnings_related] where the model's basic allowance stands for a benefit without a "
        "maximum.")
    payment_lag_days: NonNegative = Field(
        0.0, description="Days from a benefit day to the day it is paid (benefits are paid in "
        "arrears): the month of `day + payment_lag_days` is the day's payment month in "
        "municipal_share_monthly.csv, as in Kela's monthly bill.")
    employment_condition_days: Positive = Field(
        365.0, description="A job that lasts this many days meets the employment condition "
        "again: a person who loses it has a fresh entitlement (12 months from 2.9.2024).")


# ---------------------------------------------------------------- places and people

class Municipality(Strict):
    working_age_population: Count
    code: str | None = Field(None, description="Statistics Finland's three-digit code.")
    region: str | None = None
    employment_area: str | None = Field(
        None, description="The employment area (työllisyysalue) organising its services.")
    population: Count | None = None
    unemployment_rate: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] | None = \
        Field(None, description="Register unemployment rate, % of the labour force.")
    attributes: dict[Name, NonNegative] = {}


class Group(Strict):
    share: Share
    inflow_share: Share | None = Field(
        None, description="The group's share of the inflow and of the former jobseekers in "
        "work at the start, when it differs from its share of the caseload (`share`): a group "
        "with long spells is a larger part of the caseload than of those who arrive.")
    benefit_mix: dict[Benefit, Share] = Field(min_length=1)
    max_paid_days: EntitlementDays | None = Field(
        None, description="The group's own maximum (e.g. by age), instead of "
        "benefits.max_paid_days.")


class TrendPoint(Strict):
    date: dt.date
    level: NonNegative


class Population(Strict):
    initial_stock: dict[Name, Count] = {}
    initial_employed: dict[Name, Count] = Field(
        default={}, description="Former jobseekers in work at the start, by municipality: "
        "they may lose the job (transitions.job_loss) and come back with their counters and "
        "entitlement, so one person can have several spells.")
    initial_employed_days: Distribution = Field(
        default=Exponential(dist="exponential", mean=365.0),
        description="How long the initial employed have been in work at the start.")
    initial_employed_paid_days: Distribution = Field(
        default=Fixed(dist="fixed", value=0.0),
        description="The benefit-day counters the initial employed carry from before.")
    initial_duration_days: Distribution = Exponential(dist="exponential", mean=365.0)
    initial_paid_days: Distribution = Exponential(dist="exponential", mean=300.0)
    inflow_per_year: dict[Name, NonNegative] = {}
    inflow_paid_days: Distribution = Field(
        default=Fixed(dist="fixed", value=0.0),
        description="Benefit days already accrued by people of the inflow (earlier spells that "
                    "did not reset the counter); 0 unless given.")
    seasonality: list[NonNegative] | None = Field(
        default=None, min_length=12, max_length=12,
        description="Twelve monthly multipliers of the inflow rate (January first).")
    inflow_trend: list[TrendPoint] = Field(
        default=[], description="The inflow's level through time, relative to "
        "inflow_per_year: linear between the dates given, flat before the first and after "
        "the last; each month takes the level of its middle day. Empty: level 1 throughout.")

    @model_validator(mode="after")
    def _trend_in_order(self) -> Population:
        dates = [p.date for p in self.inflow_trend]
        if any(b <= a for a, b in itertools.pairwise(dates)):
            raise ValueError("inflow_trend: the dates must increase")
        return self
    heterogeneity: Frailty | None = None


class Hazard(Strict):
    """A hazard per calendar day: a constant, or piecewise-constant in spell duration."""

    bands_days: list[NonNegative] | None = None
    rate_per_day: Rate | list[Rate]
    group_multiplier: dict[Name, Multiplier] = {}

    @model_validator(mode="after")
    def _bands_match_rates(self) -> Hazard:
        if isinstance(self.rate_per_day, list):
            if self.bands_days is None:
                raise ValueError("a list of rates needs bands_days, the start of each band")
            if len(self.bands_days) != len(self.rate_per_day):
                raise ValueError(f"bands_days has {len(self.bands_days)} entries but "
                                 f"rate_per_day has {len(self.rate_per_day)}")
            if not self.bands_days or self.bands_days[0] != 0:
                raise ValueError("bands_days must start at 0")
            if any(b <= a for a, b in itertools.pairwise(self.bands_days)):
                raise ValueError("bands_days must strictly increase")
        elif self.bands_days is not None:
            raise ValueError("bands_days given but rate_per_day is a single number; "
                             "give one rate per band")
        return self

    def band_rates(self) -> tuple[list[float], list[float]]:
        """(band starts, rates) also for a constant hazard."""
        if isinstance(self.rate_per_day, list):
            assert self.bands_days is not None
            return list(self.bands_days), list(self.rate_per_day)
        return [0.0], [float(self.rate_per_day)]


class Transitions(Strict):
    employment: Hazard
    education: Hazard | None = None
    inactivity: Hazard | None = None
    job_loss: Hazard | None = None
    exit_multiplier_by: Name | None = Field(
        None, description="A municipality attribute (e.g. `exit_index` of `municipalities: "
        "{from: finland_2025}`) that multiplies every exit hazard of the municipality's "
        "unemployed: local labour markets differ in how fast people find work. The initial "
        "caseload's elapsed spells and counters are divided by it, as a stock with those "
        "hazards would have them.")


# ---------------------------------------------------------------- services

class HazardMultipliers(Strict):
    employment: Multiplier = 1.0
    education: Multiplier = 1.0
    inactivity: Multiplier = 1.0


class HazardAfter(HazardMultipliers):
    days: NonNegative = 0.0


class Eligibility(Strict):
    groups: list[Name] | None = None
    min_paid_days: NonNegative = 0.0
    max_paid_days: NonNegative | None = None


class Service(Strict):
    capacity: dict[Name, Count] = Field(min_length=1)
    duration_days: Distribution
    cost_per_day: NonNegative = 0.0
    paid_by: Literal["municipality", "state"] = "municipality"
    state_compensation_per_day: NonNegative = 0.0
    benefit_paid: bool = True
    hazard_during: HazardMultipliers = HazardMultipliers()
    hazard_after: HazardAfter = HazardAfter()
    on_completion: dict[Transition, Share] = {}
    eligible: Eligibility = Eligibility()
    provider: Provider = "municipal"


# ---------------------------------------------------------------- policy

class PolicyOverride(Strict):
    strategy: Literal["none", "fifo", "threshold", "incentive_aware"] | None = None
    review_every_days: AtLeastADay | None = None
    refer_at_paid_days: NonNegative | None = None
    take_up: Share | None = None
    response_strength: NonNegative | None = None
    planning_horizon_days: AtLeastADay | None = None


class Policy(Strict):
    strategy: Literal["none", "fifo", "threshold", "incentive_aware"] = "none"
    review_every_days: AtLeastADay = Field(
        90.0, description="Each jobseeker's own review interval, from their arrival in "
        "unemployment, jittered uniformly by +-25 % per interval; held on the first whole day "
        "at or after it. A review can offer a service again, after a service or a refusal.")
    refer_at_paid_days: NonNegative = Field(
        0.0, description="For strategy `threshold`: the referral is an event the moment the "
        "person's in-force counter reaches this many paid days (0: at arrival), not a review; "
        "later reviews refer again while the counter is past it.")
    take_up: Share = Field(1.0, description="The chance that a person accepts an offer, drawn "
                           "at each offer.")
    response_strength: NonNegative = Field(
        0.0, description="For strategy `incentive_aware`: each year a pool with an "
        "incentive-aware member aims to buy a place for each distinct candidate of theirs it "
        "turned away whose referral would have saved more than it costs, and to give one up "
        "for each of their referrals that saved less (a place serving 365 / mean duration "
        "clients a year); this is the share of that change made in a year, within "
        "`places_range`. 0 (the default) keeps each service's starting `capacity`.")
    planning_horizon_days: AtLeastADay = Field(
        365.0, description="For strategy `incentive_aware`: how many days ahead the "
        "municipality counts what a referral saves it (expected benefit days at the share the "
        "rule in force bills them, at the person's current exit rates).")
    places_taken_at_start: bool = Field(
        False, description="The services are running when the scenario starts: on day 0 "
        "every municipality not under `threshold` offers its free places to its caseload as "
        "at a review, so that the activation rate does not start from zero (people already "
        "in a service start a new one of the service's length: model choice).")
    places_follow_caseload: bool = Field(
        False, description="Each quarter every pool's places become its places times "
        "its jobseekers now (unemployed, waiting and in a service, in the municipalities it "
        "serves) over those at the start, as budgets for services follow unemployment (model "
        "choice). A response (`response_strength`) changes places on top, at that scale.")
    places_range: tuple[NonNegative, NonNegative] = Field(
        (0.5, 4.0), description="For `response_strength` > 0: the fewest and most places a "
        "pool may have, as multiples of its starting `capacity` (model choice).")
    by_municipality: dict[Name, PolicyOverride] = {}

    @model_validator(mode="after")
    def _range_holds_the_start(self) -> Policy:
        low, high = self.places_range
        if not low <= 1.0 <= high:
            raise ValueError("places_range must hold 1 (the starting capacity): "
                             f"[{low:g}, {high:g}]")
        return self


# ---------------------------------------------------------------- funding rules

class Step(Strict):
    """From paid day `from_day` (exclusive: from_day 300 applies to day 301 on) this share."""

    from_day: NonNegative | None = None
    from_week: NonNegative | None = None
    share: Share
    label: str | None = Field(
        None, description="The band's name in outputs, e.g. Kela's day class `401-700`; by "
        "default the paid days it covers (`401-700`, `701-`; weeks for from_week steps).")
    note: str = Field("", description="Where the value comes from and how sure it is.")

    @model_validator(mode="after")
    def _one_threshold(self) -> Step:
        if (self.from_day is None) == (self.from_week is None):
            raise ValueError("give exactly one of from_day or from_week")
        return self

    def threshold_days(self, paid_days_per_week: int) -> float:
        """The threshold in paid days (weeks count `paid_days_per_week` paid days each)."""
        if self.from_day is not None:
            return self.from_day
        assert self.from_week is not None
        return self.from_week * paid_days_per_week


class Reset(Strict):
    """The counter restarts once `days` calendar days in `after_days_in` fall within
    `within_days` (e.g. the employment condition: 182 days of work within 852)."""

    after_days_in: list[State] = Field(min_length=1)
    days: Positive
    within_days: Positive
    note: str = Field("", description="Where the values come from and how sure they are.")

    @model_validator(mode="after")
    def _window_holds_days(self) -> Reset:
        if self.within_days < self.days:
            raise ValueError("within_days must be at least days")
        return self


class Liability(Strict):
    benefits: list[Benefit] = Field(min_length=1)
    counts: list[State]
    charged: list[State]
    municipality_share: list[Step] = Field(min_length=1)
    reset: Reset | None = None

    @model_validator(mode="after")
    def _steps_increase(self) -> Liability:
        by_day = [s.from_day is not None for s in self.municipality_share]
        if any(by_day) and not all(by_day):
            raise ValueError("use either from_day or from_week in all steps of a block")
        days = [s.from_day if s.from_day is not None else s.from_week or 0.0
                for s in self.municipality_share]
        if any(b <= a for a, b in itertools.pairwise(days)):
            raise ValueError("municipality_share steps must have strictly increasing "
                             "from_day/from_week")
        if self.reset is not None:
            both = sorted(set(self.reset.after_days_in) & set(self.counts))
            if both:
                raise ValueError(f"states {both} both count towards the counter and towards "
                                 f"its reset")
        return self


class Bonus(Strict):
    """A payment when a person enters a state (progress), optionally only if it lasts."""

    on: Transition
    amount: NonNegative
    lasting_days: NonNegative = 0.0
    min_counter: NonNegative = 0.0
    from_: Payer = Field("state", alias="from")
    to: Payer = "municipality"

    @model_validator(mode="after")
    def _two_parties(self) -> Bonus:
        if self.from_ == self.to:
            raise ValueError("a bonus must go from one payer to another")
        return self


class FixedTransfer(Strict):
    kind: Literal["fixed"]
    amounts: dict[Name, NonNegative] = Field(
        description="State transfer to each municipality, per year.")


class CostNeutralTransfer(Strict):
    kind: Literal["cost_neutral"]
    base: Name
    allocate_by: Name = "working_age_population"


Transfers = Annotated[FixedTransfer | CostNeutralTransfer, Field(discriminator="kind")]


class TimelineEntry(Strict):
    """From date `from` on, the rule named `rule` is in force (until the next entry's date)."""

    from_: dt.date = Field(alias="from")
    rule: Name


class FundingRule(Strict):
    title: str = ""
    reference: str = ""
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    confidence: str = ""
    currency: Currency = Field(
        "EUR", description="Currency of the rule's own amounts (bonus amounts, fixed transfer "
        "amounts). A rule of shares only has none and may be priced on a scenario in any "
        "currency.")
    liability: list[Liability] = []
    bonuses: list[Bonus] = []
    transfers: Transfers | None = None
    timeline: list[TimelineEntry] | None = Field(
        None, min_length=1,
        description="A rule dated in time: each entry's rule is in force from its date until "
        "the next entry's; before the first date no rule is (the state pays everything). Every "
        "rule's counter runs over the whole history, so days paid before a switch count toward "
        "the later rule's bands.")

    @property
    def is_timeline(self) -> bool:
        return self.timeline is not None

    @model_validator(mode="after")
    def _timeline_or_liability(self) -> FundingRule:
        if self.timeline is None:
            if not self.title.strip():
                raise ValueError("a rule needs a `title` (or a `timeline` of other rules)")
            return self
        if self.liability or self.bonuses:
            raise ValueError("a timeline has no liability or bonuses of its own: put them in "
                             "the rules it names")
        dates = [e.from_ for e in self.timeline]
        if any(b <= a for a, b in itertools.pairwise(dates)):
            raise ValueError("timeline dates (`from`) must strictly increase")
        return self

    @model_validator(mode="after")
    def _blocks_disjoint(self) -> FundingRule:
        seen: dict[str, int] = {}
        for i, block in enumerate(self.liability):
            for b in block.benefits:
                if b in seen:
                    raise ValueError(f"benefit {b} is in liability blocks {seen[b]} and {i}; "
                                     f"each benefit may be in one block only")
                seen[b] = i
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


# ---------------------------------------------------------------- the scenario

class Funding(Strict):
    in_force: Name
    compare: list[Name] = []
    transfers: Transfers | None = None


class Scenario(Strict):
    name: Name
    description: str = ""
    start_date: dt.date = dt.date(2025, 1, 1)
    horizon_days: Annotated[int, Field(gt=0, le=MAX_HORIZON_DAYS), Number] = 1461
    seed: Annotated[int, Field(ge=0, lt=2**63), Number] = 0
    replications: Annotated[int, Field(ge=1, le=MAX_REPLICATIONS), Number] = 1
    benefits: Benefits = Benefits()
    municipalities: dict[Name, Municipality] = Field(min_length=1)
    areas: dict[Name, list[Name]] = {}
    groups: dict[Name, Group] = Field(min_length=1)
    population: Population = Population()
    transitions: Transitions
    services: dict[Name, Service] = {}
    policy: Policy = Policy()
    funding: Funding
    rules: dict[Name, FundingRule] = {}

    def rule_names(self) -> list[str]:
        """The rules this scenario prices, the one in force first, without repeats."""
        names = [self.funding.in_force, *self.funding.compare]
        return list(dict.fromkeys(names))


# ---------------------------------------------------------------- the JSON Schema, for editors
#
# The schema is the models' own (`model_json_schema`), completed with what the loader reads
# before the models see a file: `extends:` (a scenario or custom rule that extends another may
# give only some keys: its mappings merge key by key into the base's, lists replace whole) and
# the compact place forms that places.py expands. The models below exist for the schema only.


class MunicipalitiesFrom(Strict):
    """`municipalities: {from: CATALOGUE}`: the municipalities of a shipped catalogue."""

    from_: Literal["finland_2025"] = Field(
        alias="from", description="The catalogue: finland_2025, the 292 mainland "
        "municipalities of 1.1.2025 (Statistics Finland).")
    only: list[Name | int] | None = Field(
        None, min_length=1, description="Only these municipalities: names, codes or regions.")
    set: dict[Name, dict[str, Any]] = Field(
        {}, description="Values to set, by municipality name or code (attributes merge).")


class AreasBy(Strict):
    """`areas: {by: FIELD}`: one service pool per employment area (or region)."""

    by: Literal["employment_area", "region"]


class Allocation(Strict):
    """`{total: T, allocate_by: ...}`: a national figure shared over the municipalities."""

    total: NonNegative
    allocate_by: Name | list[Name] = Field(
        "working_age_population", description="A municipality field or attribute, or a "
        "list of them to multiply.")


class CapacityShare(Strict):
    """`capacity: {share_of_initial_stock: s}`: places for that share of the initial caseload
    of each area (and of each municipality in no area), at least one."""

    share_of_initial_stock: NonNegative


class _Language(BaseModel):
    """Every model of the schema, so that they share one set of definitions."""

    scenario: Scenario
    rule: FundingRule
    municipalities_from: MunicipalitiesFrom
    areas_by: AreasBy
    allocation: Allocation
    capacity_share: CapacityShare


SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
EXTENDS_SCENARIO = {"type": "string", "minLength": 1, "description": (
    "A base scenario file (path relative to this one): this file gives only the keys it "
    "changes; mappings merge key by key into the base's, anything else replaces.")}
EXTENDS_RULE = {"type": "string", "minLength": 1, "description": (
    "A preset or another custom rule this rule starts from: the rule gives only the keys it "
    "changes; mappings merge key by key, lists replace.")}


def json_schema(kind: Literal["scenario", "rules"] = "scenario") -> dict[str, Any]:
    """JSON Schema (2020-12) of a scenario file, or with kind "rules" of a file of funding
    rules (a mapping of rule names to rules, as the shipped presets), for editors. The two
    share their definitions; a file that extends another is checked as a part."""
    defs: dict[str, Any] = _Language.model_json_schema(by_alias=True)["$defs"]

    def compact(model: str, field: str, form: str) -> None:
        """Let `model.field` take the compact form `form` besides its own."""
        own = defs[model]["properties"][field]
        notes = {k: own.pop(k) for k in ("title", "description", "default") if k in own}
        defs[model]["properties"][field] = {**notes, "anyOf": [own, {"$ref": _ref(form)}]}

    compact("Scenario", "municipalities", "MunicipalitiesFrom")
    compact("Scenario", "areas", "AreasBy")
    for field in ("initial_stock", "initial_employed", "inflow_per_year"):
        compact("Population", field, "Allocation")
    compact("Service", "capacity", "CapacityShare")
    defs["Scenario"]["properties"]["rules"]["additionalProperties"] = {"$ref": _ref("RuleEntry")}
    defs["FundingRule"]["description"] = ("A funding rule: liability, bonuses, transfers; or "
                                          "a timeline of other rules.")
    # FundingRule._timeline_or_liability: a rule needs a title, unless it is a timeline
    defs["FundingRule"]["anyOf"] = [{"required": ["title"]}, {"required": ["timeline"]}]
    for name in list(defs):
        defs[name + "Partial"] = _partial(defs[name])
    for name in ("MunicipalitiesFrom", "MunicipalitiesFromPartial"):   # `set` changes a part
        defs[name]["properties"]["set"]["additionalProperties"] = {
            "$ref": _ref("MunicipalityPartial")}
    # a custom rule with `extends:` gives only some keys; one without gives them all (in a
    # scenario that extends another, any rule may be a part of the base's rule of its name)
    defs["FundingRuleExtending"] = _with(defs.pop("FundingRulePartial"), "extends", EXTENDS_RULE)
    defs["RuleEntry"] = {"if": {"type": "object", "required": ["extends"]},
                         "then": {"$ref": _ref("FundingRuleExtending")},
                         "else": {"$ref": _ref("FundingRule")}}
    defs["RuleEntryPartial"] = {"$ref": _ref("FundingRuleExtending")}
    defs["RuleFile"] = {"type": "object", "title": "incentive-sim funding rules",
                        "description": "Funding rules by name, as the shipped presets.",
                        "propertyNames": {"minLength": 1},
                        "additionalProperties": {"$ref": _ref("RuleEntry")}}
    schema: dict[str, Any]
    if kind == "rules":
        schema = {"$schema": SCHEMA_DIALECT, "title": "incentive-sim funding rules",
                  "$ref": _ref("RuleFile")}
    else:
        # the top level lists every key (for completion) as a part; a file that extends
        # nothing must also be a whole scenario
        top = _with(defs.pop("ScenarioPartial"), "extends", EXTENDS_SCENARIO)
        schema = {"$schema": SCHEMA_DIALECT, "title": "incentive-sim scenario",
                  "description": "A scenario of incentive-sim: places, people, benefits, "
                                 "services, the municipalities' policy and the funding rules.",
                  **top, "if": {"required": ["extends"]}, "else": {"$ref": _ref("Scenario")}}
    schema["$defs"] = _used(schema, defs)
    return schema


def _ref(name: str) -> str:
    return f"#/$defs/{name}"


def _used(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The definitions `schema` refers to, directly or through others, in name order."""
    used: set[str] = set()
    todo: list[Any] = [schema]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.removeprefix("#/$defs/") not in used:
                used.add(ref.removeprefix("#/$defs/"))
                todo.append(defs[ref.removeprefix("#/$defs/")])
            todo.extend(v for k, v in node.items() if k not in ("default", "examples"))
        elif isinstance(node, list):
            todo.extend(node)
    return {name: defs[name] for name in sorted(used)}


def _with(schema: dict[str, Any], key: str, prop: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "properties": {**schema["properties"], key: prop}}


# Where a part (a file that extends another) may leave keys out: in mappings, which merge into
# the base's key by key. Lists replace the base's whole, so their items are whole.
_WHOLE = frozenset({"items", "prefixItems", "propertyNames", "default", "examples", "const",
                    "enum", "if"})


def _partial(node: Any) -> Any:
    """The schema of a part of what `node` describes: nothing required, no minimum number of
    keys, references to parts; alternatives (`oneOf`) become `anyOf`, since a part may fit
    more than one (a distribution's `{mean: 400}`)."""
    if isinstance(node, list):
        return [_partial(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("required", "minProperties", "discriminator"):
            continue
        if key == "$ref":
            out[key] = value + "Partial"
        elif key == "oneOf":
            out["anyOf"] = _partial(value)
        elif key == "properties":
            out[key] = {name: _partial(v) for name, v in value.items()}
        elif key in _WHOLE:
            out[key] = value
        else:
            out[key] = _partial(value)
    return out
