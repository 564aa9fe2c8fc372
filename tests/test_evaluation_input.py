"""Bad evaluation sets: each gives one EvaluationError, one line, naming the file, the line and the fix.

The workflow reads every evaluation set while it parses, so these messages are what a user sees instead of
a run; a good file must still read exactly as it did with pandas."""

import json

import pandas as pd
import pytest

from amygdala_readout.errors import UserError
from amygdala_readout.labelled import EvaluationError, read_labelled, read_table

CONCEPTS = ["fear", "joy"]


def jsonl(*rows) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


# (file name, content, line the message must name or None, fragment the message must hold)
BAD_FILES = {
    "text null": (
        "x.jsonl",
        jsonl({"text": "a", "label": "joy"}, {"text": None, "label": "joy"}),
        2,
        '"text" is null; give the text or drop the row',
    ),
    "label null": ("x.jsonl", jsonl({"text": "a", "label": None}), 1, '"label" is null; give the label'),
    "invalid JSON": (
        "x.jsonl",
        jsonl({"text": "a", "label": "joy"}, '{"text": "b" "label": "joy"}'),
        2,
        "not valid JSON (Expecting ',' delimiter",
    ),
    "JSON list line": ("x.jsonl", jsonl(["a", "joy"]), 1, 'a JSON list, not an object; write each row as {"text"'),
    "JSON number line": ("x.jsonl", jsonl({"text": "a", "label": "joy"}, "", "3"), 3, "a number (3), not an object"),
    "JSON NaN": ("x.jsonl", jsonl('{"text": "a", "label": NaN}'), 1, "NaN is not JSON"),
    "key missing in one row": (
        "x.jsonl",
        jsonl({"text": "a", "label": "joy"}, {"text": "b"}),
        2,
        "no \"label\"; it has ['text']",
    ),
    "text a number": ("x.jsonl", jsonl({"text": 42, "label": "joy"}), 1, "a number (42); text must be a string"),
    "text a bool": ("x.jsonl", jsonl({"text": True, "label": "joy"}), 1, "true (a bool); text must be a string"),
    "text a list": ("x.jsonl", jsonl({"text": ["a"], "label": "joy"}), 1, "text must be a string"),
    "label a list": ("x.jsonl", jsonl({"text": "a", "label": ["joy"]}), 1, "a label must be a string or number"),
    "TSV row with a field too many": (
        "x.tsv",
        b"text\tlabel\na\tjoy\nb\tc\tfear\n",
        3,
        "3 fields, the header has 2; a tab inside a text?",
    ),
    "TSV row with a field too few": (
        "x.tsv",
        b"text\tlabel\na\tjoy\nb fear\n",
        3,
        "1 field, the header has 2; a missing tab?",
    ),
    "CSV row with a field too many": (
        "x.csv",
        b"text,label\nYes, I won,joy\n",
        2,
        "3 fields, the header has 2; a comma inside a text? quote the field",
    ),
    "quote running over lines": (
        "x.tsv",
        b'text\tlabel\n"a\tjoy\nb"\tfear\tx\nc\tjoy\n',
        2,
        '3 fields, the header has 2; a double quote (") opened here runs on to line 3',
    ),
    "CSV quote never closed": ("x.csv", b'text,label\na,joy\n"b,fear\nc,joy\n', 3, "never closed"),
    "CSV header only": ("x.csv", b"text,label\n", None, "no rows, only a header; add labelled texts"),
    "TSV header only, no newline": ("x.tsv", b"text\tlabel", None, "no rows, only a header"),
    "CSV blank lines only": ("x.csv", b"\n\n", None, "no header and no rows"),
    "JSONL blank lines only": ("x.jsonl", b"\n \n", None, "no rows, only blank lines"),
    "0-byte JSONL": ("x.jsonl", b"", None, "empty file (0 bytes); add labelled texts"),
    "0-byte CSV": ("x.csv", b"", None, "empty file (0 bytes)"),
    "UTF-16 with BOM": (
        "x.csv",
        "text,label\nå,joy\n".encode("utf-16"),
        None,
        "UTF-16 text, not UTF-8 (byte 0); save the file as UTF-8",
    ),
    "UTF-16 without BOM": ("x.tsv", "text\tlabel\na\tjoy\n".encode("utf-16-le"), 1, "NUL byte (byte 1); UTF-16"),
    "Latin-1": (
        "x.tsv",
        "text\tlabel\na\tjoy\ncafé\tjoy\n".encode("latin-1"),
        3,
        "not UTF-8 text (byte 20 is 0xe9; Latin-1?); save the file as UTF-8",
    ),
    "empty texts": (
        "x.csv",
        b"text,label\na,joy\n,joy\nb,fear\n  ,fear\n",
        None,
        "2 empty text(s) (lines 3, 5); fill them in or remove those rows",
    ),
    "empty label": ("x.tsv", b"text\tlabel\na\t\n", None, '1 empty "label" value(s) (line 2)'),
    "repeated column": ("x.csv", b"text,label,text\na,joy,b\n", 1, "column ['text'] appears twice"),
    "missing column": (
        "x.tsv",
        b"sentence\tlabel\na\tjoy\n",
        None,
        "no column ['text']; it has ['sentence', 'label'] (set text_column/label_column)",
    ),
    "unknown labels": (
        "x.tsv",
        b"text\tlabel\na\tjoy\nb\tennui\nc\tJoy\nd\tennui\n",
        None,
        "labels ['Joy', 'ennui'] match no concept of the readout (first on lines 4, 3); map them with `label_map`",
    ),
}


