"""The README fits a screen and its links lead somewhere; code comments cite nothing outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_the_readme_is_short_and_every_link_it_makes_exists():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    targets = re.findall(r"\]\(([^)#\s]+)", text)
    assert any(t.startswith("docs/") for t in targets)
    missing = [t for t in targets if not t.startswith("http") and not (ROOT / t).exists()]
    assert not missing, missing


def test_every_docs_page_links_back_and_its_links_exist():
    for page in (ROOT / "docs").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)", text):
            if not target.startswith("http"):
                assert (page.parent / target).exists(), (page.name, target)


def test_no_comment_cites_an_issue_number_or_a_file_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files", "effnet", "app", "tests", "benchmarks", "deploy", "scripts"],
                             cwd=ROOT, capture_output=True, text=True).stdout.split()
    pattern = re.compile(r"\b[Ii]ssue \d+|\bNOTES\.md|\bDESIGN\.md|\bSTYLE\.md")
    hits = [f"{name}:{number}" for name in tracked if name.endswith((".py", ".sh")) and name != "tests/test_docs.py"
            for number, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), 1)
            if pattern.search(line)]
    assert not hits, hits
