"""Figures of the quality report (matplotlib, PNG): what a user looks at to pick a method and layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .masks import unit_rows


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on a cluster node
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path, title: str, tight: bool = True) -> None:
    fig.suptitle(title, fontsize=10)
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=110, format="png", bbox_inches=None if tight else "tight")
    _pyplot().close(fig)


def cluster_order(directions: np.ndarray) -> np.ndarray:
    """Row order that puts similar directions next to each other (average linkage on 1 - cosine)."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    if len(directions) < 3:
        return np.arange(len(directions))
    unit = unit_rows(directions)
    distance = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    return leaves_list(linkage(squareform(distance, checks=False), method="average"))


def cosine_heatmap(directions: dict[int, np.ndarray], concepts: list[str], path: str | Path, title: str) -> None:
    """Concept-by-concept cosine of the directions, one panel per layer, ordered by clustering the
    middle panel's layer so the panels are comparable."""
    plt = _pyplot()
    layers = sorted(directions)
    order = cluster_order(directions[layers[len(layers) // 2]])
    names = [concepts[i] for i in order]
    size = max(4.0, 0.12 * len(concepts) + 2.5)
    fig, axes = plt.subplots(1, len(layers), figsize=(size * len(layers), size), squeeze=False)
    for ax, layer in zip(axes[0], layers):
        unit = directions[layer][order]
        image = ax.imshow(unit @ unit.T, cmap="RdBu_r", vmin=-1, vmax=1)
        fontsize = 7 if len(names) <= 40 else 4
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=fontsize)
        ax.set_yticks(range(len(names)), names, fontsize=fontsize)
        ax.set_title(f"layer {layer}", fontsize=9)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.6, label="cosine")
    _save(fig, path, title, tight=False)  # a colorbar shared by the panels does not fit tight_layout


def heldout_accuracy_plot(table: pd.DataFrame, path: str | Path, title: str) -> None:
    """Held-out top-1 and top-5 accuracy per layer, one line per method, with chance as a dashed line."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, metric in zip(axes, ("top1", "top5")):
        for method, rows in table.groupby("method"):
            rows = rows.sort_values("layer")
            ax.plot(rows.layer, rows[metric], marker="o", label=method)
        chance = table.groupby("layer")[f"chance_{metric}"].mean().sort_index()
        ax.plot(chance.index, chance.values, linestyle="--", color="grey", label="chance")
        ax.set_xticks(sorted(table.layer.unique()))
        ax.set_xlabel("layer")
        ax.set_title(f"held-out {metric.replace('top', 'top-')} accuracy", fontsize=9)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[1].legend(fontsize=8)
    _save(fig, path, title)


def eigenvalue_spectra(
    eigenvalues: dict[int, np.ndarray], concepts: list[str], path: str | Path, title: str, highlight: int = 8
) -> None:
    """Each concept's top eigenvalues of M_pos - M_neg, one panel per layer; the ``highlight``
    concepts with the largest first eigenvalue (at the middle layer) are labelled, the rest grey."""
    plt = _pyplot()
    layers = sorted(eigenvalues)
    middle = eigenvalues[layers[len(layers) // 2]]
    labelled = set(np.argsort(-middle[:, 0])[:highlight])
    fig, axes = plt.subplots(1, len(layers), figsize=(4.2 * len(layers), 3.8), sharey=True, squeeze=False)
    for ax, layer in zip(axes[0], layers):
        values = eigenvalues[layer]
        ranks = np.arange(1, values.shape[1] + 1)
        for c, row in enumerate(values):
            if c in labelled:
                ax.plot(ranks, row, marker=".", linewidth=1.2, label=concepts[c])
            else:
                ax.plot(ranks, row, color="0.8", linewidth=0.6, zorder=0)
        ax.axhline(0, color="black", linewidth=0.5)
        ax.set_xlabel("eigenvalue rank")
        ax.set_title(f"layer {layer}", fontsize=9)
    axes[0][0].set_ylabel("eigenvalue")
    axes[0][-1].legend(fontsize=7)
    _save(fig, path, title)


def head_selectivity_plot(
    selectivity: dict[int, np.ndarray], concepts: list[str], path: str | Path, title: str, top: int = 20
) -> None:
    """Per-head selectivity (Cohen's d of each head's contribution along the direction) for the ``top``
    concepts with the most selective head, one panel per layer. Empty panels say why."""
    plt = _pyplot()
    layers = sorted(selectivity)
    fig, axes = plt.subplots(
        1, max(len(layers), 1), figsize=(3.5 + 0.35 * 8 * max(len(layers), 1), 0.25 * top + 2), squeeze=False
    )
    if not layers:
        axes[0][0].text(
            0.5, 0.5, "no attention output projection found:\nper-head analysis skipped", ha="center", va="center"
        )
        axes[0][0].axis("off")
    for ax, layer in zip(axes[0], layers):
        matrix = selectivity[layer]
        rows = np.argsort(-np.nanmax(np.abs(matrix), axis=1))[:top]
        limit = float(np.nanmax(np.abs(matrix[rows]))) or 1.0
        image = ax.imshow(matrix[rows], cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        ax.set_yticks(range(len(rows)), [concepts[r] for r in rows], fontsize=7)
        ax.set_xticks(range(matrix.shape[1]), [str(h) for h in range(matrix.shape[1])], fontsize=6)
        ax.set_xlabel("head")
        ax.set_title(f"layer {layer}", fontsize=9)
        fig.colorbar(image, ax=ax, shrink=0.7, label="selectivity (d)")
    _save(fig, path, title)


def plot_confusions(
    confusions: dict[tuple[int, str], np.ndarray], names: list[str], path: str | Path, title: str
) -> None:
    """One heatmap per (layer, scoring), rows = true label, columns = predicted."""
    plt = _pyplot()
    keys = sorted(confusions)
    layers = sorted({k[0] for k in keys})
    scorings = sorted({k[1] for k in keys})
    size = 0.45 * len(names) + 1.5
    fig, axes = plt.subplots(
        len(scorings), len(layers), figsize=(size * len(layers), size * len(scorings)), squeeze=False
    )
    for (layer, scoring), matrix in confusions.items():
        matrix = np.asarray(matrix)
        ax = axes[scorings.index(scoring)][layers.index(layer)]
        ax.imshow(matrix, cmap="Blues")
        for (i, j), count in np.ndenumerate(matrix):
            if count:
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_title(f"layer {layer}, {scoring}: top-1 {np.trace(matrix) / matrix.sum():.2f}", fontsize=8)
        ax.set_xlabel("predicted", fontsize=7)
        ax.set_ylabel("true", fontsize=7)
    _save(fig, path, title)
