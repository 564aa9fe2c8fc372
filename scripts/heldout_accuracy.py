"""Held-out accuracy of one method per layer, by grouped cross-validation over the corpus."""

import numpy as np
import pandas as pd

from amygdala_readout.corpus import fitting_set
from amygdala_readout.crossval import accuracy_summary, confusion, heldout_predictions, text_groups
from amygdala_readout.evaluate import plot_confusions
from amygdala_readout.logs import job_logging
from amygdala_readout.methods import METHODS
from amygdala_readout.store import atomic_write, load_rows, load_subspaces, read_layers, write_tsv


def main(method, texts_path, concepts_path, layers_path, shard_paths, out, n_folds, eigen_k, read_at):
    texts = fitting_set(texts_path, concepts_path)
    layers = read_layers(layers_path)
    groups = text_groups(texts.scenarios, texts.sources)
    acts = load_rows(shard_paths, texts.text_ids, layers, part=read_at)
    rows, confusions, best = [], {}, None
    for layer in layers:
        bases = load_subspaces(shard_paths, texts.text_ids, [layer])[layer] if METHODS[method].token_subspaces else None
        predictions = heldout_predictions(method, acts[layer], texts.labels, texts.concepts, groups,
                                          n_folds=n_folds, bases=bases, scenarios=texts.scenarios,
                                          eigen_k=eigen_k)
        for scoring in ("centred", "raw"):
            summary = accuracy_summary(predictions[predictions.scoring == scoring])
            rows.append({"method": method, "layer": layer, "scoring": scoring,
                         **{k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()}})
            log.info("layer %d, %s scores: held-out top-1 %.3f, top-5 %.3f (chance %.3f) on %d texts, "
                     "%d unscorable", layer, scoring, summary["top1"], summary["top5"], summary["chance_top1"],
                     summary["n_scored"], summary["n_unscorable"])
            if scoring == "centred" and (best is None or summary["top1"] > best[1]):
                best = (layer, summary["top1"])
        confusions[layer] = confusion(predictions[predictions.scoring == "centred"])
    write_tsv(out["table"], pd.DataFrame(rows))
    long = [m.stack().rename("count").reset_index().assign(layer=layer) for layer, m in confusions.items()]
    write_tsv(out["confusion"], pd.concat(long)[["layer", "concept", "predicted", "count"]])
    layer = best[0]
    matrix = confusions[layer]
    # The figure shows the best layer only: one 88 x 88 panel per layer would be unreadable.
    title = f"{method}: held-out predictions at layer {layer} (rows true, columns predicted)"
    atomic_write(out["plot"], lambda tmp: plot_confusions({(layer, "centred"): np.asarray(matrix)},
                                                         list(matrix.index), tmp, title))


with job_logging(snakemake.log[0]) as log:
    main(snakemake.wildcards.method, snakemake.input.texts, snakemake.input.concepts, snakemake.input.layers,
         list(snakemake.input.shards), dict(snakemake.output.items()), snakemake.params.folds,
         snakemake.params.eigen_k, snakemake.params.read_at)
