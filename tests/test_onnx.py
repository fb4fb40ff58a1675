"""ONNX export of the ranking models: raw rows through onnxruntime give the SavedModel's predictions."""

from __future__ import annotations

import numpy as np
import pytest

import ctr
from ctr.data import raw_features

pytest.importorskip("tf2onnx")
pytest.importorskip("onnxruntime_extensions")


def test_onnx_export_matches_the_saved_model_on_raw_rows(spec, frame, tmp_path):
    # One conversion (tf2onnx takes ~20 s) covers every kind, a content profile included.
    raw_spec = spec.to_dict()
    raw_spec["features"].append({"name": "history", "kind": "history", "items": "item_id", "max_length": 10,
                                 "pooling": "attention"})
    data = ctr.data.add_history(frame.head(3000), max_length=10)
    model = ctr.DeepFM(ctr.FeatureSpec.from_dict(raw_spec), embedding_dim=8, hidden_units=(16,), batch_size=256)
    model.fit(data, epochs=1, verbose=0)
    path = model.export(tmp_path / "deepfm.onnx", format="onnx")
    rows = data.tail(50).copy().reset_index(drop=True)
    rows.loc[0, ["user_id", "occupation", "genres"]] = [123_456_789, "astronaut", "Western|Noir"]
    rows.loc[1, ["price", "release_year", "title"]] = [np.nan, np.inf, "Entirely, Unknown words!"]
    rows.loc[2, ["gender", "genres", "title", "history"]] = ["", "", "", ""]
    rows.loc[3, "history"] = "999999|" + rows.loc[3, "history"]  # an unknown item in the profile is skipped
    session = ctr.onnx_session(path)
    assert sorted(i.name for i in session.get_inputs()) == sorted(model.spec.names)
    raw = raw_features(rows, model.spec)
    got = session.run(["probability"], {i.name: raw[i.name] for i in session.get_inputs()})[0]
    saved = ctr.load(model.export(tmp_path / "saved")).predict(rows)
    np.testing.assert_allclose(got, saved, atol=1e-4)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary files left


def test_onnx_export_names_what_cannot_be_converted(spec, splits, tmp_path):
    hashed = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                              ctr.Categorical("zip_prefix", hash_buckets=100)], label=spec.label)
    model = ctr.LogisticRegression(hashed)
    model.fit(splits[0].head(500), epochs=1, verbose=0)
    with pytest.raises(ctr.ExportError, match="feature 'zip_prefix' is hashed"):
        model.export(tmp_path / "m.onnx", format="onnx")
    assert not (tmp_path / "m.onnx").exists()
    # Unseen values spread over OOV buckets by TensorFlow's string hash, which ONNX runtimes do not have.
    spread = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                              ctr.MultiCategorical("genres", separator="|", oov_buckets=3)], label=spec.label)
    model_spread = ctr.LogisticRegression(spread)
    model_spread.fit(splits[0].head(500), epochs=1, verbose=0)
    with pytest.raises(ctr.ExportError, match=r"feature 'genres' spreads unseen values .*oov_buckets > 1"):
        model_spread.export(tmp_path / "m.onnx", format="onnx")
    with pytest.raises(ctr.ArgumentError, match="format must be one of 'saved_model', 'onnx'; got 'pmml'"):
        model.export(tmp_path / "m", format="pmml")
    with pytest.raises(ctr.ArgumentError, match="ONNX export covers the click models"):
        ctr.TwoTower(spec).export(tmp_path / "t.onnx", format="onnx")
    (tmp_path / "saved").mkdir()
    with pytest.raises(ctr.ExportError, match="is a folder; an ONNX export is one file"):
        model.export(tmp_path / "saved", format="onnx")
    with pytest.raises(ctr.CtrError, match="no ONNX file here"):
        ctr.onnx_session(tmp_path / "m.onnx")
