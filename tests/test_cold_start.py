"""Cold start: users never seen in training are scored and served through their content profile
(the items they touched, looked up inside the graph) and their own features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr._keras import keras, tf
from ctr.data import raw_features
from ctr.errors import SpecError


def _profile_spec(pooling: str = "mean", dropout: float = 0.5) -> ctr.FeatureSpec:
    raw = ctr.datasets.synthetic_spec().to_dict()
    for feature in raw["features"]:
        if feature["name"] == "user_id":
            feature["id_dropout"] = dropout
    raw["features"].append({"name": "history", "kind": "history", "items": "item_id", "max_length": 10,
                            "pooling": pooling})
    return ctr.FeatureSpec.from_dict(raw)


@pytest.fixture(scope="module")
def with_history(frame):
    return ctr.data.add_history(frame, max_length=10)


@pytest.fixture(scope="module")
def deepfm(with_history):
    model = ctr.DeepFM(_profile_spec("attention"), embedding_dim=8, hidden_units=(32, 16), learning_rate=0.003,
                       batch_size=256)
    model.fit(with_history, epochs=3, verbose=0)
    return model


def test_history_spec_is_validated():
    raw = _profile_spec().to_dict()
    raw["features"][-1]["items"] = "genres"
    with pytest.raises(SpecError, match=r"features\[11\]\.items: 'genres' must name a categorical item feature"):
        ctr.FeatureSpec.from_dict(raw)
    raw["features"][-1].update(items="item_id", pooling="max")
    with pytest.raises(SpecError, match=r"features\[11\]\.pooling"):
        ctr.FeatureSpec.from_dict(raw)
    raw["features"][-1]["pooling"] = "mean"
    raw["features"][0]["id_dropout"] = 1.0
    with pytest.raises(SpecError, match=r"id_dropout: must be in \[0, 1\)"):
        ctr.FeatureSpec.from_dict(raw)


def test_add_history_lists_earlier_items_most_recent_first():
    frame = pd.DataFrame({"user_id": [1, 1, 2, 1, 2], "item_id": [10, 11, 20, 12, 21],
                          "timestamp": [3, 1, 5, 2, 4]})
    out = ctr.data.add_history(frame, max_length=2)
    assert out["history"].tolist() == ["12|11", "", "21", "11", ""]
    profiles = pd.DataFrame({"user_id": [7, 7, 7], "item_id": [1, 2, 3], "timestamp": [1, 3, 2]})
    cold = ctr.data.add_history(pd.DataFrame({"user_id": [7, 8], "item_id": [5, 5], "timestamp": [9, 9]}),
                                profiles=profiles, max_length=2)
    assert cold["history"].tolist() == ["2|3", ""]
    with pytest.raises(ctr.DataError, match="add_history: the data already has a column 'history'; pass column="):
        ctr.data.add_history(out)  # its histories would be overwritten without a word
    assert ctr.data.add_history(out, column="again", max_length=2)["again"].equals(out["history"])


def test_add_history_first_lists_the_users_first_items_and_never_later_ones():
    frame = pd.DataFrame({"user_id": [1, 1, 2, 1, 1], "item_id": [10, 11, 20, 12, 13],
                          "timestamp": [3, 1, 5, 2, 4]})
    recent = ctr.data.add_history(frame, max_length=2)
    first = ctr.data.add_history(frame, max_length=2, first=True)
    assert recent["history"].tolist() == ["12|11", "", "", "11", "10|12"]
    assert first["history"].tolist() == ["12|11", "", "", "11", "12|11"]
    with pytest.raises(ValueError, match="one or the other"):
        ctr.data.add_history(frame, profiles=frame, first=True)


def test_splits_and_histories_read_their_columns_from_a_spec():
    # A log whose columns are not named user_id, item_id and timestamp: the spec already names them.
    log = pd.DataFrame({"user": [1, 1, 2, 1, 2, 2], "track": ["a", "b", "c", "d", "e", "f"],
                        "played_at": [3, 1, 5, 2, 4, 6]})
    spec = ctr.FeatureSpec([ctr.Categorical("user", role="user"), ctr.Categorical("track", role="item"),
                            ctr.Timestamp("played_at"),
                            ctr.History("recent", items="track", max_length=2, separator=",")])
    _, test = ctr.leave_one_out(log, spec=spec)
    assert test["track"].tolist() == ["a", "f"]
    assert [len(p) for p in ctr.data.time_split(log, (0.5, 0.5), spec=spec)] == [3, 3]
    assert ctr.data.temporal_split(log, (0.5, 0.5), spec=spec)[1]["track"].tolist() == ["a", "f"]
    rest, profile, cold = ctr.data.cold_user_split(log, 0.5, 1, spec=spec, seed=0)
    assert len(rest) == 3 and len(profile) == 1 and len(cold) == 2
    # add_history writes the column the spec's history reads, with its separator and length
    assert ctr.data.add_history(log, spec=spec)["recent"].tolist() == ["d,b", "", "e", "b", "", "c,e"]
    assert ctr.data.add_history(log, spec=spec, max_length=1, column="other")["other"].tolist()[0] == "d"
    backwards = log.assign(rank=-log["played_at"])  # a column named in the call wins over the spec's
    assert ctr.leave_one_out(backwards, time="rank", spec=spec)[1]["track"].tolist() == ["b", "e"]
    with pytest.raises(ctr.DataError, match=r"name the columns with user=\.\.\. and time=\.\.\., or give the spec "
                                            r"whose features read them \(spec=\.\.\.\)"):
        ctr.leave_one_out(log)
    with pytest.raises(ctr.ArgumentError, match=r"leave_one_out: user got a spec \(FeatureSpec\); give a spec by "
                                                r"its keyword: leave_one_out\(data, \.\.\., spec=\.\.\.\)"):
        ctr.leave_one_out(log, spec)  # as add_negatives(frame, spec) takes it
    with pytest.raises(ctr.ArgumentError, match=r"time_split: the second argument .* got a spec"):
        ctr.data.time_split(log, spec)
    with pytest.raises(ctr.ArgumentError, match="cold_user_split: fraction got a spec"):
        ctr.data.cold_user_split(log, "spec.yaml")
    two = ctr.FeatureSpec([*spec.features, ctr.History("first", items="track")])
    with pytest.raises(ctr.ArgumentError, match=r"the spec has 2 history features \('recent', 'first'\); name"):
        ctr.data.add_history(log, spec=two)
    assert ctr.data.add_history(log, spec=two, column="first", first=True)["first"].tolist()[-1] == "c|e"


def test_cold_user_split_holds_whole_users_out(frame):
    rest, profile, test = ctr.data.cold_user_split(frame, fraction=0.2, profile_size=5, seed=3)
    cold = set(profile["user_id"])
    assert cold and not cold & set(rest["user_id"]) and set(test["user_id"]) <= cold
    assert abs(len(cold) - 0.2 * frame["user_id"].nunique()) <= 1
    assert profile.groupby("user_id").size().max() == 5
    last_profile = profile.groupby("user_id")["timestamp"].max()
    first_test = test.groupby("user_id")["timestamp"].min()
    assert (last_profile.reindex(first_test.index) <= first_test).all()  # the profile comes first
    assert len(rest) + len(profile) + len(test) == len(frame)


def test_unseen_user_ids_encode_as_missing_with_id_dropout(deepfm):
    encode = deepfm.preprocessor_.encoder(["user_id"])
    import tensorflow as tf

    ids = encode({"user_id": tf.constant([123456789, ctr.MISSING_INT], tf.int64)})["user_id"].numpy()
    assert ids.tolist() == [0, 0]


def test_unknown_user_score_depends_on_history(deepfm, with_history):
    rows = with_history.head(20).copy()
    rows["user_id"] = 99_999_999
    a, b = rows.copy(), rows.copy()
    items = with_history["item_id"].unique()
    a["history"] = "|".join(map(str, items[:5]))
    b["history"] = "|".join(map(str, items[-5:]))
    pa_, pb = deepfm.predict(a), deepfm.predict(b)
    assert np.abs(pa_ - pb).max() > 1e-3, "the history does not change the score"
    none = rows.assign(history="")
    missing_id = a.assign(user_id=ctr.MISSING_INT)
    np.testing.assert_allclose(deepfm.predict(missing_id), pa_, atol=1e-6)  # unseen id = missing id
    assert np.abs(deepfm.predict(none) - pa_).max() > 1e-3
    unknown_items = a.assign(history="777777|888888")
    np.testing.assert_allclose(deepfm.predict(unknown_items), deepfm.predict(none), atol=1e-6)


def _two_taste_world(seed: int = 0) -> pd.DataFrame:
    """Items of two genres, equally popular; each user touches only items of one genre. The only
    thing that tells a cold user's taste is what they touched."""
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({"item_id": np.arange(1, 121), "genres": ["Horror"] * 60 + ["Romance"] * 60})
    items["title"] = np.where(items["genres"] == "Horror", "blood night", "love heart")
    rows = []
    for user in range(1, 301):
        genre = "Horror" if user % 2 else "Romance"
        touched = rng.choice(items.loc[items["genres"] == genre, "item_id"], size=15, replace=False)
        rows += [(user, int(i), 1_000_000 + 3600 * t) for t, i in enumerate(touched)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).merge(items, on="item_id")
    return ctr.data.add_history(frame, max_length=10)


