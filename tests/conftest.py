"""Fixtures: a tiny random causal LM saved like a real one, and a tiny corpus."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

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
            (root / "stories" / concept / f"story_{i}.txt").write_text(text + "\n")
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
    import re

    texts = [t for ts in TINY_STORIES.values() for t in ts] + list(TINY_PAIRED.values())
    return sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t)})


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 4-block Llama-style model (hidden 32) with random weights, saved with save_pretrained."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny_model")
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
    return out


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    return write_tiny_corpus(tmp_path / "corpus")


def tiny_workdir(root: Path, model_dir: Path, **config) -> Path:
    """A working directory with the tiny corpus and a config.yaml for the tiny model."""
    write_tiny_corpus(root / "corpus")
    # `pooled` only unless asked: these working directories test the workflow's mechanics, not the methods
    settings = {
        "corpus_dir": "corpus",
        "model": str(model_dir),
        "n_shards": 3,
        "min_words": 0,
        "methods": ["pooled"],
    } | config
    (root / "config.yaml").write_text(yaml.safe_dump(settings))
    return root


def run_snakemake(
    workdir: Path, *args: str, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
    ]
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


@pytest.fixture(scope="session")
def finished(tmp_path_factory, tiny_model_dir) -> Path:
    """A finished run of the tiny workdir (pooled, one evaluation set). Tests change copies of it."""
    workdir = make_workdir(tmp_path_factory.mktemp("finished"), tiny_model_dir)
    run_snakemake(workdir)
    return workdir
