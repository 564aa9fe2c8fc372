"""How well concept scores name the true concept: one implementation for the held-out cross-validation
(``crossval``) and for labelled evaluation sets (``evaluate``). scikit-learn counts the confusion
matrix and the balanced accuracy; top-k comes from each text's rank of its true concept."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, confusion_matrix


def true_ranks(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per row of ``scores`` (n_texts, n_candidates), the rank of column ``truth[i]`` (0 = top-1). Ties
    go to the earlier column, as argmax breaks them."""
    order = np.argsort(-np.asarray(scores), axis=1, kind="stable")
    return np.argmax(order == np.asarray(truth)[:, None], axis=1)


def top_k(ranks: np.ndarray, k: int) -> float:
    return float((np.asarray(ranks) < k).mean())


def confusion_table(truth: list[str], predicted: list[str], names: list[str]) -> pd.DataFrame:
    """Counts: rows = true concept, columns = predicted concept, both in the order of ``names``."""
    counts = confusion_matrix(truth, predicted, labels=names)
    return pd.DataFrame(counts, index=pd.Index(names, name="concept"), columns=pd.Index(names, name="predicted"))


def label_accuracy(scores: np.ndarray, truth: list[str], names: list[str], k: int) -> dict:
    """Top-1 and top-``k`` accuracy, balanced accuracy (mean per-label recall), per-label recall and the
    confusion table of ``scores`` (n_texts, len(names)) against the true names ``truth``."""
    ranks = true_ranks(scores, np.array([names.index(t) for t in truth]))
    predicted = [names[i] for i in np.argmax(scores, axis=1)]
    table = confusion_table(truth, predicted, names)
    present = table.sum(axis=1) > 0
    recall = (np.diag(table) / np.maximum(table.sum(axis=1), 1))[present]
    return {
        "n": len(truth),
        "top1": top_k(ranks, 1),
        f"top{k}": top_k(ranks, k),
        "balanced": float(balanced_accuracy_score(truth, predicted)),
        "recall": {name: float(r) for name, r in recall.items()},
        "confusion": table,
    }


def bootstrap_interval(metric, n: int, reps: int = 1000, seed: int = 0) -> tuple[float, float]:
    """The 95% percentile interval of ``metric(rows)`` over ``reps`` resamples (with replacement) of
    ``n`` rows: ``metric`` takes an index array and returns a float."""
    rng = np.random.default_rng(seed)
    values = [metric(rng.integers(0, n, n)) for _ in range(reps)]
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def stratified_halves(labels: list[str], seed: int = 0) -> np.ndarray:
    """A fixed split of rows into two halves (0 and 1), each label's rows shuffled and dealt
    alternately, so both halves hold every label (the first half one more where a label's count is odd)."""
    rng = np.random.default_rng(seed)
    label_of = np.asarray(labels)
    half = np.empty(len(label_of), dtype=int)
    for label in sorted(set(labels)):
        rows = rng.permutation(np.flatnonzero(label_of == label))
        half[rows] = np.arange(len(rows)) % 2
    return half
