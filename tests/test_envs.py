"""The conda environments the rules name install emotrace itself: each has the post-deploy script Snakemake runs
after creating it, and that script installs the package from the repository (editable, without dependencies)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / "envs" / "install_emotrace.sh"


def rule_envs() -> set[Path]:
    """Env files named by a `conda:` directive in rules/*.smk, resolved as Snakemake does (from the .smk's folder)."""
    found = set()
    for smk in (ROOT / "rules").glob("*.smk"):
        for name in re.findall(r"conda:\s*\n\s*\"([^\"]+)\"", smk.read_text()):
            found.add((smk.parent / name).resolve())
    return found


def test_every_rule_env_has_the_post_deploy_installer():
    envs = rule_envs()
    assert envs, "no conda: directive found in rules/*.smk"
    for env in envs:
        assert env.is_file(), f"{env}: named by a rule but missing"
        script = env.with_name(env.stem + ".post-deploy.sh")  # Snakemake's naming: envs/x.yaml -> envs/x.post-deploy.sh
        assert script.is_file(), f"{script}: missing, so Snakemake would create {env.name} without emotrace"
        assert script.resolve() == INSTALLER.resolve(), f"{script} should link to {INSTALLER.name}"


def _venv_env(venv: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV"}}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def test_post_deploy_script_installs_the_repository_without_dependencies(tmp_path):
    """Run the script as Snakemake does (sh, inside the new environment's PATH) in a fresh, empty virtualenv."""
    setuptools = pytest.importorskip("setuptools", minversion="77")  # pyproject.toml's build requirement
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    build_env = _venv_env(
        venv, EMOTRACE_ROOT=str(ROOT),
        # Offline: no index, and the build backend from this interpreter instead of an isolated download.
        PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="false", PYTHONPATH=str(Path(setuptools.__file__).parents[1]),
    )
    done = subprocess.run(["sh", str(ROOT / "envs" / "torch.post-deploy.sh")], env=build_env, capture_output=True,
                          text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    probe = ("import importlib.util as u, emotrace; print(emotrace.__file__); "
             "print(u.find_spec('numpy') is None)")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], env=_venv_env(venv), capture_output=True,
                         text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    location, no_numpy = out.stdout.split()
    assert Path(location).resolve() == (ROOT / "src" / "emotrace" / "__init__.py").resolve()  # editable
    assert no_numpy == "True", "the script installed dependencies; the env file pins them"


def test_post_deploy_script_refuses_a_folder_that_is_not_the_repository(tmp_path):
    done = subprocess.run(["sh", str(INSTALLER)], env=_venv_env(tmp_path, EMOTRACE_ROOT=str(tmp_path)),
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert f"EMOTRACE_ROOT={tmp_path} is not the emotrace repository" in done.stderr
