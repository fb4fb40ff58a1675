"""Vector features: embeddings computed elsewhere, read from every data form, trained on and served raw."""

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
from ctr.diagnostics import evaluate_by, feature_importance
from ctr.features import missing_mask
from ctr.inspect import inspect_data
from ctr.serving import Server

DIM = 4


def _rows(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    """Clicks that follow the items' vectors (and a little the users' own): an item id alone cannot tell
    an item it has not seen, its vector can."""
    rng = np.random.default_rng(seed)
    item_vectors = rng.normal(size=(60, DIM)).astype(np.float32)
    items = rng.integers(0, 60, n)
    users = rng.normal(size=(n, 2)).astype(np.float32)
    logit = 3 * item_vectors[items] @ np.array([1.0, -1.0, 0.5, 0.0]) + users[:, 0]
    return pd.DataFrame({"user_id": rng.integers(0, 40, n).astype(str), "item_id": items.astype(str),
                         "item_vec": list(item_vectors[items]), "user_vec": list(users),
                         "history": ["|".join(map(str, rng.integers(0, 60, 3))) for _ in range(n)],
                         "clicked": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)})


def _spec(**extra: ctr.Vector) -> ctr.FeatureSpec:
    return ctr.FeatureSpec([ctr.Categorical("user_id", role="user"), ctr.Categorical("item_id", role="item"),
                            ctr.Vector("item_vec", dim=DIM, role="item"), *extra.values()], label=ctr.Label("clicked"))


def test_a_vector_spec_round_trips_and_its_mistakes_are_named():
    spec = _spec(user=ctr.Vector("user_vec", dim=2, role="user", transform="none"))
    assert ctr.FeatureSpec.from_yaml(spec.to_yaml()) == spec
    assert "float32[batch, 4]" in spec.describe()
    with pytest.raises(ctr.SpecError, match=r"features\[0\]\.dim: required, the length of the vectors"):
        ctr.FeatureSpec.from_dict({"features": [{"name": "v", "kind": "vector"}]})
    with pytest.raises(ctr.SpecError, match=r"features\[0\]\.transform: 'log' is not one of"):
        ctr.FeatureSpec.from_dict({"features": [{"name": "v", "kind": "vector", "dim": 3, "transform": "log"}]})
    with pytest.raises(ctr.SpecError, match=r"features\[0\]\.dim: at most 4,096 components, got 5,000; reduce"):
        ctr.FeatureSpec([ctr.Vector("v", dim=5000)])
    with pytest.raises(ctr.SpecError, match="a vector has no vocabulary to share"):
        ctr.FeatureSpec([ctr.Vector("v", dim=3, shared_embedding="v")])


def test_every_data_form_gives_the_same_vectors_and_missing_rows(tmp_path):
    """Lists, NumPy arrays, Parquet's lists (variable and fixed size), JSON arrays, CSV text and TFRecord
    float lists: the same [N, dim] values, and a null, an empty list or a NaN component is a missing row."""
    spec = ctr.FeatureSpec([ctr.Vector("v", dim=3)])
    vectors = [[0.5, -1.0, 2.0], None, [], [1.0, float("nan"), 0.0], [3.0, 4.0, 5.0]]
    expected = np.array([[0.5, -1.0, 2.0], [np.nan] * 3, [np.nan] * 3, [1.0, np.nan, 0.0], [3.0, 4.0, 5.0]],
                        np.float32)
    frames = {"lists": pd.DataFrame({"v": vectors}),
              "arrays": pd.DataFrame({"v": [None if v is None else np.array(v) for v in vectors]}),
              "text": pd.DataFrame({"v": ["[0.5, -1.0, 2.0]", None, "", "1 nan 0", "3;4;5"]})}
    whole = [[0.5, -1.0, 2.0], [3.0, 4.0, 5.0]]
    pq.write_table(pa.table({"v": pa.array(vectors, pa.list_(pa.float32()))}), tmp_path / "lists.parquet")
    pq.write_table(pa.table({"v": pa.array(whole, pa.list_(pa.float32(), 3))}), tmp_path / "fixed.parquet")
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps({"v": v}) + "\n" for v in [*vectors[:3], vectors[4]]))
    pd.DataFrame({"v": ["0.5,-1,2", "", "3,4,5"]}).to_csv(tmp_path / "rows.csv", index=False)
    with tf.io.TFRecordWriter(str(tmp_path / "rows.tfrecord")) as writer:
        for v in [whole[0], [], whole[1]]:
            floats = tf.train.Feature(float_list=tf.train.FloatList(value=v))
            writer.write(tf.train.Example(features=tf.train.Features(feature={"v": floats})).SerializeToString())
    for name, frame in frames.items():
        raw = raw_features(frame, spec)["v"]
        np.testing.assert_array_equal(raw, expected, err_msg=name)
        assert missing_mask(raw).tolist() == [False, True, True, True, False], name
    files = {"lists.parquet": expected[[0, 1, 2, 4]], "fixed.parquet": np.array(whole, np.float32),
             "rows.jsonl": expected[[0, 1, 2, 4]], "rows.csv": expected[[0, 1, 4]],
             "rows.tfrecord": expected[[0, 1, 4]]}
    dataset = tf.data.Dataset.from_tensor_slices({"v": np.array(whole, np.float32)}).batch(2)  # [2, 3] a batch
    np.testing.assert_array_equal(raw_features(ctr.data.dataset_frame(dataset), spec)["v"], np.array(whole, np.float32))
    for name, values in files.items():
        if name == "lists.parquet":
            values = expected  # the file holds all five rows
        np.testing.assert_array_equal(raw_features(ctr.data.read(tmp_path / name), spec)["v"], values, err_msg=name)


