"""The click models' optimizer: Adam that costs what a batch touches, with an optional weight average.

Keras' Adam updates a whole embedding table at every step, even when the batch used a few hundred of
its rows (its sparse path decays every row's moments, then rewrites every weight), and it spends
about ten small ops on each dense variable. Here:
- an embedding gradient (`tf.IndexedSlices`) updates only the rows the batch used, with their
  moments ("lazy" Adam, as `tf.contrib.opt.LazyAdamOptimizer`): a row the batch did not use keeps
  its weights and moments, so a step costs the batch's rows, not the vocabulary's;
- or, with `catch_up`, Keras' Adam on those rows at the same cost: a row the batch did not use would
  keep moving on its decaying momentum there, and here those skipped steps are applied in closed form
  (a geometric sum, each step's bias correction and epsilon taken as the current step's) when the
  row is next used, from a per-row count of the step it was last updated at;
- a dense variable is updated by TensorFlow's fused Adam kernel, one op instead of about ten;
- the weight average (`average`) is taken every `average_every` steps, each sample weighted as the
  steps it stands for: reading a whole table at every step cost more than the step's own update.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._keras import keras, tf
from .embeddings import DistinctRows, sum_rows


class LazyAdam(keras.optimizers.Adam):
    """Adam with row-wise (lazy) embedding updates, fused dense updates and a sampled weight average.

    `catch_up`: apply the steps Keras' Adam would have taken on a row while the batches skipped it,
    when the row is next used (see the module docstring).
    `average`: momentum of the exponential moving average of the weights (None: no average). The
    momentum warms up, min(average, (1 + t) / (10 + t)) at step t, as in
    `tf.train.ExponentialMovingAverage(num_updates=)`, so early averages are not pulled towards the
    random initial weights.
    """

    def __init__(self, learning_rate: float = 1e-3, average: float | None = None, average_every: int = 10,
                 catch_up: bool = False, **kwargs: Any):
        super().__init__(learning_rate, use_ema=average is not None, ema_momentum=average or 0.99, **kwargs)
        self.catch_up = catch_up
        if average_every < 1:
            raise ValueError(f"average_every must be at least 1, got {average_every}")
        self.average_every = average_every
        if self.use_ema:
            # The step count when the average was last sampled; made and checkpointed like `iterations`.
            with tf.init_scope():
                self._averaged_at = tf.Variable(0, dtype=tf.int64, trainable=False, name="averaged_at")
            self._variables.append(self._averaged_at)

    def build(self, var_list: Sequence[tf.Variable]) -> None:
        first = not getattr(self, "_built", False)
        super().build(var_list)
        if first and self.catch_up:
            # Per row of each variable, the step of its last row-wise update: read for the tables,
            # which the batches read by rows; a dense variable's few rows are never read.
            self._last_steps = [self.add_variable_from_reference(var, "last_step", shape=var.shape[:1])
                                if var.shape.rank else None for var in var_list]

    def _deduplicate_sparse_grad(self, grads: Sequence[Any]) -> list[Any]:
        # Keras sums an embedding gradient's duplicate rows (one per lookup, when a table is read by
        # gathers) with `UnsortedSegmentSum`. `sum_rows` makes the same additions in the same order
        # over several threads: on the 39k rows of a 2,048-row synthetic batch read by gathers,
        # about 60 % of the time. Training reads the fused table as distinct rows already
        # (`FieldEmbeddings._read_distinct`): a gradient that is still `DistinctRows` came from one
        # such read and was not summed with another (a second read, as with histories, or another
        # replica's rows), so it has no duplicates to find.
        single = self._distribution_strategy.num_replicas_in_sync == 1
        return [g if not isinstance(g, tf.IndexedSlices) or (single and isinstance(g, DistinctRows))
                else _summed_duplicates(g) for g in grads]

    def update_step(self, gradient: tf.Tensor | tf.IndexedSlices, variable: tf.Variable) -> None:
        dtype = variable.dtype
        lr = tf.cast(self.learning_rate, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        beta_1_power, beta_2_power = tf.pow(beta_1, step), tf.pow(beta_2, step)
        key = self._var_key(variable)
        m, v = self._momentums[self._index_dict[key]], self._velocities[self._index_dict[key]]
        if isinstance(gradient, tf.IndexedSlices):
            # Keras has already summed duplicate rows (`_deduplicate_sparse_grad`), so each row is
            # written once.
            rows, values = gradient.indices, gradient.values
            alpha = lr * tf.sqrt(1.0 - beta_2_power) / (1.0 - beta_1_power)
            m_old, v_old = tf.gather(m, rows), tf.gather(v, rows)
            if self.catch_up:
                last = self._last_steps[self._index_dict[key]]
                # This step and any skipped ones, shaped to scale each row's values; at least 1, as the
                # float32 step count stops telling consecutive steps apart after 2^24 of them.
                gap = tf.reshape(tf.maximum(step - tf.gather(last, rows), 1.0), [-1] + [1] * (variable.shape.rank - 1))
                r = beta_1 / tf.sqrt(beta_2)
                skipped = r * (1.0 - tf.pow(r, gap - 1.0)) / (1.0 - r)
                pending = skipped * m_old / (tf.sqrt(v_old) + self.epsilon)
                m_rows = tf.pow(beta_1, gap) * m_old + (1.0 - beta_1) * values
                v_rows = tf.pow(beta_2, gap) * v_old + (1.0 - beta_2) * tf.square(values)
                last.scatter_update(tf.IndexedSlices(tf.fill(tf.shape(rows), step), rows))
                delta = alpha * (pending + m_rows / (tf.sqrt(v_rows) + self.epsilon))
            else:
                m_rows = beta_1 * m_old + (1.0 - beta_1) * values
                v_rows = beta_2 * v_old + (1.0 - beta_2) * tf.square(values)
                delta = alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon)
            m.scatter_update(tf.IndexedSlices(m_rows, rows))
            v.scatter_update(tf.IndexedSlices(v_rows, rows))
            variable.scatter_sub(tf.IndexedSlices(delta, rows))
        else:
            # The same arithmetic as Keras' dense path (epsilon outside the bias-corrected root).
            tf.raw_ops.ResourceApplyAdam(var=variable.handle, m=m.handle, v=v.handle, beta1_power=beta_1_power,
                                         beta2_power=beta_2_power, lr=lr, beta1=beta_1, beta2=beta_2,
                                         epsilon=tf.cast(self.epsilon, dtype), grad=gradient, use_locking=False)

    def _update_model_variables_moving_average(self, var_list: Sequence[tf.Variable]) -> None:
        # Called inside apply_gradients, before `iterations` counts this step.
        completed = self.iterations + 1
        tf.cond(completed - self._averaged_at >= self.average_every,
                lambda: self._sample_average(var_list, completed), lambda: tf.constant(False))

    def sample_average(self, var_list: Sequence[tf.Variable]) -> None:
        """Bring the average up to the current weights (the steps since the last sample); between
        steps, as at an epoch's end."""
        if self.use_ema and getattr(self, "_built", False):
            self._sample_average(var_list, self.iterations)

    def _sample_average(self, var_list: Sequence[tf.Variable], completed: tf.Tensor) -> tf.Tensor:
        steps = tf.cast(completed - self._averaged_at, tf.float32)
        t = tf.cast(completed, tf.float32) - 1.0
        # One sample standing for `steps` steps: the per-step momentum applied that many times.
        momentum = tf.pow(tf.minimum(self.ema_momentum, (1.0 + t) / (10.0 + t)), steps)

        def update(average: tf.Variable, var: tf.Variable) -> Any:
            return average.assign(momentum * average + (1.0 - momentum) * var)

        for var in var_list:
            average = self._model_variables_moving_average[self._index_dict[self._var_key(var)]]
            self._distribution_strategy.extended.update(average, update, args=(var,), group=False)
        self._averaged_at.assign(tf.cast(completed, tf.int64))
        return tf.constant(True)

    def finalize_variable_values(self, var_list: Sequence[tf.Variable]) -> None:
        """Nothing: the model's callback has already left the weights that training ends with (the
        average, or the best epoch's when early stopping restores it afterwards)."""

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(average=self.ema_momentum if self.use_ema else None, average_every=self.average_every,
                      catch_up=self.catch_up)
        for key in ("use_ema", "ema_momentum"):
            config.pop(key, None)
        return config


def _summed_duplicates(gradient: tf.IndexedSlices) -> tf.IndexedSlices:
    """The gradient with its duplicate rows summed: each row once, in order of first appearance."""
    unique, position = tf.unique(gradient.indices)
    ones = tf.ones(tf.shape(gradient.indices), gradient.values.dtype)
    summed = sum_rows(position, tf.range(tf.shape(position)[0]), ones, tf.shape(unique)[0], gradient.values)
    return tf.IndexedSlices(summed, unique, gradient.dense_shape)
