"""The reader on bad input: one `error:` line naming the file (or argument) and the fix, exit code 2,
and every check on the package and the input done before the model loads."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO
from safetensors.torch import load_file, save_file

from amygdala_readout import model_io, read
from amygdala_readout.extract import tokenize
from amygdala_readout.package import write_package

CONCEPTS = ["anger", "fear", "happiness"]
LAYERS = (1, 2)
TEXT = "The footsteps behind her in the dark lane grew faster and her heart hammered as she ran."


@pytest.fixture(scope="module")
def tiny_fingerprint(tiny_model_dir) -> str:
    return model_io.fingerprint_weights(tiny_model_dir)


def make_package(folder, model_dir, fingerprint, hidden=32, files=None, **extra):
    """A package as scripts/package_readout.py writes it, with random vectors, for ``model_dir``
    (``files``: the quick fingerprint that packages record now; without, the reader checks the full one)."""
    rng = np.random.default_rng(0)
    provenance = {
        "spec": str(model_dir),
        "kind": "local",
        "load_path": str(model_dir),
        "model_type": "llama",
        "num_layers": 4,
        "hidden_size": hidden,
        "fingerprint": fingerprint,
    }
    if files is not None:
        provenance["files"] = files
    meta = {
        "method": "pooled",
        "template": None,
        "layer_depth_percent": {"1": 33.3, "2": 66.7},
        "model": provenance,
        "config": {"max_length": 1024},
    } | extra
    write_package(
        folder,
        CONCEPTS,
        {layer: rng.normal(size=(len(CONCEPTS), hidden)) for layer in LAYERS},
        {layer: rng.normal(size=hidden) for layer in LAYERS},
        meta,
    )
    return folder


@pytest.fixture
def package(tmp_path, tiny_model_dir, tiny_fingerprint):
    return make_package(tmp_path / "package", tiny_model_dir, tiny_fingerprint)


@pytest.fixture
def no_model_load(monkeypatch):
    """Bad input must be caught before the (slow) model load: loading at all fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the bad input was caught")

    monkeypatch.setattr(model_io, "load", refuse)


def one_error_line(capsys, *args) -> str:
    code = read.main([str(a) for a in args])
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert captured.out == ""
    return lines[0]


# --- the good case ---------------------------------------------------------------------------------


def test_a_good_package_reads_fine(package, tmp_path, capsys):
    html = tmp_path / "heat.html"
    assert read.main(["--readout", str(package), "--text", TEXT, "--format", "json", "--html", str(html)]) == 0
    captured = capsys.readouterr()
    (result,) = json.loads(captured.out)
    assert result["layer"] in LAYERS and len(result["tokens"]) == len(TEXT.split()) + 1  # words and the "."
    assert len(result["tokens"][0]["top"]) == 3
    assert "<table>" in html.read_text() and "error" not in captured.err


