"""Every relative link and #anchor in README.md and docs/*.md resolves; the README links every docs page."""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise
from pathlib import Path
from urllib.parse import unquote, urlparse

from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PARSER = MarkdownIt("commonmark").enable("table")


def slug(text: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a file; a repeated heading gets -1, -2, ..."""
    tokens = PARSER.parse(path.read_text())
    seen: Counter[str] = Counter()
    found = set()
    for opening, inline in pairwise(tokens):
        if opening.type != "heading_open":
            continue
        text = "".join(child.content for child in inline.children or []
                       if child.type in ("text", "code_inline"))
        base = slug(text)
        found.add(f"{base}-{seen[base]}" if seen[base] else base)
        seen[base] += 1
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every link and image in a file, code blocks and code spans excluded."""
    found = []
    for block in PARSER.parse(path.read_text()):
        line = block.map[0] + 1 if block.map else 0
        for token in _flatten(block.children or []):
            target = token.attrGet("href") if token.type == "link_open" else token.attrGet("src")
            if token.type in ("link_open", "image") and isinstance(target, str):
                found.append((line, target))
    return found


def _flatten(tokens: list[Token]) -> list[Token]:
    return [t for token in tokens for t in (token, *_flatten(token.children or []))]


def broken(path: Path) -> list[str]:
    """Each relative link of a file whose file or anchor does not exist, as `file:line: target`."""
    problems = []
    for line, target in links(path):
        if urlparse(target).scheme:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not dest.exists():
            problems.append(f"{path.name}:{line}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{path.name}:{line}: {target} (no heading with that anchor in {dest.name})")
    return problems


def test_every_relative_link_and_anchor_resolves() -> None:
    problems = [problem for path in DOCUMENTS for problem in broken(path)]
    assert problems == [], "broken links:\n" + "\n".join(problems)


def test_every_code_fence_is_closed() -> None:
    """An unclosed fence swallows the rest of its page, links and headings included."""
    unclosed = [path.name for path in DOCUMENTS
                if sum(line.startswith("```") for line in path.read_text().splitlines()) % 2]
    assert unclosed == []


def test_the_readme_links_every_docs_page() -> None:
    linked = {(ROOT / urlparse(target).path).resolve() for _, target in links(ROOT / "README.md")}
    unlinked = [path.name for path in DOCUMENTS[1:] if path.resolve() not in linked]
    assert unlinked == [], f"add these to the README's 'Where to go next' list: {unlinked}"


def test_the_checker_finds_a_missing_file_and_a_missing_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## Twice\n\n## Twice\n")
    page = tmp_path / "page.md"
    page.write_text("# `make demo` (`alphawatch demo [--out DIR]`)\n\n"
                    "[ok](#make-demo-alphawatch-demo---out-dir) [ok](other.md#twice-1) "
                    "[ok](https://example.org/#x) `[code](gone.md)`\n\n"
                    "[gone](gone.md) [bad](other.md#thrice) [bad](#nowhere) ![img](gone.png)\n\n"
                    "```\n[in a block](gone.md)\n```\n")
    assert broken(page) == [
        "page.md:5: gone.md (no such file)",
        "page.md:5: other.md#thrice (no heading with that anchor in other.md)",
        "page.md:5: #nowhere (no heading with that anchor in page.md)",
        "page.md:5: gone.png (no such file)",
    ]
