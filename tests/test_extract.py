import logging

import numpy as np
import pytest
import torch
from conftest import TINY_PAIRED, TINY_STORIES
from transformers import AutoModelForCausalLM, AutoTokenizer

from amygdala_readout.extract import (
    apply_template,
    extract,
    last_token_activations,
    length_batches,
    text_subspace,
    token_activations,
    token_activations_batched,
    tokenize,
)

TEXTS = [t for ts in TINY_STORIES.values() for t in ts] + list(TINY_PAIRED.values()) + ["The bus ."]
LAYERS = [0, 2, 3]


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


def reference(model, tokenizer, text):
    """One text alone, no padding, through the full model: hidden_states[i + 1] is block i's output,
    except the last entry, which transformers gives after the final norm."""
    ids = tokenizer(text, return_tensors="pt")
    with torch.inference_mode():
        out = model(**ids, output_hidden_states=True)
    return [state[0, -1] for state in out.hidden_states[1:]]


def test_reads_block_outputs_at_the_last_token(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    acts = last_token_activations(model, tokenizer, TEXTS, LAYERS, batch_tokens=10_000)
    for i, text in enumerate(TEXTS):
        expected = reference(model, tokenizer, text)
        for layer in LAYERS[:-1]:
            torch.testing.assert_close(acts[layer][i], expected[layer], atol=1e-4, rtol=1e-4)
        # the last block is read before the final norm
        with torch.inference_mode():
            normed = model.model.norm(acts[3][i])
        torch.testing.assert_close(normed, expected[3], atol=1e-4, rtol=1e-4)


def test_left_right_padding_and_batching_agree(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    right = last_token_activations(model, tokenizer, TEXTS, LAYERS, batch_tokens=10_000, padding_side="right")
    left = last_token_activations(model, tokenizer, TEXTS, LAYERS, batch_tokens=10_000, padding_side="left")
    single = last_token_activations(model, tokenizer, TEXTS, LAYERS, batch_tokens=1)
    for layer in LAYERS:
        assert right[layer].shape == (len(TEXTS), 32)
        torch.testing.assert_close(left[layer], right[layer], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(single[layer], right[layer], atol=1e-4, rtol=1e-4)


def test_token_means_leave_out_bos_and_sentence_ends_keep_the_last_token(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    texts = ["He froze . She ran !", "The bus arrived at the station", "He froze ."]
    for padding_side, batch_tokens in (("right", 10_000), ("left", 10_000), ("right", 1)):
        acts = extract(model, tokenizer, texts, LAYERS, padding_side=padding_side, batch_tokens=batch_tokens)
        for i, text in enumerate(texts):
            ids, tokens = token_activations(model, tokenizer, text, LAYERS)
            pieces = [tokenizer.decode([t]) for t in ids]
            assert pieces[0] == "[BOS]"
            ends = [p for p, piece in enumerate(pieces) if piece in {".", "!"}]
            ends = sorted(set(ends) | {len(ids) - 1})
            for layer in LAYERS:
                torch.testing.assert_close(acts.all_tokens[layer][i], tokens[layer][1:].mean(0), atol=1e-4, rtol=1e-4)
                torch.testing.assert_close(
                    acts.sentence_ends[layer][i], tokens[layer][ends].mean(0), atol=1e-4, rtol=1e-4
                )
    # "He froze ." : the sentence end is the last token, so that reading is the last token's
    torch.testing.assert_close(acts.sentence_ends[LAYERS[0]][2], acts.last_token[LAYERS[0]][2])


def test_a_template_wraps_every_text(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    template = "The bus . {text} She ran"
    assert apply_template(template, "x {y}") == "The bus . x {y} She ran"  # braces in a text stay as they are
    assert apply_template(None, "x") == "x"
    wrapped = extract(model, tokenizer, TEXTS[:3], LAYERS, template=template)
    plain = extract(model, tokenizer, [template.replace("{text}", t) for t in TEXTS[:3]], LAYERS)
    for layer in LAYERS:
        torch.testing.assert_close(wrapped.last_token[layer], plain.last_token[layer])
        assert not torch.allclose(
            wrapped.last_token[layer], extract(model, tokenizer, TEXTS[:3], LAYERS).last_token[layer]
        )


def test_deepest_layer_stops_the_pass(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    calls = []
    handle = model.lm_head.register_forward_hook(lambda *a: calls.append(1))
    try:
        last_token_activations(model, tokenizer, TEXTS[:2], [1])
    finally:
        handle.remove()
    assert calls == []


def test_long_text_keeps_its_end_and_bos_with_a_warning(model_and_tokenizer, caplog):
    _, tokenizer = model_and_tokenizer
    text = TEXTS[0]
    full = tokenizer(text)["input_ids"]
    with caplog.at_level(logging.WARNING):
        (ids,) = tokenize(tokenizer, [text], max_length=6, names=["stories/anger.txt"])
    assert ids == [tokenizer.bos_token_id] + full[-5:]
    assert "stories/anger.txt" in caplog.text and f"{len(full)} tokens" in caplog.text


def test_length_batches_respect_the_token_budget():
    lengths = [5, 50, 7, 48, 6, 30]
    batches = length_batches(lengths, batch_tokens=100)
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert all(len(b) * max(lengths[i] for i in b) <= 100 for b in batches)
    assert batches[0][0] == 1  # longest first


def test_one_pass_captures_head_inputs_and_token_subspaces(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    forwards = []
    counter = model.model.embed_tokens.register_forward_hook(lambda *a: forwards.append(1))
    try:
        acts = extract(
            model, tokenizer, TEXTS, LAYERS, batch_tokens=60, padding_side="left", heads=True, subspace_k=None
        )
    finally:
        counter.remove()
    assert len(forwards) == len(length_batches([len(t) for t in tokenize(tokenizer, TEXTS, 512, TEXTS)], 60))
    for i, text in enumerate(TEXTS):
        # reference: the text alone, every token, with a hook on the output projection's input
        seen = {}
        hooks = [
            model.model.layers[layer].self_attn.o_proj.register_forward_pre_hook(
                lambda m, args, layer=layer: seen.__setitem__(layer, args[0][0].clone())
            )
            for layer in LAYERS
        ]
        try:
            _, tokens = token_activations(model, tokenizer, text, LAYERS)
        finally:
            for hook in hooks:
                hook.remove()
        for layer in LAYERS:
            torch.testing.assert_close(acts.head_inputs[layer][i], seen[layer][-1], atol=1e-4, rtol=1e-4)
            expected = text_subspace(tokens[layer].double().numpy())
            got = acts.subspaces[layer][i].double().numpy()
            assert got.shape == expected.shape
            # the same subspace: projectors agree (singular vectors themselves may flip sign)
            np.testing.assert_allclose(got.T @ got, expected.T @ expected, atol=2e-3)


def test_heads_and_subspaces_are_off_unless_asked(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    acts = extract(model, tokenizer, TEXTS[:3], LAYERS)
    assert acts.head_inputs == {} and acts.subspaces == {}
    capped = extract(model, tokenizer, TEXTS[:3], LAYERS, subspace_k=2)
    assert all(b.shape == (2, 32) for b in capped.subspaces[LAYERS[0]])


def test_a_capped_subspace_is_the_top_rows_of_the_whole_one(model_and_tokenizer):
    # bench/subspace_cap.py fits every cap from one uncapped extraction on this premise
    model, tokenizer = model_and_tokenizer
    whole = extract(model, tokenizer, TEXTS, LAYERS, subspace_k=None)
    capped = extract(model, tokenizer, TEXTS, LAYERS, subspace_k=3)
    for layer in LAYERS:
        assert any(len(basis) > 3 for basis in whole.subspaces[layer])
        for basis, top in zip(whole.subspaces[layer], capped.subspaces[layer]):
            assert len(top) == min(3, len(basis))
            torch.testing.assert_close(top, basis[:3], atol=1e-6, rtol=0)


def test_loading_only_the_blocks_read_gives_the_same_activations(tiny_model_dir, model_and_tokenizer):
    from amygdala_readout import model_io

    model, tokenizer = model_and_tokenizer
    short, _ = model_io.load(tiny_model_dir, torch.device("cpu"), torch.float32, n_blocks=3)
    assert len(short.model.layers) == 3
    assert sum(p.numel() for p in short.parameters()) < sum(p.numel() for p in model.parameters())
    full = extract(model, tokenizer, TEXTS, [0, 2], heads=True, subspace_k=None)
    cut = extract(short, tokenizer, TEXTS, [0, 2], heads=True, subspace_k=None)
    for layer in (0, 2):
        torch.testing.assert_close(cut.last_token[layer], full.last_token[layer])
        torch.testing.assert_close(cut.head_inputs[layer], full.head_inputs[layer])


def test_a_checkpoint_missing_weights_is_refused(tiny_model_dir, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    from amygdala_readout import model_io

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    weights = load_file(broken / "model.safetensors")
    del weights["model.layers.1.mlp.down_proj.weight"]
    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(model_io.ModelError, match="down_proj"):
        model_io.load(broken, torch.device("cpu"), torch.float32, n_blocks=3)


@pytest.mark.parametrize("batch_tokens", [1, 40, 10_000])
def test_batched_token_reading_equals_reading_each_text_alone(model_and_tokenizer, batch_tokens):
    model, tokenizer = model_and_tokenizer
    seen = set()
    for i, ids, tokens in token_activations_batched(model, tokenizer, TEXTS, LAYERS, batch_tokens=batch_tokens):
        alone_ids, alone = token_activations(model, tokenizer, TEXTS[i], LAYERS)
        assert ids == alone_ids and i not in seen
        seen.add(i)
        for layer in LAYERS:
            assert tokens[layer].shape == (len(ids), 32)
            torch.testing.assert_close(tokens[layer], alone[layer], atol=1e-4, rtol=1e-4)
    assert seen == set(range(len(TEXTS)))
