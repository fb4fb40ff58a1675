"""Diagnostics: metrics by slice match the slices scored alone; permutation importance ranks planted
signal high and a noise column near zero; the export agrees with the model in memory."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr._keras import keras
from ctr.cli import main
from ctr.inspect import plot_slices
from ctr.metrics import auc, click_metrics, group_auc


@pytest.fixture(scope="module")
def noisy(spec, splits):
    """An FM on the tiny split with one extra categorical column of pure noise."""
    raw = spec.to_dict()
    raw["features"].append({"name": "noise", "kind": "categorical"})
    rng = np.random.default_rng(0)
    train, _, test = (part.assign(noise=rng.integers(0, 50, len(part)).astype(str)) for part in splits)
    model = ctr.FM(ctr.FeatureSpec.from_dict(raw), embedding_dim=8, learning_rate=0.01, batch_size=256)
    model.fit(train, epochs=3, verbose=0)
    return model, test


def test_planted_signal_ranks_high_and_noise_near_zero(noisy):
    model, test = noisy
    table = ctr.feature_importance(model, test, repeats=3, seed=0)
    assert list(table.columns) == ["feature", "column", "auc_drop", "auc_drop_std", "logloss_rise"]
    assert len(table) == len(model.spec.features) and table["auc_drop"].is_monotonic_decreasing
    # The generator plants user taste x genre: genres is among the top three; noise moves AUC by < 0.005.
    assert "genres" in table["feature"].head(3).tolist(), table
    noise = table.set_index("feature").loc["noise"]
    assert abs(noise["auc_drop"]) < 0.005 and table["auc_drop"].max() > 0.02, table
    assert table.attrs["auc"] == pytest.approx(model.evaluate(test)["auc"])
    pd.testing.assert_frame_equal(ctr.feature_importance(model, test, repeats=3, seed=0), table)
    assert not ctr.feature_importance(model, test, repeats=3, seed=1).equals(table)
    sampled = ctr.feature_importance(model, test, repeats=1, seed=0, max_rows=500)
    assert sampled.attrs["rows"] == 500 and len(sampled) == len(table)
    assert ctr.feature_importance(model, test, repeats=1, seed=0, max_rows=len(test)).attrs["rows"] == len(test)


def test_the_export_gives_the_same_importance_and_the_shell_draws_it(noisy, tmp_path, capsys):
    model, test = noisy
    path = model.export(tmp_path / "fm")
    here = ctr.feature_importance(model, test, repeats=2, seed=5)
    served = ctr.feature_importance(ctr.load(path), test, repeats=2, seed=5)
    pd.testing.assert_frame_equal(served, here, atol=1e-4, check_exact=False)
    test.to_parquet(tmp_path / "test.parquet")
    assert main(["importance", "--model", str(path), "--data", str(tmp_path / "test.parquet"), "--repeats", "2",
                 "--seed", "5", "--plot", str(tmp_path / "importance.png"), "--json", str(tmp_path / "imp.json")]) == 0
    out, err = capsys.readouterr()
    assert "genres" in out and f"[1/{len(served)}]" in err  # a progress line per column
    written = json.loads((tmp_path / "imp.json").read_text())
    assert [c["feature"] for c in written["columns"]] == served["feature"].tolist() and written["repeats"] == 2
    picture = (tmp_path / "importance.png").read_bytes()
    assert picture[:8] == b"\x89PNG\r\n\x1a\n" and len(picture) > 5_000


def test_importance_names_what_is_wrong(noisy, spec, splits):
    model, test = noisy
    with pytest.raises(ctr.DataError, match=r"column 'rating' is missing"):
        ctr.feature_importance(model, test.drop(columns="rating"))
    with pytest.raises(ctr.DataError, match=r"rating >= 4 on every one of the \d+ importance rows"):
        ctr.feature_importance(model, test[test["rating"] >= 4])
    with pytest.raises(ctr.DataError, match=r"the importance data has no rows"):
        ctr.feature_importance(model, test.head(0))
    with pytest.raises(ctr.ArgumentError, match=r"feature_importance: repeats must be an integer of at least 1, got 0; "
                                                r"max_rows must be an integer of at least 2, got 1"):
        ctr.feature_importance(model, test, repeats=0, max_rows=1)
    with pytest.raises(ctr.ArgumentError, match=r"model must be a click model .* got Popularity"):
        ctr.feature_importance(ctr.Popularity(spec).fit(splits[0]), test)


def test_each_slice_is_scored_as_its_rows_alone(noisy, tmp_path):
    model, test = noisy
    table = ctr.evaluate_by(model, test, "gender")
    assert table.columns[:3].tolist() == ["gender", "rows", "positive_rate"]
    assert table.iloc[0]["gender"] == "(all)"
    assert table.iloc[0].drop("gender").to_dict() == pytest.approx(model.evaluate(test))
    for _, row in table.iloc[1:].iterrows():
        alone = model.evaluate(test[test["gender"] == row["gender"]])
        assert row.drop("gender").to_dict() == pytest.approx(alone), row["gender"]
    assert table["rows"].iloc[1:].sum() == len(test) and table["rows"].iloc[1:].is_monotonic_decreasing

    ages = ctr.evaluate_by(model, test, "age", bins=4)  # many distinct ages: cut into quantile ranges
    assert 2 <= len(ages) - 1 <= 4 and ages["rows"].iloc[1:].sum() == len(test)
    lows = [float(r.split(",")[0].strip("(")) for r in ages["age"].iloc[1:]]
    assert lows == sorted(lows), ages["age"].tolist()  # ranges in their order, lowest first, not by size
    prices = ctr.evaluate_by(model, test, "price", bins=3)["price"].tolist()
    assert prices[0] == "(all)" and prices[-1] == "(missing)" and test["price"].isna().any()
    # Prices written as a shop does ('$1,234.50') are cut as the numbers the model reads, not a slice each.
    written = test.assign(price=test["price"].map(lambda p: f"${p:,.2f}", na_action="ignore"))
    assert len(ctr.evaluate_by(model, written, "price", bins=3)) == len(prices)
    genres = ctr.evaluate_by(model, test, "genres").set_index("genres")  # a row counts in each of its genres
    for genre in ("Family", "Thriller"):
        assert genres.loc[genre, "rows"] == sum(genre in g.split("|") for g in test["genres"])
    # A text feature's rows by each of their words, as the model reads them (lower-cased, the first max_length).
    titled = test.assign(title=test["title"].str.upper().where(test.index % 7 > 0, ""))
    words = ctr.evaluate_by(model, titled, "title").set_index("title")
    read = [t.lower().split()[:model.spec["title"].max_length] for t in titled["title"]]
    word = words.index[1]
    assert words.loc[word, "rows"] == sum(word in r for r in read) and word == word.lower()
    assert words.loc["(missing)", "rows"] == sum(not r for r in read)
    assert words.loc[word].to_dict() == pytest.approx(model.evaluate(titled[[word in r for r in read]]))
    pairs = ctr.evaluate_by(model, test, ["gender", "occupation"])
    assert pairs["rows"].iloc[1:].sum() == len(test) and set(pairs.columns[:2]) == {"gender", "occupation"}
    # A timestamp feature's times, in any form, in ranges of time named by their first and last moment.
    seconds = ctr.evaluate_by(model, test, "timestamp", bins=3)
    moments = pd.to_datetime(test["timestamp"], unit="s")
    written = moments.dt.strftime("%Y-%m-%d %H:%M:%S")
    for times in (moments, written, written + " UTC"):
        again = ctr.evaluate_by(model, test.assign(timestamp=times), "timestamp", bins=3)
        pd.testing.assert_frame_equal(again, seconds)
    first, last = written.min(), written.max()
    assert len(seconds) == 4 and seconds["timestamp"].iloc[1].startswith(f"{first} … ")
    assert seconds["timestamp"].iloc[3].endswith(f" … {last} UTC") and seconds["rows"].iloc[1:].sum() == len(test)
    days = ctr.evaluate_by(model, test.assign(timestamp=moments.dt.floor("D").iloc[0]), "timestamp")
    assert days["timestamp"].tolist() == ["(all)", f"{moments.dt.floor('D').iloc[0]:%Y-%m-%d} 00:00 UTC"]

    heavy = np.where(test["rating"] >= 4, 2.0, 1.0)
    weighted = ctr.FeatureSpec.from_dict({**model.spec.to_dict(), "label": {"column": "rating", "threshold": 4,
                                                                            "weight": "w"}})
    served = ctr.load(model.export(tmp_path / "fm"))
    shown = ctr.evaluate_by(served, test.assign(w=heavy), "gender")
    here = ctr.evaluate_by(model, test, "gender")
    np.testing.assert_allclose(shown["auc"], here["auc"], atol=1e-5)  # the export agrees (its spec is unweighted)
    # Any object with a spec and `predict` will do: here the model's scores under a spec with weights.
    by_weight = ctr.evaluate_by(SimpleNamespace(spec=weighted, predict=model.predict), test.assign(w=heavy), "gender")
    females = test["gender"] == "F"
    expected = click_metrics((test["rating"] >= 4)[females], model.predict(test[females]), heavy[females])
    assert by_weight.set_index("gender").loc["F"].to_dict() == pytest.approx(expected)


def test_slices_name_what_is_wrong_and_the_shell_reports_them(noisy, spec, splits, tmp_path, capsys):
    model, test = noisy
    with pytest.raises(ctr.DataError, match=r"column 'region' is missing from the data"):
        ctr.evaluate_by(model, test, "region")
    with pytest.raises(ctr.ArgumentError, match=r"evaluate_by: by must be a column name or a list of them"):
        ctr.evaluate_by(model, test, [])
    with pytest.raises(ctr.ArgumentError, match=r"evaluate_by: model must be a click model"):
        ctr.evaluate_by(ctr.Popularity(spec).fit(splits[0]), test, "gender")
    with pytest.raises(ctr.DataError, match=r"the evaluation data has no rows"):
        ctr.evaluate_by(model, test.head(0), "gender")
    path = model.export(tmp_path / "fm")
    test.to_parquet(tmp_path / "test.parquet")
    capsys.readouterr()
    assert main(["evaluate", "--model", str(path), "--data", str(tmp_path / "test.parquet"), "--by", "gender"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {s["gender"] for s in shown["by"]} == {"F", "M"} and sum(s["rows"] for s in shown["by"]) == len(test)
    assert shown["auc"] == pytest.approx(ctr.evaluate_by(model, test, "gender")["auc"][0], abs=1e-5)
    # A --by column not in the data, named before any row is scored (no progress bar), with the one it may be.
    assert main(["evaluate", "--model", str(path), "--data", str(tmp_path / "test.parquet"), "--by", "gendr"]) == 2
    said = capsys.readouterr().err
    assert said.startswith("ctr evaluate: error: column 'gendr' is missing from ") and said.endswith(
        "(did you mean 'gender'?) (--by slices the figures by it)\n"), said
    # With --plot, the slices' AUC and calibration are drawn beside the reliability curve.
    assert main(["evaluate", "--model", str(path), "--data", str(tmp_path / "test.parquet"), "--by", "gender",
                 "--plot", str(tmp_path / "plots" / "curve.png")]) == 0
    assert f"figures by gender: {tmp_path / 'plots' / 'curve_by_gender.png'}" in capsys.readouterr().err
    assert (tmp_path / "plots" / "curve_by_gender.png").read_bytes()[:4] == b"\x89PNG"


def test_the_slices_figure_shows_each_slices_auc_and_calibration(noisy, tmp_path, monkeypatch):
    model, test = noisy
    drawn = {}
    monkeypatch.setattr(ctr.inspect, "save_figure", lambda plt, fig, path: drawn.setdefault("fig", fig))
    table = ctr.evaluate_by(model, test.assign(one=np.where(np.arange(len(test)) < 5, "tiny", "big")), "one")
    table.loc[table.one == "tiny", "auc"] = np.nan  # a slice of one class has no AUC
    plot_slices(table, tmp_path / "slices.png")
    auc_axis, calibration_axis = drawn["fig"].axes
    assert [t.get_text() for t in auc_axis.get_yticklabels()] == ["tiny (5)", f"big ({len(test) - 5:,})"][::-1]
    assert f"(all rows, dashed: {table.auc[0]:.4f})" in auc_axis.get_xlabel()
    assert any(t.get_text().strip() == "one class" for t in auc_axis.texts)
    bars = {round(b.get_y() + b.get_height() / 2): b.get_width() for b in calibration_axis.patches}
    assert bars[1] == pytest.approx(table.calibration[1] - 1.0)  # the first slice, on top
    drawn.clear()
    plot_slices(ctr.evaluate_by(model, test, "occupation"), tmp_path / "most.png", most=3)
    assert len(drawn["fig"].axes[0].get_yticklabels()) == 3 and "the first 3 of" in drawn["fig"]._suptitle.get_text()
    with pytest.raises(ctr.CtrError, match="no slices in the table to plot"):
        plot_slices(table.head(1), tmp_path / "none.png")



def test_group_auc_is_each_groups_auc_weighted_by_its_rows():
    # By hand: a orders its pair (1.0), b one of its two pairs (0.5); c has clicks only, and the last
    # row no group: neither counts.
    shown = group_auc([1, 0, 1, 0, 0, 1, 1, 0], [0.9, 0.1, 0.2, 0.5, 0.1, 0.3, 0.4, 0.6],
                      ["a", "a", "b", "b", "b", "c", "c", None])
    assert shown == {"gauc": pytest.approx((2 * 1.0 + 3 * 0.5) / 5), "gauc_groups": 2, "gauc_rows": 5}
    # A model that knows which users click more, and nothing about each user's rows: a fine global
    # AUC, and a group AUC of one half.
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(200), 20)
    rate = rng.uniform(0.05, 0.95, 200)
    labels = rng.random(len(users)) < rate[users]
    assert auc(labels, rate[users]) > 0.7 and group_auc(labels, rate[users], users)["gauc"] == pytest.approx(0.5)
    # Against each group's own AUC, with ties, weights (zero too), one-class groups and missing groups.
    for trial in range(200):
        n = int(rng.integers(0, 40))
        y, s = rng.integers(0, 2, n), rng.integers(0, 4, n) / 3
        g = rng.choice(np.array(["a", "b", "c", None, 7], dtype=object), n)
        w = rng.choice([0.0, 0.5, 1.0, 3.0], n) if trial % 2 else None
        each = [(mask.sum() if w is None else w[mask].sum(), auc(y[mask], s[mask], None if w is None else w[mask]),
                 mask.sum()) for mask in (g == k for k in ("a", "b", "c", 7))]
        scored = [(size, a, rows) for size, a, rows in each if not np.isnan(a)]
        got = group_auc(y, s, g, w)
        assert (got["gauc_groups"], got["gauc_rows"]) == (len(scored), sum(r for _, _, r in scored)), trial
        if scored:
            want = sum(size * a for size, a, _ in scored) / sum(size for size, _, _ in scored)
            assert got["gauc"] == pytest.approx(want, abs=1e-12), trial
        else:
            assert np.isnan(got["gauc"]), trial


def _mind_mrr_and_ndcg(y: np.ndarray, s: np.ndarray, k: int) -> tuple[float, float]:
    """MIND's own scoring of one impression (its evaluate.py: mrr_score, ndcg_score), as published."""
    def dcg(truth: np.ndarray, score: np.ndarray) -> float:
        order = np.argsort(score)[::-1]
        gains = 2 ** np.take(truth, order[:k]) - 1
        return float(np.sum(gains / np.log2(np.arange(len(gains)) + 2)))
    ordered = np.take(y, np.argsort(s)[::-1])
    return float(np.sum(ordered / (np.arange(len(ordered)) + 1)) / np.sum(ordered)), dcg(y, s) / dcg(y, y)


