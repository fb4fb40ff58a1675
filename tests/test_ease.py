"""EASE: its weights are Steck's closed form, it recommends from each user's history (popularity for a user
with none), and its export serves the same in a fresh process without ctr."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr.cli import main
from ctr.data import raw_features
from ctr.models import ease as ease_module

IDS = ctr.FeatureSpec([ctr.Categorical("user", role="user"), ctr.Categorical("item", role="item")], name="ids")


@pytest.fixture(scope="module")
def ratings():
    return ctr.leave_one_out(ctr.datasets.synthetic(6_000, n_users=150, n_items=120, seed=3))


@pytest.fixture(scope="module")
def fitted(ratings):
    return ctr.EASE(ctr.datasets.synthetic_spec(), l2=50.0).fit(ratings[0], verbose=0)


def _dense(model: ctr.EASE, frame: pd.DataFrame, user: str, item: str, weights: str | None = None) -> np.ndarray:
    """X [users, items] in the model's row orders, built here from the rows themselves."""
    users = pd.Index(model.user_ids_.astype(str)).get_indexer(frame[user].astype(str))
    items = pd.Index(model.catalog_ids().astype(str)).get_indexer(frame[item].astype(str))
    x = np.zeros((len(model.user_ids_), len(model.catalog_ids())))
    np.add.at(x, (users, items), 1.0 if weights is None else frame[weights].to_numpy())
    return x


def test_each_items_weights_are_the_ridge_regression_of_its_column_on_the_other_items():
    # Steck's B column by column: item j's interactions regressed on every other item's, with the ridge
    # penalty l2 and no weight on j itself. A repeated interaction counts once; with label.weight the pair's
    # weights are summed.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user": [f"u{u}" for u in rng.integers(0, 30, 400)],
                          "item": [f"i{i}" for i in rng.integers(0, 12, 400)], "w": rng.uniform(0.5, 3.0, 400)})
    weighted = ctr.FeatureSpec(IDS.features, label=ctr.Label("clicked", weight="w"), name="weighted")
    for spec, weights, data in [(IDS, None, frame), (weighted, "w", frame.assign(clicked=1))]:
        model = ctr.EASE(spec, l2=7.0).fit(data, verbose=0)
        x = _dense(model, frame, "user", "item", weights)
        if weights is None:
            x = np.minimum(x, 1.0)
        for j in range(x.shape[1]):
            others = np.delete(np.arange(x.shape[1]), j)
            a = x[:, others]
            want = np.linalg.solve(a.T @ a + 7.0 * np.eye(len(others)), a.T @ x[:, j])
            np.testing.assert_allclose(model.weights_[others, j], want, rtol=1e-4, atol=1e-6)
            assert model.weights_[j, j] == 0
        # A user's scores are their row of X times B; one never seen gets the items' counts.
        scores = model.score_candidates(pd.DataFrame({"user": ["u3", "nobody"]}),
                                        np.tile(np.arange(x.shape[1]), (2, 1)))
        row = model.user_ids_.tolist().index("u3")
        np.testing.assert_allclose(scores[0], x[row] @ model.weights_, rtol=1e-5)
        np.testing.assert_allclose(scores[1], model.counts_)


