import hashlib
import json
from pathlib import Path

from snakemake.logging import logger
from snakemake.utils import validate

# The library (src/amygdala_readout, installed by `make setup` with `pip install -e .`) does the work;
# rules and scripts only connect it to files.
from amygdala_readout import corpus as corpus_lib
from amygdala_readout.digests import code_digest, corpus_digest, file_digest, shard_digest
from amygdala_readout.config import check_config
from amygdala_readout.labelled import read_labelled
from amygdala_readout.methods import (
    METHODS,
    method_settings,
    needs_token_subspaces,
    settings_of_other_methods,
)
from amygdala_readout.model_io import dtype_name, gpu_visible, source_fingerprint

SCHEMA = Path(workflow.basedir) / "schemas" / "config.schema.yaml"
SCRIPTS = Path(workflow.basedir) / "scripts"

# Config and corpus errors stop the run here, before any job starts, each with a one-line message.
# Parsing does discovery only (paths, texts, hashes, labels); the validate_corpus job adds the warnings.
check_config(config, SCHEMA)
validate(config, SCHEMA)  # fills in defaults
MODEL_FILES = source_fingerprint(config["model"])  # also: a model path that does not exist
# Extraction jobs take turns on a GPU (the local profile allows one); without one they run side by side.
GPU_JOBS = 1 if config["device"] != "cpu" and gpu_visible() else 0
SHARDS = [f"{k:02d}" for k in range(config["n_shards"])]
SCAN = corpus_lib.scan(config["corpus_dir"])
for message in corpus_lib.unread_warnings(SCAN) + corpus_lib.shard_warnings(
    SCAN, config["n_shards"]
):
    logger.warning(message)
CORPUS = corpus_lib.label_texts(
    SCAN, n_shards=config["n_shards"], min_positives=config["min_positives"]
)
EVALUATIONS = {e["name"]: e for e in config["evaluations"]}
# (evaluation, method) pairs, in a fixed order: select_readout reads their metrics
EVALUATION_METHODS = [(e, m) for e in sorted(EVALUATIONS) for m in config["methods"]]
# unreadable files, labels that match no concept, missing columns, one label only; repeated texts warned
for evaluation in EVALUATIONS.values():
    read_labelled(
        evaluation["path"],
        evaluation["text_column"],
        evaluation["label_column"],
        evaluation["label_map"],
        list(CORPUS.concepts.concept[CORPUS.concepts.status == "ok"]),
        warn=logger.warning,
    )


# Reruns are decided by content: each job's params carry `upstream`, a hash of everything its result
# is computed from (story texts, the model's files, config values, the code of this job's script and
# of every job before it). The profiles leave out Snakemake's "mtime" and "input" triggers, so a
# touched or copied file reruns nothing and a changed one reruns exactly what depends on it, even
# when a run stopped half-way last time.
def digest(*parts):
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def code(script):
    """The script's hash with every library module it imports (read from its imports)."""
    return code_digest(SCRIPTS / f"{script}.py")


def extraction_settings():
    """Config values that change what extraction computes (device and threads only change speed), with
    the dtype that `auto` stands for on this machine: bfloat16 on a GPU or a CPU that has it."""
    keys = ("max_length", "batch_tokens", "padding_side", "template")
    dtype = dtype_name(config["dtype"], config["device"])
    return {key: config[key] for key in keys} | {"dtype": dtype}


def capture_settings():
    """What the corpus pass keeps besides last-token residuals: per-head inputs for the quality report,
    and each text's token subspace when the `subspace` method is on (None = all of it)."""
    if not needs_token_subspaces(config["methods"]):
        subspace_k = False
    else:
        subspace_k = None if config["subspace_k"] == "all" else config["subspace_k"]
    return {"heads": True, "subspace_k": subspace_k}


def package_config(method):
    """The config a package of `method` records: all of it but which methods run and how the best is
    chosen, and the settings only other methods read (adding or tuning a method repackages no other).
    """
    skipped = {"methods", "evaluations"} | settings_of_other_methods(method)
    return json.dumps({k: v for k, v in config.items() if k not in skipped}, sort_keys=True)


def corpus_settings():
    keys = ("n_shards", "min_positives", "min_words", "near_duplicate_threshold", "thin_concept")
    return {key: config[key] for key in keys}


MODEL = digest(config["model"], MODEL_FILES, config["trust_remote_code"], code("prepare_model"))
LAYERS = digest(MODEL, config["layers"], code("resolve_layers"))
TABLES = digest(corpus_digest(SCAN), corpus_settings(), code("validate_corpus"))
EXTRACTION = digest(LAYERS, extraction_settings(), capture_settings(), code("extract_activations"))
SHARD = {
    shard: digest(EXTRACTION, shard_digest(SCAN, int(shard), config["n_shards"]))
    for shard in SHARDS
}
ACTIVATIONS = digest(TABLES, sorted(SHARD.values()))
DIRECTIONS = {
    method: digest(
        ACTIVATIONS,
        method,
        method_settings(method, config),
        config["read_at"],
        code("fit_directions"),
    )
    for method in config["methods"]
}
PACKAGE = {
    method: digest(DIRECTIONS[method], package_config(method), code("package_readout"))
    for method in config["methods"]
}
HELDOUT = {
    method: digest(
        ACTIVATIONS,
        method,
        method_settings(method, config),
        config["read_at"],
        config["cv_folds"],
        code("heldout_accuracy"),
    )
    for method in config["methods"]
}
QUALITY = {
    method: digest(DIRECTIONS[method], MODEL, code("quality_report"))
    for method in config["methods"]
}
SHIPPED = {
    method: digest(PACKAGE[method], QUALITY[method], code("ship_readout"))
    for method in config["methods"]
}
EVALUATION_TEXTS = {
    name: digest(
        LAYERS,
        file_digest(e["path"]),
        e["text_column"],
        extraction_settings(),
        code("extract_evaluation"),
    )
    for name, e in EVALUATIONS.items()
}
METRICS = {  # by evaluation, then method
    name: {
        method: digest(
            EVALUATION_TEXTS[name],
            PACKAGE[method],
            e["label_column"],
            e["label_map"],
            code("evaluate_readout"),
        )
        for method in config["methods"]
    }
    for name, e in EVALUATIONS.items()
}
SUMMARY = digest(sorted(HELDOUT.items()), code("heldout_summary"))
SELECTION = digest(
    SUMMARY,
    sorted(PACKAGE.items()),
    sorted(METRICS.items()),
    code("select_readout"),
)


def shard_stories(wildcards):
    """The story files of one shard: editing or adding a story reruns its shard and no other."""
    shard = int(wildcards.shard)
    return [
        str(Path(config["corpus_dir"]) / s.path)
        for s in SCAN.sources
        if corpus_lib.shard_of(s.path, config["n_shards"]) == shard
    ]


def quality_targets():
    """The quality report of each method, held-out accuracy, and the spectra of methods with eigenvalues."""
    methods = config["methods"]
    targets = [f"results/quality/{method}/quality.json" for method in methods]
    targets.append("results/quality/heldout_accuracy.tsv")
    targets += [f"results/quality/{m}/eigenvalues.png" for m in methods if METHODS[m].eigenvalues]
    return targets
