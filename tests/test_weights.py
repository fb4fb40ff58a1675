"""Row weights (`label.weight`): what click models learn and are scored by, and the errors around them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr import data as ctr_data
from ctr.cli import main
from ctr.inspect import inspect_data
from ctr.metrics import auc, click_metrics, logloss, reliability
from ctr.spec import describe_spec


def _weighted(spec: ctr.FeatureSpec, column: str = "w") -> ctr.FeatureSpec:
    raw = spec.to_dict()
    raw["label"]["weight"] = column
    return ctr.FeatureSpec.from_dict(raw)


def test_the_spec_reads_writes_and_checks_the_weight_column(spec):
    weighted = _weighted(spec)
    assert weighted.label.weight == "w" and weighted.columns[-1] == "w"
    assert ctr.FeatureSpec.from_dict(weighted.to_dict()) == weighted
    assert "(weight)" in describe_spec(weighted) and "w" in describe_spec(weighted)
    frame = pd.DataFrame({"user_id": [1, 2], "rating": [5, 1], "w": [1.0, 3.0]})
    report = inspect_data(frame, ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int")],
                                                 label=ctr.Label("rating", threshold=4, weight="w")))
    assert report.label["positive_rate"] == 0.5 and report.label["weighted_positive_rate"] == 0.25
    assert report.label["distribution"] == {"1": 1, "5": 1} and "weight w" in report.to_text()
    assert _weighted(spec, "rating").label.weight == "rating"  # with a threshold, a count may be both
    with pytest.raises(ctr.SpecError, match=r"features\[0\]: reads the weight column 'user_id' \(label\.weight\)"):
        _weighted(spec, "user_id")
    with pytest.raises(ctr.SpecError, match=r"label\.weight: expected a string, got int"):
        ctr.FeatureSpec.from_dict({**spec.to_dict(), "label": {"column": "rating", "weight": 3}})


def test_weighted_auc_and_logloss_equal_those_of_rows_repeated_by_weight():
    rng = np.random.default_rng(0)
    y, scores, weights = rng.integers(0, 2, 400), rng.integers(0, 9, 400) / 8, rng.integers(0, 4, 400)
    repeated = np.repeat(np.arange(400), weights)
    assert auc(y, scores, weights) == pytest.approx(auc(y[repeated], scores[repeated]), abs=1e-12)
    assert logloss(y, scores, weights=weights) == pytest.approx(logloss(y[repeated], scores[repeated]), abs=1e-12)
    assert auc(y, scores, np.ones(400)) == pytest.approx(auc(y, scores), abs=1e-12)
    assert np.isnan(auc(y, scores, weights * (y == 1)))  # the negatives weigh nothing: one class


def test_normalized_entropy_calibration_and_the_reliability_curve():
    rng = np.random.default_rng(2)
    p = rng.random(20_000)
    y = (rng.random(20_000) < p).astype(float)
    rate = y.mean()
    entropy = -(rate * np.log(rate) + (1 - rate) * np.log(1 - rate))
    shown = click_metrics(y, p)
    assert shown["normalized_entropy"] == pytest.approx(logloss(y, p) / entropy)
    assert shown["calibration"] == pytest.approx(p.mean() / rate)
    assert shown["mean_prediction"] == pytest.approx(p.mean())
    assert click_metrics(y, np.full_like(p, rate))["normalized_entropy"] == pytest.approx(1.0)
    assert click_metrics(y, p / 2)["calibration"] == pytest.approx(0.5 * p.mean() / rate)
    curve = reliability(y, p, bins=10)
    assert len(curve["weight"]) == 10 and set(curve["weight"]) == {2000.0}
    np.testing.assert_allclose(curve["click_rate"], curve["mean_prediction"], atol=0.04)  # calibrated by design
    assert np.all(np.diff(curve["mean_prediction"]) > 0)
    weights = rng.integers(0, 3, 20_000)
    repeated = np.repeat(np.arange(20_000), weights)
    assert click_metrics(y, p, weights) == pytest.approx({**click_metrics(y[repeated], p[repeated]), "rows": 20_000})
    heavy, whole = reliability(y, p, weights, bins=5), reliability(y[repeated], p[repeated], bins=5)
    for key in heavy:
        np.testing.assert_allclose(heavy[key], whole[key], rtol=0.02)


@pytest.mark.parametrize(("values", "message"), [
    (["1", "heavy"], r"weight column 'w' \(label\.weight\): expected numbers ≥ 0, found 'heavy'"),
    ([1.0, np.nan], r"weight column 'w' \(label\.weight\): every row needs a finite weight ≥ 0; 1 rows do not "
                    r"\(the first has no weight \(NaN\)\)"),
    ([1.0, -2.0], r"the first has weight -2"),
    ([1.0, np.inf], r"the first has weight inf"),
    ([True, False], r"expected numbers ≥ 0, found booleans"),
])
def test_bad_weights_are_named(spec, values, message):
    with pytest.raises(ctr.DataError, match=message):
        ctr_data.sample_weights(pd.DataFrame({"w": values}), _weighted(spec))


def test_unit_weights_train_exactly_as_no_weights(spec, splits):
    train, valid, test = splits
    plain = ctr.FM(spec, embedding_dim=8, batch_size=256, seed=3)
    weighted = ctr.FM(_weighted(spec), embedding_dim=8, batch_size=256, seed=3)
    plain.fit(train, validation_data=valid, epochs=2, verbose=0)
    weighted.fit(train.assign(w=1.0), validation_data=valid.assign(w=1), epochs=2, verbose=0)
    np.testing.assert_allclose(weighted.predict(test), plain.predict(test), rtol=1e-5, atol=1e-6)
    for key in ("loss", "val_auc", "val_logloss"):
        np.testing.assert_allclose(weighted.history_[key], plain.history_[key], rtol=1e-5)
    assert weighted.evaluate(test.assign(w=1.0)) == pytest.approx(plain.evaluate(test))


@pytest.mark.parametrize("in_memory", [True, False])
def test_weighting_kept_negatives_by_their_sampling_rate_calibrates_predictions(spec, frame, tmp_path, in_memory):
    """Negatives kept at a rate of 1 in 4 and weighted 4: the predicted click rate on the full data
    comes back near the true one, which the unweighted model overshoots."""
    clicks = (frame["rating"] >= 4).to_numpy()
    sampled = ctr.data.downsample_negatives(frame, _weighted(spec), keep=0.25, seed=0)
    source = sampled
    if not in_memory:
        sampled.to_parquet(tmp_path / "sampled.parquet")
        source = tmp_path / "sampled.parquet"
    rates = {}
    for name, model_spec in (("plain", spec), ("weighted", _weighted(spec))):
        model = ctr.LogisticRegression(model_spec, learning_rate=0.02, batch_size=256, seed=0)
        model.fit(source, epochs=4, verbose=0, in_memory=in_memory)
        rates[name] = float(model.predict(frame).mean())
    truth = clicks.mean()
    assert abs(rates["weighted"] - truth) < 0.05 < abs(rates["plain"] - truth), (rates, truth)
    scored = model.evaluate(frame.assign(w=1.0))
    assert scored["positive_rate"] == pytest.approx(truth)
    half = model.evaluate(frame.assign(w=np.where(clicks, 0.5, 1.0)))
    assert half["positive_rate"] == pytest.approx(truth / 2 / (truth / 2 + 1 - truth))
    assert half["logloss"] != pytest.approx(scored["logloss"])


def test_downsampling_keeps_every_click_and_a_share_of_the_rest_weighted_back(spec, frame):
    weighted = _weighted(spec)
    sampled = ctr.data.downsample_negatives(frame, weighted, keep=0.25, seed=4)
    clicks = frame["rating"] >= 4
    assert (sampled["rating"] >= 4).sum() == clicks.sum()
    assert (sampled["rating"] < 4).sum() == pytest.approx(0.25 * (~clicks).sum(), rel=0.1)
    kept_clicks = sampled["rating"] >= 4
    assert set(sampled.loc[kept_clicks, "w"]) == {1.0} and set(sampled.loc[~kept_clicks, "w"]) == {4.0}
    assert sampled["w"].sum() == pytest.approx(len(frame), rel=0.05)
    pd.testing.assert_frame_equal(ctr.data.downsample_negatives(frame, weighted, keep=0.25, seed=4), sampled)
    again = ctr.data.downsample_negatives(sampled, weighted, keep=0.5, seed=1)  # weights multiply
    assert set(again.loc[again["rating"] < 4, "w"]) == {8.0}
    assert len(ctr.data.downsample_negatives(frame, weighted, keep=1)) == len(frame)
    with pytest.raises(ctr.ArgumentError, match=r"downsample_negatives: keep must be a number above 0 and at most 1"):
        ctr.data.downsample_negatives(frame, weighted, keep=0)
    with pytest.raises(ctr.SpecError, match=r"label\.weight: downsample_negatives writes .* this spec has none"):
        ctr.data.downsample_negatives(frame, spec, keep=0.5)


def test_downsampling_a_file_streams_it_into_the_same_rows_and_the_shell_does_it_too(spec, frame, tmp_path, capsys):
    weighted = _weighted(spec)
    folder = tmp_path / "logs"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(frame)), 3)):  # a Parquet folder of three files
        frame.iloc[part].to_parquet(folder / f"part-{i}.parquet")
    in_memory = ctr.data.downsample_negatives(frame, weighted, keep=0.3, seed=2)
    written = ctr.data.downsample_negatives(folder, weighted, keep=0.3, seed=2, out=tmp_path / "s.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(written), in_memory, check_dtype=False)
    (tmp_path / "spec.yaml").write_text(weighted.to_yaml())
    capsys.readouterr()
    assert main(["downsample", "--spec", str(tmp_path / "spec.yaml"), "--data", str(folder), "--keep", "0.3",
                 "--seed", "2", "--out", str(tmp_path / "s.csv")]) == 0
    assert f"{len(in_memory):,} of {len(frame):,} rows written" in capsys.readouterr().out
    np.testing.assert_allclose(pd.read_csv(tmp_path / "s.csv")["w"], in_memory["w"])
    # The generated data by name, as `ctr fit --data synthetic` reads it.
    generated = ctr.datasets.synthetic(seed=0)
    assert main(["downsample", "--spec", str(tmp_path / "spec.yaml"), "--data", "synthetic", "--keep", "0.3",
                 "--out", str(tmp_path / "g.parquet")]) == 0
    kept = ctr.data.downsample_negatives(generated, weighted, keep=0.3, seed=0)
    assert f"{len(kept):,} of {len(generated):,} rows written" in capsys.readouterr().out
    with pytest.raises(ctr.ArgumentError, match=r"out .*s\.xlsx: the file name must end in \.csv, \.tsv"):
        ctr.data.downsample_negatives(frame, weighted, keep=0.3, out=tmp_path / "s.xlsx")
    with pytest.raises(SystemExit, match="2"):
        main(["downsample", "--spec", str(tmp_path / "spec.yaml"), "--data", str(folder), "--keep", "2",
              "--out", str(tmp_path / "t.csv")])
    assert "argument --keep: must be a number above 0 and at most 1, got 2" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def test_weight_errors_name_the_column_in_training_validation_and_evaluation(spec, splits, tmp_path):
    train, valid, _ = splits
    model = ctr.FM(_weighted(spec), embedding_dim=4, batch_size=256)
    with pytest.raises(ctr.DataError, match=r"column 'w' is missing from the data.*label\.weight names 'w'"):
        model.fit(train, epochs=1, verbose=0)
    with pytest.raises(ctr.DataError, match=r"all \d+ training rows weigh 0"):
        model.fit(train.assign(w=0.0), epochs=1, verbose=0)
    clicks = train["rating"] >= 4
    with pytest.raises(ctr.DataError, match=r"none of the \d+ validation rows that weigh more than 0"):
        model.fit(train.assign(w=1.0), validation_data=valid.assign(w=np.where(valid["rating"] >= 4, 0.0, 1.0)),
                  epochs=1, verbose=0)
    train.assign(w=np.where(clicks, 1.0, 0.0)).to_parquet(tmp_path / "clicks_only.parquet")
    with pytest.raises(ctr.DataError, match=r"on every one of the \d+ training rows that weigh more than 0"):
        model.fit(tmp_path / "clicks_only.parquet", epochs=1, verbose=0, in_memory=False)
    model.fit(train.assign(w=1.0), epochs=1, verbose=0)
    with pytest.raises(ctr.DataError, match=r"weight column 'w' \(label\.weight\): .*found 'x'"):
        model.evaluate(valid.assign(w="x"))
    assert model.predict(valid).shape == (len(valid),)  # serving needs no weights


def _junk_log(weight: float) -> tuple[pd.DataFrame, ctr.FeatureSpec]:
    """Each of 60 users buys from their own group of 10 items, and every user also buys item 999, whose
    rows weigh `weight` (the others 1): a play count, a quantity, in the column that is also the label."""
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(60), 9)
    items = (users % 6) * 10 + rng.integers(0, 10, len(users))
    frame = pd.DataFrame({"user_id": np.concatenate([users, np.arange(60)]),
                          "item_id": np.concatenate([items, np.full(60, 999)]),
                          "plays": np.concatenate([np.ones(len(users)), np.full(60, weight)])})
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                            ctr.Categorical("item_id", dtype="int", role="item")],
                           label=ctr.Label("plays", threshold=0, weight="plays"))
    return frame, spec


@pytest.mark.parametrize("make", [lambda s: ctr.MatrixFactorization(s, learning_rate=0.02, seed=0),
                                  lambda s: ctr.MatrixFactorization(s, loss="bpr", learning_rate=0.02, seed=0),
                                  lambda s: ctr.NeuMF(s, learning_rate=0.02, seed=0),
                                  lambda s: ctr.TwoTower(s, batch_size=64, seed=0)],
                         ids=["mf", "bpr", "neumf", "two_tower"])
def test_recommenders_learn_each_interaction_as_much_as_its_weight(make):
    """Item 999, every user's, ranks high when its rows weigh 1 and far lower when they weigh 0."""
    ranks = {}
    for weight in (1.0, 0.0):
        frame, spec = _junk_log(weight)
        model = make(spec)
        history = model.fit(frame, epochs=12, verbose=0)
        ids, _ = model.recommend(list(range(60)), k=20)
        ranks[weight] = np.mean([list(row).index(999) if 999 in row else 20 for row in ids])
        assert np.isfinite(history.history["loss"]).all()
    assert ranks[0.0] > ranks[1.0] + 5, ranks  # BPR has no item bias, and the two-tower corrects popularity


