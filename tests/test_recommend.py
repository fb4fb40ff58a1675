"""Recommenders: they learn, their exports recommend in a fresh process without ctr, k and exclusions
are chosen per request, the catalogue can be re-indexed, and retrieval → ranking works end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr._keras import keras
from ctr.cli import main
from ctr.data import raw_features


@pytest.fixture(scope="session")
def loo():
    # Even item popularity: a recommender has to learn each user's taste to beat the popularity list.
    return ctr.leave_one_out(ctr.datasets.synthetic(40_000, n_users=300, n_items=600, seed=2, item_skew=20.0))


@pytest.fixture(scope="session")
def recommenders(spec, loo):
    train, _ = loo
    models = {
        "mf": ctr.MatrixFactorization(spec, embedding_dim=8, learning_rate=0.01),
        "bpr": ctr.MatrixFactorization(spec, embedding_dim=8, loss="bpr", learning_rate=0.01),
        "neumf": ctr.NeuMF(spec, embedding_dim=8, hidden_units=(16, 8), learning_rate=0.01),
        "two_tower": ctr.TwoTower(spec, embedding_dim=8, output_dim=8, batch_size=256),
    }
    for model in models.values():
        model.fit(train, epochs=3, verbose=0)
    return models


@pytest.fixture(scope="module")
def exports(recommenders, tmp_path_factory):
    """Each recommender exported once (exports are read-only to the tests that share them)."""
    folder = tmp_path_factory.mktemp("recommender-exports")
    # Unchecked at export: the fresh-process test below serves every one of them against the model itself.
    return {name: model.export(folder / name, verify=False) for name, model in recommenders.items()}


@pytest.fixture(scope="module")
def pipeline(recommenders, trained, exports):
    """Two-tower retrieval, then DeepFM ranking; and its export."""
    made = ctr.RecommendationPipeline(recommenders["two_tower"], trained["deepfm"], n_candidates=30)
    return made, made.export(Path(exports["mf"]).parent / "pipeline")


def test_an_export_recommends_in_the_models_own_types(loo, tmp_path):
    # Text ids come back as an object array and scores as float64 from the export too, as from the model (a
    # '<U9' array cuts a longer id written into it).
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"), ctr.Categorical("item", role="item")])
    rows = loo[0].head(3000).assign(item="track-" + loo[0]["item_id"].head(3000).astype(str))
    model = ctr.MatrixFactorization(spec, embedding_dim=4)
    model.fit(rows, epochs=1, verbose=0)
    exported = ctr.RecommenderExport(model.export(tmp_path / "mf"))
    queries = rows.head(3)
    for (ids, scores), (want_ids, want_scores) in [(exported.recommend(queries, k=4), model.recommend(queries, k=4)),
                                                   (exported.similar_items(["track-1"], k=2),
                                                    model.similar_items(["track-1"], k=2))]:
        assert ids.dtype == want_ids.dtype == object and scores.dtype == want_scores.dtype == np.float64
        np.testing.assert_array_equal(ids, want_ids)
        np.testing.assert_allclose(scores, want_scores, rtol=1e-6)


def test_recommend_takes_user_ids_alone(recommenders, exports, pipeline, loo):
    # `recommend([196, 22])`, as recommender libraries take users: the rows of the user id column.
    users = loo[1]["user_id"].head(3).tolist()
    frame = pd.DataFrame({"user_id": users})
    for model in (recommenders["mf"], ctr.RecommenderExport(exports["mf"]), pipeline[0],
                  ctr.RecommenderExport(pipeline[1])):
        want = model.recommend(frame, k=5)[0]
        for given in (users, tuple(users), np.array(users)):
            np.testing.assert_array_equal(model.recommend(given, k=5)[0], want)
        np.testing.assert_array_equal(model.recommend(users[0], k=5)[0], want[:1])
    with pytest.raises(ctr.DataError, match=r"one string is a file of queries; for a user whose id is text, give the "
                                            r"id in a list: recommend\(\['u1'\]\)"):
        recommenders["mf"].recommend("u1")


def test_personalised_models_beat_popularity(spec, loo, recommenders):
    train, test = loo
    popularity = ctr.Popularity(spec).fit(train)
    popular = ctr.evaluate_ranking(popularity, test, train)["HR@10"]
    by_count = popularity.catalog_ids()[np.argsort(-popularity.counts_, kind="stable")]
    ids, counts = popularity.recommend(test.head(2), k=3, exclude=[[], [by_count[0]]])
    assert ids[0].tolist() == by_count[:3].tolist() and (np.diff(counts[0]) <= 0).all()
    assert ids[1].tolist() == by_count[1:4].tolist()
    shown: list[str] = []
    popularity.summary(print_fn=shown.append)
    assert shown[0].startswith(f"Popularity over {len(by_count):,} items; the most popular: {by_count[0]} (")
    for name, model in {**recommenders, "ease": ctr.EASE(spec).fit(train, verbose=0)}.items():
        hr = ctr.evaluate_ranking(model, test, train)["HR@10"]
        # ~130 held-out positives: MF-style models and EASE clear popularity by ~0.09, the two-tower by less.
        assert hr > popular + (0.01 if name == "two_tower" else 0.04), (name, hr, popular)


def test_popularity_fits_in_the_recommenders_loop_and_its_export_serves_in_a_fresh_process(spec, loo, tmp_path,
                                                                                             serve_fresh):
    """The baseline takes the recommenders' fit arguments, and exports as they do: `recommend` and pair
    scores over the same request, served without ctr as in process; ctr.RecommenderExport ranks like it."""
    train, test = loo
    catalogue = pd.concat([train, pd.DataFrame({"item_id": [99_999], "genres": ["Drama"]})], ignore_index=True)
    model = ctr.Popularity(spec)
    model.fit(train, test, items=catalogue, epochs=3, batch_size=256, verbose=0)
    assert 99_999 in model.catalog_ids()  # a catalogue item nobody touched, at count 0
    assert repr(model) == f"Popularity(spec={spec.name!r})"  # as the other models show themselves
    with pytest.raises(ctr.ArgumentError, match=r"Popularity\.fit has no argument 'callbacks' \(Popularity counts "
                                                r"each item's interactions in one pass"):
        model.fit(train, callbacks=[keras.callbacks.EarlyStopping()])
    path = model.export(tmp_path / "popularity")
    queries, pairs = test.head(5), test.head(6).assign(item_id=[*test["item_id"].head(5), 123_456])
    top, _ = model.recommend(queries, k=4)
    exclude = [top[i][:1].tolist() for i in range(len(queries))]
    query_raw = raw_features(queries, ctr.FeatureSpec(tuple(spec[n] for n in model.query_features)))
    pair_raw = raw_features(pairs, ctr.FeatureSpec(tuple(spec[n] for n in [*model.query_features, "item_id"])))
    served = serve_fresh({"top": {"path": str(path), "inputs": {n: v.tolist() for n, v in query_raw.items()},
                                  "k": 4, "exclude": exclude},
                          "pairs": {"path": str(path), "inputs": {n: v.tolist() for n, v in pair_raw.items()},
                                    "output": "score"}}, tmp_path)
    ids, scores = model.recommend(queries, k=4, exclude=exclude)
    np.testing.assert_array_equal(np.array(served["top"]["item_ids"]), ids)
    np.testing.assert_allclose(np.array(served["top"]["scores"]), scores, rtol=1e-5, atol=1e-5)
    want = model.predict(pairs)
    assert want[-1] == 0 and (want[:-1] > 0).all()  # an item not in the catalogue scores 0
    np.testing.assert_allclose(np.array(served["pairs"]), want, rtol=1e-5, atol=1e-5)
    exported = ctr.RecommenderExport(path)
    assert exported.evaluate(test, train, protocol="full") == model.evaluate(test, train, protocol="full")
    # It reads no query feature, so its export, as the model, takes rows holding none of them.
    items = pairs[["item_id"]]
    np.testing.assert_allclose(exported.predict(items), model.predict(items), rtol=1e-6)
    anyone = pd.DataFrame({"session": ["a"]})
    np.testing.assert_array_equal(exported.recommend(anyone, k=3)[0], model.recommend(anyone, k=3)[0])
    shown: list[str] = []
    exported.summary(print_fn=shown.append)
    assert shown[0].startswith("Popularity: every request gets the catalogue's items by their count"), shown


def test_similar_items_are_the_nearest_item_vectors_in_process_and_in_a_fresh_process(recommenders, exports, pipeline,
                                                                                      tmp_path, serve_fresh, capsys):
    """"More like this": the k items whose item vectors (bias terms left out) have the highest cosine
    with an item's, never itself; the export's similar_items gives the same without ctr."""
    request, expected = {}, {}
    for name in ("mf", "two_tower"):
        model = recommenders[name]
        ids = model.catalog_ids()
        asked = [ids[3], ids[40], 777_777]  # the last is not in the catalogue
        got, cosines = model.similar_items(asked, k=5)
        vectors = model.catalogue_vectors()[:, :model.network_.scorer.taste_width].astype(np.float64)
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        for row, item in enumerate(asked[:2]):
            brute = unit @ unit[list(ids).index(item)]
            brute[list(ids).index(item)] = -np.inf
            np.testing.assert_allclose(cosines[row], np.sort(brute)[::-1][:5], atol=1e-5)
            assert item not in got[row] and set(got[row]) <= set(ids)
        assert got[2].tolist() == [-1] * 5 and np.isneginf(cosines[2]).all()
        exported = ctr.RecommenderExport(exports[name])
        np.testing.assert_array_equal(exported.similar_items(asked, k=5)[0], got)
        request[name] = {"path": str(exports[name]), "inputs": {"item_id": [int(i) for i in asked]}, "k": 5,
                         "signature": "similar_items"}
        expected[name] = (got, cosines)
    # A retrieve → re-rank pipeline, in process and exported, finds them with its retriever's item vectors.
    made, made_path = pipeline
    expected["pipeline"] = made.similar_items(asked, k=5)
    np.testing.assert_array_equal(expected["pipeline"][0], expected["two_tower"][0])
    request["pipeline"] = {**request["two_tower"], "path": str(made_path)}
    served = serve_fresh(request, tmp_path)
    for name, (got, cosines) in expected.items():
        np.testing.assert_array_equal(np.array(served[name]["item_ids"]), got, err_msg=name)
        np.testing.assert_allclose(np.array(served[name]["scores"]), cosines, atol=1e-5, rtol=1e-5, err_msg=name)
    with pytest.raises(ctr.ArgumentError, match=r"NeuMF\.similar_items: only the factorised models"):
        recommenders["neumf"].similar_items([1])
    nearest = expected["two_tower"][0][0]
    assert main(["recommend", "--model", str(exports["two_tower"]), "--similar-to",
                 str(recommenders["two_tower"].catalog_ids()[3]), "--k", "3"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"\n +1 +{nearest[0]} .*\n +2 +{nearest[1]} .*\n +3 +{nearest[2]} ", out), out
    assert main(["recommend", "--model", str(exports["neumf"]), "--similar-to", "1"]) == 2
    assert "(NeuMF) has no similar_items signature" in capsys.readouterr().err


def test_a_known_users_stored_features_fill_a_query_of_their_id_alone(recommenders, exports, pipeline, loo):
    """`recommend({"user_id": [...]})` ranks as the row with the user's features does, in process, from
    the export and in the pipeline; context is the request's, and an unknown id's features stay missing."""
    full = loo[1].head(5).drop(columns=["timestamp"])  # the user's features, no context
    ids_only = full[["user_id"]]
    made, made_path = pipeline
    for name, model, exported in [("mf", recommenders["mf"], ctr.RecommenderExport(exports["mf"])),
                                  ("two_tower", recommenders["two_tower"], ctr.RecommenderExport(exports["two_tower"])),
                                  ("pipeline", made, ctr.RecommenderExport(made_path))]:
        want_ids, want_scores = model.recommend(full, k=6)
        for ranker in (model, exported):
            got_ids, got_scores = ranker.recommend(ids_only, k=6)
            np.testing.assert_array_equal(got_ids, want_ids, err_msg=name)
            np.testing.assert_allclose(got_scores, want_scores, rtol=1e-5, atol=1e-5, err_msg=name)
    tower = recommenders["two_tower"]
    stranger = pd.DataFrame({"user_id": [987_654]})
    missing = ctr.data.complete_queries(tower.spec, tower.query_features, stranger)  # every other feature missing
    assert missing["gender"].tolist() == [""]
    np.testing.assert_allclose(tower.recommend(stranger, k=6)[1], tower.recommend(missing, k=6)[1], rtol=1e-6)


def test_a_pair_of_ids_is_scored_with_the_stored_user_and_item_features(recommenders, exports, loo):
    """`predict` of (user id, item id) rows reads the user's stored features and the catalogue item's,
    in process and from the export alike: the model refused such rows (columns missing), and the
    export read every absent feature as missing."""
    ids = loo[1].head(6)[["user_id", "item_id"]]
    ids = pd.concat([ids, pd.DataFrame({"user_id": [987_654], "item_id": [ids["item_id"].iloc[0]]})],
                    ignore_index=True)  # an unknown user: their features stay missing
    for name in ("two_tower", "neumf"):
        model = recommenders[name]
        whole = ids.merge(model.users_, on="user_id", how="left").merge(model.catalogue_, on="item_id", how="left")
        want = model.predict(whole)
        np.testing.assert_allclose(model.predict(ids), want, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(ctr.RecommenderExport(exports[name]).predict(ids), want, rtol=1e-5, atol=1e-5,
                                   err_msg=name)
    with pytest.raises(ctr.DataError, match=r"'genres'.* missing"):  # no item id: nothing to fill from
        recommenders["two_tower"].predict(ids[["user_id"]])


def test_queries_holding_none_of_the_query_columns_are_refused_not_ranked_as_nobody(recommenders, exports, pipeline,
                                                                                      loo):
    """A misnamed id column (`uid` for `user_id`) was read as a query with every feature missing, and
    every user got the same plausible list; in process, from the export and in the pipeline alike."""
    misnamed = loo[1].head(3)[["user_id", "item_id"]].rename(columns={"user_id": "uid"})
    for model in (recommenders["mf"], ctr.RecommenderExport(exports["mf"]), pipeline[0],
                  ctr.RecommenderExport(pipeline[1])):
        with pytest.raises(ctr.DataError, match=r"the queries hold none of the model's query columns \('user_id'"
                                                r".*their columns are 'uid', 'item_id'\. Send each user's id"):
            model.recommend(misnamed, k=3)
    with pytest.raises(ctr.DataError, match="none of the model's query columns"):
        ctr.RecommenderExport(exports["mf"]).predict(misnamed)  # pairs without their user
    assert len(recommenders["mf"].recommend(pd.DataFrame({"user_id": [None]}), k=3)[0]) == 1  # an explicit nobody


def test_a_misspelt_query_column_is_named_not_served_as_missing(recommenders, exports, pipeline):
    """A new user's 'gendr' was dropped and the gender served as missing, with a plausible list to show."""
    query = {"user_id": 987_654, "gendr": "F", "age": 30}
    for model in (recommenders["two_tower"], ctr.RecommenderExport(exports["two_tower"]), pipeline[0]):
        with pytest.raises(ctr.DataError, match=r"^the queries' column 'gendr' is none the model reads, and its "
                                                r"'gender' is absent: did you mean 'gender' for 'gendr'\? Rename"):
            model.recommend(query, k=3)
        model.recommend({"user_id": 987_654, "gender": "F", "account": "a-1"}, k=3)  # a column read by nothing


