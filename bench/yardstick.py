"""The yardstick: how well readout packages read emotion in text nobody here wrote.

Every figure is scored from a package alone, as a server would: (h - center)·v + bias over the
package's rows, at the package's ``best_layer`` (chosen by ``select_readout`` on the own set, never on
the sets below), read at the last token and as the mean of every token's score. Sets:

- ``own_basic`` / ``own_fine``: data/own_eval_basic.jsonl (the six basic emotions, six-way) and
  data/own_eval_fine.jsonl (the other 82 concepts, 82-way), written for this project apart from the
  corpus, in registers the corpus does not use (bench/RESULTS.md records their hashes);
- ``meld_dev``: ../shared/eval/meld_dev.jsonl (MELD dev, TV dialogue, six labels; GPL-3.0, read from
  ../shared, never copied);
- ``goemotions_tune`` / ``goemotions_report``: the two fixed halves (bench/goemotions_split.tsv, by
  ``id``, stratified) of ../shared/eval/goemotions_dev.jsonl (Reddit comments, 27 of our concepts;
  Apache-2.0). Choices (methods, layers, settings) are made on the tuning half; targets are reported
  on the report half.

Per set: balanced accuracy over the set's labels (k-way) with a bootstrap 95% interval, recall per
label, and the 88-way view a server shows (is the true concept top-1 / in the top 5 of all the
package's concepts?). Beside each figure, two references on the same texts:

- ``lexical``: TF-IDF of word 1-2-grams + logistic regression trained on the corpus texts (stories and
  framings) of the set's labels (of every concept for the 88-way view), no language model, the better
  of C = 1 and 10 on each set (in its favour). It moves when the corpus moves. The package's lead over
  it (``gap``) is what shows that the vectors read emotion rather than scene words.
- ``ceiling``: a supervised logistic probe on the set's own texts at the package's layers (the best
  layer and L2 strength): 5-fold on own and MELD, trained on the other half for a GoEmotions half.

    python bench/yardstick.py --packages results/readout/best    # ~15 min on 2 cores, cached after
    python bench/yardstick.py --sweep --template                  # the evidence behind the defaults

Activations are cached by text content under --cache, so a rerun reads only new texts. Needs the
prepared model (``snakemake --cores all prepare_model``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors import safe_open
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from amygdala_readout import corpus, model_io
from amygdala_readout.crossval import text_groups
from amygdala_readout.evaluate import accuracy
from amygdala_readout.extract import READINGS, extract
from amygdala_readout.methods import fit
from amygdala_readout.metrics import bootstrap_interval, stratified_halves, top_k, true_ranks
from amygdala_readout.package import Readout, write_package
from amygdala_readout.store import save_tensors

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "eval"
EKMAN = ["anger", "disgust", "fear", "happiness", "sadness", "surprise"]
SPLIT = REPO / "bench" / "goemotions_split.tsv"
# name: (path, half of the GoEmotions split or None for the whole file)
SETS = {
    "own_basic": (REPO / "data" / "own_eval_basic.jsonl", None),
    "own_fine": (REPO / "data" / "own_eval_fine.jsonl", None),
    "meld_dev": (SHARED / "meld_dev.jsonl", None),
    "goemotions_tune": (SHARED / "goemotions_dev.jsonl", "tune"),
    "goemotions_report": (SHARED / "goemotions_dev.jsonl", "report"),
}
SWEEP_SETS = ("own_basic", "meld_dev")  # the six-way sets the layer/method sweep scores
TINY_LABEL = 10  # labels with fewer lines than this in a set are flagged beside their recall
DEFAULT_TEMPLATE = "Consider the emotion in the following text.\nText: {text}\nThe emotion in this text is"
# two strengths: a grid of 0.001..1 took tens of minutes on MELD and moved the own-set ceiling by 0.013
CEILING_C = (0.003, 0.03)
LEXICAL_C = (1.0, 10.0)


def read_cached(model, tokenizer, texts: list[str], layers: list[int], cache: Path, max_length: int) -> dict:
    """{reading: {layer: (n, hidden) float64}} for ``texts``; texts already in ``cache`` are not re-read."""
    ids = [corpus.text_id(t) for t in texts]
    stored: dict[str, dict] = {}
    if cache.exists():
        with safe_open(str(cache), framework="numpy") as handle:
            cached_ids = json.loads(handle.metadata()["text_ids"])
            if json.loads(handle.metadata()["layers"]) == layers:
                stored = {cached_ids[i]: i for i in range(len(cached_ids))}
                arrays = {k: handle.get_tensor(k) for k in handle.keys()}
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


def read_set(name: str) -> tuple[list[str], list[str]] | None:
    """Texts and labels of one set (its half, for a GoEmotions half), or None when its file is absent."""
    path, half = SETS[name]
    if not path.exists():
        print(f"{path}: not found, {name} skipped")
        return None
    table = pd.read_json(path, lines=True)
    if half is not None:
        split = pd.read_csv(SPLIT, sep="\t", dtype=str)
        table = table[table["id"].isin(split.id[split.half == half])]
    return list(table.text), list(table.label)


def write_split(path: Path = SPLIT) -> None:
    """The fixed halves of GoEmotions dev (emotional and neutral lines), stratified by label: written
    once and committed, so every later measurement uses the same halves."""
    rows = []
    for name in ("goemotions_dev.jsonl", "goemotions_dev_neutral.jsonl"):
        table = pd.read_json(SHARED / name, lines=True, dtype={"id": str})
        halves = stratified_halves(list(table.label), seed=26)
        rows += [{"id": i, "half": ("tune", "report")[h]} for i, h in zip(table["id"], halves)]
    pd.DataFrame(rows).sort_values("id").to_csv(path, sep="\t", index=False)


def load_sets(
    model, tokenizer, layers, cache_dir: Path, template: str | None, max_length: int, names, dtype: str = "float32"
) -> dict:
    """{name: (labels, {reading: {layer: activations}})} of the sets ``names`` that exist."""
    sets = {}
    for name in names:
        read = read_set(name)
        if read is None:
            continue
        texts, labels = read
        wrapped = [template.format(text=t) for t in texts] if template else texts
        tag = ("template" if template else "raw") + ("" if dtype == "float32" else f"_{dtype}")
        cache = cache_dir / f"{name}_{tag}.safetensors"
        sets[name] = (labels, read_cached(model, tokenizer, wrapped, layers, cache, max_length))
    return sets


def corpus_positives(corpus_dir: Path) -> tuple[list[str], list[str]]:
    """The corpus texts (stories and framings) and their concepts: what the lexical baseline learns."""
    validated = corpus.validate(corpus_dir, n_shards=1)
    positives = validated.texts[validated.texts.role == "positive"]
    return [corpus.read_story(corpus_dir, s) for s in positives.source], list(positives.concept)


def lexical_scores(train: tuple[list[str], list[str]], texts: list[str], classes: list[str], c: float) -> np.ndarray:
    """(len(texts), len(classes)) log-probabilities of TF-IDF (word 1-2-grams) + logistic regression
    trained on the corpus texts of ``classes``."""
    keep = [i for i, label in enumerate(train[1]) if label in classes]
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2))
    features = vectorizer.fit_transform([train[0][i] for i in keep])
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    model.fit(features, [train[1][i] for i in keep])
    scores = model.predict_log_proba(vectorizer.transform(texts))
    return scores[:, [list(model.classes_).index(name) for name in classes]]


def view(scores: np.ndarray, labels: list[str], concepts: list[str]) -> dict:
    """k-way balanced accuracy (over the labels present, with its bootstrap 95% interval), recall per
    label, and the rank of each text's true concept among all ``concepts`` (the 88-way view)."""
    names = sorted(set(labels))
    columns = [concepts.index(n) for n in names]
    truth = np.array([names.index(label) for label in labels])
    predicted = np.asarray(scores)[:, columns].argmax(axis=1)
    ranks = true_ranks(scores, np.array([concepts.index(label) for label in labels]))

    def balanced(rows):
        with warnings.catch_warnings():  # a resample can miss a label that a prediction names
            warnings.simplefilter("ignore", UserWarning)
            return balanced_accuracy_score(truth[rows], predicted[rows])

    recall = {n: float((predicted[truth == i] == i).mean()) for i, n in enumerate(names)}
    return {
        "balanced": balanced(np.arange(len(labels))),
        "interval": bootstrap_interval(balanced, len(labels)),
        "recall": recall,
        "top1": top_k(ranks, 1),
        "top5": top_k(ranks, 5),
        "top5_interval": bootstrap_interval(lambda rows: top_k(ranks[rows], 5), len(labels)),
    }


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
        sets = load_sets(model, tokenizer, layers, args.cache, template, args.max_length, SWEEP_SETS)
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


