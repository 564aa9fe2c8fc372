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
        # canonical JSON, so that an unchanged config never looks changed
        config_json=json.dumps(config, sort_keys=True),
        code=library_code("package", "store"),
    log:
        "results/logs/package_readout/{method}.log",
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/package_readout.py"


rule select_readout:
    input:
        table="results/quality/heldout_accuracy.tsv",
        packages=expand("results/readout/{method}/readout.json", method=config["methods"]),
        vectors=expand("results/readout/{method}/readout.safetensors", method=config["methods"]),
    output:
        vectors="results/readout/best/readout.safetensors",
        meta="results/readout/best/readout.json",
    params:
        methods=config["methods"],
        code=library_code("crossval", "directions", "package", "store"),
    log:
        "results/logs/select_readout.log",
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/select_readout.py"