def test_group_ranking_is_minds_mrr_and_ndcg_averaged_over_impressions():
    from ctr.metrics import group_ranking

    # By hand: a ranks its click 2nd of 3 (MRR 1/2, NDCG 1/log2(3)); b its two clicks 1st and 3rd; c has
    # clicks only and the last row no group: neither counts. A tie ranks in row order.
    shown = group_ranking([0, 1, 0, 1, 0, 1, 1, 1, 0], [0.9, 0.5, 0.1, 0.8, 0.5, 0.5, 0.3, 0.2, 0.6],
                          ["a", "a", "a", "b", "b", "b", "c", "c", None], ks=(1, 5))
    b_ndcg = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    assert shown == pytest.approx({"group_mrr": (1 / 2 + (1 + 1 / 3) / 2) / 2, "group_ndcg@1": (0 + 1) / 2,
                                   "group_ndcg@5": (1 / np.log2(3) + b_ndcg) / 2})
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 300, 5000)
    y, s = (rng.random(5000) < 0.15).astype(float), rng.random(5000)
    each = [_mind_mrr_and_ndcg(y[groups == g], s[groups == g], k) for k in (5, 10) for g in range(300)
            if 0 < y[groups == g].sum() < (groups == g).sum()]
    half = len(each) // 2
    assert group_ranking(y, s, groups) == pytest.approx({
        "group_mrr": np.mean([m for m, _ in each[:half]]), "group_ndcg@5": np.mean([n for _, n in each[:half]]),
        "group_ndcg@10": np.mean([n for _, n in each[half:]])}, abs=1e-12)


