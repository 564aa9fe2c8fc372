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
import os
import sys
from pathlib import Path

import torch
from safetensors import SafetensorError
from tqdm import tqdm

from . import model_io
from .errors import UserError
from .extract import apply_template, token_activations_batched
from .package import REBUILD, Readout

log = logging.getLogger(__name__)


def read_texts(
    texts: list[str],
    readout: Readout,
    model,
    tokenizer,
    layer: int,
    top: int,
    last_only: bool,
    max_length: int,
    *,
    batch_tokens: int = 4096,
    chunk: int = 256,
    keep_scores: bool = False,
    progress: bool = False,
):
    """For each text, in input order, each token's (or the last one's) ``top`` concepts by centred score.

    Texts are read ``chunk`` at a time in length-sorted batches (``extract.token_activations_batched``),
    and each chunk's results are yielded as soon as it is read, so output streams and memory stays
    bounded. A text over ``max_length`` tokens is cut as extraction cuts it (see ``reading_length``).
    ``keep_scores``: keep every token's scores over all concepts (the HTML heatmap needs them).
    """
    special = set(tokenizer.all_special_ids)
    template = readout.meta.get("template")  # a package fitted through a template is read through it
    bar = tqdm(total=len(texts), desc="read", unit="text", disable=not progress, file=sys.stderr)
    for start in range(0, len(texts), chunk):
        part = texts[start : start + chunk]
        wrapped = [apply_template(template, text) for text in part]
        done = {}
        for i, ids, acts in token_activations_batched(
            model, tokenizer, wrapped, [layer], max_length=max_length, batch_tokens=batch_tokens
        ):
            scores = readout.scores(acts[layer], layer)
            # special tokens (BOS) carry no text, and their huge activations only clutter the view
            positions = [len(ids) - 1] if last_only else [p for p, t in enumerate(ids) if t not in special]
            positions = positions or [len(ids) - 1]  # a text of special tokens only (all UNK, say): its last one
            values, indices = scores[positions].topk(min(top, len(readout.concepts)), dim=1)
            rows = [
                {
                    "position": pos,
                    "token": tokenizer.decode([ids[pos]]),
                    "top": [
                        {"concept": readout.concepts[c], "score": float(f"{float(v):.6g}")}
                        for v, c in zip(value_row.tolist(), index_row.tolist())
                    ],
                }
                for pos, value_row, index_row in zip(positions, values, indices)
            ]
            done[i] = {"text": part[i], "layer": layer, "tokens": rows, "scores": scores if keep_scores else None}
            bar.update()
        yield from (done[i] for i in range(len(part)))
    bar.close()


def shown(token: str) -> str:
    return token.replace("\n", "\\n").replace("\t", "\\t")


def as_table(n: int, result: dict, depth: str) -> str:
    """Text ``n``'s table: a row per token read, its top concepts and their scores."""
    top = len(result["tokens"][0]["top"])
    lines = [f"text {n}, layer {result['layer']} ({depth}), top {top} concepts by centred score"]
    width = max(len(shown(t["token"])) for t in result["tokens"])
    width = min(max(width, 5), 24)
    lines.append(f"{'pos':>4}  {'token':<{width}}  " + "  ".join(f"{i:<23}" for i in range(1, top + 1)))
    for row in result["tokens"]:
        cells = "  ".join(f"{c['concept'][:13]:<13} {c['score']:+9.1f}" for c in row["top"])
        lines.append(f"{row['position']:>4}  {shown(row['token'])[:width]:<{width}}  {cells}")
    return "\n".join(lines) + "\n\n"


TSV_HEADER = "text\tlayer\tposition\ttoken\trank\tconcept\tscore\n"


def as_tsv(n: int, result: dict) -> str:
    """Text ``n``'s rows: one per token read and rank."""
    return "".join(
        f"{n}\t{result['layer']}\t{row['position']}\t{shown(row['token'])}\t{rank}\t{c['concept']}\t{c['score']}\n"
        for row in result["tokens"]
        for rank, c in enumerate(row["top"], start=1)
    )


