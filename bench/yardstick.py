"""The external yardstick: how well readouts read emotion in text nobody here wrote.

Six-way choice over anger, disgust, fear, happiness, sadness and surprise, scored only from a readout
package as a server would (argmax over those six rows of (h - center)·v + bias), balanced accuracy
(mean per-label recall; chance 1/6), on labelled sets the corpus never saw:

- ``own``: data/own_emotion_eval.jsonl, written for this project apart from the corpus, in registers
  the corpus does not use;
- ``meld_dev``: ../shared/eval/meld_dev.jsonl (MELD dev split, TV dialogue; third-party, GPL-3.0: read
  from ../shared, never copied into the repository).

Next to each figure, the ceiling: a supervised logistic probe trained on that set itself (5-fold,
stratified, standardised activations, the better of two L2 strengths), what the model can do on that text.

Two parts:

- ``--sweep`` (the evidence behind the defaults): the corpus and the sets are read once through every
  block, for each way to read a text (``last_token``, mean over ``all_tokens``, mean over
  ``sentence_ends``) and, with ``--template``, also through the reading template. Each method is fitted
  on the whole corpus per block and reading, packaged (float16, exactly as the workflow writes it) and
  scored per block. Evaluation texts are read at their last token and, for raw text, also as the mean of
  every token's score (what a server averaging its per-token scores over an utterance gets).
- ``--packages DIR ...``: scores the workflow's packages (e.g. results/readout/*) per packaged layer,
  through their own template if they have one.

Activations are cached by text content under --cache, so a rerun after adding stories reads only the
new texts. Needs the prepared model (``snakemake --cores all prepare_model``).

    python bench/yardstick.py --sweep --template               # about 25 min on 2 cores
    python bench/yardstick.py --packages results/readout/*      # a minute
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors import safe_open
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from amygdala_readout import corpus, model_io
from amygdala_readout.crossval import text_groups
from amygdala_readout.evaluate import accuracy, read_labelled
from amygdala_readout.extract import READINGS, extract
from amygdala_readout.methods import fit
from amygdala_readout.package import Readout, write_package
from amygdala_readout.store import save_tensors

REPO = Path(__file__).resolve().parents[1]
EKMAN = ["anger", "disgust", "fear", "happiness", "sadness", "surprise"]
SETS = {"own": REPO / "data" / "own_emotion_eval.jsonl", "meld_dev": REPO.parent / "shared" / "eval" / "meld_dev.jsonl"}
DEFAULT_TEMPLATE = "Consider the emotion in the following text.\nText: {text}\nThe emotion in this text is"
# two strengths: a grid of 0.001..1 took tens of minutes on MELD and moved the own-set ceiling by 0.013
CEILING_C = (0.003, 0.03)


def read_cached(model, tokenizer, texts: list[str], layers: list[int], cache: Path, max_length: int) -> dict:
    """{reading: {layer: (n, hidden) float64}} for ``texts``; texts already in ``cache`` are not re-read."""
    ids = [corpus.text_id(t) for t in texts]
    stored: dict[str, dict] = {}
    if cache.exists():
        with safe_open(str(cache), framework="numpy") as handle:
            cached_ids = json.loads(handle.metadata()["text_ids"])
            if json.loads(handle.metadata()["layers"]) == layers:
                stored = {cached_ids[i]: i for i in range(len(cached_ids))}
                arrays = {k: handle.get_tensor(k) for k in handle}
    todo = sorted({t: s for t, s in zip(ids, texts) if t not in stored}.items())
    if todo:
        start = time.perf_counter()
        acts = extract(model, tokenizer, [s for _, s in todo], layers, max_length=max_length, progress=True)
        print(f"  read {len(todo)} new texts in {time.perf_counter() - start:.0f} s")
        new = {f"{r}.{layer}": getattr(acts, r)[layer].numpy() for r in READINGS for layer in layers}
        if stored:
            order = list(stored)
            new = {k: np.concatenate([arrays[k], new[k]]) for k in new}
        else:
            order = []
        order += [t for t, _ in todo]
        save_tensors(
            cache,
            {k: torch.from_numpy(v) for k, v in new.items()},
            {"text_ids": json.dumps(order), "layers": json.dumps(layers)},
        )
        stored, arrays = {t: i for i, t in enumerate(order)}, new
    rows = [stored[t] for t in ids]
    return {r: {layer: arrays[f"{r}.{layer}"][rows].astype(np.float64) for layer in layers} for r in READINGS}


def ceiling(acts: np.ndarray, labels: list[str]) -> float:
    """Best 5-fold balanced accuracy over ``CEILING_C`` of a supervised probe on the set itself."""
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    labels = np.asarray(labels)
    best = 0.0
    for c in CEILING_C:
        predicted = np.empty(len(labels), dtype=object)
        for train, test in folds.split(acts, labels):
            model = make_pipeline(
                StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=300, tol=1e-3)
            )
            predicted[test] = model.fit(acts[train], labels[train]).predict(acts[test])
        best = max(best, balanced_accuracy_score(labels, predicted.astype(str)))
    return float(best)


def score_package(package_dir: Path, sets: dict, eval_readings=("last_token", "all_tokens")) -> list[dict]:
    """Balanced accuracy of one package per layer on each set and evaluation reading."""
    readout = Readout(package_dir)
    rows = []
    for name, (labels, acts) in sets.items():
        for reading in eval_readings:
            for layer in readout.layers:
                scores = readout.scores(torch.from_numpy(acts[reading][layer]), layer).numpy()
                rows.append(
                    {
                        "set": name,
                        "eval_reading": reading,
                        "layer": layer,
                        "balanced_accuracy": round(accuracy(scores, labels, readout.concepts)["balanced"], 4),
                    }
                )
    return rows


def load_sets(model, tokenizer, layers, cache_dir: Path, template: str | None, max_length: int) -> dict:
    sets = {}
    for name, path in SETS.items():
        if not path.exists():
            print(f"{path}: not found, skipped")
            continue
        texts, labels = read_labelled(path, "text", "label", {}, EKMAN)
        wrapped = [template.format(text=t) for t in texts] if template else texts
        tag = "template" if template else "raw"
        sets[name] = (
            labels,
            read_cached(model, tokenizer, wrapped, layers, cache_dir / f"{name}_{tag}.safetensors", max_length),
        )
    return sets


def sweep(args, model, tokenizer, layers, model_info) -> None:
    validated = corpus.validate(args.corpus, n_shards=1)
    texts = validated.texts
    ok = set(validated.concepts.concept[validated.concepts.status == "ok"])
    texts = texts[(texts.role == "baseline") | texts.concept.isin(ok)]
    labels = [c if r == "positive" else "" for c, r in zip(texts.concept, texts.role)]
    concepts = sorted(ok)
    scenarios, groups = list(texts.scenario), text_groups(list(texts.scenario), list(texts.source))
    strings = [corpus.read_story(args.corpus, s) for s in texts.source]
    print(f"corpus: {len(strings)} texts, {len(concepts)} concepts, {len(layers)} blocks")
    rows, ceilings = [], []
    templates = ([] if args.template_only else [None]) + ([args.template_text] if args.template else [])
    for template in templates:
        tag = "template" if template else "raw"
        wrapped = [template.format(text=t) for t in strings] if template else strings
        train = read_cached(
            model, tokenizer, wrapped, layers, args.cache / f"corpus_{tag}.safetensors", args.max_length
        )
        sets = load_sets(model, tokenizer, layers, args.cache, template, args.max_length)
        eval_readings = ("last_token",) if template else ("last_token", "all_tokens")
        for name, (set_labels, acts) in sets.items() if args.ceiling else ():
            for reading in eval_readings:
                for layer in layers:
                    ceilings.append(
                        {
                            "template": tag,
                            "set": name,
                            "eval_reading": reading,
                            "layer": layer,
                            "balanced_accuracy": round(ceiling(acts[reading][layer], set_labels), 4),
                        }
                    )
            print(
                f"  ceiling {tag} {name}: "
                f"{max(r['balanced_accuracy'] for r in ceilings if r['set'] == name and r['template'] == tag):.3f}"
            )
        train_readings = ("last_token",) if template else args.train_readings
        for reading in train_readings:
            for method in args.methods:
                start = time.perf_counter()
                vectors, centers, biases = {}, {}, {}
                for layer in layers:
                    acts = train[reading][layer]
                    fitted = fit(method, acts, labels, concepts, scenarios=scenarios, groups=groups)
                    vectors[layer], centers[layer] = fitted.directions, acts.mean(axis=0)
                    if fitted.bias is not None:
                        biases[layer] = fitted.bias
                with tempfile.TemporaryDirectory() as tmp:
                    write_package(tmp, concepts, vectors, centers, {}, biases or None)
                    scored = score_package(Path(tmp), sets, eval_readings)
                for row in scored:
                    rows.append({"template": tag, "train_reading": reading, "method": method, **row})
                best = {s: max(r["balanced_accuracy"] for r in scored if r["set"] == s) for s in sets}
                print(f"  {tag} {reading:13s} {method:16s} best {best} ({time.perf_counter() - start:.0f} s)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table, ceil = pd.DataFrame(rows), pd.DataFrame(ceilings)
    table.to_csv(args.out.with_suffix(".tsv"), sep="\t", index=False)
    ceil.to_csv(args.out.with_name(args.out.name + "_ceiling.tsv"), sep="\t", index=False)
    args.out.with_suffix(".md").write_text(summary(table, ceil, len(strings), model_info))
    print(args.out.with_suffix(".md").read_text())


def summary(table: pd.DataFrame, ceil: pd.DataFrame, n_texts: int, model_info: dict) -> str:
    """Best block per (template, training reading, method, evaluation reading), per set, with the
    ceiling at its own best block; the layer a default would ship is the best by mean over the sets."""
    sets = sorted(table.set.unique())
    lines = [
        f"Model {model_info['spec']} ({model_info['num_layers']} blocks), corpus of {n_texts} texts. "
        "Balanced accuracy, 6 labels (chance 0.167); `@b` = block.",
        "",
        "| template | train reading | method | eval reading | "
        + " | ".join(f"{s} best" for s in sets)
        + " | mean of sets at one block |",
        "|---" * (5 + len(sets)) + "|",
    ]
    keys = ["template", "train_reading", "method", "eval_reading"]
    for key, group in table.groupby(keys, sort=False):
        cells = []
        for s in sets:
            part = group[group.set == s]
            best = part.loc[part.balanced_accuracy.idxmax()]
            cells.append(f"{best.balanced_accuracy:.3f} @{best.layer}")
        mean = group.groupby("layer").balanced_accuracy.mean()
        cells.append(f"{mean.max():.3f} @{mean.idxmax()}")
        lines.append("| " + " | ".join(map(str, key)) + " | " + " | ".join(cells) + " |")
    for key, group in ceil.groupby(["template", "eval_reading"], sort=False) if len(ceil) else ():
        cells = []
        for s in sets:
            part = group[group.set == s]
            best = part.loc[part.balanced_accuracy.idxmax()]
            cells.append(f"{best.balanced_accuracy:.3f} @{best.layer}")
        lines.append(f"| {key[0]} | (supervised on the set) | ceiling | {key[1]} | " + " | ".join(cells) + " | |")
    return "\n".join(lines) + "\n"


def packages(args, model, tokenizer, model_info) -> None:
    rows = []
    for package_dir in args.packages:
        readout = Readout(package_dir)
        template = readout.meta.get("template")
        # every block, as the sweep reads them, so that one cache serves both
        sets = load_sets(model, tokenizer, list(range(model_info["num_layers"])), args.cache, template, args.max_length)
        for row in score_package(package_dir, sets, ("last_token",) if template else READINGS):
            rows.append(
                {
                    "package": str(package_dir),
                    "method": readout.meta.get("method"),
                    "template": "template" if template else "raw",
                    **row,
                }
            )
    table = pd.DataFrame(rows)
    out = args.out.with_name(args.out.name + "_packages")
    table.to_csv(out.with_suffix(".tsv"), sep="\t", index=False)
    lines = [
        "| package | method | eval reading | " + " | ".join(sorted(table.set.unique())) + " |",
        "|---" * (3 + table.set.nunique()) + "|",
    ]
    for (package_dir, method, reading), group in table.groupby(["package", "method", "eval_reading"], sort=False):
        cells = [
            f"{g.balanced_accuracy.max():.3f} @{g.loc[g.balanced_accuracy.idxmax()].layer}"
            for _, g in group.groupby("set")
        ]
        lines.append(f"| {package_dir} | {method} | {reading} | " + " | ".join(cells) + " |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(out.with_suffix(".md").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="fit every method at every block and score it")
    parser.add_argument("--template", action="store_true", help="also sweep reading through the template")
    parser.add_argument("--template-text", default=DEFAULT_TEMPLATE)
    parser.add_argument("--template-only", action="store_true", help="with --template: skip the raw readings")
    parser.add_argument(
        "--no-ceiling",
        dest="ceiling",
        action="store_false",
        help="skip the supervised ceiling (the slow part once activations are cached)",
    )
    parser.add_argument("--packages", nargs="*", type=Path, default=[], help="packages to score")
    parser.add_argument("--methods", nargs="+", default=["pooled", "paired_centered", "lda", "probe"])
    parser.add_argument("--train-readings", nargs="+", default=list(READINGS), choices=READINGS)
    parser.add_argument("--corpus", type=Path, default=REPO / "amygdala_stories")
    parser.add_argument("--model-info", type=Path, default=REPO / "results" / "model" / "model.json")
    parser.add_argument("--cache", type=Path, default=REPO / "results" / "yardstick")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "yardstick")
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model_info = json.loads(args.model_info.read_text())
    model, tokenizer = model_io.load(model_info["load_path"], torch.device("cpu"), torch.float32)
    args.cache.mkdir(parents=True, exist_ok=True)
    layers = list(range(model_info["num_layers"]))
    if args.sweep:
        sweep(args, model, tokenizer, layers, model_info)
    if args.packages:
        packages(args, model, tokenizer, model_info)


if __name__ == "__main__":
    main()
