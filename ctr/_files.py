"""What a data file's name says: its format (rows.csv, rows.json) and its compression (rows.csv.gz).
Kept apart from `ctr.data`, which starts TensorFlow, so that the shell checks an --out name at once."""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ArgumentError

JSON = (".json", ".jsonl", ".ndjson")  # JSON lines (or a JSON array of objects, when read)
# Compressed text files, named by the format then the compression (rows.csv.gz): pandas reads and
# writes them by that ending, and these open them.
COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
UNDECOMPRESSABLE = (OSError, EOFError, lzma.LZMAError)  # a file that is not what its ending says, or cut short
OUTPUTS = (".csv", ".tsv", ".parquet", *JSON)


def format_suffix(path: Path) -> str:
    """The ending that says a file's format: '.csv' for rows.csv and rows.csv.gz alike."""
    suffixes = [s.lower() for s in path.suffixes]
    return suffixes[-2] if len(suffixes) > 1 and suffixes[-1] in COMPRESSED else path.suffix.lower()


def opener(path: Path) -> Callable[..., Any]:
    """`open`, or the opener of the file's compression."""
    return COMPRESSED.get(path.suffix.lower(), open)


def check_output(out: Path, owner: str) -> None:
    """Raise an ArgumentError unless `out`'s name says how `ctr.data.write_frames` writes it."""
    fmt = format_suffix(out)
    if fmt not in OUTPUTS or (fmt == ".parquet" and out.suffix.lower() in COMPRESSED):
        raise ArgumentError(f"{owner} {out}: the file name must end in .csv, .tsv, .parquet or .json (or .jsonl: one "
                            "JSON object a line), which says how to write it; the text formats may also be compressed "
                            f"({', '.join(f'.csv{c}' for c in COMPRESSED)})")
