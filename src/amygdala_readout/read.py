"""Read text through a readout package: the top concepts at each token.

    python -m amygdala_readout.read --readout results/readout/pooled --text "The door slammed."
    python -m amygdala_readout.read --readout results/readout/pooled --file texts.txt --last --format tsv
    python -m amygdala_readout.read --readout results/readout/pooled --text "..." --html heatmap.html

It uses only the package (readout.safetensors + readout.json) and the model, exactly what an inference
server has, and scores each token's residual h at the chosen layer as (h - center) . v (+ bias, if any).
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import sys
from pathlib import Path

import torch

from . import model_io
from .errors import UserError
from .extract import apply_template, token_activations
from .package import Readout

log = logging.getLogger(__name__)


def read_texts(texts: list[str], readout: Readout, model, tokenizer, layer: int, top: int, last_only: bool):
    """For each text, each token (or the last): the ``top`` concepts by centred score."""
    results = []
    special = set(tokenizer.all_special_ids)
    template = readout.meta.get("template")  # a package fitted through a template is read through it
    for text in texts:
        ids, acts = token_activations(model, tokenizer, apply_template(template, text), [layer])
        tokens = [tokenizer.decode([i]) for i in ids]
        scores = readout.scores(acts[layer], layer)
        # special tokens (BOS) carry no text, and their huge activations only clutter the view
        positions = [len(ids) - 1] if last_only else [p for p, i in enumerate(ids) if i not in special]
        rows = []
        for pos in positions:
            values, indices = scores[pos].topk(min(top, len(readout.concepts)))
            rows.append({
                "position": pos,
                "token": tokens[pos],
                "top": [{"concept": readout.concepts[i], "score": float(f"{float(v):.6g}")}
                        for v, i in zip(values, indices.tolist())],
            })
        results.append({"text": text, "layer": layer, "tokens": rows, "scores": scores})
    return results


def shown(token: str) -> str:
    return token.replace("\n", "\\n").replace("\t", "\\t")


def as_table(results: list[dict], depth: str) -> str:
    lines = []
    for n, result in enumerate(results, start=1):
        top = len(result["tokens"][0]["top"])
        lines.append(f"text {n}, layer {result['layer']} ({depth}), top {top} concepts by centred score")
        width = max(len(shown(t["token"])) for t in result["tokens"])
        width = min(max(width, 5), 24)
        lines.append(f"{'pos':>4}  {'token':<{width}}  " + "  ".join(f"{i:<23}" for i in range(1, top + 1)))
        for row in result["tokens"]:
            cells = "  ".join(f"{c['concept'][:13]:<13} {c['score']:+9.1f}" for c in row["top"])
            lines.append(f"{row['position']:>4}  {shown(row['token'])[:width]:<{width}}  {cells}")
        lines.append("")
    return "\n".join(lines)


def as_tsv(results: list[dict]) -> str:
    lines = ["text\tlayer\tposition\ttoken\trank\tconcept\tscore"]
    for n, result in enumerate(results, start=1):
        for row in result["tokens"]:
            for rank, c in enumerate(row["top"], start=1):
                lines.append(f"{n}\t{result['layer']}\t{row['position']}\t{shown(row['token'])}\t{rank}\t"
                             f"{c['concept']}\t{c['score']}")
    return "\n".join(lines) + "\n"


def as_json(results: list[dict]) -> str:
    return json.dumps([{k: r[k] for k in ("text", "layer", "tokens")} for r in results], indent=1) + "\n"


def as_html(results: list[dict], concepts: list[str], max_concepts: int = 12) -> str:
    """A heatmap per text: rows are the concepts that most often rank first, columns are the tokens."""
    parts = ["<!doctype html><meta charset='utf-8'><title>readout</title><style>",
             "body{font-family:sans-serif} table{border-collapse:collapse;margin-bottom:2em}",
             "td,th{padding:2px 5px;font-size:12px;text-align:center} th.c{text-align:right}",
             "</style>"]
    for n, result in enumerate(results, start=1):
        scores = result["scores"][[row["position"] for row in result["tokens"]]]
        wins = torch.bincount(scores.argmax(1), minlength=len(concepts)).float()
        order = (wins * 1e6 + scores.max(0).values).argsort(descending=True)[:max_concepts].tolist()
        scale = float(scores[:, order].abs().max()) or 1.0
        parts.append(f"<h3>text {n}, layer {result['layer']}</h3><table><tr><th></th>")
        parts += [f"<th>{html.escape(shown(t))}</th>" for t in
                  [row["token"] for row in result["tokens"]]]
        parts.append("</tr>")
        for c in order:
            parts.append(f"<tr><th class='c'>{html.escape(concepts[c])}</th>")
            for column in range(len(result["tokens"])):
                v = float(scores[column, c]) / scale
                color = f"rgba(200,30,30,{v:.2f})" if v > 0 else f"rgba(30,60,200,{-v:.2f})"
                parts.append(f"<td style='background:{color}' title='{v * scale:+.3f}'>{v * scale:+.1f}</td>")
            parts.append("</tr>")
        parts.append("</table>")
    return "".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amygdala_readout.read", description=__doc__.split("\n")[0])
    parser.add_argument("--readout", required=True, type=Path, help="package folder (readout.safetensors + readout.json)")
    parser.add_argument("--model", help="model folder; default: the prepared model recorded in readout.json")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", action="append", help="a text to read (repeatable)")
    source.add_argument("--file", type=Path, help="a file with one text per line ('-' for stdin)")
    parser.add_argument("--layer", type=int, help="block to read; default: the package's best_layer, else the packaged layer nearest mid-depth")
    parser.add_argument("--top", type=int, default=3, help="concepts shown per token (default 3)")
    parser.add_argument("--last", action="store_true", help="show only each text's last token")
    parser.add_argument("--format", choices=["table", "tsv", "json"], default="table")
    parser.add_argument("--html", type=Path, help="also write a heatmap (tokens x top concepts) to this file")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        readout = Readout(args.readout)
        layer = args.layer
        if layer is None and readout.meta.get("best_layer") in readout.layers:
            layer = readout.meta["best_layer"]
        if layer is None:
            middle = readout.meta.get("model", {}).get("num_layers", 2 * max(readout.layers)) / 2
            layer = min(readout.layers, key=lambda l: abs(l - middle))
        if layer not in readout.layers:
            raise UserError(f"layer {layer} is not in the package; it has {readout.layers}")
        model_path = args.model or readout.meta.get("model", {}).get("load_path")
        if not model_path:
            raise UserError("the package records no model folder; pass --model")
        if args.file:
            lines = (sys.stdin if str(args.file) == "-" else args.file.open(encoding="utf-8")).read().splitlines()
            texts = [line for line in lines if line.strip()]
        else:
            texts = args.text
        device = model_io.resolve_device(args.device)
        model, tokenizer = model_io.load(model_path, device, model_io.resolve_dtype("auto", device),
                                         n_blocks=layer + 1)
        hidden = model.config.get_text_config().hidden_size
        if hidden != readout.meta["hidden_size"]:
            raise UserError(f"{model_path}: hidden size {hidden}, but the package was made for {readout.meta['hidden_size']}")
        results = read_texts(texts, readout, model, tokenizer, layer, args.top, args.last)
    except (UserError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    depth = readout.meta.get("layer_depth_percent", {}).get(str(layer))
    depth = f"{depth}% depth" if depth is not None else "depth unknown"
    formatter = {"table": lambda r: as_table(r, depth), "tsv": as_tsv, "json": as_json}[args.format]
    sys.stdout.write(formatter(results))
    if args.html:
        args.html.write_text(as_html(results, readout.concepts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
