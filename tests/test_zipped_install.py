"""The package works when installed as a zip: its data files (the funding-rule presets, the
default scenario) are read as package resources, not from a directory next to `__file__`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import incentive_sim

PACKAGE = Path(incentive_sim.__file__).resolve().parent

# Runs in a fresh interpreter with the zip first on sys.path, ahead of the editable install.
PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from incentive_sim.scenario import load_scenario, rules
from incentive_sim.experiments.run import default_scenario
rule = rules.preset("fi_2015_two_step")
with default_scenario() as path:
    scenario = load_scenario(path)
print(json.dumps({
    "rules_file": rules.__file__,
    "presets": rules.preset_names(),
    "title": rule.title,
    "shown": rules.preset_text("dk_2016_refusion").splitlines()[0],
    "default": scenario.name,
}))
"""


def _zip_package(target: Path) -> None:
    """The package's sources and data files, without compiled caches, as a zip."""
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(PACKAGE.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts \
                    and path.suffix in (".py", ".yaml"):
                zf.write(path, Path("incentive_sim") / path.relative_to(PACKAGE))


def test_presets_and_the_default_scenario_load_from_a_zipped_package(tmp_path: Path) -> None:
    archive = tmp_path / "incentive_sim.zip"
    _zip_package(archive)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    proc = subprocess.run([sys.executable, "-c", PROBE, str(archive)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)

    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["rules_file"].startswith(str(archive) + os.sep)  # imported from the zip
    assert got["presets"] == ["dk_2016_refusion", "fi_2006_one_step", "fi_2015_two_step",
                              "fi_2025_graduated", "finland"]
    assert got["title"] == "Municipal share of the labour market subsidy, 2015-2024 (two steps)"
    assert got["shown"] == "dk_2016_refusion:"
    assert got["default"] == "Tampere region 2025"
