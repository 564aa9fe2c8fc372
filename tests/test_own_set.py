"""The own evaluation set (data/own_eval_*.jsonl): what it holds, that it is independent of the corpus,
and that it stays as frozen in bench/RESULTS.md. The checks are the ones bench/own_set_check.py prints."""

import hashlib
import json
import re
import sys
from collections import Counter

import pytest
from conftest import REPO

from amygdala_readout.independence import corpus_names_in, proper_names, shared_ngrams

sys.path.insert(0, str(REPO / "bench"))
from own_set_check import problems  # noqa: E402  (bench scripts are not a package)

DATA = REPO / "data"
PARTS = ("basic", "fine", "neutral")
BASIC = {"anger", "disgust", "fear", "happiness", "sadness", "surprise"}


def lines(part):
    return [json.loads(line) for line in (DATA / f"own_eval_{part}.jsonl").read_text().splitlines() if line.strip()]


def concepts():
    rows = (REPO / "amygdala_stories" / "concepts.tsv").read_text().splitlines()[1:]
    return {row.split("\t")[0] for row in rows if row.strip()}


def test_the_own_set_covers_every_concept():
    basic, fine = Counter(r["label"] for r in lines("basic")), Counter(r["label"] for r in lines("fine"))
    assert set(basic) == BASIC and min(basic.values()) >= 50
    assert set(fine) == concepts() - BASIC and min(fine.values()) >= 10
    assert {r["label"] for r in lines("neutral")} == {"neutral"} and len(lines("neutral")) >= 100


def test_a_quarter_to_a_third_of_the_emotional_lines_name_the_feeling():
    for part in ("basic", "fine"):
        named = [r["named"] for r in lines(part)]
        assert 0.25 <= sum(named) / len(named) <= 0.34, part
    assert not any(r["named"] for r in lines("neutral"))


def test_the_own_set_shares_no_6gram_and_no_name_with_the_corpus():
    assert problems([DATA / f"own_eval_{part}.jsonl" for part in PARTS]) == []


def test_the_own_set_is_as_frozen_in_the_results():
    """Changing the set is a commit of its own that says why, and updates its hash in bench/RESULTS.md."""
    results = (REPO / "bench" / "RESULTS.md").read_text()
    for part in PARTS:
        digest = hashlib.sha256((DATA / f"own_eval_{part}.jsonl").read_bytes()).hexdigest()
        assert re.search(rf"`data/own_eval_{part}.jsonl` \| `sha256:{digest}`", results), part


def test_shared_ngrams_finds_six_words_in_a_row_and_not_five():
    corpus = ["She left the keys on the kitchen table and went out."]
    assert shared_ngrams(["Then he left the keys on the kitchen table again."], corpus) == [
        (0, "left the keys on the kitchen"),
        (0, "the keys on the kitchen table"),
    ]
    assert shared_ngrams(["He put the keys on the kitchen counter."], corpus) == []


@pytest.mark.parametrize(
    "text, names",
    [
        ("We drove to Oyelaran's farm near Tromsø with Kit.", {"Oyelaran's", "Kit"}),
        ("Oyelaran opened the door. Kit waved.", set()),  # a sentence's first word says nothing
        ("I told her on Wednesday in March, in English.", set()),  # calendar and languages
        ("my dad called. Then I told Dad.", set()),  # also in lower case: a word, not a name
    ],
)
def test_proper_names_are_mid_sentence_capitals_that_are_no_common_word(text, names):
    assert proper_names([text]) == names


def test_a_corpus_name_is_found_wherever_it_is_capitalised():
    assert corpus_names_in("I met Kit at the bus stop.", {"Kit", "Rosa"}) == ["Kit"]
    assert corpus_names_in("Kit and I met at the stop.", {"Kit"}) == ["Kit"]
    assert corpus_names_in("a kit for the stop", {"Kit"}) == []
