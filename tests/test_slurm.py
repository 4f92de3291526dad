"""The workflow run through profiles/slurm on a one-node SLURM cluster matches a local run.

The cluster is started by tests/slurm/cluster.sh (module fixture, always stopped
afterwards); where SLURM cannot be installed or started the tests are skipped with
the script's reason (EMOTRACE_REQUIRE_SLURM=1 makes that a failure instead).
The scenario tests run PIPELINE (the repository's Snakefile with the tiny config);
EMOTRACE_SLURM_WORKFLOW=standin runs them on the small stand-in workflow instead,
which test_standin_smoke always runs as a quick check of the profile.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
CLUSTER_SCRIPT = REPO / "tests" / "slurm" / "cluster.sh"
SLURM_PROFILE = REPO / "profiles" / "slurm"
LOCAL_PROFILE = REPO / "profiles" / "local"
TEST_CONFIG = "slurm-test-config.yaml"  # written into each run's folder where keep_models is set

# The test node has 2 CPUs: cap threads the same way in both runs, so that jobs
# fit the node and both runs compute with the same thread counts.
NODE_CPUS = 2
THREADS_ARGS = ("--max-threads", str(NODE_CPUS))
# First status check after 8 s instead of the profile's 40 s; the plugin then
# waits 10 s longer after each check that finds no job finished, so 8 s catches
# jobs of 8 s (idle machine) or up to 26 s (busy machine) early. The test
# cluster keeps finished jobs in squeue for an hour, far above 3x8 s.
CLUSTER_ARGS = ("--slurm-init-seconds-before-status-checks", "8", *THREADS_ARGS)


@dataclasses.dataclass(frozen=True)
class Workflow:
    """A workflow to run under both profiles, and the files the tests look at."""

    name: str
    source: Path  # copied (the files git does not ignore) into each run's folder
    configfile: str  # relative to source
    compared: tuple[str, ...]  # globs of result tables that must equal the local run's
    gpu_rules: tuple[str, ...]  # rules that declare resources: gpu=1
    cancel_rule: str  # its first running job is cancelled with scancel
    corrupt: str  # glob; the first match is overwritten so its consumer fails on the cluster
    timeout_s: int  # each snakemake command is killed after this many seconds
    # Both runs keep only these entries of the config's `models` (empty: all of them).
    keep_models: tuple[str, ...] = ()
    slurm_args: tuple[str, ...] = ()  # more flags for the SLURM runs (e.g. --groups)


PIPELINE = Workflow(
    name="pipeline",
    source=REPO,
    configfile="tests/configs/tiny.yaml",
    compared=("results/*/tables/*.csv", "results/*/evaluate/**/metrics.csv"),
    gpu_rules=("train_network",),
    cancel_rule="train_network",
    corrupt="results/*/segment/*.npz",  # read by train_network, a cluster job
    timeout_s=1500,
    # Every SLURM job costs two Snakemake start-ups and a status poll: one network
    # (one GPU job) and the SVR baseline keep every stage of the DAG in 43 jobs,
    # against about 90 for all of tiny.yaml's models.
    keep_models=("wave", "svr_egemaps"),
)

STANDIN_SNAKEFILE = '''
RECORDINGS = config["recordings"]


rule all:
    input:
        "results/tables/summary.csv",


rule synthesize_recording:
    output:
        "results/raw/{recording}.txt",
    log:
        "logs/synthesize_recording/{recording}.log",
    params:
        seed=lambda wildcards: RECORDINGS.index(wildcards.recording),
    run:
        import random

        rng = random.Random(params.seed)
        with open(output[0], "w") as f:
            f.writelines(f"{rng.gauss(0.0, 1.0)!r}\\n" for _ in range(1000))


rule train_network:
    input:
        expand("results/raw/{recording}.txt", recording=RECORDINGS),
    output:
        "results/tables/summary.csv",
    log:
        "logs/train_network.log",
    threads: 4
    resources:
        gpu=1,
    run:
        import os
        import statistics

        with open(log[0], "w") as f:
            print(f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')}", file=f)
        rows = []
        for path in input:
            values = []
            for line in open(path):
                try:
                    values.append(float(line))
                except ValueError:
                    raise ValueError(f"{path}: not a number: {line!r}") from None
            rows.append(f"{path},{statistics.fmean(values)!r},{statistics.stdev(values)!r}")
        with open(output[0], "w") as f:
            f.write("\\n".join(["recording,mean,stdev", *rows]) + "\\n")
'''

STANDIN = Workflow(
    name="standin",
    source=Path(),  # written by the standin fixture
    configfile="config.yaml",
    compared=("results/tables/summary.csv",),
    gpu_rules=("train_network",),
    cancel_rule="train_network",
    corrupt="results/raw/a.txt",
    timeout_s=120,
)


@dataclasses.dataclass
class Run:
    """One snakemake command: its folder, exit status and output."""

    workdir: Path
    returncode: int
    output: str

    def run_ids(self) -> list[str]:
        """The SLURM run IDs (job names) this command submitted under."""
        prefix = "SLURM run ID: "
        return [line.split(prefix, 1)[1].strip() for line in self.output.splitlines() if prefix in line]


def _free_port_pair() -> int:
    """A TCP port p such that p and p + 1 are free (slurmctld, slurmd)."""
    for _ in range(20):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no two adjacent free TCP ports")


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, str]]:
    """Start the one-node cluster; yield the environment that reaches it; stop it."""
    if shutil.which("bash") is None or shutil.which("timeout") is None:
        pytest.skip("SLURM test cluster needs bash and timeout")
    # Not under pytest's own folder, which users slurm and munge cannot enter.
    folder = Path(tempfile.mkdtemp(prefix="emotrace-slurm-", dir="/tmp"))
    env = {**os.environ, "EMOTRACE_SLURM_PORT": str(_free_port_pair())}
    started = subprocess.run(
        ["timeout", "-s", "KILL", "900", "bash", str(CLUSTER_SCRIPT), "start", str(folder)],
        env=env,
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        subprocess.run(["timeout", "-s", "KILL", "120", "bash", str(CLUSTER_SCRIPT), "stop", str(folder)], env=env)
        shutil.rmtree(folder, ignore_errors=True)
        reason = (started.stderr.strip() or started.stdout.strip() or f"exit status {started.returncode}")
        message = f"SLURM test cluster could not be started: {reason}"
        if os.environ.get("EMOTRACE_REQUIRE_SLURM") == "1":
            pytest.fail(message)
        pytest.skip(message)
    env["SLURM_CONF"] = str(folder / "etc" / "slurm.conf")
    try:
        yield env
    finally:
        subprocess.run(["timeout", "-s", "KILL", "120", "bash", str(CLUSTER_SCRIPT), "stop", str(folder)], env=env)
        shutil.rmtree(folder, ignore_errors=True)


def _copy_workflow(source: Path, dest: Path) -> Path:
    """Copy the workflow's files (those git does not ignore, where source is a repository)."""
    listed = subprocess.run(
        ["git", "-C", str(source), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
    )
    if listed.returncode != 0:
        shutil.copytree(source, dest, dirs_exist_ok=True)
        return dest
    for name in filter(None, listed.stdout.split("\0")):
        path = source / name
        if path.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / name)
    return dest


