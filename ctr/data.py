"""Reading data and turning its columns into the raw feature arrays a spec expects.

Sources: a pandas DataFrame, a pyarrow Table, a mapping of column name → values or a list of rows
(a request), a tf.data.Dataset of such mappings, a Parquet file or directory (streamed in record
batches with `pyarrow.dataset`; Arrow IPC, Feather's format, alike), a CSV file, a JSON-lines file,
or TFRecords of tf.train.Example (a file or folder, `ctr._tfrecord`). Every column is checked against
its feature's kind on the way in, so a wrong dtype is reported with the column's name rather than
deep inside TensorFlow. The splits (`random_split`, `temporal_split`, ...) live in `ctr.splits` and are
named here too, as they always were.
"""

from __future__ import annotations

import ast
import contextlib
import datetime
import difflib
import json
import math
import os
import re
import reprlib
import sys
import time
import urllib.parse
import uuid
import warnings
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from ._args import check_arguments, check_choice
from ._files import (
    ARROW_FILES,
    COMPRESSED,
    JSON,
    UNDECOMPRESSABLE,
    ZipMembersError,
    check_output,
    data_files,
    first_unreadable,
    format_suffix,
    is_gzipped,
    make_parent,
    opener,
    pattern_hint,
    unzipped,
    why_unreadable,
    zip_members,
)
from ._tfrecord import tfrecord_chunks, tfrecord_files, tfrecord_rows, tfrecord_schema
from .datasets.criteo import criteo_chunks, criteo_rows, is_criteo_file
from .errors import DataError, SpecError
from .features import (
    MISSING_INT,
    WEIGHT_MAX,
    WEIGHT_NUMBER,
    check_epoch_unit,
    digit_seconds,
    raw_text,
    weighted_token,
)
from .spec import (
    EPOCH_UNIT_NAMES,
    Categorical,
    Feature,
    FeatureSpec,
    History,
    Label,
    MultiCategorical,
    Numeric,
    SpecLike,
    Text,
    Timestamp,
    Vector,
    did_you_mean,
    raw_dtype,
)

if TYPE_CHECKING:  # named here for readers and checkers; imported on first use (`__getattr__`, below)
    from .splits import (
        add_history,
        cold_user_split,
        random_split,
        temporal_split,
        time_split,
    )

Source = pd.DataFrame | pa.Table | pads.Dataset | Mapping[str, Any] | Sequence[Mapping[str, Any]] | str | Path
PathFormat = Literal["text", "tfrecord", "criteo", "json", "csv", "parquet"]
# What ends a missing-column error: always, by the column missing, or from (columns there, columns missing).
Hint = str | Mapping[str, str] | Callable[[Sequence[str], Sequence[str]], str]

__all__ = ["Source", "add_history", "add_negatives", "as_source", "cold_user_split", "columns_frame", "count_rows",
           "csv_dtypes", "dataset_frame", "downsample_negatives", "iter_chunks", "labels", "random_split",
           "raw_features", "read", "records_frame", "require_columns", "sample_weights", "temporal_split", "time_split"]


