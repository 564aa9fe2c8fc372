"""The dtype extraction runs in: `auto` picks bfloat16 where the hardware has it, and the dtype that ran is
recorded in every shard, the rerun digest and the package."""

import json

import numpy as np
import pytest
from safetensors import safe_open

from amygdala_readout import model_io
from amygdala_readout.errors import UserError
from amygdala_readout.store import save_tensors, shard_dtype


@pytest.mark.parametrize(
    ("flags", "device", "expected"),
    [
        ({"avx512f", "avx512_bf16"}, "cpu", "bfloat16"),
        ({"avx512f", "amx_bf16"}, "auto", "bfloat16"),
        ({"fp", "asimd", "bf16"}, "cpu", "bfloat16"),  # Arm's Features line
        ({"avx2", "avx512f"}, "cpu", "float32"),  # AVX-512 without BF16: torch would emulate it
        (set(), "auto", "float32"),  # flags unreadable (not Linux): the safe choice
        (set(), "cuda:0", "bfloat16"),
        ({"avx512_bf16"}, "mps", "float32"),
    ],
)
def test_auto_is_bfloat16_only_where_the_hardware_has_it(monkeypatch, flags, device, expected):
    monkeypatch.setattr(model_io, "cpu_flags", lambda: flags)
    monkeypatch.setattr(model_io, "gpu_visible", lambda: False)
    assert model_io.dtype_name("auto", device) == expected
    assert model_io.dtype_name("float32", device) == "float32"  # an explicit dtype is never overridden


def test_cpu_flags_reads_this_machines_cpuinfo():
    flags = model_io.cpu_flags()
    assert isinstance(flags, set)
    if flags:  # Linux: the flags line is there and names at least one vector extension
        assert flags & {"sse2", "avx2", "avx512f", "asimd", "fp"}


def fake_shard(path, dtype, n_texts=1):
    meta = {"text_ids": json.dumps([f"t{i}_{path.stem}" for i in range(n_texts)]), "layers": "[1]", "dtype": dtype}
    save_tensors(path, {"layer_1.last_token": np.zeros((n_texts, 4), dtype=np.float32)}, meta)
    return path


def test_shards_of_different_dtypes_are_refused_with_the_fix(tmp_path):
    same = [
        fake_shard(tmp_path / "shard_00.safetensors", "bfloat16"),
        fake_shard(tmp_path / "shard_01.safetensors", "bfloat16"),
    ]
    empty = fake_shard(tmp_path / "shard_02.safetensors", "", n_texts=0)  # an empty shard loads no model
    assert shard_dtype([*same, empty]) == "bfloat16"
    mixed = [*same, fake_shard(tmp_path / "shard_03.safetensors", "float32")]
    with pytest.raises(UserError) as err:
        shard_dtype(mixed)
    assert str(err.value) == (
        f"{tmp_path}: shards extracted in different dtypes (shard_00.safetensors: bfloat16, shard_03.safetensors: "
        "float32), as on cluster nodes whose CPUs differ; set dtype: bfloat16 or float32 in config.yaml (not auto) "
        "and run again, which extracts the others anew"
    )


def dtypes_recorded(run):
    """The dtype in each shard that holds texts, and the package's extraction_dtype."""
    shards = set()
    for shard in sorted((run / "results" / "activations").glob("shard_*.safetensors")):
        with safe_open(str(shard), framework="numpy") as handle:
            meta = handle.metadata()
        if json.loads(meta["text_ids"]):
            shards.add(meta["dtype"])
    meta = json.loads((run / "results" / "readout" / "best" / "readout.json").read_text())
    assert meta["dtype"] == "float16"  # the contract's key is the vectors', whatever ran
    return shards, meta["extraction_dtype"]


def test_the_reader_follows_the_packages_dtype(tmp_path):
    from amygdala_readout.read import extraction_dtype

    assert extraction_dtype({"extraction_dtype": "float32"}, tmp_path / "readout.json") == "float32"
    assert extraction_dtype({}, tmp_path / "readout.json") == "auto"  # a package from before it was recorded
    with pytest.raises(UserError, match="'extraction_dtype' 'fp8' is not a dtype"):
        extraction_dtype({"extraction_dtype": "fp8"}, tmp_path / "readout.json")


def test_auto_runs_in_the_dtype_it_stands_for_the_digest_sees_it_and_a_rerun_gives_the_same_bytes(finished_copy):
    import yaml
    from conftest import run_snakemake, scheduled

    run = finished_copy  # the tests' runs set dtype: float32
    assert dtypes_recorded(run) == ({"float32"}, "float32")
    ran = model_io.dtype_name("auto", "auto")  # bfloat16 on a CPU with native bfloat16, as on CI
    config_path = run / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config_path.write_text(yaml.safe_dump(config | {"dtype": "auto"}))
    jobs = scheduled(run_snakemake(run, "--dry-run").stdout)
    assert ("extract_activations" in jobs) is (ran != "float32"), jobs  # the digest holds what auto stands for
    run_snakemake(run)
    assert dtypes_recorded(run) == ({ran}, ran)
    config_path.write_text(yaml.safe_dump(config | {"dtype": ran}))  # the same dtype, said explicitly
    assert "extract_activations" not in scheduled(run_snakemake(run, "--dry-run").stdout)
    # extracted again in this dtype, the activations give the same package, byte for byte
    files = [run / "results" / "readout" / "best" / "readout.safetensors"]
    files += sorted((run / "results" / "activations").glob("shard_*.safetensors"))
    before = [path.read_bytes() for path in files]
    run_snakemake(run, "--forcerun", "extract_activations")
    assert [path.read_bytes() for path in files] == before
