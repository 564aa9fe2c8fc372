"""Diagnostics of readout directions, per concept and layer, and a triage label per concept.

Conventions follow :mod:`amygdala_readout.directions`: ``labels`` holds one concept name per text
("" for neutral baselines); the positives of concept c are the texts labelled c, its negatives are
every other text. ``center`` is the mean activation of all texts at the layer, and ``directions``
holds one unit row per concept. Every statistic is computed in float64.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.linalg

from .masks import positive_masks, unit_rows

# --- thresholds and sizes ----------------------------------------------------------------------------

RIDGE_ALPHA = 1e-2  # ridge penalty of v_c on the other directions (directions are unit rows)
N_VARIANCE_PCS = 3  # principal components reported in top3_variance_ratios
N_OUTLIER_STORIES = 2  # lowest-alignment positives reported
N_TOP_NEURONS = 5
N_NEAREST_CONCEPTS = 5
N_TOP_HEADS = 10
N_RIDGE_CONTRIBUTORS = 3
ZERO_STD_RTOL = 1e-12  # a head's pooled std below this × its largest |score| counts as zero

REDUNDANT_COSINE = 0.9  # nearest other direction at least this close: a duplicate
REDUNDANT_RIDGE_R2 = 0.9  # this much of v_c is a linear mix of the other directions
CONTAMINATED_COSINE = 0.7  # nearest other direction at least this close: mixed in
CONTAMINATED_ALIGNMENT = 0.0  # some positive story's alignment below this: it reads against v
SINGLE_NEURON_COSINE = 0.5  # |cosine| of the best MLP neuron's output direction with v
CIRCUIT_ALIGNMENT = 0.2  # mean story alignment needed for a "clean circuit"
CIRCUIT_HEAD_CONCENTRATION = 0.5
CIRCUIT_NEURON_ENERGY = 0.5  # sum of squared cosines of the top-5 neurons with v

# Precedence of the triage rules, also the sort order of triage_table.
TRIAGE_LABELS = ("redundant", "contaminated", "clean single-neuron", "clean circuit", "fragmented")

TABLE_COLUMNS = [
    "concept",
    "triage",
    "reason",
    "layer",
    "nearest_concept",
    "nearest_cosine",
    "ridge_r2",
    "best_neuron",
    "best_neuron_cosine",
    "head_concentration",
    "alignment_mean",
]


# --- story geometry ----------------------------------------------------------------------------------


def _energy_ratios(matrix: np.ndarray) -> np.ndarray:
    """s_i² / Σ s² of the singular values of ``matrix``, descending; empty when the matrix is zero."""
    singular = np.linalg.svd(matrix, compute_uv=False)
    energy = singular**2
    total = energy.sum()
    return energy / total if total > 0 else np.zeros(0)


def variance_ratios(positives: np.ndarray, k: int = N_VARIANCE_PCS) -> list[float]:
    """Explained-variance ratios of the top ``k`` principal components of ``positives``.

    The positives are centred on their own mean; ratio_i = s_i² / Σ_j s_j² over the singular values of
    that centred matrix (the same as PCA's explained_variance_ratio_). At most min(k, n_pos − 1) are
    reported, since n centred points span at most n − 1 dimensions; [] when fewer than 2 positives or
    when all positives are identical.
    """
    if len(positives) < 2:
        return []
    ratios = _energy_ratios(positives - positives.mean(axis=0))
    return [float(r) for r in ratios[: min(k, len(positives) - 1)]]


def first_pc_ratio(positives: np.ndarray, center: np.ndarray) -> float | None:
    """s1² / Σ s² of the SVD of (positives − center), not mean-centred again.

    The share of the positives' offset from the layer centre that lies along one shared direction:
    near 1 when the concept's stories all move away from the centre the same way. None when there
    are no positives or they all sit exactly at the centre.
    """
    if len(positives) == 0:
        return None
    ratios = _energy_ratios(positives - center)
    return float(ratios[0]) if len(ratios) else None


def _alignments(offsets: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """cos(h − center, v) per row of ``offsets`` = h − center; 0 for a text exactly at the centre."""
    norms = np.linalg.norm(offsets, axis=1)
    dots = offsets @ direction / np.linalg.norm(direction)
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def story_metrics(positives: np.ndarray, sources: Sequence[str], center: np.ndarray, direction: np.ndarray) -> dict:
    """Projection, alignment and outliers of one concept's positives on its direction v.

    - story_projection: mean/std/min/max of (h − center)·v over the positives (std with ddof=0);
    - story_alignment: mean/std of cos(h − center, v) over the positives (std with ddof=0);
    - outlier_stories: the N_OUTLIER_STORIES positives with the lowest alignment, lowest first.

    All None/[] when there are no positives.
    """
    if len(positives) == 0:
        return {"story_projection": None, "story_alignment": None, "outlier_stories": []}
    offsets = positives - center
    scores = offsets @ direction
    align = _alignments(offsets, direction)
    order = np.argsort(align, kind="stable")[:N_OUTLIER_STORIES]
    return {
        "story_projection": {
            "mean": float(scores.mean()),
            "std": float(scores.std()),
            "min": float(scores.min()),
            "max": float(scores.max()),
        },
        "story_alignment": {"mean": float(align.mean()), "std": float(align.std())},
        "outlier_stories": [{"source": str(sources[i]), "alignment": float(align[i])} for i in order],
    }


# --- neurons, other concepts -------------------------------------------------------------------------


def neuron_cosines(directions: np.ndarray, down_proj: np.ndarray) -> np.ndarray:
    """(n_concepts, intermediate) cosine of each direction with each MLP neuron's output direction.

    Neuron j writes to the residual stream along column j of ``down_proj`` (hidden, intermediate);
    an all-zero column gets cosine 0.
    """
    columns = np.asarray(down_proj, dtype=np.float64)
    norms = np.linalg.norm(columns, axis=0)
    unit = unit_rows(directions)
    dots = unit @ columns
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def direction_cosines(directions: np.ndarray) -> np.ndarray:
    """(n_concepts, n_concepts) cosine between every pair of directions."""
    unit = unit_rows(directions)
    return unit @ unit.T


def ridge_on_others(directions: np.ndarray, index: int, concepts: Sequence[str], alpha: float = RIDGE_ALPHA) -> dict:
    """Ridge regression of v = directions[index] (made unit) on the other concepts' directions.

    With W the (n_others, hidden) other directions, β = argmin ||v − Wᵀβ||² + α||β||², in closed form
    β = (W Wᵀ + α I)⁻¹ W v. r2 = 1 − ||v − Wᵀβ||² / ||v||², residual_norm = ||v − Wᵀβ||, and
    top_contributors are the N_RIDGE_CONTRIBUTORS others with the largest |β| (signed β reported).
    With no other concept: r2 0, residual_norm 1.
    """
    v = directions[index] / np.linalg.norm(directions[index])
    others = [i for i in range(len(directions)) if i != index]
    if not others:
        return {"r2": 0.0, "residual_norm": 1.0, "top_contributors": []}
    w = directions[others]
    gram = w @ w.T + alpha * np.eye(len(others))
    beta = scipy.linalg.solve(gram, w @ v, assume_a="pos")
    residual = float(np.linalg.norm(v - w.T @ beta))
    top = np.argsort(-np.abs(beta), kind="stable")[:N_RIDGE_CONTRIBUTORS]
    return {
        "r2": 1.0 - residual**2,
        "residual_norm": residual,
        "top_contributors": [{"concept": concepts[others[i]], "coefficient": float(beta[i])} for i in top],
    }


# --- attention heads ---------------------------------------------------------------------------------


def head_scores(head_inputs: np.ndarray, o_proj: np.ndarray, n_heads: int, direction: np.ndarray) -> np.ndarray:
    """(n_texts, n_heads) s_th = v · (o_proj[:, h·d:(h+1)·d] @ head_inputs[t, h·d:(h+1)·d]).

    Head h's write to the residual stream along v at each text's last token, d = head_dim. Computed as
    (o_projᵀ v) restricted to head h's slice, dotted with that slice of the head input.
    """
    n_texts, width = head_inputs.shape
    through = o_proj.T @ direction  # (n_heads·d,): v pulled back through the output projection
    return (head_inputs * through).reshape(n_texts, n_heads, width // n_heads).sum(axis=2)


def _check_heads(
    head_inputs: np.ndarray, o_proj: np.ndarray | None, n_heads: int | None, hidden: int
) -> tuple[np.ndarray, int]:
    """``o_proj`` and ``n_heads``, checked to fit ``head_inputs``."""
    if o_proj is None or n_heads is None:
        raise ValueError("head_inputs needs o_proj and n_heads as well")
    o_proj = np.asarray(o_proj, dtype=np.float64)
    width = head_inputs.shape[1]
    if n_heads <= 0 or width % n_heads:
        raise ValueError(f"head_inputs has {width} columns, not a multiple of n_heads={n_heads}")
    if o_proj.shape != (hidden, width):
        raise ValueError(f"o_proj has shape {o_proj.shape}; expected (hidden, n_heads*head_dim) = {(hidden, width)}")
    return o_proj, n_heads


def head_selectivity(
    head_inputs: np.ndarray,
    o_proj: np.ndarray | None,
    n_heads: int | None,
    labels: Sequence[str],
    concepts: Sequence[str],
    directions: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(selectivity, contribution), each (n_concepts, n_heads), of every head for every concept.

    With s_th from :func:`head_scores` for concept c's direction:
    contribution[c, h] = mean over positives of s_h − mean over negatives of s_h, and
    selectivity[c, h] = contribution / pooled within-group std of s_h (Cohen's d), where
    pooled² = ((n_pos − 1)·var_pos + (n_neg − 1)·var_neg) / (n_pos + n_neg − 2), var with ddof=1.
    Selectivity is 0 where that std is zero (below ZERO_STD_RTOL × max |s_h|) or undefined
    (n_pos + n_neg < 3); both are NaN for a concept with no positives or no negatives.
    """
    inputs = np.asarray(head_inputs, dtype=np.float64)
    directions = np.asarray(directions, dtype=np.float64)
    o_proj, n_heads = _check_heads(inputs, o_proj, n_heads, directions.shape[1])
    masks = positive_masks(list(labels), list(concepts))
    selectivity = np.full((len(concepts), n_heads), np.nan)
    contribution = np.full((len(concepts), n_heads), np.nan)
    for c, mask in enumerate(masks):
        n_pos, n_neg = int(mask.sum()), int((~mask).sum())
        if n_pos == 0 or n_neg == 0:
            continue
        scores = head_scores(inputs, o_proj, n_heads, directions[c])
        pos, neg = scores[mask], scores[~mask]
        contribution[c] = pos.mean(axis=0) - neg.mean(axis=0)
        if n_pos + n_neg < 3:
            selectivity[c] = 0.0
            continue
        within = ((pos - pos.mean(axis=0)) ** 2).sum(axis=0) + ((neg - neg.mean(axis=0)) ** 2).sum(axis=0)
        std = np.sqrt(within / (n_pos + n_neg - 2))
        # A constant head (std at rounding level) would give 0/0 or a huge ratio: call it 0.
        nonzero = std > ZERO_STD_RTOL * np.abs(scores).max(axis=0)
        selectivity[c] = np.divide(contribution[c], std, out=np.zeros(n_heads), where=nonzero)
    return selectivity, contribution


def head_summary(selectivity: np.ndarray, contribution: np.ndarray) -> dict:
    """top_heads and head_concentration of one concept, from its rows of :func:`head_selectivity`.

    top_heads: the N_TOP_HEADS heads with the largest |selectivity|, [{head, selectivity, contribution}].
    head_concentration = max_h |contribution_h| / Σ_h |contribution_h|: 1 when one head carries the
    concept's attention signal, 1/n_heads when it is spread evenly; None when all contributions are 0.
    """
    if np.isnan(contribution).all():
        return {"top_heads": None, "head_concentration": None}
    order = np.argsort(-np.abs(selectivity), kind="stable")[:N_TOP_HEADS]
    total = np.abs(contribution).sum()
    return {
        "top_heads": [
            {"head": int(h), "selectivity": float(selectivity[h]), "contribution": float(contribution[h])}
            for h in order
        ],
        "head_concentration": float(np.abs(contribution).max() / total) if total > 0 else None,
    }


# --- one layer ---------------------------------------------------------------------------------------


def layer_quality(
    acts: np.ndarray,
    labels: Sequence[str],
    sources: Sequence[str],
    concepts: Sequence[str],
    directions: np.ndarray,
    center: np.ndarray,
    *,
    down_proj: np.ndarray | None = None,
    head_inputs: np.ndarray | None = None,
    o_proj: np.ndarray | None = None,
    n_heads: int | None = None,
    eigenvalues: np.ndarray | None = None,
) -> dict[str, dict]:
    """{concept: metrics} for one layer; see the README for every field's definition.

    ``acts`` (n_texts, hidden), ``labels``/``sources`` one per text, ``directions`` (n_concepts, hidden),
    ``center`` (hidden,). Optional: ``down_proj`` (hidden, intermediate) for best_neuron/top5_neurons;
    ``head_inputs`` (n_texts, n_heads·head_dim) with ``o_proj`` (hidden, n_heads·head_dim) and
    ``n_heads`` for top_heads/head_concentration; ``eigenvalues`` (n_concepts, ≤20) copied as
    subspace_eigenvalues. Missing inputs give None for their fields.
    """
    acts = np.asarray(acts, dtype=np.float64)
    directions = np.asarray(directions, dtype=np.float64)
    center = np.asarray(center, dtype=np.float64)
    concepts = list(concepts)
    if len(labels) != len(acts) or len(sources) != len(acts):
        raise ValueError(f"{len(acts)} activations but {len(labels)} labels and {len(sources)} sources")
    if directions.shape != (len(concepts), acts.shape[1]) or center.shape != (acts.shape[1],):
        raise ValueError(
            f"directions {directions.shape} / center {center.shape} do not match "
            f"{len(concepts)} concepts and hidden size {acts.shape[1]}"
        )
    masks = positive_masks(list(labels), concepts)
    sources_arr = np.asarray(sources, dtype=object)
    cosines = direction_cosines(directions)
    neurons = neuron_cosines(directions, down_proj) if down_proj is not None else None
    heads = (
        head_selectivity(head_inputs, o_proj, n_heads, labels, concepts, directions)
        if head_inputs is not None
        else None
    )

    result = {}
    for c, concept in enumerate(concepts):
        positives = acts[masks[c]]
        metrics = {
            "n_positives": int(masks[c].sum()),
            "top3_variance_ratios": variance_ratios(positives),
            "first_pc_ratio": first_pc_ratio(positives, center),
        }
        metrics.update(story_metrics(positives, sources_arr[masks[c]], center, directions[c]))
        if neurons is None:
            metrics["best_neuron"] = metrics["top5_neurons"] = None
        else:
            top = np.argsort(-np.abs(neurons[c]), kind="stable")[:N_TOP_NEURONS]
            listed = [{"index": int(j), "cosine": float(neurons[c, j])} for j in top]
            metrics["best_neuron"], metrics["top5_neurons"] = listed[0], listed
        others = [i for i in np.argsort(-cosines[c], kind="stable") if i != c][:N_NEAREST_CONCEPTS]
        metrics["nearest_concepts"] = [{"concept": concepts[i], "cosine": float(cosines[c, i])} for i in others]
        if heads is None:
            metrics.update({"top_heads": None, "head_concentration": None})
        else:
            metrics.update(head_summary(heads[0][c], heads[1][c]))
        metrics["ridge"] = ridge_on_others(directions, c, concepts)
        if eigenvalues is not None:
            metrics["subspace_eigenvalues"] = [float(x) for x in np.asarray(eigenvalues)[c]]
        result[concept] = metrics
    return result


# --- triage ------------------------------------------------------------------------------------------


def _get(metrics: Mapping, *path):
    """metrics[path[0]][path[1]]...; None as soon as a step is missing or None."""
    value = metrics
    for key in path:
        if value is None:
            return None
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def triage(metrics: Mapping) -> tuple[str, str]:
    """(label, reason) of one concept from its metrics at one layer; the first rule that fires wins.

    1. "redundant": nearest-concept cosine ≥ REDUNDANT_COSINE or ridge r2 ≥ REDUNDANT_RIDGE_R2
       (another concept, or a mix of others, already gives this direction);
    2. "contaminated": nearest-concept cosine ≥ CONTAMINATED_COSINE, or some positive story's alignment
       < CONTAMINATED_ALIGNMENT (the direction mixes in another concept, or a story reads against it);
    3. "clean single-neuron": |best neuron cosine| ≥ SINGLE_NEURON_COSINE;
    4. "clean circuit": alignment mean ≥ CIRCUIT_ALIGNMENT and (head_concentration ≥
       CIRCUIT_HEAD_CONCENTRATION or Σ top-5 neuron cosine² ≥ CIRCUIT_NEURON_ENERGY);
    5. "fragmented": otherwise (the stories do not agree on one direction).

    A metric that is None or missing never fires its rule.
    """
    nearest = _get(metrics, "nearest_concepts", 0)
    near_cos = None if nearest is None else nearest["cosine"]
    r2 = _get(metrics, "ridge", "r2")
    if near_cos is not None and near_cos >= REDUNDANT_COSINE:
        return "redundant", f"nearest concept '{nearest['concept']}' cosine {near_cos:.2f} ≥ {REDUNDANT_COSINE}"
    if r2 is not None and r2 >= REDUNDANT_RIDGE_R2:
        return "redundant", f"ridge r2 on the other concepts {r2:.2f} ≥ {REDUNDANT_RIDGE_R2}"
    if near_cos is not None and near_cos >= CONTAMINATED_COSINE:
        return "contaminated", f"nearest concept '{nearest['concept']}' cosine {near_cos:.2f} ≥ {CONTAMINATED_COSINE}"
    worst = _get(metrics, "outlier_stories", 0)
    if worst is not None and worst["alignment"] < CONTAMINATED_ALIGNMENT:
        return "contaminated", (
            f"story {worst['source']} alignment {worst['alignment']:.2f} < {CONTAMINATED_ALIGNMENT}"
        )
    best = _get(metrics, "best_neuron", "cosine")
    if best is not None and abs(best) >= SINGLE_NEURON_COSINE:
        return "clean single-neuron", (
            f"neuron {metrics['best_neuron']['index']} |cosine| {abs(best):.2f} ≥ {SINGLE_NEURON_COSINE}"
        )
    align = _get(metrics, "story_alignment", "mean")
    concentration = metrics.get("head_concentration")
    top5 = metrics.get("top5_neurons")
    energy = None if top5 is None else sum(n["cosine"] ** 2 for n in top5)
    if align is not None and align >= CIRCUIT_ALIGNMENT:
        if concentration is not None and concentration >= CIRCUIT_HEAD_CONCENTRATION:
            return "clean circuit", (
                f"alignment mean {align:.2f} ≥ {CIRCUIT_ALIGNMENT}, head concentration "
                f"{concentration:.2f} ≥ {CIRCUIT_HEAD_CONCENTRATION}"
            )
        if energy is not None and energy >= CIRCUIT_NEURON_ENERGY:
            return "clean circuit", (
                f"alignment mean {align:.2f} ≥ {CIRCUIT_ALIGNMENT}, top-5 neuron "
                f"cosine² sum {energy:.2f} ≥ {CIRCUIT_NEURON_ENERGY}"
            )
    shown = "n/a" if align is None else f"{align:.2f}"
    return "fragmented", f"alignment mean {shown}, no single neuron or concentrated circuit carries it"


# --- report ------------------------------------------------------------------------------------------


def plain(value):
    """A JSON-ready copy: numpy scalars/arrays to Python, tuples to lists, NaN/inf to None."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def quality_report(
    per_layer: Mapping[int, Mapping[str, dict]], middle_layer: int, method: str, notes: Sequence[str]
) -> dict:
    """The JSON report: per concept its triage (decided at ``middle_layer``) and every layer's metrics.

    ``per_layer`` maps layer index to the output of :func:`layer_quality`. The result is
    {"method", "layers", "middle_layer", "notes", "concepts": {concept: {"triage", "triage_reason",
    "outlier_stories" (middle layer), "layers": {"<idx>": metrics}}}}, with only plain Python values
    and NaN/inf turned into null.
    """
    if middle_layer not in per_layer:
        raise ValueError(f"middle layer {middle_layer} is not among the layers {sorted(per_layer)}")
    layers = sorted(per_layer)
    concepts = list(per_layer[middle_layer])
    concepts += [c for layer in layers for c in per_layer[layer] if c not in concepts]
    entries = {}
    for concept in concepts:
        middle = per_layer[middle_layer].get(concept)
        label, reason = triage(middle) if middle is not None else ("fragmented", "no metrics at the middle layer")
        entries[concept] = {
            "triage": label,
            "triage_reason": reason,
            "outlier_stories": [] if middle is None else middle.get("outlier_stories", []),
            "layers": {str(layer): per_layer[layer][concept] for layer in layers if concept in per_layer[layer]},
        }
    return plain(
        {"method": method, "layers": layers, "middle_layer": middle_layer, "notes": list(notes), "concepts": entries}
    )


def triage_table(report: Mapping) -> pd.DataFrame:
    """One row per concept at the report's middle layer, sorted by TRIAGE_LABELS order then concept.

    Columns: TABLE_COLUMNS; metrics absent at that layer are None/NaN.
    """
    layer = str(report["middle_layer"])
    rows = []
    for concept, entry in report["concepts"].items():
        metrics = entry["layers"].get(layer, {})
        nearest = _get(metrics, "nearest_concepts", 0)
        rows.append(
            {
                "concept": concept,
                "triage": entry["triage"],
                "reason": entry["triage_reason"],
                "layer": report["middle_layer"],
                "nearest_concept": None if nearest is None else nearest["concept"],
                "nearest_cosine": None if nearest is None else nearest["cosine"],
                "ridge_r2": _get(metrics, "ridge", "r2"),
                "best_neuron": _get(metrics, "best_neuron", "index"),
                "best_neuron_cosine": _get(metrics, "best_neuron", "cosine"),
                "head_concentration": metrics.get("head_concentration"),
                "alignment_mean": _get(metrics, "story_alignment", "mean"),
            }
        )
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    rank = {label: i for i, label in enumerate(TRIAGE_LABELS)}
    order = sorted(range(len(table)), key=lambda i: (rank.get(table.triage[i], len(rank)), table.concept[i]))
    return table.iloc[order].reset_index(drop=True)
