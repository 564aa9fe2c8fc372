"""results/readout/best/: a copy of the selected method's package, with the selection recorded."""

import json
import shutil
from pathlib import Path

from amygdala_readout.logs import job_logging
from amygdala_readout.package import read_package
from amygdala_readout.store import atomic_write, write_json


def main(selection_path, package_dirs, out_vectors, out_meta, out_quality):
    selection = json.loads(Path(selection_path).read_text())
    source = Path(package_dirs[selection["method"]])
    for name, out in (("readout.safetensors", out_vectors), ("quality.json", out_quality)):
        atomic_write(out, lambda tmp: shutil.copyfile(source / name, tmp))
    meta = json.loads((source / "readout.json").read_text())
    meta["selected_method"] = selection["method"]
    meta["selection"] = selection["selection"]
    if selection["best_layer"] is not None:
        meta["best_layer"] = selection["best_layer"]  # the layer to read when a server reads only one
    write_json(out_meta, meta)
    read_package(Path(out_meta).parent)
    log.info("results/readout/best/ is now the %s package", selection["method"])


with job_logging(snakemake.log[0]) as log:
    main(
        snakemake.input.selection,
        {m: str(Path(p).parent) for m, p in zip(snakemake.params.methods, snakemake.input.packages)},
        snakemake.output.vectors,
        snakemake.output.meta,
        snakemake.output.quality,
    )