def test_recommend_in_process_honours_k_and_exclusions(recommenders, loo):
    queries = loo[1].head(4)
    model = recommenders["mf"]
    ids, scores = model.recommend(queries, k=5)
    assert ids.shape == (4, 5) and (np.diff(scores, axis=1) <= 0).all()
    excluded, _ = model.recommend(queries, k=5, exclude=[ids[0][:3].tolist()] * 4)
    assert not set(excluded[0]) & set(ids[0][:3])
    as_columns, _ = model.recommend({c: queries[c].tolist() for c in queries.columns}, k=5)
    np.testing.assert_array_equal(as_columns, ids)
    with pytest.raises(ctr.DataError, match="exclude has 1 lists for 4 query rows"):
        model.recommend(queries, k=5, exclude=[[1]])
    with pytest.raises(ctr.DataError, match=r"exclude\[0\] is 1 \(int\); exclude holds one list of item ids per query"):
        model.recommend(queries, k=5, exclude=[1, 2, 3, 4])
    with pytest.raises(ctr.ArgumentError, match=r"MatrixFactorization\.recommend: k must be an integer of at least 1"):
        model.recommend(queries, k=0)


def test_an_excluded_id_is_left_out_whatever_type_it_is_written_in(recommenders, exports, loo):
    """'12' for the integer id 12 (as a request reads it): the model ignored it as no catalogue id, and
    recommended the item, while its export left it out; text that is no id was the export's bare ValueError."""
    queries = loo[1].head(2)
    model, served = recommenders["mf"], ctr.RecommenderExport(exports["mf"])
    top = model.recommend(queries, k=3)[0][:, 0]
    for exclude in ([[str(top[0])], [float(top[1])]], [[np.int32(top[0])], [str(top[1]), top[1]]]):
        for recommender in (model, served):
            got, _ = recommender.recommend(queries, k=3, exclude=exclude)
            assert got[0, 0] != top[0] and got[1, 0] != top[1] and top[0] not in got[0] and top[1] not in got[1]
    for recommender, name in ((model, "MatrixFactorization"), (served, "RecommenderExport")):
        with pytest.raises(ctr.DataError, match=rf"{name}\.recommend: exclude lists an id that is no 'item_id' id .*"
                                                r"'seven'"):
            recommender.recommend(queries, k=3, exclude=[["seven"], []])


