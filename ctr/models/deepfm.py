"""DeepFM (Guo et al. 2017): an FM and an MLP read the same field embeddings and add their logits,
so low-order interactions are explicit and high-order ones are learned, with no feature engineering.
And Wide & Deep (Cheng et al. 2016), its forerunner: the MLP beside a linear (wide) part, without the FM."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._args import check_arguments
from .._keras import tf
from ..features import Field
from ..spec import SpecLike
from .base import RankingModel, Scorer
from .embeddings import FieldEmbeddings, mlp
from .fm import pairwise_interactions


class DeepFMScorer(Scorer):
    """First-order logit + FM logit (unless `fm` is False: Wide & Deep) + MLP logit over the flattened field
    embeddings."""

    def __init__(self, fields: list[Field], table_sizes: dict[str, int], embedding_dim: int,
                 hidden_units: Sequence[int], dropout: float, l2: float = 0.0, seed: int = 0, content: Any = None,
                 fm: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.fm = fm
        self.embeddings = FieldEmbeddings(fields, table_sizes, dim=embedding_dim, l2=l2, seed=seed,
                                          content=content)
        self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")
        self.deep = mlp(hidden_units, dropout, seed=seed, name="deep")
        self.flat_width = len(fields) * embedding_dim

    def call(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        vectors, first_order = self.embeddings(encoded, training=training)
        deep = self.deep(tf.reshape(vectors, [-1, self.flat_width]), training=training)[:, 0]
        if self.fm:  # in this order: DeepFM's sums, to the last bit, as before Wide & Deep shared the scorer
            return self.bias + first_order + pairwise_interactions(vectors) + deep
        return self.bias + first_order + deep


class _LinearAndMLP(RankingModel):
    """A click model whose logit adds a linear part (each feature value's weight) and an MLP over the field
    embeddings, with an FM over them (`fm`) or without."""

    fm: bool
    weight_settings = ("embedding_dim", "hidden_units")

    def __init__(self, spec: SpecLike, *, hidden_units: Sequence[int] = (256, 128),
                 dropout: float = 0.0, **kwargs: Any):
        check_arguments(type(self).__name__, hidden_units=hidden_units, dropout=dropout)
        super().__init__(spec, **kwargs)
        self.hidden_units, self.dropout = tuple(hidden_units), dropout

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "hidden_units": list(self.hidden_units), "dropout": self.dropout}

    def build_scorer(self, fields: list[Field], table_sizes: dict[str, int]) -> Scorer:
        return DeepFMScorer(fields, table_sizes, self.embedding_dim, self.hidden_units, self.dropout,
                            l2=self.l2, seed=self.seed, content=self.content_, fm=self.fm)


class DeepFM(_LinearAndMLP):
    """DeepFM over every field of the spec: FM and MLP share the field embeddings."""

    fm = True


class WideDeep(_LinearAndMLP):
    """Wide & Deep over every field of the spec: the wide part is a weight for each feature value and, from
    the spec's crosses, for each combination of their values (the paper's cross-product transformations);
    the deep part an MLP over the field embeddings. DeepFM is this with an FM beside them."""

    fm = False
