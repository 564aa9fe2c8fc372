"""Run one shard's stories through the model and keep the residual stream at each text's last token."""

import json
from pathlib import Path

import torch

from amygdala_readout import corpus, extract, model_io
from amygdala_readout.logs import job_logging
from amygdala_readout.store import save_shard


def main(corpus_dir, story_paths, model_info_path, layers_path, out_path, *, device, dtype, threads,
         max_length, batch_tokens, padding_side, trust_remote_code):
    records = {}  # text_id -> record: a text told twice is read once
    for path in story_paths:
        rel = Path(path).relative_to(corpus_dir).as_posix()
        text = corpus.read_story(corpus_dir, rel)
        if text:  # empty files are reported by validation
            tid = corpus.text_id(text)
            records.setdefault(tid, {"text_id": tid, "source": rel, "text": text})
    records = list(records.values())
    layers = json.loads(Path(layers_path).read_text())["layers"]
    acts = {layer: torch.empty((0, 0)) for layer in layers}
    if records:
        torch.set_num_threads(threads)
        device = model_io.resolve_device(device)
        info = json.loads(Path(model_info_path).read_text())
        model, tokenizer = model_io.load(
            info["load_path"], device, model_io.resolve_dtype(dtype, device), trust_remote_code
        )
        log.info("%d texts on %s with %d thread(s), layers %s", len(records), device, threads, layers)
        acts = extract.last_token_activations(
            model, tokenizer, [r["text"] for r in records], layers,
            max_length=max_length, batch_tokens=batch_tokens, padding_side=padding_side,
            names=[r["source"] for r in records], progress=True,
        )
    save_shard(out_path, [r["text_id"] for r in records], acts)


with job_logging(snakemake.log[0]) as log:
    main(
        snakemake.config["corpus_dir"],
        list(snakemake.input.stories),
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
