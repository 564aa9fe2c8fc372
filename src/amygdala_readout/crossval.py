"""Held-out accuracy: does a method's readout recognise concepts in texts it was not fitted on?

Cross-validation is grouped so that nothing about a held-out text leaks into the fit: all tellings of
one paired scenario (its framings and its baseline, which share their events) fall in one fold, and
each single story is its own group. Each fold fits the method on the other folds, centres on their
mean activation, and classifies every held-out positive text by the argmax of its centred scores
(h - center)·v (+ the method's bias) over the concepts fitted in that fold; raw scores h·v are
classified too, to show what centring is worth. A held-out text whose concept has no positive
left in the training folds (a concept told by one story only) cannot be recognised by any method;
it is left out and counted in ``n_unscorable``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from .methods import fit


def text_groups(scenarios: list[str], sources: list[str]) -> list[str]:
    """A text's group: its paired scenario, else its own story file."""
    return [f"scenario:{s}" if s else f"story:{src}" for s, src in zip(scenarios, sources)]


def heldout_predictions(
    method: str,
    last_token: np.ndarray,
    labels: list[str],
    concepts: list[str],
    groups: list[str],
    *,
    n_folds: int = 5,
    bases=None,
    scenarios: list[str] | None = None,
    eigen_k: int = 5,
) -> pd.DataFrame:
    """Two rows per scored held-out positive, one per scoring ("centred": (h - center)·v + bias, what a
    reader computes; "raw": h·v): fold, text index, concept, scoring, predicted, rank (0 = top-1),
    n_candidates. ``attrs["n_unscorable"]`` counts the held-out positives that could not be scored."""
    labels_arr = np.asarray(labels, dtype=object)
    n_splits = min(n_folds, len(set(groups)))
    rows, unscorable = [], 0
    splitter = GroupKFold(n_splits=n_splits)
    for fold, (train, test) in enumerate(splitter.split(last_token, groups=groups)):
        train_labels = list(labels_arr[train])
        # the concepts this fold can fit: a positive and a negative among its training texts
        fitted = [c for c in concepts if c in train_labels and set(train_labels) != {c}]
        if not fitted:
            continue
        result = fit(
            method, last_token[train], train_labels, fitted,
            bases=None if bases is None else [bases[i] for i in train],
            scenarios=None if scenarios is None else [scenarios[i] for i in train],
            groups=[groups[i] for i in train], eigen_k=eigen_k, n_eigenvalues=eigen_k,
        )
        bias = 0.0 if result.bias is None else result.bias
        center = last_token[train].mean(axis=0)
        index = {c: i for i, c in enumerate(fitted)}
        for t in test:
            label = labels_arr[t]
            if not label:
                continue  # baselines tell no concept
            if label not in index:
                unscorable += 1
                continue
            centred = result.directions @ (last_token[t] - center) + bias  # what a reader computes
            for scoring, scores in (("centred", centred), ("raw", result.directions @ last_token[t])):
                order = np.argsort(-scores)
                rank = int(np.flatnonzero(order == index[label])[0])
                rows.append((fold, int(t), label, scoring, fitted[order[0]], rank, len(fitted)))
    table = pd.DataFrame(rows, columns=["fold", "text", "concept", "scoring", "predicted", "rank", "n_candidates"])
    table.attrs["n_unscorable"] = unscorable
    return table


def accuracy_summary(predictions: pd.DataFrame) -> dict[str, float | int]:
    """top-1 and top-5 accuracy, their chance levels, and counts, of one scoring's predictions."""
    n = len(predictions)
    if n == 0:
        return {"top1": float("nan"), "top5": float("nan"), "chance_top1": float("nan"),
                "chance_top5": float("nan"), "n_scored": 0, "n_unscorable": predictions.attrs.get("n_unscorable", 0)}
    return {
        "top1": float((predictions["rank"] == 0).mean()),
        "top5": float((predictions["rank"] < 5).mean()),
        "chance_top1": float((1 / predictions.n_candidates).mean()),
        "chance_top5": float(np.minimum(5 / predictions.n_candidates, 1).mean()),
        "n_scored": n,
        "n_unscorable": int(predictions.attrs.get("n_unscorable", 0)),
    }


def confusion(predictions: pd.DataFrame) -> pd.DataFrame:
    """Counts of one scoring's predictions: rows = true concept, columns = predicted concept (the
    concepts that occur in either)."""
    names = sorted(set(predictions.concept) | set(predictions.predicted))
    return pd.crosstab(
        pd.Categorical(predictions.concept, categories=names),
        pd.Categorical(predictions.predicted, categories=names),
        rownames=["concept"], colnames=["predicted"], dropna=False,
    )


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