def test_popularity_counts_the_weights_and_an_all_weightless_log_is_refused():
    frame, spec = _junk_log(0.5)
    model = ctr.Popularity(spec).fit(frame)
    counts = dict(zip(model.catalog_ids().tolist(), model.counts_.tolist(), strict=True))
    assert counts[999] == 30.0 and counts == frame.groupby("item_id").plays.sum().to_dict()
    assert model.recommend([0], k=1)[0][0, 0] == 999
    frame, spec = _junk_log(0.26)
    text = []
    ctr.Popularity(spec).fit(frame).summary(print_fn=text.append)
    assert "the most popular: 15 (16), 999 (15.60), 42 (15), " in text[0]
    with pytest.raises(ctr.DataError, match=r"weight column 'plays' \(label\.weight\): all 60 positive interactions "
                                            r"weigh 0"):
        ctr.TwoTower(spec).fit(frame[frame.item_id == 999].assign(plays=0.0), epochs=1, verbose=0)
    spec = ctr.FeatureSpec(spec.features, label=ctr.Label("plays", threshold=0, weight="w"))
    with pytest.raises(ctr.DataError, match=r"weight column 'w' \(label\.weight\): expected numbers ≥ 0, found 'x'"):
        ctr.MatrixFactorization(spec).fit(frame.assign(w="x"), epochs=1, verbose=0)
    with pytest.raises(ctr.DataError, match=r"'w' is missing .*the spec's label\.weight names 'w' as the rows' "
                                            r"weights"):
        ctr.Popularity(spec).fit(frame)


