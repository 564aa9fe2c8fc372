"""The tensor files the workflow writes: the same content gives the same bytes, whichever process writes it."""

import json
import subprocess
import sys

import numpy as np
import pytest
from safetensors import safe_open

from amygdala_readout.store import canonical_header, save_tensors

# five keys: safetensors alone writes them in one of 120 orders, chosen afresh by each process
METADATA = {"text_ids": json.dumps(["b", "a"]), "layers": "[1, 2]", "dtype": "bfloat16", "zeta": "ü", "alpha": "{}"}
WRITE = """
import json, sys
import numpy as np, torch
from amygdala_readout.store import save_tensors
rows = np.arange(8, dtype=np.float32).reshape(2, 4)
tensors = {"layer_1.last_token": rows, "layer_2.last_token": rows * 2}
if sys.argv[2] == "torch":
    tensors = {k: torch.from_numpy(v) for k, v in tensors.items()}
save_tensors(sys.argv[1], tensors, json.loads(sys.argv[3]))
"""


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_the_same_tensors_and_metadata_give_the_same_bytes_in_every_process(tmp_path, kind):
    paths = [tmp_path / f"shard_{i}.safetensors" for i in range(4)]
    for path in paths:
        subprocess.run([sys.executable, "-c", WRITE, str(path), kind, json.dumps(METADATA)], check=True)
    written = [path.read_bytes() for path in paths]
    assert all(data == written[0] for data in written)
    with safe_open(str(paths[0]), framework="numpy") as handle:
        assert handle.metadata() == METADATA
        assert handle.get_tensor("layer_2.last_token").tolist() == (np.arange(8).reshape(2, 4) * 2).tolist()
    header = json.loads(written[0][8 : 8 + int.from_bytes(written[0][:8], "little")])
    assert list(header["__metadata__"]) == sorted(METADATA)


def test_a_header_written_otherwise_is_left_as_it_is(tmp_path):
    save_tensors(tmp_path / "a.safetensors", {"x": np.zeros(2, dtype=np.float32)}, METADATA)
    data = (tmp_path / "a.safetensors").read_bytes()
    assert canonical_header(data) == data  # already canonical
    length = int.from_bytes(data[:8], "little")
    spaced = json.dumps(json.loads(data[8 : 8 + length])).encode()  # with spaces: not how safetensors writes
    other = len(spaced).to_bytes(8, "little") + spaced + data[8 + length :]
    assert canonical_header(other) == other
