rule validate_corpus:
    input:
        [str(Path(config["corpus_dir"]) / s.path) for s in SCAN.sources],
    output:
        texts="results/corpus/texts.tsv",
        concepts="results/corpus/concepts.tsv",
        registers="results/corpus/registers.tsv",
        report="results/corpus/validation.json",
    params:
        corpus=corpus_digest(SCAN),
        upstream=TABLES,
        n_shards=config["n_shards"],
        min_positives=config["min_positives"],
        min_words=config["min_words"],
        near_duplicate_threshold=config["near_duplicate_threshold"],
        thin_concept=json.dumps(config["thin_concept"], sort_keys=True),
    log:
        "results/logs/validate_corpus.log",
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/validate_corpus.py"
