# amygdala-readout: stories -> activations -> per-layer concept directions -> readout package.
from snakemake.utils import min_version

min_version("9.0")


include: "rules/config_file.smk"


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"


wildcard_constraints:
    shard=r"\d+",
    method="|".join(config["methods"]),
    evaluation="|".join(EVALUATIONS) or "(?!)",


# cheap steps run where Snakemake runs, also on a cluster
localrules:
    all,
    validate_corpus,
    resolve_layers,
    fit_directions,
    package_readout,
    select_readout,
    ship_readout,
    publish_readout,
    evaluate_readout,
    heldout_summary,
    plot_spectra,


include: "rules/corpus.smk"
include: "rules/model.smk"
include: "rules/extract.smk"
include: "rules/fit.smk"
include: "rules/package.smk"
include: "rules/evaluate.smk"
include: "rules/quality.smk"


rule all:
    input:
        expand("results/shipped/{method}.json", method=config["methods"]),
        "results/shipped/best.json",
        expand(
            "results/evaluations/{evaluation}/{method}/metrics.tsv",
            evaluation=EVALUATIONS,
            method=config["methods"],
        ),
        quality_targets(),
