"""Quality diagnostics on constructed layers where the right answer is known."""

import json

import numpy as np
import pytest

from amygdala_readout import quality, trainer_layout

HIDDEN = 48
SCALE = 5.0
NOISE = 0.05
N_POS = 6
N_BASE = 8


def orthonormal(rng, k, dim=HIDDEN):
    q, _ = np.linalg.qr(rng.normal(size=(dim, k)))
    return q.T


def planted_layer(rng, directions, concepts, against=None):
    """Positives of concept i = base + SCALE·directions[i] + noise; baselines = base + noise.

    ``against`` names a concept whose first story is written against its direction (base − SCALE·v).
    """
    base = rng.normal(size=HIDDEN)
    acts, labels, sources = [], [], []
    for i, concept in enumerate(concepts):
        for k in range(N_POS):
            sign = -1.0 if (concept == against and k == 0) else 1.0
            acts.append(base + sign * SCALE * directions[i] + NOISE * rng.normal(size=HIDDEN))
            labels.append(concept)
            sources.append(f"stories/{concept}/story_{k}.txt")
    for k in range(N_BASE):
        acts.append(base + NOISE * rng.normal(size=HIDDEN))
        labels.append("")
        sources.append(f"paired/scene_{k}/baseline.txt")
    return np.array(acts), labels, sources, base


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_planted_direction_is_aligned_and_one_dimensional(rng):
    concepts = ["anger", "fear", "joy"]
    dirs = orthonormal(rng, 3)
    acts, labels, sources, base = planted_layer(rng, dirs, concepts)
    out = quality.layer_quality(acts, labels, sources, concepts, dirs, base)
    m = out["fear"]
    assert m["n_positives"] == N_POS
    assert m["story_alignment"]["mean"] > 0.99
    assert m["first_pc_ratio"] > 0.99
    assert m["story_projection"]["mean"] == pytest.approx(SCALE, abs=0.05)
    assert m["story_projection"]["min"] <= m["story_projection"]["mean"] <= m["story_projection"]["max"]
    # Orthogonal concepts: nothing near, nothing explained by the others.
    assert abs(m["nearest_concepts"][0]["cosine"]) < 1e-9
    assert m["ridge"]["r2"] == pytest.approx(0.0, abs=1e-9)
    assert len(m["nearest_concepts"]) == 2


def test_variance_ratios_match_numpy_pca():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(7, 5)) * np.array([3.0, 2.0, 1.0, 0.5, 0.1])
    ratios = quality.variance_ratios(points)
    eig = np.linalg.eigvalsh(np.cov(points, rowvar=False))[::-1]
    assert ratios == pytest.approx(list(eig[:3] / eig.sum()))
    assert len(ratios) == 3 and sum(ratios) <= 1 + 1e-12
    assert ratios == sorted(ratios, reverse=True)
    assert quality.variance_ratios(points[:1]) == []
    assert len(quality.variance_ratios(points[:3])) == 2  # 3 centred points span 2 dimensions


def test_planted_single_neuron_is_found(rng):
    concepts = ["anger", "fear", "joy"]
    dirs = orthonormal(rng, 3)
    acts, labels, sources, base = planted_layer(rng, dirs, concepts)
    down_proj = rng.normal(size=(HIDDEN, 200))
    down_proj[:, 137] = 3.0 * dirs[1]  # neuron 137 writes exactly fear's direction (at any scale)
    out = quality.layer_quality(acts, labels, sources, concepts, dirs, base, down_proj=down_proj)
    m = out["fear"]
    assert m["best_neuron"]["index"] == 137
    assert m["best_neuron"]["cosine"] == pytest.approx(1.0)
    assert m["top5_neurons"][0] == m["best_neuron"] and len(m["top5_neurons"]) == 5
    assert quality.triage(m)[0] == "clean single-neuron"
    assert "137" in quality.triage(m)[1]
    # Sign is kept: a neuron writing -v is found with cosine -1.
    down_proj[:, 137] *= -1
    neg = quality.layer_quality(acts, labels, sources, concepts, dirs, base, down_proj=down_proj)["fear"]
    assert neg["best_neuron"] == {"index": 137, "cosine": pytest.approx(-1.0)}


