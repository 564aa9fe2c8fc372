"""The real default path: the packaged Gemma 3 270M GGUF, de-quantized, prepared and read."""

from pathlib import Path

import pytest
import torch

from amygdala_readout import corpus, model_io
from amygdala_readout.extract import last_token_activations

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_packaged_gemma_prepares_and_extracts(tmp_path):
    prepared = model_io.prepare("packaged:gemma-3-270m", tmp_path)
    assert (prepared.model_type, prepared.num_layers, prepared.hidden_size) == ("gemma3_text", 18, 640)
    assert not (tmp_path / "gguf").exists()  # the assembled GGUF is not kept
    assert model_io.fingerprint_weights(prepared.load_path) == prepared.fingerprint

    model, tokenizer = model_io.load(prepared.load_path, torch.device("cpu"), torch.float32)
    assert getattr(model, "hf_quantizer", None) is None
    paths = [
        "stories/fear/narrative_the_first_sound_was.txt",
        "stories/happiness/narrative_on_sunday_morning_joaquim.txt",
        "paired/narrative_borrowed_car/baseline.txt",
    ]
    texts = [corpus.read_story(REPO / "amygdala_stories", p) for p in paths]
    right = last_token_activations(model, tokenizer, texts, [5, 9], batch_tokens=4096, padding_side="right")
    left = last_token_activations(model, tokenizer, texts, [5, 9], batch_tokens=4096, padding_side="left")
    single = last_token_activations(model, tokenizer, texts[:1], [5, 9])
    for layer in (5, 9):
        assert right[layer].shape == (3, 640)
        assert torch.isfinite(right[layer]).all()
        torch.testing.assert_close(left[layer], right[layer], rtol=1e-3, atol=1e-3)
        torch.testing.assert_close(single[layer][0], right[layer][0], rtol=1e-3, atol=1e-3)
