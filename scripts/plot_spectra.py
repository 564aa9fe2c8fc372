"""Eigenvalue spectra of a method that has them (the subspace method), per layer."""

from amygdala_readout.logs import job_logging
from amygdala_readout.plots import eigenvalue_spectra
from amygdala_readout.store import atomic_write, load_directions


def main(directions_path, out_path):
    fitted = load_directions(directions_path)
    title = f"{fitted.method}: top eigenvalues of M_pos - M_neg per concept"
    atomic_write(out_path, lambda tmp: eigenvalue_spectra(fitted.eigenvalues, fitted.concepts, tmp, title))


with job_logging(snakemake.log[0]) as log:
    main(snakemake.input[0], snakemake.output[0])
