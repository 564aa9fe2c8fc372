"""Resolve `model:` to a local folder (de-quantizing GGUF once) and record its weights' fingerprint."""

from amygdala_readout import model_io
from amygdala_readout.logs import job_logging
from amygdala_readout.store import write_json


def main(spec: str, work_dir: str, info_path: str, layers: list, trust_remote_code: bool) -> None:
    prepared = model_io.prepare(spec, work_dir, layers, trust_remote_code)
    write_json(info_path, prepared.to_dict())
    log.info(
        "%s: %s with %d blocks, hidden size %d, fingerprint %s",
        spec,
        prepared.model_type,
        prepared.num_layers,
        prepared.hidden_size,
        prepared.fingerprint[:16],
    )


with job_logging(snakemake.log[0]) as log:
    # layers are only checked here, before any weights are read (resolve_layers resolves them): read
    # from config rather than params so that changing them does not redo the preparation
    main(
        snakemake.params.model,
        snakemake.params.work_dir,
        snakemake.output.info,
        snakemake.config["layers"],
        snakemake.params.trust_remote_code,
    )
