"""The paired_centered, pca and probe methods, on constructed data where the answer is known."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from amygdala_readout.crossval import accuracy_summary, heldout_predictions, text_groups
from amygdala_readout.directions import (
    PROBE_C_GRID,
    choose_c,
    matched_negatives,
    paired_centered,
    pca,
    pooled,
    probe,
    probe_c_scores,
)
from amygdala_readout.methods import fit

HIDDEN = 64
OTHERS = ["a", "b", "c", "d", "e"]


def unit(v):
    return v / np.linalg.norm(v)


def scenario_corpus(seed=0, x_stories=1, x_amp=4.0, noise=0.3, nuisance=1.0):
    """Concept "x" plus five others under a strong shared component (1000·u_shared), in 8 paired
    scenarios (a baseline and one framing per other concept each; an "x" framing only in scenarios 0-3)
    and unpaired stories (two per other concept, ``x_stories`` for "x"). Every scenario adds its own
    large offset to all its tellings, and scenarios 0-3 share a further one along ``tilt``, so the
    texts of "x" mostly carry it. ``nuisance`` scales the scenarios' offsets."""
    rng = np.random.default_rng(seed)
    shared = 1000 * unit(rng.normal(size=HIDDEN))
    planted = {c: unit(rng.normal(size=HIDDEN)) for c in ["x"] + OTHERS}
    amp = {"x": x_amp, **dict.fromkeys(OTHERS, 2.0)}
    tilt = unit(rng.normal(size=HIDDEN))
    labels, scenarios, sources, acts = [], [], [], []

    def add(label, scenario, source, offset):
        labels.append(label), scenarios.append(scenario), sources.append(source)
        signal = amp[label] * planted[label] if label else 0
        acts.append(shared + offset + signal + rng.normal(size=HIDDEN) * noise)

    for s in range(8):
        offset = nuisance * (10 * unit(rng.normal(size=HIDDEN)) + (30 * tilt if s < 4 else 0))
        for label in [""] + OTHERS + (["x"] if s < 4 else []):
            add(label, f"s{s}", f"paired/s{s}/{label or 'baseline'}.txt", offset)
    for c in OTHERS:
        for k in range(2):
            add(c, "", f"stories/{c}/{k}.txt", 0)
    for k in range(x_stories):
        add("x", "", f"stories/x/{k}.txt", 0)
    return np.stack(acts), labels, scenarios, sources, planted["x"]


def test_paired_centered_recovers_the_framing_where_pooled_follows_the_scenarios():
    acts, labels, scenarios, _, planted = scenario_corpus()
    concepts = ["x"] + OTHERS
    centred = paired_centered(acts, labels, concepts, scenarios)[0] @ planted
    plain = pooled(acts, labels, concepts)[0] @ planted
    assert centred > 0.95
    assert plain < 0.6 and centred - plain > 0.35


def test_paired_centered_is_pooled_on_the_centred_texts():
    rng = np.random.default_rng(3)
    acts = rng.normal(size=(9, 5)) + 50
    labels = ["p", "q", "", "p", "", "q", "p", "q", "r"]
    scenarios = ["s", "s", "s", "t", "t", "t", "", "", ""]
    centred = acts.copy()
    for rows in ([0, 1, 2], [3, 4, 5], [6, 7, 8]):  # each scenario, and the unpaired stories, on their own mean
        centred[rows] -= acts[rows].mean(axis=0)
    np.testing.assert_allclose(
        paired_centered(acts, labels, ["p", "q", "r"], scenarios),
        pooled(centred, labels, ["p", "q", "r"]),
        rtol=1e-12,
        atol=1e-12,
    )
    # without paired texts there is one common centre, which cancels
    np.testing.assert_allclose(
        paired_centered(acts, labels, ["p", "q"], [""] * 9), pooled(acts, labels, ["p", "q"]), rtol=1e-10, atol=1e-12
    )


def test_matched_negatives_follow_the_definition():
    acts = np.arange(8 * 2, dtype=float).reshape(8, 2) ** 1.5
    labels = ["p", "", "q", "p", "q", "p", "q", ""]
    scenarios = ["s", "s", "s", "t", "t", "", "", ""]
    got = matched_negatives(acts, labels, "p", scenarios)
    np.testing.assert_allclose(got[0], acts[1])  # framing: its scenario's baseline
    np.testing.assert_allclose(got[1], acts[4])  # scenario without a baseline: its other tellings
    np.testing.assert_allclose(got[2], acts[[6, 7]].mean(axis=0))  # story: the other unpaired texts


@pytest.mark.parametrize("sign", [1, -1])
def test_pca_recovers_a_planted_direction_with_its_sign(sign):
    acts, labels, scenarios, _, planted = scenario_corpus(x_stories=0, x_amp=4.0 * sign, noise=0.1)
    got = pca(acts, labels, ["x"] + OTHERS, scenarios)
    assert got[0] @ (sign * planted) > 0.95
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("sign", [1, -1])
def test_pca_with_a_single_positive(sign):
    acts, labels, scenarios, _, planted = scenario_corpus(x_amp=4.0 * sign, noise=0.1)
    keep = [j for j, (lab, s) in enumerate(zip(labels, scenarios)) if not (lab == "x" and s)]  # x: one story
    acts, labels, scenarios = acts[keep], [labels[j] for j in keep], [scenarios[j] for j in keep]
    got = pca(acts, labels, ["x"], scenarios)[0]
    assert got @ (sign * planted) > 0.9
    story = labels.index("x")
    others = [j for j, s in enumerate(scenarios) if not s and j != story]
    np.testing.assert_allclose(got, unit(acts[story] - acts[others].mean(axis=0)), rtol=1e-10, atol=1e-12)


