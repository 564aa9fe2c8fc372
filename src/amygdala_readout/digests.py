"""Content hashes the workflow decides reruns by: of files, of the corpus and each shard of it, and of
the library code a script runs.

A rule's result depends on its script and on every library module that script imports, directly or
through other modules. Snakemake notices an edited script but not the code it imports, so the workflow
hashes this closure into each rule's params. Reading the imports (rather than listing modules by hand)
keeps the hash right when an import is added.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from .corpus import Scan, shard_of, text_id

PACKAGE = __name__.rsplit(".", 1)[0]
LIBRARY = Path(__file__).parent


def _imported_modules(source: str, current: str | None, library: Path) -> set[str]:
    """Library module names (``corpus``, ``store``...) that ``source`` imports; ``current`` is the
    importing library module's name (for relative imports), None for a script."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from . import x / from .x import y, inside the library
                base = node.module or ""
            elif node.module == PACKAGE:
                base = ""
            elif (node.module or "").startswith(PACKAGE + "."):
                base = (node.module or "")[len(PACKAGE) + 1 :]
            else:
                continue
            names = [base] if base else [alias.name for alias in node.names]
            names = [PACKAGE + "." + name for name in names]
        else:
            continue
        for name in names:
            if name.startswith(PACKAGE + "."):
                module = name[len(PACKAGE) + 1 :].split(".")[0]
                if (library / f"{module}.py").is_file():
                    found.add(module)
    found.discard(current)
    return found


def module_closure(script: str | Path, library: str | Path = LIBRARY) -> list[str]:
    """Library modules a script runs, sorted: its imports, their imports, and so on."""
    library = Path(library)
    seen: set[str] = set()
    todo = _imported_modules(Path(script).read_text(), None, library) | {"__init__"}
    while todo:
        module = todo.pop()
        seen.add(module)
        todo |= _imported_modules((library / f"{module}.py").read_text(), module, library) - seen
    return sorted(seen)


def code_digest(script: str | Path, library: str | Path = LIBRARY) -> str:
    """Hash of a script and every library module it runs: an edit to any of them changes it."""
    library = Path(library)
    digest = hashlib.sha256(Path(script).read_bytes())
    for module in module_closure(script, library):
        digest.update(module.encode())
        digest.update((library / f"{module}.py").read_bytes())
    return digest.hexdigest()[:16]


def file_digest(path: str | Path) -> str:
    """Hash of a file's bytes (a data file the workflow reads; small enough to read whole)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def texts_digest(texts: dict[str, str]) -> str:
    """Hash of files' paths and normalised texts ({path: text})."""
    return hashlib.sha256(repr(sorted((p, text_id(t)) for p, t in texts.items())).encode()).hexdigest()[:16]


def shard_digest(scan: Scan, shard: int, n_shards: int) -> str:
    """Hash of one shard's files and contents: changes exactly when that shard must be re-extracted."""
    return texts_digest({p: t for p, t in scan.texts.items() if shard_of(p, n_shards) == shard})


def corpus_digest(scan: Scan) -> str:
    """Hash of every story file's path and content, and of the concept table."""
    digest = hashlib.sha256(repr(sorted(scan.text_ids().items())).encode())
    digest.update(scan.table_bytes)
    return digest.hexdigest()[:16]
