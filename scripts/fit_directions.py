"""Fit one direction per concept and layer with the given method, plus each layer's centre."""

import json
from pathlib import Path

import torch

from amygdala_readout.corpus import fitting_set
from amygdala_readout.crossval import text_groups
from amygdala_readout.directions import fit
from amygdala_readout.logs import job_logging
from amygdala_readout.store import load_rows, load_subspaces, save_tensors


def main(method, texts_path, concepts_path, layers_path, shard_paths, out_path, eigen_k, read_at):
    texts = fitting_set(texts_path, concepts_path)
    layers = json.loads(Path(layers_path).read_text())["layers"]
    acts = load_rows(shard_paths, texts.text_ids, layers, part=read_at)
    tensors = {}
    for layer in layers:  # one layer's subspaces at a time: they are the bulk of the memory
        bases = load_subspaces(shard_paths, texts.text_ids, [layer])[layer] if method == "subspace" else None
        fitted = fit(method, acts[layer], texts.labels, texts.concepts, bases=bases, scenarios=texts.scenarios,
                     groups=text_groups(texts.scenarios, texts.sources), eigen_k=eigen_k)
        tensors[f"layer_{layer}.vectors"] = torch.from_numpy(fitted.directions).float()
        tensors[f"layer_{layer}.center"] = torch.from_numpy(acts[layer].mean(axis=0, dtype="float64")).float()
        for extra in ("eigenvalues", "bias"):
            if getattr(fitted, extra) is not None:
                tensors[f"layer_{layer}.{extra}"] = torch.from_numpy(getattr(fitted, extra)).float()
        log.info("layer %d fitted", layer)
    meta = {"concepts": json.dumps(texts.concepts), "layers": json.dumps(layers), "method": method, "read_at": read_at}
    save_tensors(out_path, tensors, meta)
    log.info("%s: %d concepts x %d layers from %d texts", method, len(texts.concepts), len(layers), len(texts.labels))


with job_logging(snakemake.log[0]) as log:
    main(snakemake.wildcards.method, snakemake.input.texts, snakemake.input.concepts, snakemake.input.layers,
         list(snakemake.input.shards), snakemake.output[0], snakemake.params.eigen_k, snakemake.params.read_at)
