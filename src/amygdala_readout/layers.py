"""Which decoder blocks to read, and where a model keeps them."""

from __future__ import annotations

import math

from .errors import UserError

# Attribute paths to the list of decoder blocks, tried in order. Covers Llama/Mistral/Qwen2/Qwen3/
# Phi/Gemma 2/Gemma 3 text (model.layers), Gemma 3 multimodal (language_model nesting, both the
# transformers>=4.52 and the older layout), GPT-2 (transformer.h), GPT-NeoX (gpt_neox.layers) and
# OPT (model.decoder.layers).
DECODER_LAYER_PATHS = (
    "model.layers",
    "model.language_model.layers",
    "model.language_model.model.layers",
    "language_model.model.layers",
    "language_model.layers",
    "transformer.h",
    "gpt_neox.layers",
    "model.decoder.layers",
    "layers",
)


class LayerError(UserError):
    """A layer request that cannot be met; the message says what would."""


def attribute_path(root, path: str):
    """``root.a.b.c`` for ``path`` "a.b.c", or None as soon as a step is missing."""
    for name in path.split("."):
        root = getattr(root, name, None)
        if root is None:
            return None
    return root


def find_decoder_layers(model: "torch.nn.Module") -> "torch.nn.ModuleList":
    from torch import nn  # here, not at the top: the workflow imports this package while parsing

    for path in DECODER_LAYER_PATHS:
        module = attribute_path(model, path)
        if isinstance(module, nn.ModuleList) and len(module) > 0:
            return module
    raise LayerError(
        f"cannot find the decoder blocks of {type(model).__name__}; tried "
        + ", ".join(DECODER_LAYER_PATHS)
        + ". Add the attribute path of its block list to DECODER_LAYER_PATHS in layers.py"
    )


def resolve_layers(spec: list[int | float], num_layers: int) -> list[int]:
    """Turn config entries into sorted, unique block indices.

    An int is an index (negative counts from the end); a float in [0, 1] is a fraction of depth,
    rounded half up onto 0 .. num_layers-1, so 0.0 is the first block and 1.0 the last.
    """
    if not spec:
        raise LayerError("`layers` is empty; give block indices or fractions of depth")
    indices = set()
    for entry in spec:
        if isinstance(entry, bool) or not isinstance(entry, (int, float)):
            raise LayerError(f"layer {entry!r} is neither an index nor a fraction of depth")
        if isinstance(entry, int):
            index = entry + num_layers if entry < 0 else entry
            if not 0 <= index < num_layers:
                raise LayerError(
                    f"layer index {entry} is out of range for a model with {num_layers} blocks "
                    f"(valid: 0..{num_layers - 1}, or -{num_layers}..-1)"
                )
        else:
            if not 0.0 <= entry <= 1.0:
                raise LayerError(f"layer fraction {entry} is outside [0, 1]")
            index = math.floor(entry * (num_layers - 1) + 0.5)
        indices.add(index)
    return sorted(indices)


def depth_percent(index: int, num_layers: int) -> float:
    return round(100.0 * index / max(num_layers - 1, 1), 1)
