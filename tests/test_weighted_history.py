"""Weighted histories (`12:5|85:3`): each item a user touched counts in their profile as much as its weight
(a rating, a play count), read from every data form, pooled inside the graph and served raw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr.cli import main
from ctr.data import add_history, raw_features
from ctr.features import weight_key
from ctr.inspect import inspect_data

GENRES = np.array([f"g{i % 4}" for i in range(40)])  # item i's genre


def _world(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    """Users who each love one genre: they rate its items 5 and the others 1 to 3, and click the former."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 40, n)
    items = rng.integers(0, 40, n)
    loved = GENRES[items] == GENRES[users % 4]
    return pd.DataFrame({"user_id": users.astype(str), "item_id": items, "genre": GENRES[items],
                         "timestamp": np.arange(n) * 60, "rating": np.where(loved, 5, rng.integers(1, 4, n)),
                         "clicked": loved.astype(int)})


def _spec(pooling: str = "mean", label: bool = True) -> ctr.FeatureSpec:
    return ctr.FeatureSpec([ctr.Categorical("user_id", role="user"), ctr.Categorical("item_id", dtype="int",
                                                                                     role="item"),
                            ctr.Categorical("genre", role="item"),
                            ctr.History("history", max_length=6, pooling=pooling, weighted=True)],
                           label=ctr.Label("clicked") if label else None)


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    return add_history(_world(), weight="rating", max_length=6)


def test_a_weighted_history_spec_round_trips_and_its_mistakes_are_named():
    spec = _spec("attention")
    assert ctr.FeatureSpec.from_yaml(spec.to_yaml()) == spec
    assert ("≤6 ids of 'item_id' split on '|', each weighted after ':' (1 without); their item features embedded "
            "and pooled (weighted attention)") in spec.describe()
    for separator, why in (("|", "must be a non-empty string other than the separator '|' \\(an id's weight "
                                 "follows it: '12:5'\\)"), ("1", "must hold no digit")):
        with pytest.raises(ctr.SpecError, match=rf"features\[1\]\.weight_separator: {why}"):
            ctr.FeatureSpec.from_dict({"features": [{"name": "item_id", "role": "item"},
                                                    {"name": "h", "kind": "history", "weighted": True,
                                                     "weight_separator": separator}]})


def test_add_history_gives_each_item_its_rows_weight():
    rows = pd.DataFrame({"user_id": ["a", "a", "a", "b"], "item_id": [3, 8, 5, 3], "timestamp": [1, 2, 3, 1],
                         "rating": [5, 1.5, 2, 4]})
    assert add_history(rows, weight="rating")["history"].tolist() == ["", "3:5", "8:1.5|3:5", ""]
    assert add_history(rows, weight="rating", first=True, max_length=1)["history"].tolist() == ["", "3:5", "3:5", ""]
    profiles = add_history(rows.drop(columns="rating"), weight="rating", profiles=rows.assign(rating=[1, 2, 3, 0.25]),
                           weight_separator="=")  # the weights of the profiles' rows
    assert profiles["history"].tolist() == ["5=3|8=2|3=1"] * 3 + ["3=0.25"]
    with pytest.raises(ctr.DataError, match=r"the data's weight column 'rating' holds nan at row 1 \(1 such rows\), "
                                            r"where each item's weight is a number from 0 to 1e\+09"):
        add_history(rows.assign(rating=[5, None, 1, 2]), weight="rating")
    with pytest.raises(ctr.DataError, match="the profiles' weight column 'rating' holds -1"):
        add_history(rows, weight="rating", profiles=rows.assign(rating=[1, -1, 1, 1]))
    with pytest.raises(ctr.ArgumentError, match=r"add_history\.weight_separator: must be a non-empty string other "
                                                r"than the separator '\|' \(an id's weight follows it: '12:5'\)"):
        add_history(rows, weight="rating", weight_separator="|")
    with pytest.raises(ctr.DataError, match=r"column 'stars' is missing from the data of add_history.*name the "
                                            r"columns with user=\.\.\., item=\.\.\., time=\.\.\. and weight=\.\.\."):
        add_history(rows, weight="stars")


