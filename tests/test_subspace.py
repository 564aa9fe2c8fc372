import numpy as np
import pytest

from amygdala_readout.extract import text_subspace
from amygdala_readout.methods import fit
from amygdala_readout.subspace import naive_subspace, subspace

CONCEPTS = ["a", "b", "c", "d"]


def random_corpus(hidden: int, n_tokens: int, per_concept: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = [c for c in CONCEPTS for _ in range(per_concept)] + ["", ""]
    tokens = [rng.normal(size=(n_tokens, hidden)) for _ in labels]
    return np.stack([t[-1] for t in tokens]), [text_subspace(t) for t in tokens], labels


@pytest.mark.parametrize(
    ("hidden", "n_tokens", "per_concept"),
    [(96, 12, 2), (48, 20, 3)],
    ids=["bases-span-less-than-hidden", "bases-span-more"],
)
def test_fast_subspace_matches_the_naive_formula(hidden, n_tokens, per_concept):
    last, bases, labels = random_corpus(hidden, n_tokens, per_concept)
    fast_dirs, fast_values = subspace(last, bases, labels, CONCEPTS, eigen_k=5)
    naive_dirs, naive_values = naive_subspace(last, bases, labels, CONCEPTS, eigen_k=5)
    assert fast_values.shape == (4, 20)
    np.testing.assert_allclose(fast_values, naive_values[:, :20], atol=1e-9)
    assert np.all(np.sum(fast_dirs * naive_dirs, axis=1) >= 0.999)
    np.testing.assert_allclose(np.linalg.norm(fast_dirs, axis=1), 1.0)


@pytest.mark.parametrize(
    ("hidden", "n_tokens", "per_concept"), [(160, 20, 2), (100, 30, 3)], ids=["low-rank-operator", "dense-matrix"]
)
def test_lanczos_path_matches_the_naive_formula(hidden, n_tokens, per_concept):
    # hidden > 64 and > 4 x 20 eigenpairs: the top eigenpairs come from eigsh; few basis rows per concept
    # use the low-rank operator in T's eigenbasis, many the dense matrix.
    last, bases, labels = random_corpus(hidden, n_tokens, per_concept, seed=3)
    assert sum(len(b) for b in bases) >= hidden  # the full-dimensional path, not the QR span
    fast_dirs, fast_values = subspace(last, bases, labels, CONCEPTS)
    naive_dirs, naive_values = naive_subspace(last, bases, labels, CONCEPTS)
    np.testing.assert_allclose(fast_values, naive_values[:, :20], atol=1e-9)
    assert np.all(np.sum(fast_dirs * naive_dirs, axis=1) >= 0.999)


def test_text_subspace_is_the_centred_row_space():
    rng = np.random.default_rng(1)
    tokens = rng.normal(size=(6, 10))
    basis = text_subspace(tokens)
    assert basis.shape == (5, 10)  # centring leaves n_tokens - 1 directions; the null one is dropped
    np.testing.assert_allclose(basis @ basis.T, np.eye(5), atol=1e-12)
    centred = tokens - tokens.mean(axis=0)
    np.testing.assert_allclose(centred @ basis.T @ basis, centred, atol=1e-12)  # spans every token
    _, _, vh = np.linalg.svd(centred, full_matrices=False)  # the definition, computed the slow way
    top = text_subspace(tokens, k=2)
    np.testing.assert_allclose(top.T @ top, vh[:2].T @ vh[:2], atol=1e-10)
    tall = rng.normal(size=(30, 8))  # more tokens than dimensions: the other Gram matrix
    basis = text_subspace(tall, k=3)
    _, _, vh = np.linalg.svd(tall - tall.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(basis.T @ basis, vh[:3].T @ vh[:3], atol=1e-10)


def test_subspace_recovers_a_planted_direction_and_orients_it():
    rng = np.random.default_rng(2)
    hidden, planted = 40, np.zeros(40)
    planted[7] = 1.0
    labels, tokens = [], []
    for concept in CONCEPTS:
        for _ in range(3):
            x = rng.normal(size=(15, hidden)) * 0.3
            if concept == "a":  # a's stories vary strongly along the planted direction
                x += np.outer(rng.normal(size=15) * 5, planted)
                x[-1] += 3 * planted
            labels.append(concept)
            tokens.append(x)
    last = np.stack([t[-1] for t in tokens])
    bases = [text_subspace(t, k=3) for t in tokens]  # each text's 3 strongest directions
    top_only = fit("subspace", last, labels, CONCEPTS, bases=bases, settings={"eigen_k": 1})
    assert top_only.directions[0] @ planted > 0.99  # found, and pointing the way the positives go
    assert top_only.eigenvalues[0, 0] > 0.9 and top_only.eigenvalues[0, 1] < 0.5
    weighted = fit("subspace", last, labels, CONCEPTS, bases=bases).directions  # 5 eigenvectors, weighted
    assert np.argmax(np.abs(weighted[0])) == 7 and weighted[0] @ planted > 0.7


def test_float16_storage_changes_directions_by_less_than_1e_4():
    last, bases, labels = random_corpus(64, 30, 2, seed=4)
    exact, _ = subspace(last, bases, labels, CONCEPTS)
    stored, _ = subspace(last, [b.astype(np.float16).astype(np.float32) for b in bases], labels, CONCEPTS)
    assert np.all(np.sum(exact * stored, axis=1) >= 0.9999)
