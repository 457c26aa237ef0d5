"""Input that once crashed the reader or never finished: each is now a located problem with
exit code 2 (`file:line:column: field: message`), within the reader's stated limits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incentive_sim.cli import app
from incentive_sim.scenario.loading import MAX_DEPTH, MAX_NODES

REPO = Path(__file__).resolve().parents[1]
VALID = REPO / "tests/fixtures/bad/valid/scenario.yaml"
runner = CliRunner()


def validate(path: Path, command: str = "validate") -> tuple[int, str]:
    result = runner.invoke(app, [command, str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert "Traceback" not in result.output
    return result.exit_code, result.stderr


def write(tmp_path: Path, data: bytes, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_control_character_is_located(tmp_path: Path) -> None:   # defect 1
    path = write(tmp_path, b"name: a\x06b\n")
    code, err = validate(path)
    assert code == 2
    assert err.startswith(f"{path}:1:8: (document): character U+0006 (a control character) "
                          f"at line 1, column 8 is not allowed in YAML"), err


def test_a_control_character_on_a_later_line_is_located(tmp_path: Path) -> None:
    text = VALID.read_bytes().replace(b"horizon_days: 365", b"horizon_days: 3\x1b65")
    line = text[:text.index(b"\x1b")].count(b"\n") + 1
    code, err = validate(write(tmp_path, text))
    assert code == 2 and f"s.yaml:{line}:16: " in err, err


@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_deep_nesting_is_refused_at_the_limit(tmp_path: Path, opening: str) -> None:  # defect 2
    closing = "]" if opening == "[" else "}"
    path = write(tmp_path, f"name: {opening * 1000}1{closing * 1000}\n".encode())
    code, err = validate(path)
    assert code == 2
    assert f"nest more than {MAX_DEPTH} levels deep" in err and err.count("\n") == 1, err
    assert err.startswith(f"{path}:1:")
    # at the limit itself (the top-level mapping is the first level) the reader takes it, and
    # the schema refuses the value
    inner = MAX_DEPTH - 1
    path = write(tmp_path, f"name: {opening * inner}1{closing * inner}\n".encode())
    code, err = validate(path)
    assert code == 2 and "levels deep" not in err and f"{path}:1: name:" in err, err


def test_an_overlong_extends_name_is_reported_at_the_key(tmp_path: Path) -> None:  # defect 3
    path = write(tmp_path, b"name: x\nextends: " + b"a" * 300 + b".yaml\n")
    code, err = validate(path)
    assert code == 2
    assert err.startswith(f"{path}:2: extends: cannot use base file 'aaaa"), err
    assert "File name too long" in err


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:   # defect 4
    lines = ['name: x', 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    path = write(tmp_path, "\n".join(lines).encode() + b"\n")
    assert path.stat().st_size < 600
    started = time.perf_counter()
    code, err = validate(path)
    assert time.perf_counter() - started < 5
    assert code == 2
    assert f"this value holds more than {MAX_NODES:,} values" in err, err
    assert err.startswith(f"{path}:"), err


def test_aliases_that_nest_deeper_than_the_limit_are_refused(tmp_path: Path) -> None:
    lines = ["name: x", "a0: &a0 [1]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, MAX_DEPTH + 2)]
    code, err = validate(write(tmp_path, "\n".join(lines).encode()))
    assert code == 2 and f"nests more than {MAX_DEPTH} levels deep" in err, err


def test_an_alias_used_within_the_limits_is_fine(tmp_path: Path) -> None:
    text = VALID.read_text(encoding="utf-8").replace(
        "  Tampere: {working_age_population: 160000}",
        "  Tampere: &pop {working_age_population: 160000}").replace(
        "  Nokia: {working_age_population: 21000}", "  Nokia: *pop")
    assert "*pop" in text
    code, err = validate(write(tmp_path, text.encode()))
    assert code == 0, err


def test_an_empty_extends_is_reported_at_its_key(tmp_path: Path) -> None:   # defect 5
    path = write(tmp_path, b"name: x\nextends: ''\n")
    code, err = validate(path)
    assert code == 2
    assert err == f"{path}:2: extends: must be a file name (got an empty name)\n"


@pytest.mark.parametrize(("name", "message"), [
    (".", "names a folder, not a YAML file"),
    ("nowhere.yaml", "base file not found"),
    ('"a\\0b"', "is not a usable file name"),
])
def test_an_extends_that_names_no_file_is_reported_at_its_key(tmp_path: Path, name: str,
                                                              message: str) -> None:
    path = write(tmp_path, f"name: x\nextends: {name}\n".encode())
    code, err = validate(path)
    assert code == 2 and err.startswith(f"{path}:2: extends: ") and message in err, err


def test_invalid_utf8_names_the_byte_offset_line_and_column(tmp_path: Path) -> None:  # 6
    path = write(tmp_path, b"name: caf\xff\n")
    code, err = validate(path)
    assert code == 2
    assert err == (f"{path}:1:10: (document): not valid UTF-8: byte 0xff at byte offset 9 "
                   f"(line 1, column 10) invalid start byte; save the file as UTF-8\n")
    path = write(tmp_path, "# é\nname: x\n".encode() + b"seed: 1\xc3\n")
    code, err = validate(path)
    assert code == 2 and f"{path}:3:8: " in err and "byte offset" in err, err


def test_a_problem_on_line_100_prints_as_line_100(tmp_path: Path) -> None:   # defect 7
    text = VALID.read_text(encoding="utf-8").replace("horizon_days: 365\n", "")
    line = text.count("\n") + 1
    padding = 100 - line
    text += "#\n" * padding + "horizon_days: -1\n"
    path = write(tmp_path, text.encode(), "file.yaml")
    code, err = validate(path)
    assert code == 2
    assert "file.yaml:100: horizon_days: " in err, err
    assert "\U0001f4af" not in err


@pytest.mark.parametrize(("value", "message"), [
    (".nan", "NaN (.nan) is not a number here"),
    (".inf", "infinity (.inf) is not a number here"),
    ("-.inf", "infinity (.inf) is not a number here"),
    ("1.0e+400", "1.0e+400 is too large to be a number"),
    ("1e999", "1e999 is too large to be a number"),
])
def test_nan_and_infinity_are_refused_anywhere(tmp_path: Path, value: str, message: str
                                               ) -> None:
    text = VALID.read_text(encoding="utf-8").replace("cost_per_day: 15.0",
                                                     f"cost_per_day: {value}")
    line = text[:text.index("cost_per_day")].count("\n") + 1
    code, err = validate(write(tmp_path, text.encode()))
    assert code == 2 and f"s.yaml:{line}:19: services.coaching.cost_per_day: {message}" in err, err


def test_a_value_that_cannot_be_built_is_located(tmp_path: Path) -> None:
    text = VALID.read_text(encoding="utf-8").replace("horizon_days: 365", "horizon_days: !!int x")
    code, err = validate(write(tmp_path, text.encode()))
    assert code == 2 and "s.yaml:3:15: (document): invalid YAML: cannot read 'x' as int" in err


def test_yaml_12_numbers_are_numbers(tmp_path: Path) -> None:
    text = VALID.read_text(encoding="utf-8").replace("Tampere: 18000", "Tampere: 1.8e4")
    assert "1.8e4" in text
    code, err = validate(write(tmp_path, text.encode()))
    assert code == 0, err


@pytest.mark.parametrize(("value", "message"), [
    ("[" * 100 + "]" * 100, "nest more than 64 levels deep"),
    (".nan", "NaN (.nan) is not a number here"),
    ("a\x06", "is not allowed in YAML"),
])
def test_a_sweep_setting_is_read_with_the_same_limits(tmp_path: Path, value: str,
                                                      message: str) -> None:
    result = runner.invoke(app, ["sweep", str(VALID), "--set", f"policy.take_up={value}",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("--set policy.take_up: cannot read value ")
    assert message in result.stderr and not (tmp_path / "out").exists()