# -- reading ------------------------------------------------------------------------------------
def read(source: Source, columns: Sequence[str] | None = None, hint: Hint = "", what: str = "data",
         dtypes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The whole source as one DataFrame (only `columns`, when given; `hint` ends a missing-column
    error, e.g. with what needs them; `what` names the source in errors; `dtypes`, as `iter_chunks`)."""
    source = as_source(source, what)
    if isinstance(source, pd.DataFrame):
        if columns is not None:
            source = with_object_fields(source, columns)
            require_columns(source, columns, hint=hint)
            return source[list(dict.fromkeys(columns))]
        return source
    return concat_chunks(list(iter_chunks(source, columns, hint=hint, dtypes=dtypes)))


def concat_chunks(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Chunks of one source as one DataFrame. A column of whole numbers that is signed in some chunks
    and unsigned in others (ids from 2⁶³ on that come after the first chunk) is joined as Python
    integers, exact, where pandas makes it float64, whose 53 bits turn each id into another."""
    if len(frames) > 1:
        for name in frames[0].columns:
            kinds = {f[name].dtype.kind for f in frames if name in f.columns}
            if kinds == {"i", "u"}:
                frames = [f.assign(**{name: f[name].astype(object)}) if name in f.columns else f for f in frames]
    return pd.concat(frames, ignore_index=True)


def csv_dtypes(spec: FeatureSpec) -> dict[str, str]:
    """How a CSV's columns are read for a spec (`read`'s `dtypes`): those it reads as text as text (an id
    '007' is not the number 7), its integer ids as nullable integers (a 64-bit id in a column with gaps
    would otherwise pass through float64, whose 53 bits do not hold it, and be served as another id).
    A JSON file's objects in these columns are kept whole, not flattened into fields."""
    ints = {f.source: "Int64" for f in spec.features if isinstance(f, Categorical) and f.dtype == "int"}
    return ints | {f.source: "str" for f in spec.features if raw_dtype(f) == "string"}


CHUNK_ROWS = 262_144  # rows a source is read in at a time: a chunk, encoded for training at once


def iter_chunks(source: Source, columns: Sequence[str] | None = None,
                chunk_rows: int = CHUNK_ROWS, hint: Hint = "", dtypes: Mapping[str, str] | None = None,
                whole: Collection[str] = ()) -> Iterator[pd.DataFrame]:
    """The source as DataFrames of at most `chunk_rows` rows (an empty source as one empty frame), each
    holding at least `columns`; Parquet and CSV are never read whole. A CSV's columns are read as
    `dtypes` says ('str' or 'Int64', `csv_dtypes`), not guessed (a code such as '007' or '02134' would
    lose its zeros as a number). A DataFrame is checked for `columns` and cut, not copied: one that
    fits in a chunk (a request) is passed on as it is, since selecting and slicing a one-row request
    took about as long as the model's own call. A JSON file's objects are flattened into fields, but in
    `columns`, in the columns `dtypes` names (a spec's) and in `whole`."""
    cols = list(dict.fromkeys(columns)) if columns is not None else None
    source = as_source(source)
    if isinstance(source, pd.DataFrame):
        source = with_object_fields(source, cols or [])
        require_columns(source, cols or [], hint=hint)
        if len(source) <= chunk_rows:
            yield source
            return
        for start in range(0, len(source), chunk_rows):
            yield source.iloc[start:start + chunk_rows]
        return
    if isinstance(source, pa.Table):
        require_columns(source.column_names, cols or [], hint=hint)
        table = source.select(cols) if cols else source
        for batch in table.to_batches(max_chunksize=chunk_rows):
            yield _frame(batch)
        return
    if isinstance(source, pads.Dataset):  # a pyarrow dataset (filtered, perhaps): streamed as its files are
        yield from _dataset_chunks(source, cols, chunk_rows, hint, "the pyarrow dataset",
                                   lambda err: DataError(f"the pyarrow dataset cannot be read: {err}"))
        return
    path = Path(source)
    _require_data(path)
    kind, files = path_format(path)
    if kind == "text":
        yield from _in_chunks(folder_chunks(path, files, cols, chunk_rows, hint, dtypes, whole), chunk_rows)
        return
    if kind == "tfrecord":
        # Every key of the first chunk's records when all are wanted (a key that first comes late, as sparse
        # features do, is a column of the chunks, not dropped), of the first SCHEMA_RECORDS otherwise.
        kinds = tfrecord_schema(files, at_least=0 if cols else chunk_rows)
        if any(c not in kinds for c in cols or []):  # a key the first records lack: sought in them all
            kinds = tfrecord_schema(files, whole=True)
        require_columns(list(kinds), cols or [], where=f"{path} (the keys of its records)", hint=hint)
        yield from _in_chunks(tfrecord_chunks(files, kinds, cols or list(kinds), chunk_rows), chunk_rows)
        return
    if kind == "criteo":  # tab-separated with no header: the columns are the layout's
        for chunk in criteo_chunks(path, chunk_rows):
            require_columns(chunk, cols or [], where=str(path), hint=hint)
            yield chunk[cols] if cols else chunk
        return
    if kind == "json":
        # The columns a spec reads (`dtypes` names them too) keep their objects (a weighted bag's {id: weight}).
        for chunk in _read_json(path, chunk_rows, whole=set(cols or ()) | set(dtypes or ()) | set(whole)):
            require_columns(chunk, cols or [], where=str(path), hint=hint)
            yield chunk[cols] if cols else chunk
        return
    if kind == "csv":
        header = csv_header(path)
        where = str(path)
        if unread := header_hint(path, header):
            where += f" ({unread})"
        # Every column wanted: one named twice is refused, as in a frame, not read as pandas renames it.
        require_columns(header, header if cols is None else cols, where=where, hint=hint)
        given = {c: t for c, t in (dtypes or {}).items() if c in header and (cols is None or c in cols)}
        try:
            for chunk in _read_csv(path, usecols=cols, chunksize=chunk_rows, dtype=given or None):
                for c, t in given.items():
                    if t == "str":
                        # pandas writes whole numbers with gaps as floats (3.0): read as the number 3 was
                        # (and as a frame's 3.0 is), '3', so that such a file still meets the ids it came from.
                        chunk[c] = chunk[c].str.replace(_WHOLE_FLOAT, r"\1", regex=True)
                yield chunk
        except (ValueError, TypeError, OverflowError) as err:
            integers = [c for c, t in given.items() if t != "str"]
            if not isinstance(err, DataError) and integers:
                _name_unparsed_ids(path, integers, chunk_rows)
            raise
        return
    yield from _dataset_chunks(parquet_dataset(path), cols, chunk_rows, hint, str(path),
                               lambda err: _parquet_error(path, err))


def _dataset_chunks(dataset: pads.Dataset, cols: list[str] | None, chunk_rows: int, hint: Hint, where: str,
                    error: Callable[[Exception], DataError]) -> Iterator[pd.DataFrame]:
    """`iter_chunks` of a pyarrow dataset (a Parquet or Arrow path's, or the caller's own), `error` saying
    what a file that cannot be read is."""
    fields = _flat_fields(dataset.schema)
    require_columns(list(fields), cols or [], where=where, hint=hint)
    nested = len(fields) > len(dataset.schema)

    def batches() -> Iterator[pd.DataFrame]:
        empty = True
        try:
            # Read ahead one batch of one file at a time: pyarrow's defaults (16 batches of 4 files) would
            # hold several million decoded rows and make memory grow with the dataset.
            for batch in dataset.to_batches(columns={c: fields[c] for c in cols or fields} if nested else cols,
                                            batch_size=chunk_rows, batch_readahead=1, fragment_readahead=1):
                if batch.num_rows:
                    empty = False
                    yield _frame(batch)
        except (pa.ArrowInvalid, OSError) as err:  # found when a file's turn comes
            raise error(err) from None
        if empty:
            yield _flat(dataset.schema.empty_table()).select(cols or list(fields)).to_pandas()

    yield from _in_chunks(batches(), chunk_rows)


def progress(source: Source, verbose: str | int) -> Callable[[int], None]:
    """What to call with each scored chunk's row count: a Keras progress bar over the source's rows
    when `verbose` asks for one (1, 2 or "auto", as Keras' predict reads it), else nothing."""
    return progress_bar(lambda: count_rows(source), verbose)


def keras_verbose(verbose: str | int) -> int:
    """Keras' `verbose` for `verbose`, with "auto" read by where the output goes: a bar redrawn in place
    (1) on a terminal or in a notebook, and a line an epoch (2) in a file or pipe. Keras' own "auto"
    is always 1 on Linux, whose redrawing writes backspaces and carriage returns into a log."""
    if verbose != "auto":
        return int(verbose)
    interactive = "ipykernel" in sys.modules or (hasattr(sys.stdout, "isatty") and sys.stdout.isatty())
    return 1 if interactive else 2


def progress_bar(total: Callable[[], int], verbose: str | int, unit: str = "row") -> Callable[[int], None]:
    """What to call with each finished part's count of `unit`s: a Keras progress bar up to `total()`
    (counted only when the bar is shown) when `verbose` asks for one, else nothing. With `verbose` 2 (or
    "auto" in a file or pipe: `keras_verbose`), a line at each tenth of the total instead (each part's, with
    no total), since Keras' verbose 2 bar says nothing until the end and then times the work in ms/epoch."""
    verbose = keras_verbose(verbose)
    if not verbose:
        return lambda rows: None
    if verbose == 2:
        return _progress_lines(total(), {"query": "queries"}.get(unit, f"{unit}s"))
    from ._keras import keras

    bar = keras.utils.Progbar(total(), unit_name=unit)
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        bar.update(done)
    return advance


def _progress_lines(total: int | None, units: str) -> Callable[[int], None]:
    """`progress_bar`'s lines for a log: '2,400/12,000 rows (20%), 3s'."""
    start, done, shown = time.monotonic(), 0, 0

    def advance(count: int) -> None:
        nonlocal done, shown
        done += count
        tenths = done if total is None else min(10, done * 10 // max(total, 1))
        if tenths > shown:
            shown = tenths
            of = "" if total is None else f"/{total:,} {units} ({done * 100 // max(total, 1)}%)"
            print(f"{done:,}{of or ' ' + units}, {time.monotonic() - start:.0f}s", flush=True)
    return advance


def count_rows(source: Source) -> int:
    """Rows in a source without holding it: Parquet from its metadata, CSV in one streamed pass."""
    source = as_source(source)
    if isinstance(source, pd.DataFrame):
        return len(source)
    if isinstance(source, pa.Table):
        return source.num_rows
    if isinstance(source, pads.Dataset):
        return source.count_rows()
    path = Path(source)
    _require_data(path)
    kind, files = path_format(path)
    if kind == "text":
        return sum(count_rows(file) for file in files if file.stat().st_size)
    if kind == "tfrecord":
        return tfrecord_rows(files)
    if kind == "criteo":
        return criteo_rows(path)
    if kind == "csv":
        return sum(len(chunk) for chunk in _read_csv(path, usecols=[0], chunksize=1 << 20))
    if kind == "json":
        return sum(len(chunk) for chunk in _read_json(path, 1 << 20))
    try:
        return parquet_dataset(path).count_rows()
    except (pa.ArrowInvalid, OSError) as err:
        raise _parquet_error(path, err) from None


def path_format(path: Path) -> tuple[PathFormat, list[Path]]:
    """How every reader of a path reads it, told apart in this order, with the files it reads: a folder of
    `text_files` ('text'), `tfrecord_files` ('tfrecord'), a Criteo file ('criteo'), a JSON file ('json'), a
    CSV, TSV or .txt file ('csv'), else Parquet or Arrow through pyarrow's dataset ('parquet', no files)."""
    if files := text_files(path):
        return "text", files
    if records := tfrecord_files(path):
        return "tfrecord", records
    if is_criteo_file(path):
        return "criteo", [path]
    if path.is_file() and format_suffix(path) in JSON:
        return "json", [path]
    if path.is_file() and format_suffix(path) in (".csv", ".tsv", ".txt"):
        return "csv", [path]
    return "parquet", []


def text_files(path: Path) -> list[Path]:
    """The files of a folder of CSV, TSV, JSON-lines or Criteo files (compressed or not; hidden ones and
    `_SUCCESS` aside), in name order: read one after another as one table, as Spark writes a table as
    text. [] for a file, or a folder of other data (Parquet, TFRecords). A folder that mixes such files
    with files of another format is a DataError naming them."""
    if not path.is_dir():
        return []
    files = data_files(path)
    formats = {p: _text_format(p) for p in files}
    text = [p for p in files if formats[p]]
    if len(text) == len(files) and len(set(formats.values())) <= 1:
        return text
    if not text:
        return []
    kinds: dict[str, list[Path]] = {}
    for p in sorted(files, key=lambda p: not formats[p]):  # the text files first
        kinds.setdefault(formats[p] or "other", []).append(p)
    held = "; ".join(f"{len(found)} {kind} file{'s' if len(found) > 1 else ''} "
                     f"({', '.join(str(p.relative_to(path)) for p in found[:3])}{', ...' if len(found) > 3 else ''})"
                     for kind, found in kinds.items())
    raise DataError(f"{path}: a folder is read as one table of files of one format, and this one holds {held}: "
                    "move the others out, or pass one file")


def _text_format(file: Path) -> str:
    """What `iter_chunks` reads a file as, when it is text: 'CSV', 'TSV', 'JSON lines' or 'Criteo'; else ''."""
    if is_criteo_file(file):
        return "Criteo"
    suffix = format_suffix(file)
    return ("JSON lines" if suffix in JSON else "TSV" if suffix == ".tsv" else
            "CSV" if suffix in (".csv", ".txt") else "")


def first_file(path: str | Path) -> Path:
    """The file whose header and first rows stand for `path`: a folder of text files' first (`text_files`),
    else `path` itself."""
    files = text_files(Path(path))
    return next((file for file in files if file.stat().st_size), files[0]) if files else Path(path)


def folder_chunks(root: Path, files: list[Path], cols: list[str] | None, chunk_rows: int, hint: Hint,
                   dtypes: Mapping[str, str] | None, whole: Collection[str]) -> Iterator[pd.DataFrame]:
    """The chunks of a folder's text files (`text_files`), one file after another (an empty one, 0 bytes,
    as no rows), with their `key=value` folders as columns, as a partitioned Parquet folder's are. With
    every column wanted, each CSV or TSV file must hold the first one's columns, no more, no fewer."""
    kinds = {field.name: field.type for field in _partition_fields(root, files, ())}
    first: tuple[Path, set[str]] | None = None
    found = False
    for file in (f for f in files if f.stat().st_size):
        keys = _partition_values(root, file)
        csv = _text_format(file) in ("CSV", "TSV")
        header = set(csv_header(file)) if csv and (keys or cols is None) else None
        keys = {key: value for key, value in keys.items() if header is None or key not in header}
        if cols is None and header is not None:
            held_columns = header | set(keys)
            if first is None:
                first = (file, held_columns)
            elif held_columns != first[1]:
                missing, extra = sorted(first[1] - held_columns), sorted(held_columns - first[1])
                differ = "; ".join(f"{what}: {', '.join(map(repr, names[:6]))}{', ...' if len(names) > 6 else ''}"
                                   for what, names in (("missing", missing), ("extra", extra)) if names)
                raise DataError(f"{root}: {file.relative_to(root)} has other columns than "
                                f"{first[0].relative_to(root)} ({differ}): a folder's files are read as one table, "
                                "so each needs the same columns")
        own = [c for c in cols if c not in keys] if cols is not None else None
        for chunk in iter_chunks(file, own or None, chunk_rows, hint, dtypes, whole):
            found = True
            added = {key: _partition_column(value, kinds[key], len(chunk))
                     for key, value in keys.items() if key not in chunk.columns}
            chunk = chunk.assign(**added) if added else chunk
            yield chunk[cols] if cols is not None and (added or not own) else chunk
    if not found:
        raise DataError(f"{root}: its files are all empty (0 bytes): no columns and no rows")


def _in_chunks(frames: Iterable[pd.DataFrame], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """`frames` (a file's or a batch's rows, in order) as chunks of `chunk_rows` rows, the last shorter:
    Spark writes a table as hundreds of small files, and a chunk a file would cost each its own pass
    downstream (a predict call, an encoding step). A frame of `chunk_rows` rows passes as it is; with no
    rows at all, the first frame (empty, with the columns)."""
    pending: list[pd.DataFrame] = []
    held, yielded, columns_only = 0, False, None
    for frame in frames:
        if not len(frame):  # left out: an empty frame's columns have no dtype to keep when joined
            columns_only = frame if columns_only is None else columns_only
            continue
        if not held and len(frame) == chunk_rows:
            yielded = True
            yield frame
            continue
        pending.append(frame)
        held += len(frame)
        if held >= chunk_rows:
            joined = concat_chunks(pending)
            cut = held - held % chunk_rows
            yielded = True
            for start in range(0, cut, chunk_rows):
                yield joined.iloc[start:start + chunk_rows]
            pending, held = ([joined.iloc[cut:]] if cut < held else []), held - cut
    if pending:
        yield concat_chunks(pending) if len(pending) > 1 else pending[0]
    elif not yielded and columns_only is not None:
        yield columns_only


def _partition_column(value: str, kind: pa.DataType, rows: int) -> Any:
    """A `key=value` folder's value as a column of `rows` rows: a whole number, text, or missing (Hive's null)."""
    if value == _HIVE_NULL:
        return pd.array([pd.NA] * rows, dtype="Int64") if pa.types.is_integer(kind) else np.full(rows, None, object)
    return np.full(rows, int(value), np.int64) if pa.types.is_integer(kind) else np.full(rows, value, object)


_CSV_SEPARATORS = {",": "a comma", "\t": "a tab"}
_JSON_BLOCK = 1 << 20  # bytes of JSON lines Arrow's reader parses (and infers the types of) at a time
_WHOLE_FLOAT = r"^([+-]?\d+)\.0+$"


def csv_header(path: str | Path) -> list[str]:
    """The column names of a CSV or TSV file, read from its first line: a name written twice is named twice
    (`price`, `price`), where pandas would rename the second (`price.1`) and read the first as if alone."""
    names = [str(c) for c in _read_csv(Path(path), nrows=0).columns]
    if any(_RENAMED.search(name) for name in names):
        written = _read_csv(Path(path), nrows=1, header=None, dtype=str).iloc[0].tolist()
        names = [w if isinstance(w, str) and _RENAMED.sub("", n) == w and n != w else n
                 for n, w in zip(names, written, strict=False)]
    return names


_RENAMED = re.compile(r"\.\d+$")  # pandas' suffix for a column name it has already read


def header_hint(path: Path, header: Sequence[str]) -> str:
    """What to say of a CSV or TSV file whose header does not read as its column names (one column holding
    another separator, or a row of data), or ''."""
    if not (path.is_file() and format_suffix(path) in (".csv", ".tsv", ".txt")):
        return ""
    return _other_separator_hint(path, header) or _no_header_hint(path, header)


def _other_separator_hint(path: Path, header: Sequence[str]) -> str:
    """What to say of a CSV or TSV file whose header reads as one column holding another separator
    ('a;b', as Excel writes CSV where the decimal mark is a comma): which one, and how to give the file; or ''."""
    own = _separator(path)
    marks = [mark for mark in ",;|\t" if mark != own and len(header) == 1 and mark in str(header[0])]
    if not marks:
        return ""
    name = str(header[0])
    mark = max(marks, key=name.count)
    said = (f"its header is one column, {name!r}, that reads as {name.count(mark) + 1} columns separated by "
            f"{_SEPARATOR_NAMES[mark]}")
    if mark in _CSV_SEPARATORS:  # a tab-separated .csv, a comma-separated .tsv: its name is all that is wrong
        suffix = ".tsv" if mark == "\t" else ".csv"
        return f"{said}: .csv files are read comma-separated and .tsv files tab-separated, so give it a {suffix} name"
    decimal = ""
    try:
        sample = _read_csv(path, sep=mark, nrows=50, dtype=str)
        if any(sample[c].dropna().str.fullmatch(r"[+-]?\d+,\d+").any() for c in sample.columns):
            decimal = ", decimal=','"  # numbers written 11,69
    except (ValueError, OSError, UnicodeDecodeError, DataError):
        pass
    return (f"{said}, where .csv files are read comma-separated and .tsv files tab-separated: convert it, e.g. "
            f"pandas.read_csv({str(path)!r}, sep={mark!r}{decimal}).to_parquet({_parquet_beside(path)!r}), and give "
            "that")


_SEPARATOR_NAMES = {"\t": "tabs", ",": "commas", ";": "semicolons", "|": "'|'"}


def _parquet_beside(path: Path) -> str:
    """The Parquet file a text table converts to, beside it: rows.csv.gz → rows.parquet."""
    return re.sub(r"\.(csv|tsv|txt)(\.\w+)?$", "", str(path)) + ".parquet"


def _placeholder_names(count: int, shown: int | None = None) -> str:
    """Names for a file's `count` unnamed columns in a line to copy ('column1', 'column2', ...), the first
    `shown` of them when given."""
    listed = ", ".join(f"'column{i + 1}'" for i in range(min(count, shown or count)))
    return listed + (", ..." if shown is not None and count > shown else "")


def header_of_data(header: Sequence[str]) -> list[str]:
    """A CSV header's names that look like values, when most of them do (numbers, or what
    pandas names an empty field, 'Unnamed: 3'): a file with no header line, whose first row was read
    as its column names. Empty when the header looks like names."""
    odd = [str(n) for n in header if re.fullmatch(_VALUE_LIKE, str(n))]
    return odd if len(header) > 1 and 2 * len(odd) > len(header) else []


# A number, a hashed value (8 or more hexadecimal digits, some of them digits: Criteo's categories), a date
# with its time or written with '/' ('11/12/2019 7:43:20 PM'), three or more spaced ids ('N539 N615 N81':
# MIND's lists), or pandas' name for an empty header field.
_VALUE_LIKE = (r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?=[a-f]*\d)[0-9a-f]{8,}|Unnamed: \d+"
               r"|\d{1,2}/\d{1,2}/\d{2,4}(?:\s.*)?|\d{4}-\d\d-\d\d[ T]\d\d?:\d\d.*|(?:\S*\d\S*\s+){2,}\S*\d\S*")


def _no_header_hint(path: Path, header: Sequence[str]) -> str:
    """What to say of a CSV whose header looks like a row of data (`header_of_data`), or ''."""
    odd = header_of_data(header)
    if not odd:
        return ""
    sep = f", sep={_separator(path)!r}" if _separator(path) != "," else ""
    return (f"its first line looks like a row of data, not column names ({', '.join(map(reprlib.repr, odd[:4]))}...): "
            f"a CSV's first line is read as its header, so give {path.name} a line naming its {len(header)} columns, "
            f"or convert it, naming them, e.g. pandas.read_csv({str(path)!r}{sep}, header=None, "
            f"names=[{_placeholder_names(len(header), 3)}]).to_parquet({_parquet_beside(path)!r}), and give that")


def _require_data(path: Path) -> None:
    """A DataError unless `path` is a file or folder with something in it: each format's reader
    would call an empty file unreadable, or columnless."""
    if not path.exists():
        raise DataError(f"no data at {path}{pattern_hint(path)}")
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes): no columns and no rows")


def _read_json(path: Path, chunk_rows: int, whole: set[str] = frozenset()) -> Iterator[pd.DataFrame]:
    """JSON lines (one object a row, as `ctr predict --out rows.json` writes them) chunk by chunk, or a
    JSON array of objects read whole, each row read as a request's is: values keep JSON's types (no
    guessing of dates from column names; a 64-bit id beside a null stays exact, where pandas' reader
    made the column float64), and an object's fields are columns named by their path ('user.id'), but
    for the columns in `whole`, which hold the objects (a weighted bag's {id: weight}).
    Text that is not JSON is a DataError naming the file and the line."""
    try:
        with opener(path)(path, "rt", encoding="utf-8") as file:
            array = file.read(1024).lstrip()[:1] == "["
            file.seek(0)
            read = 0
            if array:
                rows = json.load(file)
                batches = ((f"rows {start + 1} to {min(start + chunk_rows, len(rows))}", rows[start:start + chunk_rows])
                           for start in range(0, len(rows), chunk_rows))
            else:
                read = yield from _arrow_json_lines(path, chunk_rows, whole)
                if read is None:
                    return
                batches = _json_lines(path, file, chunk_rows, skip=read)
            empty = not read
            for where, batch in batches:
                empty = False
                try:
                    frame = records_frame([_flat_row(row, whole) if isinstance(row, dict) else row for row in batch])
                except DataError as err:  # a row that is no object
                    raise DataError(f"{path} ({where}): {err}") from None
                # An object null in every row that has one ({"geo": null}) is no column beside its fields.
                yield frame.drop(columns=[c for c in frame.columns if frame[c].isna().all()
                                          and any(other.startswith(f"{c}.") for other in frame.columns)])
        if empty:
            yield pd.DataFrame()
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not readable as a JSON array of objects (line {err.lineno}, column {err.colno}: "
                        f"{err.msg})") from None
    except ZipMembersError as err:
        raise DataError(f"{path}: {err}") from None
    except (UnicodeDecodeError, *UNDECOMPRESSABLE) as err:
        raise DataError(f"{path}: not readable as JSON lines (one object a row) or a JSON array of objects"
                        f"{why_unreadable(path, err)}") from None


def mapping_columns(source: Source, rows: int = 1000) -> set[str]:
    """The keys of a JSON file's first `rows` rows whose objects map ids to weights (numbers from 0 to 1e9):
    objects whose keys vary from row to row, where a record's are its fields. Nothing for other sources."""
    path = first_file(source) if isinstance(source, str | Path) else None
    if path is None or format_suffix(path) not in JSON or not path.is_file():
        return set()
    try:
        with opener(path)(path, "rt", encoding="utf-8") as file:
            if file.read(1024).lstrip()[:1] == "[":
                file.seek(0)
                read = json.load(file)[:rows]
            else:
                file.seek(0)
                read = next((batch for _, batch in _json_lines(path, file, rows)), [])
    except (json.JSONDecodeError, DataError, UnicodeDecodeError, *UNDECOMPRESSABLE):
        return set()  # the reader says what is wrong with the file
    objects: dict[str, list[dict]] = {}
    for row in (r for r in read if isinstance(r, dict)):
        for key, value in row.items():
            if value is not None:
                objects.setdefault(key, []).append(value)
    return {key for key, values in objects.items() if weight_mappings(values)}


def weight_mappings(values: Iterable[Any]) -> bool:
    """Whether a column's present values are mappings of ids to weights (a null weight: an id not held): every
    one a mapping, their keys varying from row to row, where a record's (a struct's) are its fields."""
    values = list(values)
    return (all(isinstance(v, Mapping) for v in values) and len({frozenset(v) for v in values}) > 1
            and all(w is None or is_weight(w) for v in values for w in v.values()))


def _json_lines(path: Path, file: Any, chunk_rows: int, skip: int = 0) -> Iterator[tuple[str, list[Any]]]:
    """(which lines, their rows) for `chunk_rows` rows at a time after the first `skip` rows; blank lines
    are skipped."""
    rows: list[Any] = []
    first, number = 1, 0
    for number, line in enumerate(file, 1):
        if not line.strip():
            continue
        if skip:
            skip -= 1
            first = number + 1
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: not readable as JSON lines (one object a row): line {number} is no JSON "
                            f"({err.msg}, at column {err.colno}): {line.strip()[:60]!r}") from None
        if len(rows) == chunk_rows:
            yield f"lines {first} to {number}", rows
            rows, first = [], number + 1
    if rows:
        yield f"lines {first} to {number}", rows


class _NotAsWrittenError(Exception):
    """Arrow's JSON reader would give a value otherwise than JSON wrote it."""


def _arrow_json_lines(path: Path, chunk_rows: int,
                      whole: set[str] = frozenset()) -> Generator[pd.DataFrame, None, int | None]:
    """JSON lines read by Arrow's reader, some ten times as fast as row by row, `chunk_rows` rows at a
    time. Returns None when it read them all; else the rows it gave before a block it does not read as
    the row-by-row reader does, which reads on from there: a key's type that changes or a key that
    comes late, an integer beyond int64 (which it makes a float), text that is no JSON, objects in a
    column of `whole` (Arrow's structs would give each row every key). Dates written as ISO text stay
    text, as written."""
    import pyarrow.json as pj

    options = pj.ReadOptions(block_size=_JSON_BLOCK)
    given, pending, held = 0, [], 0
    try:
        with contextlib.ExitStack() as files:
            reader = pj.open_json(files.enter_context(opener(path)(path, "rb")), read_options=options)
            if any(pa.types.is_struct(field.type) for field in reader.schema if field.name in whole):
                raise _NotAsWrittenError
            written = _dates_as_text(reader.schema)
            if written != reader.schema:  # ISO dates Arrow's reader took for timestamps: read again, as text
                reader = pj.open_json(files.enter_context(opener(path)(path, "rb")), read_options=options,
                                      parse_options=pj.ParseOptions(explicit_schema=written))
            for batch in reader:
                table = _readable(pa.Table.from_batches([batch]))
                if _beyond_exact_floats(table):
                    raise _NotAsWrittenError
                pending.append(table)
                held += len(table)
                while held >= chunk_rows:
                    whole = pa.concat_tables(pending)
                    yield _frame(whole.slice(0, chunk_rows))
                    given += chunk_rows
                    pending, held = [whole.slice(chunk_rows)], held - chunk_rows
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, _NotAsWrittenError, *UNDECOMPRESSABLE):
        return given
    if held or not given:
        yield _frame(pa.concat_tables(pending)) if pending else pd.DataFrame()
    return None


