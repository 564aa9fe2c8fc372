"""The reader against the workflow's extraction, on the same short lines, model, dtype and threads.

Lines are sentences cut from the corpus (a file of many short texts, as a server log or a comment dump
would be). Timed: the workflow's extraction of them (``extract.extract``: last token, token means and
sentence-end means, no heads, no subspaces) and the reader reading every token of every line
(``read.read_texts``, the default, not ``--last``) with its TSV output written to /dev/null. Target
(bfloat16 issue): the reader takes at most 1.5x the extraction's time.

    python bench/reader_speed.py                       # 20,000 lines, the default package and model
    python bench/reader_speed.py --lines 200 --dtype float32
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

import torch

from amygdala_readout import model_io
from amygdala_readout.extract import extract
from amygdala_readout.package import Readout
from amygdala_readout.read import as_tsv, read_texts

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def corpus_lines(corpus: Path, n: int) -> list[str]:
    """``n`` sentences of 4 to 40 words from the corpus, in a fixed order, repeated if it runs short."""
    sentences = []
    for path in sorted(corpus.rglob("*.txt")):
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", path.read_text()):
            if 4 <= len(sentence.split()) <= 40:
                sentences.append(sentence.strip())
    return [sentences[i % len(sentences)] for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--readout", type=Path, default=REPO / "results" / "readout" / "best")
    parser.add_argument("--model-info", type=Path, default=REPO / "results" / "model" / "model.json")
    parser.add_argument("--corpus", type=Path, default=REPO / "amygdala_stories")
    parser.add_argument("--dtype", choices=["package", "float32", "bfloat16"], default="package")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch-tokens", type=int, default=4096)
    parser.add_argument("--out", type=Path, default=RESULTS / "reader_speed")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    readout = Readout(args.readout)
    dtype = (readout.meta.get("extraction_dtype") or "float32") if args.dtype == "package" else args.dtype
    layer = readout.meta.get("best_layer") or readout.layers[0]
    info = json.loads(args.model_info.read_text())
    model, tokenizer = model_io.load(info["load_path"], torch.device("cpu"), getattr(torch, dtype), n_blocks=layer + 1)
    lines = corpus_lines(args.corpus, args.lines)
    n_tokens = sum(len(tokenizer(line)["input_ids"]) for line in lines)

    start = time.perf_counter()
    extract(model, tokenizer, lines, [layer], max_length=1024, batch_tokens=args.batch_tokens)
    extraction = time.perf_counter() - start

    start = time.perf_counter()
    with open(os.devnull, "w") as sink:
        results = read_texts(lines, readout, model, tokenizer, layer, 5, False, 1024, batch_tokens=args.batch_tokens)
        for n, result in enumerate(results, start=1):
            sink.write(as_tsv(n, result))
    reading = time.perf_counter() - start

    row = {
        "lines": len(lines),
        "tokens": n_tokens,
        "dtype": dtype,
        "threads": args.threads,
        "layer": layer,
        "extraction_s": round(extraction, 1),
        "reader_s": round(reading, 1),
        "ratio": round(reading / extraction, 2),
        "reader_tokens_per_s": round(n_tokens / reading),
    }
    args.out.with_suffix(".json").write_text(json.dumps(row, indent=2) + "\n")
    table = "| " + " | ".join(row) + " |\n|" + "---|" * len(row) + "\n| " + " | ".join(map(str, row.values())) + " |\n"
    args.out.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
