"""TFRecord files of `tf.train.Example` records (what TFX's ExampleGen and `tf.io.TFRecordWriter` write),
read chunk by chunk as DataFrames: each feature key a column, one value a row as that value, several as
a list, none as missing. A file is one by its name (`*.tfrecord`, `*.tfrecords`, `*.tfrec`, or
`tfrecord` in it, as TFX's `data_tfrecord-00000-of-00001.gz`), gzipped (told by its first bytes),
zlib-compressed (`.zz`, `.zlib`) or not."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ._files import ARROW_FILES, COMPRESSED, JSON, data_files, is_gzipped
from ._keras import tf
from .errors import DataError, first_line
from .features import raw_text

SCHEMA_RECORDS = 10_000  # records read to learn the keys' types (all of them, for a key asked for but not seen)
_OTHER_FORMATS = (".parquet", *ARROW_FILES, ".csv", ".tsv", ".txt", *JSON)  # tfrecords_sample.csv is a CSV
_ZLIB = (".zz", ".zlib")  # endings of zlib-compressed TFRecords (tf.io.TFRecordOptions("ZLIB"))
_KINDS = {"bytes_list": tf.string, "int64_list": tf.int64, "float_list": tf.float32}
_KIND_NAMES = {"bytes_list": "bytes (text)", "int64_list": "integers", "float_list": "floats"}


def is_tfrecord_name(path: Path) -> bool:
    """Whether a file's name says it holds TFRecords."""
    name = path.name.lower()
    stem = Path(name).stem if Path(name).suffix in (*COMPRESSED, *_ZLIB) else name
    ending = Path(stem).suffix
    return ending in (".tfrecord", ".tfrecords", ".tfrec") or ("tfrecord" in stem and ending not in _OTHER_FORMATS)


def tfrecord_files(path: Path) -> list[Path]:
    """The TFRecord files at `path` (the file itself, or a folder's, hidden ones and `_SUCCESS` aside),
    or none when it is not TFRecord data; a folder with Parquet files in it is Parquet data."""
    if path.is_file():
        return [path] if is_tfrecord_name(path) else []
    if not path.is_dir():
        return []
    files = data_files(path)
    if any(p.suffix.lower() == ".parquet" for p in files):
        return []
    return [p for p in files if is_tfrecord_name(p)]


def _compression(file: Path) -> str:
    """TensorFlow's name for the file's compression: gzip by its first bytes, zlib (which has no mark
    that an uncompressed record's length could not also start with) by its name's ending."""
    return "GZIP" if is_gzipped(file) else "ZLIB" if file.suffix.lower() in _ZLIB else ""


def _records(file: Path, compression: str | None = None) -> tf.data.Dataset:
    return tf.data.TFRecordDataset(str(file), compression_type=_compression(file) if compression is None
                                   else compression)


def _batches(file: Path, rows: int) -> Iterator[tf.Tensor]:
    """The file's serialized records, `rows` at a time; a DataError when an uncompressed file ends
    inside a record's 12-byte header, which TensorFlow's reader takes for the end of the file."""
    read, compression = 0, _compression(file)
    for batch in _records(file, compression).batch(rows):
        read += int(tf.reduce_sum(tf.strings.length(batch))) + 16 * int(batch.shape[0])  # framing: 8 + 4 + 4
        yield batch
    size = file.stat().st_size
    if not compression and read != size:
        raise DataError(f"{file}: not readable as TFRecords of tf.train.Example (cut short or damaged: "
                        f"{size - read} bytes after its last whole record, at byte {read})")


@contextlib.contextmanager
def _reading(file: Path) -> Iterator[None]:
    """What TensorFlow finds wrong in the file read within, as a DataError without the names of its
    graph's internals."""
    try:
        yield
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as err:
        text = re.sub(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\].*$", "", first_line(err))
        text = text.replace("' failed with ", ": ")
        damage = "cut short or damaged: " if isinstance(err, tf.errors.DataLossError) else ""
        raise DataError(f"{file}: not readable as TFRecords of tf.train.Example ({damage}{text.strip()})") from None


