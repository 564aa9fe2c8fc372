rule prepare_model:
    output:
        info="results/model/model.json",
    params:
        model=config["model"],
        trust_remote_code=config["trust_remote_code"],
        work_dir=lambda wildcards, output: str(Path(output.info).parent),
        upstream=MODEL,
    log:
        "results/logs/prepare_model.log",
    benchmark:
        "results/benchmarks/prepare_model.tsv"
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/prepare_model.py"


rule resolve_layers:
    input:
        model="results/model/model.json",
    output:
        layers="results/model/layers.json",
    params:
        layers=config["layers"],
        upstream=LAYERS,
    log:
        "results/logs/resolve_layers.log",
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/resolve_layers.py"
