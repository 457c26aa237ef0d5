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
"""Refuses booleans and strings before pydantic would convert them to numbers."""

MAX_COUNT = 1_000_000_000
"""The largest count of people or places (the national caseload is 334,000)."""
MAX_HORIZON_DAYS = 73_050
"""The longest horizon, 200 years."""
MAX_REPLICATIONS = 10_000
MAX_NUMBER = 1e12
"""The largest number of the language (amounts, days, rates): larger ones are typing errors, and
would overflow the totals."""

NonNegative = Annotated[float, Number, Field(ge=0, le=MAX_NUMBER, allow_inf_nan=False)]
Positive = Annotated[float, Number, Field(gt=0, le=MAX_NUMBER, allow_inf_nan=False)]
AtLeastADay = Annotated[float, Number, Field(ge=1, le=MAX_NUMBER, allow_inf_nan=False)]
MAX_RATE_PER_DAY = 1.0
"""The largest hazard: one event a day on average (rates are per calendar day, not per year)."""
Rate = Annotated[float, Number, Field(ge=0, le=MAX_RATE_PER_DAY, allow_inf_nan=False)]
MAX_MULTIPLIER = 100.0
Multiplier = Annotated[float, Number, Field(ge=0, le=MAX_MULTIPLIER, allow_inf_nan=False)]
"""A multiplier of a hazard (by group, during and after a service)."""
Share = Annotated[float, Number, Field(ge=0, le=1, allow_inf_nan=False)]
Count = Annotated[int, Number, Field(ge=0, le=MAX_COUNT)]
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


EntitlementDays = Annotated[Annotated[int, Number, Field(gt=0, le=MAX_COUNT)] | Distribution,
                            AfterValidator(_positive_days)]
"""A maximum in paid days: a whole number, or a distribution drawn once per person."""

DailyAmount = NonNegative | Distribution
"""A benefit's daily amount: fixed, or a distribution drawn once per person."""

PaidFraction = Annotated[Annotated[float, Number, Field(gt=0, le=1, allow_inf_nan=False)]
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
    paid_days_per_week: Annotated[int, Number, Field(ge=1, le=7)] = 5
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
    by_municipality: dict[Name, PolicyOverride] = {}


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
    horizon_days: Annotated[int, Number, Field(gt=0, le=MAX_HORIZON_DAYS)] = 1461
    seed: Annotated[int, Number, Field(ge=0, lt=2**63)] = 0
    replications: Annotated[int, Number, Field(ge=1, le=MAX_REPLICATIONS)] = 1
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


def json_schema() -> dict[str, Any]:
    """JSON Schema of the scenario language, for editors."""
    schema = Scenario.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "incentive-sim scenario"
    # Files may extend a base file; the key is consumed by the loader before validation.
    schema["properties"]["extends"] = {"type": "string",
                                       "description": "Base scenario file, relative path."}
    # Custom rules may extend a preset and override only some keys.
    schema["properties"]["rules"] = {"type": "object",
                                     "additionalProperties": {"type": "object"},
                                     "description": "Custom funding rules (may use extends)."}
    return schema
