"""Wall time of the default workflow: a full run, a no-op rerun, and reruns after editing or adding a story.

Runs in a scratch working directory with a copy of the corpus, data/ and config.yaml, so the repository's
results/ are left alone. Prints a Markdown table; extraction throughput comes from the jobs' logs.

    python bench/workflow_timing.py [--workdir DIR] [--cores N]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NEW_STORY = """The letter from the council said the allotment was hers from the first of April, plot
fourteen, the one with the crooked shed, and Marguerite read it standing in the hall with her coat
still on. She had been on the waiting list for six years. She read it again. Then she put it down on
the telephone table, picked it up, and walked round the flat holding it like a ticket, touching the
window sills, laughing at nothing, already seeing the beans climbing the fence and the rhubarb and the
little chair she would put by the shed door, and she danced two clumsy steps on the kitchen lino with
the letter pressed against her chest.
"""


def snakemake(workdir: Path, cores: int, *args: str) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--cores", str(cores), *args]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-5000:]}")
    return seconds, done.stdout + done.stderr


def extraction_rate(workdir: Path) -> tuple[int, float]:
    tokens = seconds = 0.0
    for log in (workdir / "results" / "logs" / "extract_activations").glob("*.log"):
        for n, s in re.findall(r"(\d+) tokens in ([\d.]+) s", log.read_text()):
            tokens += int(n)
            seconds += float(s)
    return int(tokens), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="amygdala-bench-"))
    for folder in ("amygdala_stories", "data"):  # the corpus and the labelled sets config.yaml names
        shutil.copytree(REPO / folder, workdir / folder, dirs_exist_ok=True)
    shutil.copy(REPO / "config.yaml", workdir / "config.yaml")

    full, _ = snakemake(workdir, args.cores)
    tokens, extract_seconds = extraction_rate(workdir)
    noop, out = snakemake(workdir, args.cores)
    assert "Nothing to be done" in out, out[-2000:]
    edited_story = workdir / "amygdala_stories" / "stories" / "fear.txt"
    edited_story.write_text(edited_story.read_text().replace("the lake", "the frozen lake", 1))
    edited, out = snakemake(workdir, args.cores)
    n_edit = len(re.findall(r"rule extract_activations:", out))
    story = workdir / "amygdala_stories" / "stories" / "happiness" / "bench_allotment.txt"
    story.write_text(NEW_STORY)
    added, out = snakemake(workdir, args.cores)
    n_extract = len(re.findall(r"rule extract_activations:", out))

    print(f"| measurement (cores={args.cores}) | value |")
    print("|---|---|")
    print(f"| full run, from scratch (incl. GGUF de-quantization) | {full:.1f} s |")
    print(f"| extraction: tokens, summed forward time, throughput | {tokens} tokens, {extract_seconds:.1f} s, "
          f"{tokens / extract_seconds:.0f} tokens/s |")
    print(f"| no-op rerun | {noop:.1f} s |")
    print(f"| rerun after editing one story ({n_edit} extraction job) | {edited:.1f} s "
          f"({100 * edited / full:.0f}% of the full run) |")
    print(f"| rerun after adding one story ({n_extract} extraction job) | {added:.1f} s "
          f"({100 * added / full:.0f}% of the full run) |")
    print(f"\nworking directory: {workdir}")


if __name__ == "__main__":
    main()
