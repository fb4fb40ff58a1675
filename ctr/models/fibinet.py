"""FiBiNET (Huang et al. 2019, "FiBiNET: Combining Feature Importance and Bilinear feature Interaction for
Click-Through Rate Prediction"): a squeeze-and-excitation network weighs each field's vector by how much
the row's fields say it matters, and bilinear products of every pair of fields (v_i W ⊙ v_j) cross both
the plain vectors and the weighed ones for an MLP."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .._args import check_arguments, check_choice
from .._keras import keras, tf
from ..features import Field
from ..spec import SpecLike
from .base import RankingModel, Scorer, check_pairs, pair_indices
from .embeddings import FieldEmbeddings, beside_the_mlp, logit_layer, relu_layers

BILINEAR_TYPES = ("interaction", "each", "all")


def _glorot_normal(dim: int, seed: int) -> keras.initializers.Initializer:
    """Glorot's normal initialisation of a d × d matrix, for a stack of them: Keras' own would count the whole
    stack in the fans and start each matrix too small."""
    return keras.initializers.TruncatedNormal(stddev=math.sqrt(1.0 / dim) / 0.87962566103423978, seed=seed)


class SqueezeExcitation(keras.layers.Layer):
    """SENET over the fields: each field's vector squeezed to its mean, two ReLU layers (F → max(1, F // r) → F)
    excite a weight per field, and each vector is multiplied by its weight. [B, F, d] → [B, F, d]."""

    def __init__(self, reduction_ratio: int, seed: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.reduction_ratio, self.seed = reduction_ratio, seed

    def build(self, input_shape: tf.TensorShape) -> None:
        fields = int(input_shape[1])
        reduced = max(1, fields // self.reduction_ratio)
        self.squeeze = self.add_weight(name="squeeze", shape=(fields, reduced),
                                       initializer=keras.initializers.GlorotNormal(seed=self.seed))
        self.excite = self.add_weight(name="excite", shape=(reduced, fields),
                                      initializer=keras.initializers.GlorotNormal(seed=self.seed + 1))
        super().build(input_shape)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        weights = tf.nn.relu(tf.nn.relu(tf.reduce_mean(x, axis=2) @ self.squeeze) @ self.excite)
        return x * weights[:, :, None]


class BilinearInteraction(keras.layers.Layer):
    """(v_i W ⊙ v_j) for every pair of fields i < j, in `itertools.combinations` order: one W shared by all
    pairs ("all"), one per left field ("each") or one per pair ("interaction"). [B, F, d] → [B, F(F-1)/2, d]."""

    def __init__(self, bilinear_type: str, seed: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.bilinear_type, self.seed = bilinear_type, seed

    def build(self, input_shape: tf.TensorShape) -> None:
        fields, dim = int(input_shape[1]), int(input_shape[2])
        self.left, self.right = pair_indices(fields)
        matrices = {"all": 1, "each": fields - 1, "interaction": len(self.left)}[self.bilinear_type]
        self.kernel = self.add_weight(name="bilinear", shape=(matrices, dim, dim),
                                      initializer=_glorot_normal(dim, self.seed))
        super().build(input_shape)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        by_field = tf.transpose(x, [1, 0, 2])  # [F, B, d]: each pair's products are then one batched matmul
        if self.bilinear_type == "all":
            projected = tf.gather(tf.tensordot(by_field, self.kernel[0], axes=1), self.left)
        elif self.bilinear_type == "each":  # each field but the last is a left field, by its own matrix
            projected = tf.gather(tf.matmul(by_field[:-1], self.kernel), self.left)
        else:
            projected = tf.matmul(tf.gather(by_field, self.left), self.kernel)
        return tf.transpose(projected * tf.gather(by_field, self.right), [1, 0, 2])


class FiBiNETScorer(Scorer):
    """Bias + first-order weights + one logit over an MLP that reads the bilinear products of the field vectors
    and of the SENET-weighed ones, side by side."""

    def __init__(self, fields: list[Field], table_sizes: dict[str, int], embedding_dim: int, bilinear_type: str,
                 reduction_ratio: int, hidden_units: Sequence[int], dropout: float, l2: float = 0.0, seed: int = 0,
                 content: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.embeddings = FieldEmbeddings(fields, table_sizes, dim=embedding_dim, l2=l2, seed=seed,
                                          content=content)
        self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")
        self.senet = SqueezeExcitation(reduction_ratio, seed=seed + 60, name="senet")
        self.bilinear = BilinearInteraction(bilinear_type, seed=seed + 62, name="bilinear")
        self.senet_bilinear = BilinearInteraction(bilinear_type, seed=seed + 63, name="senet_bilinear")
        # The products are F(F-1) vectors of d a row, both sides: 39 fields (Criteo's) of 16 make 23,712 floats.
        self.rows_a_call = self.rows_within(len(fields) * (len(fields) - 1) * embedding_dim)
        self.deep = relu_layers(hidden_units, dropout, seed)
        self.logit = logit_layer(seed)

    def call(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        vectors, first_order = self.embeddings(encoded, training=training)
        crossed = tf.concat([self.senet_bilinear(self.senet(vectors)), self.bilinear(vectors)], axis=1)
        return self.bias + first_order + self.logit(beside_the_mlp(None, crossed, self.deep, training))[:, 0]


class FiBiNET(RankingModel):
    """FiBiNET over every field of the spec: SENET field weights (`reduction_ratio`: F fields squeezed to
    F // r), bilinear products of every pair of fields ("interaction": a matrix per pair, DeepCTR's default;
    "each": per left field; "all": one), and an MLP over the products of the plain and weighed vectors;
    `hidden_units=()` puts the products straight into the logit."""

    weight_settings = ("embedding_dim", "hidden_units", "bilinear_type", "reduction_ratio")

    def __init__(self, spec: SpecLike, *, bilinear_type: str = "interaction", reduction_ratio: int = 3,
                 hidden_units: Sequence[int] = (256, 128), dropout: float = 0.0, **kwargs: Any):
        check_arguments("FiBiNET", reduction_ratio=reduction_ratio, hidden_units=hidden_units, dropout=dropout)
        check_choice("FiBiNET", "bilinear_type", bilinear_type, BILINEAR_TYPES)
        super().__init__(spec, **kwargs)
        self.bilinear_type, self.reduction_ratio = bilinear_type, reduction_ratio
        self.hidden_units, self.dropout = tuple(hidden_units), dropout

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "bilinear_type": self.bilinear_type, "reduction_ratio": self.reduction_ratio,
                "hidden_units": list(self.hidden_units), "dropout": self.dropout}

    def build_scorer(self, fields: list[Field], table_sizes: dict[str, int]) -> Scorer:
        check_pairs("FiBiNET", "crosses pairs of fields", fields, self.wide_only)
        return FiBiNETScorer(fields, table_sizes, self.embedding_dim, self.bilinear_type, self.reduction_ratio,
                             self.hidden_units, self.dropout, l2=self.l2, seed=self.seed, content=self.content_)
