"""The ``subspace`` method: directions from the token subspaces each text spans.

For each text and layer, the text's token activations (real tokens only) are centred and decomposed
(SVD); the top-k right singular vectors V_i (k_i x hidden, orthonormal rows) span what the text varies
along. Per concept c, with P_i = V_iᵀV_i the projector onto that span,

    M_c = mean_{i in pos(c)} P_i  -  mean_{j in neg(c)} P_j

where the negatives are every other text (other concepts' positives and the baselines). The direction
is the eigenvalue-weighted sum of M_c's top ``eigen_k`` eigenvectors, negative eigenvalues clamped to 0,
unit-normed. Each eigenvector's sign is arbitrary, so it is first oriented to agree with the concept's
mean last-token difference (positives minus negatives); without that the sum would be meaningless.

Done fast: Σ P_i over all texts is accumulated once per layer and each concept's negative sum is that
minus its positive sum; the top eigenpairs come from Lanczos (ARPACK ``eigsh``) instead of a full
``eigh``; and when all bases together span fewer dimensions than ``hidden``, everything happens in
that span (a QR basis), so the matrices are small. ``naive_subspace`` is the formula computed the
direct way, kept as the reference for tests and the benchmark.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg
import scipy.sparse.linalg
from threadpoolctl import threadpool_limits

from .masks import positive_masks, unit_rows

REPORTED_EIGENVALUES = 20  # kept per concept for the quality report


def _orient(vectors: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Flip each column so that it has a non-negative dot product with ``reference``."""
    signs = np.where(vectors.T @ reference < 0, -1.0, 1.0)
    return vectors * signs


def _weighted_direction(values: np.ndarray, vectors: np.ndarray, eigen_k: int, reference: np.ndarray) -> np.ndarray:
    """Σ max(λ_j, 0) u_j over the top ``eigen_k`` eigenpairs (descending), oriented along ``reference``.

    If no eigenvalue is positive (the concept's texts span nothing the others don't), the top
    eigenvector alone is used, so every concept still gets a direction.
    """
    top = _orient(vectors[:, :eigen_k], reference)
    weights = np.clip(values[:eigen_k], 0, None)
    if not np.any(weights > 0):
        weights = np.eye(1, len(weights)).ravel()
    direction = top @ weights
    return direction / np.linalg.norm(direction)


