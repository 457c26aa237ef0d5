"""The hand-computed legal examples price to the cent under every preset."""

from __future__ import annotations

from pathlib import Path

import pytest

from incentive_sim.funding.cases import load_cases, price_case, run_cases
from incentive_sim.scenario.rules import preset_names

LEGAL = Path(__file__).resolve().parents[1] / "scenarios" / "cases" / "legal_examples.yaml"
CASES = load_cases(LEGAL)


@pytest.mark.parametrize(("case", "rule_name", "rule"), CASES, ids=[c.name for c, _, _ in CASES])
def test_legal_example_prices_to_the_expected_euros(case, rule_name, rule) -> None:  # type: ignore[no-untyped-def]
    assert case.expect is not None, "every legal example states its expected euros"
    result = price_case(case, rule_name, rule)
    assert result.ok, result.failures


def test_legal_examples_cover_every_preset() -> None:
    assert {name for _, name, _ in CASES} >= set(preset_names())
    assert len(CASES) >= 12


def test_acceptance_1200_paid_days_of_labour_market_subsidy() -> None:
    by_rule = {(r.name, r.rule): r for r in run_cases(LEGAL)}
    two_step = [r for (n, rule), r in by_rule.items()
                if rule == "fi_2015_two_step" and "1200" in n]
    graduated = [r for (n, rule), r in by_rule.items()
                 if rule == "fi_2025_graduated" and "1200" in n]
    assert two_step and graduated
    assert (two_step[0].municipality, two_step[0].state) == (18232.90, 26419.10)
    assert (graduated[0].municipality, graduated[0].state) == (16000.30, 28651.70)
