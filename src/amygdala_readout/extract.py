"""Reading the residual stream of each text: at its last real token, and averaged over its tokens.

What is read: the output of decoder block ``idx`` (the residual stream after that block, before the
model's final norm). Three readings per text (``READINGS``), all captured in the same pass:

- ``last_token``: at the last non-pad token;
- ``all_tokens``: the mean over the text's tokens, special tokens (BOS) left out. A server that scores
  every token and averages the scores over a text gets exactly the score of this mean (the score is
  linear in h);
- ``sentence_ends``: the mean over the tokens that end a sentence (``. ! ? …``, closing quotes after
  them) and the last token.

Statistics are float32 whatever the model's dtype.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from .architectures import attention_output_projection, find_decoder_layers
from .errors import UserError
from .model_io import PreparedModel

log = logging.getLogger(__name__)


READINGS = ("last_token", "all_tokens", "sentence_ends")
MEANS = READINGS[1:]  # the readings that average over tokens
SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s*$")


class _StopForward(Exception):
    """Raised by the deepest hook: nothing after it (later blocks, final norm, LM head) is needed."""


def tokenize(tokenizer, texts: Sequence[str], max_length: int, names: Sequence[str]) -> list[list[int]]:
    """Token ids per text; a text over ``max_length`` keeps its END (the token we read) and its BOS."""
    encoded = tokenizer(list(texts), add_special_tokens=True)["input_ids"]
    bos = tokenizer.bos_token_id
    out = []
    for ids, name in zip(encoded, names):
        if len(ids) > max_length:
            log.warning(
                "%s: %d tokens, over max_length=%d; the first %d tokens are dropped so the end is read",
                name,
                len(ids),
                max_length,
                len(ids) - max_length,
            )
            keep_bos = bos is not None and ids[0] == bos
            ids = ([bos] if keep_bos else []) + ids[len(ids) - max_length + keep_bos :]
        out.append(ids)
    return out


def length_batches(lengths: Sequence[int], batch_tokens: int) -> list[list[int]]:
    """Group text indices, longest first, so that batch size x longest length <= batch_tokens."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= batch_tokens:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def pad_batch(tokenizer, seqs: Sequence[Sequence[int]], side: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``seqs`` (token ids) padded on ``side`` by the tokenizer: (ids, attention mask), long tensors. A
    tokenizer without a pad token pads with its end-of-text token (the mask hides the pad slots)."""
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    padded = tokenizer.pad({"input_ids": [list(s) for s in seqs]}, padding=True, padding_side=side, return_tensors="pt")
    return padded["input_ids"], padded["attention_mask"]


def _forward_capturing(model, layers: list[int], on_block, on_attention=None, **inputs) -> None:
    """One forward pass that hands each block in ``layers`` its output states (``on_block(layer, states)``)
    and, if given, the input of its attention output projection (``on_attention(layer, heads)``), then
    stops after the deepest: nothing after it (later blocks, final norm, LM head) is computed."""

    blocks = find_decoder_layers(model)

    def block_hook(layer: int):
        def hook(_module, _args, output):
            on_block(layer, output[0] if isinstance(output, tuple) else output)
            if layer == layers[-1]:
                raise _StopForward

        return hook

    def attention_hook(layer: int):
        def hook(_module, args):
            on_attention(layer, args[0])

        return hook

    handles = [blocks[layer].register_forward_hook(block_hook(layer)) for layer in layers]
    if on_attention is not None:
        for layer in layers:
            projection = attention_output_projection(blocks[layer])
            if projection is not None:
                handles.append(projection.register_forward_pre_hook(attention_hook(layer)))
    try:
        model(**inputs, use_cache=False)
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()


def token_subspace(tokens: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """Top-``k`` right singular vectors (rows, float64) of one text's centred token activations
    (n_tokens, hidden), on the tokens' device.

    Computed from the eigendecomposition of the smaller Gram matrix (n x n, or hidden x hidden), in
    float64: 5 to 10 times faster than an SVD on CPUs, and exact for the directions kept. ``k=None``
    keeps all of them up to the numerical rank: centring leaves at most n_tokens - 1 dimensions, and
    directions whose singular value is at float32 rounding level (activations are float32 or less)
    are arbitrary, so they are dropped rather than counted as part of what the text spans.
    """
    centred = tokens.double() - tokens.double().mean(dim=0, keepdim=True)
    n, hidden = centred.shape
    wide = n <= hidden
    gram = centred @ centred.T if wide else centred.T @ centred
    values, vectors = torch.linalg.eigh(gram)
    values, vectors = values.flip(0).clamp(min=0), vectors.flip(1)
    singular = values.sqrt()
    keep = _kept(singular.cpu(), (n, hidden), k)
    if not wide:
        return vectors[:, :keep].T
    return (vectors[:, :keep].T @ centred) / singular[:keep, None]


def text_subspace(tokens, k: int | None = None):
    """``token_subspace`` of a numpy array (n_tokens, hidden), returned as numpy: for tests and benchmarks
    that build token activations by hand."""
    return token_subspace(torch.as_tensor(tokens), k).numpy()


def _kept(singular: torch.Tensor, shape, k: int | None) -> int:
    """How many singular vectors to keep: those above float32 rounding (numpy's matrix_rank tolerance
    for float32 data), at most ``k``."""
    if len(singular) == 0 or singular[0] == 0:
        return 0
    rank = int((singular > singular[0] * max(shape) * torch.finfo(torch.float32).eps).sum())
    return rank if k is None else min(k, rank)


@dataclass
class Activations:
    """What one pass captures, per layer, float32 on the CPU (subspaces are stored as float16, see ``store``).

    last_token: (n_texts, hidden) residual stream after the block at each text's last token.
    all_tokens, sentence_ends: (n_texts, hidden) means over the text's tokens / its sentence ends.
    head_inputs: (n_texts, n_heads * head_dim) input of the attention output projection at the last
        token (empty when the architecture has no recognisable projection).
    subspaces: per text, its ``text_subspace`` (k_i, hidden), when asked for (None until its batch is read).
    """

    last_token: dict[int, torch.Tensor]
    all_tokens: dict[int, torch.Tensor] = field(default_factory=dict)
    sentence_ends: dict[int, torch.Tensor] = field(default_factory=dict)
    head_inputs: dict[int, torch.Tensor] = field(default_factory=dict)
    subspaces: dict[int, list[torch.Tensor | None]] = field(default_factory=dict)


class ExtractionError(UserError):
    """The model cannot read the texts as configured."""


def context_window(config) -> int | None:
    """How many positions the model can read (None when its config does not say)."""
    positions = getattr(config.get_text_config(), "max_position_embeddings", None)
    return int(positions) if isinstance(positions, int) and positions > 0 else None


def apply_template(template: str | None, text: str) -> str:
    """``text`` as the model reads it: wrapped in the reading template (``{text}`` replaced), or as is."""
    return text if template is None else template.replace("{text}", text)


def sentence_end_ids(tokenizer, ids) -> set[int]:
    """The ids among ``ids`` whose token text ends a sentence."""
    unique = sorted(set(ids))
    return {i for i, text in zip(unique, tokenizer.batch_decode([[i] for i in unique])) if SENTENCE_END.search(text)}


@torch.inference_mode()
def extract(
    model,
    tokenizer,
    texts: Sequence[str],
    layers: Sequence[int],
    *,
    max_length: int = 512,
    batch_tokens: int = 4096,
    padding_side: str = "right",
    names: Sequence[str] | None = None,
    heads: bool = False,
    subspace_k: int | None | bool = False,
    template: str | None = None,
    progress: bool = False,
) -> Activations:
    """Read every text once and keep what the methods and diagnostics need (see ``Activations``).

    ``template``: a reading template each text is wrapped in (``apply_template``).

    ``subspace_k``: False keeps no subspaces; None keeps each text's full subspace; an int caps it.
    Everything is reduced inside the hooks, so no whole sequence of states outlives its batch.
    """
    names = list(names) if names is not None else [f"text {i}" for i in range(len(texts))]
    layers = sorted(layers)
    device = next(model.parameters()).device
    window = context_window(model.config)
    if window is not None and max_length > window:
        log.info(
            "max_length=%d is over the model's context of %d positions; texts are cut to %d", max_length, window, window
        )
        max_length = window
    token_ids = tokenize(tokenizer, [apply_template(template, t) for t in texts], max_length, names)
    hidden = model.config.get_text_config().hidden_size

    def empty():
        return {layer: torch.empty((len(texts), hidden), dtype=torch.float32) for layer in layers}

    result = Activations(empty(), empty(), empty())
    special = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
    enders = torch.tensor(sorted(sentence_end_ids(tokenizer, [i for t in token_ids for i in t])), dtype=torch.long)
    keep_subspace = subspace_k is not False
    if keep_subspace:
        result.subspaces = {layer: [None] * len(texts) for layer in layers}
    start = time.perf_counter()
    batches = length_batches([len(t) for t in token_ids], batch_tokens)
    for batch in tqdm(batches, desc="extract", unit="batch", disable=not progress):
        ids, mask = pad_batch(tokenizer, [token_ids[i] for i in batch], padding_side)
        # Positions count real tokens only, so a left-padded text sees the same positions as an
        # unpadded one (HF models otherwise number pad slots too).
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        rows = torch.arange(len(batch), device=device)
        last = (mask.shape[1] - 1 - mask.flip(-1).argmax(-1)).to(device)
        real = mask.to(device).bool()
        content = mask.bool() & ~torch.isin(ids, special)
        content[torch.arange(len(batch)), last.cpu()] = True  # a text of special tokens only still has one
        ends = content & torch.isin(ids, enders)
        ends[torch.arange(len(batch)), last.cpu()] = True
        weights = torch.stack([content, ends]).float()  # the means' weights, in the order of MEANS
        weights = (weights / weights.sum(-1, keepdim=True)).to(device)

        def on_block(layer, states):
            result.last_token[layer][batch] = states[rows, last].float().cpu()
            means = torch.einsum("kbt,bth->kbh", weights, states.float()).cpu()  # one float32 pass for both
            finite = torch.isfinite(means).all(-1).all(0) & torch.isfinite(result.last_token[layer][batch]).all(-1)
            if states.dtype == torch.float16:  # models clamp to just under float16's largest value: saturated
                below = states.abs() < 0.9 * torch.finfo(torch.float16).max
                finite &= below.reshape(len(batch), -1).all(-1).cpu()
            if not finite.all():
                first = batch[int((~finite).nonzero()[0])]
                raise ExtractionError(
                    f"{names[first]}: non-finite or saturated activations after block {layer} in {states.dtype} "
                    "(the model's activations overflow it); set `dtype: float32` (or bfloat16) in config.yaml"
                )
            for name, mean in zip(MEANS, means):
                getattr(result, name)[layer][batch] = mean
            if keep_subspace:
                for row, text in enumerate(batch):
                    result.subspaces[layer][text] = token_subspace(states[row][real[row]], subspace_k).float().cpu()

        def on_attention(layer, head_states):
            if layer not in result.head_inputs:
                result.head_inputs[layer] = torch.empty((len(texts), head_states.shape[-1]), dtype=torch.float32)
            result.head_inputs[layer][batch] = head_states[rows, last].float().cpu()

        _forward_capturing(
            model,
            layers,
            on_block,
            on_attention if heads else None,
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
        )
    seconds = time.perf_counter() - start
    n_tokens = sum(len(t) for t in token_ids)
    log.info(
        "%d texts, %d tokens in %.1f s: %.0f tokens/s", len(texts), n_tokens, seconds, n_tokens / max(seconds, 1e-9)
    )
    return result


def last_token_activations(
    model, tokenizer, texts: Sequence[str], layers: Sequence[int], **options
) -> dict[int, torch.Tensor]:
    """Residual stream after each block in ``layers`` at each text's last token: {layer: (n, hidden)}."""
    return extract(model, tokenizer, texts, layers, **options).last_token


