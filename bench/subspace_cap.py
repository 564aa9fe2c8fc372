"""Token subspaces capped per text: what a rank cap (`subspace_k`) costs the `subspace` method, so that
its default is chosen by evidence, and what each cap stores.

Runs the workflow once in --workdir on the shipped corpus with `methods: [subspace]`, `subspace_k: all`
and the six-way sets as evaluations (data/own_eval_basic.jsonl, and ../shared/eval/meld_dev.jsonl
read from ../shared, never copied), unless that run is already there. A text's basis rows are sorted by
singular value, so its first k rows are exactly what extraction with `subspace_k: k` stores
(tests/test_extract.py checks this); every cap is then fitted from the one uncapped run. Per cap and
read layer: the directions' cosine to the uncapped ones, held-out top-1 by the workflow's grouped
cross-validation (centred scores), six-way balanced accuracy on the external sets scored from a float16
package as a server would (the text's last token, and the mean of its tokens), the seconds fit and
cross-validation take, and the disk per text: basis rows x hidden x 2 bytes (float16), summed over the
read layers, at this model's hidden size and projected to 5,376 (Gemma 3 27B; rows are bounded by the
text's tokens or the cap, not by the hidden size).

    python bench/subspace_cap.py [--workdir DIR] [--caps 4 8 16 32 64 128] [--cores 2]
                                 [--out bench/results/subspace_cap]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from amygdala_readout import corpus
from amygdala_readout.crossval import accuracy_summary, heldout_predictions, text_groups
from amygdala_readout.labelled import read_labelled
from amygdala_readout.methods import fit
from amygdala_readout.package import write_package
from amygdala_readout.store import fitting_set, load_rows, load_subspaces, read_layers

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from yardstick import SETS, SWEEP_SETS, score_package  # noqa: E402  (bench scripts are not a package)

PROJECTED_HIDDEN = 5376  # Gemma 3 27B


def prepare(workdir: Path) -> None:
    """The shipped corpus, and the config of the uncapped run with both external sets as evaluations."""
    shutil.copytree(REPO / "amygdala_stories", workdir / "amygdala_stories")
    paths = {name: SETS[name][0] for name in SWEEP_SETS}
    evaluations = [{"name": name, "path": str(path)} for name, path in paths.items() if path.exists()]
    for name, path in paths.items():
        if not path.exists():
            print(f"{path}: not found, {name} skipped")
    config = yaml.safe_load((REPO / "config.yaml").read_text()) | {
        "methods": ["subspace"],
        "subspace_k": "all",
        "evaluations": evaluations,
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def run_workflow(workdir: Path, cores: int) -> float:
    """Brings the workdir's run up to date; returns its wall seconds (0 when nothing was left to do)."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        str(cores),
    ]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-5000:]}")
    return 0.0 if "Nothing to be done" in done.stderr else time.perf_counter() - start


def external_sets(workdir: Path, evaluations: list[dict], concepts: list[str], layers: list[int]) -> dict:
    """{set: (labels, {reading: {layer: activations}})}, from the workflow's evaluation extraction."""
    sets = {}
    for evaluation in evaluations:
        texts, labels = read_labelled(
            workdir / evaluation["path"],
            evaluation.get("text_column", "text"),
            evaluation.get("label_column", "label"),
            evaluation.get("label_map", {}),
            concepts,
        )
        activations = workdir / "results" / "evaluations" / evaluation["name"] / "activations.safetensors"
        ids = [corpus.text_id(t) for t in texts]
        sets[evaluation["name"]] = (
            labels,
            {r: load_rows([activations], ids, layers, part=r) for r in ("last_token", "all_tokens")},
        )
    return sets