def probe_corpus(seed=0):
    """Separable data: concept "x" (10 positives in 10 groups) along a planted direction, 20 one-story
    concepts, 20 baselines; a shared component with a huge, varying first coordinate as real models have."""
    rng = np.random.default_rng(seed)
    planted = unit(rng.normal(size=HIDDEN))
    labels = ["x"] * 10 + [f"c{i}" for i in range(20)] + [""] * 20
    groups = [f"story:{i}" for i in range(len(labels))]
    acts = rng.normal(size=(len(labels), HIDDEN)) + 1000 * unit(rng.normal(size=HIDDEN))
    acts[:, 0] += 1e4 + 100 * rng.normal(size=len(labels))
    acts[:10] += 6 * planted
    return acts, labels, ["x"] + [f"c{i}" for i in range(20)], groups, planted


def test_probe_recovers_a_planted_direction_and_its_scores_are_the_logits():
    acts, labels, concepts, groups, planted = probe_corpus()
    directions, bias, c = probe(acts, labels, concepts, groups)
    assert c in PROBE_C_GRID
    assert directions[0] @ planted > 0.8
    scores = (acts - acts.mean(axis=0)) @ directions.T + bias
    for i in (0, 5):
        y = np.asarray(labels) == concepts[i]
        reference = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=c, class_weight="balanced", solver="newton-cg", tol=1e-10, max_iter=10_000),
        ).fit(acts, y)
        scaler, model = reference[0], reference[1]
        w_norm = np.linalg.norm(model.coef_[0] / scaler.scale_)
        np.testing.assert_allclose(scores[:, i], reference.decision_function(acts) / w_norm, rtol=1e-5, atol=1e-6)
    x = np.asarray(labels) == "x"
    assert np.all(scores[x, 0] > 0) and np.mean(scores[~x, 0] < 0) > 0.9


def test_probe_through_fit_sets_the_bias():
    acts, labels, concepts, groups, _ = probe_corpus()
    fitted = fit("probe", acts, labels, concepts, groups=groups)
    directions, bias, _ = probe(acts, labels, concepts, groups)
    np.testing.assert_array_equal(fitted.directions, directions)
    np.testing.assert_array_equal(fitted.bias, bias)
    assert fitted.bias.shape == (len(concepts),)


def test_the_c_choice_is_deterministic_and_follows_its_rule():
    acts, labels, concepts, groups, _ = probe_corpus(seed=4)
    acts[:10] -= 5.0 * unit(acts[:10].mean(axis=0) - acts.mean(axis=0))  # weaker: not every C ranks perfectly
    first = probe_c_scores(acts, labels, concepts, groups)
    np.testing.assert_array_equal(first, probe_c_scores(acts, labels, concepts, groups))
    assert np.all((first >= 0) & (first <= 1))
    assert probe(acts, labels, concepts, groups)[2] == choose_c(first)
    grid = (1.0, 0.1, 10.0)
    assert choose_c([0.7, 0.9, 0.9], grid) == 0.1  # ties go to the smallest C
    assert choose_c([0.7, 0.8, 0.9], grid) == 10.0
    assert choose_c([np.nan] * 3, grid) == 0.1  # nothing measurable: every C ties


def test_one_story_concepts_cannot_choose_c():
    acts, labels, concepts, groups, _ = probe_corpus()
    groups = ["one"] * 10 + groups[10:]  # all positives of x in one group: no concept is measurable
    assert np.all(np.isnan(probe_c_scores(acts, labels, concepts, groups)))
    assert probe(acts, labels, concepts, groups)[2] == min(PROBE_C_GRID)


@pytest.mark.parametrize("method", ["pooled", "paired_centered", "pca", "probe"])
def test_every_method_returns_unit_rows(method):
    acts, labels, scenarios, sources, _ = scenario_corpus()
    concepts = ["x"] + OTHERS
    fitted = fit(
        method, acts.astype(np.float32), labels, concepts, scenarios=scenarios, groups=text_groups(scenarios, sources)
    )
    assert fitted.directions.shape == (len(concepts), HIDDEN) and fitted.directions.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(fitted.directions, axis=1), 1.0, rtol=1e-10)
    assert (fitted.bias is not None) == (method == "probe")


@pytest.mark.parametrize(
    "method, missing", [("paired_centered", "scenarios"), ("pca", "scenarios"), ("probe", "groups")]
)
def test_a_missing_input_is_a_clear_error(method, missing):
    acts, labels, scenarios, sources, _ = scenario_corpus()
    given = {"scenarios": scenarios, "groups": text_groups(scenarios, sources)}
    given[missing] = None
    with pytest.raises(ValueError, match=f"{method}.*needs {missing}"):
        fit(method, acts, labels, ["x"], **given)
    given[missing] = ["s"] * 3  # not one per text
    with pytest.raises(ValueError, match="3 entries"):
        fit(method, acts, labels, ["x"], **given)


@pytest.mark.parametrize("method", ["paired_centered", "pca", "probe"])
def test_new_methods_recognise_held_out_texts(method):
    acts, labels, scenarios, sources, _ = scenario_corpus(noise=0.1, nuisance=0.1)
    concepts = ["x", "a", "b"]  # the others' texts are negatives only (and unscorable): keeps this fast
    predictions = heldout_predictions(
        method, acts, labels, concepts, text_groups(scenarios, sources), scenarios=scenarios
    )
    summary = accuracy_summary(predictions[predictions.scoring == "centred"])
    assert summary["n_scored"] == sum(label in concepts for label in labels) and summary["top1"] > 0.9
