"""`incentive-sim schema` is a JSON Schema an editor can use: every shipped scenario and every
funding-rule preset passes it (files that extend another are checked as parts), and what the
loader refuses in a custom rule (an unknown key) the schema refuses too."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from incentive_sim.cli import app
from incentive_sim.scenario.loading import parse_yaml

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src/incentive_sim"
# scenarios/targets/ holds calibration targets and scenarios/cases/ example jobseekers: other
# kinds of file, with languages of their own
SCENARIOS = sorted([*REPO.glob("scenarios/*.yaml"), *PACKAGE.glob("scenarios/*.yaml"),
                    REPO / "tests/fixtures/small_run.yaml",
                    REPO / "tests/fixtures/bad/valid/scenario.yaml"])
PRESETS = sorted(PACKAGE.glob("scenario/presets/*.yaml"))
BAD_RULE = REPO / "tests/fixtures/bad/custom_rule_unknown_key.yaml"
runner = CliRunner()


def printed_schema(*options: str) -> dict[str, Any]:
    result = runner.invoke(app, ["schema", *options])
    assert result.exit_code == 0, result.output
    schema: dict[str, Any] = json.loads(result.stdout)
    return schema


@pytest.fixture(scope="module")
def scenario_schema() -> jsonschema.Draft202012Validator:
    schema = printed_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def rules_schema() -> jsonschema.Draft202012Validator:
    schema = printed_schema("--rules")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def as_editor_reads(path: Path) -> Any:
    """The file's data as an editor's YAML 1.2 reader gives it: dates are text, `on:` is a
    key, mapping keys are text."""
    data = parse_yaml(path.read_text(encoding="utf-8"), str(path)).data

    def text(value: object) -> str:
        if isinstance(value, dt.date):
            return value.isoformat()
        raise TypeError(value)

    return json.loads(json.dumps(data, default=text))


def problems(validator: jsonschema.Draft202012Validator, data: Any) -> list[str]:
    return sorted({f"{e.json_path}: {e.message}" for e in validator.iter_errors(data)})


def test_there_are_shipped_scenarios_and_presets_to_check() -> None:
    assert len(SCENARIOS) >= 8 and len(PRESETS) >= 5
    assert any("extends" in as_editor_reads(p) for p in SCENARIOS)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_passes_the_schema(
        scenario_schema: jsonschema.Draft202012Validator, path: Path) -> None:
    assert problems(scenario_schema, as_editor_reads(path)) == []


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_every_preset_passes_the_schema_of_rule_files(
        rules_schema: jsonschema.Draft202012Validator, path: Path) -> None:
    assert problems(rules_schema, as_editor_reads(path)) == []


def test_the_schema_types_custom_rules_and_every_number() -> None:
    schema = printed_schema()
    rules = schema["$defs"]["Scenario"]["properties"]["rules"]
    assert rules["additionalProperties"] == {"$ref": "#/$defs/RuleEntry"}
    text = json.dumps(schema)
    for untranslated in ('"ge":', '"le":', '"gt":', '"lt":'):   # pydantic's, not JSON Schema's
        assert untranslated not in text
    horizon = schema["$defs"]["Scenario"]["properties"]["horizon_days"]
    assert (horizon["exclusiveMinimum"], horizon["maximum"]) == (0, 73_050)


def test_a_custom_rule_with_an_unknown_key_fails_the_loader_and_the_schema(
        scenario_schema: jsonschema.Draft202012Validator) -> None:
    result = runner.invoke(app, ["validate", str(BAD_RULE)])
    assert result.exit_code == 2
    assert result.stderr == (f"{BAD_RULE}:32: rules.local_rule.bonus: unknown key (did you "
                             f"mean 'bonuses'?)\n")
    assert problems(scenario_schema, as_editor_reads(BAD_RULE)) == [
        "$.rules.local_rule: Additional properties are not allowed ('bonus' was unexpected)"]


def test_a_custom_rule_that_extends_a_preset_may_give_only_some_keys_but_no_unknown_one(
        scenario_schema: jsonschema.Draft202012Validator, tmp_path: Path) -> None:
    data = as_editor_reads(REPO / "tests/fixtures/small_run.yaml")
    rule = data["rules"]["progress_bonus"]
    assert set(rule) == {"extends", "bonuses"}             # no title, no liability: a part
    assert problems(scenario_schema, data) == []
    rule["bonus_amount"] = 800
    assert problems(scenario_schema, data) == [
        "$.rules.progress_bonus: Additional properties are not allowed ('bonus_amount' was "
        "unexpected)"]
    del rule["extends"]                                   # without extends: a whole rule
    del rule["bonus_amount"]
    assert problems(scenario_schema, data) == [   # a title, or a timeline
        "$.rules.progress_bonus: {'bonuses': [{'on': 'employment', 'lasting_days': 30, "
        "'amount': 800, 'from': 'state', 'to': 'municipality'}]} is not valid under any of the "
        "given schemas"]


def test_a_scenario_that_extends_another_is_a_part_but_one_that_does_not_is_whole(
        scenario_schema: jsonschema.Draft202012Validator) -> None:
    part = {"extends": "tampere_region_2025.yaml", "horizon_days": 730,
            "population": {"initial_duration_days": {"mean": 500}}}
    assert problems(scenario_schema, part) == []
    assert problems(scenario_schema, {**part, "horizon_dayz": 730}) == [
        "$: Additional properties are not allowed ('horizon_dayz' was unexpected)"]
    whole = {k: v for k, v in part.items() if k != "extends"}
    assert "$: 'transitions' is a required property" in problems(scenario_schema, whole)
