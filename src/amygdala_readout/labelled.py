"""Labelled text sets (.jsonl, .tsv, .csv): read and checked, with one-line errors that name the file,
the line and the fix."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .errors import UserError


class EvaluationError(UserError):
    """A labelled data set that cannot be evaluated as configured."""


_ADD_ROWS = "add labelled texts or remove this evaluation from config.yaml"
_SHOWN_LINES = 5  # how many line numbers a message lists before "..."


def read_table(path: str | Path, columns: list[str]) -> pd.DataFrame:
    """A labelled data set from .jsonl, .tsv or .csv, checked to have ``columns`` and no empty text.

    ``columns[0]`` is the text column: every value must be a non-empty string; the other columns must
    hold a string or number in every row. Any fault raises one EvaluationError naming the file, the
    line and the fix."""
    return _read_checked(Path(path), columns)[0]


def _read_checked(path: Path, columns: list[str]) -> tuple[pd.DataFrame, list[int]]:
    """The table and, per row, its 1-based line in the file (for messages that point at rows)."""
    readers = {".jsonl": _parse_jsonl, ".tsv": _parse_delimited, ".csv": _parse_delimited}
    if path.suffix not in readers:
        raise EvaluationError(f"{path}: unknown format; use .jsonl, .tsv or .csv")
    if not path.is_file():
        raise EvaluationError(f"{path}: file not found; fix `path` of this evaluation in config.yaml")
    header, rows, lines = readers[path.suffix](path, _decode(path), columns)
    missing = [c for c in columns if c not in header]
    if missing:
        raise EvaluationError(f"{path}: no column {missing}; it has {header} (set text_column/label_column)")
    for row, line in zip(rows, lines):
        _check_row(path, line, row, columns)
    _check_not_empty(path, rows, lines, columns)
    return pd.DataFrame(rows, columns=header), lines


def _decode(path: Path) -> str:
    """The file as text; pandas would fail on anything but UTF-8 with a codec traceback, or misread it."""
    data = path.read_bytes()
    if not data:
        raise EvaluationError(f"{path}: empty file (0 bytes); {_ADD_ROWS}")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise EvaluationError(f"{path}: UTF-16 text, not UTF-8 (byte 0); save the file as UTF-8")
    try:
        text = data.decode("utf-8-sig")  # a UTF-8 byte order mark, as some editors write, is harmless
    except UnicodeDecodeError as error:
        raise EvaluationError(
            f"{path}:{_line_at(data, error.start)}: not UTF-8 text (byte {error.start} is "
            f"{data[error.start]:#04x}; Latin-1?); save the file as UTF-8"
        ) from None
    if "\0" in text:  # UTF-16 without a byte order mark is valid UTF-8, with a NUL in every other byte
        nul = data.index(b"\0")
        raise EvaluationError(
            f"{path}:{_line_at(data, nul)}: a NUL byte (byte {nul}); UTF-16 text? save the file as UTF-8"
        )
    return text


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _parse_jsonl(path: Path, text: str, columns: list[str]) -> tuple[list[str], list[dict], list[int]]:
    """One JSON object per line; blank lines are skipped. The header is every key, in order of first use."""
    header: dict[str, None] = {}
    rows, lines = [], []
    # split on "\n" only: str.splitlines would also split at U+2028, which a JSON string may hold as is
    for line, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        row = _json_object(path, line, raw, columns)
        header.update(dict.fromkeys(row))
        rows.append(row)
        lines.append(line)
    if not rows:
        raise EvaluationError(f"{path}: no rows, only blank lines; {_ADD_ROWS}")
    return list(header), rows, lines


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON; write null or a number")


def _json_object(path: Path, line: int, raw: str, columns: list[str]) -> dict:
    try:
        value = json.loads(raw, parse_constant=_reject_constant)  # NaN would become the label "nan"
    except json.JSONDecodeError as error:
        raise EvaluationError(
            f"{path}:{line}: not valid JSON ({error.msg} at column {error.colno}); fix that line or delete it"
        ) from None
    except ValueError as error:
        raise EvaluationError(f"{path}:{line}: not valid JSON ({error}); fix that line or delete it") from None
    if not isinstance(value, dict):
        example = "{" + ", ".join(f'"{c}": ...' for c in columns) + "}"
        raise EvaluationError(f"{path}:{line}: {_json_kind(value)}, not an object; write each row as {example}")
    return value


def _json_kind(value) -> str:
    """What a JSON value is, in words, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{json.dumps(value)} (a bool)"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return "a string"
    return "a JSON list" if isinstance(value, list) else "an object"


def _parse_delimited(path: Path, text: str, columns: list[str]) -> tuple[list[str], list[dict], list[int]]:
    """A header line and rows of exactly as many fields (pandas would shift or fill a ragged row)."""
    delimiter = "\t" if path.suffix == ".tsv" else ","
    # the csv module caps a field at 128 KiB by default; a long text is no fault of the file
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    records = _csv_records(path, text, delimiter)
    if not records:
        raise EvaluationError(f"{path}: no header and no rows, only blank lines; {_ADD_ROWS}")
    (_, _, header), body = records[0], records[1:]
    _check_header(path, header)
    if not body:
        raise EvaluationError(f"{path}: no rows, only a header; {_ADD_ROWS}")
    for start, end, fields in body:
        if len(fields) != len(header):
            raise EvaluationError(f"{path}:{start}: {_ragged_advice(len(fields), len(header), delimiter, start, end)}")
    return header, [dict(zip(header, fields)) for _, _, fields in body], [start for start, _, _ in body]


