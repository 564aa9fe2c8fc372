"""Accuracy of a readout package on a labelled data set, per layer, with centred and raw scores."""

import json

import torch

from amygdala_readout import corpus
from amygdala_readout.evaluate import evaluation_tables
from amygdala_readout.extract import READINGS
from amygdala_readout.labelled import read_labelled
from amygdala_readout.logs import job_logging
from amygdala_readout.package import Readout
from amygdala_readout.plots import plot_confusions
from amygdala_readout.store import atomic_write, load_rows, write_tsv


def main(name, data_path, activations_path, package_dir, text_column, label_column, label_map, out):
    readout = Readout(package_dir)
    texts, labels = read_labelled(data_path, text_column, label_column, label_map, readout.concepts)
    ids = [corpus.text_id(t) for t in texts]
    # through a template only its last token is meaningful; raw text is read every way a package can be
    # fitted (the all-token reading is what a server averaging its per-token scores over a text gets)
    readings = ("last_token",) if readout.meta.get("template") else READINGS
    scores = {}
    for reading in readings:
        acts = load_rows([activations_path], ids, readout.layers, part=reading)
        for layer in readout.layers:
            for scoring in ("centred", "raw"):
                scores[(reading, layer, scoring)] = readout.scores(
                    torch.from_numpy(acts[layer]), layer, centred=scoring == "centred"
                ).numpy()
    tables = evaluation_tables(scores, labels, readout.concepts)
    for row in tables.metrics.itertuples():
        log.info(
            "%s, layer %d, %s scores: top-1 %.3f, balanced %.3f, top-3 %.3f (chance %.3f)",
            row.reading,
            row.layer,
            row.scoring,
            row.top1,
            row.balanced,
            row.top3,
            row.chance_top1,
        )
    write_tsv(out["metrics"], tables.metrics)
    write_tsv(out["recall"], tables.recall)
    write_tsv(out["confusion"], tables.confusion)
    figures = {
        (layer, scoring): m for (reading, layer, scoring), m in tables.confusions.items() if reading == "last_token"
    }
    names = sorted(set(labels))
    title = f"{name}: {len(texts)} texts, {len(names)} labels, method {readout.meta.get('method')}"
    atomic_write(out["plot"], lambda tmp: plot_confusions(figures, names, tmp, title))


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
