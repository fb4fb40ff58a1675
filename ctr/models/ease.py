"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): an item-to-item weight matrix in closed form.

A user's score for item j is the sum, over the items i in their history, of B[i, j], where B minimises
||X - XB||² + l2·||B||² with a zero diagonal (X: users × items, one row per user's interactions). The
solution is B = I - P·diag(1/diag(P)) with P = (XᵀX + l2·I)⁻¹: one matrix inverse, no training loop.
On MovieLens it ranks as well as the trained models (bench/ranking.py), which is why it is the
baseline a neural recommender has to beat. A user with no history gets the popularity baseline's scores.

With a `History` feature of the item id in the spec, a request may carry the items a user touched
(`12|85|301`): those are the user's row of X, so a user never seen is served from the few items they
bring (cold start), with the same B.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import data as ctr_data
from .._args import (
    EASE_NAMES,
    RECOMMENDER_FIT_ONLY,
    KerasNames,
    _number,
    check_arguments,
    check_saved_model_only,
    named_keywords,
)
from .._keras import tf
from ..errors import ArgumentError, DataError, NotFittedError
from ..evaluation import RankingEvaluation
from ..features import raw_tensors, split_multi, split_weights
from ..implicit import Interactions, keys
from ..spec import FeatureSpec, History, SpecLike, raw_dtype, refuse_aggregated
from .base import PREDICTED_A_CALL, config_repr
from .recommender import catalogue_rows, item_ids, pad_id, top_k

# B and the matrix inverted are dense items × items, in float64 while inverted, and the inverse costs items³:
# on 2 cores, 10,000 items took 35 s and 4 GB at the peak; 20,000 would take about 5 minutes and 14 GB.
# Larger catalogues are the factorised models' (MF, TwoTower).
MAX_ITEMS = 20_000
_NO_TRAINING = "EASE solves for its weights in closed form, one matrix inverse; it has no training loop for this"
_FIT_ONLY = {**RECOMMENDER_FIT_ONLY, **dict.fromkeys(
    ("callbacks", "logdir", "backup_dir", "backup_every", "strategy", "validation_split"), _NO_TRAINING)}
_GRAM_FLOATS = 1 << 24  # entries of one dense users × items slice of X while XᵀX is summed (64 MB)


class EASE(RankingEvaluation, KerasNames):
    """Scores item j for a user as Σ B[i, j] over the items i they touched, B solved in closed form
    (Steck 2019). `l2` is the ridge penalty on B: larger values trust co-occurrences less (Steck's
    MovieLens figures take a few hundred). Reads the user and item ids alone."""

    _KERAS_NAMES = EASE_NAMES

    def __init__(self, spec: SpecLike, *, l2: float = 500.0):
        self.spec = FeatureSpec.of(spec)
        refuse_aggregated(self.spec, "EASE")
        problem = _number(0.0, above=True)(l2)
        if problem is not None:
            raise ArgumentError(f"EASE: l2, the ridge penalty that makes XᵀX invertible, must be {problem}")
        self.l2 = float(l2)
        self.user_key, self.item_key = keys(self.spec)
        # The spec's history of the item id, if any: a request's own items, read before the stored history.
        self.history_key = next((f.name for f in self.spec.features
                                 if isinstance(f, History) and f.items == self.item_key), None)
        self._scorer: EASEScorer | None = None
        self.weights_: np.ndarray | None = None  # B [items, items], float32, zero diagonal
        self.ids_: np.ndarray | None = None  # catalogue item ids, one per row of B
        self.user_ids_: np.ndarray | None = None  # raw user ids, one per history
        # Each user's history as CSR: items history_items_[history_starts_[u]:history_starts_[u + 1]],
        # weighing history_values_ (1, or with label.weight the pair's summed weights).
        self.history_starts_: np.ndarray | None = None
        self.history_items_: np.ndarray | None = None
        self.history_values_: np.ndarray | None = None
        self.counts_: np.ndarray | None = None  # each item's positive interactions: a user with no history's scores
        self.catalogue_: pd.DataFrame | None = None
        self.users_: pd.DataFrame | None = None

    @property
    def query_features(self) -> list[str]:
        """What a request carries: the user id, whose history the model holds, and the spec's history of
        items, if it has one (a request's own items, which stand in for the stored ones)."""
        return [self.user_key] + ([self.history_key] if self.history_key else [])

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}

    def __repr__(self) -> str:
        return config_repr(self)

    @named_keywords(_FIT_ONLY)
    def fit(self, data: ctr_data.Source, validation_data: ctr_data.Source | None = None, *,
            items: pd.DataFrame | None = None, epochs: int = 1, batch_size: int | None = None,
            verbose: str | int = "auto") -> EASE:
        """Solve for B from the positive interactions in `data` (rows whose label is 1, or every row without a
        label); `items` may add catalogue items nobody touched. It takes the recommenders' `validation_data`,
        `epochs` and `batch_size` so that it can be fitted in a loop with them; a closed form needs one pass, so
        they change nothing. `verbose` shows the progress of summing XᵀX."""
        check_arguments("EASE.fit", epochs=epochs, batch_size=batch_size, verbose=verbose)
        # The interactions are the histories, so the history column is not read (rows need not have it), and
        # the users' stored rows, which fill what a request lacks, hold none: its absence means the stored one.
        spec = dataclasses.replace(self.spec, features=tuple(f for f in self.spec.features
                                                             if f.name != self.history_key))
        interactions = Interactions.from_frame(ctr_data.read(data, dtypes=ctr_data.csv_dtypes(spec)), spec, items,
                                               owner="EASE.fit")
        n_items, n_users = len(interactions.items), len(interactions.users)
        if n_items > MAX_ITEMS:
            raise DataError(f"EASE.fit: the catalogue holds {n_items:,} items, and EASE inverts a dense items × items "
                            f"matrix ({8 * n_items ** 2 / 1e9:.1f} GB in float64); it takes up to {MAX_ITEMS:,} items. "
                            "For a larger catalogue use MatrixFactorization or TwoTower")
        # One entry per (user, item) pair, repeated interactions summed when weighted, else counted once.
        pair = interactions.user_index * n_items + interactions.item_index
        weights = interactions.weights
        unique, inverse = np.unique(pair, return_inverse=True)
        values = (np.ones(len(unique), np.float32) if weights is None
                  else np.bincount(inverse, weights=weights, minlength=len(unique)).astype(np.float32))
        users, rows = unique // n_items, unique % n_items  # sorted by user, then item
        gram = _gram(users, rows, values, n_users, n_items, verbose)
        gram[np.diag_indices(n_items)] += self.l2
        weights_b = np.linalg.inv(gram)
        del gram  # in place from here: no third and fourth items × items matrix after the inverse
        weights_b /= -np.diag(weights_b)[None, :].copy()
        weights_b[np.diag_indices(n_items)] = 0.0

        self.weights_ = weights_b.astype(np.float32)
        self.catalogue_, self.users_ = interactions.items, interactions.users
        self.ids_ = interactions.items[self.spec[self.item_key].source].to_numpy()
        self.user_ids_ = item_ids("EASE.fit", self.spec, self.user_key,
                                  interactions.users[self.spec[self.user_key].source])
        self.history_starts_ = np.concatenate([[0], np.cumsum(np.bincount(users, minlength=n_users))]).astype(np.int64)
        self.history_items_, self.history_values_ = rows.astype(np.int64), values
        self.counts_ = interactions.item_counts(weighted=True)
        self._scorer = None
        return self

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_scorer": None}  # TensorFlow's tables do not pickle; rebuilt when scored

    @property
    def scorer(self) -> EASEScorer:
        """The TensorFlow module that scores requests, in process as in the export."""
        self.catalog_ids()
        if self._scorer is None:
            self._scorer = EASEScorer(self)
        return self._scorer

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Print what the model holds: its catalogue, its users' histories and how dense B is."""
        if self.weights_ is None:
            print_fn(f"EASE(l2={self.l2:g}) (not fitted yet: fit solves for its item × item weights)")
            return
        n = len(self.ids_)
        print_fn(f"EASE(l2={self.l2:g}) over {n:,} items and {len(self.user_ids_):,} users' histories "
                 f"({len(self.history_items_):,} interactions); B is {n:,} × {n:,} "
                 f"({self.weights_.nbytes / 1e6:,.1f} MB), {np.mean(self.weights_ > 0):.1%} of it positive")

    def catalog_ids(self) -> np.ndarray:
        if self.ids_ is None:
            raise NotFittedError("EASE is not fitted yet; call fit(data) first")
        return self.ids_

    def _requests(self, queries: pd.DataFrame) -> dict[str, tf.Tensor]:
        """Query rows as the export's request tensors: the user id (and the history), read by the spec's rules;
        a request without a history column is served from the user's stored history."""
        self.catalog_ids()
        queries = ctr_data.complete_queries(self.spec, self.query_features, queries, self.users_)
        return raw_tensors(ctr_data.raw_features(queries, self.spec, self.query_features), self.spec)

    def score_candidates(self, queries: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
        """Scores [Q, C] of catalogue rows `rows` for each query: X_u·B over the request's history or else the
        user's stored one, or for a user with neither (never seen) the items' interaction counts."""
        scores = self.scorer.scores(self._requests(queries)).numpy()
        return np.take_along_axis(scores, np.asarray(rows), axis=1)

    @named_keywords()
    def predict(self, data: ctr_data.Source, batch_size: int = PREDICTED_A_CALL, verbose: str | int = 0) -> np.ndarray:
        """Scores of (user, item) rows, as the export's `serving_default` gives them: Σ B[i, item] over the
        user's history, the item's interaction count for a user never seen, 0 for an item not in the catalogue.
        Rows are scored `batch_size` at a time (each row gathers its user's whole history); `verbose`: a
        progress bar, as in Keras."""
        check_arguments("EASE.predict", batch_size=batch_size, verbose=verbose)
        batch_size = batch_size or PREDICTED_A_CALL  # None: the default
        item_col = self.spec[self.item_key].source
        frame = ctr_data.read(data, dtypes=ctr_data.csv_dtypes(self.spec))
        ctr_data.require_columns(frame, [item_col], where="EASE.predict's rows",
                                 hint=f" (each row is a (user, item) pair: the item id in column {item_col!r})")
        rows = catalogue_rows("EASE.predict", self.spec, self.item_key, self.catalog_ids(), frame[item_col])
        advance = ctr_data.progress(frame, verbose)
        scores = []
        for start in range(0, len(frame), batch_size):
            part = frame.iloc[start:start + batch_size]
            scores.append(self.scorer.pair_scores(self._requests(part), tf.constant(rows[start:start + batch_size]))
                          .numpy())
            advance(len(part))
        return np.concatenate(scores) if scores else np.zeros(0, np.float32)

    @named_keywords()
    def recommend(self, queries: ctr_data.Source, k: int = 10,
                  exclude: Sequence[Sequence[Any]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The top-k items [Q, k] for each query's user by X_u·B, with their scores, never one of its
        `exclude` (e.g. what the user has seen); a user never seen gets the most popular items."""
        return top_k(self, queries, k, exclude)

    @named_keywords()
    def similar_items(self, items: Sequence[Any], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The k items [N, k] that having each of `items` (catalogue ids) raises most, by B's row, the item
        itself left out ("people who took this took"), with those weights. An id not in the catalogue gets a
        row padded with -1 (or "") and -inf, as the export serves it."""
        check_arguments("EASE.similar_items", k=k)
        ids = self.catalog_ids()
        rows = catalogue_rows("EASE.similar_items", self.spec, self.item_key, ids, items)
        scores = self.scorer.similar(tf.constant(rows)).numpy().astype(np.float64)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :min(k, len(ids))]  # ties: the earlier row, as top_k
        chosen = np.take_along_axis(scores, top, axis=1)
        return np.where(chosen > -np.inf, ids[top], pad_id(ids)), chosen

    @named_keywords()
    def export(self, path: str | Path, *, format: str = "saved_model", verify: bool = True) -> Path:
        """A SavedModel with `recommend`, `similar_items` and `serving_default` (pair scores) that carries B, the
        catalogue and every user's history: a request sends a user id."""
        from ..export_recommend import export_baseline

        check_saved_model_only("EASE", format)
        self.catalog_ids()
        return export_baseline(self, Path(path), verify=verify)


class EASEScorer(tf.Module):
    """B, every known user's history (CSR) and the item counts, scoring raw requests: the same ops in process
    and in the export."""

    def __init__(self, model: EASE):
        super().__init__()
        spec = model.spec
        self.user_name, self.history = model.user_key, spec[model.history_key] if model.history_key else None
        self.n_items = len(model.ids_)
        user_dtype = tf.string if raw_dtype(spec[model.user_key]) == "string" else tf.int64
        self.users = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            tf.constant(model.user_ids_, user_dtype), tf.range(len(model.user_ids_), dtype=tf.int64)), -1)
        if self.history is not None:  # a history's ids are text: '12', as data.raw_features spells an integer id
            spelt = item_ids("EASE", spec, model.item_key, model.ids_).astype(str)
            self.item_text = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
                tf.constant(spelt, tf.string), tf.range(self.n_items, dtype=tf.int64)), -1)
        self.starts = tf.Variable(model.history_starts_, trainable=False, name="history_starts")
        self.items = tf.Variable(model.history_items_, trainable=False, name="history_items")
        self.values = tf.Variable(model.history_values_, trainable=False, name="history_values")
        self.item_weights = tf.Variable(model.weights_, trainable=False, name="ease_weights")
        self.counts = tf.Variable(model.counts_.astype(np.float32), trainable=False, name="item_counts")

    def _entries(self, query: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        """X's nonzero entries for a batch of requests, as (query, item row, value), and whether each query has
        any: the request's history where it names a catalogue item, else the user's stored history."""
        user_ids = query[self.user_name]
        users = self.users.lookup(user_ids)
        start = tf.gather(self.starts, tf.maximum(users, 0))
        length = tf.where(users >= 0, tf.gather(self.starts, tf.maximum(users, 0) + 1) - start, 0)
        positions = tf.ragged.range(start, start + length)
        entries = (positions.value_rowids(), tf.gather(self.items, positions.flat_values),
                   tf.gather(self.values, positions.flat_values))
        if self.history is None:
            return *entries, length > 0
        tokens = split_multi(query[self.history.name], self.history)
        ids, weights = split_weights(tokens, self.history) if self.history.weighted else (tokens, None)
        rows = self.item_text.lookup(ids.flat_values)
        found = rows >= 0  # unknown ids, and the empty token of an empty history, are left out
        value = tf.ones_like(rows, tf.float32) if weights is None else weights.flat_values
        # One entry per (query, item), as X has: an item listed twice counts once, or its weights summed.
        key = tf.boolean_mask(ids.value_rowids() * self.n_items + rows, found)
        unique, position = tf.unique(key)
        summed = tf.math.unsorted_segment_sum(tf.boolean_mask(value, found), position, tf.shape(unique)[0])
        value = summed if weights is not None else tf.ones_like(summed)
        brought = tf.math.bincount(tf.cast(unique // self.n_items, tf.int32), minlength=tf.shape(user_ids)[0]) > 0
        kept = ~tf.gather(brought, entries[0])  # the stored entries of queries that brought no items
        return (tf.concat([unique // self.n_items, tf.boolean_mask(entries[0], kept)], 0),
                tf.concat([unique % self.n_items, tf.boolean_mask(entries[1], kept)], 0),
                tf.concat([value, tf.boolean_mask(entries[2], kept)], 0), brought | (length > 0))

    def scores(self, query: dict[str, tf.Tensor]) -> tf.Tensor:
        """Scores [B, N] of every catalogue item: X_u·B, or the item counts for a query with no items."""
        batch, items, values, known = self._entries(query)
        x = tf.sparse.SparseTensor(tf.stack([batch, items], axis=1), values,
                                   tf.cast(tf.stack([tf.size(known), self.n_items]), tf.int64))
        return tf.where(known[:, None], tf.sparse.sparse_dense_matmul(x, self.item_weights), self.counts[None, :])

    def pair_scores(self, query: dict[str, tf.Tensor], rows: tf.Tensor) -> tf.Tensor:
        """Each query's score [B] of its catalogue row `rows` (-1: an item not in the catalogue, which scores 0)."""
        batch, items, values, known = self._entries(query)
        weights = tf.gather_nd(self.item_weights, tf.stack([items, tf.gather(tf.maximum(rows, 0), batch)], axis=1))
        summed = tf.math.unsorted_segment_sum(weights * values, batch, tf.shape(rows)[0])
        scores = tf.where(known, summed, tf.gather(self.counts, tf.maximum(rows, 0)))
        return tf.where(rows >= 0, scores, 0.0)

    def similar(self, rows: tf.Tensor) -> tf.Tensor:
        """B's rows [B, N] of catalogue rows `rows`; -inf for the item itself, and throughout for a row of -1."""
        itself = tf.one_hot(rows, self.n_items, on_value=True, off_value=False)  # a row of -1: all off
        return tf.where((rows >= 0)[:, None] & ~itself, tf.gather(self.item_weights, tf.maximum(rows, 0)), -np.inf)


def _gram(users: np.ndarray, rows: np.ndarray, values: np.ndarray, n_users: int, n_items: int,
          verbose: str | int) -> np.ndarray:
    """XᵀX [items, items] in float64, summed a slice of item columns at a time (X sparse, the slice dense)."""
    x_t = tf.sparse.SparseTensor(np.stack([rows, users], axis=1), values, [n_items, n_users])
    x_t = tf.sparse.reorder(x_t)
    width = max(1, min(n_items, _GRAM_FLOATS // max(n_users, 1)))
    gram = np.empty((n_items, n_items), np.float64)
    advance = ctr_data.progress_bar(lambda: n_items, verbose, unit="item")
    order = np.argsort(rows, kind="stable")
    starts = np.searchsorted(rows[order], np.arange(0, n_items + width, width))
    for block, start in enumerate(range(0, n_items, width)):
        stop = min(start + width, n_items)
        chosen = order[starts[block]:starts[block + 1]]
        dense = np.zeros((n_users, stop - start), np.float32)
        dense[users[chosen], rows[chosen] - start] = values[chosen]
        gram[:, start:stop] = tf.sparse.sparse_dense_matmul(x_t, dense).numpy()
        advance(stop - start)
    return gram
