rule quality_report:
    input:
        texts="results/corpus/texts.tsv",
        concepts="results/corpus/concepts.tsv",
        layers="results/model/layers.json",
        model="results/model/model.json",
        shards=expand("results/activations/shard_{shard}.safetensors", shard=SHARDS),
        directions="results/directions/{method}.safetensors",
    output:
        report=report(
            "results/quality/{method}/quality.json",
            caption="../report/quality_json.rst",
            category="Quality",
            subcategory="{method}",
            labels={"method": "{method}", "figure": "quality.json"},
        ),
        triage=report(
            "results/quality/{method}/triage.tsv",
            caption="../report/triage.rst",
            category="Quality",
            subcategory="{method}",
            labels={"method": "{method}", "figure": "triage"},
        ),
        cosines=report(
            "results/quality/{method}/concept_cosines.png",
            caption="../report/concept_cosines.rst",
            category="Quality",
            subcategory="{method}",
            labels={"method": "{method}", "figure": "concept cosines"},
        ),
        heads=report(
            "results/quality/{method}/head_selectivity.png",
            caption="../report/head_selectivity.rst",
            category="Quality",
            subcategory="{method}",
            labels={"method": "{method}", "figure": "head selectivity"},
        ),
        # the report in the layout of the trainer we replace, beside the package it describes
        seed="results/staging/{method}/quality.json",
    params:
        read_at=config["read_at"],
        corpus_dir=config["corpus_dir"],
        upstream=lookup(dpath="{method}", within=QUALITY),
    log:
        "results/logs/quality_report/{method}.log",
    benchmark:
        "results/benchmarks/quality_report/{method}.tsv"
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/quality_report.py"


rule heldout_accuracy:
    input:
        texts="results/corpus/texts.tsv",
        concepts="results/corpus/concepts.tsv",
        layers="results/model/layers.json",
        shards=expand("results/activations/shard_{shard}.safetensors", shard=SHARDS),
    output:
        table="results/quality/{method}/heldout.tsv",
        confusion="results/quality/{method}/heldout_confusion.tsv",
        plot=report(
            "results/quality/{method}/heldout_confusion.png",
            caption="../report/heldout_confusion.rst",
            category="Held-out accuracy",
            labels={"method": "{method}", "figure": "confusion"},
        ),
    params:
        folds=config["cv_folds"],
        settings=lambda wildcards: method_settings(wildcards.method, config),
        read_at=config["read_at"],
        upstream=lookup(dpath="{method}", within=HELDOUT),
    log:
        "results/logs/heldout_accuracy/{method}.log",
    benchmark:
        "results/benchmarks/heldout_accuracy/{method}.tsv"
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/heldout_accuracy.py"


rule heldout_summary:
    input:
        expand("results/quality/{method}/heldout.tsv", method=config["methods"]),
    output:
        table=report(
            "results/quality/heldout_accuracy.tsv",
            caption="../report/heldout_accuracy.rst",
            category="Held-out accuracy",
            labels={"method": "all", "figure": "table"},
        ),
        plot=report(
            "results/quality/heldout_accuracy.png",
            caption="../report/heldout_accuracy.rst",
            category="Held-out accuracy",
            labels={"method": "all", "figure": "per layer"},
        ),
    params:
        methods=config["methods"],
        upstream=SUMMARY,
    log:
        "results/logs/heldout_summary.log",
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/heldout_summary.py"


rule plot_spectra:
    input:
        "results/directions/{method}.safetensors",
    output:
        report(
            "results/quality/{method}/eigenvalues.png",
            caption="../report/eigenvalues.rst",
            category="Quality",
            subcategory="{method}",
            labels={"method": "{method}", "figure": "eigenvalue spectra"},
        ),
    params:
        upstream=lambda wildcards: digest(DIRECTIONS[wildcards.method], code("plot_spectra")),
    log:
        "results/logs/plot_spectra/{method}.log",
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/plot_spectra.py"
