"""Speed of the `subspace` fit against the naive per-concept formula, on the same synthetic data.

Defaults are the issue's setting: hidden 1024, 24 concepts, 2 layers, 40 texts x 64 tokens (every text's
full subspace kept). Token activations have structure like a real model's: a component shared by all
texts, a few directions per concept, and isotropic noise. ``--random`` uses pure noise instead (the
eigenvalue spectrum is then flat, the slowest case for a top-k eigensolver). Prints a Markdown table;
the time of each is the median of ``--repeats`` runs, and the two results are checked to agree.

    python bench/subspace_speed.py [--hidden 1024] [--concepts 24] [--layers 2] [--texts 40] [--tokens 64]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from amygdala_readout.extract import text_subspace
from amygdala_readout.subspace import naive_subspace, subspace


def synthetic_layer(rng, hidden: int, concepts: list[str], n_texts: int, n_tokens: int, structured: bool):
    """(last-token activations, per-text subspaces, labels): texts cycle through concepts, plus 4 baselines."""
    labels = [concepts[i % len(concepts)] for i in range(n_texts - 4)] + [""] * 4
    shared = rng.normal(size=(16, hidden)) * 4.0
    own = {c: rng.normal(size=(4, hidden)) * 3.0 for c in concepts}
    tokens = []
    for label in labels:
        x = rng.normal(size=(n_tokens, hidden))
        if structured:
            x += rng.normal(size=(n_tokens, 16)) @ shared
            if label:
                x += rng.normal(size=(n_tokens, 4)) @ own[label]
        tokens.append(x)
    return np.stack([t[-1] for t in tokens]), [text_subspace(t) for t in tokens], labels


def timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--concepts", type=int, default=24)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--texts", type=int, default=40)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--random", action="store_true", help="pure-noise activations")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    concepts = [f"concept_{i:02d}" for i in range(args.concepts)]
    layers = [
        synthetic_layer(rng, args.hidden, concepts, args.texts, args.tokens, not args.random)
        for _ in range(args.layers)
    ]

    def run(fit):
        return [fit(last, bases, labels, concepts) for last, bases, labels in layers]

    naive_s, naive = timed(lambda: run(naive_subspace), args.repeats)
    fast_s, fast = timed(lambda: run(subspace), args.repeats)
    cosine = min(float(np.min(np.sum(f[0] * n[0], axis=1))) for f, n in zip(fast, naive))
    eig_err = max(float(np.max(np.abs(f[1] - n[1][:, : f[1].shape[1]]))) for f, n in zip(fast, naive))
    data = "pure noise" if args.random else "structured"
    print("| setting | naive (s) | fast (s) | speed-up | min cosine | max eigenvalue error |")
    print("|---|---|---|---|---|---|")
    print(
        f"| hidden {args.hidden}, {args.concepts} concepts, {args.layers} layers, {args.texts} texts x "
        f"{args.tokens} tokens, {data} | {naive_s:.3f} | {fast_s:.3f} | {naive_s / fast_s:.1f}x | "
        f"{cosine:.6f} | {eig_err:.1e} |"
    )


if __name__ == "__main__":
    main()
