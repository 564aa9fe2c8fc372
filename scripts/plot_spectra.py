"""Eigenvalue spectra of the subspace method, per layer."""

import json

from safetensors import safe_open

from amygdala_readout.logs import job_logging
from amygdala_readout.plots import eigenvalue_spectra
from amygdala_readout.store import atomic_write


def main(directions_path, out_path):
    with safe_open(directions_path, framework="numpy") as handle:
        meta = handle.metadata()
        layers = json.loads(meta["layers"])
        eigenvalues = {layer: handle.get_tensor(f"layer_{layer}.eigenvalues") for layer in layers}
    title = "subspace: top eigenvalues of M_pos - M_neg per concept"
    atomic_write(out_path, lambda tmp: eigenvalue_spectra(eigenvalues, json.loads(meta["concepts"]), tmp, title))


with job_logging(snakemake.log[0]) as log:
    main(snakemake.input[0], snakemake.output[0])
