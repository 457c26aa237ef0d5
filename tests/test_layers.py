"""The package's arrows run one way (DESIGN: cli/api -> experiments -> accounting/report ->
simulation -> funding -> scenario): no module imports a layer above its own."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "incentive_sim"

# each layer, and the layers it may import besides itself (the shipped data is below all)
MAY_IMPORT = {
    "cli": {"api", "experiments", "calibration", "accounting", "report", "simulation",
            "funding", "scenario", "data"},
    "api": {"experiments", "calibration", "accounting", "report", "simulation", "funding",
            "scenario", "data"},
    "calibration": {"experiments", "accounting", "report", "simulation", "funding",
                    "scenario", "data"},
    "experiments": {"accounting", "report", "simulation", "funding", "scenario", "data"},
    "report": {"accounting", "simulation", "funding", "scenario", "data"},
    "accounting": {"simulation", "funding", "scenario", "data"},
    "simulation": {"funding", "scenario", "data"},
    "funding": {"scenario", "data"},
    "scenario": {"data"},
    "data": set(),
}


def layer(module: str) -> str | None:
    """The layer of a dotted module name inside the package (None: the package root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def imports(path: Path) -> list[str]:
    """The package modules a file imports, as dotted names."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    here = list(rel.parts if path.name != "__init__.py" else rel.parts[:-1])
    if path.name != "__init__.py":
        here = here[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                name = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                name = node.module or ""
            if name.startswith("incentive_sim"):
                if name == "incentive_sim" or len(name.split(".")) == 1:
                    out += [f"incentive_sim.{a.name}" for a in node.names]
                else:
                    out.append(name)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("incentive_sim.")]
    return out


def test_every_import_goes_down_the_layers() -> None:
    wrong = []
    checked = 0
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        own = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if own not in MAY_IMPORT:
            continue                      # __init__, __main__, _version ...
        for target in imports(path):
            other = layer(target)
            if other is None or other == own or other not in MAY_IMPORT:
                continue
            checked += 1
            if other not in MAY_IMPORT[own]:
                wrong.append(f"{rel}: imports {target} ({own} -> {other})")
    assert checked > 50
    assert not wrong, "\n".join(wrong)


def test_the_old_mixed_package_is_gone() -> None:
    assert not (PACKAGE / "analysis").exists()
    for name, files in (("experiments", {"run", "compare", "sweep", "executors"}),
                        ("accounting", {"ledger", "outcomes", "explain"}),
                        ("report", {"tables", "plots", "html"})):
        assert files <= {p.stem for p in (PACKAGE / name).glob("*.py")}, name
