"""Extraction throughput: ours against the straightforward baseline (bench/baseline_extraction.py).

Side by side in one process, on the same model, texts and threads; each figure is the median of
``--reps`` repetitions, run interleaved so that a slow spell of the machine hits both. Two settings:
  pooled-only   last-token residuals                     ours: one pass    baseline: pass (a)
  everything    + per-head inputs + per-text subspaces   ours: one pass    baseline: (a) + (b) + (c)
The outputs are checked to agree before any figure is printed. Also measured in the same run: the
machine's dense fp32 matmul rate (a 4096^2 matmul, or bf16 on GPU), our model FLOPs per second as a
fraction of it, and (``--profile``) where our pass spends its time.

    python bench/extraction_speed.py                       # the prepared default model, results/model/weights
    python bench/extraction_speed.py --model DIR --texts 8 --reps 1
    python bench/extraction_speed.py --random-config llama-1b --device cuda   # GPU check, random weights
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from baseline_extraction import baseline_extract

from amygdala_readout import corpus, model_io
from amygdala_readout.architectures import find_decoder_layers
from amygdala_readout.extract import extract, tokenize
from amygdala_readout.layers import resolve_layers

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"

# Llama 3.2 1B's and 3B's shapes (random weights: throughput does not depend on their values), and a
# tiny one for the smoke test; the vocabulary is the tokenizer's.
RANDOM_CONFIGS = {
    "llama-tiny": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
    },
    "llama-1b": {
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "max_position_embeddings": 8192,
        "rope_theta": 500000.0,
        "tie_word_embeddings": True,
    },
    "llama-3b": {
        "hidden_size": 3072,
        "intermediate_size": 8192,
        "num_hidden_layers": 28,
        "num_attention_heads": 24,
        "num_key_value_heads": 8,
        "max_position_embeddings": 8192,
        "rope_theta": 500000.0,
        "tie_word_embeddings": True,
    },
}


def corpus_texts(corpus_dir: Path, n: int | None) -> list[str]:
    """The corpus's unique texts in path order; with ``n``, every k-th of them (all kinds stay in)."""
    sources, _ = corpus.discover(corpus_dir)
    texts = {}
    for source in sorted(sources, key=lambda s: s.path):
        text = corpus.read_story(corpus_dir, source.path)
        if text:
            texts.setdefault(corpus.text_id(text), text)
    texts = list(texts.values())
    if n is not None and n < len(texts):
        texts = [texts[round(i * len(texts) / n)] for i in range(n)]
    return texts


def load_model(args, device: torch.device, dtype: torch.dtype):
    if args.random_config is None:
        return model_io.load(args.model, device, dtype)
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **RANDOM_CONFIGS[args.random_config],
    )
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype)
    return model.eval(), tokenizer


def forward_flops(model, deepest: int, lengths: list[int]) -> float:
    """Model FLOPs of our pass: 2 x the linear weights of blocks 0..deepest per token, plus causal
    attention (QK^T and AV: 4 x heads x head_dim per attended position, sliding windows respected).
    Embedding lookups, norms and activations are not counted (they are not matmuls)."""
    blocks = find_decoder_layers(model)[: deepest + 1]
    linear = sum(m.weight.numel() for block in blocks for m in block.modules() if isinstance(m, torch.nn.Linear))
    config = model.config.get_text_config()
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    layer_types = getattr(config, "layer_types", None) or ["full_attention"] * len(blocks)
    window = getattr(config, "sliding_window", None)
    attended = 0
    for kind in layer_types[: deepest + 1]:
        for n in lengths:
            if kind == "sliding_attention" and window:
                attended += sum(min(p + 1, window) for p in range(n))
            else:
                attended += n * (n + 1) // 2
    return 2.0 * linear * sum(lengths) + 4.0 * heads * head_dim * attended