def as_json(results: list[dict]) -> str:
    return json.dumps([{k: r[k] for k in ("text", "layer", "tokens")} for r in results], indent=1) + "\n"


def as_html(results: list[dict], concepts: list[str], max_concepts: int = 12) -> str:
    """A heatmap per text: rows are the concepts that most often rank first, columns are the tokens."""
    parts = [
        "<!doctype html><meta charset='utf-8'><title>readout</title><style>",
        "body{font-family:sans-serif} table{border-collapse:collapse;margin-bottom:2em}",
        "td,th{padding:2px 5px;font-size:12px;text-align:center} th.c{text-align:right}",
        "</style>",
    ]
    for n, result in enumerate(results, start=1):
        scores = result["scores"][[row["position"] for row in result["tokens"]]]
        wins = torch.bincount(scores.argmax(1), minlength=len(concepts)).float()
        order = (wins * 1e6 + scores.max(0).values).argsort(descending=True)[:max_concepts].tolist()
        scale = float(scores[:, order].abs().max()) or 1.0
        parts.append(f"<h3>text {n}, layer {result['layer']}</h3><table><tr><th></th>")
        parts += [f"<th>{html.escape(shown(t))}</th>" for t in [row["token"] for row in result["tokens"]]]
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


class _Parser(argparse.ArgumentParser):
    """Bad arguments end in the reader's one ``error:`` line too, not in a usage block."""

    def error(self, message):
        raise UserError(f"{message}; see --help")


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return int(value)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(prog="python -m amygdala_readout.read", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--readout", required=True, type=Path, help="package folder (readout.safetensors + readout.json)"
    )
    parser.add_argument("--model", help="model folder; default: the prepared model recorded in readout.json")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", action="append", help="a text to read (repeatable)")
    source.add_argument("--file", type=Path, help="a UTF-8 file with one text per line ('-' for stdin)")
    parser.add_argument(
        "--layer",
        type=int,
        help="block to read; default: the package's best_layer, else the packaged layer nearest mid-depth",
    )
    parser.add_argument("--top", type=positive_int, default=3, help="concepts shown per token (default 3)")
    parser.add_argument("--last", action="store_true", help="show only each text's last token")
    parser.add_argument("--format", choices=["table", "tsv", "json"], default="table")
    parser.add_argument(
        "--html", type=Path, help="also write a heatmap (tokens x top concepts) to this file; its folder must exist"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    return parser.parse_args(argv)


def input_texts(args: argparse.Namespace) -> list[str]:
    """The texts to read, from --text or --file; empty or undecodable input is an error, not an empty output."""
    if args.file is None:
        for text in args.text:
            if not text.strip():
                raise UserError(f"--text {text!r} is empty; give a text to read")
        return args.text
    name = "stdin" if str(args.file) == "-" else str(args.file)
    try:
        # utf-8-sig: a BOM (as some editors write) is not part of the first text, as in the corpus
        content = _input_bytes(args.file).decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = err.object[: err.start].count(b"\n") + 1
        raise UserError(
            f"--file {name}: not UTF-8 text (byte {err.object[err.start]:#04x} on line {line}); save it as UTF-8"
        ) from None
    texts = [line for line in content.splitlines() if line.strip()]
    if not texts:
        raise UserError(f"--file {name}: no text in it (empty, or blank lines only); put one text per line")
    return texts


def _input_bytes(path: Path) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"--file {path}: no such file; give a text file with one text per line") from None
    except IsADirectoryError:
        raise UserError(f"--file {path}: a folder, not a file; give a text file with one text per line") from None
    except OSError as err:
        raise UserError(f"--file {path}: cannot be read ({err.strerror})") from None


def check_html_target(path: Path | None) -> None:
    """Fail before the model loads, not after the reading: the folder is not created, so a typo shows."""
    if path is None:
        return
    folder = path.parent
    if not folder.is_dir():
        raise UserError(
            f"--html {path}: folder {folder} does not exist; create it, or give a path in an existing folder"
        )
    if path.is_dir():
        raise UserError(f"--html {path}: a folder, not a file; give a file name such as {path / 'readout.html'}")
    if not os.access(folder, os.W_OK):
        raise UserError(f"--html {path}: folder {folder} is not writable; give a path in a folder you can write to")


