rule package_readout:
    input:
        directions="results/directions/{method}.safetensors",
        model="results/model/model.json",
        layers="results/model/layers.json",
        validation="results/corpus/validation.json",
    output:
        vectors="results/readout/{method}/readout.safetensors",
        meta="results/readout/{method}/readout.json",
    params:
        # canonical JSON, so that an unchanged config never looks changed; a function, so that braces
        # in it (a template's {text}) are not taken for wildcards
        config_json=lambda wildcards: package_config(wildcards.method),
        upstream=lookup(dpath="{method}", within=PACKAGE),
    log:
        "results/logs/package_readout/{method}.log",
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/package_readout.py"


rule select_readout:
    input:
        table="results/quality/heldout_accuracy.tsv",
        evaluations=[
            f"results/evaluations/{evaluation}/{method}/metrics.tsv"
            for evaluation, method in EVALUATION_METHODS
        ],
    output:
        "results/readout/selection.json",
    params:
        methods=config["methods"],
        evaluation_keys=EVALUATION_METHODS,
        # evaluation texts are read as the directions were fitted (through a template: its last token)
        reading="last_token" if config["template"] else config["read_at"],
        upstream=SELECTION,
    log:
        "results/logs/select_readout.log",
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/select_readout.py"


# Its own job, a plain copy: Snakemake deletes a job's outputs when it starts, so a selection that
# fails never takes the package users ship with it.
rule publish_readout:
    input:
        selection="results/readout/selection.json",
        packages=expand("results/readout/{method}/readout.json", method=config["methods"]),
        vectors=expand("results/readout/{method}/readout.safetensors", method=config["methods"]),
        quality=expand("results/readout/{method}/quality.json", method=config["methods"]),
    output:
        vectors="results/readout/best/readout.safetensors",
        meta="results/readout/best/readout.json",
        quality="results/readout/best/quality.json",
    params:
        methods=config["methods"],
        upstream=digest(SELECTION, sorted(QUALITY.items()), code("publish_readout")),
    log:
        "results/logs/publish_readout.log",
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/publish_readout.py"
