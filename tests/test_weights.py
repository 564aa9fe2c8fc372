"""Reading the down/o projections from safetensors, checked against the live modules that were saved."""

import json

import numpy as np
import pytest
import torch
import transformers as tf
from safetensors.torch import load_file, save_file

from amygdala_readout.architectures import attention_output_projection, find_decoder_layers, mlp_down_projection
from amygdala_readout.errors import UserError
from amygdala_readout.model_io import weight_names_for
from amygdala_readout.weights import (
    _match_key,
    layer_weight_names,
    read_layer_weights,
)

# hidden 32, 4 heads; where the config allows, head_dim 16 so o_proj is (32, 64): a wrong orientation
# cannot pass as a square matrix.
SMALL = {"hidden_size": 32, "intermediate_size": 48, "num_attention_heads": 4, "num_hidden_layers": 3, "vocab_size": 64}
ARCHITECTURES = {
    "llama": (tf.LlamaConfig, tf.LlamaForCausalLM, dict(SMALL, head_dim=16, num_key_value_heads=2)),
    "qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM, SMALL),
    "gemma3_text": (tf.Gemma3TextConfig, tf.Gemma3ForCausalLM, dict(SMALL, head_dim=16)),
    "gpt2": (
        tf.GPT2Config,
        tf.GPT2LMHeadModel,
        {"n_embd": 32, "n_layer": 3, "n_head": 4, "vocab_size": 64, "bos_token_id": 0, "eos_token_id": 0},
    ),
    "gpt_neox": (tf.GPTNeoXConfig, tf.GPTNeoXForCausalLM, SMALL),
    "phi": (tf.PhiConfig, tf.PhiForCausalLM, SMALL),
    "opt": (
        tf.OPTConfig,
        tf.OPTForCausalLM,
        {
            "hidden_size": 32,
            "ffn_dim": 48,
            "num_attention_heads": 4,
            "num_hidden_layers": 3,
            "vocab_size": 64,
            "word_embed_proj_dim": 32,
        },
    ),
}
# the module path, inside a block, that each architecture's projections live at
EXPECTED_PATHS = {
    "llama": ("mlp.down_proj", "self_attn.o_proj"),
    "qwen2": ("mlp.down_proj", "self_attn.o_proj"),
    "gemma3_text": ("mlp.down_proj", "self_attn.o_proj"),
    "gpt2": ("mlp.c_proj", "attn.c_proj"),
    "gpt_neox": ("mlp.dense_4h_to_h", "attention.dense"),
    "phi": ("mlp.fc2", "self_attn.dense"),
    "opt": ("fc2", "self_attn.out_proj"),  # directly on the block, no mlp submodule
}


def build(name: str, dtype=torch.float32):
    config_cls, model_cls, kwargs = ARCHITECTURES[name]
    torch.manual_seed(0)
    return model_cls(config_cls(**kwargs)).to(dtype).eval()


def expected(model, index: int) -> dict[str, np.ndarray]:
    """The live modules' weights, oriented (hidden, inputs): Conv1D stores (in, out), so transpose it."""
    block = find_decoder_layers(model)[index]
    out = {}
    for part, module in (("down_proj", mlp_down_projection(block)), ("o_proj", attention_output_projection(block))):
        weight = module.weight.detach().float()
        out[part] = (weight.T if type(module).__name__ == "Conv1D" else weight).numpy()
    return out


@pytest.fixture
def llama_dir(tmp_path):
    model = build("llama")
    model.save_pretrained(tmp_path / "llama")
    return model, tmp_path / "llama"


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_read_weights_equal_the_saved_modules(name, tmp_path):
    model = build(name)
    model.save_pretrained(tmp_path)
    names = weight_names_for(tmp_path)

    assert names.n_heads == 4
    assert sorted(names.layers) == [0, 1, 2]
    down_path, o_path = EXPECTED_PATHS[name]
    assert names.layers[2]["down_proj"].endswith(f".2.{down_path}.weight")
    assert names.layers[2]["o_proj"].endswith(f".2.{o_path}.weight")
    assert names.layers[2]["o_proj_transposed"] is names.layers[2]["down_proj_transposed"] is (name == "gpt2")

    weights = read_layer_weights(tmp_path, names, [0, 2])
    assert sorted(weights) == [0, 2]
    hidden = model.config.get_text_config().hidden_size
    for index in (0, 2):
        want = expected(model, index)
        for part in ("down_proj", "o_proj"):
            got = weights[index][part]
            assert got.dtype == np.float32
            assert got.shape[0] == hidden  # rows: the residual stream
            np.testing.assert_array_equal(got, want[part])
    assert weights[0]["down_proj"].shape[1] > hidden  # columns: the MLP neurons
    assert weights[0]["o_proj"].shape[1] % names.n_heads == 0
    assert not np.array_equal(weights[0]["o_proj"], weights[2]["o_proj"])  # the right block, not just any


def test_sharded_checkpoint_reads_the_same(llama_dir, tmp_path):
    model, single = llama_dir
    sharded = tmp_path / "sharded"
    model.save_pretrained(sharded, max_shard_size="20KB")
    assert (sharded / "model.safetensors.index.json").is_file()
    assert len(list(sharded.glob("*.safetensors"))) > 1

    names = weight_names_for(sharded)
    got = read_layer_weights(sharded, names, [0, 1, 2])
    want = read_layer_weights(single, weight_names_for(single), [0, 1, 2])
    for index in (0, 1, 2):
        for part in ("down_proj", "o_proj"):
            np.testing.assert_array_equal(got[index][part], want[index][part])
            np.testing.assert_array_equal(got[index][part], expected(model, index)[part])


