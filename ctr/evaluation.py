"""Top-K ranking evaluation, one function for every recommender, baselines included.

Two protocols, named in the result:
- `sampled` (He et al. 2017, NCF): each held-out interaction is ranked against `n_negatives` items
  the user never interacted with (in train or test), drawn uniformly; HR@K and NDCG@K.
- `full`: each user's held-out items are ranked against the whole catalogue, the user's training
  items excluded; Recall@K, NDCG@K, MRR and HR@K.
Ties are broken at random (seeded), so a constant score cannot look perfect. Held-out items missing
from the model's catalogue, and (sampled) users with fewer untouched items than `n_negatives`, are
left out and counted in the result.

With a labelled spec only held-out positives (label 1) are ranked; every training interaction,
positive or not, counts as seen. A model takes part by offering `spec`, `catalog_ids()` (item ids,
one per catalogue row) and `score_candidates(queries, rows)`: scores [Q, C] for query rows (user
and context columns) and catalogue row numbers [Q, C]. A model that returns only some candidates (a
retrieve → re-rank pipeline) also takes `allowed` [Q, C], the candidates that compete, since what it
keeps depends on them; it scores the others -inf.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from . import data as ctr_data
from ._args import RANKING_EVALUATE_ONLY, check_arguments, check_choice, named_keywords
from .errors import ArgumentError, DataError
from .implicit import NegativeSampler, keys
from .metrics import click_metrics, ranking_metrics, ranks_with_random_ties
from .spec import FeatureSpec


@dataclass(frozen=True)
class ClickEvaluation:
    """A click model's scores on labelled rows, and the figures `evaluate` reports for them."""

    labels: np.ndarray
    probabilities: np.ndarray
    weights: np.ndarray | None
    figures: dict[str, float]


def read_labelled(owner: str, spec: FeatureSpec, data: ctr_data.Source, group_by: str | None = None,
                  extra: Sequence[str] = ()) -> pd.DataFrame:
    """The columns of `data` an evaluation reads: the spec's, the `extra` ones and the `group_by` column
    (checked a column name); one error names any that is missing."""
    spec_hint = ctr_data.column_hints(spec)
    columns = [*spec.columns, *extra]
    if group_by is not None:
        if not isinstance(group_by, str) or not group_by:
            raise ArgumentError(f"{owner}: group_by must be a column name (e.g. 'user_id'), got {group_by!r}")
        columns.append(group_by)

    def hint(have: Sequence[str], missing: Sequence[str]) -> str:
        grouping = " (group_by names it: the group AUC is over its values)" if group_by in missing else ""
        return spec_hint(have, missing) + grouping
    return ctr_data.read(data, columns, hint=hint, dtypes=ctr_data.csv_dtypes(spec))


def evaluate_clicks(owner: str, spec: FeatureSpec, predict: Callable[[pd.DataFrame], np.ndarray],
                    data: ctr_data.Source, group_by: str | None = None) -> ClickEvaluation:
    """Score labelled rows with `predict` and compute `click_metrics` (with `group_by`, the group AUC over
    that column's values too): the one evaluation of a click model, in memory or exported."""
    frame = read_labelled(owner, spec, data, group_by)
    if len(frame) == 0:
        raise DataError("the evaluation data has no rows")
    y, w = ctr_data.labels(frame, spec), ctr_data.sample_weights(frame, spec)
    p = predict(frame)
    return ClickEvaluation(y, p, w, click_metrics(y, p, w, None if group_by is None else frame[group_by]))


class Ranker(Protocol):
    spec: FeatureSpec

    def catalog_ids(self) -> np.ndarray: ...

    def score_candidates(self, queries: pd.DataFrame, rows: np.ndarray) -> np.ndarray: ...


