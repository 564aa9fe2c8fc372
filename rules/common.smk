import hashlib
import json
from pathlib import Path

from snakemake.utils import validate

# The library (src/amygdala_readout, installed by `make setup` with `pip install -e .`) does the work;
# rules and scripts only connect it to files.
import amygdala_readout
from amygdala_readout import corpus as corpus_lib
from amygdala_readout.config import check_config
from amygdala_readout.evaluate import read_labelled
from amygdala_readout.model_io import model_kind

LIBRARY = Path(amygdala_readout.__file__).parent
SCHEMA = Path(workflow.basedir) / "schemas" / "config.schema.yaml"

# Config and corpus errors stop the run here, before any job starts, each with a one-line message.
check_config(config, SCHEMA)
validate(config, SCHEMA)  # fills in defaults
model_kind(config["model"])  # a model path that does not exist

SHARDS = [f"{k:02d}" for k in range(config["n_shards"])]
CORPUS_SOURCES, _ = corpus_lib.discover(config["corpus_dir"])
# warnings are reported by the validate_corpus job
CORPUS = corpus_lib.validate(
    config["corpus_dir"],
    n_shards=config["n_shards"],
    min_positives=config["min_positives"],
    min_words=config["min_words"],
    near_duplicate_threshold=config["near_duplicate_threshold"],
)
EVALUATIONS = {e["name"]: e for e in config["evaluations"]}
# (evaluation, method) pairs, in a fixed order: select_readout reads their metrics
EVALUATION_METHODS = [(e, m) for e in sorted(EVALUATIONS) for m in config["methods"]]
for evaluation in EVALUATIONS.values():  # labels that match no concept, missing columns
    read_labelled(
        evaluation["path"],
        evaluation["text_column"],
        evaluation["label_column"],
        evaluation["label_map"],
        list(CORPUS.concepts.concept[CORPUS.concepts.status == "ok"]),
    )


def corpus_files():
    """Every story file and the concept table: what validation reads."""
    files = [str(Path(config["corpus_dir"]) / s.path) for s in CORPUS_SOURCES]
    table = Path(config["corpus_dir"]) / "concepts.tsv"
    return files + ([str(table)] if table.exists() else [])


def shard_stories(wildcards):
    """The story files of one shard: editing or adding a story reruns its shard and no other."""
    shard = int(wildcards.shard)
    return [
        str(Path(config["corpus_dir"]) / s.path)
        for s in CORPUS_SOURCES
        if corpus_lib.shard_of(s.path, config["n_shards"]) == shard
    ]


def library_code(*modules):
    """Hash of library modules, as a param: Snakemake notices edited scripts, not the code they import."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update((LIBRARY / f"{module}.py").read_bytes())
    return digest.hexdigest()[:16]


def extraction_settings():
    """Config values that change what extraction computes (device and threads only change speed)."""
    keys = ("max_length", "batch_tokens", "padding_side", "dtype", "template")
    return {key: config[key] for key in keys}


def capture_settings():
    """What the corpus pass keeps besides last-token residuals: per-head inputs for the quality report,
    and each text's token subspace when the `subspace` method is on (None = all of it)."""
    if "subspace" not in config["methods"]:
        subspace_k = False
    else:
        subspace_k = None if config["subspace_k"] == "all" else config["subspace_k"]
    return {"heads": True, "subspace_k": subspace_k}


def quality_targets():
    """The quality report of each method, held-out accuracy, and the subspace method's spectra."""
    targets = [f"results/quality/{method}/quality.json" for method in config["methods"]]
    targets.append("results/quality/heldout_accuracy.tsv")
    if "subspace" in config["methods"]:
        targets.append("results/quality/subspace/eigenvalues.png")
    return targets