def test_a_recommender_is_served_over_http_as_its_export_recommends(exports, pipeline, loo):
    """`ctr serve`'s recommend signature (k and each row's exclude in the request) and pair scores, for a
    recommender and a pipeline, as RecommenderExport gives them; a list padded past the items left
    has null scores (JSON has no -inf)."""
    from ctr.serving import Server
    from tests.test_serving import call, rows_json

    queries = loo[1].head(3).reset_index(drop=True)
    for path in (exports["mf"], pipeline[1]):
        served = ctr.RecommenderExport(path)
        ids = served.catalog_ids()
        exclude = [ids[2:].tolist(), [int(ids[0])], []]  # the first query has two items left
        want_ids, want_scores = served.recommend(queries[["user_id"]], k=4, exclude=exclude)
        with Server(path, port=0, log_requests=False) as server:
            instances = [{"user_id": int(u), "k": 4, "exclude": e} for u, e in zip(queries.user_id, exclude,
                                                                                     strict=True)]
            status, answer = call(server.url + ":predict", {"signature_name": "recommend", "instances": instances})
            assert status == 200, answer
            np.testing.assert_array_equal([p["item_ids"] for p in answer["predictions"]], want_ids)
            got = np.array([p["scores"] for p in answer["predictions"]], dtype=float)  # null → nan
            np.testing.assert_allclose(np.nan_to_num(got, nan=-np.inf), want_scores, rtol=1e-6)
            assert np.isnan(got[0, 2:]).all() and answer["predictions"][0]["item_ids"][2:] == [-1, -1]
            status, answer = call(server.url + ":predict", {"signature_name": "recommend", "inputs": {
                "user_id": queries.user_id.tolist(), "k": [4], "exclude": exclude}})
            assert status == 200 and answer["outputs"]["item_ids"] == want_ids.tolist()
            signatures = call(server.url + "/metadata")[1]["metadata"]["signature_def"]["signature_def"]
            assert set(signatures) == ({"serving_default", "recommend", "user_embedding", "item_embedding",
                                        "similar_items"} if path == exports["mf"] else {"recommend", "similar_items"})
            assert signatures["recommend"]["inputs"]["k"] == {"dtype": "DT_INT32", "tensor_shape": {
                "dim": [], "unknown_rank": False}}
            status, answer = call(server.url + ":predict", {"signature_name": "recommend", "instances": [
                {"user_id": 1, "k": 4}, {"user_id": 2, "k": 5}]})
            assert status == 400 and "different k" in answer["error"]
            pairs = queries[["user_id", "item_id"]]
            if path != exports["mf"]:  # a pipeline recommends; its ranker's own export scores pairs
                status, answer = call(server.url + ":predict", {"instances": rows_json(pairs)})
                assert status == 400 and answer["error"] == ("signature_name 'serving_default' is not served here; "
                                                             "this model's are 'recommend', 'similar_items'")
            else:
                status, answer = call(server.url + ":predict", {"instances": rows_json(pairs)})
                np.testing.assert_allclose(answer["predictions"], served.predict(pairs), rtol=1e-6)


def test_every_signature_of_an_export_is_served_over_http(exports, loo):
    """user_embedding, item_embedding and similar_items too: their inputs read by the spec's rules, and a
    scalar input (similar_items' k) one a request, as recommend's."""
    from ctr.features import raw_tensors
    from ctr.serving import Server
    from tests.test_serving import call, rows_json

    served = ctr.RecommenderExport(exports["mf"])
    signatures = served._loaded.signatures
    rows = loo[1].head(3).reset_index(drop=True)
    ids = served.catalog_ids()[:2]
    with Server(exports["mf"], port=0, log_requests=False) as server:
        for name in ("user_embedding", "item_embedding"):
            names = list(signatures[name].structured_input_signature[1])
            want = signatures[name](**raw_tensors(raw_features(rows, served.spec, names), served.spec))["embedding"]
            status, answer = call(server.url + ":predict", {"signature_name": name, "instances": rows_json(rows)})
            assert status == 400 and f"which the {name} signature does not take" in answer["error"]  # whole rows
            status, answer = call(server.url + ":predict", {"signature_name": name,
                                                            "instances": rows_json(rows[names])})
            assert status == 200, answer
            np.testing.assert_allclose(answer["predictions"], want.numpy(), rtol=1e-6)
            status, answer = call(server.url + ":predict", {"signature_name": name, "instances": [{"k": 1}]})
            assert status == 400 and all(f"'{n}'" in answer["error"] for n in names), answer
        want_ids, want_scores = served.similar_items(ids.tolist(), k=3)
        for request in ({"instances": [{"item_id": int(i), "k": 3} for i in ids]},
                        {"inputs": {"item_id": ids.tolist(), "k": [3]}}):
            status, answer = call(server.url + ":predict", {"signature_name": "similar_items", **request})
            got = answer.get("predictions") or [dict(zip(answer["outputs"], row, strict=True))
                                                for row in zip(*answer["outputs"].values(), strict=True)]
            assert status == 200 and [p["item_ids"] for p in got] == want_ids.tolist()
            np.testing.assert_allclose([p["scores"] for p in got], want_scores, rtol=1e-6)
        status, answer = call(server.url + ":predict", {"signature_name": "similar_items", "instances": [
            {"item_id": int(ids[0]), "k": 3}, {"item_id": int(ids[1]), "k": 4}]})
        assert status == 400 and "different k" in answer["error"]
        status, answer = call(server.url + ":predict", {"signature_name": "similar_items", "instances": [
            {"item_id": "x1", "k": 3}]})
        assert status == 400 and "feature 'item_id'" in answer["error"]


