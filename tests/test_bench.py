"""Smoke runs of the extraction benchmark on the tiny model: the script works and its figures are sane.
The figures themselves are measured with the default model (bench/RESULTS.md), not here."""

import json
import subprocess
import sys

import pytest
from conftest import REPO


def run_bench(out, *args):
    cmd = [
        sys.executable,
        str(REPO / "bench" / "extraction_speed.py"),
        "--texts",
        "5",
        "--reps",
        "1",
        "--threads",
        "1",
        "--matmul-size",
        "256",
        "--out",
        str(out),
        *args,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.with_suffix(".json").read_text()), out.with_suffix(".md").read_text()


@pytest.mark.parametrize("source", ["model folder", "random config"])
def test_extraction_benchmark_runs_and_agrees_with_the_baseline(tiny_model_dir, tiny_corpus, tmp_path, source):
    extra = ["--random-config", "llama-tiny"] if source == "random config" else ["--profile"]
    result, table = run_bench(tmp_path / "speed", "--model", str(tiny_model_dir), "--corpus", str(tiny_corpus), *extra)
    assert result["texts"] == 5 and result["tokens"] > 5
    assert all(rate > 0 for rate in result["tokens_per_s"].values())
    # the run stops if the two extractions disagree; the figures it checked are kept
    assert set(result["agreement"]) == {"last_token", "head_inputs", "subspace"}
    assert max(result["agreement"].values()) < 1e-3
    assert result["model_flops"] > 0 and result["matmul_gflops"] > 0
    for setting in ("pooled-only", "everything"):
        assert f"| {setting} |" in table
    if source == "model folder":
        assert abs(sum(result["profile_shares"].values()) - 1) < 1e-6
        assert (tmp_path / "speed_profile.txt").read_text().count("aten::") > 3


def test_model_flops_count_the_blocks_read_and_their_attention(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    sys.path.insert(0, str(REPO / "bench"))
    from extraction_speed import forward_flops

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    config = model.config
    per_block = sum(p.numel() for n, p in model.model.layers[0].named_parameters() if "proj" in n)
    lengths = [3, 5]
    attention = 4 * config.num_attention_heads * (config.hidden_size // config.num_attention_heads) * (6 + 15)
    assert forward_flops(model, 1, lengths) == 2 * (2 * per_block * 8 + attention)


def test_results_tables_are_replaced_between_their_markers_only(tmp_path):
    sys.path.insert(0, str(REPO / "bench"))
    from run import fill

    results = tmp_path / "RESULTS.md"
    results.write_text(
        "intro\n<!-- subspace_speed -->\nold table\n<!-- /subspace_speed -->\nanalysis\n"
        "<!-- extraction_speed -->\nkept: no new table\n<!-- /extraction_speed -->\n"
    )
    (tmp_path / "subspace_speed.md").write_text("| new | table |\n")
    assert fill(results, tmp_path) == ["subspace_speed"]
    assert fill(results, tmp_path) == ["subspace_speed"]  # idempotent
    assert results.read_text() == (
        "intro\n<!-- subspace_speed -->\n| new | table |\n<!-- /subspace_speed -->\n"
        "analysis\n<!-- extraction_speed -->\nkept: no new table\n<!-- /extraction_speed -->\n"
    )


def yardstick():
    sys.path.insert(0, str(REPO / "bench"))
    import yardstick

    return yardstick


def test_the_yardstick_view_counts_k_way_balanced_accuracy_and_the_88_way_top_k():
    import numpy as np

    concepts = ["anger", "awe", "fear", "joy", "pride", "relief"]
    labels = ["anger", "anger", "fear", "joy"]
    # anger/fear/joy compete k-way; awe, pride and relief only in the all-concept ranks
    scores = np.array(
        [
            [5, 9, 1, 0, 8, 7],  # anger: k-way right, rank 4 of 6
            [1, 0, 2, 0, 0, 0],  # anger: k-way wrong (fear), rank 2
            [0, 9, 5, 1, 0, 0],  # fear: k-way right, rank 2
            [0, 0, 0, 3, 4, 5],  # joy: k-way right, rank 3
        ],
        dtype=float,
    )
    got = yardstick().view(scores, labels, concepts)
    assert got["recall"] == {"anger": 0.5, "fear": 1.0, "joy": 1.0}
    assert got["balanced"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert got["top1"] == 0 and got["top5"] == 1.0
    low, high = got["interval"]
    assert low <= got["balanced"] <= high


def test_the_lexical_baseline_learns_words_from_the_corpus_texts_of_the_labels():
    train = (
        ["the dog barked at the postman", "a dog chased the ball", "rain fell on the roof", "grey rain all day"],
        ["fear", "fear", "sadness", "sadness"],
    )
    scores = yardstick().lexical_scores(train, ["my dog again", "more rain today"], ["sadness", "fear"], c=10.0)
    assert scores.shape == (2, 2)
    assert scores[0].argmax() == 1 and scores[1].argmax() == 0  # columns follow the classes asked for


def test_the_goemotions_halves_are_fixed_stratified_and_cover_the_set():
    import pandas as pd

    split = pd.read_csv(REPO / "bench" / "goemotions_split.tsv", sep="\t", dtype=str)
    assert split.id.is_unique and set(split.half) == {"tune", "report"}
    shared = REPO.parent / "shared" / "eval"
    if not (shared / "goemotions_dev.jsonl").exists():
        pytest.skip("../shared/eval is not beside this checkout")
    for name in ("goemotions_dev.jsonl", "goemotions_dev_neutral.jsonl"):
        table = pd.read_json(shared / name, lines=True, dtype={"id": str}).merge(split, on="id", how="left")
        assert table.half.notna().all()
        per_label = table.groupby("label").half.value_counts().unstack(fill_value=0)
        assert ((per_label.tune - per_label.report).abs() <= 1).all()  # each label dealt alternately


def test_the_reader_benchmark_reads_every_line_both_ways(finished, tmp_path):
    out = tmp_path / "reader_speed"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "reader_speed.py"),
            "--lines",
            "30",
            "--readout",
            str(finished / "results" / "readout" / "best"),
            "--model-info",
            str(finished / "results" / "model" / "model.json"),
            "--corpus",
            str(finished / "corpus"),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        cwd=finished,
    )
    row = json.loads(out.with_suffix(".json").read_text())
    assert row["lines"] == 30 and row["dtype"] == "float32" and row["tokens"] > 30
    assert row["extraction_s"] >= 0 and row["ratio"] > 0