def test_weighted_losses_are_those_of_rows_repeated_by_weight_and_of_the_tfrs_task():
    """A pointwise or pairwise row of weight 2 counts as the row twice; the two-tower's loss and its
    hand-written gradient are the retrieval task's with `sample_weight`, scaled to the weights' mean."""
    import tensorflow_recommenders as tfrs

    from ctr._keras import keras, tf
    from ctr.models.base import mean_logloss
    from ctr.models.recommender import _PairwiseNetwork
    from ctr.models.two_tower import _relative, in_batch_softmax_loss

    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=6).astype(np.float32), np.array([1, 0, 0, 1, 0, 0], np.float32)
    weights = np.array([2, 2, 2, 1, 1, 0], np.float32)
    repeated = np.repeat(np.arange(6), weights.astype(int))
    task = tfrs.tasks.Ranking(loss=keras.losses.BinaryCrossentropy(from_logits=True,
                                                                   reduction=keras.losses.Reduction.SUM))
    weighted = mean_logloss(task, tf.constant(np.stack([labels, weights], 1)), tf.constant(logits), False)
    assert float(weighted) == pytest.approx(float(mean_logloss(task, tf.constant(labels[repeated]),
                                                               tf.constant(logits[repeated]), False)), rel=1e-6)

    class Scorer(keras.layers.Layer):
        def call(self, features, training=False):
            return features["x"]

    pairs = _PairwiseNetwork(Scorer())
    margin_rows = {"x": tf.constant(logits)}, {"x": tf.zeros(6)}
    weighted = pairs.compute_loss((*margin_rows, tf.constant(weights)))
    plain = pairs.compute_loss(({"x": tf.constant(logits[repeated])}, {"x": tf.zeros(len(repeated))}))
    assert float(weighted) == pytest.approx(float(plain), rel=1e-6)

    queries = tf.constant(rng.normal(size=(32, 5)), tf.float32)
    items = tf.constant(rng.normal(size=(32, 5)), tf.float32)
    rows = tf.constant(rng.integers(0, 12, 32), tf.int64)
    probability = tf.constant(rng.uniform(1e-3, 0.2, 32), tf.float32)
    row_weights = tf.constant(rng.uniform(0, 3, 32), tf.float32)
    relative = _relative(row_weights)
    assert float(tf.reduce_mean(relative)) == pytest.approx(1.0, rel=1e-6)
    retrieval = tfrs.tasks.Retrieval(remove_accidental_hits=True)
    results = []
    for loss in (lambda q, c: retrieval(q, c, candidate_sampling_probability=probability, candidate_ids=rows,
                                        sample_weight=relative, compute_metrics=False),
                 lambda q, c: in_batch_softmax_loss(q, c, probability, rows, relative)):
        with tf.GradientTape() as tape:
            tape.watch([queries, items])
            value = 3.0 * loss(queries, items)
        results.append([value.numpy(), *(g.numpy() for g in tape.gradient(value, [queries, items]))])
    for ours, theirs in zip(results[1], results[0], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-4)