def test_ease_recommends_from_a_history_and_its_export_serves_the_same_in_a_fresh_process(fitted, ratings, tmp_path,
                                                                                          serve_fresh):
    train, test = ratings
    model = fitted
    assert repr(model) == "EASE(spec='synthetic', l2=50.0)"
    assert model.query_features == ["user_id"]
    users = [*test["user_id"].head(4), 987_654]  # the last is no user the model saw
    ids, scores = model.recommend(users, k=5, exclude=[[], [], [], [], []])
    assert (np.diff(scores, axis=1) <= 0).all()
    by_count = model.catalog_ids()[np.argsort(-model.counts_, kind="stable")]
    assert ids[-1].tolist() == by_count[:5].tolist()  # no history: the most popular items
    assert ids[0].tolist() != ids[1].tolist()  # two histories, two lists
    similar, weights = model.similar_items([ids[0][0], 424_242], k=3)
    assert ids[0][0] not in similar[0] and (np.diff(weights[0]) <= 0).all()
    assert similar[1].tolist() == [-1, -1, -1] and np.isneginf(weights[1]).all()

    path = model.export(tmp_path / "ease")
    exclude = [ids[i][:1].tolist() for i in range(len(users))]
    pairs = pd.DataFrame({"user_id": [*users[:3], 987_654, users[0]],
                          "item_id": [*ids[:3, 2], ids[0][0], 424_242]})  # the last item is no catalogue item
    served = serve_fresh({"top": {"path": str(path), "inputs": {"user_id": users}, "k": 5, "exclude": exclude},
                          "pairs": {"path": str(path), "inputs": {k: v.tolist() for k, v in pairs.items()},
                                    "output": "score"},
                          "similar": {"path": str(path), "inputs": {"item_id": [int(ids[0][0])]}, "k": 3,
                                      "signature": "similar_items"}}, tmp_path)
    want_ids, want_scores = model.recommend(users, k=5, exclude=exclude)
    np.testing.assert_array_equal(np.array(served["top"]["item_ids"]), want_ids)
    np.testing.assert_allclose(np.array(served["top"]["scores"]), want_scores, rtol=1e-5, atol=1e-5)
    assert not any(e[0] in row for e, row in zip(exclude, want_ids.tolist(), strict=True))
    want_pairs = model.predict(pairs)
    np.testing.assert_array_equal(model.predict(pairs, batch_size=2), want_pairs)  # scored two rows at a time
    np.testing.assert_allclose(want_pairs[:3], scores[np.arange(3), 2], rtol=1e-6)
    assert want_pairs[3] == model.counts_[model.catalog_ids().tolist().index(ids[0][0])] and want_pairs[4] == 0
    np.testing.assert_allclose(np.array(served["pairs"]), want_pairs, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.array(served["similar"]["item_ids"]), similar[:1])
    np.testing.assert_allclose(np.array(served["similar"]["scores"]), weights[:1], rtol=1e-5)

    untrained = ("an EASE export, which has no trained weights of its own (its weights are solved in closed form "
                 "from the data: fit EASE on the data instead)")
    with pytest.raises(ctr.CtrError, match=re.escape(f"{path}: {untrained}; load_model rebuilds")):
        ctr.load_model(path)
    with pytest.raises(ctr.ArgumentError, match=re.escape(f"MatrixFactorization.fit: warm_start_from is {untrained}")):
        ctr.MatrixFactorization(model.spec).fit(train, warm_start_from=path, verbose=0)
    exported = ctr.RecommenderExport(path)
    full = model.evaluate(test, train, protocol="full")
    assert exported.evaluate(test, train, protocol="full") == pytest.approx(full)
    shown: list[str] = []
    model.summary(print_fn=shown.append)
    exported.summary(print_fn=shown.append)
    assert shown[0].startswith("EASE(l2=50) over 120 items and 150 users' histories"), shown
    assert shown[1].startswith("EASE {'l2': 50.0}: a user's score for an item is the sum of the item × item "
                               "weights B"), shown


