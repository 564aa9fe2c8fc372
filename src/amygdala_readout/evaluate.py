"""Measuring a readout on labelled text: accuracy of argmax over concept scores."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from .metrics import label_accuracy


def accuracy(scores: np.ndarray, labels: list[str], concepts: list[str]) -> dict:
    """Top-1/top-3 accuracy, balanced accuracy (mean per-label recall: the labels of a real set are
    rarely balanced), per-label recall and confusion (a DataFrame) of argmax over the labels' concepts.

    ``scores`` is (n_texts, n_concepts) over ``concepts``; only the concepts that occur among the labels
    compete, so a 6-label set is a 6-way choice whatever the readout holds.
    """
    names = sorted(set(labels))
    result = label_accuracy(np.asarray(scores)[:, [concepts.index(n) for n in names]], labels, names, k=3)
    return {"labels": names, **result, "chance_top1": 1.0 / len(names)}


class EvaluationTables(NamedTuple):
    """What evaluate_readout writes: metrics (a row per reading, layer and scoring), per-label recall,
    confusion counts in long form, and the confusion tables by (reading, layer, scoring)."""

    metrics: pd.DataFrame
    recall: pd.DataFrame
    confusion: pd.DataFrame
    confusions: dict[tuple[str, int, str], pd.DataFrame]


def evaluation_tables(
    scores: dict[tuple[str, int, str], np.ndarray], labels: list[str], concepts: list[str]
) -> EvaluationTables:
    """The tables of one package on one labelled set, from its scores (n_texts, n_concepts) by
    (reading, layer, scoring)."""
    metrics, recall, long, confusions = [], [], [], {}
    for (reading, layer, scoring), matrix in scores.items():
        result = accuracy(matrix, labels, concepts)
        key = {"reading": reading, "layer": layer, "scoring": scoring}
        metrics.append(
            {**key, "n": result["n"], **{m: round(result[m], 4) for m in ("top1", "top3", "balanced", "chance_top1")}}
        )
        recall += [{**key, "label": label, "recall": round(r, 4)} for label, r in result["recall"].items()]
        counts = result["confusion"]
        long.append(counts.stack().rename("count").reset_index().rename(columns={"concept": "true"}).assign(**key))
        confusions[(reading, layer, scoring)] = counts
    confusion = pd.concat(long)[["reading", "layer", "scoring", "true", "predicted", "count"]]
    return EvaluationTables(pd.DataFrame(metrics), pd.DataFrame(recall), confusion, confusions)
