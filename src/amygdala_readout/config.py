"""Checking the workflow's config against its JSON schema, with one-line messages."""

from __future__ import annotations

from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from .errors import UserError
from .methods import METHODS


class ConfigError(UserError):
    """A config value the schema does not allow."""


def check_config(config: dict, schema_path: str | Path) -> None:
    """Raise ConfigError naming the first offending key, e.g. ``config.layers[0]: 'x' is not ...``."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    error = best_match(Draft202012Validator(schema).iter_errors(config))
    if error is not None:
        where = "config" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        raise ConfigError(f"{where}: {error.message}; see schemas/{Path(schema_path).name} for what each key takes")
    for i, name in enumerate(config.get("methods", [])):
        if name not in METHODS:
            raise ConfigError(
                f"config.methods[{i}]: {name!r} is not a method; known: {', '.join(METHODS)} "
                "(registered in src/amygdala_readout/methods.py)"
            )
