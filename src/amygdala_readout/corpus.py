"""Reading and validating the story corpus.

Layout (paths relative to the corpus folder)::

    stories/<concept>.txt              one story of <concept>
    stories/<concept>/<anything>.txt   further stories of <concept>
    paired/<scenario>/baseline.txt     the scenario's events told flatly
    paired/<scenario>/<concept>.txt    the same events framed by <concept>
    neutral/<name>.txt                 a text with no emotion to speak of
    concepts.tsv                       concept, definition, words (the words a story must not use)

Positives of a concept are its stories and its framings; its negatives are every other concept's
positives plus all baselines and neutral texts. Each unique text (after normalisation) gets one row in the text table.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import UserError

CONCEPT_NAME = re.compile(r"[a-z][a-z0-9_]*")
BASELINE = "baseline"
TEXT_COLUMNS = ["text_id", "concept", "role", "scenario", "register", "kind", "source", "shard", "n_words"]
# A text's register is the first part of its file name (a scenario's: of its folder name); see
# amygdala_stories/README.md. Longest first, so that `text_message_x` is not read as `text`.
REGISTERS = (
    "text_message",
    "social_post",
    "second_person",
    "interview",
    "narrative",
    "dialogue",
    "review",
    "letter",
    "speech",
    "report",
    "email",
    "diary",
    "chat",
    "poem",
)
UNSPECIFIED = "unspecified"
# A story whose person says what they feel has `named_` right after its register; it may use its concept's
# words. Every other positive is `implied` and may not.
NAMED, IMPLIED = "named", "implied"
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


class CorpusError(UserError):
    """The corpus cannot be used as it is; the message names the file and the fix."""


@dataclass(frozen=True)
class Source:
    """One corpus file and what its place in the layout says about it."""

    path: str  # relative to the corpus folder, POSIX separators
    concept: str  # "" for baselines and neutral texts
    role: str  # "positive", "baseline" or "neutral"
    scenario: str  # "" for unpaired stories


@dataclass
class ValidatedCorpus:
    texts: pd.DataFrame  # one row per unique text, TEXT_COLUMNS
    concepts: pd.DataFrame  # concept, n_positives, status
    registers: pd.DataFrame = None  # concept, register, kind, n_texts (kind: named, implied, baseline, neutral)
    warnings: list[str] = field(default_factory=list)
    ignored: dict[str, str] = field(default_factory=dict)  # path -> why it is not read as a story
    skipped: list[str] = field(default_factory=list)  # stories that were empty
    scan: Scan | None = None  # what was read
    last_sentence_cues: dict[str, list[dict]] = field(default_factory=dict)  # concept -> over-represented words


def is_ignored_name(name: str) -> bool:
    """Hidden files and editor leftovers (``.x.swp``, ``x~``, ``#x#``) are never stories."""
    return name.startswith((".", "#")) or name.endswith(("~", ".swp", ".bak"))


NAME_RULE = "lowercase ASCII letters, digits and underscores, starting with a letter (e.g. being_recognised)"
LAYOUT = (
    "stories/<concept>.txt, stories/<concept>/<name>.txt, paired/<scenario>/<concept or baseline>.txt "
    "or neutral/<name>.txt"
)


def _check_name(kind: str, name: str, path: Path) -> None:
    if not CONCEPT_NAME.fullmatch(name):
        raise CorpusError(f"{path}: {kind} name {name!r} is not valid; use {NAME_RULE}")


TOP_LEVEL = ("stories", "paired", "neutral", "concepts.tsv")


def _ignore_reason(rel: str, is_dir: bool) -> str | None:
    """Why a corpus entry is not read, or None when it is part of the layout."""
    parts = rel.split("/")
    if any(is_ignored_name(p) for p in parts):
        return "hidden or editor file"
    if parts[0] not in TOP_LEVEL:
        return "outside stories/, paired/ and neutral/"
    if not is_dir and parts[0] != "concepts.tsv" and not rel.endswith(".txt"):
        return "not a .txt file"
    return None


def discover(corpus_dir: str | Path) -> tuple[list[Source], dict[str, str]]:
    """List the story files of the corpus in a stable order, and every other entry with why it is not read.

    Raises CorpusError for anything outside the layout, invalid names, unreadable folders, and links
    leading out of the corpus, so that no name from the corpus can ever point a path elsewhere. Linked
    folders inside the corpus are followed.
    """
    root = Path(corpus_dir)
    if not root.is_dir():
        raise CorpusError(f"{root}: corpus folder not found; set `corpus_dir` in config.yaml")
    real_root = root.resolve()

    def unreadable(err: OSError) -> None:
        raise CorpusError(
            f"{err.filename}: cannot read this folder ({err.strerror}); fix its permissions "
            "(chmod -R u+rX) or move it out of the corpus"
        )

    entries: list[tuple[Path, bool]] = []
    walked: set[Path] = set()
    for folder, dirs, files in os.walk(root, onerror=unreadable, followlinks=True):
        here = Path(folder)
        walked.add(here.resolve())
        for name in dirs + files:
            path = here / name
            if path.is_symlink() and not path.resolve().is_relative_to(real_root):
                raise CorpusError(f"{path}: a link to {path.resolve()}, outside the corpus; copy it in instead")
        entries += [(here / name, True) for name in dirs] + [(here / name, False) for name in files]
        # ignored folders are listed, not walked; a link back to a folder already walked would loop
        dirs[:] = sorted(
            d
            for d in dirs
            if _ignore_reason((here / d).relative_to(root).as_posix(), True) is None
            and (here / d).resolve() not in walked
        )
    sources: list[Source] = []
    ignored: dict[str, str] = {}
    for path, is_dir in sorted(set(entries)):
        rel = path.relative_to(root).as_posix()
        parts = rel.split("/")
        reason = _ignore_reason(rel, is_dir)
        if reason:
            ignored[rel + ("/" if is_dir else "")] = reason
            continue
        if is_dir:
            if len(parts) > 2:
                raise CorpusError(f"{path}: folders nest deeper than the layout; use {LAYOUT}")
            continue
        if rel == "concepts.tsv":
            continue
        if "{" in rel or "}" in rel:  # Snakemake reads braces in an input path as a wildcard
            raise CorpusError(
                f"{path}: braces in a story's path clash with Snakemake's wildcards; rename it without {{ }}"
            )
        stem = path.stem
        if parts[0] == "stories" and len(parts) == 2:
            source = Source(rel, stem, "positive", "")
        elif parts[0] == "stories" and len(parts) == 3:
            source = Source(rel, parts[1], "positive", "")
        elif parts[0] == "neutral" and len(parts) == 2:
            source = Source(rel, "", "neutral", "")
        elif parts[0] == "paired" and len(parts) == 3:
            _check_name("scenario", parts[1], path.parent)
            source = (
                Source(rel, "", "baseline", parts[1]) if stem == BASELINE else Source(rel, stem, "positive", parts[1])
            )
        else:
            raise CorpusError(f"{path}: not a place for a story; use {LAYOUT}")
        if source.role == "positive":
            if source.concept == BASELINE:
                raise CorpusError(
                    f"{path}: 'baseline' is reserved for paired/<scenario>/baseline.txt; rename the concept"
                )
            _check_name("concept", source.concept, path)
        sources.append(source)
    return sources, ignored


def register_of(source: Source) -> str:
    """The register a file's name (a paired telling's: its scenario's name) starts with."""
    return next((r for r in REGISTERS if _named_part(source).startswith(r + "_")), UNSPECIFIED)


def _named_part(source: Source) -> str:
    """The part of a path that names the register: a scenario's folder, a story's file name."""
    if source.scenario:
        return source.scenario
    # stories/<concept>/<register>_<slug>.txt and neutral/<register>_<slug>.txt; stories/<concept>.txt names none
    return Path(source.path).stem if source.path.count("/") == 2 or source.role == "neutral" else ""


def kind_of(source: Source) -> str:
    """`named` for a story whose name has `named_` after its register, `implied` for other positives; a
    baseline or a neutral text is of its role's kind."""
    if source.role != "positive":
        return source.role
    register = register_of(source)
    rest = _named_part(source)[len(register) + 1 :] if register != UNSPECIFIED else ""
    return NAMED if not source.scenario and rest.startswith(NAMED + "_") else IMPLIED


def shard_of(path: str, n_shards: int) -> int:
    """Shard of a corpus file, from its path alone: adding or editing a story never moves another."""
    return int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big") % n_shards


def normalise(raw: bytes, path: Path) -> str:
    """Decode a story file: UTF-8 (a BOM is dropped), LF line ends, no trailing whitespace."""
    binary = CorpusError(f"{path}: looks like a binary file, not a story; remove it or save the story as text")
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or raw[1:2] == b"\x00" or raw[:1] == b"\x00":
        raise CorpusError(f"{path}: UTF-16 text, not UTF-8; save the file as UTF-8")
    if b"\x00" in raw:
        raise binary
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CorpusError(f"{path}: not UTF-8 text (byte {err.start}); save the file as UTF-8") from None
    if sum(not c.isprintable() and c not in "\n\r\t" for c in text) > len(text) // 100:
        raise binary
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.strip().split("\n"))


