"""The readout package an inference server consumes.

Contract (kept exact; extra keys and tensors may be added, none may change):
- ``readout.safetensors``: ``layer_<idx>.vectors``, float16, (n_concepts, hidden_size), unit rows;
- ``readout.json``: {"concepts", "layers", "hidden_size", "dtype": "float16"}.
Extras: ``layer_<idx>.center`` (float32, hidden_size), the mean activation of all corpus texts at that
layer; ``layer_<idx>.bias`` (float32, n_concepts) for methods with an intercept (``probe``). Readers
score a token's residual h as (h - center) . v (+ bias, when the package has one).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from .errors import UserError
from .store import save_tensors, write_json

CONTRACT_KEYS = ("concepts", "layers", "hidden_size", "dtype")


class PackageError(UserError):
    """A readout package that breaks the contract."""


def write_package(
    out_dir: str | Path,
    concepts: list[str],
    vectors: dict[int, np.ndarray],
    centers: dict[int, np.ndarray],
    extra: dict,
    biases: dict[int, np.ndarray] | None = None,
) -> None:
    """Write readout.safetensors and readout.json; ``extra`` goes into readout.json beside the contract."""
    layers = sorted(vectors)
    hidden = int(vectors[layers[0]].shape[1])
    tensors = {}
    for layer in layers:
        rows = np.asarray(vectors[layer], dtype=np.float64)
        rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        tensors[f"layer_{layer}.vectors"] = torch.from_numpy(rows).to(torch.float16)
        tensors[f"layer_{layer}.center"] = torch.from_numpy(np.asarray(centers[layer], dtype=np.float32))
        if biases:
            tensors[f"layer_{layer}.bias"] = torch.from_numpy(np.asarray(biases[layer], dtype=np.float32))
    meta = {
        "concepts": list(concepts),
        "layers": layers,
        "hidden_size": hidden,
        "dtype": "float16",
        "center_tensors": {str(layer): f"layer_{layer}.center" for layer in layers},
        "center_dtype": "float32",
        "scoring": "(h - center) . v" + (" + bias" if biases else "")
                   + ", with h the residual stream after block <layer> at the token read",
        **({"bias_tensors": {str(layer): f"layer_{layer}.bias" for layer in layers}} if biases else {}),
        **extra,
    }
    out_dir = Path(out_dir)
    save_tensors(out_dir / "readout.safetensors", tensors)
    write_json(out_dir / "readout.json", meta)


def read_package(package_dir: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Load a package and check it against the contract; returns (readout.json, tensors)."""
    package_dir = Path(package_dir)
    meta = json.loads((package_dir / "readout.json").read_text())
    tensors = load_file(package_dir / "readout.safetensors")
    missing = [k for k in CONTRACT_KEYS if k not in meta]
    if missing:
        raise PackageError(f"{package_dir}/readout.json lacks {missing}")
    if meta["dtype"] != "float16":
        raise PackageError(f"{package_dir}/readout.json: dtype {meta['dtype']!r}, expected 'float16'")
    shape = (len(meta["concepts"]), meta["hidden_size"])
    for layer in meta["layers"]:
        vectors = tensors.get(f"layer_{layer}.vectors")
        if vectors is None:
            raise PackageError(f"{package_dir}/readout.safetensors lacks layer_{layer}.vectors")
        if vectors.dtype != torch.float16 or tuple(vectors.shape) != shape:
            raise PackageError(
                f"layer_{layer}.vectors is {vectors.dtype} {tuple(vectors.shape)}, expected float16 {shape}"
            )
        norms = vectors.float().norm(dim=1)
        if not torch.allclose(norms, torch.ones_like(norms), atol=2e-3):
            raise PackageError(f"layer_{layer}.vectors rows are not unit-norm (norms {norms.min():.4f}..{norms.max():.4f})")
    return meta, tensors


class Readout:
    """The reference reader of a package: what an inference server computes, and nothing more."""

    def __init__(self, package_dir: str | Path):
        self.meta, self.tensors = read_package(package_dir)
        self.concepts: list[str] = list(self.meta["concepts"])
        self.layers: list[int] = list(self.meta["layers"])

    def scores(self, hidden: torch.Tensor, layer: int, centred: bool = True) -> torch.Tensor:
        """(n, n_concepts) scores of residuals ``hidden`` (n, hidden_size) at ``layer``: (h - center) . v,
        plus the package's bias when it has one; ``centred=False`` gives the raw h . v for comparison."""
        vectors = self.tensors[f"layer_{layer}.vectors"].float()
        if not centred:
            return hidden.float() @ vectors.T
        scores = (hidden.float() - self.tensors[f"layer_{layer}.center"].float()) @ vectors.T
        bias = self.tensors.get(f"layer_{layer}.bias")
        return scores if bias is None else scores + bias.float()
