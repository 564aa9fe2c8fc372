"""The real workflow, through Snakemake, on the tiny model and corpus."""

import itertools
import json

import numpy as np
import pytest
import torch
import yaml
from conftest import TINY_PAIRED, TINY_STORIES, assert_figure, run_snakemake, scheduled
from transformers import AutoModelForCausalLM, AutoTokenizer

from amygdala_readout.extract import last_token_activations, text_subspace, token_activations
from amygdala_readout.methods import METHODS
from amygdala_readout.package import read_package
from amygdala_readout.subspace import naive_subspace


@pytest.fixture
def edited_run(finished_copy):
    """A finished run of `pooled` only, copied for a test that edits the corpus: what reruns does not
    depend on the method, and every rerun is then quick."""
    return finished_copy


def test_package_matches_the_contract_and_the_seed_formula(finished_run, tiny_model_dir):
    package = finished_run / "results" / "readout" / "pooled"
    meta, tensors = read_package(package)
    assert meta["concepts"] == ["anger", "fear", "happiness", "sadness"]
    assert meta["layers"] == [1, 2, 3]
    assert meta["hidden_size"] == 32 and meta["dtype"] == "float16"
    assert meta["model"]["fingerprint"] and meta["corpus"]["n_texts"] == 11
    assert sorted(tensors) == sorted(f"layer_{i}.{k}" for i in (1, 2, 3) for k in ("vectors", "center"))

    # recompute from scratch: every text through the model, then mean(pos) - mean(neg)
    texts, labels = corpus_texts_and_labels()
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    acts = last_token_activations(model, AutoTokenizer.from_pretrained(tiny_model_dir), texts, [1, 2, 3])
    for layer in (1, 2, 3):
        a = acts[layer].double().numpy()
        for row, concept in enumerate(meta["concepts"]):
            pos = np.array([label == concept for label in labels])
            diff = a[pos].mean(0) - a[~pos].mean(0)
            got = tensors[f"layer_{layer}.vectors"][row].float().numpy()
            np.testing.assert_allclose(got, diff / np.linalg.norm(diff), atol=2e-3)
        np.testing.assert_allclose(tensors[f"layer_{layer}.center"].numpy(), a.mean(0), rtol=1e-4, atol=1e-5)


def test_evaluation_numbers_match_a_recomputation(finished_run, tiny_model_dir):
    import pandas as pd

    from amygdala_readout.package import Readout

    readout = Readout(finished_run / "results" / "readout" / "pooled")
    metrics = pd.read_csv(finished_run / "results" / "evaluations" / "own" / "pooled" / "metrics.tsv", sep="\t")
    assert sorted(metrics.layer.unique()) == [1, 2, 3] and set(metrics.scoring) == {"centred", "raw"}
    texts = [t for ts in TINY_STORIES.values() for t in ts]
    truth = [c for c, ts in TINY_STORIES.items() for _ in ts]
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    per_token = [token_activations(model, tokenizer, t, [1, 2, 3])[1] for t in texts]
    readings = {
        "last_token": last_token_activations(model, tokenizer, texts, [1, 2, 3]),
        # every token's score averaged over the text (BOS left out) = the score of the mean
        "all_tokens": {i: torch.stack([t[i][1:].mean(0) for t in per_token]) for i in (1, 2, 3)},
    }
    for (reading, acts), layer, scoring in itertools.product(readings.items(), (1, 2, 3), ("centred", "raw")):
        scores = readout.scores(acts[layer], layer, centred=scoring == "centred")
        predicted = [readout.concepts[i] for i in scores.argmax(1).tolist()]  # all 4 concepts are labels
        hits = [p == t for p, t in zip(predicted, truth)]
        balanced = np.mean([np.mean([h for h, t in zip(hits, truth) if t == c]) for c in TINY_STORIES])
        row = metrics[(metrics.reading == reading) & (metrics.layer == layer) & (metrics.scoring == scoring)]
        assert len(row) == 1
        assert row.top1.item() == pytest.approx(np.mean(hits), abs=1e-4) and row.n.item() == 8
        assert row.balanced.item() == pytest.approx(balanced, abs=1e-4)
    assert_figure(finished_run / "results" / "evaluations" / "own" / "pooled" / "confusion.png")


