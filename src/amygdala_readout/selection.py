"""Which method's package is shipped as ``best``: one rule per kind of evidence, ties going to the
simpler method (the order of ``simplest_first``, the registry's)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def choose_method(table: pd.DataFrame, simplest_first: tuple[str, ...]) -> tuple[str, dict[str, float]]:
    """The method with the best mean held-out top-1 accuracy (centred scores) over the layers of
    ``table`` (heldout_accuracy.tsv); a tie goes to the method earlier in ``simplest_first``.
    Returns (method, {method: mean top-1}) in that order."""
    centred = table[table.scoring == "centred"]
    means = centred.groupby("method").top1.mean()
    order = sorted(means.index, key=simplest_first.index)
    means = {m: float(means[m]) for m in order}
    best = max(means.values())
    return next(m for m in order if np.isclose(means[m], best, rtol=0, atol=1e-9)), means


def choose_readout(
    metrics: pd.DataFrame, simplest_first: tuple[str, ...], reading: str = "last_token"
) -> tuple[str, int, dict[str, float]]:
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
