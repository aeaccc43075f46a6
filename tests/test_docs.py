"""The documentation: the README stays a short front door that leads to every page, and the site builds strictly."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from markdown.extensions.toc import slugify

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 200
_LINK = re.compile(r"\]\((docs/[^)#\s]+\.md)(?:#([^)\s]+))?\)")


def _anchors(page: Path) -> set[str]:
    """The ids MkDocs gives the page's headings (code spans and emphasis as plain text)."""
    headings = re.findall(r"^#{1,6} (.+?)\s*$", page.read_text(), re.MULTILINE)
    return {slugify(re.sub(r"[`*_]", "", heading), "-") for heading in headings}


def test_the_site_builds_with_no_broken_link_missing_anchor_or_page_left_out(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def test_the_readme_is_short_and_links_every_page() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_README_LINES
    linked = {target for target, _ in _LINK.findall(text)}
    pages = {f"docs/{page.name}" for page in DOCS.glob("*.md")}
    assert pages - linked == set(), "pages the README does not link"
    assert linked - pages == set(), "README links to pages that do not exist"


def test_the_readmes_links_into_pages_name_headings_that_exist() -> None:
    """MkDocs checks links between pages; the README is outside the site, so its anchors are checked here."""
    for target, anchor in _LINK.findall(README.read_text()):
        if anchor:
            assert anchor in _anchors(ROOT / target), f"{target}#{anchor}"
