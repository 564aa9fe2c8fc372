"""Turn the configured layers (indices or fractions of depth) into block indices for this model."""

from amygdala_readout.layers import depth_percent, resolve_layers
from amygdala_readout.logs import job_logging
from amygdala_readout.store import read_model_info, write_layers


def main(model_info_path: str, spec: list, layers_path: str) -> None:
    num_layers = read_model_info(model_info_path).num_layers
    layers = resolve_layers(spec, num_layers)
    depths = {layer: depth_percent(layer, num_layers) for layer in layers}
    write_layers(layers_path, layers, num_layers, depths)
    for layer in layers:
        log.info("layer %d (%s%% depth of %d blocks)", layer, depths[layer], num_layers)


with job_logging(snakemake.log[0]) as log:
    main(snakemake.input.model, snakemake.params.layers, snakemake.output.layers)