def read_story(corpus_dir: str | Path, rel_path: str) -> str:
    path = Path(corpus_dir) / rel_path
    return normalise(path.read_bytes(), path)


def text_id(text: str) -> str:
    """Content hash of a normalised text; whitespace differences do not make a new text."""
    canonical = " ".join(text.split())
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def words_of(text: str) -> list[str]:
    return WORD.findall(text.lower())


CONCEPT_TABLE_COLUMNS = ("concept", "definition", "words")


def parse_concept_table(raw: bytes, path: Path) -> pd.DataFrame:
    """``concepts.tsv``: concept, definition, words (comma-separated; ``x*`` matches any x...).

    Parsed line by line rather than by pandas, which shifts a table whose row has a stray tab.
    """
    fix = "the header is concept<TAB>definition<TAB>words, one concept per line"
    if b"\x00" in raw[:4096]:
        raise CorpusError(f"{path}: not UTF-8 text (UTF-16?); save it as UTF-8 ({fix})")
    try:
        lines = raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        raise CorpusError(f"{path}: not UTF-8 text (byte {err.start}); save the file as UTF-8") from None
    if not any(line.strip() for line in lines):
        raise CorpusError(f"{path}: empty; {fix}, or delete the file")
    header = lines[0].split("\t")
    missing = [c for c in CONCEPT_TABLE_COLUMNS if c not in header]
    if missing:
        raise CorpusError(f"{path}:1: missing columns {missing}; {fix}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise CorpusError(
                f"{path}:{number}: {len(fields)} fields, the header has {len(header)}; "
                "a tab inside a field, or one missing? use commas or spaces inside fields"
            )
        rows.append(dict(zip(header, fields), line=number))
    table = pd.DataFrame(rows, columns=[*header, "line"])
    duplicated = table[table["concept"].duplicated()]
    if len(duplicated):
        first = duplicated.iloc[0]
        raise CorpusError(f"{path}:{first.line}: concept {first.concept!r} listed twice; keep one row each")
    return table


