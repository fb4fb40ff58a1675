"""Ranking metrics match hand-computed values, and the protocols rank what they say they rank."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr.metrics import ranking_metrics, ranks_with_random_ties


def test_metrics_by_hand():
    # Query 1: its one relevant item at rank 0. Query 2: relevant items at ranks 2 and 12 (K = 10).
    m = ranking_metrics(np.array([[0, -1], [2, 12]]), k=10)
    ndcg_2 = (1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert m["HR@10"] == 1.0
    assert m["Recall@10"] == pytest.approx((1 + 0.5) / 2)
    assert m["NDCG@10"] == pytest.approx((1 + ndcg_2) / 2)
    assert m["MRR"] == pytest.approx((1 + 1 / 3) / 2)
    assert ranking_metrics(np.array([[10]]), k=10)["HR@10"] == 0.0


def test_ranks_exclude_invalid_candidates_and_break_ties_at_random():
    scores = np.array([[0.9, 0.5, 0.7, 0.1]])
    assert ranks_with_random_ties(scores, np.array([[1]]))[0, 0] == 2
    assert ranks_with_random_ties(scores, np.array([[1]]), valid=np.array([[False, True, False, True]]))[0, 0] == 0
    flat = np.zeros((2000, 100))
    ranks = ranks_with_random_ties(flat, np.zeros((2000, 1), np.int64), seed=0)
    assert 40 < ranks.mean() < 60  # a constant scorer lands in the middle, not at the top


class _Oracle:
    """Scores the held-out item highest (or lowest): HR must be 1 (or 0)."""

    def __init__(self, spec, test, items, sign=1.0):
        self.spec, self.items, self.sign = spec, np.asarray(items), sign
        self.truth = dict(zip(test.user_id, test.item_id, strict=True))

    def catalog_ids(self):
        return self.items

    def score_candidates(self, queries, rows):
        wanted = np.array([self.truth[u] for u in queries.user_id])
        return self.sign * (self.items[rows] == wanted[:, None]).astype(float)


def _toy():
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                            ctr.Categorical("item_id", dtype="int", role="item")])
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"user_id": np.repeat(np.arange(20), 5), "item_id": rng.integers(0, 200, 100)})
    test = pd.DataFrame({"user_id": np.arange(20), "item_id": 200 + np.arange(20)})
    return spec, train, test, np.arange(220)


@pytest.mark.parametrize("protocol", ["sampled", "full"])
def test_protocols_on_an_oracle_and_an_anti_oracle(protocol):
    spec, train, test, items = _toy()
    best = ctr.evaluate_ranking(_Oracle(spec, test, items), test, train, protocol=protocol)
    worst = ctr.evaluate_ranking(_Oracle(spec, test, items, sign=-1), test, train, protocol=protocol)
    assert best["HR@10"] == 1.0 and best["NDCG@10"] == 1.0 and worst["HR@10"] == 0.0
    assert best["protocol"].startswith(protocol) and best["queries"] == 20
    if protocol == "full":
        assert best["Recall@10"] == 1.0 and best["MRR"] == 1.0


def test_a_ranking_evaluation_shows_its_progress_over_the_queries_when_asked(capsys):
    spec, train, test, items = _toy()
    quiet = ctr.evaluate_ranking(_Oracle(spec, test, items), test, train, protocol="full", chunk=8)
    assert capsys.readouterr().out == ""
    shown = ctr.evaluate_ranking(_Oracle(spec, test, items), test, train, protocol="full", chunk=8, verbose=1)
    assert shown == quiet and "20/20 [" in capsys.readouterr().out
    with pytest.raises(ctr.ArgumentError, match="evaluate_ranking: verbose"):
        ctr.evaluate_ranking(_Oracle(spec, test, items), test, train, verbose="loud")


def test_full_protocol_excludes_training_items():
    spec, train, test, items = _toy()

    class TrainLover(_Oracle):  # ranks the user's training items first, then the held-out item
        def score_candidates(self, queries, rows):
            seen = train.groupby("user_id").item_id.apply(set)
            base = super().score_candidates(queries, rows)
            bonus = np.array([[self.items[r] in seen[u] for r in row] for u, row in zip(queries.user_id, rows,
                                                                                       strict=True)])
            return base + 2 * bonus

    result = ctr.evaluate_ranking(TrainLover(spec, test, items), test, train, protocol="full")
    assert result["MRR"] == 1.0  # the training items were not competing


@pytest.mark.parametrize("protocol", ["sampled", "full"])
def test_nothing_to_rank_is_a_data_error_that_says_why(protocol):
    spec, train, test, items = _toy()
    oracle = _Oracle(spec, test, items)
    with pytest.raises(ctr.DataError, match=r"no held-out interaction to rank: the test data has none$"):
        ctr.evaluate_ranking(oracle, test.head(0), train, protocol=protocol)
    with pytest.raises(ctr.DataError, match=r"whose item is in the catalogue \(20 are not\)"):
        ctr.evaluate_ranking(oracle, test.assign(item_id=10_000), train, protocol=protocol)
    with pytest.raises(ctr.ArgumentError, match=r"evaluate_ranking: model must rank a catalogue .*; got FM\. A click "
                                                r"model is tested with its evaluate\(data\)"):
        ctr.evaluate_ranking(ctr.FM(ctr.FeatureSpec(spec.features, label=ctr.Label("clicked"))), test, train,
                             protocol=protocol)


def _ranks_by_comparing_everything(scores, targets, valid, seed):
    """The reference: every target compared with every candidate ([Q, R, C] at once)."""
    rng = np.random.default_rng(seed)
    scores = np.where(valid, scores, -np.inf) if valid is not None else np.asarray(scores, float)
    target_scores = scores[np.arange(len(scores))[:, None], np.maximum(targets, 0)]
    greater = (scores[:, None, :] > target_scores[:, :, None]).sum(axis=2)
    ties = (scores[:, None, :] == target_scores[:, :, None]).sum(axis=2) - 1
    return np.where(targets >= 0, greater + np.floor(rng.random(ties.shape) * (ties + 1)).astype(np.int64), -1)


def test_ranks_from_sorted_scores_equal_comparing_every_pair():
    rng = np.random.default_rng(1)
    for trial in range(200):
        q, c, r = rng.integers(1, 20), rng.integers(1, 50), rng.integers(1, 6)
        scores = rng.integers(0, 5, (q, c)).astype(float) if trial % 2 else rng.normal(size=(q, c))  # ties, or none
        targets = rng.integers(-1, c, (q, r))
        valid = rng.random((q, c)) > 0.3
        valid[np.arange(q)[:, None], np.maximum(targets, 0)] |= targets >= 0
        for v in (None, valid):
            np.testing.assert_array_equal(ranks_with_random_ties(scores, targets, v, seed=trial),
                                          _ranks_by_comparing_everything(scores, targets, v, trial))


def test_sampled_protocol_ranks_against_different_items():
    """'99 sampled items' are 99 items: drawn with replacement, almost every query of a 1,682-item
    catalogue (MovieLens 100K) held some negative twice, which counted twice against the held-out item.
    A small catalogue makes repeats certain, and users who touched most of it take the exact draw."""
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                            ctr.Categorical("item_id", dtype="int", role="item")])
    items = np.arange(60)
    train = pd.DataFrame({"user_id": np.repeat([0, 1, 2], [3, 3, 45]),
                          "item_id": np.r_[0:3, 3:6, 6:51]})
    test = pd.DataFrame({"user_id": [0, 1, 2], "item_id": [55, 56, 57]})
    seen = []

    class Recorder(_Oracle):
        def score_candidates(self, queries, rows):
            seen.append(np.asarray(rows).copy())
            return super().score_candidates(queries, rows)

    ctr.evaluate_ranking(Recorder(spec, test, items), test, train, protocol="sampled", n_negatives=12)
    rows = np.concatenate(seen)
    assert rows.shape == (3, 13)
    touched = train.groupby("user_id").item_id.apply(set)
    for user, row in zip(test.user_id, rows, strict=True):
        assert len(set(row.tolist())) == 13, row  # the held-out item and 12 different negatives
        assert not set(items[row[1:]]) & (touched[user] | {test.item_id[user]})