def _dates_as_text(schema: pa.Schema) -> pa.Schema:
    """The schema with each timestamp or date (at any depth) as text."""
    def plain(kind: pa.DataType) -> pa.DataType:
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            return pa.string()
        if pa.types.is_struct(kind):
            return pa.struct([field.with_type(plain(field.type)) for field in kind])
        if pa.types.is_list(kind):
            return pa.list_(kind.value_field.with_type(plain(kind.value_type)))
        return kind

    return pa.schema([field.with_type(plain(field.type)) for field in schema])


def _beyond_exact_floats(table: pa.Table) -> bool:
    """Whether a float column (a list's too) holds a whole number from 2⁵³ on: maybe an integer literal
    beyond int64 (a uint64 id), which Arrow's JSON reader rounds to a float without a word."""
    for column in table.columns:
        values = column
        while pa.types.is_list(values.type):
            values = pc.list_flatten(values)
        if pa.types.is_floating(values.type) and len(values):
            largest = pc.max(pc.abs(values)).as_py()
            if largest is not None and largest >= 2**53 and math.isfinite(largest):
                return True
    return False


def with_object_fields(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """The frame with the `columns` it lacks that name a field of a column of objects by its path
    ('style.Format:' of Amazon's {"style": {"Format:": ...}}, as pandas.read_json leaves them), read from
    those objects, as a JSON or Parquet file's are, when any of them holds it; the frame itself when it
    lacks none."""
    missing = [c for c in columns if c not in frame.columns and "." in c]
    fields = {}
    for column in missing:
        parts = column.split(".")
        for cut in range(len(parts) - 1, 0, -1):  # the longest column the path starts with
            owner = ".".join(parts[:cut])
            if owner in frame.columns and frame[owner].dtype == object:
                # Objects, not map()'s inference: ids beside a null would pass through float64 and lose bits.
                values = pd.Series([_field_at(v, parts[cut:]) for v in frame[owner].to_numpy()], index=frame.index,
                                   dtype=object)
                if values.notna().any():  # a field no object holds stays missing: a misspelt path is named
                    fields[column] = values
                break
    return frame.assign(**fields) if fields else frame


def _field_at(value: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _flat_row(row: dict[str, Any], whole: set[str] = frozenset(), prefix: str = "") -> dict[str, Any]:
    """A JSON object with each nested object's fields as keys named by their path ('user.geo.city'), as
    a Parquet file's structs are read (`_flat`), but the objects of the keys in `whole`, kept as they
    are; a null object has no fields, so they are missing."""
    if not any(isinstance(value, dict) for value in row.values()) and not prefix:
        return row
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict) and not (key in whole and not prefix):
            flat.update(_flat_row(value, prefix=f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _separator(path: Path) -> str:
    return "\t" if format_suffix(path) == ".tsv" else ","


def _name_unparsed_ids(path: Path, columns: Sequence[str], chunk_rows: int) -> None:
    """Raise a DataError naming the first value of `columns` in the CSV at `path` that is no id of
    int64, which pandas' integer reading only reports as 'Unable to parse string' or an overflow."""
    found = first_unreadable(_read_csv(path, usecols=list(columns), chunksize=chunk_rows, dtype=str), columns,
                             lambda x: (x.isna() | (x != x.round()) | (x.abs() >= 2.0 ** 63)).to_numpy())
    if found:
        column, _, value = found
        raise DataError(f"{path}: column {column!r} holds {value!r}, but the spec reads it as integer ids "
                        "(dtype: int), which must be whole numbers that fit in a signed 64-bit integer; "
                        "declare dtype: string for text or larger ids")


def _read_csv(path: Path, chunksize: int | None = None, sep: str | None = None, **options: Any) -> Any:
    """`pd.read_csv` of `path` (chunk by chunk with `chunksize`; `sep`, else its name's), with what makes the
    text unreadable (not UTF-8, an empty file, a row with too many fields) as a DataError naming the file."""
    def unreadable(err: Exception) -> DataError:
        if isinstance(err, ZipMembersError):
            return DataError(f"{path}: {err}")
        return DataError(f"{path}: not readable as UTF-8 text separated by {_CSV_SEPARATORS[_separator(path)]}"
                         f"{why_unreadable(path, err)}")

    errors = (pd.errors.ParserError, UnicodeDecodeError, *UNDECOMPRESSABLE)
    handle = None
    try:
        # A .zip archive is opened here: pandas refuses one that holds macOS's __MACOSX/ copies beside the file.
        handle = unzipped(path) if path.suffix.lower() == ".zip" else None
        read = pd.read_csv(path if handle is None else handle, sep=sep or _separator(path), chunksize=chunksize,
                           **options)
    except pd.errors.EmptyDataError:
        _close(handle)
        raise DataError(f"{path}: holds no text (or only blank lines), so no line naming its columns and no "
                        "rows") from None
    except errors as err:
        _close(handle)
        raise unreadable(err) from None
    if chunksize is None:
        _close(handle)
        return read

    def chunks() -> Iterator[pd.DataFrame]:
        try:
            yield from read
        except errors as err:
            raise unreadable(err) from None
        finally:
            _close(handle)
    return chunks()


def _close(handle: Any) -> None:
    if handle is not None:
        handle.close()


def _table_format(path: Path) -> str:
    """pyarrow.dataset's format for `path`: 'ipc' for an Arrow IPC (Feather) file, or a folder of them,
    else 'parquet'."""
    if path.is_dir():
        files = data_files(path)
        arrow = bool(files) and all(p.suffix.lower() in ARROW_FILES for p in files)
    else:
        arrow = path.suffix.lower() in ARROW_FILES
    return "ipc" if arrow else "parquet"


def _parquet_error(path: Path, err: Exception) -> DataError:
    """What went wrong reading the Parquet (or Arrow) at `path`: a file that cannot be opened (cut short,
    garbled, not Parquet), or files whose columns disagree."""
    text, kind = str(err).strip(), "Arrow" if _table_format(path) == "ipc" else "Parquet"
    if isinstance(err, pa.ArrowInvalid) and "Could not open Parquet input source" not in text and kind == "Parquet":
        return DataError(f"{path}: the Parquet files do not share one schema: {text}")
    return DataError(f"{path}: a{'n' if kind == 'Arrow' else ''} {kind} file cannot be read ({text})")


def _text_file_hint(path: Path) -> str:
    """What to say of a text file of another suffix ('ratings.dat', 'u.data') read as Parquet: the separator
    its first line holds and how to give it; '' for anything else."""
    if path.is_dir():
        return _text_folder_hint(path)
    first = _first_text_line(path)
    if first is None:
        return ""
    if "::" in first:
        return (f"it is text of fields separated by '::', as MovieLens 1M's .dat files are: give their folder "
                f"(--format movielens-1m; ctr.datasets.movielens_1m(folder) in Python), or convert it, e.g. "
                f"pandas.read_csv({str(path)!r}, sep='::', engine='python', header=None, "
                f"names=[{_placeholder_names(first.count('::') + 1)}], encoding='latin-1').to_parquet(...)")
    if (path.parent / "u.data").is_file() and (path.parent / "u.item").is_file():
        return ("it is one of MovieLens 100K's files: give their folder (--format movielens-100k; "
                "ctr.datasets.movielens_100k(folder) in Python)")
    mark = next((m for m in ("\t", ",", ";", "|") if m in first), None)
    if mark is None:
        return ""
    said = _SEPARATOR_NAMES[mark]
    if mark in ("\t", ","):
        return f"it is text of fields separated by {said}: give it a {'.tsv' if mark == chr(9) else '.csv'} name"
    return (f"it is text of fields separated by {said}: convert it, e.g. pandas.read_csv({str(path)!r}, "
            f"sep={mark!r}).to_parquet(...)")


def _text_folder_hint(path: Path) -> str:
    """What to say of a folder of text files named with no suffix ctr reads (Hadoop's and Spark's `part-00000`,
    Hive's `000000_0`) read as Parquet: which files and what text, and how to give them; '' for anything else."""
    files = data_files(path)
    lines = {p: _first_text_line(p) for p in files}
    text = [p for p in files if lines[p] is not None]
    if not text:
        return ""
    named = ", ".join(str(p.relative_to(path)) for p in text[:3]) + (", ..." if len(text) > 3 else "")
    if len(text) < len(files):  # a note beside the data, say
        one = len(text) == 1
        return (f"{len(text)} of its {len(files)} files ({named}) {'is' if one else 'are'} text, not data "
                f"of the others' format: move {'it' if one else 'them'} out")
    first = lines[text[0]] or ""
    mark = next((m for m in ("\t", ",", ";", "|", "\x01") if m in first), None)
    said = {**_SEPARATOR_NAMES, "\x01": "Ctrl-A ('\\x01', Hive's)"}.get(mark or "", "")
    what = f"text of fields separated by {said}" if said else "text"
    if mark in ("\t", ","):
        suffix = ".tsv" if mark == "\t" else ".csv"
        how = f"give them a {suffix} name, and the folder is read as one table of its {suffix} files"
    else:
        how = (f"convert them, e.g. pandas.read_csv(file{f', sep={mark!r}' if mark else ''}, header=None, "
               "names=[...]).to_parquet(...) for each, into a folder that is read as one table")
    return f"its files ({named}) are {what}: {how}"


def _first_text_line(path: Path) -> str | None:
    """The first line of a text file (read as Latin-1, as MovieLens' titles are), or None for a file of binary
    data (Parquet's, any other) or of blanks alone."""
    if not path.is_file():
        return None
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if b"\x00" in head or head.startswith(b"PAR1") or not head.strip():
        return None
    return head.decode("latin-1").splitlines()[0]


def _other_file_hint(path: Path) -> str:
    """What to say of a spreadsheet (`.xlsx`, `.xls`, `.ods`: an .xlsx would otherwise be told to unzip)
    or a Python pickle given as data, with how to give its rows; '' for anything else."""
    if not path.is_file():
        return ""
    import zipfile

    suffix, beside = path.suffix.lower(), str(path.with_suffix(".parquet"))
    with open(path, "rb") as handle:
        head = handle.read(2)
    workbook = False
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            workbook = "xl/workbook.xml" in archive.namelist()  # an .xlsx by another name
    if workbook or suffix in (".xlsx", ".xlsm", ".xls", ".ods", ".numbers"):
        return (f"it is a spreadsheet: save its sheet as CSV (UTF-8) and give that file, or convert it, e.g. "
                f"pandas.read_excel({str(path)!r}, sheet_name=0).to_parquet({beside!r}) (in Python, "
                "pass pandas.read_excel(...) itself)")
    if suffix in (".pkl", ".pickle") or head in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        return ("it is a Python pickle, which ctr does not read (loading one can run any code): pass the DataFrame "
                f"itself in Python, or write it as Parquet, e.g. pandas.read_pickle({str(path)!r}).to_parquet("
                f"{beside!r}) if you trust it")
    return ""


def _archive_hint(path: Path) -> str:
    """What to say of a Parquet or Arrow file in a zip or gzip archive (`rows.parquet.zip`), which is read
    from the file alone; '' for anything else."""
    if not path.is_file():
        return ""
    import zipfile

    why = "Parquet and Arrow files are read by seeking in the file itself (their columns are compressed inside)"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [m.filename for m in zip_members(archive)]
        held = f" holding {', '.join(names[:3])}{', ...' if len(names) > 3 else ''}" if names else ""
        return f"it is a zip archive{held}: unzip it and give the file (or its folder), since {why}"
    if is_gzipped(path):
        return f"it is compressed with gzip: gunzip it (gunzip -k {path.name}) and give the file, since {why}"
    return ""


def parquet_dataset(path: Path) -> pads.Dataset:
    """The Parquet file or folder at `path` (or Arrow IPC, Feather's format: `_table_format`), or a
    DataError saying why it cannot be read."""
    table_format = _table_format(path)
    try:
        dataset = pads.dataset(path, format=table_format)
    except (pa.ArrowInvalid, OSError) as err:
        if table_format == "ipc":
            raise DataError(f"{path}: not a readable Arrow IPC (Feather version 2) file ({err}); a Feather version 1 "
                            f"file converts with pandas.read_feather({str(path)!r}).to_parquet(...)") from None
        text = _other_file_hint(path) or _archive_hint(path) or _text_file_hint(path)
        raise DataError(f"{path}: not a readable Parquet file or directory, nor Arrow IPC (.arrow, .feather), nor a "
                        f".csv, .tsv or .json file (or one of those ending in {', '.join(COMPRESSED)}), nor "
                        f"TFRecords (.tfrecord)" + (f"; {text}" if text else f" ({err})")) from None
    if not dataset.files:
        raise DataError(f"{path}: a folder with no Parquet files in it")
    partitioning = _hive_partitioning(path, dataset.files, dataset.schema.names) if path.is_dir() else None
    if partitioning is None:
        return dataset
    try:
        return pads.dataset(dataset.files, format=table_format, partitioning=partitioning,
                            partition_base_dir=str(path))
    except (pa.ArrowInvalid, OSError) as err:
        raise _parquet_error(path, err) from None


_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # Hive's and Spark's folder name for a missing value


def _hive_partitioning(root: Path, files: list[str], columns: list[str]) -> pads.Partitioning | None:
    """The `key=value` folders between `root` and its files (as Spark, Hive and pyarrow write a partitioned
    table) read as columns (`_partition_fields`), or None when there are none."""
    fields = _partition_fields(root, files, columns)
    return pads.partitioning(pa.schema(fields), flavor="hive") if fields else None


def _partition_fields(root: Path, files: Sequence[str | Path], columns: Collection[str]) -> list[pa.Field]:
    """The columns that the `key=value` folders between `root` and its files name, but those in `columns`:
    a column the files hold themselves keeps their values, the rows' own. A key is a whole-number column
    when each of its values is written as one with no leading zero, else text, so that a ZIP code 01234
    keeps its zero."""
    values: dict[str, set[str]] = {}
    for file in files:
        for key, value in _partition_values(root, file).items():
            if key not in columns:
                values.setdefault(key, set()).add(value)
    fields = []
    for key, seen in values.items():
        known = seen - {_HIVE_NULL}
        # As str(int) spells a number that int64 holds: a leading zero (a code) or a 19th digit makes text.
        whole = bool(known) and all(re.fullmatch(_ID, value) and len(value.lstrip("-")) <= 18 for value in known)
        fields.append(pa.field(key, pa.int64() if whole else pa.string()))
    return fields


def _partition_values(root: Path, file: str | Path) -> dict[str, str]:
    """Each `key=value` folder between `root` and `file`, its value unquoted (`fr%20ouest` is 'fr ouest')."""
    pairs = (folder.partition("=") for folder in Path(os.path.relpath(file, root)).parts[:-1])
    return {key: urllib.parse.unquote(value) for key, equals, value in pairs if equals and key}


def _frame(batch: pa.RecordBatch) -> pd.DataFrame:
    """An Arrow batch as a DataFrame. Pandas metadata that no longer fits a column (one replaced, say
    by lists, in a table made from a DataFrame) is set aside rather than failing the read. Integers
    with nulls become pandas' nullable integers, not float64, which would change a 64-bit id."""
    try:
        frame = batch.to_pandas()
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        frame = batch.to_pandas(ignore_metadata=True)
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_integer(column.type) and column.null_count and name in frame.columns:
            frame[name] = column.to_pandas(types_mapper=_NULLABLE_INTEGERS.get).array
    return frame


def _readable(table: pa.Table) -> pa.Table:
    """An Arrow table in the columns pandas reads: structs spread (`_flat`), views made plain."""
    return _without_views(_flat(table))


def _flat(table: pa.Table) -> pa.Table:
    """The table with each struct's fields as columns of their own, named by their path ('user.id'), as
    Spark, pandas' json_normalize and `_flat_fields` name them."""
    while any(pa.types.is_struct(kind) for kind in table.schema.types):
        table = table.flatten()
    return table


def _flat_fields(schema: pa.Schema) -> dict[str, pc.Expression]:
    """Each column of a schema (a struct's fields as columns named by their path: 'user.id') → the
    expression that reads it from a dataset."""
    fields: dict[str, pc.Expression] = {}

    def add(field: pa.Field, path: tuple[str, ...]) -> None:
        if pa.types.is_struct(field.type):
            for child in field.type:
                add(child, (*path, child.name))
        else:
            fields[".".join(path)] = pc.field(*path)
    for field in schema:
        add(field, (field.name,))
    return fields


def _without_views(table: pa.Table) -> pa.Table:
    """The table with Arrow's view layouts (string_view, list_view, as polars hands over text and lists) cast
    to the plain ones, which pandas reads: it has no conversion for a list of string views."""
    # The usual case, checked once per call and twice in predict (as_source, then iter_chunks): 8 µs for
    # 11 columns, where building the plain schema to compare took 26.
    if not any(_has_view(kind) for kind in table.schema.types):
        return table
    plain = pa.schema([field.with_type(_plain_type(field.type)) for field in table.schema],
                      metadata=table.schema.metadata)
    columns = []
    for column, field in zip(table.columns, plain, strict=True):
        if "list_view" in str(column.type):
            # pyarrow 26 casts a list view to a list of the wrong length (its offsets one short); neither
            # polars nor DuckDB hands them over, so going through Python's lists costs nothing in practice.
            column = pa.chunked_array([pa.array(chunk.to_pylist(), field.type) for chunk in column.chunks],
                                      field.type)
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=plain)


def _has_view(kind: pa.DataType) -> bool:
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _has_view(kind.value_type)
    return (pa.types.is_string_view(kind) or pa.types.is_binary_view(kind) or pa.types.is_list_view(kind)
            or pa.types.is_large_list_view(kind))


def _plain_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_binary_view(kind):
        return pa.binary()
    lists = {pa.types.is_list: pa.list_, pa.types.is_list_view: pa.list_, pa.types.is_large_list: pa.large_list,
             pa.types.is_large_list_view: pa.large_list}
    make = next((plain for test, plain in lists.items() if test(kind)), None)
    if make is None:
        return kind
    inner = _plain_type(kind.value_type)
    if inner == kind.value_type and not (pa.types.is_list_view(kind) or pa.types.is_large_list_view(kind)):
        return kind
    return make(kind.value_field.with_type(inner))


_NULLABLE_INTEGERS = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
                      pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
                      pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype()}


def columns_frame(columns: Mapping[str, Any]) -> pd.DataFrame:
    """A request given as column name → values, checked to be one value per row and of one length; a
    mapping with single values (`{"user_id": 196, ...}`) is one row, whose list values (`"genres":
    ["Action", "Comedy"]`) are that row's lists."""
    if any(_is_scalar(v) for v in columns.values()):  # one row: each value is the row's, a list included
        return pd.DataFrame({name: _one_row(value) for name, value in columns.items()})
    arrays = {}
    for name, values in columns.items():
        if isinstance(values, list | tuple) and any(isinstance(v, LIST_TYPES) for v in values):
            # A list per row (a multi-valued feature's), of any lengths: one object each, never a 2-D array.
            array = np.empty(len(values), dtype=object)
            for i, value in enumerate(values):
                array[i] = value
            arrays[name] = array
            continue
        try:
            array = np.asarray(values)
        except ValueError:  # ragged nesting
            raise DataError(f"column {name!r}: expected one value per row, got nested sequences") from None
        if array.dtype.kind == "U":
            array = array.astype(object)
        elif array.dtype == object and all(type(v) is float or v is None for v in values):
            array = array.astype(np.float64)  # numbers with gaps (JSON's nulls) are NaN, as pandas reads them
        if array.ndim != 1:
            raise DataError(f"column {name!r}: expected one value per row (a 1-D array or list), "
                            f"got an array of shape {array.shape}")
        arrays[name] = array
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(f"the columns have different lengths: {lengths}")
    return pd.DataFrame(arrays)


def _is_scalar(value: Any) -> bool:
    try:
        return np.ndim(value) == 0
    except ValueError:  # ragged nesting: a sequence of sequences
        return False


def _one_row(value: Any) -> np.ndarray:
    """`value` as a one-row column: a single value as itself, a list (a multi-valued feature's) whole,
    where `np.asarray([value])` would spread it over columns."""
    if np.ndim(value) == 0:
        column = np.asarray(value).reshape(1)
        return column.astype(object) if column.dtype.kind in "US" else column
    column = np.empty(1, dtype=object)
    column[0] = value
    return column


def as_source(source: Any, what: str = "data") -> pd.DataFrame | pa.Table | pads.Dataset | str | os.PathLike:
    """The source in a form the readers take (a request or record batch becomes a table, once), or a
    DataError saying what data can be (`what` names the source: an argument's name)."""
    if isinstance(source, pd.DataFrame | pads.Dataset | str | os.PathLike):
        return source
    if isinstance(source, pads.Scanner):  # read once, as a RecordBatchReader is
        return as_source(source.to_reader(), what)
    if isinstance(source, pa.Table):
        return _readable(source)
    if isinstance(source, pa.RecordBatch):
        return _readable(pa.Table.from_batches([source]))
    if hasattr(source, "__arrow_c_stream__") and not isinstance(source, Mapping | pd.Series | pd.Index):
        # The Arrow PyCapsule stream: a polars DataFrame, a DuckDB relation, a RecordBatchReader, read once.
        try:
            return _readable(pa.table(source))
        except (pa.ArrowException, TypeError, ValueError) as err:
            raise DataError(f"{what} is an Arrow stream ({type(source).__name__}) that is no table of named columns "
                            f"(a single column? give it as a table): {err}") from None
    if isinstance(source, Mapping):
        return columns_frame(source)
    if isinstance(source, list | tuple) and any(isinstance(row, Mapping) for row in source):
        return records_frame(source)
    if type(source).__module__.startswith("tensorflow") and hasattr(source, "element_spec"):
        return dataset_frame(source)
    if isinstance(source, list | tuple) and not source:
        raise DataError(f"{'the data' if what == 'data' else what} is an empty list: no rows, and no columns to check")
    hint = (" (for one row of a DataFrame, pass frame.iloc[[i]])" if isinstance(source, pd.Series) else
            " (its fields are columns: pass pd.DataFrame(array))" if isinstance(source, np.ndarray) and
            source.dtype.names else
            " (name its columns: pd.DataFrame(array, columns=[...]))" if isinstance(source, np.ndarray) else
            _several_hint(source) if isinstance(source, list | tuple) else
            " (pass the file's path: ctr reads a CSV chunk by chunk itself)"
            if type(source).__name__ == "TextFileReader" else
            " (pass the file's path, or pyarrow.dataset.dataset(path): ctr reads Parquet batch by batch itself)"
            if type(source).__name__ == "ParquetFile" else
            " (rows one at a time: pass list(rows); DataFrames one at a time: pd.concat(frames), or write them "
            "as files of one folder and pass the folder)" if isinstance(source, Iterator) else "")
    raise DataError(f"{what} must be a pandas DataFrame, a pyarrow Table (or any Arrow stream: a polars DataFrame) "
                    "or dataset, a mapping of column name → values, a list of rows (each a mapping of column name → "
                    "value), a tf.data.Dataset of such mappings, or the "
                    f"path of a Parquet, CSV or JSON-lines file or folder of them, or TFRecords; got "
                    f"{type(source).__name__}"
                    f"{hint}")


def _several_hint(items: list | tuple) -> str:
    """What to pass for a list of paths or of tables, which are no one source."""
    if items and all(isinstance(item, str | os.PathLike) for item in items):
        if all(Path(item).suffix.lower() in (".parquet", ".pq", ".parq") for item in items):
            # A day's files picked from a folder that holds others: a dataset of them, streamed as a folder is.
            return (" (several Parquet files: pass pyarrow.dataset.dataset(paths), read as one table, or put them in "
                    "one folder and pass the folder)")
        return " (several files: put them in one folder and pass the folder, which is read as one table)"
    if items and all(isinstance(item, pd.DataFrame | pa.Table) for item in items):
        return " (several tables: pass pd.concat(frames), or pa.concat_tables(tables))"
    return ""


def dataset_frame(dataset: Any) -> pd.DataFrame:
    """A `tf.data.Dataset` of column name → tensor (batched or not, as TensorFlow Datasets and
    `tf.io.parse_example` make them) as one DataFrame, read whole: text as str, and a ragged,
    sparse or 2-D value as each row's list. For data beyond memory, write Parquet and pass its path."""
    import tensorflow as tf

    spec = dataset.element_spec
    if isinstance(spec, tuple) and len(spec) in (2, 3) and isinstance(spec[0], Mapping):
        raise DataError("the tf.data.Dataset yields (features, label) pairs, as Keras' fit takes them; ctr reads "
                        "the label from a column of the data, as the spec's label names it: pass "
                        "dataset.map(lambda x, y: {**x, 'clicked': y}) with your label column's name")
    if not isinstance(spec, Mapping) or not spec:
        raise DataError(f"a tf.data.Dataset must yield a mapping of column name → tensor; its elements are {spec}")
    if any(getattr(s, "shape", None) is not None and s.shape.rank == 0 for s in spec.values()):
        # One row an element: batched, a list of varying length as a ragged row (ragged_batch, which
        # takes 6× as long as batch, only where a dense list has no fixed length).
        varying = any(isinstance(s, tf.TensorSpec) and not s.shape.is_fully_defined() for s in spec.values())
        dataset = dataset.ragged_batch(65_536) if varying else dataset.batch(65_536)
    frames = [columns_frame({name: _dataset_column(name, value) for name, value in batch.items()})
              for batch in dataset]
    if not frames:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in spec})
    return concat_chunks(frames)


