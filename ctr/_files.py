"""What a data file's name says: its format (rows.csv, rows.json) and its compression (rows.csv.gz),
and where in a text file a value is that pandas could not read. Kept apart from `ctr.data`, which
starts TensorFlow, so that the shell checks an --out name at once."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import uuid
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import ArgumentError, first_line

JSON = (".json", ".jsonl", ".ndjson")  # JSON lines (or a JSON array of objects, when read)


class ZipMembersError(OSError):
    """A .zip archive that holds no data file, or several: which one to read is not for ctr to guess."""


def unzipped(path: str | Path, mode: str = "rb", encoding: str | None = None, newline: str | None = None) -> Any:
    """The one data file in a .zip archive, opened for reading (`mode` "rb", or "rt" with `encoding`):
    folders, hidden files and the `__MACOSX/` copies that macOS's Compress adds are passed over, where
    pandas refuses such an archive as holding several files."""
    if not mode.startswith("r"):
        raise ArgumentError(f"{path}: a .zip archive is read, not written; write .gz, .bz2 or .xz instead")
    with zipfile.ZipFile(path) as archive:  # closing it leaves the member open: they share the file
        members = zip_members(archive)
        if len(members) != 1:
            names = ", ".join(m.filename for m in members[:5]) + (", ..." if len(members) > 5 else "")
            raise ZipMembersError(f"the .zip archive holds {len(members)} data files{f' ({names})' if names else ''}, "
                                  "where it is read when it holds one; unpack it and pass the file, or their folder")
        member = archive.open(members[0])
    return io.TextIOWrapper(member, encoding=encoding, newline=newline) if "t" in mode else member


def zip_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """An archive's data files: not its folders, hidden files or the `__MACOSX/` copies macOS's Compress adds."""
    return [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")
            and not Path(m.filename).name.startswith(".")]


def is_gzipped(path: str | Path) -> bool:
    """Whether the file starts as gzip writes one, whatever its name."""
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


# Compressed text files, named by the format then the compression (rows.csv.gz): pandas reads and
# writes them by that ending, and these open them. A .zip archive is read, not written.
COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open, ".zip": unzipped}
WRITTEN_COMPRESSED = (".gz", ".bz2", ".xz")
# A file that is not what its ending says, or cut short.
UNDECOMPRESSABLE = (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile)
ARROW_FILES = (".arrow", ".feather", ".ipc")  # Arrow's IPC file format (Feather version 2), as pyarrow writes it
OUTPUTS = (".csv", ".tsv", ".parquet", *ARROW_FILES, *JSON)


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so that a kill leaves the old file or the whole new one, never a part."""
    # A name of its own: the workers of a multi-worker fit write the same file at once.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def data_files(folder: Path) -> list[Path]:
    """The files a folder's readers read, in name order, at any depth: hidden ones (`.crc`) and markers
    (`_SUCCESS`, `_common_metadata`) aside, as Spark, Hive and pyarrow leave them beside the data."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))


def pattern_hint(path: str | Path) -> str:
    """What to add when a path that is not there is a pattern that matches files (`logs/*.csv`): a path
    is read as written, and several files are given as their folder. '' otherwise."""
    import glob

    matched = sorted(glob.glob(str(path))) if glob.has_magic(str(path)) else []
    if len(matched) == 1:
        return f": a path is read as it is written, not as a pattern; the one file it matches is {matched[0]}"
    folders = {os.path.dirname(m) for m in matched}
    if len(folders) == 1 and (folder := folders.pop()) and not [
            p for p in os.listdir(folder) if not p.startswith((".", "_")) and os.path.join(folder, p) not in matched]:
        return (f": a path is read as it is written, not as a pattern; the {len(matched)} files it matches are all "
                f"that {folder} holds: pass the folder, {folder}")
    return (f": a path is read as it is written, not as a pattern ({len(matched)} files match it); put the files "
            "in one folder and pass the folder") if matched else ""


def several_paths(flag: str, paths: Sequence[str]) -> str:
    """The message for a flag given several existing paths (a shell pattern, `--data logs/*.csv` unquoted,
    expands to every file it matches)."""
    shown = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
    return (f"{flag} takes one file or folder, and got {len(paths)} ({shown}): a shell pattern expands to every "
            "file it matches; put the files in one folder and pass the folder")


def file_in_the_way(path: str | Path, name: str | None = None) -> str | None:
    """Why `path` (called `name` in the message, e.g. '--out x.csv') cannot be written, when a file stands
    where one of the folders it goes in must be."""
    blocker = next((p for p in Path(path).absolute().parents if p.exists() and not p.is_dir()), None)
    return None if blocker is None else (f"{name or path}: {blocker} is a file, so no folder can be made in it; "
                                         "choose another path")


def make_parent(path: str | Path) -> None:
    """Make the folders `path` goes in, or raise an ArgumentError naming the file that stands in the way
    (where mkdir would raise a bare FileExistsError)."""
    check_parent(path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)


def check_parent(path: str | Path, name: str | None = None) -> None:
    """Raise an ArgumentError when a file stands where one of `path`'s folders must be."""
    blocked = file_in_the_way(path, name)
    if blocked:
        raise ArgumentError(blocked)