def test_ease_says_what_is_wrong(fitted, ratings, monkeypatch, capsys):
    train = ratings[0]
    spec = ctr.datasets.synthetic_spec()
    for l2, said in [(0, "a number above 0, got 0"), ("big", "a number above 0, got 'big' (str)")]:
        with pytest.raises(ctr.ArgumentError, match=re.escape(f"EASE: l2, the ridge penalty that makes XᵀX "
                                                              f"invertible, must be {said}")):
            ctr.EASE(spec, l2=l2)
    with pytest.raises(ctr.NotFittedError, match=r"EASE is not fitted yet; call fit\(data\) first"):
        ctr.EASE(spec).recommend([1])
    with pytest.raises(ctr.ArgumentError, match=r"EASE\.fit has no argument 'callbacks' \(EASE solves for its "
                                                r"weights in closed form"):
        ctr.EASE(spec).fit(train, callbacks=[])
    with pytest.raises(AttributeError, match=r"EASE solves for its weights in closed form: it has no loss"):
        fitted.compile()
    monkeypatch.setattr(ease_module, "MAX_ITEMS", 100)
    with pytest.raises(ctr.DataError, match=r"EASE\.fit: the catalogue holds 120 items, and EASE inverts a dense "
                                            r"items × items matrix .* it takes up to 100 items\. For a larger "
                                            r"catalogue use MatrixFactorization or TwoTower"):
        ctr.EASE(spec).fit(train, verbose=0)
    with pytest.raises(ctr.ArgumentError, match=r"inspect_data: EASE holds no fitted features to set the data beside "
                                                r"\(it reads the user and item ids alone"):
        ctr.inspect_data(train, model=fitted)
    with pytest.raises(ctr.DataError, match=r"user_id"):  # queries that name no user
        fitted.recommend(pd.DataFrame({"session": ["a"]}))
    assert main(["fit", "--spec", "synthetic", "--data", "synthetic", "--model", "ease", "--epochs", "3",
                 "--embedding-dim", "4"]) == 2
    assert ("--embedding-dim: ease solves for its item weights in closed form, so it has no training loop or "
            "checkpoints (--param l2=N sets its ridge penalty)") in capsys.readouterr().err
    assert main(["fit", "--spec", "synthetic", "--data", "synthetic", "--model", "ease", "--param", "dim=4"]) == 2
    assert "--param dim: EASE has no argument 'dim'; it takes l2" in capsys.readouterr().err


def test_ease_in_the_shell_and_in_compare(ratings, tmp_path, capsys):
    out = tmp_path / "ease"
    assert main(["fit", "--spec", "synthetic", "--data", "synthetic", "--model", "ease", "--param", "l2=80",
                 "--export", str(out)]) == 0
    said = capsys.readouterr().out
    assert "ctr fit: EASE on " in said and '"NDCG@10"' in said and "training curves" not in said
    assert ctr.RecommenderExport(out).metadata["config"] == {"l2": 80.0}
    item = int(ctr.RecommenderExport(out).catalog_ids()[0])
    assert main(["recommend", "--model", str(out), "--similar-to", str(item), "--k", "2"]) == 0
    shown = capsys.readouterr().out
    assert f"the 2 items nearest to item_id {item} (EASE):" in shown and " weight" in shown
    assert main(["recommend", "--model", str(out), "--user", "1", "--feature", "age=30"]) == 2
    assert "'age' is a user feature that EASE does not read; it reads user_id" in capsys.readouterr().err
    with pytest.raises(ctr.CtrError, match="the EASE export learns no embeddings"):
        from ctr.embedding_map import embedding_vectors
        embedding_vectors(out, "item_id")
    train, test = ratings
    result = ctr.compare("synthetic", pd.concat([train, test]), models=["ease", "popularity"], verbose=0)
    row = result.table.set_index("model").loc["ease"]
    assert row["parameters"] == 120 * 120 and row["epochs"] == 0, result.table


