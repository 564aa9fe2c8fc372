rule extract_evaluation:
    input:
        data=lambda wildcards: EVALUATIONS[wildcards.evaluation]["path"],
        model="results/model/model.json",
        layers="results/model/layers.json",
    output:
        "results/evaluations/{evaluation}/activations.safetensors",
    params:
        text_column=lambda wildcards: EVALUATIONS[wildcards.evaluation]["text_column"],
        extraction=extraction_settings(),
        upstream=lambda wildcards: EVALUATION_TEXTS[wildcards.evaluation],
    threads: 4
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
        data=lambda wildcards: EVALUATIONS[wildcards.evaluation]["path"],
        activations="results/evaluations/{evaluation}/activations.safetensors",
        vectors="results/readout/{method}/readout.safetensors",
        meta="results/readout/{method}/readout.json",
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
        text_column=lambda wildcards: EVALUATIONS[wildcards.evaluation]["text_column"],
        label_column=lambda wildcards: EVALUATIONS[wildcards.evaluation]["label_column"],
        label_map=lambda wildcards: json.dumps(
            EVALUATIONS[wildcards.evaluation]["label_map"], sort_keys=True
        ),
        upstream=lambda wildcards: METRICS[(wildcards.evaluation, wildcards.method)],
    log:
        "results/logs/evaluate_readout/{evaluation}/{method}.log",
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/evaluate_readout.py"
