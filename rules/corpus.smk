rule validate_corpus:
    input:
        corpus_files(),
    output:
        texts="results/corpus/texts.tsv",
        concepts="results/corpus/concepts.tsv",
        registers="results/corpus/registers.tsv",
        report="results/corpus/validation.json",
    params:
        # the file list as a param: a deleted story changes it (the profiles leave out the "input" trigger)
        sources=sorted(s.path for s in CORPUS_SOURCES),
        n_shards=config["n_shards"],
        min_positives=config["min_positives"],
        min_words=config["min_words"],
        near_duplicate_threshold=config["near_duplicate_threshold"],
        thin_concept=json.dumps(config["thin_concept"], sort_keys=True),
        code=library_code("corpus", "store"),
    log:
        "results/logs/validate_corpus.log",
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/validate_corpus.py"
