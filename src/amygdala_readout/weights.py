"""The few weight matrices the quality report needs, read per block without loading the model.

The report relates readout directions to what each block writes into the residual stream: the MLP's
output projection (one column per neuron) and the attention output projection (one column block per
head). Loading a multi-GB model for a handful of matrices is wasteful, so the module names come from a
model built on the meta device (no memory) and only the named tensors are read from the safetensors
files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .architectures import attention_output_projection, find_decoder_layers, is_transposed, mlp_down_projection
from .errors import UserError

if TYPE_CHECKING:  # torch and numpy only for annotations: the workflow imports this package while parsing
    import numpy
    import torch

SAFETENSORS_INDEX = "model.safetensors.index.json"
RESAVE_HINT = "re-save it with save_pretrained(safe_serialization=True)"


class WeightError(UserError):
    """The model folder's weights do not hold what the report needs; the message says what to do."""


@dataclass
class WeightNames:
    """Where a model's per-block weights are: per block index, the full names of its MLP down and
    attention output projections and whether each is stored transposed; and its attention-head count.
    Built once while preparing (``model_io.weight_names_for``), recorded in model.json, read back here."""

    layers: dict[int, dict[str, str | bool | None]]
    n_heads: int | None

    def to_json(self) -> dict:
        return {"n_heads": self.n_heads, "layers": {str(layer): entry for layer, entry in self.layers.items()}}

    @classmethod
    def from_json(cls, data: dict) -> WeightNames:
        return cls({int(layer): entry for layer, entry in data["layers"].items()}, data["n_heads"])


def layer_weight_names(model: torch.nn.Module, layers: list[int]) -> dict[int, dict[str, str | bool | None]]:
    """Per block index: the full parameter names of its down/o projections and their orientation.

    Names come from ``model.named_modules()``, so a model built on the meta device is enough.
    """
    blocks = find_decoder_layers(model)
    module_names = {id(module): name for name, module in model.named_modules()}
    result: dict[int, dict[str, str | bool | None]] = {}
    for index in layers:
        entry: dict[str, str | bool | None] = {}
        for key, finder in (("down_proj", mlp_down_projection), ("o_proj", attention_output_projection)):
            module = finder(blocks[index])
            name = module_names.get(id(module)) if module is not None else None
            entry[key] = f"{name}.weight" if name else None
            entry[f"{key}_transposed"] = bool(module is not None and is_transposed(module))
        result[index] = entry
    return result


def _weight_files(folder: Path) -> dict[str, Path]:
    """Tensor key -> the safetensors file holding it, from the shard index or from the files themselves."""
    from safetensors import safe_open

    index = folder / SAFETENSORS_INDEX
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        return {key: folder / file for key, file in weight_map.items()}
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise WeightError(f"{folder}: this model folder has no safetensors weights; {RESAVE_HINT}")
    where = {}
    for path in files:
        with safe_open(path, framework="pt") as handle:  # reads only the header
            where.update(dict.fromkeys(handle.keys(), path))
    return where


def _match_key(name: str, keys: dict[str, Path], folder: Path) -> str:
    """The checkpoint key for module parameter ``name``.

    Exact first; else the longest tail of ``name`` (dropping leading components, never past the block
    index) that exactly one key ends with. Checkpoints saved from a base model lack ``model.``, and
    multimodal Gemma 3 is saved as ``language_model.model.layers...`` while built as
    ``model.language_model.layers...``.
    """
    if name in keys:
        return name
    parts = name.split(".")
    last = next((i for i, part in enumerate(parts) if part.isdigit()), len(parts) - 1)
    for start in range(1, last + 1):
        tail = ".".join(parts[start:])
        hits = [key for key in keys if key == tail or key.endswith("." + tail)]
        if len(hits) > 1:
            # prefer the key that shares most of the dropped prefix (language_model over vision_model)
            dropped = set(parts[:start])
            scores = {key: len(dropped & set(key[: -len(tail)].split("."))) for key in hits}
            best = max(scores.values())
            hits = [key for key in hits if scores[key] == best]
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise WeightError(
                f"{folder}: tensor {name!r} matches several checkpoint tensors ({', '.join(sorted(hits))}); "
                f"{RESAVE_HINT} from the causal LM class so the names are unambiguous"
            )
    raise WeightError(
        f"{folder}: tensor {name!r} is not in the model's safetensors weights (the weights do not match "
        f"config.json, or a download is incomplete); re-download the model or {RESAVE_HINT}"
    )


def read_layer_weights(
    model_dir: str | Path, names: WeightNames, layers: list[int]
) -> dict[int, dict[str, numpy.ndarray | None]]:
    """Per block: ``down_proj`` as (hidden, intermediate) and ``o_proj`` as (hidden, n_heads*head_dim),
    float32, so column j is the residual-stream direction that neuron j (or head dimension j) writes.

    Only the named tensors are read; a name of None (no such module) gives None.
    """
    from safetensors import safe_open

    folder = Path(model_dir)
    keys = _weight_files(folder)
    wanted: dict[tuple[int, str], tuple[str, bool]] = {}
    for index in layers:
        if index not in names.layers:
            known = sorted(names.layers)
            raise WeightError(
                f"{folder}: no weight names for block {index} (known blocks: {known}); "
                "build the names with weight_names_for on the same model"
            )
        for part in ("down_proj", "o_proj"):
            entry = names.layers[index]
            name = entry.get(part)
            if isinstance(name, str):
                key = _match_key(name, keys, folder)
                wanted[(index, part)] = (key, bool(entry.get(f"{part}_transposed")))

    result: dict[int, dict] = {index: {"down_proj": None, "o_proj": None} for index in layers}
    by_file: dict[Path, list[tuple[int, str]]] = {}
    for slot, (key, _) in wanted.items():
        by_file.setdefault(keys[key], []).append(slot)
    for path, slots in by_file.items():
        if not path.is_file():
            raise WeightError(
                f"{folder}: weight file {path.name} (listed in {SAFETENSORS_INDEX}) is missing; re-download the model"
            )
        with safe_open(path, framework="pt") as handle:  # "pt": numpy cannot hold bf16
            for index, part in slots:
                key, transposed = wanted[(index, part)]
                tensor = handle.get_tensor(key).float()
                result[index][part] = (tensor.T if transposed else tensor).contiguous().numpy()
    return result