def tfrecord_schema(files: Sequence[Path], whole: bool = False, at_least: int = 0) -> dict[str, str]:
    """Each feature key of the first SCHEMA_RECORDS records, or `at_least` if more (of all, when `whole`)
    → its kind ('bytes_list', ...), or a DataError naming a key whose records disagree on its kind, or a
    record that is no Example."""
    kinds: dict[str, str] = {}
    seen = 0
    records = max(SCHEMA_RECORDS, at_least)
    limit = float("inf") if whole else records
    for file in files:
        with _reading(file):
            # In batches: TensorFlow's iterator takes 100 us a step, one record or a thousand.
            head = _records(file) if whole else _records(file).take(records - seen)
            batches = head.batch(1024).as_numpy_iterator()
            for i, record in enumerate(record for batch in batches for record in batch):
                try:
                    example = tf.train.Example.FromString(record)
                except Exception as err:  # protobuf's DecodeError, whose module differs by implementation
                    raise DataError(f"{file}: record {i} is not a tf.train.Example ({first_line(err)})") from None
                for key, feature in example.features.feature.items():
                    kind = feature.WhichOneof("kind")
                    if kind is None:
                        continue
                    if kinds.setdefault(key, kind) != kind:
                        raise DataError(f"{file}: feature {key!r} holds {_KIND_NAMES[kind]} in record {i} but "
                                        f"{_KIND_NAMES[kinds[key]]} in an earlier one; a column has one type")
                seen += 1
        if seen >= limit:
            break
    return dict(sorted(kinds.items()))  # in one order: a record's own is its map's, which differs by process


def tfrecord_chunks(files: Sequence[Path], kinds: dict[str, str], columns: Sequence[str],
                    chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The records' `columns` as DataFrames of at most `chunk_rows` rows, file after file."""
    features = {c: tf.io.VarLenFeature(_KINDS[kinds[c]]) for c in columns}
    empty = True
    for file in files:
        with _reading(file):
            for batch in _batches(file, chunk_rows):
                parsed = tf.io.parse_example(batch, features)
                rows = int(batch.shape[0])
                empty = False
                yield pd.DataFrame({c: _column(parsed[c], rows) for c in columns}, index=pd.RangeIndex(rows))
    if empty:
        yield pd.DataFrame(columns=list(columns))


def tfrecord_rows(files: Sequence[Path]) -> int:
    """The number of records in the files, counted by reading them through."""
    total = 0
    for file in files:
        with _reading(file):
            total += sum(int(batch.shape[0]) for batch in _batches(file, 1 << 16))
    return total


def _column(sparse: tf.SparseTensor, rows: int) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """A parsed key's values as a column: one value a row as the value (integers exact, in a nullable
    array when some rows have none), several as a list, none as missing."""
    at = sparse.indices.numpy()[:, 0]
    values = sparse.values.numpy()
    if values.dtype == object:  # bytes: text as the other readers give it (binary ids kept as bytes)
        values = np.array([raw_text(v) for v in values], dtype=object)
    counts = np.bincount(at, minlength=rows)
    if counts.max(initial=0) > 1:
        out = np.empty(rows, dtype=object)
        for i, part in enumerate(np.split(values, np.cumsum(counts)[:-1])):
            out[i] = part.tolist()
        return out
    present = counts == 1
    if values.dtype == np.int64:
        whole = np.zeros(rows, dtype=np.int64)
        whole[at] = values
        return whole if present.all() else pd.arrays.IntegerArray(whole, ~present)
    if values.dtype == np.float32:
        out = np.full(rows, np.nan)
        out[at] = values
        return out
    out = np.full(rows, None, dtype=object)
    out[at] = values
    return out
