"""Write the readout package (the inference server's contract) with provenance."""

import json
from importlib.metadata import version
from pathlib import Path

from safetensors import safe_open

from amygdala_readout import __version__
from amygdala_readout.logs import job_logging
from amygdala_readout.package import read_package, write_package


def main(directions_path, model_info_path, layers_path, validation_path, out_dir, config_json):
    with safe_open(directions_path, framework="numpy") as handle:
        meta = handle.metadata()
        layers = json.loads(meta["layers"])
        vectors = {layer: handle.get_tensor(f"layer_{layer}.vectors") for layer in layers}
        centers = {layer: handle.get_tensor(f"layer_{layer}.center") for layer in layers}
        biases = {layer: handle.get_tensor(f"layer_{layer}.bias") for layer in layers
                  if f"layer_{layer}.bias" in handle.keys()}
    model = json.loads(Path(model_info_path).read_text())
    layer_info = json.loads(Path(layers_path).read_text())
    validation = json.loads(Path(validation_path).read_text())
    config = json.loads(config_json)
    extra = {
        "method": meta["method"],
        "activation": "residual stream after decoder block <layer> (before the final norm)",
        # what the directions were fitted on; a server may score any token (see README, "Reading")
        "read_at": config["read_at"],
        # a reader wraps its text in this template (its {text} replaced) and reads the last token
        "template": config["template"],
        "layer_depth_percent": layer_info["depth_percent"],
        "model": {k: model[k] for k in ("spec", "kind", "load_path", "model_type", "num_layers", "hidden_size",
                                         "fingerprint", "files")},
        "corpus": {k: validation[k] for k in ("corpus_fingerprint", "n_texts", "n_concepts", "n_baselines")},
        "config": config,
        "versions": {"amygdala_readout": __version__, **{p: version(p) for p in ("torch", "transformers", "safetensors")}},
    }
    write_package(out_dir, json.loads(meta["concepts"]), vectors, centers, extra, biases or None)
    read_package(out_dir)  # the contract, checked on what was written
    log.info("wrote %s: %d concepts, layers %s", out_dir, len(json.loads(meta["concepts"])), layers)


with job_logging(snakemake.log[0]) as log:
    main(snakemake.input.directions, snakemake.input.model, snakemake.input.layers, snakemake.input.validation,
         str(Path(snakemake.output.vectors).parent), snakemake.params.config_json)
