"""Write docs/scenario_reference.md from the scenario language's JSON Schema (the one
`incentive-sim schema` prints), so the reference cannot drift from the code.

    python docs/make_reference.py            # rewrite docs/scenario_reference.md
    python docs/make_reference.py --check    # exit 1 if the committed file is out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from incentive_sim.scenario import json_schema

TARGET = Path(__file__).resolve().parent / "scenario_reference.md"
HEADER = """# Scenario reference

Every key of a scenario file, generated from the JSON Schema that `incentive-sim schema` prints
(by `docs/make_reference.py`; do not edit by hand: `python docs/make_reference.py` rewrites it
and a test checks it is up to date). Start with [getting_started.md](getting_started.md) and
[tutorial_municipality_cost.md](tutorial_municipality_cost.md); the money words are in
[glossary.md](glossary.md), the rules' language in [funding_rules.md](funding_rules.md) and the
laws and figures behind the presets in [domain.md](domain.md).

A file with `extends:` may give any part of these (its base gives the rest); the keys and
types are the same. Types link to their section; "required" keys have no default.
"""


def _anchor(name: str) -> str:
    return name.lower()


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1].removesuffix("Partial")


def type_of(spec: dict[str, Any]) -> str:
    """A schema node as a short type, with links to the sections of object types."""
    if "$ref" in spec:
        name = _name(spec["$ref"])
        return f"[{name}](#{_anchor(name)})"
    for key in ("anyOf", "oneOf"):
        if key in spec:
            kinds = dict.fromkeys(type_of(s) for s in spec[key])
            return " or ".join(k for k in kinds if k != "null") + (
                " or null" if "null" in kinds else "")
    if "const" in spec:
        return f"`{json.dumps(spec['const'])}`"
    if "enum" in spec:
        return "one of " + ", ".join(f"`{v}`" for v in spec["enum"])
    kind = spec.get("type")
    if kind == "array":
        return "list of " + (type_of(spec["items"]) if "items" in spec else "values")
    if kind == "object":
        values = spec.get("additionalProperties")
        if isinstance(values, dict):
            return "map of name to " + type_of(values)
        return "mapping"
    if isinstance(kind, list):
        return " or ".join(kind)
    return str(kind) if kind else "any"


def _bounds(spec: dict[str, Any]) -> str:
    parts = []
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
                      ("exclusiveMaximum", "<")):
        if key in spec:
            value = spec[key]
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            parts.append(f"{sign} {value:,}" if isinstance(value, int) else f"{sign} {value}")
    return ", ".join(parts)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _default(spec: dict[str, Any], required: bool) -> str:
    if required:
        return "required"
    if "default" not in spec:
        return ""
    text = json.dumps(spec["default"], ensure_ascii=False)
    return f"`{text}`" if len(text) <= 40 else "(see `incentive-sim schema`)"


def section(name: str, spec: dict[str, Any], level: str = "##") -> str:
    lines = [f"{level} {name}", ""]
    if spec.get("description"):
        lines += [_cell(spec["description"]), ""]
    properties = spec.get("properties", {})
    if properties:
        required = set(spec.get("required", []))
        lines += ["| key | type | default | bounds | what it is |", "|---|---|---|---|---|"]
        for key, p in properties.items():
            lines.append(f"| `{key}` | {_cell(type_of(p))} | {_cell(_default(p, key in required))}"
                         f" | {_bounds(p)} | {_cell(p.get('description', ''))} |")
        lines.append("")
    elif "type" in spec or "anyOf" in spec or "oneOf" in spec:
        lines += [f"Type: {type_of(spec)}.", ""]
    return "\n".join(lines)


def reference() -> str:
    """The whole page."""
    schema = json_schema("scenario")
    defs = schema.get("$defs", {})
    parts = [HEADER, section("Scenario", schema)]
    for name in sorted(defs):
        if name.endswith("Partial") or name == "Scenario":
            continue
        parts.append(section(name, defs[name]))
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = reference()
    if "--check" in argv:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET}: out of date; run python docs/make_reference.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
