"""The real workflow, through Snakemake, on the tiny model and corpus."""

import json
import re

import numpy as np
import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from amygdala_readout.extract import last_token_activations
from amygdala_readout.package import read_package
from conftest import TINY_PAIRED, TINY_STORIES, run_snakemake


def scheduled(dry_run_output: str) -> dict[str, int]:
    """Job counts per rule from a dry run's job-stats table."""
    counts = {}
    for line in dry_run_output.splitlines():
        match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir):
    """A full run in its own working directory; tests below that change it run in this order."""
    from conftest import write_tiny_corpus

    workdir = tmp_path_factory.mktemp("workflow")
    write_tiny_corpus(workdir / "corpus")
    config = {"corpus_dir": "corpus", "model": str(tiny_model_dir), "layers": [1, 0.7, -1],
              "n_shards": 3, "min_words": 0}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    run_snakemake(workdir)
    return workdir


def test_package_matches_the_contract_and_the_seed_formula(finished_run, tiny_model_dir):
    package = finished_run / "results" / "readout" / "pooled"
    meta, tensors = read_package(package)
    assert meta["concepts"] == ["anger", "fear", "happiness", "sadness"]
    assert meta["layers"] == [1, 2, 3]
    assert meta["hidden_size"] == 32 and meta["dtype"] == "float16"
    assert meta["model"]["fingerprint"] and meta["corpus"]["n_texts"] == 11
    assert sorted(tensors) == sorted(f"layer_{l}.{k}" for l in (1, 2, 3) for k in ("vectors", "center"))

    # recompute from scratch: every text through the model, then mean(pos) - mean(neg)
    texts, labels = [], []
    for concept, stories in TINY_STORIES.items():
        texts += stories
        labels += [concept] * len(stories)
    for name, text in TINY_PAIRED.items():
        texts.append(text)
        labels.append("" if name == "baseline" else name)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    acts = last_token_activations(model, AutoTokenizer.from_pretrained(tiny_model_dir), texts, [1, 2, 3])
    for layer in (1, 2, 3):
        a = acts[layer].double().numpy()
        for row, concept in enumerate(meta["concepts"]):
            pos = np.array([l == concept for l in labels])
            diff = a[pos].mean(0) - a[~pos].mean(0)
            got = tensors[f"layer_{layer}.vectors"][row].float().numpy()
            np.testing.assert_allclose(got, diff / np.linalg.norm(diff), atol=2e-3)
        np.testing.assert_allclose(tensors[f"layer_{layer}.center"].numpy(), a.mean(0), rtol=1e-4, atol=1e-5)


def test_every_rule_leaves_a_log(finished_run):
    logs = finished_run / "results" / "logs"
    for name in ("validate_corpus.log", "prepare_model.log", "resolve_layers.log",
                 "extract_activations/shard_00.log", "fit_directions/pooled.log", "package_readout/pooled.log"):
        assert (logs / name).exists(), name
    assert "layer 2 (66.7% depth of 4 blocks)" in (logs / "resolve_layers.log").read_text()


def test_rerun_has_nothing_to_do(finished_run):
    assert scheduled(run_snakemake(finished_run, "-n").stdout) == {}


def test_touching_a_story_reruns_nothing(finished_run):
    (finished_run / "corpus" / "stories" / "fear.txt").touch()
    assert scheduled(run_snakemake(finished_run, "-n").stdout) == {}


def shard_mtimes(workdir):
    return {p.name: p.stat().st_mtime_ns for p in (workdir / "results" / "activations").glob("*.safetensors")}


def test_editing_one_story_reruns_one_shard(finished_run):
    story = finished_run / "corpus" / "stories" / "fear.txt"
    story.write_text(story.read_text().replace("dark lane", "dark wet lane"))
    counts = scheduled(run_snakemake(finished_run, "-n").stdout)
    assert counts["extract_activations"] == 1
    assert "prepare_model" not in counts and "resolve_layers" not in counts
    before = shard_mtimes(finished_run)
    run_snakemake(finished_run)
    after = shard_mtimes(finished_run)
    assert sum(before[name] != after[name] for name in before) == 1


def test_adding_a_story_reruns_one_shard_and_the_package_takes_it(finished_run):
    new = finished_run / "corpus" / "stories" / "sadness" / "story_3.txt"
    new.write_text("The empty chair at the table stayed empty and nobody said his name at dinner.\n")
    counts = scheduled(run_snakemake(finished_run, "-n").stdout)
    assert counts["extract_activations"] == 1
    before = shard_mtimes(finished_run)
    run_snakemake(finished_run)
    after = shard_mtimes(finished_run)
    assert sum(before[name] != after[name] for name in before) == 1
    meta = json.loads((finished_run / "results" / "readout" / "pooled" / "readout.json").read_text())
    assert meta["corpus"]["n_texts"] == 12
    assert scheduled(run_snakemake(finished_run, "-n").stdout) == {}