def test_weighted_profiles_are_the_weighted_mean_and_weighted_attention(world):
    """A profile is its items' weighted mean (mean pooling) or their attention shares times their weights,
    renormalised (attention: softmax(logit + log w)); equal weights are no weights, weight 0 leaves an
    item out, all 0 is no profile. Training's distinct-row path pools as serving does."""
    histories = ["3", "8", "3|8", "3:3|8:1", "3:2.5|8:2.5", "3:1|8:0", "3:0|8:0", ""]
    queries = pd.DataFrame({"user_id": "new", "item_id": 1, "genre": "g1", "history": histories, "clicked": 0})
    for pooling in ("mean", "attention"):
        model = ctr.DeepFM(_spec(pooling), embedding_dim=4, hidden_units=(8,), learning_rate=0.02, seed=0)
        model.fit(world, epochs=2, verbose=0)
        layer = model.network_.scorer.embeddings
        encoded, _ = model._encode_features(queries)
        np.testing.assert_allclose(encoded[weight_key("history")][3, :2], [3.0, 1.0])
        inputs = {key: ctr._keras.tf.constant(value) for key, value in encoded.items()}
        served = layer(inputs)[0].numpy()
        np.testing.assert_allclose(layer(inputs, training=True)[0].numpy(), served, rtol=1e-5, atol=1e-6)
        one, other, both, weighted, even, first, none, empty = served[:, -1]  # the profile is the last field
        assert np.abs(one - other).max() > 1e-3
        share = float(np.dot(both - other, one - other) / np.dot(one - other, one - other))  # 3's share unweighted
        np.testing.assert_allclose(both, share * one + (1 - share) * other, atol=1e-6)
        if pooling == "mean":
            assert share == pytest.approx(0.5, abs=1e-5)
        expected = 3 * share / (3 * share + (1 - share))
        np.testing.assert_allclose(weighted, expected * one + (1 - expected) * other, atol=1e-6, err_msg=pooling)
        np.testing.assert_allclose(even, both, atol=1e-6)
        np.testing.assert_allclose(first, one, atol=1e-6)
        np.testing.assert_allclose(none, 0.0, atol=1e-7)
        np.testing.assert_allclose(empty, 0.0, atol=1e-7)


def test_every_data_form_of_a_weighted_history_scores_alike_and_mistakes_are_named(world):
    model = ctr.LogisticRegression(_spec(), learning_rate=0.05, seed=0)
    model.fit(world, epochs=2, verbose=0)
    forms = ["3:5|8:1", " 03 : 5| 8.0:1", {3: 5, 8: 1}, [(3, 5.0), (8, 1)], ["3:5", "8:1"], np.array([[3, 5], [8, 1]])]
    rows = pd.DataFrame({"user_id": "new", "item_id": 1, "genre": "g1", "history": [*forms, "8:1|3:5", "3|8"]})
    text = raw_features(rows, model.spec, ["history"])["history"]
    assert text[1] == "3:5|8:1"  # integer ids spelt as the item table spells them, weights kept
    scores = model.predict(rows)
    np.testing.assert_allclose(scores[:len(forms)], scores[0], atol=1e-7)
    assert abs(scores[0] - scores[-1]) > 1e-4  # the weights count
    for bad, why in (("3:x|8", r"row 0 holds '3:x', whose weight 'x' is not a number from 0 to 1e\+09"),
                     ({3, 8}, "lists its items most recent first, but a row holds a set"),
                     ("3:5,8:1", r"holds '3:5,8:1' \(are its ids separated by ','\?")):
        with pytest.raises(ctr.DataError, match=rf"feature 'history' \(history, column 'history'\).*{why}"):
            model.predict(rows.head(1).assign(history=[bad]))
    plain = ctr.LogisticRegression(ctr.FeatureSpec([*_spec().features[:3], ctr.History("history")],
                                                   label=ctr.Label("clicked")), seed=0)
    with pytest.raises(ctr.DataError, match=r"a row holds '[0-9:|]+' \(ids with weights, as '12:5', need the history's "
                                            r"`weighted: true`\)"):
        plain.fit(world, epochs=1, verbose=0)
    report = inspect_data(world, model=model)
    assert next(f for f in report.features if f.name == "history").unseen_rate == 0.0
    assert not [line for line in report.skew if "history" in line]
    assert model.preprocessor_.state["weights"]["history"]["mean"] == pytest.approx(
        np.mean([float(t.split(":")[1]) for text in world["history"] if text for t in text.split("|")]), rel=1e-6)
    tenfold = world.assign(history=world["history"].str.replace(r":(\d)", r":\g<1>0", regex=True))
    assert any(line.startswith("'history': its ids' weights average") and "(10×)" in line
               for line in inspect_data(tenfold, model=model).skew)