def _dataset_column(name: str, value: Any) -> Any:
    """One batch's column of a tf.data.Dataset: a 1-D array, or a list per row for a ragged, sparse
    or 2-D tensor; text decoded as UTF-8."""
    import tensorflow as tf

    if isinstance(value, tf.SparseTensor):
        value = tf.RaggedTensor.from_sparse(value)
    if isinstance(value, tf.RaggedTensor) or (hasattr(value, "shape") and value.shape.rank == 2):
        if value.shape.rank != 2:
            raise DataError(f"column {name!r} of the tf.data.Dataset: expected one value or one list per row, "
                            f"got a tensor of shape {value.shape}")
        if not isinstance(value, tf.RaggedTensor) and value.dtype.is_floating:  # vectors: each row's array
            return list(value.numpy())
        rows = value.to_list() if isinstance(value, tf.RaggedTensor) else value.numpy().tolist()
        if value.dtype == tf.string:
            rows = [[raw_text(item) for item in row] for row in rows]
        return rows
    array = value.numpy()
    if array.ndim != 1:
        raise DataError(f"column {name!r} of the tf.data.Dataset: expected one value or one list per row, got a "
                        f"tensor of shape {value.shape}")
    return np.array([raw_text(v) for v in array], dtype=object) if value.dtype == tf.string else array