def test_missing_shard_file_is_a_user_error(llama_dir, tmp_path):
    model, _ = llama_dir
    sharded = tmp_path / "sharded"
    model.save_pretrained(sharded, max_shard_size="20KB")
    weight_map = json.loads((sharded / "model.safetensors.index.json").read_text())["weight_map"]
    (sharded / weight_map["model.layers.1.mlp.down_proj.weight"]).unlink()
    with pytest.raises(UserError, match="re-download"):
        read_layer_weights(sharded, weight_names_for(sharded), [1])


@pytest.mark.parametrize("name", ["llama", "gpt2"])
def test_bf16_checkpoint_comes_back_float32(name, tmp_path):
    model = build(name, torch.bfloat16)
    model.save_pretrained(tmp_path)
    names = weight_names_for(tmp_path)
    weights = read_layer_weights(tmp_path, names, [1])
    want = expected(model, 1)
    for part in ("down_proj", "o_proj"):
        assert weights[1][part].dtype == np.float32
        np.testing.assert_array_equal(weights[1][part], want[part])


def test_checkpoint_saved_from_the_base_model_lacks_the_prefix(llama_dir):
    model, folder = llama_dir
    path = folder / "model.safetensors"
    tensors = load_file(path)
    save_file({key.removeprefix("model."): value for key, value in tensors.items()}, path, metadata={"format": "pt"})

    names = weight_names_for(folder)
    assert names.layers[1]["o_proj"] == "model.layers.1.self_attn.o_proj.weight"  # what the file no longer has
    weights = read_layer_weights(folder, names, [1])
    np.testing.assert_array_equal(weights[1]["o_proj"], expected(model, 1)["o_proj"])
    np.testing.assert_array_equal(weights[1]["down_proj"], expected(model, 1)["down_proj"])


def test_gemma3_multimodal_legacy_key_layout(tmp_path):
    # transformers builds model.language_model.layers... but saves language_model.model.layers...
    config = tf.Gemma3Config(
        text_config=dict(SMALL, head_dim=16),
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 14,
        },
        mm_tokens_per_image=4,
    )
    torch.manual_seed(0)
    model = tf.Gemma3ForConditionalGeneration(config).eval()
    model.save_pretrained(tmp_path)
    names = weight_names_for(tmp_path)
    assert names.n_heads == 4
    weights = read_layer_weights(tmp_path, names, [0, 2])
    for index in (0, 2):
        want = expected(model, index)
        assert weights[index]["o_proj"].shape == (32, 64)
        for part in ("down_proj", "o_proj"):
            np.testing.assert_array_equal(weights[index][part], want[part])


def test_suffix_match_prefers_the_key_sharing_the_dropped_prefix(tmp_path):
    keys = dict.fromkeys(
        ["language_model.model.layers.0.mlp.down_proj.weight", "vision_model.layers.0.mlp.down_proj.weight"], tmp_path
    )
    name = "model.language_model.layers.0.mlp.down_proj.weight"
    assert _match_key(name, keys, tmp_path) == "language_model.model.layers.0.mlp.down_proj.weight"
    keys = dict.fromkeys(["a.layers.0.mlp.down_proj.weight", "b.layers.0.mlp.down_proj.weight"], tmp_path)
    with pytest.raises(UserError, match="several"):
        _match_key(name, keys, tmp_path)


def test_missing_tensor_error_names_it(llama_dir):
    _, folder = llama_dir
    path = folder / "model.safetensors"
    tensors = load_file(path)
    del tensors["model.layers.1.self_attn.o_proj.weight"]
    save_file(tensors, path, metadata={"format": "pt"})

    names = weight_names_for(folder)
    read_layer_weights(folder, names, [0, 2])  # the other blocks still read
    with pytest.raises(UserError, match=r"model\.layers\.1\.self_attn\.o_proj\.weight"):
        read_layer_weights(folder, names, [1])


def test_folder_without_safetensors_says_how_to_fix(llama_dir, tmp_path):
    _, folder = llama_dir
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text((folder / "config.json").read_text())
    names = weight_names_for(bare)  # names need only the config
    with pytest.raises(UserError, match=r"no safetensors weights.*safe_serialization=True") as err:
        read_layer_weights(bare, names, [0])
    assert str(bare) in str(err.value)


class NoAttentionBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.self_attn = torch.nn.Identity()  # an attention slot with no output projection
        self.mix = torch.nn.Linear(8, 8)


class NoAttentionModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList([NoAttentionBlock(), NoAttentionBlock()])


def test_unrecognised_blocks_give_none():
    model = NoAttentionModel()
    block = model.layers[0]
    assert attention_output_projection(block) is None
    assert mlp_down_projection(block) is None
    names = layer_weight_names(model, [1])
    assert names == {1: {"down_proj": None, "o_proj": None, "o_proj_transposed": False, "down_proj_transposed": False}}


def test_layer_weight_names_work_on_a_meta_model():
    config_cls, model_cls, kwargs = ARCHITECTURES["gpt2"]
    with torch.device("meta"):
        model = model_cls(config_cls(**kwargs))
    names = layer_weight_names(model, [1])
    assert names[1] == {
        "down_proj": "transformer.h.1.mlp.c_proj.weight",
        "down_proj_transposed": True,
        "o_proj": "transformer.h.1.attn.c_proj.weight",
        "o_proj_transposed": True,
    }
