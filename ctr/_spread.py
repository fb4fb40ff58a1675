"""Rows read from places spread through a large source rather than in its order: draft-spec's rows from 8
places, so that a log sorted by time or by label is seen as it is throughout, not as its first day is; and a
streamed Parquet or Arrow source's pieces (row groups), which training reads in a random order."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads

from . import data as ctr_data
from ._files import COMPRESSED
from .errors import DataError

PLACES = 8  # how many places rows are read from: each a block of an eighth of them


class _UnspreadError(Exception):
    """A source read from its start, why said: no rows beyond those asked for, or no place to seek to."""


def spread_rows(source: ctr_data.Source, rows: int, dtypes: Mapping[str, str] | None = None,
                whole: Collection[str] = ()) -> tuple[pd.DataFrame, int] | None:
    """About `rows` rows of a source that holds more, read as `iter_chunks` reads them, in `PLACES` blocks
    spread evenly through it, and how many places they came from: a frame's or table's rows, a Parquet or
    Arrow dataset's row groups, a CSV's or JSON-lines file's lines from evenly spaced bytes, a folder of text
    files' files. None where the source cannot be read so (compressed text, a JSON array, TFRecords, a
    filtered pyarrow dataset, a CSV whose quoted values span lines) or anything in the blocks goes wrong:
    the caller reads the head."""
    source = ctr_data.as_source(source)
    block = -(-rows // PLACES)  # the last block a few rows short, to make `rows`
    try:
        if isinstance(source, pd.DataFrame | pa.Table):
            total = len(source)
            starts = np.linspace(0, max(total - block, 0), PLACES).astype(int)
            parts: list[pd.DataFrame] = [_head(source[start:start + block], block, dtypes, whole)
                                         for start in starts]
        elif isinstance(source, pads.Dataset):
            parts = list(_dataset_blocks(source, rows, block, dtypes, whole))
        else:
            parts = list(_path_blocks(Path(source), rows, block, dtypes, whole))
    except (_UnspreadError, DataError, ValueError, OSError, pa.ArrowException):  # ValueError: filtered
        return None
    if not parts:
        return None
    frame = ctr_data.concat_chunks(parts) if len(parts) > 1 else parts[0].reset_index(drop=True)
    return frame.iloc[:rows].copy(), len(parts)


def _head(source: ctr_data.Source, rows: int, dtypes: Mapping[str, str] | None,
          whole: Collection[str]) -> pd.DataFrame:
    """The first `rows` rows of `source` as `iter_chunks` reads them."""
    return _first(ctr_data.iter_chunks(source, chunk_rows=rows, dtypes=dtypes, whole=whole), rows)


def _first(chunks: Iterator[pd.DataFrame], rows: int) -> pd.DataFrame:
    """The first `rows` rows of `chunks` (an Arrow table's or a file's batches may be shorter)."""
    held: list[pd.DataFrame] = []
    count = 0
    for chunk in chunks:
        held.append(chunk.iloc[:rows - count])
        count += len(held[-1])
        if count >= rows:
            break
    return ctr_data.concat_chunks(held) if len(held) > 1 else held[0]


def _dataset_blocks(dataset: pads.Dataset, rows: int, block: int, dtypes: Mapping[str, str] | None,
                    whole: Collection[str]) -> Iterator[pd.DataFrame]:
    """`block` rows from each of `PLACES` evenly spaced rows of a dataset, read from the row groups (an Arrow
    file's: the file) that hold them, which keep their partitions' values."""
    pieces = dataset_pieces(dataset)
    if pieces is None:
        raise _UnspreadError("not a dataset of files, or a filtered one")
    sizes = np.array([size for _, size in pieces], dtype=np.int64)
    ends = np.cumsum(sizes)
    if not len(pieces) or ends[-1] <= rows:
        raise _UnspreadError("no more rows than asked for")
    for position in np.linspace(0, ends[-1] - block, PLACES).astype(np.int64):
        first, last = np.searchsorted(ends, [position, position + block - 1], side="right")
        held = pieces_dataset(dataset, [fragment for fragment, _ in pieces[first:last + 1]])
        yield _head(_rows_at(held, int(position - ends[first] + sizes[first]), block), block, dtypes, whole)


def dataset_pieces(dataset: pads.Dataset) -> list[tuple[pads.Fragment, int]] | None:
    """A dataset's pieces that can be read alone, with their rows: a Parquet file's row groups, an Arrow file
    whole. None for a dataset that is no files' (in memory), or filtered (its rows are unknown until read)."""
    if not isinstance(dataset, pads.FileSystemDataset):
        return None
    try:
        fragments = list(dataset.get_fragments())
    except ValueError:  # pyarrow refuses the fragments of a filtered dataset
        return None
    pieces = []
    for fragment in fragments:
        if isinstance(fragment, pads.ParquetFileFragment):
            pieces += [(piece, piece.row_groups[0].num_rows) for piece in fragment.split_by_row_group()]
        else:
            pieces.append((fragment, fragment.count_rows()))
    return pieces


def pieces_dataset(dataset: pads.FileSystemDataset, fragments: list[pads.Fragment]) -> pads.FileSystemDataset:
    """The dataset of some of `dataset`'s pieces, in the order given, with its schema (and partitions)."""
    return pads.FileSystemDataset(fragments, dataset.schema, dataset.format, dataset.filesystem)


def table_dataset(source: ctr_data.Source) -> pads.FileSystemDataset | None:
    """The pyarrow dataset `iter_chunks` reads a Parquet or Arrow source through (the caller's own, or a path's),
    or None for any other source."""
    source = ctr_data.as_source(source)
    if isinstance(source, pads.FileSystemDataset):
        return source
    if isinstance(source, pd.DataFrame | pa.Table | pads.Dataset):
        return None
    path = Path(source)
    if not path.exists() or ctr_data.path_format(path)[0] != "parquet":
        return None
    try:
        return ctr_data.parquet_dataset(path)
    except DataError:
        return None


def _rows_at(dataset: pads.Dataset, skip: int, rows: int) -> pa.Table:
    """`rows` rows of a dataset after its first `skip`, read batch by batch: a row group of a million rows
    is never held whole."""
    held = []
    for batch in dataset.to_batches(batch_readahead=1, fragment_readahead=1):
        if skip < batch.num_rows:
            held.append(batch.slice(skip, rows))
            rows -= held[-1].num_rows
        skip = max(skip - batch.num_rows, 0)
        if rows <= 0:
            break
    return pa.Table.from_batches(held, schema=dataset.schema)


def _path_blocks(path: Path, rows: int, block: int, dtypes: Mapping[str, str] | None,
                 whole: Collection[str]) -> Iterator[pd.DataFrame]:
    """`_dataset_blocks` of a Parquet or Arrow path, `_text_blocks` of a CSV, TSV or Criteo file, and the heads
    of the files spread through a folder of text files (with their partitions' columns), as `path_format`
    tells them apart."""
    kind, files = ctr_data.path_format(path)
    if kind == "parquet":
        yield from _dataset_blocks(ctr_data.parquet_dataset(path), rows, block, dtypes, whole)
        return
    files = [file for file in files if file.stat().st_size]
    if kind == "text" and len(files) > 1:
        for file in sorted({files[i] for i in np.linspace(0, len(files) - 1, PLACES).astype(int)}):
            yield _first(ctr_data.folder_chunks(path, [file], None, block, "", dtypes, whole), block)
        return
    if kind in ("criteo", "json", "csv") and path.suffix.lower() not in COMPRESSED:  # no place to seek to
        yield from _text_blocks(path, kind, block, dtypes, whole)
        return
    raise _UnspreadError("one file of a folder, compressed text or records: read from the start")


def _text_blocks(path: Path, kind: ctr_data.PathFormat, block: int, dtypes: Mapping[str, str] | None,
                 whole: Collection[str]) -> list[pd.DataFrame]:
    """`block` lines of a CSV, TSV, JSON-lines or Criteo file from each of `PLACES` evenly spaced bytes (each
    after the line that byte falls in), read as the file would be: its header and those lines, written beside
    each other in a file of the same name. A value that spans lines (quoted CSV, a JSON array written over
    lines) shows as fewer rows than lines, or as unreadable."""
    header = int(kind == "csv")
    size = path.stat().st_size
    lines: list[bytes] = []
    counts = []  # lines read at each place
    with open(path, "rb") as handle:
        lines += [handle.readline() for _ in range(header)]
        end = first = handle.tell()
        step = 0  # bytes from one place to the next: all but the first block's, over the places after it
        for place in range(PLACES):
            last = place == PLACES - 1
            if last:  # the file's last lines, however long: from twice the bytes that the lines so far took
                at = size - int(2 * block * sum(map(len, lines[header:])) / max(len(lines) - header, 1))
            else:
                at = first + step * place
            handle.seek(max(at, end))
            if handle.tell() > end:
                handle.readline()  # the rest of a line begun before this place
            if last:
                got = handle.readlines()[-block:]
            else:
                got = [line for line in (handle.readline() for _ in range(block)) if line]
            lines += [line if line.endswith(b"\n") else line + b"\n" for line in got]
            counts.append(len(got))
            end = handle.tell()
            if not place:
                step = max(size - end, 0) // (PLACES - 1)
    with tempfile.TemporaryDirectory(prefix="ctr-spread-") as folder:
        copy = Path(folder) / path.name
        copy.write_bytes(b"".join(lines))
        read = ctr_data.concat_chunks(list(ctr_data.iter_chunks(copy, chunk_rows=len(lines), dtypes=dtypes,
                                                                whole=whole)))
    if len(read) != len(lines) - header:
        raise _UnspreadError("values that span lines")
    starts = np.cumsum([0, *counts])
    return [read.iloc[start:stop] for start, stop in itertools.pairwise(starts) if stop > start]