TASTE_SPEC = {"name": "tastes", "features": [
    {"name": "user_id", "kind": "categorical", "dtype": "int", "role": "user", "id_dropout": 0.5},
    {"name": "history", "kind": "history", "items": "item_id", "max_length": 10},
    {"name": "item_id", "kind": "categorical", "dtype": "int", "role": "item"},
    {"name": "genres", "kind": "multi_categorical", "role": "item"},
    {"name": "title", "kind": "text", "role": "item"}]}


@pytest.fixture(scope="module")
def tower():
    world = _two_taste_world()
    model = ctr.TwoTower(ctr.FeatureSpec.from_dict(TASTE_SPEC), embedding_dim=16, batch_size=256, seed=0)
    model.fit(world, epochs=5, verbose=0)
    return model, world


def _taste_queries(world: pd.DataFrame) -> pd.DataFrame:
    horror = world.loc[world["genres"] == "Horror", "item_id"].unique()[:5]
    romance = world.loc[world["genres"] == "Romance", "item_id"].unique()[:5]
    return pd.DataFrame({"user_id": [99_999_999, 99_999_998],
                         "history": ["|".join(map(str, horror)), "|".join(map(str, romance))]})


def test_two_unknown_users_with_different_histories_get_different_recommendations(tower):
    model, world = tower
    ids, _ = model.recommend(_taste_queries(world), k=10)
    genre = world.drop_duplicates("item_id").set_index("item_id")["genres"]
    assert set(ids[0]) != set(ids[1])
    assert (genre.reindex(ids[0]) == "Horror").sum() >= 8, ids  # each gets items like the ones they touched
    assert (genre.reindex(ids[1]) == "Romance").sum() >= 8, ids


