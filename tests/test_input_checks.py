"""Inputs that used to be dropped or misread without a word, and model faults found too late: each is
now used, listed with its reason, or an error naming the file (and line) and the fix."""

import copy
import json
import os
import shutil

import numpy as np
import pytest
import torch
from conftest import TINY_STORIES, run_snakemake, tiny_workdir
from transformers import AutoModelForCausalLM, AutoTokenizer

from amygdala_readout import corpus, model_io
from amygdala_readout.corpus import CorpusError
from amygdala_readout.digests import corpus_digest, shard_digest
from amygdala_readout.errors import UserError
from amygdala_readout.extract import ExtractionError, extract
from amygdala_readout.store import load_rows


def validate(root, **kwargs):
    return corpus.validate(root, n_shards=3, min_words=0, **kwargs)


# --- files in the corpus folder --------------------------------------------------------------------


def test_a_story_with_another_suffix_is_listed_and_warned(tiny_corpus):
    (tiny_corpus / "stories" / "fear" / "night.TXT").write_text("The lights went out and something moved.\n")
    (tiny_corpus / "stories" / "fear" / "notes.md").write_text("ideas\n")
    result = validate(tiny_corpus)
    assert result.ignored["stories/fear/night.TXT"] == "not a .txt file"
    assert result.ignored["stories/fear/notes.md"] == "not a .txt file"
    assert any("night.TXT: not read, only .txt files are stories; rename it" in w for w in result.warnings)


def test_a_folder_beside_stories_and_paired_is_listed_and_warned(tiny_corpus):
    (tiny_corpus / "story").mkdir()  # a typo for stories/
    (tiny_corpus / "story" / "calm.txt").write_text("The lake lay still.\n")
    (tiny_corpus / "NOTES.md").write_text("notes\n")
    result = validate(tiny_corpus)
    assert result.ignored == {
        "NOTES.md": "outside stories/, paired/ and neutral/",
        "story/": "outside stories/, paired/ and neutral/",
    }
    assert sum("story: a folder outside stories/, paired/ and neutral/" in w for w in result.warnings) == 1


def test_a_file_or_folder_that_is_not_read_is_said_while_the_workflow_parses(finished_copy):
    workdir = finished_copy
    (workdir / "corpus" / "stories" / "fear" / "night.TXT").write_text("The lights went out.\n")
    (workdir / "corpus" / "story").mkdir()
    out = run_snakemake(workdir, "--dry-run")
    assert "night.TXT: not read, only .txt files are stories; rename it to .txt" in out.stderr + out.stdout
    assert "corpus/story: a folder outside stories/, paired/ and neutral/" in out.stderr + out.stdout


def test_a_linked_concept_folder_inside_the_corpus_is_read(tiny_corpus, tmp_path):
    store = tiny_corpus / "stories" / "dread_drafts"
    store.mkdir()
    (store / "one.txt").write_text("The letter from the hospital sat unopened on the table for a week.\n")
    shutil.move(store, tiny_corpus / "drafts")
    (tiny_corpus / "stories" / "dread").symlink_to(tiny_corpus / "drafts", target_is_directory=True)
    result = validate(tiny_corpus)
    assert "stories/dread/one.txt" in set(result.texts.source)
    assert result.ignored == {"drafts/": "outside stories/, paired/ and neutral/"}


def test_a_linked_folder_leading_out_of_the_corpus_is_an_error(tiny_corpus, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "one.txt").write_text("A story kept elsewhere.\n")
    (tiny_corpus / "stories" / "dread").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CorpusError, match=r"stories/dread: a link to .*elsewhere, outside the corpus; copy it in"):
        validate(tiny_corpus)


def test_a_link_back_to_an_ancestor_does_not_loop(tiny_corpus):
    (tiny_corpus / "stories" / "fear" / "again").symlink_to(tiny_corpus / "stories", target_is_directory=True)
    with pytest.raises(CorpusError, match="nest deeper than the layout"):
        validate(tiny_corpus)


