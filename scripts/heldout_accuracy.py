"""Held-out accuracy of one method per layer, by grouped cross-validation over the corpus."""

import numpy as np

from amygdala_readout.crossval import heldout_predictions, heldout_tables, text_groups
from amygdala_readout.logs import job_logging
from amygdala_readout.methods import METHODS
from amygdala_readout.plots import plot_confusions
from amygdala_readout.store import atomic_write, fitting_set, load_rows, load_subspaces, read_layers, write_tsv


def main(method, texts_path, concepts_path, layers_path, shard_paths, out, n_folds, settings, read_at):
    texts = fitting_set(texts_path, concepts_path)
    layers = read_layers(layers_path)
    acts = load_rows(shard_paths, texts.text_ids, layers, part=read_at)
    predictions = {}
    for layer in layers:  # one layer's subspaces at a time: they are the bulk of the memory
        bases = load_subspaces(shard_paths, texts.text_ids, [layer])[layer] if METHODS[method].token_subspaces else None
        predictions[layer] = heldout_predictions(
            method,
            acts[layer],
            texts.labels,
            texts.concepts,
            text_groups(texts.scenarios, texts.sources),
            n_folds=n_folds,
            bases=bases,
            scenarios=texts.scenarios,
            settings=settings,
        )
    tables = heldout_tables(method, predictions)
    for row in tables.accuracy.itertuples():
        log.info(
            "layer %d, %s scores: held-out top-1 %.3f, top-5 %.3f (chance %.3f) on %d texts, %d unscorable",
            row.layer,
            row.scoring,
            row.top1,
            row.top5,
            row.chance_top1,
            row.n_scored,
            row.n_unscorable,
        )
    write_tsv(out["table"], tables.accuracy)
    write_tsv(out["confusion"], tables.confusion_long)
    layer = tables.best_layer
    matrix = tables.confusions[layer]
    # The figure shows the best layer only: one 88 x 88 panel per layer would be unreadable.
    title = f"{method}: held-out predictions at layer {layer} (rows true, columns predicted)"
    atomic_write(
        out["plot"],
        lambda tmp: plot_confusions({(layer, "centred"): np.asarray(matrix)}, list(matrix.index), tmp, title),
    )


with job_logging(snakemake.log[0]) as log:
    main(
        snakemake.wildcards.method,
        snakemake.input.texts,
        snakemake.input.concepts,
        snakemake.input.layers,
        list(snakemake.input.shards),
        dict(snakemake.output.items()),
        snakemake.params.folds,
        snakemake.params.settings,
        snakemake.params.read_at,
    )