@torch.inference_mode()
def token_activations(model, tokenizer, text: str, layers: Sequence[int], *, max_length: int = 4096):
    """Every token's residual stream after each block in ``layers`` for one text.

    Returns (ids, {layer: (n_tokens, hidden) float32}).
    """
    ((_, ids, captured),) = token_activations_batched(model, tokenizer, [text], layers, max_length=max_length)
    return ids, captured


@torch.inference_mode()
def token_activations_batched(
    model, tokenizer, texts: Sequence[str], layers: Sequence[int], *, max_length: int = 4096, batch_tokens: int = 4096
):
    """Every token's residual stream after each block in ``layers``, for many texts read as ``extract``
    reads them: in length-sorted batches of at most ``batch_tokens`` tokens, padded on the right (a causal
    model's real tokens never see the pads after them), positions counting real tokens only.

    Yields (index into ``texts``, ids, {layer: (n_tokens, hidden) float32}), in batch order.
    """
    token_ids = tokenize(tokenizer, list(texts), max_length, [f"text {i + 1}" for i in range(len(texts))])
    device = next(model.parameters()).device
    for batch in length_batches([len(t) for t in token_ids], batch_tokens):
        ids, mask = pad_batch(tokenizer, [token_ids[i] for i in batch], "right")
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        captured: dict[int, torch.Tensor] = {}

        def on_block(layer, states):
            captured[layer] = states.float().cpu()

        _forward_capturing(
            model,
            sorted(layers),
            on_block,
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
        )
        for row, text in enumerate(batch):
            n = len(token_ids[text])
            yield text, token_ids[text], {layer: captured[layer][row, :n] for layer in layers}


