"""Retrieval → ranking → filter: a fast retriever proposes candidates, a richer ranker orders them.

A two-tower (or MF) model retrieves the `n_candidates` best items of the catalogue for a query;
a ranking model (DeepFM, FM, LR or NeuMF) scores each (query, candidate) pair with all its
features; excluded items never come back; the top k remain. The same chain exports as one
SavedModel with a `recommend` signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import data as ctr_data
from ._args import check_arguments, check_saved_model_only
from .errors import DataError
from .models.base import RankingModel
from .models.recommender import Recommender


class RecommendationPipeline:
    """A retriever and a ranker over one catalogue; `recommend` returns the ranker's top k."""

    def __init__(self, retriever: Recommender, ranker: RankingModel | Recommender, n_candidates: int = 100):
        check_arguments("RecommendationPipeline", n_candidates=n_candidates)
        if not getattr(retriever, "factorized", False):
            raise DataError(f"the retriever must be a factorised model (TwoTower or MatrixFactorization), "
                            f"got {type(retriever).__name__}")
        retriever._require()
        if isinstance(ranker, RankingModel):
            ranker._require_network()
        else:
            ranker._require()
        self.retriever, self.ranker, self.n_candidates = retriever, ranker, n_candidates
        self.user_key, self.item_key = retriever.user_key, retriever.item_key

    @property
    def spec(self) -> Any:
        return self.retriever.spec

    @property
    def query_features(self) -> list[str]:
        """Every user or context feature either model reads (the request's inputs)."""
        names = list(self.retriever.query_features)
        for f in self.ranker.spec.features:
            if f.role != "item" and f.name not in names:
                if f.name in self.retriever.spec.names:
                    names.append(f.name)
                else:
                    raise DataError(f"the ranker's {f.role} feature {f.name!r} is not in the retriever's spec; "
                                    "the pipeline's request schema is the retriever's")
        return names

    def get_config(self) -> dict[str, Any]:
        return {"n_candidates": self.n_candidates, "retriever": self.retriever.get_config(),
                "ranker": self.ranker.get_config()}

    def recommend(self, queries: pd.DataFrame, k: int = 10,
                  exclude: Sequence[Sequence[Any]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k item ids and ranker scores [Q, k]; excluded items are dropped before ranking."""
        check_arguments("RecommendationPipeline.recommend", k=k)
        # Rows are repeated by position below; absent query features are missing, as in the export.
        queries = ctr_data.complete_queries(self.spec, self.query_features, ctr_data.read(queries))
        queries = queries.reset_index(drop=True)
        candidates, retrieval_scores = self.retriever.recommend(queries, self.n_candidates, exclude)
        catalogue = self.retriever.catalogue_.set_index(self.retriever.spec[self.item_key].source, drop=False)
        n = candidates.shape[1]
        pairs = queries.loc[queries.index.repeat(n)].reset_index(drop=True)
        items = catalogue.loc[candidates.reshape(-1)].reset_index(drop=True)
        for column in items.columns:
            pairs[column] = items[column].to_numpy()
        if isinstance(self.ranker, RankingModel):
            scores = self.ranker.predict(pairs).reshape(-1, n).astype(np.float64)
        else:
            rows = pd.Index(self.ranker.catalog_ids()).get_indexer(candidates.reshape(-1)).reshape(-1, n)
            scores = np.stack([self.ranker.score_candidates(queries.iloc[[i]], rows[i:i + 1])[0]
                               for i in range(len(queries))]).astype(np.float64)
        scores = np.where(np.isfinite(retrieval_scores), scores, -np.inf)
        k = min(k, n)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(candidates, top, axis=1), np.take_along_axis(scores, top, axis=1)

    def export(self, path: str | Path, *, format: str = "saved_model", verify: bool = True) -> Path:
        """A SavedModel whose `recommend` retrieves, re-ranks and filters in one graph."""
        from .export_recommend import export_pipeline

        check_saved_model_only("RecommendationPipeline", format)
        return export_pipeline(self, Path(path), verify=verify)
