"""results/readout/selection.json: which method's package reads best, and at which layer.

With evaluation sets configured, best = the highest balanced accuracy on them (mean over the sets, at
the method's best layer), which is also recorded as ``best_layer``; without, the highest held-out
accuracy on the corpus (in-corpus cross-validation, which rewards what the stories share more than
what transfers to other text). Only the configured methods compete. publish_readout then copies that
package to results/readout/best/: a failure here leaves the last good one in place.
"""

import pandas as pd

from amygdala_readout.logs import job_logging
from amygdala_readout.methods import METHODS
from amygdala_readout.selection import choose_method, choose_readout
from amygdala_readout.store import write_json


def main(methods, table_path, evaluation_metrics, reading, out_path):
    if evaluation_metrics:
        metrics = pd.concat(
            [
                pd.read_csv(path, sep="\t").assign(method=method, evaluation=evaluation)
                for (evaluation, method), path in evaluation_metrics.items()
            ]
        )
        method, layer, means = choose_readout(metrics[metrics.method.isin(methods)], tuple(METHODS), reading)
        selection = {
            "criterion": "highest balanced accuracy on the evaluation sets "
            f"{sorted(metrics.evaluation.unique())} (mean over the sets, centred scores, "
            f"texts read at {reading}) at the method's best layer; ties go to the simpler "
            "method",
            "balanced_accuracy": {m: round(v, 4) for m, v in means.items()},
        }
    else:
        table = pd.read_csv(table_path, sep="\t")
        method, means = choose_method(table[table.method.isin(methods)], tuple(METHODS))
        layer = None
        selection = {
            "criterion": "highest mean held-out top-1 accuracy (centred scores, grouped "
            "cross-validation) over the packaged layers; ties go to the simpler method",
            "heldout_top1_mean": {m: round(v, 4) for m, v in means.items()},
        }
    write_json(out_path, {"method": method, "best_layer": layer, "selection": selection})
    log.info("best: %s, layer %s (%s)", method, layer, ", ".join(f"{m} {v:.3f}" for m, v in means.items()))


with job_logging(snakemake.log[0]) as log:
    main(
        snakemake.params.methods,
        snakemake.input.table,
        dict(zip(snakemake.params.evaluation_keys, snakemake.input.evaluations)),
        snakemake.params.reading,
        snakemake.output[0],
    )
