rule package_readout:
    input:
        directions="results/directions/{method}.safetensors",
        model="results/model/model.json",
        layers="results/model/layers.json",
        validation="results/corpus/validation.json",
    output:
        vectors="results/staging/{method}/readout.safetensors",
        meta="results/staging/{method}/readout.json",
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


# Packages are built in results/staging/ and shipped whole: results/readout/<name> is a link that
# moves in one step to a finished folder under results/packages/ (amygdala_readout.shipping).
# Snakemake deletes a job's outputs when it starts, so the outputs here are receipts, never the
# folders a server reads.
rule ship_readout:
    input:
        vectors="results/staging/{method}/readout.safetensors",
        meta="results/staging/{method}/readout.json",
        quality="results/staging/{method}/quality.json",
    output:
        receipt="results/shipped/{method}.json",
    params:
        link="results/readout/{method}",
        store="results/packages",
        upstream=lookup(dpath="{method}", within=SHIPPED),
    log:
        "results/logs/ship_readout/{method}.log",
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/ship_readout.py"


rule publish_readout:
    input:
        selection="results/readout/selection.json",
        packages=expand("results/staging/{method}/readout.json", method=config["methods"]),
        vectors=expand("results/staging/{method}/readout.safetensors", method=config["methods"]),
        quality=expand("results/staging/{method}/quality.json", method=config["methods"]),
        # best/ moves after the method packages do, never before them
        shipped=expand("results/shipped/{method}.json", method=config["methods"]),
    output:
        receipt="results/shipped/best.json",
    params:
        methods=config["methods"],
        link="results/readout/best",
        store="results/packages",
        # SHIPPED covers each package and its quality report
        upstream=digest(SELECTION, sorted(SHIPPED.items()), code("publish_readout")),
    log:
        "results/logs/publish_readout.log",
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/publish_readout.py"
