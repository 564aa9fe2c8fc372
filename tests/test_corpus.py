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


def test_neutral_texts_are_negatives_of_every_concept_counted_by_register(tiny_corpus, tmp_path):
    from amygdala_readout.store import fitting_set, write_tsv

    (tiny_corpus / "neutral").mkdir()
    (tiny_corpus / "neutral" / "email_meeting_moved.txt").write_text("The review moves to room 4 at 10:30.\n")
    (tiny_corpus / "neutral" / "bus_times.txt").write_text("The 14:10 leaves from platform 3.\n")
    result = corpus.validate(tiny_corpus, n_shards=3, min_words=0, thin_texts=0, thin_registers=0)
    neutral = result.texts[result.texts.role == "neutral"]
    assert sorted(neutral.register) == ["email", "unspecified"] and set(neutral.concept) == {""}
    counts = {(r.concept, r.register, r.kind): r.n_texts for r in result.registers.itertuples()}
    assert counts[("", "email", "neutral")] == 1 and counts[("", "unspecified", "baseline")] == 1
    assert list(result.concepts.concept) == ["anger", "fear", "happiness", "sadness"]  # not a concept
    write_tsv(tmp_path / "texts.tsv", result.texts)
    write_tsv(tmp_path / "concepts.tsv", result.concepts)
    fitting = fitting_set(tmp_path / "texts.tsv", tmp_path / "concepts.tsv")
    neutral_labels = [label for label, source in zip(fitting.labels, fitting.sources) if source.startswith("neutral/")]
    assert neutral_labels == ["", ""]


def test_a_folder_inside_neutral_is_refused(tiny_corpus):
    (tiny_corpus / "neutral" / "drafts").mkdir(parents=True)
    (tiny_corpus / "neutral" / "drafts" / "x.txt").write_text("The 14:10 leaves from platform 3.\n")
    with pytest.raises(CorpusError, match="not a place for a story; use .*neutral/<name>.txt"):
        corpus.validate(tiny_corpus, n_shards=3)


def test_the_kind_comes_from_the_file_name_and_only_implied_texts_must_not_name_their_concept(tiny_corpus):
    from amygdala_readout.corpus import Source, kind_of

    assert kind_of(Source("stories/fear/chat_named_lane.txt", "fear", "positive", "")) == "named"
    assert kind_of(Source("stories/fear/chat_lane.txt", "fear", "positive", "")) == "implied"
    assert kind_of(Source("stories/fear/named_lane.txt", "fear", "positive", "")) == "implied"  # no register
    assert kind_of(Source("paired/diary_named_x/fear.txt", "fear", "positive", "diary_named_x")) == "implied"
    assert kind_of(Source("neutral/chat_x.txt", "", "neutral", "")) == "neutral"
    (tiny_corpus / "concepts.tsv").write_text(
        "concept\tdefinition\twords\n"
        + "".join(f"{c}\tthe feeling\t{c}, afraid\n" for c in ("anger", "fear", "happiness", "sadness"))
    )
    (tiny_corpus / "stories" / "fear" / "chat_named_lane.txt").write_text("ngl I'm afraid of that lane at night\n")
    (tiny_corpus / "stories" / "fear" / "chat_lane.txt").write_text("I was afraid of the lane.\n")
    result = corpus.validate(tiny_corpus, n_shards=3, min_words=0, thin_texts=0, thin_registers=0)
    naming = [w for w in result.warnings if "names its own concept" in w]
    assert naming == [
        f"{tiny_corpus / 'stories/fear/chat_lane.txt'}: names its own concept (afraid); show the emotion through "
        "events instead, or mark the text as one that says what the person feels (<register>_named_<slug>.txt)"
    ]
    kinds = dict(zip(result.texts.source, result.texts.kind))
    assert kinds["stories/fear/chat_named_lane.txt"] == "named" and kinds["stories/fear/chat_lane.txt"] == "implied"


def test_a_concept_thin_in_one_kind_is_warned(tiny_corpus):
    (tiny_corpus / "stories" / "fear" / "chat_named_lane.txt").write_text("ngl that lane at night gets me\n")
    result = corpus.validate(tiny_corpus, n_shards=3, min_words=0, thin_texts=0, thin_registers=0, thin_named=1)
    thin = [w for w in result.warnings if "named text(s)" in w]
    assert len(thin) == 3 and not any("'fear'" in w for w in thin)
    assert "concept 'anger': 0 named text(s), under 1; write more named ones" in thin[0]


def test_a_word_that_ends_over_a_quarter_of_a_concepts_texts_is_a_template(tmp_path):
    rng = np.random.default_rng(0)
    vocabulary = [f"w{i}" for i in range(300)]
    root = tmp_path / "corpus"
    for concept in ("anger", "fear", "sadness", "happiness"):
        folder = root / "stories" / concept
        folder.mkdir(parents=True)
        for i in range(40):
            words = list(rng.choice(vocabulary, size=8, replace=False))
            if concept == "anger" and i < 14 or i == 0:  # 35% of anger's last sentences, 2.5% of the others'
                words[3] = "pay"
            (folder / f"chat_{i}.txt").write_text(f"It began there. {' '.join(words)}.\n")
    result = corpus.validate(root, n_shards=2, min_words=0, thin_texts=0, thin_registers=0)
    templates = [w for w in result.warnings if "a template" in w]
    assert templates == [
        "concept 'anger': 'pay' is in the last sentence of 35% of its texts (others: 2%), a template the vectors "
        "can learn instead of the emotion; end more of them another way"
    ]
    assert result.last_sentence_cues["anger"][0]["word"] == "pay"
    quiet = corpus.validate(root, n_shards=2, min_words=0, thin_texts=0, thin_registers=0, cue_share=0.5)
    assert not [w for w in quiet.warnings if "a template" in w]


def test_last_sentence_is_the_last_sentence_of_the_last_line():
    assert corpus.last_sentence('First one. Then the second!\n\nA: hi there. B: "go away."') == 'B: "go away."'
    assert corpus.last_sentence("no punctuation at all") == "no punctuation at all"


def test_a_framing_that_adds_names_or_numbers_to_its_baseline_is_warned(tiny_corpus):
    scenario = tiny_corpus / "paired" / "bus_station"
    (scenario / "baseline.txt").write_text("Mira waited at the bus station. The bus came at 10:15.\n")
    (scenario / "fear.txt").write_text(
        "Mira waited at the bus station, and Tomas watched her. The bus came at 10:45.\n"
    )
    (scenario / "happiness.txt").write_text("Mira waited. Honestly, the bus came at 10:15 and Mira grinned.\n")
    result = corpus.validate(tiny_corpus, n_shards=3, min_words=0, thin_texts=0, thin_registers=0)
    added = [w for w in result.warnings if "baseline lacks" in w]
    assert added == [
        f"{scenario / 'fear.txt'}: names or numbers its baseline lacks (10:45, Tomas); a framing tells the same "
        "events with the same people: keep the baseline's, or add them to the baseline"
    ]
