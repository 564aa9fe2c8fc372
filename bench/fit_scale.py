"""Fitting and held-out cross-validation of the default methods at scale, against the extraction they
follow: synthetic activations of N texts x C concepts x L layers at hidden H (a planted direction per
concept in correlated noise, as the method tests use), each method fitted and cross-validated per layer
exactly as the fit_directions and heldout_accuracy jobs do (library calls, shard I/O left out). The
extraction time of N texts is projected from a workflow run's extraction logs: its summed forward
seconds per text.

    python bench/fit_scale.py [--texts 2000] [--concepts 88] [--layers 4] [--hidden 640]
                              [--methods pooled,lda] [--extraction-logs results/logs/extract_activations]
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
import yaml

from amygdala_readout.crossval import heldout_predictions
from amygdala_readout.methods import fit

REPO = Path(__file__).resolve().parents[1]


def synthetic_layer(n_texts: int, n_concepts: int, hidden: int, rng) -> tuple[np.ndarray, list[str], list[str]]:
    """Activations with one planted direction per concept in low-rank correlated noise; a tenth of the
    texts are baselines (label ""), as the corpus's paired baselines are."""
    concepts = [f"concept_{c:02d}" for c in range(n_concepts)]
    n_baselines = n_texts // 10
    labels = [""] * n_baselines + [concepts[i % n_concepts] for i in range(n_texts - n_baselines)]
    planted = rng.standard_normal((n_concepts, hidden))
    mixing = rng.standard_normal((32, hidden)) * 3
    acts = rng.standard_normal((n_texts, hidden)) + rng.standard_normal((n_texts, 32)) @ mixing
    index = {c: i for i, c in enumerate(concepts)}
    for row, label in enumerate(labels):
        if label:
            acts[row] += planted[index[label]]
    return acts.astype(np.float32), labels, concepts


def extraction_seconds_per_text(logs: Path) -> tuple[float, int] | None:
    """(summed forward seconds / texts, texts) from a workflow run's extraction logs."""
    texts = seconds = 0.0
    for log in logs.glob("*.log"):
        for n, s in re.findall(r"(\d+) texts?, \d+ tokens in ([\d.]+) s", log.read_text()):
            texts += int(n)
            seconds += float(s)
    return (seconds / texts, int(texts)) if texts else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--concepts", type=int, default=88)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=640)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--methods", default=None, help="comma-separated; default: config.yaml's")
    parser.add_argument("--extraction-logs", type=Path, default=REPO / "results" / "logs" / "extract_activations")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "fit_scale"))
    args = parser.parse_args()
    methods = args.methods.split(",") if args.methods else yaml.safe_load((REPO / "config.yaml").read_text())["methods"]
    rng = np.random.default_rng(0)
    data = [synthetic_layer(args.texts, args.concepts, args.hidden, rng) for _ in range(args.layers)]
    # every story its own cross-validation group, as single stories are in the corpus
    groups = [f"story:{i}" for i in range(args.texts)]

    rows, total = [], 0.0
    for method in methods:
        start = time.perf_counter()
        for acts, labels, concepts in data:
            fit(method, acts, labels, concepts, groups=groups)
        fitted = time.perf_counter() - start
        start = time.perf_counter()
        accuracy = []
        for acts, labels, concepts in data:
            predictions = heldout_predictions(method, acts, labels, concepts, groups, n_folds=args.folds)
            centred = predictions[predictions.scoring == "centred"]
            accuracy.append(float((centred["rank"] == 0).mean()))
        crossval = time.perf_counter() - start
        total += fitted + crossval
        rows.append(f"| {method} | {fitted:.1f} | {crossval:.1f} | {np.mean(accuracy):.2f} |")

    shape = f"{args.texts} texts x {args.concepts} concepts x {args.layers} layers, hidden {args.hidden}"
    lines = [
        f"{shape}, {args.folds}-fold cross-validation, synthetic planted data",
        "",
        "| method | fit, all layers (s) | cross-validation, all layers (s) | held-out top-1 |",
        "|---|---|---|---|",
        *rows,
        f"| **all methods** | | **{total:.1f}** (fit + cross-validation) | |",
    ]
    extraction = extraction_seconds_per_text(args.extraction_logs)
    if extraction:
        per_text, measured = extraction
        projected = per_text * args.texts
        lines += [
            "",
            f"Extraction of {args.texts} texts, projected from the forward time per text of the "
            f"{measured} texts in `{args.extraction_logs}`: **{projected:.0f} s**. "
            f"Fitting + cross-validation / extraction = **{total / projected:.4f}** (target ≤ 2).",
        ]
    table = "\n".join(lines)
    print(table)
    Path(args.out + ".md").write_text(table + "\n")


if __name__ == "__main__":
    main()
