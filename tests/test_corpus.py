import pytest

from amygdala_readout import corpus
from amygdala_readout.corpus import CorpusError


def test_discover_reads_the_layout_and_ignores_editor_files(tiny_corpus):
    (tiny_corpus / "stories" / ".DS_Store").write_text("x")
    (tiny_corpus / "stories" / "anger.txt~").write_text("backup")
    sources, ignored = corpus.discover(tiny_corpus)
    by_path = {s.path: s for s in sources}
    assert by_path["stories/anger.txt"] == corpus.Source("stories/anger.txt", "anger", "positive", "")
    assert by_path["stories/anger/story_2.txt"].concept == "anger"
    assert by_path["paired/bus_station/baseline.txt"].role == "baseline"
    assert by_path["paired/bus_station/happiness.txt"].scenario == "bus_station"
    assert set(ignored) == {"stories/.DS_Store", "stories/anger.txt~"}


def test_validate_builds_one_row_per_unique_text(tiny_corpus):
    result = corpus.validate(tiny_corpus, n_shards=3, min_words=0)
    assert len(result.texts) == 11
    assert result.texts.text_id.is_unique
    assert set(result.texts.role) == {"positive", "baseline"}
    assert result.texts.shard.between(0, 2).all()
    assert dict(zip(result.concepts.concept, result.concepts.n_positives)) == {
        "anger": 3, "fear": 2, "happiness": 3, "sadness": 2
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
        "concept\tdefinition\twords\nanger\tx\tangry, furious, rage*\nfear\tx\tafraid\n"
        "happiness\tx\thappy\n"
    )
    (tiny_corpus / "paired" / "lonely").mkdir()
    (tiny_corpus / "paired" / "lonely" / "fear.txt").write_text("The lift stopped between floors and the light went out.")
    stories = tiny_corpus / "stories"
    (stories / "happiness" / "near_copy.txt").write_text(
        (stories / "happiness.txt").read_text().replace("sea.", "sea today.")
    )
    warnings = "\n".join(corpus.validate(tiny_corpus, n_shards=3, min_words=18).warnings)
    assert "bus_station/anger.txt: names its own concept (furious)" in warnings
    assert "under 18" in warnings
    assert "lonely: no baseline.txt" in warnings
    assert "lonely: fewer than two framings" in warnings
    assert "near_copy.txt: near-duplicates" in warnings or "near_copy.txt and" in warnings or "happiness.txt and" in warnings
    assert "'sadness' has no row in concepts.tsv" in warnings


def test_named_words_matches_whole_words_and_prefixes():
    assert corpus.named_words("She was frightened, not afraid.", ["afraid", "frighten*"]) == ["afraid", "frightened"]
    assert corpus.named_words("A sadder saddle.", ["sad", "sadder"]) == ["sadder"]
