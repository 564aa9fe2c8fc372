"""The workflow on a real single-node Slurm, through the executor plugin, gives the local readout."""

import os
import re
import signal
import subprocess
import sys

import pytest
from conftest import REPO, run_snakemake, tiny_workdir

SLURM_SCRIPTS = REPO / "tests" / "slurm"
PACKAGE = ("results/readout/pooled/readout.safetensors", "results/readout/pooled/readout.json")


@pytest.fixture(scope="module")
def slurm():
    if os.geteuid() != 0:
        pytest.skip("starting Slurm needs root")
    started = subprocess.run(["bash", SLURM_SCRIPTS / "start_slurm.sh"], capture_output=True, text=True, timeout=600)
    if started.returncode != 0:
        pytest.skip(f"Slurm could not start here: {started.stderr[-500:]}")
    yield
    subprocess.run(["bash", SLURM_SCRIPTS / "stop_slurm.sh"], check=False)


def workdir_with_tiny_run(tmp_path_factory, model_dir):
    return tiny_workdir(tmp_path_factory.mktemp("slurm_run"), model_dir, n_shards=2)


def run_on_slurm(workdir, timeout=600):
    """Snakemake ignores SIGTERM while it waits on the cluster: stop it with SIGINT if it hangs."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--workflow-profile",
        str(REPO / "profiles" / "slurm"),
        # a 2-CPU test node without GPUs: small requests, no --gpus
        "--default-resources",
        "mem_mb=1000",
        "runtime=10",
        "--set-resources",
        "extract_activations:mem_mb=1500",
        "prepare_model:mem_mb=1500",
        "--set-threads",
        "extract_activations=2",
        "prepare_model=1",
        "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks",
        "5",
        "--slurm-keep-successful-logs",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        raise AssertionError(f"snakemake on Slurm did not finish in {timeout} s:\n{out[-5000:]}") from None
    assert proc.returncode == 0, out[-8000:]
    return out


@pytest.mark.slurm
def test_slurm_run_gives_the_local_readout(slurm, tmp_path_factory, tiny_model_dir):
    local = workdir_with_tiny_run(tmp_path_factory, tiny_model_dir)
    run_snakemake(local)
    cluster = workdir_with_tiny_run(tmp_path_factory, tiny_model_dir)
    out = run_on_slurm(cluster)
    # the plugin's own line for each job it hands to Slurm: 2 shards, prepare_model, 2 reports
    assert len(re.findall(r"Job \d+ has been submitted with SLURM jobid \d+", out)) == 5, out[-4000:]
    logs = cluster / ".snakemake" / "slurm_logs"
    # the heavy rules go to the cluster; the cheap ones (localrules) run beside Snakemake
    assert sorted(p.name for p in logs.iterdir()) == [
        "rule_extract_activations",
        "rule_heldout_accuracy",
        "rule_prepare_model",
        "rule_quality_report",
    ]
    assert len(list((logs / "rule_extract_activations").rglob("*.log"))) == 2  # one cluster job per shard
    for name in PACKAGE:
        assert (cluster / name).read_bytes() == (local / name).read_bytes(), name
