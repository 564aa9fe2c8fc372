"""results/readout/best/: the package of the method that reads best on held-out text."""

import json
import shutil
from pathlib import Path

import pandas as pd

from amygdala_readout.crossval import choose_method
from amygdala_readout.directions import METHODS
from amygdala_readout.logs import job_logging
from amygdala_readout.package import read_package
from amygdala_readout.store import atomic_write, write_json


def main(table_path, package_dirs, out_vectors, out_meta):
    table = pd.read_csv(table_path, sep="\t")
    method, means = choose_method(table, METHODS)
    source = Path(package_dirs[method])
    atomic_write(out_vectors, lambda tmp: shutil.copyfile(source / "readout.safetensors", tmp))
    meta = json.loads((source / "readout.json").read_text())
    meta["selected_method"] = method
    meta["selection"] = {
        "criterion": "highest mean held-out top-1 accuracy (centred scores, grouped cross-validation) "
                     "over the packaged layers; ties go to the simpler method",
        "heldout_top1_mean": {m: round(v, 4) for m, v in means.items()},
    }
    write_json(out_meta, meta)
    read_package(Path(out_meta).parent)
    log.info("best: %s (mean held-out top-1 %s)", method, ", ".join(f"{m} {v:.3f}" for m, v in means.items()))


with job_logging(snakemake.log[0]) as log:
    main(snakemake.input.table, {m: str(Path(p).parent) for m, p in zip(snakemake.params.methods, snakemake.input.packages)},
         snakemake.output.vectors, snakemake.output.meta)
