"""The readout package an inference server consumes.

Contract (kept exact; extra keys and tensors may be added, none may change):
- ``readout.safetensors``: ``layer_<idx>.vectors``, float16, (n_concepts, hidden_size), unit rows;
- ``readout.json``: {"concepts", "layers", "hidden_size", "dtype": "float16"}.
Extras: ``layer_<idx>.center`` (float32, hidden_size), the mean activation of the texts the directions
were fitted on at that layer (always written; the reference reader requires it);
``layer_<idx>.bias`` (float32, n_concepts) for methods with an intercept (``lda``, ``probe``). Readers
score a token's residual h as (h - center) . v (+ bias, when the package has one).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from .errors import UserError
from .masks import unit_rows
from .model_io import PreparedModel
from .shipping import fault_point
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
        rows = unit_rows(np.asarray(vectors[layer], dtype=np.float64))
        tensors[f"layer_{layer}.vectors"] = rows.astype(np.float16)
        tensors[f"layer_{layer}.center"] = np.asarray(centers[layer], dtype=np.float32)
        if biases:
            tensors[f"layer_{layer}.bias"] = np.asarray(biases[layer], dtype=np.float32)
    meta = {
        "concepts": list(concepts),
        "layers": layers,
        "hidden_size": hidden,
        "dtype": "float16",
        "center_tensors": {str(layer): f"layer_{layer}.center" for layer in layers},
        "center_dtype": "float32",
        "scoring": "(h - center) . v"
        + (" + bias" if biases else "")
        + ", with h the residual stream after block <layer> at the token read",
        **({"bias_tensors": {str(layer): f"layer_{layer}.bias" for layer in layers}} if biases else {}),
        **extra,
    }
    out_dir = Path(out_dir)
    save_tensors(out_dir / "readout.safetensors", tensors)
    fault_point("package_readout:during")
    write_json(out_dir / "readout.json", meta)


def provenance(method: str, model_info: PreparedModel, layer_info: dict, validation: dict, config: dict) -> dict:
    """What readout.json records beside the contract: how the vectors were made, from what, with what."""
    from importlib.metadata import version

    from . import __version__

    return {
        "method": method,
        "activation": "residual stream after decoder block <layer> (before the final norm)",
        # what the directions were fitted on; a server may score any token (see README, "Reading")
        "read_at": config["read_at"],
        # a reader wraps its text in this template (its {text} replaced) and reads the last token
        "template": config["template"],
        "layer_depth_percent": layer_info["depth_percent"],
        "model": {
            k: getattr(model_info, k)
            for k in ("spec", "kind", "load_path", "model_type", "num_layers", "hidden_size", "fingerprint", "files")
        },
        "corpus": {k: validation[k] for k in ("corpus_fingerprint", "n_texts", "n_concepts", "n_baselines")},
        "config": config,
        "versions": {
            "amygdala_readout": __version__,
            **{p: version(p) for p in ("torch", "transformers", "safetensors")},
        },
    }


REBUILD = "re-run the workflow to rebuild the package, or re-copy it"


def read_package(package_dir: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Load a package and check it against the contract; returns (readout.json, tensors).

    Every way a package can be broken ends in a ``PackageError`` naming the file, never a traceback:
    readers call this before loading a model, so a bad package costs no model load.
    """
    package_dir = Path(package_dir)
    if not package_dir.is_dir():
        raise PackageError(
            f"{package_dir}: no such package folder; give the folder that holds readout.json and readout.safetensors"
        )
    meta_path, tensors_path = package_dir / "readout.json", package_dir / "readout.safetensors"
    meta = _read_meta(meta_path)
    _check_meta(meta, meta_path)
    tensors = _read_tensors(tensors_path)
    shape = (len(meta["concepts"]), meta["hidden_size"])
    for layer in meta["layers"]:
        vectors = tensors.get(f"layer_{layer}.vectors")
        if vectors is not None and vectors.ndim == 2 and vectors.shape[0] != shape[0]:
            raise PackageError(
                f"{meta_path} lists {shape[0]} concepts but layer_{layer}.vectors in {tensors_path.name} has "
                f"{vectors.shape[0]} rows: the two files come from different packages; {REBUILD}"
            )
        _check_vectors(tensors.get(f"layer_{layer}.vectors"), layer, shape, tensors_path)
        _check_center(tensors.get(f"layer_{layer}.center"), layer, meta["hidden_size"], tensors_path)
        _check_bias(tensors.get(f"layer_{layer}.bias"), layer, meta, tensors_path)
    return meta, tensors


