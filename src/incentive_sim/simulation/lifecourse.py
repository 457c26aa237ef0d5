"""The vectorised part of the population model: everyone's moves that involve no interaction.

People move between open unemployment, jobs, education and inactivity by exactly sampled
competing risks; an earnings-related recipient whose entitlement runs out moves on to the
labour market subsidy (a new segment, same spell); a job can end in job loss and a new spell.
Each person holds one open segment with a sampled end; `advance_to(T)` closes every segment
ending before T and samples what follows, in rounds vectorised across people. The discrete-event
layer (services, queues, municipal reviews) drives this with `advance_to(review time)` and
takes people out of it while they are referred.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..funding.spells import COLUMNS, SpellTable
from ..scenario.schema import Scenario
from ..scenario.vocabulary import BENEFIT_CODE, NO_BENEFIT, STATE_CODE
from .hazards import CompetingRisks
from .population import People, stream

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

UNEMPLOYED = STATE_CODE["unemployed"]
EMPLOYED = STATE_CODE["employed"]
EXIT_DESTINATIONS = ("employment", "education", "inactivity")
DESTINATION_STATE = np.array([STATE_CODE["employed"], STATE_CODE["education"],
                              STATE_CODE["inactive"]])
LMS = BENEFIT_CODE["labour_market_subsidy"]
ER = BENEFIT_CODE["earnings_related"]

# What ends a person's open segment.
ENDS_BY_EXIT, ENDS_BY_EXHAUSTION, ENDS_BY_JOB_LOSS, ENDS_NEVER = 0, 1, 2, 3


@dataclass(frozen=True, eq=False)
class Risks:
    exits: CompetingRisks       # from unemployment: employment, education, inactivity
    job_loss: CompetingRisks    # from employment

    @classmethod
    def of(cls, s: Scenario) -> Risks:
        t = s.transitions
        groups = list(s.groups)
        return cls(
            CompetingRisks.from_hazards({"employment": t.employment, "education": t.education,
                                         "inactivity": t.inactivity}, groups),
            CompetingRisks.from_hazards({"job_loss": t.job_loss}, groups),
        )


class LifeCourses:
    """Open segments of all people, advanced in vectorised rounds; closed ones recorded."""

    def __init__(self, s: Scenario, people: People, seed: int, replication: int) -> None:
        self.s = s
        self.people = people
        self.risks = Risks.of(s)
        self.rng = stream(seed, replication, "lifecourse.exits")
        self.horizon = float(s.horizon_days)
        self.rate = s.benefits.paid_days_per_week / 7.0
        n = len(people)
        self.state = np.full(n, UNEMPLOYED, np.int8)
        self.benefit = people.benefit.copy()
        self.daily = people.daily_amount.copy()
        self.basic = people.basic_part.copy()
        self.seg_start = people.arrival_day.copy()
        self.spell_start = people.arrival_day - people.elapsed_days   # duration origin
        # earnings-related days used by the open spell before its current segment
        self.er_used = np.where(people.benefit == ER, people.elapsed_days * self.rate, 0.0)
        self.seg_end = np.full(n, np.inf)
        self.ends_by = np.full(n, ENDS_NEVER, np.int8)
        self.next_state = np.full(n, -1, np.int8)
        self.active = np.ones(n, bool)        # False while the event layer holds the person
        self._records: list[dict[str, np.ndarray]] = []
        self._sample(np.arange(n))

    # ---------------------------------------------------------------- sampling

    def _multiplier(self, idx: IntArray, risks: CompetingRisks) -> FloatArray:
        return np.asarray(self.people.frailty[idx, None]
                          * risks.group_multiplier[self.people.group[idx]])

    def _sample(self, idx: IntArray) -> None:
        """Sample the end of the open segment of people `idx` (who start it at seg_start)."""
        unemployed = idx[self.state[idx] == UNEMPLOYED]
        employed = idx[self.state[idx] == EMPLOYED]
        other = idx[(self.state[idx] != UNEMPLOYED) & (self.state[idx] != EMPLOYED)]
        if unemployed.size:
            self._sample_unemployed(unemployed)
        if employed.size:
            d_from = np.zeros(employed.size)
            until = self.horizon - self.seg_start[employed]
            d, _ = self.risks.job_loss.sample(d_from, until,
                                              self._multiplier(employed, self.risks.job_loss),
                                              self.rng)
            self.seg_end[employed] = self.seg_start[employed] + d
            self.ends_by[employed] = np.where(np.isfinite(d), ENDS_BY_JOB_LOSS, ENDS_NEVER)
            self.next_state[employed] = UNEMPLOYED
        self.seg_end[other] = np.inf          # education and inactivity are absorbing here
        self.ends_by[other] = ENDS_NEVER

    def _sample_unemployed(self, idx: IntArray) -> None:
        start = self.seg_start[idx]
        d_from = start - self.spell_start[idx]
        until = self.horizon - self.spell_start[idx]
        d, dest = self.risks.exits.sample(d_from, until, self._multiplier(idx, self.risks.exits),
                                          self.rng)
        exit_at = self.spell_start[idx] + d
        left = np.where(self.benefit[idx] == ER,
                        self.people.max_paid_days[idx] - self.er_used[idx], np.inf)
        exhaust_at = start + np.maximum(left, 0.0) / self.rate
        by_exhaustion = exhaust_at < np.minimum(exit_at, self.horizon)
        self.seg_end[idx] = np.where(by_exhaustion, exhaust_at, exit_at)
        self.ends_by[idx] = np.where(by_exhaustion, ENDS_BY_EXHAUSTION,
                                     np.where(np.isfinite(exit_at), ENDS_BY_EXIT, ENDS_NEVER))
        self.next_state[idx] = np.where(by_exhaustion, UNEMPLOYED,
                                        DESTINATION_STATE[np.maximum(dest, 0)])

    # ---------------------------------------------------------------- moving on

    def _record(self, idx: IntArray, end: FloatArray, censored: bool) -> None:
        state = self.state[idx]
        paid = (state == UNEMPLOYED) & (self.benefit[idx] != NO_BENEFIT)
        self._records.append({
            "person_id": idx.astype(np.int64),
            "municipality": self.people.municipality[idx],
            "group": self.people.group[idx],
            "state": state,
            "service": np.full(idx.size, -1, np.int32),
            "benefit": np.where(paid, self.benefit[idx], NO_BENEFIT).astype(np.int8),
            "benefit_paid": paid,
            "daily_amount": np.where(paid, self.daily[idx], 0.0),
            "basic_part": np.where(paid, self.basic[idx], 0.0),
            "start_day": self.seg_start[idx],
            "end_day": end,
            "censored": np.full(idx.size, censored),
            "prior_paid_days": self.people.prior_paid_days[idx],
        })

    def advance_to(self, t: float) -> None:
        """Close every open segment of active people that ends before `t`, and move on."""
        while True:
            idx = np.flatnonzero(self.active & (self.seg_end < t))
            if idx.size == 0:
                return
            end = self.seg_end[idx]
            self._record(idx, end, censored=False)
            was_unemployed = self.state[idx] == UNEMPLOYED
            # benefit days used up in the closed segment
            self.er_used[idx] += np.where(was_unemployed & (self.benefit[idx] == ER),
                                          (end - self.seg_start[idx]) * self.rate, 0.0)
            exhausted = idx[self.ends_by[idx] == ENDS_BY_EXHAUSTION]
            self.benefit[exhausted] = LMS
            self.daily[exhausted] = self.s.benefits.daily.labour_market_subsidy
            self.basic[exhausted] = self.daily[exhausted]
            lost_job = idx[self.ends_by[idx] == ENDS_BY_JOB_LOSS]
            self.spell_start[lost_job] = end[self.ends_by[idx] == ENDS_BY_JOB_LOSS]
            self.state[idx] = self.next_state[idx]
            self.seg_start[idx] = end
            self._sample(idx)

    def finish(self) -> SpellTable:
        """Run to the horizon; open segments are recorded as censored."""
        self.advance_to(self.horizon)
        idx = np.flatnonzero(self.active)
        self._record(idx, np.full(idx.size, self.horizon), censored=True)
        columns = {k: np.concatenate([r[k] for r in self._records]) for k in COLUMNS}
        return SpellTable.from_columns(
            columns, municipalities=tuple(self.s.municipalities), groups=tuple(self.s.groups),
            services=tuple(self.s.services), paid_days_per_week=self.s.benefits.paid_days_per_week)
