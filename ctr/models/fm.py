"""Factorization machine (Rendle 2010): every pair of fields interacts through the dot product of
their embeddings, computed in O(k·n) with the square-of-sum trick instead of O(k·n²)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._keras import tf
from ..features import Field
from .base import RankingModel, Scorer
from .embeddings import FieldEmbeddings


def bi_interaction(vectors: tf.Tensor) -> tf.Tensor:
    """Σ_{i<j} v_i ⊙ v_j for field vectors [B, F, k], as ½ ((Σ_i v_i)² − Σ_i v_i²) → [B, k] (NFM's
    Bi-Interaction pooling)."""
    return 0.5 * (tf.square(tf.reduce_sum(vectors, axis=1)) - tf.reduce_sum(tf.square(vectors), axis=1))


def pairwise_interactions(vectors: tf.Tensor) -> tf.Tensor:
    """Σ_{i<j} <v_i, v_j> for field vectors [B, F, k] → [B]: the sum of `bi_interaction` (halving is exact, so
    this is the same float as halving the sum)."""
    return tf.reduce_sum(bi_interaction(vectors), axis=1)


def fm_terms(sums: tf.Tensor, squared_norm: tf.Tensor, dim: int) -> tuple[tf.Tensor, tf.Tensor]:
    """(first-order logit, pairwise interactions), each [B], from the fields' summed fused rows
    [B, k + 1] (the first-order weight last) and the sum of the vectors' squared norms [B]
    (`FieldEmbeddings.moments`): Σ_{i<j} <v_i, v_j> = ½ (|Σ_i v_i|² − Σ_i |v_i|²). The columns are
    chosen with 0/1 masks, whose gradient is a product, where a cut's writes a zero-filled copy."""
    width = int(sums.shape[-1])
    vector = tf.constant([1.0] * dim + [0.0] * (width - dim), sums.dtype)
    weight = tf.constant([0.0] * dim + [1.0] * (width - dim), sums.dtype)
    first_order = tf.reduce_sum(sums * weight, axis=1)
    return first_order, 0.5 * (tf.reduce_sum(tf.square(sums) * vector, axis=1) - squared_norm)


class FMScorer(Scorer):
    """Bias + first-order weights + pairwise field interactions."""

    caches_entries = True

    def __init__(self, fields: list[Field], table_sizes: dict[str, int], embedding_dim: int, l2: float = 0.0,
                 seed: int = 0, content: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.embeddings = FieldEmbeddings(fields, table_sizes, dim=embedding_dim, l2=l2, seed=seed,
                                          content=content)
        self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")

    def call(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        sums, squared_norm = self.embeddings.moments(encoded, training=training)
        first_order, pairwise = fm_terms(sums, squared_norm, self.embeddings.dim)
        if self.embeddings.l2:  # as FieldEmbeddings' own penalty: the rows this batch used
            self.add_loss(self.embeddings.l2 * tf.reduce_mean(squared_norm))
        return self.bias + first_order + pairwise


class FM(RankingModel):
    """Factorization machine over every field of the spec."""

    def build_scorer(self, fields: list[Field], table_sizes: dict[str, int]) -> Scorer:
        return FMScorer(fields, table_sizes, self.embedding_dim, l2=self.l2, seed=self.seed, content=self.content_)
