"""Run one shard's stories through the model and keep the residual stream at each text's last token."""

from pathlib import Path

from amygdala_readout import corpus
from amygdala_readout.digests import texts_digest
from amygdala_readout.extract import extract_to_file
from amygdala_readout.logs import job_logging
from amygdala_readout.store import read_layers, read_model_info


def main(corpus_dir, story_paths, expected_digest, model_info_path, layers_path, out_path, **settings):
    relative = [Path(path).relative_to(corpus_dir).as_posix() for path in story_paths]
    texts = {rel: corpus.read_story(corpus_dir, rel) for rel in relative}
    if texts_digest(texts) != expected_digest:
        raise corpus.CorpusError(
            f"{corpus_dir}: stories of shard {Path(out_path).stem} changed while the run "
            "was under way; run snakemake again, and their jobs rerun"
        )
    records = {}  # text_id -> (source, text): a text told twice is read once
    for rel, text in texts.items():
        if text:  # empty files are reported by validation
            records.setdefault(corpus.text_id(text), (rel, text))
    extract_to_file(
        [text for _, text in records.values()],
        list(records),
        [source for source, _ in records.values()],
        read_model_info(model_info_path),
        read_layers(layers_path),
        out_path,
        **settings,
    )


with job_logging(snakemake.log[0]) as log:
    main(
        snakemake.config["corpus_dir"],
        list(snakemake.input.stories),
        snakemake.params.texts,
        snakemake.input.model,
        snakemake.input.layers,
        snakemake.output[0],
        device=snakemake.config["device"],
        trust_remote_code=snakemake.config["trust_remote_code"],
        threads=snakemake.threads,
        **snakemake.params.extraction,
        **snakemake.params.captures,
    )
