"""Write the readout package (the inference server's contract) with provenance."""

import json
from pathlib import Path

from amygdala_readout.logs import job_logging
from amygdala_readout.package import provenance, read_package, write_package
from amygdala_readout.store import load_directions, read_layer_info, read_model_info


def main(directions_path, model_info_path, layers_path, validation_path, out_dir, config):
    fitted = load_directions(directions_path)
    validation = json.loads(Path(validation_path).read_text())
    extra = provenance(
        fitted.method, read_model_info(model_info_path), read_layer_info(layers_path), validation, config
    )
    # the dtype the model actually ran in (config's `auto` depends on the machine); the reader follows it
    extra["extraction_dtype"] = fitted.extraction_dtype
    write_package(out_dir, fitted.concepts, fitted.vectors, fitted.centers, extra, fitted.bias or None)
    read_package(out_dir)  # the contract, checked on what was written
    log.info("wrote %s: %d concepts, layers %s", out_dir, len(fitted.concepts), fitted.layers)


with job_logging(snakemake.log[0]) as log:
    main(
        snakemake.input.directions,
        snakemake.input.model,
        snakemake.input.layers,
        snakemake.input.validation,
        str(Path(snakemake.output.vectors).parent),
        json.loads(snakemake.params.config_json),
    )
