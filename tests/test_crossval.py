import numpy as np
import pytest
from conftest import PLANTED_CONCEPTS as CONCEPTS
from conftest import planted_corpus
from sklearn.model_selection import GroupKFold

from amygdala_readout.crossval import accuracy_summary, confusion, heldout_predictions, text_groups
from amygdala_readout.extract import text_subspace
from amygdala_readout.selection import choose_method


def test_groups_keep_a_scenario_together_and_stories_apart():
    groups = text_groups(["bus", "bus", "", ""], ["paired/bus/joy.txt", "paired/bus/baseline.txt", "a.txt", "b.txt"])
    assert groups[0] == groups[1] and len(set(groups)) == 3


def test_no_fold_splits_a_scenario():
    acts, labels, scenarios, sources = planted_corpus()
    groups = text_groups(scenarios, sources)
    for train, test in GroupKFold(n_splits=5).split(acts, groups=groups):
        assert not {groups[i] for i in train} & {groups[i] for i in test}


@pytest.mark.parametrize("method", ["pooled", "subspace"])
def test_planted_concepts_are_recognised_held_out(method):
    acts, labels, scenarios, sources = planted_corpus()
    bases = None
    if method == "subspace":  # tokens spread around each text's activation
        rng = np.random.default_rng(5)
        bases = [
            text_subspace(
                a + np.outer(rng.normal(size=8), a - acts.mean(axis=0)) + rng.normal(size=(8, len(a))) * 0.1, k=2
            )
            for a in acts
        ]
    predictions = heldout_predictions(
        method, acts, labels, CONCEPTS, text_groups(scenarios, sources), n_folds=5, bases=bases
    )
    summary = accuracy_summary(predictions[predictions.scoring == "centred"])
    assert summary["n_scored"] == 15  # 9 stories + 6 framings; baselines are not scored
    assert summary["chance_top1"] == pytest.approx(1 / 3)
    if method == "pooled":
        assert summary["top1"] == 1.0
    else:
        assert summary["top1"] > 0.6
    # raw scores h·v: the shared component (norm ~ 80) swamps the concepts' own directions
    assert accuracy_summary(predictions[predictions.scoring == "raw"])["top1"] < summary["top1"]
    matrix = confusion(predictions[predictions.scoring == "centred"])
    assert matrix.values.sum() == 15 and list(matrix.index) == sorted(CONCEPTS)


def test_noise_alone_scores_near_chance():
    acts, labels, scenarios, sources = planted_corpus(noise=0.5)
    shuffled = np.random.default_rng(1).permutation(len(acts))
    predictions = heldout_predictions("pooled", acts[shuffled], labels, CONCEPTS, text_groups(scenarios, sources))
    assert accuracy_summary(predictions[predictions.scoring == "centred"])["top1"] < 0.6


def test_a_concept_with_one_story_is_unscorable_not_wrong():
    acts, labels, scenarios, sources = planted_corpus()
    acts = np.vstack([acts, acts[:1] + 1.0])
    labels, scenarios, sources = labels + ["awe"], scenarios + [""], sources + ["stories/awe.txt"]
    predictions = heldout_predictions("pooled", acts, labels, CONCEPTS + ["awe"], text_groups(scenarios, sources))
    summary = accuracy_summary(predictions[predictions.scoring == "centred"])
    assert summary["n_unscorable"] == 1 and summary["n_scored"] == 15
    assert "awe" not in set(predictions.concept)


def test_the_best_method_is_chosen_by_mean_centred_accuracy_and_ties_go_to_the_simpler():
    import pandas as pd

    rows = [
        ("pooled", 1, "centred", 0.3),
        ("pooled", 2, "centred", 0.5),
        ("probe", 1, "centred", 0.45),
        ("probe", 2, "centred", 0.45),
        ("probe", 1, "raw", 0.9),
        ("probe", 2, "raw", 0.9),
    ]
    table = pd.DataFrame(rows, columns=["method", "layer", "scoring", "top1"])
    method, means = choose_method(table, ("pooled", "probe"))
    assert method == "probe" and means == pytest.approx({"pooled": 0.4, "probe": 0.45})  # raw rows ignored
    table.loc[table.method == "pooled", "top1"] = 0.45
    assert choose_method(table, ("pooled", "probe"))[0] == "pooled"  # a tie: the simpler one
    assert choose_method(table, ("probe", "pooled"))[0] == "probe"