def _read_meta(path: Path) -> dict:
    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise PackageError(f"{path}: missing; {REBUILD}") from None
    except OSError as err:
        raise PackageError(f"{path}: cannot be read ({err.strerror}); {REBUILD}") from None
    except UnicodeDecodeError:
        raise PackageError(f"{path}: not UTF-8 text, so not the JSON a package holds; {REBUILD}") from None
    except json.JSONDecodeError as err:
        raise PackageError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}); {REBUILD}") from None
    if not isinstance(meta, dict):
        raise PackageError(f"{path}: a JSON {type(meta).__name__}, not the object a package holds; {REBUILD}")
    return meta


def _check_meta(meta: dict, path: Path) -> None:
    """The contract's keys, present and of the right kind (later code indexes and sizes by them)."""
    missing = [k for k in CONTRACT_KEYS if k not in meta]
    if missing:
        raise PackageError(f"{path} lacks {missing}; {REBUILD}")
    concepts, layers, hidden = meta["concepts"], meta["layers"], meta["hidden_size"]
    if not (isinstance(concepts, list) and concepts and all(isinstance(c, str) for c in concepts)):
        raise PackageError(f"{path}: 'concepts' must be a non-empty list of names; {REBUILD}")
    if not (isinstance(layers, list) and layers and all(_is_int(i) and i >= 0 for i in layers)):
        raise PackageError(f"{path}: 'layers' must be a non-empty list of block indices; {REBUILD}")
    if not (_is_int(hidden) and hidden > 0):
        raise PackageError(f"{path}: 'hidden_size' must be a positive integer, not {hidden!r}; {REBUILD}")
    if meta["dtype"] != "float16":
        raise PackageError(f"{path}: dtype {meta['dtype']!r}, expected 'float16'")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(path)
    except FileNotFoundError:
        raise PackageError(f"{path}: missing; {REBUILD}") from None
    except OSError as err:
        raise PackageError(f"{path}: cannot be read ({err.strerror}); {REBUILD}") from None
    except SafetensorError as err:  # truncated or not safetensors at all
        raise PackageError(f"{path}: corrupt, not a readable safetensors file ({err}); {REBUILD}") from None


def _check_vectors(vectors: torch.Tensor | None, layer: int, shape: tuple, path: Path) -> None:
    if vectors is None:
        raise PackageError(f"{path} lacks layer_{layer}.vectors; {REBUILD}")
    if vectors.dtype != torch.float16 or tuple(vectors.shape) != shape:
        raise PackageError(
            f"{path}: layer_{layer}.vectors is {vectors.dtype} {tuple(vectors.shape)}, expected float16 {shape}"
        )
    norms = vectors.float().norm(dim=1)
    if not torch.allclose(norms, torch.ones_like(norms), atol=2e-3):  # NaN rows fail here too
        raise PackageError(
            f"{path}: layer_{layer}.vectors rows are not unit-norm "
            f"(norms {norms.min():.4f}..{norms.max():.4f}); {REBUILD}"
        )


def _check_center(center: torch.Tensor | None, layer: int, hidden: int, path: Path) -> None:
    """Readers score (h - center) . v, so a package without its centres cannot be read."""
    if center is None:
        raise PackageError(f"{path} lacks layer_{layer}.center (the mean activation scores are centred on); {REBUILD}")
    if tuple(center.shape) != (hidden,) or not center.is_floating_point() or not center.isfinite().all():
        raise PackageError(
            f"{path}: layer_{layer}.center is {center.dtype} {tuple(center.shape)}, expected "
            f"finite floats ({hidden},); {REBUILD}"
        )


def _check_bias(bias: torch.Tensor | None, layer: int, meta: dict, path: Path) -> None:
    """A bias the package announces must be there: scores without it would be silently shifted."""
    if bias is None:
        if str(layer) in (meta.get("bias_tensors") or {}):
            raise PackageError(f"{path} lacks layer_{layer}.bias, which readout.json lists; {REBUILD}")
        return
    if tuple(bias.shape) != (len(meta["concepts"]),) or not bias.is_floating_point():
        raise PackageError(
            f"{path}: layer_{layer}.bias is {bias.dtype} {tuple(bias.shape)}, expected floats "
            f"({len(meta['concepts'])},); {REBUILD}"
        )


def score(hidden, vectors, center=None, bias=None):
    """What a reader computes from a package, for residuals ``hidden`` (n, hidden_size) and unit rows
    ``vectors`` (n_concepts, hidden_size): (h - center) . v + bias; without ``center`` and ``bias`` the
    raw h . v. Works on numpy arrays and torch tensors alike: cross-validation scores its held-out
    texts with it, ``Readout`` a package's."""
    scores = (hidden if center is None else hidden - center) @ vectors.T
    return scores if bias is None else scores + bias


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
            return score(hidden.float(), vectors)
        bias = self.tensors.get(f"layer_{layer}.bias")
        return score(
            hidden.float(),
            vectors,
            self.tensors[f"layer_{layer}.center"].float(),
            None if bias is None else bias.float(),
        )