def test_a_count_may_be_the_label_and_its_weight_only_with_a_threshold():
    features = [ctr.Categorical("user_id", dtype="int", role="user"), ctr.Categorical("item_id", dtype="int",
                                                                                      role="item")]
    with pytest.raises(ctr.SpecError, match=r"label\.weight: 'plays' is the label column; .*threshold: 1, weight: "
                                            r"plays"):
        ctr.FeatureSpec(features, label=ctr.Label("plays", weight="plays"))
    spec = ctr.FeatureSpec(features, label=ctr.Label("plays", threshold=1, weight="plays"))
    assert spec.columns == ["user_id", "item_id", "plays"]
    with pytest.raises(ctr.SpecError, match=r"downsample_negatives .* is the label column 'plays' itself"):
        ctr.data.downsample_negatives(pd.DataFrame({"user_id": [1], "item_id": [2], "plays": [3]}), spec, keep=0.5)


def test_a_weighted_model_serves_in_a_fresh_process_like_any_other(spec, splits, tmp_path, serve_fresh):
    train, _, test = splits
    model = ctr.FM(_weighted(spec), embedding_dim=4, batch_size=256)
    model.fit(train.assign(w=np.linspace(0.5, 2.0, len(train))), epochs=1, verbose=0)
    path = model.export(tmp_path / "weighted", verify=False)  # served below, against the model
    rows = test.head(8)
    raw = ctr_data.raw_features(rows, spec)
    served = serve_fresh({"fm": {"path": str(path), "inputs": {k: v.tolist() for k, v in raw.items()}}}, tmp_path)
    np.testing.assert_allclose(np.ravel(served["fm"]), model.predict(rows), atol=1e-5)
    assert ctr.load(path).spec.label.weight == "w"


