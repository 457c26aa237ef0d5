"""`sweep`: the full factorial of scenario variants given by `--set key.path=v1,v2,...`.

Each point runs all its replications and lives in its own folder, `points/NNNN/`, with a
`result.json` written atomically when the point ends: the point's settings, the resolved
scenario, seed, replications, package version and figures, or the exception if it failed (one
failed point does not stop the sweep). `sweep.csv` gathers the points in order. `--resume`
keeps the points that have a `result.json` and runs the others; the figures do not depend on
which points ran when, so a sweep killed halfway and resumed gives the same `sweep.csv` as an
uninterrupted one. `sweep.json` records the sweep's definition, so a resume cannot mix sweeps.
A finished sweep writes `manifest.json` last, listing every file with its size and sha256.
Without `--resume` a sweep starts from an empty folder: nothing of an earlier sweep survives.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydantic

from .. import __version__
from ..accounting.ledger import Plan
from ..scenario import InputError, Problem
from ..scenario.loading import parse_yaml
from ..scenario.schema import Scenario
from ..scenario.vocabulary import PAYERS
from .executors import run_jobs
from .run import (
    MANIFEST,
    Accumulator,
    OutputError,
    _output_error,
    check_output_folder,
    manifest_text,
    progress_bar,
    remove_stale_partials,
    replicate,
    scenario_hash,
    sees_folder,
    write_atomic,
)

RESULT = "result.json"
DEFINITION = "sweep.json"
TABLE = "sweep.csv"
OUTCOME_COLUMNS = ("exits_to_employment", "exits_to_education", "unemployed_end",
                   "long_term_unemployed_end", "mean_spell_days")


# ---------------------------------------------------------------- --set key.path=v1,v2

def split_values(text: str) -> list[str]:
    """Comma-separated values; commas inside [...] or {...} belong to the value."""
    values, depth, current = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            values.append(current)
            current = ""
        else:
            current += ch
    values.append(current)
    return [v.strip() for v in values]


def parse_set(option: str) -> tuple[str, list[Any]]:
    """`key.path=v1,v2` -> (key path, values parsed as YAML scalars or flow collections)."""
    key, sep, text = option.partition("=")
    key = key.strip()
    if not sep or not key or not text.strip():
        raise InputError([Problem("--set", None, "--set",
                                  f"expected key.path=value1,value2,... (got {option!r})")])
    values = []
    for raw in split_values(text):
        try:   # the scenario reader, with its limits (nesting, aliases, NaN)
            values.append(parse_yaml(raw, "--set").data if raw else raw)
        except InputError as exc:
            reason = exc.problems[0].message.removeprefix("invalid YAML: ")
            raise InputError([Problem("--set", None, f"--set {key}",
                                      f"cannot read value {raw[:60]!r}: {reason}")]) from exc
    return key, values


def with_setting(scenario: Scenario, key: str, value: Any) -> Scenario:
    """The scenario with `key` (a dotted path; list positions as numbers) set to `value`,
    validated again. A path that leads nowhere, or a value the schema refuses, is bad input."""
    data = scenario.model_dump(mode="json", by_alias=True)
    parts = key.split(".")
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        node = _step(node, part, key, parts[:depth + 1])
    last = parts[-1]
    if isinstance(node, list):
        _step(node, last, key, parts)
        node[int(last)] = value
    elif isinstance(node, dict):
        if last not in node and not _free_keys(scenario, parts[:-1]):
            raise _no_key(key, parts, node)
        node[last] = value
    else:
        raise _no_key(key, parts, node)
    try:
        return Scenario.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError([Problem("--set", None, f"--set {key}",
                                  f"{value!r} is refused: {where}: {first['msg']}")]) from exc


def _step(node: Any, part: str, key: str, path: list[str]) -> Any:
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(
            node):
        return node[int(part)]
    raise _no_key(key, path, node)


def _no_key(key: str, path: list[str], node: Any) -> InputError:
    if node is None:
        return InputError([Problem("--set", None, f"--set {key}",
                                   f"{'.'.join(path[:-1])!r} is not set in the scenario; set "
                                   f"it whole, e.g. --set '{'.'.join(path[:-1])}={{...}}'")])
    known = ", ".join(map(str, node)) if isinstance(node, dict) else (
        f"positions 0-{len(node) - 1}" if isinstance(node, list) else "(a value, no keys)")
    return InputError([Problem("--set", None, f"--set {key}",
                               f"no key {'.'.join(path)!r} in the scenario; there: {known}")])


def _free_keys(scenario: Scenario, parent: list[str]) -> bool:
    """Whether the mapping at `parent` takes names of its own (municipalities, rates by
    municipality, ...) rather than fixed fields."""
    node: Any = scenario
    for part in parent:
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
    return isinstance(node, dict)


# ---------------------------------------------------------------- running

def point_job(scenario: Scenario, settings: dict[str, Any], seed: int, replications: int,
              folder: Path, transfers: bool = True) -> dict[str, Any]:
    """Run one point (all its replications) and write its result.json (when this process sees
    the sweep's folder; else the sweep writes it from the result); never raises for a failure
    inside the model: the exception is the result. `transfers`: whether each rule
    gets its transfers (as in `run`)."""
    result: dict[str, Any] = {
        "settings": settings, "seed": seed, "replications": replications,
        "transfers": "on" if transfers else "off",
        "package_version": __version__, "scenario_sha256": scenario_hash(scenario),
        "scenario": scenario.model_dump(mode="json", by_alias=True),
    }
    try:
        plan = Plan.of(scenario, transfers=transfers)
        acc = Accumulator(scenario, plan)
        for r in range(replications):
            acc.add(replicate(scenario, seed, r, transfers=transfers))
        summary = acc.summary()
        result["figures"] = {
            "rules": {rule: entry["totals"] for rule, entry in summary["rules"].items()},
            "money": {rule: entry["money"] for rule, entry in summary["rules"].items()},
            "outcomes": summary["outcomes"],
        }
        result["error"] = None
    except Exception as exc:   # one failed point must not stop the sweep
        result["figures"] = None
        result["error"] = {"type": type(exc).__name__, "message": str(exc),
                           "traceback": traceback.format_exc()}
    out = folder.parent.parent
    if sees_folder(out):   # else a worker on another machine: the sweep writes it (sweep)
        _write(out, folder / RESULT, _result_text(result))
    return result


def _result_text(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"


def _write(out: Path, path: Path, text: str) -> None:
    """Write one file of the sweep in `out` atomically; a full disk or a read-only folder is an
    OutputError that says the finished points are kept."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
    except OSError as exc:
        error = _output_error(exc, out, out, True)
        problem = error.problems[0]
        message = problem.message.split(";")[0] + (
            "; the points finished so far are kept: run the sweep again with --resume")
        raise OutputError([Problem(problem.file, None, "--out", message)]) from exc


def sweep(scenario: Scenario, sets: Sequence[str], out_dir: Path | str, *,
          replications: int | None = None, seed: int | None = None, workers: int = 1,
          scheduler: str | None = None, resume: bool = False, progress: bool | None = None,
          force: bool = False, transfers: bool = True) -> list[dict[str, Any]]:
    """Run the full factorial of `sets` (each `key.path=v1,v2,...`); return the results of
    every point in order (see the module doc). `transfers`: whether each rule gets its
    transfers (as in `run`). `force` empties a folder that holds other files than an earlier
    sweep's first."""
    if resume and force:
        raise InputError([Problem("--force", None, "--force",
                                  "replaces the folder's content, and --resume keeps the "
                                  "finished points: give one of them")])
    if not sets:
        raise InputError([Problem("--set", None, "--set", "give at least one --set")])
    parsed = [parse_set(option) for option in sets]
    keys = [k for k, _ in parsed]
    if len(set(keys)) != len(keys):
        raise InputError([Problem("--set", None, "--set", "a key is set twice")])
    reps = scenario.replications if replications is None else int(replications)
    seed = scenario.seed if seed is None else int(seed)
    combos = list(itertools.product(*(values for _, values in parsed)))
    points: list[tuple[dict[str, Any], Scenario]] = []
    for combo in combos:
        s = scenario
        for key, value in zip(keys, combo, strict=True):
            s = with_setting(s, key, value)
        points.append((dict(zip(keys, combo, strict=True)), s))

    out = Path(out_dir)
    definition = {"sets": [{"key": k, "values": v} for k, v in parsed], "seed": seed,
                  "replications": reps, "scenario_sha256": scenario_hash(scenario),
                  "transfers": "on" if transfers else "off"}
    _start(out, definition, resume, force)
    folders = [out / "points" / f"{i:04d}" for i in range(len(points))]
    for folder in folders:              # what killed points were writing
        remove_stale_partials(folder)
    results: dict[int, dict[str, Any]] = {}
    todo = []
    for i, folder in enumerate(folders):
        done = folder / RESULT
        if resume and done.is_file():
            results[i] = json.loads(done.read_text(encoding="utf-8"))
        else:
            todo.append(i)
    jobs = [(points[i][1], points[i][0], seed, reps, folders[i], transfers) for i in todo]
    with progress_bar(bool(progress), len(jobs), f"{scenario.name}: sweep points") as advance:
        for i, result in zip(todo, run_jobs(point_job, jobs, workers=workers,
                                            scheduler=scheduler, done=advance), strict=True):
            results[i] = result
            if not (folders[i] / RESULT).is_file():   # the point ran where it cannot see out
                _write(out, folders[i] / RESULT, _result_text(result))
    ordered = [results[i] for i in range(len(points))]
    _write(out, out / TABLE, _table(keys, ordered))
    try:
        manifest = manifest_text(out, "sweep")
    except OSError as exc:
        raise _output_error(exc, out, out, True) from exc
    _write(out, out / MANIFEST, manifest)
    return ordered


def _start(out: Path, definition: dict[str, Any], resume: bool, force: bool) -> None:
    """Make `out` ready for the sweep: refused if it holds another command's output or files
    of its own (unless `force`); emptied unless resuming, when it keeps the finished points of
    the same sweep."""
    check_output_folder(out, "sweep", force)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError([Problem(str(out), None, "--out",
                                  f"cannot write the outputs here: {exc.strerror}")]) from exc
    path = out / DEFINITION
    text = json.dumps(definition, indent=2, ensure_ascii=False) + "\n"
    if resume and path.is_file() and path.read_text(encoding="utf-8") != text:
        raise InputError([Problem(str(path), None, "--resume",
                                  "this folder holds a different sweep (other settings, "
                                  "seed, replications or scenario); use another --out")])
    remove_stale_partials(out)
    try:
        # sweep.csv and the manifest mark a finished sweep: they go first, and come back when
        # this one ends; a new sweep keeps nothing of an earlier one
        gone = [out / TABLE, out / MANIFEST] if resume else list(out.iterdir())
        for old in gone:
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            else:
                old.unlink(missing_ok=True)
    except OSError as exc:
        raise InputError([Problem(str(out), None, "--out", f"cannot write the outputs here: "
                                  f"{exc.strerror or exc}")]) from exc
    _write(out, path, text)


def _table(keys: list[str], results: list[dict[str, Any]]) -> str:
    # points may price different rules (a sweep over the rule in force): all of them, in the
    # order first met; a rule a point did not price has empty cells there
    rules = list(dict.fromkeys(rule for r in results if r["figures"]
                               for rule in r["figures"]["rules"]))
    money = [f"{rule}.{payer}" for rule in rules for payer in (*PAYERS, "gross")]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["point", *keys, "status", *money, *OUTCOME_COLUMNS, "error"])
    for i, r in enumerate(results):
        settings = [json.dumps(r["settings"][k]) if not isinstance(r["settings"][k], str)
                    else r["settings"][k] for k in keys]
        figures = r["figures"]
        if figures is None:
            writer.writerow([i, *settings, "failed", *([""] * (len(money) + len(OUTCOME_COLUMNS))),
                             f"{r['error']['type']}: {r['error']['message']}"])
            continue
        amounts = [f"{figures['rules'][rule][payer]:.2f}" if rule in figures["rules"] else ""
                   for rule in rules for payer in (*PAYERS, "gross")]
        outcome = [f"{float(np.round(figures['outcomes'].get(k, 0.0), 4))}"
                   for k in OUTCOME_COLUMNS]
        writer.writerow([i, *settings, "ok", *amounts, *outcome, ""])
    return buffer.getvalue()
