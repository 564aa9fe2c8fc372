"""Which decoder blocks to read: the config's indices and fractions of depth, as block indices."""

from __future__ import annotations

import math

from .errors import UserError


class LayerError(UserError):
    """A layer request that cannot be met; the message says what would."""


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