def test_recommend_scores_a_few_queries_at_a_time_with_the_same_result(recommenders, loo, monkeypatch):
    from ctr.models import recommender

    queries = loo[1].head(7)
    model = recommenders["two_tower"]
    exclude = [loo[0][loo[0].user_id == u].item_id.tolist() for u in queries.user_id]
    whole = model.recommend(queries, k=12, exclude=exclude)
    rows = np.broadcast_to(np.arange(len(model.catalog_ids())), (7, len(model.catalog_ids())))
    scores = model.score_candidates(queries, rows)
    monkeypatch.setattr(recommender, "_SCORES_A_STEP", len(model.catalog_ids()) * 2)  # two queries a step
    monkeypatch.setattr(recommender, "_GATHERED_A_STEP", 1)  # one query a step
    parts = model.recommend(queries, k=12, exclude=exclude)
    np.testing.assert_array_equal(parts[0], whole[0])
    np.testing.assert_allclose(parts[1], whole[1], rtol=1e-6)
    shuffled = np.random.default_rng(0).permuted(rows, axis=1)  # a list of its own per query
    np.testing.assert_allclose(model.score_candidates(queries, shuffled), np.take_along_axis(scores, shuffled, 1),
                               rtol=1e-5, atol=1e-6)


def test_exports_recommend_and_score_pairs_in_a_fresh_process_without_ctr_as_in_process(spec, recommenders, exports,
                                                                                        pipeline, loo, tmp_path,
                                                                                        serve_fresh):
    # One fresh process serves both signatures of every export, `recommend` (k and exclusions chosen
    # per request) and `serving_default` (pair scores), and the retrieval → ranking pipeline's.
    queries = loo[1].head(6)
    rows = loo[1].head(9).copy()
    rows.loc[0, "gender"] = "unseen"
    request, expected, scores = {}, {}, {}
    for name, model in recommenders.items():
        path = exports[name]
        raw = raw_features(queries, ctr.FeatureSpec(tuple(model.spec[n] for n in model.query_features)))
        top, _ = model.recommend(queries, k=10)
        exclude = [top[i][:2].tolist() for i in range(len(queries))]  # the two best items, excluded
        for k in (3, 7):
            request[f"{name}-{k}"] = {"path": str(path), "inputs": {n: v.tolist() for n, v in raw.items()},
                                      "k": k, "exclude": exclude}
            expected[f"{name}-{k}"] = (model.recommend(queries, k=k, exclude=exclude), exclude)
        names = [*model.query_features, *model.item_features]
        raw = raw_features(rows, ctr.FeatureSpec(tuple(model.spec[n] for n in names)))
        request[f"{name}-pairs"] = {"path": str(path), "inputs": {n: v.tolist() for n, v in raw.items()},
                                    "output": "score"}
        scores[name] = model.predict(rows)
        assert scores[name].shape == (9,) and np.isfinite(scores[name]).all()
        np.testing.assert_allclose(model.predict(rows, batch_size=4), scores[name], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(ctr.RecommenderExport(path).predict(rows), scores[name], rtol=1e-5, atol=1e-5)
    ranked, ranked_path = pipeline
    raw = raw_features(queries, ctr.FeatureSpec(tuple(spec[n] for n in ranked.query_features)))
    exclude = [[int(i)] for i in ranked.recommend(queries, k=1)[0][:, 0]]  # each user's top item, excluded
    request["pipeline-4"] = {"path": str(ranked_path), "inputs": {n: v.tolist() for n, v in raw.items()}, "k": 4,
                             "exclude": exclude}
    expected["pipeline-4"] = (ranked.recommend(queries, k=4, exclude=exclude), exclude)
    served = serve_fresh(request, tmp_path)
    for key, ((ids, top_scores), exclude) in expected.items():
        got_ids, got_scores = np.array(served[key]["item_ids"]), np.array(served[key]["scores"])
        assert got_ids.shape == ids.shape, key  # k chosen at serving time
        np.testing.assert_array_equal(got_ids, ids, err_msg=key)
        np.testing.assert_allclose(got_scores, top_scores, atol=1e-5, rtol=1e-5, err_msg=key)
        for row, banned in zip(got_ids, exclude, strict=True):
            assert not set(row.tolist()) & set(banned), key
    for name, want in scores.items():
        np.testing.assert_allclose(np.array(served[f"{name}-pairs"]), want, rtol=1e-5, atol=1e-5, err_msg=name)


def test_an_export_is_evaluated_as_its_model(recommenders, exports, loo, tmp_path, capsys):
    train, test = loo
    for name in ("mf", "neumf"):
        served = ctr.RecommenderExport(exports[name])
        for protocol in ("sampled", "full"):
            got = ctr.evaluate_ranking(served, test, train, protocol=protocol)
            want = ctr.evaluate_ranking(recommenders[name], test, train, protocol=protocol)
            assert got == pytest.approx(want, abs=1e-9), (name, protocol)
    # The shell: `ctr evaluate --train` ranks; `ctr predict` writes the pair scores.
    train.to_parquet(tmp_path / "train.parquet")
    test.to_parquet(tmp_path / "test.parquet")
    capsys.readouterr()
    assert main(["evaluate", "--model", str(exports["mf"]), "--data", str(tmp_path / "test.parquet")]) == 2
    assert "pass --train with the interactions it was trained on" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(exports["mf"]), "--data", str(tmp_path / "test.parquet"),
                 "--train", str(tmp_path / "train.parquet")]) == 0
    printed = capsys.readouterr()  # the figures alone on stdout (JSON for a pipe), the progress bar on stderr
    shown = json.loads(printed.out)
    assert shown == pytest.approx(ctr.evaluate_ranking(recommenders["mf"], test, train, protocol="full"), abs=1e-9)
    assert f"{shown['queries']:,}/{shown['queries']:,} queries (100%), " in printed.err  # a line in a pipe
    assert main(["predict", "--model", str(exports["mf"]), "--data", str(tmp_path / "test.parquet"),
                 "--out", str(tmp_path / "scored.parquet")]) == 0
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    np.testing.assert_allclose(scored["score"], recommenders["mf"].predict(test), rtol=1e-5, atol=1e-5)


def test_factorised_exports_have_embedding_signatures(exports):
    import tensorflow as tf

    for name in ("mf", "two_tower"):
        loaded = tf.saved_model.load(str(exports[name]))
        assert {"recommend", "serving_default", "user_embedding", "item_embedding"} <= set(loaded.signatures)
    loaded = tf.saved_model.load(str(exports["neumf"]))
    assert "recommend" in loaded.signatures and "user_embedding" not in loaded.signatures
    configs = {name: ctr.RecommenderExport(path).metadata["config"] for name, path in exports.items()}
    assert {configs[name]["embedding_updates"] for name in ("mf", "bpr", "neumf")} == {"momentum"}
    assert "embedding_updates" not in configs["two_tower"]  # Adagrad: nothing to choose


def test_catalogue_can_be_reindexed_with_new_items_without_retraining(spec, loo, tmp_path):
    model = ctr.TwoTower(spec, embedding_dim=8, hidden_units=(16,), output_dim=8, batch_size=256)
    model.fit(loo[0], validation_data=loo[1], epochs=1, verbose=0, logdir=tmp_path / "tb")
    assert list((tmp_path / "tb").rglob("events.out.tfevents*"))
    catalogue = model.catalogue_.copy()
    new = catalogue.head(2).assign(item_id=[9001, 9002], genres=["Horror", "Family|Animation"],
                                   title=["Scream Night", "Toy Bunny"])
    model.index(pd_concat(catalogue, new))
    assert {9001, 9002} <= set(model.catalog_ids())
    vectors = model.catalogue_vectors()
    assert not np.allclose(vectors[-1], vectors[-2])  # new items differ by their content
    ids, _ = model.recommend(loo[1].head(50), k=len(model.catalog_ids()))
    assert 9001 in ids[0]
    neighbours, cosines = model.similar_items([9001, 9002], k=3)  # placed by their features: neighbours too
    assert np.isfinite(cosines).all() and 9001 not in neighbours[0] and 9002 not in neighbours[1]
    with pytest.raises(ctr.DataError, match="index: the new catalogue has no items"):
        model.index(catalogue.head(0))
    with pytest.raises(ctr.DataError, match=r"index: some rows have no item id \(column 'item_id'"):
        model.index(pd_concat(catalogue.astype({"item_id": float}), new.assign(item_id=[9001, np.nan])))
    assert 9002 in set(model.catalog_ids())  # a refused catalogue leaves the last one in place