def evaluate_ranking(model: Ranker, test: ctr_data.Source, train: ctr_data.Source, *, protocol: str = "sampled",
                     k: int = 10, n_negatives: int = 99, seed: int = 0, chunk: int = 256,
                     verbose: str | int = 0) -> dict[str, Any]:
    """Top-K metrics of `model` on the held-out interactions `test`, given the `train` interactions;
    `verbose=1` shows a progress bar over the queries, as Keras' evaluate does over batches."""
    check_choice("evaluate_ranking", "protocol", protocol, ("sampled", "full"))
    check_arguments("evaluate_ranking", k=k, n_negatives=n_negatives, seed=seed, verbose=verbose)
    if not (hasattr(model, "catalog_ids") and hasattr(model, "score_candidates")):
        raise ArgumentError(f"evaluate_ranking: model must rank a catalogue (Popularity, MatrixFactorization, NeuMF, "
                            f"TwoTower, a RecommendationPipeline or a RecommenderExport); got {type(model).__name__}. "
                            "A click model is tested with its evaluate(data), or ranks as a pipeline's ranker")
    spec = model.spec
    user_key, item_key = keys(spec)
    user_col, item_col = spec[user_key].source, spec[item_key].source
    if train is None:
        raise ArgumentError("evaluate_ranking: train is None; pass the training interactions: the full protocol "
                            "leaves each user's training items out of the ranking, and the sampled one never draws "
                            "them as negatives (an empty table, e.g. test.head(0), when there are none)")
    test, train = (ctr_data.read(given, what=f"evaluate_ranking's {name}") for name, given in
                   (("test", test), ("train", train)))
    for name, given in (("test", test), ("train", train)):
        ctr_data.require_columns(given, [user_col, item_col], where=f"evaluate_ranking's {name} interactions",
                                 hint=f" (each row is one interaction: a user, in column {user_col!r}, and an item, "
                                      f"in column {item_col!r})")
    if spec.label is not None:  # only held-out positives are relevant; every training row counts as seen
        test = test[ctr_data.labels(test, spec) == 1].reset_index(drop=True)
    catalogue = pd.Index(model.catalog_ids())
    test_rows = catalogue.get_indexer(test[item_col])
    unknown = int((test_rows < 0).sum())
    test = test[test_rows >= 0].reset_index(drop=True)
    test_rows = test_rows[test_rows >= 0]
    if len(test) == 0:
        raise _nothing_to_rank(spec, unknown)
    users = pd.Index(pd.concat([train[user_col], test[user_col]]).unique())
    train_rows = catalogue.get_indexer(train[item_col])
    known_train = train_rows >= 0
    train_users = users.get_indexer(train[user_col])[known_train]
    train_rows = train_rows[known_train]

    skipped_users = 0
    if protocol == "sampled":
        # One query per held-out interaction: its item against n items the user never touched.
        all_users = np.concatenate([train_users, users.get_indexer(test[user_col])])
        all_rows = np.concatenate([train_rows, test_rows])
        touched = pd.Series(all_rows).groupby(all_users).nunique()
        too_busy = set(touched.index[len(catalogue) - touched.to_numpy() < n_negatives])
        if too_busy:  # fewer untouched items than negatives to draw: the protocol cannot rank them
            keep = ~np.isin(users.get_indexer(test[user_col]), list(too_busy))
            skipped_users = len(too_busy)
            test, test_rows = test[keep].reset_index(drop=True), test_rows[keep]
            if len(test) == 0:
                raise _nothing_to_rank(spec, unknown, f" from a user who left {n_negatives} items untouched "
                                                      f"({skipped_users} users did not)")
        everything = NegativeSampler(all_users, all_rows, len(catalogue), seed=seed)
        negatives = everything.sample(users.get_indexer(test[user_col]), n_negatives, distinct=True)
        candidates = np.concatenate([test_rows[:, None], negatives], axis=1)
        queries, targets = test, np.zeros((len(test), 1), np.int64)
        description = (f"sampled: each held-out interaction ranked against {n_negatives} uniformly sampled items "
                       "the user never interacted with")
    else:
        # One query per user: all held-out items against the catalogue, training items excluded.
        grouped = pd.DataFrame({"user": users.get_indexer(test[user_col]), "row": test_rows})
        per_user = grouped.groupby("user")["row"].apply(lambda r: sorted(set(r))).to_dict()
        order = sorted(per_user)
        last = test.assign(_u=grouped["user"]).drop_duplicates("_u", keep="last").set_index("_u")
        queries = last.loc[order].reset_index(drop=True)
        width = max(len(r) for r in per_user.values())
        targets = np.full((len(order), width), -1, np.int64)
        for i, u in enumerate(order):
            targets[i, :len(per_user[u])] = per_user[u]
        candidates = np.broadcast_to(np.arange(len(catalogue)), (len(order), len(catalogue)))
        # Each query's training items, as (query position, catalogue row) sorted by position, so that
        # a chunk's mask is built for that chunk alone: [chunk, catalogue], never [users, catalogue].
        position = pd.Index(order).get_indexer(train_users)
        by_query = np.argsort(position[position >= 0], kind="stable")
        seen_query, seen_row = position[position >= 0][by_query], train_rows[position >= 0][by_query]
        description = "full: each user's held-out items ranked against every catalogue item, training items excluded"

    ranks = []
    cuts = "allowed" in inspect.signature(model.score_candidates).parameters
    advance = ctr_data.progress_bar(lambda: len(queries), verbose, unit="query")
    for start in range(0, len(queries), chunk):
        part = slice(start, start + chunk)
        rows = np.asarray(candidates[part])
        valid = None
        if protocol == "full":  # training items do not compete; held-out items do, even if also trained on
            valid = np.ones(rows.shape, dtype=bool)
            lo, hi = np.searchsorted(seen_query, [start, start + len(rows)])
            valid[seen_query[lo:hi] - start, seen_row[lo:hi]] = False
            held = targets[part]
            valid[np.arange(len(held))[:, None], np.maximum(held, 0)] |= held >= 0
        part_queries = queries.iloc[part].reset_index(drop=True)
        if cuts:  # a model that keeps some candidates only (a pipeline) chooses among those that compete
            scores = model.score_candidates(part_queries, rows, allowed=valid)
        else:
            scores = model.score_candidates(part_queries, rows)
        ranks.append(ranks_with_random_ties(scores, targets[part], valid, seed=seed + start))
        advance(len(rows))
    result = ranking_metrics(np.concatenate(ranks), k)
    if protocol == "sampled":
        result = {key: result[key] for key in (f"HR@{k}", f"NDCG@{k}", "MRR", "queries")}
    return {"protocol": description, "k": k, **result, "skipped_unknown_items": unknown,
            "skipped_users": skipped_users}


class RankingEvaluation:
    """Keras' `evaluate` for the models `evaluate_ranking` takes: a recommender's test is a ranking."""

    @named_keywords(RANKING_EVALUATE_ONLY)
    def evaluate(self, test: ctr_data.Source, train: ctr_data.Source, *, protocol: str = "sampled", k: int = 10,
                 n_negatives: int = 99, seed: int = 0, verbose: str | int = 0) -> dict[str, Any]:
        """Top-K metrics on the held-out interactions `test`, given the `train` interactions (whose items
        are not ranked again): `ctr.evaluate_ranking(self, test, train, ...)`."""
        return evaluate_ranking(self, test, train, protocol=protocol, k=k, n_negatives=n_negatives, seed=seed,
                                verbose=verbose)


def _nothing_to_rank(spec: FeatureSpec, unknown: int, more: str = "") -> DataError:
    return DataError("no held-out interaction to rank: the test data has none"
                     + (" with label 1" if spec.label is not None else "")
                     + (f" whose item is in the catalogue ({unknown} are not)" if unknown else "") + more)
