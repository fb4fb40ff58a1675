"""ONNX export of the ranking models: raw rows through onnxruntime give the SavedModel's predictions."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr.cli import main
from ctr.data import raw_features

pytest.importorskip("tf2onnx")
pytest.importorskip("onnxruntime_extensions")


def test_onnx_export_matches_the_saved_model_on_raw_rows(spec, frame, tmp_path):
    # One conversion (tf2onnx takes ~20 s) covers every kind, a content profile included.
    raw_spec = spec.to_dict()
    raw_spec["features"].append({"name": "history", "kind": "history", "items": "item_id", "max_length": 10,
                                 "pooling": "attention", "weighted": True})  # each item weighted by its rating
    # Local time with summer time: the offset in force is found by comparisons in onnxruntime too.
    stamp = next(f for f in raw_spec["features"] if f["kind"] == "timestamp")
    stamp["timezone"] = "America/New_York"
    # And each row's own zone: a lookup and the comparisons with that zone's changes.
    raw_spec["features"] += [{"name": "tz", "role": stamp.get("role", "context")}, {
        **stamp, "name": "local", "column": "timestamp", "timezone": None, "timezone_feature": "tz"}]
    raw_spec["features"].append({"name": "poster", "kind": "vector", "dim": 3, "role": "item"})  # an image's, say
    raw_spec["features"].append({"name": "moods", "kind": "multi_categorical", "weighted": True, "role": "item"})
    # A name in capitals (TensorFlow's placeholder is 'day': the ONNX input is named as the feature), of a
    # time written as digits, read in the graph.
    raw_spec["features"].append({"name": "Day", "kind": "timestamp", "column": "day", "format": "%Y%m%d",
                                 "parts": ["day_of_week", "month"]})
    # Crosses, made in the graph: of a user's id and a bag, of a number's buckets, and of the item's features
    # (item content, which the history's items carry too).
    raw_spec["crosses"] = [["gender", "genres"], ["age", "occupation"], {"features": ["item_id", "genres"],
                                                                          "min_count": 2}]
    data = ctr.data.add_history(frame.head(3000), max_length=10, weight="rating")
    data["poster"] = list(np.random.default_rng(0).normal(size=(3000, 3)))
    data["moods"] = np.array(["calm:0.7|dark:0.3", "calm|bright:2", "dark: .5 |bright:1e-1", ""])[np.arange(3000) % 4]
    data["tz"] = np.array(["Asia/Kathmandu", "Europe/Berlin", "Australia/Lord_Howe"])[np.arange(3000) % 3]
    data["day"] = pd.to_datetime(data["timestamp"], unit="s").dt.strftime("%Y%m%d").astype(np.int64)
    data.loc[data.index[:300:3], "title"] = "千と千尋の神隠し"  # each character a word
    data.loc[data.index[1:300:3], "title"] = "東京物語、完全版"
    model = ctr.DeepFM(ctr.FeatureSpec.from_dict(raw_spec), embedding_dim=8, hidden_units=(16,), batch_size=256)
    model.fit(data, epochs=1, verbose=0)
    # Converted from its SavedModel export (the heads' test below converts from the model), which the
    # ONNX file is then compared with.
    saved = ctr.load(model.export(tmp_path / "saved"))
    path = saved.to_onnx(tmp_path / "deepfm.onnx")
    rows = data.tail(50).copy().reset_index(drop=True)
    rows.loc[0, ["user_id", "occupation", "genres"]] = [123_456_789, "astronaut", "Western|Noir"]
    rows.loc[1, ["price", "release_year", "title"]] = [np.nan, np.inf, "Entirely, Unknown words!"]
    rows.loc[2, ["gender", "genres", "title", "history", "tz"]] = ["", "", "", "", ""]
    rows["day"] = rows["day"].astype(object)
    rows.loc[2, "day"] = None
    rows.loc[3, "tz"] = "Asia/Tokyo"  # a zone unseen in training: UTC
    rows.at[0, "poster"], rows.at[1, "poster"] = None, [np.nan, 0.5, 1.0]  # no vector, and a broken one: missing
    rows.loc[:3, "moods"] = ["calm:0|dark:0", "bright:3.|calm", "dark:1E-2|storm:5", "calm : 0.25"]  # weights parsed
    rows.loc[3, "history"] = "999999|" + rows.loc[3, "history"]  # an unknown item in the profile is skipped
    rows.loc[4:5, "history"] = ["7:0|12: .5 |3", "7:1e-1|12:0"]  # weights of every spelling, and none
    # Known words joined by punctuation, and bag values padded with spaces: the regular expressions
    # that clean them must run in onnxruntime as in TensorFlow (they did nothing when onnxruntime-
    # extensions was loaded after TensorFlow, and these rows were scored as unseen words).
    words = [w for w in model.preprocessor_.state["tables"]["title"]["vocabulary"][:6] if w.isalpha()]
    rows.loc[4, ["title", "genres"]] = ["-".join(words[:3]) + "!", " | ".join(data.genres.iloc[0].split("|"))]
    rows.loc[5, "title"] = "東京の神隠し。" + words[0]  # known characters unspaced, a Unicode full stop
    session = ctr.onnx_session(path)
    assert sorted(i.name for i in session.get_inputs()) == sorted(model.spec.names)
    raw = raw_features(rows, model.spec)
    got = session.run(["probability"], {i.name: raw[i.name] for i in session.get_inputs()})[0]
    np.testing.assert_allclose(got, saved.predict(rows), atol=1e-4)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary files left


def test_a_dcn_saved_model_export_converts_to_onnx_from_the_shell(spec, frame, tmp_path, capsys):
    # The cross layers and a calibration are what is new here; every kind of feature's encoding is the test above's.
    # The conversion starts from the SavedModel export (`ctr fit --export`), as a shell user has it.
    small = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                             ctr.Categorical("item_id", dtype="int", role="item"), ctr.Numeric("price")],
                            label=spec.label)
    model = ctr.DCN(small, embedding_dim=4, cross_layers=2, projection_dim=3, hidden_units=(8,), batch_size=256)
    model.fit(frame.head(2000), epochs=1, verbose=0)
    model.calibrate(frame.iloc[2000:3000])  # two constants in the graph, converted as the rest
    saved = model.export(tmp_path / "dcn")
    assert main(["export", "--model", str(saved), "--out", str(tmp_path / "dcn.onnx")]) == 0
    assert f"wrote {tmp_path / 'dcn.onnx'}" in capsys.readouterr().out
    rows = frame.tail(40).reset_index(drop=True)
    session = ctr.onnx_session(tmp_path / "dcn.onnx")
    raw = raw_features(rows, model.spec)
    got = session.run(["probability"], {i.name: raw[i.name] for i in session.get_inputs()})[0]
    np.testing.assert_allclose(got, model.predict(rows), atol=1e-4)
    assert main(["export", "--model", str(tmp_path), "--out", str(tmp_path / "x.onnx")]) == 2
    assert "no SavedModel here" in capsys.readouterr().err


@pytest.mark.parametrize("make", [
    # The interacting layers' batched products, transposes and softmax.
    lambda spec: ctr.AutoInt(spec, embedding_dim=4, attention_layers=2, key_dim=3, hidden_units=(8,), batch_size=256),
    # The CIN's broadcast products, reshapes and sums over the coordinates.
    lambda spec: ctr.xDeepFM(spec, embedding_dim=4, cin_layers=(6, 3), hidden_units=(8,), batch_size=256),
    # SENET's weights and the bilinear products' gathers and batched products, a matrix per pair of fields.
    lambda spec: ctr.FiBiNET(spec, embedding_dim=4, hidden_units=(8,), batch_size=256),
], ids=["autoint", "xdeepfm", "fibinet"])
def test_the_attention_cin_and_bilinear_heads_convert_to_onnx(make, spec, frame, tmp_path):
    small = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                             ctr.Categorical("item_id", dtype="int", role="item"), ctr.Numeric("price"),
                             ctr.MultiCategorical("genres", separator="|", max_length=3)], label=spec.label)
    model = make(small)
    model.fit(frame.head(2000), epochs=1, verbose=0)
    path = model.export(tmp_path / "model.onnx", format="onnx")
    rows = frame.tail(40).reset_index(drop=True)
    session = ctr.onnx_session(path)
    raw = raw_features(rows, model.spec)
    got = session.run(["probability"], {i.name: raw[i.name] for i in session.get_inputs()})[0]
    np.testing.assert_allclose(got, model.predict(rows), atol=1e-4)


def test_onnx_export_names_what_cannot_be_converted(spec, splits, tmp_path):
    hashed = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                              ctr.Categorical("zip_prefix", hash_buckets=100)], label=spec.label)
    model = ctr.LogisticRegression(hashed)
    model.fit(splits[0].head(500), epochs=1, verbose=0)
    with pytest.raises(ctr.ExportError, match="feature 'zip_prefix' is hashed"):
        model.export(tmp_path / "m.onnx", format="onnx")
    with pytest.raises(ctr.ExportError, match="feature 'zip_prefix' is hashed"):  # from its SavedModel too
        ctr.load(model.export(tmp_path / "hashed")).to_onnx(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    # Unseen values spread over OOV buckets by TensorFlow's string hash, which ONNX runtimes do not have.
    spread = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                              ctr.MultiCategorical("genres", separator="|", oov_buckets=3)], label=spec.label)
    model_spread = ctr.LogisticRegression(spread)
    model_spread.fit(splits[0].head(500), epochs=1, verbose=0)
    with pytest.raises(ctr.ExportError, match=r"feature 'genres' spreads unseen values .*oov_buckets > 1"):
        model_spread.export(tmp_path / "m.onnx", format="onnx")
    crossed = ctr.FeatureSpec([*spread.features[:1], ctr.Categorical("gender")], label=spec.label,
                              crosses=[ctr.Cross(["user_id", "gender"], hash_buckets=50)])
    model_crossed = ctr.LogisticRegression(crossed)
    model_crossed.fit(splits[0].head(500), epochs=1, verbose=0)
    with pytest.raises(ctr.ExportError, match=r"^cross 'user_id_x_gender' is hashed \(hash_buckets\)\. TensorFlow"):
        model_crossed.export(tmp_path / "m.onnx", format="onnx")
    # Binary ids (bytes that are no UTF-8), which ONNX's string tensors, UTF-8 text, cannot hold.
    binary = splits[0].head(500).assign(zip_prefix=lambda f: [bytes([0xFF, int(u) % 7]) for u in f["user_id"]])
    model_binary = ctr.LogisticRegression(ctr.FeatureSpec([ctr.Categorical("zip_prefix")], label=spec.label))
    model_binary.fit(binary, epochs=1, verbose=0)
    with pytest.raises(ctr.ExportError, match=r"feature 'zip_prefix' has binary ids .*map\(bytes.hex\)"):
        model_binary.export(tmp_path / "m.onnx", format="onnx")
    with pytest.raises(ctr.ArgumentError, match="format must be one of 'saved_model', 'onnx'; got 'pmml'"):
        model.export(tmp_path / "m", format="pmml")
    with pytest.raises(ctr.ArgumentError, match="ONNX export covers the click models"):
        ctr.TwoTower(spec).export(tmp_path / "t.onnx", format="onnx")
    (tmp_path / "saved").mkdir()
    with pytest.raises(ctr.ExportError, match="is a folder; an ONNX export is one file"):
        model.export(tmp_path / "saved", format="onnx")
    with pytest.raises(ctr.CtrError, match="no ONNX file here"):
        ctr.onnx_session(tmp_path / "m.onnx")


def test_onnx_sessions_refuse_a_process_where_onnxruntime_extensions_regexes_are_broken(tmp_path):
    """Loaded after TensorFlow, onnxruntime-extensions' regular expressions return their input; ctr
    loads its library first at import, and a session made where that came too late is refused."""
    from onnx import TensorProto, helper

    node = helper.make_node("StringRegexReplace", ["x", "pattern", "rewrite"], ["y"], domain="ai.onnx.contrib")
    graph = helper.make_graph([node], "clean", [helper.make_tensor_value_info("x", TensorProto.STRING, [None])],
                              [helper.make_tensor_value_info("y", TensorProto.STRING, [None])],
                              [helper.make_tensor("pattern", TensorProto.STRING, [1], [b"[[:punct:]]+"]),
                               helper.make_tensor("rewrite", TensorProto.STRING, [1], [b" "])])
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.contrib", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    path = tmp_path / "clean.onnx"
    path.write_bytes(model.SerializeToString())
    script = """
{first}
import numpy as np
try:
    session = ctr.onnx_session({path!r})
    print(session.run(None, {{"x": np.array(["star-wars"], dtype=object)}})[0][0])
except ctr.CtrError as err:
    assert "loaded after TensorFlow" in str(err), err
    print("refused")
"""
    # In this process ctr came first (conftest imports it before TensorFlow), so the regex works here;
    # a process that imports TensorFlow first gets a refusal.
    assert ctr.onnx_session(path).run(None, {"x": np.array(["star-wars"], dtype=object)})[0][0] == "star wars"
    code = script.format(first="import tensorflow, ctr", path=str(path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "refused", done.stdout
