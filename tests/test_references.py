"""docs/references.md is the project's only source record: no tracked file cites the collected notes a clone
does not have, every figure the code prints as published is recorded there, and every section cited exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from emotrace.beyond import REFERENCES
from emotrace.identity import MISSING, TRIGEORGIS_ROWS, YANG_ROWS, paper_row

ROOT = Path(__file__).resolve().parents[1]
REFERENCES_MD = ROOT / "docs" / "references.md"
# Built from pieces so that this file does not match what it looks for.
FORBIDDEN = ["REFERENCE" + ".md", "REFERENCE" + " §", ".." + "/shared"]
CITATION = re.compile(r"docs/references\.md\s+((?:§\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?(?:,\s*)?)+)")


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"not a git checkout ({err}); the check needs `git ls-files`")
    return [ROOT / name for name in out.decode().split("\0") if name]


def doc_text() -> str:
    return REFERENCES_MD.read_text(encoding="utf-8")


def table_rows() -> list[list[str]]:
    """Cells of every Markdown table row of docs/references.md."""
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in doc_text().splitlines() if line.lstrip().startswith("|")]


def test_no_tracked_file_cites_the_collected_notes():
    offenders = []
    for path in tracked_files():
        if not path.is_file():  # deleted in the work tree but still in the index
            continue
        data = path.read_bytes()
        for pattern in FORBIDDEN:
            if pattern.encode() in data:
                line = data[: data.index(pattern.encode())].count(b"\n") + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {pattern}")
    assert not offenders, "cite docs/references.md instead:\n" + "\n".join(offenders)


def test_trigeorgis_published_cells_are_recorded():
    rows = table_rows()
    for row in TRIGEORGIS_ROWS:
        pub_a, pub_v = row.published["RECOLA"]
        if pub_a == MISSING and pub_v == MISSING:
            continue
        assert [row.objective.upper(), row.label, pub_a, pub_v] in rows, (
            f"docs/references.md §2.1 lacks the row | {row.objective.upper()} | {row.label} | {pub_a} | {pub_v} |")


def test_yang_published_cells_are_recorded():
    rows = table_rows()
    for row in YANG_ROWS:
        for corpus, (pub_a, pub_v) in row.published.items():
            assert [corpus, row.label, pub_a, pub_v] in rows, (
                f"docs/references.md §2.2 lacks the row | {corpus} | {row.label} | {pub_a} | {pub_v} |")


def test_beyond_reference_rows_are_published_figures():
    """The third table's reference rows are paper rows whose test figures §2.3 names."""
    section = doc_text().split("### 2.3", 1)[1].split("### 2.4", 1)[0]
    for paper, key, label in REFERENCES:
        row = paper_row(paper, "ccc", key)
        pub_a, pub_v = (cell.split()[0] for cell in row.published["RECOLA"])
        assert pub_a in section and pub_v in section, f"docs/references.md §2.3 does not name {label}'s {pub_a}/{pub_v}"


def test_cited_sections_exist():
    headings = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", doc_text(), flags=re.MULTILINE))
    assert {"1", "2", "2.1", "2.2"} <= headings, "section numbering of docs/references.md not recognised"
    dangling = []
    for path in tracked_files():
        if not path.is_file() or path.suffix not in {".py", ".md", ".yaml", ".smk", ".txt"} and path.name != "Snakefile":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in CITATION.finditer(text):
            for number in re.findall(r"\d+(?:\.\d+)?", match.group(1)):
                if number not in headings:
                    dangling.append(f"{path.relative_to(ROOT)}: §{number}")
    assert not dangling, "citations of sections docs/references.md does not have:\n" + "\n".join(dangling)
