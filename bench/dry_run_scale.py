"""How long Snakemake takes to read the workflow on a large corpus: a synthetic corpus of N stories
(generated here, not shipped), timed through a dry run that plans every job, and through the library's
parse-time scan alone. The full validation (near-duplicates included) is timed too: it runs in the
validate_corpus job, not while the workflow parses.

    python bench/dry_run_scale.py [--stories 10000] [--concepts 88] [--out bench/results/dry_run_scale]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TEXT = """
the morning light came through the window while she waited by the door with her coat on and the
letter in her hand he said nothing for a long time then laughed and walked out into the rain past
the market stalls and the old bridge where they used to meet every summer before the war
"""
WORDS = TEXT.split()


def write_corpus(root: Path, n_stories: int, n_concepts: int, seed: int = 0) -> None:
    """``n_stories`` stories of 120-300 random words, spread over ``n_concepts`` concepts."""
    rng = random.Random(seed)
    for i in range(n_stories):
        concept = f"concept_{i % n_concepts:03d}"
        folder = root / "stories" / concept
        folder.mkdir(parents=True, exist_ok=True)
        words = [rng.choice(WORDS) for _ in range(rng.randint(120, 300))]
        (folder / f"narrative_{i:05d}.txt").write_text(" ".join(words).capitalize() + ".\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--concepts", type=int, default=88)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "dry_run_scale")
    args = parser.parse_args()
    from amygdala_readout import corpus

    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        write_corpus(workdir / "corpus", args.stories, args.concepts)
        (workdir / "config.yaml").write_text(yaml.safe_dump({"corpus_dir": "corpus", "evaluations": []}))
        start = time.perf_counter()
        corpus.label_texts(corpus.scan(workdir / "corpus"), n_shards=16)
        scan_s = time.perf_counter() - start
        start = time.perf_counter()
        corpus.validate(workdir / "corpus", n_shards=16)
        validate_s = time.perf_counter() - start
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "--directory",
            str(workdir),
            "--cores",
            "2",
            "--dry-run",
            "--quiet",
        ]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        dry_run_s = time.perf_counter() - start
    rows = [
        ("parse-time scan (discover, read, hash, label)", scan_s),
        ("dry run planning every job (snakemake -n)", dry_run_s),
        ("full validation, in the validate_corpus job", validate_s),
    ]
    table = (
        f"{args.stories:,} synthetic stories, {args.concepts} concepts, 16 shards, default config\n\n"
        "| step | seconds |\n|---|---|\n" + "".join(f"| {name} | {s:.1f} |\n" for name, s in rows)
    )
    args.out.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
