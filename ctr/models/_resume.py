"""Resumable training, shared by the click models and the recommenders: a Keras `BackupAndRestore`
checkpoint, with the fitted preprocessing written atomically beside it so that restored weights
meet the same vocabularies."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .._files import write_atomically
from .._keras import keras, tf
from ..errors import CtrError, DataError, first_line
from ..features import Preprocessor

_STATE = "preprocessing.json"
_MODEL = "model.json"  # the class and settings whose weights the checkpoint holds


def fit_preprocessing(preprocessor: Preprocessor, chunks: Callable[[], Iterable[dict[str, np.ndarray]]],
                      seed: int, verbose: str | int, backup: Path | None) -> Preprocessor:
    """The fitted preprocessing: the one saved in `backup` by an interrupted fit of the same spec,
    else `preprocessor` fitted on `chunks()` (and saved there, when there is a backup folder)."""
    saved = backup / _STATE if backup is not None else None
    if saved is not None and saved.exists():
        try:
            restored = Preprocessor.from_json(saved.read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError, OSError) as err:
            raise CtrError(f"{backup}: the interrupted fit's {_STATE} cannot be read ({err}); delete the folder "
                            "to start over") from err
        if restored.spec.to_dict() != preprocessor.spec.to_dict():
            raise DataError(f"{backup} holds a training run of a different spec ({restored.spec.name!r}); "
                            "use another backup_dir or delete it")
        progress(verbose, f"resuming from {backup}")
        return restored
    progress(verbose, "fitting preprocessing")
    preprocessor.fit(chunks, seed=seed)
    if saved is not None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(saved, preprocessor.to_json())
    return preprocessor


def check_same_model(backup: Path, model: Any) -> None:
    """Refuse a backup whose checkpoint an interrupted fit of another model (class or settings) wrote,
    naming the difference, as its weights would not fit; else record `model` as the folder's."""
    this = {"class": type(model).__name__, "settings": json.loads(json.dumps(model.get_config()))}
    record = backup / _MODEL
    if record.exists() and (backup / "checkpoint").exists():
        before = read_record(record, f"the interrupted fit's {_MODEL}")
        if before != this:
            was, now = before.get("settings", {}), this["settings"]
            changed = [f"{k}={was.get(k)!r} ({now.get(k)!r} now)" for k in sorted({*was, *now})
                       if was.get(k) != now.get(k)]
            differs = (f"{before.get('class')}, not {this['class']}" if before.get("class") != this["class"]
                       else f"{this['class']} with {', '.join(changed)}")
            raise DataError(f"{backup} holds the checkpoint of an interrupted fit of {differs}, so it cannot resume "
                            "this fit; resume with that model, or use another backup_dir, or delete it to start over")
        return
    backup.mkdir(parents=True, exist_ok=True)
    write_atomically(record, json.dumps(this))


def read_record(record: Path, what: str) -> Any:
    """The JSON a backup folder keeps in `record` (`what` it is, for the error), or a CtrError saying that
    it cannot be read (a file cut short, say) and to delete the folder."""
    try:
        return json.loads(record.read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise CtrError(f"{record.parent}: {what} cannot be read ({err}); delete the folder to start over") from err


def checkpoints(backup: Path, every: int | None) -> keras.callbacks.Callback:
    """Weights and optimizer state saved every `every` steps (else every epoch), restored when a
    fit restarts with the same folder."""
    return _StepBackup(str(backup / "checkpoint"), save_freq=every or "epoch", delete_checkpoint=True)


class _StepBackup(keras.callbacks.BackupAndRestore):
    """Keras' `BackupAndRestore`, counting steps rather than its batch-end calls: when one call into
    TensorFlow runs several steps (`steps_per_execution`), one call's end covers them all. A backup is
    written at the end of a call after which the next call could pass `save_freq` steps without one
    (an epoch's last call may run fewer steps), so backups are never more than `save_freq` steps
    apart; and it records the call's last step, where Keras records its first (a resumed fit would
    repeat the rest of that call's steps). Private Keras state, as in Keras' own method: tf-keras is
    pinned."""

    def on_train_begin(self, logs: dict | None = None) -> None:
        # Keras warns that the model is "unbuilt" when Keras' build() did not make its weights; ours
        # made them before fit, and the checkpoint restores into them and into the optimizer's (a
        # resumed fit's first step has the saved step count and moments), so the warning only alarms.
        def built(record: logging.LogRecord) -> bool:
            return not (self.model.weights and "you model must be built" in record.getMessage())

        tf.get_logger().addFilter(built)
        try:
            super().on_train_begin(logs)
        except (ValueError, IndexError, OSError, tf.errors.OpError) as err:
            raise CtrError(f"{Path(self.backup_dir).parent}: the backup of the interrupted fit cannot be read "
                           f"({first_line(err)}); delete the folder to start over") from err
        finally:
            tf.get_logger().removeFilter(built)
        self._per_call = int(self.model.steps_per_execution.numpy())

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        super().on_train_batch_begin(batch, logs)
        self._call_start = batch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            super().on_train_batch_end(batch, logs)
            return
        self._training_state.backup_if_preempted()
        self._batches_count += batch - self._call_start + 1
        if self._batches_count + self._per_call > self.save_freq:
            self._batches_count = 0
            # Keras records the step a call began with; a resumed fit must start after its last.
            self._training_state._ckpt_saved_batch.assign(batch)
            self._backup(epoch=self._current_epoch, batch=batch)


def finished(backup: Path) -> None:
    """Training completed: Keras has removed its checkpoint; remove the rest of the folder."""
    shutil.rmtree(backup, ignore_errors=True)


def progress(verbose: str | int, message: str) -> None:
    """A one-line progress message on stderr, unless `verbose` is 0."""
    if verbose not in (0, "0"):
        print(f"ctr: {message}", file=sys.stderr, flush=True)
