"""Currencies: a rule's `currency` is that of its own amounts (bonuses, fixed transfers), the
scenario's `benefits.currency` that of the benefits and so of every output. A priced rule with
amounts must be in the scenario's currency; a rule of shares only fits any scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

from incentive_sim.scenario import InputError, load_scenario
from incentive_sim.scenario.rules import preset

VALID = Path(__file__).parent / "fixtures" / "bad" / "valid" / "scenario.yaml"

DKK_SHARES = """
  dk_shares:
    title: A Danish staircase of shares only
    currency: DKK
    liability:
      - benefits: [labour_market_subsidy]
        counts: [unemployed, waiting]
        charged: [unemployed, waiting]
        municipality_share: [{from_week: 0, share: 0.2}, {from_week: 4, share: 0.6}]
"""

DKK_BONUS = """
  dk_bonus:
    extends: dk_2016_refusion
    bonuses: [{on: employment, lasting_days: 90, amount: 10000}]
"""

EUR_TRANSFER = """
  eur_transfer:
    extends: fi_2025_graduated
    transfers: {kind: fixed, amounts: {Tampere: 1000000, Nokia: 150000}}
"""


def scenario_file(tmp_path: Path, *, in_force: str = "fi_2025_graduated",
                  compare: str = "fi_2015_two_step, local_rule", benefits: str = "",
                  rules: str = "") -> Path:
    text = VALID.read_text(encoding="utf-8")
    text = text.replace("  in_force: fi_2025_graduated\n", f"  in_force: {in_force}\n")
    text = text.replace("  compare: [fi_2015_two_step, local_rule]\n", f"  compare: [{compare}]\n")
    if benefits:
        text = text.replace("horizon_days: 365\n", f"horizon_days: 365\nbenefits: {benefits}\n")
    path = tmp_path / "scenario.yaml"
    path.write_text(text + rules, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as exc:
        load_scenario(path)
    return [str(p) for p in exc.value.problems]


def test_the_danish_preset_is_shares_only_in_kroner() -> None:
    rule = preset("dk_2016_refusion")
    assert rule.currency == "DKK"
    assert not rule.bonuses and rule.transfers is None


def test_benefits_are_in_euros_unless_the_scenario_says_otherwise() -> None:
    assert load_scenario(VALID).benefits.currency == "EUR"


@pytest.mark.parametrize("compare", ["dk_2016_refusion", "dk_shares"])
def test_a_share_only_rule_in_kroner_is_priced_on_a_euro_scenario(
        tmp_path: Path, compare: str) -> None:
    s = load_scenario(scenario_file(tmp_path, in_force=compare, compare="fi_2015_two_step",
                                    rules=DKK_SHARES))
    assert s.benefits.currency == "EUR"
    assert s.rule_names() == [compare, "fi_2015_two_step"]


def test_a_rule_with_bonuses_in_another_currency_is_reported_where_it_is_priced(
        tmp_path: Path) -> None:
    path = scenario_file(tmp_path, compare="fi_2015_two_step, dk_bonus", rules=DKK_BONUS)
    assert problems(path) == [
        f"{path}:28: funding.compare[1]: rule 'dk_bonus' has amounts (bonuses) in DKK but the "
        f"scenario's benefits are in EUR (benefits.currency)"]


def test_a_rule_with_fixed_transfers_in_another_currency_is_reported(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, in_force="eur_transfer", benefits="{currency: DKK}",
                         rules=EUR_TRANSFER)
    assert problems(path) == [
        f"{path}:28: funding.in_force: rule 'eur_transfer' has amounts (fixed transfers) in EUR "
        f"but the scenario's benefits are in DKK (benefits.currency)"]


def test_the_base_of_a_cost_neutral_transfer_is_checked_too(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, rules=DKK_BONUS)
    path.write_text(path.read_text(encoding="utf-8").replace(
        "  compare: [", "  transfers: {kind: cost_neutral, base: dk_bonus}\n  compare: ["),
        encoding="utf-8")
    assert problems(path) == [
        f"{path}:28: funding.transfers.base: rule 'dk_bonus' has amounts (bonuses) in DKK but "
        f"the scenario's benefits are in EUR (benefits.currency)"]


def test_a_rule_that_is_defined_but_not_priced_is_not_checked(tmp_path: Path) -> None:
    load_scenario(scenario_file(tmp_path, rules=DKK_BONUS))


def test_currencies_are_compared_without_regard_to_case(tmp_path: Path) -> None:
    s = load_scenario(scenario_file(tmp_path, compare="fi_2015_two_step, dk_bonus",
                                    benefits="{currency: dkk}", rules=DKK_BONUS))
    assert s.benefits.currency == "dkk"


def test_a_currency_is_three_letters(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, benefits="{currency: euro}",
                         rules=DKK_SHARES.replace("currency: DKK", "currency: kr."))
    assert problems(path) == [
        f"{path}:4: benefits.currency: must be a three-letter currency code such as EUR or DKK "
        f"(got 'euro')",
        f"{path}:44: rules.dk_shares.currency: must be a three-letter currency code such as EUR "
        f"or DKK (got 'kr.')"]
