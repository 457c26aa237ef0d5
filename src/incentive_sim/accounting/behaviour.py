"""What the municipalities did in the histories simulated under one rule, as the report draws
it: the accepted referrals by the in-force counter at referral (20-day bins) with what the
municipality expected each to save, the monthly activation rate, the queues, and the places
each service had in each year. Pure sums over replications (means: divide by `count`), so
`run` and `compare` add them up the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..simulation.engine import YEAR_DAYS, ServiceStats
from .outcomes import jobseekers_and_in_service, referral_table, referrals_rows

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Behaviour:
    """Sums over `count` replications of one rule's histories."""

    count: int
    referrals: FloatArray      # outcomes.referral_table: (municipality, service, bin)
    saving: FloatArray         # the same cells: the referrals' expected saving, summed
    jobseekers: FloatArray     # (month,) all municipalities, on each month's first day
    in_service: FloatArray     # (month,) of whom in a service
    waiting: FloatArray        # (month, service) in each service's queue
    places: FloatArray         # (year, service) places in each 365 days from the start
    starts: FloatArray         # (service,) clients who started each service

    @classmethod
    def of(cls, referrals: Mapping[str, npt.NDArray[Any]], stock: FloatArray,
           by_service: FloatArray, services: Mapping[str, ServiceStats],
           municipalities: int, horizon_days: float) -> Behaviour:
        """One history: `referrals` as Referrals.arrays(), `stock` and `by_service` as
        outcomes.stock_by_month and services_by_month give them, `services` the engine's
        statistics (in the scenario's order)."""
        n_services = by_service.shape[1]
        jobseekers, in_service = jobseekers_and_in_service(stock)
        years = int(np.ceil(horizon_days / YEAR_DAYS))
        places = np.zeros((years, n_services))
        starts = np.zeros(n_services)
        for s, stats in enumerate(services.values()):
            recorded = stats.places_by_year[:years] or [stats.capacity]
            places[:, s] = recorded + recorded[-1:] * (years - len(recorded))
            starts[s] = stats.starts
        return cls(1, referral_table(referrals, municipalities, n_services),
                   referral_table(referrals, municipalities, n_services, weights="saving"),
                   jobseekers.sum(axis=1), in_service.sum(axis=1), by_service[:, :, 0].copy(),
                   places, starts)

    def __add__(self, other: Behaviour) -> Behaviour:
        return Behaviour(self.count + other.count, self.referrals + other.referrals,
                         self.saving + other.saving, self.jobseekers + other.jobseekers,
                         self.in_service + other.in_service, self.waiting + other.waiting,
                         self.places + other.places, self.starts + other.starts)

    @staticmethod
    def total(parts: Sequence[Behaviour]) -> Behaviour:
        out = parts[0]
        for part in parts[1:]:
            out = out + part
        return out

    def activation_rate(self) -> FloatArray:
        """In a service over jobseekers (unemployed, waiting or in a service), by month: the
        activation rate of indicators_monthly.csv (NaN in a month without jobseekers)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.where(self.jobseekers > 0,
                                       self.in_service / self.jobseekers, np.nan))

    def places_by_month(self, month_starts: npt.ArrayLike) -> FloatArray:
        """Each service's places in each month, per replication (month, service): the mean
        places of the 365 days from the start that the month begins in (places change once
        a year when municipalities respond; when they follow the caseload, within the year
        too, and this is their mean)."""
        year = np.asarray(month_starts, np.float64) // YEAR_DAYS
        at = np.minimum(year, self.places.shape[0] - 1).astype(np.int64)
        return np.asarray(self.places[at] / self.count)

    def mean_saving(self, axis: int | tuple[int, ...] | None = None) -> FloatArray:
        """The expected saving per referral (NaN where nobody was referred), over the cells
        summed along `axis` of the referral table (None: all referrals)."""
        count = self.referrals.sum(axis=axis)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.where(count > 0, self.saving.sum(axis=axis) / count, np.nan))

    def referrals_rows(self, rule: str, municipalities: Sequence[str],
                       services: Sequence[str], count: Callable[[float], str]
                       ) -> list[list[str]]:
        """referrals.csv rows: mean referrals per replication in each non-empty cell, and
        their mean expected saving."""
        with np.errstate(invalid="ignore", divide="ignore"):
            saving = np.where(self.referrals > 0, self.saving / self.referrals, 0.0)
        return referrals_rows(rule, municipalities, services, self.referrals / self.count,
                              saving, count)