def test_the_shell_trains_and_evaluates_with_weights(spec, splits, tmp_path, capsys):
    train, _, test = splits
    (tmp_path / "spec.yaml").write_text(_weighted(spec).to_yaml())
    train.assign(w=2.0).to_parquet(tmp_path / "train.parquet")
    assert main(["fit", "--spec", str(tmp_path / "spec.yaml"), "--data", str(tmp_path / "train.parquet"),
                 "--model", "lr", "--epochs", "1", "--export", str(tmp_path / "model")]) == 0
    weights = np.where(test["rating"] >= 4, 3.0, 1.0)
    test.assign(w=weights).to_parquet(tmp_path / "test.parquet")
    capsys.readouterr()
    assert main(["evaluate", "--model", str(tmp_path / "model"), "--data", str(tmp_path / "test.parquet")]) == 0
    shown = json.loads(capsys.readouterr().out)
    served = ctr.load(tmp_path / "model")
    expected = click_metrics((test["rating"] >= 4).to_numpy(), served.predict(test), weights)
    assert shown == pytest.approx(expected) and shown["positive_rate"] > (test["rating"] >= 4).mean()
    assert main(["evaluate", "--model", str(tmp_path / "model"), "--data", str(tmp_path / "test.parquet"),
                 "--plot", str(tmp_path / "plots" / "reliability.png")]) == 0
    assert json.loads(capsys.readouterr().out) == pytest.approx(shown)  # stdout stays JSON; the path goes to stderr
    picture = (tmp_path / "plots" / "reliability.png").read_bytes()
    assert picture[:8] == b"\x89PNG\r\n\x1a\n" and len(picture) > 5_000
    test.to_parquet(tmp_path / "unweighted.parquet")
    assert main(["evaluate", "--model", str(tmp_path / "model"), "--data", str(tmp_path / "unweighted.parquet")]) == 2
    assert "column 'w' is missing" in capsys.readouterr().err


