"""Popularity: every user gets the most-interacted items. The baseline a personalised model must beat."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import data as ctr_data
from .._args import (
    POPULARITY_NAMES,
    RECOMMENDER_FIT_ONLY,
    KerasNames,
    check_arguments,
    check_saved_model_only,
    named_keywords,
)
from ..errors import NotFittedError
from ..evaluation import RankingEvaluation
from ..implicit import Interactions, keys
from ..spec import FeatureSpec, SpecLike, refuse_aggregated
from .base import config_repr
from .recommender import catalogue_rows, top_k

_NO_TRAINING = "Popularity counts each item's interactions in one pass; it has no training loop for this"
# The recommenders' fit arguments that a count has no use for, and Keras' that ctr takes otherwise.
_FIT_ONLY = {**RECOMMENDER_FIT_ONLY, **dict.fromkeys(
    ("callbacks", "logdir", "backup_dir", "backup_every", "strategy", "validation_split"), _NO_TRAINING)}


class Popularity(RankingEvaluation, KerasNames):
    """Scores an item by its number of positive training interactions (their weights' sum, with
    `label.weight`), the same for every query."""

    _KERAS_NAMES = POPULARITY_NAMES

    def __init__(self, spec: SpecLike):
        self.spec = FeatureSpec.of(spec)
        refuse_aggregated(self.spec, "Popularity")
        self.user_key, self.item_key = keys(self.spec)
        self.counts_: np.ndarray | None = None
        self.ids_: np.ndarray | None = None
        self.catalogue_: pd.DataFrame | None = None  # raw item features, one row per item
        self.users_: pd.DataFrame | None = None  # raw user features of the users seen (latest values)

    @named_keywords(_FIT_ONLY)
    def fit(self, data: ctr_data.Source, validation_data: ctr_data.Source | None = None, *,
            items: pd.DataFrame | None = None, epochs: int = 1, batch_size: int | None = None,
            verbose: str | int = "auto") -> Popularity:
        """Count each item's positive interactions in `data` (sum their weights, with `label.weight`); `items` may add
        catalogue items nobody touched (count 0). It takes the recommenders' `validation_data`, `epochs`,
        `batch_size` and `verbose` so that it can be fitted in a loop with them; a count needs one pass, so they
        change nothing."""
        check_arguments("Popularity.fit", epochs=epochs, batch_size=batch_size, verbose=verbose)
        interactions = Interactions.from_frame(ctr_data.read(data, dtypes=ctr_data.csv_dtypes(self.spec)), self.spec,
                                               items, anonymous=True)
        self.catalogue_, self.users_ = interactions.items, interactions.users
        self.ids_ = interactions.items[self.spec[self.item_key].source].to_numpy()
        self.counts_ = interactions.item_counts(weighted=True)
        return self

    def get_config(self) -> dict[str, Any]:
        return {}  # nothing to set: the counts are the model

    def __repr__(self) -> str:
        return config_repr(self)

    @property
    def query_features(self) -> list[str]:
        """User and context features: what a request to the export carries (none of them is read)."""
        return [f.name for f in self.spec.features if f.role in ("user", "context")]

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Print what the baseline holds, as the trained models' `summary()` does: its catalogue size and
        its most popular items with their counts (it has no weights)."""
        if self.ids_ is None:
            print_fn("Popularity (not fitted yet: fit counts each item's positive interactions)")
            return
        top = np.argsort(-self.counts_, kind="stable")[:5]
        print_fn(f"Popularity over {len(self.ids_):,} items; the most popular: "
                 + ", ".join(f"{self.ids_[i]} ({_count(self.counts_[i])})" for i in top))

    def catalog_ids(self) -> np.ndarray:
        if self.ids_ is None:
            raise NotFittedError("Popularity is not fitted yet; call fit(data) first")
        return self.ids_

    def score_candidates(self, queries: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
        """Interaction counts [Q, C] of catalogue rows `rows` (the queries do not change them)."""
        self.catalog_ids()
        return self.counts_[np.asarray(rows)].astype(np.float32)

    @named_keywords()
    def predict(self, data: ctr_data.Source, batch_size: int | None = None, verbose: str | int = 0) -> np.ndarray:
        """Scores of (query, item) rows, as the export's `serving_default` gives them: each row's item's
        count, 0 for an item not in the catalogue (only the item id column is read)."""
        check_arguments("Popularity.predict", batch_size=batch_size, verbose=verbose)
        asked = ctr_data.read(data, [self.spec[self.item_key].source])[self.spec[self.item_key].source]
        rows = catalogue_rows("Popularity.predict", self.spec, self.item_key, self.catalog_ids(), asked)
        return np.where(rows >= 0, self.counts_[rows], 0.0).astype(np.float32)

    @named_keywords()
    def recommend(self, queries: ctr_data.Source, k: int = 10,
                  exclude: Sequence[Sequence[Any]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k most popular items [Q, k] for each query row, with their counts, never one of its
        `exclude` (e.g. what the user has seen): the fallback for a user nothing is known about."""
        return top_k(self, queries, k, exclude)

    @named_keywords()
    def export(self, path: str | Path, *, format: str = "saved_model", verify: bool = True) -> Path:
        """A SavedModel with `recommend` and `serving_default` (pair scores) over the same request as the
        spec's other recommenders, carrying the catalogue and its counts: the control arm of a test."""
        from ..export_recommend import export_baseline

        check_saved_model_only("Popularity", format)
        self.catalog_ids()
        return export_baseline(self, Path(path), verify=verify)


def _count(count: float) -> str:
    """A count as it reads: whole, or (summed weights) with two decimals."""
    return f"{count:,.0f}" if float(count).is_integer() else f"{count:,.2f}"
