"""Interrupted, failed and repeated runs: nothing computed is lost, and results are bitwise stable."""

import os
import signal
import subprocess
import time

from conftest import make_workdir, run_snakemake, snakemake_command

PACKAGE = ("results/readout/pooled/readout.safetensors", "results/readout/pooled/readout.json")


def package_bytes(workdir):
    """The package's bytes, but for where its model copy lies (each workdir has its own)."""
    vectors, meta = [(workdir / name).read_bytes() for name in PACKAGE]
    return vectors, meta.replace(str(workdir.resolve()).encode(), b"<workdir>")


def test_kill_during_extraction_then_rerun_gives_the_same_package(finished, tmp_path, tiny_model_dir):
    """Also: two runs of the same inputs give bitwise the same package."""
    workdir = make_workdir(tmp_path / "run", tiny_model_dir)
    cmd = snakemake_command(workdir)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    logs = workdir / "results" / "logs" / "extract_activations"
    deadline = time.monotonic() + 120
    while not (logs.exists() and any(logs.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # snakemake and every job it started, mid-extraction
    proc.wait()
    assert not (workdir / PACKAGE[0]).exists()
    run_snakemake(workdir, "--unlock")
    run_snakemake(workdir, "--rerun-incomplete")
    assert package_bytes(workdir) == package_bytes(finished)


def test_bad_edit_keeps_results_and_the_fixed_rerun_resumes(finished_copy):
    reference = finished_copy
    story = reference / "corpus" / "stories" / "fear.txt"
    original = story.read_text()
    outputs = sorted((reference / "results").rglob("*.safetensors"))
    mtimes = [p.stat().st_mtime_ns for p in outputs]
    story.write_bytes(b"half-saved \xff by a crashing editor")
    failed = run_snakemake(reference, check=False)
    assert failed.returncode != 0 and "fear.txt: not UTF-8 text" in failed.stderr
    assert [p.stat().st_mtime_ns for p in outputs] == mtimes  # nothing deleted or rewritten
    story.write_text(original.replace("dark lane", "narrow lane"))
    resumed = run_snakemake(reference)
    assert resumed.stdout.count("rule extract_activations:") + resumed.stderr.count("rule extract_activations:") == 1
