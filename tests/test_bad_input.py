"""Bad input: each case gets a clear message naming the file (or key) and the fix, before any model."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_snakemake

from amygdala_readout import corpus, model_io
from amygdala_readout.config import ConfigError, check_config
from amygdala_readout.corpus import CorpusError
from amygdala_readout.layers import LayerError

SCHEMA = REPO / "schemas" / "config.schema.yaml"


def validate(root, **kwargs):
    return corpus.validate(root, n_shards=3, min_words=0, **kwargs)


# --- story files -----------------------------------------------------------------------------------


def test_whitespace_only_file_is_skipped_and_reported(tiny_corpus):
    (tiny_corpus / "stories" / "fear" / "blank.txt").write_text(" \n\t\n")
    result = validate(tiny_corpus)
    assert result.skipped == ["stories/fear/blank.txt"]
    assert any("blank.txt: empty file, skipped" in w for w in result.warnings)


def test_concept_whose_every_file_is_empty_is_skipped_with_a_warning(tiny_corpus):
    (tiny_corpus / "stories" / "awe.txt").write_text("")
    (tiny_corpus / "stories" / "awe").mkdir()
    (tiny_corpus / "stories" / "awe" / "two.txt").write_text("\n")
    result = validate(tiny_corpus)
    assert "awe" not in set(result.concepts.concept)
    assert any("concept 'awe': every file of it is empty" in w for w in result.warnings)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"caf\xe9 au lait", "not UTF-8 text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary file"),
        (bytes(range(1, 32)) * 10, "binary file"),
        ("A quiet story.".encode("utf-16"), "UTF-16 text, not UTF-8; save the file as UTF-8"),
        ("A quiet story.".encode("utf-16-le"), "UTF-16 text, not UTF-8"),
    ],
)
def test_undecodable_and_binary_files_are_errors(tiny_corpus, content, message):
    (tiny_corpus / "stories" / "fear" / "bad.txt").write_bytes(content)
    with pytest.raises(CorpusError, match=rf"fear/bad.txt: .*{message}"):
        validate(tiny_corpus)


def test_bom_and_crlf_are_accepted_as_the_same_text(tiny_corpus):
    story = tiny_corpus / "stories" / "fear.txt"
    clean = validate(tiny_corpus).texts.set_index("source").text_id["stories/fear.txt"]
    story.write_bytes(b"\xef\xbb\xbf" + story.read_text().replace("\n", "\r\n").encode())
    assert validate(tiny_corpus).texts.set_index("source").text_id["stories/fear.txt"] == clean


def test_hidden_and_editor_files_are_ignored_and_listed_once(tiny_corpus):
    names = [".DS_Store", "story.txt~", ".story.txt.swp", "#story.txt#"]
    for name in names:
        (tiny_corpus / "stories" / "anger" / name).write_text("not a story")
    result = validate(tiny_corpus)
    assert sorted(result.ignored) == sorted(f"stories/anger/{n}" for n in names)
    assert len(result.texts) == 11


@pytest.mark.parametrize("name", ["Anger.txt", "good grief.txt", "so.sad.txt", "café.txt", "1fear.txt"])
def test_invalid_concept_names_are_rejected_with_the_rule(tiny_corpus, name):
    (tiny_corpus / "stories" / name).write_text("A story that is long enough to count as one.")
    with pytest.raises(CorpusError, match="lowercase ASCII letters, digits and underscores"):
        validate(tiny_corpus)


def test_names_that_normalise_to_an_existing_concept_are_rejected(tiny_corpus):
    (tiny_corpus / "stories" / "FEAR.txt").write_text("Another telling of the same concept, in capitals.")
    with pytest.raises(CorpusError, match=r"FEAR.txt: concept name 'FEAR' is not valid"):
        validate(tiny_corpus)


def test_invalid_scenario_names_are_rejected(tiny_corpus):
    (tiny_corpus / "paired" / "Bus Stop").mkdir()
    (tiny_corpus / "paired" / "Bus Stop" / "baseline.txt").write_text("The bus came.")
    with pytest.raises(CorpusError, match="scenario name 'Bus Stop' is not valid"):
        validate(tiny_corpus)


def test_a_concept_named_baseline_outside_paired_is_rejected(tiny_corpus):
    (tiny_corpus / "stories" / "baseline.txt").write_text("Nothing happened at all today.")
    with pytest.raises(CorpusError, match="'baseline' is reserved"):
        validate(tiny_corpus)


def test_same_text_up_to_whitespace_under_two_concepts_names_both(tiny_corpus):
    source = (tiny_corpus / "stories" / "fear.txt").read_text()
    (tiny_corpus / "stories" / "sadness" / "copy.txt").write_text("  " + source.replace(" ", "   ") + "\n\n")
    with pytest.raises(CorpusError, match=r"sadness/copy.txt: the same text as .*stories/fear.txt"):
        validate(tiny_corpus)


def test_incomplete_scenarios_are_warnings(tiny_corpus):
    (tiny_corpus / "paired" / "no_baseline").mkdir()
    (tiny_corpus / "paired" / "no_baseline" / "fear.txt").write_text("The lift stopped and the light went out.")
    (tiny_corpus / "paired" / "no_baseline" / "anger.txt").write_text("The lift stopped again, the fourth time.")
    (tiny_corpus / "paired" / "only_baseline").mkdir()
    (tiny_corpus / "paired" / "only_baseline" / "baseline.txt").write_text("The train left at nine.")
    warnings = "\n".join(validate(tiny_corpus).warnings)
    assert "no_baseline: no baseline.txt" in warnings
    assert "only_baseline: fewer than two framings" in warnings


def test_folders_deeper_than_the_layout_are_rejected(tiny_corpus):
    deep = tiny_corpus / "stories" / "fear" / "more"
    deep.mkdir()
    (deep / "story.txt").write_text("Deep down.")
    with pytest.raises(CorpusError, match="nest deeper than the layout"):
        validate(tiny_corpus)


def test_links_out_of_the_corpus_are_rejected(tiny_corpus, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("A file that lives outside the corpus.")
    (tiny_corpus / "stories" / "fear" / "link.txt").symlink_to(outside)
    with pytest.raises(CorpusError, match="outside the corpus"):
        validate(tiny_corpus)


def test_links_inside_the_corpus_are_fine(tiny_corpus):
    (tiny_corpus / "stories" / "fear" / "link.txt").symlink_to(tiny_corpus / "stories" / "anger.txt")
    with pytest.raises(CorpusError, match="the same text"):  # followed, and caught as a duplicate
        validate(tiny_corpus)


@pytest.mark.parametrize("rel", ["stories/fear/{draft}.txt", "stories/{draft}.txt", "paired/bus_station/{anger}.txt"])
def test_braces_in_a_story_path_are_an_error_naming_it(tiny_corpus, rel):
    path = tiny_corpus / rel
    path.write_text("The dog barked all night and nobody came to see what it had seen outside.\n")
    with pytest.raises(CorpusError) as err:
        corpus.discover(tiny_corpus)
    assert (
        str(err.value) == f"{path}: braces in a story's path clash with Snakemake's wildcards; rename it without {{ }}"
    )


def test_crafted_names_cannot_point_outside(tiny_corpus):
    for name in ["x..%2f..%2fetc.txt", "a\\..\\b.txt"]:
        path = tiny_corpus / "stories" / name
        path.write_text("x")
        with pytest.raises(CorpusError, match="is not valid"):
            validate(tiny_corpus)
        path.unlink()


# --- config ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        ({"layer": [1]}, r"config: Additional properties are not allowed \('layer' was unexpected\)"),
        ({"n_shards": "four"}, r"config.n_shards: 'four' is not of type 'integer'"),
        ({"layers": [1.5]}, r"config.layers\[0\]: 1.5 is greater than the maximum of 1"),
        ({"methods": []}, r"config.methods: \[\] should be non-empty"),
        (
            {"methods": ["pooled", "magic"]},
            r"config.methods\[1\]: 'magic' is not a method; known: pooled, paired_centered, ",
        ),
        ({"dtype": "float8"}, r"config.dtype: 'float8' is not one of"),
        ({"device": "gpu"}, r"config.device: 'gpu' does not match"),
        ({"subspace_k": "ALL"}, r"config.subspace_k: 'ALL' is not allowed; it takes 'all' or an integer >= 1;"),
        ({"subspace_k": 2.5}, r"config.subspace_k: 2.5 is not allowed; it takes 'all' or an integer >= 1;"),
        (
            {"evaluations": [{"name": "own", "path": "a.jsonl"}, {"name": "own", "path": "b.jsonl"}]},
            r"config.evaluations\[1\]: the name 'own' is taken by evaluations\[0\]; give each set a name of its own",
        ),
    ],
)
def test_bad_config_values_are_one_line_errors(change, message):
    config = yaml.safe_load((REPO / "config.yaml").read_text()) | change
    with pytest.raises(ConfigError, match=message) as err:
        check_config(config, SCHEMA)
    assert "\n" not in str(err.value)


def test_shipped_config_is_valid():
    check_config(yaml.safe_load((REPO / "config.yaml").read_text()), SCHEMA)


def test_missing_model_path_is_an_error(tmp_path):
    with pytest.raises(model_io.ModelError, match="model folder not found"):
        model_io.model_kind(str(tmp_path / "no_such_model"))
    with pytest.raises(model_io.ModelError, match="GGUF file not found"):
        model_io.model_kind(str(tmp_path / "no_such.gguf"))


def test_a_model_path_at_a_weight_file_names_the_folder_to_give(tiny_model_dir):
    weights = tiny_model_dir / "model.safetensors"
    with pytest.raises(model_io.ModelError) as err:
        model_io.model_kind(str(weights))
    assert str(err.value) == (
        f"{weights}: a file, not a model folder; set `model:` in config.yaml to the folder that holds it "
        f"({tiny_model_dir}) or to a .gguf file"
    )


def test_layer_out_of_range_fails_before_any_weights(tiny_model_dir, tmp_path):
    config = model_io.read_config("local", tiny_model_dir)
    assert model_io.check_architecture(config, [0.5, -1]) == 4
    with pytest.raises(LayerError, match="layer index 4 is out of range for a model with 4 blocks"):
        model_io.prepare(str(tiny_model_dir), tmp_path, layers=[1, 4])


def test_folder_without_config_is_an_error(tmp_path):
    with pytest.raises(model_io.ModelError, match="no loadable model config"):
        model_io.prepare(str(tmp_path), tmp_path / "work")


def test_model_id_without_network_is_a_one_line_error(tmp_path):
    code = f"from amygdala_readout import model_io\nmodel_io.prepare('no-such-org/no-such-model', {str(tmp_path)!r})"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode != 0
    assert "ModelError: model 'no-such-org/no-such-model' is not in the local Hugging Face cache" in done.stderr


def test_trust_remote_code_warns(tiny_model_dir, tmp_path, caplog):
    model_io.prepare(str(tiny_model_dir), tmp_path, trust_remote_code=True)
    assert "trust_remote_code is on" in caplog.text


# --- through Snakemake: errors stop the run before any job -------------------------------------------


def test_workflow_stops_before_any_job_on_bad_input(tiny_corpus, tiny_model_dir, tmp_path):
    workdir = tiny_corpus.parent
    config = {"corpus_dir": "corpus", "model": str(tiny_model_dir), "n_shards": 2, "min_words": 0}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config | {"n_shard": 2}))
    done = run_snakemake(workdir, check=False)
    assert done.returncode != 0 and "'n_shard' was unexpected" in done.stderr
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    (tiny_corpus / "stories" / "fear" / "bad.txt").write_bytes(b"caf\xe9 au lait")
    done = run_snakemake(workdir, check=False)
    assert done.returncode != 0 and "fear/bad.txt: not UTF-8 text" in done.stderr
    assert not (workdir / "results").exists()
    (workdir / "config.yaml").write_text(
        yaml.safe_dump(config) + f'template: !!python/object/apply:os.system ["touch {workdir}/ran"]\n'
    )
    done = run_snakemake(workdir, check=False)
    line = len(yaml.safe_dump(config).splitlines()) + 1
    assert done.returncode != 0 and not (workdir / "ran").exists()
    assert (
        f"config.yaml:{line}: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'; config values are plain YAML (text, numbers, "
        "lists, mappings): remove the !! tag"
    ) in done.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model: [unclosed\n", r"config.yaml:2: .*; fix the YAML there \(a missing colon or quote"),
        ("model: !!python/name:os.system ''\n", r"config.yaml:1: .*python/name:os.system.*remove the !! tag"),
        (b"model: caf\xe9\n", r"config.yaml: not UTF-8 text \(byte 10\); save it as UTF-8"),
    ],
)
def test_a_config_file_yaml_cannot_read_is_one_line_naming_the_line(tmp_path, text, message):
    from amygdala_readout.config import check_config_file

    path = tmp_path / "config.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError, match=message) as err:
        check_config_file(path)
    assert "\n" not in str(err.value)


def test_nothing_is_ever_unpickled_or_trusted_by_default(tmp_path):
    """`make lint` bans the unpickling APIs (ruff TID251, pyproject.toml): a file using them fails."""
    unsafe = tmp_path / "unsafe.py"
    unsafe.write_text("import pickle\n\nimport torch\n\nx = torch.load('a.pt')\ny = pickle.loads(b'')\n")
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run(
        [
            ruff,
            "check",
            "--config",
            REPO / "pyproject.toml",
            "--select",
            "TID251",
            "--output-format",
            "concise",
            unsafe,
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "`torch.load` is banned" in done.stdout and "`pickle` is banned" in done.stdout
    code = "\n".join(p.read_text() for d in ("src", "scripts") for p in (REPO / d).rglob("*.py"))
    for trusting in ("trust_remote_code=True", "weights_only=False"):
        assert trusting not in code
    assert yaml.safe_load((REPO / "config.yaml").read_text())["trust_remote_code"] is False
