"""Seeing the data and the model: the data report, its PNG, training curves and the embedding map."""

from __future__ import annotations

import json
import unicodedata

import numpy as np
import pandas as pd
import pytest

import ctr
from ctr.cli import main
from ctr.datasets.synthetic import GENRES
from ctr.inspect import feature_skew, history_panels, inspect_data, plot_data_report, plot_history

PNG = b"\x89PNG\r\n\x1a\n"


def _valid_png(path) -> bool:
    from PIL import Image

    with Image.open(path) as image:
        image.verify()
    return path.read_bytes()[:8] == PNG and path.stat().st_size > 5_000


def test_data_report_counts_by_hand():
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                            ctr.Categorical("item_id", dtype="int", role="item"),
                            ctr.Numeric("price", role="item"), ctr.MultiCategorical("genres", role="item")],
                           label=ctr.Label("rating", threshold=4))
    frame = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [10, 11, 10, 10], "price": [1.0, np.nan, 2.0, 2.0],
                          "genres": ["A|B", "", "B", "C"], "rating": [5, 1, 4, 2]})
    report = inspect_data(frame, spec)
    assert (report.rows, report.users, report.items) == (4, 3, 2)
    assert report.sparsity == pytest.approx(1 - 4 / 6)
    assert report.label["positive_rate"] == 0.5 and report.label["distribution"] == {"1": 1, "2": 1, "4": 1, "5": 1}
    by_name = {f.name: f for f in report.features}
    assert by_name["price"].missing_rate == 0.25 and by_name["price"].cardinality == 2
    assert by_name["genres"].missing_rate == 0.25 and by_name["genres"].cardinality == 3
    assert "sparsity: 33.3333%" in report.to_text()


def test_the_label_panel_colours_each_value_by_what_it_makes(tmp_path, monkeypatch):
    """An event log's bars: its positive values' in the click colour, the rest in the other."""
    drawn = {}
    monkeypatch.setattr(ctr.inspect, "save_figure", lambda plt, fig, path: drawn.setdefault("fig", fig))
    spec = ctr.FeatureSpec([ctr.Categorical("user_id", role="user")],
                           label=ctr.Label("event", positive=["cart", "buy"]))
    frame = pd.DataFrame({"user_id": ["a", "b", "a", "c"], "event": ["view", "buy", "view", "cart"]})
    plot_data_report(frame, spec, tmp_path / "data.png")
    ax = drawn["fig"].axes[0]
    assert ax.get_title() == "event (click: cart or buy)"
    colours = {t.get_text(): bar.get_facecolor() for t, bar in zip(ax.get_xticklabels(), ax.patches, strict=True)}
    assert colours["buy"] == colours["cart"] != colours["view"]


