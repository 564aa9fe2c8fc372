rule validate_corpus:
    input:
        corpus_files(),
    output:
        texts="results/corpus/texts.tsv",
        concepts="results/corpus/concepts.tsv",
        report="results/corpus/validation.json",
    params:
        n_shards=config["n_shards"],
        min_positives=config["min_positives"],
        min_words=config["min_words"],
        near_duplicate_threshold=config["near_duplicate_threshold"],
        code=library_code("corpus", "store"),
    log:
        "results/logs/validate_corpus.log",
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/validate_corpus.py"
