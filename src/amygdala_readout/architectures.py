"""Where each architecture keeps what we read: its list of decoder blocks, and inside a block the
attention output projection and the MLP's down projection. The one place to extend for a new
architecture: add its attribute paths to these tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import UserError

if TYPE_CHECKING:  # torch only for annotations: the workflow imports this package while parsing
    import torch

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


# Paths, inside one decoder block, to the linear layer whose input is the concatenation of the heads'
# outputs; tried in order. Llama/Mistral/Qwen2/Qwen3/Gemma 2/Gemma 3/Phi-3, GPT-2 (a Conv1D), GPT-NeoX,
# Phi, OPT/BART-like, Falcon/Bloom, GPT-J.
ATTENTION_OUTPUT_PATHS = (
    "self_attn.o_proj",
    "attn.c_proj",
    "attention.dense",
    "self_attn.dense",
    "self_attn.out_proj",
    "self_attention.dense",
    "attn.out_proj",
)

# Paths to the MLP's output projection (input: the neurons, output: the residual stream). MoE blocks
# have one per expert and match none of these, on purpose: there is no single neuron basis.
MLP_DOWN_PATHS = (
    "mlp.down_proj",
    "mlp.c_proj",
    "mlp.dense_4h_to_h",
    "mlp.fc2",
    "mlp.fc_out",
    "fc2",
)


class ArchitectureError(UserError):
    """A model whose decoder blocks are not where any known architecture keeps them."""


def submodule(root: torch.nn.Module, path: str) -> torch.nn.Module | None:
    """``root.get_submodule(path)``, or None where ``root`` has no such module."""
    try:
        return root.get_submodule(path)
    except AttributeError:
        return None


def find_decoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    from torch import nn  # here, not at the top: the workflow imports this package while parsing

    for path in DECODER_LAYER_PATHS:
        module = submodule(model, path)
        if isinstance(module, nn.ModuleList) and len(module) > 0:
            return module
    raise ArchitectureError(
        f"cannot find the decoder blocks of {type(model).__name__}; tried "
        + ", ".join(DECODER_LAYER_PATHS)
        + ". Add the attribute path of its block list to DECODER_LAYER_PATHS in architectures.py"
    )


def _child(block: torch.nn.Module, paths: tuple[str, ...]) -> torch.nn.Module | None:
    """The first module on ``paths`` that has a 2-D weight, else None."""
    for path in paths:
        module = submodule(block, path)
        weight = getattr(module, "weight", None)
        if weight is not None and weight.dim() == 2:
            return module
    return None


def attention_output_projection(block: torch.nn.Module) -> torch.nn.Module | None:
    """The block's attention output projection, or None when it has no recognisable one."""
    return _child(block, ATTENTION_OUTPUT_PATHS)


def mlp_down_projection(block: torch.nn.Module) -> torch.nn.Module | None:
    """The block's MLP output projection, or None (MoE blocks, unknown layouts)."""
    return _child(block, MLP_DOWN_PATHS)


def is_transposed(module: torch.nn.Module) -> bool:
    # GPT-2's Conv1D (and remote-code copies of it) stores weight as (in, out), nn.Linear as (out, in).
    return type(module).__name__ == "Conv1D"
