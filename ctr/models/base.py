"""What every ranking model shares: fitting the preprocessing, training, evaluating, exporting.

A model here is a scorer (encoded features → one logit) inside a `tfrs.Model` whose loss is a
`tfrs.tasks.Ranking` task: binary cross-entropy on clicks, with AUC and logloss tracked during
training. Each model file only says how its scorer turns field embeddings into a logit; the input
plumbing, the cached `tf.data` pipeline and the export live here, once.
"""

from __future__ import annotations

import abc
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow_recommenders as tfrs

from .. import data as ctr_data
from .._keras import keras, tf
from ..errors import DataError, NotFittedError
from ..features import Field, Preprocessor, raw_signature
from ..metrics import auc, logloss
from ..spec import FeatureSpec

_ENCODE_CHUNK = 65_536


class Scorer(keras.layers.Layer, abc.ABC):
    """Encoded feature dict → logits [B]. The one thing a ranking model defines."""

    @abc.abstractmethod
    def call(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor: ...


class _RankingNetwork(tfrs.Model):
    """The trainable graph: a scorer trained with the TFRS ranking task (logits, click labels)."""

    def __init__(self, scorer: Scorer):
        super().__init__()
        self.scorer = scorer
        self.task = tfrs.tasks.Ranking(
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
            metrics=[keras.metrics.AUC(from_logits=True, name="auc", num_thresholds=1000),
                     keras.metrics.BinaryCrossentropy(from_logits=True, name="logloss")])

    def call(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        return self.scorer(encoded, training=training)

    def compute_loss(self, inputs: Any, training: bool = False) -> tf.Tensor:
        encoded, labels = inputs
        logits = self.scorer(encoded, training=training)
        # Metrics in training too: Keras users read the progress bar, and TFRS's "loss" is the last batch's.
        return self.task(labels=labels[:, None], predictions=logits[:, None], compute_metrics=True)


class RankingModel(abc.ABC):
    """A click-through-rate model over a feature spec, with Keras verbs: fit, evaluate, predict.

    Preprocessing is fitted on the first `fit` data; training runs on features encoded once and
    cached; `export` writes a SavedModel that takes raw column values.
    """

    def __init__(self, spec: FeatureSpec | str | Path, *, embedding_dim: int = 16, learning_rate: float = 1e-3,
                 l2: float = 1e-6, batch_size: int = 512, seed: int = 0):
        self.spec = spec if isinstance(spec, FeatureSpec) else FeatureSpec.from_yaml(spec)
        if self.spec.label is None:
            raise DataError(f"spec {self.spec.name!r} has no label section; a ranking model needs one")
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be at least 1, got {embedding_dim}")
        self.embedding_dim, self.learning_rate, self.l2 = embedding_dim, learning_rate, l2
        self.batch_size, self.seed = batch_size, seed
        self.preprocessor_ = Preprocessor(self.spec)
        self.network_: _RankingNetwork | None = None
        self._encode: Any = None  # the fitted encoder as a tf.function, made on first use
        self.history_: dict[str, list[float]] = {}

    # -- what each model defines ----------------------------------------------------------------
    @abc.abstractmethod
    def build_scorer(self, fields: list[Field], table_sizes: dict[str, int]) -> Scorer:
        """The model's scorer, for the fields and table sizes of the fitted preprocessing."""

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (without the spec), as stored in the export."""
        return {"embedding_dim": self.embedding_dim, "learning_rate": self.learning_rate, "l2": self.l2,
                "batch_size": self.batch_size, "seed": self.seed}

    # -- training -------------------------------------------------------------------------------
    def fit(self, data: ctr_data.Source, validation_data: ctr_data.Source | None = None, *, epochs: int = 1,
            batch_size: int | None = None, callbacks: Sequence[keras.callbacks.Callback] = (),
            verbose: str | int = "auto", logdir: str | Path | None = None) -> keras.callbacks.History:
        """Train on `data` (fitting the preprocessing first if needed); returns the Keras History."""
        batch_size = batch_size or self.batch_size
        columns = self.spec.columns
        if not self.preprocessor_.fitted:
            _progress(verbose, "fitting preprocessing")
            self.preprocessor_.fit(self._raw_chunks(data, columns), seed=self.seed)
        encoded, labels = self._encode_features(data, with_labels=True)
        if len(labels) == 0:
            raise DataError("the training data has no rows")
        if self.network_ is None:
            keras.utils.set_random_seed(self.seed)
            self.network_ = _RankingNetwork(self.build_scorer(self.preprocessor_.fields(),
                                                              self.preprocessor_.table_sizes()))
            self.network_.compile(optimizer=keras.optimizers.Adam(self.learning_rate))
        train = _batches(encoded, labels, batch_size, shuffle=True, seed=self.seed)
        valid = None
        if validation_data is not None:
            valid_encoded, valid_labels = self._encode_features(validation_data, with_labels=True)
            if len(valid_labels):
                valid = _batches(valid_encoded, valid_labels, max(batch_size, 4096), shuffle=False)
        callbacks = list(callbacks)
        if logdir is not None:
            callbacks.append(keras.callbacks.TensorBoard(log_dir=str(logdir)))
        history = self.network_.fit(train, validation_data=valid, epochs=epochs, callbacks=callbacks,
                                    verbose=verbose)
        for key, values in history.history.items():
            self.history_.setdefault(key, []).extend(float(v) for v in values)
        return history

    def predict(self, data: ctr_data.Source, batch_size: int = 8192) -> np.ndarray:
        """Click probabilities for the rows of `data` (label column not needed)."""
        network = self._require_network()
        encoded = self._encode_features(data, with_labels=False)[0]
        n = len(next(iter(encoded.values())))
        logits = [network.predict_on_batch({k: v[i:i + batch_size] for k, v in encoded.items()})
                  for i in range(0, n, batch_size)]
        out = np.concatenate([np.asarray(x).reshape(-1) for x in logits]) if logits else np.zeros(0)
        return (1.0 / (1.0 + np.exp(-out.astype(np.float64)))).astype(np.float32)

    def evaluate(self, data: ctr_data.Source, batch_size: int = 8192) -> dict[str, float]:
        """Exact AUC and logloss on `data`, with the row count and positive rate, as a plain dict."""
        frame = ctr_data.read(data, self.spec.columns)
        if len(frame) == 0:
            raise DataError("the evaluation data has no rows")
        y = ctr_data.labels(frame, self.spec)
        p = self.predict(frame, batch_size=batch_size)
        return {"auc": auc(y, p), "logloss": logloss(y, p), "rows": len(y),
                "positive_rate": float(y.mean())}

    def export(self, path: str | Path, *, format: str = "saved_model", verify: bool = True) -> Path:
        """Write a SavedModel (or, with format="onnx", one ONNX file) that serves raw feature values;
        atomic, and checked against this model before it lands."""
        if format == "onnx":
            from ..onnx_export import export_onnx

            return export_onnx(self, Path(path), verify=verify)
        if format != "saved_model":
            raise ValueError(f"format must be 'saved_model' or 'onnx', got {format!r}")
        from ..export import export_ranking_model

        return export_ranking_model(self, Path(path), verify=verify)

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return self.network_ is not None

    def _require_network(self) -> _RankingNetwork:
        if self.network_ is None:
            raise NotFittedError(f"{type(self).__name__} is not trained yet; call fit(data) first")
        return self.network_

    def _raw_chunks(self, data: ctr_data.Source, columns: list[str]) -> Iterator[dict[str, np.ndarray]]:
        for chunk in ctr_data.iter_chunks(data, columns):
            yield ctr_data.raw_features(chunk, self.spec)

    def _encode_features(self, data: ctr_data.Source,
                         with_labels: bool) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Encode raw data once (in graph, chunk by chunk) into arrays the training loop reuses."""
        encode = self._encode_fn()
        columns = self.spec.columns if with_labels else [f.source for f in self.spec.features]
        parts: dict[str, list[np.ndarray]] = {}
        label_parts = []
        for chunk in ctr_data.iter_chunks(data, list(dict.fromkeys(columns))):
            raw = ctr_data.raw_features(chunk, self.spec)
            if with_labels:
                label_parts.append(ctr_data.labels(chunk, self.spec))
            n = len(chunk)
            for start in range(0, n, _ENCODE_CHUNK):
                tensors = {k: tf.constant(v[start:start + _ENCODE_CHUNK]) for k, v in raw.items()}
                for key, value in encode(tensors).items():
                    parts.setdefault(key, []).append(value.numpy())
        if not parts:  # no rows: encode an empty batch so callers still get every key
            empty = {f.name: tf.zeros([0], spec.dtype) for f, spec in
                     zip(self.spec.features, raw_signature(self.spec).values(), strict=True)}
            parts = {k: [v.numpy()] for k, v in encode(empty).items()}
        encoded = {k: np.concatenate(v) for k, v in parts.items()}
        labels = np.concatenate(label_parts) if label_parts else np.zeros(0, np.float32)
        return encoded, labels

    def _encode_fn(self) -> Any:
        if self._encode is None:  # the preprocessing never changes once fitted, so neither does this
            self._encode = tf.function(self.preprocessor_.encoder().__call__,
                                       input_signature=[raw_signature(self.spec)])
        return self._encode

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}(spec={self.spec.name!r}, {args})"


def _batches(encoded: dict[str, np.ndarray], labels: np.ndarray, batch_size: int, shuffle: bool,
             seed: int = 0) -> tf.data.Dataset:
    """Batches gathered from the cached encoded arrays by (shuffled) index: no per-row Python or parsing."""
    tensors = {k: tf.constant(v) for k, v in encoded.items()}
    y = tf.constant(labels, tf.float32)
    ds = tf.data.Dataset.range(len(labels))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    ds = ds.map(lambda idx: ({k: tf.gather(t, idx) for k, t in tensors.items()}, tf.gather(y, idx)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def _progress(verbose: str | int, message: str) -> None:
    if verbose not in (0, "0"):
        print(f"ctr: {message}", file=sys.stderr, flush=True)