def choose_layer(readout: Readout, asked: int | None) -> int:
    layer = asked
    if layer is None and readout.meta.get("best_layer") in readout.layers:
        layer = readout.meta["best_layer"]
    if layer is None:
        middle = provenance(readout.meta).get("num_layers", 2 * max(readout.layers))
        middle = middle / 2 if isinstance(middle, (int, float)) else max(readout.layers)
        layer = min(readout.layers, key=lambda layer: abs(layer - middle))
    if layer not in readout.layers:
        raise UserError(f"--layer {layer}: not in the package; it has layers {readout.layers}")
    return layer


def check_template(meta: dict, package_json: Path) -> None:
    template = meta.get("template")
    if template is not None and (not isinstance(template, str) or "{text}" not in template):
        raise UserError(f"{package_json}: 'template' must be a text with {{text}} in it, not {template!r}; {REBUILD}")


def provenance(meta: dict) -> dict:
    """What readout.json records of the prepared model the package was fitted on (empty when nothing)."""
    model = meta.get("model")
    return model if isinstance(model, dict) else {}


def model_folder(asked: str | None, meta: dict, package_json: Path) -> Path:
    recorded = provenance(meta).get("load_path")
    if asked is None and not recorded:
        raise UserError(
            f"{package_json} records no model folder; pass --model with the model the package was fitted on"
        )
    folder = Path(str(asked or recorded)).expanduser()
    if not folder.is_dir():
        where = "--model" if asked else f"the model folder recorded in {package_json}"
        raise UserError(f"{folder}: {where} does not exist; pass --model with the model the package was fitted on")
    return folder


def model_config(folder: Path):
    """The model's config alone (no weights): cheap, so the checks against the package come first."""
    from transformers import AutoConfig

    if not (folder / "config.json").is_file():
        raise UserError(
            f"{folder}: no config.json, so not a model folder; pass --model with a folder saved by "
            "save_pretrained (or the workflow's prepared model)"
        )
    try:
        return AutoConfig.from_pretrained(folder)
    except (OSError, ValueError) as err:
        raise UserError(f"{folder}/config.json: not a model config transformers understands ({err})") from None


def check_model_matches(meta: dict, config, folder: Path, layer: int, package_json: Path) -> None:
    """The model must be the one the package was fitted on: vectors and centres mean nothing in another's space."""
    fitted_on = provenance(meta).get("load_path") or provenance(meta).get("spec") or "the model it was fitted on"
    fix = f"point --model at the model the package was fitted on ({fitted_on}), or re-run the workflow with this model"
    text_config = config.get_text_config()
    hidden, blocks = getattr(text_config, "hidden_size", None), getattr(text_config, "num_hidden_layers", None)
    if hidden != meta["hidden_size"]:
        raise UserError(
            f"{folder}: hidden size {hidden}, but {package_json} was fitted on a model "
            f"with hidden size {meta['hidden_size']}; {fix}"
        )
    if not isinstance(blocks, int) or layer >= blocks:
        raise UserError(f"{folder}: {blocks} blocks, too few for layer {layer} of {package_json}; {fix}")
    # The files' sizes and sampled bytes (model_io.source_fingerprint) are quick for any model size;
    # older packages record only the full sha256 of the weights, which means reading them once more.
    quick = provenance(meta).get("files")
    recorded = quick or provenance(meta).get("fingerprint")
    if not recorded:
        log.warning(
            "%s records no model fingerprint: cannot check that %s is the model it was fitted on", package_json, folder
        )
        return
    try:
        actual = model_io.source_fingerprint(str(folder)) if quick else model_io.fingerprint_weights(folder)
    except model_io.ModelError as err:  # no weight files at all
        raise UserError(f"{err}; {fix}") from None
    if actual != recorded:
        raise UserError(
            f"{folder}: weights fingerprint {actual[:12]}... differs from {recorded[:12]}... recorded in "
            f"{package_json} for {fitted_on}; {fix}"
        )


SANE_CONTEXT = 10**8


