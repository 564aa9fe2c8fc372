"""The straightforward extraction we compare ours against (bench/extraction_speed.py).

What a first implementation would do: batches of 2 texts in corpus order, right padding, the full model
call (every block, the final norm and the LM head's logits), forward hooks on the target blocks, and one
separate pass per capture:
  (a) last-token residuals, (b) the inputs of the attention output projection at the last token (the
  per-head report), (c) every token's residuals, whose SVD gives each text's subspace.
It returns the same ``Activations`` as ``amygdala_readout.extract.extract``, so the two can be checked
against each other.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from amygdala_readout.architectures import attention_output_projection, find_decoder_layers
from amygdala_readout.extract import Activations, _kept

BATCH_SIZE = 2


def _passes(model, tokenizer, texts: Sequence[str], modules: dict, capture, pre_hook: bool = False) -> None:
    """One pass over ``texts``: for each batch, hooks on ``modules`` ({layer: module}) call
    ``capture(layer, states, text_indices, lengths)``; the model runs whole, logits included."""
    tokenizer.padding_side = "right"
    handles = []
    batch_info = {}
    for layer, module in modules.items():

        def hook(_module, args, output=None, layer=layer):
            states = args[0] if pre_hook else (output[0] if isinstance(output, tuple) else output)
            capture(layer, states, batch_info["texts"], batch_info["lengths"])

        handles.append(module.register_forward_pre_hook(hook) if pre_hook else module.register_forward_hook(hook))
    try:
        for start in range(0, len(texts), BATCH_SIZE):
            batch = list(texts[start : start + BATCH_SIZE])
            encoded = tokenizer(batch, return_tensors="pt", padding=True)
            batch_info["texts"] = range(start, start + len(batch))
            batch_info["lengths"] = encoded["attention_mask"].sum(dim=1).tolist()
            device = next(model.parameters()).device
            model(**{k: v.to(device) for k, v in encoded.items()})
    finally:
        for handle in handles:
            handle.remove()


def _svd_subspace(tokens: np.ndarray) -> np.ndarray:
    """Right singular vectors of the centred token activations, as many as ours keeps (numerical rank)."""
    centred = tokens - tokens.mean(axis=0, keepdims=True)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    return vt[: _kept(torch.from_numpy(singular), centred.shape, None)]


@torch.inference_mode()
def baseline_extract(
    model, tokenizer, texts: Sequence[str], layers: Sequence[int], *, heads: bool = False, subspace: bool = False
) -> tuple[Activations, dict[str, float]]:
    """Pass (a), and (b) and (c) when asked; returns the activations and each pass's seconds."""
    layers = sorted(layers)
    blocks = find_decoder_layers(model)
    seconds = {}
    hidden = model.config.get_text_config().hidden_size
    result = Activations({layer: torch.empty((len(texts), hidden)) for layer in layers})

    def last_rows(target):
        def capture(layer, states, text_indices, lengths):
            for row, (text, length) in enumerate(zip(text_indices, lengths)):
                target[layer][text] = states[row, length - 1].float().cpu()

        return capture

    start = time.perf_counter()
    _passes(model, tokenizer, texts, {layer: blocks[layer] for layer in layers}, last_rows(result.last_token))
    seconds["a_last_token"] = time.perf_counter() - start

    if heads:
        start = time.perf_counter()
        projections = {layer: attention_output_projection(blocks[layer]) for layer in layers}
        width = {}
        for layer, projection in projections.items():
            width[layer] = projection.in_features if hasattr(projection, "in_features") else projection.weight.shape[0]
        result.head_inputs = {layer: torch.empty((len(texts), width[layer])) for layer in layers}
        _passes(model, tokenizer, texts, projections, last_rows(result.head_inputs), pre_hook=True)
        seconds["b_head_inputs"] = time.perf_counter() - start

    if subspace:
        start = time.perf_counter()
        tokens = {layer: [None] * len(texts) for layer in layers}

        def every_token(layer, states, text_indices, lengths):
            for row, (text, length) in enumerate(zip(text_indices, lengths)):
                tokens[layer][text] = states[row, :length].float().cpu().numpy()

        _passes(model, tokenizer, texts, {layer: blocks[layer] for layer in layers}, every_token)
        result.subspaces = {layer: [torch.from_numpy(_svd_subspace(t)) for t in tokens[layer]] for layer in layers}
        seconds["c_subspace"] = time.perf_counter() - start
    return result, seconds