def test_a_good_file_with_a_bom_and_blank_lines_reads_each_text(package, tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_bytes(b"\xef\xbb\xbfThe door slammed .\n\n  \nShe ran .\n")
    assert read.main(["--readout", str(package), "--file", str(texts), "--last", "--format", "json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["text"] for r in results] == ["The door slammed .", "She ran ."]


# --- 1. empty text ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \t "])
def test_an_empty_text_is_an_error(package, capsys, no_model_load, text):
    line = one_error_line(capsys, "--readout", package, "--text", TEXT, "--text", text)
    assert line == f"error: --text {text!r} is empty; give a text to read"


@pytest.mark.parametrize("content", [b"", b"\n  \n\t\n"])
def test_an_empty_file_is_an_error(package, tmp_path, capsys, no_model_load, content):
    texts = tmp_path / "texts.txt"
    texts.write_bytes(content)
    line = one_error_line(capsys, "--readout", package, "--file", texts)
    assert line == f"error: --file {texts}: no text in it (empty, or blank lines only); put one text per line"


# --- 2. a corrupt readout.safetensors --------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "empty"])
def test_a_corrupt_safetensors_file_is_named_with_the_fix(package, capsys, no_model_load, damage):
    path = package / "readout.safetensors"
    data = path.read_bytes()
    path.write_bytes(
        {"truncated": data[: len(data) // 2], "random bytes": np.random.default_rng(1).bytes(300), "empty": b""}[damage]
    )
    line = one_error_line(capsys, "--readout", package, "--text", TEXT)
    assert line.startswith(f"error: {path}: corrupt, not a readable safetensors file (")
    assert line.endswith("re-run the workflow to rebuild the package, or re-copy it")


def test_a_missing_safetensors_file_is_named(package, capsys, no_model_load):
    (package / "readout.safetensors").unlink()
    line = one_error_line(capsys, "--readout", package, "--text", TEXT)
    assert (
        line == f"error: {package / 'readout.safetensors'}: missing; re-run the workflow to rebuild the package, "
        "or re-copy it"
    )


def test_a_corrupt_package_gives_one_line_and_no_traceback_from_the_command_line(package):
    (package / "readout.safetensors").write_bytes(b"\x00" * 5)
    result = subprocess.run(
        [sys.executable, "-m", "amygdala_readout.read", "--readout", str(package), "--text", TEXT],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {package / 'readout.safetensors'}: ")
    assert "Traceback" not in result.stderr


# --- 3. a corrupt readout.json ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, problem",
    [
        (b'{"concepts": ["anger"', "not valid JSON (Expecting ',' delimiter at line 1)"),
        (b"caf\xe9", "not UTF-8 text, so not the JSON a package holds"),
        (b"[1, 2]", "a JSON list, not the object a package holds"),
    ],
)
def test_a_corrupt_readout_json_is_named_with_the_fix(package, capsys, no_model_load, content, problem):
    path = package / "readout.json"
    path.write_bytes(content)
    line = one_error_line(capsys, "--readout", package, "--text", TEXT)
    assert line == f"error: {path}: {problem}; re-run the workflow to rebuild the package, or re-copy it"


def test_a_readout_json_without_a_contract_key_says_which(package, capsys, no_model_load):
    path = package / "readout.json"
    meta = json.loads(path.read_text())
    del meta["concepts"]
    path.write_text(json.dumps(meta))
    line = one_error_line(capsys, "--readout", package, "--text", TEXT)
    assert line == f"error: {path} lacks ['concepts']; re-run the workflow to rebuild the package, or re-copy it"


def test_a_readout_json_with_a_wrong_kind_of_value_is_an_error(package, capsys, no_model_load):
    path = package / "readout.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"layers": "1,2"}))
    line = one_error_line(capsys, "--readout", package, "--text", TEXT)
    assert line.startswith(f"error: {path}: 'layers' must be a non-empty list of block indices")


@pytest.mark.parametrize("template", ["Text: {txt}", 7])
def test_a_template_without_text_in_it_is_an_error(package, capsys, no_model_load, template):
    """Else the reader would score the template's own tokens and drop the input, exit 0."""
    path = package / "readout.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"template": template}))
    line = one_error_line(capsys, "--readout", package, "--text", TEXT)
    assert line == (
        f"error: {path}: 'template' must be a text with {{text}} in it, not {template!r}; re-run the workflow "
        "to rebuild the package, or re-copy it"
    )


def test_concepts_that_do_not_match_the_vectors_name_both_files(package, capsys, no_model_load):
    path = package / "readout.json"
    meta = json.loads(path.read_text())
    path.write_text(json.dumps(meta | {"concepts": meta["concepts"][:-1]}))
    line = one_error_line(capsys, "--readout", package, "--text", TEXT)
    n = len(meta["concepts"])
    assert line == (
        f"error: {path} lists {n - 1} concepts but layer_{meta['layers'][0]}.vectors in readout.safetensors has "
        f"{n} rows: the two files come from different packages; re-run the workflow to rebuild the package, or "
        "re-copy it"
    )


def test_a_missing_readout_json_or_package_folder_is_named(package, tmp_path, capsys, no_model_load):
    line = one_error_line(capsys, "--readout", tmp_path / "nowhere", "--text", TEXT)
    assert line.startswith(f"error: {tmp_path / 'nowhere'}: no such package folder; give the folder that holds")
    (package / "readout.json").unlink()
    line = one_error_line(capsys, "--readout", package, "--text", TEXT)
    assert line.startswith(f"error: {package / 'readout.json'}: missing; re-run the workflow")


# --- 4. a package without centre tensors -----------------------------------------------------------


def test_a_package_without_centres_says_which_tensor_is_missing(package, capsys, no_model_load):
    path = package / "readout.safetensors"
    tensors = load_file(path)
    del tensors["layer_2.center"]
    save_file(tensors, path)
    line = one_error_line(capsys, "--readout", package, "--text", TEXT, "--layer", 1)
    assert line == (
        f"error: {path} lacks layer_2.center (the mean activation scores are centred on); "
        "re-run the workflow to rebuild the package, or re-copy it"
    )


def test_a_centre_of_the_wrong_size_is_an_error(package, capsys, no_model_load):
    path = package / "readout.safetensors"
    tensors = load_file(path)
    tensors["layer_1.center"] = tensors["layer_1.center"][:5].clone()
    save_file(tensors, path)
    line = one_error_line(capsys, "--readout", package, "--text", TEXT)
    assert line.startswith(f"error: {path}: layer_1.center is torch.float32 (5,), expected finite floats (32,)")


# --- 5 and 6. --file not UTF-8, or not there -------------------------------------------------------


def test_a_latin1_file_is_named_with_the_fix(package, tmp_path, capsys, no_model_load):
    texts = tmp_path / "texts.txt"
    texts.write_bytes("The door slammed .\nUn café au lait .\n".encode("latin-1"))
    line = one_error_line(capsys, "--readout", package, "--file", texts)
    assert line == f"error: --file {texts}: not UTF-8 text (byte 0xe9 on line 2); save it as UTF-8"


def test_a_missing_file_is_named(package, tmp_path, capsys, no_model_load):
    line = one_error_line(capsys, "--readout", package, "--file", tmp_path / "nope.txt")
    assert line == f"error: --file {tmp_path / 'nope.txt'}: no such file; give a text file with one text per line"


def test_a_folder_given_as_file_is_an_error(package, tmp_path, capsys, no_model_load):
    line = one_error_line(capsys, "--readout", package, "--file", tmp_path)
    assert line == f"error: --file {tmp_path}: a folder, not a file; give a text file with one text per line"


# --- 7. --html in a folder that does not exist -----------------------------------------------------


def test_html_in_a_missing_folder_is_an_error_before_the_model_loads(package, tmp_path, capsys, no_model_load):
    target = tmp_path / "no" / "such" / "heat.html"
    line = one_error_line(capsys, "--readout", package, "--text", TEXT, "--html", target)
    assert line == (
        f"error: --html {target}: folder {target.parent} does not exist; create it, "
        "or give a path in an existing folder"
    )
    assert not target.parent.exists()


def test_html_that_is_a_folder_is_an_error(package, tmp_path, capsys, no_model_load):
    line = one_error_line(capsys, "--readout", package, "--text", TEXT, "--html", tmp_path)
    assert line.startswith(f"error: --html {tmp_path}: a folder, not a file")


# --- 8. the model is not the one the package was fitted on -----------------------------------------


def test_a_model_with_other_weights_is_refused_naming_both(package, tiny_model_dir, tmp_path, capsys, no_model_load):
    other = tmp_path / "fine_tuned"
    shutil.copytree(tiny_model_dir, other)
    weights = load_file(other / "model.safetensors")
    name = sorted(weights)[0]
    weights[name] = weights[name] + 0.01
    save_file(weights, other / "model.safetensors", metadata={"format": "pt"})
    line = one_error_line(capsys, "--readout", package, "--model", other, "--text", TEXT)
    assert line.startswith(f"error: {other}: weights fingerprint ")
    assert f"recorded in {package / 'readout.json'} for {tiny_model_dir}; " in line
    assert line.endswith(
        f"point --model at the model the package was fitted on ({tiny_model_dir}), "
        "or re-run the workflow with this model"
    )


def test_the_quick_fingerprint_refuses_other_weights_and_accepts_the_same(
    tmp_path, tiny_model_dir, tiny_fingerprint, capsys
):
    package = make_package(
        tmp_path / "package", tiny_model_dir, "not checked", files=model_io.source_fingerprint(str(tiny_model_dir))
    )
    assert read.main(["--readout", str(package), "--text", TEXT]) == 0
    capsys.readouterr()
    other = shutil.copytree(tiny_model_dir, tmp_path / "fine_tuned")
    weights = load_file(other / "model.safetensors")
    name = sorted(weights)[-1]
    weights[name] = weights[name] * 1.01
    save_file(weights, other / "model.safetensors", metadata={"format": "pt"})
    line = one_error_line(capsys, "--readout", package, "--model", other, "--text", TEXT)
    assert line.startswith(f"error: {other}: weights fingerprint ")


def test_a_recorded_fingerprint_that_differs_is_refused(tmp_path, tiny_model_dir, capsys, no_model_load):
    package = make_package(tmp_path / "package", tiny_model_dir, "0" * 64)
    line = one_error_line(capsys, "--readout", package, "--text", TEXT)
    assert f"differs from 000000000000... recorded in {package / 'readout.json'}" in line


def test_a_hidden_size_mismatch_is_refused(tmp_path, tiny_model_dir, tiny_fingerprint, capsys, no_model_load):
    package = make_package(tmp_path / "package", tiny_model_dir, tiny_fingerprint, hidden=16)
    line = one_error_line(capsys, "--readout", package, "--text", TEXT)
    assert line.startswith(
        f"error: {tiny_model_dir}: hidden size 32, but {package / 'readout.json'} was fitted "
        "on a model with hidden size 16; point --model at the model the package was fitted on"
    )


def test_a_missing_model_folder_is_named(package, tmp_path, capsys, no_model_load):
    line = one_error_line(capsys, "--readout", package, "--model", tmp_path / "gone", "--text", TEXT)
    assert line == (
        f"error: {tmp_path / 'gone'}: --model does not exist; pass --model with the model the package was fitted on"
    )


def test_a_package_without_a_recorded_model_asks_for_one(tmp_path, tiny_model_dir, capsys, no_model_load):
    package = make_package(tmp_path / "package", tiny_model_dir, None, model={})
    line = one_error_line(capsys, "--readout", package, "--text", TEXT)
    assert line == (
        f"error: {package / 'readout.json'} records no model folder; "
        "pass --model with the model the package was fitted on"
    )


# --- arguments -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--layer", "3"], "error: --layer 3: not in the package; it has layers [1, 2]"),
        (["--top", "0"], "error: argument --top: '0' is not a positive whole number; see --help"),
        (["--format", "xml"], "error: argument --format: invalid choice: 'xml'"),
    ],
)
def test_bad_arguments_give_one_line(package, capsys, no_model_load, args, message):
    assert one_error_line(capsys, "--readout", package, "--text", TEXT, *args).startswith(message)


# --- 9. the reading length comes from the package and the model ------------------------------------


def test_a_long_text_is_cut_to_the_packages_max_length_as_extraction_cuts_it(
    tmp_path, tiny_model_dir, tiny_fingerprint, capsys
):
    from transformers import AutoTokenizer

    package = make_package(tmp_path / "package", tiny_model_dir, tiny_fingerprint, config={"max_length": 8})
    assert read.main(["--readout", str(package), "--text", TEXT, "--format", "json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    (kept,) = tokenize(tokenizer, [TEXT], 8, ["text"])
    assert kept[0] == tokenizer.bos_token_id and len(kept) == 8
    assert [t["token"] for t in result["tokens"]] == [tokenizer.decode([i]) for i in kept[1:]]


def test_the_reading_length_is_capped_by_the_models_context(tiny_model_dir):
    from transformers import AutoConfig, AutoTokenizer

    config, tokenizer = AutoConfig.from_pretrained(tiny_model_dir), AutoTokenizer.from_pretrained(tiny_model_dir)
    assert read.reading_length({"config": {"max_length": 100}}, config, tokenizer) == 100
    assert read.reading_length({"config": {"max_length": 10_000}}, config, tokenizer) == 256  # max_position_embeddings
    assert read.reading_length({}, config, tokenizer) == 256
    tokenizer.model_max_length = 64
    assert read.reading_length({"config": {"max_length": 1024}}, config, tokenizer) == 64
