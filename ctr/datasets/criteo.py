"""Loader for the Criteo display-advertising logs (the Kaggle challenge's `train.txt` and its 100,000-row
`dac_sample.txt`, and the days of the 1TB logs): tab-separated lines with no header, each a click
label, 13 counts (`I1`..`I13`) and 26 hashed categories (`C1`..`C26`), any of them empty. Nothing
downloads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .._files import COMPRESSED, UNDECOMPRESSABLE, first_unreadable, format_suffix, opener
from ..errors import ArgumentError, DataError, first_line
from ..spec import Categorical, FeatureSpec, Label, Numeric

CRITEO_COUNTS = tuple(f"I{i}" for i in range(1, 14))
CRITEO_CATEGORIES = tuple(f"C{i}" for i in range(1, 27))
CRITEO_COLUMNS = ("label", *CRITEO_COUNTS, *CRITEO_CATEGORIES)
_LAYOUT = "a 0/1 label, 13 counts I1..I13 and 26 categories C1..C26, any of them empty"


def criteo(path: str | Path, rows: int | None = None) -> pd.DataFrame:
    """A Criteo file as a table: `label` (0/1), `I1`..`I13` (floats, NaN where empty) and `C1`..`C26`
    (text, missing where empty); a file of 39 fields a line (Kaggle's test.txt) has no `label`. `rows`
    reads only the first that many. The full train.txt (45M rows) does not fit in memory as a table:
    `criteo_to_parquet` writes it as Parquet, which `fit` streams."""
    return pd.concat(list(criteo_chunks(path, rows=rows)), ignore_index=True)


def criteo_chunks(path: str | Path, chunk_rows: int = 1_000_000, rows: int | None = None) -> Iterator[pd.DataFrame]:
    """The file as `criteo`'s table, `chunk_rows` rows at a time, every line checked."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no Criteo file at {path}" + (" (a folder: give one of its files, e.g. train.txt)"
                                                       if path.is_dir() else ""))
    for name, value in (("chunk_rows", chunk_rows), ("rows", rows)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ArgumentError(f"criteo: {name} must be an integer of at least 1, got {value!r}")
    names = _columns(path)
    dtypes = {**dict.fromkeys(CRITEO_COUNTS, "float64"), **dict.fromkeys(CRITEO_CATEGORIES, "str")}
    start = 1  # the first line of the chunk being read, for errors
    try:
        chunks = pd.read_csv(path, sep="\t", header=None, names=list(names), dtype=dtypes, chunksize=chunk_rows,
                             nrows=rows, quoting=3, na_filter=True, keep_default_na=False, na_values=[""])
        for chunk in chunks:
            yield _checked(chunk, path, start)
            start += len(chunk)
    except pd.errors.ParserError as err:  # a line of more fields than the first
        raise DataError(f"{path}: expected {len(names)} tab-separated fields a line ({_LAYOUT}); "
                        f"{str(err).strip().splitlines()[-1]}") from None
    except (UnicodeDecodeError, *UNDECOMPRESSABLE) as err:  # garbled, or cut short inside its compression
        raise DataError(f"{path}: not readable as Criteo's tab-separated text ({first_line(err)})") from None
    except ValueError as err:  # a count that is no number: find it
        if isinstance(err, DataError):
            raise
        _name_bad_count(path, names, chunk_rows, rows)
        raise


def criteo_to_parquet(path: str | Path, out: str | Path, chunk_rows: int = 1_000_000, rows: int | None = None,
                      verbose: str | int = "auto") -> Path:
    """Write a Criteo file as one Parquet file (`out`, ending in .parquet), `chunk_rows` rows at a time,
    so that a file larger than memory becomes one `fit` streams; `out` appears only when complete.
    `verbose` shows the rows written (a bar on a terminal; "auto", a line a chunk in a log)."""
    from ..data import keras_verbose, progress_bar, write_frames

    out = Path(out)
    if format_suffix(out) != ".parquet":
        raise ArgumentError(f"criteo_to_parquet: out must be a .parquet file, got {str(out)!r}")
    verbose = keras_verbose(verbose)
    advance = progress_bar(lambda: None, verbose)
    written = 0

    def shown(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        nonlocal written
        for chunk in chunks:
            yield chunk
            written += len(chunk)
            advance(len(chunk))

    write_frames(shown(criteo_chunks(path, chunk_rows, rows)), out)
    if verbose:  # the bar, with no total to reach, may not have drawn its last count (and ends no line)
        print(f"{chr(10) if verbose == 1 else ''}criteo_to_parquet: {written:,} rows written to {out}")
    return out


def criteo_spec(min_count: int = 10) -> FeatureSpec:
    """The spec for `criteo()`'s table (= `feature_specs/criteo.yaml`): each count a numeric feature on a
    signed log scale (they run from -3 to millions), each category one seen at least `min_count` times
    (most of the 33M hashed values are seen once; 10, as FuxiCTR's Criteo benchmark sets), all context."""
    return FeatureSpec([*(Numeric(c, transform="log") for c in CRITEO_COUNTS),
                        *(Categorical(c, min_count=min_count) for c in CRITEO_CATEGORIES)],
                       label=Label("label"), name="criteo",
                       description="Criteo display ads (a click label, 13 counts, 26 hashed categories).")


def criteo_rows(path: str | Path) -> int:
    """The lines of a Criteo file, counted without parsing their fields."""
    return sum(len(chunk) for chunk in pd.read_csv(path, sep="\t", header=None, usecols=[0], chunksize=1 << 20,
                                                   quoting=3))


def is_criteo_file(path: str | Path) -> bool:
    """Whether `path` is a text file (.txt, .tsv, .csv or no ending, maybe compressed: day_0.gz) in
    Criteo's layout, which every reader of a path then reads as `criteo` does."""
    path = Path(path)
    ending = Path(path.stem).suffix if path.suffix.lower() in COMPRESSED else path.suffix
    return ending.lower() in (".txt", ".tsv", ".csv", "") and path.is_file() and looks_like_criteo(path)


def looks_like_criteo(path: Path) -> bool:
    """Whether the file's first line has Criteo's layout: 40 (or, unlabelled, 39) tab-separated fields,
    the last 26 of them empty or 8 hexadecimal digits."""
    try:
        first = _first_line(path)
    except (UnicodeDecodeError, *UNDECOMPRESSABLE):
        return False
    fields = first.split("\t")
    if len(fields) not in (39, 40):
        return False
    hexadecimal = set("0123456789abcdef")
    return all(f == "" or (len(f) == 8 and set(f) <= hexadecimal) for f in fields[-26:])


def _first_line(path: Path) -> str:
    with opener(path)(path, "rt", encoding="utf-8") as file:
        return file.readline().rstrip("\r\n")


def _columns(path: Path) -> tuple[str, ...]:
    """The columns of the file's lines, told by the first line's fields: with or without the label."""
    try:
        first = _first_line(path)
    except (UnicodeDecodeError, *UNDECOMPRESSABLE) as err:
        raise DataError(f"{path}: not readable as Criteo's tab-separated text ({err})") from None
    if not first:
        raise DataError(f"{path}: no rows (the first line is empty)")
    width = len(first.split("\t"))
    if width not in (39, 40):
        raise DataError(f"{path}, line 1: expected 40 tab-separated fields ({_LAYOUT}; 39 without the label, as "
                        f"Kaggle's test.txt), got {width}")
    return CRITEO_COLUMNS if width == 40 else CRITEO_COLUMNS[1:]


def _checked(chunk: pd.DataFrame, path: Path, start: int) -> pd.DataFrame:
    """A chunk whose labels are all 0 or 1 (as int64), or a DataError naming the line of one that is not."""
    if "label" in chunk:
        label = pd.to_numeric(chunk["label"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(~np.isin(label, (0.0, 1.0)))
        if len(bad):
            value = chunk["label"].iloc[bad[0]]
            shown = "an empty field" if pd.isna(value) else repr(value.item() if hasattr(value, "item") else value)
            raise DataError(f"{path}, line {start + bad[0]}: the label (the first field) must be 0 or 1, got {shown}")
        chunk["label"] = label.astype(np.int64)
    return chunk


def _name_bad_count(path: Path, names: tuple[str, ...], chunk_rows: int, rows: int | None) -> None:
    """Raise a DataError naming the first count (I1..I13) that is no number, with its line."""
    found = first_unreadable(pd.read_csv(path, sep="\t", header=None, names=list(names), usecols=list(CRITEO_COUNTS),
                                         dtype=str, chunksize=chunk_rows, nrows=rows, quoting=3),
                             CRITEO_COUNTS, lambda x: x.isna().to_numpy())
    if found:
        column, line, value = found
        raise DataError(f"{path}, line {line}: {column} must be a count (a whole number) or empty, got {value!r}")
