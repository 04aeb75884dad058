"""Turn a file's columns into wangge's typed fields, column at a time, noting bad values.

A value that cannot be used (not a number, a negative count, an unknown
choice, a control character, text that was not valid in the file's
encoding) is an error on its row; an empty optional value takes the
field's default. Times of day are ``HH:MM[:SS]``; timestamps without a
zone are read in the district's zone (``Asia/Shanghai`` unless told).
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from layers.io.problems import Problems
from layers.io.spec import Field, LayerSpec

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
INT_MAX = 2_147_483_647
"""The store's integers are 4 bytes."""
_MANGLED = re.compile("\ufffd")
_TRUE = {"true", "t", "1", "1.0", "yes", "y", "是", "在线", "online"}
_FALSE = {"false", "f", "0", "0.0", "no", "n", "否", "离线", "offline"}
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


# Checks over a million values are made on the column joined into one text, so the regular
# expression engine scans it in C; only a column that has a match is looked at row by row.
_SEP = "\n"
_BLANKS = (" ", "\t", "\r")


def _rows_matching(values: np.ndarray, pattern: re.Pattern[str], hint: str | None = None,
                   joined: str | None = None) -> np.ndarray:
    """Rows whose text matches ``pattern``; the column (``joined``, if made already) is first tested whole."""
    joined = _SEP.join(values) if joined is None else joined
    possible = _has_control(joined) if hint == "control" else pattern.search(joined)
    if not possible:
        return np.zeros(len(values), dtype=bool)
    return np.array([bool(pattern.search(v)) for v in values], dtype=bool)


_ALLOWED_CONTROL = np.array([0x09, 0x0A, 0x0D], dtype=np.uint8)


def _has_control(text: str) -> bool:
    # a byte scan in numpy: far faster than a regular expression over megabytes
    data = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    control = (data < 0x20) | (data == 0x7F)
    return bool(control.any() and np.isin(data[control], _ALLOWED_CONTROL, invert=True).any())


def _as_text(series: pd.Series) -> np.ndarray:
    return _text_joined(series)[0]


def _text_joined(series: pd.Series) -> tuple[np.ndarray, str]:
    """The values as trimmed text, and that text joined (what the column-wide checks scan)."""
    values = series.to_numpy(dtype=object)
    try:
        joined = _SEP.join(values)
    except TypeError:  # not all text (numbers, or missing values read as NaN): make every value text
        values = np.array([v if isinstance(v, str) else ("" if v is None or v != v else str(v)) for v in values],
                          dtype=object)
        joined = _SEP.join(values)
    if _has_edge_blank(joined):
        values = np.array([v.strip() for v in values], dtype=object)
        joined = _SEP.join(values)
    return values, joined


_BLANK_BYTE = np.zeros(256, dtype=bool)
_BLANK_BYTE[[ord(b) for b in _BLANKS]] = True