def test_cold_users_are_served_in_a_fresh_process_without_ctr(deepfm, with_history, tower, tmp_path, serve_fresh):
    # Profile scores from a click model, and recommendations from a two-tower, in one fresh process.
    rows = with_history.head(30).copy().reset_index(drop=True)
    rows.loc[:14, "user_id"] = 99_999_999  # cold users with their histories
    rows.loc[5, "history"] = ""
    rows.loc[6, "history"] = "12345678|3"
    scores_path = deepfm.export(tmp_path / "deepfm")
    raw = raw_features(rows, deepfm.spec)
    request = {"deepfm": {"path": str(scores_path), "inputs": {k: v.tolist() for k, v in raw.items()}}}
    model, world = tower
    queries = _taste_queries(world)
    path = model.export(tmp_path / "tower")
    served = ctr.load(path)
    expected_ids, _ = served.recommend(queries, k=5)
    in_process, _ = model.recommend(queries, k=5)
    np.testing.assert_array_equal(expected_ids, in_process)
    raw = raw_features(queries, model.spec, served.query_features)
    request["tower"] = {"path": str(path), "inputs": {k: v.tolist() for k, v in raw.items()}, "k": 5,
                        "exclude": [[-1], [-1]]}
    fresh = serve_fresh(request, tmp_path)
    np.testing.assert_allclose(fresh["deepfm"], deepfm.predict(rows), atol=1e-5, rtol=0)
    np.testing.assert_array_equal(np.array(fresh["tower"]["item_ids"]), expected_ids)


def test_two_tower_learns_the_missing_user_vector_from_dropped_ids(tower):
    """With id_dropout, training sees the user id as missing now and then, so the "missing" row
    (what an unseen user is served with) is trained; a two-tower once never dropped an id."""
    _, world = tower
    model = ctr.TwoTower(ctr.FeatureSpec.from_dict(TASTE_SPEC), embedding_dim=8, batch_size=512, seed=0)
    snapshot = _MissingUserRow()
    model.fit(world.head(1024), epochs=1, callbacks=[snapshot], verbose=0)
    assert np.abs(_missing_user_row(model.network_) - snapshot.before).max() > 1e-3


@pytest.fixture(scope="module")
def neumf(tower):
    """A NeuMF on the two-taste world, and its missing-user row as it was before training."""
    _, world = tower
    model = ctr.NeuMF(ctr.FeatureSpec.from_dict(TASTE_SPEC), embedding_dim=8, hidden_units=(16,), batch_size=256)
    snapshot = _MissingUserRow()
    model.fit(world, epochs=3, callbacks=[snapshot], verbose=0)
    return model, world, snapshot.before


def test_neumf_drops_an_id_in_both_branches_at_once(neumf):
    """A dropped id is missing in the GMF and the MLP branch alike (as for an unseen user), never
    in one only, and the missing row is trained."""
    model, world, before = neumf
    assert np.abs(_missing_user_row(model.network_) - before).max() > 1e-3
    encoded = {k: tf.constant(v) for k, v in model._encode_table(
        world.head(64), model.query_features + model.item_features).items()}
    scorer = model.network_.scorer
    kept = scorer(encoded, training=False).numpy()
    missing = scorer({**encoded, "user_id": tf.zeros_like(encoded["user_id"])}, training=False).numpy()
    trained = scorer(encoded, training=True).numpy()
    as_kept, as_missing = np.isclose(trained, kept, atol=1e-6), np.isclose(trained, missing, atol=1e-6)
    assert (as_kept | as_missing).all() and as_kept.any() and as_missing.any()