def test_an_unreadable_folder_is_an_error_naming_it(tiny_corpus, monkeypatch):
    # the tests run as root, for whom permissions do not apply: make the listing fail as it would
    blocked = str(tiny_corpus / "stories" / "fear")
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == blocked:
            raise PermissionError(13, "Permission denied", blocked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(CorpusError, match=r"stories/fear: cannot read this folder \(Permission denied\); fix"):
        validate(tiny_corpus)


def test_an_unreadable_story_is_an_error_naming_it(tiny_corpus, monkeypatch):
    real = corpus.Path.read_bytes

    def read_bytes(self):
        if self.name == "fear.txt":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(corpus.Path, "read_bytes", read_bytes)
    with pytest.raises(CorpusError, match=r"stories/fear.txt: cannot read it \(Permission denied\)"):
        corpus.scan(tiny_corpus)


# --- concepts.tsv ----------------------------------------------------------------------------------

HEADER = "concept\tdefinition\twords\n"


@pytest.mark.parametrize(
    "content, message",
    [
        (
            HEADER + "fear\tdread of\tharm\tfear,afraid\nanger\thot\tanger\n",
            r"concepts.tsv:2: 4 fields, the header has 3",
        ),
        (HEADER + "fear\tdread\n", r"concepts.tsv:2: 2 fields, the header has 3"),
        ("", r"concepts.tsv: empty; the header is concept<TAB>definition<TAB>words"),
        ("concept,definition,words\nfear,dread,fear\n", r"concepts.tsv:1: missing columns \['concept', 'definition'"),
        (HEADER + "fear\ta\tfear\nanger\tb\tanger\nfear\tc\tfear\n", r"concepts.tsv:4: concept 'fear' listed twice"),
    ],
)
def test_a_malformed_concept_table_names_file_and_line(tiny_corpus, content, message):
    (tiny_corpus / "concepts.tsv").write_text(content)
    with pytest.raises(CorpusError, match=message):
        corpus.scan(tiny_corpus)


@pytest.mark.parametrize("encoding, message", [("utf-16", "UTF-16"), ("latin-1", "not UTF-8 text")])
def test_a_concept_table_in_another_encoding_says_so(tiny_corpus, encoding, message):
    (tiny_corpus / "concepts.tsv").write_bytes((HEADER + "fear\tpeur éprouvée\tfear\n").encode(encoding))
    with pytest.raises(CorpusError, match=rf"concepts.tsv: .*{message}.*save"):
        corpus.scan(tiny_corpus)


def test_the_never_name_check_reads_a_well_formed_table(tiny_corpus):
    (tiny_corpus / "concepts.tsv").write_text(HEADER + "fear\tdread\tfear*,afraid\n")
    (tiny_corpus / "stories" / "fear" / "plain.txt").write_text("She was afraid of the dark stairs below.\n")
    assert any("plain.txt: names its own concept (afraid)" in w for w in validate(tiny_corpus).warnings)


# --- content hashes the workflow reruns by ----------------------------------------------------------


def test_shard_digests_change_with_content_only(tiny_corpus):
    before = corpus.scan(tiny_corpus)
    shard = corpus.shard_of("stories/fear.txt", 3)
    story = tiny_corpus / "stories" / "fear.txt"
    story.write_text(story.read_text().replace("\n", "\r\n"))  # the same text once normalised
    assert shard_digest(corpus.scan(tiny_corpus), shard, 3) == shard_digest(before, shard, 3)
    story.write_text("A different story now.\n")
    after = corpus.scan(tiny_corpus)
    assert shard_digest(after, shard, 3) != shard_digest(before, shard, 3)
    others = [k for k in range(3) if k != shard]
    assert [shard_digest(after, k, 3) for k in others] == [shard_digest(before, k, 3) for k in others]
    assert corpus_digest(after) != corpus_digest(before)


def test_model_files_fingerprint_follows_content_not_times(tiny_model_dir, tmp_path):
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    before = model_io.source_fingerprint(str(model))
    (model / "config.json").touch()
    assert model_io.source_fingerprint(str(model)) == before
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps(config | {"rms_norm_eps": 1e-5}))
    assert model_io.source_fingerprint(str(model)) != before


# --- the model, checked by prepare_model ------------------------------------------------------------


def without_tokenizer(model_dir, tmp_path):
    broken = shutil.copytree(model_dir, tmp_path / "no_tokenizer")
    for path in broken.iterdir():
        if "token" in path.name:
            path.unlink()
    return broken


@pytest.mark.parametrize("pickle_name", ["pytorch_model.bin", None])
def test_a_model_folder_without_safetensors_is_refused_before_any_unpickling(tiny_model_dir, tmp_path, pickle_name):
    folder = shutil.copytree(tiny_model_dir, tmp_path / "pickled")
    (folder / "model.safetensors").unlink()
    if pickle_name:
        (folder / pickle_name).write_bytes(b"not to be unpickled")
    with pytest.raises(model_io.ModelError) as err:
        model_io.check_usable(folder)
    only = f" (only {pickle_name}, a pickle)" if pickle_name else ""
    assert str(err.value) == (
        f"{folder}: no safetensors weight files{only}; nothing here is unpickled: save the model with "
        "save_pretrained(safe_serialization=True) first"
    )


def test_a_model_without_tokenizer_files_is_refused(tiny_model_dir, tmp_path):
    with pytest.raises(model_io.ModelError, match=r"no_tokenizer: the tokenizer does not load .*tokenizer files"):
        model_io.check_usable(without_tokenizer(tiny_model_dir, tmp_path))


def test_a_truncated_weight_file_is_refused(tiny_model_dir, tmp_path):
    broken = shutil.copytree(tiny_model_dir, tmp_path / "truncated")
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(model_io.ModelError, match=r"model.safetensors: weight file cannot be read .*truncated"):
        model_io.check_usable(broken)


