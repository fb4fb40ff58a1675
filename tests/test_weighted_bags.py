"""Weighted bags (`Action:0.7|Comedy:0.3`): read from every data form, pooled as TensorFlow's weighted
lookups pool, learned from and served raw."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ctr
from ctr._keras import tf
from ctr.data import raw_features
from ctr.diagnostics import evaluate_by
from ctr.features import weight_key
from ctr.inspect import inspect_data
from ctr.serving import Server

TAGS = [f"t{i}" for i in range(12)]


def _rows(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Clicks that follow each item's tags by their weights: the first four tags please, the rest do not,
    and an item holds three tags in proportions of its own, so the tags without weights tell little."""
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(len(TAGS), 3, replace=False) for _ in range(40)]
    shares = rng.dirichlet(np.full(3, 0.5), size=40)
    items = rng.integers(0, 40, n)
    liked = np.array([sum(w for t, w in zip(chosen[i], shares[i], strict=True) if t < 4) for i in items])
    text = ["|".join(f"{TAGS[t]}:{w:.3f}" for t, w in zip(chosen[i], shares[i], strict=True)) for i in range(40)]
    return pd.DataFrame({"user_id": rng.integers(0, 30, n).astype(str), "item_id": items.astype(str),
                         "tags": [text[i] for i in items],
                         "history": ["|".join(map(str, rng.integers(0, 40, 3))) for _ in range(n)],
                         "clicked": (rng.random(n) < 1 / (1 + np.exp(-6 * (liked - 0.4)))).astype(int)})


def _spec(*extra: ctr.Feature, weighted: bool = True) -> ctr.FeatureSpec:
    return ctr.FeatureSpec([ctr.Categorical("user_id", role="user"), ctr.Categorical("item_id", role="item"),
                            ctr.MultiCategorical("tags", role="item", weighted=weighted), *extra],
                           label=ctr.Label("clicked"))


def test_a_weighted_bag_spec_round_trips_and_its_mistakes_are_named():
    spec = _spec()
    assert ctr.FeatureSpec.from_yaml(spec.to_yaml()) == spec
    assert "weighted: true" in spec.to_yaml()
    assert "each weighted after ':' (1 without), weighted mean of embeddings" in spec.describe()
    for separator, why in (("|", "must be a non-empty string other than the separator '|'"),
                           ("", "must be a non-empty string"), ("=1", "must hold no digit, '.' or white space")):
        with pytest.raises(ctr.SpecError, match=rf"features\[0\]\.weight_separator: {why}"):
            ctr.FeatureSpec.from_dict({"features": [{"name": "g", "kind": "multi_categorical", "weighted": True,
                                                     "weight_separator": separator}]})
    with pytest.raises(ctr.SpecError, match=r"features\[0\]\.weighted: expected true or false, got str 'yes'"):
        ctr.FeatureSpec.from_dict({"features": [{"name": "g", "kind": "multi_categorical", "weighted": "yes"}]})


