"""The shipped presets are valid, documented and mean what the law says."""

from __future__ import annotations

from pathlib import Path

import pytest

from incentive_sim.scenario import load_scenario
from incentive_sim.scenario.rules import preset, preset_names

REPO = Path(__file__).resolve().parents[1]
PRESETS = ["fi_2006_one_step", "fi_2015_two_step", "fi_2025_graduated", "finland",
           "dk_2016_refusion"]


def test_the_five_presets_are_shipped() -> None:
    assert sorted(preset_names()) == sorted(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_names_its_source_dates_and_confidence(name: str) -> None:
    rule = preset(name)
    assert rule.reference and rule.valid_from is not None
    assert "[law]" in rule.confidence or "[check]" in rule.confidence


def test_the_2025_table_is_kelas_billing_classes() -> None:
    steps = preset("fi_2025_graduated").liability[0].municipality_share
    assert [(s.from_day, s.share, s.label) for s in steps] == [
        (100, 0.1, "101-200"), (200, 0.2, "201-300"), (300, 0.3, "301-400"),
        (400, 0.4, "401-700"), (700, 0.5, "701-")]


@pytest.mark.parametrize("name", [n for n in PRESETS if n != "finland"])
def test_every_share_and_reset_of_a_preset_carries_its_confidence_note(name: str) -> None:
    for block in preset(name).liability:
        assert all("[" in step.note for step in block.municipality_share)
        assert block.reset is None or "[" in block.reset.note


def test_default_band_labels_name_the_paid_days_each_covers() -> None:
    from incentive_sim.funding.rules import compile_rule
    from incentive_sim.scenario.rules import catalogue

    rules = catalogue()
    assert compile_rule("fi_2006_one_step", rules).blocks[0].schedule.labels == ("1-500", "501-")
    assert compile_rule("dk_2016_refusion", rules).blocks[0].schedule.labels == (
        "weeks 1-4", "weeks 5-26", "weeks 27-52", "weeks 53-")


def test_a_custom_rule_extends_a_preset_and_overrides_only_what_it_names() -> None:
    s = load_scenario(REPO / "scenarios" / "tampere_region_2025.yaml")
    custom = s.rules["progress_bonus_2025"]
    assert custom.liability == preset("fi_2025_graduated").liability
    assert [b.amount for b in custom.bonuses] == [1500]
    assert custom.bonuses[0].from_ == "state" and custom.bonuses[0].to == "municipality"
