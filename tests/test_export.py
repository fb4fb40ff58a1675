"""Exports: reloaded in a fresh Python without `ctr`, raw rows in, the same predictions out."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr.data import raw_features
from ctr.serving import Server


def _awkward_rows(test: pd.DataFrame) -> pd.DataFrame:
    """Real rows plus unseen ids, empty strings, unseen genres and words, NaN and infinite numbers."""
    rows = test.head(40).copy().reset_index(drop=True)
    rows.loc[0, ["user_id", "item_id"]] = [99_999_999, -5]
    rows.loc[1, ["gender", "occupation", "zip_prefix"]] = ["", "astronaut", ""]
    rows.loc[2, ["genres", "title"]] = ["Western|Noir", "Completely Unknown Words"]
    rows.loc[3, ["genres", "title"]] = ["", ""]
    rows.loc[4, ["price", "release_year", "age"]] = [np.nan, np.inf, np.nan]
    rows.loc[5, "price"] = -np.inf
    return rows


def test_every_model_serves_raw_rows_in_a_fresh_process_without_ctr(trained, splits, serve_fresh, tmp_path):
    rows = _awkward_rows(splits[2])
    request, expected = {}, {}
    for name, model in trained.items():
        path = model.export(tmp_path / name, verify=False)  # the fresh process checks it, on awkward rows
        raw = raw_features(rows, model.spec)
        request[name] = {"path": str(path), "inputs": {k: v.tolist() for k, v in raw.items()}}
        expected[name] = model.predict(rows)
    served = serve_fresh(request, tmp_path)
    for name in trained:
        got = np.array(served[name])
        assert np.isfinite(got).all() and ((got >= 0) & (got <= 1)).all()
        np.testing.assert_allclose(got, expected[name], atol=1e-5, rtol=0, err_msg=name)


def test_export_layout_signature_and_spec_asset(trained, tmp_path):
    model = trained["fm"]
    path = model.export(tmp_path / "fm")
    assert ctr.FeatureSpec.from_yaml(path / "assets" / "spec.yaml") == model.spec
    meta = json.loads((path / "assets.extra" / "ctr.json").read_text())
    assert meta["model"] == "FM" and meta["inputs"]["user_id"] == "int64" and meta["inputs"]["price"] == "float32"
    cli = Path(sys.executable).with_name("saved_model_cli")
    shown = subprocess.run([str(cli), "show", "--all", "--dir", str(path)], capture_output=True, text=True,
                           check=True, timeout=300).stdout
    for feature in model.spec.features:
        assert f"inputs['{feature.name}']" in shown
    assert "outputs['probability']" in shown and "DT_STRING" in shown and "DT_INT64" in shown


def test_loaded_model_names_a_missing_feature_and_serves_empty_batches(trained, splits, tmp_path):
    served = ctr.load(trained["lr"].export(tmp_path / "lr"))
    with pytest.raises(ctr.DataError, match=r"column 'price' is missing from the data; .*; the model needs 'user_id'"):
        served.predict(splits[2].head(3).drop(columns="price"))
    assert served.predict(splits[2].head(0)).shape == (0,)
    np.testing.assert_allclose(served.predict(splits[2].head(10), batch_size=3), served.predict(splits[2].head(10)),
                               rtol=1e-6)  # batches of other sizes round differently in the last bit
    np.testing.assert_allclose(served.predict(splits[2].head(5)), trained["lr"].predict(splits[2].head(5)),
                               atol=1e-6)


def test_failed_export_leaves_the_earlier_one_intact(trained, splits, tmp_path, monkeypatch):
    model = trained["lr"]
    path = model.export(tmp_path / "model")
    before = sorted(p.relative_to(path) for p in path.rglob("*"))
    expected = ctr.load(path).predict(splits[2].head(5))

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ctr.export.tf.saved_model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        model.export(path)
    assert sorted(p.relative_to(path) for p in path.rglob("*")) == before
    np.testing.assert_array_equal(ctr.load(path).predict(splits[2].head(5)), expected)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary folders left behind


def test_export_refuses_to_overwrite_something_that_is_not_a_saved_model(trained, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "important.txt").write_text("keep me")
    with pytest.raises(ctr.ExportError, match="is not a SavedModel"):
        trained["lr"].export(tmp_path / "notes")
    assert (tmp_path / "notes" / "important.txt").read_text() == "keep me"
    (tmp_path / "model.txt").write_text("a file")
    with pytest.raises(ctr.ExportError, match="is a file; an export is a folder"):
        trained["lr"].export(tmp_path / "model.txt")
    assert (tmp_path / "model.txt").read_text() == "a file"
    with pytest.raises(ctr.ExportError, match=r"model\.txt is a file, so no folder can be made in it"):
        trained["lr"].export(tmp_path / "model.txt" / "deepfm")  # not a bare FileExistsError
    for name, said in [("m.keras", "names a Keras file; a ctr export is a SavedModel folder"),
                       ("m.h5", "names a Keras file"), ("m.onnx", "pass format='onnx' for one ONNX file")]:
        with pytest.raises(ctr.ExportError, match=re.escape(said)):  # not a folder named so
            trained["lr"].export(tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.txt", "notes"]
    with pytest.raises(ctr.NotFittedError):
        ctr.FM(trained["lr"].spec).export(tmp_path / "x")


def test_binary_ids_stay_distinct_and_are_served_as_their_bytes_in_a_fresh_process(tmp_path, serve_fresh):
    """Ids that are bytes but no UTF-8 (a hash digest, packed integers, as Parquet and TFRecords hold them)
    are ids: b'\\xff\\x01' and b'\\xfe\\x01' are two, where decoding them with a stand-in character made them
    one, and the export looks up the bytes it is fed, where it read every such id as unseen."""
    spec = ctr.FeatureSpec([ctr.Categorical("user"), ctr.MultiCategorical("tags")], label=ctr.Label("clicked"))
    users = [bytes([0xFF - i, 1]) for i in range(8)]  # all eight are one id once decoded with U+FFFD
    rng = np.random.default_rng(0)
    picked = rng.integers(0, 8, 800)
    rows = pd.DataFrame({"user": [users[i] for i in picked], "clicked": picked % 2,
                         "tags": [[b"\xc3\x28", b"ok"] if i % 2 else [b"\xa0"] for i in picked]})
    path = tmp_path / "binary.parquet"
    rows.to_parquet(path)
    model = ctr.FM(spec, embedding_dim=4, learning_rate=0.05, seed=0)
    model.fit(path, epochs=3, verbose=0)
    tables = model.preprocessor_.state["tables"]
    assert (len(tables["user"]["vocabulary"]), len(tables["tags"]["vocabulary"])) == (8, 3)
    assert model.evaluate(rows)["auc"] == 1.0  # the even and odd ids are told apart
    test = rows.head(6)
    expected = model.predict(test)
    exported = model.export(tmp_path / "fm")
    np.testing.assert_allclose(ctr.load(exported).predict(test), expected, atol=1e-6)

    def b64(value: bytes) -> dict:
        return {"b64": base64.b64encode(value).decode()}

    served = serve_fresh({"fm": {"path": str(exported), "inputs": {
        "user": [b64(u) for u in test["user"]], "tags": [b64(b"|".join(t)) for t in test["tags"]]}}}, tmp_path)
    np.testing.assert_allclose(np.ravel(served["fm"]), expected, atol=1e-5)
    with Server(exported, port=0, log_requests=False) as server:  # TensorFlow Serving's REST form of bytes
        instances = [{"user": b64(u), "tags": [b64(t) for t in tags]}
                     for u, tags in zip(test["user"], test["tags"], strict=True)]
        status, answer = server.respond("POST", "/v1/models/fm:predict", json.dumps({"instances": instances}).encode())
    assert status == 200
    np.testing.assert_allclose([p["probability"] for p in answer["predictions"]], expected, atol=1e-5)


def test_each_rows_time_zone_is_served_in_a_fresh_process_with_the_offsets_it_was_trained_with(tmp_path,
                                                                                               serve_fresh):
    """A timestamp read in each row's zone: the export holds the offsets of the zones the data held (kept
    in its preprocessing state, so a reloaded model uses the same); a missing or unseen zone reads UTC."""
    spec = ctr.FeatureSpec([ctr.Categorical("tz", role="user"),  # a user's zone; the time is the event's (context)
                            ctr.Timestamp("ts", parts=["hour"], timezone_feature="tz")], label=ctr.Label("clicked"))
    rng = np.random.default_rng(0)
    ts = rng.integers(1_600_000_000, 1_700_000_000, 2000)
    tz = np.array(["Asia/Kolkata", "America/Los_Angeles"])[rng.integers(0, 2, 2000)]
    local = [pd.Timestamp(t, unit="s", tz="UTC").tz_convert(z).hour for t, z in zip(ts, tz, strict=True)]
    rows = pd.DataFrame({"ts": ts, "tz": tz, "clicked": (np.array(local) >= 12).astype(int)})
    model = ctr.FM(spec, embedding_dim=4, learning_rate=0.05, seed=0)
    model.fit(rows, epochs=5, verbose=0)
    assert model.evaluate(rows)["auc"] > 0.9  # the local hour, which neither UTC's nor one zone's gives
    path = model.export(tmp_path / "local")
    test = rows.head(8).assign(tz=["Asia/Kolkata", "America/Los_Angeles", "", "Europe/Oslo"] * 2)
    served = serve_fresh({"fm": {"path": str(path), "inputs": {"ts": test["ts"].tolist(), "tz": test["tz"].tolist()}}},
                         tmp_path)
    expected = model.predict(test)
    np.testing.assert_allclose(np.ravel(served["fm"]), expected, atol=1e-5)
    reloaded = ctr.load_model(path)
    assert reloaded.preprocessor_.state["zones"] == model.preprocessor_.state["zones"]
    np.testing.assert_allclose(reloaded.predict(test), expected, atol=1e-6)


def test_a_time_written_as_digits_is_served_from_its_digits_in_a_fresh_process(tmp_path, serve_fresh):
    """Avazu's hour (14102100: '%y%m%d%H'): the SavedModel takes the digits as the data holds them and
    reads their hour itself, so a client sends what it has; digits that are no time are served as missing."""
    spec = ctr.FeatureSpec([ctr.Categorical("site", dtype="int"),
                            ctr.Timestamp("hour", parts=["hour", "day_of_week"], format="%y%m%d%H")],
                           label=ctr.Label("click"))
    rng = np.random.default_rng(0)
    when = pd.to_datetime(1_413_849_600 + 3600 * rng.integers(0, 24 * 10, 2000), unit="s")
    rows = pd.DataFrame({"site": rng.integers(0, 5, 2000), "hour": [int(w.strftime("%y%m%d%H")) for w in when],
                         "click": ((when.hour >= 12) ^ (rng.random(2000) < 0.1)).astype(int)})
    model = ctr.FM(spec, embedding_dim=4, learning_rate=0.05, seed=0)
    model.fit(rows, epochs=5, verbose=0)
    assert model.evaluate(rows)["auc"] > 0.8  # the hour is read from the digits
    path = model.export(tmp_path / "digits")
    test = rows.head(8)
    served = serve_fresh({"fm": {"path": str(path), "inputs": {"site": test["site"].tolist(),
                                                                "hour": test["hour"].tolist()}},
                          "no_time": {"path": str(path), "inputs": {"site": [1, 1], "hour": [14132100, 14102124]}}},
                         tmp_path)
    np.testing.assert_allclose(np.ravel(served["fm"]), model.predict(test), atol=1e-5)
    missing = model.predict(pd.DataFrame({"site": [1, 1], "hour": [None, None]}))
    np.testing.assert_allclose(np.ravel(served["no_time"]), missing, atol=1e-5)
    assert ctr.load_model(path).spec["hour"].format == "%y%m%d%H"


def test_a_timestamp_counted_in_milliseconds_is_served_so_in_a_fresh_process(tmp_path, serve_fresh):
    """A log's epoch milliseconds go in as they are: the graph counts them by the spec's unit (and finds
    their local time in its time zone, summer time's offsets among its constants)."""
    spec = ctr.FeatureSpec([ctr.Categorical("user", dtype="int"), ctr.Timestamp("ts", parts=["hour", "day_of_week"],
                                                                                   unit="ms", timezone="Europe/Paris")],
                           label=ctr.Label("clicked"))
    rng = np.random.default_rng(0)
    ms = rng.integers(1_600_000_000_000, 1_700_000_000_000, 2000)
    hour = (ms // 3_600_000) % 24
    rows = pd.DataFrame({"user": rng.integers(0, 10, 2000), "ts": ms,
                         "clicked": ((hour >= 12) ^ (rng.random(2000) < 0.1)).astype(int)})
    model = ctr.FM(spec, embedding_dim=4, learning_rate=0.05, seed=0)
    model.fit(rows, epochs=5, verbose=0)
    assert model.evaluate(rows)["auc"] > 0.8  # the hour is read from milliseconds, not from year 52,000's seconds
    path = model.export(tmp_path / "ms")
    test = rows.head(8)
    served = serve_fresh({"fm": {"path": str(path), "inputs": {"user": test["user"].tolist(),
                                                                "ts": test["ts"].tolist()}}}, tmp_path)
    expected = model.predict(test.assign(ts=pd.to_datetime(test["ts"], unit="ms")))
    np.testing.assert_allclose(np.ravel(served["fm"]), expected, atol=1e-5)
