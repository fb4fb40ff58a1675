"""Platt scaling: probabilities made into click rates on held-out rows, in the model and in its export."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr.calibration import platt_scaling
from ctr.cli import main


def test_platt_scaling_recovers_the_map_that_made_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, 200_000)
    labels = (rng.random(len(logits)) < 1 / (1 + np.exp(-(0.5 * logits - 1.0)))).astype(np.float32)
    slope, intercept = platt_scaling(logits, labels)
    assert slope == pytest.approx(0.5, abs=0.02) and intercept == pytest.approx(-1.0, abs=0.02)
    # A row of weight 2 counts as the row twice.
    twice = platt_scaling(np.concatenate([logits[:1000], logits[:500]]), np.concatenate([labels[:1000], labels[:500]]))
    weighted = platt_scaling(logits[:1000], labels[:1000], np.r_[np.full(500, 2.0), np.ones(500)])
    np.testing.assert_allclose(weighted, twice, rtol=1e-3)
    with pytest.raises(ctr.DataError, match="click rate falls as the model's score rises"):
        platt_scaling(-logits, labels)


def test_a_calibrated_model_predicts_click_rates_and_its_export_too(spec, splits, tmp_path, serve_fresh, capsys):
    train, valid, test = splits
    # Non-clicks downsampled without weights: the probabilities overshoot the click rate.
    clicks = train[train.rating >= 4]
    model = ctr.FM(spec, embedding_dim=8, learning_rate=0.01, batch_size=256)
    model.fit(pd.concat([clicks, train[train.rating < 4].sample(frac=0.3, random_state=0)]), epochs=3, verbose=0)
    before = model.evaluate(test)
    assert before["calibration"] > 1.2
    recorded = model.calibrate(valid)
    after = model.evaluate(test)
    assert abs(after["calibration"] - 1) < 0.1 and after["logloss"] < before["logloss"] - 0.05
    assert after["auc"] == pytest.approx(before["auc"], abs=1e-6)  # the order of the rows stays
    assert recorded["after"]["calibration"] == pytest.approx(1.0, abs=0.02) and recorded["rows"] == len(valid)
    with pytest.raises(ctr.ArgumentError, match=r"FM\.calibrate has no argument 'method'; it takes the data alone$"):
        model.calibrate(valid, method="isotonic")

    path = model.export(tmp_path / "calibrated", verify=False)  # served below, against the model
    assert ctr.load(path).metadata["calibration"] == recorded
    rows = test.head(8)
    served = serve_fresh({"fm": {"path": str(path), "inputs": {
        f.name: rows[f.source].tolist() for f in spec.features}}}, tmp_path)
    np.testing.assert_allclose(np.ravel(served["fm"]), model.predict(rows), atol=1e-5)
    ctr.load(path).summary()
    assert "calibrated (Platt scaling on " in capsys.readouterr().out

    # As the ranker of a pipeline, its export scores candidates as predict does (the export checks it).
    retriever = ctr.MatrixFactorization(spec, embedding_dim=4, seed=0)
    retriever.fit(train, epochs=1, verbose=0)
    pipeline = ctr.RecommendationPipeline(retriever, model, n_candidates=20)
    ids, scores = pipeline.recommend(test.head(3), k=5)
    served_ids, served_scores = ctr.load(pipeline.export(tmp_path / "pipeline")).recommend(test.head(3), k=5)
    np.testing.assert_allclose(served_scores, scores, atol=1e-5)
    assert (served_ids == ids).all()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(train.head(500), epochs=1, verbose=0)
    assert model.calibration_ is None and "calibration fitted before is dropped" in str(caught[0].message)


def test_the_shell_calibrates_on_the_validation_rows(frame, tmp_path, capsys):
    frame.to_parquet(tmp_path / "rows.parquet")
    assert main(["fit", "--spec", "synthetic", "--data", str(tmp_path / "rows.parquet"), "--model", "lr",
                 "--epochs", "1", "--calibrate", "--export", str(tmp_path / "lr")]) == 0
    assert "ctr fit: calibrated (Platt scaling on 1,200 rows)" in capsys.readouterr().out
    assert json.loads((tmp_path / "lr" / "assets.extra" / "ctr.json").read_text())["calibration"]["rows"] == 1200
    assert main(["fit", "--spec", "synthetic", "--data", str(tmp_path / "rows.parquet"), "--split", "0.9,0,0.1",
                 "--calibrate"]) == 2
    assert "--split leaves no validation rows" in capsys.readouterr().err
    frame.drop(columns="rating").to_parquet(tmp_path / "unlabelled.parquet")
    assert main(["calibrate", "--model", str(tmp_path / "lr"), "--data", str(tmp_path / "unlabelled.parquet"),
                 "--out", str(tmp_path / "lr2")]) == 2
    assert ("('rating' is the spec's label: rows that are learned from, evaluated or calibrated on must say "
            "whether each was clicked)") in capsys.readouterr().err


def test_load_model_rebuilds_an_export_to_train_and_calibrate_again(splits, tmp_path, capsys):
    from .test_cold_start import _profile_spec

    train, valid, test = (ctr.data.add_history(part, max_length=10) for part in splits)
    model = ctr.DeepFM(_profile_spec("attention"), embedding_dim=4, hidden_units=(8,), seed=2)
    model.fit(train, epochs=1, verbose=0)
    model.calibrate(valid)
    rebuilt = ctr.load_model(model.export(tmp_path / "deepfm"))
    assert type(rebuilt) is ctr.DeepFM and rebuilt.get_config() == model.get_config()
    np.testing.assert_allclose(rebuilt.predict(test), model.predict(test), atol=1e-6)  # history content too
    assert rebuilt.calibration_ == model.calibration_ and rebuilt.history_ == model.history_
    with pytest.warns(UserWarning, match="calibration fitted before is dropped"):
        rebuilt.fit(train, epochs=1, verbose=0)  # carries on, with the export's vocabularies
    assert len(rebuilt.history_["loss"]) == 2 and rebuilt.evaluate(test)["auc"] > 0.6

    popularity = ctr.Popularity(_profile_spec()).fit(train)
    with pytest.raises(ctr.CtrError, match="a Popularity export, which has no trained weights of its own"):
        ctr.load_model(popularity.export(tmp_path / "popularity"))

    # The shell: an export calibrated on held-out rows, written as another export.
    plain = ctr.FM("synthetic", embedding_dim=4)
    plain.fit(splits[0], epochs=1, verbose=0)
    plain.export(tmp_path / "fm")
    splits[1].to_parquet(tmp_path / "valid.parquet")
    assert main(["calibrate", "--model", str(tmp_path / "fm"), "--data", str(tmp_path / "valid.parquet"),
                 "--out", str(tmp_path / "fm_calibrated")]) == 0
    assert "ctr calibrate: calibrated (Platt scaling on 1,200 rows)" in capsys.readouterr().out
    plain.calibrate(splits[1])
    np.testing.assert_allclose(ctr.load(tmp_path / "fm_calibrated").predict(splits[2]), plain.predict(splits[2]),
                               atol=1e-5)