def pd_concat(a, b):
    import pandas as pd

    return pd.concat([a, b], ignore_index=True)


def test_retrieval_then_ranking_pipeline_recommends_as_its_export(pipeline, loo):
    # Its export in a fresh process: test_exports_recommend_and_score_pairs_in_a_fresh_process_...
    ranked, path = pipeline
    queries = loo[1].head(5)
    exclude = [[int(i)] for i in ranked.recommend(queries, k=1)[0][:, 0]]  # each user's top item, excluded
    ids, scores = ranked.recommend(queries, k=4, exclude=exclude)
    assert ids.shape == (5, 4)
    assert all(e[0] not in row for e, row in zip(exclude, ids.tolist(), strict=True))
    served_ids, served_scores = ctr.RecommenderExport(path).recommend(queries, k=4, exclude=exclude)
    np.testing.assert_array_equal(served_ids, ids)
    np.testing.assert_allclose(served_scores, scores, atol=1e-5)
    repeated_index = queries.set_index(np.zeros(len(queries), int))  # e.g. rows gathered by pd.concat
    np.testing.assert_array_equal(ranked.recommend(repeated_index, k=4, exclude=exclude)[0], ids)
    shown: list[str] = []
    ctr.RecommenderExport(path).summary(print_fn=shown.append)  # it showed the retriever's settings as its own
    assert shown[0].startswith("RecommendationPipeline: TwoTower retrieves 30 candidates, DeepFM re-ranks them "
                               "{'n_candidates': 30, 'retriever': {"), shown[0]
    with pytest.raises(ctr.CtrError, match=r"is a retrieve → re-rank pipeline \(TwoTower → DeepFM\): it serves "
                                           r"recommendations"):
        ctr.RecommenderExport(path).predict(queries)
    new = pd.DataFrame({"age": [23.0], "gender": ["F"]})  # a user never seen: the rest is missing
    new_ids, new_scores = ranked.recommend(new, k=4)
    served_ids, served_scores = ctr.RecommenderExport(path).recommend(new, k=4)
    np.testing.assert_array_equal(served_ids, new_ids)
    np.testing.assert_allclose(served_scores, new_scores, atol=1e-5)


@pytest.mark.parametrize("protocol", ["sampled", "full"])
def test_a_pipeline_is_evaluated_on_what_it_recommends_in_process_and_exported_alike(pipeline, loo, protocol):
    """`ctr.evaluate_ranking` takes a pipeline: the ranker orders the retriever's first n_candidates among
    the items that compete (the training items excluded first, as `recommend`'s exclude does); the
    others are never returned. It said "'RecommendationPipeline' object has no attribute 'catalog_ids'"."""
    ranked, path = pipeline
    train, test = loo
    test = test[ctr.data.labels(test, ranked.spec) == 1].head(40)
    got = ctr.evaluate_ranking(ranked, test, train, protocol=protocol)
    served = ctr.evaluate_ranking(ctr.RecommenderExport(path), test, train, protocol=protocol)
    assert {k: v for k, v in served.items()} == pytest.approx(got, abs=1e-9)
    retriever = ctr.evaluate_ranking(ranked.retriever, test, train, protocol=protocol)
    assert got["NDCG@10"] != retriever["NDCG@10"]  # re-ranked, not the retriever's order
    if protocol == "full":  # one held-out item per user: HR@10 is how often recommend's top 10 holds it
        seen = train.groupby("user_id").item_id.apply(set)  # less the held-out item, which always competes
        exclude = [list(seen.get(u, set()) - {i}) for u, i in zip(test.user_id, test.item_id, strict=True)]
        ids, _ = ranked.recommend(test, k=10, exclude=exclude)
        hits = [item in row for item, row in zip(test.item_id, ids.tolist(), strict=True)]
        assert got["HR@10"] == pytest.approx(np.mean(hits)) and got["queries"] == len(test)


def test_recommenders_have_keras_evaluate_which_is_their_ranking_evaluation(spec, recommenders, exports, pipeline,
                                                                             loo):
    train, test = loo
    test = test.head(30)
    popularity = ctr.Popularity(spec).fit(train)
    for model in (recommenders["mf"], popularity, pipeline[0], ctr.RecommenderExport(exports["two_tower"])):
        for options in ({}, {"protocol": "full", "k": 5}):
            assert model.evaluate(test, train, **options) == ctr.evaluate_ranking(model, test, train, **options)
    assert recommenders["mf"].evaluate(test, train, k=5)["protocol"].startswith("sampled")  # as evaluate_ranking


def test_keras_names_a_recommender_lacks_say_what_ctr_does_and_a_trained_one_is_not_deep_copied(
        spec, recommenders, pipeline, loo):
    """As for the click models (tests/test_catalogue.py): Keras' attributes a recommender, Popularity or
    a pipeline lacks say what to use instead, and a trained one is refused by pickle and deepcopy."""
    import copy
    import pickle

    train, test = loo
    recommender, popularity = recommenders["mf"], ctr.Popularity(spec).fit(train)
    for model, name, answer in [
        (recommender, "predict_proba", r"each \(user, item\) pair's score; recommend\(queries, k\)"),
        (popularity, "save", r"export\(path\) writes a SavedModel"),
        (popularity, "get_weights", "Popularity learns no weights: it counts"),
        (pipeline[0], "fit", r"fit the retriever and the ranker first, .* RecommendationPipeline\(retriever, ranker\)"),
        (ctr.RecommenderExport(pipeline[1]), "fit", "an export serves what was trained; fit the model itself"),
    ]:
        with pytest.raises(AttributeError, match=rf"'{type(model).__name__}' object has no attribute '{name}' "
                                                 rf"\(.*{answer}"):
            getattr(model, name)
    rows = test.head(20)
    with pytest.raises(ctr.ArgumentError, match=r"MatrixFactorization\.predict: the second argument is batch_size, "
                                                r"got a Series; labels are not passed apart from the data"):
        recommender.predict(rows, rows["rating"])
    for model in (recommender, pipeline[0]):  # the pipeline, for the trained models it holds
        for keep in (copy.deepcopy, pickle.dumps):
            with pytest.raises(ctr.CtrError, match=r"a trained \w+ is neither pickled nor deep-copied"):
                keep(model)
    assert pickle.loads(pickle.dumps(popularity)).predict(rows).tolist() == popularity.predict(rows).tolist()


def test_a_list_with_fewer_items_left_than_k_is_padded_never_filled_with_excluded_items(
        recommenders, exports, pipeline, loo):
    """In process, the recommenders and the pipeline returned excluded items (scored -inf) to make up k,
    where their exports pad with -1, and the pipeline failed with KeyError: '[-1] not in index'."""
    queries = loo[1].head(2)
    for model, path in ((recommenders["mf"], exports["mf"]), (recommenders["two_tower"], exports["two_tower"]),
                        pipeline):
        ids = model.catalog_ids()
        exclude = [ids[2:].tolist(), []]  # the first query has two items left
        got, scores = model.recommend(queries, k=5, exclude=exclude)
        assert set(got[0, :2]) == set(ids[:2]) and (got[0, 2:] == -1).all() and np.isneginf(scores[0, 2:]).all()
        assert (got[1] >= 0).all() and np.isfinite(scores[1]).all()
        served, served_scores = ctr.RecommenderExport(path).recommend(queries, k=5, exclude=exclude)
        np.testing.assert_array_equal(served, got)
        np.testing.assert_allclose(served_scores, scores, atol=1e-5)