def test_a_request_brings_its_own_items_and_a_user_never_seen_is_served_from_them(tmp_path, serve_fresh, capsys):
    # With a history of the item id in the spec, the request's items are the user's row of X: each listed item
    # once (or with weights, their sum), ids not in the catalogue left out; a request with none listed is served
    # from the user's stored history, and one with neither from the item counts. Rows to fit need no history.
    rng = np.random.default_rng(1)
    rows = pd.DataFrame({"user": [f"u{u}" for u in rng.integers(0, 40, 600)],
                         "item": [f"i{i}" for i in rng.integers(0, 15, 600)]})
    for weighted in (False, True):
        spec = ctr.FeatureSpec([*IDS.features, ctr.History("seen", items="item", weighted=weighted)], name="h")
        model = ctr.EASE(spec, l2=5.0).fit(rows, verbose=0)
        assert model.query_features == ["user", "seen"]
        b, ids = model.weights_, model.catalog_ids().tolist()
        asked = pd.DataFrame({"user": ["nobody", "nobody", "u1", "nobody"],
                              "seen": ["i3:2|i7|i3:1" if weighted else "i3|i7|i3", "i3|nothing", "", "nothing"]})
        scores = model.score_candidates(asked, np.tile(np.arange(len(ids)), (4, 1)))
        three, seven = b[ids.index("i3")], b[ids.index("i7")]
        np.testing.assert_allclose(scores[0], 3 * three + seven if weighted else three + seven, rtol=1e-5)
        np.testing.assert_allclose(scores[1], three, rtol=1e-5)
        np.testing.assert_allclose(scores[2], np.isin(ids, rows.loc[rows["user"] == "u1", "item"]) @ b, rtol=1e-5)
        np.testing.assert_allclose(scores[3], model.counts_)
    path = model.export(tmp_path / "ease")
    top, _ = model.recommend(asked, k=4)
    served = serve_fresh({"top": {"path": str(path), "inputs": {k: v.tolist() for k, v in asked.items()}, "k": 4,
                                  "exclude": [[]] * 4}}, tmp_path)
    np.testing.assert_array_equal(np.array(served["top"]["item_ids"]), top)
    assert main(["recommend", "--model", str(path), "--history", "i3,i7", "--k", "3"]) == 0
    shown = capsys.readouterr().out
    assert "i3 " not in shown and "i7 " not in shown  # the items brought are not recommended again
    want = model.recommend(pd.DataFrame({"user": [""], "seen": ["i3:1|i7:1"]}), k=5, exclude=[["i3", "i7"]])[0][0]
    assert [line.split()[1] for line in shown.splitlines()[-3:]] == want[:3].tolist(), shown


def test_ease_retrieves_for_a_ranker_in_process_and_in_a_fresh_process(fitted, ratings, tmp_path, serve_fresh):
    # EASE → DeepFM: the ranker orders the n items EASE puts first, and the one-graph export serves the same
    # without ctr (its describe lists the request, since EASE fits no features).
    train, test = ratings
    ranker = ctr.DeepFM(fitted.spec, embedding_dim=4, hidden_units=(8,), seed=0)
    ranker.fit(train, epochs=1, verbose=0)
    pipeline = ctr.RecommendationPipeline(fitted, ranker, n_candidates=20)
    queries = test.head(4)
    exclude = [[int(i)] for i in fitted.recommend(queries, k=1)[0][:, 0]]  # EASE's first item, never returned
    ids, scores = pipeline.recommend(queries, k=5, exclude=exclude)
    retrieved = fitted.recommend(queries, k=21)[0]
    for row, first, banned in zip(ids.tolist(), retrieved.tolist(), exclude, strict=True):
        assert set(row) <= set(first[1:]) and banned[0] not in row
    assert (np.diff(scores, axis=1) <= 0).all() and ((scores > 0) & (scores < 1)).all()  # the ranker's probabilities
    path = pipeline.export(tmp_path / "pipeline")
    raw = raw_features(queries, ctr.FeatureSpec(tuple(fitted.spec[n] for n in pipeline.query_features)))
    served = serve_fresh({"top": {"path": str(path), "inputs": {n: v.tolist() for n, v in raw.items()}, "k": 5,
                                  "exclude": exclude}}, tmp_path)
    np.testing.assert_array_equal(np.array(served["top"]["item_ids"]), ids)
    np.testing.assert_allclose(np.array(served["top"]["scores"]), scores, rtol=1e-5, atol=1e-5)
    shown: list[str] = []
    ctr.RecommenderExport(path).summary(print_fn=shown.append)
    assert "RecommendationPipeline: EASE retrieves 20 candidates, DeepFM re-ranks them" in shown[0], shown
    assert "\nrequest: user_id (int64), age (float32)" in shown[0], shown
    with pytest.raises(ctr.NotFittedError, match="EASE is not fitted yet"):
        ctr.RecommendationPipeline(ctr.EASE(fitted.spec), ranker)
    with pytest.raises(ctr.DataError, match=re.escape("the retriever must score the whole catalogue at once (TwoTower, "
                                                      "MatrixFactorization or EASE), got Popularity")):
        ctr.RecommendationPipeline(ctr.Popularity(fitted.spec).fit(train), ranker)
