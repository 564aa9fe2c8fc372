# Extraction reads its shard's story files itself and does not depend on validate_corpus: Snakemake
# reruns everything downstream of a job that reruns, and validation reruns on every story edit.
# Corpus errors still stop the run before any job starts (common.smk reads and labels every story
# while parsing).
rule extract_activations:
    input:
        stories=shard_stories,
        model="results/model/model.json",
        layers="results/model/layers.json",
    output:
        "results/activations/shard_{shard}.safetensors",
    params:
        extraction=extraction_settings(),
        captures=capture_settings(),
        # the shard's story texts: changes when one of them is edited, added or removed
        texts=lambda wildcards: shard_digest(SCAN, int(wildcards.shard), config["n_shards"]),
        upstream=lookup(dpath="{shard}", within=SHARD),
    resources:
        gpu=GPU_JOBS,
    log:
        "results/logs/extract_activations/shard_{shard}.log",
    benchmark:
        "results/benchmarks/extract_activations/shard_{shard}.tsv"
    conda:
        "../envs/readout.yaml"
    script:
        "../scripts/extract_activations.py"
