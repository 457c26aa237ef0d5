"""The shipped presets are valid, documented and mean what the law says."""

from __future__ import annotations

from pathlib import Path

import pytest

from incentive_sim.scenario import load_scenario
from incentive_sim.scenario.rules import preset, preset_names

REPO = Path(__file__).resolve().parents[1]
PRESETS = ["fi_2006_one_step", "fi_2015_two_step", "fi_2025_graduated",
           "fi_2025_graduated_cap30", "dk_2016_refusion"]


def test_the_five_presets_are_shipped() -> None:
    assert sorted(preset_names()) == sorted(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_names_its_source_dates_and_confidence(name: str) -> None:
    rule = preset(name)
    assert rule.reference and rule.valid_from is not None
    assert "[law]" in rule.confidence or "[check]" in rule.confidence


def test_the_2025_table_is_kept_as_data_with_both_readings() -> None:
    top = [s.share for s in preset("fi_2025_graduated").liability[0].municipality_share]
    cap = [s.share for s in preset("fi_2025_graduated_cap30").liability[0].municipality_share]
    assert top == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert cap == [0.1, 0.2, 0.3]


def test_a_custom_rule_extends_a_preset_and_overrides_only_what_it_names() -> None:
    s = load_scenario(REPO / "scenarios" / "tampere_region_2025.yaml")
    custom = s.rules["progress_bonus_2025"]
    assert custom.liability == preset("fi_2025_graduated").liability
    assert [b.amount for b in custom.bonuses] == [1500]
    assert custom.bonuses[0].from_ == "state" and custom.bonuses[0].to == "municipality"
