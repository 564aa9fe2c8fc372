"""Is a held-out set independent of the corpus? Word n-grams and proper names the two share.

An evaluation set that retells corpus scenes, or reuses its people, can be passed by matching words
instead of reading emotion; these checks keep the own evaluation set honest as the corpus grows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .corpus import shingles

# a capitalised word: its first letter upper case, then letters (and inner apostrophes or hyphens)
CAPITALISED = re.compile(r"\b([A-Z][a-z]+(?:['-][A-Za-z]+)*)\b")
# where a sentence (or a quoted line, or a note's line) starts, a capital says nothing about a name
SENTENCE_START = re.compile(r"(?:^|[.!?:;\"“”…\n]|\s-\s|—)\s*$")
# capitalised words that name no one person or place: the calendar, titles, holidays, languages
CALENDAR = {
    *"English Dutch French German Spanish Italian Portuguese Latin Greek Polish Irish Welsh Scottish".split(),
    *"British American Canadian Chinese Japanese Arabic Hindi Russian Swedish Norwegian Danish".split(),
    *"Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split(),
    *"January February March April May June July August September October November December".split(),
    *"Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec Mon Tue Wed Thu Fri Sat Sun".split(),
    *"Dr Mr Mrs Ms Mx St Christmas Easter Eid Diwali Ramadan Hanukkah".split(),
}


def shared_ngrams(texts: list[str], corpus_texts: Iterable[str], n: int = 6) -> list[tuple[int, str]]:
    """(index into ``texts``, the n-gram) for each word n-gram of a text that a corpus text also holds."""
    corpus_grams: set[tuple[str, ...]] = set()
    for text in corpus_texts:
        corpus_grams |= shingles(text, n)
    return [
        (i, " ".join(gram))
        for i, text in enumerate(texts)
        for gram in sorted(shingles(text, n))
        if len(gram) == n and gram in corpus_grams
    ]


def proper_names(texts: Iterable[str]) -> set[str]:
    """Words capitalised in the middle of a sentence that never occur in lower case in ``texts``:
    people's, pets' and places' names. Words that also occur in lower case (``Dad``), the calendar and
    titles, and every sentence's first word are left out."""
    texts = list(texts)
    lower = {w for text in texts for w in re.findall(r"[a-z][a-z'-]*", text)}
    names = set()
    for text in texts:
        for match in CAPITALISED.finditer(text):
            word = match.group(1)
            if SENTENCE_START.search(text[: match.start()]) or word.lower() in lower:
                continue
            if word in CALENDAR or word.removesuffix("s") in CALENDAR or word.removesuffix("'s") in CALENDAR:
                continue
            names.add(word)
    return names


def corpus_names_in(text: str, names: set[str]) -> list[str]:
    """The names of ``names`` that ``text`` holds capitalised, a sentence's first word too (``names``
    come from ``proper_names``, so none is a common word)."""
    return sorted({m.group(1) for m in CAPITALISED.finditer(text)} & names)
