"""Popularity: every user gets the most-interacted items. The baseline a personalised model must beat."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import data as ctr_data
from ..errors import NotFittedError
from ..evaluation import RankingEvaluation
from ..implicit import Interactions, keys, refuse_weights
from ..spec import FeatureSpec
from .recommender import top_k


class Popularity(RankingEvaluation):
    """Scores an item by its number of positive training interactions, the same for every query."""

    def __init__(self, spec: FeatureSpec | str | Path):
        self.spec = spec if isinstance(spec, FeatureSpec) else FeatureSpec.from_yaml(spec)
        refuse_weights(self.spec, "Popularity")
        self.user_key, self.item_key = keys(self.spec)
        self.counts_: np.ndarray | None = None
        self.ids_: np.ndarray | None = None

    def fit(self, data: ctr_data.Source, *, items: pd.DataFrame | None = None) -> Popularity:
        interactions = Interactions.from_frame(ctr_data.read(data), self.spec, items)
        self.ids_ = interactions.items[self.spec[self.item_key].source].to_numpy()
        self.counts_ = interactions.item_counts()
        return self

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Print what the baseline holds, as the trained models' `summary()` does: its catalogue size and
        its most popular items with their counts (it has no weights)."""
        if self.ids_ is None:
            print_fn("Popularity (not fitted yet: fit counts each item's positive interactions)")
            return
        top = np.argsort(-self.counts_, kind="stable")[:5]
        print_fn(f"Popularity over {len(self.ids_):,} items; the most popular: "
                 + ", ".join(f"{self.ids_[i]} ({int(self.counts_[i]):,})" for i in top))

    def catalog_ids(self) -> np.ndarray:
        if self.ids_ is None:
            raise NotFittedError("Popularity is not fitted yet; call fit(data) first")
        return self.ids_

    def score_candidates(self, queries: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
        """Interaction counts [Q, C] of catalogue rows `rows` (the queries do not change them)."""
        self.catalog_ids()
        return self.counts_[np.asarray(rows)].astype(np.float32)

    def recommend(self, queries: ctr_data.Source, k: int = 10,
                  exclude: Sequence[Sequence[Any]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k most popular items [Q, k] for each query row, with their counts, never one of its
        `exclude` (e.g. what the user has seen): the fallback for a user nothing is known about."""
        return top_k(self, queries, k, exclude)