def test_weighted_histories_are_served_raw_in_a_fresh_process(world, tmp_path, serve_fresh):
    """A click model with weighted attention and a two-tower whose query tower reads a weighted history,
    each fed raw text in a process without ctr; the shell's recommend for a file of users leaves each
    one's history items (read without their weights) out."""
    model = ctr.DeepFM(_spec("attention"), embedding_dim=4, hidden_units=(8,), learning_rate=0.02, seed=0)
    model.fit(world, epochs=2, verbose=0)
    requests = pd.DataFrame({"user_id": ["new", "new", "3", "new"], "item_id": [1, 1, 2, 99], "genre": "g1",
                             "history": ["3:5|8:1", "3:1|8:5", "", "999:2|3:0.5"]})
    expected = model.predict(requests)
    assert abs(expected[0] - expected[1]) > 1e-4
    tower = ctr.TwoTower(_spec(label=False), embedding_dim=4, seed=0)
    tower.fit(world[world.clicked == 1], epochs=2, verbose=0)
    queries = pd.DataFrame({"user_id": ["new", "new"], "history": ["3:5|8:1|5:1", "3:1|8:1|5:5"]})
    ids, scores = tower.recommend(queries, k=5, exclude=[[3, 8, 5]] * 2)
    assert ids[0].tolist() != ids[1].tolist()
    served = serve_fresh({
        "deepfm": {"path": str(model.export(tmp_path / "deepfm", verify=False)),
                   "inputs": {name: requests[name].tolist() for name in model.spec.names}},
        "tower": {"path": str(tower.export(tmp_path / "tower", verify=False)), "k": 5, "exclude": [[3, 8, 5]] * 2,
                  "inputs": {name: queries[name].tolist() for name in queries}}}, tmp_path)
    np.testing.assert_allclose(np.ravel(served["deepfm"]), expected, atol=1e-5)
    assert served["tower"]["item_ids"] == ids.tolist()
    np.testing.assert_allclose(served["tower"]["scores"], scores, atol=1e-5)

    # A file of new users: each history's items, read without their weights, are left out of its list.
    queries.assign(user_id=["u1", "u2"]).to_csv(tmp_path / "new.csv", index=False)
    assert main(["recommend", "--model", str(tmp_path / "tower"), "--k", "5", "--data", str(tmp_path / "new.csv"),
                 "--out", str(tmp_path / "recs.csv")]) == 0
    recs = pd.read_csv(tmp_path / "recs.csv")
    assert recs.groupby("user_id")["item_id"].apply(list).tolist() == ids.tolist()


def test_the_shell_recommends_from_a_weighted_history_without_its_items(world, tmp_path, capsys):
    tower = ctr.TwoTower(_spec(label=False), embedding_dim=4, seed=0)
    tower.fit(world[world.clicked == 1], epochs=1, verbose=0)
    path = tower.export(tmp_path / "tower")
    assert main(["recommend", "--model", str(path), "--k", "5", "--history", "3:5, 8:1 ,5"]) == 0
    out = capsys.readouterr().out
    assert "a new user who touched 3 items" in out
    shown = [int(line.split()[1]) for line in out.splitlines()[2:] if line.strip()]
    expected = tower.recommend(pd.DataFrame({"user_id": [""], "history": ["3:5|8:1|5"]}), k=5,
                               exclude=[[3, 8, 5]])[0][0]
    assert shown == expected.tolist()
    # An item the model does not know is skipped by the graph: the heading says so.
    assert main(["recommend", "--model", str(path), "--k", "5", "--history", "3:5,99999:2,8"]) == 0
    assert ("a new user who touched 3 items (TwoTower); 1 of the items in --history not in the model's catalogue "
            "(99999), so not in the profile:") in capsys.readouterr().out
    # A JSON file of queries whose histories are mappings and lists, one query given twice: each once.
    queries = pd.DataFrame({"user_id": ["a", "b", "a"], "history": [{3: 5, 8: 1}, [5, 3], {3: 5, 8: 1}]})
    queries.to_json(tmp_path / "queries.jsonl", orient="records", lines=True)
    assert main(["recommend", "--model", str(path), "--k", "5", "--data", str(tmp_path / "queries.jsonl"),
                 "--out", str(tmp_path / "recs.csv")]) == 0
    recs = pd.read_csv(tmp_path / "recs.csv")
    assert recs["user_id"].tolist() == ["a"] * 5 + ["b"] * 5
    expected = tower.recommend(queries.head(2).assign(history=["3:5|8:1", "5|3"]), k=5, exclude=[[3, 8], [5, 3]])[0]
    assert recs["item_id"].tolist() == expected.ravel().tolist()
    assert main(["recommend", "--model", str(path), "--history", "3:5,8:x"]) == 2
    assert ("feature 'history' (history, column 'history'): row 0 holds '8:x', whose weight 'x' is not a number from "
            "0 to 1e+09; a weighted history's ids are written id:weight") in capsys.readouterr().err


