"""Files on disk: atomic writes, activation shards, one method's fitted directions, and the layer list.

Light jobs (validation, layers, selection, summaries) use this module: it imports torch only where a
caller hands it torch tensors (extraction's shards), so that those jobs start without it."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors import SafetensorError, safe_open

from .errors import UserError
from .model_io import PreparedModel

_UMASK = os.umask(0)  # the umask can only be read by setting it; put it straight back
os.umask(_UMASK)


def atomic_write(path: str | Path, write) -> None:
    """Call ``write(tmp_path)``, then rename onto ``path``: a half-written file is never taken as done."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        raise UserError(
            f"{path}: no space left on the disk; free some (or point results/ at a larger disk) and run "
            "snakemake again: what is already computed is kept"
        ) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | Path, data: dict) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2) + "\n"))


def write_tsv(path: str | Path, table) -> None:
    """A pandas table as tab-separated text, without the index, written atomically."""
    atomic_write(path, lambda tmp: table.to_csv(tmp, sep="\t", index=False))


def save_tensors(path: str | Path, tensors: Mapping[str, Any], metadata: dict[str, str] | None = None) -> None:
    """A safetensors file of numpy arrays (written without torch) or of torch tensors; the same tensors
    and metadata give the same bytes (``canonical_header``)."""
    if all(isinstance(value, np.ndarray) for value in tensors.values()):
        from safetensors.numpy import save as save_arrays

        data = save_arrays({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata)
    else:
        from safetensors.torch import save

        data = save({k: v.contiguous() for k, v in tensors.items()}, metadata)
    data = canonical_header(data)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def canonical_header(data: bytes) -> bytes:
    """``data`` with its ``__metadata__`` keys in sorted order. safetensors writes them in an order that
    changes from process to process (safetensors issue 584), so a rerun would change a file's bytes
    and nothing else. The header is re-serialised only where that gives back its own bytes."""
    length = int.from_bytes(data[:8], "little")
    header = data[8 : 8 + length]
    parsed = json.loads(header)
    metadata = parsed.get("__metadata__") or {}
    if len(metadata) < 2 or _compact_json(parsed) != header.rstrip(b" "):
        return data
    parsed["__metadata__"] = dict(sorted(metadata.items()))
    return data[:8] + _compact_json(parsed).ljust(length) + data[8 + length :]


def _compact_json(value) -> bytes:
    # how safetensors (serde_json) writes its header: no spaces, UTF-8 unescaped
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def save_shard(path: str | Path, text_ids: Sequence[str], acts, dtype: str = "") -> None:
    """One extraction shard (an ``extract.Activations``), text ids in the metadata. Per layer:

    ``layer_<idx>.last_token``, ``.all_tokens``, ``.sentence_ends`` (n_texts, hidden) float32 (the
    readings of ``extract.READINGS``); ``layer_<idx>.head_inputs`` (n_texts,
    heads x head_dim) float32, when captured; ``layer_<idx>.subspace`` (Σ k_i, hidden) float16, every
    text's subspace basis stacked in text order, with ``layer_<idx>.subspace_rows`` (n_texts,) = k_i.
    Bases are orthonormal rows, for which float16 (half the disk of float32) is ample: tests check that
    directions fitted from them match float32 ones to cosine 0.9999.
    """
    import torch

    tensors = {}
    for layer, last in acts.last_token.items():
        tensors[f"layer_{layer}.last_token"] = last.float()
        for reading in ("all_tokens", "sentence_ends"):  # extract.MEANS (not imported: extract imports this)
            if layer in getattr(acts, reading):
                tensors[f"layer_{layer}.{reading}"] = getattr(acts, reading)[layer].float()
        if layer in acts.head_inputs:
            tensors[f"layer_{layer}.head_inputs"] = acts.head_inputs[layer].float()
        if layer in acts.subspaces:
            bases = acts.subspaces[layer]
            hidden = last.shape[1]
            tensors[f"layer_{layer}.subspace"] = (
                torch.cat(bases).half() if bases else torch.empty((0, hidden), dtype=torch.float16)
            )
            tensors[f"layer_{layer}.subspace_rows"] = torch.tensor([len(b) for b in bases], dtype=torch.int64)
    meta = {"text_ids": json.dumps(list(text_ids)), "layers": json.dumps(sorted(acts.last_token)), "dtype": dtype}
    save_tensors(path, tensors, meta)


def shard_dtype(paths: Sequence[str | Path]) -> str:
    """The dtype the model ran in for every shard that holds texts; shards extracted in different dtypes
    (cluster nodes whose CPUs differ, with ``dtype: auto``) cannot be fitted together."""
    seen: dict[str, str] = {}
    for path in paths:
        with safe_open(str(path), framework="numpy") as handle:
            meta = handle.metadata()
        if json.loads(meta["text_ids"]):
            seen.setdefault(meta.get("dtype", ""), str(path))
    if len(seen) > 1:
        found = ", ".join(f"{Path(p).name}: {d or 'unrecorded'}" for d, p in sorted(seen.items()))
        raise UserError(
            f"{Path(next(iter(seen.values()))).parent}: shards extracted in different dtypes ({found}), as on "
            "cluster nodes whose CPUs differ; set dtype: bfloat16 or float32 in config.yaml (not auto) and run "
            "again, which extracts the others anew"
        )
    return next(iter(seen), "")


def _gather(
    paths: Sequence[str | Path], text_ids: Sequence[str], layers: Sequence[int], part: str, split
) -> dict[int, list]:
    """Rows of ``layer_<idx>.<part>`` for ``text_ids`` (in that order) from shard files."""
    rows: dict[int, dict[str, np.ndarray]] = {layer: {} for layer in layers}
    for path in paths:
        try:
            with safe_open(str(path), framework="numpy") as handle:
                ids = json.loads(handle.metadata()["text_ids"])
                if not ids:
                    continue
                for layer in layers:
                    name = f"layer_{layer}.{part}"
                    if name not in handle.keys():
                        raise UserError(
                            f"{path}: no {part} activations for layer {layer} (written by an older version or "
                            "other settings); rerun with --forcerun extract_activations"
                        )
                    rows[layer].update(zip(ids, split(handle, layer, name)))
        except (SafetensorError, OSError) as err:
            raise UserError(
                f"{path}: activation shard cannot be read ({err}); delete it and run snakemake "
                "again, which extracts it anew"
            ) from None
    missing = [t for t in text_ids if t not in rows[layers[0]]]
    if missing:
        raise UserError(
            f"{len(missing)} text(s) of the corpus table have no activations in the shards (e.g. {missing[:3]}); "
            "run snakemake again (a story changed while the run was under way?)"
        )
    return {layer: [rows[layer][t] for t in text_ids] for layer in layers}


def load_rows(
    paths: Sequence[str | Path], text_ids: Sequence[str], layers: Sequence[int], part: str = "last_token"
) -> dict[int, np.ndarray]:
    """{layer: (n_texts, width) float32} of one per-text capture: a reading (``last_token``,
    ``all_tokens``, ``sentence_ends``) or ``head_inputs``."""
    rows = _gather(paths, text_ids, layers, part, lambda handle, layer, name: handle.get_tensor(name))
    return {layer: np.stack(block) for layer, block in rows.items()}


def load_subspaces(
    paths: Sequence[str | Path], text_ids: Sequence[str], layers: Sequence[int]
) -> dict[int, list[np.ndarray]]:
    """{layer: [text's subspace basis (k_i, hidden) float32, ...]} for ``text_ids`` in that order."""

    def split(handle, layer, name):
        counts = handle.get_tensor(f"layer_{layer}.subspace_rows")
        return np.split(handle.get_tensor(name).astype(np.float32), np.cumsum(counts)[:-1])

    return _gather(paths, text_ids, layers, "subspace", split)


def write_layers(path: str | Path, layers: list[int], num_layers: int, depth_percent: dict[int, float]) -> None:
    """``results/model/layers.json``: the block indices read, the model's block count, and each
    index's depth in percent."""
    write_json(
        path,
        {
            "layers": list(layers),
            "num_layers": num_layers,
            "depth_percent": {str(layer): depth_percent[layer] for layer in layers},
        },
    )


def read_layer_info(path: str | Path) -> dict:
    """All of ``layers.json``: {"layers", "num_layers", "depth_percent" (keyed by str(layer))}."""
    return json.loads(Path(path).read_text())


def read_layers(path: str | Path) -> list[int]:
    """The block indices of ``layers.json``."""
    return read_layer_info(path)["layers"]


def read_model_info(path: str | Path) -> PreparedModel:
    """``results/model/model.json``, as the prepare_model job wrote it."""
    return PreparedModel(**json.loads(Path(path).read_text()))


@dataclass
class Directions:
    """One method's fit (``results/directions/<method>.safetensors``), per layer: unit ``vectors``
    (n_concepts, hidden), the fitting set's mean activation ``centers`` (hidden,), and where the
    method has them, ``bias`` (n_concepts,) and the subspace method's ``eigenvalues`` (n_concepts, n)."""

    method: str
    read_at: str
    concepts: list[str]
    vectors: dict[int, np.ndarray]
    centers: dict[int, np.ndarray]
    bias: dict[int, np.ndarray] = field(default_factory=dict)
    eigenvalues: dict[int, np.ndarray] = field(default_factory=dict)
    extraction_dtype: str = ""  # the dtype the model ran in (store.shard_dtype)

    @property
    def layers(self) -> list[int]:
        return sorted(self.vectors)


def save_directions(path: str | Path, fitted: Directions) -> None:
    """float32 tensors ``layer_<idx>.vectors``, ``.center``, ``.bias``, ``.eigenvalues``; the concepts,
    layers, method and reading in the metadata."""
    tensors = {}
    for name, per_layer in (
        ("vectors", fitted.vectors),
        ("center", fitted.centers),
        ("bias", fitted.bias),
        ("eigenvalues", fitted.eigenvalues),
    ):
        for layer, values in per_layer.items():
            tensors[f"layer_{layer}.{name}"] = np.asarray(values, dtype=np.float32)
    meta = {
        "concepts": json.dumps(fitted.concepts),
        "layers": json.dumps(fitted.layers),
        "method": fitted.method,
        "read_at": fitted.read_at,
        "extraction_dtype": fitted.extraction_dtype,
    }
    save_tensors(path, tensors, meta)


def load_directions(path: str | Path) -> Directions:
    with safe_open(str(path), framework="numpy") as handle:
        meta, keys = handle.metadata(), set(handle.keys())
        layers = json.loads(meta["layers"])

        def per_layer(name):
            return {
                layer: handle.get_tensor(f"layer_{layer}.{name}") for layer in layers if f"layer_{layer}.{name}" in keys
            }

        return Directions(
            meta["method"],
            meta["read_at"],
            json.loads(meta["concepts"]),
            per_layer("vectors"),
            per_layer("center"),
            per_layer("bias"),
            per_layer("eigenvalues"),
            meta.get("extraction_dtype", ""),
        )


@dataclass
class FittingSet:
    """The texts the directions are fitted on, in texts.tsv order: ids, labels ("" for a baseline),
    scenarios ("" for a single story), source files, and the concepts fitted (sorted)."""

    text_ids: list[str]
    labels: list[str]
    scenarios: list[str]
    sources: list[str]
    concepts: list[str]


def fitting_set(texts_path: str | Path, concepts_path: str | Path) -> FittingSet:
    """Read validation's tables (``results/corpus/texts.tsv``, ``concepts.tsv``); texts of skipped
    concepts are neither positives nor negatives."""
    texts = pd.read_csv(texts_path, sep="\t", dtype=str, keep_default_na=False)
    table = pd.read_csv(concepts_path, sep="\t", dtype=str, keep_default_na=False)
    concepts = sorted(table.concept[table.status == "ok"])
    texts = texts[(texts.role != "positive") | texts.concept.isin(concepts)]  # baselines and neutral texts too
    labels = [c if r == "positive" else "" for c, r in zip(texts.concept, texts.role)]
    return FittingSet(list(texts.text_id), labels, list(texts.scenario), list(texts.source), concepts)