def test_duplicated_concept_is_redundant(rng):
    concepts = ["anger", "fear", "rage"]
    dirs = orthonormal(rng, 3)
    dirs[2] = dirs[0]
    acts, labels, sources, base = planted_layer(rng, dirs, concepts)
    out = quality.layer_quality(acts, labels, sources, concepts, dirs, base)
    for concept, twin in [("anger", "rage"), ("rage", "anger")]:
        assert out[concept]["nearest_concepts"][0] == {"concept": twin, "cosine": pytest.approx(1.0)}
        label, reason = quality.triage(out[concept])
        assert label == "redundant" and twin in reason
    assert quality.triage(out["fear"])[0] != "redundant"


def test_mixed_concept_is_explained_by_its_two_parts(rng):
    concepts = ["anger", "fear", "joy", "sadness", "bittersweet"]
    dirs = np.vstack([orthonormal(rng, 4), np.zeros(HIDDEN)])
    dirs[4] = (dirs[2] + dirs[3]) / np.linalg.norm(dirs[2] + dirs[3])
    acts, labels, sources, base = planted_layer(rng, dirs, concepts)
    m = quality.layer_quality(acts, labels, sources, concepts, dirs, base)["bittersweet"]
    assert m["ridge"]["r2"] > 0.99
    assert m["ridge"]["residual_norm"] < 0.02
    top = m["ridge"]["top_contributors"]
    assert {t["concept"] for t in top[:2]} == {"joy", "sadness"}
    assert all(abs(t["coefficient"]) < 1e-6 for t in top[2:])
    # Nearest cosine is only 1/sqrt(2): ridge, not the pairwise rule, decides.
    assert m["nearest_concepts"][0]["cosine"] == pytest.approx(2**-0.5)
    label, reason = quality.triage(m)
    assert label == "redundant" and "ridge" in reason


def test_planted_head_is_top_and_concentrated(rng):
    n_heads, head_dim = 4, 8
    width = n_heads * head_dim
    concepts = ["anger", "fear"]
    o_proj = rng.normal(size=(HIDDEN, width))
    push = rng.normal(size=head_dim)
    v_fear = o_proj[:, 2 * head_dim : 3 * head_dim] @ push  # o_proj maps head 2's push onto v
    v_fear /= np.linalg.norm(v_fear)
    dirs = np.vstack([orthonormal(rng, 1)[0], v_fear])
    acts, labels, sources, base = planted_layer(rng, dirs, concepts)
    head_inputs = 0.01 * rng.normal(size=(len(labels), width))
    is_fear = np.array(labels) == "fear"
    head_inputs[is_fear, 2 * head_dim : 3 * head_dim] += push

    out = quality.layer_quality(
        acts, labels, sources, concepts, dirs, base, head_inputs=head_inputs, o_proj=o_proj, n_heads=n_heads
    )
    m = out["fear"]
    assert m["top_heads"][0]["head"] == 2
    assert m["top_heads"][0]["selectivity"] > 10
    assert m["head_concentration"] > 0.95
    assert len(m["top_heads"]) == n_heads  # fewer heads than N_TOP_HEADS: all of them
    # The contribution is the mean difference of v·(o_proj_h @ x): here ||o_proj_2 @ push||.
    expected = np.linalg.norm(o_proj[:, 2 * head_dim : 3 * head_dim] @ push)
    assert m["top_heads"][0]["contribution"] == pytest.approx(expected, rel=0.05)

    sel, contrib = quality.head_selectivity(head_inputs, o_proj, n_heads, labels, concepts, dirs)
    assert sel.shape == contrib.shape == (2, n_heads)
    assert np.argmax(np.abs(sel[1])) == 2
    assert sel[1, 2] == pytest.approx(m["top_heads"][0]["selectivity"])
    assert np.abs(sel[0]).max() < 5  # anger has no planted head: noise only


