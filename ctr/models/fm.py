"""Factorization machine (Rendle 2010): every pair of fields interacts through the dot product of
their embeddings, computed in O(k·n) with the square-of-sum trick instead of O(k·n²)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._keras import tf
from ..features import Field
from .base import RankingModel, Scorer
from .embeddings import FieldEmbeddings


def pairwise_interactions(vectors: tf.Tensor) -> tf.Tensor:
    """Σ_{i<j} <v_i, v_j> for field vectors [B, F, k], as ½ Σ_k ((Σ_i v_ik)² − Σ_i v_ik²) → [B]."""
    square_of_sum = tf.square(tf.reduce_sum(vectors, axis=1))
    sum_of_squares = tf.reduce_sum(tf.square(vectors), axis=1)
    return 0.5 * tf.reduce_sum(square_of_sum - sum_of_squares, axis=1)


def fm_terms(rows: tf.Tensor, dim: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(first-order logit, pairwise interactions, squared norm of the vectors), each [B], from fused
    rows [B, F, k + 1] whose last column is the first-order weight: one sum over the fields serves
    all three, and the rows are never cut apart."""
    sums = tf.reduce_sum(rows, axis=1)  # [B, k + 1]
    squares = tf.reduce_sum(tf.square(rows), axis=1)
    pairwise = 0.5 * tf.reduce_sum(tf.square(sums[:, :dim]) - squares[:, :dim], axis=1)
    return sums[:, dim], pairwise, tf.reduce_sum(squares[:, :dim], axis=1)


class FMScorer(Scorer):
    """Bias + first-order weights + pairwise field interactions."""

    def __init__(self, fields: list[Field], table_sizes: dict[str, int], embedding_dim: int, l2: float = 0.0,
                 seed: int = 0, content: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.embeddings = FieldEmbeddings(fields, table_sizes, dim=embedding_dim, l2=l2, seed=seed,
                                          content=content)
        self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")

    def call(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        rows, _ = self.embeddings(encoded, training=training, fused=True)
        first_order, pairwise, squared_norm = fm_terms(rows, self.embeddings.dim)
        if self.embeddings.l2:  # as FieldEmbeddings' own penalty: the rows this batch used
            self.add_loss(self.embeddings.l2 * tf.reduce_mean(squared_norm))
        return self.bias + first_order + pairwise


class FM(RankingModel):
    """Factorization machine over every field of the spec."""

    def build_scorer(self, fields: list[Field], table_sizes: dict[str, int]) -> Scorer:
        return FMScorer(fields, table_sizes, self.embedding_dim, l2=self.l2, seed=self.seed, content=self.content_)