def test_a_recommender_can_rank_another_recommenders_candidates_as_its_export_does(recommenders, exports, loo,
                                                                                   caplog):
    # MF retrieves 20, NeuMF re-ranks them by its own pair scores.
    ranked = ctr.RecommendationPipeline(recommenders["mf"], recommenders["neumf"], n_candidates=20)
    with pytest.raises(ctr.ArgumentError, match=r"the ranker scores each \(query, candidate\) pair .*; got Popularity"):
        ctr.RecommendationPipeline(recommenders["mf"], ctr.Popularity(recommenders["mf"].spec).fit(loo[0]))
    queries = loo[1].head(4)
    ids, scores = ranked.recommend(queries, k=5)
    candidates, _ = recommenders["mf"].recommend(queries, k=20)
    rows = pd.Index(recommenders["neumf"].catalog_ids()).get_indexer(candidates.reshape(-1)).reshape(4, 20)
    neumf = np.concatenate([recommenders["neumf"].score_candidates(queries.iloc[[i]], rows[i:i + 1])
                            for i in range(4)])
    best = np.take_along_axis(candidates, np.argsort(-neumf, axis=1, kind="stable")[:, :5], axis=1)
    np.testing.assert_array_equal(ids, best)
    caplog.clear()
    path = ranked.export(Path(exports["mf"]).parent / "mf-then-neumf")
    # The retriever's item encoder, which a pipeline never calls, was saved unbuilt: a Keras warning a layer.
    assert not [r for r in caplog.records if "Skipping full serialization" in r.getMessage()]
    served_ids, served_scores = ctr.RecommenderExport(path).recommend(queries, k=5)
    np.testing.assert_array_equal(served_ids, ids)
    np.testing.assert_allclose(served_scores, scores, atol=1e-5)


def test_cli_recommend_for_a_known_and_a_new_user(exports, capsys):
    path = exports["neumf"]
    assert main(["recommend", "--model", str(path), "--user", "5", "--k", "3", "--exclude", "1,2"]) == 0
    out = capsys.readouterr().out
    assert "top 3 for user 5 (NeuMF)" in out and "title" in out
    assert main(["recommend", "--model", str(path), "--feature", "age=30", "--feature", "gender=F"]) == 0
    assert "a new user" in capsys.readouterr().out
    assert main(["recommend", "--model", str(path), "--feature", "height=2"]) == 2
    assert "expected NAME=VALUE with NAME one of" in capsys.readouterr().err
    # A recommender's scores rank items: no probabilities to calibrate, said before TensorFlow loads it.
    assert main(["calibrate", "--model", str(path), "--data", "synthetic", "--out", str(path) + "_calibrated"]) == 2
    assert "is a recommender export (NeuMF): calibration makes a click model's scores click probabilities" in \
        capsys.readouterr().err
    for model in (ctr.NeuMF("movielens-100k"), ctr.Popularity("movielens-100k"), ctr.RecommenderExport(path)):
        with pytest.raises(AttributeError, match=r"no attribute 'calibrate' \(calibration makes a click model's "
                                                 r"scores click probabilities, and a recommender's scores rank"):
            model.calibrate(None)
    assert main(["recommend", "--model", str(path), "--feature", "gendr=F"]) == 2
    assert capsys.readouterr().err.endswith(" (did you mean 'gender'?)\n")
    assert main(["recommend", "--model", str(path), "--feature", "genres=Drama"]) == 2
    assert "--feature 'genres=Drama': 'genres' is an item's feature, which each ranked item brings; NAME is one of " \
           "the query's: user_id, " in capsys.readouterr().err
    assert main(["recommend", "--model", str(path), "--user", "5", "--feature", "user_id=6"]) == 2
    assert "--feature 'user_id=6': give the user's id as --user 6" in capsys.readouterr().err
    assert main(["recommend", "--model", str(path), "--user", "abc"]) == 2
    assert "feature 'user_id' expects int64 values, got 'abc'" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):
        main(["recommend", "--model", str(path), "--user", "5", "--k", "0"])
    assert "argument --k: must be an integer of at least 1, got 0" in capsys.readouterr().err


def test_cli_recommends_for_a_file_of_users_leaving_out_what_each_has_seen(exports, loo, tmp_path, capsys):
    """`ctr recommend --data users --seen interactions --out recs`: each distinct user's top k as rows of
    (user, rank, item, score), a known user described by their stored features, as `recommend` does."""
    served, (train, _) = ctr.RecommenderExport(exports["neumf"]), loo
    users = [*train["user_id"].drop_duplicates().head(12), 10**9]  # the last one never seen
    pd.DataFrame({"user_id": [*users, users[0]]}).to_csv(tmp_path / "users.csv", index=False)  # one row twice
    train.to_parquet(tmp_path / "seen.parquet")
    capsys.readouterr()
    assert main(["recommend", "--model", str(exports["neumf"]), "--data", str(tmp_path / "users.csv"),
                 "--seen", str(tmp_path / "seen.parquet"), "--k", "4", "--out", str(tmp_path / "recs.csv")]) == 0
    assert f"{4 * len(users):,} recommendations for {len(users):,} queries written to" in capsys.readouterr().out
    written = pd.read_csv(tmp_path / "recs.csv")
    assert list(written.columns) == ["user_id", "rank", "item_id", "score"]
    stored = served.users.drop_duplicates("user_id", keep="last").set_index("user_id")
    seen = train.groupby("user_id")["item_id"].agg(set)
    for user in users:
        query = stored.loc[[user]].reset_index() if user in stored.index else pd.DataFrame({"user_id": [user]})
        ids, scores = served.recommend(query, k=4, exclude=[list(seen.get(user, set()))])
        mine = written[written["user_id"] == user]
        assert mine["rank"].tolist() == [1, 2, 3, 4] and mine["item_id"].tolist() == ids[0].tolist(), user
        np.testing.assert_allclose(mine["score"], scores[0], rtol=1e-5)
        assert not set(mine["item_id"]) & seen.get(user, set())
    for extra, message in [(["--user", "5"], "one user .* or a file of queries .*, not both"),
                           ([], "--data needs --out, the file to write")]:
        argv = ["recommend", "--model", str(exports["neumf"]), "--data", str(tmp_path / "users.csv"), *extra]
        assert main(argv + (["--out", str(tmp_path / "r.csv")] if extra else [])) == 2
        assert re.search(message, capsys.readouterr().err)


def test_exported_recommender_loader_fills_missing_query_features(exports, trained, tmp_path, capsys):
    served = ctr.load(exports["mf"])
    assert isinstance(served, ctr.RecommenderExport)
    with pytest.raises(ctr.CtrError, match="is a recommender export"):
        ctr.ServedModel(exports["mf"])
    with pytest.raises(ctr.CtrError, match="is a ranking export"):
        ctr.RecommenderExport(trained["lr"].export(tmp_path / "lr"))
    known = served.users.head(2)[["user_id"]]
    rows = ctr.data.complete_queries(served.spec, served.query_features, known, served.users)
    assert rows["gender"].tolist() == served.users.head(2)["gender"].tolist()  # the users' own, as stored
    ids, scores = served.recommend(rows, k=2)
    assert ids.shape == (2, 2) and np.isfinite(scores).all()
    np.testing.assert_array_equal(served.recommend(known, k=2)[0], ids)  # the same, filled by recommend


@pytest.mark.parametrize("name", ["mf", "two_tower"])
def test_a_new_user_described_by_a_few_features_is_served_in_process_and_exported_alike(
        recommenders, exports, name):
    """A query that leaves features out (no id, no timestamp) reads them as missing, as `ctr recommend
    --feature` does: the model, its export and their explicitly completed queries agree."""
    model, served = recommenders[name], ctr.RecommenderExport(exports[name])
    new = pd.DataFrame({"age": [23.0, 61.0], "gender": ["F", "M"], "occupation": ["student", "retired"]})
    ids, scores = model.recommend(new, k=5)
    assert not (ids[0] == ids[1]).all(), "the two users' own features should change their lists"
    explicit = ctr.data.complete_queries(model.spec, model.query_features, new)
    assert (explicit.user_id == ctr.MISSING_INT).all() and explicit.zip_prefix.eq("").all()
    np.testing.assert_array_equal(model.recommend(explicit, k=5)[0], ids)
    served_ids, served_scores = served.recommend(new, k=5)
    np.testing.assert_array_equal(served_ids, ids)
    np.testing.assert_allclose(served_scores, scores, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["mf", "two_tower"])