def read_concept_table(corpus_dir: str | Path) -> pd.DataFrame | None:
    path = Path(corpus_dir) / "concepts.tsv"
    if not path.exists():
        return None
    return parse_concept_table(path.read_bytes(), path)


def named_words(text: str, forbidden: list[str]) -> list[str]:
    """The words of ``text`` that match a forbidden entry (``x*`` is a prefix match)."""
    hits = set()
    for word in words_of(text):
        for entry in forbidden:
            if entry.endswith("*") and word.startswith(entry[:-1]) or word == entry:
                hits.add(word)
    return sorted(hits)


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = words_of(text)
    return {tuple(words[i : i + n]) for i in range(max(len(words) - n + 1, 1))}


def near_duplicates(items: list[tuple[str, str, str]], threshold: float) -> list[tuple[str, str, float]]:
    """Pairs (path, path, jaccard) of texts whose word 5-gram sets overlap at least ``threshold``.

    ``items`` are (path, scenario, text). Tellings of one scenario share their events on purpose and
    are not compared with each other. Only pairs that share a 5-gram are compared (an inverted index),
    which gives the same pairs as comparing all of them, since a pair sharing none has overlap 0.
    """
    sets = [shingles(text) for _, _, text in items]
    postings: dict[tuple[str, ...], list[int]] = {}
    for i, grams in enumerate(sets):
        for gram in grams:
            postings.setdefault(gram, []).append(i)
    shared = Counter(pair for members in postings.values() if len(members) > 1 for pair in combinations(members, 2))
    pairs = []
    for (i, j), common in sorted(shared.items()):
        (p1, s1, _), (p2, s2, _) = items[i], items[j]
        if s1 and s1 == s2:
            continue
        jaccard = common / (len(sets[i]) + len(sets[j]) - common)
        if jaccard >= threshold:
            pairs.append((p1, p2, round(jaccard, 3)))
    return pairs


