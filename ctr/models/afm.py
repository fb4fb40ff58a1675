"""AFM (Xiao et al. 2017, "Attentional Factorization Machines: Learning the Weight of Feature Interactions via
Attention Networks"): the element-wise product of every pair of field vectors, v_i ⊙ v_j, is weighed by an
attention network (a_ij, the softmax over the pairs of hᵀ ReLU(W (v_i ⊙ v_j) + b)), the weighed products are
summed into one k-wide vector, and its projection pᵀ is the pairs' logit, beside the first-order weights. With
equal weights and p all ones it is an FM scaled by the number of pairs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._args import check_arguments
from .._keras import keras, tf
from ..features import Field
from ..spec import SpecLike
from .base import RankingModel, Scorer, check_pairs, pair_indices
from .embeddings import FieldEmbeddings


class AttentionalPooling(keras.layers.Layer):
    """Σ_{i<j} a_ij (v_i ⊙ v_j) over field vectors [B, F, k] → [B, k], the pairs in `itertools.combinations`
    order, a_ij their softmax of hᵀ ReLU(W (v_i ⊙ v_j) + b), W k × `attention_factor` (DeepCTR's AFMLayer)."""

    def __init__(self, attention_factor: int, seed: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.attention_factor, self.seed = attention_factor, seed

    def build(self, input_shape: tf.TensorShape) -> None:
        fields, dim = int(input_shape[1]), int(input_shape[2])
        self.left, self.right = pair_indices(fields)
        self.kernel = self.add_weight(name="attention_kernel", shape=(dim, self.attention_factor),
                                      initializer=keras.initializers.GlorotNormal(seed=self.seed))
        self.bias = self.add_weight(name="attention_bias", shape=(self.attention_factor,), initializer="zeros")
        self.projection = self.add_weight(name="attention_projection", shape=(self.attention_factor, 1),
                                          initializer=keras.initializers.GlorotNormal(seed=self.seed + 1))
        super().build(input_shape)

    def products(self, x: tf.Tensor) -> tf.Tensor:
        """v_i ⊙ v_j of every pair i < j: [B, F, k] → [B, F(F-1)/2, k]."""
        return tf.gather(x, self.left, axis=1) * tf.gather(x, self.right, axis=1)

    def pair_weights(self, products: tf.Tensor) -> tf.Tensor:
        """Each row's attention over its pairs, summing to one: [B, P, k] → [B, P]."""
        hidden = tf.nn.relu(tf.tensordot(products, self.kernel, axes=1) + self.bias)
        return tf.nn.softmax(tf.tensordot(hidden, self.projection, axes=1)[:, :, 0], axis=1)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        products = self.products(x)
        return tf.reduce_sum(self.pair_weights(products)[:, :, None] * products, axis=1)


class AFMScorer(Scorer):
    """Bias + first-order weights + the projection of the attention-weighed sum of the pairs' products."""

    def __init__(self, fields: list[Field], table_sizes: dict[str, int], embedding_dim: int, attention_factor: int,
                 dropout: float, l2: float = 0.0, seed: int = 0, content: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.embeddings = FieldEmbeddings(fields, table_sizes, dim=embedding_dim, l2=l2, seed=seed,
                                          content=content)
        self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")
        self.attention = AttentionalPooling(attention_factor, seed=seed + 80, name="attention")
        # The paper's dropout on the pooled vector (DeepCTR's afm_dropout).
        self.dropout = keras.layers.Dropout(dropout, seed=seed + 82) if dropout else None
        self.projection = self.add_weight(name="projection", shape=(embedding_dim, 1),
                                          initializer=keras.initializers.GlorotNormal(seed=seed + 83))
        pairs = len(fields) * (len(fields) - 1) // 2
        # The products and the attention's hidden units, P × (k + t) floats a row: 39 fields (Criteo's) make 741 pairs.
        self.rows_a_call = self.rows_within(pairs * (embedding_dim + attention_factor))

    def call(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        vectors, first_order = self.embeddings(encoded, training=training)
        pooled = self.attention(vectors)
        if self.dropout is not None:
            pooled = self.dropout(pooled, training=training)
        return self.bias + first_order + (pooled @ self.projection)[:, 0]


class AFM(RankingModel):
    """AFM over every field of the spec: an attention network (`attention_factor` hidden units, DeepCTR's
    default 8) weighs the products of every pair of field vectors, and dropout (`dropout`) acts on their
    weighed sum, as the paper's."""

    weight_settings = ("embedding_dim", "attention_factor")

    def __init__(self, spec: SpecLike, *, attention_factor: int = 8, dropout: float = 0.0, **kwargs: Any):
        check_arguments("AFM", attention_factor=attention_factor, dropout=dropout)
        super().__init__(spec, **kwargs)
        self.attention_factor, self.dropout = attention_factor, dropout

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "attention_factor": self.attention_factor, "dropout": self.dropout}

    def build_scorer(self, fields: list[Field], table_sizes: dict[str, int]) -> Scorer:
        check_pairs("AFM", "weighs the products of pairs of fields", fields, self.wide_only)
        return AFMScorer(fields, table_sizes, self.embedding_dim, self.attention_factor, self.dropout, l2=self.l2,
                         seed=self.seed, content=self.content_)
