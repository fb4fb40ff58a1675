"""The TFRS two-tower retriever: a query tower (user and context features) and a candidate tower
(item features) meet in a dot product, trained with the loss of `tfrs.tasks.Retrieval`: in-batch
softmax, with each in-batch negative's logit corrected by its sampling probability (popular items
appear in more batches and would otherwise be over-penalised), and accidental hits (the positive item
appearing as another row's negative) removed. Training computes that loss itself, with a faster
gradient; evaluation runs the task, for its top-K metrics over the catalogue. An item bias (the
item fields' first-order weights) rides along as the vectors' last component, so retrieval stays a
single dot product (and a maximum-inner-product search) with a bias.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow_recommenders as tfrs

from .._args import check_arguments
from .._keras import keras, tf
from ..errors import ArgumentError
from ..features import Field
from ..spec import SpecLike
from .base import ReplicaModel
from .embeddings import FieldEmbeddings
from .recommender import FactorizedScorer, Recommender


class TowerScorer(FactorizedScorer):
    """Field embeddings of each side, concatenated and passed through that side's dense tower."""

    def __init__(self, fields: list[Field], table_sizes: dict[str, int], dim: int, hidden_units: Sequence[int],
                 output_dim: int, l2: float, seed: int, content: Any = None, item_bias: bool = True,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.item_bias = item_bias
        # With an item bias, each item field's linear weight adds to a per-item score (popularity, in
        # effect, learned from content too), carried as the vectors' last component: 1 on the query side.
        self.embeddings = FieldEmbeddings(fields, table_sizes, dim=dim, l2=l2, seed=seed, linear=item_bias,
                                          content=content)
        self.query_width = dim * sum(f.role in ("user", "context") for f in fields)
        self.item_width = dim * sum(f.role == "item" for f in fields)
        self.taste_width = output_dim
        self.query_tower = _tower(hidden_units, output_dim, seed, "query_tower")
        self.candidate_tower = _tower(hidden_units, output_dim, seed + 50, "candidate_tower")

    def query_vectors(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        vectors, _ = self.embeddings(encoded, roles=("user", "context"), training=training)
        queries = self.query_tower(tf.reshape(vectors, [-1, self.query_width]), training=training)
        return tf.concat([queries, tf.ones_like(queries[:, :1])], axis=1) if self.item_bias else queries

    def item_vectors(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        vectors, bias = self.embeddings(encoded, roles=("item",), training=training)
        items = self.candidate_tower(tf.reshape(vectors, [-1, self.item_width]), training=training)
        return tf.concat([items, bias[:, None]], axis=1) if self.item_bias else items


def _tower(hidden_units: Sequence[int], output_dim: int, seed: int, name: str) -> keras.Sequential:
    layers = [keras.layers.Dense(u, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(seed + i))
              for i, u in enumerate(hidden_units)]
    layers.append(keras.layers.Dense(output_dim, kernel_initializer=keras.initializers.GlorotUniform(seed + 99)))
    return keras.Sequential(layers, name=name)


class _RetrievalNetwork(ReplicaModel):
    summed_loss = True  # the retrieval task sums over the batch's rows: replicas add up as one device would
    # Top-K over the whole catalogue is computed only in evaluation (`compute_loss`); in training it
    # would report zeros.
    skipped_in_training = ("factorized_top_k",)

    def __init__(self, scorer: TowerScorer, candidates: tf.data.Dataset, ks: Sequence[int]):
        super().__init__()
        self.scorer = scorer
        self.task = tfrs.tasks.Retrieval(
            metrics=tfrs.metrics.FactorizedTopK(candidates=candidates, ks=ks), remove_accidental_hits=True)

    def compute_loss(self, inputs: Any, training: bool = False) -> tf.Tensor:
        features, item_rows, probability, *weights = inputs[0]  # with `label.weight`, the rows' weights
        queries = self.scorer.query_vectors(features, training=training)
        items = self.scorer.item_vectors(features, training=training)
        loss = in_batch_softmax_loss(queries, items, probability, item_rows,
                                     _relative(weights[0]) if weights else None)
        if training:
            return loss
        # Evaluation also reports the task's top-K over the whole catalogue (too slow for training).
        # The task's own loss is not called: its accidental-hit mask transposes the ids, and
        # TensorFlow 2.21 logs an error line ("oneDNN supports DT_INT64 only on platforms with
        # AVX-512") in the middle of the user's progress bar the first time it transposes integers.
        updates = [metric.update_state(queries, items, true_candidate_ids=item_rows)
                   for metric in self.task.factorized_metrics]
        with tf.control_dependencies(updates):
            return tf.identity(loss)


def in_batch_softmax_loss(queries: tf.Tensor, items: tf.Tensor, probability: tf.Tensor,
                          item_rows: tf.Tensor, weights: tf.Tensor | None = None) -> tf.Tensor:
    """The loss of `tfrs.tasks.Retrieval` as used here (in-batch softmax, logits corrected by the items' sampling
    probabilities, accidental hits removed, summed over the rows, each times its `weights` if given, as the task's
    `sample_weight`), with its gradient written out: in the task's, the items' gradient is a transposed product of
    the [B, B] scores, which TensorFlow's CPU kernel computes about four times more slowly than the untransposed
    one, and the scores' gradient passes over the [B, B] matrix several times more (MovieLens two-tower, batch 4096:
    190 ms of a 230 ms step)."""
    n = tf.shape(queries)[0]
    log_p = tf.math.log(tf.clip_by_value(probability, 1e-6, 1.0))  # as tfrs.layers.loss' correction
    others = tf.logical_and(tf.equal(item_rows[:, None], item_rows[None, :]), tf.logical_not(tf.eye(n, dtype=tf.bool)))

    @tf.custom_gradient
    def loss(q: tf.Tensor, c: tf.Tensor) -> Any:
        scores = tf.matmul(q, tf.transpose(c)) - log_p[None, :]
        masked = tf.where(others, _MIN_FLOAT, scores)
        log_sums = tf.reduce_logsumexp(masked, axis=1)

        def gradient(g: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            softmax = tf.exp(masked - log_sums[:, None])
            d_scores = tf.linalg.set_diag(softmax, tf.linalg.diag_part(softmax) - 1.0)
            if weights is not None:
                d_scores = d_scores * weights[:, None]  # a row's loss times its weight: its scores' gradient too
            return g * tf.matmul(d_scores, c), g * tf.transpose(tf.matmul(q, d_scores, transpose_a=True))

        losses = log_sums - tf.linalg.diag_part(scores)
        return tf.reduce_sum(losses if weights is None else losses * weights), gradient

    return loss(queries, items)


def _relative(weights: tf.Tensor) -> tf.Tensor:
    """Row weights [B] over their mean in the whole batch (all replicas'): the summed loss weighs its
    rows as the weights say and keeps the scale of unweighted rows, whatever unit the weights are in."""
    sums = tf.stack([tf.reduce_sum(weights), tf.cast(tf.size(weights), weights.dtype)])
    if tf.distribute.get_strategy().num_replicas_in_sync > 1:
        sums = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, sums)
    return weights * tf.math.divide_no_nan(sums[1], sums[0])


_MIN_FLOAT = float(np.finfo(np.float32).min)  # the logit of a removed accidental hit, as in TFRS


class TwoTower(Recommender):
    """TFRS two-tower retrieval over the spec's user/context features and item features."""

    objective = "retrieval"
    factorized = True
    weight_settings = ("embedding_dim", "hidden_units", "output_dim", "item_bias")

    def __init__(self, spec: SpecLike, *, hidden_units: Sequence[int] = (), output_dim: int = 32,
                 top_k_metrics: Sequence[int] = (10, 100), item_bias: bool = True, **kwargs: Any):
        if "embedding_updates" in kwargs:
            raise ArgumentError("TwoTower: embedding_updates applies to the Adam-trained models (MF, NeuMF); the "
                                "two-tower trains with Adagrad, which moves only the rows a batch used and has no "
                                "momentum to catch up")
        kwargs.setdefault("learning_rate", 0.1)  # Adagrad, as in the TFRS retrieval tutorial
        kwargs.setdefault("batch_size", 4096)
        check_arguments("TwoTower", hidden_units=hidden_units, output_dim=output_dim, top_k_metrics=top_k_metrics)
        super().__init__(spec, **kwargs)
        self.embedding_updates = None  # Adagrad: nothing to choose, and nothing in the config
        self.hidden_units, self.output_dim, self.top_k_metrics = tuple(hidden_units), output_dim, tuple(top_k_metrics)
        self.item_bias = item_bias

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "hidden_units": list(self.hidden_units), "output_dim": self.output_dim,
                "item_bias": self.item_bias, "top_k_metrics": list(self.top_k_metrics)}

    @property
    def validation_monitor(self) -> str:
        """The validation figure of fit's logs that early stopping watches: how often a held-out item is in
        the top 10 of the whole catalogue (or the first of `top_k_metrics`, when 10 is not among them)."""
        k = 10 if 10 in self.top_k_metrics else self.top_k_metrics[0]
        return f"val_factorized_top_k/top_{k}_categorical_accuracy"

    def build_scorer(self, fields: list[Field], table_sizes: dict[str, int]) -> TowerScorer:
        return TowerScorer(fields, table_sizes, self.embedding_dim, self.hidden_units, self.output_dim, self.l2,
                           self.seed, content=self.content_, item_bias=self.item_bias)

    def build_network(self, scorer: TowerScorer) -> tfrs.Model:
        encoded = {k: tf.constant(v) for k, v in self._catalogue_encoded.items()}
        rows = tf.range(len(self.catalogue_), dtype=tf.int64)
        candidates = tf.data.Dataset.from_tensor_slices((rows, encoded)).batch(1024).map(
            lambda r, f: (r, scorer.item_vectors(f)))
        network = _RetrievalNetwork(scorer, candidates, self.top_k_metrics)
        network.compile(optimizer=self._optimizer())
        return network

    def _optimizer(self) -> keras.optimizers.Optimizer:
        return keras.optimizers.Adagrad(self.learning_rate)
