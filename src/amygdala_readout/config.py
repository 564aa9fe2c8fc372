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


def check_config_file(path: str | Path) -> None:
    """Raise ConfigError with the line of what Snakemake cannot read in a config file: Snakemake's own
    reading blames every YAML error on mixed tabs and spaces, a ``!!python/object`` tag included."""
    path = Path(path)
    if not path.is_file():
        return  # Snakemake says so itself
    try:
        yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); save it as UTF-8") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        if isinstance(err, yaml.constructor.ConstructorError):
            fix = "config values are plain YAML (text, numbers, lists, mappings): remove the !! tag"
        else:
            fix = "fix the YAML there (a missing colon or quote, a tab in the indentation?)"
        raise ConfigError(f"{where}: {problem}; {fix}") from None


def check_config(config: dict, schema_path: str | Path) -> None:
    """Raise ConfigError naming the first offending key, e.g. ``config.layers[0]: 'x' is not ...``."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    error = best_match(Draft202012Validator(schema).iter_errors(config))
    if error is not None:
        where = "config" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        message = error.message
        if error.validator in ("oneOf", "anyOf"):  # jsonschema says only "not valid under any of the given schemas"
            allowed = " or ".join(_describe(choice) for choice in error.validator_value)
            message = f"{error.instance!r} is not allowed; it takes {allowed}"
        raise ConfigError(f"{where}: {message}; see schemas/{Path(schema_path).name} for what each key takes")
    names = [evaluation.get("name") for evaluation in config.get("evaluations") or []]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(
                f"config.evaluations[{i}]: the name {name!r} is taken by evaluations[{names.index(name)}]; "
                "give each set a name of its own (its results go to results/evaluations/<name>/)"
            )
    for i, name in enumerate(config.get("methods", [])):
        if name not in METHODS:
            raise ConfigError(
                f"config.methods[{i}]: {name!r} is not a method; known: {', '.join(METHODS)} "
                "(registered in src/amygdala_readout/methods.py)"
            )


def _describe(choice: dict) -> str:
    """One alternative of a oneOf/anyOf schema, in words: ``'all'``, ``an integer >= 1``..."""
    if "const" in choice:
        return repr(choice["const"])
    if "enum" in choice:
        return "one of " + ", ".join(map(repr, choice["enum"]))
    kind = {"integer": "an integer", "number": "a number", "string": "a text"}.get(str(choice.get("type")), "a value")
    if "minimum" in choice and "maximum" in choice:
        return f"{kind} from {choice['minimum']} to {choice['maximum']}"
    if "minimum" in choice:
        return f"{kind} >= {choice['minimum']}"
    return kind
