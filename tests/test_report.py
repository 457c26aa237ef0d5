"""report.html: one self-contained page; rendered in headless Chromium, every image loads."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from incentive_sim.analysis.compare import compare
from incentive_sim.analysis.run import run_scenario
from incentive_sim.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    s = load_scenario(REPO / "tests/fixtures/small_run.yaml")
    root = tmp_path_factory.mktemp("report")
    run_scenario(s, root / "run", replications=2)
    compare(s, ["fi_2015_two_step", "fi_2025_graduated"], root / "compare", replications=2)
    return {"run": root / "run", "compare": root / "compare"}


@pytest.mark.parametrize("kind", ["run", "compare"])
def test_the_report_is_self_contained_with_every_plot_and_the_rules(
        pages: dict[str, Path], kind: str) -> None:
    folder = pages[kind]
    text = (folder / "report.html").read_text(encoding="utf-8")
    plots = sorted((folder / "plots").glob("*.png"))
    assert plots
    assert text.count("src='data:image/png;base64,") == len(plots)
    assert not re.search(r"""(src|href)=['"]?(https?:|//)""", text)     # nothing to fetch
    assert "fi_2015_two_step" in text and "Reference:" in text and "Provenance" in text


@pytest.mark.parametrize("kind", ["run", "compare"])
def test_every_image_loads_in_a_headless_browser(pages: dict[str, Path], kind: str) -> None:
    browser = next((b for b in map(shutil.which, BROWSERS) if b), None)
    if browser is None:
        reason = "no Chromium found (Debian package 'chromium'; .ci/run installs it)"
        if os.environ.get("INCENTIVE_SIM_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    folder = pages[kind]
    done = subprocess.run(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--dump-dom",
         (folder / "report.html").as_uri()], capture_output=True, text=True, timeout=120)
    marks = re.findall(r'data-images="(\d+)/(\d+)"', done.stdout)
    assert marks, done.stderr[-2000:]
    loaded, total = map(int, marks[0])
    assert total == len(list((folder / "plots").glob("*.png"))) and loaded == total
