"""Write the readout package (the inference server's contract) with provenance."""

import json
from importlib.metadata import version
from pathlib import Path

from amygdala_readout import __version__
from amygdala_readout.logs import job_logging
from amygdala_readout.package import read_package, write_package
from amygdala_readout.store import load_directions


def main(directions_path, model_info_path, layers_path, validation_path, out_dir, config_json):
    fitted = load_directions(directions_path)
    model = json.loads(Path(model_info_path).read_text())
    layer_info = json.loads(Path(layers_path).read_text())
    validation = json.loads(Path(validation_path).read_text())
    config = json.loads(config_json)
    extra = {
        "method": fitted.method,
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
    write_package(out_dir, fitted.concepts, fitted.vectors, fitted.centers, extra, fitted.bias or None)
    read_package(out_dir)  # the contract, checked on what was written
    log.info("wrote %s: %d concepts, layers %s", out_dir, len(fitted.concepts), fitted.layers)


with job_logging(snakemake.log[0]) as log:
    main(snakemake.input.directions, snakemake.input.model, snakemake.input.layers, snakemake.input.validation,
         str(Path(snakemake.output.vectors).parent), snakemake.params.config_json)