def test_a_recommender_interrupted_mid_epoch_resumes_from_its_backup(spec, loo, tmp_path, name):
    train = loo[0].head(3000)

    def build():
        if name == "mf":
            return ctr.MatrixFactorization(spec, embedding_dim=8, learning_rate=0.01, batch_size=256)
        return ctr.TwoTower(spec, embedding_dim=8, output_dim=8, batch_size=128)

    straight = build()
    straight.fit(train, epochs=2, verbose=0)
    total = int(straight.network_.optimizer.iterations.numpy())
    per_epoch = total // 2

    class Steps(keras.callbacks.Callback):
        def __init__(self, stop_at=None):
            super().__init__()
            self.stop_at, self.count = stop_at, 0

        def on_train_batch_end(self, batch, logs=None):
            self.count += 1
            if self.count == self.stop_at:
                raise KeyboardInterrupt  # leaves the backup behind, as a crash would

    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        build().fit(train, epochs=2, backup_dir=backup, backup_every=2, callbacks=[Steps(per_epoch + 5)], verbose=0)
    assert (backup / "preprocessing.json").exists()
    resumed, steps = build(), Steps()
    resumed.fit(train, epochs=2, backup_dir=backup, backup_every=2, callbacks=[steps], verbose=0)
    assert int(resumed.network_.optimizer.iterations.numpy()) == total
    assert steps.count < per_epoch, "the resumed fit started over instead of carrying on"
    assert not backup.exists()
    ids, _ = resumed.recommend(loo[1].head(3), k=5)
    assert ids.shape == (3, 5)


@pytest.mark.parametrize("make", [lambda spec: ctr.MatrixFactorization(spec, embedding_dim=4, loss="bpr"),
                                  lambda spec: ctr.NeuMF(spec, embedding_dim=4, hidden_units=(8,)),
                                  lambda spec: ctr.TwoTower(spec, embedding_dim=4, output_dim=4, batch_size=256)],
                         ids=["bpr", "neumf", "two_tower"])
def test_a_recommender_fit_traces_its_training_step_once(spec, loo, make, monkeypatch):
    """tf.function traces a step again when its first trace made variables: they are made before."""
    from ctr.models.base import ReplicaModel

    traced: list[bool] = []
    step = ReplicaModel._step
    monkeypatch.setattr(ReplicaModel, "_step", lambda self, inputs, training: (traced.append(training),
                                                                               step(self, inputs, training))[1])
    model = make(spec)
    model.fit(loo[0].head(2000), epochs=2, verbose=0)
    assert traced == [True]
    model.fit(loo[0].head(2000), epochs=1, verbose=0)  # a later fit traces afresh (its data are new), once
    assert traced == [True, True]


def test_fit_takes_a_batch_size_for_the_call_as_the_click_models_do(spec, loo):
    class Steps(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(self.params["steps"])

    seen: list[int] = []
    data = loo[0].head(2000)
    model = ctr.MatrixFactorization(spec, embedding_dim=4)
    model.fit(data, epochs=1, batch_size=100, callbacks=Steps(), verbose=0)
    ctr.MatrixFactorization(spec, embedding_dim=4, batch_size=100).fit(data, epochs=1, callbacks=Steps(), verbose=0)
    model.fit(data, epochs=1, callbacks=Steps(), verbose=0)  # the model's own batch size again
    assert seen[0] == seen[1] > seen[2] and model.get_config()["batch_size"] == 1024, seen
    with pytest.raises(ctr.ArgumentError, match=r"MatrixFactorization\.fit: batch_size must be an integer of at"):
        model.fit(data, batch_size=0)
    with pytest.raises(ctr.ArgumentError, match=r"MatrixFactorization\.fit has no argument 'sample_weight' \("
                                                r"an interaction's weight \(a play count, a quantity\) is a column "
                                                r"of the data, the one the spec's label\.weight names\); "
                                                r"it takes validation_data, items, epochs"):
        model.fit(data, sample_weight=np.ones(len(data)))
    # The other verbs name the model's own class too, where Python's TypeError named the base class.
    for call, message in [(lambda: model.recommend(loo[1].head(2), top_k=5),
                           r"MatrixFactorization\.recommend has no argument 'top_k'; it takes k, exclude"),
                          (lambda: model.evaluate(loo[1], data, return_dict=True),
                           r"MatrixFactorization\.evaluate has no argument 'return_dict' \(evaluate returns a dict "
                           r"of its figures already\); it takes train, protocol, k"),
                          (lambda: model.predict(loo[1], step=1),
                           r"MatrixFactorization\.predict has no argument 'step'; it takes batch_size, verbose")]:
        with pytest.raises(ctr.ArgumentError, match=message):
            call()


def test_a_checkpoint_during_a_recommenders_fit_is_its_export_as_it_stands_then(spec, loo, tmp_path):
    """Keras' ModelCheckpoint writes the recommender's export; in a second fit, with the catalogue's
    item vectors of the first one cached by `recommend`, the export ranks with the new weights."""
    train, test = loo[0].head(8000), loo[1].head(20)
    model = ctr.TwoTower(spec, embedding_dim=4, output_dim=4, batch_size=256)
    model.fit(train, epochs=1, verbose=0)
    model.recommend(test, k=5)
    model.fit(train, epochs=1, verbose=0, callbacks=keras.callbacks.ModelCheckpoint(str(tmp_path / "tower")))
    served, expected = ctr.load(tmp_path / "tower").recommend(test, k=5), model.recommend(test, k=5)
    np.testing.assert_array_equal(served[0], expected[0])
    np.testing.assert_allclose(served[1], expected[1], rtol=1e-5, atol=1e-5)


def test_load_weights_takes_a_recommender_back_to_the_recommendations_it_made_then(spec, loo, tmp_path):
    """Weights restored with load_weights are what `recommend` ranks with, not the catalogue vectors
    it computed from the weights in place before."""
    train, test = loo[0].head(8000), loo[1].head(20)
    model = ctr.TwoTower(spec, embedding_dim=4, output_dim=4, batch_size=256)
    model.fit(train, epochs=1, verbose=0)
    model.save_weights(tmp_path / "first")
    then = model.recommend(test, k=5)
    model.fit(train, epochs=1, verbose=0)
    model.recommend(test, k=5)  # the new weights' vectors, cached
    model.load_weights(tmp_path / "first")
    again = model.recommend(test, k=5)
    np.testing.assert_array_equal(again[0], then[0])
    np.testing.assert_allclose(again[1], then[1], rtol=1e-5, atol=1e-6)


def test_the_two_tower_training_loss_and_its_gradient_are_the_tfrs_retrieval_tasks():
    """Training computes the retrieval task's loss itself, with a hand-written gradient: both must be
    the task's, accidental hits (an item repeated in the batch) and sampling correction included."""
    import tensorflow_recommenders as tfrs

    from ctr._keras import tf
    from ctr.models.two_tower import in_batch_softmax_loss

    rng = np.random.default_rng(0)
    queries = tf.constant(rng.normal(size=(64, 9)), tf.float32)
    items = tf.constant(rng.normal(size=(64, 9)), tf.float32)
    rows = tf.constant(rng.integers(0, 20, 64), tf.int64)  # about three repeats of each item
    probability = tf.constant(rng.uniform(1e-7, 0.2, 64), tf.float32)  # some below the task's 1e-6 clip
    task = tfrs.tasks.Retrieval(remove_accidental_hits=True)
    results = []
    for loss in (lambda q, c: task(q, c, candidate_sampling_probability=probability, candidate_ids=rows,
                                   compute_metrics=False),
                 lambda q, c: in_batch_softmax_loss(q, c, probability, rows)):
        with tf.GradientTape() as tape:
            tape.watch([queries, items])
            value = 3.0 * loss(queries, items)  # a scaled loss checks that the gradient takes the scale
        results.append([value.numpy(), *(g.numpy() for g in tape.gradient(value, [queries, items]))])
    assert np.unique(rows.numpy()).size < 30
    for ours, theirs in zip(results[1], results[0], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_validating_a_two_tower_prints_no_tensorflow_log_line():
    """The retrieval task's own loss transposed the item ids, and TensorFlow 2.21 logged an error
    line about oneDNN and integers into the first validation's progress bar. Once a process, so a
    fresh one."""
    code = """
import ctr
frame = ctr.datasets.synthetic(3000, n_users=100, n_items=120, seed=0)
train, valid = ctr.leave_one_out(frame)
history = ctr.TwoTower(ctr.datasets.synthetic_spec(), embedding_dim=4, output_dim=4).fit(
    train, validation_data=valid, epochs=1, verbose=0).history
assert "val_factorized_top_k/top_10_categorical_accuracy" in history, history
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not re.search(r"(?m)^[IWEF]\d{4} |oneDNN", done.stderr), done.stderr


def test_validation_rows_with_items_outside_the_catalogue_are_left_out_with_a_message(spec, loo, capsys):
    """A random split leaves a few rare items in validation only: those rows cannot be ranked among the
    catalogue, so they are left out and the fit says so (numpy's bincount error came out before)."""
    train, test = loo
    valid = test.head(200).copy()
    valid.loc[valid.index[:3], "item_id"] = [90001, 90002, 90003]
    histories = {}
    for model in (ctr.MatrixFactorization(spec, embedding_dim=8),
                  ctr.TwoTower(spec, embedding_dim=8, output_dim=8, batch_size=256)):
        histories[type(model).__name__] = model.fit(train, validation_data=valid, epochs=1).history
        assert "validation: 3 of 200 rows are left out" in capsys.readouterr().err
    assert "val_auc" in histories["MatrixFactorization"]
    # The retriever's top-K over the catalogue is an evaluation metric: training does not report zeros.
    tower = sorted(k for k in histories["TwoTower"] if "top_k" in k)
    assert tower and all(k.startswith("val_") for k in tower), tower
    with pytest.raises(ctr.DataError, match=r"'item_id'.*fit\(items=\.\.\.\)"):
        model.fit(train, validation_data=valid.head(3), epochs=1, verbose=0)


@pytest.mark.parametrize("updates", ["momentum", "lazy"])
def test_a_recommender_step_moves_only_the_embedding_rows_its_batch_used(spec, loo, updates):
    """Keras' Adam rewrote every row of every table at each step (bench/embedding_updates.py times
    it on large catalogues); a step now moves only the rows its batch used ("momentum" applies the
    skipped steps when a row is next used)."""
    train = loo[0]
    model = ctr.MatrixFactorization(spec, embedding_dim=4, learning_rate=0.01, embedding_updates=updates)
    model.fit(train, epochs=1, verbose=0)  # every row now has moments, which Keras' Adam would keep applying
    assert model.network_.optimizer.catch_up == (updates == "momentum")
    tables = [v for v in model.network_.trainable_variables if v.shape.rank == 2]
    before = [v.numpy() for v in tables]
    two_users = train[train["user_id"].isin(train["user_id"].unique()[:2])]
    model.fit(two_users, items=train, epochs=1, verbose=0)  # a few batches: two users and their negatives
    moved = sum(int((v.numpy() != old).any(axis=1).sum()) for v, old in zip(tables, before, strict=True))
    rows = sum(v.shape[0] for v in tables)
    assert 0 < moved < 0.4 * rows, (moved, rows)
    assert model.get_config()["embedding_updates"] == updates


def test_a_catalogue_read_from_a_csv_keeps_its_ids_leading_zeros(tmp_path):
    # pandas would read '007' as 7: a catalogue of items 7, 10, 11 and 12 beside the interactions' '007'.
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", role="user"), ctr.Categorical("item_id", role="item"),
                            ctr.Categorical("genre", role="item")])
    rows = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c"], "item_id": ["007", "010", "007", "011", "010"],
                         "genre": ["x", "y", "x", "y", "y"]})
    pd.DataFrame({"item_id": ["007", "010", "011", "012"], "genre": ["x", "y", "y", "x"]}).to_csv(
        tmp_path / "items.csv", index=False)
    model = ctr.MatrixFactorization(spec, embedding_dim=4)
    model.fit(rows, items=tmp_path / "items.csv", epochs=1, verbose=0)
    assert sorted(model.catalogue_["item_id"]) == ["007", "010", "011", "012"]
    model.index(tmp_path / "items.csv")
    assert sorted(model.catalogue_["item_id"]) == ["007", "010", "011", "012"]
    ids, _ = model.recommend(pd.DataFrame({"user_id": ["a"]}), k=4)
    assert sorted(ids[0]) == ["007", "010", "011", "012"]


