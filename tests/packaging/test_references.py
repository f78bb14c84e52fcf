"""Every reference a comment, docstring or document makes resolves inside the repository.

A reader of the project has only the repository: a comment citing a document kept elsewhere (a
shared notes folder, a defect list by number) cannot be followed. The facts the code relies on from
Quay, OpenShift and the original operator live in ``docs/reference/``, and these tests keep every
citation pointing there or at another file of the tree, down to the Markdown heading when an anchor
is given. Files of other projects are cited as ``owner/repo:path`` and are not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.manifests import ROOT

#: what is scanned: source, configuration and documentation
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".json", ".toml", ".cfg", ".txt", ".sh", ".html", ".j2"}
NAMES = {"Makefile", "Dockerfile"}
#: directories that are not the project's own text (tool caches, virtual environments, outputs)
SKIPPED_DIRS = {"node_modules", "__pycache__", "build", "dist", "results"}
THIS_FILE = Path(__file__).resolve()

#: citations of documents that are not in the repository, whatever their wording
OUTSIDE = [
    re.compile(r"\.\./shared\b"),
    # a path from a top-level ``shared/`` folder: the repository has none, so it points outside
    re.compile(r"(?<![\w./-])shared/[\w-]+(?:/|\.md\b)"),
    re.compile(r"/work/"),
    re.compile(r"\bquay-golden\b"),
    re.compile(r"\bdefect D\d+\b"),
    re.compile(r"[(,] ?D\d{1,2}\)"),
]
#: a path to a Markdown file, with an optional anchor; a preceding ``:`` marks ``owner/repo:path``
MD_PATH = re.compile(r"(?<![\w:/.-])((?:\.{1,2}/)?[\w./-]*[\w-]\.md)(#[\w-]+)?")
MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def project_files() -> Iterator[Path]:
    """Yield every scanned file of the project, hidden and generated directories left out."""
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT).parts
        if any(part.startswith(".") or part in SKIPPED_DIRS for part in relative[:-1]):
            continue
        scanned = path.suffix in SUFFIXES or path.name in NAMES
        if scanned and path.is_file() and path.resolve() != THIS_FILE:
            yield path


def outside_markdown_fences(text: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, line)`` of a Markdown text, code blocks left out."""
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading)
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(document: Path) -> set[str]:
    """Every heading anchor of a Markdown file, repeated headings numbered as GitHub does."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in outside_markdown_fences(document.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def resolve(mention: str, source: Path) -> Path | None:
    """The file a mentioned path names: beside the mentioning file, at the root, or under docs/."""
    for base in (source.parent, ROOT, ROOT / "docs"):
        candidate = (base / mention).resolve()
        if candidate.is_file() and candidate.is_relative_to(ROOT):
            return candidate
    return None


def display(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_scan_sees_the_project() -> None:
    scanned = {display(path) for path in project_files()}
    assert {"README.md", "docs/reference/quay.md", "registry/scopes.py", "Makefile"} <= scanned
    assert not any(name.startswith(".venv") for name in scanned)


def test_no_citation_of_documents_outside_the_repository() -> None:
    problems = []
    for path in project_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for pattern in OUTSIDE:
                if pattern.search(line):
                    problems.append(f"{display(path)}:{number}: {line.strip()}")
    assert problems == [], "cite docs/reference/ instead:\n" + "\n".join(problems)


def test_every_markdown_path_mentioned_exists_with_its_anchor() -> None:
    problems = []
    for path in project_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for match in MD_PATH.finditer(line):
                mention, anchor = match.group(1), match.group(2)
                target = resolve(mention, path)
                if target is None:
                    problems.append(f"{display(path)}:{number}: no file {mention}")
                elif anchor and anchor[1:] not in anchors(target):
                    problems.append(f"{display(path)}:{number}: no heading {mention}{anchor}")
    assert problems == [], "\n".join(problems)


def markdown_documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("document", markdown_documents(), ids=display)
def test_relative_links_resolve(document: Path) -> None:
    problems = []
    for number, line in outside_markdown_fences(document.read_text(encoding="utf-8")):
        for target in MD_LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (document.parent / file_part).resolve() if file_part else document
            if not linked.exists() or not linked.is_relative_to(ROOT):
                problems.append(f"{number}: {target}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{number}: {target}: no such heading")
    assert problems == [], "\n".join(problems)


def test_slugs_follow_github() -> None:
    assert slug("`oc new-app --template=httpd-example`") == "oc-new-app---templatehttpd-example"
    assert slug("Access functions for the `/v2` API (`registry/access.py`)") == (
        "access-functions-for-the-v2-api-registryaccesspy"
    )
    assert slug("ProjectRequest (synchronous)") == "projectrequest-synchronous"
