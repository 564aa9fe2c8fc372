"""Is the own evaluation set independent of the corpus? Lists each line that shares a word 6-gram with
any corpus text, or a proper name (person, pet, place) that the corpus uses, so that it can be
rewritten; exits 1 when there is one. tests/test_own_set.py asserts that there is none.

    python bench/own_set_check.py [data/own_eval_*.jsonl ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from amygdala_readout.independence import corpus_names_in, proper_names, shared_ngrams

REPO = Path(__file__).resolve().parents[1]
OWN_SET = sorted((REPO / "data").glob("own_eval_*.jsonl"))


def problems(paths: list[Path], corpus_dir: Path = REPO / "amygdala_stories") -> list[str]:
    corpus_texts = [p.read_text() for p in sorted(corpus_dir.rglob("*.txt"))]
    names = proper_names(corpus_texts)
    found = []
    for path in paths:
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        texts = [line["text"] for line in lines]
        for i, gram in shared_ngrams(texts, corpus_texts, 6):
            found.append(f"{path.name}:{i + 1}: shares the 6-gram {gram!r} with a corpus text")
        for i, text in enumerate(texts):
            for name in corpus_names_in(text, names):
                found.append(f"{path.name}:{i + 1}: the corpus uses the name {name!r}")
    return found


if __name__ == "__main__":
    found = problems([Path(p) for p in sys.argv[1:]] or OWN_SET)
    print("\n".join(found) or "independent: no shared 6-gram, no shared name")
    sys.exit(1 if found else 0)
