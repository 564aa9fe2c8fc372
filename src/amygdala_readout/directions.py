"""Fitting one direction per concept and layer from labelled activations."""

from __future__ import annotations

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


def fit(method: str, last_token: np.ndarray, labels: list[str], concepts: list[str], *,
        bases=None, eigen_k: int = 5, n_eigenvalues: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(directions (n_concepts, hidden) unit rows, the subspace method's top eigenvalues or None).

    ``bases`` (each text's token subspace) is needed by ``subspace`` only.
    """
    if method == "pooled":
        return pooled(last_token, labels, concepts), None
    if method == "subspace":
        from .subspace import subspace  # it builds on this module

        return subspace(last_token, bases, labels, concepts, eigen_k=eigen_k, n_eigenvalues=n_eigenvalues)
    raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
