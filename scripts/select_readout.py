"""results/readout/best/: the package of the method that reads best.

With evaluation sets configured, best = the highest balanced accuracy on them (mean over the sets, at
the method's best layer), which is also recorded as ``best_layer``; without, the highest held-out
accuracy on the corpus (in-corpus cross-validation, which rewards what the stories share more than
what transfers to other text).
"""

import json
import shutil
from pathlib import Path

import pandas as pd

from amygdala_readout.crossval import choose_method
from amygdala_readout.directions import METHODS
from amygdala_readout.evaluate import choose_readout
from amygdala_readout.logs import job_logging
from amygdala_readout.package import read_package
from amygdala_readout.store import atomic_write, write_json


def main(table_path, package_dirs, evaluation_metrics, reading, out_vectors, out_meta):
    selection = {}
    if evaluation_metrics:
        metrics = pd.concat([pd.read_csv(path, sep="\t").assign(method=method, evaluation=evaluation)
                             for (evaluation, method), path in evaluation_metrics.items()])
        method, layer, means = choose_readout(metrics, METHODS, reading)
        selection = {"criterion": "highest balanced accuracy on the evaluation sets "
                                  f"{sorted(metrics.evaluation.unique())} (mean over the sets, centred scores, "
                                  f"texts read at {reading}) at the method's best layer; ties go to the simpler "
                                  "method",
                     "balanced_accuracy": {m: round(v, 4) for m, v in means.items()}}
    else:
        method, means = choose_method(pd.read_csv(table_path, sep="\t"), METHODS)
        layer = None
        selection = {"criterion": "highest mean held-out top-1 accuracy (centred scores, grouped "
                                  "cross-validation) over the packaged layers; ties go to the simpler method",
                     "heldout_top1_mean": {m: round(v, 4) for m, v in means.items()}}
    source = Path(package_dirs[method])
    atomic_write(out_vectors, lambda tmp: shutil.copyfile(source / "readout.safetensors", tmp))
    meta = json.loads((source / "readout.json").read_text())
    meta["selected_method"] = method
    meta["selection"] = selection
    if layer is not None:
        meta["best_layer"] = layer  # the layer to read when a server reads only one
    write_json(out_meta, meta)
    read_package(Path(out_meta).parent)
    log.info("best: %s, layer %s (%s)", method, layer, ", ".join(f"{m} {v:.3f}" for m, v in means.items()))


with job_logging(snakemake.log[0]) as log:
    main(
        snakemake.input.table,
        {m: str(Path(p).parent) for m, p in zip(snakemake.params.methods, snakemake.input.packages)},
        dict(zip(snakemake.params.evaluation_keys, snakemake.input.evaluations)),
        snakemake.params.reading,
        snakemake.output.vectors,
        snakemake.output.meta,
    )