@dataclass
class Scan:
    """What the workflow learns about the corpus while it parses: each story file's normalised text
    ("" when empty) and the concept table. Enough for content hashes (``digests.corpus_digest``); the
    checks are ``validate``'s."""

    root: Path
    sources: list[Source]
    texts: dict[str, str]  # path -> normalised text
    ignored: dict[str, str]  # path -> why it is not read
    concept_table: pd.DataFrame | None
    table_bytes: bytes

    def text_ids(self) -> dict[str, str]:
        return {path: text_id(text) for path, text in self.texts.items()}


def unread_warnings(found: Scan) -> list[str]:
    """Files and folders a user likely meant as stories but that are not read (``x.TXT``, a ``story/``
    folder): said while the workflow parses, so that adding one is never silent."""
    messages = []
    for rel, reason in found.ignored.items():
        if reason == "not a .txt file":
            messages.append(
                f"{found.root / rel}: not read, only .txt files are stories; rename it to .txt if it is one"
            )
        elif reason.startswith("outside") and rel.endswith("/"):
            messages.append(
                f"{found.root / rel}: a folder outside stories/, paired/ and neutral/, not read; move its stories there"
            )
    return messages


def shard_warnings(found: Scan, n_shards: int) -> list[str]:
    """``n_shards`` far above the number of stories: most shards are empty jobs that only start up."""
    used = {shard_of(path, n_shards) for path in found.texts}
    if n_shards - len(used) <= max(1, n_shards // 4):
        return []
    return [
        f"config.n_shards: {n_shards} shards for {len(found.texts)} story files, so {n_shards - len(used)} "
        "hold none and run as empty jobs; lower n_shards (about one shard per 100 stories)"
    ]


def scan(corpus_dir: str | Path) -> Scan:
    """Discover the corpus and read every story once (a decoding error names the file)."""
    root = Path(corpus_dir)
    sources, ignored = discover(root)
    table_path = root / "concepts.tsv"
    table_bytes = table_path.read_bytes() if table_path.is_file() else b""
    table = parse_concept_table(table_bytes, table_path) if table_path.is_file() else None
    texts = {}
    for source in sources:
        path = root / source.path
        try:
            raw = path.read_bytes()
        except OSError as err:
            raise CorpusError(f"{path}: cannot read it ({err.strerror}); fix its permissions or remove it") from None
        texts[source.path] = normalise(raw, path)
    return Scan(root, sources, texts, ignored, table, table_bytes)


def label_texts(found: Scan, *, n_shards: int, min_positives: int = 1) -> ValidatedCorpus:
    """The table of unique texts and the concepts with enough of them: the checks that stop a run.

    Cheap enough to run while the workflow parses; ``validate`` adds the warnings.
    """
    root = found.root
    rows: list[dict] = []
    skipped: list[str] = []
    warnings: list[str] = []
    first_source: dict[str, Source] = {}
    for source in found.sources:
        path = root / source.path
        text = found.texts[source.path]
        if not text:
            warnings.append(f"{path}: empty file, skipped; write the story or delete the file")
            skipped.append(source.path)
            continue
        tid = text_id(text)
        if tid in first_source:
            other = first_source[tid]
            if other.concept != source.concept or other.role != source.role:
                raise CorpusError(
                    f"{path}: the same text as {root / other.path} but labelled "
                    f"{source.concept or source.role!r} instead of {other.concept or other.role!r}; "
                    "delete one of them or rewrite it"
                )
            warnings.append(f"{path}: the same text as {root / other.path}; it is used once")
            continue
        first_source[tid] = source
        rows.append(
            {
                "text_id": tid,
                "concept": source.concept,
                "role": source.role,
                "scenario": source.scenario,
                "register": register_of(source),
                "kind": kind_of(source),
                "source": source.path,
                "shard": shard_of(source.path, n_shards),
                "n_words": 0,
            }
        )
    texts = pd.DataFrame(rows, columns=TEXT_COLUMNS)
    counts = texts[texts.role == "positive"].groupby("concept").size()
    concepts = pd.DataFrame({"concept": counts.index, "n_positives": counts.values})
    concepts["status"] = ["ok" if n >= min_positives else "too_few_positives" for n in concepts.n_positives]
    if not (concepts.status == "ok").any():
        raise CorpusError(
            f"{root}: no concept has at least min_positives={min_positives} positive texts; "
            "add stories under stories/<concept>.txt or lower min_positives in config.yaml"
        )
    return ValidatedCorpus(texts, concepts, None, warnings, found.ignored, skipped)


def validate(
    corpus_dir: str | Path,
    *,
    n_shards: int,
    min_positives: int = 1,
    min_words: int = 3,
    near_duplicate_threshold: float = 0.5,
    thin_texts: int = 12,
    thin_registers: int = 4,
    thin_named: int = 0,
    thin_implied: int = 0,
    cue_share: float = 0.25,
) -> ValidatedCorpus:
    """Read every story, check it, and build the table of unique texts.

    Raises CorpusError for what cannot be used; collects warnings for what can.
    """
    found = scan(corpus_dir)
    result = label_texts(found, n_shards=n_shards, min_positives=min_positives)
    root, texts, warnings = found.root, result.texts, result.warnings
    warn = warnings.append
    warnings += unread_warnings(found)
    table = found.concept_table
    forbidden = {}
    if table is not None:
        forbidden = {
            row.concept: [w.strip().lower() for w in row.words.split(",") if w.strip()] for row in table.itertuples()
        }
    bodies = {row.text_id: found.texts[row.source] for row in texts.itertuples()}
    texts["n_words"] = [len(words_of(bodies[tid])) for tid in texts.text_id]
    for row in texts.itertuples():
        path = root / row.source
        if row.n_words < min_words:
            warn(f"{path}: {row.n_words} words, under {min_words}; a story needs room to carry its emotion")
        if row.role == "positive":
            if table is not None and row.concept not in forbidden:
                warn(f"{path}: concept {row.concept!r} has no row in concepts.tsv; add one")
            hits = named_words(bodies[row.text_id], forbidden.get(row.concept, [])) if row.kind == IMPLIED else []
            if hits:
                warn(
                    f"{path}: names its own concept ({', '.join(hits)}); show the emotion through events instead, "
                    f"or mark the text as one that says what the person feels (<register>_{NAMED}_<slug>.txt)"
                )

    if table is not None:
        written = {s.concept for s in found.sources if s.role == "positive"}
        for row in table[~table.concept.isin(written)].itertuples():
            fix = "write its stories or drop the row"
            warn(f"{root / 'concepts.tsv'}:{row.line}: concept {row.concept!r} has no story; {fix}")
    unknown = [
        s.path
        for s in found.sources
        if not s.scenario and s.path.count("/") == 2 and "_" in Path(s.path).stem and register_of(s) == UNSPECIFIED
    ]
    if unknown:
        warn(
            f"{root / unknown[0]}{f' and {len(unknown) - 1} more' if len(unknown) > 1 else ''}: the name starts with "
            f"no known register, so the text counts as {UNSPECIFIED!r}; start it with one of {', '.join(REGISTERS)}"
        )

    scenarios: dict[str, list[Source]] = {}
    for source in found.sources:
        if source.scenario and source.path not in result.skipped:
            scenarios.setdefault(source.scenario, []).append(source)
    for scenario, members in sorted(scenarios.items()):
        folder = root / "paired" / scenario
        if not any(m.role == "baseline" for m in members):
            warn(f"{folder}: no baseline.txt; add the events told flatly")
        if sum(m.role == "positive" for m in members) < 2:
            warn(f"{folder}: fewer than two framings; a paired scenario needs several")
        baseline = next((found.texts[m.path] for m in members if m.role == "baseline"), None)
        for member in members:
            added = (
                added_particulars(found.texts[member.path], baseline) if baseline and member.role != "baseline" else []
            )
            if added:
                warn(
                    f"{root / member.path}: names or numbers its baseline lacks ({', '.join(added)}); a framing "
                    "tells the same events with the same people: keep the baseline's, or add them to the baseline"
                )

    for p1, p2, jaccard in near_duplicates(
        [(r.source, r.scenario, bodies[r.text_id]) for r in texts.itertuples()], near_duplicate_threshold
    ):
        warn(f"{root / p1} and {root / p2}: near-duplicates (word 5-gram overlap {jaccard}); rewrite one")

    emptied = sorted({s.concept for s in found.sources if s.role == "positive"} - set(texts.concept))
    for concept in emptied:
        warn(f"concept {concept!r}: every file of it is empty; skipped (write its stories or delete the files)")
    concepts = result.concepts
    for row in concepts[concepts.status != "ok"].itertuples():
        warn(
            f"concept {row.concept!r}: {row.n_positives} positive text(s), under min_positives="
            f"{min_positives}; skipped (add stories or lower min_positives)"
        )
    positives = texts[texts.role == "positive"]
    registers = texts.groupby(["concept", "register", "kind"]).size().rename("n_texts").reset_index()
    for row in concepts.itertuples():
        own = positives[positives.concept == row.concept]
        n_registers = own[own.register != UNSPECIFIED].register.nunique()
        if row.n_positives < thin_texts or n_registers < thin_registers:
            warn(
                f"concept {row.concept!r}: thin, {row.n_positives} text(s) in {n_registers} register(s), under "
                f"{thin_texts} in {thin_registers}; write more, in other registers (amygdala_stories/README.md)"
            )
        for kind, fewest in ((NAMED, thin_named), (IMPLIED, thin_implied)):
            if (own.kind == kind).sum() < fewest:
                warn(
                    f"concept {row.concept!r}: {(own.kind == kind).sum()} {kind} text(s), under {fewest}; write "
                    f"more {kind} ones (amygdala_stories/README.md, the two kinds)"
                )
    cue_texts = [(r.concept, last_sentence(bodies[r.text_id])) for r in positives.itertuples()]
    result.last_sentence_cues = last_sentence_cues(cue_texts)
    for concept, cues in result.last_sentence_cues.items():
        for cue in cues:
            if cue["share"] > cue_share:
                warn(
                    f"concept {concept!r}: {cue['word']!r} is in the last sentence of {cue['share']:.0%} of its "
                    f"texts (others: {cue['share_elsewhere']:.0%}), a template the vectors can learn instead of "
                    "the emotion; end more of them another way"
                )
    result.registers = registers
    result.scan = found
    return result


SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


def last_sentence(text: str) -> str:
    """The last sentence (or last line, for texts that end without punctuation) of a text."""
    last_line = text.strip().split("\n")[-1]
    parts = [p for p in SENTENCE_END.split(last_line) if words_of(p)]
    return parts[-1] if parts else last_line


def last_sentence_cues(
    items: list[tuple[str, str]], *, top: int = 5, min_texts: int = 8, min_z: float = 3.0
) -> dict[str, list[dict]]:
    """Per concept, the words over-represented in its texts' last sentences against every other concept's.

    ``items`` are (concept, last sentence). Log-odds ratio with an informative Dirichlet prior (Monroe,
    Colaresi and Quinn 2008; prior = all last sentences' word counts), on document frequencies: a word
    counts once per text. Only words with z >= ``min_z``, for concepts with ``min_texts`` texts or more.
    """
    sets = [(concept, set(words_of(sentence))) for concept, sentence in items]
    total: Counter[str] = Counter(word for _, words in sets for word in words)
    n_total = sum(total.values())
    by_concept: dict[str, list[set[str]]] = {}
    for concept, words in sets:
        by_concept.setdefault(concept, []).append(words)
    prior_size = min(1000.0, 0.1 * n_total)  # Monroe et al.'s a0 = 1000, scaled down for a small corpus
    cues: dict[str, list[dict]] = {}
    for concept, own_sets in sorted(by_concept.items()):
        if len(own_sets) < min_texts:
            continue
        own: Counter[str] = Counter(word for words in own_sets for word in words)
        n_own, n_rest = sum(own.values()), n_total - sum(own.values())
        n_other_texts = len(sets) - len(own_sets)
        found: list[dict[str, Any]] = []
        for word, k in own.items():
            alpha = prior_size * total[word] / n_total
            rest = total[word] - k
            delta = math.log((k + alpha) / (n_own + prior_size - k - alpha)) - math.log(
                (rest + alpha) / (n_rest + prior_size - rest - alpha)
            )
            z = delta / math.sqrt(1 / (k + alpha) + 1 / (rest + alpha))
            if z >= min_z:
                share_elsewhere = rest / n_other_texts if n_other_texts else 0.0
                found.append(
                    {"word": word, "z": round(z, 2), "share": k / len(own_sets), "share_elsewhere": share_elsewhere}
                )
        cues[concept] = sorted(found, key=lambda c: -c["z"])[:top]
    return {concept: found for concept, found in cues.items() if found}


NUMBER = re.compile(r"\d[\d.,:]*\d")  # two digits or more: a star rating's "4" may differ between framings
CLAUSE = re.compile(r"[.!?:;\n\"“”()\[\]*—–-]+")


def added_particulars(framing: str, baseline: str) -> list[str]:
    """Numbers of two digits or more, and capitalised words inside a sentence (names, places, days), of a
    framing that its baseline never uses: a framing should tell the baseline's events, not add to them."""
    known = {w.lower().removesuffix("'s") for w in re.findall(r"[\w']+", baseline)} | set(NUMBER.findall(baseline))
    found = list(NUMBER.findall(framing))
    for clause in CLAUSE.split(framing):
        words = [w.removesuffix("'s").removesuffix("’s") for w in re.findall(r"[\w'’]+", clause)]
        found += [w for w in words[1:] if w[:1].isupper() and w[1:].isalpha() and w[1:].islower()]
    return [w for w in dict.fromkeys(found) if w.lower() not in known and w not in known]


def fingerprint(texts: pd.DataFrame) -> str:
    """Hash of what the corpus says: which texts, with which labels."""
    rows = sorted(texts[["text_id", "concept", "role", "scenario"]].itertuples(index=False))
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