def _configfile(workflow: Workflow) -> str:
    """The config both runs use: the workflow's, or its copy with fewer models."""
    return TEST_CONFIG if workflow.keep_models else workflow.configfile


def _prepare(workflow: Workflow, dest: Path) -> Path:
    """Copy the workflow into dest and write the config with fewer models if asked."""
    _copy_workflow(workflow.source, dest)
    if workflow.keep_models:
        config = yaml.safe_load((dest / workflow.configfile).read_text())
        missing = set(workflow.keep_models) - set(config["models"])
        assert not missing, f"{workflow.configfile} has no models {sorted(missing)}"
        config["models"] = {name: config["models"][name] for name in workflow.keep_models}
        (dest / TEST_CONFIG).write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


def _command(workflow: Workflow, workdir: Path, profile: Path, *args: str) -> list[str]:
    """snakemake in workdir with a profile, killed after the workflow's timeout."""
    extra = workflow.slurm_args if profile == SLURM_PROFILE else ()
    return [
        "timeout", "-s", "KILL", str(workflow.timeout_s),
        sys.executable, "-m", "snakemake",
        "--profile", str(profile),
        "--configfile", _configfile(workflow),
        "--directory", str(workdir),
        *extra, *args,
    ]  # fmt: skip


def _snakemake(workflow: Workflow, workdir: Path, profile: Path, *args: str, env: dict[str, str]) -> Run:
    """Run the command of _command to its end."""
    done = subprocess.run(_command(workflow, workdir, profile, *args), cwd=workdir, env=env, capture_output=True, text=True)
    return Run(workdir, done.returncode, done.stdout + done.stderr)


