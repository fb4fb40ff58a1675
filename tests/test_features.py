"""Preprocessing: the fitted state, the encoded layout and the missing/unseen rules, in the graph."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr._keras import tf
from ctr.data import raw_features
from ctr.features import Preprocessor, raw_signature, traced_encoder


def _fit(spec, frame):
    pre = Preprocessor(spec).fit([raw_features(frame, spec)])
    encoder = pre.encoder()

    def encode(rows: pd.DataFrame):
        raw = raw_features(rows, spec)
        sig = raw_signature(spec)
        return {k: v.numpy() for k, v in encoder({k: tf.constant(raw[k], sig[k].dtype) for k in raw}).items()}

    return pre, encode


def test_categorical_vocabulary_min_count_oov_and_missing():
    spec = ctr.FeatureSpec([ctr.Categorical("c", min_count=2, oov_buckets=2)])
    pre, encode = _fit(spec, pd.DataFrame({"c": ["a", "a", "a", "b", "b", "rare", "", None]}))
    assert pre.state["tables"]["c"]["vocabulary"] == ["a", "b"]  # by count, "rare" below min_count
    assert pre.table_sizes()["c"] == 1 + 2 + 2
    ids = encode(pd.DataFrame({"c": ["a", "b", "", None, "rare", "never"]}))["c"]
    assert ids[:4].tolist() == [3, 4, 0, 0]  # missing and empty → 0
    assert all(1 <= i <= 2 for i in ids[4:])  # unseen → an OOV bucket, not an error


def test_integer_ids_and_hashing():
    spec = ctr.FeatureSpec([ctr.Categorical("i", dtype="int"), ctr.Categorical("h", hash_buckets=5)])
    pre, encode = _fit(spec, pd.DataFrame({"i": [7, 7, 9], "h": ["x", "y", "z"]}))
    assert pre.state["tables"]["i"]["vocabulary"] == ["7", "9"]
    out = encode(pd.DataFrame({"i": pd.Series([9, None, 12345], dtype="Int64"), "h": ["x", "", "unseen"]}))
    assert out["i"].tolist() == [3, 0, 1]
    assert out["h"][1] == 0 and 1 <= out["h"][0] <= 5 and 1 <= out["h"][2] <= 5


def test_bags_and_text_hash_their_ids_without_a_vocabulary(tmp_path, serve_fresh):
    """`hash_buckets` on a multi-categorical (weighted or not) and on text: no vocabulary is fitted, each
    id or word lands in one of the buckets wherever it stands (unseen ones too), "" and padding stay 0,
    and the export serves them in a process without ctr."""
    spec = ctr.FeatureSpec([ctr.MultiCategorical("g", hash_buckets=7, weighted=True, max_length=3),
                            ctr.Text("t", hash_buckets=11, max_length=3)], label=ctr.Label("y"))
    assert "ids hashed into 7 buckets" in spec.describe() and "hashed into 11 buckets" in spec.describe()
    rows = pd.DataFrame({"g": ["a:2|b", "b|c:0.5", "", "c"] * 20, "t": ["Red fox", "red hen", "", "fox"] * 20,
                         "y": [1, 0, 0, 1] * 20})
    pre, encode = _fit(spec, rows)
    assert pre.state["tables"] == {"g": {"hash_buckets": 7}, "t": {"hash_buckets": 11}}
    assert pre.table_sizes() == {"g": 8, "t": 12}
    out = encode(pd.DataFrame({"g": ["a:2|b", "b|a", "", "never:3"], "t": ["Red fox", "fox red", "", "zebra"]}))
    assert out["g"][0, :2].tolist() == out["g"][1, :2][::-1].tolist() and out["g"][2].tolist() == [0, 0, 0]
    assert out["t"][0, :2].tolist() == out["t"][1, :2][::-1].tolist() and out["t"][2].tolist() == [0, 0, 0]
    assert 1 <= out["g"][3, 0] <= 7 and 1 <= out["t"][3, 0] <= 11  # unseen: a bucket, as any id
    assert out["g.weights"][[0, 1, 3], 0].tolist() == [2.0, 1.0, 3.0]
    model = ctr.FM(spec, embedding_dim=3, seed=0)
    model.fit(rows, epochs=1, verbose=0)
    requests = pd.DataFrame({"g": ["a:2|b", "never|c:0.5", ""], "t": ["red fox", "zebra hen", ""]})
    expected = model.predict(requests)
    served = serve_fresh({"fm": {"path": str(model.export(tmp_path / "fm", verify=False)),
                                 "inputs": {name: requests[name].tolist() for name in ("g", "t")}}}, tmp_path)
    np.testing.assert_allclose(np.ravel(served["fm"]), expected, atol=1e-5)
    for bad, why in (({"hash_buckets": 8, "max_tokens": 5}, "set either hash_buckets or max_tokens, not both"),
                     ({"hash_buckets": 0}, "hash_buckets: must be at least 1, got 0")):
        with pytest.raises(ctr.SpecError, match=why):
            ctr.FeatureSpec([ctr.MultiCategorical("g", **bad)])
    with pytest.raises(ctr.SpecError, match="shared_embedding 'g': hashed features cannot share a table"):
        ctr.FeatureSpec([ctr.MultiCategorical("g", hash_buckets=8), ctr.Categorical("c", shared_embedding="g")])


def test_max_tokens_keeps_the_most_frequent():
    spec = ctr.FeatureSpec([ctr.Categorical("c", max_tokens=2)])
    pre, _ = _fit(spec, pd.DataFrame({"c": list("aaabbc")}))
    assert pre.state["tables"]["c"]["vocabulary"] == ["a", "b"]


def test_multi_categorical_pads_truncates_and_accepts_lists():
    spec = ctr.FeatureSpec([ctr.MultiCategorical("g", max_length=2)])
    pre, encode = _fit(spec, pd.DataFrame({"g": ["A|B", "B", "B|C"]}))
    vocab = pre.state["tables"]["g"]["vocabulary"]
    assert vocab == ["B", "A", "C"]
    ids = encode(pd.DataFrame({"g": ["A| B|C", "", ["C", "Zed"]]}))["g"]
    assert ids.shape == (3, 2)
    assert ids[0].tolist() == [3, 2]  # "A", " B" stripped, "C" cut by max_length
    assert ids[1].tolist() == [0, 0]
    assert ids[2].tolist() == [4, 1]  # list column; unseen "Zed" → OOV


def test_text_lowercases_strips_punctuation_and_pools_words():
    spec = ctr.FeatureSpec([ctr.Text("t", max_length=3)])
    pre, encode = _fit(spec, pd.DataFrame({"t": ["The Café, the END!", "end the", "end"]}))
    # Only the words the model sees count: the first max_length of each row ("END!" is cut above).
    assert pre.state["tables"]["t"]["vocabulary"] == ["the", "end", "café"]
    ids = encode(pd.DataFrame({"t": ["END... of CAFÉ", ""]}))["t"]
    assert ids[0].tolist() == [3, 1, 4] and ids[1].tolist() == [0, 0, 0]


def test_text_reads_each_chinese_or_japanese_character_as_a_word_and_drops_unicode_punctuation():
    # Titles in scripts written without spaces share their characters, where each was one unseen word.
    spec = ctr.FeatureSpec([ctr.Text("t", max_length=8)])
    titles = ["東京物語。", "千と千尋の神隠し", "Amélie—Poulain «Un»", "기생충 (2019)"]
    pre, encode = _fit(spec, pd.DataFrame({"t": titles}))
    vocab = pre.state["tables"]["t"]["vocabulary"]
    assert {"東", "京", "物", "語", "千", "と", "尋", "amélie", "poulain", "un", "기생충", "2019"} <= set(vocab)
    assert not {"。", "—", "«", "»", "東京物語。"} & set(vocab)
    ids = encode(pd.DataFrame({"t": ["東京の物語!", "ภาษาไทย"]}))["t"]
    word = {w: i + 2 for i, w in enumerate(vocab)}  # after padding (0) and the OOV bucket (1)
    assert ids[0].tolist() == [word["東"], word["京"], word["の"], word["物"], word["語"], 0, 0, 0]
    assert ids[1].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]  # Thai, unspaced too, stays whole: its letters are no words


def test_numeric_standardise_log_and_missing_flag():
    spec = ctr.FeatureSpec([ctr.Numeric("x"), ctr.Numeric("y", transform="log")])
    pre, encode = _fit(spec, pd.DataFrame({"x": [1.0, 3.0, np.nan], "y": [0.0, np.e - 1, 1.0]}))
    assert pre.state["numeric"]["x"] == {"mean": 2.0, "variance": 1.0}
    out = encode(pd.DataFrame({"x": [3.0, np.nan, np.inf], "y": [np.e - 1, -np.inf, 0.0]}))
    np.testing.assert_allclose(out["x"], [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], atol=1e-6)
    assert out["y"][1].tolist() == [0.0, 1.0]
    assert np.isfinite(out["y"]).all()


def test_numbers_whose_variance_overflows_float32_are_still_standardised():
    # Values about 1e25 (bytes, wei): their variance, 1e50, is no float32; the served values stay float32.
    x = np.random.default_rng(0).normal(0.0, 1e25, 1000)
    _, encode = _fit(ctr.FeatureSpec([ctr.Numeric("x")]), pd.DataFrame({"x": x}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "overflow encountered in cast", which came with the zeros
        scaled = encode(pd.DataFrame({"x": x}))["x"][:, 0]
    np.testing.assert_allclose(scaled, (x - x.mean()) / x.std(), rtol=1e-4, atol=1e-5)


def test_numeric_quantile_buckets():
    spec = ctr.FeatureSpec([ctr.Numeric("x", transform="quantile", buckets=4)])
    pre, encode = _fit(spec, pd.DataFrame({"x": np.arange(100, dtype=float)}))
    assert len(pre.state["numeric"]["x"]["boundaries"]) == 3
    out = encode(pd.DataFrame({"x": [-5.0, 30.0, 60.0, 1e9, np.nan]}))["x"]
    assert out.tolist() == [1, 2, 3, 4, 0]


def test_timestamp_parts_match_pandas_calendar():
    parts = ("hour", "day_of_week", "day_of_month", "month", "hour_of_week")
    spec = ctr.FeatureSpec([ctr.Timestamp("ts", parts=parts)])
    rng = np.random.default_rng(0)
    seconds = np.concatenate([rng.integers(-2_000_000_000, 4_000_000_000, 500), [0, 951_782_400]])  # 2000-02-29
    _, encode = _fit(spec, pd.DataFrame({"ts": seconds}))
    got = encode(pd.DataFrame({"ts": seconds}))["ts"]
    when = pd.to_datetime(seconds, unit="s")
    expected = np.stack([when.hour, when.day_of_week, when.day - 1, when.month - 1,
                         when.day_of_week * 24 + when.hour], axis=1) + 1
    np.testing.assert_array_equal(got, expected)
    missing = encode(pd.DataFrame({"ts": pd.Series([None], dtype="Int64")}))["ts"]
    assert missing.tolist() == [[0, 0, 0, 0, 0]]


@pytest.mark.parametrize("fmt", ctr.spec.DIGIT_TIME_FORMATS)
def test_times_written_as_digits_give_the_calendar_parts_pandas_reads_in_them(fmt):
    """Avazu's hour (14102100, '%y%m%d%H') and a warehouse's date (20240131): the graph reads the digits
    (leap days, %y's 1969 to 2068 and years 2000 to 2009 written with a digit fewer included), and
    serves digits that are no time as missing, where the data readers refuse them, naming the row."""
    parts = ctr.spec.digit_time_parts(fmt)
    spec = ctr.FeatureSpec([ctr.Timestamp("hour", parts=parts, format=fmt)])
    rng = np.random.default_rng(4)
    when = pd.to_datetime(np.concatenate([rng.integers(-31_000_000, 3_000_000_000, 800), [951_782_400]]), unit="s")
    digits = np.array([int(w.strftime(fmt)) for w in when], dtype=np.int64)
    _, encode = _fit(spec, pd.DataFrame({"hour": digits}))
    columns = {"hour": when.hour, "day_of_week": when.day_of_week, "day_of_month": when.day - 1,
               "month": when.month - 1, "hour_of_week": when.day_of_week * 24 + when.hour}
    expected = np.stack([columns[p] for p in parts], axis=1) + 1
    np.testing.assert_array_equal(encode(pd.DataFrame({"hour": digits}))["hour"], expected)
    # Digit text, datetimes and missing values read as the numbers do.
    text = pd.DataFrame({"hour": [str(d) for d in digits[:3]] + [None]})
    np.testing.assert_array_equal(encode(text)["hour"], np.vstack([expected[:3], np.zeros((1, len(parts)))]))
    np.testing.assert_array_equal(encode(pd.DataFrame({"hour": when[:3]}))["hour"], expected[:3])
    gaps = pd.DataFrame({"hour": np.append(digits[:3].astype(float), np.nan)})  # a CSV's column with a gap
    np.testing.assert_array_equal(encode(gaps)["hour"], np.vstack([expected[:3], np.zeros((1, len(parts)))]))
    # In the graph (a request straight to the SavedModel), no time is served as missing.
    pre = Preprocessor(spec).fit([raw_features(pd.DataFrame({"hour": digits}), spec)])
    year = "2015" if fmt.startswith("%Y") else "15"
    rest = len(fmt) // 2 - 2  # the fields after the month
    wrong = [int(year + "13" + "01" * rest), -1, int(str(digits[0]) + "0")]  # a 13th month, a sign, a digit more
    if "%d" in fmt:
        wrong.append(int(year + "0229" + "00" * (rest - 1)))  # 2015 had no leap day
    if "%H" in fmt:
        wrong.append(int(year + "0101" + "24" + "00" * (rest - 2)))
    served = pre.encoder()({"hour": tf.constant(wrong, tf.int64)})["hour"].numpy()
    assert served.tolist() == [[0] * len(parts)] * len(wrong), wrong
    # The data readers refuse exactly what the graph serves as missing: their checks are the graph's in NumPy.
    width = len(str(digits.max()))
    anything = np.concatenate([rng.integers(0, 10**width, 3000), digits[:500] + rng.integers(-3, 4, 500),
                               [0, 10**width, int("1" * width)]])
    served = pre.encoder()({"hour": tf.constant(anything, tf.int64)})["hour"].numpy()
    np.testing.assert_array_equal(served.any(axis=1), ctr.features.digit_seconds(anything, fmt)[1])
    with pytest.raises(ctr.DataError, match=rf"feature 'hour' \(timestamp, column 'hour'\): row 1 holds {wrong[0]}, "
                                            rf"which is no time written as {fmt} \(e\.g\. (20)?1410"):
        encode(pd.DataFrame({"hour": [digits[0], wrong[0]]}))
    with pytest.raises(ctr.DataError, match=r"row 0 holds 'yesterday'; expected a time written as digits in "):
        encode(pd.DataFrame({"hour": ["yesterday"]}))


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"])
def test_a_time_zones_calendar_parts_are_its_local_times_summer_time_included(zone):
    # Lord Howe moves by half an hour in summer; Kathmandu is 5:45 ahead and changed once, in 1986.
    parts = ("hour", "day_of_week", "day_of_month", "month")
    rng = np.random.default_rng(2)
    seconds = np.concatenate([rng.integers(0, 4_102_444_800, 2000),  # 1970 to 2100
                              [1_711_846_799, 1_711_846_800, 1_729_990_799, 1_729_990_800]])  # Berlin's 2024 changes
    _, encode = _fit(ctr.FeatureSpec([ctr.Timestamp("ts", parts=parts, timezone=zone)]), pd.DataFrame({"ts": seconds}))
    when = pd.to_datetime(seconds, unit="s", utc=True).tz_convert(zone)
    expected = np.stack([when.hour, when.day_of_week, when.day - 1, when.month - 1], axis=1) + 1
    np.testing.assert_array_equal(encode(pd.DataFrame({"ts": seconds}))["ts"], expected)
    assert encode(pd.DataFrame({"ts": when}))["ts"].tolist() == expected.tolist()  # the datetimes themselves


def test_each_rows_calendar_parts_are_its_own_zones_local_times():
    """A timestamp read in each row's zone (`timezone_feature`) gives the parts pandas' tz_convert gives in
    that zone; a missing zone, or one the data did not hold, reads UTC. A value that is no IANA zone is
    named when the preprocessing is fitted, with the spelling it may mean."""
    zones = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
    spec = ctr.FeatureSpec([ctr.Categorical("tz"), ctr.Timestamp("ts", parts=("hour", "day_of_week", "month"),
                                                                 timezone_feature="tz")])
    rng = np.random.default_rng(3)
    seconds = rng.integers(0, 4_102_444_800, 3000)
    rows = pd.DataFrame({"ts": seconds, "tz": [zones[i % 4] for i in range(3000)]})
    pre, encode = _fit(spec, rows)
    assert pre.state["zones"]["ts"]["names"] == sorted(zones)  # ties in count: by name
    served = rows.assign(tz=[*zones, None, "Asia/Tokyo"] * 500)
    got = encode(served)["ts"]
    for zone in [*zones, None, "Asia/Tokyo"]:
        mask = (served["tz"] == zone).to_numpy() if zone else served["tz"].isna().to_numpy()
        when = pd.to_datetime(seconds[mask], unit="s", utc=True)
        when = when.tz_convert(zone) if zone in zones else when  # missing, or unseen in training: UTC
        np.testing.assert_array_equal(got[mask], np.stack([when.hour, when.day_of_week, when.month - 1], 1) + 1,
                                      err_msg=str(zone))
    with pytest.raises(ctr.DataError, match=r"feature 'ts' reads each row's time zone from 'tz' \(column 'tz'\), "
                                            r"whose values must be IANA time zones .* it holds 2 that are not: "
                                            r"'Mars'; 'europe/berlin' \(did you mean 'Europe/Berlin'\?\)\. Correct "
                                            r"them, or make them missing \(read as UTC\)"):
        _fit(spec, rows.assign(tz=["europe/berlin", "Mars", *zones[1:]] * 600))
    with pytest.raises(ctr.DataError, match=r"it holds 1 that are not: 'Asia/Tokio' \(did you mean 'Asia/Tokyo'\?\)"):
        _fit(spec, rows.assign(tz=["Asia/Tokio", *zones[1:]] * 750))


@pytest.mark.parametrize("unit", ["ms", "us", "ns"])
def test_epoch_times_in_a_finer_unit_give_the_calendar_parts_of_their_seconds(unit):
    per = {"ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    parts = ("hour", "day_of_week", "month")
    rng = np.random.default_rng(1)
    seconds = rng.integers(-1_000_000_000, 4_000_000_000, 300)
    _, by_seconds = _fit(ctr.FeatureSpec([ctr.Timestamp("ts", parts=parts)]), pd.DataFrame({"ts": seconds}))
    counts = seconds * per + rng.integers(0, per, 300)  # within the second: floored, also before 1970
    spec = ctr.FeatureSpec([ctr.Timestamp("ts", parts=parts, unit=unit)])
    _, by_unit = _fit(spec, pd.DataFrame({"ts": counts}))
    expected = by_seconds(pd.DataFrame({"ts": seconds}))["ts"]
    np.testing.assert_array_equal(by_unit(pd.DataFrame({"ts": counts}))["ts"], expected)
    # Datetimes (and ISO text) are counted in the spec's unit on the way in.
    when = pd.Series(pd.to_datetime(seconds, unit="s"))
    np.testing.assert_array_equal(by_unit(pd.DataFrame({"ts": when}))["ts"], expected)
    assert raw_features(pd.DataFrame({"ts": when.head(2)}), spec)["ts"].tolist() == (seconds[:2] * per).tolist()


def test_epoch_numbers_in_another_unit_than_the_specs_are_refused_naming_the_unit_they_fit():
    seconds = np.arange(1_600_000_000, 1_600_000_000 + 100 * 3600, 3600)
    for unit, given, found, fits in (("s", seconds * 1000, r"year 52,6\d\d", "milliseconds: set unit: ms"),
                                     ("s", seconds * 10**9, r"year [\d,]+", "nanoseconds: set unit: ns"),
                                     ("ms", seconds, "the first months of 1970", "seconds: set unit: s")):
        spec = ctr.FeatureSpec([ctr.Timestamp("ts", column="when", unit=unit)])
        with pytest.raises(ctr.DataError, match=rf"feature 'ts' \(timestamp, column 'when'\): the values \(typically "
                                                rf"\d+\) read as \w+ since the epoch fall in {found}; they look like "
                                                rf"{fits} in the spec before training, or send \w+ \(or "
                                                rf"datetimes\) to a model trained on them"):
            _fit(spec, pd.DataFrame({"when": given}))
    # Small seconds are relative times (a week of hours), which the calendar parts read as 1970's.
    _fit(ctr.FeatureSpec([ctr.Timestamp("ts")]), pd.DataFrame({"ts": np.arange(0, 7 * 86400, 3600)}))
    # A request too: milliseconds sent to a model of seconds were served as times 50,000 years ahead.
    spec = ctr.FeatureSpec([ctr.Timestamp("ts")])
    _, encode = _fit(spec, pd.DataFrame({"ts": seconds}))
    with pytest.raises(ctr.DataError, match=r"fall in year 52,6\d\d; they look like milliseconds: .* or send seconds"):
        encode(pd.DataFrame({"ts": seconds[:1] * 1000}))
    assert encode(pd.DataFrame({"ts": [seconds[0], ctr.MISSING_INT]}))["ts"].shape == (2, 2)  # missing is no time


def test_shared_embedding_fits_one_vocabulary_over_all_members():
    spec = ctr.FeatureSpec([ctr.Categorical("item"), ctr.MultiCategorical("history", shared_embedding="item")])
    pre, encode = _fit(spec, pd.DataFrame({"item": ["a", "b"], "history": ["c|a", "a"]}))
    assert pre.state["tables"] == {"item": {"vocabulary": ["a", "b", "c"], "oov_buckets": 1, "unseen": 0.0}}
    out = encode(pd.DataFrame({"item": ["c"], "history": ["c|b"]}))
    assert out["item"][0] == out["history"][0][0]


def test_preprocessor_state_is_plain_json(spec, frame):
    pre = Preprocessor(spec).fit([raw_features(frame, spec)])
    again = Preprocessor.from_json(pre.to_json())
    assert again.state == pre.state and again.spec == spec
    assert [f.name for f in pre.fields()][-2:] == ["timestamp_hour", "timestamp_day_of_week"]


def test_fitting_reports_empty_data_and_empty_vocabularies():
    spec = ctr.FeatureSpec([ctr.Categorical("c", min_count=5)])
    with pytest.raises(ctr.DataError, match="no rows"):
        Preprocessor(spec).fit([])
    with pytest.raises(ctr.DataError, match="feature 'c': no value occurs at least min_count=5 times"):
        Preprocessor(spec).fit([{"c": np.array(["a", "b"], dtype=object)}])
    numeric = ctr.FeatureSpec([ctr.Numeric("x")])
    with pytest.raises(ctr.DataError, match=r"feature 'x' .*no finite value"):
        Preprocessor(numeric).fit([{"x": np.array([np.nan], dtype=np.float32)}])


def test_the_traced_encoder_encodes_as_the_layer_does_eagerly(spec, frame):
    """Training, prediction and the exports use the traced graph (without autograph); the layer
    called eagerly is the reference."""
    pre = Preprocessor(spec).fit([raw_features(frame, spec)])
    sig = raw_signature(spec)
    raw = raw_features(frame.head(500), spec)
    inputs = {k: tf.constant(raw[k], sig[k].dtype) for k in raw}
    eager = pre.encoder()(inputs)
    traced = traced_encoder(pre.encoder(), sig)(inputs)
    assert set(traced) == set(eager)
    logged = {f.name for f in spec.features if getattr(f, "transform", None) == "log"}
    for name, value in traced.items():
        if name in logged:  # the graph optimiser makes log(1 + |x|) a log1p (ONNX has no Log1p op)
            np.testing.assert_allclose(value.numpy(), eager[name].numpy(), rtol=1e-6, atol=1e-6, err_msg=name)
        else:  # bit for bit
            np.testing.assert_array_equal(value.numpy(), eager[name].numpy(), err_msg=name)


@pytest.mark.parametrize("oov", [1, 3])
def test_lookup_gives_keras_string_lookup_indices(oov):
    # The encoder's one-op table stands in for Keras' StringLookup(mask_token=""): every index the
    # same, on plain and ragged tokens, seen, unseen (hashed among the OOV indices) and empty.
    from ctr._keras import keras
    from ctr.features import MISSING_INT, Lookup

    vocabulary = ["a", "b", "7", "naïve", " spaced "]
    tokens = ["a", "b", "", "7", "naïve", " spaced ", "spaced", "A", "zz", "never", "-1", "x" * 300]
    ours, keras_lookup = Lookup(vocabulary, oov), keras.layers.StringLookup(
        vocabulary=vocabulary, mask_token="", num_oov_indices=oov)
    assert ours(tf.constant(tokens)).numpy().tolist() == keras_lookup(tf.constant(tokens)).numpy().tolist()
    ragged = tf.ragged.constant([tokens[:4], [], tokens[4:]])
    assert ours(ragged).to_list() == keras_lookup(ragged).to_list()
    # An integer id's missing value (MISSING_INT, as text) is missing only in an integer-id table.
    assert Lookup(vocabulary, oov, integer_ids=True)(tf.constant([str(MISSING_INT)])).numpy().tolist() == [0]
    assert ours(tf.constant([str(MISSING_INT)])).numpy()[0] >= 1


def test_standardize_is_keras_normalization_and_the_same_traced():
    # Within a float32 rounding of Keras' layer, and bit for bit the same eagerly and traced: the
    # training cache is encoded one way, the served graph the other.
    from ctr._keras import keras
    from ctr.features import Standardize

    x = tf.constant(np.random.default_rng(0).normal(50, 30, 10_000).astype(np.float32))
    for mean, variance in [(49.7, 901.3), (0.0, 1.0), (1e6, 1e-20), (-3.25, 1e12)]:
        layer = Standardize(mean, variance)
        expected = keras.layers.Normalization(axis=None, mean=mean, variance=variance)(x).numpy()
        np.testing.assert_allclose(layer(x).numpy(), expected, rtol=2e-7, atol=0)
        assert np.array_equal(tf.function(layer)(x).numpy(), layer(x).numpy())