def records_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A request given as a list of rows, each a mapping of column name → value (a JSON array of
    objects); a column a row leaves out is a missing value in that row."""
    stranger = next((i for i, row in enumerate(rows) if not isinstance(row, Mapping)), None)
    if stranger is not None:
        raise DataError(f"row {stranger} of the data is a {type(rows[stranger]).__name__}; in a list of rows, "
                        "each is a mapping of column name → value")
    names = dict.fromkeys(name for row in rows for name in row)
    return columns_frame({name: [row.get(name) for row in rows] for name in names})


def refuse_binary_ids(column: pd.Series, name: str, where: str, why: str) -> None:
    """Raise a DataError if the column holds bytes that are no UTF-8 text (binary ids), where `why` says
    what needs its ids as text. A click model's features read them; ids a catalogue returns or a history
    joins into one string are text."""
    if column.dtype != object or pd.api.types.infer_dtype(column, skipna=True) not in ("bytes", "mixed"):
        return
    binary = next((v for v in column if isinstance(v, bytes) and isinstance(raw_text(v), bytes)), None)
    if binary is not None:
        raise DataError(f"{where}: column {name!r} holds bytes that are no UTF-8 text ({binary[:16]!r}); {why}, so "
                        f"write the ids as text first, e.g. frame[{name!r}].map(bytes.hex)")


def require_columns(have: Any, need: Sequence[str], where: str = "the data", hint: Hint = "") -> None:
    """Raise a DataError naming every column of `need` missing from `have` (column names, or a DataFrame),
    and listing what is there (then `hint`, or the hints of a mapping column → hint for the missing
    columns it names)."""
    frame = have if isinstance(have, pd.DataFrame) else None
    if frame is not None:
        have = frame.columns
    present = set(have)
    missing = [c for c in need if c not in present]
    if missing:
        if callable(hint):
            hint = hint(list(have), missing)
        elif not isinstance(hint, str):
            hint = "".join(hint[c] for c in missing if c in hint)
        indexed = [c for c in missing if c in frame.index.names] if frame is not None else []
        if indexed:  # a groupby's or set_index's result: the column became the index
            hint = (f" ({' and '.join(map(repr, indexed))} {'is' if len(indexed) == 1 else 'are'} the frame's "
                    f"index: pass frame.reset_index())") + hint
        elif isinstance(have, pd.MultiIndex):  # an agg's or pivot's columns
            hint = " (its column names are tuples, a MultiIndex: give each column a single name)" + hint
        else:
            # A column the hint names already (the rows hold the features' names) is not offered twice.
            spare = [c for c in have if isinstance(c, str) and repr(c) not in hint]
            hint = _near_columns(missing, spare) + hint
        listed = ", ".join(repr(str(c)) for c in list(have)[:30]) or "no columns at all"
        names = ", ".join(repr(c) for c in missing)
        raise DataError((f"column {names} is missing from {where}; it has: {listed}" if len(missing) == 1 else
                         f"columns {names} are missing from {where}; it has: {listed}") + hint)
    if len(present) < len(have):  # `have` names a column twice: reading it would give a table, not a column
        counts = pd.Series(list(have)).value_counts()
        twice = [c for c in dict.fromkeys(need) if counts.get(c, 0) > 1]
        if twice:
            raise DataError(f"column {twice[0]!r} appears {counts[twice[0]]} times in {where}; give each column once"
                            + (f" (so do {', '.join(map(repr, twice[1:]))})" if twice[1:] else ""))


def _near_columns(missing: Sequence[str], spare: Sequence[str]) -> str:
    """' (did you mean ...?)' for missing columns that a column there seems to be, spelled another way
    ('userId', 'User ID' for 'user_id') or mistyped ('gendr'), each offered once; '' when none is near."""
    near = near_columns(missing, spare)
    if not near:
        return ""
    if len(missing) == 1:
        return f" (did you mean {near[missing[0]]!r}?)"
    return f" (did you mean {', '.join(f'{c!r} for {name!r}' for name, c in near.items())}?)"


def near_columns(missing: Sequence[str], spare: Sequence[str]) -> dict[str, str]:
    """Each missing column's nearest of the `spare` ones (spelled another way, as 'userId' or 'User ID' for
    'user_id', or mistyped, as 'gendr'), each offered once; those with none near are left out."""
    def key(name: str) -> str:
        return re.sub(r"[\W_]+", "", name).lower()

    by_key = {key(c): c for c in reversed(spare)}
    near: dict[str, str] = {}
    for name in missing:
        left = [k for k in by_key if by_key[k] not in near.values()]
        close = [key(name)] if key(name) in left else difflib.get_close_matches(key(name), left, n=1, cutoff=0.8)
        if close:
            near[name] = by_key[close[0]]
    return near


# -- columns → canonical raw arrays ---------------------------------------------------------------
def query_rows(spec: FeatureSpec, queries: Any) -> pd.DataFrame:
    """A recommender's queries as rows: as `read` takes data, or given as user ids alone (a list or array of
    them, `recommend([196, 22])`, or one integer id, as recommender libraries take them), a row each of the
    spec's user id column. One string is a file's path, as everywhere: a text id goes in a list."""
    ids = queries.tolist() if isinstance(queries, np.ndarray) and queries.ndim == 1 else queries
    scalar = (str, bytes, int, np.integer)
    one = isinstance(ids, int | np.integer) and not isinstance(ids, bool)
    if one or (isinstance(ids, list | tuple) and ids and all(isinstance(i, scalar) for i in ids)):
        key = spec.id_feature("user")
        if key is not None:
            return pd.DataFrame({key.source: [ids] if one else list(ids)})
    if isinstance(queries, str) and not Path(queries).exists():
        raise DataError(f"no data at {queries!r}: one string is a file of queries; for a user whose id is text, "
                        f"give the id in a list: recommend([{queries!r}])")
    return read(queries)


def complete_queries(spec: FeatureSpec, names: list[str], rows: pd.DataFrame,
                     users: pd.DataFrame | None = None, reads_them: bool = True) -> pd.DataFrame:
    """`rows` with a column for every query feature in `names`. With `users` (the known users' latest
    features, as a recommender stores them), a known user's own values fill the user columns `rows`
    lacks, as `ctr recommend --user` does; what is left is filled as missing values (empty string, NaN,
    or MISSING_INT for integer ids and timestamps), which is how a user the model has never seen is
    described by the few features they bring. Rows holding none of those columns are refused, unless
    the model does not read them (`reads_them=False`: popularity's export takes them and ignores them)."""
    absent = [spec[name] for name in names if spec[name].source not in rows.columns]
    if not absent:  # a complete request (every serving call of a known user) is passed on as it is
        return rows
    # A query column the model does not read, named nearly as one it lacks, is a misspelt feature: its
    # values would be dropped and the feature served as missing, with a plausible list to show for it.
    read = {f.source for f in spec.features}
    near = near_columns([f.source for f in absent], [c for c in rows.columns if isinstance(c, str) and c not in read])
    if near:
        one = len(near) == 1
        raise DataError(f"the queries' column{'' if one else 's'} {', '.join(map(repr, near.values()))} "
                        f"{'is' if one else 'are'} none the model reads, and its {', '.join(map(repr, near))} "
                        f"{'is' if one else 'are'} absent: did you mean "
                        + ", ".join(f"{name!r} for {column!r}" for name, column in near.items())
                        + "? Rename the column (without it, each query's value is served as missing)")
    if len(absent) == len(names) and len(rows.columns) and reads_them:
        # Columns, but none the model reads (a misnamed id): every query would be ranked as one
        # featureless user, and the list would look plausible.
        raise DataError(f"the queries hold none of the model's query columns "
                        f"({', '.join(repr(f.source) for f in absent)}); their columns are "
                        f"{', '.join(map(repr, rows.columns))}. Send each user's id (a user the model has never "
                        "seen, with whatever of those columns they have)")
    if users is not None and len(users):
        key = spec.id_feature("user")
        rows = _stored_values(key, rows, users, [f.source for f in absent if f.role == "user"])
        absent = [f for f in absent if f.source not in rows.columns]
    fills = {"string": ("", object), "float32": (np.nan, np.float64), "int64": (MISSING_INT, np.int64)}
    return rows.assign(**{f.source: np.full(len(rows), *fills[raw_dtype(f)]) for f in absent})


def complete_pairs(spec: FeatureSpec, query_names: list[str], item_names: list[str], item_key: str,
                   rows: pd.DataFrame, users: pd.DataFrame | None, catalogue: pd.DataFrame,
                   reads_queries: bool = True) -> pd.DataFrame:
    """(query, item) rows with the features a pair score reads: the query's as `complete_queries` fills
    them, and the item columns `rows` lacks from the `catalogue` by item id (missing for an item not in
    it), so that a user id and an item id are a whole pair, as they are a whole query in `recommend`."""
    rows = complete_queries(spec, query_names, rows, users, reads_queries)
    absent = [spec[name].source for name in item_names if spec[name].source not in rows.columns]
    return _stored_values(spec[item_key], rows, catalogue, absent) if absent else rows


def _stored_values(key: Feature | None, rows: pd.DataFrame, stored: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`rows` with `columns` (features it lacks) taken from `stored` by the id feature `key` (a user's
    latest row, or a catalogue item's); NaN for an id not stored."""
    columns = [c for c in columns if c in stored.columns]
    if key is None or key.source not in rows.columns or key.source not in stored.columns or not columns:
        return rows
    id_spec = FeatureSpec(features=(key,))
    stored = stored.drop_duplicates(key.source, keep="last")
    position = pd.Index(raw_features(stored, id_spec)[key.name]).get_indexer(raw_features(rows, id_spec)[key.name])
    known = position >= 0
    filled = {}
    for column in columns:
        values = stored[column].to_numpy()[np.maximum(position, 0)]
        filled[column] = pd.Series(values, index=rows.index).where(known)  # an unknown id's stay missing
    return rows.assign(**filled)


def raw_features(frame: pd.DataFrame, spec: FeatureSpec,
                 names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Each feature's column (or only those of the features in `names`) as the array its serving
    input takes (str objects, int64 or float32).

    Missing values become "" for strings, NaN for numbers and MISSING_INT for integer ids and
    timestamps; the encoder maps each of them to its feature's missing slot.
    """
    features = spec.features if names is None else [spec[n] for n in names]
    require_columns(frame, [f.source for f in features], hint=column_hints(spec))
    raw = {f.name: _canonical(frame[f.source], f) for f in features}
    for f in features:
        items = spec[f.items] if isinstance(f, History) else None
        if isinstance(items, Categorical) and items.dtype == "int":
            raw[f.name] = _integer_history(raw[f.name], f)
    return raw


def labels(frame: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """The label column as float32 0/1: checked binary, or a rating compared with the threshold."""
    if spec.label is None:
        raise DataError("the spec has no label section, so there is nothing to train on or evaluate against")
    label = spec.label
    require_columns(frame, [label.column], hint=column_hints(spec))
    if label.out_of is not None:
        return _click_rates(frame, spec)
    column = frame[label.column]
    if label.positive is not None:
        return positive_rows(column, label)
    if column.dtype == bool:
        return column.to_numpy(dtype=np.float32)
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() & column.notna()
    if bad.any():
        rarest = column[bad].astype(str).str.strip().value_counts().index[-1]
        raise DataError(f"label column {label.column!r}: expected numbers (0 or 1, or ratings with label.threshold), "
                        f"found {column[bad].iloc[0]!r} ({int(bad.sum())} such rows); if a value marks a click, name "
                        f"it (or a list of them) in the spec, e.g. label: {{column: {label.column}, positive: "
                        f"{rarest}}} (the words read: {values_read(column[bad])})")
    _require_labelled(values, label)
    x = values.to_numpy(dtype=np.float64)
    if label.threshold is not None:
        return (x >= label.threshold).astype(np.float32)
    odd = ~np.isin(x, (0.0, 1.0))
    if odd.any():
        examples = ", ".join(f"{v:g}" for v in np.unique(x[odd])[:5])
        signs = set(np.unique(x)) <= {-1.0, 0.0, 1.0}
        raise DataError(f"label column {label.column!r}: a binary label must be 0 or 1, found {examples}; "
                        + ("for -1/+1 labels (as LIBSVM files give them) set label.threshold: 1, which reads 1 as a "
                           "click and -1 as none" if signs else
                           "for ratings set label.threshold (e.g. threshold: 4)"))
    return x.astype(np.float32)


def values_read(column: pd.Series, most: int = 6) -> str:
    """The column's most frequent values with their counts, for a message: "'view' (4,494), 'cart' (364)"."""
    counts = column.dropna().astype(str).str.strip().value_counts()
    return ", ".join(f"{v!r} ({n:,})" for v, n in counts.iloc[:most].items()) + (", ..." if len(counts) > most else "")


def _require_labelled(values: pd.Series, label: Label, empty: str = "NaN") -> None:
    if values.isna().any():
        missing = int(values.isna().sum())
        raise DataError(f"label column {label.column!r}: {missing} of the rows have no label ({empty}); drop them "
                        "or give them one, since a row without an outcome can be neither learned from nor scored")


def positive_rows(column: pd.Series, label: Label) -> np.ndarray:
    """1 where the label column holds one of `label.positive`'s values, else 0. Values compare as what
    they mean, whatever the column's type: 'Purchase' is 'purchase', '1' is 1.0 is 1, true is 'yes'."""
    distinct = pd.unique(column.to_numpy(dtype=object))
    meant = {v: _label_value(v) for v in distinct if not pd.isna(v)}
    blank = [v for v, m in meant.items() if m == ""]  # '' or spaces: as missing as NaN
    _require_labelled(column.where(~column.isin(blank), None) if blank else column, label, "NaN or empty")
    wanted = {_label_value(v) for v in label.positives}
    found = set(meant.values())
    for v in label.positives:
        if _label_value(v) not in found and not _is_number(_label_value(v)):
            # A near miss (a typo, a plural) is a mistake, where a value merely absent from these rows
            # may be rare: the one-class check says that on the whole data.
            close = did_you_mean(_label_value(v), sorted(found - wanted))
            if close:
                raise DataError(f"label.positive: {v!r} is not a value of the label column {label.column!r}{close}")
    hits = {v for v, m in meant.items() if m in wanted}
    return column.isin(hits).to_numpy(dtype=np.float32)


_TRUE, _FALSE = {"true", "yes", "on"}, {"false", "no", "off"}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _label_value(value: Any) -> str:
    """What a label value means, for `label.positive`: a number's value, a boolean or a yes/no word as 1
    or 0, other text trimmed and case-folded."""
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, int | float | np.number):
        return f"{float(value):.17g}"
    text = (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)).strip().casefold()
    if text in _TRUE or text in _FALSE:
        return "1" if text in _TRUE else "0"
    try:
        return f"{float(text):.17g}"
    except ValueError:
        return text


def column_hints(spec: FeatureSpec, then: str = "") -> Callable[[Sequence[str], Sequence[str]], str]:
    """The end of a missing-column error for data the spec reads, from the columns there and those
    missing: why a column a user may not think of giving is needed (the row weights), which columns to
    rename when the rows carry the features' names where the spec reads other columns (the names are
    the SavedModel signature's inputs, not the data's), then `then`."""
    def hint(have: Sequence[str], missing: Sequence[str]) -> str:
        out = ""
        if spec.label is not None and spec.label.column in missing:
            out += (f" ({spec.label.column!r} is the spec's label: rows that are learned from, evaluated or "
                    "calibrated on must say whether each was clicked)")
        weight = spec.label.weight if spec.label is not None else None
        if weight is not None and weight in missing:
            out += (f" (the spec's label.weight names {weight!r} as the rows' weights; give every row one, "
                    "1 for an unweighted row)")
        shown = spec.label.out_of if spec.label is not None else None
        if shown is not None and shown in missing:
            out += (f" (the spec's label.out_of names {shown!r} as each row's impressions, of which "
                    f"{spec.label.column!r} counts the clicks)")
        present = set(have)
        renamed = {f.name: f.source for f in spec.features if f.source in missing and f.name in present}
        if renamed:
            several = len(renamed) > 1
            out += (f" (the rows hold the feature name{'s' if several else ''} {', '.join(map(repr, renamed))}, but "
                    f"the spec reads each feature from its column: rename {'them' if several else 'it'}, "
                    f"frame.rename(columns={renamed!r}))")
        return out + then
    return hint


def sample_weights(frame: pd.DataFrame, spec: FeatureSpec) -> np.ndarray | None:
    """The rows' weights as float32: `label.weight`, times each aggregated row's impressions (`label.out_of`),
    checked finite and ≥ 0; None without either."""
    label = spec.label
    if label is None or not label.weighted:
        return None
    weights = np.ones(len(frame))
    if label.weight is not None:
        weights *= _non_negative(frame, spec, label.weight, f"weight column {label.weight!r} (label.weight)", "weight")
    if label.out_of is not None:
        weights *= _non_negative(frame, spec, label.out_of, f"impressions column {label.out_of!r} (label.out_of)",
                                 "count")
    return weights.astype(np.float32)


def _non_negative(frame: pd.DataFrame, spec: FeatureSpec, name: str, where: str, noun: str) -> np.ndarray:
    """Column `name` as float64, checked to hold a finite number ≥ 0 (a `noun`) on every row."""
    require_columns(frame, [name], hint=column_hints(spec))
    column = frame[name]
    if column.dtype == bool:
        raise DataError(f"{where}: expected numbers ≥ 0, found booleans")
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() & column.notna()
    if bad.any():
        raise DataError(f"{where}: expected numbers ≥ 0, found {column[bad].iloc[0]!r}")
    x = values.to_numpy(dtype=np.float64)
    wrong = ~np.isfinite(x) | (x < 0)
    if wrong.any():
        first = x[wrong][0]
        what = f"no {noun} (NaN)" if np.isnan(first) else f"{noun} {first:g}"
        raise DataError(f"{where}: every row needs a finite {noun} ≥ 0; {int(wrong.sum())} rows do not "
                        f"(the first has {what})")
    return x


def _click_rates(frame: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """Aggregated rows' click rates (`label.out_of`): clicks over impressions, 0 for a row of none."""
    label = spec.label
    clicks = _non_negative(frame, spec, label.column, f"label column {label.column!r} (clicks)", "count")
    shown = _non_negative(frame, spec, label.out_of, f"impressions column {label.out_of!r} (label.out_of)", "count")
    over = clicks > shown
    if over.any():
        first = int(np.flatnonzero(over)[0])
        raise DataError(f"label column {label.column!r}: {int(over.sum())} rows count more clicks than impressions "
                        f"({label.out_of!r}); the first (row {first + 1}) has {clicks[first]:g} of {shown[first]:g}")
    return np.divide(clicks, shown, out=np.zeros_like(clicks), where=shown > 0).astype(np.float32)


def targets(frame: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """What a click model learns from: the labels [N], or with `label.weight` the labels beside
    their row weights [N, 2], as float32."""
    y, w = labels(frame, spec), sample_weights(frame, spec)
    return y if w is None else np.stack([y, w], axis=1)


def class_counts(targets: np.ndarray) -> tuple[float, int, int]:
    """(clicks, rows) of `targets` among the rows that weigh more than 0, and the rows of weight 0:
    what `require_both_classes` takes."""
    if targets.ndim == 1:
        return float(targets.sum()), len(targets), 0
    counted = targets[:, 1] > 0
    return float(targets[counted, 0].sum()), int(counted.sum()), int(len(targets) - counted.sum())


def one_class(label: Label, clicks: bool) -> str:
    """What rows of one class hold: 'the label is 1 on every one', 'rating >= 4 on none'."""
    if label.threshold is None and label.positive is None:
        return f"the label is {int(clicks)} on every one"
    return f"{label.column} {label.rule()} on {'every one' if clicks else 'none'}"


def require_both_classes(counts: tuple[float, int, int], spec: FeatureSpec, what: str) -> None:
    """DataError unless the `what` data's labels hold both classes, from their `class_counts`: a
    click model learns nothing from one class, and AUC on one class is undefined (Keras reports 0).
    Rows of weight 0 count for neither class."""
    clicks, rows, weightless = counts
    label = spec.label
    if rows == 0 and weightless:
        if label.weight is None:  # aggregated rows, each counted by its impressions
            raise DataError(f"impressions column {label.out_of!r} (label.out_of): all {weightless} {what} rows have 0 "
                            "impressions, so there is nothing to learn from or score")
        raise DataError(f"weight column {label.weight!r} (label.weight): all {weightless} {what} rows weigh 0, "
                        "so there is nothing to learn from or score")
    if rows == 0 or 0 < clicks < rows:
        return
    found = one_class(label, bool(clicks))
    weighing = " that weigh more than 0" if weightless else ""
    raise DataError(f"label column {label.column!r}: {found} of the {rows} {what} rows{weighing}, so there is only "
                    "one class; a click model needs clicks and non-clicks to learn from and to be scored on "
                    f"(check the data, or the spec's label.{'threshold' if label.positive is None else 'positive'})")


def _canonical(column: pd.Series, f: Feature) -> np.ndarray:
    where = f"feature {f.name!r} ({f.kind}, column {f.source!r})"
    if isinstance(f, Numeric):
        with np.errstate(over="ignore"):  # beyond float32 becomes ±inf, which the encoder serves as missing
            return _numbers(column, where).astype(np.float32)
    if isinstance(f, Timestamp) and f.format:
        return digit_times(column, where, f.format)
    if isinstance(f, Timestamp):
        stamps = epoch_counts(column, where, f.unit)
        check_epoch_unit(stamps, f)
        return stamps
    if isinstance(f, Categorical) and f.dtype == "int":
        return _integers(column, where)
    if isinstance(f, MultiCategorical | History):
        column = lists_from_text(column)
        if f.key is not None:
            column = keyed_ids(column, f, where)
    if isinstance(f, MultiCategorical | History) and f.weighted:
        return _weighted_bags(column, where, f)
    if isinstance(f, MultiCategorical | History):
        return _strings(column, where, join=f.separator, ordered=isinstance(f, History))
    if isinstance(f, Text | Categorical):
        return _strings(column, where)
    if isinstance(f, Vector):
        return _vectors(column, where, f.dim)
    raise AssertionError(f"unhandled feature kind {f.kind}")  # pragma: no cover


def _vectors(column: pd.Series, where: str, dim: int) -> np.ndarray:
    """[N, dim] float32: each row's vector, given as a list or array of numbers (Parquet's and Arrow's
    lists, JSON's arrays) or as text of numbers ('[0.1, -0.3]', '0.1 -0.3': a CSV cell); NaN rows where
    there is none (a null, an empty list or text)."""
    values = column.to_numpy(dtype=object) if column.dtype == object else None
    if values is None:
        if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
            if dim == 1 or column.isna().all():  # one number a row; nothing but nulls (an absent feature filled in)
                numbers = _numbers(column, where) if dim == 1 else np.full(len(column), np.nan)
                return np.repeat(numbers[:, None], dim, axis=1).astype(np.float32)
            first = column.dropna().iloc[0].item()
            raise DataError(f"{where}: expected a list of {dim} numbers per row (an embedding), found single "
                            f"{column.dtype} values such as {first!r}; give each row its vector, or declare the "
                            "column kind: numeric")
        values = column.astype(object).to_numpy()
    if len(values) and all(type(v) is np.ndarray and v.shape == (dim,) and v.dtype.kind in "fi" for v in values):
        return np.stack(values).astype(np.float32)  # Parquet's and Arrow's lists: no row to look at
    out = np.full((len(values), dim), np.nan, np.float32)
    wrong: list[tuple[int, int]] = []  # (row, length) of vectors of another length
    for i, v in enumerate(values):
        if isinstance(v, str | bytes):
            v = vector_text(v, where)
        elif not isinstance(v, LIST_TYPES):
            if v is None or v is pd.NA or (isinstance(v, float | np.floating) and np.isnan(v)):
                continue
            raise DataError(f"{where}: expected a list of {dim} numbers per row (an embedding), found a "
                            f"{type(v).__name__} ({v!r}) in row {i}")
        if isinstance(v, set | frozenset):
            raise DataError(f"{where}: a vector's components have an order, but row {i} holds a {type(v).__name__}; "
                            "give a list")
        if len(v) == 0:
            continue  # no vector: missing
        if len(v) != dim:
            wrong.append((i, len(v)))
            continue
        try:
            out[i] = np.asarray([np.nan if c is None else c for c in v], dtype=np.float64)
        except (TypeError, ValueError):
            bad = next(c for c in v if c is not None and not _parses_as_float(c))
            raise DataError(f"{where}: expected numbers in each row's vector, found {bad!r} in row {i}") from None
    if wrong:
        lengths = sorted({n for _, n in wrong})
        raise DataError(f"{where}: every vector must hold dim={dim} numbers (the spec's), but {len(wrong)} rows "
                        f"hold {', '.join(map(str, lengths[:5]))} (the first is row {wrong[0][0]}); give every row "
                        f"{dim} (a trained model takes the length it was trained on), or set the spec's dim to the "
                        "vectors' length before training")
    return out


def vector_text(text: str | bytes, where: str) -> list[float]:
    """A vector written as text: numbers separated by commas, semicolons or spaces, in brackets or not."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="backslashreplace")
    inner = text.strip().removeprefix("[").removesuffix("]").strip()
    if not inner:
        return []
    parts = [p for p in re.split(r"[,;\s]+", inner) if p]
    try:
        return [float(p) for p in parts]
    except ValueError:
        bad = next(p for p in parts if not _parses_as_float(p))
        raise DataError(f"{where}: expected a vector of numbers such as '[0.12, -0.5, 0.3]', found {bad!r} in "
                        f"{text[:60]!r}") from None


def _parses_as_float(value: Any) -> bool:
    """Whether `float(value)` reads it: a number, or text of one ('0.5', 'nan')."""
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _numpy_kind(column: pd.Series, kinds: str) -> bool:
    """Whether the column is a plain NumPy array of one of these kinds ('i', 'u', 'f'): its values need
    no check, and the checks pandas' own dtypes need cost more than the conversion on a one-row request."""
    return isinstance(column.dtype, np.dtype) and column.dtype.kind in kinds


def _refuse_times_and_complex(column: pd.Series, where: str, expected: str) -> None:
    """DataError for datetimes, durations or complex numbers where numbers, ids or times are expected:
    pandas would turn the first two into counts of their unit (ns, µs) and drop the last's imaginary part,
    without a word. (A timestamp feature converts its datetimes before asking.)"""
    dtype = column.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        found, hint = "datetimes", ("; declare the feature kind: timestamp for its calendar parts, or make the "
                                    "column a number first (e.g. days since a date)")
    elif pd.api.types.is_timedelta64_dtype(dtype):
        found, hint = "durations", ("; a duration is no point in time: add it to its start first, e.g. "
                                    "start + column" if "epoch" in expected else
                                    "; make them numbers in a unit first, e.g. column.dt.total_seconds()")
    elif pd.api.types.is_complex_dtype(dtype):
        found, hint = "complex numbers", ""
    else:
        return
    present = column.dropna()
    first = present.iloc[0] if len(present) else None
    example = f" such as {first.item() if isinstance(first, np.generic) else first!r}" if len(present) else ""
    raise DataError(f"{where}: expected {expected}, but the column holds {found} ({dtype}){example}{hint}")


def _numbers(column: pd.Series, where: str) -> np.ndarray:
    if _numpy_kind(column, "iuf"):
        return column.to_numpy(dtype=np.float64)
    if column.dtype == object:
        values = column.to_numpy()
        # A request's JSON numbers and nulls: NumPy reads None as NaN, in 2 µs where pandas' checks below
        # take 270 (a missing number in a one-row request makes its column one of objects).
        if all(type(v) in _PLAIN_NUMBERS for v in values):
            try:
                return np.array(values, dtype=np.float64)
            except OverflowError:  # an integer beyond float64 is ±inf, as 1e400 is, and served as missing
                return np.array([_float_or_inf(v) for v in values], dtype=np.float64)
    _refuse_times_and_complex(column, where, "real numbers")
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64)
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() & column.notna() & (column.astype(str) != "")
    if bad.any():  # a missing value marked so ('?', as UCI's files mark it; '-'): missing, as a gap is
        unread = np.flatnonzero(bad.to_numpy())
        bad.iloc[unread[missing_marks(column.iloc[unread]).to_numpy()]] = False
    if bad.any():  # numbers written for people to read, as a web page or a spreadsheet shows them ('$1,234')
        unread = column[bad]
        written, units = written_numbers(unread)
        if (mixed := mixed_units(unread, units)) is not None:
            raise DataError(f"{where}: expected numbers in one unit, found {mixed}: convert them to one first")
        values = values.where(~bad, written)
        bad &= values.isna()
    if bad.any():
        first = column[bad].iloc[0]
        comma = (": numbers with a decimal comma are read once converted (pandas.read_csv(..., decimal=','), or "
                 "column.str.replace(',', '.'))" if re.fullmatch(r"\s*[+-]?\d*,\d+\s*", str(first)) else "")
        raise DataError(f"{where}: expected numbers, found {first!r} ({int(bad.sum())} such rows){comma}")
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


# A currency's sign before or after the amount ('$9.99', '-€5', '12.50 €') or a percent after ('15%'), a
# sign before either, and thousands grouped with commas ('1,234'): '1,5' (a decimal comma) is no such number.
_CURRENCIES = "$€£¥₹₩₽"
_WRITTEN_NUMBER = re.compile(
    rf"\s*(?P<sign>[+-]?)\s*(?P<before>[{_CURRENCIES}]?)\s*(?P<inner>[+-]?)"
    r"(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?|\.\d+)"
    rf"\s*(?P<after>[{_CURRENCIES}%]?)\s*")


# Text that marks a value as missing in a column of numbers, compared lower-cased and stripped.
MISSING_MARKS = ("?", "-", "--", "---", ".", "n/a", "na", "nan", "null", "none", "nil", "missing", "unknown", "#n/a")


def missing_marks(values: pd.Series) -> pd.Series:
    """Which values are text marking a missing value (`MISSING_MARKS`: '?', '-', 'n/a', ...)."""
    return values.map(lambda v: isinstance(v, str) and v.strip().lower() in MISSING_MARKS).astype(bool)


def written_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Text of numbers written for people ('1,234', Amazon's review votes; '$1,299.99'; '15%', read as 0.15
    as a spreadsheet reads it) as (the numbers, each one's unit: '$', '%', '' for none), NaN for other text."""
    parts = values.astype(str).str.extract(f"^{_WRITTEN_NUMBER.pattern}$")
    signs = parts["sign"].fillna("") + parts["inner"].fillna("")
    units = parts["before"].fillna("") + parts["after"].fillna("")
    one = parts["number"].notna() & (signs.str.len() <= 1) & (units.str.len() <= 1)
    numbers = pd.to_numeric(parts["number"].where(one).str.replace(",", "", regex=False), errors="coerce")
    numbers = numbers.where(signs != "-", -numbers)
    return numbers.where(units != "%", numbers / 100), units.where(one)


def mixed_units(text: pd.Series, units: pd.Series) -> str | None:
    """Two values of different units ("'$5' and '15%'") where `written_numbers` found more than one: a
    column of amounts in two currencies, or amounts beside percentages, is no one quantity."""
    units = units.fillna("").to_numpy()
    kinds = pd.unique(units[units != ""])
    if len(kinds) < 2:
        return None
    first, second = (text.iloc[int(np.argmax(units == kind))] for kind in kinds[:2])
    return f"{first!r} and {second!r}"


# Exact types: a bool (an int) or a NumPy scalar takes `_numbers`' general path.
_PLAIN_NUMBERS = (float, int, type(None))


def _float_or_inf(value: float | int | None) -> float:
    try:
        return np.nan if value is None else float(value)
    except OverflowError:
        return np.inf if value > 0 else -np.inf


def _integers(column: pd.Series, where: str) -> np.ndarray:
    if _numpy_kind(column, "i") or (pd.api.types.is_signed_integer_dtype(column.dtype) and not column.hasnans):
        return column.to_numpy(dtype=np.int64)  # NumPy integers cannot be missing; pandas' nullable ones can
    _refuse_times_and_complex(column, where, "integer ids (dtype 'int')")
    if pd.api.types.is_bool_dtype(column.dtype):
        raise DataError(f"{where}: dtype 'int' expects integer ids, but the column holds {column.dtype} values")
    # Only the present values are converted: a missing one would turn the rest into float64, whose
    # 53 bits do not hold a 64-bit id (snowflake ids, hashes) and would serve it as another id.
    present = column.notna().to_numpy()
    values = column[present]
    if not pd.api.types.is_numeric_dtype(values.dtype):
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna().to_numpy()
        if bad.any():
            example = values.iloc[int(np.argmax(bad))]
            raise DataError(f"{where}: dtype 'int' expects integer ids, but the column holds {column.dtype} values "
                            f"such as {example!r}" + ("; declare dtype: string for text ids" if isinstance(example, str)
                                                      else ""))
        values = numbers
    out = np.full(len(column), MISSING_INT, dtype=np.int64)
    if pd.api.types.is_integer_dtype(values.dtype):
        ints = values.to_numpy()
        if ints.dtype.kind == "u" and ints.size and ints.max() > _INT64_MAX:
            raise DataError(f"{where}: ids must fit in a signed 64-bit integer (up to {_INT64_MAX}), "
                            f"found {int(ints.max())}; declare dtype: string for larger ids")
        out[present] = ints.astype(np.int64)
        return out
    x = values.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(x)  # ±inf is no id: served as missing, as NaN is
    fractional = x[finite] != np.round(x[finite])
    if fractional.any():
        raise DataError(f"{where}: dtype 'int' expects whole numbers, found {x[finite][fractional][0]:g}")
    beyond = np.abs(x[finite]) >= 2.0 ** 63
    if beyond.any():
        raise DataError(f"{where}: ids must fit in a signed 64-bit integer (up to {_INT64_MAX}), "
                        f"found {x[finite][beyond][0]:g}; declare dtype: string for larger ids")
    ints = np.full(x.shape, MISSING_INT, dtype=np.int64)
    ints[finite] = x[finite].astype(np.int64)
    out[present] = ints
    return out


_INT64_MAX = np.iinfo(np.int64).max


def _integer_history(text: np.ndarray, f: History) -> np.ndarray:
    """A history of integer item ids with each id spelled as the item table spells it ('3', not '3.0'
    or '03'), or a DataError for a row that lists anything else: the graph would skip such an id as
    unknown, and a history sent as '1,2,3' to a '|' separator would serve a user as if they had none."""
    # A weighted history's ids may each carry a weight, as `_weighted_bags` has checked and spelt it.
    weight = rf"(?:\s*{re.escape(f.weight_separator)}\s*{WEIGHT_NUMBER}\s*)?" if f.weighted else ""
    pattern = rf"(?:{_ID}{weight})?(?:{re.escape(f.separator)}(?:{_ID}{weight})?)*"
    if len(text) <= 64:  # a request: Python's regex, where Arrow's call alone costs 30 µs
        compiled = re.compile(pattern)
        canonical = np.fromiter((compiled.fullmatch(t) is not None for t in text), bool, len(text))
    else:  # Arrow's RE2 checks a million rows in about 0.2 s, a per-row Python regex in 1 s
        canonical = pc.match_substring_regex(pa.array(text, pa.string()), f"^{pattern}$").to_numpy(
            zero_copy_only=False)
    if canonical.all():
        return text
    out = text.copy()
    weighted = re.compile(f"(?s){weighted_token(f)}") if f.weighted else None
    for i in np.flatnonzero(~canonical):
        ids = []
        for token in str(text[i]).split(f.separator):
            split = weighted.fullmatch(token.strip()) if weighted else None
            token, weight = (split[1], f"{f.weight_separator}{split[2]}") if split else (token, "")
            match = re.fullmatch(r"\s*([+-]?\d+)(?:\.0*)?\s*", token)
            if match is None and token.strip():
                others = [c for c in LIST_SEPARATORS if c in token.strip() and c != f.separator]
                weights = not f.weighted and re.fullmatch(rf"\s*{_ID}\s*:\s*{WEIGHT_NUMBER}\s*", token)
                raise DataError(f"feature {f.name!r} (history, column {f.source!r}): lists the integer ids of "
                                f"{f.items!r} separated by {f.separator!r}"
                                + (f", each with a weight after {f.weight_separator!r}" if f.weighted else "")
                                + f", but a row holds {text[i]!r}"
                                + (" (ids with weights, as '12:5', need the history's `weighted: true`)" if weights
                                   else f" (are its ids separated by {others[0]!r}? join them with {f.separator!r}, "
                                   "or give a list)" if others else ""))
            ids.append(str(int(match.group(1))) + weight if match else "")
        out[i] = f.separator.join(ids)
    return out


_ID = r"-?(?:0|[1-9][0-9]*)"  # an integer id as str(int) spells it


LIST_TYPES = (list, tuple, np.ndarray, set, frozenset)  # a multi-valued feature's row, in data
LIST_SEPARATORS = ",;| "  # what a list's values are joined by, when not by the spec's separator


# A list printed as text by the tool that wrote the file: JSON's ["a", "b"], Python's ['a', 'b'] (pandas'
# to_csv of a list column; NumPy 2's scalars in it print as np.str_('a')) or NumPy's ['a' 'b'] (of a Parquet
# list column read into pandas), its items quoted text or numbers ([12, 85] or [12 85]: ids).
_LITERAL = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"""
_ITEM = rf"(?:np\.\w+\({_LITERAL}\)|{_LITERAL})"
_LIST_TEXT = re.compile(rf"\s*\[\s*(?:{_ITEM}(?:(?:\s*,\s*|\s+){_ITEM})*(?:\s*,)?\s*)?\]\s*", re.DOTALL)
_ITEM_TEXT = re.compile(rf"np\.\w+\(({_LITERAL})\)|({_LITERAL})", re.DOTALL)


def listed_text(value: str) -> list[Any] | None:
    """The items of a list printed as text (`['Drama', 'War']`, `["Drama", "War"]`, `['Drama' 'War']`),
    or of objects (`[{"id": 28, "name": "Action"}]`, JSON's or Python's), or None for any other text."""
    if not _LIST_TEXT.fullmatch(value):
        return _listed_objects(value)
    try:
        items = [ast.literal_eval(m.group(1) or m.group(2)) for m in _ITEM_TEXT.finditer(value)]
    except (SyntaxError, ValueError):  # a quoted item that is no literal (a stray backslash)
        return None
    return [item if isinstance(item, str) else _token(item) for item in items]


def printed_mapping(value: str) -> dict | None:
    """A mapping printed as text, as JSON or by Python (`{'calm': 0.7}`: pandas writes a column of dicts so
    to CSV), or None for any other text."""
    items = _printed_value(value)
    return items if isinstance(items, dict) else None


def _listed_objects(value: str) -> list[dict] | None:
    """A list of objects printed as JSON or by Python, or None."""
    items = _printed_value(value) if "{" in value else None
    return items if isinstance(items, list) and items and all(isinstance(i, dict) for i in items) else None


def _printed_value(value: str) -> Any:
    """What text printed as JSON or by Python (`repr`) holds, or None when it is neither."""
    try:
        return json.loads(value)
    except ValueError:
        try:
            return ast.literal_eval(value.strip())
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            return None


def keyed_ids(column: pd.Series, f: MultiCategorical | History, where: str) -> pd.Series:
    """The column with each row's list of objects as the list of their `f.key` fields: the ids."""
    values = column.to_numpy(dtype=object)
    if not any(isinstance(v, LIST_TYPES) for v in values):
        return column
    out = values.copy()
    for i, v in enumerate(values):
        if not isinstance(v, LIST_TYPES):
            continue
        ids = []
        for item in list_items(v):
            if not isinstance(item, dict):
                ids.append(item)
            elif item.get(f.key) is not None:
                ids.append(item[f.key])
            elif f.key not in item:
                raise DataError(f"{where}: row {i} holds an object without the field {f.key!r} (the feature's key): "
                                f"{reprlib.repr(item)}; its fields: {', '.join(map(str, item))}"
                                + did_you_mean(f.key, list(item)))
        out[i] = ids
    return pd.Series(out, index=column.index, name=column.name)


def id_field(item: dict) -> str:
    """The field of an object most likely to name it: 'name' or 'title' when it has one, else its first
    field of text, else its first."""
    for field in ("name", "title", "label"):
        if isinstance(item.get(field), str):
            return field
    return str(next((k for k, v in item.items() if isinstance(v, str)), next(iter(item), "name")))


def lists_from_text(column: pd.Series) -> pd.Series:
    """The column with each cell that is a list printed as text made that list (a multi-valued feature's
    or a history's cells in a CSV that pandas wrote: one id each, read as they are), and each that is a
    mapping of ids to weights printed so (a weighted bag's `{'calm': 0.7}`) that mapping; other cells as they are."""
    if not (column.dtype == object or pd.api.types.is_string_dtype(column.dtype)):
        return column
    values = column.to_numpy(dtype=object)
    # A loop, not pandas' .str: twice as fast on 100,000 rows, and 6 µs where .str took 140 on a request's one.
    bracketed = np.fromiter((isinstance(v, str) and v.lstrip()[:1] in ("[", "{") for v in values), bool,
                            len(values))
    if not bracketed.any():
        return column
    parsed = {v: listed_text(v) if v.lstrip()[:1] == "[" else printed_mapping(v) for v in pd.unique(values[bracketed])}
    if not any(items is not None for items in parsed.values()):
        return column
    values = values.copy()
    for i in np.flatnonzero(bracketed):
        items = parsed[values[i]]
        if items is not None:
            values[i] = items
    return pd.Series(values, index=column.index, name=column.name)


def list_items(value: Any) -> Any:
    """A row's list of values in its order; a set's sorted, as it has none of its own and Python orders
    strings differently in each process, so `max_length` would keep other values in each."""
    return sorted(value, key=_token) if isinstance(value, set | frozenset) else value


def _strings(column: pd.Series, where: str, join: str | None = None, ordered: bool = False) -> np.ndarray:
    if pd.api.types.is_float_dtype(column.dtype):
        # Integer ids read with NaN become floats (1.0); give them back their integer spelling.
        x = column.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(x)
        text = np.full(x.shape, "", dtype=object)
        text[finite] = [_token(v) for v in x[finite]]
        return text
    if pd.api.types.is_string_dtype(column.dtype) and column.dtype != object:
        return column.to_numpy(dtype=object, na_value="")  # pandas' str dtype: strings or NA only
    values = column.to_numpy(dtype=object)
    missing = pd.isna(column).to_numpy()
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        if missing[i] if not isinstance(v, LIST_TYPES) else False:
            out[i] = ""
        elif isinstance(v, str):
            out[i] = v
        elif join is not None and isinstance(v, LIST_TYPES):
            if ordered and isinstance(v, set | frozenset):
                raise DataError(f"{where}: lists its items most recent first, but a row holds a {type(v).__name__}, "
                                f"which has no order ({v!r}); give a list")
            items = list_items(v)
            nested = next((t for t in items if isinstance(t, (*LIST_TYPES, dict))), None)
            if isinstance(nested, dict):
                raise DataError(f"{where}: row {i} holds a list of objects ({reprlib.repr(nested)}); name the field "
                                f"that holds each object's id with the feature's key (e.g. key: "
                                f"{id_field(nested)}; its fields: {', '.join(map(str, nested))})")
            if nested is not None:
                raise DataError(f"{where}: expected a list of ids per row, but row {i} holds a list within its list "
                                f"({nested!r})" + ("" if ordered else "; ids with weights, (id, weight) pairs, need "
                                                   "the feature's `weighted: true`"))
            out[i] = _joined(join, [_token(t) for t in items if not pd.isna(t)])
        elif isinstance(v, dict) and join is not None:
            raise DataError(f"{where}: expected one string or list per row, found a mapping ({v!r}); ids with "
                            "weights need the feature's `weighted: true`")
        elif isinstance(v, (*LIST_TYPES, dict)):
            raise DataError(f"{where}: expected one string per row, found a {type(v).__name__} ({v!r})")
        else:
            out[i] = _token(v)
    return out


def _weighted_bags(column: pd.Series, where: str, f: MultiCategorical | History) -> np.ndarray:
    """A weighted bag's (or history's) rows as the text its encoder splits (`Action:0.7|Comedy:0.3`), from
    that text, a mapping {id: weight} (JSON's objects), or a list of ids, of such texts or of (id, weight)
    pairs (a Parquet map's rows); every weight checked to be a non-negative number."""
    ordered = isinstance(f, History)  # a set has no order to list a history's items in: `_strings` refuses it
    values = column.to_numpy(dtype=object) if column.dtype == object else None
    if values is not None and any(isinstance(v, dict) or (isinstance(v, LIST_TYPES) and any(
            isinstance(t, (*LIST_TYPES, dict)) for t in list_items(v))) for v in values):
        joined = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            # A mapping's null weight is an id it does not hold (an Arrow struct gives each row every key).
            pairs = ([(k, w) for k, w in v.items() if w is not None] if isinstance(v, dict) else
                     list_items(v) if isinstance(v, LIST_TYPES) and not (ordered and isinstance(v, set | frozenset))
                     else None)
            joined[i] = v if pairs is None else list(_weighted_tokens(pairs, where, f, i))
        column = pd.Series(joined, index=column.index)
    text = _strings(column, where, join=f.separator, ordered=ordered)
    pattern = re.compile(f"(?s){weighted_token(f)}")
    rows = _rows_to_check(text, f)
    checked: set[str | bytes] = set()
    for row in range(len(text)) if rows is None else rows:
        if text[row] in checked:
            continue
        checked.add(text[row])
        value = text[row].decode("utf-8", "replace") if isinstance(text[row], bytes) else text[row]
        for token in (t.strip() for t in value.split(f.separator)):
            match = pattern.fullmatch(token) if f.weight_separator in token else None
            if f.weight_separator in token and (match is None or float(match[2]) > WEIGHT_MAX):
                weight = token.rsplit(f.weight_separator, 1)[1].strip()
                hint = ("" if _parses_as_float(weight) else f"; an id that holds {f.weight_separator!r} needs a "
                        f"weight after it: '{token}{f.weight_separator}1'")
                raise DataError(f"{where}: row {row} holds {token!r}, whose weight {weight!r} is not a number from 0 "
                                f"to {WEIGHT_MAX:g}; a weighted {_list_noun(f)}'s ids are written "
                                f"id{f.weight_separator}weight, "
                                f"or without a weight (read as 1){hint}")
    return text


_FEW_ROWS = 64  # a weighted bag's rows below which Python checks them sooner than Arrow


def _rows_to_check(text: np.ndarray, f: MultiCategorical | History) -> np.ndarray | None:
    """The rows of a weighted bag's text whose weights Python must read (`_weighted_bags`): those that
    Arrow's regular expressions (RE2) do not show at a glance to be well formed with weights below 1e9
    (a million rows: 0.3 s, where Python alone took 1.6 s); None (all of them) where the separators are
    longer than a character, Arrow cannot read the text (binary ids), or there are a few rows (a request:
    Arrow compiles its patterns at each call)."""
    if len(f.separator) != 1 or len(f.weight_separator) != 1 or len(text) < _FEW_ROWS:
        return None
    try:
        array = pa.array(text, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    bar, colon = re.escape(f.separator), re.escape(f.weight_separator)
    token = rf"(?:[^{bar}{colon}]*|[^{bar}]*{colon}\s*{WEIGHT_NUMBER}\s*)"  # no weight, or one at its end
    formed = pc.match_substring_regex(array, rf"^{token}(?:{bar}{token})*$")
    large = pc.match_substring_regex(array, rf"{colon}\s*(?:[0-9.]*[eE]|[0-9]{{10}})")  # an exponent, 10 digits
    return np.flatnonzero(pc.or_(pc.invert(formed), large).to_numpy(zero_copy_only=False))


def _weighted_tokens(pairs: Iterable[Any], where: str, f: MultiCategorical | History,
                     row: int) -> Iterator[str | bytes]:
    """A row's (id, weight) pairs, or ids, as `id:weight` tokens; a weight that is no non-negative number
    is a DataError naming the row."""
    for pair in pairs:
        if isinstance(pair, dict):  # an Arrow struct's {"id": …, "weight": …}
            pair = tuple(pair.values())
        if not isinstance(pair, tuple | list | np.ndarray):
            yield _token(pair)
            continue
        if len(pair) != 2 or not is_weight(pair[1]):
            raise DataError(f"{where}: row {row} holds {pair!r}, where a weighted {_list_noun(f)} takes (id, weight) "
                            f"pairs whose weight is a number from 0 to {WEIGHT_MAX:g}")
        token = _token(pair[0])
        separator = f.weight_separator.encode() if isinstance(token, bytes) else f.weight_separator
        weight = repr(float(pair[1]))
        yield token + separator + (weight.encode() if isinstance(token, bytes) else weight)


def _list_noun(f: MultiCategorical | History) -> str:
    """What a weighted list is called in a message: a bag (of ids) or a history (of items)."""
    return "history" if isinstance(f, History) else "bag"


def is_weight(value: Any) -> bool:
    """Whether a value is a weighted bag's weight: a number (not a boolean) from 0 to `WEIGHT_MAX`."""
    return (isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)
            and 0 <= value <= WEIGHT_MAX)


def _token(value: Any) -> str | bytes:
    """A value as a string input takes it: bytes decoded as UTF-8 (those that are no UTF-8, binary ids,
    kept as bytes); a whole float (ids that passed through float64, as JSON or NumPy give them: 3.0)
    as its integer, the spelling the vocabulary learned from the integer column."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return raw_text(value)
    return str(value)


def _joined(separator: str, tokens: list[str | bytes]) -> str | bytes:
    """A list's tokens as one string input, in bytes when one of them is binary."""
    if any(isinstance(t, bytes) for t in tokens):
        return separator.encode().join(t if isinstance(t, bytes) else t.encode() for t in tokens)
    return separator.join(tokens)


def epoch_counts(column: pd.Series, where: str, unit: str = "s") -> np.ndarray:
    """The column as int64 counts of `unit` since the epoch (numbers are taken as such counts already;
    datetimes and ISO text are converted), MISSING_INT where there is no time."""
    if _numpy_kind(column, "iu"):  # whole counts, none missing
        return column.to_numpy(dtype=np.int64)
    if column.isna().all():  # e.g. a request's null: object values, none to tell the column's type by
        return np.full(len(column), MISSING_INT, dtype=np.int64)
    if isinstance(column.dtype, pd.PeriodDtype):  # a month or a day stands for its start
        column = column.dt.to_timestamp()
    if not pd.api.types.is_datetime64_any_dtype(column.dtype):
        _refuse_times_and_complex(column, where,
                                  f"{EPOCH_UNIT_NAMES[unit]} since the epoch, datetimes or ISO 8601 text")
    if not pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_datetime64_any_dtype(column.dtype):
        column = _parsed_datetimes(column)
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        # Aware times count from the epoch in UTC; naive ones are read as UTC.
        stamps = column.dt.tz_convert("UTC").dt.tz_localize(None) if column.dt.tz is not None else column
        counts = stamps.astype(f"datetime64[{unit}]").astype("int64").to_numpy()
        return np.where(column.isna().to_numpy(), MISSING_INT, counts).astype(np.int64)
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        x = column.to_numpy(dtype=np.float64, na_value=np.nan)
        out = np.full(x.shape, MISSING_INT, dtype=np.int64)
        finite = np.isfinite(x)
        out[finite] = np.floor(x[finite]).astype(np.int64)
        return out
    sample = column.dropna()
    # The first value that is no time on its own; when each is one, the column mixes kinds.
    flags = sample.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
    number = pd.to_numeric(sample.where(~flags), errors="coerce").notna().to_numpy()
    text = sample.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    iso = np.zeros(len(sample), dtype=bool)
    iso[text & ~number] = iso_times(sample[text & ~number], errors="coerce").notna().to_numpy()
    wrong = flags | ~(number | iso)
    if len(sample) and not wrong.any() and iso.any() and number.any():
        raise DataError(f"{where}: the column mixes numbers and text (e.g. {sample.iloc[0]!r}); give every time "
                        f"one way: {EPOCH_UNIT_NAMES[unit]} since the epoch, datetimes or ISO 8601 text")
    example = sample.iloc[int(np.argmax(wrong))] if wrong.any() else sample.iloc[0] if len(sample) else None
    example = example.item() if isinstance(example, np.generic) else example
    # A date in another format (1/2/2024 is January or February by locale) is for the caller to parse.
    parse = ("; dates in other formats must be parsed first, knowing their format: write them as ISO 8601 "
             "(2024-01-02T10:30:00) or epoch numbers, or in Python use pd.to_datetime(column, format='%m/%d/%Y')"
             if isinstance(example, str) and _looks_like_a_date(example) else "")
    raise DataError(f"{where}: expected {EPOCH_UNIT_NAMES[unit]} since the epoch, datetimes or ISO 8601 text, "
                    f"but the column holds {column.dtype} values such as {example!r}{parse}")


def iso_times(values: pd.Series, errors: str = "raise") -> pd.Series:
    """ISO 8601 text as UTC datetimes; also with the zone named after the time, as BigQuery and many logs
    write it ('2024-01-15 04:41:45 UTC', or GMT), which pandas' ISO 8601 reader refuses."""
    with contextlib.suppress(AttributeError):  # values that are no text at all
        named = values.str.endswith(("UTC", "GMT"), na=False)
        if named.any():
            values = values.where(~named, values.str.replace(r"\s*(?:UTC|GMT)$", "+00:00", regex=True))
    return pd.to_datetime(values, utc=True, format="ISO8601", errors=errors)


def date_text_format(text: pd.Series) -> str | None:
    """The strptime format that text of dates other than ISO 8601 is written in ('02 11, 2016': '%m %d,
    %Y', as Amazon's reviews write them; 'Jan 2, 2024'), when nearly all of it (99 %) reads as dates with
    a year in one format, guessed from its first values (month first, then day first); else None."""
    present = text.dropna()
    if present.empty or not isinstance(present.iloc[0], str):
        return None
    from pandas.tseries.api import guess_datetime_format

    distinct = pd.Series(present.unique())
    tried = set()
    with warnings.catch_warnings():  # pandas warns that it guesses, which is all that is asked of it
        warnings.simplefilter("ignore")
        # pandas guesses nothing from some values ('11/12/2019 7:43:20 PM', MIND's, where '8:23:35 AM'
        # reads), so from each of the first few in turn.
        for value in distinct.iloc[:8]:
            for dayfirst in (False, True):
                fmt = guess_datetime_format(str(value).strip(), dayfirst=dayfirst)
                if fmt is None or fmt in tried or not re.search("%[Yy]", fmt) or not re.search("%[mbB]", fmt):
                    continue
                tried.add(fmt)
                read = pd.to_datetime(distinct.str.strip(), format=fmt, errors="coerce")
                if read.notna().mean() >= 0.99:
                    return fmt
    return None


def _looks_like_a_date(text: str) -> bool:
    with warnings.catch_warnings():  # pandas warns that it guesses the format, which is all we ask of it
        warnings.simplefilter("ignore")
        moment = pd.to_datetime(text, errors="coerce")
    return moment is not pd.NaT and moment.year > 1  # '3pm' is a time of year 1, no date


def digit_times(column: pd.Series, where: str, fmt: str) -> np.ndarray:
    """A time written as digits in `fmt` (Timestamp.format: Avazu's hour 14102100 in '%y%m%d%H') as the
    int64 its graph reads, MISSING_INT where there is none: whole numbers and digit text as they are,
    datetimes written in the format (as their own zone shows them). DataError for anything else, and for
    digits that are no time (a 13th month)."""
    if _numpy_kind(column, "iu"):
        digits = column.to_numpy(dtype=np.int64)
    elif column.isna().all():
        return np.full(len(column), MISSING_INT, dtype=np.int64)
    elif (digits := _whole_numbers(column)) is None:
        if isinstance(column.dtype, pd.PeriodDtype):
            column = column.dt.to_timestamp()
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            column = column.dt.strftime(fmt)
        digits = np.array([_time_digits(v, i, where, fmt) for i, v in enumerate(column.to_numpy(dtype=object))],
                          dtype=np.int64)
    wrong = ~digit_seconds(digits, fmt)[1] & (digits != MISSING_INT)
    if wrong.any():
        row = int(np.argmax(wrong))
        raise DataError(f"{where}: row {row} holds {digits[row]}, which is no time written as {fmt} (e.g. "
                        f"{_digit_example(fmt)}): a month, day, hour, minute or second out of its range, or digits "
                        "too many or too few")
    return digits


def _whole_numbers(column: pd.Series) -> np.ndarray | None:
    """A column of numbers with gaps (a CSV's float64, pandas' Int64) as int64, MISSING_INT in the gaps,
    when every number is whole and exact in float64; None for other columns."""
    if not pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        return None
    numbers = column.to_numpy(dtype=np.float64, na_value=np.nan)
    gaps = np.isnan(numbers)
    if not np.all(gaps | ((numbers == np.floor(numbers)) & (np.abs(numbers) < 2**53))):
        return None
    return np.where(gaps, MISSING_INT, np.nan_to_num(numbers)).astype(np.int64)


def time_counts(column: pd.Series, where: str, stamp: Timestamp | None) -> tuple[np.ndarray, str]:
    """A time column as the timestamp feature `stamp` reads it (seconds for any other column): epoch counts
    and their unit, MISSING_INT where there is no time; times written as digits as the UTC seconds they name."""
    if stamp is None or not stamp.format:
        return epoch_counts(column, where, stamp.unit if stamp is not None else "s"), \
            stamp.unit if stamp is not None else "s"
    digits = digit_times(column, where, stamp.format)
    seconds = digit_seconds(digits, stamp.format)[0]
    return np.where(digits == MISSING_INT, MISSING_INT, seconds), "s"


def digit_moments(digits: np.ndarray, fmt: str) -> pd.DatetimeIndex:
    """The UTC times that int64 digits written in `fmt` name (Timestamp.format); NaT where they name none."""
    seconds, ok = digit_seconds(digits, fmt)
    return pd.DatetimeIndex(np.where(ok, seconds, np.iinfo(np.int64).min).astype("datetime64[s]"), tz="UTC")


def _time_digits(value: Any, row: int, where: str, fmt: str) -> int:
    """One value of a time written as digits (`digit_times`): its int64, or MISSING_INT for none."""
    if value is None or value is pd.NaT or value is pd.NA or (isinstance(value, float | np.floating)
                                                              and np.isnan(value)):
        return MISSING_INT
    if isinstance(value, datetime.date):
        value = value.strftime(fmt)
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        return int(value.strip())
    if isinstance(value, int | np.integer | float | np.floating) and not isinstance(value, bool | np.bool_) \
            and float(value) == np.floor(float(value)) and abs(float(value)) < 2**62:
        return int(value)
    raise DataError(f"{where}: row {row} holds {value!r}; expected a time written as digits in {fmt} (e.g. "
                    f"{_digit_example(fmt)}), or a datetime")


def _digit_example(fmt: str) -> str:
    return datetime.datetime(2014, 10, 21, 9, 30, 15).strftime(fmt)


def _parsed_datetimes(column: pd.Series) -> pd.Series:
    """Text or objects as epoch seconds or datetimes (ISO 8601 text, e.g. '2021-03-31 22:01:26' or with
    an offset); the column unchanged when any value is neither."""
    if pd.api.types.is_bool_dtype(column.dtype) or column.dropna().empty:
        return column
    with contextlib.suppress(ValueError, TypeError):
        return pd.to_numeric(column)
    try:
        return iso_times(column)
    except (ValueError, TypeError, OverflowError):
        return column


def downsample_negatives(data: Source, spec: SpecLike, keep: float, seed: int = 0,
                         out: str | Path | None = None) -> pd.DataFrame | Path:
    """Every click and a `keep` share of the non-clicks, drawn with `seed`, each kept non-click weighing
    1/keep (times any weight it had) in the spec's `label.weight` column: a smaller table whose
    weighted clicks and non-clicks stand for the whole one, so that predictions stay calibrated.
    Returned as a DataFrame; with `out` (.parquet, .csv, .tsv or .json), the source is read chunk by
    chunk and written there atomically instead, and the path returned (for logs larger than memory)."""
    check_arguments("downsample_negatives", keep=keep, seed=seed)
    spec = FeatureSpec.of(spec)
    if spec.label is not None and spec.label.out_of is not None:
        raise SpecError(f"label.out_of: downsample_negatives keeps whole rows, and the spec's rows are aggregated "
                        f"(clicks out of the impressions in {spec.label.out_of!r}), each holding clicks and non-clicks")
    if spec.label is None or spec.label.weight is None:
        raise SpecError("label.weight: downsample_negatives writes the kept rows' weights into the column the "
                        "spec's label.weight names, and this spec has none; add one, e.g. "
                        "label: {column: clicked, weight: weight}")
    if spec.label.weight == spec.label.column:
        raise SpecError(f"label.weight: downsample_negatives writes the kept rows' weights into the label.weight "
                        f"column, which here is the label column {spec.label.column!r} itself; name a column of "
                        "their own, e.g. label: {column: clicked, weight: weight}")
    rng = np.random.default_rng(seed)  # one stream over the chunks in order: the same rows either way

    def sampled(frame: pd.DataFrame) -> pd.DataFrame:
        clicks = labels(frame, spec) == 1
        kept = clicks | (rng.random(len(frame)) < keep)
        name = spec.label.weight
        before = sample_weights(frame, spec) if name in frame.columns else np.ones(len(frame), np.float32)
        weights = np.where(clicks, 1.0, 1.0 / keep) * before
        return frame.assign(**{name: weights}).loc[kept].reset_index(drop=True)

    if out is None:
        return sampled(read(data, dtypes=csv_dtypes(spec)))
    out = Path(out)
    check_output(out, "downsample_negatives: out")
    write_frames((sampled(chunk) for chunk in iter_chunks(data, dtypes=csv_dtypes(spec))), out, spec)
    return out


def add_negatives(data: Source, spec: SpecLike, n_negatives: int = 4, *, label: str = "clicked",
                  items: pd.DataFrame | None = None, distribution: str = "uniform", seed: int = 0) -> pd.DataFrame:
    """Training rows for a click model that ranks recommendations: each interaction, with `label` 1
    (the spec's label, when it has one), followed by `n_negatives` items its user never touched, with
    `label` 0. A click model trained on interactions alone learns what is liked among what was
    touched, not what goes untouched, and ranks a catalogue poorly. A sampled row copies its
    interaction's user and context columns, takes the item's columns from the catalogue (the data's
    items and `items`), and leaves the other columns empty; items are drawn `uniform`ly or by
    `popularity`, with `seed`."""
    from .implicit import Interactions, NegativeSampler, keys

    check_arguments("add_negatives", n_negatives=n_negatives, seed=seed)
    check_choice("add_negatives", "distribution", distribution, ("uniform", "popularity"))
    spec = FeatureSpec.of(spec)
    frame = read(data, dtypes=csv_dtypes(spec)).reset_index(drop=True)
    if len(frame) == 0:
        raise DataError("add_negatives: the data has no rows")
    if label in frame.columns:
        raise DataError(f"add_negatives: the data already has a column {label!r}; pass label= another name for the "
                        "column to write")
    if spec.label is not None and spec.label.out_of is not None:
        raise SpecError(f"label.out_of: add_negatives follows each interaction with items its user never touched, "
                        "and this spec's rows are aggregated (clicks out of the impressions in "
                        f"{spec.label.out_of!r}), with their non-clicks in them already")
    if spec.label is not None:
        require_columns(frame, [spec.label.column])
    # Every row is an interaction (the spec's label only says which are clicks): known, never drawn.
    touched = Interactions.from_frame(frame, FeatureSpec(spec.features, name=spec.name), items, owner="add_negatives")
    catalogue, users = touched.items, touched.user_index
    sampler = NegativeSampler(users, touched.item_index, len(catalogue), distribution,
                              item_counts=touched.item_counts(), seed=seed)
    saturated = sampler.saturated_users()
    if len(saturated):
        who = touched.users[spec[keys(spec)[0]].source].tolist()[saturated[0]]
        raise DataError(f"add_negatives: user {who!r} touched every item of the catalogue, so no item they did not "
                        "touch can be drawn; pass more items as items=")
    drawn = sampler.sample(users, n_negatives)  # [interactions, n_negatives] catalogue rows
    sampled = frame.loc[np.repeat(np.arange(len(frame)), n_negatives)].reset_index(drop=True)
    item_cols = list(catalogue.columns)
    kept = {*item_cols, *(f.source for f in spec.features if f.role in ("user", "context"))}
    sampled = sampled.drop(columns=[c for c in frame.columns if c not in kept])  # left empty by the concat below
    chosen = catalogue.loc[drawn.reshape(-1)].reset_index(drop=True)
    for column in item_cols:
        sampled[column] = chosen[column].to_numpy()
    clicks = labels(frame, spec).astype(np.int64) if spec.label is not None else np.ones(len(frame), np.int64)
    both = pd.concat([frame.assign(**{label: clicks}), sampled.assign(**{label: 0})], ignore_index=True)
    # Each interaction followed by its own negatives, as an impression log would hold them.
    order = np.concatenate([np.arange(len(frame)) * (n_negatives + 1),
                            np.repeat(np.arange(len(frame)) * (n_negatives + 1), n_negatives)
                            + np.tile(np.arange(1, n_negatives + 1), len(frame))])
    return both.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)


def write_frames(frames: Iterable[pd.DataFrame], out: Path, spec: FeatureSpec | None = None) -> None:
    """Write DataFrames one after another to `out` as its name says (.csv, .tsv, .parquet, .feather or
    .arrow, .json lines; the text ones also compressed, as rows.csv.gz), into a temporary file beside it that
    replaces `out` only once all are written: a failure leaves whatever was at `out` before. A CSV's
    lists are written as `spec` (or ctr, without one) reads them back (`text_cells`)."""
    out = Path(out)
    check_output(out, "write_frames: out")  # a name that says no format is refused before anything is read
    make_parent(out)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    suffix = format_suffix(out)
    try:
        if suffix in (".parquet", *ARROW_FILES):
            import pyarrow.parquet as pq

            writer, schema = None, None
            try:
                for frame in frames:
                    # Every part takes the first's schema: a CSV's chunks may each guess their own types.
                    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
                    schema = table.schema
                    writer = writer or (pq.ParquetWriter(tmp, schema) if suffix == ".parquet" else
                                        pa.ipc.new_file(tmp, schema, options=_ARROW_WRITE))
                    writer.write_table(table)
            finally:
                if writer is not None:
                    writer.close()
        else:
            with opener(out)(tmp, "wt", newline="", encoding="utf-8") as file:
                for i, frame in enumerate(frames):
                    if suffix in JSON:
                        # ISO 8601 times, which reading takes back as they were (epoch milliseconds would be
                        # read as seconds).
                        frame.to_json(file, orient="records", lines=True, date_format="iso", force_ascii=False)
                    else:
                        text_cells(frame, spec).to_csv(file, sep="\t" if suffix == ".tsv" else ",", index=False,
                                                       header=i == 0)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


# As DataFrame.to_feather writes Feather: LZ4-compressed, where pyarrow has the codec.
_ARROW_WRITE = pa.ipc.IpcWriteOptions(compression="lz4" if pa.Codec.is_available("lz4") else None)


def text_cells(frame: pd.DataFrame, spec: FeatureSpec | None = None) -> pd.DataFrame:
    """The frame with each list, array or mapping cell written as a CSV cell that reads back the same: a
    multi-valued feature's ids joined by its separator (`Drama|War`; weights after its weight separator),
    a vector as `[0.1, -0.3]`, other lists joined by '|' (numbers with a fraction as a vector). pandas
    writes Python's repr, `['Drama', 'War']`, which reads back as one id."""
    features = {f.source: f for f in spec.features} if spec is not None else {}
    written = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object or not any(isinstance(v, (*LIST_TYPES, dict)) for v in column.to_numpy()):
            continue
        f = features.get(name)
        if isinstance(f, MultiCategorical | History):
            written[name] = _canonical(column, f)
        elif isinstance(f, Vector):
            written[name] = [_vector_cell(v) if not np.isnan(v).all() else "" for v in _canonical(column, f)]
        else:
            written[name] = [_list_cell(v) for v in column.to_numpy()]
    return frame.assign(**written) if written else frame


def _vector_cell(vector: Iterable[Any]) -> str:
    """A vector as text that `vector_text` reads back to the same numbers (the shortest that does)."""
    return "[" + ", ".join(np.format_float_positional(x, unique=True, trim="-") if isinstance(x, np.floating)
                           else repr(float(x)) for x in vector) + "]"


def _list_cell(value: Any) -> Any:
    """A cell of a column no feature reads, as `text_cells` writes it; anything but a list or mapping as it is."""
    if isinstance(value, dict):
        return "|".join(f"{_token(k)}:{_token(w)}" for k, w in value.items() if w is not None)
    if not isinstance(value, LIST_TYPES):
        return value
    items = [t for t in list_items(value) if isinstance(t, (*LIST_TYPES, dict)) or not pd.isna(t)]
    if items and all(isinstance(t, float | np.floating) for t in items) and not all(
            float(t).is_integer() for t in items):
        return _vector_cell(items)
    return "|".join(":".join(map(_token, t)) if isinstance(t, LIST_TYPES) else _token(t) for t in items)


_SPLITS = ("add_history", "cold_user_split", "column_arguments_hint", "random_split", "temporal_split", "time_order",
           "time_range", "time_split")


def __getattr__(name: str) -> Any:
    # ctr.splits reads through this module, so it is imported on first use, not at the top.
    if name in _SPLITS:
        from . import splits

        return getattr(splits, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SPLITS})
