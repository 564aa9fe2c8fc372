"""The fitting methods' maths: one direction per concept from one layer's labelled activations.
The registry that names them and calls them is ``methods``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import StandardScaler

from .masks import checked_masks, per_text, unit_rows


def pooled(activations: np.ndarray, labels: list[str], concepts: list[str]) -> np.ndarray:
    """normalise(mean(positives) - mean(negatives)) per concept, in float64.

    Negatives of a concept are every other text: the other concepts' positives and all baselines.
    ``activations`` is (n_texts, hidden); returns (n_concepts, hidden) unit rows.
    """
    acts = np.asarray(activations, dtype=np.float64)
    masks = checked_masks(labels, concepts)
    counts = masks.sum(axis=1, keepdims=True)
    pos_sum = masks.astype(np.float64) @ acts
    neg_mean = (acts.sum(axis=0) - pos_sum) / (len(labels) - counts)
    return unit_rows(pos_sum / counts - neg_mean)


def paired_centered(
    activations: np.ndarray, labels: list[str], concepts: list[str], scenarios: Sequence[str] | None
) -> np.ndarray:
    """Context-agnostic directions (after Wang et al. 2025, "Do LLMs feel? Emotion circuits discovery
    and control", arXiv 2510.11328): the pooled difference of means, after each text is centred on the
    mean of the texts that share its context.

    Centring, per text j with activation h_j:

    - a telling of paired scenario s (``scenarios[j] == s != ""``): h_j - mean of ALL tellings of s
      (its framings and its baseline). What the scenario is about is common to its tellings and
      cancels; what is left is the framing's departure from the scenario's average telling.
    - a single, unpaired story (``scenarios[j] == ""``): h_j - mean of all unpaired stories. The
      unpaired stories are centred on their own mean rather than on the mean of all texts so that each
      population (every scenario, and the unpaired stories) is zero-mean after centring: a constant
      offset between populations (the scenarios' contents, weighted by how many tellings each has,
      or whatever single stories share that paired tellings do not) then cannot enter a direction
      through a concept's positives and negatives coming from the populations in different proportions.

    Then, per concept c, exactly as ``pooled`` on the centred activations: positives = the centred
    texts labelled c (framings and unpaired stories alike, each counted once), negatives = every other
    centred text (other concepts' framings and stories, and the baselines), direction =
    normalise(mean(centred positives) - mean(centred negatives)), in float64. A scenario with a single
    telling centres to zero. Without paired texts this equals ``pooled`` (one common centre cancels).
    Returns (n_concepts, hidden) unit rows.
    """
    acts = np.asarray(activations, dtype=np.float64)
    scenario_of = per_text(
        scenarios, len(acts), "scenarios (paired scenario per text, '' for a single story)", "paired_centered"
    )
    centred = np.empty_like(acts)
    for scenario in set(scenario_of):  # "" = the unpaired stories, centred on their own mean
        rows = scenario_of == scenario
        centred[rows] = acts[rows] - acts[rows].mean(axis=0)
    return pooled(centred, labels, concepts)


def matched_negatives(
    activations: np.ndarray, labels: list[str], concept: str, scenarios: Sequence[str] | np.ndarray
) -> np.ndarray:
    """(n_positives, hidden): the matched negative of each positive of ``concept``, in text order.

    - a framing in paired scenario s: the mean of s's baselines (texts of s labelled ""); if s has no
      baseline, the mean of s's tellings not labelled ``concept``; if s has none of those either,
      as for an unpaired story.
    - an unpaired story: the mean of the unpaired stories not labelled ``concept``; if there are none,
      the mean of all texts not labelled ``concept``.
    Unpaired stories are matched with unpaired stories for the reason ``paired_centered`` centres them
    on their own mean: the paired tellings carry their scenarios' content, which would otherwise enter
    every unpaired story's difference.
    """
    acts = np.asarray(activations, dtype=np.float64)
    labels_arr = np.asarray(labels, dtype=object)
    scenario_of = np.asarray(scenarios, dtype=object)
    negative = labels_arr != concept
    fallback = negative & (scenario_of == "")
    unpaired_match = acts[fallback if fallback.any() else negative].mean(axis=0)
    matched = []
    for j in np.flatnonzero(~negative):
        scenario = scenario_of[j]
        rows = None
        if scenario:
            same = scenario_of == scenario
            for candidate in (same & (labels_arr == ""), same & negative):
                if candidate.any():
                    rows = candidate
                    break
        matched.append(unpaired_match if rows is None else acts[rows].mean(axis=0))
    return np.stack(matched)


def pca(activations: np.ndarray, labels: list[str], concepts: list[str], scenarios: Sequence[str] | None) -> np.ndarray:
    """First principal component of each concept's (positive - matched negative) differences, in the
    style of RepE (Zou et al. 2023) and repeng's ``pca_diff``.

    Per concept c: one difference d_i = h_i - m_i per positive i (a text labelled c), with m_i its
    matched negative (``matched_negatives``: a framing's own scenario baseline; an unpaired story's
    mean of the other unpaired stories). The direction v is the top right singular vector of the
    UNCENTRED difference matrix D (n_positives, hidden), i.e. the unit v maximising sum_i (d_i·v)^2,
    and its sign is chosen so that positives project higher than their matched negatives on average:
    mean_i d_i·v > 0 (repeng instead takes a majority vote over pairs, which ties with two positives).
    With a single positive, v = d_1 / ||d_1||.

    repeng's ``pca_diff`` fits ``sklearn.decomposition.PCA`` to the differences, which centres them:
    that removes the mean difference, the very direction the positives share, and keeps only how the
    differences vary around it (RepE shuffles the order within pairs so that the mean difference is
    near zero and survives as variance). With one positive, as most concepts here have, centring leaves
    nothing at all. So the differences are not centred here. Float64; (n_concepts, hidden) unit rows.
    """
    acts = np.asarray(activations, dtype=np.float64)
    scenario_of = per_text(scenarios, len(acts), "scenarios (paired scenario per text, '' for a single story)", "pca")
    masks = checked_masks(labels, concepts)
    rows = []
    for concept, mask in zip(concepts, masks):
        diffs = acts[mask] - matched_negatives(acts, labels, concept, scenario_of)
        _, singular, vt = np.linalg.svd(diffs, full_matrices=False)
        if singular[0] == 0:
            raise ValueError(f"{concept!r}: every positive equals its matched negative")
        v = vt[0]
        rows.append(-v if (diffs @ v).mean() < 0 else v)
    return unit_rows(np.stack(rows))


def lda(activations: np.ndarray, labels: list[str], concepts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Shrinkage linear discriminant per concept: ``pooled``'s difference of means, whitened by the
    pooled within-class covariance.

    Classes are the concepts and the baselines (label ""). S = the Ledoit-Wolf estimate
    (``sklearn.covariance.ledoit_wolf``) of the covariance of the texts centred on their own class
    mean: what varies between texts of one emotion (topic, register, length) and so should not count
    as evidence. Per concept c, with mu_pos the mean of its positives and mu_neg of every other text:
    w_c = S^-1 (mu_pos - mu_neg), v_c = w_c / ||w_c||, and the bias puts the decision threshold halfway
    between the two means, measured from the centre m (the mean of all texts, the package's centre):
    bias_c = v_c · (m - (mu_pos + mu_neg) / 2), so (h - m)·v_c + bias_c = v_c·(h - midpoint).
    Returns (directions (n_concepts, hidden) unit rows, bias (n_concepts,)), float64.
    """
    from sklearn.covariance import ledoit_wolf

    acts = np.asarray(activations, dtype=np.float64)
    masks = checked_masks(labels, concepts)
    labels_arr = np.asarray(labels, dtype=object)
    within = np.empty_like(acts)
    for label in set(labels):
        rows = labels_arr == label
        within[rows] = acts[rows] - acts[rows].mean(axis=0)
    covariance, _ = ledoit_wolf(within, assume_centered=True)
    counts = masks.sum(axis=1, keepdims=True)
    pos_mean = masks.astype(np.float64) @ acts / counts
    neg_mean = (acts.sum(axis=0) - pos_mean * counts) / (len(labels) - counts)
    directions = unit_rows(np.linalg.solve(covariance, (pos_mean - neg_mean).T).T)
    bias = np.einsum("ch,ch->c", directions, acts.mean(axis=0) - (pos_mean + neg_mean) / 2)
    return directions, bias


PROBE_C_GRID = tuple(10.0 ** np.arange(-5, 3))  # inverse L2 strengths tried, on standardised activations
PROBE_FOLDS = 5


def _logistic(c: float, warm_start: bool = False) -> LogisticRegression:
    # L2 (l1_ratio=0); newton-cg converges in a few steps on these small problems, and tightly
    return LogisticRegression(
        C=c, l1_ratio=0.0, class_weight="balanced", solver="newton-cg", tol=1e-8, max_iter=1000, warm_start=warm_start
    )


def _quick_sklearn():
    # the inputs are checked once here; sklearn's per-call checks would cost more than the fits
    return sklearn.config_context(assume_finite=True, skip_parameter_validation=True)


def _standardised_span(acts: np.ndarray):
    """Scaler fitted on ``acts``, and an orthonormal basis (rows) of the standardised texts' span with
    their coordinates in it. An L2 logistic regression's weights lie in the span of its texts, so
    fitting on the coordinates (<= n_texts - 1 columns instead of hidden) gives the same model."""
    scaler = StandardScaler().fit(acts)
    u, s, vt = np.linalg.svd(scaler.transform(acts), full_matrices=False)
    keep = s > (s[0] if s.size else 0) * 1e-10
    return scaler, vt[keep], u[:, keep] * s[keep]


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """ROC AUC: the fraction of (positive, negative) pairs ranked right, ties counting half; what
    ``sklearn.metrics.roc_auc_score`` gives, without its input checks, which dominate at this size."""
    diff = positive[:, None] - negative[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def probe_c_scores(
    activations: np.ndarray,
    labels: list[str],
    concepts: list[str],
    groups: Sequence[str] | None,
    c_grid=PROBE_C_GRID,
    n_folds: int = PROBE_FOLDS,
) -> np.ndarray:
    """Held-out ROC AUC of the probe for each C of ``c_grid`` (nan where nothing could be measured).

    Grouped cross-validation (``GroupKFold`` over ``groups``, at most ``n_folds`` folds, as in
    ``crossval``): in each fold, for each concept with positives in both the training and the held-out
    texts (and negatives in both), the scaler and the probe are fitted on the training texts and the
    held-out texts are ranked by its logit; the score of C is the mean of these (fold, concept) AUCs.
    A concept told by one story only never has a positive on both sides, so it cannot inform the
    choice (nor could any held-out criterion); the concepts with several stories or framings choose C
    for all. Only they are fitted here, which keeps this fast.
    """
    acts = np.asarray(activations, dtype=np.float64)
    if not np.all(np.isfinite(acts)):
        raise ValueError("activations are not all finite")
    group_of = per_text(groups, len(acts), "groups (cross-validation group per text)", "probe")
    masks = checked_masks(labels, concepts)
    c_grid = np.asarray(c_grid, dtype=np.float64)
    order = np.argsort(c_grid)  # ascending, so each fit warm-starts from the more regularised one
    aucs: list[list[float]] = [[] for _ in c_grid]
    n_splits = min(n_folds, len(set(group_of)))
    if n_splits < 2:
        return np.full(len(c_grid), np.nan)
    for train, test in GroupKFold(n_splits=n_splits).split(acts, groups=group_of):
        measurable = [m for m in masks if 0 < m[train].sum() < len(train) and 0 < m[test].sum() < len(test)]
        if not measurable:
            continue
        scaler, basis, coords = _standardised_span(acts[train])
        held_out = scaler.transform(acts[test]) @ basis.T
        with _quick_sklearn():
            for mask in measurable:
                model = _logistic(c_grid[order[0]], warm_start=True)
                for k in order:
                    model.set_params(C=c_grid[k]).fit(coords, mask[train])
                    scores = model.decision_function(held_out)
                    aucs[k].append(_auc(scores[mask[test]], scores[~mask[test]]))
    return np.array([np.mean(a) if a else np.nan for a in aucs])


def choose_c(scores: np.ndarray, c_grid=PROBE_C_GRID) -> float:
    """The smallest C (strongest regularisation) whose score is within 1e-9 of the best; the smallest C
    of the grid when no score could be measured (every C ties)."""
    c_grid = np.asarray(c_grid, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if np.all(np.isnan(scores)):
        return float(c_grid.min())
    best = np.nanmax(scores)
    return float(c_grid[scores >= best - 1e-9].min())


def probe(
    activations: np.ndarray,
    labels: list[str],
    concepts: list[str],
    groups: Sequence[str] | None,
    *,
    c_grid=PROBE_C_GRID,
    n_folds: int = PROBE_FOLDS,
) -> tuple[np.ndarray, np.ndarray, float]:
    """One-vs-rest L2 logistic regression per concept on standardised activations.

    Per concept c: positives = texts labelled c (y = 1), negatives = every other text (y = 0);
    ``StandardScaler`` (fitted on all texts: mean mu, scale sigma) then ``LogisticRegression`` (L2,
    ``class_weight="balanced"``, so each class carries half the total weight whatever its count)
    gives logit_c(h) = w_c·((h - mu)/sigma) + b_c. One C, shared by all concepts, is chosen from
    ``c_grid`` by ``probe_c_scores`` / ``choose_c``: the highest mean held-out AUC of the concepts
    that can be measured, ties to the smallest C. Balanced weights make the data term of every
    concept's problem the same size, so one C means the same strength for all of them.

    Mapped back to activation space: w_act_c = w_c / sigma, direction v_c = w_act_c / ||w_act_c||,
    bias_c = b_c / ||w_act_c||. With center = mu = the mean of ALL texts (what the package stores as
    ``layer_<idx>.center``), (h - center)·v_c + bias_c = logit_c(h) / ||w_act_c|| exactly: the
    readout's score is the probe's logit in units of activation-space distance along v_c.
    The models are fitted in the span of the standardised texts (``_standardised_span``), which gives
    the same solution as fitting on all hidden dimensions, faster.

    Returns (directions (n_concepts, hidden) unit rows, bias (n_concepts,), chosen C).
    """
    acts = np.asarray(activations, dtype=np.float64)
    group_of = per_text(groups, len(acts), "groups (cross-validation group per text)", "probe")
    masks = checked_masks(labels, concepts)
    c = choose_c(probe_c_scores(acts, labels, concepts, list(group_of), c_grid, n_folds), c_grid)
    scaler, basis, coords = _standardised_span(acts)
    weights, intercepts = [], []
    with _quick_sklearn():
        for mask in masks:
            model = _logistic(c).fit(coords, mask)
            weights.append(model.coef_[0] @ basis)
            intercepts.append(model.intercept_[0])
    w_act = np.stack(weights) / scaler.scale_
    norms = np.linalg.norm(w_act, axis=1)
    return unit_rows(w_act), np.asarray(intercepts) / norms, c