def test_metrics_name_rows_that_do_not_pair_up_or_are_not_probabilities():
    from ctr.metrics import logloss, reliability

    y, p = np.array([1.0, 0.0, 1.0]), np.array([0.9, 0.2, 0.4])
    with pytest.raises(ctr.DataError, match=r"auc: 3 labels, 2 scores; give one of each per row"):
        auc(y, p[:2])  # it scored 0.5 on the rows that paired up
    with pytest.raises(ctr.DataError, match=r"click_metrics: 3 labels, 3 probabilities, 2 weights"):
        click_metrics(y, p, weights=np.ones(2))
    with pytest.raises(ctr.DataError, match=r"auc: 1 of the 3 scores are NaN"):
        auc(y, np.array([0.9, np.nan, 0.4]))
    for bad, shown in ((1.5, "1.5"), (np.nan, "nan"), (-0.1, "-0.1")):
        for metric in (logloss, reliability, click_metrics):
            expected = rf"1 of the 3 probabilities are not in \[0, 1\] \(the first: {shown}\)"
            with pytest.raises(ctr.DataError, match=expected):
                metric(y, np.array([0.9, bad, 0.4]))
    assert auc(y, np.array([5.0, -3.0, 0.0])) == 1.0  # scores (logits, say) need not be probabilities


