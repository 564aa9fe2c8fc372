"""Run the benchmark suite and put its tables into bench/RESULTS.md.

Each benchmark writes bench/results/<name>.md; this script runs them (all, or those named with --only)
and then copies every table it finds into RESULTS.md between the markers <!-- <name> --> and
<!-- /<name> -->, leaving the text around them (the analysis) alone. Needs the prepared default model:
run `snakemake --cores all prepare_model` once first.

    python bench/run.py                      # everything, about three and a half hours on a 2-core CPU
    python bench/run.py --only subspace_speed
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
WORKFLOW_DIR = Path(tempfile.gettempdir()) / "amygdala-bench-workflow"  # kept for fit_scale


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=BENCH.parent)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def subspace_speed() -> None:
    rows = []
    for extra in ([], ["--random"], ["--hidden", "2048"]):
        table = run(str(BENCH / "subspace_speed.py"), *extra).strip().splitlines()
        rows += table[2:]
    (RESULTS / "subspace_speed.md").write_text("\n".join(table[:2] + rows) + "\n")


def workflow_timing() -> None:
    shutil.rmtree(WORKFLOW_DIR, ignore_errors=True)  # from scratch, every time
    run(str(BENCH / "workflow_timing.py"), "--workdir", str(WORKFLOW_DIR))


BENCHMARKS = {
    "extraction_speed": lambda: run(str(BENCH / "extraction_speed.py"), "--profile"),
    "workflow_timing": workflow_timing,
    "workflow_timing_pooled": lambda: run(
        str(BENCH / "workflow_timing.py"), "--methods", "pooled", "--out", str(RESULTS / "workflow_timing_pooled")
    ),
    "subspace_speed": subspace_speed,
    "yardstick": lambda: run(str(BENCH / "yardstick.py"), "--sweep", "--template"),
    # after workflow_timing: it scores that default run's packages
    "yardstick_report": lambda: run(
        str(BENCH / "yardstick.py"),
        "--packages",
        *(str(WORKFLOW_DIR / "results" / "readout" / name) for name in ("best", "pooled", "lda")),
    ),
    "dry_run_scale": lambda: run(str(BENCH / "dry_run_scale.py")),
    # after workflow_timing: it projects extraction time from that run's logs
    "fit_scale": lambda: run(
        str(BENCH / "fit_scale.py"), "--extraction-logs", str(WORKFLOW_DIR / "results" / "logs" / "extract_activations")
    ),
    "vs_reference": lambda: run(str(BENCH / "vs_reference.py")),
    "subspace_cap": lambda: run(str(BENCH / "subspace_cap.py"), "--workdir", tempfile.mkdtemp(prefix="amygdala-cap-")),
}


def fill(results_md: Path, tables: Path = RESULTS) -> list[str]:
    """Copy each ``tables``/<name>.md between its markers in ``results_md``; returns the names done."""
    text = results_md.read_text()
    done = []
    for name in BENCHMARKS:
        table = tables / f"{name}.md"
        pattern = re.compile(rf"(<!-- {name} -->\n).*?(<!-- /{name} -->)", re.S)
        if table.exists() and pattern.search(text):
            text = pattern.sub(lambda m: m.group(1) + table.read_text() + m.group(2), text)
            done.append(name)
    results_md.write_text(text)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--fill-only", action="store_true", help="only copy existing tables into RESULTS.md")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if not args.fill_only:
        for name in args.only:
            print(f"running {name} ...", flush=True)
            BENCHMARKS[name]()
    print("RESULTS.md updated:", ", ".join(fill(BENCH / "RESULTS.md")))


if __name__ == "__main__":
    main()
