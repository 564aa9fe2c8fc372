rule fit_directions:
    input:
        texts="results/corpus/texts.tsv",
        concepts="results/corpus/concepts.tsv",
        layers="results/model/layers.json",
        shards=expand("results/activations/shard_{shard}.safetensors", shard=SHARDS),
    output:
        "results/directions/{method}.safetensors",
    params:
        eigen_k=lambda wildcards: config["eigen_k"] if wildcards.method == "subspace" else None,
        read_at=config["read_at"],
        code=library_code("directions", "subspace", "crossval", "store", "corpus"),
    log:
        "results/logs/fit_directions/{method}.log",
    benchmark:
        "results/benchmarks/fit_directions/{method}.tsv"
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/fit_directions.py"
