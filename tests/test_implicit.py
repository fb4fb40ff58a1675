"""Implicit feedback: negatives are never a user's positive and are fresh every epoch; leave-one-out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr.implicit import Interactions, NegativeSampler, leave_one_out


@pytest.mark.parametrize("distribution", ["uniform", "popularity"])
def test_negatives_are_never_a_known_positive(distribution):
    rng = np.random.default_rng(0)
    users = rng.integers(0, 50, 2000)
    items = rng.integers(0, 30, 2000)  # dense: each user has touched a good share of the 30 items
    sampler = NegativeSampler(users, items, 30, distribution=distribution, seed=1)
    positives = set(zip(users.tolist(), items.tolist(), strict=True))
    for epoch in range(3):
        negatives = sampler.sample(users, 4, epoch=epoch)
        assert negatives.shape == (2000, 4)
        drawn = {(u, i) for u, row in zip(users.tolist(), negatives.tolist(), strict=True) for i in row}
        assert not drawn & positives


def test_negatives_are_fresh_each_epoch_and_reproducible_by_seed():
    users, items = np.arange(100) % 10, np.arange(100) % 7
    sampler = NegativeSampler(users, items, 1000, seed=3)
    assert not np.array_equal(sampler.sample(users, 2, epoch=0), sampler.sample(users, 2, epoch=1))
    again = NegativeSampler(users, items, 1000, seed=3)
    np.testing.assert_array_equal(sampler.sample(users, 2, epoch=5), again.sample(users, 2, epoch=5))


def test_popularity_sampling_prefers_popular_items():
    items = np.concatenate([np.zeros(900, np.int64), np.arange(1, 101)])  # item 0 is very popular
    users = np.arange(len(items)) + 10_000  # every interaction its own user: nothing is excluded
    counts = np.bincount(items, minlength=101)
    draws = NegativeSampler(users, items, 101, "popularity", counts, seed=0).sample(np.array([0] * 1000), 1)
    assert (draws == 0).mean() > 0.5
    uniform = NegativeSampler(users, items, 101, seed=0).sample(np.array([0] * 1000), 1)
    assert (uniform == 0).mean() < 0.05


def test_a_user_who_touched_everything_gets_a_clear_error():
    sampler = NegativeSampler(np.zeros(5, np.int64), np.arange(5), 5, seed=0)
    with pytest.raises(ctr.DataError, match="the user at row 0 has interacted with every item"):
        sampler.sample(np.array([0]), 1)


def test_a_user_who_touched_all_but_one_item_gets_that_item():
    sampler = NegativeSampler(np.zeros(499, np.int64), np.arange(1, 500), 500, seed=0)
    assert (sampler.sample(np.array([0, 0]), 3) == 0).all()


def test_leave_one_out_holds_out_each_users_latest_interaction():
    frame = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 3], "item_id": [10, 11, 12, 10, 13, 14],
                          "timestamp": [5, 9, 7, 1, 2, 3]})
    train, test = leave_one_out(frame)
    # User 3 has a single interaction, so it stays in train.
    assert sorted(zip(test.user_id, test.item_id, strict=True)) == [(1, 11), (2, 13)]
    assert len(train) == 4 and 14 in set(train.item_id)
    train, valid, test = leave_one_out(frame, validation=True)
    assert list(zip(valid.user_id, valid.item_id, strict=True)) == [(1, 12)] and list(test.item_id) == [11]
    with pytest.raises(ctr.DataError, match=r"leave_one_out: no user \('user_id'\) has more than 2 interaction"):
        leave_one_out(frame[frame.user_id != 1], validation=True)
    with pytest.raises(ctr.DataError, match=r"'timestamp' is missing from the data of leave_one_out; .* name the "
                                            r"columns with user=\.\.\. and time=\.\.\."):
        leave_one_out(frame.rename(columns={"timestamp": "when"}))


def test_interactions_keep_positive_rows_and_build_user_and_item_tables(spec, frame):
    interactions = Interactions.from_frame(frame, spec)
    positives = (frame.rating >= 4).sum()
    assert len(interactions) == positives
    assert interactions.items.item_id.is_unique and interactions.users.user_id.is_unique
    assert set(interactions.items.columns) == {"item_id", "genres", "title", "release_year", "price"}
    row = interactions.item_index[0]
    assert interactions.items.item_id.iloc[row] == frame[frame.rating >= 4].item_id.iloc[0]


@pytest.mark.parametrize("where", ["interactions", "items"])
def test_an_item_without_an_id_is_refused(spec, frame, where):
    # NaN in a float column, None or "" in a text one: the catalogue would get an item named by nothing.
    blank = frame.head(200).astype({"item_id": object})
    blank.loc[blank.index[[0, 1]], ["item_id", "rating"]] = [[None, 5], [" ", 5]]  # positives, so they count
    data, items = (blank, None) if where == "interactions" else (frame.head(200), blank)
    with pytest.raises(ctr.DataError, match=r"some rows have no item id \(column 'item_id': NaN, None or empty\)"):
        Interactions.from_frame(data, spec, items)


def test_a_user_without_an_id_is_refused_except_by_a_count():
    # A nullable id column with a gap (Parquet's integers with nulls read so): the row's user would
    # have been position -1, and bincount's "'list' argument must have no negative elements" the error.
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                            ctr.Categorical("item_id", dtype="int", role="item")])
    rows = pd.DataFrame({"user_id": pd.array([1, None, 2, 1], dtype="Int64"), "item_id": [5, 6, 5, 7]})
    for make in (lambda: Interactions.from_frame(rows, spec), lambda: ctr.MatrixFactorization(spec).fit(rows),
                 lambda: ctr.data.add_negatives(rows, spec, 1)):
        with pytest.raises(ctr.DataError, match=r"some rows have no user id \(column 'user_id': NaN, None or "
                                                 r"empty\); a user without an id has no vector to learn"):
            make()
    # Popularity counts items: an anonymous view still counts.
    assert ctr.Popularity(spec).fit(rows, verbose=0).counts_.tolist() == [2, 1, 1]


def test_a_catalogue_without_the_item_features_is_an_error_that_says_it_is_the_catalogue():
    spec = ctr.datasets.synthetic_spec()
    frame = ctr.datasets.synthetic(300, seed=0)
    with pytest.raises(ctr.DataError, match=r"columns 'item_id', 'genres'.*it has: 'x'\. That table is fit's `items`"):
        Interactions.from_frame(frame, spec, items=pd.DataFrame({"x": [1]}))
