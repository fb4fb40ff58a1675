"""Resumable training, shared by the click models and the recommenders: a Keras `BackupAndRestore`
checkpoint, with the fitted preprocessing written atomically beside it so that restored weights
meet the same vocabularies."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .._keras import keras
from ..errors import DataError
from ..features import Preprocessor

_STATE = "preprocessing.json"


def fit_preprocessing(preprocessor: Preprocessor, chunks: Callable[[], Iterable[dict[str, np.ndarray]]],
                      seed: int, verbose: str | int, backup: Path | None) -> Preprocessor:
    """The fitted preprocessing: the one saved in `backup` by an interrupted fit of the same spec,
    else `preprocessor` fitted on `chunks()` (and saved there, when there is a backup folder)."""
    saved = backup / _STATE if backup is not None else None
    if saved is not None and saved.exists():
        restored = Preprocessor.from_json(saved.read_text(encoding="utf-8"))
        if restored.spec.to_dict() != preprocessor.spec.to_dict():
            raise DataError(f"{backup} holds a training run of a different spec ({restored.spec.name!r}); "
                            "use another backup_dir or delete it")
        progress(verbose, f"resuming from {backup}")
        return restored
    progress(verbose, "fitting preprocessing")
    preprocessor.fit(chunks(), seed=seed)
    if saved is not None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        tmp = saved.with_suffix(".json.tmp")
        tmp.write_text(preprocessor.to_json(), encoding="utf-8")
        os.replace(tmp, saved)  # a kill leaves either no state or a whole one
    return preprocessor


def checkpoints(backup: Path, every: int | None) -> keras.callbacks.Callback:
    """Weights and optimizer state saved every `every` steps (else every epoch), restored when a
    fit restarts with the same folder."""
    return keras.callbacks.BackupAndRestore(str(backup / "checkpoint"), save_freq=every or "epoch",
                                            delete_checkpoint=True)


def finished(backup: Path) -> None:
    """Training completed: Keras has removed its checkpoint; remove the rest of the folder."""
    shutil.rmtree(backup, ignore_errors=True)


def progress(verbose: str | int, message: str) -> None:
    """A one-line progress message on stderr, unless `verbose` is 0."""
    if verbose not in (0, "0"):
        print(f"ctr: {message}", file=sys.stderr, flush=True)
