"""Fit one direction per concept and layer with the given method, plus each layer's centre."""

from amygdala_readout.crossval import text_groups
from amygdala_readout.logs import job_logging
from amygdala_readout.methods import METHODS, fit
from amygdala_readout.store import (
    Directions,
    fitting_set,
    load_rows,
    load_subspaces,
    read_layers,
    save_directions,
    shard_dtype,
)


def main(method, texts_path, concepts_path, layers_path, shard_paths, out_path, settings, read_at):
    texts = fitting_set(texts_path, concepts_path)
    layers = read_layers(layers_path)
    acts = load_rows(shard_paths, texts.text_ids, layers, part=read_at)
    result = Directions(
        method, read_at, texts.concepts, vectors={}, centers={}, extraction_dtype=shard_dtype(shard_paths)
    )
    for layer in layers:  # one layer's subspaces at a time: they are the bulk of the memory
        bases = load_subspaces(shard_paths, texts.text_ids, [layer])[layer] if METHODS[method].token_subspaces else None
        fitted = fit(
            method,
            acts[layer],
            texts.labels,
            texts.concepts,
            bases=bases,
            scenarios=texts.scenarios,
            groups=text_groups(texts.scenarios, texts.sources),
            settings=settings,
        )
        result.vectors[layer] = fitted.directions
        result.centers[layer] = acts[layer].mean(axis=0, dtype="float64")
        if fitted.bias is not None:
            result.bias[layer] = fitted.bias
        if fitted.eigenvalues is not None:
            result.eigenvalues[layer] = fitted.eigenvalues
        log.info("layer %d fitted", layer)
    save_directions(out_path, result)
    log.info("%s: %d concepts x %d layers from %d texts", method, len(texts.concepts), len(layers), len(texts.labels))


with job_logging(snakemake.log[0]) as log:
    main(
        snakemake.wildcards.method,
        snakemake.input.texts,
        snakemake.input.concepts,
        snakemake.input.layers,
        list(snakemake.input.shards),
        snakemake.output[0],
        snakemake.params.settings,
        snakemake.params.read_at,
    )
