rule extract_evaluation:
    input:
        data=lookup(dpath="{evaluation}/path", within=EVALUATIONS),
        model="results/model/model.json",
        layers="results/model/layers.json",
    output:
        "results/evaluations/{evaluation}/activations.safetensors",
    params:
        text_column=lookup(dpath="{evaluation}/text_column", within=EVALUATIONS),
        extraction=extraction_settings(),
        upstream=lookup(dpath="{evaluation}", within=EVALUATION_TEXTS),
    resources:
        gpu=GPU_JOBS,
    log:
        "results/logs/extract_evaluation/{evaluation}.log",
    benchmark:
        "results/benchmarks/extract_evaluation/{evaluation}.tsv"
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/extract_evaluation.py"


rule evaluate_readout:
    input:
        data=lookup(dpath="{evaluation}/path", within=EVALUATIONS),
        activations="results/evaluations/{evaluation}/activations.safetensors",
        vectors="results/staging/{method}/readout.safetensors",
        meta="results/staging/{method}/readout.json",
    output:
        metrics=report(
            "results/evaluations/{evaluation}/{method}/metrics.tsv",
            caption="../report/evaluation_metrics.rst",
            category="Evaluation",
            subcategory="{evaluation}",
            labels={"method": "{method}", "figure": "accuracy"},
        ),
        recall="results/evaluations/{evaluation}/{method}/recall.tsv",
        confusion="results/evaluations/{evaluation}/{method}/confusion.tsv",
        plot=report(
            "results/evaluations/{evaluation}/{method}/confusion.png",
            caption="../report/evaluation_confusion.rst",
            category="Evaluation",
            subcategory="{evaluation}",
            labels={"method": "{method}", "figure": "confusion"},
        ),
    params:
        text_column=lookup(dpath="{evaluation}/text_column", within=EVALUATIONS),
        label_column=lookup(dpath="{evaluation}/label_column", within=EVALUATIONS),
        label_map=lambda wildcards: json.dumps(
            EVALUATIONS[wildcards.evaluation]["label_map"], sort_keys=True
        ),
        upstream=lookup(dpath="{evaluation}/{method}", within=METRICS),
    log:
        "results/logs/evaluate_readout/{evaluation}/{method}.log",
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/evaluate_readout.py"
