"""Which texts are positives of which concept, and the checks every fitting method shares."""

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


def checked_masks(labels: list[str], concepts: list[str]) -> np.ndarray:
    masks = positive_masks(labels, concepts)
    counts = masks.sum(axis=1)
    if np.any(counts == 0) or np.any(counts == len(labels)):
        raise ValueError("every concept needs at least one positive and one negative text")
    return masks


def per_text(values, n_texts: int, what: str, method: str) -> np.ndarray:
    if values is None:
        raise ValueError(f"method {method!r} needs {what}")
    values = np.asarray(values, dtype=object)
    if values.shape != (n_texts,):
        raise ValueError(f"method {method!r}: {what} has {values.shape[0]} entries for {n_texts} texts")
    return values
