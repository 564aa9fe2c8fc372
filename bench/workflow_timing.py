"""Wall time of the default workflow: a full run, a no-op rerun, and reruns after editing or adding a story;
and the peak memory of the extraction jobs against the size of the model's weights.

Runs in a scratch working directory with a copy of the corpus, data/ and config.yaml, so the repository's
results/ are left alone. Prints a Markdown table (also written to OUT.md); extraction throughput comes
from the jobs' logs, memory and per-job seconds from Snakemake's `benchmark:` files.

    python bench/workflow_timing.py [--workdir DIR] [--cores N] [--methods pooled,probe]
"""

from __future__ import annotations

import argparse
import csv
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
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        str(cores),
        *args,
    ]
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


def job_benchmarks(workdir: Path) -> dict[str, tuple[float, float, float]]:
    """{job: (file modification time, seconds, max RSS MB)} from Snakemake's benchmark files."""
    jobs = {}
    for path in (workdir / "results" / "benchmarks").rglob("*.tsv"):
        with path.open() as handle:
            row = list(csv.DictReader(handle, delimiter="\t"))[-1]
        jobs[str(path.relative_to(workdir / "results" / "benchmarks"))[:-4]] = (
            path.stat().st_mtime,
            float(row["s"]),
            float(row["max_rss"]),
        )
    return jobs


def weight_bytes(workdir: Path) -> int:
    folder = workdir / "results" / "model" / "weights"
    return sum(p.stat().st_size for p in folder.iterdir() if p.suffix in (".safetensors", ".bin"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--methods", default=None, help="comma-separated; default: config.yaml's")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "workflow_timing"))
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="amygdala-bench-"))
    for folder in ("amygdala_stories", "data"):  # the corpus and the labelled sets config.yaml names
        shutil.copytree(REPO / folder, workdir / folder, dirs_exist_ok=True)
    shutil.copy(REPO / "config.yaml", workdir / "config.yaml")
    if args.methods:
        with (workdir / "config.yaml").open("a") as handle:
            handle.write(f"\nmethods: [{args.methods}]\n")

    full, _ = snakemake(workdir, args.cores)
    tokens, extract_seconds = extraction_rate(workdir)
    noop, out = snakemake(workdir, args.cores)
    assert "Nothing to be done" in out, out[-2000:]
    edited_story = workdir / "amygdala_stories" / "stories" / "fear" / "narrative_the_first_sound_was.txt"
    edited_story.write_text(edited_story.read_text().replace("the lake", "the frozen lake", 1))
    edited, out = snakemake(workdir, args.cores)
    n_edit = len(re.findall(r"rule extract_activations:", out))
    story = workdir / "amygdala_stories" / "stories" / "happiness" / "diary_bench_allotment.txt"
    story.write_text(NEW_STORY)
    before = job_benchmarks(workdir)
    added, out = snakemake(workdir, args.cores)
    n_extract = len(re.findall(r"rule extract_activations:", out))
    after = job_benchmarks(workdir)
    rerun_jobs = {job: v for job, v in after.items() if job not in before or v[0] != before[job][0]}

    rss = max(v[2] for job, v in before.items() if job.startswith("extract_activations/"))
    methods = args.methods or "config.yaml's"
    lines = [
        f"| measurement (cores={args.cores}, methods: {methods}) | value |",
        "|---|---|",
        f"| full run, from scratch (incl. GGUF de-quantization) | {full:.1f} s |",
        f"| extraction: tokens, summed forward time, throughput | {tokens} tokens, {extract_seconds:.1f} s, "
        f"{tokens / extract_seconds:.0f} tokens/s |",
        f"| no-op rerun (nothing scheduled) | {noop:.1f} s |",
        f"| rerun after editing one story ({n_edit} extraction job) | {edited:.1f} s "
        f"({100 * edited / full:.0f}% of the full run) |",
        f"| rerun after adding one story ({n_extract} extraction job) | {added:.1f} s "
        f"(**{100 * added / full:.0f}%** of the full run) |",
        f"| peak RSS of an extraction job / the model's weight files | {rss / 1024:.2f} GiB / "
        f"{weight_bytes(workdir) / 2**30:.2f} GiB |",
        "",
        "Jobs of the rerun after adding a story, seconds each (Snakemake `benchmark:`): "
        + ", ".join(f"{job} {v[1]:.0f}" for job, v in sorted(rerun_jobs.items(), key=lambda kv: -kv[1][1])),
    ]
    table = "\n".join(lines)
    print(table)
    Path(args.out + ".md").write_text(table + "\n")
    print(f"\nworking directory: {workdir}")


if __name__ == "__main__":
    main()
