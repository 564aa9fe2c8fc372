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
