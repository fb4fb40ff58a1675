"""What the implicit-feedback recommenders share: a catalogue, negatives, training and top-K.

A recommender learns from interactions (every row, or the rows whose label is 1) and ranks a
catalogue of items for a query (a user's features plus the context). The query side of each
interaction and the catalogue are encoded once; every epoch draws fresh negatives and gathers
batches from the encoded arrays by index. Three training objectives are offered:
`pointwise` (log loss on positives and sampled negatives), `bpr` (Rendle et al. 2009: a positive
should outscore a sampled negative) and, for the two-tower model, TFRS retrieval.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow_recommenders as tfrs

from .. import data as ctr_data
from .._args import (
    DEFAULT_EMBEDDING_UPDATES,
    EMBEDDING_UPDATES,
    RECOMMENDER_FIT_ONLY,
    RECOMMENDER_NAMES,
    check_arguments,
    check_choice,
    check_exclude,
    check_no_other_arguments,
    check_saved_model_only,
    named_keywords,
)
from .._keras import float32_layers, keras, tf
from ..errors import ArgumentError, DataError, NotFittedError
from ..evaluation import RankingEvaluation
from ..features import Field, Preprocessor, raw_signature, raw_tensors, traced_encoder
from ..implicit import Interactions, NegativeSampler, keys, require_ids
from ..spec import FeatureSpec, SpecLike, refuse_aggregated, refuse_crosses_of_both_sides
from . import _resume, _warm
from ._adam import LazyAdam
from .base import (
    MAKING,
    PREDICTED_A_CALL,
    GeneratorErrors,
    NetworkWeights,
    Progress,
    ReplicaModel,
    config_repr,
    cut_into_batches,
    fit_inputs,
    labelled_rows,
    mean_logloss,
    pipeline_options,
    replica_weight,
    saving_as_export,
    several_steps_per_call,
    summary_text,
)


class PairScorer(keras.layers.Layer, abc.ABC):
    """Encoded query + item features → logits [B]."""

    @abc.abstractmethod
    def call(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor: ...


class FactorizedScorer(PairScorer):
    """A scorer whose logit is a dot product of a query vector and an item vector, so a catalogue
    can be embedded once and ranked with one matrix product. An item vector's first `taste_width`
    components place the item among the others; any after them are bias terms."""

    taste_width: int

    @abc.abstractmethod
    def query_vectors(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor: ...

    @abc.abstractmethod
    def item_vectors(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor: ...

    def call(self, encoded: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        q = self.query_vectors(encoded, training=training)
        return tf.reduce_sum(q * self.item_vectors(encoded, training=training), axis=-1)


class _PointwiseNetwork(ReplicaModel):
    autograph = False

    def __init__(self, scorer: PairScorer):
        super().__init__()
        self.scorer = scorer
        self.task = tfrs.tasks.Ranking(
            loss=keras.losses.BinaryCrossentropy(from_logits=True, reduction=keras.losses.Reduction.SUM),
            metrics=[keras.metrics.AUC(from_logits=True, name="auc")])

    def compute_loss(self, inputs: Any, training: bool = False) -> tf.Tensor:
        features, labels = inputs  # labels [B], or [B, 2] beside the interactions' weights
        return mean_logloss(self.task, labels, self.scorer(features, training=training), compute_metrics=True)

    def rows(self, inputs: Any) -> tf.Tensor:
        return labelled_rows(inputs)


class _PairwiseNetwork(ReplicaModel):
    autograph = False

    def __init__(self, scorer: PairScorer):
        super().__init__()
        self.scorer = scorer
        self.accuracy = keras.metrics.Mean(name="pairwise_accuracy")

    def compute_loss(self, inputs: Any, training: bool = False) -> tf.Tensor:
        positive, negative, *weights = inputs  # with `label.weight`, each pair's weight: its positive's
        margin = self.scorer(positive, training=training) - self.scorer(negative, training=training)
        if not weights:
            self.accuracy.update_state(tf.cast(margin > 0, tf.float32))
            return -tf.reduce_mean(tf.math.log_sigmoid(margin))
        self.accuracy.update_state(tf.cast(margin > 0, tf.float32), sample_weight=weights[0])
        return -tf.math.divide_no_nan(tf.reduce_sum(weights[0] * tf.math.log_sigmoid(margin)),
                                      replica_weight(weights[0]))

    def rows(self, inputs: Any) -> tf.Tensor:
        return super().rows(inputs) if len(inputs) == 2 else replica_weight(inputs[2])


class Recommender(RankingEvaluation, NetworkWeights, abc.ABC):
    """An implicit-feedback recommender over a feature spec: fit on interactions, rank a catalogue.

    `embedding_updates` (the Adam-trained models): "momentum", the default here as in the click
    models, gives Keras' Adam's results; "lazy" moves only the rows a batch used. Both cost
    what a batch touches, not the size of the tables (see `_adam.LazyAdam`).
    """

    objective = "pointwise"  # or "bpr"; the two-tower model trains with "retrieval"
    # The settings that decide the shapes of the weights: a warm start needs them unchanged.
    weight_settings: tuple[str, ...] = ("embedding_dim",)
    factorized = False
    _KERAS_NAMES = RECOMMENDER_NAMES

    def __init__(self, spec: SpecLike, *, embedding_dim: int = 32, learning_rate: float = 1e-3,
                 l2: float = 0.0, batch_size: int = 1024, n_negatives: int = 4, negatives: str = "uniform",
                 embedding_updates: str = DEFAULT_EMBEDDING_UPDATES, seed: int = 0, **others: Any):
        check_no_other_arguments(type(self), others)
        check_arguments(type(self).__name__, embedding_dim=embedding_dim, learning_rate=learning_rate, l2=l2,
                        batch_size=batch_size, n_negatives=n_negatives, seed=seed)
        self.spec = FeatureSpec.of(spec)
        refuse_aggregated(self.spec, type(self).__name__)
        refuse_crosses_of_both_sides(self.spec, type(self).__name__)
        self.user_key, self.item_key = keys(self.spec)
        check_choice(type(self).__name__, "negatives", negatives, ("uniform", "popularity"))
        check_choice(type(self).__name__, "embedding_updates", embedding_updates, EMBEDDING_UPDATES)
        self.embedding_updates: str | None = embedding_updates
        self.embedding_dim, self.learning_rate, self.l2 = embedding_dim, learning_rate, l2
        self.batch_size, self.n_negatives, self.negatives, self.seed = batch_size, n_negatives, negatives, seed
        self.preprocessor_ = Preprocessor(self.spec)
        self.network_: tfrs.Model | None = None
        self.content_: dict[str, np.ndarray] | None = None  # item content, for specs with a history
        self.warm_start_: dict[str, Any] | None = None  # what fit(warm_start_from=) carried over, for the export
        self.catalogue_: pd.DataFrame | None = None  # raw item features, one row per item
        self.users_: pd.DataFrame | None = None  # raw user features of the users seen (latest values)
        self.item_counts_: np.ndarray | None = None
        self._encoders: dict[str, Any] = {}
        self._catalogue_encoded: dict[str, np.ndarray] | None = None
        self._catalogue_vectors: np.ndarray | None = None

    # -- what each model defines ----------------------------------------------------------------
    @abc.abstractmethod
    def build_scorer(self, fields: list[Field], table_sizes: dict[str, int]) -> PairScorer: ...

    def get_config(self) -> dict[str, Any]:
        config = {"embedding_dim": self.embedding_dim, "learning_rate": self.learning_rate, "l2": self.l2,
                  "batch_size": self.batch_size, "n_negatives": self.n_negatives, "negatives": self.negatives,
                  "embedding_updates": self.embedding_updates, "seed": self.seed}
        return {k: v for k, v in config.items() if v is not None}  # None: the option does not apply

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Print what Keras' `summary()` shows: the settings, the features with their fitted sizes and
        each trainable weight with its parameter count (`print_fn` takes the text instead)."""
        print_fn(summary_text(self))

    # -- the feature sides ----------------------------------------------------------------------
    @property
    def query_features(self) -> list[str]:
        """User and context features: what a request carries."""
        return [f.name for f in self.spec.features if f.role in ("user", "context")]

    @property
    def item_features(self) -> list[str]:
        return [f.name for f in self.spec.features if f.role == "item"]

    # -- training -------------------------------------------------------------------------------
    @property
    def validation_monitor(self) -> str:
        """The validation figure of fit's logs that early stopping watches: the AUC of held-out interactions
        against sampled negatives, or with BPR the share of those pairs ordered right."""
        return "val_pairwise_accuracy" if self.objective == "bpr" else "val_auc"

    @named_keywords(RECOMMENDER_FIT_ONLY)
    def fit(self, data: ctr_data.Source, validation_data: ctr_data.Source | None = None, *,
            items: pd.DataFrame | None = None, epochs: int = 1, batch_size: int | None = None,
            callbacks: Sequence[keras.callbacks.Callback] | keras.callbacks.Callback = (),
            verbose: str | int = "auto", logdir: str | Path | None = None, backup_dir: str | Path | None = None,
            backup_every: int | None = None, strategy: tf.distribute.Strategy | None = None,
            validation_split: float | None = None, warm_start_from: Any = None) -> keras.callbacks.History:
        """Train on interactions; `items` may list catalogue items nobody interacted with yet.

        `backup_dir` makes training resumable, as for the click models: checkpoints every
        `backup_every` steps (else every epoch), and a fit restarted with the same folder carries on
        from the last one (with freshly drawn negatives); the folder is removed when training completes.
        `strategy` (or an enclosing `strategy.scope()`) distributes training; each replica takes its
        share of every batch (for the two-tower, its in-batch negatives are its own share's items).
        `batch_size` overrides the model's for this call, as in the click models' fit. `warm_start_from`
        starts an untrained model from an earlier one's weights, as in the click models' fit.
        """
        owner = f"{type(self).__name__}.fit"
        check_arguments(owner, epochs=epochs, batch_size=batch_size, backup_every=backup_every,
                        backup_dir=backup_dir, logdir=logdir)
        batch_size = batch_size or self.batch_size
        previous = _warm.begin(self, warm_start_from, owner)
        data, validation_data, callbacks = fit_inputs(owner, self.spec, data, validation_data, validation_split,
                                                      callbacks)
        backup = Path(backup_dir) if backup_dir is not None else None
        if backup is not None:
            _resume.check_same_model(backup, self)
        frame = ctr_data.read(data, dtypes=ctr_data.csv_dtypes(self.spec))
        interactions = Interactions.from_frame(frame, self.spec, items)
        if not self.preprocessor_.fitted:
            self.preprocessor_ = _resume.fit_preprocessing(
                self.preprocessor_, lambda: (ctr_data.raw_features(c, self.spec) for c in ctr_data.iter_chunks(
                    frame, [f.source for f in self.spec.features])), self.seed, verbose, backup)
        self.users_ = interactions.users if self.users_ is None else pd.concat(
            [self.users_, interactions.users], ignore_index=True).drop_duplicates(
            self.spec[self.user_key].source, keep="last").reset_index(drop=True)
        if self.catalogue_ is None:
            self.catalogue_ = interactions.items
            self.item_counts_ = interactions.item_counts()
        else:
            self._check_same_catalogue(interactions)
        self._catalogue_encoded = self._encode_table(self.catalogue_, self.item_features)
        if self.network_ is None:
            self.content_ = self.preprocessor_.item_content(
                [ctr_data.raw_features(self.catalogue_, self.spec, self.item_features)])
            with strategy.scope() if strategy is not None else contextlib.nullcontext():
                self._new_network()
                if previous is not None:
                    _warm.start(self, previous, self._sample_features(frame), owner, verbose)
        self.network_.build_weights(self._sample_features(frame))
        errors = GeneratorErrors()
        train = self._dataset(frame, interactions, batch_size, shuffle=True, errors=errors)
        valid = None
        if validation_data is not None:
            valid_frame = self._in_catalogue(ctr_data.read(validation_data, dtypes=ctr_data.csv_dtypes(self.spec)),
                                             verbose)
            valid_interactions = Interactions.from_frame(valid_frame, self.spec, self.catalogue_)
            valid = self._dataset(valid_frame, valid_interactions, batch_size, shuffle=False, errors=errors)
        user_callbacks = list(callbacks)
        callbacks = list(user_callbacks)
        if logdir is not None:
            callbacks.append(keras.callbacks.TensorBoard(log_dir=str(logdir)))
        if backup is not None:
            callbacks.append(_resume.checkpoints(backup, backup_every))
        with (errors.surfacing(), several_steps_per_call(self.network_, batch_size, user_callbacks, backup_every),
              saving_as_export(self.network_, self._checkpoint)):
            shown = ctr_data.keras_verbose(verbose)
            history = self.network_.fit(train, validation_data=valid, epochs=epochs,
                                        callbacks=Progress.added(callbacks, shown), verbose=shown)
        self._weights_changed()
        if backup is not None:
            _resume.finished(backup)
        return history

    def _new_network(self) -> None:
        """The compiled network for the fitted preprocessing and catalogue, its weights seeded (made on first call)."""
        with float32_layers():
            keras.utils.set_random_seed(self.seed)
            self.network_ = self.build_network(self.build_scorer(self.preprocessor_.fields(),
                                                                 self.preprocessor_.table_sizes()))

    def build_network(self, scorer: PairScorer) -> tfrs.Model:
        """The compiled training graph around the scorer."""
        network = _PairwiseNetwork(scorer) if self.objective == "bpr" else _PointwiseNetwork(scorer)
        network.compile(optimizer=self._optimizer())
        return network

    def _optimizer(self) -> keras.optimizers.Optimizer:
        """Adam on the rows a batch used: Keras' Adam decays every row's moments and rewrites every
        weight at each step, which on a large catalogue costs far more than the batch's own work."""
        return LazyAdam(self.learning_rate, catch_up=self.embedding_updates == "momentum")

    def _in_catalogue(self, frame: pd.DataFrame, verbose: str | int) -> pd.DataFrame:
        """The validation rows whose item is in the catalogue. The others cannot be ranked among the
        candidates, nor negatives be drawn against them; a random split leaves a few rare items in
        validation only."""
        if not len(frame):  # a file without rows (an empty table is refused by fit_inputs)
            raise DataError("the validation data has no rows; pass validation_data=None to train without validation")
        item_col = self.spec[self.item_key].source
        if item_col not in frame.columns:
            return frame  # reading the interactions says what is missing
        known = frame[item_col].isin(self.catalogue_[item_col]).to_numpy()
        if not known.any():
            raise DataError(f"validation data: none of its items (column {item_col!r}) is in the catalogue the "
                            "model trains on; pass the full catalogue as fit(items=...)")
        if not known.all():
            _resume.progress(verbose, f"validation: {int((~known).sum())} of {len(frame)} rows are left out, their "
                                      f"item ({item_col!r}) is not in the catalogue; fit(items=...) adds items")
            frame = frame[known].reset_index(drop=True)
        return frame

    def _check_same_catalogue(self, interactions: Interactions) -> None:
        item_col = self.spec[self.item_key].source
        new = set(interactions.items[item_col]) - set(self.catalogue_[item_col])
        if new:
            self.catalogue_ = pd.concat([self.catalogue_, interactions.items[
                interactions.items[item_col].isin(new)]], ignore_index=True)
            self.item_counts_ = np.concatenate([self.item_counts_, np.zeros(len(new))])

    def _dataset(self, frame: pd.DataFrame, interactions: Interactions, batch_size: int, shuffle: bool,
                 errors: GeneratorErrors) -> tf.data.Dataset:
        """Batches of (query features, item features[, labels]) with fresh negatives each epoch."""
        positives = self._positive_rows(frame)
        queries = self._encode_table(frame.iloc[positives].reset_index(drop=True), self.query_features)
        catalogue_rows = pd.Index(self.catalogue_[self.spec[self.item_key].source]).get_indexer(
            frame.iloc[positives][self.spec[self.item_key].source])
        user_codes, user_ids = pd.factorize(frame.iloc[positives][self.spec[self.user_key].source])
        sampler = NegativeSampler(user_codes, catalogue_rows, len(self.catalogue_), self.negatives,
                                  self.item_counts_, seed=self.seed)
        saturated = sampler.saturated_users()
        if self.objective != "retrieval" and saturated.size:
            # Said here, not from inside the input pipeline (where it would surface as a TensorFlow error).
            shown = ", ".join(repr(u) for u in user_ids[saturated[:5]].tolist())
            raise DataError(f"{self.spec[self.user_key].source}: {saturated.size} user(s) ({shown}) interacted with "
                            f"every one of the {len(self.catalogue_)} catalogue items, so no negative item can be "
                            "sampled for them; pass the full catalogue as fit(items=...) or drop those users")
        batches = _IndexBatches(len(positives), user_codes, catalogue_rows, sampler, self.objective,
                                self.n_negatives, batch_size, shuffle, self.seed)
        q_tensors = {k: tf.constant(v) for k, v in queries.items()}
        i_tensors = {k: tf.constant(v) for k, v in self._catalogue_encoded.items()}
        probability = tf.constant(self.item_counts_ / max(self.item_counts_.sum(), 1.0), tf.float32)

        def features(query_rows: tf.Tensor, item_rows: tf.Tensor) -> dict[str, tf.Tensor]:
            return {**{k: tf.gather(t, query_rows) for k, t in q_tensors.items()},
                    **{k: tf.gather(t, item_rows) for k, t in i_tensors.items()}}

        signature = (tf.TensorSpec([None], tf.int64),) * 3
        # A known length: the progress bar has a total from the first epoch, and a resumed fit runs
        # only the rest of the interrupted epoch.
        ds = tf.data.Dataset.from_generator(errors.wrap(batches), output_signature=signature).flat_map(
            lambda *epoch: cut_into_batches(epoch, batches.rows(), batch_size)).apply(
            tf.data.experimental.assert_cardinality(len(batches)))
        # With `label.weight`, each row weighs its interaction's weight: its negatives as much as its
        # positive, as if the interaction were written that many times.
        weights = None if interactions.weights is None else tf.constant(interactions.weights)

        def weighed(x: tf.Tensor) -> tuple[tf.Tensor, ...]:
            return () if weights is None else (tf.gather(weights, x),)

        if self.objective == "bpr":
            ds = ds.map(lambda x, pos, neg: (features(x, pos), features(x, neg), *weighed(x)))
        elif self.objective == "retrieval":
            ds = ds.map(lambda x, items, _: ((features(x, items), items, tf.gather(probability, items),
                                              *weighed(x)),))
        elif weights is None:
            ds = ds.map(lambda x, items, label: (features(x, items), tf.cast(label, tf.float32)))
        else:
            ds = ds.map(lambda x, items, label: (features(x, items),
                                                 tf.stack([tf.cast(label, tf.float32), *weighed(x)], axis=1)))
        return ds.with_options(pipeline_options()).prefetch(2)

    def _positive_rows(self, frame: pd.DataFrame) -> np.ndarray:
        if self.spec.label is None:
            return np.arange(len(frame))
        return np.flatnonzero(ctr_data.labels(frame, self.spec) == 1)

    # -- scoring --------------------------------------------------------------------------------
    def catalog_ids(self) -> np.ndarray:
        """Item ids of the catalogue, one per catalogue row."""
        self._require_network()
        return self.catalogue_[self.spec[self.item_key].source].to_numpy()

    def score_candidates(self, queries: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
        """Logits [Q, C] of catalogue rows `rows` [Q, C] for query rows (user and context columns)."""
        network = self._require_network()
        queries = ctr_data.complete_queries(self.spec, self.query_features, ctr_data.read(queries), self.users_)
        encoded = self._encode_table(queries, self.query_features)
        rows = np.asarray(rows)
        if self.factorized:
            q = network.scorer.query_vectors({k: tf.constant(v) for k, v in encoded.items()}).numpy()
            vectors = self.catalogue_vectors()
            if len(rows) and (rows.strides[0] == 0 or (rows == rows[0]).all()):
                return q @ vectors[rows[0]].T  # one candidate list for all: no [Q, C, d] copy of the vectors
            step = max(1, _GATHERED_A_STEP // max(rows.shape[1] * vectors.shape[1], 1))
            return np.concatenate([np.einsum("qd,qcd->qc", q[i:i + step], vectors[rows[i:i + step]])
                                   for i in range(0, len(rows), step)]) if len(rows) else np.zeros(rows.shape)
        n, c = rows.shape
        out = np.empty((n, c), np.float32)
        step = max(1, PAIRS_A_CALL // max(c, 1))
        for start in range(0, n, step):
            part = rows[start:start + step]
            feats = {k: np.repeat(v[start:start + step], c, axis=0) for k, v in encoded.items()}
            feats.update({k: v[part.reshape(-1)] for k, v in self._catalogue_encoded.items()})
            out[start:start + step] = network.scorer(feats).numpy().reshape(part.shape)
        return out

    def pair_rows(self, rows: pd.DataFrame) -> pd.DataFrame:
        """(user, item) rows with the columns they lack filled as `predict` fills them: a known user's
        stored features by the user id, a catalogue item's by the item id (missing for ids not stored)."""
        self._require_network()
        return ctr_data.complete_pairs(self.spec, self.query_features, self.item_features, self.item_key, rows,
                                       self.users_, self.catalogue_)

    @named_keywords()
    def predict(self, data: ctr_data.Source, batch_size: int = PREDICTED_A_CALL, verbose: str | int = 0) -> np.ndarray:
        """Scores (logits) of (query, item) rows from their own user, context and item features: what
        the export's `serving_default` returns for the same raw rows (`verbose`: a progress bar, as in Keras).
        Columns a row lacks are filled as `recommend` fills them: a known user's and a catalogue item's
        stored features by their ids, the rest as missing."""
        check_arguments(f"{type(self).__name__}.predict", batch_size=batch_size, verbose=verbose)
        batch_size = batch_size or PREDICTED_A_CALL  # None: the default
        network = self._require_network()
        frame = self.pair_rows(ctr_data.read(data))
        advance = ctr_data.progress(frame, verbose)
        encoded = self._encode_table(frame, [*self.query_features, *self.item_features])
        scores = []
        for i in range(0, len(frame), batch_size):
            scores.append(network.scorer({k: v[i:i + batch_size] for k, v in encoded.items()}).numpy())
            advance(len(scores[-1]))
        return np.concatenate(scores).reshape(-1) if scores else np.zeros(0, np.float32)

    def catalogue_vectors(self) -> np.ndarray:
        """Item vectors [N, d] of the catalogue (factorised models), computed once per weights/catalogue."""
        network = self._require_network()
        if self._catalogue_vectors is None:
            tensors = {k: tf.constant(v) for k, v in self._catalogue_encoded.items()}
            self._catalogue_vectors = network.scorer.item_vectors(tensors).numpy()
        return self._catalogue_vectors

    @named_keywords()
    def recommend(self, queries: pd.DataFrame, k: int = 10,
                  exclude: Sequence[Sequence[Any]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k item ids and scores [Q, k] for each query row, never an item listed in its `exclude`.
        A known user's stored features fill the user columns `queries` lacks; other absent query
        features are served as missing, as for a user never seen."""
        return top_k(self, queries, k, exclude)

    @named_keywords()
    def similar_items(self, items: Sequence[Any], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The k catalogue items [N, k] nearest to each of `items` (catalogue item ids) by the cosine of
        their item vectors, the item itself left out ("more like this"), with those cosines. An id not
        in the catalogue gets a row padded with -1 (or "") and -inf, as the export serves it."""
        owner = f"{type(self).__name__}.similar_items"
        if not self.factorized:
            raise ArgumentError(f"{owner}: only the factorised models (MatrixFactorization, TwoTower) place items in "
                                f"one vector space; {type(self).__name__} scores pairs")
        check_arguments(owner, k=k)
        ids = self.catalog_ids()
        rows = catalogue_rows(owner, self.spec, self.item_key, ids, items)
        scores = similarity(tf.constant(self.catalogue_vectors()), tf.constant(rows), self.network_.scorer.taste_width)
        scores = scores.numpy().astype(np.float64)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :min(k, len(ids))]  # ties: the earlier row, as top_k
        chosen = np.take_along_axis(scores, top, axis=1)
        return np.where(chosen > -np.inf, ids[top], pad_id(ids)), chosen

    @named_keywords()
    def index(self, items: pd.DataFrame) -> None:
        """Replace the catalogue (new items are embedded by their features; no retraining)."""
        self._require_network()
        item_cols = [self.spec[n].source for n in self.item_features]
        table = ctr_data.read(items, item_cols, dtypes=ctr_data.csv_dtypes(self.spec))
        if not len(table):
            raise DataError("index: the new catalogue has no items")
        table = table.drop_duplicates(self.spec[self.item_key].source)
        require_ids(table, self.spec[self.item_key].source, "index")
        self.catalogue_ = table.reset_index(drop=True)
        self.item_counts_ = np.zeros(len(self.catalogue_))
        self._catalogue_encoded = self._encode_table(self.catalogue_, self.item_features)
        self._catalogue_vectors = None

    @named_keywords()
    def export(self, path: str | Path, *, format: str = "saved_model", verify: bool = True) -> Path:
        """A SavedModel with `recommend`, `serving_default` (pair scores) and, for factorised models,
        `user_embedding` and `item_embedding`; it carries the catalogue."""
        from ..export_recommend import export_recommender

        check_saved_model_only(type(self).__name__, format)
        return export_recommender(self, Path(path), verify=verify)

    def _checkpoint(self, path: Path) -> None:
        """A checkpoint's save during fit: the export, with the catalogue's vectors as they are now."""
        self._weights_changed()
        self.export(path)
        self._weights_changed()  # training goes on

    def _weights_changed(self) -> None:
        self._catalogue_vectors = None  # computed again from the weights now in place when next asked for

    # -- plumbing -------------------------------------------------------------------------------
    def _require_network(self) -> tfrs.Model:
        if self.network_ is None:
            raise NotFittedError(f"{type(self).__name__} is not trained yet; call fit(data) first")
        return self.network_

    def encoder(self, names: Sequence[str]) -> Any:
        """The fitted encoder for a subset of features, as a reusable tf.function."""
        key = ",".join(names)
        with MAKING:
            if key not in self._encoders:
                self._encoders[key] = traced_encoder(self.preprocessor_.encoder(names),
                                                     raw_signature(self.spec, names))
            return self._encoders[key]

    def _sample_features(self, frame: pd.DataFrame) -> dict[str, tf.Tensor]:
        """Query and item features of a couple of real rows, for building the weights before training."""
        n = min(2, len(frame), len(self.catalogue_))
        queries = self._encode_table(frame.head(n).reset_index(drop=True), self.query_features)
        items = {k: v[:n] for k, v in self._catalogue_encoded.items()}
        return {k: tf.constant(v) for k, v in {**queries, **items}.items()}

    def _encode_table(self, frame: pd.DataFrame, names: Sequence[str]) -> dict[str, np.ndarray]:
        encoded = self.encoder(list(names))(raw_tensors(ctr_data.raw_features(frame, self.spec, names), self.spec))
        return {k: v.numpy() for k, v in encoded.items()}

    def __repr__(self) -> str:
        return config_repr(self)


# Memory bounds of scoring: at most this many (query, item) scores, or gathered item-vector values, at once;
# and about this many (query, item) pairs in one call of a pair scorer.
_SCORES_A_STEP = 1 << 21
_GATHERED_A_STEP = 1 << 22
PAIRS_A_CALL = 1 << 16


def pad_id(ids: np.ndarray) -> Any:
    """What fills a recommendation list that is shorter than k: -1, or "" for text ids (as exports do)."""
    return "" if ids.dtype == object or ids.dtype.kind in "US" else -1


def item_ids(owner: str, spec: FeatureSpec, item_key: str, asked: Any) -> np.ndarray:
    """`asked` (a column or a list of item ids) as the item feature's serving input reads them."""
    if isinstance(asked, str | bytes) or np.ndim(asked) != 1:
        raise ArgumentError(f"{owner}: expected a list of {item_key!r} values, got {asked!r}")
    feature = spec[item_key]
    column = asked if isinstance(asked, np.ndarray | pd.Series) else list(asked)
    return ctr_data.raw_features(pd.DataFrame({feature.source: column}), FeatureSpec(features=(feature,)))[item_key]


def exclude_ids(owner: str, spec: FeatureSpec, item_key: str,
                exclude: Sequence[Sequence[Any]] | None) -> list[np.ndarray] | None:
    """Each query's `exclude` list as the item feature's serving input reads ids, as `item_ids` reads
    them ('12' is the id 12 of an integer catalogue, as in a request): an id is left out whatever type
    it is written in, in process as in the export."""
    if exclude is None:
        return None
    lists = [list(items) for items in exclude]
    flat = [item for items in lists for item in items]
    try:
        ids = item_ids(owner, spec, item_key, flat) if flat else np.zeros(0, np.int64)
    except DataError as err:
        raise DataError(f"{owner}: exclude lists an id that is no {item_key!r} id ({err})") from None
    return np.split(ids, np.cumsum([len(items) for items in lists])[:-1])


def catalogue_rows(owner: str, spec: FeatureSpec, item_key: str, catalogue_ids: np.ndarray, asked: Any) -> np.ndarray:
    """The catalogue row of each item id in `asked`, -1 for one not in the catalogue."""
    return pd.Index(item_ids(owner, spec, item_key, catalogue_ids)).get_indexer(item_ids(owner, spec, item_key, asked))


def similarity(vectors: tf.Tensor, rows: tf.Tensor, width: int) -> tf.Tensor:
    """Cosines [B, N] between catalogue rows `rows` [B] and every catalogue item, from the first `width`
    components of the item vectors; -inf for the item itself and throughout for a row of -1."""
    unit = tf.math.l2_normalize(vectors[:, :width], axis=1)
    found = rows >= 0
    scores = tf.matmul(tf.gather(unit, tf.maximum(rows, 0)), unit, transpose_b=True)
    itself = tf.one_hot(rows, tf.shape(unit)[0], on_value=True, off_value=False)  # a row of -1: all off
    return tf.where(found[:, None] & ~itself, scores, tf.constant(-np.inf, scores.dtype))


def top_k(model: Any, queries: ctr_data.Source, k: int,
          exclude: Sequence[Sequence[Any]] | None) -> tuple[np.ndarray, np.ndarray]:
    """The `k` best catalogue items and their scores for each query row of any model with
    `catalog_ids` and `score_candidates`, leaving out each row's `exclude` items."""
    check_arguments(f"{type(model).__name__}.recommend", k=k)
    queries = ctr_data.query_rows(model.spec, queries).reset_index(drop=True)
    check_exclude(exclude, len(queries))
    exclude = exclude_ids(f"{type(model).__name__}.recommend", model.spec, model.item_key, exclude)
    ids = model.catalog_ids()
    k = min(k, len(ids))
    position = pd.Index(ids)
    step = max(1, _SCORES_A_STEP // max(len(ids), 1))
    top_ids, top_scores = [], []
    for start in range(0, len(queries), step):
        part = queries.iloc[start:start + step].reset_index(drop=True)
        scores = model.score_candidates(part, np.broadcast_to(np.arange(len(ids)), (len(part), len(ids))))
        scores = scores.astype(np.float64)
        for i, items in enumerate(exclude[start:start + step] if exclude is not None else []):
            rows = position.get_indexer(items)
            scores[i, rows[rows >= 0]] = -np.inf
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # ties: the earlier catalogue row, as top_k
        chosen = np.take_along_axis(scores, top, axis=1)
        # A row with fewer than k items left is padded, as the export pads it: excluded items never come back.
        top_ids.append(np.where(chosen > -np.inf, ids[top], pad_id(ids)))
        top_scores.append(chosen)
    if not top_ids:
        return ids[:0].reshape(0, k), np.zeros((0, k))
    return np.concatenate(top_ids), np.concatenate(top_scores)


class _IndexBatches:
    """Per-epoch index arrays (interaction row, item row, third), cut into batches in the pipeline:
    the third is the label for pointwise training, the negative item row for BPR, unused (1) for
    retrieval."""

    def __init__(self, n: int, users: np.ndarray, items: np.ndarray, sampler: NegativeSampler, objective: str,
                 n_negatives: int, batch_size: int, shuffle: bool, seed: int):
        if n == 0:
            raise DataError("no positive interactions to train on")
        self.n, self.users, self.items, self.sampler = n, users, items, sampler
        self.objective, self.n_negatives, self.batch_size = objective, n_negatives, batch_size
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0

    def __len__(self) -> int:
        return -(-self.rows() // self.batch_size)

    def __call__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        # Validation keeps one fixed sample; training draws new negatives on every pass.
        epoch = self.epoch if self.shuffle else -1
        self.epoch += 1
        rng = np.random.default_rng([self.seed, epoch + 7])
        rows = np.arange(self.n)
        if self.objective == "retrieval":
            x, items, third = rows, self.items, np.ones(self.n, np.int64)
        else:
            negatives = self.sampler.sample(self.users, self.n_negatives, epoch=epoch + 1_000)
            if self.objective == "bpr":
                x = np.repeat(rows, self.n_negatives)
                items, third = np.repeat(self.items, self.n_negatives), negatives.reshape(-1)
            else:
                x = np.concatenate([rows, np.repeat(rows, self.n_negatives)])
                items = np.concatenate([self.items, negatives.reshape(-1)])
                third = np.concatenate([np.ones(self.n, np.int64), np.zeros(self.n * self.n_negatives, np.int64)])
        order = rng.permutation(len(x)) if self.shuffle else np.arange(len(x))
        # The whole epoch at once, in batch order: the pipeline cuts it into batches in the graph (a
        # Python call per batch cost about a quarter of the MovieLens MF step it fed).
        yield x[order].astype(np.int64), items[order].astype(np.int64), third[order].astype(np.int64)

    def rows(self) -> int:
        """Rows of an epoch: positives, with their negatives for pointwise and pairwise training."""
        return self.n * {"retrieval": 1, "bpr": self.n_negatives}.get(self.objective, 1 + self.n_negatives)
