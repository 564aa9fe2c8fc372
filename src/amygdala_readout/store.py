"""Files on disk: atomic writes, and activation shards in safetensors."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .errors import UserError


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
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | Path, data: dict) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2) + "\n"))


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    atomic_write(path, lambda tmp: save_file({k: v.contiguous() for k, v in tensors.items()}, tmp, metadata))


def save_shard(path: str | Path, text_ids: Sequence[str], last_token: dict[int, torch.Tensor]) -> None:
    """One extraction shard: ``layer_<idx>.last_token`` (n_texts, hidden) float32, text ids in metadata."""
    tensors = {f"layer_{layer}.last_token": acts.float() for layer, acts in last_token.items()}
    save_tensors(path, tensors, {"text_ids": json.dumps(list(text_ids)), "layers": json.dumps(sorted(last_token))})


def load_last_token(paths: Sequence[str | Path], text_ids: Sequence[str], layers: Sequence[int]) -> dict[int, np.ndarray]:
    """Gather rows for ``text_ids`` (in that order) from shard files: {layer: (n_texts, hidden) float32}."""
    rows: dict[int, dict[str, np.ndarray]] = {layer: {} for layer in layers}
    for path in paths:
        with safe_open(str(path), framework="numpy") as handle:
            ids = json.loads(handle.metadata()["text_ids"])
            if not ids:
                continue
            for layer in layers:
                name = f"layer_{layer}.last_token"
                if name not in handle.keys():
                    raise UserError(f"{path}: no activations for layer {layer}; rerun with --forcerun extract_activations")
                block = handle.get_tensor(name)
                rows[layer].update(zip(ids, block))
    missing = [t for t in text_ids if t not in rows[layers[0]]]
    if missing:
        raise UserError(
            f"{len(missing)} text(s) have no activations (e.g. {missing[:3]}), e.g. a story moved in with an "
            "old modification time; rerun with `snakemake --cores all --forcerun extract_activations`"
        )
    return {layer: np.stack([rows[layer][t] for t in text_ids]) for layer in layers}
