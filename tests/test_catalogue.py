"""The bad-input catalogue: every row of the README's table is one case here, checked.

`CATALOGUE` is the single source of the table; `test_readme_table_is_the_catalogue` fails when the
README and this file disagree, and `python tests/test_catalogue.py` prints the table to paste.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr._keras import keras, tf
from ctr.errors import ArgumentError, CtrError, DataError, NotFittedError, SpecError

ROOT = Path(__file__).resolve().parents[1]
GOOD_FEATURE = {"name": "a", "kind": "categorical"}


@dataclass(frozen=True)
class Case:
    area: str
    bad_input: str
    outcome: str  # what the user gets, as the README says it
    check: Callable[[dict], None]  # raises AssertionError when the outcome is not what is promised


def _spec_error(raw: object, *fragments: str) -> Callable[[dict], None]:
    """A check that the spec `raw` (plain data, or YAML text) is refused with every fragment said."""
    def check(_: dict) -> None:
        with pytest.raises(SpecError) as err:
            ctr.FeatureSpec.from_yaml(raw) if isinstance(raw, str) else ctr.FeatureSpec.from_dict(raw)
        for fragment in fragments:
            assert fragment in str(err.value), (fragment, str(err.value))
    return check


def _model_spec_of_another_type(_: dict) -> None:
    with pytest.raises(SpecError, match="expected a FeatureSpec, a YAML file's path, a ready spec's name or a mapping "
                                        r"such as a parsed YAML file, got list; give the features with their label"):
        ctr.DeepFM([ctr.Categorical("user_id", role="user")])
    assert ctr.DeepFM({"features": [{"name": "user_id"}], "label": "clicked"}).spec.label.column == "clicked"


def _yaml_error(text: str, *fragments: str) -> Callable[[dict], None]:
    def check(env: dict) -> None:
        path = env["tmp"] / "bad.yaml"
        path.write_text(text)
        with pytest.raises(SpecError) as err:
            ctr.FeatureSpec.from_yaml(path)
        for fragment in fragments:
            assert fragment in str(err.value), (fragment, str(err.value))
    return check


def _spec(*features: dict) -> dict:
    return {"name": "s", "label": {"column": "y"}, "features": list(features)}


def _fit_error(change: Callable[[pd.DataFrame], pd.DataFrame], error: type, *fragments: str,
               spec: ctr.FeatureSpec | None = None) -> Callable[[dict], None]:
    def check(env: dict) -> None:
        model = ctr.LogisticRegression(spec or env["spec"])
        with pytest.raises(error) as err:
            model.fit(change(env["frame"].copy()), verbose=0)
        for fragment in fragments:
            assert fragment in str(err.value), (fragment, str(err.value))
    return check


def _served(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[dict], None]:
    """Fitting and serving succeed and every probability is finite, in [0, 1]."""
    def check(env: dict) -> None:
        model = ctr.LogisticRegression(env["spec"], learning_rate=0.01)
        model.fit(change(env["frame"].copy()), verbose=0)
        p = env["served"].predict(change(env["frame"].head(50).copy()))
        assert len(p) == 50 and np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    return check


def _serving_error(request: Callable[[pd.DataFrame], object], *fragments: str) -> Callable[[dict], None]:
    def check(env: dict) -> None:
        with pytest.raises(DataError) as err:
            env["served"].predict(request(env["frame"].head(4).copy()))
        for fragment in fragments:
            assert fragment in str(err.value), (fragment, str(err.value))
    return check


def _with(column: str, values: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = values
        return frame
    return change


def _nan_and_inf(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[frame.index[::3], "price"] = np.nan
    frame.loc[frame.index[1::7], "price"] = np.inf
    frame.loc[frame.index[2::7], "release_year"] = -np.inf
    return frame


def _empty_strings(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("gender", "genres", "title", "zip_prefix"):
        frame.loc[frame.index[::4], column] = ""
    return frame


def _unseen(frame: pd.DataFrame) -> pd.DataFrame:
    frame["user_id"] = frame["user_id"] + 10_000_000
    frame["occupation"] = "astronaut"
    frame["genres"] = "Western|Noir"
    return frame


def _skewed(env: dict) -> None:
    from ctr.inspect import inspect_data

    rows = env["frame"].head(200).copy()
    rows["gender"] = rows["gender"] == "F"
    rows["genres"] = rows["genres"].str.replace("|", ",")
    p = env["served"].predict(rows)
    assert np.isfinite(p).all()
    skew = inspect_data(rows, model=env["export"]).skew
    assert any(line.startswith("'gender': 100.0% of its values are outside the model") for line in skew), skew
    assert any("are they separated by ',', where the spec says '|'?" in line for line in skew), skew


def _mixed_schema_folder(env: dict) -> None:
    folder = env["tmp"] / "mixed"
    folder.mkdir()
    env["frame"].head(100).to_parquet(folder / "a.parquet")
    env["frame"].head(100).assign(age="adult").to_parquet(folder / "b.parquet")
    with pytest.raises(DataError, match="do not share one schema"):
        ctr.LogisticRegression(env["spec"]).fit(folder, verbose=0)


def _text_folder_of_other_columns(env: dict) -> None:
    folder = env["tmp"] / "parts"
    folder.mkdir()
    env["frame"].head(100).to_csv(folder / "part-0.csv", index=False)
    env["frame"].head(100).drop(columns="age").assign(agee=1).to_csv(folder / "part-1.csv", index=False)
    with pytest.raises(DataError, match=r"part-1.csv has other columns than part-0.csv \(missing: 'age'; "
                                        r"extra: 'agee'\)"):
        ctr.data.read(folder)
    (folder / "part-1.csv").unlink()
    env["frame"].head(100).to_parquet(folder / "part-1.parquet")
    with pytest.raises(DataError, match=r"files of one format, and this one holds 1 CSV file \(part-0.csv\); "
                                        r"1 other file \(part-1.parquet\)"):
        ctr.LogisticRegression(env["spec"]).fit(folder, verbose=0)


def _mixed_tfrecords(env: dict) -> None:
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(env["tmp"] / "rows.tfrecord")) as writer:
        for age in (tf.train.Int64List(value=[30]), tf.train.BytesList(value=[b"adult"])):
            feature = tf.train.Feature(int64_list=age) if isinstance(age, tf.train.Int64List) else \
                tf.train.Feature(bytes_list=age)
            writer.write(tf.train.Example(features=tf.train.Features(feature={"age": feature})).SerializeToString())
    with pytest.raises(DataError, match=r"rows.tfrecord: feature 'age' holds bytes \(text\) in record 1 but integers"):
        ctr.LogisticRegression(env["spec"]).fit(env["tmp"] / "rows.tfrecord", verbose=0)


def _history_refused(bad: object, message: str, weighted: bool = False) -> Callable[[dict], None]:
    """A check that a history of integer item ids (weighted or not) with a row holding `bad` after a good
    one is a DataError matching `message` on the way in."""
    def check(env: dict) -> None:
        spec = ctr.FeatureSpec([ctr.Categorical("item_id", dtype="int", role="item"),
                                ctr.History("history", weighted=weighted)])
        with pytest.raises(DataError, match=message):
            ctr.data.raw_features(pd.DataFrame({"item_id": [1, 2], "history": ["12|85", bad]}), spec)
    return check


_history_with_another_separator = _history_refused(
    "12,85,301", r"feature 'history' .*but a row holds '12,85,301' \(are its ids separated by ','\?")


def _csv_without_a_header(env: dict) -> None:
    rows = env["tmp"] / "headless.csv"
    env["frame"].head(20).to_csv(rows, index=False, header=False)
    with pytest.raises(DataError, match="its first line looks like a row of data, not column names"):
        ctr.LogisticRegression(env["spec"]).fit(rows, verbose=0)


def _csv_of_another_separator(env: dict) -> None:
    rows = env["tmp"] / "excel.csv"
    env["frame"].head(20).to_csv(rows, index=False, sep=";", decimal=",")
    with pytest.raises(DataError, match=r"excel\.csv \(its header is one column, .* that reads as \d+ columns "
                                        r"separated by semicolons, .*: convert it, e\.g\. pandas\.read_csv\(.*, "
                                        r"sep=';', decimal=','\)\.to_parquet\("):
        ctr.LogisticRegression(env["spec"]).fit(rows, verbose=0)


def _text_of_another_suffix(env: dict) -> None:
    (env["tmp"] / "part-00000").write_text(env["frame"].head(20).to_csv(index=False, header=False))
    with pytest.raises(DataError, match=r"; its files \(part-00000\) are text of fields separated by commas: "
                                        r"give them a \.csv name"):
        ctr.LogisticRegression(env["spec"]).fit(env["tmp"], verbose=0)


def _compare_refusals(env: dict) -> None:
    spec, rows = env["spec"], env["frame"].head(200)
    for models, settings, said in [(["lr", "deepfn"], {}, "no model is called 'deepfn' (did you mean 'deepfm'?)"),
                                   (["fm", "two_tower"], {}, "fm is a click model (tested on held-out rows' clicks"),
                                   (["lr", "fm"], {"dropout": 0.3}, "no model compared takes 'dropout'"),
                                   ([env["model"]], {}, "the LogisticRegression given is fitted already")]:
        with pytest.raises(ArgumentError, match=re.escape(said)):
            ctr.compare(spec, rows, models, settings=settings)


def _column_twice(env: dict) -> None:
    _fit_error(lambda f: pd.concat([f, f[["price"]]], axis=1), DataError, "column 'price' appears 2 times in the "
               "data; give each column once")(env)
    rows = env["tmp"] / "twice.csv"
    pd.concat([env["frame"].head(20), env["frame"].head(20)[["price"]] * 2], axis=1).to_csv(rows, index=False)
    for read in (lambda: ctr.LogisticRegression(env["spec"]).fit(rows, verbose=0),
                 lambda: ctr.draft_spec(rows)):  # every column read, as a draft reads them
        with pytest.raises(DataError, match=r"column 'price' appears 2 times in .*twice\.csv; give each column once"):
            read()
    assert ctr.data.csv_header(rows)[-1] == "price"
    rows.write_text("a,a.1,b\n1,2,3\n")  # a name that ends as pandas' renaming does, written so
    assert ctr.data.csv_header(rows) == ["a", "a.1", "b"] and ctr.data.read(rows)["a.1"].tolist() == [2]


def _spreadsheet_or_pickle(env: dict) -> None:
    import zipfile

    with zipfile.ZipFile(env["tmp"] / "clicks.xlsx", "w") as book:  # the parts of a workbook that tell it
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/workbook.xml", "<workbook/>")
    (env["tmp"] / "download").write_bytes((env["tmp"] / "clicks.xlsx").read_bytes())  # a workbook by another name
    env["frame"].head(5).to_pickle(env["tmp"] / "rows.pkl")
    for name, said in [("clicks.xlsx", r"it is a spreadsheet: save its sheet as CSV \(UTF-8\) and give that file, or "
                                       r"convert it, e.g. pandas.read_excel\('.*clicks.xlsx', sheet_name=0\)"
                                       r".to_parquet\('.*clicks.parquet'\)"),
                       ("download", "it is a spreadsheet"),
                       ("rows.pkl", r"it is a Python pickle, which ctr does not read \(loading one can run any code\): "
                                    r"pass the DataFrame itself in Python")]:
        with pytest.raises(DataError, match=said):
            ctr.LogisticRegression(env["spec"]).fit(env["tmp"] / name, verbose=0)


def _empty_files(env: dict) -> None:
    for name, content in [("empty.parquet", b""), ("empty.json", b""), ("blank.csv", b"\n\n")]:
        (env["tmp"] / name).write_bytes(content)
        with pytest.raises(DataError, match=f"{name}: (the file is empty|holds no text)"):
            ctr.LogisticRegression(env["spec"]).fit(env["tmp"] / name, verbose=0)


def _bad_streamed_validation(env: dict) -> None:
    # Only the training data is read before training starts; the validation files are first read
    # inside the input pipeline, from where the error must still come out as it was raised.
    env["frame"].head(2000).to_parquet(env["tmp"] / "train.parquet")
    env["frame"].tail(500).assign(age="adult").to_parquet(env["tmp"] / "valid.parquet")
    with pytest.raises(DataError, match="feature 'age'"):
        ctr.LogisticRegression(env["spec"]).fit(env["tmp"] / "train.parquet", in_memory=False, verbose=0,
                                               validation_data=env["tmp"] / "valid.parquet")


def _one_class(env: dict) -> None:
    # A threshold that no rating reaches, in memory; every row a click, in validation; a 0/1 label of
    # all 1s, streamed, where the labels are all read only by the end of the first pass.
    frame = env["frame"]
    with pytest.raises(DataError, match=r"label column 'rating': rating >= 6 on none of the \d+ training rows"):
        ctr.LogisticRegression(ctr.FeatureSpec.from_dict({**env["spec"].to_dict(), "label": {
            "column": "rating", "threshold": 6}})).fit(frame, verbose=0)
    with pytest.raises(DataError, match=r"rating >= 4 on every one of the 200 validation rows, so there is only one"):
        ctr.LogisticRegression(env["spec"]).fit(frame, validation_data=frame.head(200).assign(rating=5), verbose=0)
    frame.head(1500).assign(clicked=1).to_parquet(env["tmp"] / "all_clicks.parquet")
    binary = ctr.FeatureSpec.from_dict({**env["spec"].to_dict(), "label": {"column": "clicked"}})
    with pytest.raises(DataError, match=r"label column 'clicked': the label is 1 on every one of the 1500 training"):
        ctr.LogisticRegression(binary).fit(env["tmp"] / "all_clicks.parquet", in_memory=False, verbose=0)
    # Rows sorted by their label: validation_split's last rows are all clicks, as Keras would take them.
    with pytest.raises(DataError, match=r"LogisticRegression.fit: validation_split 0.1 validates on the last 150 "
                                        r"rows, as Keras does, and rating >= 4 on every one of them, where the 1,350 "
                                        r"rows before hold both classes: the rows look sorted by their label 'rating'"):
        ctr.LogisticRegression(env["spec"]).fit(frame.head(1500).sort_values("rating", kind="stable"),
                                                validation_split=0.1, verbose=0)


def _bad_weights(env: dict) -> None:
    raw = env["spec"].to_dict()
    model = ctr.LogisticRegression(ctr.FeatureSpec.from_dict({**raw, "label": {**raw["label"], "weight": "w"}}))
    frame = env["frame"].head(1000)
    for weights, fragment in ((None, "column 'w' is missing from the data"), ("heavy", "found 'heavy'"),
                              (-1.0, "the first has weight -1"), (np.nan, "no weight (NaN)"),
                              (0.0, "all 1000 training rows weigh 0")):
        with pytest.raises(DataError) as err:
            model.fit(frame if weights is None else frame.assign(w=weights), verbose=0)
        assert fragment in str(err.value) and "label.weight" in str(err.value), str(err.value)


def _bad_impressions(env: dict) -> None:
    frame = pd.DataFrame({"ad_id": [1, 2, 3], "clicks": [1, 5, 0], "shown": [4, 3, 2]})
    spec = ctr.FeatureSpec([ctr.Categorical("ad_id", dtype="int")], label=ctr.Label("clicks", out_of="shown"))
    for rows, fragment in ((frame, "1 rows count more clicks than impressions ('shown'); the first (row 2) has 5 of 3"),
                           (frame.assign(shown=[4, 6, -2]), "impressions column 'shown' (label.out_of): every row "
                                                            "needs a finite count ≥ 0"),
                           (frame.drop(columns="shown"), "label.out_of names 'shown' as each row's impressions")):
        with pytest.raises(DataError) as err:
            ctr.LogisticRegression(spec).fit(rows, verbose=0)
        assert fragment in str(err.value), str(err.value)


def _user_with_every_item(env: dict) -> None:
    frame = ctr.datasets.synthetic(400, n_users=30, n_items=8, seed=0)
    every = frame.drop_duplicates("item_id").assign(user_id=99_999, rating=5)
    with pytest.raises(DataError, match=r"user_id: 1 user\(s\) \(99999\) interacted with every one of the 8"):
        ctr.MatrixFactorization(env["spec"], embedding_dim=4).fit(pd.concat([frame, every]), verbose=0)
    with pytest.raises(DataError, match=r"add_negatives: user 99999 touched every item"):
        ctr.data.add_negatives(pd.concat([frame, every]), env["spec"])


def _refused_in_training_and_requests(feature: ctr.Feature, good: object, bad: object, trained: str,
                                      requested: list, asked: str) -> Callable[[dict], None]:
    """A check that `feature`'s `bad` value is a DataError matching `trained` in training data (its last row,
    the others `good`), and the `requested` rows' a DataError matching `asked` in a trained model's request."""
    def check(env: dict) -> None:
        spec = ctr.FeatureSpec([feature], label=env["spec"].label)
        rows = env["frame"].head(200).assign(**{feature.source: [good] * 199 + [bad]})
        with pytest.raises(DataError, match=trained):
            ctr.LogisticRegression(spec).fit(rows, verbose=0)
        served = ctr.LogisticRegression(spec)
        served.fit(rows.head(199), verbose=0)
        with pytest.raises(DataError, match=asked):
            served.predict(rows.head(len(requested)).assign(**{feature.source: requested}))
    return check


_vectors_of_another_length = _refused_in_training_and_requests(
    ctr.Vector("embedding", dim=3, column="emb"), [0.1, 0.2, 0.3], [0.1, 0.2],
    r"feature 'embedding' \(vector, column 'emb'\): every vector must hold dim=3 numbers \(the spec's\), but 1 rows "
    r"hold 2 \(the first is row 199\)",
    [[0.1, "high", 0.3], [0.1, 0.2, 0.3]],
    r"feature 'embedding' \(vector, column 'emb'\): expected numbers in each row's vector, found 'high' in row 0")
_bag_weights_that_are_no_numbers = _refused_in_training_and_requests(
    ctr.MultiCategorical("moods", weighted=True), "calm:0.7|dark:0.3", "calm:high",
    r"feature 'moods' \(multi_categorical, column 'moods'\): row 199 holds 'calm:high', whose weight 'high' is not a "
    r"number from 0 to 1e\+09",
    [{"calm": 1}, [("dark", -1)]],
    r"feature 'moods' .*row 1 holds \('dark', -1\), where a weighted bag takes \(id, weight\) pairs whose weight is "
    r"a number from 0 to 1e\+09")


_history_weights_that_are_no_numbers = _history_refused(
    [(12, 1), (85, -1)], r"feature 'history' \(history, column 'history'\): row 1 holds \(85, -1\), where a weighted "
    r"history takes \(id, weight\) pairs", weighted=True)


def _weights_that_are_no_numbers(env: dict) -> None:
    _bag_weights_that_are_no_numbers(env)
    _history_weights_that_are_no_numbers(env)


_weights_in_a_plain_history = _history_refused(
    "12:5|85:3", r"feature 'history' .*but a row holds '12:5\|85:3' \(ids with weights, as '12:5', need the "
    r"history's `weighted: true`\)")


def _item_ids_read_as_weighted(env: dict) -> None:
    spec = ctr.FeatureSpec([ctr.Categorical("item_id", role="item"), ctr.History("history", weighted=True)],
                           label=ctr.Label("clicked"))
    rows = pd.DataFrame({"item_id": ["tt:0012", "tt:0013", "x"] * 10, "history": "x:2|tt:0012:1",
                         "clicked": [0, 1] * 15})
    with pytest.raises(DataError, match=r"feature 'history' \(history, weighted\): 2 ids of 'item_id' read as an id "
                                        r"and a weight after ':' \(e\.g\. 'tt:0012'\).*set the history's "
                                        r"weight_separator"):
        ctr.LogisticRegression(spec).fit(rows, verbose=0)


def _add_history_with_bad_weights(env: dict) -> None:
    rows = env["frame"].head(50).assign(rating=[4.0] * 48 + [np.nan, -1.0])
    with pytest.raises(DataError, match=r"add_history: the data's weight column 'rating' holds (nan|-1.0) at row "
                                        r"\d+ \(2 such rows\), where each item's weight is a number from 0 to 1e\+09"):
        ctr.data.add_history(rows, weight="rating")


def _not_a_zone(env: dict) -> None:
    spec = ctr.FeatureSpec([ctr.Categorical("tz"), ctr.Timestamp("timestamp", timezone_feature="tz")],
                           label=env["spec"].label)
    rows = env["frame"].head(200).assign(tz=["europe/berlin", "Asia/Tokyo"] * 100)
    with pytest.raises(DataError, match=r"feature 'timestamp' reads each row's time zone from 'tz' \(column 'tz'\), "
                                        r".* 'europe/berlin' \(did you mean 'Europe/Berlin'\?\)"):
        ctr.LogisticRegression(spec).fit(rows, verbose=0)


def _binary_catalogue_ids(env: dict) -> None:
    frame = ctr.datasets.synthetic(400, n_users=30, n_items=8, seed=0)
    binary = frame.assign(item_id=[bytes([0xFF, i % 256, i // 256]) for i in frame["item_id"]])
    said = r"column 'item_id' holds bytes that are no UTF-8 text \(b'\\xff.*; "
    fix = r", so write the ids as text first, e.g. frame\['item_id'\]\.map\(bytes.hex\)"
    with pytest.raises(DataError, match=rf"fit: {said}a recommender gives item ids back as text{fix}"):
        ctr.MatrixFactorization(env["spec"], embedding_dim=4).fit(binary, verbose=0)
    with pytest.raises(DataError, match=rf"add_history: {said}a history is text: the ids joined by the separator{fix}"):
        ctr.data.add_history(binary)


def _click_model_without_label(env: dict) -> None:
    with pytest.raises(DataError, match=r"no label section; .*label: \{column: rating, threshold: 4\}.* train a "
                                        r"recommender .* ctr\.data\.add_negatives"):
        ctr.DeepFM(ctr.FeatureSpec(env["spec"].features))


def _extra_columns_ignored(env: dict) -> None:
    frame = env["frame"].assign(comment="free text", clicked_twice=1)
    ctr.LogisticRegression(env["spec"]).fit(frame, verbose=0)


def _bad_arguments(env: dict) -> None:
    cases = [(lambda: ctr.FM(env["spec"], embedding_dim=0, learning_rate="0.1"),
              ["FM: embedding_dim must be an integer of at least 1, got 0",
               "learning_rate must be a number above 0, got '0.1' (str)"]),
             (lambda: ctr.DeepFM(env["spec"], hidden_units=256, dropout=1.0),
              ["hidden_units must be a sequence of layer widths",
               "dropout must be a number of at least 0 and below 1"]),
             (lambda: ctr.WideDeep(env["spec"], hidden_units=(64, 0)),
              ["WideDeep: hidden_units must be layer widths that are integers of at least 1, got (64, 0)"]),
             (lambda: ctr.DCN(env["spec"], cross_layers=-1, projection_dim=0, structure="diagonal"),
              ["DCN: cross_layers must be an integer of at least 0, got -1",
               "projection_dim must be an integer of at least 1, got 0"]),
             (lambda: ctr.DCN(env["spec"], structure="diagonal"),
              ["DCN: structure must be one of 'parallel', 'stacked'; got 'diagonal'"]),
             # A column given by mistake is named, not printed whole (nor pandas' ambiguous-truth error).
             (lambda: ctr.DCN(env["spec"], structure=env["frame"]["genres"]),
              ["DCN: structure must be one of 'parallel', 'stacked'; got a Series of 3000 values"]),
             (lambda: ctr.DCN(env["spec"], cross_layers=env["frame"]["age"]),
              ["DCN: cross_layers must be an integer, got a Series of 3000 values"]),
             (lambda: ctr.DCN(env["spec"], cross_layers=0, hidden_units=()),
              ["DCN: cross_layers is 0 and hidden_units is empty", "ctr.LogisticRegression"]),
             (lambda: ctr.AutoInt(env["spec"], num_heads=0, key_dim=2.5, residual="yes"),
              ["AutoInt: num_heads must be an integer of at least 1, got 0",
               "key_dim must be an integer, got 2.5 (float)", "residual must be True or False, got 'yes' (str)"]),
             (lambda: ctr.AutoInt(env["spec"], attention_layers=0, hidden_units=()),
              ["AutoInt: attention_layers is 0 and hidden_units is empty", "ctr.LogisticRegression"]),
             (lambda: ctr.xDeepFM(env["spec"], cin_layers=128, split_half=1, cin_activation="sigmoid"),
              ["xDeepFM: cin_layers must be a sequence of layer widths such as (256, 128), got 128",
               "split_half must be True or False, got 1 (int)"]),
             (lambda: ctr.xDeepFM(env["spec"], cin_activation="sigmoid"),
              ["xDeepFM: cin_activation must be one of 'relu', 'linear'; got 'sigmoid'"]),
             (lambda: ctr.xDeepFM(env["spec"], cin_layers=(101, 100)),
              ["xDeepFM: with split_half, every CIN layer but the last must have an even number of feature maps",
               "cin_layers=(101, 100)"]),
             (lambda: ctr.xDeepFM(env["spec"], cin_layers=(), hidden_units=()),
              ["xDeepFM: cin_layers and hidden_units are both empty", "ctr.LogisticRegression"]),
             (lambda: ctr.FiBiNET(env["spec"], bilinear_type="pairs", reduction_ratio=0),
              ["FiBiNET: reduction_ratio must be an integer of at least 1, got 0"]),
             (lambda: ctr.FiBiNET(env["spec"], bilinear_type="Each"),
              ["FiBiNET: bilinear_type must be one of 'interaction', 'each', 'all'; got 'Each'",
               "(did you mean 'each'?)"]),
             (lambda: ctr.NFM(env["spec"], bi_dropout=1.0, dropout=-0.1),
              ["NFM: dropout must be a number of at least 0 and below 1, got -0.1",
               "bi_dropout must be a number of at least 0 and below 1, got 1.0"]),
             (lambda: ctr.AFM(env["spec"], attention_factor=2.5, dropout=1.0),
              ["AFM: attention_factor must be an integer, got 2.5 (float)",
               "dropout must be a number of at least 0 and below 1, got 1.0"]),
             # Known only once the spec's fields are: at fit, before any training.
             (lambda: ctr.FiBiNET(ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int")], label=env["spec"].label)
                                  ).fit(env["frame"], epochs=1, verbose=0),
              ["FiBiNET crosses pairs of fields, and the spec gives it one (user_id): use ctr.LogisticRegression"]),
             (lambda: ctr.FiBiNET(ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int"), ctr.Numeric("price")],
                                                  label=env["spec"].label), wide_only="price"
                                  ).fit(env["frame"], epochs=1, verbose=0),
              ["FiBiNET crosses pairs of fields, and it embeds one (user_id): the others are in its wide part only "
               "(wide_only ['price']); embed one more, or use ctr.LogisticRegression"]),
             (lambda: ctr.TwoTower(env["spec"], output_dim=2.5, top_k_metrics=(10, 0)),
              ["TwoTower: output_dim must be an integer, got 2.5", "top_k_metrics must be"]),
             (lambda: ctr.NeuMF(env["spec"], n_negatives=0), ["NeuMF: n_negatives must be an integer of at least 1"]),
             (lambda: ctr.FM(env["spec"], embedding_updates="dense"),
              ["FM: embedding_updates must be one of 'lazy', 'momentum'; got 'dense'"]),
             (lambda: ctr.NeuMF(env["spec"], embedding_updates="dense"),
              ["NeuMF: embedding_updates must be one of 'lazy', 'momentum'; got 'dense'"]),
             (lambda: ctr.TwoTower(env["spec"], embedding_updates="lazy"),
              ["TwoTower: embedding_updates applies to the Adam-trained models (MF, NeuMF); the two-tower trains "
               "with Adagrad"]),
             (lambda: ctr.FM(env["spec"], learning_rate=keras.optimizers.schedules.ExponentialDecay(1e-3, 100, 0.9)),
              ["learning_rate must be a number above 0", "ReduceLROnPlateau"]),
             (lambda: ctr.LogisticRegression(env["spec"]).fit(env["frame"], epochs=0, batch_size=-8, verbose=0),
              ["LogisticRegression.fit: epochs must be", "batch_size must be an integer of at least 1, got -8"]),
             (lambda: ctr.LogisticRegression(env["spec"]).fit(env["frame"],
                                                              backup_dir=env["export"] / "saved_model.pb"),
              ["LogisticRegression.fit: backup_dir must be a folder, but", "saved_model.pb is a file"]),
             (lambda: ctr.EASE(env["spec"], l2=0),
              ["EASE: l2, the ridge penalty that makes XᵀX invertible, must be a number above 0, got 0"]),
             (lambda: ctr.evaluate_ranking(ctr.Popularity(env["spec"]), env["frame"], env["frame"], protocol="ful"),
              ["evaluate_ranking: protocol must be one of 'sampled', 'full'; got 'ful' (did you mean 'full'?)"])]
    for call, fragments in cases:
        with pytest.raises(ctr.ArgumentError) as err:
            call()
        for fragment in fragments:
            assert fragment in str(err.value), (fragment, str(err.value))


def _wide_only_refused(env: dict) -> None:
    user, item = ctr.Categorical("user_id", role="user"), ctr.Categorical("item_id", role="item")
    shared = ctr.MultiCategorical("liked", shared_embedding="item_id", role="user")
    touched = ctr.History("touched", items="item_id")
    for spec, wide_only, message in [
            (env["spec"], ["zip_prefx"], "DeepFM: wide_only names 'zip_prefx', which is no feature or cross of spec "
                                         "'synthetic' (did you mean 'zip_prefix'?)"),
            (env["spec"], "occupation, occupation", "DeepFM: wide_only names 'occupation' more than once"),
            (env["spec"], 5, "DeepFM: wide_only takes the names of features or crosses, such as ['zip_prefix'], got 5"),
            ([user, item, shared], ["item_id"], "DeepFM: wide_only names 'item_id' but not 'liked', which shares its "
                                                "table (shared_embedding 'item_id'): a table is embedded or wide, so "
                                                "list them all or none"),
            ([user, item, touched], ["touched"], "DeepFM: wide_only names 'touched', a history: its items are embedded "
                                                 "from their content"),
            ([user, item, touched], ["item_id"], "DeepFM: wide_only names 'item_id', an item feature, and the history "
                                                 "'touched' embeds its items with the item features' vectors"),
            ([user, item], ["item_id", "user_id"], "DeepFM: wide_only names every feature, which leaves nothing to "
                                                   "embed; leave one out of it, or train a LogisticRegression")]:
        spec = spec if isinstance(spec, ctr.FeatureSpec) else ctr.FeatureSpec(spec, label="clicked")
        with pytest.raises(ctr.ArgumentError) as err:
            ctr.DeepFM(spec, wide_only=wide_only)
        assert message in str(err.value), str(err.value)


def _unknown_argument(env: dict) -> None:
    for make, message in [(lambda: ctr.DeepFM(env["spec"], hidden=(64,)),
                           "DeepFM has no argument 'hidden' (did you mean 'hidden_units'?); it takes batch_size, "
                           "crosses, dropout, embedding_dim, embedding_updates, hidden_units, l2,"),
                          # DeepCTR's name for it
                          (lambda: ctr.WideDeep(env["spec"], dnn_hidden_units=(64,)),
                           "WideDeep has no argument 'dnn_hidden_units' (did you mean 'hidden_units'?)"),
                          (lambda: ctr.TwoTower(env["spec"], batchsize=64),
                           "TwoTower has no argument 'batchsize' (did you mean 'batch_size'?); it takes batch_size,"),
                          (lambda: ctr.FM(env["spec"], colour="red"), "FM has no argument 'colour'; it takes")]:
        with pytest.raises(ctr.ArgumentError) as err:
            make()
        assert message in str(err.value), str(err.value)


def _not_a_table(env: dict) -> None:
    frame = env["frame"]
    calls = [lambda: ctr.LogisticRegression(env["spec"]).fit(frame.iloc[0], verbose=0),
             lambda: env["served"].predict(frame.head(3).to_numpy().tolist()),
             lambda: ctr.data.random_split(frame["item_id"].to_numpy())]
    for call, got in zip(calls, ["Series", "list", "ndarray"], strict=True):
        with pytest.raises(DataError) as err:
            call()
        assert "a pandas DataFrame, a pyarrow Table (or any Arrow stream" in str(err.value)
        assert f"got {got}" in str(err.value), str(err.value)
    with pytest.raises(DataError, match=r"frame\.iloc\[\[i\]\]"):
        ctr.data.read(frame.iloc[0])


def _keras_only_argument(env: dict) -> None:
    model, rows = ctr.LogisticRegression(env["spec"]), env["frame"]
    for name, value, how in [("sample_weight", np.ones(len(rows)), "the spec's label.weight names"),
                             ("class_weight", {0: 1.0, 1: 4.0}, "ctr.data.downsample_negatives writes one"),
                             ("y", rows["rating"], "the labels are a column of the data")]:
        with pytest.raises(ArgumentError, match=f"LogisticRegression.fit has no argument '{name}' .*{how}.*; it "
                                                "takes validation_data, epochs, batch_size"):
            model.fit(rows, verbose=0, **{name: value})
    # predict and evaluate, in process and from the export, name their own class, as Keras' would not.
    model.fit(rows.head(500), verbose=0)
    for scorer in (model, env["served"]):
        owner = type(scorer).__name__
        with pytest.raises(ArgumentError, match=rf"{owner}\.predict has no argument 'steps' \(every row of the data "
                                                r"is scored; pass the rows to score\); it takes batch_size, verbose"):
            scorer.predict(rows.head(10), steps=1)
        with pytest.raises(ArgumentError, match=rf"{owner}\.evaluate has no argument 'sample_weight' \(row weights "
                                                r"are a column .*label\.weight names\); it takes batch_size, group_by"):
            scorer.evaluate(rows.head(10), sample_weight=np.ones(10))


def _missing_argument(env: dict) -> None:
    model = ctr.LogisticRegression(env["spec"])
    with pytest.raises(ArgumentError, match=r"^LogisticRegression\.fit: data is missing; call it as fit\(data, "):
        model.fit(epochs=1)
    owner = type(env["served"]).__name__
    with pytest.raises(ArgumentError, match=rf"^{owner}\.predict: data is missing; call it as predict\(data, "):
        env["served"].predict()
    # Keras' evaluate(x): a recommender's ranking needs the training interactions too.
    ids = ctr.FeatureSpec([f for f in env["spec"].features if f.name in ("user_id", "item_id")])
    recommender = ctr.MatrixFactorization(ids, seed=0)
    recommender.fit(env["frame"].head(500), epochs=1, verbose=0)
    with pytest.raises(ArgumentError, match=r"^MatrixFactorization\.evaluate: train is missing \(the interactions "
                                            r"the model was trained on, whose items are not ranked again for their "
                                            r"users; the held-out ones are the first argument\); call it as "
                                            r"evaluate\(test, train, \.\.\.\)$"):
        recommender.evaluate(env["frame"].tail(100))


def _keras_model_methods(env: dict) -> None:
    model = ctr.LogisticRegression(env["spec"])
    model.fit(env["frame"].head(500), verbose=0)
    for name, answer in [("save", r"export\(path\) writes a SavedModel that serves raw features, and "
                                  r"ctr\.load\(path\) reads it back; save_weights\(path\) keeps the weights"),
                         ("compile", "the loss and the optimiser are the model's own: set learning_rate, l2"),
                         ("recommend", r"a click model scores the rows it is given \(predict\); to rank a "
                                       r"catalogue with it, make it the ranker of RecommendationPipeline"),
                         ("get_weights", r"the Keras network is model\.network_"),
                         ("predict_proba", "predict returns the click probabilities")]:
        with pytest.raises(AttributeError, match=rf"'LogisticRegression' object has no attribute '{name}' "
                                                 rf"\(.*{answer}"):
            getattr(model, name)
        assert not hasattr(model, name)
    with pytest.raises(AttributeError) as err:  # Python's own error, which suggests a near name when shown
        getattr(model, "summry")  # noqa: B009 (the misspelt name is the point)
    assert err.value.name == "summry" and err.value.obj is model
    # Called as a Keras model is, on its inputs: what to call instead.
    with pytest.raises(ArgumentError, match=r"^'LogisticRegression' object is not callable \(predict\(rows\) scores "
                                            r"raw rows, which a Keras model's call would take encoded; after fit, "
                                            r"the Keras network over encoded ids is model\.network_\)$"):
        model(env["frame"].head(3))
    with pytest.raises(ArgumentError, match=r"^'ServedModel' object is not callable \(predict\(rows\) scores raw "
                                            r"rows; the graph's own function, over tensors, is "
                                            r"tf\.saved_model\.load\(path\)\.signatures\['serving_default'\]\)$"):
        env["served"](env["frame"].head(3))
    for name, answer in [("fit", r"an export serves what was trained; fit the model itself again, then export it "
                                 r"anew; or ctr\.load_model\(path\) rebuilds the export as the model, to fit "
                                 r"further"),
                         ("calibrate", r"ctr\.load_model\(path\) rebuilds .*, whose calibrate\(rows\) then "
                                       r"export\(path\) write it calibrated"),
                         ("recommend", r"a click model's export scores rows \(predict\)")]:  # its export
        with pytest.raises(AttributeError, match=rf"'ServedModel' object has no attribute '{name}' \({answer}"):
            getattr(env["served"], name)


def _keras_y(env: dict) -> None:
    model, rows = ctr.LogisticRegression(env["spec"]), env["frame"].head(500)
    model.fit(rows, verbose=0)
    for scorer in (model, env["served"]):
        for method in ("evaluate", "predict"):
            with pytest.raises(ArgumentError, match=rf"{type(scorer).__name__}\.{method}: the second argument is "
                                                    r"batch_size, got a ndarray; labels are not passed apart from "
                                                    r"the data: they are the data's 'rating' column"):
                getattr(scorer, method)(rows, rows["rating"].to_numpy())
    with pytest.raises(ArgumentError, match=r"second argument is validation_data, .* got a tuple\. The labels"):
        model.fit(rows, (rows, rows["rating"]), verbose=0)  # Keras' validation_data=(x, y)
    assert model.fit(rows, rows.head(100).to_dict("records"), verbose=0)  # a list of rows is data


def _warm_start_mismatch(env: dict) -> None:
    rows = env["frame"].head(500)
    with pytest.raises(ArgumentError, match=r"DeepFM\.fit: warm_start_from is a LogisticRegression \(.*lr\) and "
                                            r"this is a DeepFM"):
        ctr.DeepFM(env["spec"]).fit(rows, warm_start_from=env["export"], verbose=0)
    fm = ctr.FM(env["spec"], embedding_dim=4)
    fm.fit(rows, verbose=0)
    with pytest.raises(ArgumentError, match=r"has weights of other shapes \(embedding_dim 4 before, 8 now\)"):
        ctr.FM(env["spec"], embedding_dim=8).fit(rows, warm_start_from=fm, verbose=0)
    deepfm = ctr.DeepFM(env["spec"], embedding_dim=4, hidden_units=(8,))
    deepfm.fit(rows, verbose=0)
    fewer = ctr.FeatureSpec([f for f in env["spec"].features if f.name != "price"], label=env["spec"].label)
    with pytest.raises(ArgumentError, match=r"features removed: price"):
        ctr.DeepFM(fewer, embedding_dim=4, hidden_units=(8,)).fit(rows, warm_start_from=deepfm, verbose=0)


def _calibration_rows(env: dict) -> None:
    model, rows = ctr.LogisticRegression(env["spec"]), env["frame"].head(500)
    model.fit(rows, verbose=0)
    with pytest.raises(DataError, match=r"rating >= 4 on every one of the \d+ calibration rows, so there is only "
                                        r"one class"):
        model.calibrate(rows[rows["rating"] >= 4])
    with pytest.raises(DataError, match=r"column 'rating' is missing from the data"):
        model.calibrate(rows.drop(columns="rating"))
    with pytest.raises(DataError, match=r"click rate falls as the model's score rises"):
        model.calibrate(rows.assign(rating=np.where(model.predict(rows) > np.median(model.predict(rows)), 1, 5)))


def _pickled_trained_model(env: dict) -> None:
    import copy
    import pickle

    model = ctr.LogisticRegression(env["spec"], learning_rate=0.05)
    assert copy.deepcopy(model).get_config() == model.get_config()  # untrained: settings only, copied
    model.fit(env["frame"].head(500), verbose=0)
    for keep in (copy.deepcopy, pickle.dumps):
        with pytest.raises(CtrError, match=r"a trained LogisticRegression is neither pickled nor deep-copied .*: "
                                           r"export\(path\) keeps the model, .* save_weights\(path\) then "
                                           r"load_weights\(path\)"):
            keep(model)
    assert copy.copy(model).network_ is model.network_  # a shallow copy shares the network


def _cut_json(env: dict) -> None:
    (env["tmp"] / "rows.json").write_text('{"user_id": 1}\n{"user_id": ')
    with pytest.raises(DataError, match=r"rows\.json: not readable as JSON lines"):
        env["served"].predict(env["tmp"] / "rows.json")


def _not_utf8(env: dict) -> None:
    rows = env["frame"].head(5).assign(title="Amélie")  # as a spreadsheet program saves it
    rows.to_csv(env["tmp"] / "latin.csv", index=False, encoding="cp1252")
    rows.to_csv(env["tmp"] / "wide.csv", index=False, encoding="utf-16")
    for name, said in (("latin.csv", r"line 2 reads as Windows-1252 or Latin-1: '.*Amélie.*'; save the file as UTF-8 "
                                     r"\(iconv -f cp1252 -t utf-8 latin\.csv > utf8-latin\.csv\) or read it with "
                                     r"pandas \(encoding='cp1252'\)"),
                       ("wide.csv", "it is UTF-16")):
        with pytest.raises(DataError, match=rf"{name}: not readable as UTF-8 text separated by a comma: {said}"):
            env["served"].predict(env["tmp"] / name)


def _dataset_pairs(env: dict) -> None:
    rows = env["frame"].head(10).drop(columns=["genres"])
    pairs = tf.data.Dataset.from_tensor_slices((dict(rows), rows["rating"].to_numpy()))
    with pytest.raises(DataError, match=r"\(features, label\) pairs.*dataset\.map\(lambda x, y: \{\*\*x, "):
        ctr.LogisticRegression(env["spec"]).fit(pairs, verbose=0)


def _export_to_a_file_name(env: dict) -> None:
    (env["tmp"] / "notes.txt").write_text("mine")
    for name, said in (("m.keras", "names a Keras file; a ctr export is a SavedModel folder"),
                       ("m.h5", "names a Keras file"), ("m.onnx", "pass format='onnx' for one ONNX file"),
                       ("notes.txt/m", "notes.txt is a file, so no folder can be made in it")):
        with pytest.raises(ctr.ExportError, match=re.escape(said)):
            env["model"].export(env["tmp"] / name)
    assert [p.name for p in env["tmp"].iterdir()] == ["notes.txt"]


def _keras_file_checkpoint(env: dict) -> None:
    for name, kind in (("best.keras", "a Keras"), ("best.h5", "a Keras"), ("best.onnx", "an ONNX")):
        with pytest.raises(ArgumentError, match=f"'{name}' names {kind} file; give it a folder"):
            ctr.LogisticRegression(env["spec"]).fit(env["frame"], callbacks=keras.callbacks.ModelCheckpoint(name),
                                                    verbose=0)


def _foreign_weights(env: dict) -> None:
    small = ctr.FM(env["spec"], embedding_dim=2)
    small.fit(env["frame"].head(500), verbose=0)
    small.save_weights(env["tmp"] / "small")
    other = ctr.FM(env["spec"], embedding_dim=3)
    other.fit(env["frame"].head(500), verbose=0)
    with pytest.raises(DataError, match=r"cannot restore .*small.* into this FM; weights load only into the model"):
        other.load_weights(env["tmp"] / "small")
    with pytest.raises(DataError, match="no weights at"):
        other.load_weights(env["tmp"] / "absent")
    with pytest.raises(NotFittedError, match="weights go back into a fitted model"):
        ctr.FM(env["spec"]).load_weights(env["tmp"] / "small")


def _damaged_movielens(env: dict) -> None:
    folder = env["tmp"] / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text("1\t1\t5\t881250949\n2\t1\n")
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    (folder / "u.genre").write_text("unknown|0\nAction|1\n")
    (folder / "u.item").write_text("1|Heat (1995)|01-Jan-1995||http://x|0|1\n")
    with pytest.raises(DataError, match=r"u\.data: not as GroupLens writes it; line 2 is '2\\t1', where 4 fields"):
        ctr.datasets.movielens_100k(folder)
    (folder / "u.data").write_text("1\t1\t5\t881250949\n")
    (folder / "u.user").write_text("1|24|M|technician|85711\n1|53|F|other|94043\n")
    with pytest.raises(DataError, match=r"the users file lists user_id 1 more than once"):
        ctr.datasets.movielens_100k(folder)
    frappe = env["tmp"] / "frappe"
    frappe.mkdir()
    (frappe / "frappe.test.libfm").write_text("1 junk\n")
    with pytest.raises(DataError, match=r"frappe\.test\.libfm, line 1: expected a label"):
        ctr.datasets.frappe(frappe)


def _bad_group_by(env: dict) -> None:
    served, frame = env["served"], env["frame"].head(200)
    with pytest.raises(DataError, match=r"column 'account' is missing from the data; .*\(group_by names it"):
        served.evaluate(frame, group_by="account")
    with pytest.raises(DataError, match=r"column 'genres' must hold one group per row .*row 0 holds \["):
        served.evaluate(frame.assign(genres=frame["genres"].str.split("|")), group_by="genres")
    with pytest.raises(ctr.ArgumentError, match=r"ServedModel.evaluate: group_by must be a column name"):
        served.evaluate(frame, group_by=3)


def _misnamed_query_id(env: dict) -> None:
    model = ctr.MatrixFactorization(env["spec"], embedding_dim=4)
    model.fit(env["frame"].head(1000), verbose=0)
    with pytest.raises(DataError, match=r"the queries hold none of the model's query columns \('user_id', .*\); their "
                                        r"columns are 'uid'\. Send each user's id"):
        model.recommend(pd.DataFrame({"uid": [1, 2]}), k=3)
    with pytest.raises(DataError, match=r"the queries' column 'gendr' is none the model reads, and its 'gender' is "
                                        r"absent: did you mean 'gender' for 'gendr'\? Rename the column"):
        model.recommend({"user_id": 1, "gendr": "F"}, k=3)


def _ranking_interactions(env: dict) -> None:
    popular = ctr.Popularity(env["spec"]).fit(env["frame"])
    test, train = env["frame"].tail(50), env["frame"].head(500)
    interaction = "(each row is one interaction: a user, in column 'user_id', and an item, in column 'item_id')"
    cases = [((test.drop(columns="item_id"), train), "'item_id' is missing from evaluate_ranking's test"),
             ((test, train.drop(columns="user_id")), "'user_id' is missing from evaluate_ranking's train")]
    for given, missing in cases:
        with pytest.raises(DataError) as err:
            ctr.evaluate_ranking(popular, *given, protocol="full")
        assert missing in str(err.value) and interaction in str(err.value), str(err.value)
    with pytest.raises(ctr.ArgumentError, match=r"evaluate_ranking: train is None; pass the training interactions"):
        popular.evaluate(test, None)
    with pytest.raises(DataError, match=r"^evaluate_ranking's test must be a pandas DataFrame.*got Series"):
        ctr.evaluate_ranking(popular, test["item_id"], train)


def _split_columns_named_otherwise(env: dict) -> None:
    log = env["frame"].head(50).rename(columns={"user_id": "customer", "timestamp": "ts"})
    with pytest.raises(DataError, match=r"^columns 'user_id', 'timestamp' are missing from the data of leave_one_out; "
                                        r"it has: .*: name the columns with user=\.\.\. and time=\.\.\., or give the "
                                        r"spec whose features read them \(spec=\.\.\.\)\)$"):
        ctr.leave_one_out(log)
    with pytest.raises(ArgumentError, match=r"^temporal_split: the second argument \(the fractions\) got a spec "
                                            r"\(FeatureSpec\); give a spec by its keyword"):
        ctr.data.temporal_split(log, env["spec"])


def _unordered_times(env: dict) -> None:
    frame = env["frame"].head(200).reset_index(drop=True)
    us_dates = pd.to_datetime(frame["timestamp"], unit="s").dt.strftime("%m/%d/%Y")
    cases = [(ctr.leave_one_out, frame.assign(timestamp=us_dates), "dates in other formats must be parsed first"),
             (ctr.data.temporal_split, frame.assign(timestamp=frame["timestamp"].astype(float).mask(frame.index == 3)),
              "has no time in 1 of its rows (the first is row 3)"),
             (ctr.data.add_history, frame.assign(user_id=frame["user_id"].astype(float).mask(frame.index == 5)),
              "column 'user_id' has no user in 1 of its rows (the first is row 5)")]
    for split, given, fragment in cases:
        with pytest.raises(DataError) as err:
            split(given)
        assert split.__name__ in str(err.value) and fragment in str(err.value), str(err.value)


def _another_models_backup(env: dict) -> None:
    class Crash(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:  # after the backups of steps 1-3
                raise KeyboardInterrupt

    backup = env["tmp"] / "backup"
    with pytest.raises(KeyboardInterrupt):
        ctr.FM(env["spec"], embedding_dim=4).fit(env["frame"], backup_dir=backup, backup_every=1, callbacks=[Crash()],
                                                 verbose=0)
    for other, differs in ((ctr.DeepFM(env["spec"], embedding_dim=4), "of FM, not DeepFM"),
                           (ctr.FM(env["spec"], embedding_dim=8), "of FM with embedding_dim=4 (8 now)")):
        with pytest.raises(DataError) as err:
            other.fit(env["frame"], backup_dir=backup, verbose=0)
        assert str(err.value).startswith(f"{backup} holds the checkpoint of an interrupted fit {differs}"), err.value
    other_spec = ctr.FeatureSpec(env["spec"].features[:2], label=env["spec"].label, name="other")
    with pytest.raises(DataError, match="holds a training run of a different spec"):
        ctr.FM(other_spec, embedding_dim=4).fit(env["frame"], backup_dir=backup, verbose=0)


def _empty_batch(env: dict) -> None:
    p = env["served"].predict(env["frame"].head(0))
    assert p.shape == (0,)


def _not_an_export(env: dict) -> None:
    folder = env["tmp"] / "not-a-model"
    folder.mkdir()
    with pytest.raises(CtrError, match="no SavedModel here"):
        ctr.load(folder)


def _damaged_export(env: dict) -> None:
    import shutil

    for part, damage, message in [("assets.extra/ctr.json", b"{not json", "ctr.json cannot be read"),
                                  ("saved_model.pb", None, "the SavedModel cannot be loaded (Cannot parse"),
                                  ("variables/variables.data-00000-of-00001", None, "the SavedModel cannot be loaded")]:
        copy = shutil.copytree(env["export"], env["tmp"] / part.replace("/", "-"))
        whole = (copy / part).read_bytes()
        (copy / part).write_bytes(damage if damage is not None else whole[: len(whole) // 3])  # cut short
        with pytest.raises(CtrError, match="the export is damaged or incomplete: export the model again") as err:
            ctr.load(copy)
        assert str(err.value).startswith(f"{copy}: ") and message in str(err.value), str(err.value)


def _raw_signature_names_input(env: dict) -> None:
    import tensorflow as tf

    signature = tf.saved_model.load(str(env["export"])).signatures["serving_default"]
    with pytest.raises(TypeError, match="item_id"):
        signature(user_id=tf.constant([1], tf.int64))


def _no_pickle(env: dict) -> None:
    for path in env["export"].rglob("*"):
        if path.is_file():
            head = path.read_bytes()[:2]
            assert path.suffix not in (".pkl", ".pickle") and head[:1] != b"\x80", path


def _cross_of_both_sides(_: dict) -> None:
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                            ctr.Categorical("item_id", dtype="int", role="item")], crosses=[["user_id", "item_id"]])
    with pytest.raises(SpecError, match=r"crosses\[0\]: 'user_id_x_item_id' crosses user_id \(user\), item_id "
                                        r"\(item\): an item's feature with the query's; TwoTower encodes its queries "
                                        r"and its items apart, .* for the click models \(LogisticRegression, FM, "):
        ctr.TwoTower(spec)


def _draft_without_threshold(_: dict) -> None:
    ratings = pd.DataFrame({"user_id": [1, 2, 1], "item_id": [5, 5, 6], "rating": [1, 4, 5]})
    with pytest.raises(ArgumentError, match=r"the label column 'rating' holds 1 to 5, not only 0 and 1; pass "
                                            r"threshold= \(--label-threshold\)"):
        ctr.draft_spec(ratings)


CATALOGUE: list[Case] = [
    Case("spec", "unknown `kind` (typo)", "SpecError naming `features[i].kind`, the allowed kinds and “did you mean”",
         _spec_error(_spec({"name": "a", "kind": "categorcal"}), "features[0].kind", "did you mean 'categorical'")),
    Case("spec", "feature without `name`", "SpecError: `features[i].name: required`",
         _spec_error(_spec({"kind": "numeric"}), "features[0].name: required")),
    Case("spec", "two features with one name", "SpecError naming both positions",
         _spec_error(_spec(GOOD_FEATURE, GOOD_FEATURE), "features[1].name", "already used by features[0]")),
    Case("spec", "wrong type of a field (`max_length: ten`)",
         "SpecError naming the field, the expected and the given type",
         _spec_error(_spec({"name": "g", "kind": "multi_categorical", "max_length": "ten"}),
                     "features[0].max_length", "expected an integer")),
    Case("spec", "out-of-range number (`max_length: -1`)", "SpecError: must be at least 1",
         _spec_error(_spec({"name": "t", "kind": "text", "max_length": -1}), "must be at least 1")),
    Case("spec", "unknown `role`", "SpecError listing user, item, context",
         _spec_error(_spec({"name": "a", "kind": "categorical", "role": "buyer"}), "features[0].role",
                     "'user', 'item', 'context'")),
    Case("spec", "unknown key in a feature", "SpecError naming the key",
         _spec_error(_spec({"name": "a", "kind": "categorical", "vocab_size": 3}), "vocab_size")),
    Case("spec", "a model's or a fit's setting in the spec (a feature's `embedding_dim`, a top-level `epochs` or "
         "`learning_rate`), or a feature's `type`", "SpecError naming the field and where it goes (the model's "
         "argument, ctr fit's flag; `type: numeric` is `kind: numeric`)",
         _spec_error(_spec({"name": "a", "kind": "categorical", "embedding_dim": 8}),
                     "features[0].embedding_dim: unknown field", "(the embedding size is the model's, one for every "
                     "field", "ctr.DeepFM(spec, embedding_dim=8), or ctr fit --embedding-dim 8)")),
    Case("spec", "a YAML file indented with tabs", "SpecError naming the file and the line, saying YAML indents "
         "with spaces", _spec_error("name: s\nfeatures:\n\t- {name: a}\n",
                                    "is not valid YAML (YAML indents with spaces, not tabs: replace the tabs)")),
    Case("spec", "`features` not a list / spec not a mapping", "SpecError saying what was expected",
         _spec_error({"name": "s", "features": "abc"}, "features: expected a list")),
    Case("spec", "a model's (or a data helper's) spec given as a list of features, a number, or another type",
         "SpecError listing what it takes: a FeatureSpec, a YAML file's path, a ready spec's name, or a mapping "
         "(parsed YAML or JSON, which it reads)", _model_spec_of_another_type),
    Case("spec", "several problems at once", "one SpecError listing every problem",
         _spec_error(_spec({"kind": "numeric"}, {"name": "b", "kind": "nope"}), "features[0].name",
                     "features[1].kind")),
    Case("spec", "malformed YAML", "SpecError with the file, line and column",
         _yaml_error("name: [unclosed\n", "bad.yaml", "line 1")),
    Case("spec", "a key given twice in one YAML mapping (`{name: a, kind: categorical, kind: numeric}`)",
         "SpecError naming the key, the file and both lines (not the last one silently)",
         _yaml_error("name: s\nfeatures:\n  - {name: a, kind: categorical,\n     kind: numeric}\n",
                     "the key 'kind' is given twice in one mapping (first on line 3)", "bad.yaml, line 4")),
    Case("spec", "YAML asking to run code (`!!python/object`)", "SpecError; safe loading never constructs it",
         _yaml_error("!!python/object/apply:os.system ['echo owned']\n", "could not determine a constructor")),
    Case("spec", "a feature named after a column that is no serving input name (`zip code`)",
         "SpecError naming the rule and a name to use, e.g. `zip_code` with `column: zip code`",
         _spec_error(_spec({"name": "zip code", "kind": "categorical"}),
                     "name the feature e.g. 'zip_code' and set column: 'zip code'")),
    Case("spec", "a timestamp's `timezone_feature` naming no categorical feature of text on its side (item, or user "
         "and context) or beside `timezone`",
         "SpecError naming the field, what it must name, what it names and the nearest that fits",
         _spec_error(_spec({"name": "tz", "kind": "numeric"}, {"name": "t", "kind": "timestamp",
                                                                "timezone_feature": "tz"}),
                     "features[1].timezone_feature: 'tz' must name a categorical feature of text",
                     "'tz' is a numeric feature of role 'context'")),
    Case("spec", "a timestamp's `format` that is no time written as digits, year first (`%d/%m/%Y`), or beside "
         "`unit` or a time zone, or `parts` it does not write (an hour of `%Y%m%d`)",
         "SpecError naming the field and the formats there are (or what the format writes)",
         _spec_error(_spec({"name": "t", "kind": "timestamp", "format": "%d/%m/%Y"},
                           {"name": "d", "kind": "timestamp", "format": "%Y%m%d", "parts": ["hour"]}),
                     "features[0].format: '%d/%m/%Y' is no time written as digits, year first: one of '%Y%m'",
                     "features[1].parts[0]: 'hour' is not written in '%Y%m%d'; its parts: 'month'")),
    Case("spec", "a `vector` feature without its `dim` (the vectors' length)",
         "SpecError naming the field and what it must be",
         _spec_error(_spec({"name": "v", "kind": "vector"}), "features[0].dim: required, the length of the vectors")),
    Case("spec", "a weighted `multi_categorical` or `history` whose `weight_separator` is its `separator` (or empty, "
         "or holds a digit, `.` or white space)", "SpecError naming the field, what it must be and what it is",
         _spec_error(_spec({"name": "g", "kind": "multi_categorical", "weighted": True, "weight_separator": "|"},
                           {"name": "item_id", "role": "item"},
                           {"name": "h", "kind": "history", "weighted": True, "weight_separator": "2"}),
                     "features[0].weight_separator: must be a non-empty string other than the separator '|'",
                     "features[2].weight_separator: must hold no digit, '.' or white space, which a weight may hold "
                     "or be spaced by, got '2'")),
    Case("spec", "a cross (`crosses`) naming fewer than two features, a feature the spec lacks, one it cannot read "
         "(a standardised number, a weighted bag, an id with `id_dropout`), or a name already taken",
         "SpecError naming the cross, the feature, what a cross reads (or whose the name is) and the nearest name",
         _spec_error({**_spec({"name": "gender"}, {"name": "year", "kind": "numeric"}),
                      "crosses": [["gender"], ["gender", "yaer"], ["gender", "year"], ["year", "gender", "gender"],
                                  {"features": ["gender", "gender"], "name": "gender"}]},
                     "crosses[0].features: a cross combines two or more features, got ['gender']",
                     "crosses[1].features: 'yaer' is not a feature of the spec (did you mean 'year'?)",
                     "crosses[2].features: 'year' is a numeric feature with transform 'standardize'; a cross reads "
                     "features that are categorical (without id_dropout), multi_categorical (unweighted) or numeric "
                     "with transform: quantile", "crosses[3].features: 'gender' listed more than once",
                     "crosses[4].name: 'gender' is already the name of features[0]")),
    Case("spec", "a recommender (TwoTower, NeuMF, MatrixFactorization) given a cross of an item's feature with a "
         "user's or the context's", "SpecError naming the cross, its features' roles and that a cross reads one "
         "side's features (both sides' are for the click models)", _cross_of_both_sides),
    Case("spec", "drafting a spec (`draft_spec`, `ctr draft-spec`) with a rating label and no threshold",
         "ArgumentError naming the label, the values it holds and `threshold=` (`--label-threshold`)",
         _draft_without_threshold),
    Case("arguments", "a model or fit argument of the wrong type or range (`embedding_dim=0`, `learning_rate='0.1'`)",
         "ArgumentError naming the model, the bad arguments, what each must be and what was given", _bad_arguments),
    Case("arguments", "`wide_only` (the features a click model reads in its wide part alone) naming no feature or "
         "cross of the spec, a history, a feature whose table another shares, an item feature a history embeds, or "
         "every feature", "ArgumentError naming the model, the name, why it cannot be wide only (and the nearest "
         "name)", _wide_only_refused),
    Case("arguments", "an argument the model does not take (`hidden=` for `hidden_units=`)",
         "ArgumentError naming the model and the argument, the nearest one it takes, and all it takes",
         _unknown_argument),
    Case("arguments", "a Keras argument of fit, predict or evaluate that ctr takes otherwise (`sample_weight=`, "
         "`class_weight=`, `y=`, `steps=`)",
         "ArgumentError naming the model's own class, saying how ctr does it (a column of the data: the label, or "
         "`label.weight`) and listing what the method takes", _keras_only_argument),
    Case("arguments", "a required argument left out (`fit()` with no data, Keras' `evaluate(test)` on a "
         "recommender, whose ranking needs the training interactions too)",
         "ArgumentError naming the model's own class, what is missing and how to call the method, where Python's "
         "TypeError named the base class", _missing_argument),
    Case("arguments", "a Keras Model attribute that ctr's models do not have (`model.save(path)`, `compile`, "
         "`get_weights`, `predict_proba`; an export's `fit`), or a model called as a Keras one is (`model(rows)`)",
         "AttributeError saying what ctr offers instead (`export`, the constructor's settings, `model.network_`, "
         "`predict`); for a call, an ArgumentError saying the same", _keras_model_methods),
    Case("arguments", "labels given apart from the data, as Keras takes them (`evaluate(rows, labels)`, "
         "`fit(rows, (rows, labels))`)",
         "ArgumentError: the labels are the data's label column", _keras_y),
    Case("arguments", "`warm_start_from` a model whose weights do not fit (another kind, another `embedding_dim`, "
         "a feature more or fewer for a DeepFM's MLP)",
         "ArgumentError naming both models and what differs (the settings before and now, the features added or "
         "removed); settings and kind before the pass over the data", _warm_start_mismatch),
    Case("arguments", "`ctr.compare` (`ctr compare`) given what cannot be compared: a model name no model has, "
         "click models beside recommenders, a fitted model, a setting no model takes",
         "ArgumentError before any training, naming the model (with the nearest name), the two kinds and how each is "
         "tested, or the setting", _compare_refusals),
    Case("data", "`calibrate` on rows of one class, without the label, or whose clicks fall as the scores rise",
         "DataError naming the label column and the class, the missing column, or the fitted slope", _calibration_rows),
    Case("data", "missing column", "DataError naming the column and listing the columns present",
         _fit_error(lambda f: f.drop(columns=["occupation"]), DataError, "'occupation' is missing", "it has:")),
    Case("data", "a column spelled another way than the spec's (`userId`, `User ID` for `user_id`) or mistyped",
         "DataError naming the missing column and, beside it, the column there that it seems to be (did you mean "
         "'userId'?)", _fit_error(lambda f: f.rename(columns={"user_id": "userId"}), DataError,
                                  "'user_id' is missing", "(did you mean 'userId'?)")),
    Case("data", "extra columns", "ignored", _extra_columns_ignored),
    Case("data", "a column given twice (two `price` columns in one DataFrame, or in a CSV's header, where pandas "
         "would read the second as `price.1`)", "DataError naming the column, how many times it appears and the file",
         _column_twice),
    Case("data", "a Series, a list of values or an array instead of a table (a list of rows, each a mapping, is one)",
         "DataError listing the forms data can take", _not_a_table),
    Case("data", "a JSON file that is not JSON (a line cut short)", "DataError naming the file",
         _cut_json),
    Case("data", "a CSV or JSON file in another encoding than UTF-8 (Windows-1252 or Latin-1, UTF-16)",
         "DataError naming the file, the first line that is not UTF-8 as it reads in that encoding, and how to convert "
         "it (`iconv`, or pandas' `encoding=`)", _not_utf8),
    Case("data", "a `tf.data.Dataset` of (features, label) pairs, as Keras' fit takes them",
         "DataError: the label is a column of the data, with the `dataset.map` that makes it one", _dataset_pairs),
    Case("data", "text in a numeric column", "DataError naming the feature, its column and an offending value",
         _fit_error(_with("price", "cheap"), DataError, "feature 'price'", "expected numbers", "'cheap'")),
    Case("data", "numbers in a numeric column written in two units (`$5` and `€5`, or amounts beside `15%`); one "
         "unit is read (`$1,299.99` is 1299.99, `15%` is 0.15)",
         "DataError naming the feature and a value in each unit",
         _fit_error(lambda f: f.assign(price=["$5", "€5"] * (len(f) // 2) + ["5"] * (len(f) % 2)), DataError,
                    "feature 'price'", "expected numbers in one unit, found '$5' and '€5'")),
    Case("data", "datetimes, durations or complex numbers in a numeric or integer-id column (pandas would read "
         "the first two as counts of their unit, ns or µs)",
         "DataError naming the feature and what the column holds, with the conversion to make (`kind: timestamp`, "
         "`column.dt.total_seconds()`)",
         _fit_error(_with("price", pd.Timestamp("2024-01-01")), DataError, "feature 'price'", "holds datetimes",
                    "kind: timestamp")),
    Case("data", "strings in an integer-id column", "DataError suggesting `dtype: string`",
         _fit_error(lambda f: f.assign(item_id="x" + f["item_id"].astype(str)), DataError, "feature 'item_id'",
                    "dtype: string")),
    Case("data", "integer ids beyond int64 (64-bit ids with gaps are read exactly, never through float64)",
         "DataError naming the feature and suggesting `dtype: string`",
         _fit_error(lambda f: f.assign(item_id=pd.Series([2**70] * len(f), dtype=object, index=f.index)), DataError,
                    "feature 'item_id'", "must fit in a signed 64-bit integer", "dtype: string")),
    Case("data", "a `vector` column whose rows hold another number of values than `dim`, or a value that is no "
         "number, in training or a request", "DataError naming the feature, its column, `dim`, the lengths found "
         "and the first such row, or the value (no vector at all, an empty list or NaN, is served as missing)",
         _vectors_of_another_length),
    Case("data", "a weighted bag's or history's weight that is no number from 0 to 1e9 (`calm:high`, `dark:-1`, a "
         "pair `(\"dark\", -1)`), in training or a request", "DataError naming the feature, its column, the row, the "
         "token and the weight, with how weights are written (an id without one weighs 1; one that holds the weight "
         "separator needs one)", _weights_that_are_no_numbers),
    Case("data", "a `timezone_feature` column holding values that are no IANA time zones (`europe/berlin`)",
         "DataError when the preprocessing is fitted, naming the timestamp, the column and each value, with the "
         "spelling it may mean (a missing zone reads UTC)", _not_a_zone),
    Case("data", "binary ids (bytes that are no UTF-8) as a recommender's user or item ids, or as the item column "
         "`add_history` joins", "DataError naming the column and an id: a catalogue gives ids back as text, and a "
         "history is text (`frame[col].map(bytes.hex)` writes them so); a click model's features read binary ids as "
         "they are", _binary_catalogue_ids),
    Case("data", "a history of integer item ids written with another separator (`12,85,301` where the spec's "
         "separator is a pipe)",
         "DataError naming the feature and the separator it seems to use (the graph would serve no history)",
         _history_with_another_separator),
    Case("data", "a history of integer item ids with weights (`12:5`, each id with its weight) that is not "
         "`weighted`", "DataError naming the feature and quoting the row, with the history's `weighted: true` that "
         "reads them",
         _weights_in_a_plain_history),
    Case("data", "a weighted history over item ids that read as an id and a weight (`tt:0012`)",
         "DataError when the preprocessing is fitted, naming the history, the item feature, such an id and the "
         "`weight_separator` to change (a history could not list them)", _item_ids_read_as_weighted),
    Case("data", "`add_history(weight=...)` whose weight column holds NaN or a number below 0 or above 1e9",
         "DataError naming the column, the first such value and its row, and how many rows hold one",
         _add_history_with_bad_weights),
    Case("data", "a CSV without a header line", "DataError saying its first line looks like a row of data "
         "(Criteo's headerless files are recognised and read as such)", _csv_without_a_header),
    Case("data", "a CSV separated by semicolons (as Excel writes one where a comma is the decimal mark), a .csv "
         "of tabs or a .tsv of commas", "DataError naming the separator its header holds and how to give the file "
         "(another suffix; or the pandas line that converts it, with `decimal=','` when its numbers need it)",
         _csv_of_another_separator),
    Case("data", "text files of another suffix or none: `ratings.dat`, `u.data`, a folder of Hadoop's or Hive's "
         "`part-00000`, `000000_0`, or a note beside Parquet files", "DataError naming the file(s) and the separator "
         "their first line holds, with how to give them (the dataset's folder, a `.csv` or `.tsv` name, the pandas "
         "line that converts them; a note: move it out)", _text_of_another_suffix),
    Case("data", "a spreadsheet (`.xlsx`, `.xls`, `.ods`, or an .xlsx by another name) or a pickled DataFrame",
         "DataError saying what the file is, with how to give its rows (a CSV saved from the sheet, or the pandas "
         "line that converts it; a pickle is not read, since loading one can run any code)", _spreadsheet_or_pickle),
    Case("data", "unparseable timestamps", "DataError naming the feature and a bad value",
         _fit_error(_with("timestamp", "yesterday"), DataError, "feature 'timestamp'", "'yesterday'")),
    Case("data", "a time written as digits (`format: '%Y%m%d'`) that is no time (a 13th month, 30 February)",
         "DataError naming the feature, the row, the value, the format and an example; sent straight to the "
         "SavedModel, served as missing",
         _fit_error(lambda f: f.assign(day=np.where(np.arange(len(f)) == 0, 20150230, 20150228)), DataError,
                    "feature 'day' (timestamp, column 'day')",
                    "row 0 holds 20150230, which is no time written as %Y%m%d (e.g. 20141021)",
                    spec=ctr.FeatureSpec([ctr.Categorical("user_id"), ctr.Timestamp("day", format="%Y%m%d",
                                                                                   parts=["day_of_week"])],
                                         label=ctr.Label("rating", threshold=4)))),
    Case("data", "epoch milliseconds (or micro-, nanoseconds) where the spec's timestamp counts seconds",
         "DataError naming the feature, the year they would mean and the `unit` they fit",
         _fit_error(lambda f: f.assign(timestamp=f["timestamp"].astype("int64") * 1000), DataError,
                    "feature 'timestamp'", "fall in year", "look like milliseconds: set unit: ms")),
    Case("serving", "epoch milliseconds sent to a model trained on seconds",
         "DataError naming the feature and the year they would mean, rather than another time's calendar parts",
         _serving_error(lambda f: f.assign(timestamp=f["timestamp"].astype("int64") * 1000), "feature 'timestamp'",
                        "fall in year", "send seconds (or datetimes) to a model trained on them")),
    Case("data", "NaN and ±inf in numbers", "served: filled with the mean, flagged as missing; probabilities finite",
         _served(_nan_and_inf)),
    Case("data", "empty strings in categories, genres, text", "served: the feature's missing slot",
         _served(_empty_strings)),
    Case("data", "categories never seen in training", "served: out-of-vocabulary buckets, never an error",
         _served(_unseen)),
    Case("data", "values in another form than in training (True/False for F/M, genres joined by ',')",
         "served as unseen; `ctr inspect-data --model` (`inspect_data(data, model=)`) names each under skew",
         _skewed),
    Case("data", "empty dataset", "DataError: the training data has no rows",
         _fit_error(lambda f: f.iloc[:0], DataError, "no rows")),
    Case("data", "an empty file (0 bytes, any format) or a CSV of blank lines",
         "DataError naming the file: empty, or no line naming its columns", _empty_files),
    Case("data", "label not a number / missing", "DataError naming the label column",
         _fit_error(_with("rating", "abc"), DataError, "label column 'rating'", "'abc'")),
    Case("data", "a label of words (an event log's `view`, `addtocart`, `purchase`) where no value is named a click",
         "DataError naming the label column and the words read, suggesting `label.positive`",
         _fit_error(lambda f: f.assign(event=np.where(f.index % 9 == 0, "purchase", "view")), DataError,
                    "label column 'event'", "label: {column: event, positive: purchase}", "'view' (",
                    spec=ctr.FeatureSpec.from_dict({"name": "e", "label": {"column": "event"},
                                                    "features": [{"name": "gender", "kind": "categorical"}]}))),
    Case("data", "`label.positive` naming a value the label column does not hold, near one it does (`purchse`)",
         "DataError naming `label.positive`, the label column and the value meant",
         _fit_error(lambda f: f.assign(event=np.where(f.index % 9 == 0, "purchase", "view")), DataError,
                    "label.positive: 'purchse' is not a value of the label column 'event' (did you mean 'purchase'?)",
                    spec=ctr.FeatureSpec.from_dict({"name": "e", "label": {"column": "event", "positive": "purchse"},
                                                    "features": [{"name": "gender", "kind": "categorical"}]}))),
    Case("data", "a multi-valued feature's rows that are lists of objects (TMDB's `[{\"id\": 28, \"name\": "
         "\"Action\"}]`) and the feature has no `key`",
         "DataError naming the feature, the row, the object and its fields, suggesting `key: name`",
         _fit_error(lambda f: f.assign(genres=[[{"id": 28, "name": "Action"}]] * len(f)), DataError,
                    "feature 'genres' (multi_categorical, column 'genres'): row 0 holds a list of objects",
                    "(e.g. key: name; its fields: id, name)",
                    spec=ctr.FeatureSpec.from_dict({"name": "g", "label": {"column": "rating", "threshold": 4},
                                                    "features": [{"name": "genres", "kind": "multi_categorical"}]}))),
    Case("data", "binary label outside {0, 1}", "DataError suggesting `label.threshold`",
         _fit_error(lambda f: f.assign(clicked=2), DataError, "must be 0 or 1", "threshold",
                    spec=ctr.FeatureSpec.from_dict({"name": "b", "label": {"column": "clicked"},
                                                    "features": [{"name": "gender", "kind": "categorical"}]}))),
    Case("data", "-1/+1 labels (as LIBSVM files give them)", "DataError suggesting `label.threshold: 1`",
         _fit_error(lambda f: f.assign(clicked=np.where(f.index % 2 == 0, -1, 1)), DataError, "must be 0 or 1",
                    "set label.threshold: 1",
                    spec=ctr.FeatureSpec.from_dict({"name": "b", "label": {"column": "clicked"},
                                                    "features": [{"name": "gender", "kind": "categorical"}]}))),
    Case("data", "labels of one class (every row a click, or none); `validation_split`'s last rows all of one "
         "class (rows sorted by their label)", "DataError naming the label column, its rule and the data (training or "
         "validation); for sorted rows, the sorting and how to shuffle them", _one_class),
    Case("data", "row weights (`label.weight`) missing, not numbers, NaN, negative, or all 0",
         "DataError naming the weight column and what a weight must be", _bad_weights),
    Case("data", "aggregated rows (`label.out_of`) counting more clicks than impressions, or impressions missing, "
         "negative or not numbers", "DataError naming the column, what it must hold and the first such row",
         _bad_impressions),
    Case("data", "a damaged MovieLens or Frappe copy (a line cut short, an id listed twice)",
         "DataError naming the file and its first bad line", _damaged_movielens),
    Case("data", "Parquet folder whose files differ in schema", "DataError: the files do not share one schema",
         _mixed_schema_folder),
    Case("data", "a folder of CSV or JSON-lines files whose files differ in columns, or that holds files of "
         "another format", "DataError naming the files and the columns missing and extra, or each format's files",
         _text_folder_of_other_columns),
    Case("data", "TFRecords whose records give a feature different types (integers, then text)",
         "DataError naming the file, the feature, the record and both types", _mixed_tfrecords),
    Case("data", "bad values only in streamed validation files (read during training)",
         "the same DataError, from `fit` (not a TensorFlow error from inside the input pipeline)",
         _bad_streamed_validation),
    Case("data", "a user who interacted with every item (no negative to sample)",
         "DataError naming the user, before training starts (and from `ctr.data.add_negatives`)",
         _user_with_every_item),
    Case("data", "a click model on a spec without a label (interactions only)",
         "DataError: add a label, train a recommender, or make non-clicks with `ctr.data.add_negatives`",
         _click_model_without_label),
    Case("data", "per-user splits (`leave_one_out`, `temporal_split`, `cold_user_split`, `add_history`) given dates "
         "as other text than ISO 8601 (`01/02/2024`), or rows with no time or no user",
         "DataError naming the column and the first such row (date-like text: write it as ISO 8601, or parse it "
         "with `pd.to_datetime`); ISO text with different UTC offsets is ordered as moments", _unordered_times),
    Case("data", "per-user splits and `add_history` on a log whose columns are not `user_id`, `item_id`, `timestamp`, "
         "or given the spec where a column or the fractions go (`leave_one_out(frame, spec)`)",
         "DataError naming the missing columns and saying to name them (`user=`, `time=`) or to pass `spec=`, whose "
         "features name them; ArgumentError saying to give the spec by its keyword", _split_columns_named_otherwise),
    Case("data", "`evaluate(group_by=...)` naming a missing column, or one holding lists",
         "DataError naming the column (and the row of the first list)", _bad_group_by),
    Case("serving", "request without a feature", "DataError naming it and listing the model's inputs",
         _serving_error(lambda f: f.drop(columns=["title"]), "'title'", "the model needs")),
    Case("serving", "request with a mistyped feature", "DataError naming the feature",
         _serving_error(_with("age", "old"), "feature 'age'")),
    Case("serving", "request with a 2-D value for a feature", "DataError naming the column and the shape",
         _serving_error(lambda f: {**{c: f[c].to_numpy() for c in f.columns}, "age": np.ones((4, 2))},
                        "column 'age'", "(4, 2)")),
    Case("serving", "empty batch", "an empty array of probabilities", _empty_batch),
    Case("serving", "recommendation queries holding none of the model's query columns (`uid` for `user_id`), or a "
         "user feature's column misspelt (`gendr`)",
         "DataError naming the columns it reads and those given (not one list for every query); for a misspelt "
         "one, the column it seems to be (not that feature served as missing)", _misnamed_query_id),
    Case("serving", "`evaluate_ranking`'s test or train interactions without the user or item column, or train "
         "left out (`None`)", "DataError naming the argument and the column; ArgumentError saying what train is for",
         _ranking_interactions),
    Case("serving", "raw SavedModel signature called without an input", "TensorFlow's TypeError naming the input",
         _raw_signature_names_input),
    Case("artefacts", "loading a folder that is not a ctr export", "CtrError saying what is missing", _not_an_export),
    Case("artefacts", "loading a damaged export (a file cut short or garbled)",
         "CtrError naming the folder and the part that cannot be read, and saying to export again", _damaged_export),
    Case("artefacts", "`export` to a path ending in `.keras`, `.h5` or `.onnx` (without `format=\"onnx\"`), or "
         "under a file", "ExportError saying an export is a SavedModel folder (for `.onnx`, to pass "
         "`format=\"onnx\"`), or naming the file; nothing is written", _export_to_a_file_name),
    Case("artefacts", "`keras.callbacks.ModelCheckpoint` given a `.keras`, `.h5` or `.onnx` file (not weights only)",
         "ArgumentError before training: a checkpoint is the model's export, a folder", _keras_file_checkpoint),
    Case("artefacts", "`load_weights` of weights another model saved, of a missing file, or into an unfitted model",
         "DataError naming the file and the mismatch, or the missing file; NotFittedError", _foreign_weights),
    Case("artefacts", "`pickle` or `copy.deepcopy` of a trained model",
         "CtrError: `export` keeps the model, `save_weights` and `load_weights` its weights (an untrained one copies)",
         _pickled_trained_model),
    Case("artefacts", "`fit(backup_dir=...)` given the backup of an interrupted fit of another spec, model or "
         "model settings", "DataError before training, naming the folder and the difference (FM, not DeepFM; "
         "`embedding_dim=4 (8 now)`)", _another_models_backup),
    Case("artefacts", "pickle in a saved model", "none: SavedModel, JSON and YAML only", _no_pickle),
]


@pytest.fixture(scope="module")
def env(spec, frame, trained, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("catalogue")
    export = trained["lr"].export(folder / "lr")
    return {"spec": spec, "frame": frame.head(3000), "served": ctr.load(export), "export": export, "tmp": folder,
            "model": trained["lr"]}


@pytest.mark.parametrize("case", CATALOGUE, ids=[f"{c.area}: {c.bad_input}" for c in CATALOGUE])
def test_catalogue_case(case: Case, env: dict, tmp_path: Path) -> None:
    case.check({**env, "tmp": tmp_path})


def table() -> str:
    rows = ["| where | bad input | what you get |", "|---|---|---|"]
    rows += [f"| {c.area} | {c.bad_input} | {c.outcome} |" for c in CATALOGUE]
    return "\n".join(rows)


def test_readme_table_is_the_catalogue() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- catalogue -->\n(.*?)\n<!-- /catalogue -->", readme, re.S)
    assert block, "README.md has no <!-- catalogue --> block"
    assert block.group(1).strip() == table(), "README catalogue differs: run `python tests/test_catalogue.py`"


if __name__ == "__main__":
    sys.stdout.write(table() + "\n")
