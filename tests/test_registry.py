"""The method registry: a new method is one registered function, and everything takes the list from it."""

from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import PLANTED_CONCEPTS as CONCEPTS
from conftest import planted_corpus

from amygdala_readout import methods
from amygdala_readout.config import ConfigError, check_config
from amygdala_readout.crossval import accuracy_summary, heldout_predictions, text_groups
from amygdala_readout.digests import module_closure
from amygdala_readout.masks import positive_masks, unit_rows
from amygdala_readout.methods import METHODS, Fitted, TrainingSet, fit, method

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas" / "config.schema.yaml"


@pytest.fixture
def toy_method():
    """The README's worked example, registered for one test."""

    @method("median_difference")
    def median_difference(t: TrainingSet) -> Fitted:
        acts = np.asarray(t.activations, dtype=np.float64)
        masks = positive_masks(t.labels, t.concepts)
        return Fitted(unit_rows(np.stack([np.median(acts[m], 0) - np.median(acts[~m], 0) for m in masks])))

    yield "median_difference"
    METHODS.pop("median_difference", None)


def test_a_registered_method_fits_cross_validates_and_passes_the_config_check(toy_method):
    acts, labels, scenarios, sources = planted_corpus()
    fitted = fit(toy_method, acts, labels, CONCEPTS)
    assert fitted.directions.shape == (3, acts.shape[1])
    assert np.allclose(np.linalg.norm(fitted.directions, axis=1), 1)
    predictions = heldout_predictions(toy_method, acts, labels, CONCEPTS, text_groups(scenarios, sources))
    assert accuracy_summary(predictions[predictions.scoring == "centred"])["top1"] == 1.0
    check_config({"methods": ["pooled", toy_method]}, SCHEMA)
    METHODS.pop(toy_method)
    with pytest.raises(ConfigError, match=r"config.methods\[1\]: 'median_difference' is not a method"):
        check_config({"methods": ["pooled", toy_method]}, SCHEMA)


def test_a_name_registered_twice_is_refused():
    with pytest.raises(ValueError, match="'pooled' is registered twice"):
        method("pooled")(lambda t: None)


def test_an_unknown_method_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown method 'magic'; known: pooled, paired_centered"):
        fit("magic", np.zeros((2, 3)), ["a", ""], ["a"])


def test_the_default_methods_are_registered_and_only_subspace_needs_token_subspaces():
    defaults = yaml.safe_load(SCHEMA.read_text())["properties"]["methods"]["default"]
    assert set(defaults) <= set(METHODS)
    assert [name for name, m in METHODS.items() if m.token_subspaces] == ["subspace"]
    assert [name for name, m in METHODS.items() if m.eigenvalues] == ["subspace"]
    assert not methods.needs_token_subspaces(defaults)


def test_a_method_reads_its_settings_from_config_and_cross_validation_passes_them():
    seen = []

    @method("top_k_mean", settings=("eigen_k",))
    def top_k_mean(t: TrainingSet) -> Fitted:
        seen.append((t.settings["eigen_k"], t.directions_only))
        return METHODS["pooled"].fit(t)

    try:
        config = {"eigen_k": 3, "cv_folds": 5}
        settings = methods.method_settings("top_k_mean", config)
        assert settings == {"eigen_k": 3} and methods.method_settings("pooled", config) == {}
        acts, labels, scenarios, sources = planted_corpus()
        fit("top_k_mean", acts, labels, CONCEPTS, settings=settings)
        heldout_predictions(
            "top_k_mean", acts, labels, CONCEPTS, text_groups(scenarios, sources), n_folds=2, settings=settings
        )
        assert seen == [(3, False), (3, True), (3, True)]  # the fit, then each fold (directions only)
    finally:
        METHODS.pop("top_k_mean", None)


def test_each_method_leaves_out_only_the_settings_other_methods_read():
    assert methods.settings_of_other_methods("subspace") == set()
    for name in ("pooled", "lda", "probe"):
        assert methods.settings_of_other_methods(name) == {"eigen_k", "subspace_k"}

    @method("reads_subspaces", token_subspaces=True)
    def reads_subspaces(t: TrainingSet) -> Fitted:
        return METHODS["pooled"].fit(t)

    try:  # it reads the token subspaces, so their setting is its own; eigen_k is still subspace's
        assert methods.settings_of_other_methods("reads_subspaces") == {"eigen_k"}
        assert methods.settings_of_other_methods("subspace") == set()
    finally:
        METHODS.pop("reads_subspaces", None)


def test_the_config_comments_and_the_schema_name_every_registered_method():
    described = yaml.safe_load(SCHEMA.read_text())["properties"]["methods"]["description"]
    comment = next(line for line in (REPO / "config.yaml").read_text().splitlines() if "Direction-fitting" in line)
    for name in METHODS:
        assert f"`{name}`" in described
        assert name in comment


def test_the_library_has_no_import_cycle():
    library = REPO / "src" / "amygdala_readout"
    # a module is in a cycle when it reaches itself through what it imports
    cycles = [p.stem for p in library.glob("*.py") if p.stem != "__init__" and p.stem in module_closure(p)]
    assert cycles == []


# Jobs that only move tables and small files: each would spend 1-3 s importing torch or scikit-learn,
# locally and as every cluster job, for nothing.
LIGHT_SCRIPTS = ("validate_corpus", "resolve_layers", "heldout_summary", "select_readout", "plot_spectra")
HEAVY = ("torch", "sklearn")


def imports_of(source: str) -> str:
    """The import statements of a module's top level, as code."""
    import ast

    tree = ast.parse(source)
    return ast.unparse([n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)])


@pytest.mark.parametrize(
    "name, source",
    [("rules/common.smk", (REPO / "rules" / "common.smk").read_text().split("\nSCHEMA =")[0])]
    + [(f"scripts/{s}.py", (REPO / "scripts" / f"{s}.py").read_text()) for s in LIGHT_SCRIPTS],
    ids=lambda value: value if "/" in str(value) else "",
)
def test_parse_time_modules_and_light_scripts_leave_torch_and_sklearn_unloaded(name, source):
    import json
    import subprocess
    import sys

    probe = f"{imports_of(source)}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert json.loads(loaded.splitlines()[-1]) == [], name