def test_a_draft_reads_item_ids_with_weights_as_a_weighted_history(world):
    draft = ctr.draft_spec(world.drop(columns="rating"), label="clicked")
    history = draft.spec["history"]
    assert history.kind == "history" and history.weighted and history.items == "item_id"
    objects = world.assign(history=[dict(pair.split(":") for pair in text.split("|")) if text else {}
                                    for text in world["history"]])
    objects["history"] = [{int(k): float(v) for k, v in row.items()} for row in objects["history"]]
    assert ctr.draft_spec(objects.drop(columns="rating"), label="clicked").spec["history"].weighted


def test_json_objects_of_ids_to_weights_are_one_column_in_the_shell_and_the_draft(world, tmp_path, capsys):
    """A JSON file whose history (and tags) are objects {id: weight}: `ctr fit` reads the whole file for its
    splits, and a draft samples it without a spec; both keep those objects as one column each, where
    they were flattened into a column per id (`history.12`) and the fit found no `history`."""
    rows = world.assign(history=[{int(k): float(w) for k, w in (t.split(":") for t in text.split("|"))} if text else {}
                                 for text in world["history"]],
                        tags=[{"a": 1, f"t{i % 7}": 0.5} for i in range(len(world))])
    path = tmp_path / "rows.jsonl"
    rows.to_json(path, orient="records", lines=True)
    assert ctr.data.mapping_columns(path) == {"history", "tags"}
    assert "history" not in ctr.data.read(path).columns  # read with no spec, objects are records: fields
    spec = ctr.FeatureSpec([*_spec().features, ctr.MultiCategorical("tags", role="item", weighted=True)],
                           label=ctr.Label("clicked"))
    (tmp_path / "spec.yaml").write_text(spec.to_yaml())
    assert main(["fit", "--spec", str(tmp_path / "spec.yaml"), "--data", str(path), "--model", "lr", "--epochs", "1",
                 "--export", str(tmp_path / "lr")]) == 0
    assert "exported to" in capsys.readouterr().out
    draft = ctr.draft_spec(path, label="clicked")
    assert draft.spec["history"].kind == "history" and draft.spec["history"].weighted
    assert draft.spec["tags"].kind == "multi_categorical" and draft.spec["tags"].weighted


def test_evaluate_by_a_history_slices_rows_by_how_many_items_it_lists(world):
    """Each row's history is its own, so its slices are its lengths (a new user's few items first), as the
    model reads them: weights left out, at most max_length, unknown ids counted as listed."""
    model = ctr.LogisticRegression(_spec(), seed=0)
    model.fit(world, epochs=1, verbose=0)
    rows = world.head(300).copy()
    rows.loc[rows.index[:3], "history"] = ["999:1", "3:1|8|5:0|1|2|4|6|7", ""]
    slices = ctr.evaluate_by(model, rows, "history")
    counts = rows["history"].map(lambda text: min(len([t for t in text.split("|") if t]), 6))
    assert slices["history"].tolist() == ["(all)", *sorted(counts.unique())]
    assert slices["rows"].tolist()[1:] == counts.value_counts().sort_index().tolist()
    six = rows[counts == 6]
    alone = model.evaluate(six)
    np.testing.assert_allclose(slices.set_index("history").loc[6, "auc"], alone["auc"], rtol=1e-6)