def _missing_user_row(network) -> np.ndarray:
    """The user id's "missing" row (index 0) in the scorer's fused embedding table."""
    embeddings = getattr(network.scorer, "embeddings", None) or network.scorer.gmf
    return embeddings.table[embeddings.offsets["user_id"]].numpy()


class _MissingUserRow(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.before = _missing_user_row(self.model)


def test_deepfm_learns_the_missing_user_vector_from_dropped_ids(with_history):
    model = ctr.DeepFM(_profile_spec(), embedding_dim=4, hidden_units=(8,), batch_size=512)
    snapshot = _MissingUserRow()
    model.fit(with_history.head(1024), epochs=1, callbacks=[snapshot], verbose=0)
    assert np.abs(_missing_user_row(model.network_) - snapshot.before).max() > 1e-3


def test_neumf_reads_the_history_on_its_query_side(neumf):
    model, world, _ = neumf
    ids, _ = model.recommend(_taste_queries(world), k=10)
    genre = world.drop_duplicates("item_id").set_index("item_id")["genres"]
    assert (genre.reindex(ids[0]) == "Horror").sum() > (genre.reindex(ids[1]) == "Horror").sum(), ids


def test_cli_recommends_for_a_new_user_from_a_history(tower, tmp_path, capsys):
    from ctr.cli import main

    model, world = tower
    path = model.export(tmp_path / "tower")
    touched = world.loc[world["genres"] == "Romance", "item_id"].unique()[:3].tolist()
    argv = ["recommend", "--model", str(path), "--history", ",".join(map(str, touched)), "--k", "5"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "a new user who touched 3 items" in out
    shown = [int(line.split()[1]) for line in out.splitlines()[2:] if line.strip()]
    assert len(shown) == 5 and not set(shown) & set(touched)
    joined = [*argv[:4], "|".join(map(str, touched[:2])), *argv[5:]]  # the history's own separator: two items
    assert main(joined) == 0
    assert "a new user who touched 2 items" in capsys.readouterr().out
    # A file of new users, each with a history: theirs are left out too, as --history's are.
    queries = _taste_queries(world)
    queries.to_csv(tmp_path / "new.csv", index=False)
    assert main(["recommend", "--model", str(path), "--data", str(tmp_path / "new.csv"), "--k", "5",
                 "--out", str(tmp_path / "recs.csv")]) == 0
    recs = pd.read_csv(tmp_path / "recs.csv")
    for user, history in zip(queries["user_id"], queries["history"], strict=True):
        mine = recs.loc[recs["user_id"] == user, "item_id"].tolist()
        listed = [int(x) for x in history.split("|")]
        assert len(mine) == 5 and not set(mine) & set(listed)
        assert mine == model.recommend(queries[queries["user_id"] == user], k=5, exclude=[listed])[0][0].tolist()


@pytest.mark.parametrize("model_class", [ctr.DeepFM, ctr.NeuMF, ctr.TwoTower])
def test_a_history_reads_an_item_feature_of_ids_beside_the_item_id(model_class):
    """The profile embeds each history item's item id with its other id features (a studio, a brand):
    the two stack as one kind of integer in training, whose batches carry int32 ids, as in serving."""
    rng = np.random.default_rng(0)
    items = rng.integers(0, 30, 400)
    studio = np.array([f"s{i % 3}" for i in range(30)])
    frame = pd.DataFrame({"user_id": rng.integers(0, 20, 400).astype(str), "item_id": items,
                          "studio": studio[items], "timestamp": np.arange(400),
                          "clicked": (items % 3 == 0).astype(int)})
    frame = ctr.data.add_history(frame, max_length=4)
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", role="user"), ctr.Categorical("item_id", role="item",
                                                                                     dtype="int"),
                            ctr.Categorical("studio", role="item"), ctr.History("history", max_length=4)],
                           label=None if model_class is ctr.TwoTower else ctr.Label("clicked"))
    model = model_class(spec, embedding_dim=4, seed=0)
    model.fit(frame if model_class is not ctr.TwoTower else frame[frame.clicked == 1], epochs=1, verbose=0)
    queries = pd.DataFrame({"user_id": ["new", "new"], "item_id": [3, 3], "studio": ["s0", "s0"],
                            "history": ["0|3|6", "1|4|7"]})
    if model_class is ctr.TwoTower:
        scores = model.recommend(queries[["user_id", "history"]], k=30)[1]
    else:
        scores = model.predict(queries)
    assert not np.allclose(scores[0], scores[1])
