"""Measuring a readout on labelled text: accuracy of argmax over concept scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import UserError


class EvaluationError(UserError):
    """A labelled data set that cannot be evaluated as configured."""


def read_table(path: str | Path, columns: list[str]) -> pd.DataFrame:
    """A labelled data set from .jsonl, .tsv or .csv, checked to have ``columns`` and no empty text."""
    path = Path(path)
    readers = {".jsonl": lambda p: pd.read_json(p, lines=True, dtype=False),
               ".tsv": lambda p: pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False),
               ".csv": lambda p: pd.read_csv(p, dtype=str, keep_default_na=False)}
    if path.suffix not in readers:
        raise EvaluationError(f"{path}: unknown format; use .jsonl, .tsv or .csv")
    if not path.is_file():
        raise EvaluationError(f"{path}: file not found; fix `path` of this evaluation in config.yaml")
    table = readers[path.suffix](path)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise EvaluationError(f"{path}: no column {missing}; it has {list(table.columns)} (set text_column/label_column)")
    empty = sum(not str(t).strip() for t in table[columns[0]])
    if empty:
        raise EvaluationError(f"{path}: {empty} empty text(s); remove those rows")
    return table


def read_labelled(path: str | Path, text_column: str, label_column: str, label_map: dict[str, str],
                  concepts: list[str]) -> tuple[list[str], list[str]]:
    """Texts and their concept labels; labels go through ``label_map`` and must all be concepts."""
    table = read_table(path, [text_column, label_column])
    labels = [label_map.get(str(label), str(label)) for label in table[label_column]]
    unknown = sorted(set(labels) - set(concepts))
    if unknown:
        raise EvaluationError(
            f"{path}: labels {unknown} match no concept of the readout; map them with `label_map` "
            "(label: concept) or drop those rows"
        )
    return [str(t) for t in table[text_column]], labels


def accuracy(scores: np.ndarray, labels: list[str], concepts: list[str]) -> dict:
    """Top-1/top-3 accuracy, balanced accuracy (mean per-label recall: the labels of a real set are
    rarely balanced), per-label recall and confusion of argmax over the labels' concepts.

    ``scores`` is (n_texts, n_concepts) over ``concepts``; only the concepts that occur among the labels
    compete, so a 6-label set is a 6-way choice whatever the readout holds.
    """
    names = sorted(set(labels))
    columns = [concepts.index(n) for n in names]
    sub = np.asarray(scores)[:, columns]
    truth = np.array([names.index(label) for label in labels])
    ranking = np.argsort(-sub, axis=1)
    top1 = ranking[:, 0] == truth
    top3 = (ranking[:, :3] == truth[:, None]).any(axis=1)
    confusion = np.zeros((len(names), len(names)), dtype=int)
    np.add.at(confusion, (truth, ranking[:, 0]), 1)
    recall = {n: float(confusion[i, i] / confusion[i].sum()) for i, n in enumerate(names)}
    return {"labels": names, "n": len(labels), "top1": float(top1.mean()), "top3": float(top3.mean()),
            "balanced": float(np.mean(list(recall.values()))), "recall": recall, "confusion": confusion,
            "chance_top1": 1.0 / len(names)}


def choose_readout(metrics: pd.DataFrame, simplest_first: tuple[str, ...],
                   reading: str = "last_token") -> tuple[str, int, dict[str, float]]:
    """The method and layer that read the evaluation sets best: ``metrics`` holds the rows of every
    set's metrics.tsv with a ``method`` column; per method and layer, the mean over the sets of the
    balanced accuracy (centred scores, what a server computes, with the evaluation texts read as
    ``reading``, the way the directions were fitted); each method at its best layer; the best
    method, a tie going to the one earlier in ``simplest_first``.
    Returns (method, layer, {method: its best mean balanced accuracy}) in that order."""
    rows = metrics[(metrics.scoring == "centred") & (metrics.reading == reading)]
    per_layer = rows.groupby(["method", "layer"]).balanced.mean()
    order = sorted(per_layer.index.get_level_values("method").unique(), key=simplest_first.index)
    best = {m: (float(per_layer[m].max()), int(per_layer[m].idxmax())) for m in order}
    top = max(score for score, _ in best.values())
    method = next(m for m in order if np.isclose(best[m][0], top, rtol=0, atol=1e-9))
    return method, best[method][1], {m: score for m, (score, _) in best.items()}


def plot_confusions(confusions: dict[tuple[int, str], np.ndarray], names: list[str], path: str | Path,
                    title: str) -> None:
    """One heatmap per (layer, scoring), rows = true label, columns = predicted; saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted(confusions)
    layers = sorted({k[0] for k in keys})
    scorings = sorted({k[1] for k in keys})
    size = 0.45 * len(names) + 1.5
    fig, axes = plt.subplots(len(scorings), len(layers), figsize=(size * len(layers), size * len(scorings)),
                             squeeze=False)
    for (layer, scoring), matrix in confusions.items():
        ax = axes[scorings.index(scoring)][layers.index(layer)]
        ax.imshow(matrix, cmap="Blues")
        for (i, j), count in np.ndenumerate(matrix):
            if count:
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        acc = np.trace(matrix) / matrix.sum()
        ax.set_title(f"layer {layer}, {scoring}: top-1 {acc:.2f}", fontsize=8)
        ax.set_xlabel("predicted", fontsize=7)
        ax.set_ylabel("true", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
