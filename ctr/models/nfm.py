"""NFM (He & Chua 2017, "Neural Factorization Machines for Sparse Predictive Analytics"): Bi-Interaction
pooling sums the element-wise products of every pair of field vectors into one k-wide vector,
½ ((Σ_i v_i)² − Σ_i v_i²), and an MLP reads it, beside the first-order weights. With no hidden layers the
MLP is a weighted sum of that vector: an FM whose coordinates have their own weights (the paper's NFM-0)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._args import check_arguments
from .._keras import keras, tf
from ..features import Field
from ..spec import SpecLike
from .base import RankingModel, Scorer, check_pairs
from .embeddings import FieldEmbeddings, mlp
from .fm import bi_interaction


class NFMScorer(Scorer):
    """Bias + first-order weights + an MLP's logit over the Bi-Interaction pooling of the field vectors."""

    def __init__(self, fields: list[Field], table_sizes: dict[str, int], embedding_dim: int,
                 hidden_units: Sequence[int], dropout: float, bi_dropout: float, l2: float = 0.0, seed: int = 0,
                 content: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.embeddings = FieldEmbeddings(fields, table_sizes, dim=embedding_dim, l2=l2, seed=seed,
                                          content=content)
        self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")
        # The paper's dropout on the pooled vector, before the hidden layers (DeepCTR's bi_dropout).
        self.bi_dropout = keras.layers.Dropout(bi_dropout, seed=seed + 70) if bi_dropout else None
        self.deep = mlp(hidden_units, dropout, seed=seed, name="deep")

    def call(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        vectors, first_order = self.embeddings(encoded, training=training)
        pooled = bi_interaction(vectors)
        if self.bi_dropout is not None:
            pooled = self.bi_dropout(pooled, training=training)
        return self.bias + first_order + self.deep(pooled, training=training)[:, 0]


class NFM(RankingModel):
    """NFM over every field of the spec: an MLP (`hidden_units`, 256-128 as our other models'; DeepCTR's NFM
    defaults to 256-128-64) over the Bi-Interaction pooling of the field vectors, with dropout on the pooled
    vector (`bi_dropout`) and in the hidden layers (`dropout`); `hidden_units=()` is NFM-0."""

    weight_settings = ("embedding_dim", "hidden_units")

    def __init__(self, spec: SpecLike, *, hidden_units: Sequence[int] = (256, 128), dropout: float = 0.0,
                 bi_dropout: float = 0.0, **kwargs: Any):
        check_arguments("NFM", hidden_units=hidden_units, dropout=dropout, bi_dropout=bi_dropout)
        super().__init__(spec, **kwargs)
        self.hidden_units, self.dropout, self.bi_dropout = tuple(hidden_units), dropout, bi_dropout

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "hidden_units": list(self.hidden_units), "dropout": self.dropout,
                "bi_dropout": self.bi_dropout}

    def build_scorer(self, fields: list[Field], table_sizes: dict[str, int]) -> Scorer:
        check_pairs("NFM", "pools the products of pairs of fields", fields, self.wide_only)
        return NFMScorer(fields, table_sizes, self.embedding_dim, self.hidden_units, self.dropout, self.bi_dropout,
                         l2=self.l2, seed=self.seed, content=self.content_)
