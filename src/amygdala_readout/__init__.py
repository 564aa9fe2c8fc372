"""Concept readout vectors for causal language models.

The library knows nothing of Snakemake: each module takes plain paths and values, so the maths and the
model I/O are testable on their own. ``scripts/`` are thin adapters from the workflow to these modules.
"""

__version__ = "0.1.0"