def test_head_selectivity_is_cohens_d():
    labels = ["a", "a", "a", "", "", ""]
    o_proj = np.eye(2)
    direction = np.array([[1.0, 0.0]])
    head_inputs = np.array([[3.0, 0], [4, 0], [5, 0], [0, 0], [1, 0], [2, 0]])  # head 0 reads x[0]
    sel, contrib = quality.head_selectivity(head_inputs, o_proj, 2, labels, ["a"], direction)
    assert contrib[0, 0] == pytest.approx(3.0)
    assert sel[0, 0] == pytest.approx(3.0 / 1.0)  # pooled std of {3,4,5} and {0,1,2} (ddof=1) is 1
    assert sel[0, 1] == 0.0 and contrib[0, 1] == 0.0  # constant head: guarded, not NaN


def test_story_against_the_direction_is_contaminated_and_first_outlier(rng):
    concepts = ["anger", "fear", "joy"]
    dirs = orthonormal(rng, 3)
    acts, labels, sources, base = planted_layer(rng, dirs, concepts, against="joy")
    m = quality.layer_quality(acts, labels, sources, concepts, dirs, base)["joy"]
    assert m["outlier_stories"][0]["source"] == "stories/joy/story_0.txt"
    assert m["outlier_stories"][0]["alignment"] < -0.99
    assert len(m["outlier_stories"]) == 2 and m["outlier_stories"][1]["alignment"] > 0.99
    label, reason = quality.triage(m)
    assert label == "contaminated" and "story_0" in reason
    # Without the reversed story the same concept is not contaminated.
    acts, labels, sources, base = planted_layer(rng, dirs, concepts)
    clean = quality.layer_quality(acts, labels, sources, concepts, dirs, base)["joy"]
    assert quality.triage(clean)[0] != "contaminated"


def test_triage_precedence_and_circuit_rules():
    base = {
        "nearest_concepts": [{"concept": "x", "cosine": 0.1}],
        "ridge": {"r2": 0.1},
        "outlier_stories": [{"source": "s", "alignment": 0.3}],
        "best_neuron": None,
        "top5_neurons": None,
        "head_concentration": None,
        "story_alignment": {"mean": 0.5, "std": 0.1},
    }
    assert quality.triage(base)[0] == "fragmented"
    assert quality.triage({**base, "head_concentration": 0.6})[0] == "clean circuit"
    assert quality.triage({**base, "head_concentration": 0.6, "story_alignment": {"mean": 0.1}})[0] == "fragmented"
    neurons = [{"index": i, "cosine": 0.35} for i in range(5)]  # squared sum 0.6125, none ≥ 0.5 alone
    assert quality.triage({**base, "top5_neurons": neurons, "best_neuron": neurons[0]})[0] == "clean circuit"
    assert quality.triage({**base, "best_neuron": {"index": 3, "cosine": -0.6}})[0] == "clean single-neuron"
    contaminated = {
        **base,
        "nearest_concepts": [{"concept": "x", "cosine": 0.75}],
        "best_neuron": {"index": 3, "cosine": 0.9},
    }
    assert quality.triage(contaminated)[0] == "contaminated"
    assert quality.triage({**contaminated, "ridge": {"r2": 0.95}})[0] == "redundant"
    assert quality.triage({})[0] == "fragmented"  # nothing known: no rule fires, no crash


def test_report_is_json_and_table_is_sorted(rng):
    concepts = ["anger", "fear", "joy", "rage"]
    dirs = orthonormal(rng, 4)
    dirs[3] = dirs[0]
    per_layer = {}
    for layer in (3, 6):
        acts, labels, sources, base = planted_layer(rng, dirs, concepts, against="joy")
        per_layer[layer] = quality.layer_quality(
            acts,
            labels,
            sources,
            concepts,
            dirs,
            base,
            down_proj=rng.normal(size=(HIDDEN, 30)),
            eigenvalues=np.arange(8.0).reshape(4, 2),
        )
    per_layer[6]["fear"]["first_pc_ratio"] = np.float32("nan")  # NaN and numpy types must not leak
    report = quality.quality_report(per_layer, 6, "pooled", ["toy"])
    text = json.dumps(report, allow_nan=False)
    again = json.loads(text)
    assert again["layers"] == [3, 6] and again["middle_layer"] == 6 and again["method"] == "pooled"
    assert again["concepts"]["fear"]["layers"]["6"]["first_pc_ratio"] is None
    assert set(again["concepts"]["anger"]["layers"]) == {"3", "6"}
    assert again["concepts"]["joy"]["outlier_stories"][0]["source"] == "stories/joy/story_0.txt"
    assert again["concepts"]["fear"]["layers"]["3"]["subspace_eigenvalues"] == [2.0, 3.0]
    assert again["concepts"]["anger"]["triage"] == "redundant"

    table = quality.triage_table(report)
    assert list(table.columns) == quality.TABLE_COLUMNS
    assert list(table.concept) == ["anger", "rage", "joy", "fear"]
    assert list(table.triage[:3]) == ["redundant", "redundant", "contaminated"]
    assert table.nearest_cosine[0] == pytest.approx(1.0)
    assert (table.layer == 6).all()


