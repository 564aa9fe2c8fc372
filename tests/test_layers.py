import pytest
import torch
import transformers as tf

from amygdala_readout.architectures import ArchitectureError, find_decoder_layers
from amygdala_readout.layers import LayerError, depth_percent, resolve_layers


def test_fractions_round_onto_blocks_and_indices_pass_through():
    assert resolve_layers([0.3, 0.5, 0.7, 0.85], 18) == [5, 9, 12, 14]
    assert resolve_layers([0.0, 1.0], 18) == [0, 17]
    assert resolve_layers([3, -1, 3], 18) == [3, 17]
    assert depth_percent(9, 19) == 50.0


@pytest.mark.parametrize("spec", [[18], [-19], [1.5], [], ["x"]])
def test_bad_layer_requests_are_errors(spec):
    with pytest.raises(LayerError):
        resolve_layers(spec, 18)


SMALL = {"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2, "num_hidden_layers": 3, "vocab_size": 64}
ARCHITECTURES = {
    "llama": (tf.LlamaConfig, tf.LlamaForCausalLM, SMALL),
    "mistral": (tf.MistralConfig, tf.MistralForCausalLM, SMALL),
    "qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM, SMALL),
    "qwen3": (tf.Qwen3Config, tf.Qwen3ForCausalLM, dict(SMALL, head_dim=8)),
    "gemma2": (tf.Gemma2Config, tf.Gemma2ForCausalLM, dict(SMALL, head_dim=8)),
    "gemma3_text": (tf.Gemma3TextConfig, tf.Gemma3ForCausalLM, dict(SMALL, head_dim=8)),
    "phi": (tf.PhiConfig, tf.PhiForCausalLM, SMALL),
    "gpt2": (tf.GPT2Config, tf.GPT2LMHeadModel, {"n_embd": 16, "n_layer": 3, "n_head": 2, "vocab_size": 64}),
    "gpt_neox": (tf.GPTNeoXConfig, tf.GPTNeoXForCausalLM, SMALL),
}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_decoder_blocks_are_found(name):
    config_cls, model_cls, kwargs = ARCHITECTURES[name]
    model = model_cls(config_cls(**kwargs))
    blocks = find_decoder_layers(model)
    assert len(blocks) == 3


def test_gemma3_multimodal_nesting_is_found():
    config = tf.Gemma3Config(
        text_config=dict(SMALL, head_dim=8),
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
    model = tf.Gemma3ForConditionalGeneration(config)
    assert len(find_decoder_layers(model)) == 3


def test_unknown_architecture_error_lists_the_paths_tried():
    with pytest.raises(ArchitectureError, match=r"model\.layers.*transformer\.h.*architectures.py"):
        find_decoder_layers(torch.nn.Linear(2, 2))