def test_every_data_form_gives_the_same_text_and_bad_weights_are_named(tmp_path):
    """Text, mappings (a frame's dicts, JSON's objects), lists of (id, weight) pairs (a Parquet map's rows,
    Arrow's structs) and lists of 'id:weight': the same text; a weight that is no number from 0 to 1e9
    is a DataError naming the row."""
    spec = ctr.FeatureSpec([ctr.MultiCategorical("g", weighted=True)])
    expected = ["a:0.5|b:2.0", "", "", "c"]
    forms = {"text": ["a:0.5|b:2.0", None, "", "c"], "mappings": [{"a": 0.5, "b": 2}, None, {}, ["c"]],
             "pairs": [[("a", 0.5), ("b", 2)], None, [], ["c"]], "tokens": [["a:0.5", "b:2.0"], None, [], ["c"]],
             "arrays": [np.array([("a", 0.5), ("b", 2)], object), None, np.array([]), np.array(["c"])]}
    for name, column in forms.items():
        assert raw_features(pd.DataFrame({"g": column}), spec)["g"].tolist() == expected, name
    pairs = pa.array([[("a", 0.5), ("b", 2.0)], None, [], [("c", 1.0)]], pa.map_(pa.string(), pa.float32()))
    pq.write_table(pa.table({"g": pairs}), tmp_path / "map.parquet")
    structs = pa.array([[{"id": "a", "w": 0.5}, {"id": "b", "w": 2.0}], None, [], [{"id": "c", "w": 1.0}]],
                       pa.list_(pa.struct([("id", pa.string()), ("w", pa.float64())])))
    pq.write_table(pa.table({"g": structs}), tmp_path / "structs.parquet")
    objects = [{"g": {"a": 0.5, "b": 2}}, {"g": None}, {"g": {}}, {"g": {"c": 1}}]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in objects))
    (tmp_path / "rows.json").write_text(json.dumps(objects))  # an array, and each key of each row's own
    pd.DataFrame({"g": forms["text"]}).to_csv(tmp_path / "rows.csv", index=False)
    for name in ("map.parquet", "structs.parquet", "rows.jsonl", "rows.json", "rows.csv"):
        read = raw_features(ctr.data.read(tmp_path / name, columns=["g"]), spec)["g"].tolist()
        assert read == ["a:0.5|b:2.0", "", "", "c:1.0" if name != "rows.csv" else "c"], name
    where = r"feature 'g' \(multi_categorical, column 'g'\): "
    for column, message in (
            (["a:1", "b:x"], "row 1 holds 'b:x', whose weight 'x' is not a number from 0 to 1e\\+09; a weighted bag's "
                             "ids are written id:weight, or without a weight \\(read as 1\\); an id that holds ':' "
                             "needs a weight after it: 'b:x:1'"),
            (["a:-1"], "row 0 holds 'a:-1', whose weight '-1' is not a number from 0 to 1e\\+09; [^;]*1\\)$"),
            (["a:2e9"], "row 0 holds 'a:2e9', whose weight '2e9' is not a number"),
            ([{"a": "heavy"}], r"row 0 holds \('a', 'heavy'\), where a weighted bag takes \(id, weight\) pairs"),
            ([[("a", float("nan"))]], r"row 0 holds \('a', nan\), where a weighted bag takes")):
        with pytest.raises(ctr.DataError, match=where + message):
            raw_features(pd.DataFrame({"g": column}), spec)


