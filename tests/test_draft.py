"""`draft_spec` and `ctr draft-spec`: a spec guessed from data, each guess with its reason."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr.cli import main

from .conftest import ML100K, ROOT, needs


def _log(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """A click log with one column of each kind a spec has, and some that make no feature."""
    rng = np.random.default_rng(seed)
    users, items = rng.integers(0, 200, n), rng.integers(0, 100, n)
    genres = np.array(["Action|Comedy", "Drama", "Comedy|Drama|Family", "Horror"])[items % 4]
    titles = np.array([f"the {w} of item {i}" for i, w in enumerate(rng.choice(["night", "day", "sea"], 100))])
    return pd.DataFrame({
        "user id": users,
        "sku": np.char.add("sku-", items.astype(str)),
        "age": (20 + users % 50).astype(np.int64),
        "zip": np.char.zfill((users * 37 % 1000).astype(str), 5),  # '00037': a code, not the number 37
        "genres": genres,
        "title": titles[items],
        "price": np.round(np.exp(rng.normal(1, 1.5, 100)), 2)[items],  # log-normal: skewed
        "daytime": rng.integers(0, 7, n),  # label-encoded
        "is_weekend": rng.integers(0, 2, n).astype(bool),
        "ts": 1_700_000_000_000 + rng.integers(0, 10**9, n),  # epoch milliseconds
        "created": pd.to_datetime(1_700_000_000 + rng.integers(0, 10**6, n), unit="s"),
        "site": "shop",  # one value
        "request": [f"r{i}" for i in range(n)],  # a row's own id
        "empty": np.nan,
        "fold": rng.integers(0, 5, n),  # where a split put the row
        "meta": [{"page": int(i % 3)} for i in range(n)],  # nested: no feature until flattened
        "recent": ["|".join(f"sku-{i}" for i in rng.integers(0, 100, k)) for k in rng.integers(1, 6, n)],
        "clicked": rng.integers(0, 2, n),
    })


def test_a_draft_guesses_each_columns_kind_and_role_and_says_why(tmp_path):
    draft = ctr.draft_spec(_log(), user="user id")
    spec = draft.spec
    kinds = {f.source: (f.kind, f.role) for f in spec.features}
    assert kinds == {
        "user id": ("categorical", "user"), "sku": ("categorical", "item"), "age": ("numeric", "user"),
        "zip": ("categorical", "user"), "genres": ("multi_categorical", "item"), "title": ("text", "item"),
        "price": ("numeric", "item"), "daytime": ("categorical", "context"), "is_weekend": ("categorical", "context"),
        "ts": ("timestamp", "context"), "created": ("timestamp", "context"), "recent": ("history", "user")}
    assert spec.label == ctr.Label("clicked")
    assert spec["user_id"].column == "user id" and spec["user_id"].dtype == "int"  # a serving input's name
    assert spec["zip"].dtype == "string" and spec["daytime"].dtype == "int"
    assert spec["ts"].unit == "ms" and spec["created"].unit == "s"
    assert spec["price"].transform == "log" and spec["age"].transform == "standardize"
    assert spec["genres"].max_length == 3
    assert spec["recent"].items == "sku" and spec["recent"].max_length == 5  # a list of item ids: a history
    assert set(draft.skipped) == {"site", "request", "empty", "fold", "meta"}
    assert draft.skipped["meta"] == ("objects ({'page': 0}): a feature reads one value or a list a row; flatten them "
                                     "first")
    assert "one value only ('shop')" in draft.skipped["site"] and "a row's own id" in draft.skipped["request"]
    assert draft.skipped["fold"].startswith("named like the part of a split")
    assert draft.reasons["zip"].startswith("codes with leading zeros ('0")
    assert draft.reasons["zip"].endswith("; one value per user id → role user")
    assert "epoch milliseconds from 2023-11-14" in draft.reasons["ts"]
    assert "codes 0 to 6, all used" in draft.reasons["daytime"]
    assert "varies within one 'user id' and within one 'sku'" in draft.reasons["daytime"]
    assert "named like the item id" in draft.reasons["sku"] and "named like a label" in draft.reasons["label"]
    # The YAML, comments and all, reads back as the same spec; every reason is written beside its feature.
    text = draft.to_yaml(tmp_path / "drafted.yaml")
    assert ctr.FeatureSpec.from_yaml(tmp_path / "drafted.yaml") == spec
    assert all(f"# {why}" in text for why in draft.reasons.values()) and str(draft) == text
    assert "#   request: a different value on 100% of the rows read" in text
    # The draft trains as it is.
    model = ctr.DeepFM(spec, embedding_dim=4, hidden_units=(8,))
    model.fit(_log(), epochs=1, verbose=0)
    assert model.predict(_log(5, seed=1)).shape == (5,)


def test_durations_and_complex_numbers_are_left_out_and_periods_are_times():
    log = _log(200).assign(wait=pd.to_timedelta(np.arange(200), unit="s"), z=np.arange(200) + 1j,
                           day=pd.period_range("2024-01-01", periods=200, freq="D"))
    draft = ctr.draft_spec(log, user="user id")
    assert draft.skipped["wait"] == "durations: make them numbers in a unit first (e.g. column.dt.total_seconds())"
    assert draft.skipped["z"] == "complex numbers: no feature reads them"
    assert draft.spec["day"].kind == "timestamp"
    assert draft.reasons["day"].startswith("periods (each read as its start) from 2024-01-01 to 2024-07-18")
    model = ctr.LogisticRegression(draft.spec)
    model.fit(log, epochs=1, verbose=0)  # the data readers take a period as its start too


def test_dates_without_a_time_of_day_are_drafted_without_the_hour():
    # A date's hour is always 0; its month only once a year of dates shows every month.
    days = pd.Series(pd.date_range("2024-01-01", periods=200, freq="D"))
    log = _log(200).assign(short=days.dt.strftime("%Y-%m-%d"), long=pd.date_range("2023-01-01", periods=200,
                                                                                     freq="2D"),
                           moment=days + pd.to_timedelta(np.arange(200) * 7, unit="min"))
    draft = ctr.draft_spec(log, user="user id")
    assert draft.spec["short"].parts == ("day_of_week",)
    assert draft.reasons["short"] == ("ISO 8601 times from 2024-01-01 to 2024-07-18, dates with no time of day: their "
                                      "day of week (the month when a year of them shows every month)")
    assert draft.spec["long"].parts == ("day_of_week", "month")
    assert draft.spec["moment"].parts == ("hour", "day_of_week")
    ctr.LogisticRegression(draft.spec).fit(log, epochs=1, verbose=0)


def test_datetimes_with_a_time_zone_are_drafted_in_their_local_time():
    import datetime

    moments = pd.Series(pd.date_range("2024-03-20", periods=200, freq="5h", tz="UTC"))
    log = _log(200).assign(berlin=moments.dt.tz_convert("Europe/Berlin"), utc=moments,
                           fixed=moments.dt.tz_convert(datetime.timezone(datetime.timedelta(hours=-3))),
                           # As text: one offset is the feature's; several (summer time) are pointed out.
                           india=moments.dt.tz_convert("Asia/Kolkata").dt.strftime("%Y-%m-%dT%H:%M:%S+05:30"),
                           berlin_text=moments.dt.tz_convert("Europe/Berlin").dt.strftime("%Y-%m-%d %H:%M:%S%z"))
    log["tz"] = np.array(["Asia/Tokyo", "America/Chicago", "Europe/Oslo"])[log["user id"] % 3]  # each user's zone
    draft = ctr.draft_spec(log, user="user id")
    # A time with no zone of its own is read in each row's: the user's, a column of IANA zone names.
    assert (draft.spec["tz"].role, draft.spec["utc"].timezone_feature) == ("user", "tz")
    assert draft.reasons["utc"].endswith("; read in each row's time zone, as named in 'tz' (IANA zone names)")
    assert [draft.spec[n].timezone_feature for n in ("berlin", "fixed", "india")] == [None, None, None]
    assert (draft.spec["berlin"].timezone, draft.spec["berlin"].utc_offset_hours) == ("Europe/Berlin", 0)
    assert draft.reasons["berlin"].startswith("datetimes in Europe/Berlin time from 2024-03-20")
    assert (draft.spec["utc"].timezone, draft.spec["utc"].utc_offset_hours) == (None, 0)
    assert (draft.spec["fixed"].timezone, draft.spec["fixed"].utc_offset_hours) == (None, -3)
    assert (draft.spec["india"].utc_offset_hours, draft.spec["berlin_text"].utc_offset_hours) == (5.5, 0)
    assert draft.reasons["berlin_text"].endswith("written at several offsets from UTC (+1h, +2h), as a zone's summer "
                                                 "and winter times are: set timezone (e.g. Europe/Berlin) for their "
                                                 "local calendar parts; read in each row's time zone, as named in "
                                                 "'tz' (IANA zone names)")
    ctr.LogisticRegression(draft.spec).fit(log, epochs=1, verbose=0)


def test_chinese_and_japanese_titles_are_text_and_names_in_them_stay_categorical():
    # Without spaces, each title was one word; the model reads each character as a word (`Text`).
    log = _log(60).assign(jp_title=["千と千尋の神隠し", "東京物語", "七人の侍 完全版", "霸王别姬 电影"] * 15,
                          author=["王小明", "张伟", "李娜", "陈静"] * 15)
    draft = ctr.draft_spec(log, user="user id")
    assert (draft.spec["jp_title"].kind, draft.spec["jp_title"].max_length) == ("text", 8)  # characters kept
    assert draft.reasons["jp_title"].startswith("text of 3.1 words on average (4 distinct; two Chinese or Japanese "
                                                "characters count as a word);")
    assert draft.spec["author"].kind == "categorical"


def test_a_csv_drafts_the_spec_its_table_does(tmp_path):
    """A CSV's text keeps its zeros ('00037' stays a code), and its times are read as times."""
    frame = _log().drop(columns="meta")  # objects, which a CSV cannot hold
    frame.to_csv(tmp_path / "log.csv", index=False)
    from_file = ctr.draft_spec(tmp_path / "log.csv", user="user id", sample_rows=1000)
    assert from_file.spec == ctr.draft_spec(frame, user="user id", name="log", sample_rows=1000).spec
    assert from_file.rows == 1000 and from_file.more
    assert "(1,000 of its rows, read from 8 places spread through it)" in from_file.to_yaml()


