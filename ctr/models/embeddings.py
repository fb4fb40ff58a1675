"""Per-field embeddings: the one input layer every model's interaction head sits on.

Each field of the spec becomes a k-wide vector and a scalar first-order weight: an id looks up a
row, a bag of ids (genres, title words) pools its rows, and a number scales a learned vector (plus a
second vector for "this value was missing"). FM-style models need every field at the same width,
so the width is the model's `embedding_dim`, not a per-feature setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._keras import keras, tf
from ..features import Field


class FieldEmbeddings(keras.layers.Layer):
    """Encoded features → (field vectors [B, F, k] or None when k == 0, first-order logit [B] or None
    when `linear` is off: towers and NeuMF have no use for first-order weights)."""

    def __init__(self, fields: Sequence[Field], table_sizes: Mapping[str, int], dim: int,
                 l2: float = 0.0, seed: int = 0, linear: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.fields, self.dim, self.l2, self.linear = list(fields), dim, l2, linear
        self.tables = {}
        self.weights_1d = {}
        for field in self.fields:
            if field.table in self.tables:
                continue  # a shared table is created once
            rows = 2 if field.mode == "dense" else table_sizes[field.table]
            init = keras.initializers.RandomNormal(stddev=0.01, seed=seed + len(self.tables))
            if dim:
                self.tables[field.table] = self.add_weight(
                    name=f"{field.table}_embedding", shape=(rows, dim), initializer=init)
            if linear:
                self.weights_1d[field.table] = self.add_weight(
                    name=f"{field.table}_linear", shape=(rows, 1), initializer="zeros")

    def call(self, encoded: Mapping[str, tf.Tensor],
             roles: Sequence[str] | None = None) -> tuple[tf.Tensor | None, tf.Tensor]:
        """All fields, or only those whose role is in `roles` (towers read one side each)."""
        vectors, linear = [], []
        for field in self.fields:
            if roles is not None and field.role not in roles:
                continue
            x = encoded[field.key]
            if field.column is not None:
                x = x[:, field.column]
            if self.dim:
                vectors.append(_embed(field, x, self.tables[field.table]))
            if self.linear:
                linear.append(_embed(field, x, self.weights_1d[field.table]))
        first_order = tf.add_n(linear)[:, 0] if self.linear else None
        if not self.dim:
            return None, first_order
        stacked = tf.stack(vectors, axis=1)
        if self.l2:
            # Penalise only the rows this batch used: regularising whole tables costs O(vocabulary) a step.
            self.add_loss(self.l2 * tf.reduce_mean(tf.reduce_sum(tf.square(stacked), axis=[1, 2])))
        return stacked, first_order


def _embed(field: Field, x: tf.Tensor, table: tf.Variable) -> tf.Tensor:
    if field.mode == "id":
        return tf.gather(table, x)
    if field.mode == "dense":
        return x[:, 0:1] * table[0] + x[:, 1:2] * table[1]
    rows = tf.gather(table, x)  # [B, L, k]; id 0 is padding and its row is masked out
    mask = tf.cast(x > 0, rows.dtype)[:, :, None]
    total = tf.reduce_sum(rows * mask, axis=1)
    count = tf.reduce_sum(mask, axis=1)
    if field.combiner == "sum":
        return total
    if field.combiner == "sqrtn":
        return total / tf.sqrt(tf.maximum(count, 1.0))
    return total / tf.maximum(count, 1.0)


def mlp(hidden_units: Sequence[int], dropout: float, seed: int, name: str) -> keras.Sequential:
    """A ReLU tower ending in one logit."""
    layers: list[keras.layers.Layer] = []
    for i, units in enumerate(hidden_units):
        layers.append(keras.layers.Dense(units, activation="relu",
                                         kernel_initializer=keras.initializers.GlorotUniform(seed=seed + i)))
        if dropout:
            layers.append(keras.layers.Dropout(dropout, seed=seed + i))
    layers.append(keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 99)))
    return keras.Sequential(layers, name=name)


def embedding_tables(scorer: keras.layers.Layer) -> dict[str, tf.Variable]:
    """The k-wide embedding tables of a scorer by table name (exports keep them findable by name)."""
    for attribute in ("embeddings", "gmf"):
        layer = getattr(scorer, attribute, None)
        if isinstance(layer, FieldEmbeddings) and layer.dim:
            return dict(layer.tables)
    return {}
