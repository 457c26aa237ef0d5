"""State transfers: fixed per year, or cost-neutral shared by working-age population."""

from __future__ import annotations

import pytest

from incentive_sim.funding.transfers import transfer_amounts
from incentive_sim.scenario.schema import CostNeutralTransfer, FixedTransfer, Municipality

MUNIS = {"Tampere": Municipality(working_age_population=160000),
         "Nokia": Municipality(working_age_population=21000, attributes={"jobseekers": 3000})}


def test_a_fixed_transfer_is_pro_rated_over_the_horizon() -> None:
    t = FixedTransfer(kind="fixed", amounts={"Tampere": 1_000_000.0})
    got = transfer_amounts(t, MUNIS, horizon_days=1461)
    assert got == {"Tampere": pytest.approx(4_000_000.0), "Nokia": 0.0}  # 1461 d = 4 years


def test_a_cost_neutral_transfer_compensates_the_sector_exactly() -> None:
    # in force 1000 + 300, base 600 + 100: the sector's extra liability is 600
    t = CostNeutralTransfer(kind="cost_neutral", base="fi_2015_two_step")
    got = transfer_amounts(t, MUNIS, 1461, {"Tampere": 1000.0, "Nokia": 300.0},
                           {"Tampere": 600.0, "Nokia": 100.0})
    # 600 * 160000/181000 = 530.39; 600 * 21000/181000 = 69.61
    assert got["Tampere"] == pytest.approx(530.3867, abs=1e-4)
    assert got["Nokia"] == pytest.approx(69.6133, abs=1e-4)
    assert sum(got.values()) == pytest.approx(600.0)
    # Tampere's net cost 1000 - 530.39 falls below its base 600; Nokia's 300 - 69.61 rises above 100
    assert 1000 - got["Tampere"] < 600 and 300 - got["Nokia"] > 100


def test_a_transfer_can_be_allocated_by_another_attribute() -> None:
    munis = {"A": Municipality(working_age_population=1, attributes={"jobseekers": 1.0}),
             "B": Municipality(working_age_population=1, attributes={"jobseekers": 3.0})}
    t = CostNeutralTransfer(kind="cost_neutral", base="x", allocate_by="jobseekers")
    got = transfer_amounts(t, munis, 365.25, {"A": 40.0, "B": 0.0}, {"A": 0.0, "B": 0.0})
    assert got == {"A": pytest.approx(10.0), "B": pytest.approx(30.0)}