def _csv_records(path: Path, text: str, delimiter: str) -> list[tuple[int, int, list[str]]]:
    """(first line, last line, fields) of each non-blank record; a quoted field may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records, start = [], 1
    try:
        for fields in reader:
            if "".join(fields).strip() or len(fields) > 1:  # a blank line is no row, as with pandas
                records.append((start, reader.line_num, fields))
            start = reader.line_num + 1
    except csv.Error as error:
        raise EvaluationError(
            f"{path}:{reader.line_num}: not valid {path.suffix[1:].upper()} ({error}); fix that line"
        ) from None
    if records and _quote_left_open(text, records[-1][0], delimiter):
        raise EvaluationError(
            f'{path}:{records[-1][0]}: a double quote (") opened here is never closed; close it, or remove it'
        )
    return records


def _quote_left_open(text: str, start: int, delimiter: str) -> bool:
    """Whether the last record runs to the end of the file inside quotes: the csv module accepts that."""
    tail = "".join(io.StringIO(text, newline="").readlines()[start - 1 :])
    try:
        list(csv.reader(io.StringIO(tail, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False


def _check_header(path: Path, header: list[str]) -> None:
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:  # pandas would silently rename the second one "name.1"
        raise EvaluationError(f"{path}:1: column {repeated} appears twice in the header; rename or remove one")


def _ragged_advice(n_fields: int, n_header: int, delimiter: str, start: int, end: int) -> str:
    """What a row of the wrong field count most likely means, and its fix."""
    counts = f"{n_fields} field{'s' if n_fields != 1 else ''}, the header has {n_header}"
    separator = "tab" if delimiter == "\t" else "comma"
    if end > start:
        return f'{counts}; a double quote (") opened here runs on to line {end}? close it where the text ends'
    if n_fields > n_header:
        return f"{counts}; a {separator} inside a text? quote the field or remove the {separator}"
    return f"{counts}; a missing {separator}? give every field or drop the row"


def _check_row(path: Path, line: int, row: dict, columns: list[str]) -> None:
    """The row has every column; the text is a string, the others a string or number (JSON may hold anything)."""
    for i, column in enumerate(columns):
        if column not in row:
            raise EvaluationError(f'{path}:{line}: no "{column}"; it has {list(row)}; add it or drop the row')
        value = row[column]
        what = "text" if i == 0 else "label"
        if value is None:
            raise EvaluationError(f'{path}:{line}: "{column}" is null; give the {what} or drop the row')
        if i == 0 and not isinstance(value, str):
            raise EvaluationError(
                f'{path}:{line}: "{column}" is {_json_kind(value)}; text must be a string: '
                "put it in quotes or drop the row"
            )
        if isinstance(value, (bool, list, dict)):
            raise EvaluationError(
                f'{path}:{line}: "{column}" is {_json_kind(value)}; '
                "a label must be a string or number: fix it or drop the row"
            )


def _check_not_empty(path: Path, rows: list[dict], lines: list[int], columns: list[str]) -> None:
    for i, column in enumerate(columns):
        empty = [line for row, line in zip(rows, lines) if not str(row[column]).strip()]
        if empty:
            what = "text(s)" if i == 0 else f'"{column}" value(s)'
            raise EvaluationError(
                f"{path}: {len(empty)} empty {what} ({_lines(empty)}); fill them in or remove those rows"
            )


def _lines(numbers: list[int]) -> str:
    """'line 3' or 'lines 3, 7, 9, ...': the first few, enough to find them."""
    shown = ", ".join(map(str, numbers[:_SHOWN_LINES])) + (", ..." if len(numbers) > _SHOWN_LINES else "")
    return f"line{'s' if len(numbers) > 1 else ''} {shown}"


def read_labelled(
    path: str | Path,
    text_column: str,
    label_column: str,
    label_map: dict[str, str],
    concepts: list[str],
    warn: Callable[[str], object] | None = None,
) -> tuple[list[str], list[str]]:
    """Texts and their concept labels; labels go through ``label_map`` and must all be concepts, two or
    more of them. ``warn`` hears of texts told twice (each counts again in the accuracy)."""
    table, lines = _read_checked(Path(path), [text_column, label_column])
    labels = [label_map.get(str(label), str(label)) for label in table[label_column]]
    first_line: dict[str, int] = {}
    for label, line in zip(labels, lines):
        first_line.setdefault(label, line)
    unknown = sorted(set(labels) - set(concepts))
    if unknown:
        raise EvaluationError(
            f"{path}: labels {unknown} match no concept of the readout "
            f"(first on {_lines([first_line[label] for label in unknown])}); map them with `label_map` "
            "(label: concept) or drop those rows"
        )
    if len(set(labels)) < 2:
        raise EvaluationError(
            f"{path}: every line is labelled {labels[0]!r}; a set needs two labels or more to tell readouts "
            "apart: add texts of other labels, or remove it from `evaluations:` in config.yaml"
        )
    texts = [str(t) for t in table[text_column]]
    seen: dict[str, int] = {}
    repeats = [line for text, line in zip(texts, lines) if seen.setdefault(" ".join(text.split()), line) != line]
    if repeats and warn is not None:
        warn(
            f"{path}: {_lines(repeats)} {'repeats' if len(repeats) == 1 else 'repeat'} an earlier text; each "
            "counts again in the accuracy "
            "(delete them unless meant)"
        )
    return texts, labels