def extract_to_file(
    texts: Sequence[str],
    text_ids: Sequence[str],
    names: Sequence[str],
    model_info: PreparedModel,
    layers: Sequence[int],
    out_path,
    *,
    device: str,
    dtype: str,
    threads: int,
    trust_remote_code: bool,
    heads: bool = False,
    subspace_k: int | None | bool = False,
    **options,
) -> None:
    """Load the prepared model, read ``texts`` once (see ``extract``), save one activation file."""
    from . import model_io
    from .store import save_shard

    acts = Activations({layer: torch.empty((0, 0)) for layer in layers})
    ran_in = ""
    if texts:
        torch.set_num_threads(threads)
        torch_device = model_io.resolve_device(device)
        model, tokenizer = model_io.load(
            model_info.load_path,
            torch_device,
            model_io.resolve_dtype(dtype, torch_device),
            trust_remote_code,
            n_blocks=max(layers) + 1,
        )
        log.info(
            "%d texts on %s (%s, %s attention) with %d thread(s), blocks 0-%d loaded, layers %s",
            len(texts),
            torch_device,
            model.dtype,
            model.config._attn_implementation,
            threads,
            max(layers),
            list(layers),
        )
        acts = extract(
            model, tokenizer, texts, layers, names=names, heads=heads, subspace_k=subspace_k, progress=True, **options
        )
        ran_in = str(model.dtype).removeprefix("torch.")
    save_shard(out_path, text_ids, acts, dtype=ran_in)
