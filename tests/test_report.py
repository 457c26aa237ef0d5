"""report.html: one self-contained page; rendered in headless Chromium, every image loads."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from incentive_sim.experiments.compare import compare
from incentive_sim.experiments.run import run_scenario
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


def chromium() -> str:
    """A headless Chromium's path; the test is skipped without one, and fails instead where
    INCENTIVE_SIM_REQUIRE_BROWSER is set (CI)."""
    browser = next((b for b in map(shutil.which, BROWSERS) if b), None)
    if browser is None:
        reason = "no Chromium found (Debian package 'chromium'; .ci/run installs it)"
        if os.environ.get("INCENTIVE_SIM_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    return browser


@pytest.mark.parametrize("kind", ["run", "compare"])
def test_every_image_loads_in_a_headless_browser(pages: dict[str, Path], kind: str) -> None:
    browser = chromium()
    folder = pages[kind]
    done = subprocess.run(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--dump-dom",
         (folder / "report.html").as_uri()], capture_output=True, text=True, timeout=120)
    marks = re.findall(r'data-images="(\d+)/(\d+)"', done.stdout)
    assert marks, done.stderr[-2000:]
    loaded, total = map(int, marks[0])
    assert total == len(list((folder / "plots").glob("*.png"))) and loaded == total


@pytest.mark.parametrize("kind", ["run", "compare"])
def test_every_plot_has_a_caption_saying_what_to_look_at(pages: dict[str, Path],
                                                        kind: str) -> None:
    text = (pages[kind] / "report.html").read_text(encoding="utf-8")
    figures = re.findall(r"<figure>.*?</figure>", text, flags=re.S)
    assert len(figures) == len(list((pages[kind] / "plots").glob("*.png")))
    for block in figures:
        caption = re.search(r"<figcaption[^>]*>(.*?)</figcaption>", block, flags=re.S)
        assert caption and caption.group(1).startswith("Look at"), block[-300:]


def _column(text: str, section: str, head: str) -> list[str]:
    """The cells of the column headed `head` in the first table after heading `section`."""
    part = text[text.index(f"<h2>{section}"):]
    part = part[:part.index("</table>")]
    heads = re.findall(r"<th>(.*?)</th>", part)
    rows = re.findall(r"<tr>(.*?)</tr>", part.split("<tbody>")[1])
    j = heads.index(head)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row)[j] for row in rows]


def test_shares_in_the_report_are_percentages(pages: dict[str, Path]) -> None:
    text = (pages["run"] / "report.html").read_text(encoding="utf-8")
    for head in ("activation rate", "long term share"):
        cells = _column(text, "Monitoring indicators", head)
        assert cells and all(re.fullmatch(r"\d+\.\d %", c) for c in cells), (head, cells)
    utilisation = _column(text, "Services", "utilisation")
    assert utilisation and all(re.fullmatch(r"\d+\.\d %", c) for c in utilisation)


def test_a_partial_first_or_last_month_is_labelled_partial(pages: dict[str, Path]) -> None:
    text = (pages["run"] / "report.html").read_text(encoding="utf-8")
    months = _column(text, "Monitoring indicators", "month")
    assert months[0] == "2025-03 (partial: from 10 Mar)"      # the fixture starts 2025-03-10
    assert months[-1] == "2026-03 (partial: to 9 Mar)"


def test_the_indicator_table_scrolls_in_its_own_box_under_a_sticky_header(
        pages: dict[str, Path]) -> None:
    text = (pages["run"] / "report.html").read_text(encoding="utf-8")
    part = text[text.index("<h2>Monitoring indicators"):]
    assert part.split("<table>")[0].endswith("<div class='scroll'>")
    assert re.search(r"\.scroll th \{[^}]*position: sticky", text)


@pytest.mark.parametrize("width", [1280, 800])
def test_the_run_report_as_a_reader_sees_it(pages: dict[str, Path], width: int,
                                            tmp_path: Path) -> None:
    """A screenshot at a desktop and a narrow width; with INCENTIVE_SIM_SCREENSHOTS=DIR the
    shots are kept there (docs/images holds the ones the docs show)."""
    browser = chromium()
    shot = tmp_path / f"report_{width}.png"
    done = subprocess.run(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={width},1400", f"--screenshot={shot}",
         (pages["run"] / "report.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.exists(), done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    keep = os.environ.get("INCENTIVE_SIM_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(keep) / shot.name)
