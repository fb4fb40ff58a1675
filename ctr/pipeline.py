"""Retrieval → ranking → filter: a fast retriever proposes candidates, a richer ranker orders them.

A two-tower (or MF, or EASE) model retrieves the `n_candidates` best items of the catalogue for a query;
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
from ._args import PIPELINE_NAMES, KerasNames, check_arguments, check_saved_model_only, named_keywords
from ._model_names import CLICK_MODEL_CLASSES
from .errors import ArgumentError, DataError
from .evaluation import RankingEvaluation
from .models.base import RankingModel
from .models.ease import EASE
from .models.recommender import Recommender, pad_id


class RecommendationPipeline(RankingEvaluation, KerasNames):
    """A retriever and a ranker over one catalogue; `recommend` returns the ranker's top k."""

    _KERAS_NAMES = PIPELINE_NAMES

    def __init__(self, retriever: Recommender | EASE, ranker: RankingModel | Recommender, n_candidates: int = 100):
        check_arguments("RecommendationPipeline", n_candidates=n_candidates)
        if not (getattr(retriever, "factorized", False) or isinstance(retriever, EASE)):
            raise DataError(f"the retriever must score the whole catalogue at once (TwoTower, MatrixFactorization or "
                            f"EASE), got {type(retriever).__name__}")
        if not isinstance(ranker, RankingModel | Recommender):
            raise ArgumentError("the ranker scores each (query, candidate) pair with its features: a click model "
                                f"({CLICK_MODEL_CLASSES}) or a trained recommender (NeuMF, "
                                f"MatrixFactorization, TwoTower); got {type(ranker).__name__}")
        if isinstance(retriever, EASE):
            retriever.catalog_ids()  # NotFittedError before it is fitted
        else:
            retriever._require_network()
        ranker._require_network()
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

    def __repr__(self) -> str:
        return f"RecommendationPipeline({self.retriever!r}, {self.ranker!r}, n_candidates={self.n_candidates})"

    @named_keywords()
    def recommend(self, queries: pd.DataFrame, k: int = 10,
                  exclude: Sequence[Sequence[Any]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k item ids and ranker scores [Q, k]; excluded items are dropped before ranking, and a
        row with fewer than k items left is padded with -1 (or "" for text ids), as the export pads it."""
        check_arguments("RecommendationPipeline.recommend", k=k)
        queries = self._queries(queries)
        candidates, retrieval_scores = self.retriever.recommend(queries, self.n_candidates, exclude)
        scores = self._rerank(queries, candidates, retrieval_scores > -np.inf)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :min(k, candidates.shape[1])]
        chosen = np.take_along_axis(scores, top, axis=1)
        return np.where(chosen > -np.inf, np.take_along_axis(candidates, top, axis=1), pad_id(candidates)), chosen

    @named_keywords()
    def similar_items(self, items: Sequence[Any], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The retriever's `similar_items`: the k catalogue items nearest to each of `items` by their item vectors."""
        return self.retriever.similar_items(items, k)

    def catalog_ids(self) -> np.ndarray:
        """Item ids of the catalogue the pipeline retrieves from (the retriever's), one per row."""
        return self.retriever.catalog_ids()

    def score_candidates(self, queries: ctr_data.Source, rows: np.ndarray,
                         allowed: np.ndarray | None = None) -> np.ndarray:
        """Scores [Q, C] of catalogue rows `rows` [Q, C] as the pipeline orders them, for
        `ctr.evaluate_ranking`: the ranker's scores of the `n_candidates` rows that the retriever puts
        first among the `allowed` ones ([Q, C], all when None), and -inf for the others, which the
        pipeline never returns."""
        queries = self._queries(queries)
        rows = np.asarray(rows)
        retrieval = self.retriever.score_candidates(queries, rows).astype(np.float64)
        if allowed is not None:
            retrieval = np.where(allowed, retrieval, -np.inf)
        first = np.argsort(-retrieval, axis=1, kind="stable")[:, :self.n_candidates]
        retrieved = np.take_along_axis(retrieval, first, axis=1) > -np.inf
        scores = np.full(rows.shape, -np.inf)
        ids = self.catalog_ids()[np.take_along_axis(rows, first, axis=1)]
        np.put_along_axis(scores, first, self._rerank(queries, ids, retrieved), axis=1)
        return scores

    def _queries(self, queries: ctr_data.Source) -> pd.DataFrame:
        # As in the export: a known user's stored features fill, other absent features are missing; rows
        # are repeated by position below.
        return ctr_data.complete_queries(self.spec, self.query_features, ctr_data.query_rows(self.spec, queries),
                                         self.retriever.users_).reset_index(drop=True)

    def _rerank(self, queries: pd.DataFrame, candidates: np.ndarray, retrieved: np.ndarray) -> np.ndarray:
        """The ranker's scores [Q, n] of item ids `candidates` [Q, n] for each query row, from the pairs'
        raw features (the items' from the retriever's catalogue), as the export scores them; -inf
        where not `retrieved`."""
        query_rows, columns = np.nonzero(retrieved)
        scores = np.full(candidates.shape, -np.inf)
        if len(query_rows) == 0:
            return scores
        catalogue = self.retriever.catalogue_.set_index(self.retriever.spec[self.item_key].source, drop=False)
        pairs = queries.iloc[query_rows].reset_index(drop=True)
        items = catalogue.loc[candidates[query_rows, columns]].reset_index(drop=True)
        for column in items.columns:
            pairs[column] = items[column].to_numpy()
        scores[query_rows, columns] = self.ranker.predict(pairs)
        return scores

    @named_keywords()
    def export(self, path: str | Path, *, format: str = "saved_model", verify: bool = True) -> Path:
        """A SavedModel whose `recommend` retrieves, re-ranks and filters in one graph."""
        from .export_recommend import export_pipeline

        check_saved_model_only("RecommendationPipeline", format)
        return export_pipeline(self, Path(path), verify=verify)
