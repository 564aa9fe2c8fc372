"""Which depths read best? Held-out accuracy of every last-token method at EVERY layer of a model.

Reads the corpus once through the model (one pass, last-token residuals of all blocks), then runs the
workflow's grouped cross-validation per layer and method (centred scores, and raw h·v for comparison),
and scores each labelled evaluation set of config.yaml with readouts fitted on the whole corpus. This
is the evidence behind the default `layers:`; the workflow itself reads only the configured layers.

Run after the workflow has prepared the model and validated the corpus (it reads results/model and
results/corpus):

    python bench/layer_sweep.py [--out bench/results/layer_sweep] [--methods pooled paired_centered ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from amygdala_readout import corpus, model_io
from amygdala_readout.crossval import accuracy_summary, heldout_predictions, text_groups
from amygdala_readout.directions import fit
from amygdala_readout.evaluate import accuracy, read_labelled
from amygdala_readout.extract import last_token_activations
from amygdala_readout.plots import heldout_accuracy_plot

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=REPO, help="where results/ and config.yaml are")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "layer_sweep")
    parser.add_argument("--methods", nargs="+", default=["pooled", "paired_centered", "pca", "probe"])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load((args.workdir / "config.yaml").read_text())
    results = args.workdir / "results"
    model_info = json.loads((results / "model" / "model.json").read_text())
    texts = corpus.fitting_set(results / "corpus" / "texts.tsv", results / "corpus" / "concepts.tsv")
    table = pd.read_csv(results / "corpus" / "texts.tsv", sep="\t", dtype=str, keep_default_na=False)
    source = dict(zip(table.text_id, table.source))
    corpus_dir = args.workdir / config.get("corpus_dir", "amygdala_stories")
    strings = [corpus.read_story(corpus_dir, source[t]) for t in texts.text_ids]

    model, tokenizer = model_io.load(model_info["load_path"], torch.device("cpu"), torch.float32)
    layers = list(range(model_info["num_layers"]))
    start = time.perf_counter()
    acts = {k: v.double().numpy() for k, v in last_token_activations(
        model, tokenizer, strings, layers, max_length=config.get("max_length", 1024)).items()}
    print(f"corpus: {len(strings)} texts through {len(layers)} blocks in {time.perf_counter() - start:.0f} s")
    evaluations = []
    for evaluation in config.get("evaluations", []):
        eval_texts, eval_labels = read_labelled(args.workdir / evaluation["path"], evaluation["text_column"],
                                                evaluation["label_column"], evaluation.get("label_map", {}),
                                                texts.concepts)
        eval_acts = last_token_activations(model, tokenizer, eval_texts, layers)
        evaluations.append((evaluation["name"], {k: v.double().numpy() for k, v in eval_acts.items()}, eval_labels))

    groups = text_groups(texts.scenarios, texts.sources)
    rows = []
    for layer in layers:
        for method in args.methods:
            started = time.perf_counter()
            predictions = heldout_predictions(method, acts[layer], texts.labels, texts.concepts, groups,
                                              scenarios=texts.scenarios, n_folds=config.get("cv_folds", 5))
            centred = predictions[predictions.scoring == "centred"]
            raw = predictions[predictions.scoring == "raw"]
            row = {"method": method, "layer": layer, "depth": round(layer / (len(layers) - 1), 3),
                   **accuracy_summary(centred), "raw_top1": accuracy_summary(raw)["top1"]}
            whole = fit(method, acts[layer], texts.labels, texts.concepts, scenarios=texts.scenarios, groups=groups)
            center = acts[layer].mean(axis=0)
            bias = 0.0 if whole.bias is None else whole.bias
            for name, eval_acts, eval_labels in evaluations:
                scores = (eval_acts[layer] - center) @ whole.directions.T + bias
                row[f"{name}_top1"] = accuracy(scores, eval_labels, texts.concepts)["top1"]
            row["seconds"] = round(time.perf_counter() - started, 1)
            rows.append(row)
            print(f"layer {layer:2d} {method:16s} held-out top-1 {row['top1']:.3f} top-5 {row['top5']:.3f}"
                  + "".join(f"  {name} {row[f'{name}_top1']:.3f}" for name, _, _ in evaluations))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    frame.to_csv(args.out.with_suffix(".tsv"), sep="\t", index=False, float_format="%.4f")
    heldout_accuracy_plot(frame, args.out.with_suffix(".png"),
                          f"{model_info['spec']}: held-out accuracy at every block ({frame.n_scored.max()} texts)")
    best = frame.groupby("layer").top1.mean().sort_values(ascending=False)
    print("mean held-out top-1 over methods, best layers first:")
    print(best.head(8).to_string())


if __name__ == "__main__":
    main()
