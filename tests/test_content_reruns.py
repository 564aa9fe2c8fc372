"""Reruns decided by content, through Snakemake: each change runs exactly the jobs that depend on it,
and the package then equals a clean run's. File times decide nothing."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter

import pandas as pd
import pytest
import yaml
from conftest import REPO, built_once, make_workdir, run_snakemake

VECTORS = "results/readout/pooled/readout.safetensors"
BEST = "results/readout/best/readout.safetensors"
EDITED = "She hid under the stairs while the thunder shook every window of the house."
# what every change to the stories of one shard reruns: that shard, validation, and all after them
AFTER_ONE_SHARD = {
    "extract_activations": 1,
    "validate_corpus": 1,
    "fit_directions": 1,
    "heldout_accuracy": 1,
    "quality_report": 1,
    "package_readout": 1,
    "ship_readout": 1,
    "evaluate_readout": 1,
    "heldout_summary": 1,
    "select_readout": 1,
    "publish_readout": 1,
    "all": 1,
}


def planned(workdir) -> dict[str, int]:
    """{rule: jobs} of what Snakemake would run now."""
    out = run_snakemake(workdir, "--dry-run", "--quiet", "rules").stdout
    return dict(Counter({m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", out, re.M) if m[1] != "total"}))


def set_config(workdir, **changes):
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(yaml.safe_load(path.read_text()) | changes))


def edit_keeping_time(path, text):
    """Write new content but give the file back its old modification time, as `cp -p` from a backup does."""
    stat = path.stat()
    path.write_text(text + "\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.fixture
def copy(finished_copy):
    return finished_copy


@pytest.fixture(scope="session")
def clean_edited(tmp_path_factory, tiny_model_dir):
    """A clean run on the corpus with stories/fear.txt edited."""

    def build(path):
        workdir = make_workdir(path, tiny_model_dir)
        (workdir / "corpus" / "stories" / "fear.txt").write_text(EDITED + "\n")
        run_snakemake(workdir)

    return built_once(tmp_path_factory, "clean_edited", build)


def test_touched_files_rerun_nothing(copy):
    for path in [*(copy / "corpus").rglob("*.txt"), *(copy / "model").iterdir(), copy / "eval.jsonl"]:
        path.touch()
    assert planned(copy) == {}


def test_a_story_restored_with_an_old_time_reruns_its_shard(copy, clean_edited):
    edit_keeping_time(copy / "corpus" / "stories" / "fear.txt", EDITED)
    assert planned(copy) == AFTER_ONE_SHARD
    run_snakemake(copy)
    assert (copy / VECTORS).read_bytes() == (clean_edited / VECTORS).read_bytes()
    assert planned(copy) == {}


def test_a_story_edited_while_the_run_is_under_way_fails_that_run_and_the_next_one_is_right(copy, clean_edited):
    # prepare_model reruns, and everything after it; the story changes while it runs, after the workflow
    # planned its jobs with the old text and before extraction reads the story
    (copy / "results/logs/prepare_model.log").unlink()
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(copy),
        "--cores",
        "1",
        "--forcerun",
        "prepare_model",
    ]
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while not (copy / "results/logs/prepare_model.log").exists() and run.poll() is None:
        time.sleep(0.02)
    (copy / "corpus" / "stories" / "fear.txt").write_text(EDITED + "\n")
    out, _ = run.communicate()
    assert run.returncode != 0, out[-6000:]
    assert "stories of shard shard_" in out and "changed while the run was under way; run snakemake again" in out
    run_snakemake(copy)
    assert (copy / VECTORS).read_bytes() == (clean_edited / VECTORS).read_bytes()
    assert planned(copy) == {}


def test_a_copied_corpus_folder_with_one_story_changed_reruns_one_shard(copy):
    shutil.copytree(copy / "corpus", copy / "corpus_copy")  # new files, new times
    (copy / "corpus_copy" / "stories" / "fear.txt").write_text(EDITED + "\n")
    set_config(copy, corpus_dir="corpus_copy")
    assert planned(copy) == AFTER_ONE_SHARD


def test_adding_then_removing_a_method_runs_its_jobs_and_keeps_the_best_package(copy):
    set_config(copy, methods=["pooled", "lda"])
    assert planned(copy) == {
        "fit_directions": 1,
        "heldout_accuracy": 1,
        "quality_report": 1,
        "package_readout": 1,
        "ship_readout": 1,
        "evaluate_readout": 1,
        "heldout_summary": 1,
        "select_readout": 1,
        "publish_readout": 1,
        "all": 1,
    }
    run_snakemake(copy)
    best = json.loads((copy / "results/readout/best/readout.json").read_text())
    assert set(best["selection"]["balanced_accuracy"]) == {"pooled", "lda"}
    heldout = pd.read_csv(copy / "results/quality/heldout_accuracy.tsv", sep="\t")
    assert set(heldout.method) == {"pooled", "lda"}
    set_config(copy, methods=["pooled"])
    assert planned(copy) == {"heldout_summary": 1, "select_readout": 1, "publish_readout": 1, "all": 1}
    run_snakemake(copy)
    best = json.loads((copy / "results/readout/best/readout.json").read_text())
    assert best["selected_method"] == "pooled" and set(best["selection"]["balanced_accuracy"]) == {"pooled"}
    assert "lda" not in (copy / "results/quality/heldout_accuracy.tsv").read_text()


def test_a_failing_selection_keeps_the_last_good_package(copy):
    shipped = (copy / BEST).read_bytes()
    (copy / "results/evaluations/own/pooled/metrics.tsv").write_text("not a table\n")
    failed = run_snakemake(copy, "--forcerun", "select_readout", check=False)
    assert failed.returncode != 0
    assert (copy / BEST).read_bytes() == shipped


def test_changing_n_shards_re_extracts_every_shard_and_gives_the_same_package(copy, finished):
    set_config(copy, n_shards=2)
    jobs = planned(copy)
    assert jobs["extract_activations"] == 2 and jobs["validate_corpus"] == 1 and jobs["publish_readout"] == 1
    assert "prepare_model" not in jobs and "extract_evaluation" not in jobs
    run_snakemake(copy)
    # which shard a text sits in changes nothing it computes
    assert (copy / VECTORS).read_bytes() == (finished / VECTORS).read_bytes()


def test_a_model_saved_over_in_place_is_prepared_again_with_everything_after_it(copy):
    from safetensors.torch import load_file, save_file

    weights = copy / "model" / "model.safetensors"
    tensors = load_file(weights)
    name = next(n for n in tensors if n.endswith("o_proj.weight"))
    tensors[name] = tensors[name] * 1.5  # a "fine-tune": same files, same sizes, other numbers
    stat = weights.stat()
    save_file(tensors, weights, metadata={"format": "pt"})
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    jobs = planned(copy)
    assert jobs["prepare_model"] == 1 and jobs["extract_activations"] == 3 and jobs["extract_evaluation"] == 1
    assert jobs["publish_readout"] == 1


def test_editing_the_evaluation_set_reruns_only_its_jobs(copy):
    path = copy / "eval.jsonl"
    path.write_text(path.read_text() + json.dumps({"text": "The rain would not stop.", "label": "sadness"}) + "\n")
    assert planned(copy) == {
        "extract_evaluation": 1,
        "evaluate_readout": 1,
        "select_readout": 1,
        "publish_readout": 1,
        "all": 1,
    }


def test_a_setting_of_a_method_not_configured_reruns_nothing(copy):
    # subspace_k shapes only the token subspaces, which extraction keeps for the subspace method alone
    set_config(copy, subspace_k=8, eigen_k=2)
    assert planned(copy) == {}


@pytest.mark.parametrize(
    "change, expected_shards", [({"max_length": 64}, 3), ({"min_words": 1}, 0), ({"cv_folds": 2}, 0)]
)
def test_config_values_rerun_what_they_change(copy, change, expected_shards):
    assert planned(copy) == {}
    set_config(copy, **change)
    jobs = planned(copy)
    assert jobs.get("extract_activations", 0) == expected_shards
    assert jobs.get("validate_corpus", 0) == (1 if "min_words" in change else 0)
    assert jobs.get("heldout_accuracy", 0) == 1
