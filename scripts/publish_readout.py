"""results/readout/best/: the selected method's package, with the selection recorded, shipped whole."""

import json
from pathlib import Path

from amygdala_readout.logs import job_logging
from amygdala_readout.package import read_package
from amygdala_readout.shipping import receipt, ship
from amygdala_readout.store import write_json


def main(selection_path, staged_dirs, link, store, receipt_path):
    selection = json.loads(Path(selection_path).read_text())
    source = Path(staged_dirs[selection["method"]])
    meta = json.loads((source / "readout.json").read_text())
    meta["selected_method"] = selection["method"]
    meta["selection"] = selection["selection"]
    if selection["best_layer"] is not None:
        meta["best_layer"] = selection["best_layer"]  # the layer to read when a server reads only one
    files = {
        "readout.safetensors": (source / "readout.safetensors").read_bytes(),
        "quality.json": (source / "quality.json").read_bytes(),
        "readout.json": (json.dumps(meta, indent=2) + "\n").encode(),
    }
    version = ship(files, link, store, job="publish_readout", check=read_package)
    write_json(receipt_path, receipt(version, files))
    log.info("%s is now the %s package (%s)", link, selection["method"], version)


with job_logging(snakemake.log[0]) as log:
    main(
        snakemake.input.selection,
        {m: str(Path(p).parent) for m, p in zip(snakemake.params.methods, snakemake.input.packages)},
        snakemake.params.link,
        snakemake.params.store,
        snakemake.output.receipt,
    )