def _impressions(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A click log (one row an impression) and the same log aggregated: clicks out of impressions per
    (user, ad, device), as ad servers keep them."""
    rng = np.random.default_rng(seed)
    users, ads, device = rng.integers(0, 40, n), rng.integers(0, 25, n), rng.choice(["ios", "web"], n)
    clicked = (rng.random(n) < 1 / (1 + np.exp(2 - np.sin(users) * np.cos(ads) - (device == "ios")))).astype(int)
    raw = pd.DataFrame({"user_id": users, "ad_id": ads, "device": device, "clicks": clicked, "shown": 1})
    aggregated = raw.groupby(["user_id", "ad_id", "device"], as_index=False).agg(clicks=("clicks", "sum"),
                                                                                 shown=("shown", "sum"))
    return raw, aggregated


_AGGREGATED = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                               ctr.Categorical("ad_id", dtype="int", role="item"), ctr.Categorical("device")],
                              label=ctr.Label("clicks", out_of="shown"))


def test_aggregated_rows_train_and_score_as_the_impressions_they_stand_for(tmp_path):
    """A row of 3 clicks out of 10 impressions counts as 3 clicked rows and 7 not: evaluate, the
    validation figures Keras logs, calibrate and the starting bias are those of the rows one by one."""
    raw, aggregated = _impressions()
    assert len(aggregated) < len(raw) / 2 and aggregated.shown.max() > 3
    model = ctr.FM(_AGGREGATED, embedding_dim=4, batch_size=256, seed=0)
    history = model.fit(aggregated, validation_data=aggregated, epochs=2, verbose=0)
    one_by_one, together = model.evaluate(raw), model.evaluate(aggregated)
    for key in ("auc", "logloss", "normalized_entropy", "calibration", "mean_prediction", "positive_rate"):
        assert together[key] == pytest.approx(one_by_one[key], rel=1e-6, abs=1e-9), key
    assert together["rows"] == len(aggregated) and one_by_one["positive_rate"] == pytest.approx(raw.clicks.mean())
    # Keras reads any label but 0 as a click: the validation AUC counts each row's clicks and non-clicks,
    # as Keras' own AUC (its 1000 thresholds) does the rows one by one.
    from ctr._keras import keras

    keras_auc = keras.metrics.AUC(num_thresholds=1000)
    keras_auc.update_state(raw.clicks.to_numpy(), model.predict(raw))
    assert history.history["val_auc"][-1] == pytest.approx(float(keras_auc.result()), abs=1e-4)
    assert history.history["val_logloss"][-1] == pytest.approx(one_by_one["logloss"], rel=1e-5)
    assert ctr.metrics.group_auc(ctr.data.labels(aggregated, _AGGREGATED), model.predict(aggregated),
                                 aggregated.user_id, ctr.data.sample_weights(aggregated, _AGGREGATED))["gauc"] == \
        pytest.approx(ctr.metrics.group_auc(raw.clicks, model.predict(raw), raw.user_id)["gauc"], rel=1e-9)
    fresh = ctr.FM(_AGGREGATED, embedding_dim=4, learning_rate=1e-12, seed=0)  # the bias as it starts
    fresh.fit(aggregated, epochs=1, verbose=0)
    rate = raw.clicks.mean()
    assert float(fresh.network_.scorer.bias.numpy()) == pytest.approx(np.log(rate / (1 - rate)), rel=1e-5)
    calibrated = [ctr.FM.calibrate(model, data) for data in (raw, aggregated)]
    assert calibrated[0]["slope"] == pytest.approx(calibrated[1]["slope"], rel=1e-6)
    assert calibrated[0]["intercept"] == pytest.approx(calibrated[1]["intercept"], rel=1e-6, abs=1e-9)
    aggregated.to_parquet(tmp_path / "aggregated.parquet")
    streamed = ctr.FM(_AGGREGATED, embedding_dim=4, batch_size=256, seed=0)
    streamed.fit(tmp_path / "aggregated.parquet", epochs=1, verbose=0, in_memory=False)
    assert streamed.evaluate(tmp_path / "aggregated.parquet")["auc"] > 0.55


def test_aggregated_rows_are_checked_and_refused_where_rows_are_interactions():
    _, aggregated = _impressions(600)
    model = ctr.LogisticRegression(_AGGREGATED)
    for data, message in [(aggregated.assign(clicks=aggregated.shown + 1), r"label column 'clicks': \d+ rows count "
                                                                           r"more clicks than impressions \('shown'\); "
                                                                           r"the first \(row 1\) has 2 of 1"),
                          (aggregated.assign(shown=-1.0), r"impressions column 'shown' \(label\.out_of\): every row "
                                                          r"needs a finite count ≥ 0; \d+ rows do not"),
                          (aggregated.drop(columns="shown"), r"'shown' is missing .*label\.out_of names 'shown' as "
                                                             r"each row's impressions, of which 'clicks' counts")]:
        with pytest.raises(ctr.DataError, match=message):
            model.fit(data, epochs=1, verbose=0)
    with pytest.raises(ctr.DataError, match=r"impressions column 'shown' \(label\.out_of\): all \d+ training rows "
                                            r"have 0 impressions"):
        model.fit(aggregated.assign(shown=0, clicks=0), epochs=1, verbose=0)
    features = list(_AGGREGATED.features)
    for label, message in [(ctr.Label("clicks", out_of="clicks"), r"label\.out_of: 'clicks' is the label column"),
                           (ctr.Label("clicks", threshold=1, out_of="shown"), r"label\.threshold: with out_of"),
                           (ctr.Label("clicks", weight="w", out_of="w"), r"'w' is the weight column")]:
        with pytest.raises(ctr.SpecError, match=message):
            ctr.FeatureSpec(features, label=label)
    with pytest.raises(ctr.SpecError, match=r"reads the impressions column 'device' \(label\.out_of\)"):
        ctr.FeatureSpec(features, label=ctr.Label("clicks", out_of="device"))
    for refused in (lambda: ctr.TwoTower(_AGGREGATED), lambda: ctr.Popularity(_AGGREGATED),
                    lambda: ctr.data.add_negatives(aggregated, _AGGREGATED, 2),
                    lambda: ctr.data.downsample_negatives(aggregated, _AGGREGATED, keep=0.5)):
        with pytest.raises(ctr.SpecError, match=r"label\.out_of: .*aggregated \(clicks out of the impressions in "
                                                r"'shown'\)"):
            refused()
    assert ctr.FeatureSpec.from_yaml(_AGGREGATED.to_yaml()) == _AGGREGATED


def test_the_shell_refuses_aggregated_rows_for_a_recommender_before_asking_how_to_split(tmp_path, capsys):
    _, aggregated = _impressions(600)
    aggregated.to_parquet(tmp_path / "daily.parquet")
    (tmp_path / "daily.yaml").write_text(_AGGREGATED.to_yaml())
    assert main(["fit", "--spec", str(tmp_path / "daily.yaml"), "--data", str(tmp_path / "daily.parquet"),
                 "--model", "neumf"]) == 2
    assert ("label.out_of: NeuMF learns from interactions, one a row" in (said := capsys.readouterr().err)
            and "label: {column: clicks, threshold: 1, weight: clicks}" in said)
