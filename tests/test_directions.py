import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from amygdala_readout.directions import lda, pooled
from amygdala_readout.methods import fit
from amygdala_readout.package import PackageError, read_package, write_package


def test_pooled_is_the_normalised_difference_of_means():
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(9, 6)).astype(np.float32)
    labels = ["a", "a", "b", "b", "b", "c", "", "", "c"]
    concepts = ["a", "b", "c"]
    got = pooled(acts, labels, concepts)
    for i, concept in enumerate(concepts):
        pos = [acts[j] for j in range(9) if labels[j] == concept]
        neg = [acts[j] for j in range(9) if labels[j] != concept]  # other concepts and baselines
        diff = np.mean(pos, axis=0) - np.mean(neg, axis=0)
        np.testing.assert_allclose(got[i], diff / np.linalg.norm(diff), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-12)


def test_pooled_recovers_a_planted_direction():
    rng = np.random.default_rng(1)
    direction = rng.normal(size=64)
    direction /= np.linalg.norm(direction)
    labels = ["x"] * 50 + ["y"] * 50
    acts = rng.normal(size=(100, 64)) * 0.1 + 10.0  # a large shared component, as real models have
    acts[:50] += direction
    got = pooled(acts, labels, ["x"])
    assert got[0] @ direction > 0.95


def test_lda_whitens_the_difference_of_means_by_the_within_class_covariance():
    """Noise much stronger along one axis than the planted signal: the mean difference points partly
    along the noise, the discriminant S^-1 (mu_pos - mu_neg) does not, and separates better."""
    rng = np.random.default_rng(2)
    hidden, n = 16, 4000
    mixing = rng.normal(size=(hidden, hidden))
    noise = rng.normal(size=(3 * n, hidden)) @ mixing  # correlated within-class noise, shared by all classes
    labels = ["x"] * n + ["y"] * n + [""] * n
    shift = rng.normal(size=hidden)
    acts = noise + 5.0
    acts[:n] += shift
    acts[n : 2 * n] -= shift
    directions, bias = lda(acts, labels, ["x", "y"])
    covariance = mixing.T @ mixing
    for row, sign in ((0, 1), (1, -1)):
        negatives_mean = (-sign * shift) / 2  # the other concept's shift, averaged with the baselines
        expected = np.linalg.solve(covariance, sign * shift - negatives_mean)
        assert directions[row] @ (expected / np.linalg.norm(expected)) > 0.99

    # better separation than the plain difference of means, in units of within-class spread
    def separation(v):
        return ((acts[:n] @ v).mean() - (acts[n:] @ v).mean()) / (acts[:n] @ v).std()

    assert separation(directions[0]) > separation(pooled(acts, labels, ["x"])[0])
    # the bias puts the threshold halfway between the positives' and the negatives' means
    center = acts.mean(axis=0)
    midpoint = (acts[:n].mean(axis=0) + acts[n:].mean(axis=0)) / 2
    assert (midpoint - center) @ directions[0] + bias[0] == pytest.approx(0, abs=1e-9)
    fitted = fit("lda", acts, labels, ["x", "y"])
    np.testing.assert_allclose(fitted.directions, directions)
    np.testing.assert_allclose(fitted.bias, bias)


def test_package_round_trip_keeps_the_contract(tmp_path):
    rng = np.random.default_rng(2)
    vectors = {3: rng.normal(size=(2, 8)), 1: rng.normal(size=(2, 8))}
    centers = {3: rng.normal(size=8), 1: rng.normal(size=8)}
    write_package(tmp_path, ["anger", "fear"], vectors, centers, {"method": "pooled"})
    meta, tensors = read_package(tmp_path)
    assert {k: meta[k] for k in ("concepts", "layers", "hidden_size", "dtype")} == {
        "concepts": ["anger", "fear"],
        "layers": [1, 3],
        "hidden_size": 8,
        "dtype": "float16",
    }
    assert set(tensors) == {"layer_1.vectors", "layer_3.vectors", "layer_1.center", "layer_3.center"}
    assert tensors["layer_3.vectors"].dtype == torch.float16
    assert tensors["layer_3.center"].dtype == torch.float32
    expected = vectors[3] / np.linalg.norm(vectors[3], axis=1, keepdims=True)
    np.testing.assert_allclose(tensors["layer_3.vectors"].float().numpy(), expected, atol=1e-3)


def test_read_package_rejects_a_broken_contract(tmp_path):
    write_package(tmp_path, ["a"], {0: np.ones((1, 4))}, {0: np.zeros(4)}, {})
    tensors = load_file(tmp_path / "readout.safetensors")
    tensors["layer_0.vectors"] = tensors["layer_0.vectors"].float()
    save_file(tensors, tmp_path / "readout.safetensors")
    with pytest.raises(PackageError, match="float32"):
        read_package(tmp_path)
    meta = json.loads((tmp_path / "readout.json").read_text())
    del meta["hidden_size"]
    (tmp_path / "readout.json").write_text(json.dumps(meta))
    with pytest.raises(PackageError, match="hidden_size"):
        read_package(tmp_path)


def test_a_package_bias_is_added_to_the_centred_scores(tmp_path):
    from amygdala_readout.package import Readout

    rng = np.random.default_rng(3)
    vectors, centers = {5: rng.normal(size=(3, 8))}, {5: rng.normal(size=8)}
    write_package(
        tmp_path, ["a", "b", "c"], vectors, centers, {"method": "probe"}, biases={5: np.array([1.0, -2.0, 0.5])}
    )
    meta, tensors = read_package(tmp_path)
    assert meta["bias_tensors"] == {"5": "layer_5.bias"} and "+ bias" in meta["scoring"]
    readout = Readout(tmp_path)
    h = torch.from_numpy(rng.normal(size=(4, 8))).float()
    unit = vectors[5] / np.linalg.norm(vectors[5], axis=1, keepdims=True)
    expected = (h.numpy() - centers[5]) @ unit.T + np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(readout.scores(h, 5).numpy(), expected, atol=5e-3)
    np.testing.assert_allclose(readout.scores(h, 5, centred=False).numpy(), h.numpy() @ unit.T, atol=5e-3)