def probe_ceiling(train_acts, train_labels, test_acts, test_labels) -> float:
    """Balanced accuracy on the test texts of a probe trained on other texts, the better of ``CEILING_C``."""
    best = 0.0
    for c in CEILING_C:
        model = make_pipeline(
            StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=300, tol=1e-3)
        )
        predicted = model.fit(train_acts, train_labels).predict(test_acts)
        best = max(best, balanced_accuracy_score(test_labels, predicted))
    return float(best)


def set_ceiling(name: str, sets: dict, reading: str, layers: list[int]) -> float:
    """The probe ceiling of one set at its best layer: trained on the other half for a GoEmotions half,
    5-fold on the set otherwise."""
    labels, acts = sets[name]
    other = {"goemotions_tune": "goemotions_report", "goemotions_report": "goemotions_tune"}.get(name)
    if other is None:
        return max(ceiling(acts[reading][layer], labels) for layer in layers)
    train_labels, train_acts = sets[other]
    return max(
        probe_ceiling(train_acts[reading][layer], train_labels, acts[reading][layer], labels) for layer in layers
    )


def own_set_layer(readout: Readout, sets: dict) -> int:
    """The layer ``select_readout`` would ship for a package that records none: the best mean balanced
    accuracy over the own set's parts, the texts read as the package was fitted (never MELD or GoEmotions)."""
    own = [name for name in ("own_basic", "own_fine") if name in sets]
    reading = readout.meta.get("read_at") or "last_token"

    def mean_balanced(layer):
        scores = {n: readout.scores(torch.from_numpy(sets[n][1][reading][layer]), layer).numpy() for n in own}
        return np.mean([view(scores[n], sets[n][0], readout.concepts)["balanced"] for n in own])

    return max(readout.layers, key=mean_balanced) if own else readout.layers[len(readout.layers) // 2]


def packages(args, model, tokenizer, model_info) -> None:
    """The yardstick table of each package in ``args.packages``: per set and evaluation reading, the
    package at its best layer beside the lexical baseline and the probe ceiling."""
    train = corpus_positives(args.corpus)
    lexical_cache: dict = {}
    ceilings: dict = {}
    rows, recalls, kinds = [], [], []
    for package_dir in args.packages:
        readout = Readout(package_dir)
        template = readout.meta.get("template")
        sets = load_sets(model, tokenizer, readout.layers, args.cache, template, args.max_length, SETS, args.dtype)
        layer = readout.meta.get("best_layer") or own_set_layer(readout, sets)
        for name, (labels, acts) in sets.items():
            if name not in lexical_cache:
                texts = read_set(name)[0]
                names = sorted(set(labels))
                lexical_cache[name] = [
                    (
                        view(lexical_scores(train, texts, names, c), labels, names),
                        view(lexical_scores(train, texts, readout.concepts, c), labels, readout.concepts),
                    )
                    for c in LEXICAL_C
                ]
            k_way = max((v for v, _ in lexical_cache[name]), key=lambda v: v["balanced"])
            all_way = max((v for _, v in lexical_cache[name]), key=lambda v: v["top5"])
            for reading in READINGS:
                scores = readout.scores(torch.from_numpy(acts[reading][layer]), layer).numpy()
                got = view(scores, labels, readout.concepts)
                key = (name, reading, tuple(readout.layers))
                if key not in ceilings:  # the same for every package read at these layers
                    ceilings[key] = set_ceiling(name, sets, reading, readout.layers) if args.ceiling else float("nan")
                ceil = ceilings[key]
                rows.append(
                    {
                        "package": str(package_dir),
                        "method": readout.meta.get("method"),
                        "set": name,
                        "labels": len(set(labels)),
                        "n": len(labels),
                        "eval_reading": reading,
                        "layer": layer,
                        "balanced": got["balanced"],
                        "low": got["interval"][0],
                        "high": got["interval"][1],
                        "lexical": k_way["balanced"],
                        "gap": got["balanced"] - k_way["balanced"],
                        "ceiling": ceil,
                        "top1_88": got["top1"],
                        "top5_88": got["top5"],
                        "top5_low": got["top5_interval"][0],
                        "top5_high": got["top5_interval"][1],
                        "lexical_top5_88": all_way["top5"],
                    }
                )
                counts = pd.Series(labels).value_counts()
                recalls += [
                    {
                        "package": str(package_dir),
                        "set": name,
                        "eval_reading": reading,
                        "label": label,
                        "n": int(counts[label]),
                        "recall": got["recall"][label],
                        "lexical_recall": k_way["recall"][label],
                        "tiny": bool(counts[label] < TINY_LABEL),
                    }
                    for label in sorted(got["recall"])
                ]
            print(f"  {package_dir} {name}: done")
        kinds += by_kind(package_dir, readout, sets, layer, train)
    out = args.out.with_name(args.out.name + "_report")
    table, recall = pd.DataFrame(rows).round(4), pd.DataFrame(recalls).round(4)
    table.to_csv(out.with_suffix(".tsv"), sep="\t", index=False)
    recall.to_csv(out.with_name(out.name + "_recall.tsv"), sep="\t", index=False)
    pd.DataFrame(kinds).round(4).to_csv(out.with_name(out.name + "_kind.tsv"), sep="\t", index=False)
    out.with_suffix(".md").write_text(report_markdown(table, recall))
    print(out.with_suffix(".md").read_text())


def by_kind(package_dir: Path, readout: Readout, sets: dict, layer: int, train) -> list[dict]:
    """The own set's lines that name their feeling and those that leave it implied, apart: k-way
    balanced accuracy of the package (read as fitted, and at the last token) and of the lexical
    baseline (the better C on the whole set), on each kind."""
    rows = []
    for name in ("own_basic", "own_fine"):
        if name not in sets:
            continue
        labels, acts = sets[name]
        named = np.array(pd.read_json(SETS[name][0], lines=True)["named"], dtype=bool)
        texts, classes = read_set(name)[0], sorted(set(labels))
        lexical = max(
            (lexical_scores(train, texts, classes, c) for c in LEXICAL_C),
            key=lambda scores: view(scores, labels, classes)["balanced"],
        )
        readings = dict.fromkeys([readout.meta.get("read_at") or "last_token", "last_token"])
        for kind, rows_of_kind in (("named", named), ("implied", ~named)):
            subset = [label for label, keep in zip(labels, rows_of_kind) if keep]
            row = {"package": str(package_dir), "set": name, "kind": kind, "n": int(rows_of_kind.sum())}
            for reading in readings:
                scores = readout.scores(torch.from_numpy(acts[reading][layer]), layer).numpy()
                row[f"package_{reading}"] = view(scores[rows_of_kind], subset, readout.concepts)["balanced"]
            row["lexical"] = view(lexical[rows_of_kind], subset, classes)["balanced"]
            rows.append(row)
    return rows


def report_markdown(table: pd.DataFrame, recall: pd.DataFrame) -> str:
    lines = [
        "| package | set | labels | n | eval reading | @layer | package k-way balanced [95%] | lexical | **gap** | "
        "ceiling | 88-way top-1 | 88-way top-5 [95%] | lexical top-5 |",
        "|---" * 13 + "|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {Path(r.package).name} ({r.method}) | {r.set} | {r.labels} | {r.n} | {r.eval_reading} | {r.layer} | "
            f"{r.balanced:.3f} [{r.low:.3f}, {r.high:.3f}] | {r.lexical:.3f} | **{r.gap:+.3f}** | {r.ceiling:.3f} | "
            f"{r.top1_88:.3f} | {r.top5_88:.3f} [{r.top5_low:.3f}, {r.top5_high:.3f}] | {r.lexical_top5_88:.3f} |"
        )
    report = recall[(recall.set == "goemotions_report") & (recall.eval_reading == "last_token")]
    if len(report):
        lines += [
            "",
            "Recall per label, GoEmotions report half, last token (* = fewer than "
            f"{TINY_LABEL} lines: read with care):",
            "",
            "| package | label | n | recall | lexical recall |",
            "|---|---|---|---|---|",
        ]
        for r in report.itertuples():
            lines.append(
                f"| {Path(r.package).name} | {r.label}{' *' if r.tiny else ''} | {r.n} | {r.recall:.2f} | "
                f"{r.lexical_recall:.2f} |"
            )
    return "\n".join(lines) + "\n"


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
    parser.add_argument("--write-split", action="store_true", help="write bench/goemotions_split.tsv (once)")
    parser.add_argument("--packages", nargs="*", type=Path, default=[], help="packages to score")
    parser.add_argument("--methods", nargs="+", default=["pooled", "paired_centered", "lda", "probe"])
    parser.add_argument("--train-readings", nargs="+", default=list(READINGS), choices=READINGS)
    parser.add_argument("--corpus", type=Path, default=REPO / "amygdala_stories")
    parser.add_argument("--model-info", type=Path, default=REPO / "results" / "model" / "model.json")
    parser.add_argument("--cache", type=Path, default=REPO / "results" / "yardstick")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "yardstick")
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--dtype",
        choices=["package", "float32", "bfloat16"],
        default="package",
        help="the model's dtype while reading the sets: the first package's extraction_dtype by default",
    )
    args = parser.parse_args()
    if args.dtype == "package":
        recorded = [Readout(p).meta.get("extraction_dtype") for p in args.packages[:1]]
        args.dtype = (recorded[0] if recorded else None) or "float32"
    if args.write_split:
        write_split()
        return
    torch.set_num_threads(args.threads)
    model_info = json.loads(args.model_info.read_text())
    model, tokenizer = model_io.load(model_info["load_path"], torch.device("cpu"), getattr(torch, args.dtype))
    args.cache.mkdir(parents=True, exist_ok=True)
    layers = list(range(model_info["num_layers"]))
    if args.sweep:
        sweep(args, model, tokenizer, layers, model_info)
    if args.packages:
        packages(args, model, tokenizer, model_info)


if __name__ == "__main__":
    main()