def sweep(workdir: Path, caps: list[int]) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Per-layer figures of each cap and of the stored bases (cap = the run's `subspace_k`), the external
    sets' scores of each one's package, and the hidden size."""
    results = workdir / "results"
    config = json.loads((results / "readout" / "subspace" / "readout.json").read_text())["config"]
    stored = config["subspace_k"]
    caps = [cap for cap in caps if stored == "all" or cap < stored] + [stored]
    texts = fitting_set(results / "corpus" / "texts.tsv", results / "corpus" / "concepts.tsv")
    layers = read_layers(results / "model" / "layers.json")
    shards = sorted((results / "activations").glob("shard_*.safetensors"))
    acts = load_rows(shards, texts.text_ids, layers, part=config["read_at"])
    groups = text_groups(texts.scenarios, texts.sources)
    settings = {"eigen_k": config["eigen_k"]}
    hidden = acts[layers[0]].shape[1]
    rows, vectors = [], {cap: {} for cap in caps}
    for layer in layers:  # one layer's bases at a time: they are the bulk of the memory
        full = load_subspaces(shards, texts.text_ids, [layer])[layer]
        uncapped = None
        for cap in caps:
            bases = full if cap == stored else [b[:cap] for b in full]
            start = time.perf_counter()
            fitted = fit("subspace", acts[layer], texts.labels, texts.concepts, bases=bases, settings=settings)
            fit_seconds = time.perf_counter() - start
            start = time.perf_counter()
            predictions = heldout_predictions(
                "subspace",
                acts[layer],
                texts.labels,
                texts.concepts,
                groups,
                n_folds=config["cv_folds"],
                bases=bases,
                settings=settings,
            )
            cv_seconds = time.perf_counter() - start
            if cap == stored:
                uncapped = fitted.directions
            vectors[cap][layer] = fitted.directions
            rows.append(
                {
                    "cap": str(cap),
                    "layer": layer,
                    "directions": fitted.directions,
                    "rows_per_text": sum(len(b) for b in bases) / len(bases),
                    "heldout_top1": accuracy_summary(predictions[predictions.scoring == "centred"])["top1"],
                    "fit_s": fit_seconds,
                    "cv_s": cv_seconds,
                }
            )
            print(
                f"layer {layer} cap {cap}: fit {fit_seconds:.1f} s, cv {cv_seconds:.1f} s, "
                f"held-out top-1 {rows[-1]['heldout_top1']:.3f}",
                flush=True,
            )
        for row in rows:
            if row["layer"] == layer:
                cosine = np.sum(row.pop("directions") * uncapped, axis=1)  # unit rows
                row |= {"cosine_mean": float(cosine.mean()), "cosine_min": float(cosine.min())}
    per_layer = pd.DataFrame(rows)
    per_layer["bytes_per_text"] = per_layer.rows_per_text * hidden * 2
    evaluations = yaml.safe_load((workdir / "config.yaml").read_text()).get("evaluations", [])
    sets = external_sets(workdir, evaluations, texts.concepts, layers)
    scored = []
    for cap in caps:
        centers = {layer: acts[layer].mean(axis=0) for layer in layers}
        package = workdir / "caps" / str(cap)
        write_package(package, texts.concepts, vectors[cap], centers, {"method": "subspace", "subspace_k": cap})
        scored += [{"cap": str(cap), **row} for row in score_package(package, sets)]
    return per_layer, pd.DataFrame(scored), hidden


def summary(per_layer: pd.DataFrame, external: pd.DataFrame, hidden: int, n_texts: int, workflow_s: float) -> str:
    n_layers = per_layer.layer.nunique()
    run = f"; the uncapped workflow run took {workflow_s:.0f} s" if workflow_s else ""
    sets = sorted(external.set.unique())
    lines = [
        f"Corpus of {n_texts} texts, {n_layers} layers read, hidden {hidden}{run}. External sets: six-way "
        "balanced accuracy at the best read layer, evaluation text read at its last token / as the mean of "
        "its tokens. Cosine: to the uncapped directions, mean (min) over concepts and layers.",
        "",
        f"| cap | basis rows per text | bytes per text, hidden {hidden} | projected, hidden {PROJECTED_HIDDEN} "
        "| cosine to uncapped | held-out top-1 (best layer) | "
        + " | ".join(f"{s}: last / mean" for s in sets)
        + f" | fit + cv s ({n_layers} layers) |",
        "|---" * (7 + len(sets)) + "|",
    ]
    for cap, part in per_layer.groupby("cap", sort=False):
        per_text = part.bytes_per_text.sum()
        cells = []
        for name in sets:
            mine = external[(external.cap == cap) & (external.set == name)]
            best = mine.groupby("eval_reading").balanced_accuracy.max()
            cells.append(f"{best['last_token']:.3f} / {best['all_tokens']:.3f}")
        lines.append(
            f"| {cap} | {part.rows_per_text.mean():.1f} | {per_text / 1e6:.2f} MB | "
            f"{per_text * PROJECTED_HIDDEN / hidden / 1e6:.1f} MB | {part.cosine_mean.mean():.4f} "
            f"({part.cosine_min.min():.4f}) | {part.heldout_top1.max():.3f} | "
            + " | ".join(cells)
            + f" | {part.fit_s.sum() + part.cv_s.sum():.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=REPO / "results" / "subspace_cap")
    parser.add_argument("--caps", nargs="+", type=int, default=[4, 8, 16, 32, 64, 128])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "subspace_cap")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if not (args.workdir / "config.yaml").exists():
        prepare(args.workdir)
    workflow_s = run_workflow(args.workdir, args.cores)
    per_layer, external, hidden = sweep(args.workdir, sorted(args.caps))
    n_texts = len(
        fitting_set(args.workdir / "results/corpus/texts.tsv", args.workdir / "results/corpus/concepts.tsv").text_ids
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    per_layer.to_csv(args.out.with_suffix(".tsv"), sep="\t", index=False)
    external.to_csv(args.out.with_name(args.out.name + "_external.tsv"), sep="\t", index=False)
    args.out.with_suffix(".md").write_text(summary(per_layer, external, hidden, n_texts, workflow_s))
    print(args.out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
