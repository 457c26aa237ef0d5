"""The docs for people: the scenario reference is generated from the schema and up to date,
and every page and picture the README and docs point to exists."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def _make_reference() -> object:
    spec = importlib.util.spec_from_file_location("make_reference", DOCS / "make_reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_scenario_reference_is_what_the_schema_generates() -> None:
    reference = _make_reference().reference()          # type: ignore[attr-defined]
    committed = (DOCS / "scenario_reference.md").read_text(encoding="utf-8")
    assert committed == reference, "run: python docs/make_reference.py"


def test_the_reference_has_every_top_level_key_of_a_scenario() -> None:
    from incentive_sim.scenario import json_schema

    text = (DOCS / "scenario_reference.md").read_text(encoding="utf-8")
    for key in json_schema("scenario")["properties"]:
        assert f"| `{key}` |" in text, key


def test_the_readme_links_every_doc_page_and_every_link_resolves() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for page in ("getting_started.md", "tutorial_municipality_cost.md",
                 "scenario_reference.md", "domain.md", "glossary.md"):
        assert f"(docs/{page})" in readme, page
    for source in [REPO / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", source.read_text("utf-8")):
            assert (source.parent / target).exists(), f"{source.name}: {target}"


def test_the_docs_show_the_report_at_a_desktop_and_a_narrow_width() -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    for width in (1280, 800):
        picture = DOCS / "images" / f"report_{width}.png"
        assert f"images/report_{width}.png" in text and picture.exists()
        assert picture.stat().st_size < 300_000               # small enough for a repository


def test_no_doc_points_to_a_domain_file_outside_the_repository() -> None:
    for source in [REPO / "README.md", *DOCS.glob("*.md"), *REPO.glob("scenarios/**/*.yaml"),
                   REPO / "src/incentive_sim/scenarios/default.yaml"]:
        text = source.read_text(encoding="utf-8")
        assert "DOMAIN.md" not in text, source