def _has_edge_blank(joined: str) -> bool:
    """Whether a value of the joined column starts or ends with a blank (space, tab, CR)."""
    # a byte scan in numpy: six substring searches over a column of Chinese text (four bytes a
    # character in Python's memory) cost a second per million rows
    data = np.frombuffer(joined.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    if len(data) == 0:
        return False
    blank = _BLANK_BYTE[data]  # a table lookup: np.isin sorted the megabytes
    if not blank.any():
        return False
    sep = data == ord(_SEP)
    return bool(blank[0] or blank[-1] or (sep[:-1] & blank[1:]).any() or (blank[:-1] & sep[1:]).any())


def _texts_and_empty(series: pd.Series) -> tuple[np.ndarray | None, str, np.ndarray]:
    """A text column's values as trimmed text (None for other columns), joined, and which rows are empty.

    Made once per column: every check after reads these values.
    """
    missing = pd.isna(series).to_numpy()
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        text, joined = _text_joined(series.fillna("") if missing.any() else series)
        return text, joined, missing | (text == "")
    return None, "", missing


def _text(values: np.ndarray, f: Field, rows: np.ndarray, problems: Problems, joined: str | None = None) -> np.ndarray:
    joined = _SEP.join(values) if joined is None else joined
    bad_char = _rows_matching(values, _CONTROL, hint="control", joined=joined)
    if bad_char.any():
        problems.error("control_characters", "text holds control characters (e.g. NUL)", rows[bad_char],
                       field_name=f.name)
    mangled = _rows_matching(values, _MANGLED, joined=joined)
    if mangled.any():
        problems.error("encoding", "text that is not valid in the file's encoding; give it with --encoding "
                       "(e.g. GBK)", rows[mangled], field_name=f.name)
    if f.choices:
        unknown = ~pd.Series(values, dtype=object).isin(f.choices).to_numpy()  # hashed: np.isin sorts text
        if unknown.any():
            shown = ", ".join(sorted({str(v)[:20] for v in values[unknown]})[:5])
            problems.error("unknown_value", f"{f.name} must be one of {', '.join(f.choices)} (found {shown})",
                           rows[unknown], field_name=f.name)
    return values


def as_floats(series: pd.Series) -> np.ndarray:
    """The values as numbers, NaN where a value is none.

    Text of plain numbers only (the usual column) is parsed by Arrow, three
    times faster; anything else (blanks around a number, a value that is not
    one, values already numbers) by pandas, as it always was.
    """
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        try:
            text = pa.array(series, from_pandas=True)  # Arrow's own strings are taken as they are
            if pa.types.is_string(text.type) or pa.types.is_large_string(text.type):
                return text.cast(pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowException:  # any value Arrow will not take: pandas decides, as before
            pass
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def _number(series: pd.Series, f: Field, rows: np.ndarray, problems: Problems) -> np.ndarray:
    numbers = as_floats(series)
    bad = ~np.isfinite(numbers)
    if f.kind == "int":
        with np.errstate(invalid="ignore"):
            bad |= np.isfinite(numbers) & (numbers != np.round(numbers))
    if bad.any():
        problems.error("not_a_number", f"{f.name} must be {'a whole number' if f.kind == 'int' else 'a number'}",
                       rows[bad], field_name=f.name)
    if f.kind == "int":
        with np.errstate(invalid="ignore"):
            huge = ~bad & (np.abs(numbers) > INT_MAX)
        if huge.any():
            problems.error("out_of_range", f"{f.name} must be at most {INT_MAX:,}", rows[huge], field_name=f.name)
            bad |= huge
    if f.minimum is not None:
        with np.errstate(invalid="ignore"):
            low = ~bad & (numbers < f.minimum)
        if low.any():
            problems.error("out_of_range", f"{f.name} must be at least {f.minimum:g}", rows[low], field_name=f.name)
    if f.maximum is not None:
        with np.errstate(invalid="ignore"):
            high = ~bad & (numbers > f.maximum)
        if high.any():
            problems.error("out_of_range", f"{f.name} must be at most {f.maximum:g}", rows[high], field_name=f.name)
    if f.kind == "int":
        return np.array([int(n) if np.isfinite(n) else None for n in numbers], dtype=object)
    return numbers


def _bool(series: pd.Series, f: Field, rows: np.ndarray, problems: Problems) -> np.ndarray:
    out = np.empty(len(series), dtype=object)
    for i, v in enumerate(series.to_numpy(dtype=object)):
        text = str(v).strip().lower() if not isinstance(v, bool | np.bool_) else ("true" if v else "false")
        out[i] = True if text in _TRUE else False if text in _FALSE else None
    bad = np.array([v is None for v in out], dtype=bool)
    if bad.any():
        problems.error("not_a_boolean", f"{f.name} must be true or false", rows[bad], field_name=f.name)
    return out


def parse_time(value: Any) -> time | None:
    """``HH:MM[:SS]`` (or a time) → time; None when it is not one."""
    if isinstance(value, time):
        return value
    match = _TIME.match(str(value))
    if not match:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return time(hour, minute, second)


def _time(series: pd.Series, f: Field, rows: np.ndarray, problems: Problems) -> np.ndarray:
    out = np.array([parse_time(v) for v in series.to_numpy(dtype=object)], dtype=object)
    bad = np.array([v is None for v in out], dtype=bool)
    if bad.any():
        problems.error("not_a_time", f"{f.name} must be a time of day, HH:MM", rows[bad], field_name=f.name)
    return out


_NEGATIVE_OFFSET = re.compile(r":\d\d(?:\.\d+)?\s*-\d\d")
# a time of day followed by a zone (a date alone, 2025-06-01, ends in "-01" but has no zone)
_ZONED = re.compile(r"\d\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(?:[zZ]|[+-]\d\d(?::?\d\d)?)$", re.MULTILINE)


def _parse_stamps(text: pd.Series, utc: bool) -> pd.Series:
    # ISO 8601 is parsed by a fast path; anything else (2025/6/1 8:00) by pandas' general parser
    stamps = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=utc)
    retry = stamps.isna() & (text != "")
    if retry.any():
        stamps[retry] = pd.to_datetime(text[retry], errors="coerce", format="mixed", utc=utc)
    return stamps


def _timestamp(series: pd.Series, text_values: np.ndarray | None, f: Field, rows: np.ndarray, timezone: str,
               problems: Problems, joined: str | None = None) -> np.ndarray:
    """Times with a zone are taken as given; times without one are read in ``timezone``."""
    out = np.full(len(series), np.datetime64("NaT"), dtype="datetime64[us]")
    if pd.api.types.is_datetime64_any_dtype(series):
        stamps = series if series.dt.tz is not None else \
            series.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
        out[:] = stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    else:
        values = _as_text(series) if text_values is None else text_values
        text = pd.Series(values, index=series.index, dtype=object)
        joined = _SEP.join(values) if joined is None else joined
        maybe_zoned = any(mark in joined for mark in "+Zz") or _NEGATIVE_OFFSET.search(joined)
        zoned = _rows_matching(values, _ZONED, joined=joined) if maybe_zoned else np.zeros(len(values), dtype=bool)
        if zoned.any():
            parsed = _parse_stamps(text[zoned], utc=True)
            out[zoned] = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
        if (~zoned).any():
            local = _parse_stamps(text[~zoned], utc=False)
            local = local.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
            out[~zoned] = local.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    bad = np.isnat(out)
    if bad.any():
        problems.error("not_a_time", f"{f.name} must be a date and time (ISO 8601)", rows[bad], field_name=f.name)
    return out


def convert_columns(frame: pd.DataFrame, spec: LayerSpec, columns: dict[str, str],
                    values: dict[str, dict[str, str]], timezone: str, problems: Problems,
                    first_row: int = 1) -> dict[str, np.ndarray]:
    """Every field of ``spec`` as an array aligned with ``frame``'s rows (None: no value).

    ``frame`` may be a part of the file, starting at row ``first_row``; a
    missing column is then reported with the first part only.
    """
    rows = np.arange(first_row, first_row + len(frame))
    out: dict[str, np.ndarray] = {}
    for f in spec.fields:
        if f.name not in columns:
            if f.required and first_row == 1:
                problems.error("missing_field", f"the file has no {f.name} column (map one with "
                               f"--field {f.name}=COLUMN)", field_name=f.name)
            out[f.name] = _defaults(f, len(frame))
            continue
        series = frame[columns[f.name]]
        if f.name in values:
            translate = values[f.name]
            series = series.map(lambda v, t=translate: t.get(str(v).strip(), v))
        text, joined, empty = _texts_and_empty(series)
        if f.required and empty.any():
            problems.error("missing_value", f"{f.name} is empty", rows[empty], field_name=f.name)
        if not empty.any() and f.kind in ("text", "timestamp"):  # the converted values are the whole column
            out[f.name] = _convert(series, text, f, rows, timezone, problems, joined)
            continue
        kept = ~empty
        converted = _convert(series[kept], None if text is None else text[kept], f, rows[kept], timezone, problems)
        column = _defaults(f, len(frame))
        column[~empty] = converted
        out[f.name] = column
    return out


def _defaults(f: Field, n: int) -> np.ndarray:
    if f.kind == "timestamp":
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    return np.full(n, f.default, dtype=object)


def _convert(series: pd.Series, text: np.ndarray | None, f: Field, rows: np.ndarray, timezone: str,
             problems: Problems, joined: str | None = None) -> np.ndarray:
    """The non-empty values of one field, typed.

    ``text`` is their trimmed text when the column is text, ``joined`` that
    text joined when it was joined already.
    """
    if f.kind == "text":
        return _text(_as_text(series) if text is None else text, f, rows, problems, joined)
    if f.kind in ("int", "real"):
        return _number(series, f, rows, problems)
    if f.kind == "bool":
        return _bool(series, f, rows, problems)
    if f.kind == "time":
        return _time(series, f, rows, problems)
    return _timestamp(series, text, f, rows, timezone, problems, joined)
