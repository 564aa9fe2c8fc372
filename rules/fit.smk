rule fit_directions:
    input:
        texts="results/corpus/texts.tsv",
        concepts="results/corpus/concepts.tsv",
        layers="results/model/layers.json",
        shards=expand("results/activations/shard_{shard}.safetensors", shard=SHARDS),
    output:
        "results/directions/{method}.safetensors",
    params:
        eigen_k=lambda wildcards: eigen_k(wildcards.method),
        read_at=config["read_at"],
        upstream=lambda wildcards: DIRECTIONS[wildcards.method],
    log:
        "results/logs/fit_directions/{method}.log",
    benchmark:
        "results/benchmarks/fit_directions/{method}.tsv"
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/fit_directions.py"
