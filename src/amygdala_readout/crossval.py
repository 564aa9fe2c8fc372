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

from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from .methods import fit
from .metrics import confusion_table, top_k, true_ranks
from .package import score


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
    settings: dict | None = None,
) -> pd.DataFrame:
    """Two rows per scored held-out positive, one per scoring ("centred": (h - center)·v + bias, what a
    reader computes; "raw": h·v): fold, text index, concept, scoring, predicted, rank (0 = top-1),
    n_candidates. ``settings``: the method's own config values (``Method.settings``).
    ``attrs["n_unscorable"]`` counts the held-out positives that could not be scored."""
    labels_arr = np.asarray(labels, dtype=object)
    n_splits = min(n_folds, len(set(groups)))
    tables, unscorable = [], 0
    splitter = GroupKFold(n_splits=n_splits)
    for fold, (train, test) in enumerate(splitter.split(last_token, groups=groups)):
        train_labels = list(labels_arr[train])
        # the concepts this fold can fit: a positive and a negative among its training texts
        fitted = [c for c in concepts if c in train_labels and set(train_labels) != {c}]
        if not fitted:
            continue
        result = fit(
            method,
            last_token[train],
            train_labels,
            fitted,
            bases=None if bases is None else [bases[i] for i in train],
            scenarios=None if scenarios is None else [scenarios[i] for i in train],
            groups=[groups[i] for i in train],
            directions_only=True,
            settings=settings or {},
        )
        positives = [t for t in test if labels_arr[t]]  # baselines tell no concept
        scored = [t for t in positives if labels_arr[t] in fitted]
        unscorable += len(positives) - len(scored)
        if not scored:
            continue
        truth = np.array([fitted.index(labels_arr[t]) for t in scored])
        held_out = last_token[scored]
        for scoring, scores in (
            ("centred", score(held_out, result.directions, last_token[train].mean(axis=0), result.bias)),
            ("raw", score(held_out, result.directions)),
        ):
            tables.append(
                pd.DataFrame(
                    {
                        "fold": fold,
                        "text": scored,
                        "concept": labels_arr[scored],
                        "scoring": scoring,
                        "predicted": np.asarray(fitted, dtype=object)[np.argmax(scores, axis=1)],
                        "rank": true_ranks(scores, truth),
                        "n_candidates": len(fitted),
                    }
                )
            )
    columns = ["fold", "text", "concept", "scoring", "predicted", "rank", "n_candidates"]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)
    table.attrs["n_unscorable"] = unscorable
    return table


def accuracy_summary(predictions: pd.DataFrame) -> dict[str, float | int]:
    """top-1 and top-5 accuracy, their chance levels, and counts, of one scoring's predictions."""
    n = len(predictions)
    if n == 0:
        return {
            "top1": float("nan"),
            "top5": float("nan"),
            "chance_top1": float("nan"),
            "chance_top5": float("nan"),
            "n_scored": 0,
            "n_unscorable": predictions.attrs.get("n_unscorable", 0),
        }
    return {
        "top1": top_k(predictions["rank"], 1),
        "top5": top_k(predictions["rank"], 5),
        "chance_top1": float((1 / predictions.n_candidates).mean()),
        "chance_top5": float(np.minimum(5 / predictions.n_candidates, 1).mean()),
        "n_scored": n,
        "n_unscorable": int(predictions.attrs.get("n_unscorable", 0)),
    }


def confusion(predictions: pd.DataFrame) -> pd.DataFrame:
    """Counts of one scoring's predictions: rows = true concept, columns = predicted concept (the
    concepts that occur in either)."""
    names = sorted(set(predictions.concept) | set(predictions.predicted))
    return confusion_table(list(predictions.concept), list(predictions.predicted), names)


class HeldoutTables(NamedTuple):
    """What heldout_accuracy writes: the accuracy table (a row per layer and scoring), each layer's
    centred confusion counts and the same in long form (layer, concept, predicted, count), and the
    layer of best centred top-1 (the first, on a tie)."""

    accuracy: pd.DataFrame
    confusions: dict[int, pd.DataFrame]
    confusion_long: pd.DataFrame
    best_layer: int


def heldout_tables(method: str, predictions: dict[int, pd.DataFrame]) -> HeldoutTables:
    """The tables of one method from each layer's ``heldout_predictions``."""
    rows, confusions = [], {}
    for layer, table in predictions.items():
        for scoring in ("centred", "raw"):
            summary = accuracy_summary(table[table.scoring == scoring])
            rows.append(
                {
                    "method": method,
                    "layer": layer,
                    "scoring": scoring,
                    **{k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()},
                }
            )
        confusions[layer] = confusion(table[table.scoring == "centred"])
    accuracy = pd.DataFrame(rows)
    centred = accuracy[accuracy.scoring == "centred"].reset_index(drop=True)
    best = int(centred.layer[centred.top1.fillna(-1).idxmax()])
    long = pd.concat([m.stack().rename("count").reset_index().assign(layer=layer) for layer, m in confusions.items()])
    return HeldoutTables(accuracy, confusions, long[["layer", "concept", "predicted", "count"]], best)
