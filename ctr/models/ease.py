"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): an item-to-item weight matrix in closed form.

A user's score for item j is the sum, over the items i in their history, of B[i, j], where B minimises
||X - XB||² + l2·||B||² with a zero diagonal (X: users × items, one row per user's interactions). The
solution is B = I - P·diag(1/diag(P)) with P = (XᵀX + l2·I)⁻¹: one matrix inverse, no training loop.
On MovieLens it ranks as well as the trained models (bench/ranking.py), which is why it is the
baseline a neural recommender has to beat. A user with no history gets the popularity baseline's scores.
"""

from __future__ import annotations

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
from ..implicit import Interactions, keys
from ..spec import FeatureSpec, SpecLike, refuse_aggregated
from .base import config_repr
from .recommender import catalogue_rows, item_ids, pad_id, top_k

# B and the matrix inverted are dense items × items, in float64 while inverted: 20,000 items are 3.2 GB each
# and an inverse of about a minute on 2 cores. Larger catalogues are the factorised models' (MF, TwoTower).
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
        """What a request carries: the user id, whose history the model holds."""
        return [self.user_key]

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
        interactions = Interactions.from_frame(ctr_data.read(data, dtypes=ctr_data.csv_dtypes(self.spec)), self.spec,
                                               items, owner="EASE.fit")
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
        inverse_gram = np.linalg.inv(gram)
        weights_b = inverse_gram / -np.diag(inverse_gram)[None, :]
        weights_b[np.diag_indices(n_items)] = 0.0

        self.weights_ = weights_b.astype(np.float32)
        self.catalogue_, self.users_ = interactions.items, interactions.users
        self.ids_ = interactions.items[self.spec[self.item_key].source].to_numpy()
        self.user_ids_ = item_ids("EASE.fit", self.spec, self.user_key,
                                  interactions.users[self.spec[self.user_key].source])
        self.history_starts_ = np.concatenate([[0], np.cumsum(np.bincount(users, minlength=n_users))]).astype(np.int64)
        self.history_items_, self.history_values_ = rows.astype(np.int64), values
        self.counts_ = interactions.item_counts(weighted=True)
        return self

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

    def _user_rows(self, queries: pd.DataFrame, owner: str) -> np.ndarray:
        """Each query's row of the stored histories, -1 for a user the model never saw."""
        self.catalog_ids()
        queries = ctr_data.complete_queries(self.spec, self.query_features, queries)
        asked = item_ids(owner, self.spec, self.user_key, queries[self.spec[self.user_key].source])
        return pd.Index(self.user_ids_).get_indexer(asked)

    def _histories(self, users: np.ndarray) -> np.ndarray:
        """The users' histories as dense rows X [U, items] (a row of -1: zeros)."""
        dense = np.zeros((len(users), len(self.ids_)), np.float32)
        for i, user in enumerate(users):
            if user >= 0:
                span = slice(self.history_starts_[user], self.history_starts_[user + 1])
                dense[i, self.history_items_[span]] = self.history_values_[span]
        return dense

    def score_candidates(self, queries: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
        """Scores [Q, C] of catalogue rows `rows` for each query's user: X_u·B, or a user with no history
        (never seen) the items' interaction counts."""
        users = self._user_rows(queries, "EASE.recommend")
        rows = np.asarray(rows)
        scores = np.take_along_axis(self._histories(users) @ self.weights_, rows, axis=1)
        return np.where((users >= 0)[:, None], scores, self.counts_[rows].astype(np.float32))

    @named_keywords()
    def predict(self, data: ctr_data.Source, batch_size: int | None = None, verbose: str | int = 0) -> np.ndarray:
        """Scores of (user, item) rows, as the export's `serving_default` gives them: Σ B[i, item] over the
        user's history, the item's interaction count for a user never seen, 0 for an item not in the catalogue."""
        check_arguments("EASE.predict", batch_size=batch_size, verbose=verbose)
        item_col = self.spec[self.item_key].source
        frame = ctr_data.read(data, dtypes=ctr_data.csv_dtypes(self.spec))
        ctr_data.require_columns(frame, [item_col], where="EASE.predict's rows",
                                 hint=f" (each row is a (user, item) pair: the item id in column {item_col!r})")
        rows = catalogue_rows("EASE.predict", self.spec, self.item_key, self.catalog_ids(), frame[item_col])
        scores = np.zeros(len(frame), np.float32)
        if len(frame):
            found = np.nonzero(rows >= 0)[0]
            scores[found] = self.score_candidates(frame.iloc[found].reset_index(drop=True), rows[found, None])[:, 0]
        return scores

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
        scores = np.full((len(rows), len(ids)), -np.inf)
        found = rows >= 0
        scores[found] = self.weights_[rows[found]]
        scores[np.nonzero(found)[0], rows[found]] = -np.inf
        top = np.argsort(-scores, axis=1, kind="stable")[:, :min(k, len(ids))]  # ties: the earlier row, as top_k
        chosen = np.take_along_axis(scores, top, axis=1)
        return np.where(chosen > -np.inf, ids[top], pad_id(ids)), chosen

    @named_keywords()
    def export(self, path: str | Path, *, format: str = "saved_model", verify: bool = True) -> Path:
        """A SavedModel with `recommend`, `similar_items` and `serving_default` (pair scores) that carries B, the
        catalogue and every user's history: a request sends a user id."""
        from ..export_recommend import export_ease

        check_saved_model_only("EASE", format)
        self.catalog_ids()
        return export_ease(self, Path(path), verify=verify)


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