@pytest.mark.parametrize(("column", "message"), [
    ([[1.0, 2.0, 3.0], [1.0, 2.0]], r"every vector must hold dim=3 numbers \(the spec's\), but 1 rows hold 2 "
                                    r"\(the first is row 1\)"),
    ([1.5, 2.5], "expected a list of 3 numbers per row .* found single float64 values such as 1.5"),
    ([[1.0, "x", 3.0]], "expected numbers in each row's vector, found 'x' in row 0"),
    (["[1, 2, three]"], "expected a vector of numbers such as .* found 'three'"),
    ([{1.0, 2.0, 3.0}], "a vector's components have an order, but row 0 holds a set"),
    ([{"a": 1}], r"expected a list of 3 numbers per row \(an embedding\), found a dict"),
])
def test_a_vector_of_the_wrong_shape_or_values_is_named(column, message):
    spec = ctr.FeatureSpec([ctr.Vector("v", dim=3, column="emb")])
    with pytest.raises(ctr.DataError, match=r"feature 'v' \(vector, column 'emb'\): " + message):
        raw_features(pd.DataFrame({"emb": column}), spec)


def test_a_one_component_vector_reads_a_column_of_numbers():
    spec = ctr.FeatureSpec([ctr.Vector("v", dim=1)])
    raw = raw_features(pd.DataFrame({"v": [1.5, np.nan]}), spec)["v"]
    np.testing.assert_array_equal(raw, [[1.5], [np.nan]])


def test_vectors_are_learned_from_and_served_raw_in_a_fresh_process(tmp_path, serve_fresh):
    """A click model reads an item's vector (and the vectors of the items in a user's history, from the
    item table inside the graph); a two-tower model a user's vector in its query tower. Both exports are
    fed raw vectors, missing and NaN ones among them, in a process without ctr."""
    rows = _rows()
    spec = _spec(user=ctr.Vector("user_vec", dim=2, role="user"), history=ctr.History("history", items="item_id"))
    unseen = rows["item_id"].astype(int) >= 50  # items that training never shows: only their vectors tell them
    train, test = rows[~unseen], rows[unseen]
    model = ctr.DeepFM(spec, embedding_dim=4, hidden_units=(8,), learning_rate=0.02, seed=0)
    model.fit(train, epochs=4, verbose=0)
    blind = ctr.DeepFM(ctr.FeatureSpec(spec.features[:2], label=spec.label), embedding_dim=4, hidden_units=(8,),
                       learning_rate=0.02, seed=0)
    blind.fit(train, epochs=4, verbose=0)
    assert model.evaluate(test)["auc"] > blind.evaluate(test)["auc"] + 0.1
    # The history's items' vectors reach the score: only the history differs between these two rows.
    probe = test.head(2).assign(history=["1|2|3", "40|41|42"], item_id="1", user_id="u")
    scores = model.predict(probe)
    assert abs(scores[0] - scores[1]) > 1e-4
    requests = test.head(6).copy()
    requests.at[requests.index[0], "item_vec"] = None
    requests.at[requests.index[1], "item_vec"] = [np.nan, 1.0, 2.0, 3.0]
    requests.at[requests.index[2], "user_vec"] = []
    expected = model.predict(requests)
    assert len(set(np.round(expected, 6))) == 6
    click_path = model.export(tmp_path / "deepfm", verify=False)  # both checked by serving them below

    positives = rows[rows.clicked == 1]
    tower = ctr.TwoTower(_spec(user=ctr.Vector("user_vec", dim=2, role="user")), embedding_dim=4, seed=0)
    tower.fit(positives, epochs=2, verbose=0)
    queries = positives.head(3)[["user_id", "user_vec"]].reset_index(drop=True)
    queries.at[1, "user_vec"] = None
    ids, top = tower.recommend(queries, k=5)
    tower_path = tower.export(tmp_path / "tower", verify=False)

    def listed(column: pd.Series, dim: int) -> list:
        return [[np.nan] * dim if v is None or len(v) == 0 else np.asarray(v, float).tolist() for v in column]

    served = serve_fresh({
        "deepfm": {"path": str(click_path), "inputs": {
            "user_id": requests["user_id"].tolist(), "item_id": requests["item_id"].tolist(),
            "history": requests["history"].tolist(), "item_vec": listed(requests["item_vec"], DIM),
            "user_vec": listed(requests["user_vec"], 2)}},
        "tower": {"path": str(tower_path), "k": 5, "exclude": [[""]] * 3, "inputs": {
            "user_id": queries["user_id"].tolist(), "user_vec": listed(queries["user_vec"], 2)}}}, tmp_path)
    np.testing.assert_allclose(np.ravel(served["deepfm"]), expected, atol=1e-5)
    assert served["tower"]["item_ids"] == ids.tolist()
    np.testing.assert_allclose(served["tower"]["scores"], top, atol=1e-5)
    reloaded = ctr.load_model(click_path)
    np.testing.assert_allclose(reloaded.predict(requests), expected, atol=1e-6)
    with Server(click_path, port=0, log_requests=False) as server:  # JSON rows hold their vectors as arrays
        instances = json.loads(requests.drop(columns="clicked").to_json(orient="records"))
        status, answer = server.respond("POST", "/v1/models/deepfm:predict",
                                        json.dumps({"instances": instances}).encode())
    assert status == 200, answer
    np.testing.assert_allclose([p["probability"] for p in answer["predictions"]], expected, atol=1e-5)