@pytest.mark.parametrize("file_name, content, line, fragment", list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_bad_file_gives_one_line_naming_file_line_and_fix(tmp_path, file_name, content, line, fragment):
    path = tmp_path / file_name
    path.write_bytes(content)
    with pytest.raises(EvaluationError) as caught:
        read_labelled(path, "text", "label", {}, CONCEPTS)
    message = str(caught.value)
    assert isinstance(caught.value, UserError)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"{path}:" if line else f"{path}: ")
    if line:
        assert message.startswith(f"{path}:{line}: ")
    assert fragment in message


@pytest.mark.parametrize("name", ["text null", "CSV row with a field too many", "Latin-1", "0-byte CSV"])
def test_read_table_gives_the_same_errors(tmp_path, name):
    file_name, content, _, fragment = BAD_FILES[name]
    path = tmp_path / file_name
    path.write_bytes(content)
    with pytest.raises(EvaluationError, match=r"^[^\n]+$") as caught:
        read_table(path, ["text", "label"])
    assert fragment in str(caught.value)


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(EvaluationError, match="unknown format; use .jsonl, .tsv or .csv"):
        read_table(tmp_path / "x.json", ["text"])
    with pytest.raises(EvaluationError, match="file not found"):
        read_table(tmp_path / "x.tsv", ["text"])


def test_jsonl_blank_lines_crlf_and_byte_order_mark_are_fine(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"text": "a", "label": "joy"}\r\n\r\n  \n{"text": "b", "label": "fear"}\n\n')
    assert read_labelled(path, "text", "label", {}, CONCEPTS) == (["a", "b"], ["joy", "fear"])


def test_a_text_that_is_not_a_string_names_the_line_after_blank_lines(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('\n{"text": "a", "label": "joy"}\n\n{"text": 7, "label": "joy"}\n')
    with pytest.raises(EvaluationError, match=r"x\.jsonl:4: \"text\" is a number \(7\); text must be a string"):
        read_labelled(path, "text", "label", {}, CONCEPTS)


def old_read(path, suffix):
    """The reader before this change, pandas only: what a good file must still give."""
    if suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False)


GOOD_ROWS = [
    {"text": "I won!", "label": "joy", "id": 1},
    {"text": 'She said "run", and ran', "label": "fear", "id": 2},
    {"text": "NA", "label": "joy", "id": 3},  # a text pandas could take for missing
    {"text": "Ünïcödé — ok\u2028still the same text", "label": "0", "id": 4},
]


def write_good(path, suffix):
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in GOOD_ROWS), encoding="utf-8")
        return
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["id", "text", "label"], delimiter="\t" if suffix == ".tsv" else ",")
        writer.writeheader()
        writer.writerows(GOOD_ROWS)


@pytest.mark.parametrize("suffix", [".jsonl", ".tsv", ".csv"])
def test_good_file_reads_as_it_did_with_pandas(tmp_path, suffix):
    path = tmp_path / f"good{suffix}"
    write_good(path, suffix)
    old = old_read(path, suffix)
    label_map = {"0": "fear"}
    texts, labels = read_labelled(path, "text", "label", label_map, CONCEPTS)
    assert texts == [str(t) for t in old["text"]] == [r["text"] for r in GOOD_ROWS]
    assert labels == [label_map.get(str(x), str(x)) for x in old["label"]] == ["joy", "fear", "joy", "fear"]
    table = read_table(path, ["text"])
    assert list(table.columns) == list(old.columns)
    assert len(table) == len(old) and list(table.index) == list(old.index)
    assert [str(t) for t in table["text"]] == [str(t) for t in old["text"]]
