"""Loader for Frappe (context-aware mobile-app usage) in the libFM form of the NFM paper's split.

Each line is `<label> <index>:1 ...` with one active index per field, in field order, over one
global index space (He & Chua, 2017; the split reczoo's Frappe_x1 comes from). Nothing downloads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..spec import Categorical, FeatureSpec, Label

# The fields in the order of their index ranges, with each field's number of values (the dataset's
# README.txt; the app-usage count field was dropped from the libFM files).
FRAPPE_FIELDS = {"user": 957, "item": 4082, "daytime": 7, "weekday": 7, "isweekend": 2, "homework": 3,
                 "cost": 2, "weather": 9, "country": 80, "city": 233}
FRAPPE_SPLITS = ("train", "validation", "test")


def frappe(path: str | Path) -> pd.DataFrame:
    """Frappe as one table: `click` (1 for a used app, 0 for a sampled negative), one integer id column
    per field (`user`, `item`, `daytime`, ..., `city`, each counted from 0 within its field) and
    `split` (`train`, `validation` or `test`: the file a row came from).

    `path` is a folder holding any of `frappe.train.libfm`, `frappe.validation.libfm` and
    `frappe.test.libfm`, or one such file.
    """
    path = Path(path)
    if path.is_file():
        files = {_split_of(path): path}
    elif path.is_dir():
        files = {s: path / f"frappe.{s}.libfm" for s in FRAPPE_SPLITS if (path / f"frappe.{s}.libfm").exists()}
        if not files:
            raise DataError(f"{path}: no Frappe files here (expected frappe.train.libfm, frappe.validation.libfm "
                            "or frappe.test.libfm)")
    else:
        raise DataError(f"no Frappe data at {path}")
    parts = []
    for split, file in files.items():
        part = _read_libfm(file)
        part["split"] = split
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def frappe_spec() -> FeatureSpec:
    """The feature spec for `frappe()`'s table (= `feature_specs/frappe.yaml`): every field a categorical
    id, the user and item with their roles, the rest context."""
    roles = {"user": "user", "item": "item"}
    return FeatureSpec([Categorical(name, dtype="int", role=roles.get(name, "context")) for name in FRAPPE_FIELDS],
                       label=Label("click"), name="frappe",
                       description="Frappe app usage in context (libFM split of the NFM paper); ids per field.")


def _split_of(file: Path) -> str:
    parts = file.name.split(".")
    return parts[1] if len(parts) == 3 and parts[1] in FRAPPE_SPLITS else file.stem


def _read_libfm(file: Path) -> pd.DataFrame:
    """One libFM file as the table's columns, every line checked against the fields' index ranges."""
    lines = file.read_text(encoding="ascii", errors="replace").splitlines()  # CRLF in the published files
    rows = [line.split() for line in lines if line.strip()]
    width = 1 + len(FRAPPE_FIELDS)
    for number, row in enumerate(rows, 1):
        if len(row) != width or row[0] not in ("1", "-1", "0") or not all(t.endswith(":1") for t in row[1:]):
            raise DataError(f"{file}, line {number}: expected a label (1, -1 or 0) and {width - 1} index:1 "
                            f"pairs, one per field ({', '.join(FRAPPE_FIELDS)}); got {' '.join(row)[:120]!r}")
    if not rows:
        raise DataError(f"{file}: no rows")
    table = np.array(rows)
    try:
        indices = np.char.replace(table[:, 1:], ":1", "").astype(np.int64)
    except ValueError:
        raise DataError(f"{file}: a feature index is not an integer") from None
    frame = pd.DataFrame({"click": (table[:, 0] == "1").astype(np.int64)})
    start = 0
    for column, (field, size) in enumerate(FRAPPE_FIELDS.items()):
        ids = indices[:, column] - start
        bad = np.flatnonzero((ids < 0) | (ids >= size))
        if len(bad):
            raise DataError(f"{file}, line {bad[0] + 1}: index {indices[bad[0], column]} is not a {field!r} value "
                            f"(that field's indices are {start}..{start + size - 1})")
        frame[field] = ids
        start += size
    return frame