def test_text_item_ids_beyond_ascii_are_recommended_by_the_export_as_in_process(tmp_path):
    # numpy's astype(str) reads bytes as ASCII: the export's own check failed on an id such as 'crème'.
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", role="user"), ctr.Categorical("item_id", role="item")])
    rng = np.random.default_rng(0)
    items = ["crème", "日本", "naïve", "zoë"] + [f"i{k}" for k in range(12)]
    rows = pd.DataFrame({"user_id": rng.choice([f"u{i}" for i in range(20)], 300), "item_id": rng.choice(items, 300)})
    model = ctr.MatrixFactorization(spec, embedding_dim=4)
    model.fit(rows, epochs=1, verbose=0)
    served = ctr.load(model.export(tmp_path / "mf"))
    users = pd.DataFrame({"user_id": [f"u{i}" for i in range(20)]})
    ids, scores = served.recommend(users, k=len(items), exclude=[["naïve"]] * 20)
    want_ids, want_scores = model.recommend(users, k=len(items), exclude=[["naïve"]] * 20)
    assert ids[:, :-1].tolist() == want_ids[:, :-1].tolist() and set(ids[:, -1]) == {""}  # padded past the rest
    np.testing.assert_allclose(scores[:, :-1], want_scores[:, :-1], rtol=1e-5, atol=1e-6)
    similar = ["crème", "日本"]
    assert served.similar_items(similar, k=3)[0].tolist() == model.similar_items(similar, k=3)[0].tolist()
    from ctr.serving import Server
    from tests.test_serving import call

    with Server(tmp_path / "mf", port=0, log_requests=False) as server:
        status, answer = call(server.url + ":predict", {"signature_name": "recommend",
                                                        "instances": [{"user_id": "u0", "k": 3}]})
        assert status == 200 and answer["predictions"][0]["item_ids"] == want_ids[0, :3].tolist()


@pytest.mark.parametrize("model_class", [ctr.MatrixFactorization, ctr.NeuMF, ctr.TwoTower])
def test_two_item_features_may_read_one_column(model_class, loo):
    """A title as words and hashed, a price standardised and in buckets: the catalogue takes each column
    once (it took it twice, and the item table was refused for a column 'given twice in the data')."""
    train, _ = loo
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                            ctr.Categorical("item_id", dtype="int", role="item"), ctr.Text("title", role="item"),
                            ctr.Text("title_hashed", column="title", hash_buckets=16, role="item"),
                            ctr.Numeric("price", role="item"),
                            ctr.Numeric("price_bucket", column="price", transform="quantile", role="item")])
    model = model_class(spec, embedding_dim=4, seed=0)
    model.fit(train.head(3000), epochs=1, verbose=0)
    assert list(model.catalogue_.columns) == ["item_id", "title", "price"]
    ids, _ = model.recommend(train.head(2), k=5)
    assert ids.shape == (2, 5)


def test_an_export_and_a_pipeline_show_what_they_are(exports, pipeline):
    served = ctr.RecommenderExport(exports["mf"])
    assert repr(served) == f"RecommenderExport({str(exports['mf'])!r}, model='MatrixFactorization', items=600)"
    assert repr(pipeline[0]).startswith("RecommendationPipeline(TwoTower(spec='synthetic', embedding_dim=8, ")
    assert repr(pipeline[0]).endswith(", n_candidates=30)") and ", DeepFM(spec='synthetic', " in repr(pipeline[0])
