"""Fitting one direction per concept and layer from labelled activations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def positive_masks(labels: list[str], concepts: list[str]) -> np.ndarray:
    """(n_concepts, n_texts) booleans: text j is a positive of concept i. Baselines have label ""."""
    labels_arr = np.asarray(labels, dtype=object)
    return np.stack([labels_arr == concept for concept in concepts])


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("a direction is exactly zero: its positives and negatives have the same mean")
    return matrix / norms


def pooled(activations: np.ndarray, labels: list[str], concepts: list[str]) -> np.ndarray:
    """normalise(mean(positives) - mean(negatives)) per concept, in float64.

    Negatives of a concept are every other text: the other concepts' positives and all baselines.
    ``activations`` is (n_texts, hidden); returns (n_concepts, hidden) unit rows.
    """
    acts = np.asarray(activations, dtype=np.float64)
    masks = positive_masks(labels, concepts)
    counts = masks.sum(axis=1, keepdims=True)
    if np.any(counts == 0) or np.any(counts == len(labels)):
        raise ValueError("every concept needs at least one positive and one negative text")
    pos_sum = masks.astype(np.float64) @ acts
    neg_mean = (acts.sum(axis=0) - pos_sum) / (len(labels) - counts)
    return unit_rows(pos_sum / counts - neg_mean)


METHODS = ("pooled", "subspace")


@dataclass
class Fitted:
    """A method's result for one layer: unit directions (n_concepts, hidden), and what some methods add:
    the subspace method's top eigenvalues (n_concepts, n), a per-concept intercept (n_concepts,)."""

    directions: np.ndarray
    eigenvalues: np.ndarray | None = None
    bias: np.ndarray | None = None


def fit(method: str, last_token: np.ndarray, labels: list[str], concepts: list[str], *,
        bases=None, scenarios: list[str] | None = None, groups: list[str] | None = None,
        eigen_k: int = 5, n_eigenvalues: int | None = None) -> Fitted:
    """Fit ``method`` on one layer's texts. ``labels``: concept per text, "" for a baseline.

    ``bases`` (each text's token subspace) is needed by ``subspace`` only; ``scenarios`` (paired
    scenario per text, "" for a single story) and ``groups`` (cross-validation group per text) are there
    for methods that use them.
    """
    if method == "pooled":
        return Fitted(pooled(last_token, labels, concepts))
    if method == "subspace":
        from .subspace import subspace  # it builds on this module

        directions, eigenvalues = subspace(last_token, bases, labels, concepts, eigen_k=eigen_k,
                                           n_eigenvalues=n_eigenvalues)
        return Fitted(directions, eigenvalues=eigenvalues)
    raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