def _sorted_log(n: int = 4000) -> pd.DataFrame:
    """A log sorted by its label, whose coupons begin two thirds of the way through (a time-ordered log's new
    field), and a comment column whose quoted text spans lines only in some rows."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"user_id": rng.integers(0, 300, n), "item_id": rng.integers(0, 100, n),
                          "price": rng.gamma(2, 10, n).round(2), "clicked": np.sort(rng.random(n) < 0.1).astype(int)})
    return frame.assign(coupon=np.where(np.arange(n) > 2 * n // 3, rng.choice(["A", "B"], n), None))


def test_a_large_source_is_drafted_from_rows_spread_through_it_not_from_its_head(tmp_path):
    """A log sorted by label or time: its head held no clicks (the label was drafted as 0.0% ones) and no
    coupons (left out: 'no values'). The rows come from 8 places through a frame, a Parquet file's row
    groups, a CSV's bytes, a Criteo file's and a folder's files; text that cannot be read so is read from
    its start."""
    frame = _sorted_log()
    frame.to_parquet(tmp_path / "log.parquet", row_group_size=250)
    frame.to_parquet(tmp_path / "one_group.parquet")  # 8 places in one row group, each read from its own row
    frame.to_csv(tmp_path / "log.csv", index=False)
    frame.to_json(tmp_path / "log.jsonl", orient="records", lines=True)
    (tmp_path / "parts").mkdir()
    for i in range(10):
        frame[i * 400:(i + 1) * 400].to_csv(tmp_path / "parts" / f"part-{i:02d}.csv", index=False)
    for source in (frame, tmp_path / "log.parquet", tmp_path / "one_group.parquet", tmp_path / "log.csv",
                   tmp_path / "log.jsonl", tmp_path / "parts"):
        draft = ctr.draft_spec(source, sample_rows=800)
        assert (draft.rows, draft.places, draft.more) == (800, 8, True), source
        assert "(800 of its rows, read from 8 places spread through it)" in draft.to_yaml()
        assert draft.spec["coupon"].kind == "categorical" and "coupon" not in draft.skipped, source
        share = float(re.search(r"\(([\d.]+)% ones in the rows read", draft.reasons["label"]).group(1))
        assert 5 < share < 20, (source, draft.reasons["label"])
        assert draft.spec["price"].kind == "numeric" and draft.spec["user_id"].role == "user"
    read = ctr.draft_spec(tmp_path / "log.csv", sample_rows=800)
    from ctr._spread import spread_rows
    rows, places = spread_rows(tmp_path / "log.csv", 800, dict.fromkeys(frame.columns, "str"))
    assert places == 8 and len(rows) == 800 and not rows.duplicated().any() and read.rows == 800
    assert rows["price"].iloc[-1] == str(frame["price"].iloc[-1])  # the last block ends with the file (800 = 8 × 100)
    # Quoted text across lines, a compressed file, a JSON array and a filtered pyarrow dataset: their first
    # rows, as before.
    frame.assign(note=np.where(np.arange(len(frame)) % 7 == 0, "good,\nvery", "ok")).to_csv(
        tmp_path / "notes.csv", index=False)
    frame.to_csv(tmp_path / "log.csv.gz", index=False)
    frame.to_json(tmp_path / "array.json", orient="records")  # a JSON array, on one line
    import pyarrow.compute as pc
    import pyarrow.dataset as pads

    for source in (tmp_path / "notes.csv", tmp_path / "log.csv.gz", tmp_path / "array.json",
                   pads.dataset(tmp_path / "log.parquet").filter(pc.field("price") > 0)):
        draft = ctr.draft_spec(source, sample_rows=800)
        assert (draft.rows, draft.places, draft.more) == (800, 1, True) and "(its first 800 rows)" in draft.to_yaml()
        assert "0.0% ones" in draft.reasons["label"] and draft.skipped["coupon"] == "no values in the rows read"
    # A pyarrow dataset is named by its files (it was 'a table', its spec 'drafted'), and spread through.
    frame.to_parquet(tmp_path / "days", partition_cols=["clicked"])  # 2 files, in clicked=0/ and clicked=1/
    named = ctr.draft_spec(pads.dataset(tmp_path / "days", partitioning="hive"), sample_rows=800)
    assert named.to_yaml().startswith(f"# Drafted by ctr from the pyarrow dataset of 2 files in {tmp_path / 'days'} "
                                      "(800 of its rows, read from 8 places spread through it)")
    one = ctr.draft_spec(pads.dataset(tmp_path / "log.parquet"))
    assert (named.spec.name, one.spec.name, ctr.draft_spec(frame).spec.name) == ("days", "log", "drafted")
    assert one.source == f"the pyarrow dataset of {tmp_path / 'log.parquet'}"


def test_dicts_that_pandas_printed_into_a_csv_are_drafted_as_weighted_bags_or_left_out_with_the_line(tmp_path):
    """`to_csv` of dict columns writes `{'calm': 0.5}`: ids to weights whose keys vary are a weighted bag read
    as the mapping; records (Yelp's attributes, the same keys on every row) are left out with the line that
    makes their fields columns, which, run, gives columns the draft reads."""
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({
        "user_id": rng.integers(0, 40, n), "item_id": rng.integers(0, 30, n), "clicked": rng.integers(0, 2, n),
        "moods": [{"calm": round(rng.random(), 3), "sad": 2} if rng.random() < 0.5 else {"happy": 1} for _ in range(n)],
        "attributes": [{"WiFi": str(rng.choice(["free", "no"])), "PriceRange": int(rng.integers(1, 5))}
                       for _ in range(n)]})
    frame.to_csv(tmp_path / "dicts.csv", index=False)
    draft = ctr.draft_spec(tmp_path / "dicts.csv")
    assert draft.spec["moods"] == ctr.MultiCategorical("moods", weighted=True, max_length=2)
    assert "which is read as the mapping it prints" in draft.reasons["moods"]
    line = ("frame.join(pandas.json_normalize(frame['attributes'].map(ast.literal_eval).tolist())"
            ".add_prefix('attributes.'))")
    assert f"flatten them first, e.g. {line} (each printed as text: " in draft.skipped["attributes"]
    import ast

    read = pd.read_csv(tmp_path / "dicts.csv")
    flat = eval(line, {"frame": read, "pandas": pd, "ast": ast}).drop(columns="attributes")
    assert {f.source for f in ctr.draft_spec(flat).spec.features} >= {"attributes.WiFi", "attributes.PriceRange"}
    model = ctr.FM(draft.spec, embedding_dim=4, seed=0)
    model.fit(tmp_path / "dicts.csv", epochs=1, verbose=0)
    np.testing.assert_allclose(model.predict(frame.head(5)), model.predict(read.head(5)), atol=1e-6)


def test_lists_that_pandas_printed_into_a_csv_are_drafted_and_read_as_lists(tmp_path):
    """`to_csv` of list columns writes `['hip hop', 'jazz']` (NumPy arrays from Parquet: `['hip hop' 'jazz']`,
    ids: `[25, 3]`): the CSV drafts the spec its table does, and a model fitted on it predicts as one
    fitted on the table."""
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"user_id": rng.integers(0, 40, n), "item_id": rng.integers(0, 30, n),
                          "clicked": rng.integers(0, 2, n)})
    genres = {i: list(rng.choice(["rock", "pop", "hip hop", "jazz"], rng.integers(1, 3), replace=False))
              for i in range(30)}
    frame["genres"] = frame.item_id.map(genres)
    frame["recent"] = [[int(i) for i in rng.integers(0, 30, rng.integers(1, 4))] for _ in range(n)]
    frame.to_parquet(tmp_path / "log.parquet")
    frame.to_csv(tmp_path / "lists.csv", index=False)
    pd.read_parquet(tmp_path / "log.parquet").to_csv(tmp_path / "arrays.csv", index=False)
    assert "'hip hop'" in (tmp_path / "arrays.csv").read_text()
    table = ctr.draft_spec(tmp_path / "log.parquet")
    assert [f.kind for f in table.spec.features] == ["categorical", "categorical", "multi_categorical", "history"]
    for name in ("lists.csv", "arrays.csv"):
        drafted = ctr.draft_spec(tmp_path / name)
        assert drafted.spec.features == table.spec.features, name
        assert "each printed as text (" in drafted.reasons["genres"] and "history" in drafted.reasons["recent"]
    spec = table.spec
    fitted = [ctr.FM(spec, embedding_dim=4, seed=1) for _ in range(3)]
    for model, name in zip(fitted, ("log.parquet", "lists.csv", "arrays.csv"), strict=True):
        model.fit(tmp_path / name, epochs=1, verbose=0)
    expected = fitted[0].predict(frame)
    for model in fitted[1:]:
        np.testing.assert_allclose(model.predict(tmp_path / "arrays.csv"), expected, atol=1e-6)


def test_lists_of_objects_are_drafted_with_the_field_that_names_each(tmp_path):
    """TMDB's genres as JSON lines' objects, or as the JSON text a CSV holds: a multi-valued feature
    whose `key` is the objects' name; objects with no field of text or numbers are left out, said why."""
    rng = np.random.default_rng(2)
    kinds = [{"id": 28, "name": "Action"}, {"id": 12, "name": "Adventure"}, {"id": 18, "name": "Drama"}]
    rows = pd.DataFrame({"user_id": rng.integers(0, 30, 200), "movie_id": rng.integers(0, 40, 200),
                         "clicked": rng.integers(0, 2, 200)})
    rows["genres"] = [[kinds[i] for i in rng.choice(3, rng.integers(1, 3), replace=False)] for _ in range(200)]
    rows["crew"] = [[{"job": {"title": "director"}}]] * 200  # no id to read
    rows.to_json(tmp_path / "movies.jsonl", orient="records", lines=True)
    rows.assign(genres=rows.genres.map(json.dumps), crew=rows.crew.map(json.dumps)).to_csv(tmp_path / "movies.csv",
                                                                                           index=False)
    for name in ("movies.jsonl", "movies.csv"):
        drafted = ctr.draft_spec(tmp_path / name)
        assert drafted.spec["genres"].kind == "multi_categorical" and drafted.spec["genres"].key == "name", name
        assert "each read by its 'name' field (key: name; the fields: id, name)" in drafted.reasons["genres"]
        assert drafted.skipped["crew"].startswith("lists of objects ({'job': {'title': 'director'}}) with no field")
    spec = ctr.draft_spec(tmp_path / "movies.jsonl").spec
    fitted = [ctr.FM(spec, embedding_dim=4, seed=1) for _ in range(2)]
    for model, name in zip(fitted, ("movies.jsonl", "movies.csv"), strict=True):
        model.fit(tmp_path / name, epochs=1, verbose=0)
    names = rows.assign(genres=rows.genres.map(lambda g: "|".join(k["name"] for k in g)))
    np.testing.assert_allclose(fitted[1].predict(tmp_path / "movies.jsonl"), fitted[0].predict(names), atol=1e-6)


def test_an_avazu_like_log_is_drafted_with_its_digit_hours_codes_and_rare_ids(tmp_path):
    """Avazu's columns: a row id, the hour as digits (14102100), anonymised fields of whole numbers (C1,
    C14), a few codes far apart (banner_pos 0, 1, 2, 7) and device ids most of which come once."""
    rng = np.random.default_rng(0)
    n = 3000
    hours = rng.integers(0, 72, n)
    log = pd.DataFrame({
        "id": rng.integers(0, 2**62, n), "click": rng.integers(0, 2, n),
        "hour": 14102100 + hours // 24 * 100 + hours % 24,
        "dt": 20241230 + rng.integers(0, 2, n),  # a warehouse's date: 30 and 31 December
        "C1": rng.choice([1005, 1002, 1010], n), "C14": rng.integers(15000, 24000, n),
        "banner_pos": rng.choice([0, 1, 2, 7], n), "width": rng.choice([300, 320, 728], n),
        "device_ip": [f"{x:08x}" for x in np.where(rng.random(n) < 0.5, rng.integers(0, 50, n),
                                                    rng.integers(0, 2**32, n))],  # half of them once each
        "device_model": [f"m{x}" for x in rng.integers(0, 40, n)],
        "amount": rng.integers(1, 100_000, n),  # whole numbers, all kinds of them: an amount
        "batch": 14102100 + rng.integers(0, 3, n),  # digits of a time, but not named as one
    })
    draft = ctr.draft_spec(log)
    spec = draft.spec
    assert "a row's own id" in draft.skipped["id"]
    assert spec["hour"] == ctr.Timestamp("hour", format="%y%m%d%H")
    assert draft.reasons["hour"].startswith("times written as digits, year first (%y%m%d%H: 14102100 is 2014-10-21 "
                                            "00:00) from 2014-10-21 to 2014-10-23: calendar parts (hour, day of week)")
    assert spec["dt"] == ctr.Timestamp("dt", format="%Y%m%d", parts=("day_of_week",))
    assert draft.reasons["dt"].startswith("times written as digits, year first (%Y%m%d: 20241230 is 2024-12-30) ")
    assert {f.name: (f.kind, getattr(f, "dtype", None)) for f in spec.features if f.name not in ("hour", "dt")} == {
        "C1": ("categorical", "int"), "C14": ("categorical", "int"), "banner_pos": ("categorical", "int"),
        "width": ("categorical", "int"), "device_ip": ("categorical", "string"),
        "device_model": ("categorical", "string"), "amount": ("numeric", None), "batch": ("numeric", None)}
    assert "named like an anonymised categorical field" in draft.reasons["C14"]
    assert draft.reasons["banner_pos"].startswith("a few whole numbers far apart (0, 1, 2, 7): codes")
    assert spec["device_ip"].min_count == 2 and spec["device_model"].min_count == 1
    assert "seen once in the rows read: min_count 2" in draft.reasons["device_ip"]
    # The YAML reads back as the same spec, and the draft trains and scores the log's rows.
    assert ctr.FeatureSpec.from_yaml(draft.to_yaml(tmp_path / "avazu.yaml")) == spec
    model = ctr.FM(spec, embedding_dim=4)
    model.fit(log, epochs=1, verbose=0)
    assert model.predict(log.head(4)).shape == (4,)


def test_a_yelp_like_review_log_is_drafted_with_its_business_as_the_item_and_its_stars_as_the_label():
    """Yelp's reviews joined to their businesses: business_id is the item and stars the rating label;
    categories spaced after their commas ('Coffee & Tea, Food') are lists, where a review's sentences with
    commas stay text; the review's votes (useful) are left out as outcomes, and a like count that is one per
    business is the item's."""
    rng = np.random.default_rng(0)
    n, kinds = 3000, ["Restaurants", "Pizza", "Italian", "Bars", "Coffee & Tea", "Food", "Beauty & Spas", "Fast Food"]
    businesses = pd.DataFrame({"business_id": [f"b{i:03d}x{rng.integers(10**6)}" for i in range(120)],
                               "categories": [", ".join(rng.choice(kinds, rng.integers(1, 4), replace=False))
                                              for _ in range(120)],
                               "likes": rng.integers(0, 500, 120)})
    words = [f"{w}{i}" for w in ("great", "food", "slow", "service", "friendly", "staff") for i in range(6)]
    reviews = pd.DataFrame({"user_id": [f"u{u}" for u in rng.integers(0, 300, n)], "stars": rng.integers(1, 6, n),
                            "business_id": businesses["business_id"].to_numpy()[rng.integers(0, 120, n)],
                            "useful": rng.integers(0, 5, n),
                            "text": [", ".join(" ".join(rng.choice(words, 3)) for _ in range(rng.integers(2, 4)))
                                     for _ in range(n)]}).merge(businesses, on="business_id")
    draft = ctr.draft_spec(reviews, threshold=4)
    assert draft.spec.label == ctr.Label("stars", threshold=4)
    assert draft.spec["business_id"].role == "item" and draft.spec["user_id"].role == "user"
    assert draft.spec["categories"] == ctr.MultiCategorical("categories", role="item", separator=",", max_length=3)
    assert draft.spec["text"].kind == "text" and draft.spec["likes"].role == "item"
    assert draft.skipped["useful"].startswith("named like others' reactions to the row (a review's votes)")


def test_a_session_log_without_users_drafts_the_session_as_the_user_and_a_log_with_users_leaves_it_out():
    """YooChoose's clicks (session, time, item, category): the session is the user a recommender needs; beside
    a user column, a session id is the id of a visit, new for each one served, and left out."""
    rng = np.random.default_rng(0)
    n = 1000
    log = pd.DataFrame({"session_id": rng.integers(0, 150, n), "item_id": rng.integers(0, 80, n),
                        "timestamp": pd.Timestamp("2014-04-01") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s")})
    sessions = ctr.draft_spec(log)
    assert sessions.spec["session_id"].role == "user" and sessions.spec["item_id"].role == "item"
    assert "each session is the user, as in a session log (YooChoose's)" in sessions.reasons["session_id"]
    users = ctr.draft_spec(log.assign(user_id=rng.integers(0, 30, n)))
    assert users.skipped["session_id"].startswith("named like the id of the request or event a row belongs to")


def test_numbers_beside_marks_of_missing_values_are_drafted_as_numbers(tmp_path):
    """UCI's files mark a missing value '?': ages with some '?' are numbers, the reason naming the mark and its
    share, where they were a category of each age; '?' among words stays a value of a category."""
    rng = np.random.default_rng(0)
    n = 1000
    ages = rng.integers(18, 80, n).astype(object)
    ages[rng.random(n) < 0.05] = "?"
    frame = pd.DataFrame({"user_id": rng.integers(0, 100, n), "item_id": rng.integers(0, 50, n), "age": ages,
                          "workclass": rng.choice(["Private", "Self-emp", "?"], n), "clicked": rng.integers(0, 2, n)})
    frame.to_csv(tmp_path / "adult.csv", index=False)
    draft = ctr.draft_spec(tmp_path / "adult.csv")
    assert draft.spec["age"] == ctr.Numeric("age")
    share = (ages == "?").mean()
    assert f"; '?' on {int((ages == '?').sum())} rows ({share:.1%}), read as missing" in draft.reasons["age"]
    assert draft.spec["workclass"] == ctr.Categorical("workclass") and "missing" not in draft.reasons["workclass"]
    model = ctr.FM(draft.spec, embedding_dim=4, seed=0)
    model.fit(tmp_path / "adult.csv", epochs=1, verbose=0)
    gaps = frame.assign(age=frame["age"].map(lambda a: None if a == "?" else a))
    np.testing.assert_allclose(model.predict(frame.head(50)), model.predict(gaps.head(50)), atol=1e-6)


def _mind_behaviors(n: int = 600) -> pd.DataFrame:
    """A MIND-like behaviors table: an impression's id, user, time as MIND writes it, the user's clicked
    news spaced apart, and the impression's candidates with their clicks ('N12-0 N85-1')."""
    rng = np.random.default_rng(0)
    times = pd.Timestamp("2019-11-09") + pd.to_timedelta(rng.integers(0, 6 * 86400, n), unit="s")
    return pd.DataFrame({
        "impression_id": np.arange(1, n + 1), "user_id": [f"U{u}" for u in rng.integers(0, 80, n)],
        "time": [t.strftime("%m/%d/%Y %I:%M:%S %p").lstrip("0").replace("/0", "/").replace(" 0", " ")
                 for t in times],
        "history": [" ".join(f"N{x}" for x in rng.integers(0, 150, rng.integers(1, 12))) for _ in range(n)],
        "impressions": [" ".join(f"N{x}-{int(rng.random() < 0.2)}" for x in rng.integers(0, 150, rng.integers(2, 9)))
                        for _ in range(n)]})


def test_a_mind_like_behaviors_table_is_drafted_with_the_line_that_makes_a_row_of_each_candidate(tmp_path):
    """MIND's behaviors: the impressions ('N12-0 N85-1') are left out with the pandas line that explodes them
    into rows with a label, and the label's reason points there; the history is a list of ids, not text; the
    time is read as a date text whatever its first value (pandas guesses no format from '7:43:20 PM'); the
    impression id is left out; the file without its header line is named so. Following the line, the rows
    draft a history of the item ids, and train."""
    behaviors = _mind_behaviors()
    behaviors.loc[0, "time"] = "11/12/2019 7:43:20 PM"
    behaviors.to_csv(tmp_path / "behaviors.tsv", sep="\t", index=False)
    draft = ctr.draft_spec(tmp_path / "behaviors.tsv")
    assert draft.spec.label is None and draft.reasons["label"].startswith(
        "no label column: 'impressions' holds each candidate's click; make a row of each candidate")
    line = ("rows = frame.assign(candidate=frame['impressions'].str.split()).explode('candidate'); "
            "rows[['item_id', 'clicked']] = rows['candidate'].str.rsplit('-', n=1, expand=True)")
    assert draft.skipped["impressions"].startswith("candidates with their clicks written as 'id-label' pairs (")
    assert draft.skipped["impressions"].endswith(line)
    assert draft.skipped["time"].endswith("format='%m/%d/%Y %I:%M:%S %p')")
    assert draft.skipped["impression_id"].endswith("evaluate(..., group_by='impression_id') gives the AUC within "
                                                   "each, as MIND's is)")
    assert draft.spec["history"] == ctr.MultiCategorical("history", separator=" ", max_length=11)
    behaviors.to_csv(tmp_path / "headerless.tsv", sep="\t", index=False, header=False)
    with pytest.raises(ctr.DataError, match=r"headerless.tsv: its first line looks like a row of data, not column "
                                            r"names \('1', '11/12/2019 7:43:20 PM', 'N"):
        ctr.draft_spec(tmp_path / "headerless.tsv")
    frame = pd.read_csv(tmp_path / "behaviors.tsv", sep="\t")
    namespace = {"frame": frame}
    exec(line, namespace)
    rows = namespace["rows"].drop(columns=["impressions", "candidate"])
    rows["time"] = pd.to_datetime(rows["time"], format="%m/%d/%Y %I:%M:%S %p")
    exploded = ctr.draft_spec(rows, "clicked")
    assert exploded.spec["history"] == ctr.History("history", items="item_id", separator=" ", max_length=11,
                                                   role="user")
    assert "impression_id" in exploded.skipped and exploded.spec["time"].kind == "timestamp"
    model = ctr.DeepFM(exploded.spec, embedding_dim=4, seed=0)
    model.fit(rows, epochs=1, verbose=0)
    spaced = model.predict({"user_id": ["U1"] * 2, "history": ["N1  N2 ", "N1 N2"], "item_id": ["N5"] * 2,
                            "time": ["2019-11-12T10:00:00"] * 2})
    assert spaced[0] == spaced[1]
    assert model.evaluate(rows, group_by="impression_id", verbose=0)["gauc_groups"] > 0


def test_a_shops_prices_and_discounts_written_for_people_are_drafted_as_numbers(tmp_path):
    """'$1,299.99' and '15%' (a shop's export) are numbers, with the reading in the reason, where they were
    categories of thousands of values; a column of amounts in two currencies is left out, naming both."""
    rng = np.random.default_rng(0)
    n = 1200
    log = pd.DataFrame({"user_id": rng.integers(0, 100, n), "item_id": rng.integers(0, 60, n),
                        "price": [f"${p:,.2f}" for p in rng.lognormal(4, 1.5, n)],
                        "discount": [f"{d}%" for d in rng.choice([0, 5, 10, 15, 25, 50], n)],
                        "fee": pd.Series(rng.choice(["$", "£"], n)) + pd.Series(rng.random(n) * 9).map("{:.2f}".format),
                        "clicked": rng.choice(["True", "False"], n)})
    log.to_csv(tmp_path / "shop.csv", index=False)
    draft = ctr.draft_spec(tmp_path / "shop.csv", "clicked")
    assert draft.spec["price"] == ctr.Numeric("price", transform="log")
    assert draft.spec["discount"] == ctr.Numeric("discount")
    assert "; written as amounts ('$" in draft.reasons["price"]
    assert "; written as percentages (" in draft.reasons["discount"]
    assert "each read as its fraction (15% is 0.15)" in draft.reasons["discount"]
    assert re.fullmatch(r"numbers in more than one unit \('[$£][\d.]+' and '[$£][\d.]+'\), which no numeric feature "
                        r"reads as one quantity: convert them to one first", draft.skipped["fee"])
    model = ctr.FM(draft.spec, embedding_dim=4)
    model.fit(tmp_path / "shop.csv", epochs=1, verbose=0)
    assert np.isfinite(model.predict(log.head(3))).all()


def test_an_amazon_like_review_log_is_drafted_with_its_rank_and_without_its_votes_and_date_text(tmp_path):
    """Amazon's reviews (JSON lines): a sales rank written '1,234' is numbers; the review's votes are left out
    as an outcome; reviewTime ('02 11, 2016') is a date no timestamp reads, left out with the conversion, and
    named as unixReviewTime's days; style's field is a column, and the draft trains on the file and on
    pandas.read_json's frame of it."""
    rng = np.random.default_rng(0)
    n = 1500
    stamps = 1_200_000_000 + rng.integers(0, 300_000_000, n)
    reviews = pd.DataFrame({
        "overall": rng.integers(1, 6, n).astype(float), "reviewerID": [f"A{u:04d}" for u in rng.integers(0, 150, n)],
        "asin": [f"B{i:06d}" for i in rng.integers(0, 200, n)],
        "reviewTime": pd.to_datetime(stamps, unit="s").strftime("%m %d, %Y"), "unixReviewTime": stamps,
        "vote": [f"{v:,}" if v else None for v in rng.integers(0, 3000, n) * (rng.random(n) < 0.4)],
        "rank": [f"{v:,}" if v else None for v in rng.integers(0, 3000, n) * (rng.random(n) < 0.4)],
        "style": [{"Format:": f" {rng.choice(['Hardcover', 'Paperback'])}"} if rng.random() < 0.7 else None
                  for _ in range(n)]})
    reviews.to_json(tmp_path / "reviews.jsonl", orient="records", lines=True)
    draft = ctr.draft_spec(tmp_path / "reviews.jsonl", "overall", threshold=4)
    assert draft.skipped["reviewTime"] == (
        f"dates written as {reviews['reviewTime'][0]!r} (%m %d, %Y), which a timestamp does not read (it reads epoch "
        "numbers, datetimes and ISO 8601 text): convert the column first, e.g. pandas.to_datetime("
        "frame['reviewTime'], format='%m %d, %Y'); the same days as unixReviewTime's times, which the spec reads")
    assert draft.spec["rank"] == ctr.Numeric("rank") and draft.spec["style_Format"].source == "style.Format:"
    assert "written with thousands separators ('" in draft.reasons["rank"]
    assert draft.skipped["vote"].startswith("named like others' reactions to the row (a review's votes)")
    model = ctr.FM(draft.spec, embedding_dim=4)
    model.fit(tmp_path / "reviews.jsonl", epochs=1, verbose=0)
    frame = pd.read_json(tmp_path / "reviews.jsonl", lines=True, dtype=False)  # style's objects in one column
    np.testing.assert_allclose(model.predict(frame.head(5)), model.predict(tmp_path / "reviews.jsonl")[:5],
                               atol=1e-6)
    # Without the epoch column, the date text is left out all the same, saying how to convert it.
    alone = ctr.draft_spec(reviews.drop(columns="unixReviewTime"), "overall", threshold=4)
    assert alone.skipped["reviewTime"].endswith("format='%m %d, %Y')")


def test_draft_errors_name_the_column_and_what_to_pass(tmp_path):
    ratings = _log().rename(columns={"clicked": "rating"}).assign(rating=lambda f: 1 + f["daytime"] % 5)
    with pytest.raises(ctr.ArgumentError, match=r"the label column 'rating' holds 1 to 5, not only 0 and 1; pass "
                                                r"threshold= \(--label-threshold\) .* \(e\.g\. 4\)"):
        ctr.draft_spec(ratings)
    with pytest.raises(ctr.ArgumentError, match="the label column 'clicked' holds 0 to 1: with threshold 4 every row "
                                                "would be a non-click; a 0/1 label needs no threshold"):
        ctr.draft_spec(_log(), threshold=4)
    with pytest.raises(ctr.ArgumentError, match="with threshold 1 every row would be a click; choose one above 1"):
        ctr.draft_spec(ratings, threshold=1)
    label = ctr.draft_spec(ratings, threshold=4).spec.label
    assert label == ctr.Label("rating", threshold=4.0)
    # Beside a click column, the rating it came from is the outcome, not a feature (it would leak it).
    both = ctr.draft_spec(ratings.assign(clicked=(ratings["rating"] >= 4).astype(int)))
    assert both.spec.label == ctr.Label("clicked") and "rating" not in both.spec.columns
    assert both.skipped["rating"].startswith("named like a label, beside the label 'clicked': an outcome")
    with pytest.raises(ctr.DataError, match=r"column 'click' is missing from the data of draft_spec \(label=\)"):
        ctr.draft_spec(ratings, "click")
    with pytest.raises(ctr.ArgumentError, match="threshold= is for the label, and no label column was named"):
        ctr.draft_spec(ratings.drop(columns="rating"), threshold=4)
    with pytest.raises(ctr.ArgumentError, match="user= and item= both name the column 'sku'"):
        ctr.draft_spec(ratings, user="sku", item="sku", threshold=4)
    with pytest.raises(ctr.DataError, match="has no rows to draft a spec from"):
        ctr.draft_spec(ratings[:0], threshold=4)
    with pytest.raises(ctr.DataError, match=r"none of the columns .* can be a feature: site: one value only"):
        ctr.draft_spec(pd.DataFrame({"site": ["a", "a"], "clicked": [0, 1]}))
    with pytest.raises(ctr.ArgumentError, match="draft_spec: threshold must be a number, got 'high'"):
        ctr.draft_spec(ratings, threshold="high")
    # A column's own name goes to its feature before a name made for another column.
    both = pd.DataFrame({"a b": [1.0, 2.0, 3.0], "a_b": [3.0, 1.0, 2.0], "clicked": [0, 1, 0]})
    assert [(f.name, f.source) for f in ctr.draft_spec(both).spec.features] == [("a_b_2", "a b"), ("a_b", "a_b")]
    # A history names the item feature, whatever name its column was given.
    lists = pd.DataFrame({"seen": ["1|2", "2", "1|3", "3|2"] * 5, "item_id": [4, 4, 3, 3] * 5,
                          "item id": [1, 2, 3, 2] * 5, "clicked": [0, 1] * 10})
    assert ctr.draft_spec(lists, item="item id").spec["seen"].items == "item_id_2"
    # Ids and times are told by whole words of their names: 'amount_paid' is an amount, 'countryCode' a code.
    named = pd.DataFrame({"amount_paid": [120, 45, 3000, 87], "countryCode": [33, 44, 33, 49],
                          "runtime": [90, 120, 95, 100], "createdAt": [1_700_000_000, 1_700_100_000, 1_700_000_500,
                                                                         1_700_300_000], "clicked": [0, 1, None, 1]})
    drafted = ctr.draft_spec(named)
    assert [f.kind for f in drafted.spec.features] == ["numeric", "categorical", "numeric", "timestamp"]
    # Epoch seconds with fractions, as time.time() and KuaiRec's timestamp write them, are times too.
    fractions = ctr.draft_spec(named.assign(createdAt=named["createdAt"] + 0.378)).spec["createdAt"]
    assert fractions == ctr.Timestamp("createdAt")
    assert drafted.reasons["label"].endswith("; 1 row has none: drop them before training")
    (tmp_path / "semicolons.csv").write_text("user_id;item_id;clicked\n1;2;0\n2;3;1\n")
    with pytest.raises(ctr.DataError, match=r"its header is one column, 'user_id;item_id;clicked', that reads as 3 "
                                            r"columns separated by semicolons, where \.csv files are read "
                                            r"comma-separated"):
        ctr.draft_spec(tmp_path / "semicolons.csv")
    # Interactions with no label make a spec without one, as a recommender's.
    unlabelled = ctr.draft_spec(ratings.drop(columns="rating"))
    assert unlabelled.spec.label is None and "no label" in unlabelled.to_yaml()


def test_draft_spec_from_the_shell_writes_a_new_file_fit_reads(tmp_path, capsys):
    _log().to_parquet(tmp_path / "log.parquet")
    out = tmp_path / "log.yaml"
    assert main(["draft-spec", "--data", str(tmp_path / "log.parquet"), "--user", "user id", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"wrote {out} (12 features, label clicked)" in said and f"ctr fit --spec {out}" in said
    spec = ctr.FeatureSpec.from_yaml(out)
    assert spec == ctr.draft_spec(tmp_path / "log.parquet", user="user id").spec and spec.name == "log"
    # A spec on disk is not replaced; an --out that is no YAML file is named before the data is read.
    for argv, said in [(["--out", str(out)], "the file exists; a drafted spec does not replace it"),
                       (["--out", str(tmp_path / "log.txt")], "a spec is written as YAML"),
                       (["--label", "rating"], "column 'rating' is missing")]:
        assert main(["draft-spec", "--data", str(tmp_path / "log.parquet"), *argv]) == 2
        assert said in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):  # argparse's, as the command line is read
        main(["draft-spec", "--data", str(tmp_path / "log.parquet"), "--rows", "0"])
    assert "argument --rows: must be an integer of at least 1, got 0" in capsys.readouterr().err
    assert main(["draft-spec", "--data", "synthetic", "--label-threshold", "4", "--rows", "500"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# Drafted by ctr from synthetic (500 of its rows, read from 8 places spread through it)")
    _log().drop(columns="clicked").to_parquet(tmp_path / "seen.parquet")  # interactions: no label
    seen = tmp_path / "specs" / "new" / "seen.yaml"  # its folders are made, as for any other --out
    assert main(["draft-spec", "--data", str(tmp_path / "seen.parquet"), "--out", str(seen)]) == 0
    assert "no label); read its comments" in (said := capsys.readouterr().out) and "--model two_tower" in said
    assert ctr.FeatureSpec.from_yaml(seen).label is None
    assert main(["draft-spec", "--data", str(tmp_path / "seen.parquet"), "--out", str(out / "x.yaml")]) == 2
    assert f"--out {out / 'x.yaml'}: {out} is a file, so no folder can be made in it" in capsys.readouterr().err
    assert ctr.FeatureSpec.from_yaml(printed).name == "synthetic"


@needs(ML100K)
def test_movielens_drafts_the_spec_written_by_hand():
    """On the real data the draft finds what the hand-written spec says: who each column describes."""
    frame = ctr.datasets.movielens_100k(ML100K)
    drafted = ctr.draft_spec(frame, threshold=4).spec
    written = ctr.FeatureSpec.from_yaml(ROOT / "feature_specs" / "movielens-100k.yaml")
    roles = {f.source: f.role for f in drafted.features}
    assert {f.source: f.role for f in written.features if f.source in roles} == \
        {c: r for c, r in roles.items() if c in {f.source for f in written.features}}
    assert drafted.label == ctr.Label("rating", threshold=4.0)
    assert drafted["genres"].kind == "multi_categorical" and drafted["timestamp"].kind == "timestamp"


def test_a_value_missing_from_some_of_an_items_rows_is_still_the_items():
    """An item's price (or vector) that some rows lack is the item's: a missing value is no other value,
    where it counted as one and made the feature context."""
    log = _log()
    items = log["sku"].str.removeprefix("sku-").astype(int).to_numpy()
    vectors = np.random.default_rng(0).normal(size=(100, 3))
    log["embedding"] = [None if i % 20 == 0 else vectors[item] for i, item in enumerate(items)]
    log.loc[log.index % 25 == 0, "price"] = np.nan
    draft = ctr.draft_spec(log, label="clicked", item="sku")
    assert (draft.spec["price"].role, draft.spec["embedding"].role) == ("item", "item")
    assert draft.spec["embedding"] == ctr.Vector("embedding", dim=3, role="item")


def test_a_draft_of_tfrecords_reads_keys_that_first_come_late(tmp_path):
    """Examples leave out the features a row lacks: a key first met after the 10,000 records that learn the
    types for a spec's columns is still a column of the rows the draft reads, and a draft names a single
    value as Python writes it."""
    from .test_data import _examples

    rows = [{"user_id": i % 50, "item_id": i % 30, "clicked": i % 2, "price": 1.5,
             "coupon": f"c{i % 7}" if i >= 10_500 and i % 3 == 0 else None} for i in range(12_000)]
    _examples(tmp_path / "log.tfrecord", rows)
    draft = ctr.draft_spec(tmp_path / "log.tfrecord", label="clicked")
    assert draft.spec["coupon"].kind == "categorical"
    assert draft.skipped["price"] == "one value only (1.5) in the rows read: nothing to learn from"


def test_a_log_of_counts_without_a_label_is_drafted_as_interactions_weighing_them(tmp_path, capsys):
    """A play count in a log with no label is no feature (an outcome) but each interaction's weight."""
    rng = np.random.default_rng(0)
    log = pd.DataFrame({"listener": rng.integers(0, 60, 900), "track_id": rng.integers(0, 40, 900),
                        "plays": rng.integers(0, 9, 900), "device": rng.choice(["ios", "web"], 900),
                        "ts": 1_700_000_000 + rng.integers(0, 10**6, 900)})
    log.to_parquet(tmp_path / "plays.parquet")
    out = tmp_path / "plays.yaml"
    assert main(["draft-spec", "--data", str(tmp_path / "plays.parquet"), "--user", "listener", "--out",
                 str(out)]) == 0
    said = capsys.readouterr().out
    assert "(4 features, label plays >= 1, weighted by plays)" in said and "--model two_tower (interactions" in said
    spec = ctr.FeatureSpec.from_yaml(out)
    assert spec.label == ctr.Label("plays", threshold=1, weight="plays") and "plays" not in spec.names
    assert "# label and weight: 'plays', named like a count of the interaction, whole numbers 0 to 8" in out.read_text()
    log.to_csv(tmp_path / "plays.csv", index=False)  # whose columns the draft reads as text
    assert ctr.draft_spec(tmp_path / "plays.csv", user="listener").spec == spec
    assert main(["fit", "--spec", str(out), "--data", str(tmp_path / "plays.parquet"), "--model", "popularity"]) == 0
    assert "test rows with plays >= 1 are ranked" in capsys.readouterr().out
    # Counts beside a click column, or holding no whole numbers, are left as they were.
    assert ctr.draft_spec(log.assign(clicked=log.plays > 3), user="listener").spec.label == ctr.Label("clicked")
    assert ctr.draft_spec(log.assign(plays=log.plays + 0.5), user="listener").spec.label is None


def test_clicks_out_of_impressions_are_drafted_as_aggregated_rows(tmp_path, capsys):
    rng = np.random.default_rng(1)
    shown = rng.integers(0, 30, 500)
    rows = pd.DataFrame({"campaign": rng.integers(0, 20, 500), "site": rng.choice(["a", "b", "c"], 500),
                         "impressions": shown, "clicks": rng.binomial(shown, 0.1)})
    rows.to_csv(tmp_path / "daily.csv", index=False)
    out = tmp_path / "daily.yaml"
    assert main(["draft-spec", "--data", str(tmp_path / "daily.csv"), "--out", str(out)]) == 0
    assert "(2 features, label clicks out of impressions)" in capsys.readouterr().out
    spec = ctr.FeatureSpec.from_yaml(out)
    assert spec.label == ctr.Label("clicks", out_of="impressions") and spec.names == ["campaign", "site"]
    assert "# label: 'clicks' clicks out of 'impressions' impressions (aggregated rows)" in out.read_text()
    # More clicks than impressions on a row: no such pair, and no label.
    assert ctr.draft_spec(rows.assign(clicks=rows.impressions + 1)).spec.label != spec.label


def test_outcomes_and_event_logs_are_drafted_with_the_values_that_make_a_click(tmp_path, capsys):
    """A `skipped` column is a label whose clicks are its false rows; an event log's label is its
    strongest event; yes/no words are read as such; `--label-positive` names the values itself."""
    rng = np.random.default_rng(3)
    n = 600
    plays = pd.DataFrame({"user_id": rng.integers(0, 40, n), "track_id": rng.integers(0, 30, n),
                          "country": rng.choice(["US", "BR"], n), "skipped": rng.random(n) < 0.7})
    drafted = ctr.draft_spec(plays)
    assert drafted.spec.label == ctr.Label("skipped", positive=False) and "skipped" not in drafted.spec.names
    assert "a row counts as a click when it is false" in drafted.reasons["label"]
    assert "'skipped' is a bad outcome" in drafted.reasons["label"]
    # Named by the user, a bad outcome is read as it is: its true rows are clicks.
    assert ctr.draft_spec(plays, "skipped").spec.label == ctr.Label("skipped")
    # Beside a click column, an outcome is no feature: it would leak the answer.
    both = ctr.draft_spec(plays.assign(clicked=(~plays.skipped).astype(int)))
    assert both.spec.label == ctr.Label("clicked") and "skipped" in both.skipped
    offers = plays.assign(accepted=np.where(plays.skipped, "No", "Yes")).drop(columns="skipped")
    assert ctr.draft_spec(offers).spec.label == ctr.Label("accepted", positive="Yes")
    events = plays.drop(columns="skipped").assign(
        event=rng.choice(["view", "addtocart", "transaction"], n, p=[0.8, 0.15, 0.05]))
    events.to_csv(tmp_path / "events.csv", index=False)
    spec = ctr.draft_spec(tmp_path / "events.csv").spec
    assert spec.label == ctr.Label("event", positive="transaction") and "event" not in spec.names
    out = tmp_path / "events.yaml"
    assert main(["draft-spec", "--data", str(tmp_path / "events.csv"), "--label-positive", "addtocart",
                 "--label-positive", "transaction", "--out", str(out)]) == 0
    assert "label event = addtocart or transaction" in capsys.readouterr().out
    spec = ctr.FeatureSpec.from_yaml(out)
    assert spec.label == ctr.Label("event", positive=("addtocart", "transaction"))
    assert main(["fit", "--spec", str(out), "--data", str(tmp_path / "events.csv"), "--model", "lr", "--epochs", "1",
                 "--export", str(tmp_path / "lr")]) == 0
    rate = float((events.event != "view").mean())
    capsys.readouterr()
    assert main(["evaluate", "--model", str(tmp_path / "lr"), "--data", str(tmp_path / "events.csv")]) == 0
    assert json.loads(capsys.readouterr().out)["positive_rate"] == pytest.approx(rate)
    with pytest.raises(ctr.ArgumentError, match=r"with positive='purchase' \(--label-positive\), no row of the label "
                                                r"column 'event' would be a click; .*\(the values read: 'view' \("):
        ctr.draft_spec(events, "event", positive="purchase")
    with pytest.raises(ctr.ArgumentError, match="threshold= and positive= both say which rows are clicks"):
        ctr.draft_spec(events, "event", positive="view", threshold=1)
    with pytest.raises(ctr.DataError, match=r"the label column 'country' holds '(US|BR)', which is no number; .* "
                                            r"pass positive= \(--label-positive\) .*\(the words read: '(US|BR)' "
                                            r"\(\d+\), '(US|BR)' \(\d+\)\)"):
        ctr.draft_spec(events, "country")


def test_few_values_of_several_words_are_categories_and_an_items_second_name_is_left_out():
    """Four plans' names of three words are categories, not text (titles, one per item, stay text); an item's
    URL, one per item and one item per URL, is another name for the item id, whose table it would repeat, as
    is a link to its image that does not hold its id (a brand, one per item but several items each, is kept)."""
    rng = np.random.default_rng(0)
    items = rng.integers(0, 100, 3000)
    plans = np.array(["Free trial month", "Premium annual plan", "Basic monthly plan", "Family sharing plan"])
    log = pd.DataFrame({"user_id": rng.integers(0, 200, 3000), "item_id": items,
                        "url": [f"https://shop.example.com/p/{i}?ref=home" for i in items],
                        "image": [f"s3://media/{(i * 7919 + 13) % 10007:05d}.jpg" for i in items],
                        "brand": [f"b{i % 30}" for i in items], "title": [f"the {i} red shoe" for i in items],
                        "plan": plans[rng.integers(0, 4, 3000)], "clicked": rng.integers(0, 2, 3000)})
    draft = ctr.draft_spec(log)
    assert draft.spec["plan"] == ctr.Categorical("plan", role="context")
    assert draft.reasons["plan"].startswith("4 distinct values, of 3.0 words on average, each on 750 rows read on "
                                            "average: learned whole, as categories, not word by word as text;")
    assert (draft.spec["title"].kind, draft.spec["title"].role) == ("text", "item")
    assert (draft.spec["brand"].kind, draft.spec["brand"].role) == ("categorical", "item")
    assert draft.skipped["url"] == ("100 distinct values, one per item_id and one item_id per value in the rows "
                                    "read, each holding its item_id ('https://shop.example.com/p/85?ref=home' for "
                                    "85): another name for 'item_id', whose ids the spec reads (its own table "
                                    "would learn what theirs does)")
    assert draft.skipped["image"].startswith("100 distinct values, one per item_id and one item_id per value in the "
                                             "rows read, each a link ('s3://media/")
    assert not {"url", "image"} & {f.source for f in draft.spec.features}
