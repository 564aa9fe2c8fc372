import numpy as np
import pytest

from amygdala_readout import corpus
from amygdala_readout.corpus import CorpusError


def test_discover_reads_the_layout_and_ignores_editor_files(tiny_corpus):
    (tiny_corpus / "stories" / ".DS_Store").write_text("x")
    (tiny_corpus / "stories" / "anger.txt~").write_text("backup")
    sources, ignored = corpus.discover(tiny_corpus)
    by_path = {s.path: s for s in sources}
    assert by_path["stories/anger.txt"] == corpus.Source("stories/anger.txt", "anger", "positive", "")
    assert by_path["stories/anger/story2.txt"].concept == "anger"
    assert by_path["paired/bus_station/baseline.txt"].role == "baseline"
    assert by_path["paired/bus_station/happiness.txt"].scenario == "bus_station"
    assert set(ignored) == {"stories/.DS_Store", "stories/anger.txt~"}


def test_validate_builds_one_row_per_unique_text(tiny_corpus):
    result = corpus.validate(tiny_corpus, n_shards=3, min_words=0, thin_texts=0, thin_registers=0)
    assert len(result.texts) == 11
    assert result.texts.text_id.is_unique
    assert set(result.texts.role) == {"positive", "baseline"}
    assert result.texts.shard.between(0, 2).all()
    assert dict(zip(result.concepts.concept, result.concepts.n_positives)) == {
        "anger": 3,
        "fear": 2,
        "happiness": 3,
        "sadness": 2,
    }
    assert result.warnings == []


def test_empty_file_is_skipped_with_a_warning(tiny_corpus):
    (tiny_corpus / "stories" / "fear" / "blank.txt").write_text("  \n\n")
    result = corpus.validate(tiny_corpus, n_shards=3, min_words=0)
    assert len(result.texts) == 11
    assert any("blank.txt: empty file" in w for w in result.warnings)


def test_no_concept_with_enough_positives_is_an_error(tiny_corpus):
    with pytest.raises(CorpusError, match="min_positives=5"):
        corpus.validate(tiny_corpus, n_shards=3, min_words=0, min_positives=5)


def test_concept_under_min_positives_is_skipped(tiny_corpus):
    result = corpus.validate(tiny_corpus, n_shards=3, min_words=0, min_positives=3)
    status = dict(zip(result.concepts.concept, result.concepts.status))
    assert status == {"anger": "ok", "fear": "too_few_positives", "happiness": "ok", "sadness": "too_few_positives"}
    assert sum("skipped" in w for w in result.warnings) == 2


def test_bom_and_crlf_are_normalised_to_the_same_text(tmp_path):
    text = "One line.\nTwo lines."
    assert corpus.normalise(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode(), tmp_path) == text
    with pytest.raises(CorpusError, match="not UTF-8"):
        corpus.normalise(b"caf\xe9", tmp_path / "x.txt")


def test_same_text_under_two_concepts_is_an_error_naming_both(tiny_corpus):
    source = (tiny_corpus / "stories" / "fear.txt").read_text()
    (tiny_corpus / "stories" / "sadness" / "copy.txt").write_text(source)
    with pytest.raises(CorpusError, match=r"sadness/copy.txt.*stories/fear.txt"):
        corpus.validate(tiny_corpus, n_shards=3, min_words=0)


def test_shard_follows_the_path_alone():
    paths = [f"stories/concept_{i}.txt" for i in range(200)]
    shards = [corpus.shard_of(p, 8) for p in paths]
    assert shards == [corpus.shard_of(p, 8) for p in paths]
    assert set(shards) == set(range(8))  # spread over every shard


def test_quality_warnings(tiny_corpus):
    (tiny_corpus / "concepts.tsv").write_text(
        "concept\tdefinition\twords\nanger\tx\tangry, furious, rage*\nfear\tx\tafraid\nhappiness\tx\thappy\n"
    )
    (tiny_corpus / "paired" / "lonely").mkdir()
    (tiny_corpus / "paired" / "lonely" / "fear.txt").write_text(
        "The lift stopped between floors and the light went out."
    )
    stories = tiny_corpus / "stories"
    (stories / "happiness" / "near_copy.txt").write_text(
        (stories / "happiness.txt").read_text().replace("sea.", "sea today.")
    )
    warnings = "\n".join(corpus.validate(tiny_corpus, n_shards=3, min_words=18).warnings)
    assert "bus_station/anger.txt: names its own concept (furious)" in warnings
    assert "under 18" in warnings
    assert "lonely: no baseline.txt" in warnings
    assert "lonely: fewer than two framings" in warnings
    assert (
        "near_copy.txt: near-duplicates" in warnings
        or "near_copy.txt and" in warnings
        or "happiness.txt and" in warnings
    )
    assert "'sadness' has no row in concepts.tsv" in warnings


