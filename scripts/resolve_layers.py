"""Turn the configured layers (indices or fractions of depth) into block indices for this model."""

import json
from pathlib import Path

from amygdala_readout.layers import depth_percent, resolve_layers
from amygdala_readout.logs import job_logging
from amygdala_readout.store import write_json


def main(model_info_path: str, spec: list, layers_path: str) -> None:
    num_layers = json.loads(Path(model_info_path).read_text())["num_layers"]
    layers = resolve_layers(spec, num_layers)
    depths = {str(layer): depth_percent(layer, num_layers) for layer in layers}
    write_json(layers_path, {"layers": layers, "num_layers": num_layers, "depth_percent": depths})
    for layer in layers:
        log.info("layer %d (%s%% depth of %d blocks)", layer, depths[str(layer)], num_layers)


with job_logging(snakemake.log[0]) as log:
    main(snakemake.input.model, snakemake.params.layers, snakemake.output.layers)
