"""Run a labelled data set's texts through the model; kept apart from the corpus activations."""

import json
from pathlib import Path

import torch

from amygdala_readout import corpus, extract, model_io
from amygdala_readout.evaluate import read_table
from amygdala_readout.logs import job_logging
from amygdala_readout.store import save_shard


def main(data_path, text_column, model_info_path, layers_path, out_path, *, device, dtype, threads,
         max_length, batch_tokens, padding_side, trust_remote_code):
    texts = [str(t) for t in read_table(data_path, [text_column])[text_column]]
    layers = json.loads(Path(layers_path).read_text())["layers"]
    torch.set_num_threads(threads)
    device = model_io.resolve_device(device)
    info = json.loads(Path(model_info_path).read_text())
    model, tokenizer = model_io.load(info["load_path"], device, model_io.resolve_dtype(dtype, device),
                                     trust_remote_code)
    acts = extract.last_token_activations(
        model, tokenizer, texts, layers, max_length=max_length, batch_tokens=batch_tokens,
        padding_side=padding_side, names=[f"{data_path} row {i + 1}" for i in range(len(texts))], progress=True,
    )
    # text ids, so the evaluation can check that rows and activations still line up
    save_shard(out_path, [corpus.text_id(t) for t in texts], acts)


with job_logging(snakemake.log[0]) as log:
    main(
        snakemake.input.data,
        snakemake.params.text_column,
        snakemake.input.model,
        snakemake.input.layers,
        snakemake.output[0],
        device=snakemake.config["device"],
        dtype=snakemake.params.dtype,
        threads=snakemake.threads,
        max_length=snakemake.params.max_length,
        batch_tokens=snakemake.params.batch_tokens,
        padding_side=snakemake.params.padding_side,
        trust_remote_code=snakemake.config["trust_remote_code"],
    )
