"""The YAML reader keeps lines, merges `extends:` bases and reads YAML 1.2 booleans."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from incentive_sim.scenario import load_scenario, loading
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


needs_libyaml = pytest.mark.skipif(loading._CParser is None, reason="PyYAML without libyaml")


def _read_both(text: str) -> list[tuple[object, dict[object, object], list[object]]]:
    """What the libyaml-event reader and the pure-Python one make of `text`: data, lines,
    problems."""
    out = []
    for loader in (loading._FastLoader, loading._Loader):
        node, data = loading._read(loader, text)
        lines: dict[object, object] = {}
        problems: list[object] = []
        if node is not None:
            loading._walk_nodes(node, (), "f.yaml", lines, problems)
        out.append((data, lines, problems))
    return out


@needs_libyaml
@pytest.mark.parametrize("path", sorted((REPO / "scenarios").rglob("*.yaml"))
                         + sorted((REPO / "src" / "incentive_sim").rglob("*.yaml")),
                         ids=lambda p: p.name)
def test_libyaml_events_read_every_shipped_file_as_the_python_reader_does(path: Path) -> None:
    fast, python = _read_both(path.read_text(encoding="utf-8"))
    assert fast == python


@needs_libyaml
def test_libyaml_events_keep_lines_columns_and_yaml_1_2_scalars() -> None:
    text = ("a: &x\n  b: 1e5\n  c: [no, off, true]\n  d: 2025-13-01\n"
            "e: *x\nf:\n  - .nan\n  - 'quoted'\n")
    fast, python = _read_both(text)
    assert fast[1] == python[1] and fast[2] == python[2]
    assert fast[1][("e",)] == ("f.yaml", 5) and fast[1][("f", 1)] == ("f.yaml", 8)
    inner = {"b": 1e5, "c": ["no", "off", True], "d": "2025-13-01"}
    assert fast[0]["a"] == inner and fast[0]["e"] == inner
    assert math.isnan(fast[0]["f"][0]) and fast[0]["f"][1] == "quoted"
    (problem,) = fast[2]
    assert problem.line == 7 and problem.column == 5 and "NaN" in problem.message


@needs_libyaml
@pytest.mark.parametrize("text", ["a: b: c\n", "a:\n  - x\n - y\n", "a: [1, 2\n",
                                  "a: 1\n\tb: 2\n", "a: *nowhere\n", "a: !!int x\n"])
def test_a_document_libyaml_refuses_gets_the_python_readers_message(text: str) -> None:
    with pytest.raises(InputError) as fast:
        parse_yaml(text, "f.yaml")
    try:
        loading._read(loading._Loader, text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        assert mark is not None
        problem = fast.value.problems[0]
        assert problem.line == mark.line + 1
        assert str(exc.problem) in problem.message
    else:
        pytest.fail("the pure-Python reader read it")
