"""The registry of direction-fitting methods: each method's name, how it is fitted, and what it needs.

A method is one function registered with ``@method("name")``. It takes one layer's training texts and
returns a ``Fitted``: unit directions (n_concepts, hidden), and optionally a per-concept bias (servers
score (h - center)·v + bias) and eigenvalues. The workflow's config (``methods:``), the fitting and
cross-validation jobs, selection's tie-break (registration order: simplest first) and the tests all
take the list from ``METHODS``, so registering is all a new method needs. The maths lives in
``directions`` and ``subspace``, imported when a method is fitted: the workflow reads this module
while it parses, and scikit-learn alone takes a second to import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Fitted:
    """A method's result for one layer: unit directions (n_concepts, hidden), and what some methods add:
    the subspace method's top eigenvalues (n_concepts, n), a per-concept intercept (n_concepts,)."""

    directions: np.ndarray
    eigenvalues: np.ndarray | None = None
    bias: np.ndarray | None = None


@dataclass(frozen=True)
class TrainingSet:
    """One layer's training texts, and what some methods read besides their activations.

    activations: (n_texts, hidden). labels: concept per text, "" for a baseline. concepts: the concepts
    to fit, in order. bases: each text's token subspace (methods registered with token_subspaces=True).
    scenarios: paired scenario per text, "" for a single story. groups: cross-validation group per text
    (``crossval.text_groups``). directions_only: the caller reads only directions and bias
    (cross-validation), so a method may skip its extras. settings: the config values the method
    declared (``Method.settings``), by key: a new method's setting needs no field here.
    """

    activations: np.ndarray
    labels: list[str]
    concepts: list[str]
    bases: Sequence[np.ndarray] | None = None
    scenarios: list[str] | None = None
    groups: list[str] | None = None
    directions_only: bool = False
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    name: str
    fit: Callable[[TrainingSet], Fitted]
    # needs each text's token subspace: extraction keeps them only when a configured method does
    token_subspaces: bool = False
    # the config keys the method reads, passed to it in TrainingSet.settings: changing one refits this
    # method and no other
    settings: tuple[str, ...] = ()
    # returns eigenvalues: the quality report then plots their spectra
    eigenvalues: bool = False


METHODS: dict[str, Method] = {}


def method(name: str, *, token_subspaces: bool = False, settings: tuple[str, ...] = (), eigenvalues: bool = False):
    """Register the decorated function as the method ``name`` (the fields are ``Method``'s)."""

    def register(function: Callable[[TrainingSet], Fitted]):
        if name in METHODS:
            raise ValueError(f"method {name!r} is registered twice")
        METHODS[name] = Method(name, function, token_subspaces, tuple(settings), eigenvalues)
        return function

    return register


def fit(name: str, activations: np.ndarray, labels: list[str], concepts: list[str], **extra) -> Fitted:
    """Fit the method ``name`` on one layer's texts; ``extra``: the other fields of ``TrainingSet``."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[name].fit(TrainingSet(activations, list(labels), list(concepts), **extra))


def needs_token_subspaces(names: Sequence[str]) -> bool:
    return any(METHODS[name].token_subspaces for name in names)


def method_settings(name: str, config: dict) -> dict:
    """The config values the method ``name`` reads (``Method.settings``), by key."""
    return {key: config[key] for key in METHODS[name].settings}


# config keys that shape the token subspaces extraction keeps for the methods that read them
TOKEN_SUBSPACE_SETTINGS = ("subspace_k",)


def settings_of_other_methods(name: str) -> set[str]:
    """Config keys that only methods other than ``name`` read (their ``settings``, and the token
    subspaces' unless ``name`` reads those): changing one changes nothing of ``name``'s."""

    def read_by(m: Method) -> set[str]:
        return set(m.settings) | (set(TOKEN_SUBSPACE_SETTINGS) if m.token_subspaces else set())

    return set().union(*(read_by(m) for m in METHODS.values())) - read_by(METHODS[name])


# Registered simplest first (fewest assumptions and parameters): a tie in accuracy goes to the earlier.


@method("pooled")
def _pooled(t: TrainingSet) -> Fitted:
    from .directions import pooled

    return Fitted(pooled(t.activations, t.labels, t.concepts))


@method("paired_centered")
def _paired_centered(t: TrainingSet) -> Fitted:
    from .directions import paired_centered

    return Fitted(paired_centered(t.activations, t.labels, t.concepts, t.scenarios))


@method("pca")
def _pca(t: TrainingSet) -> Fitted:
    from .directions import pca

    return Fitted(pca(t.activations, t.labels, t.concepts, t.scenarios))


@method("lda")
def _lda(t: TrainingSet) -> Fitted:
    from .directions import lda

    directions, bias = lda(t.activations, t.labels, t.concepts)
    return Fitted(directions, bias=bias)


@method("subspace", token_subspaces=True, settings=("eigen_k",), eigenvalues=True)
def _subspace(t: TrainingSet) -> Fitted:
    from .subspace import subspace

    if t.bases is None:
        raise ValueError("method 'subspace' needs bases (each text's token subspace)")
    # only the eigenpairs the directions use when no one reads the spectra
    directions, eigenvalues = subspace(
        t.activations,
        t.bases,
        t.labels,
        t.concepts,
        eigen_k=t.settings.get("eigen_k", 5),
        n_eigenvalues=1 if t.directions_only else None,
    )
    return Fitted(directions, eigenvalues=eigenvalues)


@method("probe")
def _probe(t: TrainingSet) -> Fitted:
    from .directions import probe

    directions, bias, _ = probe(t.activations, t.labels, t.concepts, t.groups)
    return Fitted(directions, bias=bias)
