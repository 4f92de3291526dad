"""The docs and config comments say what the code does: files a rule writes, log paths, the default corpus's
size, and which corpus release each experiment config expects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
PLACEHOLDER = re.compile(r"<[^>/]+>|\{[^}/]+\}")
# What each adapter reads, as the configs' "# Expects:" line must name it (docs/references.md §10).
RELEASES = {
    "recola_full": "full RECOLA release",
    "recola_avec2016": "AVEC 2016 RECOLA package",
    "semaine": "SEMAINE",
    "synthetic": "generates its synthetic",
    "generic": "generic layout",
}


def rule_paths(kind: str) -> list[str]:
    """Every `kind` path (e.g. the `log:` entries) written in rules/*.smk, f-string braces as in the source."""
    out = []
    for smk in (ROOT / "rules").glob("*.smk"):
        out += re.findall(rf"{kind}:\s*\n(?:\s*\w+=)?\s*f?\"([^\"]+)\"", smk.read_text())
    return out


def as_regex(pattern: str) -> re.Pattern:
    """A rule's path with its placeholders ({CORPUS}, {{recording}}, {corpus}) matching one path segment;
    {DRAW_PART} (rules/common.smk) matches nothing or `<kind>/<draw>/`."""
    draw_parts = pattern.split("{DRAW_PART}")
    regexes = ["[^/]+".join(re.escape(p) for p in re.split(r"\{\{?[^}]+\}?\}", part)) for part in draw_parts]
    return re.compile("(?:[^/]+/[^/]+/)?".join(regexes))


def expand(mention: str) -> list[str]:
    """`{a|b}` alternatives spelt out; other placeholders (`<corpus>`, `{model}`) become one concrete segment."""
    alt = re.search(r"\{([^}/]*\|[^}/]*)\}", mention)
    if alt:
        return [m for choice in alt.group(1).split("|")
                for m in expand(mention[: alt.start()] + choice + mention[alt.end():])]
    return [PLACEHOLDER.sub("x", mention)]


def test_architecture_lists_the_files_of_a_training_folder():
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"^results/\{corpus\}/train/[^\n]*\n((?:\s+[^\n]*\n)+)", text, flags=re.MULTILINE)
    assert block, "docs/architecture.md: no results/{corpus}/train/ entry in the layout"
    listed = set(re.findall(r"[\w.]+\.(?:pt|csv|json|log|npz)", block.group(1)))
    train_smk = (ROOT / "rules" / "train.smk").read_text()
    written = set(re.findall(r"seed\{\{seed\}\}/([\w.]+)\"", train_smk))
    assert written, "rules/train.smk: no output in the training folder found"
    assert written <= listed, f"docs/architecture.md omits {sorted(written - listed)} (rules/train.smk writes them)"
    library = "".join(p.read_text() for p in (ROOT / "src" / "emotrace").rglob("*.py"))
    invented = sorted(name for name in listed - written if f'"{name}"' not in library)
    assert not invented, f"docs/architecture.md lists {invented} in the training folder, which nothing writes"


@pytest.mark.parametrize("doc", [*CONFIGS, ROOT / "docs" / "architecture.md", ROOT / "docs" / "references.md",
                                 ROOT / "docs" / "scale.md"], ids=lambda p: p.name)
def test_named_log_files_are_rule_logs(doc):
    patterns = [as_regex(p) for p in rule_paths("log")]
    assert len(patterns) > 10, "rules/*.smk: log paths not found"
    mentions = re.findall(r"logs/[\w{}<>|./-]*\.log", doc.read_text())
    for mention in mentions:
        for concrete in expand(mention):
            assert any(p.fullmatch(concrete) for p in patterns), f"{doc.name}: {mention} is no rule's log"


def test_scale_doc_states_the_default_corpus_size():
    synthetic = yaml.safe_load((ROOT / "config.yaml").read_text())["synthetic"]
    minutes = synthetic["n_speakers"] * synthetic["duration"] / 60
    stated = re.findall(r"(\d+)-minute default corpus", (ROOT / "docs" / "scale.md").read_text())
    assert stated, "docs/scale.md no longer names the default corpus's size"
    assert all(float(m) == minutes for m in stated), f"docs/scale.md says {stated} min, config.yaml makes {minutes:g}"


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_says_which_release_it_expects(path):
    text = path.read_text()
    config = yaml.safe_load(text)
    adapter = config["corpus"]["adapter"]
    assert text.startswith("# Expects:"), f"{path.name}: first line must say which corpus release it expects"
    header = " ".join(line.lstrip("# ") for line in text.splitlines()[:3])
    assert RELEASES[adapter] in header, f"{path.name}: 'Expects:' should name {RELEASES[adapter]}"
    assert f"adapter {adapter}" in header, f"{path.name}: 'Expects:' should name the adapter {adapter}"
    if adapter != "synthetic":
        # A release as distributed ships no extra files (speaker metadata, speaker maps): a shipped config
        # that required one would fail on every user's copy.
        assert config["corpus"].get("options", {}) == {}, f"{path.name}: corpus.options must be empty as shipped"
