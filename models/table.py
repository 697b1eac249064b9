"""Read any flat table of people and a yes/no label, as real exports come: odd encodings, separators and labels.

CSV text is decoded by its byte-order mark (UTF-8, UTF-16), else as UTF-8, else
as Windows-1252 (what Excel writes in Western Europe); the separator is the one
of `, ; tab |` that splits the first lines into the same number of fields.
Every cell is read as text and a column becomes numeric only when every
present value parses as a number, so "Yes"/"No" stay text and a mostly-numeric
column is not forced into numbers. Errors name the file and what to do, never
a line of its content (people's data).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import ModelError

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
"""Cell texts (after trimming, any case) that mean "no value"."""
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xls", ".xlsm", ".ods", ".numbers"})
SEPARATORS = (",", ";", "\t", "|")
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "t"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "f"})
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[-+]?\d*,\d+$")


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding name): by byte-order mark, else UTF-8, else UTF-16 by its zero bytes, else Windows-1252."""
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding), encoding
    head = data[:4000]
    if head and head.count(0) > len(head) // 4:  # UTF-16 without a mark: every other byte of ASCII text is zero
        encoding = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        return data.decode(encoding, errors="replace"), encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; latin-1 maps every byte, so nothing is lost there.
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            return data.decode("latin-1"), "latin-1"


def sniff_separator(text: str) -> tuple[str, str]:
    """(separator, text without an Excel "sep=;" line): the candidate splitting the first lines most evenly."""
    first, _, rest = text.partition("\n")
    hint = re.fullmatch(r"\s*sep=(.)\s*", first)
    if hint:
        return hint.group(1), rest
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    best, best_key = ",", (False, 0)
    for separator in SEPARATORS:
        counts = [len(row) for row in csv.reader(lines, delimiter=separator)]
        if not counts or counts[0] < 2:
            continue
        key = (all(c == counts[0] for c in counts), counts[0])  # consistent first, then most fields
        if key > best_key:
            best, best_key = separator, key
    return best, text


def _unique_names(names: list[str]) -> list[str]:
    """Trimmed header names; an empty one becomes "column N", a repeated one gets " (2)"."""
    seen: dict[str, int] = {}
    out = []
    for number, raw in enumerate(names, start=1):
        name = str(raw).strip() or f"column {number}"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def _read_csv(path: Path) -> tuple[pd.DataFrame, str]:
    text, encoding = decode(path.read_bytes())
    separator, text = sniff_separator(text)
    shown = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "bar"}[separator] if separator in SEPARATORS else separator
    try:
        # header=None: the header row is read like the others, so blank or repeated names are ours to fix.
        raw = pd.read_csv(
            io.StringIO(text),
            sep=separator,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        # pandas names the line number and field counts only; never a line of the file.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"{path}: cannot read it as CSV ({encoding}, {shown}-separated): {reason}. Save it as CSV with one header"
            " row and quote any field that contains the separator"
        ) from None
    if len(raw) < 2:
        raise ModelError(f"{path}: no data rows under the header ({encoding}, {shown}-separated)")
    names = _unique_names([str(c) for c in raw.iloc[0]])
    raw = raw.iloc[1:].reset_index(drop=True)
    raw.columns = names
    return raw, separator


def _read_raw(path: Path) -> tuple[pd.DataFrame, str]:
    """The file as text cells (CSV) or with its own types (Parquet), and the CSV separator ("" for Parquet)."""
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in SPREADSHEET_SUFFIXES:
        raise ModelError(f"{path}: a spreadsheet; save the sheet as CSV (one header row) or Parquet and pass that file")
    if suffix not in PARQUET_SUFFIXES:
        return _read_csv(path)
    import duckdb  # only for Parquet: fit workers import this module and need no DuckDB

    try:
        with duckdb.connect() as con:
            frame = con.execute("select * from read_parquet(?)", [str(path)]).df()
    except duckdb.Error as exc:
        # DuckDB's message can quote a value of the file (people's data), so name the file and the fix only.
        raise ModelError(f"{path}: cannot read it as Parquet ({type(exc).__name__})") from exc
    frame.columns = _unique_names([str(c) for c in frame.columns])
    return frame, ""


