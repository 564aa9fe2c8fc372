"""Validate the corpus; write the table of unique texts, per-concept counts and a report."""

from amygdala_readout import corpus
from amygdala_readout.logs import job_logging
from amygdala_readout.store import write_json, write_tsv


def main(corpus_dir, *, n_shards, min_positives, min_words, near_duplicate_threshold,
         texts_path, concepts_path, report_path):
    result = corpus.validate(
        corpus_dir,
        n_shards=n_shards,
        min_positives=min_positives,
        min_words=min_words,
        near_duplicate_threshold=near_duplicate_threshold,
    )
    for message in result.warnings:
        log.warning("%s", message)
    if result.ignored:
        log.info("ignored %d file(s) that are not stories: %s", len(result.ignored), ", ".join(result.ignored))
    write_tsv(texts_path, result.texts)
    write_tsv(concepts_path, result.concepts)
    ok = result.concepts[result.concepts.status == "ok"]
    write_json(report_path, {
        "corpus_fingerprint": corpus.fingerprint(result.texts),
        "n_texts": len(result.texts),
        "n_concepts": len(ok),
        "n_baselines": int((result.texts.role == "baseline").sum()),
        "warnings": result.warnings,
        "ignored_files": result.ignored,
        "skipped_empty_files": result.skipped,
    })
    log.info("%d unique texts, %d concepts, %d warning(s)", len(result.texts), len(ok), len(result.warnings))


with job_logging(snakemake.log[0]) as log:
    main(
        snakemake.config["corpus_dir"],
        n_shards=snakemake.params.n_shards,
        min_positives=snakemake.params.min_positives,
        min_words=snakemake.params.min_words,
        near_duplicate_threshold=snakemake.params.near_duplicate_threshold,
        texts_path=snakemake.output.texts,
        concepts_path=snakemake.output.concepts,
        report_path=snakemake.output.report,
    )
