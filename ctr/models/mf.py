"""Matrix factorisation with biases: score = <user vector, item vector> + item bias + user bias.

On a spec with only the two ids this is classic MF; other user and item features add their field
vectors to their side's vector (as in SVDFeature), so side information shares the same machinery.
Trained pointwise (log loss on sampled negatives) or with BPR's pairwise loss, by `loss`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._args import check_choice
from .._keras import tf
from ..features import Field
from ..spec import SpecLike
from .embeddings import FieldEmbeddings
from .recommender import FactorizedScorer, Recommender


class MFScorer(FactorizedScorer):
    """Query vector [u, 1, b_u + b] and item vector [v, b_i, 1]: their dot product is the full logit."""

    def __init__(self, fields: list[Field], table_sizes: dict[str, int], dim: int, l2: float, seed: int,
                 content: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.embeddings = FieldEmbeddings(fields, table_sizes, dim=dim, l2=l2, seed=seed, content=content)
        self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")
        self.taste_width = dim

    def query_vectors(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        vectors, first_order = self.embeddings(encoded, roles=("user", "context"), training=training)
        ones = tf.ones_like(first_order)[:, None]
        return tf.concat([tf.reduce_sum(vectors, axis=1), ones, (first_order + self.bias)[:, None]], axis=1)

    def item_vectors(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        vectors, first_order = self.embeddings(encoded, roles=("item",), training=training)
        ones = tf.ones_like(first_order)[:, None]
        return tf.concat([tf.reduce_sum(vectors, axis=1), first_order[:, None], ones], axis=1)


class MatrixFactorization(Recommender):
    """MF with user and item biases; `loss` is 'logloss' (pointwise) or 'bpr' (pairwise)."""

    factorized = True

    def __init__(self, spec: SpecLike, *, loss: str = "logloss", **kwargs: Any):
        check_choice("MatrixFactorization", "loss", loss, ("logloss", "bpr"))
        super().__init__(spec, **kwargs)
        self.loss = loss
        self.objective = "bpr" if loss == "bpr" else "pointwise"

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "loss": self.loss}

    def build_scorer(self, fields: list[Field], table_sizes: dict[str, int]) -> MFScorer:
        return MFScorer(fields, table_sizes, self.embedding_dim, self.l2, self.seed, content=self.content_)
