"""Held-out accuracy of every method side by side: one table and one figure."""

import pandas as pd

from amygdala_readout.logs import job_logging
from amygdala_readout.plots import heldout_accuracy_plot
from amygdala_readout.store import atomic_write, write_tsv


def main(tables, out_table, out_plot):
    table = pd.concat([pd.read_csv(path, sep="\t") for path in tables]).sort_values(["method", "scoring", "layer"])
    write_tsv(out_table, table)
    title = f"held-out accuracy, grouped cross-validation ({int(table.n_scored.max())} texts scored)"
    centred = table[table.scoring == "centred"]
    atomic_write(out_plot, lambda tmp: heldout_accuracy_plot(centred, tmp, title))
    for method, rows in centred.groupby("method"):
        log.info("%s: mean held-out top-1 %.3f over layers %s", method, rows.top1.mean(), list(rows.layer))


with job_logging(snakemake.log[0]) as log:
    main(list(snakemake.input), snakemake.output.table, snakemake.output.plot)
