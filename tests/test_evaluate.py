import json

import numpy as np
import pandas as pd
import pytest

from amygdala_readout.evaluate import accuracy
from amygdala_readout.labelled import EvaluationError, read_labelled
from amygdala_readout.selection import choose_readout


def test_accuracy_counts_top1_top3_recall_and_confusion():
    concepts = ["anger", "awe", "fear", "joy"]
    labels = ["anger", "fear", "joy", "joy"]
    # awe is not among the labels, so it never competes even with the highest score
    scores = np.array(
        [
            [3, 9, 1, 2],  # anger -> anger
            [3, 9, 1, 2],  # fear  -> anger (fear last of three: top-3 only)
            [0, 9, 1, 2],  # joy   -> joy
            [5, 9, 4, 1],
        ]
    )  # joy   -> anger, joy third
    result = accuracy(scores, labels, concepts)
    assert result["labels"] == ["anger", "fear", "joy"]
    assert result["top1"] == pytest.approx(2 / 4)
    assert result["top3"] == pytest.approx(1.0)
    assert result["recall"] == {"anger": 1.0, "fear": 0.0, "joy": 0.5}
    assert result["confusion"].values.tolist() == [[1, 0, 0], [1, 0, 0], [1, 0, 1]]
    assert list(result["confusion"].index) == list(result["confusion"].columns) == ["anger", "fear", "joy"]
    assert result["chance_top1"] == pytest.approx(1 / 3)
    # balanced accuracy: the mean of the per-label recalls, not of the texts
    assert result["balanced"] == pytest.approx((1.0 + 0.0 + 0.5) / 3)


def test_choose_readout_takes_each_method_at_its_best_layer_and_ties_to_the_simpler():
    def rows(method, evaluation, per_layer):
        return [
            {
                "method": method,
                "evaluation": evaluation,
                "reading": reading,
                "scoring": scoring,
                "layer": layer,
                "balanced": value if (reading, scoring) == ("last_token", "centred") else 0.99,
            }
            for layer, value in per_layer.items()
            for reading in ("last_token", "all_tokens")
            for scoring in ("centred", "raw")
        ]

    # lda's mean over the two sets peaks at layer 2 (0.6); probe's at layer 1 (0.55); raw scores and the
    # all-token reading (0.99) must not count
    table = pd.DataFrame(
        rows("lda", "a", {1: 0.4, 2: 0.7})
        + rows("lda", "b", {1: 0.6, 2: 0.5})
        + rows("probe", "a", {1: 0.6, 2: 0.1})
        + rows("probe", "b", {1: 0.5, 2: 0.1})
    )
    method, layer, means = choose_readout(table, ("pooled", "lda", "probe"))
    assert (method, layer) == ("lda", 2)
    assert means == pytest.approx({"lda": 0.6, "probe": 0.55})
    tied = pd.DataFrame(rows("probe", "a", {1: 0.6}) + rows("lda", "a", {3: 0.6}))
    assert choose_readout(tied, ("pooled", "lda", "probe"))[:2] == ("lda", 3)


@pytest.mark.parametrize("suffix", [".jsonl", ".tsv", ".csv"])
def test_read_labelled_formats_and_label_map(tmp_path, suffix):
    rows = [{"sentence": "I won!", "emotion": "joy"}, {"sentence": "A spider!", "emotion": "fear"}]
    path = tmp_path / f"set{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        sep = "\t" if suffix == ".tsv" else ","
        path.write_text(f"sentence{sep}emotion\n" + "".join(f"{r['sentence']}{sep}{r['emotion']}\n" for r in rows))
    texts, labels = read_labelled(path, "sentence", "emotion", {"joy": "happiness"}, ["fear", "happiness"])
    assert texts == ["I won!", "A spider!"] and labels == ["happiness", "fear"]


def test_labels_matching_no_concept_are_listed(tmp_path):
    path = tmp_path / "set.tsv"
    path.write_text("text\tlabel\na\tjoy\nb\tennui\nc\tfear\n")
    with pytest.raises(EvaluationError, match=r"labels \['ennui', 'joy'\] match no concept"):
        read_labelled(path, "text", "label", {}, ["fear", "happiness"])
    with pytest.raises(EvaluationError, match=r"no column \['sentence'\]"):
        read_labelled(path, "sentence", "label", {}, ["fear"])


@pytest.mark.parametrize("rows", [[("a calm sea", "joy")], [("a calm sea", "joy"), ("the sun is out", "joy")]])
def test_a_set_with_one_label_cannot_choose_a_readout(tmp_path, rows):
    path = tmp_path / "one.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in rows))
    with pytest.raises(EvaluationError) as err:
        read_labelled(path, "text", "label", {}, ["joy", "fear"])
    assert str(err.value) == (
        f"{path}: every line is labelled 'joy'; a set needs two labels or more to tell readouts apart: add texts "
        "of other labels, or remove it from `evaluations:` in config.yaml"
    )


def test_a_text_told_twice_is_warned_with_its_lines(tmp_path):
    rows = [("a calm sea", "joy"), ("the dog growled", "fear"), ("a  calm sea", "joy"), ("the dog growled", "joy")]
    path = tmp_path / "twice.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in rows))
    said = []
    texts, _ = read_labelled(path, "text", "label", {}, ["joy", "fear"], warn=said.append)
    assert len(texts) == 4  # still read: the warning says what it costs
    assert said == [
        f"{path}: lines 3, 4 repeat an earlier text; each counts again in the accuracy (delete them unless meant)"
    ]
