"""Run a labelled data set's texts through the model; kept apart from the corpus activations."""

from amygdala_readout import corpus
from amygdala_readout.extract import extract_to_file
from amygdala_readout.labelled import read_table
from amygdala_readout.logs import job_logging
from amygdala_readout.store import read_layers, read_model_info


def main(data_path, text_column, model_info_path, layers_path, out_path, **settings):
    texts = [str(t) for t in read_table(data_path, [text_column])[text_column]]
    # text ids, so the evaluation can check that rows and activations still line up
    extract_to_file(
        texts,
        [corpus.text_id(t) for t in texts],
        [f"{data_path} row {i + 1}" for i in range(len(texts))],
        read_model_info(model_info_path),
        read_layers(layers_path),
        out_path,
        **settings,
    )


with job_logging(snakemake.log[0]) as log:
    main(
        snakemake.input.data,
        snakemake.params.text_column,
        snakemake.input.model,
        snakemake.input.layers,
        snakemake.output[0],
        device=snakemake.config["device"],
        trust_remote_code=snakemake.config["trust_remote_code"],
        threads=snakemake.threads,
        **snakemake.params.extraction,
    )