def matmul_rate(device: torch.device, dtype: torch.dtype, size: int = 4096, reps: int = 5) -> float:
    """GFLOP/s of a dense size x size matmul: the machine's own ceiling for what a forward pass does."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    times = []
    for _ in range(reps + 1):
        start = _now(device)
        a @ b
        times.append(_now(device) - start)
    return 2 * size**3 / statistics.median(times[1:]) / 1e9


def _now(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def agreement(ours, base) -> dict[str, float]:
    """How far the two extractions differ: relative max error of the captured rows, and 1 - the mean
    overlap ||V_o V_b^T||_F^2 / max(k) of the per-text subspaces (0 = same subspaces)."""

    def rel(a: dict, b: dict) -> float:
        return max(float((a[k] - b[k]).abs().max() / b[k].abs().max()) for k in b)

    out = {"last_token": rel(ours.last_token, base.last_token)}
    if base.head_inputs:
        out["head_inputs"] = rel(ours.head_inputs, base.head_inputs)
    if base.subspaces:
        overlaps = []
        for layer, bases in base.subspaces.items():
            for vo, vb in zip(ours.subspaces[layer], bases):
                overlaps.append(float((vo.double() @ vb.double().T).square().sum()) / max(len(vo), len(vb), 1))
        out["subspace"] = 1.0 - float(np.mean(overlaps))
    return out


def profile_ours(model, tokenizer, texts, layers, settings, out_path: Path, device: torch.device) -> dict[str, float]:
    """torch.profiler over our everything pass; the full op table goes to ``out_path``, and the share
    of self time per kind of work is returned (kernel time on a GPU: its CPU-side calls are asynchronous)."""
    from torch.profiler import ProfilerActivity, profile

    on_gpu = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_gpu else [])
    with profile(activities=activities) as prof:
        extract(model, tokenizer, texts, layers, heads=True, subspace_k=None, **settings)
    averages = prof.key_averages()
    time_of = "self_device_time_total" if on_gpu else "self_cpu_time_total"
    out_path.write_text(averages.table(sort_by=time_of, row_limit=30))
    kinds = {
        "matmul (linear layers)": ("aten::mm", "aten::addmm", "aten::bmm"),
        "attention (SDPA)": ("scaled_dot_product", "flash_attention"),
        "subspace capture (Gram + eigh)": ("linalg_eigh", "aten::_to_copy"),
    }
    total = sum(getattr(e, time_of) for e in averages)
    shares = dict.fromkeys(kinds, 0.0) | {"everything else (norms, activations, copies, Python)": 0.0}
    for event in averages:
        kind = next(
            (k for k, names in kinds.items() if any(n in event.key for n in names)),
            "everything else (norms, activations, copies, Python)",
        )
        shares[kind] += getattr(event, time_of) / total
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        default=str(REPO / "results" / "model" / "weights"),
        help="prepared model folder (run `snakemake --cores all prepare_model` first); with "
        "--random-config, only its tokenizer is used",
    )
    parser.add_argument("--random-config", choices=sorted(RANDOM_CONFIGS), default=None)
    parser.add_argument("--corpus", default=str(REPO / "amygdala_stories"))
    parser.add_argument("--texts", type=int, default=48, help="every k-th corpus text, this many (default 48)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--profile", action="store_true", help="also profile our pass (torch.profiler)")
    parser.add_argument("--matmul-size", type=int, default=4096, help="side of the matmul that measures the machine")
    parser.add_argument("--out", default=str(RESULTS / "extraction_speed"), help="writes OUT.md and OUT.json")
    args = parser.parse_args()
    if not Path(args.model).is_dir():
        sys.exit(f"{args.model}: no prepared model; run `snakemake --cores all prepare_model` first")

    torch.set_num_threads(args.threads)
    device = model_io.resolve_device(args.device)
    dtype = model_io.resolve_dtype(args.dtype, device)
    defaults = yaml.safe_load((REPO / "config.yaml").read_text())
    settings = {key: defaults[key] for key in ("max_length", "batch_tokens", "padding_side")}
    model, tokenizer = load_model(args, device, dtype)
    layers = resolve_layers(defaults["layers"], len(find_decoder_layers(model)))
    texts = corpus_texts(Path(args.corpus), args.texts)
    lengths = [len(ids) for ids in tokenize(tokenizer, texts, settings["max_length"], [""] * len(texts))]
    n_tokens = sum(lengths)

    def ours(everything: bool):
        start = _now(device)
        acts = extract(
            model, tokenizer, texts, layers, heads=everything, subspace_k=None if everything else False, **settings
        )
        return acts, _now(device) - start

    times = {"ours pooled-only": [], "ours everything": [], "baseline pooled-only": [], "baseline everything": []}
    machine_rates = []
    checked = None
    ours(False)  # warm-up: first calls allocate and pick kernels
    for rep in range(args.reps):
        _, seconds = ours(False)
        times["ours pooled-only"].append(seconds)
        mine, seconds = ours(True)
        times["ours everything"].append(seconds)
        base, passes = baseline_extract(model, tokenizer, texts, layers, heads=True, subspace=True)
        times["baseline pooled-only"].append(passes["a_last_token"])
        times["baseline everything"].append(sum(passes.values()))
        machine_rates.append(matmul_rate(device, dtype, args.matmul_size))
        if checked is None:
            checked = agreement(mine, base)
            # In bfloat16 the batches' different roundings move the subspaces' noise-level directions,
            # so only the captured rows are held to a (looser) tolerance there.
            tolerance = 1e-3 if dtype == torch.float32 else 5e-2
            held = {k: v for k, v in checked.items() if dtype == torch.float32 or k != "subspace"}
            if max(held.values()) > tolerance:
                sys.exit(f"ours and the baseline disagree: {checked}")
        print(f"rep {rep + 1}/{args.reps}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)

    median = {k: statistics.median(v) for k, v in times.items()}
    rate = {k: n_tokens / v for k, v in median.items()}
    machine = statistics.median(machine_rates)
    deepest = max(layers)
    flops = forward_flops(model, deepest, lengths)
    # the baseline's pass (a): every block, and the LM head's logits for every token
    n_blocks = len(find_decoder_layers(model))
    head = model.get_output_embeddings().weight.numel()
    baseline_flops = forward_flops(model, n_blocks - 1, lengths) + 2.0 * head * n_tokens
    shares = None
    if args.profile:
        shares = profile_ours(
            model,
            tokenizer,
            texts[: max(4, len(texts) // 6)],
            layers,
            settings,
            Path(args.out + "_profile.txt"),
            device,
        )

    where = f"{device.type}" + (
        f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else f", {args.threads} threads"
    )
    name = args.random_config or model.config.model_type
    lines = [
        f"Model {name} ({sum(p.numel() for p in model.parameters()) / 1e6:.0f} M parameters, {dtype}), "
        f"{where}; {len(texts)} corpus texts, {n_tokens} tokens; layers {layers}; median of {args.reps}.",
        "",
        "| setting | ours tokens/s | baseline tokens/s | speed-up |",
        "|---|---|---|---|",
    ]
    for setting in ("pooled-only", "everything"):
        o, b = rate[f"ours {setting}"], rate[f"baseline {setting}"]
        lines.append(f"| {setting} | {o:.0f} | {b:.0f} | **{o / b:.1f}x** |")
    lines += [
        "",
        f"Model FLOPs per token: ours {flops / n_tokens / 1e6:.0f} M (blocks 0-{deepest}); the baseline's "
        f"pass (a) {baseline_flops / n_tokens / 1e6:.0f} M (all {n_blocks} blocks and the LM head), "
        f"**{baseline_flops / flops:.2f}x** ours, at {baseline_flops / median['baseline pooled-only'] / 1e9:.1f} "
        "GFLOP/s.",
    ]
    for setting in ("pooled-only", "everything"):
        achieved = flops / median[f"ours {setting}"] / 1e9
        lines.append("")
        size = f"{args.matmul_size}x{args.matmul_size}"
        lines.append(
            f"Ours, {setting}: {achieved:.1f} GFLOP/s = **{achieved / machine:.0%}** of the machine's dense "
            f"matmul rate ({machine:.1f} GFLOP/s, {dtype} {size}, median over the repetitions)."
        )
    lines.append("")
    lines.append(
        "Agreement with the baseline (relative max error; 1 - subspace overlap): "
        + ", ".join(f"{k} {abs(v):.1e}" for k, v in checked.items())
        + "."
    )
    if shares:
        lines += ["", "| our everything pass: share of profiled self time | |", "|---|---|"]
        lines += [f"| {kind} | {share:.0%} |" for kind, share in shares.items()]
    table = "\n".join(lines)
    print(table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".md").write_text(table + "\n")
    Path(args.out + ".json").write_text(
        json.dumps(
            {
                "model": name,
                "device": where,
                "dtype": str(dtype),
                "texts": len(texts),
                "tokens": n_tokens,
                "layers": layers,
                "seconds": times,
                "median_seconds": median,
                "tokens_per_s": rate,
                "matmul_gflops": machine,
                "model_flops": flops,
                "baseline_pass_flops": baseline_flops,
                "agreement": checked,
                "profile_shares": shares,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