def _top_eigenpairs(matrix, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Largest ``n`` eigenvalues (descending) and eigenvectors (columns) of a symmetric matrix, given
    dense or as a ``LinearOperator``."""
    dim = matrix.shape[0]
    if isinstance(matrix, np.ndarray) and dim <= max(64, 4 * n):  # a full eigh beats Lanczos' overhead
        values, vectors = scipy.linalg.eigh(matrix, subset_by_index=[dim - n, dim - 1])
    else:
        start = np.full(dim, 1.0 / np.sqrt(dim))  # a fixed start vector: the same input gives the same output
        # Lanczos does many small matrix-vector products, which BLAS threads only slow down.
        with threadpool_limits(limits=1, user_api="blas"):
            values, vectors = scipy.sparse.linalg.eigsh(matrix, k=n, which="LA", v0=start, tol=1e-10)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


class _ConceptMatrices:
    """M_c = P_c/n_pos - (T - P_c)/n_neg = (1/n_pos + 1/n_neg) P_c - T/n_neg for each concept c of one layer.

    T = Σ_i P_i is accumulated once. A concept whose positives have few basis rows r (2r < d) gets M_c
    as an operator in T's eigenbasis (T = W diag(t) Wᵀ, decomposed once, only when some concept needs
    it), a rank-r update of a diagonal: each product then costs O(d r) instead of O(d²).
    """

    def __init__(self, coords: list[np.ndarray]):
        stacked = np.concatenate(coords, axis=0)
        self.total = stacked.T @ stacked
        self._total_eig: tuple[np.ndarray, np.ndarray] | None = None

    def matrix(self, pos: np.ndarray, n_pos: int, n_neg: int):
        """(dense matrix or LinearOperator, matrix that maps its eigenvectors back, or None)."""
        a, b = 1.0 / n_pos + 1.0 / n_neg, 1.0 / n_neg
        dim = self.total.shape[0]
        if 2 * pos.shape[0] >= dim:
            return a * (pos.T @ pos) - b * self.total, None
        if self._total_eig is None:
            values, vectors = np.linalg.eigh(self.total)
            self._total_eig = (values, vectors)
        t_values, t_vectors = self._total_eig
        low_rank = pos @ t_vectors
        operator = scipy.sparse.linalg.LinearOperator(
            (dim, dim),
            dtype=np.float64,
            matvec=lambda x: a * (low_rank.T @ (low_rank @ x.ravel())) - b * t_values * x.ravel(),
        )
        return operator, t_vectors


def _span_coordinates(bases: Sequence[np.ndarray], hidden: int) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """Every text's basis in coordinates of one orthonormal basis Q of their joint span.

    When the bases together have fewer rows than ``hidden``, Q (hidden x r) comes from a QR of all of
    them and the coordinates are r-dimensional; otherwise Q is None (the identity) and the bases are
    used as they are.
    """
    stacked = np.concatenate(bases, axis=0)
    if stacked.shape[0] >= hidden:
        return None, list(bases)
    q, r = np.linalg.qr(stacked.T)  # stacked.T = Q R, so each basis row in Q's coordinates is a column of R
    bounds = np.cumsum([0] + [len(b) for b in bases])
    return q, [r[:, a:b].T for a, b in zip(bounds[:-1], bounds[1:])]


def subspace(
    last_token: np.ndarray,
    bases: Sequence[np.ndarray],
    labels: list[str],
    concepts: list[str],
    *,
    eigen_k: int = 5,
    n_eigenvalues: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Directions (n_concepts, hidden) and each concept's top eigenvalues (n_concepts, n), fast.

    ``bases[i]`` is text i's ``text_subspace``; ``last_token`` (n_texts, hidden) only orients the
    eigenvectors (see the module docstring). ``n_eigenvalues`` (default 20, never fewer than
    ``eigen_k``): how many eigenpairs to solve for; cross-validation asks for ``eigen_k`` only.
    """
    hidden = last_token.shape[1]
    masks = positive_masks(labels, concepts)
    counts = masks.sum(axis=1)
    n_texts = len(labels)
    q, coords = _span_coordinates([np.asarray(b, dtype=np.float64) for b in bases], hidden)
    matrices = _ConceptMatrices(coords)
    acts = np.asarray(last_token, dtype=np.float64)
    n_eig = min(max(eigen_k, n_eigenvalues or REPORTED_EIGENVALUES), coords[0].shape[1] - 1)
    directions = np.empty((len(concepts), hidden))
    eigenvalues = np.empty((len(concepts), n_eig))
    for ci, mask in enumerate(masks):
        pos = np.concatenate([coords[i] for i in np.flatnonzero(mask)], axis=0)
        matrix, back = matrices.matrix(pos, counts[ci], n_texts - counts[ci])
        values, vectors = _top_eigenpairs(matrix, n_eig)
        vectors = vectors[:, :eigen_k]
        for basis in (back, q):  # into the original coordinates
            if basis is not None:
                vectors = basis @ vectors
        reference = acts[mask].mean(axis=0) - acts[~mask].mean(axis=0)
        directions[ci] = _weighted_direction(values, vectors, eigen_k, reference)
        eigenvalues[ci] = values
    return directions, eigenvalues


def naive_subspace(
    last_token: np.ndarray,
    bases: Sequence[np.ndarray],
    labels: list[str],
    concepts: list[str],
    *,
    eigen_k: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """The same formula computed directly: per concept, build M from every text's projector, full eigh.

    The reference for tests and ``bench/subspace_speed.py``; too slow for real models.
    """
    hidden = last_token.shape[1]
    acts = np.asarray(last_token, dtype=np.float64)
    directions, eigenvalues = [], []
    for concept in concepts:
        pos = [i for i, label in enumerate(labels) if label == concept]
        neg = [i for i, label in enumerate(labels) if label != concept]
        m_pos = np.zeros((hidden, hidden))
        for i in pos:
            m_pos += bases[i].T @ bases[i]
        m_neg = np.zeros((hidden, hidden))
        for j in neg:
            m_neg += bases[j].T @ bases[j]
        values, vectors = np.linalg.eigh(m_pos / len(pos) - m_neg / len(neg))
        values, vectors = values[::-1], vectors[:, ::-1]
        reference = acts[pos].mean(axis=0) - acts[neg].mean(axis=0)
        directions.append(_weighted_direction(values, vectors, eigen_k, reference))
        eigenvalues.append(values[:REPORTED_EIGENVALUES])
    return unit_rows(np.stack(directions)), np.stack(eigenvalues)
