"""End to end against the trainer we replace: a pooled package from scratch on the shipped corpus, by
that trainer (`../shared/reference/seed_rightpad.py`: right padding, float32, batch 8, run from there)
and by this workflow (`methods: [pooled]`, target `results/readout/pooled/readout.safetensors`), one
after the other on the same machine and the same prepared model.

The model is prepared once first (not timed), so both sides start from the same HF folder. The trainer
reads `stories/<concept>.txt` only (one file per concept), so each of our stories is handed to it as a
one-framing paired scenario (`paired/<story>/<concept>.txt`), beside our real paired scenarios: it
then reads exactly our texts, with our labels, and the same baselines. Both cut texts at the config's
`max_length` and read the config's layers.

    python bench/vs_reference.py [--workdir DIR] [--cores 2] [--out bench/results/vs_reference]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference" / "seed_rightpad.py"


def timed(cmd: list[str], **kwargs) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
    return seconds


def reference_corpus(corpus: Path, out: Path) -> int:
    """Our corpus in the layout the trainer reads; returns the number of texts written."""
    (out / "stories").mkdir(parents=True)
    shutil.copytree(corpus / "paired", out / "paired")
    n = sum(1 for _ in (out / "paired").rglob("*.txt"))
    for story in sorted((corpus / "stories").rglob("*.txt")):
        rel = story.relative_to(corpus / "stories")
        concept = rel.parts[0].removesuffix(".txt")
        scenario = out / "paired" / ("story__" + "__".join(rel.with_suffix("").parts))
        scenario.mkdir()
        shutil.copy(story, scenario / f"{concept}.txt")
        n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--reference", type=Path, default=REFERENCE, help="the trainer's right-padding wrapper")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "vs_reference"))
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="amygdala-vs-reference-"))
    shutil.copytree(REPO / "amygdala_stories", workdir / "amygdala_stories", dirs_exist_ok=True)
    config = yaml.safe_load((REPO / "config.yaml").read_text()) | {"methods": ["pooled"], "evaluations": []}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        str(args.cores),
    ]

    timed([*snakemake, "results/model/layers.json"])  # prepare the model once, for both sides (not timed)
    model = workdir / json.loads((workdir / "results/model/model.json").read_text())["load_path"]
    layers = json.loads((workdir / "results/model/layers.json").read_text())["layers"]
    shutil.rmtree(workdir / "results" / "logs")

    n_texts = reference_corpus(workdir / "amygdala_stories", workdir / "reference_corpus")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.cores))
    reference = timed(
        [
            sys.executable,
            str(args.reference),
            "--model",
            str(model),
            "--stories-dir",
            str(workdir / "reference_corpus" / "stories"),
            "--paired-dir",
            str(workdir / "reference_corpus" / "paired"),
            "--target-layers",
            ",".join(map(str, layers)),
            "--output-dir",
            str(workdir / "reference_out"),
            "--device",
            "cpu",
            "--dtype",
            "fp32",
            "--batch-size",
            "8",
            "--max-length",
            str(config["max_length"]),
        ],
        cwd=args.reference.parent,
        env=env,
    )
    ours = timed([*snakemake, "results/readout/pooled/readout.safetensors"])

    lines = [
        f"Pooled package from scratch, {n_texts} texts of the shipped corpus, layers {layers}, model prepared "
        f"beforehand, {args.cores} cores",
        "",
        "| trainer | wall time (s) |",
        "|---|---|",
        f"| the trainer we replace (right padding, fp32, batch 8) | {reference:.0f} |",
        f"| this workflow (`methods: [pooled]`, validation included) | {ours:.0f} |",
        f"| **ratio** | **{reference / ours:.2f}×** |",
    ]
    table = "\n".join(lines)
    print(table)
    Path(args.out + ".md").write_text(table + "\n")
    print(f"\nworking directory: {workdir}")


if __name__ == "__main__":
    main()