def _slurm_jobs(env: dict[str, str], run_ids: list[str]) -> list[dict[str, str]]:
    """SLURM's record of every job submitted under the given run IDs."""
    jobs = []
    for run_id in run_ids:
        listed = subprocess.run(
            ["timeout", "30", "squeue", "--states=all", "-h", "--name", run_id,
             "-O", "JobID:20,Partition:30,tres-per-job:40,State:20,Comment:500"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        for line in listed.stdout.splitlines():
            job_id, partition, tres, state, comment = line.split(maxsplit=4)
            jobs.append(dict(id=job_id, partition=partition, tres=tres, state=state, comment=comment.strip()))
    return jobs


def _rule_of(comment: str, rules: tuple[str, ...]) -> str | None:
    """Which of the rules a job's comment (rule_<rule>[_wildcards_...]) names."""
    return next((r for r in rules if comment == f"rule_{r}" or comment.startswith(f"rule_{r}_wildcards_")), None)


def _mtimes(workdir: Path) -> dict[str, int]:
    """Modification time (ns) of every file under results/."""
    return {str(p.relative_to(workdir)): p.stat().st_mtime_ns for p in (workdir / "results").rglob("*") if p.is_file()}


def _compared_files(workflow: Workflow, workdir: Path) -> list[str]:
    return sorted({str(p.relative_to(workdir)) for pattern in workflow.compared for p in workdir.glob(pattern)})


def _assert_same_results(workflow: Workflow, local: Path, slurm: Path) -> None:
    files = _compared_files(workflow, local)
    assert files, f"no result files match {workflow.compared} in the local run"
    assert files == _compared_files(workflow, slurm)
    for name in files:
        pd.testing.assert_frame_equal(pd.read_csv(local / name), pd.read_csv(slurm / name), check_exact=True, obj=name)


def _assert_gpu_requests(env: dict[str, str], workflow: Workflow, runs: list[Run]) -> None:
    """GPU rules went to the profile's GPU partition with --gpus=1, other rules without a GPU."""
    profile = yaml.safe_load((SLURM_PROFILE / "config.yaml").read_text())
    default_partition = profile["default-resources"]["slurm_partition"]
    jobs = _slurm_jobs(env, [run_id for run in runs for run_id in run.run_ids()])
    assert jobs, "squeue knows no job of these runs"
    gpu_jobs = [job for job in jobs if _rule_of(job["comment"], workflow.gpu_rules)]
    assert gpu_jobs, f"no job of {workflow.gpu_rules} was submitted: {jobs}"
    for job in jobs:
        rule = _rule_of(job["comment"], tuple(profile["set-resources"]))
        partition = profile["set-resources"].get(rule, {}).get("slurm_partition", default_partition)
        assert job["partition"] == partition, job
        assert job["tres"] == ("gres:gpu:1" if rule in workflow.gpu_rules else "N/A"), job


def _failed_job_logs(output: str) -> list[Path]:
    """The SLURM logs named in the output's 'Error in rule' reports."""
    logs = []
    for block in output.split("Error in rule ")[1:]:
        for line in block.splitlines():
            if line.strip().startswith("log:"):
                for part in line.split("log:", 1)[1].split(" (check log")[0].split(","):
                    if "slurm_logs" in part:
                        logs.append(Path(part.strip()))
    return logs


@pytest.fixture(scope="module")
def standin(tmp_path_factory) -> Workflow:
    source = tmp_path_factory.mktemp("standin-source")
    (source / "Snakefile").write_text(STANDIN_SNAKEFILE)
    (source / "config.yaml").write_text(yaml.safe_dump({"recordings": ["a", "b"]}))
    return dataclasses.replace(STANDIN, source=source)


@pytest.fixture(scope="module")
def target(request) -> Workflow:
    """The workflow the scenario tests run (the pipeline unless EMOTRACE_SLURM_WORKFLOW=standin)."""
    if os.environ.get("EMOTRACE_SLURM_WORKFLOW", "pipeline") == "standin":
        return request.getfixturevalue("standin")
    missing = [name for name in ("Snakefile", PIPELINE.configfile) if not (PIPELINE.source / name).is_file()]
    if missing:
        pytest.skip(f"the pipeline is not complete yet: missing {', '.join(missing)}")
    return PIPELINE


def test_standin_smoke(cluster, standin, tmp_path):
    """A CPU rule and a gpu=1 rule run through the profile as it is and give the local result."""
    local = _snakemake(standin, _prepare(standin, tmp_path / "local"), LOCAL_PROFILE, *THREADS_ARGS, env=cluster)
    assert local.returncode == 0, local.output
    slurm = _snakemake(standin, _prepare(standin, tmp_path / "slurm"), SLURM_PROFILE, *CLUSTER_ARGS, env=cluster)
    assert slurm.returncode == 0, slurm.output
    _assert_same_results(standin, local.workdir, slurm.workdir)
    _assert_gpu_requests(cluster, standin, [slurm])
    assert "CUDA_VISIBLE_DEVICES=0" in (slurm.workdir / "logs" / "train_network.log").read_text()


@pytest.fixture(scope="module")
def local_run(cluster, target, tmp_path_factory) -> Run:
    workdir = _prepare(target, tmp_path_factory.mktemp(f"{target.name}-local"))
    run = _snakemake(target, workdir, LOCAL_PROFILE, *THREADS_ARGS, env=cluster)
    assert run.returncode == 0, run.output
    return run


@dataclasses.dataclass
class CancelledRun:
    """A SLURM run in which one job was cancelled, and the rerun that finished it."""

    cancelled_job: str
    first: Run
    mtimes_after_first: dict[str, int]
    rerun: Run


def _cancel_first_running(env: dict[str, str], rule: str, process: subprocess.Popen, deadline: float) -> str | None:
    """scancel the first running job of a rule; None if the run ends before one starts."""
    while time.monotonic() < deadline and process.poll() is None:
        listed = subprocess.run(
            ["timeout", "30", "squeue", "-h", "-t", "RUNNING", "-O", "JobID:20,Comment:500"],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        for line in listed.stdout.splitlines():
            job_id, comment = (line.split(maxsplit=1) + [""])[:2]
            if _rule_of(comment.strip(), (rule,)):
                subprocess.run(["timeout", "30", "scancel", job_id], env=env, check=True)
                return job_id
        time.sleep(0.5)
    return None


@pytest.fixture(scope="module")
def cancelled_run(cluster, target, tmp_path_factory) -> CancelledRun:
    """Run on the cluster, scancel a running job of the cancel rule, then rerun."""
    workdir = _prepare(target, tmp_path_factory.mktemp(f"{target.name}-slurm"))
    log = workdir.parent / f"{workdir.name}-first.log"
    # --retries 0: with the profile's retry, Snakemake would resubmit the cancelled job.
    command = _command(target, workdir, SLURM_PROFILE, *CLUSTER_ARGS, "--retries", "0")
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=workdir, env=cluster, stdout=out, stderr=subprocess.STDOUT)
        try:
            job_id = _cancel_first_running(cluster, target.cancel_rule, process, time.monotonic() + target.timeout_s)
        finally:
            process.wait(timeout=target.timeout_s + 30)
    first = Run(workdir, process.returncode, log.read_text())
    assert job_id is not None, f"no running job of {target.cancel_rule} was seen:\n{first.output}"
    mtimes = _mtimes(workdir)
    rerun = _snakemake(target, workdir, SLURM_PROFILE, *CLUSTER_ARGS, env=cluster)
    return CancelledRun(job_id, first, mtimes, rerun)


def test_cancelled_job_is_reported_with_its_slurm_log(cancelled_run, target):
    first = cancelled_run.first
    assert first.returncode == 1, first.output
    assert f"SLURM-job '{cancelled_run.cancelled_job}' failed, SLURM status is: 'CANCELLED'" in first.output
    logs = _failed_job_logs(first.output)
    assert any(log.name == f"{cancelled_run.cancelled_job}.log" and log.is_file() for log in logs), first.output


def test_rerun_after_cancel_redoes_only_unfinished_jobs(cancelled_run, target):
    rerun = cancelled_run.rerun
    assert rerun.returncode == 0, rerun.output
    finished = cancelled_run.mtimes_after_first
    assert finished, "no job finished before the cancelled one"
    now = _mtimes(rerun.workdir)
    redone = sorted(name for name, mtime in finished.items() if now.get(name) != mtime)
    assert not redone, f"the rerun rewrote outputs of finished jobs: {redone}"


def test_results_equal_local_run(cancelled_run, local_run, target):
    assert cancelled_run.rerun.returncode == 0, cancelled_run.rerun.output
    _assert_same_results(target, local_run.workdir, cancelled_run.rerun.workdir)


def test_gpu_rules_request_one_gpu(cluster, cancelled_run, target):
    _assert_gpu_requests(cluster, target, [cancelled_run.first, cancelled_run.rerun])


def test_bad_input_fails_with_slurm_log(cluster, cancelled_run, target, tmp_path):
    """A corrupted intermediate file makes its consumer fail on the cluster; the report names its SLURM log."""
    assert cancelled_run.rerun.returncode == 0, cancelled_run.rerun.output
    workdir = tmp_path / "bad-input"
    shutil.copytree(cancelled_run.rerun.workdir, workdir, symlinks=True)
    matches = sorted(workdir.glob(target.corrupt))
    assert matches, f"nothing matches {target.corrupt}"
    corrupted = matches[0]
    corrupted.write_text("not a table\n")
    # Only the corrupted file's consumers rerun: in the copied folder, params that
    # hold absolute paths would otherwise look changed.
    run = _snakemake(
        target, workdir, SLURM_PROFILE, *CLUSTER_ARGS, "--retries", "0", "--rerun-triggers", "mtime", env=cluster
    )
    assert run.returncode == 1, run.output
    logs = _failed_job_logs(run.output)
    assert logs and all(log.is_file() for log in logs), run.output
    reported = run.output + "".join(log.read_text() for log in logs)
    assert str(corrupted.relative_to(workdir)) in reported or str(corrupted) in reported, reported
