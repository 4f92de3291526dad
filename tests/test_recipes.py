"""The README's "Your corpus" recipes, as a user follows them, on the release-layout fixtures.

Each row of the README's table names an experiment config; the user writes one override file with the corpus
root (and, for `generic`, a name), passes it after the config, and runs. Here each recipe runs through the
`emotrace check` (exit 0) and the snakemake command up to the split on a fixture in its release layout, then
plans the whole DAG (a dry run), which must reach the Table 1 the README says.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, snakemake
from emotrace.cli import main

sys.path.insert(0, str(REPO / "tests" / "fixtures"))
import make_corpora  # noqa: E402

pytestmark = pytest.mark.integration

WRITERS = {
    "recola_full": make_corpora.write_recola_full,
    "recola_avec2016": make_corpora.write_recola_avec2016,
    "semaine": lambda out, seed: make_corpora.write_semaine(out, seed=seed, seconds=20.0),
    "generic": make_corpora.write_generic,
}


def readme_recipes() -> list[tuple[str, str]]:
    """(config, Table 1 path) of each row of the README's "Your corpus" table."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Your corpus", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| [^|]+ \| `(configs/[\w.]+\.yaml)` \| `([^`]+)` \|", section, flags=re.M)
    assert len(rows) >= 7, f"the README's recipe table has {len(rows)} rows"
    return rows


RECIPES = readme_recipes()


def test_every_case_of_the_issue_has_a_recipe():
    configs = {config for config, _ in RECIPES}
    assert configs >= {"configs/trigeorgis2016_recola.yaml", "configs/recola_public23.yaml",
                       "configs/trigeorgis2016_avec2016.yaml", "configs/yang2018_recola.yaml",
                       "configs/yang2018_recola_full.yaml", "configs/yang2018_semaine.yaml", "configs/generic.yaml"}
    for config, _ in RECIPES:
        assert (REPO / config).is_file(), config


@pytest.mark.parametrize("config, table", RECIPES, ids=[Path(c).stem for c, _ in RECIPES])
def test_readme_recipe_runs_on_its_release_layout(config, table, tmp_path):
    experiment = yaml.safe_load((REPO / config).read_text())
    adapter = experiment["corpus"]["adapter"]
    root = WRITERS[adapter](tmp_path / "corpus", seed=1)
    mine = {"corpus": {"root": str(root)}}
    name = experiment["corpus"]["name"]
    if adapter == "generic":  # the README's generic recipe names the corpus too
        name = "my_corpus_fixture"
        mine["corpus"]["name"] = name
    override = tmp_path / "my_corpus.yaml"
    override.write_text(yaml.safe_dump(mine))
    files = ["--configfile", str(REPO / config), str(override)]
    assert main(["check", *files]) == 0, f"emotrace check refuses the {config} recipe's corpus"
    snakemake(tmp_path, *files, "--cores", "1", f"results/{name}/split/split.csv")
    plan = snakemake(tmp_path, "-n", *files, "--cores", "1")
    expected = table if "<" not in table else re.sub(r"<[^>]+>", name, table)
    if "*" in expected:  # generic: whichever papers' tables the config's models fill
        expected = expected.replace("*_table1.md", "trigeorgis2016_table1.md")
    assert expected in plan.stdout
    assert (tmp_path / "results" / name / "split" / "split.csv").stat().st_size > 0
