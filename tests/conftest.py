"""Fixtures: a tiny random causal LM saved like a real one, a tiny corpus, and finished runs of the
workflow on them, each built once per test session (also across pytest-xdist workers) and copied by
the tests that change something."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]

# Four concepts with two stories each, and one paired scenario: enough for every rule to do real work.
TINY_STORIES = {
    "anger": [
        "He slammed the door so hard the frame cracked and shouted that nobody would cheat him again.",
        "She tore the unfair letter in half and marched to the office with her fists clenched tight.",
    ],
    "fear": [
        "The footsteps behind her in the dark lane grew faster and her heart hammered as she ran.",
        "He froze at the edge of the cliff, knees shaking, unable to look down at the rocks below.",
    ],
    "happiness": [
        "The children laughed in the warm sun and the whole family sang all the way to the sea.",
        "She opened the letter, read that she got the job, and danced around the little kitchen.",
    ],
    "sadness": [
        "He packed the old dog's bowl into a box and sat for a long time in the quiet empty yard.",
        "She read his last message again and again while the rain ran slowly down the window.",
    ],
}
TINY_PAIRED = {
    "baseline": "The bus arrived at the station at noon and the passengers walked into the town square.",
    "anger": "The bus was late again at noon and the passengers stormed furious into the town square.",
    "happiness": "The bus arrived at noon and the passengers walked cheerfully singing into the bright town square.",
}


def write_tiny_corpus(root: Path) -> Path:
    for concept, texts in TINY_STORIES.items():
        (root / "stories" / concept).mkdir(parents=True, exist_ok=True)
        (root / "stories" / f"{concept}.txt").write_text(texts[0] + "\n")
        for i, text in enumerate(texts[1:], start=2):
            (root / "stories" / concept / f"story{i}.txt").write_text(text + "\n")
    scenario = root / "paired" / "bus_station"
    scenario.mkdir(parents=True)
    for name, text in TINY_PAIRED.items():
        (scenario / f"{name}.txt").write_text(text + "\n")
    return root


def tiny_tokenizer(words: list[str]):
    """A word-level fast tokenizer with PAD/BOS/EOS/UNK that adds BOS, built offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[BOS]", "[EOS]", "[UNK]"]
    vocab = {tok: i for i, tok in enumerate(specials + sorted(set(words)))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(single="[BOS] $A", special_tokens=[("[BOS]", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="[BOS]", eos_token="[EOS]", pad_token="[PAD]", unk_token="[UNK]"
    )


def corpus_words() -> list[str]:
    texts = [t for ts in TINY_STORIES.values() for t in ts] + list(TINY_PAIRED.values())
    return sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t)})


def pytest_collection_modifyitems(items):
    """The long tests first (the real default model, the Slurm run, which mostly waits on the cluster), so
    that parallel workers run the rest beside them instead of waiting for them at the end."""
    items.sort(key=lambda item: not (item.get_closest_marker("slurm") or item.get_closest_marker("slow")))


def built_once(tmp_path_factory, name: str, build) -> Path:
    """``build(path)`` run once per test session: the first worker (of pytest-xdist, or the only process)
    to ask builds it under a file lock; the others wait and get the same folder. Tests must not change
    it: copy it (``copy_run``) to change anything."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of one session
    path, done = root / f"built_{name}", root / f"built_{name}.done"  # the mark outside: copies stay exact
    with FileLock(str(path) + ".lock"):
        if not done.exists():
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir()
            build(path)
            done.touch()
    return path


def copy_run(workdir: Path, to: Path) -> Path:
    """A finished working directory copied with its results and Snakemake's records of how they were made."""
    return Path(shutil.copytree(workdir, to, symlinks=True))


def save_tiny_model(out: Path) -> None:
    """A 4-block Llama-style model (hidden 32) with random weights, saved with save_pretrained."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer(corpus_words())
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return built_once(tmp_path_factory, "tiny_model", save_tiny_model)


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    return write_tiny_corpus(tmp_path / "corpus")


def tiny_workdir(root: Path, model_dir: Path, **config) -> Path:
    """A working directory with the tiny corpus and a config.yaml for the tiny model."""
    write_tiny_corpus(root / "corpus")
    # `pooled` only unless asked: these working directories test the workflow's mechanics, not the methods.
    # float32: the tests compare the workflow's activations with float32 references; `dtype: auto` (bfloat16
    # on a CPU that has it) is tested on its own (tests/test_dtype.py).
    settings = {
        "corpus_dir": "corpus",
        "model": str(model_dir),
        "n_shards": 3,
        "min_words": 0,
        "methods": ["pooled"],
        "dtype": "float32",
    } | config
    (root / "config.yaml").write_text(yaml.safe_dump(settings))
    return root


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """The tests' Snakemake call on ``workdir``. The profile's 10 s scheduler re-check (profiles/default)
    leaves a timer that Snakemake waits for before it exits, up to 10 s a run: the tests re-check every second."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        "--max-jobs-per-timespan",
        "1000/1s",
        *args,
    ]