def format_suffix(path: Path) -> str:
    """The ending that says a file's format: '.csv' for rows.csv and rows.csv.gz alike."""
    suffixes = [s.lower() for s in path.suffixes]
    return suffixes[-2] if len(suffixes) > 1 and suffixes[-1] in COMPRESSED else path.suffix.lower()


def opener(path: Path) -> Callable[..., Any]:
    """`open`, or the opener of the file's compression."""
    return COMPRESSED.get(path.suffix.lower(), open)


def why_unreadable(path: Path, err: Exception) -> str:
    """The end of a message saying why the text file at `path` could not be read: where it stops being
    UTF-8 (`not_utf8`), or the error's first line."""
    return f": {not_utf8(path)}" if isinstance(err, UnicodeDecodeError) else f" ({first_line(err)})"


def not_utf8(path: Path) -> str:
    """Where the text file at `path` first stops being UTF-8, and how to read it: the line, shown as
    Windows-1252 reads it (the superset of Latin-1 that spreadsheet programs write), or UTF-16."""
    with opener(path)(path, "rb") as handle:
        head = handle.read(4)
        if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head:
            return ("it is UTF-16, as a spreadsheet's 'Unicode text' is: save it as UTF-8 or read it with pandas "
                    "(encoding='utf-16') and pass the table")
        handle.seek(0)
        for number, line in enumerate(handle, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                try:
                    shown = line.decode("cp1252").rstrip("\r\n")
                except UnicodeDecodeError:
                    return f"line {number} is not UTF-8 (byte {err.start} of the line, {line[err.start]:#04x})"
                convert = "" if path.suffix.lower() in COMPRESSED else \
                    f" (iconv -f cp1252 -t utf-8 {path.name} > utf8-{path.name})"
                return (f"line {number} reads as Windows-1252 or Latin-1: {shown[:80]!r}; save the file as UTF-8"
                        f"{convert} or read it with pandas (encoding='cp1252') and pass the table")
    return "it is not UTF-8"


def check_output(out: Path, owner: str) -> None:
    """Raise an ArgumentError unless `out`'s name says how `ctr.data.write_frames` writes it (and it is no folder)."""
    if out.is_dir():
        raise ArgumentError(f"{owner} {out}: a folder; {owner} names the file to write, such as "
                            f"{out / 'rows.parquet'}")
    fmt = format_suffix(out)
    compressed = out.suffix.lower() in COMPRESSED
    if fmt not in OUTPUTS or (compressed and (fmt in (".parquet", *ARROW_FILES)
                                              or out.suffix.lower() not in WRITTEN_COMPRESSED)):
        raise ArgumentError(f"{owner} {out}: the file name must end in .csv, .tsv, .parquet, .feather (or .arrow) or "
                            ".json (or .jsonl: one JSON object a line), which says how to write it; the text formats "
                            f"may also be compressed ({', '.join(f'.csv{c}' for c in WRITTEN_COMPRESSED)}; a .zip "
                            "archive is read, not written)")


def first_unreadable(chunks: Iterable[pd.DataFrame], columns: Sequence[str],
                     bad: Callable[[pd.Series], np.ndarray]) -> tuple[str, int, str] | None:
    """(column, row counted from 1, value) of the first value of `columns` in `chunks` (a file read
    again as text, after pandas failed on it with no row or column named) for which `bad` (given a
    column's present values as numbers, NaN where they are none) is true; None if there is none."""
    start = 1
    for chunk in chunks:
        for column in columns:
            given = chunk[column].dropna()
            wrong = bad(pd.to_numeric(given, errors="coerce").astype(np.float64))
            if wrong.any():
                at = int(np.argmax(wrong))
                return column, start + int(given.index[at]) - int(chunk.index[0]), given.iloc[at]
        start += len(chunk)
    return None
