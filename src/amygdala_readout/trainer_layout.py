"""The quality report in the layout of the ``quality.json`` that the trainer we replace writes next to
its package (``shared/seed_quality_schema.md``), so that scripts written for that trainer keep working.
The values are this project's measures (``quality.py``) under those names."""

from __future__ import annotations

from collections.abc import Mapping

from .quality import N_VARIANCE_PCS, plain


def _pairs(items, *keys):
    return None if items is None else [[item[k] for k in keys] for item in items]


def seed_quality(report: Mapping, texts: Mapping[str, str], head_dims: Mapping[int, tuple[int, int]]) -> dict:
    """``report`` (:func:`quality.quality_report`) in the layout and key names of the quality.json that the
    trainer we replace writes (``shared/seed_quality_schema.md``), so that scripts written for it keep
    reading ours. The values are this project's measures under its names: ``top_heads`` rows are
    [head, |contribution|, selectivity (Cohen's d)], ``head_concentration`` is max / sum of the heads'
    |contribution|, ``outlier_stories`` and ``nearest_concepts`` are taken at the report's middle layer
    (as the trainer does). ``texts``: story text by source path (the trainer lists outliers by their
    text); ``head_dims``: {layer: (n_heads, head_dim)} of the layers with a per-head analysis.
    """
    middle = str(report["middle_layer"])
    result = {}
    for concept, entry in report["concepts"].items():
        layers: dict[str, dict] = entry["layers"]
        per_layer: dict[str, dict] = {}
        per_head: dict[str, dict] = {}
        eigenvalues: dict[str, list] = {}
        combination: dict[str, dict] = {}
        for layer, m in layers.items():
            projection = m.get("story_projection") or {}
            alignment = m.get("story_alignment") or {}
            best = m.get("best_neuron") or {}
            per_layer[layer] = {
                # always three, as the trainer's: n centred positives span n - 1 dimensions, the rest is 0
                "top3_variance_ratios": (m.get("top3_variance_ratios") or [])
                + [0.0] * (N_VARIANCE_PCS - len(m.get("top3_variance_ratios") or [])),
                "first_pc_variance_ratio": m.get("first_pc_ratio"),
                **{f"story_projection_{k}": projection.get(k) for k in ("mean", "std", "min", "max")},
                **{f"story_alignment_{k}": alignment.get(k) for k in ("mean", "std")},
                "best_neuron_idx": best.get("index"),
                "best_neuron_cosine": best.get("cosine"),
                "top5_neurons": _pairs(m.get("top5_neurons"), "index", "cosine"),
            }
            if m.get("top_heads") is not None and int(layer) in head_dims:
                n_heads, head_dim = head_dims[int(layer)]
                per_head[layer] = {
                    "n_heads": n_heads,
                    "head_dim": head_dim,
                    "top_heads": [[h["head"], abs(h["contribution"]), h["selectivity"]] for h in m["top_heads"]],
                    "head_concentration": m.get("head_concentration"),
                }
            if m.get("subspace_eigenvalues") is not None:
                eigenvalues[layer] = m["subspace_eigenvalues"]
            if m.get("ridge") is not None:
                ridge = m["ridge"]
                combination[layer] = {
                    "r_squared": ridge["r2"],
                    "residual_norm": ridge["residual_norm"],
                    "top_contributors": _pairs(ridge["top_contributors"], "concept", "coefficient"),
                }
        at_middle = layers.get(middle, {})
        seed = {
            "n_positive_stories": at_middle.get("n_positives", next(iter(layers.values()), {}).get("n_positives")),
            "per_layer": per_layer,
            "outlier_stories": [
                [texts.get(o["source"], o["source"]), o["alignment"]] for o in entry["outlier_stories"]
            ],
            "nearest_concepts": _pairs(at_middle.get("nearest_concepts"), "concept", "cosine") or [],
        }
        if per_head:
            seed["per_head"] = per_head
        if eigenvalues:
            seed["subspace_eigvals"] = eigenvalues
        seed["linear_combination"] = combination
        result[concept] = seed
    return plain(result)