def test_a_draft_reads_lists_of_numbers_as_vectors_and_lists_of_ids_as_lists(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"emb": list(rng.normal(size=(50, 5))), "tags": [[1, 2], [2, 3, 4]] * 25,
                          "clicked": [0, 1] * 25})
    draft = ctr.draft_spec(frame, label="clicked")
    assert draft.spec["emb"] == ctr.Vector("emb", dim=5)
    assert "vectors of 5 numbers" in str(draft)
    assert draft.spec["tags"].kind == "multi_categorical"
    path = tmp_path / "rows.csv"  # a CSV cell holds a vector as its text; ids joined by commas stay lists
    frame.assign(emb=[f"[{', '.join(f'{x:.4f}' for x in v)} ]" for v in frame["emb"]],
                 tags=frame["tags"].map(lambda t: ",".join(map(str, t)))).to_csv(path, index=False)
    written = ctr.draft_spec(path, label="clicked")
    assert written.spec["emb"] == ctr.Vector("emb", dim=5)
    assert "vectors of 5 numbers (embeddings) written as text" in str(written)
    assert written.spec["tags"].kind == "multi_categorical"


def test_inspection_importance_and_slices_take_vectors():
    rows = _rows(400)
    spec = _spec()
    model = ctr.LogisticRegression(spec, seed=0)
    model.fit(rows, epochs=1, verbose=0)
    moved = rows.assign(item_vec=[v + np.array([0.0, 0.0, 5.0, 0.0], np.float32) for v in rows["item_vec"]])
    report = inspect_data(moved, model=model)
    summary = next(f for f in report.features if f.name == "item_vec")
    assert summary.cardinality == 60 and summary.shift > 3
    assert any("'item_vec': component 2's mean is +" in line for line in report.skew)
    importance = feature_importance(model, rows, repeats=1)
    assert importance.set_index("feature").loc["item_vec", "auc_drop"] > 0.1  # the clicks follow the vectors
    with pytest.raises(ctr.ArgumentError, match="evaluate_by: 'item_vec' holds vectors"):
        evaluate_by(model, rows, "item_vec")


def test_training_reads_a_vectors_rows_as_serving_does_from_features_or_the_cache():
    """Training takes a vector's d + 1 rows once from the batch's distinct rows and multiplies them by the
    components (`_plus_vectors`), where serving gathers them: the same rows, moments and gradients, from
    the features or from FM's training cache (which keeps the vectors beside the other fields' entries)."""
    rows = _rows(300)
    spec = ctr.FeatureSpec([*_spec().features, ctr.Numeric("score"), ctr.Vector("user_vec", dim=2, role="user"),
                            ctr.MultiCategorical("tags")], label=ctr.Label("clicked"))
    rows = rows.assign(score=np.arange(300.0), tags=["a|b", "b", ""] * 100)
    rows.at[0, "item_vec"] = None
    model = ctr.FM(spec, embedding_dim=3, seed=0)
    model.fit(rows, epochs=1, verbose=0)
    embeddings = model.network_.scorer.embeddings
    encoded, _ = model._encode_features(rows)
    features = {k: tf.constant(v) for k, v in encoded.items()}
    cached = {k: tf.constant(v) for k, v in embeddings.training_cache(encoded).items()}
    results = []
    for inputs, sparse in ((features, False), (features, True), (cached, True)):
        with tf.GradientTape() as tape:
            stacked, _ = embeddings._stack(embeddings.fields, inputs, sparse=sparse)
            sums, norms = (embeddings._moments_sparse(inputs) if sparse else embeddings._moments_from_rows(inputs))
            loss = tf.reduce_sum(stacked * 0.5) + tf.reduce_sum(sums) + tf.reduce_sum(norms * 2.0)
        gradient = tf.convert_to_tensor(tape.gradient(loss, embeddings.table))
        results.append((stacked.numpy(), sums.numpy(), norms.numpy(), gradient.numpy()))
    for served, trained, from_cache in zip(*results, strict=True):
        np.testing.assert_allclose(trained, served, rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(from_cache, trained)
    vector_rows = slice(embeddings.offsets["item_vec"], embeddings.offsets["item_vec"] + DIM + 1)
    assert np.abs(results[1][3][vector_rows]).min() > 0  # every component's row and the missing row learn
