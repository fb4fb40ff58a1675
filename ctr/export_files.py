"""An export folder on disk, without TensorFlow: its ctr metadata, where an export may be written, and
the swap a kill cut short, undone. The shell checks its folders with these before TensorFlow starts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ._files import file_in_the_way
from .errors import CtrError

METADATA = "assets.extra/ctr.json"
DAMAGED = "the export is damaged or incomplete: export the model again"


class ExportError(CtrError):
    """The export could not be written or did not reproduce the model; nothing was replaced."""


def check_export_target(path: str | Path) -> Path:
    """`path` as an absolute path that an export may be written to: a new folder, an empty one or an
    export to replace, never a file or another folder's contents (checked again when the export lands)."""
    path = Path(path).absolute()
    blocked = file_in_the_way(path)
    if blocked:
        raise ExportError(blocked)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        raise ExportError(f"{path} names an ONNX file, and this export is a SavedModel folder: pass format='onnx' "
                          "for one ONNX file (in the shell, ctr export --model DIR --out FILE.onnx), or give a "
                          "folder name")
    if suffix in (".keras", ".h5", ".hdf5"):
        raise ExportError(f"{path} names a Keras file; a ctr export is a SavedModel folder over raw features (what "
                          "ctr.load, tf.saved_model.load and TensorFlow Serving read): give it a folder name, e.g. "
                          "runs/deepfm")
    recover_interrupted_export(path)
    if path.exists() and not path.is_dir():
        raise ExportError(f"{path} is a file; an export is a folder, so choose another path")
    if path.exists() and not (path / "saved_model.pb").exists() and any(path.iterdir()):
        raise ExportError(f"{path} exists and is not a SavedModel; refusing to replace it")
    return path


def recover_interrupted_export(path: Path) -> None:
    """Undo a swap that a kill cut between its two renames: put the previous export back in place."""
    path = Path(path).absolute()
    if path.exists() or not path.parent.exists():
        return
    aside = sorted(path.parent.glob(f".{path.name}.old-*"), key=lambda p: p.stat().st_mtime)
    aside = [p for p in aside if (p / "saved_model.pb").exists()]
    if aside:
        os.rename(aside[-1], path)


def read_metadata(path: Path) -> dict[str, Any]:
    """The metadata ctr wrote beside an export, or a CtrError saying why `path` is not a ctr export."""
    recover_interrupted_export(path)
    if not (path / "saved_model.pb").exists():
        raise CtrError(f"{path}: no SavedModel here (saved_model.pb is missing)")
    if not (path / METADATA).exists():
        raise CtrError(f"{path}: a SavedModel, but not one written by ctr ({METADATA} is missing)")
    try:
        return json.loads((path / METADATA).read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise CtrError(f"{path}: {METADATA} cannot be read ({err}); {DAMAGED}") from err
