"""Fit one direction per concept and layer with the given method, plus each layer's centre."""

import json
from pathlib import Path

import pandas as pd
import torch

from amygdala_readout.directions import METHODS
from amygdala_readout.logs import job_logging
from amygdala_readout.store import load_last_token, save_tensors


def main(method, texts_path, concepts_path, layers_path, shard_paths, out_path):
    texts = pd.read_csv(texts_path, sep="\t", dtype=str, keep_default_na=False)
    concept_table = pd.read_csv(concepts_path, sep="\t", dtype=str, keep_default_na=False)
    concepts = sorted(concept_table.concept[concept_table.status == "ok"])
    # Texts of skipped concepts take no part: they are neither positives nor negatives.
    texts = texts[(texts.role == "baseline") | texts.concept.isin(concepts)]
    layers = json.loads(Path(layers_path).read_text())["layers"]
    acts = load_last_token(shard_paths, list(texts.text_id), layers)
    labels = [c if r == "positive" else "" for c, r in zip(texts.concept, texts.role)]
    tensors = {}
    for layer in layers:
        tensors[f"layer_{layer}.vectors"] = torch.from_numpy(METHODS[method](acts[layer], labels, concepts)).float()
        tensors[f"layer_{layer}.center"] = torch.from_numpy(acts[layer].mean(axis=0, dtype="float64")).float()
    save_tensors(out_path, tensors, {"concepts": json.dumps(concepts), "layers": json.dumps(layers), "method": method})
    log.info("%s: %d concepts x %d layers from %d texts", method, len(concepts), len(layers), len(texts))


with job_logging(snakemake.log[0]) as log:
    main(snakemake.wildcards.method, snakemake.input.texts, snakemake.input.concepts, snakemake.input.layers,
         list(snakemake.input.shards), snakemake.output[0])