def test_missing_heads_and_neurons_give_nulls(rng):
    concepts = ["anger", "fear"]
    dirs = orthonormal(rng, 2)
    acts, labels, sources, base = planted_layer(rng, dirs, concepts)
    m = quality.layer_quality(acts, labels, sources, concepts, dirs, base)["anger"]
    assert m["top_heads"] is None and m["head_concentration"] is None
    assert m["best_neuron"] is None and m["top5_neurons"] is None
    assert "subspace_eigenvalues" not in m
    report = quality.quality_report({0: {"anger": m}}, 0, "pooled", [])
    json.dumps(report, allow_nan=False)
    assert quality.triage_table(report).head_concentration.isna().all()
    with pytest.raises(ValueError, match="o_proj"):
        quality.layer_quality(acts, labels, sources, concepts, dirs, base, head_inputs=np.ones((len(acts), 8)))


def test_the_trainers_layout_keeps_its_keys_when_heads_neurons_and_positives_are_missing(rng):
    concepts = ["anger", "fear"]
    dirs = orthonormal(rng, 2)
    acts, labels, sources, base = planted_layer(rng, dirs, concepts)
    keep = [i for i, label in enumerate(labels) if label != "fear" or sources[i].endswith("story_0.txt")]
    acts, labels, sources = acts[keep], [labels[i] for i in keep], [sources[i] for i in keep]  # one fear story
    report = quality.quality_report(
        {4: quality.layer_quality(acts, labels, sources, concepts, dirs, base)}, 4, "pooled", []
    )
    texts = {"stories/anger/story_0.txt": "The door slammed."}
    seed = trainer_layout.seed_quality(report, texts, head_dims={})
    json.dumps(seed, allow_nan=False)
    assert sorted(seed) == concepts
    fear, anger = seed["fear"], seed["anger"]
    assert set(anger) == {
        "n_positive_stories",
        "per_layer",
        "outlier_stories",
        "nearest_concepts",
        "linear_combination",
    }  # no per_head, no subspace_eigvals: nothing to report
    assert fear["n_positive_stories"] == 1 and anger["n_positive_stories"] == N_POS
    assert fear["per_layer"]["4"]["top3_variance_ratios"] == [0.0, 0.0, 0.0]  # one story spans nothing
    assert len(anger["per_layer"]["4"]["top3_variance_ratios"]) == 3
    row = anger["per_layer"]["4"]
    assert row["best_neuron_idx"] is None and row["best_neuron_cosine"] is None and row["top5_neurons"] is None
    ours = report["concepts"]["anger"]["layers"]["4"]
    assert row["story_projection_max"] == ours["story_projection"]["max"]
    assert row["story_alignment_std"] == ours["story_alignment"]["std"]
    # outliers by text where it is known, else by path
    sources_listed = [o["source"] for o in report["concepts"]["anger"]["outlier_stories"]]
    assert [text for text, _ in anger["outlier_stories"]] == [texts.get(s, s) for s in sources_listed]
    assert anger["nearest_concepts"] == [["fear", ours["nearest_concepts"][0]["cosine"]]]
    assert anger["linear_combination"]["4"]["r_squared"] == ours["ridge"]["r2"]
    assert anger["linear_combination"]["4"]["top_contributors"][0][0] == "fear"