def test_evaluate_reports_the_group_auc_in_python_and_the_shell(noisy, tmp_path, capsys):
    model, test = noisy
    shown = model.evaluate(test, group_by="user_id")
    clicks, scores = (test["rating"] >= 4).to_numpy(), model.predict(test)
    assert shown == pytest.approx({**model.evaluate(test), **group_auc(clicks, scores, test["user_id"]),
                                   **ctr.metrics.group_ranking(clicks, scores, test["user_id"])})
    assert 0 < shown["group_ndcg@5"] < 1 and 0 < shown["group_mrr"] < 1
    assert 0.5 < shown["gauc"] < shown["auc"] and shown["gauc_groups"] > 10
    sliced = ctr.evaluate_by(model, test, "gender", group_by="user_id").set_index("gender")
    assert sliced.loc["(all)"].to_dict() == pytest.approx(shown)
    for gender in ("F", "M"):
        alone = model.evaluate(test[test["gender"] == gender], group_by="user_id")
        assert sliced.loc[gender].to_dict() == pytest.approx(alone), gender
    with pytest.raises(ctr.DataError, match=r"column 'account' is missing from the data.*\(group_by names it"):
        model.evaluate(test, group_by="account")
    listed = test.assign(genres=test["genres"].str.split("|"))
    with pytest.raises(ctr.DataError, match=r"column 'genres' must hold one group per row .* row 0 holds \["):
        model.evaluate(listed, group_by="genres")
    with pytest.raises(ctr.ArgumentError, match=r"FM.evaluate: group_by must be a column name"):
        model.evaluate(test, group_by=["user_id"])
    path = model.export(tmp_path / "fm")
    test.to_parquet(tmp_path / "test.parquet")
    capsys.readouterr()
    assert main(["evaluate", "--model", str(path), "--data", str(tmp_path / "test.parquet"), "--group-by",
                 "user_id", "--by", "gender"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in printed.items() if k != "by"} == pytest.approx(shown, abs=1e-5)
    assert {s["gender"]: s["gauc"] for s in printed["by"]} == pytest.approx(sliced["gauc"].drop("(all)").to_dict(),
                                                                            abs=1e-5)
    assert ctr.load(path).evaluate(tmp_path / "test.parquet", group_by="user_id") == pytest.approx(shown, abs=1e-5)
    assert main(["evaluate", "--model", str(path), "--data", str(tmp_path / "test.parquet"), "--group-by",
                 "account"]) == 2
    assert "column 'account' is missing from the data" in capsys.readouterr().err


def test_fit_logs_the_validation_group_auc_for_early_stopping(spec, splits):
    train, valid, _ = splits
    model = ctr.FM(spec, embedding_dim=4, learning_rate=0.01, batch_size=256)
    stop = keras.callbacks.EarlyStopping(monitor="val_gauc", mode="max", patience=1)
    history = model.fit(train, validation_data=valid, epochs=3, callbacks=[stop], group_by="user_id", verbose=0)
    assert len(history.history["val_gauc"]) == len(history.history["val_auc"]) == 3
    assert 0.5 < history.history["val_gauc"][-1] < 1
    assert stop.best == max(history.history["val_gauc"])  # the callbacks after it see val_gauc
    # Scored with the weights validation scored (the average), which the model holds at the end.
    assert history.history["val_gauc"][-1] == pytest.approx(model.evaluate(valid, group_by="user_id")["gauc"],
                                                            abs=1e-6)
    with pytest.raises(ctr.ArgumentError, match=r"FM.fit: group_by reports the validation rows' group AUC"):
        ctr.FM(spec).fit(train, group_by="user_id")
    untrained = ctr.FM(spec)
    with pytest.raises(ctr.DataError, match=r"column 'account' is missing from the data.*\(group_by names it"):
        untrained.fit(train, validation_data=valid, group_by="account")
    assert not untrained.preprocessor_.fitted  # refused before any work


def _exact_shapley(model, row: pd.DataFrame, other: pd.DataFrame, columns: list[str], scores: bool = False
                   ) -> np.ndarray:
    """Each column's Shapley value of the logit (a recommender's: of the score) against one background
    row, over all 2^C subsets."""
    c = len(columns)
    masks = (np.arange(2 ** c)[:, None] >> np.arange(c)[None, :]) & 1 == 1  # subset s holds column j: bit j
    mixed = pd.DataFrame({column: row[column].iloc[[0] * len(masks)].reset_index(drop=True).where(
        masks[:, j], other[column].iloc[[0] * len(masks)].reset_index(drop=True)) for j, column in enumerate(columns)})
    value = model.predict(mixed).astype(np.float64)
    if not scores:
        p = np.clip(value, 1e-12, 1 - 1e-12)
        value = np.log(p) - np.log1p(-p)
    sizes = masks.sum(axis=1)
    weight = np.array([math.factorial(k) * math.factorial(c - k - 1) / math.factorial(c) for k in range(c)])
    shares = np.zeros(c)
    for j in range(c):
        without = np.flatnonzero(~masks[:, j])
        shares[j] = np.sum(weight[sizes[without]] * (value[without | (1 << j)] - value[without]))
    return shares


def test_explain_takes_a_recommenders_score_of_a_user_and_an_item_apart(spec, splits, tmp_path, capsys):
    """A recommender's pair scores: shares of the score (no logit), adding up to it; exact Shapley values
    for MatrixFactorization, whose score is a dot product of sums (pairs of columns at most); an export
    explains as its model, from the shell too."""
    train, _, test = splits
    rows, other = test.iloc[:3].reset_index(drop=True), test.iloc[[10]].reset_index(drop=True)
    for model in (ctr.MatrixFactorization(spec, embedding_dim=4, seed=0),
                  ctr.TwoTower(spec, embedding_dim=4, hidden_units=(8,), seed=0)):
        model.fit(train.head(3000), epochs=1, verbose=0)
        table = ctr.explain(model, rows, background=other, permutations=4, seed=1)
        columns = [c for c in table.columns if c not in ("base_score", "score")]
        assert list(table.columns[-2:]) == ["base_score", "score"] and table.attrs["scale"] == "score"
        np.testing.assert_allclose(table[columns].sum(axis=1) + table["base_score"], table["score"], atol=1e-9)
        np.testing.assert_allclose(table["score"], model.predict(rows), atol=1e-5)
        if isinstance(model, ctr.MatrixFactorization):
            for i in range(len(rows)):
                np.testing.assert_allclose(table.loc[i, columns].to_numpy(dtype=float),
                                           _exact_shapley(model, rows.iloc[[i]], other, columns, scores=True),
                                           atol=2e-5)
    path = model.export(tmp_path / "two_tower")
    pd.testing.assert_frame_equal(ctr.explain(ctr.load(path), rows, background=test, seed=3),
                                  ctr.explain(model, rows, background=test, seed=3), atol=1e-5)
    # A user id and an item id are a whole pair: the stored features fill the rest, as predict fills them.
    ids = rows[["user_id", "item_id"]].assign(user_id=train["user_id"].iloc[:3].to_numpy())
    whole = model.pair_rows(ids)
    for explained in (model, ctr.load(path)):
        pd.testing.assert_frame_equal(ctr.explain(explained, ids, background=train.head(50), seed=2),
                                      ctr.explain(explained, whole, background=train.head(50), seed=2), atol=1e-6)
    # Popularity reads the item id alone: all of the score is the item's.
    popular = ctr.Popularity(spec).fit(train)
    counted = ctr.explain(popular, ids, background=train.head(50), permutations=2)
    assert list(counted.columns) == ["user_id", "item_id", "base_score", "score"]
    assert (counted["user_id"] == 0).all()
    np.testing.assert_allclose(counted["item_id"], counted["score"] - counted["base_score"])
    capsys.readouterr()
    assert main(["recommend", "--model", str(path), "--user", str(train["user_id"].iloc[0]), "--k", "2",
                 "--explain"]) == 0
    said = capsys.readouterr().out
    assert "\nwhy (each column's share of the score against other catalogue items for this user, 16 of 100" in said
    assert "\n  1. item_id " in said and "\n  2. item_id " in said and "user_id =" not in said.split("why")[1]
    assert main(["recommend", "--model", str(path), "--similar-to", "1", "--explain"]) == 2
    assert "--explain takes one user's list apart" in capsys.readouterr().err
    test.to_parquet(tmp_path / "test.parquet")
    capsys.readouterr()
    assert main(["explain", "--model", str(path), "--data", str(tmp_path / "test.parquet"), "--rows", "1",
                 "--plot", str(tmp_path / "why.png")]) == 0
    said = capsys.readouterr().out
    assert said.startswith("each column's share of the score, from 16 of ") and "\nrow 0: score " in said
    assert (tmp_path / "why.png").read_bytes()[:4] == b"\x89PNG"


def test_explain_takes_each_score_apart_into_its_columns_shares(trained, splits, tmp_path, capsys):
    """The shares add up to the logit exactly; against one background row they are the exact Shapley
    values for LR and FM (pairwise at most, so an order and its reverse split each pair's term); an
    export explains as the model it came from."""
    _, _, test = splits
    rows, other = test.iloc[:3].reset_index(drop=True), test.iloc[[10]].reset_index(drop=True)
    for name in ("lr", "fm", "deepfm"):
        model = trained[name]
        table = ctr.explain(model, rows, background=other, permutations=4, seed=1)
        columns = [c for c in table.columns if c not in ("base_logit", "logit")]
        assert columns == list(dict.fromkeys(f.source for f in model.spec.features))
        np.testing.assert_allclose(table[columns].sum(axis=1) + table["base_logit"], table["logit"], atol=1e-9)
        p = model.predict(rows).astype(np.float64)
        np.testing.assert_allclose(table["logit"], np.log(p) - np.log1p(-p), atol=1e-5)
        if name != "deepfm":  # an MLP's columns interact beyond pairs: sampled, not exact
            for i in range(len(rows)):
                np.testing.assert_allclose(table.loc[i, columns].to_numpy(dtype=float),
                                           _exact_shapley(model, rows.iloc[[i]], other, columns), atol=2e-5)
    served = ctr.load(trained["deepfm"].export(tmp_path / "deepfm"))
    pd.testing.assert_frame_equal(ctr.explain(served, rows, background=test, seed=3),
                                  ctr.explain(trained["deepfm"], rows, background=test, seed=3), atol=1e-5)
    with pytest.raises(ctr.ArgumentError, match=r"explain: permutations must be even .*, got 5"):
        ctr.explain(served, rows, permutations=5)
    with pytest.raises(ctr.DataError, match=r"explain: the data has no rows to explain"):
        ctr.explain(served, rows.head(0))
    with pytest.raises(ctr.DataError, match=r"column 'genres' is missing"):
        ctr.explain(served, rows.drop(columns="genres"))
    # The shell: the first rows, each column's share largest first, a plot and the table.
    test.to_parquet(tmp_path / "test.parquet")
    capsys.readouterr()
    assert main(["explain", "--model", str(tmp_path / "deepfm"), "--data", str(tmp_path / "test.parquet"), "--rows",
                 "2", "--plot", str(tmp_path / "why.png"), "--out", str(tmp_path / "why.csv")]) == 0
    said = capsys.readouterr().out
    assert said.startswith("each column's share of the logit, from 16 of ") and "\nrow 1: probability " in said
    written = pd.read_csv(tmp_path / "why.csv")
    assert len(written) == 2 and list(written.columns[-2:]) == ["base_logit", "logit"]
    assert (tmp_path / "why.png").read_bytes()[:4] == b"\x89PNG"
