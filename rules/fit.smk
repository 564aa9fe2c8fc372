rule fit_directions:
    input:
        texts="results/corpus/texts.tsv",
        concepts="results/corpus/concepts.tsv",
        layers="results/model/layers.json",
        shards=expand("results/activations/shard_{shard}.safetensors", shard=SHARDS),
    output:
        "results/directions/{method}.safetensors",
    params:
        settings=lambda wildcards: method_settings(wildcards.method, config),
        read_at=config["read_at"],
        upstream=lookup(dpath="{method}", within=DIRECTIONS),
    log:
        "results/logs/fit_directions/{method}.log",
    benchmark:
        "results/benchmarks/fit_directions/{method}.tsv"
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/fit_directions.py"
