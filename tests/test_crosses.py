"""Feature crosses: each combination of some features' values as an id of its own, made inside the graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr._keras import tf
from ctr.data import raw_features
from ctr.export import describe_export
from ctr.features import Preprocessor, raw_signature


def _spec(*crosses, **label):
    return ctr.FeatureSpec([ctr.Categorical("gender", role="user"), ctr.Categorical("occupation", dtype="int",
                                                                                    role="user"),
                            ctr.MultiCategorical("genres", max_length=3, role="item"),
                            ctr.Numeric("age", transform="quantile", buckets=2, role="user")],
                           crosses=crosses, **label)


def _rows(n: int = 1) -> pd.DataFrame:
    return pd.DataFrame({"gender": ["F", "M", "F", "M"] * n, "occupation": [1, 2, 2, 1] * n,
                         "genres": ["Comedy|Drama", "Comedy", "Drama", "Drama"] * n,
                         "age": [20.0, 30.0, 40.0, 50.0] * n})


def _encode(pre: Preprocessor, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    raw, sig = raw_features(rows, pre.spec), raw_signature(pre.spec)
    return {k: v.numpy() for k, v in pre.encoder()({k: tf.constant(raw[k], sig[k].dtype) for k in raw}).items()}


def test_a_cross_is_each_combination_of_its_features_values_missing_where_one_is():
    """A cross of single values is one id a row; with a bag, each combination (pooled as a bag); a number
    reads its quantile bucket. A missing value makes the cross missing (0), an unseen combination is OOV,
    a rare one (min_count) too, and a hashed cross keeps every combination in its buckets."""
    spec = _spec(ctr.Cross(["gender", "occupation"]), ctr.Cross(["gender", "genres"], min_count=2),
                 ctr.Cross(["age", "gender"], name="age_gender"), ctr.Cross(["occupation", "genres"], hash_buckets=9))
    pre = Preprocessor(spec).fit([raw_features(_rows(), spec)])
    tables = pre.state["tables"]
    assert sorted(tables["gender_x_occupation"]["vocabulary"]) == ["F × 1", "F × 2", "M × 1", "M × 2"]
    assert tables["gender_x_genres"]["vocabulary"] == ["F × Drama"]  # the others occur once
    assert tables["age_gender"]["vocabulary"] == ["age < 35 × F", "age < 35 × M", "age ≥ 35 × F", "age ≥ 35 × M"]
    assert tables["occupation_x_genres"] == {"hash_buckets": 9}
    assert pre.table_sizes()["gender_x_genres"] == 1 + 1 + 1 and pre.table_sizes()["occupation_x_genres"] == 10
    vocab = {name: {token: i + 2 for i, token in enumerate(tables[name]["vocabulary"])}
             for name in ("gender_x_occupation", "gender_x_genres", "age_gender")}
    out = _encode(pre, pd.DataFrame({"gender": ["F", "", "X", "M"], "occupation": [2, 2, 1, None],
                                     "genres": ["Drama|Comedy|Horror|Drama", "Drama", "", "Drama"],
                                     "age": [60.0, 20.0, 30.0, float("nan")]}))
    assert out["gender_x_occupation"].tolist() == [vocab["gender_x_occupation"]["F × 2"], 0, 1, 0]
    # Genres kept to max_length 3: Drama, Comedy (rare: OOV), Horror (unseen: OOV); padded with 0.
    assert out["gender_x_genres"].shape == (4, 3)
    assert out["gender_x_genres"].tolist() == [[vocab["gender_x_genres"]["F × Drama"], 1, 1], [0, 0, 0],
                                               [0, 0, 0], [1, 0, 0]]  # 'M × Drama' is rare
    assert out["age_gender"].tolist() == [vocab["age_gender"]["age ≥ 35 × F"], 0, 1, 0]
    hashed = out["occupation_x_genres"]  # '2 × Drama', '2 × Comedy', '2 × Horror'; '2 × Drama'; none; none
    assert hashed.shape == (4, 3) and hashed[1, 0] == hashed[0, 0] and hashed[1, 1:].tolist() == [0, 0]
    assert hashed[0].min() >= 1 and hashed.max() <= 9 and not hashed[2:].any()
    # No rows, or rows none of whose bags has an id: as many rows out as in (warm start encodes none).
    for rows in (_rows().head(0), _rows().assign(genres="")):
        out = _encode(pre, rows)
        assert [out[name].shape for name in ("gender_x_genres", "occupation_x_genres", "age_gender")] == [
            (len(rows), 3), (len(rows), 3), (len(rows),)]
        assert not out["gender_x_genres"].any()
    described = spec.describe()
    assert "4 features and 4 crosses" in described
    assert "gender × genres, ≤3 combinations a row, pooled (mean); vocabulary (min_count 2" in described


def test_a_cross_lets_a_linear_model_learn_what_its_features_alone_cannot():
    """Clicks planted on gender XOR genre: logistic regression cannot fit them from the two features, and
    with their cross it can (the wide part of Wide & Deep)."""
    rng = np.random.default_rng(0)
    n = 4000
    gender, genre = rng.choice(["F", "M"], n), rng.choice(["Comedy", "Drama"], n)
    clicked = ((gender == "F") ^ (genre == "Comedy")).astype(int)
    flip = rng.random(n) < 0.1
    rows = pd.DataFrame({"gender": gender, "genre": genre, "clicked": np.where(flip, 1 - clicked, clicked)})
    features = [ctr.Categorical("gender", role="user"), ctr.Categorical("genre", role="item")]
    aucs = []
    for crosses in ((), ([["gender", "genre"]])):
        model = ctr.LogisticRegression(ctr.FeatureSpec(features, label="clicked", crosses=crosses),
                                       learning_rate=0.05, batch_size=256, seed=0)
        model.fit(rows[:3000], epochs=3, verbose=0)
        aucs.append(model.evaluate(rows[3000:])["auc"])
    assert aucs[0] < 0.55 < 0.85 < aucs[1], aucs


def test_a_model_with_crosses_serves_them_from_its_features_inputs_in_a_fresh_process(tmp_path, serve_fresh):
    """The export takes the features' raw values only (a cross has no input of its own) and makes the
    crosses in the graph, so a process without ctr gets the same predictions, for unseen values too; beside
    them in the wide part, a feature read there only (`wide_only`)."""
    spec = _spec(ctr.Cross(["gender", "genres"]), ctr.Cross(["age", "occupation"]),
                 ctr.Cross(["gender", "occupation"], hash_buckets=16), label="clicked")
    rows = _rows(50).assign(clicked=[1, 0, 0, 1] * 50)
    model = ctr.DeepFM(spec, embedding_dim=4, hidden_units=(8,), seed=0, wide_only=["occupation"])
    model.fit(rows, epochs=2, verbose=0)
    requests = pd.DataFrame({"gender": ["F", "M", "", "X"], "occupation": [2, 1, 1, 7],
                             "genres": ["Comedy|Drama", "Western", "Drama", ""], "age": [20.0, 45.0, 70.0, 33.0]})
    expected = model.predict(requests)
    path = model.export(tmp_path / "deepfm", verify=False)  # served below, against the model
    loaded = tf.saved_model.load(str(path))
    served_inputs = loaded.signatures["serving_default"].structured_input_signature[1]
    assert sorted(served_inputs) == ["age", "gender", "genres", "occupation"]
    assert sorted(loaded.embedding_tables) == ["age", "gender", "genres"]  # for `ctr embeddings`; occupation's: wide
    np.testing.assert_allclose(ctr.load_model(path).predict(requests), expected, atol=1e-6)  # trainable again
    inputs = {name: requests[name].tolist() for name in served_inputs}
    inputs["occupation"] = [int(v) for v in inputs["occupation"]]
    served = serve_fresh({"deepfm": {"path": str(path), "inputs": inputs}}, tmp_path)
    np.testing.assert_allclose(np.ravel(served["deepfm"]), expected, atol=1e-5)
    assert len(set(np.round(expected, 6))) == 4
    # Retrained with one cross changed: the kept crosses' rows carry over, the new one starts afresh.
    again = ctr.DeepFM(_spec(*spec.crosses[:2], ctr.Cross(["gender", "age"]), label="clicked"), embedding_dim=4,
                       hidden_units=(8,), seed=0, wide_only=["occupation"])
    again.fit(rows, epochs=1, verbose=0, warm_start_from=path)
    carried = again.warm_start_["tables"]
    assert carried["gender_x_genres"][0] == carried["gender_x_genres"][1] > 0 and carried["gender_x_age"][0] == 0
    assert carried["occupation"][0] == carried["occupation"][1] > 0


def test_a_two_tower_model_takes_the_crosses_of_one_side_and_refuses_both_sides():
    """A cross of the user's features is the query tower's, one of the item's the item tower's; a cross of
    both sides belongs to neither, and the recommenders say so before training."""
    interactions = _rows(20).assign(user_id=np.arange(80) % 10, item_id=np.arange(80) % 7)
    features = [ctr.Categorical("user_id", dtype="int", role="user"),
                ctr.Categorical("item_id", dtype="int", role="item"), *_spec().features]
    spec = ctr.FeatureSpec(features, crosses=[["gender", "age"], ["item_id", "genres"]])
    model = ctr.TwoTower(spec, embedding_dim=4, output_dim=4, batch_size=32, seed=0)
    model.fit(interactions, epochs=1, verbose=0)
    assert {f.role for f in model.preprocessor_.fields() if f.name in ("gender_x_age", "item_id_x_genres")} == {
        "user", "item"}
    recommended = model.recommend(interactions.head(2), k=3)
    assert len(recommended) == 2
    mixed = ctr.FeatureSpec(features, crosses=[["user_id", "item_id"]])
    for cls in (ctr.TwoTower, ctr.NeuMF, ctr.MatrixFactorization):
        with pytest.raises(ctr.SpecError, match=r"crosses\[0\]: 'user_id_x_item_id' crosses user_id \(user\), "
                                                r"item_id \(item\): an item's feature with the query's"):
            cls(mixed)


def test_cross_specs_are_checked_and_written_back():
    """A cross names two or more of the spec's features that it can read, under a free name; YAML takes it
    as a mapping or as a bare list of names, and writes it back."""
    spec = ctr.FeatureSpec.from_yaml("features:\n  - {name: gender}\n  - {name: genres, kind: multi_categorical}\n"
                                     "crosses:\n  - [gender, genres]\n  - {features: [genres, gender], hash_buckets: 8,"
                                     " name: gg}\n")
    assert spec.crosses == (ctr.Cross(("gender", "genres")), ctr.Cross(("genres", "gender"), hash_buckets=8,
                                                                       name="gg"))
    assert ctr.FeatureSpec.from_yaml(spec.to_yaml()) == spec
    base = "features:\n  - {name: gender}\n  - {name: genres, kind: multi_categorical}\n" \
           "  - {name: year, kind: numeric}\n  - {name: uid, id_dropout: 0.2}\ncrosses:\n"
    for crosses, why in (
            ("  - [gender]", r"crosses\[0\].features: a cross combines two or more features, got \['gender'\]"),
            ("  - [gender, genre]", r"crosses\[0\].features: 'genre' is not a feature of the spec \(did you mean "
                                    r"'genres'\?\)"),
            ("  - [gender, year]", r"'year' is a numeric feature with transform 'standardize'; a cross reads "
                                   r"features that are categorical \(without id_dropout\)"),
            ("  - [gender, uid]", r"'uid' is a categorical feature with id_dropout"),
            ("  - {features: [gender, genres], name: gender}", r"crosses\[0\].name: 'gender' is already the name of "
                                                               r"features\[0\]"),
            ("  - [gender, genres]\n  - [gender, genres]", r"crosses\[1\].name: 'gender_x_genres' is already "
                                                           r"crosses\[0\]'s name; name the cross"),
            ("  - {features: [gender, genres], hash_buckets: 4, max_tokens: 2}", "hash_buckets or max_tokens"),
            ("  - {features: [gender, uid], max_length: 2}", r"max_length: a cross of single values has one"),
            ("  - {features: [gender, genres], buckets: 2}", r"crosses\[0\].buckets: unknown field"),
            ("  gender: genres", r"crosses: expected a list of crosses")):
        with pytest.raises(ctr.SpecError, match=why):
            ctr.FeatureSpec.from_yaml(base + crosses + "\n")


def test_a_cross_of_a_numbers_buckets_is_counted_in_a_second_pass():
    """The buckets of a number are known after a first pass over the data, so its crosses are counted in a
    second: over a list of chunks, or chunks a function returns, and an iterator is refused by name."""
    spec = _spec(ctr.Cross(["age", "gender"]))
    chunks = [raw_features(_rows(), spec), raw_features(_rows(), spec)]
    counted = Preprocessor(spec).fit(lambda: iter(chunks)).state["tables"]["age_x_gender"]
    assert counted == Preprocessor(spec).fit(chunks).state["tables"]["age_x_gender"]
    with pytest.raises(ctr.CtrError, match="cross 'age_x_gender' reads the quantile buckets of a number"):
        Preprocessor(spec).fit(iter(chunks))


@pytest.mark.parametrize("cls", [ctr.FM, ctr.DeepFM])
def test_the_crosses_of_a_model_with_embeddings_are_a_wide_part_unless_embedded(cls):
    """By default a cross is a weight a combination added to the logit (Wide & Deep's wide part), not one
    more field of the FM's pairs or the MLP's input; `crosses="embedded"` makes it a field. FM trains from
    cached table entries, and the crosses come beside them."""
    spec = _spec(ctr.Cross(["gender", "genres"]), ctr.Cross(["age", "occupation"]), label="clicked")
    rows = _rows(50).assign(clicked=[1, 0, 0, 1] * 50)
    shapes = {}
    for crosses in ("wide", "embedded"):
        model = cls(spec, embedding_dim=4, crosses=crosses, seed=0, **({"hidden_units": (8,)} if cls is ctr.DeepFM
                                                                         else {}))
        model.fit(rows, epochs=2, verbose=0)
        assert model.get_config()["crosses"] == crosses
        shapes[crosses] = {v.name: v.shape.as_list() for v in model.network_.trainable_variables}
        assert np.isfinite(model.predict(rows.head(8))).all()
    sizes = model.preprocessor_.table_sizes()
    cross_rows = sizes["gender_x_genres"] + sizes["age_x_occupation"]
    assert shapes["wide"]["wide:0"] == [cross_rows, 1] and "wide:0" not in shapes["embedded"]
    assert shapes["wide"]["embeddings:0"] == [shapes["embedded"]["embeddings:0"][0] - cross_rows, 5]
    if cls is ctr.DeepFM:  # the MLP reads the 4 features' vectors, or the 2 crosses' too
        assert next(s for n, s in shapes["wide"].items() if "kernel" in n) == [4 * 4, 8]
        assert next(s for n, s in shapes["embedded"].items() if "kernel" in n) == [6 * 4, 8]
    with pytest.raises(ctr.ArgumentError, match=r"crosses must be one of 'wide', 'embedded'; got 'deep'$"):
        cls(spec, crosses="deep")
    with pytest.raises(ctr.ArgumentError, match=r"got 'Embeded' \(did you mean 'embedded'\?\)$"):
        cls(spec, crosses="Embeded")


def _logit(model, rows: pd.DataFrame) -> np.ndarray:
    p = model.predict(rows).astype(np.float64)
    return np.log(p / (1 - p))


def test_wide_only_features_have_a_weight_for_each_value_and_no_vector():
    """`wide_only`: a feature read by the wide part alone (a Wide & Deep's memorised ids), a weight for each
    of its values added to the logit, in no pair of the FM and not in the MLP's input; so its effect on a row's
    logit is the same whatever the row's other features. FM trains from cached table entries: it comes beside."""
    spec = _spec(ctr.Cross(["gender", "genres"]), label="clicked")
    rows = _rows(50).assign(clicked=[1, 0, 0, 1] * 50)  # as occupation: 1 clicks, 2 does not
    grid = pd.concat([_rows().assign(occupation=o) for o in (1, 2)], ignore_index=True)
    sizes, spread = None, {}
    for cls, wide_only in ((ctr.DeepFM, "occupation"), (ctr.FM, ["occupation"]), (ctr.DeepFM, ())):
        model = cls(spec, embedding_dim=4, seed=0, wide_only=wide_only, batch_size=32, learning_rate=0.01,
                    **({"hidden_units": (8,)} if cls is ctr.DeepFM else {}))
        model.fit(rows, epochs=3, verbose=0)
        logits = _logit(model, grid)
        effect = logits[:4] - logits[4:]  # of occupation 1 against 2, on each of four rows
        spread[cls.__name__, bool(wide_only)] = (np.ptp(effect), effect.min())
        sizes = model.preprocessor_.table_sizes()
        shapes = {v.name: v.shape.as_list() for v in model.network_.trainable_variables}
        if wide_only:
            assert model.get_config()["wide_only"] == ["occupation"]
            assert shapes["wide:0"] == [sizes["occupation"] + sizes["gender_x_genres"], 1]
            assert shapes["embeddings:0"][0] == sizes["gender"] + sizes["genres"] + sizes["age"]
        if cls is ctr.DeepFM:  # the MLP reads gender's, genres' and age's vectors, or occupation's too
            assert next(s for n, s in shapes.items() if "kernel" in n) == [(3 if wide_only else 4) * 4, 8]
    for (name, wide), (ptp, smallest) in spread.items():
        assert smallest > 0.1, (name, smallest)  # occupation 1 is learned to click more
        assert (ptp < 1e-4) if wide else (ptp > 1e-3), (name, wide, ptp)
    # A warm start from the model that embedded occupation: its vector is dropped and its weight starts afresh in
    # the wide part, as a feature new to it; an FM carries the rest, a DeepFM's MLP reads one field fewer.
    fm = ctr.FM(spec, embedding_dim=4, seed=0)
    fm.fit(rows, epochs=1, verbose=0)
    wide_fm = ctr.FM(spec, embedding_dim=4, seed=0, wide_only=["occupation"])
    wide_fm.fit(rows, epochs=1, verbose=0, warm_start_from=fm)
    carried = wide_fm.warm_start_["tables"]
    assert carried["occupation"][0] == 0 and carried["gender"][0] == carried["gender"][1] > 0
    assert carried["gender_x_genres"][0] == carried["gender_x_genres"][1] > 0
    with pytest.raises(ctr.ArgumentError, match=r"wide_only \[\] before, \['occupation'\] now"):
        ctr.DeepFM(spec, embedding_dim=4, hidden_units=(8,), wide_only="occupation").fit(
            rows, epochs=1, verbose=0, warm_start_from=model)
    # LR is all wide: it takes the setting, and it changes nothing.
    assert ctr.LogisticRegression(spec, wide_only=" occupation, gender_x_genres ").wide_only == (
        "occupation", "gender_x_genres")
    assert ctr.FM(spec, wide_only=None).wide_only == () and ctr.FM(spec, wide_only={"genres", "age"}).wide_only == (
        "age", "genres")  # a set in a fixed order, so that its config is the same in every process


def test_the_description_says_which_bags_pool_weights_and_which_embeddings():
    """A bag read in a wide part alone (`wide_only`), or by LR, pools a weight for each id: the model's summary
    and its export's description (`ctr describe`) say so, where every other bag pools embeddings."""
    spec = _spec(label="clicked")
    state = Preprocessor(spec).fit([raw_features(_rows(), spec)]).state
    for cls, wide_only, pooled in ((ctr.FM, ["genres"], "weights"), (ctr.FM, (), "embeddings"),
                                   (ctr.DeepFM, "age, genres", "weights"), (ctr.DeepFM, "age", "embeddings"),
                                   (ctr.LogisticRegression, (), "weights")):
        model = cls(spec, wide_only=wide_only)
        said: list[str] = []
        model.summary(print_fn=said.append)
        metadata = {"model": cls.__name__, "config": model.get_config(), "inputs": {}, "preprocessing": state}
        for text in (said[0], describe_export(metadata, spec)):
            genres = next(line for line in text.splitlines() if line.startswith("genres "))
            assert f"≤3 ids, mean of {pooled} " in genres, (cls.__name__, wide_only, genres)


def test_a_warm_start_adds_and_drops_a_wide_part():
    """A spec given crosses after a model without them, or dropping them after one with them: the features'
    rows and the other weights carry over, and the crosses' rows start afresh."""
    rows = _rows(50).assign(clicked=[1, 0, 0, 1] * 50)
    plain = ctr.DeepFM(_spec(label="clicked"), embedding_dim=4, hidden_units=(8,), seed=0)
    plain.fit(rows, epochs=1, verbose=0)
    crossed = ctr.DeepFM(_spec(ctr.Cross(["gender", "genres"]), label="clicked"), embedding_dim=4,
                         hidden_units=(8,), seed=0)
    crossed.fit(rows, epochs=1, verbose=0, warm_start_from=plain)
    carried = crossed.warm_start_["tables"]
    assert carried["gender_x_genres"][0] == 0 and carried["gender"][0] == carried["gender"][1] > 0
    assert crossed.warm_start_["other_weights"] == 5  # bias and the MLP's two layers
    again = ctr.DeepFM(_spec(label="clicked"), embedding_dim=4, hidden_units=(8,), seed=0)
    again.fit(rows, epochs=1, verbose=0, warm_start_from=crossed)
    assert "gender_x_genres" not in again.warm_start_["tables"] and again.warm_start_["tables"]["genres"][0] > 0
    np.testing.assert_allclose(again.network_.scorer.bias.numpy(), crossed.network_.scorer.bias.numpy(), atol=0.1)


def test_the_ready_movielens_spec_shows_its_crosses_commented_out_and_they_hold():
    """feature_specs/movielens-100k.yaml lists bench/crosses.py's crosses as comments: uncommented, the spec
    is the ready spec with those crosses."""
    path = Path(__file__).resolve().parents[1] / "feature_specs" / "movielens-100k.yaml"
    text = path.read_text(encoding="utf-8")
    assert ctr.FeatureSpec.from_yaml(path).crosses == ()
    crossed = ctr.FeatureSpec.from_yaml(text.replace("# crosses:", "crosses:").replace("#   -", "  -"))
    assert [c.key for c in crossed.crosses] == ["gender_x_genres", "age_x_genres", "occupation_x_genres",
                                                "user_id_x_genres"]
    assert crossed.features == ctr.datasets.movielens_spec().features