def reading_length(meta: dict, config, tokenizer) -> int:
    """Longest token sequence read: the package's extraction ``max_length``, capped by the model's context.

    A longer text is cut as extraction cuts it (``extract.tokenize``: BOS and the end are kept), so the
    reader sees what the package was fitted on. With neither limit known, nothing is cut.
    """
    limits = [
        meta.get("config", {}).get("max_length") if isinstance(meta.get("config"), dict) else None,
        getattr(config.get_text_config(), "max_position_embeddings", None),
        getattr(tokenizer, "model_max_length", None),
    ]
    # transformers gives a tokenizer without a limit model_max_length = 1e30: not a real context size
    sane = [int(n) for n in limits if isinstance(n, (int, float)) and 0 < n < SANE_CONTEXT]
    return min(sane, default=sys.maxsize)


def extraction_dtype(meta: dict, package_json: Path) -> str:
    """The dtype the package's activations were computed in (``auto`` where it does not say)."""
    dtype = meta.get("extraction_dtype") or "auto"
    if dtype not in ("auto", "float32", "bfloat16", "float16"):
        raise UserError(f"{package_json}: 'extraction_dtype' {dtype!r} is not a dtype; {REBUILD}")
    return dtype


def load_model(folder: Path, device_name: str, layer: int, dtype: str = "auto"):
    """The model, in ``dtype``: the package's ``extraction_dtype``, so that the reader computes what the
    vectors were fitted on (``auto`` for a package that does not record it)."""
    try:
        device = model_io.resolve_device(device_name)
    except RuntimeError:
        raise UserError(f"--device {device_name!r}: not a device; use auto, cpu or cuda") from None
    try:
        return model_io.load(folder, device, model_io.resolve_dtype(dtype, device), n_blocks=layer + 1)
    except UserError:
        raise
    except (OSError, ValueError, RuntimeError, SafetensorError) as err:
        raise UserError(
            f"{folder}: the model cannot be loaded ({type(err).__name__}: {err}); pass --model with "
            "the model the package was fitted on"
        ) from None


def one_line(err: Exception) -> str:
    """An error message from a library may span lines; the reader prints exactly one."""
    return " ".join(line.strip() for line in str(err).splitlines() if line.strip())


def read(args: argparse.Namespace) -> int:
    # every check on the input and the package comes before the model loads, which can take minutes
    texts = input_texts(args)
    check_html_target(args.html)
    readout = Readout(args.readout)
    package_json = args.readout / "readout.json"
    layer = choose_layer(readout, args.layer)
    check_template(readout.meta, package_json)
    folder = model_folder(args.model, readout.meta, package_json)
    config = model_config(folder)
    check_model_matches(readout.meta, config, folder, layer, package_json)
    model, tokenizer = load_model(folder, args.device, layer, extraction_dtype(readout.meta, package_json))
    max_length = reading_length(readout.meta, config, tokenizer)
    results = read_texts(
        texts,
        readout,
        model,
        tokenizer,
        layer,
        args.top,
        args.last,
        max_length,
        keep_scores=args.html is not None,
        progress=len(texts) > 1 and sys.stderr.isatty(),
    )
    depth = readout.meta.get("layer_depth_percent")
    depth = depth.get(str(layer)) if isinstance(depth, dict) else None
    depth = f"{depth}% depth" if depth is not None else "depth unknown"
    kept = []  # JSON and the HTML page need every text; a table and TSV stream as the texts are read
    if args.format == "tsv":
        sys.stdout.write(TSV_HEADER)
    for n, result in enumerate(results, start=1):
        if args.format == "table":
            sys.stdout.write(as_table(n, result, depth))
        elif args.format == "tsv":
            sys.stdout.write(as_tsv(n, result))
        if args.format == "json" or args.html:
            kept.append(result)
    if args.format == "json":
        sys.stdout.write(as_json(kept))
    if args.html:
        try:
            args.html.write_text(as_html(kept, readout.concepts), encoding="utf-8")
        except OSError as err:
            raise UserError(f"--html {args.html}: cannot be written ({err.strerror})") from None
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        return read(parse_args(argv))
    except (UserError, OSError) as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