def _cell_text(value: object) -> str | float:
    """Trimmed text, or NaN for an empty cell or an NA/null/none spelling."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return np.nan
    text = str(value).strip()
    return np.nan if text.casefold() in MISSING_TOKENS else text


def _text_to_missing(values: pd.Series) -> pd.Series:
    """The column as trimmed text (object dtype) with missing cells as NaN."""
    return pd.Series([_cell_text(v) for v in values], index=values.index, dtype=object)


def _as_numbers(values: pd.Series, *, separator: str) -> pd.Series | None:
    """The column as floats if every present value is a finite number (1,234.5 or, in ;-files, 1,5), else None."""
    present = values.notna()
    if not present.any():
        return None
    text = values[present].astype(str)
    commas = text.str.contains(",", regex=False)
    if commas.any():
        # "1,234.5" is a thousands separator; in a ;-separated file "1,5" is a decimal comma.
        shape = _DECIMAL_COMMA if separator == ";" else _THOUSANDS
        if not text[commas].str.fullmatch(shape.pattern).all():
            return None
        text = text.str.replace(",", "." if separator == ";" else "", regex=False)
    numbers = pd.to_numeric(text, errors="coerce").astype(np.float64)
    if numbers.notna().all() and np.isfinite(numbers).all():
        return numbers.reindex(values.index).astype(np.float64)
    return None


def _typed_column(values: pd.Series, *, separator: str) -> pd.Series:
    """Numbers (and booleans) as float, everything else as trimmed text with missing as NaN."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.astype(np.float64)
    text = _text_to_missing(values)
    numbers = _as_numbers(text, separator=separator)
    return numbers if numbers is not None else text


def _matches(text: pd.Series, positive: str) -> np.ndarray:
    """Rows whose label means `positive`: the same text (any case), the same number, or the same yes/no word."""
    wanted = positive.strip().casefold()
    words = text.astype(str).str.casefold()
    y = (words == wanted).to_numpy()
    if y.any():
        return y
    number = pd.to_numeric(pd.Series([wanted]), errors="coerce").iloc[0]
    values = pd.to_numeric(words, errors="coerce")
    if not np.isnan(number) and values.notna().all():
        return (values == number).to_numpy()
    vocabulary = TRUE_WORDS | FALSE_WORDS
    if wanted in vocabulary and words.isin(vocabulary).all():
        return words.isin(TRUE_WORDS if wanted in TRUE_WORDS else FALSE_WORDS).to_numpy()
    return y


def _label_vector(raw: pd.Series, *, label: str, positive: str) -> tuple[np.ndarray, np.ndarray]:
    """(keep mask, 0/1 labels for kept rows): rows meaning `positive` are 1, rows without a label are left out."""
    text = _text_to_missing(raw)
    keep = text.notna().to_numpy()
    y = _matches(text[keep], positive).astype(np.int64)
    if y.sum() == 0 or y.sum() == len(y):
        seen = sorted({str(v) for v in text[keep]})[:10]
        raise ModelError(
            f"label column {label!r} needs both classes: {int(y.sum())} of {len(y)} labelled rows equal {positive!r}"
            f" (values seen: {', '.join(seen) or 'none'}); check --positive"
        )
    return keep, y


def _find_column(name: str, columns: list[str], *, path: Path, what: str) -> str:
    """`name` as spelled in the file: exact, else the one column equal to it ignoring case and spaces."""
    if name in columns:
        return name
    close = [c for c in columns if c.strip().casefold() == name.strip().casefold()]
    if len(close) == 1:
        return close[0]
    raise ModelError(f"{path}: no {what} column {name!r}; columns are: {', '.join(columns)}")


def load_table(
    path: Path, *, label: str, positive: str, drop: Iterable[str] = (), keep: Iterable[str] = ()
) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and 0/1 labels from a CSV or Parquet file; rows without a label are left out.

    `drop` names columns to leave out; `keep` names columns that must be
    present (e.g. a group column), so a typo is reported before any work.
    """
    path = Path(path)
    raw, separator = _read_raw(path)
    columns = [str(c) for c in raw.columns]
    label = _find_column(label, columns, path=path, what="label")
    to_drop = [c.strip() for c in drop if c.strip()]  # tolerate "A, B" from a comma-separated option
    unknown = [c for c in [*to_drop, *(k.strip() for k in keep if k.strip())] if c not in columns]
    if unknown:
        verb = "cannot drop" if unknown[0] in to_drop else "no column"
        raise ModelError(f"{path}: {verb} {', '.join(map(repr, unknown))}: no such column; columns are: {', '.join(columns)}")
    kept_rows, y = _label_vector(raw[label], label=label, positive=positive)
    kept = raw.loc[kept_rows, [c for c in columns if c != label and c not in to_drop]].reset_index(drop=True)
    X = pd.DataFrame({name: _typed_column(kept[name], separator=separator) for name in kept.columns})
    return X, y
