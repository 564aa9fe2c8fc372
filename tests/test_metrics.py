"""One scoring formula and one metrics implementation, shared by cross-validation, evaluation sets and
the reference reader."""

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import PLANTED_CONCEPTS as CONCEPTS
from conftest import planted_corpus

from amygdala_readout.crossval import heldout_predictions, heldout_tables, text_groups
from amygdala_readout.evaluate import evaluation_tables
from amygdala_readout.metrics import confusion_table, label_accuracy, top_k, true_ranks
from amygdala_readout.package import Readout, score, write_package


def test_ranks_follow_the_scores_and_ties_go_to_the_earlier_column():
    scores = np.array(
        [
            [0.1, 0.9, 0.5],
            [2.0, 2.0, 1.0],  # a tie: column 0 counts as above column 1, as argmax has it
            [2.0, 2.0, 1.0],
            [-1.0, -3.0, -2.0],
        ]
    )
    ranks = true_ranks(scores, np.array([2, 0, 1, 1]))
    assert ranks.tolist() == [1, 0, 1, 2]
    assert top_k(ranks, 1) == 0.25 and top_k(ranks, 2) == 0.75 and top_k(ranks, 3) == 1.0


def test_confusion_rows_are_the_truth_and_unused_names_stay_as_zeros():
    table = confusion_table(["a", "a", "b"], ["a", "c", "c"], ["a", "b", "c"])
    assert table.values.tolist() == [[1, 0, 1], [0, 0, 1], [0, 0, 0]]
    assert table.index.name == "concept" and table.columns.name == "predicted"


def test_balanced_accuracy_is_the_mean_recall_of_the_labels_present():
    names = ["a", "b", "c"]
    scores = np.eye(3)[[0, 0, 0, 1, 0]]  # predicted a, a, a, b, a
    result = label_accuracy(scores, ["a", "a", "a", "b", "b"], names, k=2)
    assert result["recall"] == {"a": 1.0, "b": 0.5}  # c is never the truth: no recall, not a zero
    assert result["balanced"] == pytest.approx(0.75) and result["top1"] == pytest.approx(0.8)


def test_numpy_and_torch_scores_agree_with_the_reader(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    center, bias, hidden = rng.normal(size=8), rng.normal(size=3), rng.normal(size=(5, 8))
    write_package(tmp_path, ["a", "b", "c"], {4: vectors}, {4: center}, {}, {4: bias})
    reader = Readout(tmp_path)
    stored = reader.tensors["layer_4.vectors"].double().numpy()  # fp16 in the package
    expected = (hidden - center) @ stored.T + bias
    assert np.allclose(score(hidden, stored, center, bias), expected)
    assert np.allclose(reader.scores(torch.from_numpy(hidden), 4).numpy(), expected, atol=1e-5)
    assert np.allclose(reader.scores(torch.from_numpy(hidden), 4, centred=False).numpy(), hidden @ stored.T, atol=1e-5)


def test_cross_validation_scores_as_the_package_does():
    """Each held-out text's predicted concept is the argmax of (h - center)·v over its fold's fit."""
    acts, labels, scenarios, sources = planted_corpus(noise=2.0)  # noisy enough to make mistakes
    groups = text_groups(scenarios, sources)
    predictions = heldout_predictions("pooled", acts, labels, CONCEPTS, groups, n_folds=5)
    from sklearn.model_selection import GroupKFold

    from amygdala_readout.methods import fit

    for fold, (train, _test) in enumerate(GroupKFold(n_splits=5).split(acts, groups=groups)):
        fitted = fit("pooled", acts[train], [labels[i] for i in train], CONCEPTS)
        rows = predictions[(predictions.fold == fold) & (predictions.scoring == "centred")]
        for row in rows.itertuples():
            scores = fitted.directions @ (acts[row.text] - acts[train].mean(axis=0))
            assert row.predicted == CONCEPTS[int(np.argmax(scores))]
            assert row.rank == int((scores > scores[CONCEPTS.index(row.concept)]).sum())


def test_heldout_tables_pick_the_best_centred_layer():
    acts, labels, scenarios, sources = planted_corpus()
    groups = text_groups(scenarios, sources)
    noisy = acts + np.random.default_rng(3).normal(size=acts.shape) * 6
    predictions = {
        layer: heldout_predictions("pooled", a, labels, CONCEPTS, groups) for layer, a in ((1, noisy), (2, acts))
    }
    tables = heldout_tables("pooled", predictions)
    assert set(tables.accuracy.layer) == {1, 2} and set(tables.accuracy.scoring) == {"centred", "raw"}
    assert tables.best_layer == 2
    long = tables.confusion_long
    assert list(long.columns) == ["layer", "concept", "predicted", "count"]
    assert long[long.layer == 2]["count"].sum() == 15
    assert tables.confusions[2].values.trace() == 15  # layer 2 reads every planted concept


def test_evaluation_tables_hold_a_row_per_reading_layer_and_scoring():
    labels = ["a", "b", "b"]
    perfect = np.array([[1.0, 0.0, 9.0], [0.0, 1.0, 9.0], [0.0, 1.0, 9.0]])  # column c is no label: ignored
    scores = {("last_token", 3, "centred"): perfect, ("last_token", 3, "raw"): perfect[:, ::-1].copy()}
    tables = evaluation_tables(scores, labels, ["a", "b", "c"])
    metrics = tables.metrics.set_index("scoring")
    assert metrics.loc["centred", "top1"] == 1.0 and metrics.loc["raw", "balanced"] == pytest.approx(0.5)
    assert len(tables.recall) == 4 and len(tables.confusion) == 8
    assert list(tables.confusion.columns) == ["reading", "layer", "scoring", "true", "predicted", "count"]
    assert isinstance(tables.confusions[("last_token", 3, "centred")], pd.DataFrame)


def test_bootstrap_interval_brackets_the_statistic_and_narrows_with_more_rows():
    from amygdala_readout.metrics import bootstrap_interval

    rng = np.random.default_rng(1)
    small, large = rng.random(40) < 0.3, rng.random(4000) < 0.3
    low, high = bootstrap_interval(lambda rows: small[rows].mean(), len(small))
    assert low < small.mean() < high
    wide = high - low
    low, high = bootstrap_interval(lambda rows: large[rows].mean(), len(large))
    assert low < large.mean() < high and high - low < wide / 5


def test_stratified_halves_deal_each_label_alternately_and_are_fixed():
    from amygdala_readout.metrics import stratified_halves

    labels = ["a"] * 7 + ["b"] * 4 + ["c"]
    halves = stratified_halves(labels, seed=3)
    assert (stratified_halves(labels, seed=3) == halves).all()
    for label, (first, second) in {"a": (4, 3), "b": (2, 2), "c": (1, 0)}.items():
        chosen = halves[[i for i, x in enumerate(labels) if x == label]]
        assert ((chosen == 0).sum(), (chosen == 1).sum()) == (first, second)
