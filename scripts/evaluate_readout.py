"""Accuracy of a readout package on a labelled data set, per layer, with centred and raw scores."""

import json

import pandas as pd
import torch

from amygdala_readout import corpus
from amygdala_readout.evaluate import accuracy, plot_confusions, read_labelled
from amygdala_readout.logs import job_logging
from amygdala_readout.package import Readout
from amygdala_readout.store import atomic_write, load_rows, write_tsv


def main(name, data_path, activations_path, package_dir, text_column, label_column, label_map, out):
    readout = Readout(package_dir)
    texts, labels = read_labelled(data_path, text_column, label_column, label_map, readout.concepts)
    acts = load_rows([activations_path], [corpus.text_id(t) for t in texts], readout.layers)
    metrics, recall, confusion, confusions = [], [], [], {}
    for layer in readout.layers:
        for scoring in ("centred", "raw"):
            scores = readout.scores(torch.from_numpy(acts[layer]), layer, centred=scoring == "centred")
            result = accuracy(scores.numpy(), labels, readout.concepts)
            names = result["labels"]
            metrics.append({"layer": layer, "scoring": scoring, "n": result["n"], "top1": round(result["top1"], 4),
                            "top3": round(result["top3"], 4), "chance_top1": round(result["chance_top1"], 4)})
            recall += [{"layer": layer, "scoring": scoring, "label": label, "recall": round(r, 4)}
                       for label, r in result["recall"].items()]
            confusion += [{"layer": layer, "scoring": scoring, "true": names[i], "predicted": names[j],
                           "count": int(result["confusion"][i, j])}
                          for i in range(len(names)) for j in range(len(names))]
            confusions[(layer, scoring)] = result["confusion"]
            log.info("layer %d, %s scores: top-1 %.3f, top-3 %.3f (chance %.3f)",
                     layer, scoring, result["top1"], result["top3"], result["chance_top1"])
    write_tsv(out["metrics"], pd.DataFrame(metrics))
    write_tsv(out["recall"], pd.DataFrame(recall))
    write_tsv(out["confusion"], pd.DataFrame(confusion))
    title = f"{name}: {len(texts)} texts, {len(names)} labels, method {readout.meta.get('method')}"
    atomic_write(out["plot"], lambda tmp: plot_confusions(confusions, names, tmp, title))


with job_logging(snakemake.log[0]) as log:
    main(
        snakemake.wildcards.evaluation,
        snakemake.input.data,
        snakemake.input.activations,
        str(snakemake.input.meta).rsplit("/", 1)[0],
        snakemake.params.text_column,
        snakemake.params.label_column,
        json.loads(snakemake.params.label_map),
        dict(snakemake.output.items()),
    )