def test_data_beside_a_model_names_what_training_never_showed_it(trained, splits, tmp_path, capsys, monkeypatch):
    """Skew: a model, its export or its folder sets the data beside its fitted state; a column gone
    empty, values renamed or separated otherwise, and numbers in other units are named."""
    model = trained["lr"]
    _, _, test = splits
    same = inspect_data(test, model=model)
    by_name = {f.name: f for f in same.features}
    assert same.skew == [] and "skew: none found" in same.to_text()
    assert by_name["gender"].unseen_rate == 0 and by_name["gender"].trained_missing_rate == 0
    assert abs(by_name["price"].shift) < 0.2 and abs(by_name["age"].shift) < 0.2  # quantile age has moments too
    assert 0.005 < by_name["price"].trained_missing_rate < 0.1 and by_name["timestamp"].unseen_rate is None
    # By hand: 'x' is unseen in two rows of four present ('' is missing, not unseen).
    # 'r' keeps values seen twice: half its training values were outside the vocabulary too, so 60% is no skew.
    spec = ctr.FeatureSpec([ctr.Categorical("c"), ctr.Numeric("n"), ctr.MultiCategorical("m"),
                            ctr.Categorical("r", min_count=2)], label=ctr.Label("y"))
    small = ctr.LogisticRegression(spec, batch_size=4)
    small.fit(pd.DataFrame({"c": ["a", "b"] * 4, "n": [1.0, 3.0] * 4, "m": ["p|q", "q"] * 4,
                            "r": ["a", "a", "u1", "u2", "a", "a", "u3", "u4"], "y": [0, 1] * 4}), epochs=1, verbose=0)
    report = inspect_data(pd.DataFrame({"c": ["a", "x", "", "x", "b"], "n": [5.0] * 5, "m": ["p,q"] * 2 + ["q"] * 3,
                                        "r": ["a", "v", "w", "a", "x"], "y": [0] * 5}), model=small)
    c, n, m, r = report.features
    assert (c.unseen_rate, c.unseen, c.missing_rate, c.trained_missing_rate) == (0.5, ["x"], 0.2, 0.0)
    assert (r.unseen_rate, r.trained_unseen_rate, c.trained_unseen_rate) == (0.6, 0.5, 0.0)
    assert n.shift == pytest.approx(3.0)  # (5 - 2) / 1, the training mean and standard deviation
    assert m.unseen_rate == pytest.approx(0.4) and m.unseen == ["p,q"]  # below half, but known values joined
    assert [line.split(":")[0] for line in report.skew] == [
        "'c' is missing in 20.0% of the rows, against 0.0% in training", "'c'", "'n'", "'m'"]
    assert "are they separated by ',', where the spec says '|'?" in report.skew[3]
    # The export, loaded or by folder, and the shell.
    bad = test.assign(gender=test["gender"] == "F", title="", price=test["price"] * 100)
    path = model.export(tmp_path / "lr")
    for given in (path, ctr.load(path)):
        skew = inspect_data(bad, model=given).skew
        assert [line.split(":")[0] for line in skew] == ["'gender'", "'title' is missing in 100.0% of the rows, "
                                                         "against 0.0% in training", "'price'"]
    bad.to_parquet(tmp_path / "bad.parquet")
    assert main(["inspect-data", "--model", str(path), "--data", str(tmp_path / "bad.parquet"),
                 "--out", str(tmp_path / "report.png")]) == 0
    from PIL import Image

    with Image.open(tmp_path / "report.png") as image:  # a second row: missing and unseen, here and at fit
        assert _valid_png(tmp_path / "report.png") and image.size[1] > 800
    text = capsys.readouterr().out
    assert "missing@fit   unseen  unseen@fit   shift" in text
    assert "skew: 'gender': 100.0% of its values are outside the model" in text
    assert main(["evaluate", "--model", str(path), "--data", str(tmp_path / "bad.parquet")]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert [line.split(":")[:3] for line in warned] == [["ctr evaluate", " warning", " skew"]] * 3
    assert "'gender': 100.0% of its values are outside the model" in warned[0] and "--model " + str(path) in warned[0]
    assert feature_skew(bad, path) == inspect_data(bad, model=path).skew
    monkeypatch.setattr("ctr.inspect._SKEW_ROWS", 300)  # measured on a seeded sample of the rows, beyond it
    sampled = feature_skew(bad, path)
    assert [line[:9] for line in sampled] == ["'gender':", "'title' i", "'price': "]
    assert sampled == feature_skew(bad, path)  # the same sample each time
    with pytest.raises(ctr.NotFittedError, match="LogisticRegression is not trained yet"):
        inspect_data(test, model=ctr.LogisticRegression(model.spec))
    with pytest.raises(ctr.ArgumentError, match=r"inspect_data: give the spec \(a FeatureSpec, .*\), or model="):
        inspect_data(test)
    with pytest.raises(ctr.ArgumentError, match="Popularity holds no fitted features to set the data beside"):
        inspect_data(test, model=ctr.Popularity(model.spec))


def test_skew_names_values_spelled_with_other_white_space_or_case():
    spec = ctr.FeatureSpec([ctr.Categorical("city"), ctr.MultiCategorical("genres"), ctr.Text("title")],
                           label=ctr.Label("y"))
    model = ctr.LogisticRegression(spec, batch_size=4)
    model.fit(pd.DataFrame({"city": ["Paris", "Lyon"] * 4, "genres": ["Drama|War", "Comedy"] * 4,
                            "title": ["Big Fish", "Up"] * 4, "y": [0, 1] * 4}), epochs=1, verbose=0)
    sent = pd.DataFrame({"city": [" Paris", "Lyon ", "Paris", "lyon"], "genres": ["drama|war", "Comedy"] * 2,
                         "title": ["BIG FISH!", "up"] * 2, "y": 0})
    skew = feature_skew(sent, model)
    assert skew == [
        "'city': 75.0% of its values are outside the model's vocabulary (e.g. ' Paris', 'Lyon ', 'lyon'), and are "
        "served as unseen: they are values the model knows but for the white space around them and their letter "
        "case (' Paris' where training had 'Paris'): tidy them before they are sent",
        "'genres': 66.7% of its values are outside the model's vocabulary (e.g. 'drama', 'war'), and are served as "
        "unseen: they are values the model knows but for their letter case ('drama' where training had 'Drama'): "
        "tidy them before they are sent"]  # text is lower-cased and stripped by the model: no skew
    # Values the model has never seen in any spelling are new ones, as before.
    assert feature_skew(pd.DataFrame({"city": ["Rome", "Nice", "Paris"], "genres": "War", "title": "", "y": 0}),
                        model)[0].endswith("are served as unseen: renamed or re-encoded?")


def test_skew_names_values_in_another_unicode_form():
    # Text written on macOS (accents as their own code points) beside training data written elsewhere prints
    # alike and is served as unseen: the skew check says so, with the code points.
    decomposed = lambda text: unicodedata.normalize("NFD", text)  # noqa: E731
    spec = ctr.FeatureSpec([ctr.Categorical("city"), ctr.Text("title")], label=ctr.Label("y"))
    model = ctr.LogisticRegression(spec, batch_size=4)
    model.fit(pd.DataFrame({"city": ["Paris", "Orléans", "Besançon", "Lyon"] * 2,
                            "title": ["Big Fish café", "Up née"] * 4, "y": [0, 1] * 4}), epochs=1, verbose=0)
    sent = pd.DataFrame({"city": [decomposed("Orléans"), decomposed(" besançon"), "Ｐａｒｉｓ", "Lyon"],
                         "title": [decomposed("Big Fish café"), decomposed("Up née")] * 2, "y": 0})
    assert feature_skew(sent, model) == [
        f"'city': 75.0% of its values are outside the model's vocabulary (e.g. {sent.city[0]!r}, {sent.city[1]!r}, "
        "'Ｐａｒｉｓ'), "
        "and are served as unseen: they are values the model knows but for the white space around them, their "
        r"Unicode form and their letter case ('Orle\u0301ans' where training had 'Orl\xe9ans'): tidy them before "
        "they are sent (unicodedata.normalize('NFC', value) for accents)",
        f"'title': 40.0% of its values are outside the model's vocabulary (e.g. {decomposed('café')!r}, "
        f"{decomposed('née')!r}), and are served as "
        r"unseen: they are values the model knows but for their Unicode form ('cafe\u0301' where training had "
        r"'caf\xe9'): tidy them before they are sent (unicodedata.normalize('NFC', value) for accents)"]


def test_cli_inspect_data_on_the_embedded_default(tmp_path, capsys):
    out, report = tmp_path / "report.png", tmp_path / "report.json"
    assert main(["inspect-data", "--spec", "feature_specs/synthetic.yaml", "--data", "synthetic",
                 "--out", str(out), "--json", str(report)]) == 0
    text = capsys.readouterr().out
    assert "interaction-matrix sparsity" in text and "price" in text
    assert _valid_png(out)
    assert json.loads(report.read_text())["rows"] == 100_000


def test_training_curves_png(trained, tmp_path):
    path = plot_history(trained["deepfm"].history_, tmp_path / "curves.png")
    assert _valid_png(path)
    with pytest.raises(ctr.CtrError, match="no loss, AUC or top-K accuracy"):
        plot_history({"lr": [0.1]}, tmp_path / "x.png")
    grouped = {**trained["deepfm"].history_, "val_gauc": [0.6, 0.7, 0.72]}  # fit(group_by="user_id")
    assert history_panels(grouped)[1] == ("AUC", ["val_auc", "val_gauc"])  # AUC is validation-only
    assert _valid_png(plot_history(grouped, tmp_path / "grouped.png"))


def test_a_figure_is_written_in_the_format_its_name_ends_with_and_another_ending_is_named(trained, tmp_path,
                                                                                           capsys):
    """`--plot x.txt` was a matplotlib traceback after the work; a name with no ending was written with
    ".png" added while ctr printed the name without it."""
    history = trained["deepfm"].history_
    assert plot_history(history, tmp_path / "curves.svg").read_text().lstrip().startswith("<?xml")
    assert plot_history(history, tmp_path / "curves") == tmp_path / "curves.png"
    assert _valid_png(tmp_path / "curves.png")
    with pytest.raises(ctr.ArgumentError, match=r"curves\.txt: a figure is written as .*\.pdf.*\.png.*\.svg.*; the "
                                                r"file name's ending says which, and \.txt is none of them"):
        plot_history(history, tmp_path / "curves.txt")
    assert not (tmp_path / "curves.txt").exists()
    # The shell names it before TensorFlow starts (its other paths: tests/test_cli.py).
    assert main(["inspect-data", "--spec", "feature_specs/synthetic.yaml", "--data", "synthetic", "--out",
                 str(tmp_path / "report.txt")]) == 2
    assert "report.txt: a figure is written as" in capsys.readouterr().err


def test_a_retrievers_curves_show_its_loss_and_top_k_accuracies(tmp_path):
    history = {"loss": [9.0, 8.0], "regularization_loss": [0.0, 0.0], "val_loss": [7.0, 6.5],
               "val_factorized_top_k/top_100_categorical_accuracy": [0.2, 0.3],
               "val_factorized_top_k/top_10_categorical_accuracy": [0.05, 0.1]}
    assert history_panels(history) == [
        ("loss", ["loss", "val_loss"]),
        ("top-K accuracy (validation)", ["val_factorized_top_k/top_10_categorical_accuracy",
                                         "val_factorized_top_k/top_100_categorical_accuracy"])]
    assert _valid_png(plot_history(history, tmp_path / "tower.png"))


def test_cli_fit_writes_curves_beside_the_export(tmp_path, frame, capsys):
    data = tmp_path / "ratings.parquet"
    frame.head(3000).to_parquet(data)
    assert main(["fit", "--spec", "feature_specs/synthetic.yaml", "--data", str(data), "--model", "lr",
                 "--epochs", "2", "--export", str(tmp_path / "lr")]) == 0
    assert _valid_png(tmp_path / "lr_training.png")
    assert "training curves in" in capsys.readouterr().out


def test_embedding_map_and_projector_files(trained, frame, tmp_path, capsys):
    path = trained["deepfm"].export(tmp_path / "deepfm")
    data = tmp_path / "rows.parquet"
    frame.to_parquet(data)
    out = tmp_path / "items.png"
    assert main(["embeddings", "--model", str(path), "--feature", "item_id", "--data", str(data),
                 "--color-by", "genres", "--out", str(out)]) == 0
    assert _valid_png(out)
    vectors = np.loadtxt(tmp_path / "items.vectors.tsv", delimiter="\t")
    meta = pd.read_csv(tmp_path / "items.metadata.tsv", sep="\t")
    vocabulary = trained["deepfm"].preprocessor_.state["tables"]["item_id"]["vocabulary"]
    assert vectors.shape == (len(vocabulary), 8) and len(meta) == len(vocabulary)
    assert list(meta.columns) == ["item_id", "genres"] and meta.genres.isin(GENRES).all()
    assert "mapped with" in capsys.readouterr().out
    assert main(["embeddings", "--model", str(path), "--feature", "age"]) == 2
    assert "no learned vocabulary" in capsys.readouterr().err
    assert main(["embeddings", "--model", str(path), "--feature", "item"]) == 2
    assert capsys.readouterr().err.endswith("(did you mean 'item_id'?)\n")
    assert main(["embeddings", "--model", str(path), "--feature", "item_id", "--data", str(data),
                 "--color-by", "genre", "--out", str(out)]) == 2
    assert capsys.readouterr().err.endswith("(did you mean 'genres'?)\n")
    with pytest.raises(KeyError, match=r"no feature named 'gendr'; the spec has .* \(did you mean 'gender'\?\)"):
        trained["lr"].spec["gendr"]
    lr = trained["lr"].export(tmp_path / "lr")
    assert main(["embeddings", "--model", str(lr), "--feature", "item_id"]) == 2
    assert "no embedding table" in capsys.readouterr().err
    popular = ctr.Popularity(ctr.FeatureSpec(trained["lr"].spec.features)).fit(frame).export(tmp_path / "popular")
    assert main(["embeddings", "--model", str(popular), "--feature", "item_id"]) == 2  # said, not a TypeError
    assert "the Popularity export learns no embeddings" in capsys.readouterr().err


def test_a_recommenders_map_is_coloured_from_its_own_catalogue(spec, frame, tmp_path, capsys):
    # Genres as lists (a Parquet list column): each item is coloured by its first genre, not by the text
    # of the whole list, and the export's catalogue holds them, so --data is not needed.
    rows = frame.head(2000).assign(genres=frame["genres"].head(2000).str.split("|"))
    model = ctr.MatrixFactorization(ctr.FeatureSpec(spec.features), embedding_dim=4)
    model.fit(rows, epochs=1, verbose=0)
    path = model.export(tmp_path / "mf")
    out = tmp_path / "items.png"
    assert main(["embeddings", "--model", str(path), "--feature", "item_id", "--color-by", "genres",
                 "--out", str(out)]) == 0
    meta = pd.read_csv(tmp_path / "items.metadata.tsv", sep="\t")
    firsts = rows.drop_duplicates("item_id").set_index("item_id")["genres"].str[0]
    assert meta.set_index("item_id")["genres"].to_dict() == firsts.reindex(meta["item_id"]).to_dict()
    capsys.readouterr()
    assert main(["embeddings", "--model", str(path), "--feature", "item_id", "--color-by", "genre",
                 "--out", str(out)]) == 2
    assert "the export keeps no 'genre' beside 'item_id' (catalogue: item_id, " in capsys.readouterr().err


def test_a_map_of_one_or_two_vectors_is_drawn_too():
    from ctr.embedding_map import project

    for rows in (1, 2, 3):
        coords, method = project(np.random.default_rng(rows).normal(size=(rows, 8)))
        assert coords.shape == (rows, 2) and np.isfinite(coords).all() and method == "PCA"
