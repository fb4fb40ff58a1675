"""xDeepFM (Lian et al. 2018, "xDeepFM: Combining Explicit and Implicit Feature Interactions for
Recommender Systems"): a Compressed Interaction Network (CIN) makes feature crosses explicit at the level
of whole field vectors, one order a layer, beside an MLP that learns the rest bit by bit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._args import check_arguments, check_choice
from .._keras import keras, tf
from ..errors import ArgumentError
from ..features import Field
from ..spec import SpecLike
from .base import RankingModel, Scorer
from .embeddings import FieldEmbeddings, beside_the_mlp, logit_layer, relu_layers

ACTIVATIONS = ("relu", "linear")


class CompressedInteraction(keras.layers.Layer):
    """The CIN: layer k's feature map h is Σᵢⱼ W^{k,h}ᵢⱼ (X^{k-1}ᵢ ⊙ X⁰ⱼ) over the previous layer's maps and
    the fields' vectors (each d wide), plus a bias, through the activation; each layer's maps are summed
    over the d coordinates into the output. With `split_half`, half of each layer's maps (but the last's)
    go on to the next layer and the other half to the output. [B, F, d] → [B, Σ output maps]."""

    def __init__(self, layer_sizes: Sequence[int], split_half: bool, activation: str, seed: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.layer_sizes, self.split_half, self.activation, self.seed = tuple(layer_sizes), split_half, activation, seed

    def maps_in(self, fields: int) -> list[int]:
        """The maps each layer reads beside the `fields` vectors: the fields, then what each layer carries on."""
        return [fields, *(self._carried(i, size) for i, size in enumerate(self.layer_sizes[:-1]))]

    def _carried(self, index: int, size: int) -> int:
        """Of a layer's `size` maps, those that go on to the next layer (and, with split_half, the rest to the
        output; the last layer's all go to the output)."""
        return size // 2 if self.split_half and index < len(self.layer_sizes) - 1 else size

    def build(self, input_shape: tf.TensorShape) -> None:
        fields = int(input_shape[1])
        self.kernels, self.biases = [], []
        for i, (maps, size) in enumerate(zip(self.maps_in(fields), self.layer_sizes, strict=True)):
            # DeepCTR's (and the paper's code's) 1×1 convolution over the H·F products is this matmul.
            self.kernels.append(self.add_weight(name=f"kernel_{i}", shape=(maps * fields, size),
                                                initializer=keras.initializers.GlorotUniform(seed=self.seed + i)))
            self.biases.append(self.add_weight(name=f"bias_{i}", shape=(size,), initializer="zeros"))
        super().build(input_shape)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        fields, dim = x.shape[1], x.shape[2]
        # Coordinates first ([B, d, maps]): each layer is then one product of [B·d, H·F] by [H·F, H'],
        # with no transposes between layers.
        x0 = tf.transpose(x, [0, 2, 1])
        hidden, pooled = x0, []
        for i, (kernel, bias) in enumerate(zip(self.kernels, self.biases, strict=True)):
            maps = hidden.shape[2]
            products = tf.reshape(hidden[:, :, :, None] * x0[:, :, None, :], [-1, maps * fields])
            out = tf.reshape(products @ kernel + bias, [-1, dim, kernel.shape[1]])
            if self.activation == "relu":
                out = tf.nn.relu(out)
            kept = self._carried(i, kernel.shape[1])
            if kept < kernel.shape[1]:  # split_half: the first half goes on, the second to the output
                hidden, out = out[:, :, :kept], out[:, :, kept:]
            else:
                hidden = out
            pooled.append(tf.reduce_sum(out, axis=1))
        return tf.concat(pooled, axis=1) if len(pooled) > 1 else pooled[0]


class XDeepFMScorer(Scorer):
    """Bias + first-order weights + one logit over the CIN's pooled maps and the MLP's output side by side."""

    def __init__(self, fields: list[Field], table_sizes: dict[str, int], embedding_dim: int,
                 cin_layers: Sequence[int], split_half: bool, cin_activation: str, hidden_units: Sequence[int],
                 dropout: float, l2: float = 0.0, seed: int = 0, content: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.embeddings = FieldEmbeddings(fields, table_sizes, dim=embedding_dim, l2=l2, seed=seed,
                                          content=content)
        self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")
        self.cin = (CompressedInteraction(cin_layers, split_half, cin_activation, seed=seed + 70, name="cin")
                    if cin_layers else None)
        if self.cin is not None:
            # Each layer's products hold d · H · F floats a row: scored 8,192 rows a call, 39 fields (Criteo's)
            # took a predict to 3.3 GB. At most 2^25 floats (128 MB) a products tensor.
            widest = max(self.cin.maps_in(len(fields))) * len(fields) * embedding_dim
            self.rows_a_call = self.rows_within(widest)
        self.deep = relu_layers(hidden_units, dropout, seed)
        self.logit = logit_layer(seed)

    def call(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        vectors, first_order = self.embeddings(encoded, training=training)
        top = beside_the_mlp(None if self.cin is None else self.cin(vectors), vectors, self.deep, training)
        return self.bias + first_order + self.logit(top)[:, 0]


class xDeepFM(RankingModel):  # noqa: N801  (the paper's and DeepCTR's name)
    """xDeepFM over every field of the spec: a CIN of `cin_layers` feature maps (DeepCTR's defaults: 128, 128,
    half of each but the last carried on, ReLU) and an MLP beside it; `hidden_units=()` leaves the CIN alone,
    `cin_activation="linear"` is the paper's formula as written."""

    weight_settings = ("embedding_dim", "hidden_units", "cin_layers", "split_half")

    def __init__(self, spec: SpecLike, *, cin_layers: Sequence[int] = (128, 128), split_half: bool = True,
                 cin_activation: str = "relu", hidden_units: Sequence[int] = (256, 128), dropout: float = 0.0,
                 **kwargs: Any):
        check_arguments("xDeepFM", cin_layers=cin_layers, split_half=split_half, hidden_units=hidden_units,
                        dropout=dropout)
        check_choice("xDeepFM", "cin_activation", cin_activation, ACTIVATIONS)
        if split_half and any(size % 2 for size in tuple(cin_layers)[:-1]):
            raise ArgumentError(f"xDeepFM: with split_half, every CIN layer but the last must have an even number "
                                f"of feature maps (half go on, half to the output); got cin_layers="
                                f"{tuple(cin_layers)!r}")
        if not cin_layers and not hidden_units:
            raise ArgumentError("xDeepFM: cin_layers and hidden_units are both empty, which leaves only the "
                                "first-order weights (that is ctr.LogisticRegression)")
        super().__init__(spec, **kwargs)
        self.cin_layers, self.split_half, self.cin_activation = tuple(cin_layers), split_half, cin_activation
        self.hidden_units, self.dropout = tuple(hidden_units), dropout

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cin_layers": list(self.cin_layers), "split_half": self.split_half,
                "cin_activation": self.cin_activation, "hidden_units": list(self.hidden_units),
                "dropout": self.dropout}

    def build_scorer(self, fields: list[Field], table_sizes: dict[str, int]) -> Scorer:
        return XDeepFMScorer(fields, table_sizes, self.embedding_dim, self.cin_layers, self.split_half,
                             self.cin_activation, self.hidden_units, self.dropout, l2=self.l2, seed=self.seed,
                             content=self.content_)
