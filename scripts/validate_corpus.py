"""Validate the corpus; write the table of unique texts, per-concept counts and a report."""

import json

from amygdala_readout import corpus
from amygdala_readout.digests import corpus_digest
from amygdala_readout.logs import job_logging
from amygdala_readout.store import write_json, write_tsv


def main(
    corpus_dir,
    expected_digest,
    *,
    n_shards,
    min_positives,
    min_words,
    near_duplicate_threshold,
    thin_concept,
    texts_path,
    concepts_path,
    registers_path,
    report_path,
):
    result = corpus.validate(
        corpus_dir,
        n_shards=n_shards,
        min_positives=min_positives,
        min_words=min_words,
        near_duplicate_threshold=near_duplicate_threshold,
        thin_texts=thin_concept["texts"],
        thin_registers=thin_concept["registers"],
        thin_named=thin_concept["named"],
        thin_implied=thin_concept["implied"],
        cue_share=thin_concept["last_sentence_share"],
    )
    if corpus_digest(result.scan) != expected_digest:
        raise corpus.CorpusError(
            f"{corpus_dir}: stories changed while the run was under way; run snakemake "
            "again, and the jobs of the changed ones rerun"
        )
    for message in result.warnings:
        log.warning("%s", message)
    for path, reason in result.ignored.items():
        log.info("not read: %s (%s)", path, reason)
    write_tsv(texts_path, result.texts)
    write_tsv(concepts_path, result.concepts)
    write_tsv(registers_path, result.registers)
    ok = result.concepts[result.concepts.status == "ok"]
    write_json(
        report_path,
        {
            "corpus_fingerprint": corpus.fingerprint(result.texts),
            "n_texts": len(result.texts),
            "n_concepts": len(ok),
            "n_baselines": int((result.texts.role == "baseline").sum()),
            "n_neutral": int((result.texts.role == "neutral").sum()),
            "texts_by_kind": result.texts.kind.value_counts().sort_index().to_dict(),
            "last_sentence_cues": result.last_sentence_cues,
            "warnings": result.warnings,
            "ignored_files": result.ignored,
            "skipped_empty_files": result.skipped,
        },
    )
    log.info("%d unique texts, %d concepts, %d warning(s)", len(result.texts), len(ok), len(result.warnings))


with job_logging(snakemake.log[0]) as log:
    main(
        snakemake.config["corpus_dir"],
        snakemake.params.corpus,
        n_shards=snakemake.params.n_shards,
        min_positives=snakemake.params.min_positives,
        min_words=snakemake.params.min_words,
        near_duplicate_threshold=snakemake.params.near_duplicate_threshold,
        thin_concept=json.loads(snakemake.params.thin_concept),
        texts_path=snakemake.output.texts,
        concepts_path=snakemake.output.concepts,
        registers_path=snakemake.output.registers,
        report_path=snakemake.output.report,
    )