def test_named_words_matches_whole_words_and_prefixes():
    assert corpus.named_words("She was frightened, not afraid.", ["afraid", "frighten*"]) == ["afraid", "frightened"]
    assert corpus.named_words("A sadder saddle.", ["sad", "sadder"]) == ["sadder"]


def test_register_comes_from_the_file_name_or_the_scenario_name(tmp_path):
    from amygdala_readout.corpus import Source, register_of

    assert register_of(Source("stories/fear/text_message_lane.txt", "fear", "positive", "")) == "text_message"
    assert register_of(Source("stories/fear/chat_x.txt", "fear", "positive", "")) == "chat"
    assert register_of(Source("stories/fear/lane.txt", "fear", "positive", "")) == "unspecified"
    assert register_of(Source("stories/fear.txt", "fear", "positive", "")) == "unspecified"
    assert register_of(Source("paired/diary_bus/fear.txt", "fear", "positive", "diary_bus")) == "diary"
    assert register_of(Source("paired/bus/fear.txt", "fear", "positive", "bus")) == "unspecified"


def test_registers_are_counted_and_thin_concepts_warned(tiny_corpus):
    (tiny_corpus / "stories" / "fear" / "text_message_lane.txt").write_text("someone is outside. please pick up\n")
    (tiny_corpus / "stories" / "fear" / "diary_cliff.txt").write_text("The ledge crumbled under my boot.\n")
    result = corpus.validate(tiny_corpus, n_shards=2, thin_texts=3, thin_registers=2)
    counts = {(r.concept, r.register): r.n_texts for r in result.registers.itertuples()}
    assert counts[("fear", "text_message")] == 1 and counts[("fear", "diary")] == 1
    assert counts[("fear", "unspecified")] == 2
    thin = [w for w in result.warnings if "thin" in w]
    assert any("'anger'" in w for w in thin) and not any("'fear'" in w for w in thin)
    assert set(result.texts.register) >= {"text_message", "diary", "unspecified"}


def test_a_name_that_starts_with_no_register_is_said_once_listing_the_registers(tiny_corpus):
    for name in ("limerick_bus.txt", "haiku_rain.txt"):
        (tiny_corpus / "stories" / "fear" / name).write_text("The footsteps stopped when she stopped.\n")
    said = [w for w in corpus.validate(tiny_corpus, n_shards=2).warnings if "no known register" in w]
    assert said == [
        f"{tiny_corpus / 'stories/fear/haiku_rain.txt'} and 1 more: the name starts with no known register, so the "
        f"text counts as 'unspecified'; start it with one of {', '.join(corpus.REGISTERS)}"
    ]


def test_a_concept_in_the_table_with_no_story_is_said_with_its_line(tiny_corpus):
    rows = ["concept\tdefinition\twords"] + [f"{c}\tthe feeling\t{c}" for c in ("anger", "fear", "awe", "happiness")]
    (tiny_corpus / "concepts.tsv").write_text("\n".join(rows) + "\n")
    said = [w for w in corpus.validate(tiny_corpus, n_shards=2).warnings if "has no story" in w]
    assert said == [f"{tiny_corpus / 'concepts.tsv'}:4: concept 'awe' has no story; write its stories or drop the row"]


def test_near_duplicates_finds_the_pairs_the_exhaustive_check_finds():
    from itertools import combinations

    from amygdala_readout.corpus import near_duplicates, shingles

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    base = [list(rng.choice(words, 40)) for _ in range(12)]
    texts = []
    for i, b in enumerate(base):  # each base text, and an edited copy of some: overlaps of every size
        texts.append((f"t{i}", "s1" if i < 3 else "", " ".join(b)))
        if i % 2:
            edited = b[: 10 + 2 * i] + list(rng.choice(words, 40 - 10 - 2 * i))
            texts.append((f"t{i}_copy", "", " ".join(edited)))
    for threshold in (0.05, 0.2, 0.5):
        expected = []
        for (p1, s1, a), (p2, s2, b) in combinations(texts, 2):
            if s1 and s1 == s2:
                continue
            x, y = shingles(a), shingles(b)
            if len(x & y) / len(x | y) >= threshold:
                expected.append((p1, p2, round(len(x & y) / len(x | y), 3)))
        got = near_duplicates(texts, threshold)
        assert sorted(got) == sorted(expected)
        assert expected, "the planted copies overlap"
