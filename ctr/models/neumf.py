"""NeuMF (He et al. 2017, Neural Collaborative Filtering): a generalised matrix factorisation branch
(element-wise product of user and item vectors) and an MLP branch over the concatenated features,
each with its own embeddings, joined by one output layer. Side features of the spec join both sides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._args import check_arguments
from .._keras import keras, tf
from ..features import Field
from ..spec import SpecLike
from .embeddings import FieldEmbeddings
from .recommender import PairScorer, Recommender


class NeuMFScorer(PairScorer):
    """GMF(p_u ⊙ q_i) and MLP([user fields, item fields]) → one logit."""

    def __init__(self, fields: list[Field], table_sizes: dict[str, int], dim: int, hidden_units: Sequence[int],
                 l2: float, seed: int, content: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.gmf = FieldEmbeddings(fields, table_sizes, dim=dim, l2=l2, seed=seed, linear=False, content=content)
        self.mlp_embeddings = FieldEmbeddings(fields, table_sizes, dim=dim, l2=l2, seed=seed + 1000, linear=False,
                                              content=content)
        self.mlp = keras.Sequential([keras.layers.Dense(u, activation="relu",
                                                        kernel_initializer=keras.initializers.GlorotUniform(seed + i))
                                     for i, u in enumerate(hidden_units)], name="mlp")
        self.output_layer = keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed + 99))
        self.width = len(fields) * dim

    def call(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        if training:  # one draw for both branches: a dropped id is missing in each, as at serving
            encoded = self.gmf.drop_ids(encoded)
        user, _ = self.gmf(encoded, roles=("user", "context"), training=training, ids_dropped=True)
        item, _ = self.gmf(encoded, roles=("item",), training=training, ids_dropped=True)
        gmf = tf.reduce_sum(user, axis=1) * tf.reduce_sum(item, axis=1)
        both, _ = self.mlp_embeddings(encoded, training=training, ids_dropped=True)
        deep = self.mlp(tf.reshape(both, [-1, self.width]), training=training)
        return self.output_layer(tf.concat([gmf, deep], axis=1), training=training)[:, 0]


class NeuMF(Recommender):
    """NeuMF trained pointwise on positives and sampled negatives (the NCF paper's setting)."""

    weight_settings = ("embedding_dim", "hidden_units")

    def __init__(self, spec: SpecLike, *, hidden_units: Sequence[int] = (64, 32, 16), **kwargs: Any):
        kwargs.setdefault("embedding_dim", 16)
        check_arguments("NeuMF", hidden_units=hidden_units)
        super().__init__(spec, **kwargs)
        self.hidden_units = tuple(hidden_units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "hidden_units": list(self.hidden_units)}

    def build_scorer(self, fields: list[Field], table_sizes: dict[str, int]) -> NeuMFScorer:
        return NeuMFScorer(fields, table_sizes, self.embedding_dim, self.hidden_units, self.l2, self.seed,
                           content=self.content_)
