"""DCN-V2 (Wang et al. 2021, "DCN V2: Improved Deep & Cross Network"): cross layers
x_{l+1} = x_0 ⊙ (W x_l + b) + x_l over the concatenated field embeddings make bounded-degree feature
crosses explicit (degree l + 1 after l layers), beside or before an MLP that learns the rest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import tensorflow_recommenders as tfrs

from .._args import check_arguments, check_choice
from .._keras import keras, tf
from ..errors import ArgumentError
from ..features import Field
from ..spec import SpecLike
from .base import RankingModel, Scorer
from .embeddings import FieldEmbeddings, logit_layer, relu_layers

STRUCTURES = ("parallel", "stacked")


class DCNScorer(Scorer):
    """Bias + first-order weights + one logit over the cross network's output and the MLP's.

    "parallel": the cross layers and the MLP both read the field embeddings, and the logit reads
    both outputs side by side (DCN's original shape, and DeepCTR's). "stacked": the MLP reads the
    cross layers' output."""

    def __init__(self, fields: list[Field], table_sizes: dict[str, int], embedding_dim: int, cross_layers: int,
                 projection_dim: int | None, hidden_units: Sequence[int], dropout: float, structure: str,
                 l2: float = 0.0, seed: int = 0, content: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.embeddings = FieldEmbeddings(fields, table_sizes, dim=embedding_dim, l2=l2, seed=seed,
                                          content=content)
        self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")
        self.flat_width = len(fields) * embedding_dim
        # Each layer's kernel is seeded on its own (TFRS clones the initializer with its seed), so the
        # same seed gives the same network.
        self.crosses = [tfrs.layers.dcn.Cross(
            projection_dim=projection_dim,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.05, seed=seed + 50 + i),
            name=f"cross_{i}") for i in range(cross_layers)]
        self.deep = relu_layers(hidden_units, dropout, seed)
        self.structure = structure
        self.logit = logit_layer(seed)

    def call(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        vectors, first_order = self.embeddings(encoded, training=training)
        x0 = tf.reshape(vectors, [-1, self.flat_width])
        crossed = x0
        for cross in self.crosses:
            crossed = cross(x0, crossed)
        deep = crossed if self.structure == "stacked" else x0
        for layer in self.deep:
            deep = layer(deep, training=training)
        if self.structure == "stacked":  # the MLP over the crosses (with no MLP, the crosses)
            top = deep
        elif self.deep:  # parallel: the crosses beside the MLP's output
            top = tf.concat([crossed, deep], axis=1)
        else:  # parallel with no MLP: the crosses alone
            top = crossed
        return self.bias + first_order + self.logit(top)[:, 0]


class DCN(RankingModel):
    """Deep & Cross Network (V2) over every field of the spec: cross layers and an MLP share the field
    embeddings. `projection_dim` makes each cross layer's matrix low-rank (U·V, d×r and r×d), which
    the paper finds as good at d/4 for a fraction of the cost."""

    weight_settings = ("embedding_dim", "hidden_units", "cross_layers", "projection_dim", "structure")

    def __init__(self, spec: SpecLike, *, cross_layers: int = 2, projection_dim: int | None = None,
                 hidden_units: Sequence[int] = (256, 128), dropout: float = 0.0, structure: str = "parallel",
                 **kwargs: Any):
        check_arguments("DCN", cross_layers=cross_layers, projection_dim=projection_dim, hidden_units=hidden_units,
                        dropout=dropout)
        check_choice("DCN", "structure", structure, STRUCTURES)
        if cross_layers == 0 and not hidden_units:
            raise ArgumentError("DCN: cross_layers is 0 and hidden_units is empty, which leaves only the "
                                "first-order weights (that is ctr.LogisticRegression)")
        super().__init__(spec, **kwargs)
        self.cross_layers, self.projection_dim = cross_layers, projection_dim
        self.hidden_units, self.dropout, self.structure = tuple(hidden_units), dropout, structure

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cross_layers": self.cross_layers, "projection_dim": self.projection_dim,
                "hidden_units": list(self.hidden_units), "dropout": self.dropout, "structure": self.structure}

    def build_scorer(self, fields: list[Field], table_sizes: dict[str, int]) -> Scorer:
        return DCNScorer(fields, table_sizes, self.embedding_dim, self.cross_layers, self.projection_dim,
                         self.hidden_units, self.dropout, self.structure, l2=self.l2, seed=self.seed,
                         content=self.content_)