def test_weighted_pooling_is_tensorflows_weighted_lookup_in_serving_training_and_the_cache():
    """Each weighted bag is pooled as `tf.nn.embedding_lookup_sparse` with its weights pools (mean: over the
    weights' sum; sqrtn: over the root of their squares' sum); an id without a weight weighs 1, a bag
    of zero weights is 0. Serving's gathers, training's distinct rows and FM's training cache agree."""
    rows = pd.DataFrame({"t": ["a:0.5|b:2", "b|c:0.25", "", "a:0|b:0", "c: 3 |a", "d:1"] * 10,
                         "clicked": [0, 1] * 30})
    features = [ctr.MultiCategorical(f"t_{c}", column="t", combiner=c, weighted=True) for c in ("mean", "sum", "sqrtn")]
    spec = ctr.FeatureSpec([*features, ctr.MultiCategorical("plain", column="t")], label=ctr.Label("clicked"))
    model = ctr.FM(spec, embedding_dim=3, seed=0)
    model.fit(rows, epochs=1, verbose=0)
    embeddings = model.network_.scorer.embeddings
    encoded, _ = model._encode_features(rows.head(6))
    inputs = {k: tf.constant(v) for k, v in encoded.items()}
    served, _ = embeddings._stack(embeddings.fields, inputs)
    for slot, f in enumerate(features):
        table = embeddings.table[embeddings.offsets[f.name]:][:, :3]
        ids, weights = encoded[f.name], encoded[weight_key(f.name)]
        np.testing.assert_allclose(weights[0, :2], [0.5, 2.0])
        np.testing.assert_allclose(weights[4, :2], [3.0, 1.0])  # spaced, and none
        sparse_ids = tf.sparse.from_dense(tf.constant(ids, tf.int64))
        sparse_weights = tf.SparseTensor(sparse_ids.indices, tf.gather_nd(weights, sparse_ids.indices),
                                         sparse_ids.dense_shape)
        expected = tf.nn.embedding_lookup_sparse(table, sparse_ids, sparse_weights, combiner=f.combiner).numpy()
        expected[3] = 0.0  # weights that sum to 0: nothing, where TensorFlow divides by 0
        np.testing.assert_allclose(served[:, slot, :3], expected, atol=1e-6, err_msg=f.combiner)
    # An id without a weight weighs 1: the unweighted bag of the same text pools 'b|c:0.25' as b and c:0.25.
    plain = model.preprocessor_.state["tables"]["plain"]["vocabulary"]
    assert "c:0.25" in plain and "c" not in plain
    results = []
    cached = {k: tf.constant(v) for k, v in embeddings.training_cache(encoded).items()}
    for inputs_, sparse in ((inputs, False), (inputs, True), (cached, True)):
        with tf.GradientTape() as tape:
            stacked, _ = embeddings._stack(embeddings.fields, inputs_, sparse=sparse)
            sums, norms = embeddings._moments_sparse(inputs_) if sparse else embeddings._moments_from_rows(inputs_)
            loss = tf.reduce_sum(stacked * 0.5) + tf.reduce_sum(sums) + tf.reduce_sum(norms * 2.0)
        gradient = tf.convert_to_tensor(tape.gradient(loss, embeddings.table))
        results.append((stacked.numpy(), sums.numpy(), norms.numpy(), gradient.numpy()))
    for serving, trained, from_cache in zip(*results, strict=True):
        np.testing.assert_allclose(trained, serving, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(from_cache, trained, rtol=1e-6, atol=1e-7)


def test_weighted_bags_are_learned_from_and_served_raw_in_a_fresh_process(tmp_path, serve_fresh):
    """A click model reads an item's weighted tags (and, from the item table inside the graph, those of the
    items in a user's history); a two-tower model's item tower its candidates'. Both exports are fed raw
    text in a process without ctr, and REST rows send the weights as JSON objects."""
    rows = _rows()
    unseen = rows["item_id"].astype(int) >= 30  # items that training never shows: only their tags tell them
    train, test = rows[~unseen], rows[unseen]
    history = ctr.History("history", items="item_id")
    model = ctr.DeepFM(_spec(history), embedding_dim=4, hidden_units=(8,), learning_rate=0.02, seed=0)
    model.fit(train, epochs=3, verbose=0)
    blind = ctr.DeepFM(_spec(history, weighted=False), embedding_dim=4, hidden_units=(8,), learning_rate=0.02,
                       seed=0)
    unweighted = rows.assign(tags=rows["tags"].str.replace(r":[0-9.]+", "", regex=True))
    blind.fit(unweighted[~unseen], epochs=3, verbose=0)
    assert model.evaluate(test)["auc"] > blind.evaluate(unweighted[unseen])["auc"] + 0.05
    requests = test.head(6).drop(columns="clicked").reset_index(drop=True)
    requests.loc[0, "tags"] = "t0:1|t5:0"
    requests.loc[1, "tags"] = "t0:0|t5:1"  # the same ids, the other weights
    requests.loc[2, "tags"] = "t0| t5 : 2.5e-1"
    requests.loc[3, "tags"] = ""
    expected = model.predict(requests)
    assert abs(expected[0] - expected[1]) > 1e-3
    click_path = model.export(tmp_path / "deepfm", verify=False)  # both checked by serving them below

    positives = rows[rows.clicked == 1]
    tower = ctr.TwoTower(ctr.FeatureSpec([ctr.Categorical("user_id", role="user"),
                                          ctr.Categorical("item_id", role="item"),
                                          ctr.MultiCategorical("tags", role="item", weighted=True)]),
                         embedding_dim=4, seed=0)
    tower.fit(positives, epochs=2, verbose=0)
    queries = positives.head(3)[["user_id"]].reset_index(drop=True)
    ids, top = tower.recommend(queries, k=5)
    tower_path = tower.export(tmp_path / "tower", verify=False)

    served = serve_fresh({
        "deepfm": {"path": str(click_path), "inputs": {name: requests[name].tolist() for name in model.spec.names}},
        "tower": {"path": str(tower_path), "k": 5, "exclude": [[""]] * 3,
                  "inputs": {"user_id": queries["user_id"].tolist()}}}, tmp_path)
    np.testing.assert_allclose(np.ravel(served["deepfm"]), expected, atol=1e-5)
    assert served["tower"]["item_ids"] == ids.tolist()
    np.testing.assert_allclose(served["tower"]["scores"], top, atol=1e-5)
    objects = requests.assign(tags=[{"t0": 1, "t5": 0}, {"t0": 0, "t5": 1}, {"t0": 1, "t5": 0.25}, {},
                                    *requests["tags"][4:]])
    with Server(click_path, port=0, log_requests=False) as server:
        instances = json.loads(objects.to_json(orient="records"))
        status, answer = server.respond("POST", "/v1/models/deepfm:predict",
                                        json.dumps({"instances": instances}).encode())
    assert status == 200, answer
    np.testing.assert_allclose([p["probability"] for p in answer["predictions"]], expected, atol=1e-5)


def test_inspection_and_slices_read_a_weighted_bags_ids_without_their_weights():
    rows = _rows(400)
    model = ctr.LogisticRegression(_spec(), seed=0)
    model.fit(rows, epochs=1, verbose=0)
    report = inspect_data(rows, model=model)
    summary = next(f for f in report.features if f.name == "tags")
    assert summary.cardinality == len({t.split(":")[0] for text in rows["tags"] for t in text.split("|")})
    assert summary.unseen_rate == 0.0
    assert report.skew == []
    assert model.preprocessor_.state["weights"]["tags"]["mean"] == pytest.approx(1 / 3, abs=0.01)  # shares of 1
    percent = rows.assign(tags=rows["tags"].str.replace(r":([0-9.]+)", lambda m: f":{float(m[1]) * 100:g}",
                                                        regex=True))
    assert any(line.startswith("'tags': its ids' weights average 33.3, against 0.333 in training (100×): weights "
                               "on another scale (percentages for fractions?)") for line in
               inspect_data(percent, model=model).skew)
    slices = evaluate_by(model, rows, "tags")
    assert set(slices["tags"]) == {*TAGS, "(all)"}


def test_a_draft_reads_ids_with_weights_as_weighted_bags(tmp_path):
    """Text of 'id:weight' lists, mappings of ids to weights (whose keys vary, unlike an object's fields)
    and lists of (id, weight) pairs are weighted bags; plain lists stay plain."""
    rows = _rows(300)
    rows["moods"] = [{"calm": 0.5, "dark": 2}, {"calm": 1}, None] * 100
    rows["pairs"] = [[("a", 0.5), ("b", 2.0)], [("c", 1.0)], []] * 100
    rows["meta"] = [{"page": i % 3} for i in range(300)]  # an object: its fields, not ids
    draft = ctr.draft_spec(rows, label="clicked")
    for name in ("tags", "moods", "pairs"):
        assert draft.spec[name].kind == "multi_categorical" and draft.spec[name].weighted, name
    assert "ids with weights ('id:weight'; 12 distinct ids)" in str(draft)
    assert "meta" in draft.skipped
    path = tmp_path / "rows.csv"
    rows.drop(columns=["moods", "pairs", "meta"]).to_csv(path, index=False)
    written = ctr.draft_spec(path, label="clicked")
    assert written.spec["tags"].weighted and written.spec["history"].kind == "history"
    model = ctr.LogisticRegression(written.spec, seed=0)
    model.fit(path, epochs=1, verbose=0)  # the draft trains as it is
