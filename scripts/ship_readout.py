"""results/readout/<method>/: the staged package of one method, shipped whole (amygdala_readout.shipping)."""

from pathlib import Path

from amygdala_readout.logs import job_logging
from amygdala_readout.package import read_package
from amygdala_readout.shipping import receipt, ship
from amygdala_readout.store import write_json

PACKAGE_FILES = ("readout.safetensors", "readout.json", "quality.json")


def main(staged: list[str], link: str, store: str, receipt_path: str) -> None:
    files = {Path(path).name: Path(path).read_bytes() for path in staged}
    assert set(files) == set(PACKAGE_FILES), files.keys()
    version = ship(files, link, store, job="ship_readout", check=read_package)
    write_json(receipt_path, receipt(version, files))
    log.info("%s now holds %s", link, version)


with job_logging(snakemake.log[0]) as log:
    main(
        [snakemake.input.vectors, snakemake.input.meta, snakemake.input.quality],
        snakemake.params.link,
        snakemake.params.store,
        snakemake.output.receipt,
    )