def test_reader_prints_what_the_package_scores(finished_run, tiny_model_dir, capsys, tmp_path):
    from amygdala_readout import read
    from amygdala_readout.package import Readout

    package = finished_run / "results" / "readout" / "pooled"
    text = TINY_STORIES["fear"][0]
    args = ["--readout", str(package), "--text", text, "--layer", "2", "--top", "2"]
    assert read.main(args + ["--format", "json", "--html", str(tmp_path / "heat.html")]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert len(result["tokens"]) == len(tokenizer(text)["input_ids"]) - 1  # every token but BOS
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    last = last_token_activations(model, tokenizer, [text], [2])[2]
    expected = Readout(package).scores(last, 2)[0]
    top = result["tokens"][-1]["top"]
    assert top[0]["concept"] == meta_concepts(package)[int(expected.argmax())]
    assert top[0]["score"] == pytest.approx(float(expected.max()), rel=1e-3)
    assert "<table>" in (tmp_path / "heat.html").read_text()
    assert read.main(args + ["--last", "--format", "tsv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split("\t") == ["text", "layer", "position", "token", "rank", "concept", "score"]
    assert len(lines) == 3 and lines[1].split("\t")[5] == top[0]["concept"]
    assert read.main(args) == 0 and "layer 2 (66.7% depth)" in capsys.readouterr().out
    assert read.main(["--readout", str(package), "--text", "x", "--layer", "0"]) == 2
    # many texts: read in batches, chunk by chunk, each chunk printed as soon as it is read, in input order
    texts = [t for ts in TINY_STORIES.values() for t in ts]
    readout = Readout(package)
    alone = [next(read.read_texts([t], readout, model, tokenizer, 2, 2, False, 512))["tokens"] for t in texts]
    chunked = list(read.read_texts(texts, readout, model, tokenizer, 2, 2, False, 512, chunk=3, batch_tokens=20))
    assert [r["text"] for r in chunked] == texts
    for one, many in zip(alone, chunked):
        assert [row["token"] for row in one] == [row["token"] for row in many["tokens"]]
        assert [row["top"][0]["concept"] for row in one] == [row["top"][0]["concept"] for row in many["tokens"]]
        scores_one = [row["top"][0]["score"] for row in one]
        assert [row["top"][0]["score"] for row in many["tokens"]] == pytest.approx(scores_one, rel=1e-3)
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n")
    tsv_args = ["--readout", str(package), "--file", str(tmp_path / "texts.txt"), "--last", "--top", "2"]
    assert read.main(tsv_args + ["--format", "tsv"]) == 0
    numbers = [line.split("\t")[0] for line in capsys.readouterr().out.strip().splitlines()[1:]]
    assert numbers == [str(n) for n in range(1, len(texts) + 1) for _ in range(2)]  # in order, two ranks each


def test_a_reading_template_is_used_for_training_and_evaluation_and_recorded(finished_copy, tiny_model_dir, capsys):
    import pandas as pd

    from amygdala_readout import read
    from amygdala_readout.package import Readout

    template = "The bus arrived . {text} The passengers"
    run = finished_copy
    config = yaml.safe_load((run / "config.yaml").read_text())
    changes = {"template": template, "read_at": "sentence_ends", "layers": [1, 0.7, -1]}
    (run / "config.yaml").write_text(yaml.safe_dump(config | changes))
    run_snakemake(run)
    package = run / "results" / "readout" / "pooled"
    meta = json.loads((package / "readout.json").read_text())
    assert meta["template"] == template and meta["read_at"] == "sentence_ends"
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = [t for ts in TINY_STORIES.values() for t in ts]
    wrapped = [template.replace("{text}", t) for t in texts]
    acts = last_token_activations(model, tokenizer, wrapped, [1, 2, 3])
    metrics = pd.read_csv(run / "results" / "evaluations" / "own" / "pooled" / "metrics.tsv", sep="\t")
    assert set(metrics.reading) == {"last_token"}  # through a template only its last token is meaningful
    readout = Readout(package)
    truth = [c for c, ts in TINY_STORIES.items() for _ in ts]
    for layer in (1, 2, 3):
        predicted = [readout.concepts[i] for i in readout.scores(acts[layer], layer).argmax(1).tolist()]
        row = metrics[(metrics.layer == layer) & (metrics.scoring == "centred")]
        assert row.top1.item() == pytest.approx(np.mean([p == t for p, t in zip(predicted, truth)]), abs=1e-4)
    # the reader wraps its text in the package's template too
    assert read.main(["--readout", str(package), "--text", texts[0], "--layer", "2", "--last", "--format", "json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    expected = readout.scores(acts[2][:1], 2)[0]
    assert result["tokens"][0]["token"].strip() == "passengers"
    assert result["tokens"][0]["top"][0]["score"] == pytest.approx(float(expected.max()), rel=1e-3)


def meta_concepts(package):
    return json.loads((package / "readout.json").read_text())["concepts"]


def test_every_rule_leaves_a_log(finished_run):
    logs = finished_run / "results" / "logs"
    for name in (
        "validate_corpus.log",
        "prepare_model.log",
        "resolve_layers.log",
        "extract_activations/shard_00.log",
        "fit_directions/pooled.log",
        "package_readout/pooled.log",
    ):
        assert (logs / name).exists(), name
    assert "layer 2 (66.7% depth of 4 blocks)" in (logs / "resolve_layers.log").read_text()
    for name in (
        "quality_report/subspace.log",
        "heldout_accuracy/subspace.log",
        "heldout_summary.log",
        "plot_spectra/subspace.log",
        "fit_directions/subspace.log",
        "select_readout.log",
    ):
        assert (logs / name).exists(), name


def corpus_texts_and_labels():
    texts, labels = [], []
    for concept, stories in TINY_STORIES.items():
        texts += stories
        labels += [concept] * len(stories)
    for name, text in TINY_PAIRED.items():
        texts.append(text)
        labels.append("" if name == "baseline" else name)
    return texts, labels


def test_subspace_package_matches_the_naive_formula_on_every_token(finished_run, tiny_model_dir):
    meta, tensors = read_package(finished_run / "results" / "readout" / "subspace")
    texts, labels = corpus_texts_and_labels()
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    last = last_token_activations(model, tokenizer, texts, [1, 2, 3])
    per_text = [token_activations(model, tokenizer, text, [1, 2, 3])[1] for text in texts]
    for layer in (1, 2, 3):
        bases = [text_subspace(tokens[layer].double().numpy()) for tokens in per_text]
        expected, _ = naive_subspace(last[layer].double().numpy(), bases, labels, meta["concepts"], eigen_k=5)
        got = tensors[f"layer_{layer}.vectors"].float().numpy()
        assert np.all(np.sum(got * expected, axis=1) > 0.99), layer


def test_subspace_cap_benchmark_fits_each_cap_from_the_stored_bases(finished_run, tmp_path):
    import shutil
    import subprocess
    import sys

    import pandas as pd
    from conftest import REPO

    workdir = shutil.copytree(finished_run, tmp_path / "run", symlinks=True)
    out = tmp_path / "cap"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "subspace_cap.py"),
            "--workdir",
            str(workdir),
            "--caps",
            "1",
            "2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    per_layer = pd.read_csv(out.with_suffix(".tsv"), sep="\t", dtype={"cap": str})
    stored = json.loads((workdir / "results/readout/subspace/readout.json").read_text())["config"]["subspace_k"]
    assert sorted(set(per_layer.cap)) == sorted({"1", "2", str(stored)})
    assert len(per_layer) == 3 * 3  # caps x layers
    by_cap = per_layer.set_index(["cap", "layer"])
    assert (by_cap.loc["1"].rows_per_text == 1).all()
    assert (by_cap.loc["1"].rows_per_text < by_cap.loc["2"].rows_per_text).all()
    assert (by_cap.loc["2"].rows_per_text < by_cap.loc[str(stored)].rows_per_text).all()
    # the stored bases refitted are the workflow's own package, and a rank-1 cap moves the directions
    assert np.allclose(by_cap.loc[str(stored)].cosine_min, 1, atol=1e-6)
    assert (by_cap.loc["1"].cosine_min < 0.999).all()
    package = read_package(workdir / "results" / "readout" / "subspace")[1]
    for layer in (1, 2, 3):
        refit = read_package(workdir / "caps" / str(stored))[1][f"layer_{layer}.vectors"]
        assert torch.allclose(refit.float(), package[f"layer_{layer}.vectors"].float(), atol=1e-3)
    external = pd.read_csv(out.with_name("cap_external.tsv"), sep="\t", dtype={"cap": str})
    assert set(external.set) == {"own"} and set(external.cap) == set(per_layer.cap)
    assert external.balanced_accuracy.between(0, 1).all()
    assert "| 1 |" in out.with_suffix(".md").read_text()


def test_quality_report_and_heldout_accuracy_cover_every_concept_and_layer(finished_run):
    import pandas as pd

    from amygdala_readout.quality import TRIAGE_LABELS

    quality = finished_run / "results" / "quality"
    fields = {
        "n_positives",
        "top3_variance_ratios",
        "first_pc_ratio",
        "story_projection",
        "story_alignment",
        "best_neuron",
        "top5_neurons",
        "nearest_concepts",
        "top_heads",
        "head_concentration",
        "ridge",
    }
    for method in METHODS:
        report = json.loads((quality / method / "quality.json").read_text())
        assert report["middle_layer"] == 2 and report["notes"] == []
        assert sorted(report["concepts"]) == ["anger", "fear", "happiness", "sadness"]
        for concept in report["concepts"].values():
            assert concept["triage"] in TRIAGE_LABELS and concept["triage_reason"]
            assert len(concept["outlier_stories"]) == 2
            for layer in ("1", "2", "3"):
                metrics = concept["layers"][layer]
                assert fields <= set(metrics)
                assert len(metrics["top_heads"]) == 4 and 0.25 <= metrics["head_concentration"] <= 1
                assert 0 <= metrics["best_neuron"]["index"] < 64  # intermediate size of the tiny model
                assert ("subspace_eigenvalues" in metrics) == (method == "subspace")
        triage = pd.read_csv(quality / method / "triage.tsv", sep="\t")
        assert sorted(triage.concept) == sorted(report["concepts"])
        for figure in ("concept_cosines.png", "head_selectivity.png", "heldout_confusion.png"):
            assert_figure(quality / method / figure)
    assert (
        len(
            json.loads((quality / "subspace" / "quality.json").read_text())["concepts"]["fear"]["layers"]["2"][
                "subspace_eigenvalues"
            ]
        )
        == 20
    )
    heldout = pd.read_csv(quality / "heldout_accuracy.tsv", sep="\t")
    assert sorted(zip(heldout.method, heldout.scoring, heldout.layer)) == sorted(
        (m, s, i) for m in METHODS for s in ("centred", "raw") for i in (1, 2, 3)
    )
    # 8 single stories and 2 framings are scored; the scenario is held out as a whole
    assert set(heldout.n_scored) == {10} and set(heldout.chance_top1) == {0.25}
    # each accuracy is a count of the n_scored texts, and a top-1 hit is also a top-5 hit
    assert ((heldout.top1 * heldout.n_scored).round(6) % 1 == 0).all() and (heldout.top5 >= heldout.top1).all()
    assert_figure(quality / "subspace" / "eigenvalues.png")


def _is_float(value, nullable=False):
    return (value is None and nullable) or (isinstance(value, float) and not isinstance(value, bool))


def check_trainer_quality_layout(quality, concepts, layers, middle, corpus, subspace):
    """Every key and type of the quality.json of the trainer we replace (shared/seed_quality_schema.md)."""
    assert sorted(quality) == sorted(concepts)
    for entry in quality.values():
        keys = {
            "n_positive_stories",
            "per_layer",
            "outlier_stories",
            "nearest_concepts",
            "per_head",
            "linear_combination",
        } | ({"subspace_eigvals"} if subspace else set())
        assert set(entry) == keys
        assert isinstance(entry["n_positive_stories"], int) and entry["n_positive_stories"] > 0
        assert sorted(entry["per_layer"]) == sorted(map(str, layers))
        for row in entry["per_layer"].values():
            assert len(row["top3_variance_ratios"]) == 3 and all(map(_is_float, row["top3_variance_ratios"]))
            for key in (
                "first_pc_variance_ratio",
                "story_projection_mean",
                "story_projection_std",
                "story_projection_min",
                "story_projection_max",
                "story_alignment_mean",
                "story_alignment_std",
                "best_neuron_cosine",
            ):
                assert _is_float(row[key]), key
            assert row["story_projection_min"] <= row["story_projection_mean"] <= row["story_projection_max"]
            assert isinstance(row["best_neuron_idx"], int)
            assert [i for i, _ in row["top5_neurons"]][0] == row["best_neuron_idx"] and len(row["top5_neurons"]) == 5
            assert all(isinstance(i, int) and _is_float(c) for i, c in row["top5_neurons"])
        assert len(entry["outlier_stories"]) == 2
        for text, alignment in entry["outlier_stories"]:  # the story's text, as the trainer lists it
            assert text in corpus and _is_float(alignment)
        assert len(entry["nearest_concepts"]) == len(concepts) - 1  # the top 5, here fewer exist
        assert all(c in concepts and _is_float(cos) for c, cos in entry["nearest_concepts"])
        assert sorted(entry["per_head"]) == sorted(map(str, layers))
        for heads in entry["per_head"].values():
            assert (heads["n_heads"], heads["head_dim"]) == (4, 8)  # the tiny model: 4 heads of 8
            assert len(heads["top_heads"]) == 4 and _is_float(heads["head_concentration"])
            assert all(
                isinstance(h, int) and _is_float(norm) and norm >= 0 and _is_float(sel)
                for h, norm, sel in heads["top_heads"]
            )
        if subspace:
            assert sorted(entry["subspace_eigvals"]) == sorted(map(str, layers))
            assert all(all(map(_is_float, values)) for values in entry["subspace_eigvals"].values())
        for combination in entry["linear_combination"].values():
            assert _is_float(combination["r_squared"]) and _is_float(combination["residual_norm"])
            assert all(c in concepts and _is_float(b) for c, b in combination["top_contributors"])
        assert sorted(entry["linear_combination"]) == sorted(map(str, layers))
    assert middle in layers


def test_each_package_carries_a_quality_json_in_the_trainers_layout(finished_run):
    corpus = {path.read_text().strip() for path in (finished_run / "corpus").rglob("*.txt")}
    for method in METHODS:
        ours = json.loads((finished_run / "results/quality" / method / "quality.json").read_text())
        quality = json.loads((finished_run / "results/readout" / method / "quality.json").read_text())
        check_trainer_quality_layout(
            quality,
            sorted(ours["concepts"]),
            ours["layers"],
            ours["middle_layer"],
            corpus,
            subspace=method == "subspace",
        )
        fear = ours["concepts"]["fear"]["layers"]["2"]
        assert quality["fear"]["per_layer"]["2"]["first_pc_variance_ratio"] == fear["first_pc_ratio"]
        assert quality["fear"]["nearest_concepts"][0] == [
            fear["nearest_concepts"][0]["concept"],
            fear["nearest_concepts"][0]["cosine"],
        ]
    best = json.loads((finished_run / "results/readout/best/readout.json").read_text())["selected_method"]
    assert (finished_run / "results/readout/best/quality.json").read_bytes() == (
        finished_run / "results/readout" / best / "quality.json"
    ).read_bytes()


def test_best_package_is_the_method_that_reads_the_evaluation_sets_best(finished_run):
    import pandas as pd

    from amygdala_readout.selection import choose_readout

    results = finished_run / "results"
    metrics = pd.concat(
        [pd.read_csv(results / "evaluations" / "own" / m / "metrics.tsv", sep="\t").assign(method=m) for m in METHODS]
    )
    assert set(metrics.reading) == {"last_token", "all_tokens", "sentence_ends"}  # raw text: every reading
    expected, layer, means = choose_readout(metrics, tuple(METHODS))
    best = results / "readout" / "best"
    meta, tensors = read_package(best)
    assert meta["selected_method"] == expected == meta["method"]
    assert meta["best_layer"] == layer and layer in meta["layers"]
    assert meta["selection"]["balanced_accuracy"] == pytest.approx(means, abs=1e-4)
    assert max(means.values()) == pytest.approx(means[expected])
    chosen = results / "readout" / expected
    assert (best / "readout.safetensors").read_bytes() == (chosen / "readout.safetensors").read_bytes()
    for method in ("probe", "lda"):  # the methods with an intercept
        method_meta, method_tensors = read_package(results / "readout" / method)
        assert sorted(method_meta["bias_tensors"].values()) == [f"layer_{i}.bias" for i in (1, 2, 3)]
        assert method_tensors["layer_2.bias"].shape == (4,)
    assert meta["read_at"] == "last_token" and meta["template"] is None


def test_html_report_holds_the_quality_figures(finished_run_copy):
    run_snakemake(finished_run_copy, "--report", "report.html")
    html = (finished_run_copy / "report.html").read_text()
    for needle in ("Held-out accuracy", "Quality", "triage.tsv", "concept_cosines.png", "eigenvalues.png"):
        assert needle in html, needle


def test_rerun_has_nothing_to_do(finished_run_copy):
    assert scheduled(run_snakemake(finished_run_copy, "-n").stdout) == {}


def test_touching_a_story_reruns_nothing(finished_run_copy):
    (finished_run_copy / "corpus" / "stories" / "fear.txt").touch()
    assert scheduled(run_snakemake(finished_run_copy, "-n").stdout) == {}


def shard_mtimes(workdir):
    return {p.name: p.stat().st_mtime_ns for p in (workdir / "results" / "activations").glob("*.safetensors")}


def test_editing_one_story_reruns_one_shard(edited_run):
    story = edited_run / "corpus" / "stories" / "fear.txt"
    story.write_text(story.read_text().replace("dark lane", "dark wet lane"))
    counts = scheduled(run_snakemake(edited_run, "-n").stdout)
    assert counts["extract_activations"] == 1
    assert "prepare_model" not in counts and "resolve_layers" not in counts
    assert "extract_evaluation" not in counts  # the evaluation set's activations are cached apart
    before = shard_mtimes(edited_run)
    run_snakemake(edited_run)
    after = shard_mtimes(edited_run)
    assert sum(before[name] != after[name] for name in before) == 1


def test_adding_a_story_reruns_one_shard_and_the_package_takes_it(edited_run):
    new = edited_run / "corpus" / "stories" / "sadness" / "story3.txt"
    new.write_text("The empty chair at the table stayed empty and nobody said his name at dinner.\n")
    counts = scheduled(run_snakemake(edited_run, "-n").stdout)
    assert counts["extract_activations"] == 1
    before = shard_mtimes(edited_run)
    run_snakemake(edited_run)
    after = shard_mtimes(edited_run)
    assert sum(before[name] != after[name] for name in before) == 1
    meta = json.loads((edited_run / "results" / "readout" / "pooled" / "readout.json").read_text())
    assert meta["corpus"]["n_texts"] == 12
    assert scheduled(run_snakemake(edited_run, "-n").stdout) == {}


def dry_run(workdir, **kwargs):
    return scheduled(run_snakemake(workdir, "-n", **kwargs).stdout)


def test_deleting_a_story_reruns_its_shard_and_drops_it(edited_run):
    (edited_run / "corpus" / "stories" / "sadness" / "story2.txt").unlink()
    counts = dry_run(edited_run)
    assert counts["extract_activations"] == 1  # the shard's contents changed: it holds one text less
    assert {"validate_corpus", "fit_directions", "package_readout"} <= set(counts)
    run_snakemake(edited_run)
    meta = json.loads((edited_run / "results" / "readout" / "pooled" / "readout.json").read_text())
    texts = (edited_run / "results" / "corpus" / "texts.tsv").read_text()
    assert meta["corpus"]["n_texts"] == 10 and "sadness/story2.txt" not in texts
    assert dry_run(edited_run) == {}


def test_adding_a_concept_reruns_one_extraction(edited_run):
    (edited_run / "corpus" / "stories" / "awe.txt").write_text(
        "The cliff of ice fell into the fjord and the whole sea rose, and she took off her cap.\n"
    )
    assert dry_run(edited_run)["extract_activations"] == 1
    run_snakemake(edited_run)
    assert "awe" in meta_concepts(edited_run / "results" / "readout" / "pooled")


def test_config_changes_rerun_extraction_only_when_they_change_it(finished_run_copy):
    config_path = finished_run_copy / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config_path.write_text(yaml.safe_dump(config | {"min_words": 3}))
    counts = dry_run(finished_run_copy)
    assert counts == dry_run(finished_run_copy)  # canonical params: two dry runs agree
    assert "validate_corpus" in counts and "extract_activations" not in counts
    config_path.write_text(yaml.safe_dump(config | {"max_length": 64}))
    counts = dry_run(finished_run_copy)
    assert counts["extract_activations"] == 3 and counts["extract_evaluation"] == 1
    config_path.write_text(yaml.safe_dump(config | {"read_at": "all_tokens"}))  # captured in the same pass
    counts = dry_run(finished_run_copy)
    assert "extract_activations" not in counts and {"fit_directions", "heldout_accuracy"} <= set(counts)
    config_path.write_text(yaml.safe_dump(config | {"template": "Text: {text} The emotion is"}))
    counts = dry_run(finished_run_copy)
    assert counts["extract_activations"] == 3 and counts["extract_evaluation"] == 1
    config_path.write_text(yaml.safe_dump(config))
    assert dry_run(finished_run_copy) == {}


def test_library_changes_rerun_the_rules_that_use_them(finished_run_copy, tmp_path):
    import os
    import shutil

    from conftest import REPO

    library = tmp_path / "src"
    shutil.copytree(REPO / "src" / "amygdala_readout", library / "amygdala_readout")
    env = dict(os.environ, PYTHONPATH=str(library))
    assert dry_run(finished_run_copy, env=env) == {}  # the same code, found elsewhere
    with (library / "amygdala_readout" / "directions.py").open("a") as handle:
        handle.write("\n# a change to the maths\n")
    counts = dry_run(finished_run_copy, env=env)
    assert "fit_directions" in counts and "extract_activations" not in counts
    with (library / "amygdala_readout" / "extract.py").open("a") as handle:
        handle.write("\n# a change to extraction\n")
    assert dry_run(finished_run_copy, env=env)["extract_activations"] == 3
