"""The YAML reader keeps lines, merges `extends:` bases and reads YAML 1.2 booleans."""

from __future__ import annotations

from pathlib import Path

import pytest

from incentive_sim.scenario import load_scenario
from incentive_sim.scenario.loading import InputError, deep_merge, parse_yaml, read_with_extends

REPO = Path(__file__).resolve().parents[1]


def test_every_key_and_list_item_keeps_its_line() -> None:
    doc = parse_yaml("a:\n  b: 1\n  c:\n    - x\n    - y\n", "f.yaml")
    assert doc.where(("a", "b")) == ("f.yaml", 2)
    assert doc.where(("a", "c", 1)) == ("f.yaml", 5)


def test_a_missing_key_is_located_at_its_nearest_parent() -> None:
    doc = parse_yaml("a:\n  b: 1\n", "f.yaml")
    assert doc.where(("a", "missing", "deeper")) == ("f.yaml", 1)


def test_on_yes_and_no_stay_strings() -> None:
    doc = parse_yaml("on: employment\nx: no\ny: yes\nz: true\n", "f.yaml")
    assert doc.data == {"on": "employment", "x": "no", "y": "yes", "z": True}


def test_deep_merge_merges_mappings_and_replaces_lists() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    over = {"a": {"c": [3]}, "e": 2}
    assert deep_merge(base, over) == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}  # inputs untouched


def test_extends_merges_over_the_base_and_keeps_each_files_lines(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("name: base\nseed: 1\nnested:\n  a: 1\n  b: 2\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nseed: 7\nnested:\n  b: 3\n")
    doc = read_with_extends(tmp_path / "child.yaml")
    assert doc.data == {"name": "base", "seed": 7, "nested": {"a": 1, "b": 3}}
    assert doc.where(("name",))[0].endswith("base.yaml")
    assert doc.where(("seed",)) == (str(tmp_path / "child.yaml"), 2)
    assert doc.where(("nested", "a"))[1] == 4  # from the base file


def test_circular_extends_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(InputError, match="circular extends"):
        read_with_extends(tmp_path / "a.yaml")


def test_a_scenario_can_extend_a_shipped_scenario(tmp_path: Path) -> None:
    base = REPO / "scenarios" / "tampere_region_2025.yaml"
    (tmp_path / "mine.yaml").write_text(
        f"extends: {base}\nname: mine\nfunding:\n  in_force: fi_2015_two_step\n")
    s = load_scenario(tmp_path / "mine.yaml")
    assert s.name == "mine"
    assert s.funding.in_force == "fi_2015_two_step"
    assert s.funding.compare == ["fi_2015_two_step", "dk_2016_refusion"]  # kept from the base
    assert s.rule_names() == ["fi_2015_two_step", "dk_2016_refusion"]