def run_snakemake(
    workdir: Path, *args: str, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    cmd = snakemake_command(workdir, *args)
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


def make_workdir(root: Path, model_dir: Path, **config) -> Path:
    """A tiny workdir with its own copy of the model and an evaluation set, both at relative paths."""
    shutil.copytree(model_dir, root / "model")
    rows = [{"text": text, "label": concept} for concept, texts in TINY_STORIES.items() for text in texts]
    (root / "eval.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return tiny_workdir(root, "model", evaluations=[{"name": "own", "path": "eval.jsonl"}], **config)


def scheduled(dry_run_output: str) -> dict[str, int]:
    """Job counts per rule from a dry run's job-stats table."""
    counts = {}
    for line in dry_run_output.splitlines():
        match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


@pytest.fixture(scope="session")
def finished(tmp_path_factory, tiny_model_dir) -> Path:
    """A finished run of the tiny workdir (pooled, one evaluation set). Tests change copies of it."""

    def build(path):
        run_snakemake(make_workdir(path, tiny_model_dir))

    return built_once(tmp_path_factory, "finished", build)


@pytest.fixture
def finished_copy(finished, tmp_path) -> Path:
    """A copy of ``finished`` that a test may change."""
    return copy_run(finished, tmp_path / "run")


def run_in_workdir(workdir, model_dir, **config):
    write_tiny_corpus(workdir / "corpus")
    # an evaluation set made of the corpus's own stories, with one label renamed through label_map
    rows = [
        (text, "joy" if concept == "happiness" else concept)
        for concept, texts in TINY_STORIES.items()
        for text in texts
    ]
    (workdir / "labelled.tsv").write_text("sentence\temotion\n" + "".join(f"{t}\t{label}\n" for t, label in rows))
    config = {
        "corpus_dir": "corpus",
        "model": str(model_dir),
        "layers": [1, 0.7, -1],
        "n_shards": 3,
        "min_words": 0,
        "dtype": "float32",
        "evaluations": [
            {
                "name": "own",
                "path": "labelled.tsv",
                "text_column": "sentence",
                "label_column": "emotion",
                "label_map": {"joy": "happiness"},
            }
        ],
    } | config
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    run_snakemake(workdir)
    return workdir


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, tiny_model_dir):
    """A full run of every method, built once; tests that run Snakemake in it or write to it copy it."""

    from amygdala_readout.methods import METHODS

    def build(path):
        run_in_workdir(path, tiny_model_dir, methods=list(METHODS), read_at="last_token")

    return built_once(tmp_path_factory, "every_method", build)


@pytest.fixture
def finished_run_copy(finished_run, tmp_path):
    return copy_run(finished_run, tmp_path / "run")


# three concepts planted in random activations, for the fitting and cross-validation tests
PLANTED_CONCEPTS = ["joy", "fear", "anger"]


def planted_corpus(seed: int = 0, noise: float = 0.5):
    """3 stories per concept plus 2 paired scenarios (baseline + one framing per concept); each concept
    adds its own direction to a large shared component."""
    rng = np.random.default_rng(seed)
    hidden = 16
    shared = rng.normal(size=hidden) * 20
    own = {c: np.eye(hidden)[i] * 3 for i, c in enumerate(PLANTED_CONCEPTS)}
    labels, scenarios, sources, acts = [], [], [], []
    for c in PLANTED_CONCEPTS:
        for k in range(3):
            labels.append(c), scenarios.append(""), sources.append(f"stories/{c}/{k}.txt")
            acts.append(shared + own[c] + rng.normal(size=hidden) * noise)
    for s in ("bus", "rain"):
        nuisance = rng.normal(size=hidden)  # what the scenario is about, shared by its tellings
        for c in PLANTED_CONCEPTS + [""]:
            labels.append(c), scenarios.append(s), sources.append(f"paired/{s}/{c or 'baseline'}.txt")
            acts.append(shared + nuisance + (own[c] if c else 0) + rng.normal(size=hidden) * noise)
    return np.stack(acts), labels, scenarios, sources


def assert_figure(path: Path, min_pixels: int = 200) -> None:
    """A PNG that holds a drawn figure: at least ``min_pixels`` on each side, and more than a handful of
    colours (a blank or one-colour image has a few; axes, labels and data have hundreds)."""
    from matplotlib.image import imread

    image = imread(path)
    assert image.shape[0] >= min_pixels and image.shape[1] >= min_pixels, (path, image.shape)
    colours = np.unique(image.reshape(-1, image.shape[-1]).round(2), axis=0)
    assert len(colours) > 20, (path, len(colours))