def test_weights_that_give_nan_are_refused(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    broken = shutil.copytree(tiny_model_dir, tmp_path / "nan")
    tensors = load_file(broken / "model.safetensors")
    tensors = {k: torch.full_like(v, float("nan")) if "embed" in k else v for k, v in tensors.items()}
    save_file(tensors, broken / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(model_io.ModelError, match="one-token forward pass gives non-finite values"):
        model_io.check_usable(broken)


def test_prepare_model_stops_the_workflow_before_any_shard(tiny_model_dir, tmp_path):
    workdir = tiny_workdir(tmp_path / "run", without_tokenizer(tiny_model_dir, tmp_path))
    failed = run_snakemake(workdir, check=False)
    assert failed.returncode != 0
    assert "the tokenizer does not load" in (workdir / "results/logs/prepare_model.log").read_text()
    assert not (workdir / "results" / "activations").exists()


# --- extraction -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


def test_max_length_is_capped_by_the_models_context(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    short = copy.deepcopy(model)
    short.config.max_position_embeddings = 8
    text = " ".join(TINY_STORIES["fear"])
    capped = extract(short, tokenizer, [text], [1], max_length=512).last_token[1]
    explicit = extract(model, tokenizer, [text], [1], max_length=8).last_token[1]
    full = extract(model, tokenizer, [text], [1], max_length=512).last_token[1]
    assert torch.equal(capped, explicit) and not torch.allclose(capped, full)


@pytest.mark.parametrize("how", ["overflow", "saturated"])
def test_activations_that_overflow_the_dtype_are_refused_naming_it(model_and_tokenizer, how):
    model, tokenizer = model_and_tokenizer
    loud = copy.deepcopy(model).half()
    with torch.no_grad():
        if how == "overflow":
            loud.model.embed_tokens.weight.mul_(1e7)  # past float16's 65504, as Gemma's residuals can come close
        else:  # finite but pinned near float16's largest value, as a model that clamps leaves them
            for weight in loud.model.layers.parameters():
                weight.zero_()  # each block passes its input through
            loud.model.embed_tokens.weight.fill_(62000.0)
    with pytest.raises(ExtractionError) as err:
        extract(loud, tokenizer, TINY_STORIES["fear"], [0, 1], names=["stories/a.txt", "stories/b.txt"])
    assert str(err.value) == (
        "stories/b.txt: non-finite or saturated activations after block 0 in torch.float16 (the model's "
        "activations overflow it); set `dtype: float32` (or bfloat16) in config.yaml"
    )


# --- activation shards ------------------------------------------------------------------------------


def test_a_truncated_shard_is_named_with_the_fix(tmp_path):
    from amygdala_readout.store import save_tensors

    shard = tmp_path / "shard_00.safetensors"
    save_tensors(shard, {"layer_1.last_token": torch.zeros(2, 4)}, {"text_ids": json.dumps(["a", "b"])})
    shard.write_bytes(shard.read_bytes()[:-5])
    with pytest.raises(UserError, match=r"shard_00.safetensors: activation shard cannot be read .*delete it"):
        load_rows([shard], ["a"], [1])


def test_rows_still_load_from_a_good_shard(tmp_path):
    from amygdala_readout.store import save_tensors

    shard = tmp_path / "shard_00.safetensors"
    rows = torch.arange(8.0).reshape(2, 4)
    save_tensors(shard, {"layer_1.last_token": rows}, {"text_ids": json.dumps(["a", "b"])})
    np.testing.assert_array_equal(load_rows([shard], ["b", "a"], [1])[1], rows.numpy()[[1, 0]])


def test_a_full_disk_names_the_file_and_keeps_what_is_computed(tmp_path, monkeypatch):
    import errno

    from amygdala_readout import store

    done = tmp_path / "done.json"
    store.write_json(done, {"kept": True})

    def full(tmp):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(UserError) as err:
        store.atomic_write(tmp_path / "new.json", full)
    assert str(err.value) == (
        f"{tmp_path / 'new.json'}: no space left on the disk; free some (or point results/ at a larger disk) and "
        "run snakemake again: what is already computed is kept"
    )
    assert json.loads(done.read_text()) == {"kept": True} and sorted(p.name for p in tmp_path.iterdir()) == [
        "done.json"
    ]  # no half-written file left behind


@pytest.mark.parametrize("n_shards, said", [(3, False), (40, True)])
def test_many_more_shards_than_stories_are_said(tiny_corpus, n_shards, said):
    messages = corpus.shard_warnings(corpus.scan(tiny_corpus), n_shards)
    if said:
        used = len({corpus.shard_of(p, n_shards) for p in corpus.scan(tiny_corpus).texts})
        assert messages == [
            f"config.n_shards: {n_shards} shards for 11 story files, so {n_shards - used} hold none and run as "
            "empty jobs; lower n_shards (about one shard per 100 stories)"
        ]
    else:
        assert messages == []
