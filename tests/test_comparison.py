"""`ctr.compare` and `ctr compare`: several models on one split, picked by validation, reported on test rows."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

import ctr
from ctr.cli import main

from .conftest import ROOT

SPEC = str(ROOT / "feature_specs" / "synthetic.yaml")


@pytest.fixture(scope="module")
def small(frame):
    return frame.head(4000)


@pytest.fixture(scope="module")
def compared(spec, small):
    return ctr.compare(spec, small, ["lr", "fm"], epochs=2, seeds=2, settings={"embedding_dim": 4, "batch_size": 256},
                       verbose=0)


def test_each_model_is_picked_by_validation_and_reported_on_the_test_rows_of_one_split(compared, spec, small):
    _, valid, test = ctr.data.random_split(small, (0.8, 0.1, 0.1), seed=0)  # the split, drawn with the first seed
    table, runs = compared.table, compared.runs
    assert list(runs["model"]) == ["lr", "lr", "fm", "fm"] and list(runs["seed"]) == [0, 1, 0, 1]
    assert list(table["model"]) == sorted(["lr", "fm"], key=lambda m: -table.set_index("model").loc[m, "val_auc"])
    for label, group in runs.groupby("model"):
        row = table.set_index("model").loc[label]
        assert row["val_auc"] == pytest.approx(group["val_auc"].median())
        assert row["test_auc_spread"] == pytest.approx(group["test_auc"].max() - group["test_auc"].min())
    assert (runs["epochs"] == 2).all() and (runs["fit_s"] > 0).all()
    assert table.set_index("model").loc["fm", "parameters"] > table.set_index("model").loc["lr", "parameters"]
    # The best model is returned fitted: its best seed's, whose figures it reproduces on the parts.
    best = compared.best
    assert compared.best_label == table["model"].iloc[0] and best.embedding_dim == 4 and best.batch_size == 256
    ours = runs[runs["model"] == compared.best_label].sort_values("val_auc").iloc[-1]
    assert best.seed == ours["seed"]
    assert best.evaluate(valid)["auc"] == pytest.approx(ours["val_auc"], abs=1e-9)
    assert best.evaluate(test)["auc"] == pytest.approx(ours["test_auc"], abs=1e-9)
    # With several seeds, the models the seeds do not tell apart from the best are named.
    low, high = runs.loc[runs["model"] == compared.best_label, "val_auc"].agg(["min", "max"])
    other = table.iloc[1]
    assert compared.close_to_best == ([other["model"]] if low <= other["val_auc"] <= high else [])


def test_the_models_the_seeds_do_not_tell_apart_from_the_best_are_named():
    from ctr.comparison import Comparison

    runs = pd.DataFrame({"model": ["a", "a", "b", "b", "c", "c"], "seed": [0, 1] * 3,
                         "val_auc": [0.80, 0.78, 0.79, 0.79, 0.70, 0.72]})
    table = runs.groupby("model", sort=False)[["val_auc"]].median().reset_index()  # a 0.79, b 0.79, c 0.71
    compared = Comparison(table, runs, None, "a", "val_auc", "val_auc", "")
    assert compared.close_to_best == ["b"]
    one = runs[runs["seed"] == 0]
    assert Comparison(one.drop(columns="seed"), one, None, "a", "val_auc", "val_auc", "").close_to_best == []


@pytest.mark.parametrize("higher", [True, False])
def test_a_comparison_lets_go_of_each_model_beaten_on_its_median_and_keeps_the_best_models_best_run(higher):
    """Only the leader's best run is kept once a model's seeds are done (memory for two fitted models, not one
    a model), and the one kept is the table's first: ties and a median that is NaN go to the earlier model."""
    import gc
    import weakref

    from ctr.comparison import Entry, _comparison, _run_all

    class Fitted:  # stands for a fitted model, whose memory the comparison should let go
        def __init__(self, label: str, seed: int) -> None:
            self.label, self.seed = label, seed

    figures = {"a": [0.70, 0.72], "b": [0.80, 0.76], "c": [0.77, 0.79], "d": [float("nan")] * 2, "e": [0.81, 0.75]}
    if not higher:  # lower is better: the same order
        figures = {k: [1 - v for v in vs] for k, vs in figures.items()}
    made: list = []

    def make(label: str):
        def fitted(seed: int) -> Fitted:
            made.append(weakref.ref(model := Fitted(label, seed)))
            return model
        return fitted

    def run(model: Fitted, seed: int, _) -> dict:
        value = figures[model.label][seed]
        return {"val": value, "shown": value, "fit_s": 0.0}

    entries = [Entry(label, True, make(label), {}) for label in figures]
    runs, best = _run_all(entries, [0, 1], "val", higher, "shown", 0, run, None)
    gc.collect()
    alive = {(ref().label, ref().seed) for ref in made if ref() is not None}
    # b and c tie at 0.78 and e too, and d's is NaN: b, the first of them, is kept, with its better seed.
    assert list(best) == ["b"] and alive == {("b", 0)}
    assert _comparison(runs, best, "val", higher, "shown", "", None).best_label == "b"


def test_ctr_compare_says_when_the_seeds_do_not_settle_the_best(tmp_path, small, capsys, monkeypatch):
    from ctr.comparison import Comparison

    runs = pd.DataFrame({"model": ["dcn", "dcn", "deepfm", "deepfm"], "seed": [0, 1] * 2,
                         "val_auc": [0.80, 0.78, 0.79, 0.79], "test_auc": [0.7, 0.7, 0.7, 0.7]})
    table = runs.groupby("model", sort=False)[["val_auc", "test_auc"]].median().reset_index()
    monkeypatch.setattr("ctr.comparison.compare",
                        lambda *a, **k: Comparison(table, runs, None, "dcn", "val_auc", "test_auc", "a split"))
    small.head(100).to_parquet(tmp_path / "rows.parquet")
    assert main(["compare", "--spec", SPEC, "--data", str(tmp_path / "rows.parquet"), "--seeds", "2"]) == 0
    assert ("ctr compare: the best is dcn, by a margin its seeds do not settle: the median validation AUC of deepfm "
            "lies within the range of dcn's 2 seeds") in capsys.readouterr().out


def test_the_same_seeds_give_the_same_comparison(compared, spec, small):
    again = ctr.compare(spec, small, ["fm"], epochs=2, seeds=[0], settings={"embedding_dim": 4, "batch_size": 256},
                        verbose=0)  # the fixture's first FM run, alone
    figures = ["val_auc", "test_auc", "test_logloss", "epochs", "parameters"]
    before = compared.runs[(compared.runs["model"] == "fm") & (compared.runs["seed"] == 0)]
    pd.testing.assert_frame_equal(again.runs[figures].reset_index(drop=True), before[figures].reset_index(drop=True))


def test_the_table_is_written_as_json_and_drawn(compared, tmp_path):
    written = json.loads(compared.to_json(tmp_path / "sub" / "compare.json").read_text())
    assert written["best"] == compared.best_label and written["selected_by"] == "val_auc"
    assert [row["model"] for row in written["table"]] == list(compared.table["model"])
    assert len(written["runs"]) == 4 and written["protocol"].startswith("a random split of 4,000 rows")
    assert not list((tmp_path / "sub").glob(".*partial"))
    pytest.importorskip("matplotlib")
    path = compared.plot(tmp_path / "compare.png")
    assert path.stat().st_size > 10_000 and path.read_bytes()[:4] == b"\x89PNG"
    assert "fm" in str(compared) and "test_auc" in str(compared)
    assert repr(compared).startswith(f"<Comparison: the best is {compared.best_label}, by validation AUC; a random")
    assert "<table" in compared._repr_html_() and "test_auc_spread" in compared._repr_html_()  # in a notebook


def test_untrained_models_are_compared_with_their_own_settings_and_labelled_by_them(spec, small, capsys):
    result = ctr.compare(spec, small, [ctr.FM(spec, embedding_dim=4, batch_size=256),
                                       ctr.FM(spec, embedding_dim=2, batch_size=256), "lr"],
                         epochs=1, patience=None, settings={"batch_size": 512}, params={"lr": {"l2": 1e-5}},
                         verbose=2)
    labels = set(result.table["model"])
    assert labels == {"FM(embedding_dim=4, batch_size=256)", "FM(embedding_dim=2, batch_size=256)", "lr"}, labels
    out = capsys.readouterr().out
    assert "compare: [1/3] FM(embedding_dim=4, batch_size=256) ..." in out and "compare: lr: validation AUC" in out
    # verbose 2: each fit's epochs too, as Keras writes them ("147ms/epoch", or "1s/epoch" on a slow machine)
    assert re.search(r"\d+m?s/epoch", out) and "1 epoch (best 1)" in out
    lr = result.runs.set_index("model")
    assert lr.loc["FM(embedding_dim=2, batch_size=256)", "parameters"] < lr.loc["FM(embedding_dim=4, batch_size=256)",
                                                                                  "parameters"]
    custom = ctr.compare(spec, small, {"wide": ctr.FM(spec, embedding_dim=4)}, epochs=1, verbose=0)
    assert list(custom.table["model"]) == ["wide"]


def test_recommenders_are_compared_by_ranking_each_users_held_out_item(spec, frame):
    result = ctr.compare(spec, frame, ["popularity", "MatrixFactorization"], epochs=1,
                         settings={"embedding_dim": 4}, verbose=0)
    assert set(result.table["model"]) == {"popularity", "mf"}
    assert result.selected_by == "val_NDCG@10" and result.shown == "test_NDCG@10"
    assert {"test_HR@10", "test_NDCG@10", "test_MRR"} <= set(result.table.columns)
    runs = result.runs.set_index("model")
    assert runs.loc["popularity", "epochs"] == 0 and runs.loc["mf", "epochs"] == 1
    assert 0 < runs.loc["popularity", "test_NDCG@10"] < 1
    train, valid, test = ctr.leave_one_out(frame, spec=spec, validation=True)
    best = result.best
    figure = ctr.evaluate_ranking(best, test, pd.concat([train, valid]), protocol="full")["NDCG@10"]
    assert figure == pytest.approx(runs.loc[result.best_label, "test_NDCG@10"])
    assert "each user's latest (by 'timestamp') is the test" in result.protocol


def test_click_models_learn_interactions_with_sampled_non_clicks(spec, frame):
    interactions = ctr.FeatureSpec(spec.features, name="touched")  # no label: every row is an interaction
    rows = frame.head(3000)
    with pytest.raises(ctr.ArgumentError, match=r"spec .touched. has no label, and lr is a click model.*negatives=N"):
        ctr.compare(interactions, rows, ["lr"])
    result = ctr.compare(interactions, rows, ["lr", "fm"], negatives=2, epochs=1, settings={"embedding_dim": 4},
                         verbose=0)
    assert "each interaction followed by 2 items its user never touched, as non-clicks" in result.protocol
    _, _, test = ctr.data.random_split(rows, (0.8, 0.1, 0.1), seed=0)
    test = ctr.data.add_negatives(test, interactions, 2, items=rows, seed=2)  # the test part's own draw
    assert len(test) == 3 * 300 and test["clicked"].mean() == pytest.approx(1 / 3)
    ours = result.runs.set_index("model").loc[result.best_label]
    assert result.best.evaluate(test)["auc"] == pytest.approx(ours["test_auc"], abs=1e-9)


def test_click_models_may_be_compared_on_the_future_of_their_training_rows(spec, small):
    result = ctr.compare(spec, small, ["lr"], split_by_time="timestamp", epochs=1, verbose=0)
    assert result.protocol == "4,000 rows cut in the order of 'timestamp', 0.8/0.1/0.1 train/validation/test"
    _, _, test = ctr.data.time_split(small, (0.8, 0.1, 0.1), time="timestamp")
    assert result.best.evaluate(test)["auc"] == pytest.approx(result.table["test_auc"].iloc[0], abs=1e-9)
    untimed = ctr.FeatureSpec([f for f in spec.features if f.name != "timestamp"], name="untimed")
    with pytest.raises(ctr.ArgumentError, match="spec 'untimed' has no timestamp feature, and a recommender is"):
        ctr.compare(untimed, small, ["mf"])


class _Killed(BaseException):
    """Stands for the process dying mid-comparison (kill -9): nothing after it runs, no cleanup either."""


def test_a_comparison_killed_mid_run_carries_on_from_its_backup(spec, small, tmp_path, monkeypatch, capsys):
    """The same call after a kill runs again only what had not finished; the runs that had are read back,
    the best of them rebuilt from its export, and the folder goes when the comparison completes."""
    backup = tmp_path / "backup"
    models = {"lr": "lr", "slow fm": ctr.FM(spec, embedding_dim=4, learning_rate=1e-9, batch_size=256)}

    def compare(**more):
        return ctr.compare(spec, small, models, epochs=2, backup_dir=backup, verbose=2, **more)

    fits = []
    real_fit = ctr.FM.fit

    def fit_then_die(self, *args, **kwargs):
        fits.append(type(self).__name__)
        if type(self) is ctr.FM:
            raise _Killed
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(ctr.LogisticRegression, "fit", fit_then_die)
    monkeypatch.setattr(ctr.FM, "fit", fit_then_die)
    with pytest.raises(_Killed):
        compare()
    assert fits == ["LogisticRegression", "FM"]
    assert (backup / "best" / "0" / "saved_model.pb").exists()
    assert len((backup / "runs.jsonl").read_text().splitlines()) == 1
    with pytest.raises(ctr.ArgumentError, match="holds an interrupted comparison with other seeds, so it cannot"):
        ctr.compare(spec, small, models, seeds=2, epochs=2, backup_dir=backup, verbose=0)
    monkeypatch.undo()
    fits.clear()
    monkeypatch.setattr(ctr.LogisticRegression, "fit", fit_then_die)
    monkeypatch.setattr(ctr.FM, "fit", lambda self, *a, **k: (fits.append("FM"), real_fit(self, *a, **k))[1])
    capsys.readouterr()
    result = compare()
    assert fits == ["FM"]  # LR's run is not run again
    assert "compare: [1/2] lr: run before the interruption, its figures read from" in capsys.readouterr().out
    assert not backup.exists()
    assert result.best_label == "lr"  # the FM that does not learn loses: the best is rebuilt from the backup
    _, _, test = ctr.data.random_split(small, (0.8, 0.1, 0.1), seed=0)
    ours = result.runs[result.runs["model"] == "lr"].sort_values("val_auc").iloc[-1]
    assert result.best.seed == ours["seed"]
    assert result.best.evaluate(test)["auc"] == pytest.approx(ours["test_auc"], abs=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda s, f: ctr.compare(s, f, ["lr", "deepfn"]), "compare: no model is called 'deepfn' (did you mean 'deepfm'?)"),
    (lambda s, f: ctr.compare(s, f, ["lr", "mf"]), "compare: lr is a click model (tested on held-out rows' clicks, "
                                                     "by AUC) and mf ranks a catalogue"),
    (lambda s, f: ctr.compare(s, f, ["lr"], params={"deepfm": {"dropout": 0.1}}),
     "compare: params names 'deepfm', which is none of the models compared (lr)"),
    (lambda s, f: ctr.compare(s, f, ["lr", "fm"], settings={"dropout": 0.1}), "compare: no model compared takes "
                                                                               "'dropout'"),
    (lambda s, f: ctr.compare(s, f, [ctr.FM(s), ctr.FM(s)]), "compare: two models are labelled 'FM'"),
    (lambda s, f: ctr.compare(s, f, ["fm"], params={"fm": {"dropout": 0.1}}), "FM has no argument 'dropout'"),
    (lambda s, f: ctr.compare(s, f, ["fm"], validation_data=f), "compare: validation_data is given and test_data "
                                                                 "is not"),
    (lambda s, f: ctr.compare(s, f, ["fm"], metric="gauc"), "compare: metric 'gauc' is the validation group AUC"),
    (lambda s, f: ctr.compare(s, f, ["mf"], group_by="user_id"), "compare: group_by applies to the click models"),
    (lambda s, f: ctr.compare(s, f, ["mf"], split=(0.5, 0.25, 0.25)), "compare: split applies to the click models"),
    (lambda s, f: ctr.compare(s, f, ["mf"], negatives=2), "compare: negatives applies to the click models"),
    (lambda s, f: ctr.compare(s, f, ["fm"], split=(0.9, 0.0, 0.1)), "leaves no validation rows"),
    (lambda s, f: ctr.compare(s, f, ["fm"], seeds=0), "compare: seeds must be a count of at least 1"),
    (lambda s, f: ctr.compare(s, f, ["fm"], seeds=[1, 1]), "compare: seeds must be a count of at least 1"),
    (lambda s, f: ctr.compare(s, f, ["fm"], group_by="shop"), "column 'shop' is missing"),
    (lambda s, f: ctr.compare(s, f.drop(columns=["price"]), ["fm"]), "column 'price' is missing from the data"),
])
def test_what_cannot_be_compared_is_refused_before_any_training(spec, frame, call, message):
    with pytest.raises(ctr.CtrError) as err:
        call(spec, frame.head(500))
    assert message in str(err.value)


def test_a_fitted_model_is_refused(spec, trained):
    with pytest.raises(ctr.ArgumentError, match="the FM given is fitted already; compare trains each model itself"):
        ctr.compare(spec, pd.DataFrame(), [trained["fm"]])


def test_ctr_compare_prints_the_table_and_writes_json_a_plot_and_the_best_export(tmp_path, small, capsys):
    data = tmp_path / "ratings.parquet"
    small.to_parquet(data)
    out, plot, export = tmp_path / "compare.json", tmp_path / "compare.png", tmp_path / "best"
    assert main(["compare", "--spec", SPEC, "--data", str(data), "--models", "LR,fm", "--epochs", "2",
                 "--embedding-dim", "4", "--param", "fm:l2=1e-5", "--param", "batch_size=256", "--out", str(out),
                 "--plot", str(plot), "--export", str(export)]) == 0
    printed = capsys.readouterr().out
    assert "ctr compare: a random split of 4,000 rows, 0.8/0.1/0.1 train/validation/test (seed 0); each model " \
           "stopped on, and ranked by, its validation AUC" in printed
    written = json.loads(out.read_text())
    best = written["best"]
    assert f"ctr compare: the best is {best}" in printed and f"{best} exported to {export}" in printed
    assert {row["model"] for row in written["table"]} == {"lr", "fm"}
    served = ctr.load(export)
    assert served.metadata["model"] == {"lr": "LogisticRegression", "fm": "FM"}[best]
    _, _, test = ctr.data.random_split(small, (0.8, 0.1, 0.1), seed=0)
    auc = ctr.metrics.auc((test["rating"] >= 4).to_numpy(), served.predict(test))
    assert auc == pytest.approx(written["table"][0]["test_auc"], abs=1e-6)
    if plot.exists():  # matplotlib installed
        assert plot.read_bytes()[:4] == b"\x89PNG"


def test_ctr_compare_takes_the_parts_apart_streamed_from_their_files(tmp_path, small, capsys):
    train, valid, test = ctr.data.random_split(small, (0.8, 0.1, 0.1), seed=5)
    train.to_parquet(tmp_path / "train.parquet")
    valid.to_csv(tmp_path / "valid.csv", index=False)
    test.to_parquet(tmp_path / "test.parquet")
    out = tmp_path / "compare.json"
    assert main(["compare", "--spec", SPEC, "--data", str(tmp_path / "train.parquet"), "--valid",
                 str(tmp_path / "valid.csv"), "--test", str(tmp_path / "test.parquet"), "--models", "lr",
                 "--epochs", "1", "--group-by", "user_id", "--out", str(out)]) == 0
    assert "ctr compare: 3,200 training, 400 validation and 400 test rows, given apart" in capsys.readouterr().out
    row = json.loads(out.read_text())["table"][0]
    assert 0.5 < row["test_auc"] < 1 and 0 < row["test_gauc"] < 1


@pytest.mark.parametrize("flags, message", [
    (["--models", "lr,xgboost"], "argument --models: no model is called 'xgboost'; the models: lr, fm"),
    (["--models", "lr,LR"], "argument --models: lr is named twice"),
    (["--models", "lr", "--param", "deepfm:dropout=0.3"], "params names 'deepfm', which is none of the models"),
    (["--models", "lr", "--param", "deepfn:dropout=0.3"],
     "argument --param: 'deepfn:dropout=0.3': no model is called 'deepfn'; write MODEL:NAME=VALUE"),
    (["--models", "lr", "--out", "table.csv"], "--out table.csv: the table is written as JSON; give a .json name"),
    (["--models", "lr", "--valid", "SPEC"], "--valid without --test: give both"),
    (["--models", "mf,bpr", "--split", "0.8,0.1,0.1"], "--split: for the click models; recommenders are tested"),
    (["--models", "mf", "--negatives", "2"], "--negatives: for the click models; recommenders are tested"),
    (["--seeds", "0"], "argument --seeds: must be an integer of at least 1, got 0"),
    (["--models", "deepfm,mf"], "--models: deepfm tested on held-out rows' clicks (by AUC) and mf on each user's"),
])
def test_ctr_compare_names_what_it_cannot_do(tmp_path, small, capsys, flags, message):
    data = tmp_path / "ratings.parquet"
    small.head(300).to_parquet(data)
    flags = [SPEC if flag == "SPEC" else flag for flag in flags]
    if message.startswith("argument"):  # argparse's, as the command line is read
        with pytest.raises(SystemExit, match="2"):
            main(["compare", "--spec", SPEC, "--data", str(data), *flags])
    else:
        assert main(["compare", "--spec", SPEC, "--data", str(data), *flags]) == 2
    assert message in capsys.readouterr().err


def test_bpr_early_stopping_watches_its_own_validation_figure(tmp_path, small, capsys):
    """BPR logs the share of validation pairs ordered right, not an AUC: `ctr fit --patience` watched a
    `val_auc` it never logged, and so never stopped (Keras only warned)."""
    data = tmp_path / "ratings.parquet"
    small.to_parquet(data)
    assert main(["fit", "--spec", SPEC, "--data", str(data), "--model", "bpr", "--epochs", "2", "--patience", "1",
                 "--embedding-dim", "4"]) == 0
    captured = capsys.readouterr()
    assert "val_pairwise_accuracy was best at epoch" in captured.out or "stopped after epoch" in captured.out
    assert "not available" not in captured.err + captured.out
    assert ctr.MatrixFactorization(SPEC, loss="bpr").validation_monitor == "val_pairwise_accuracy"
    assert ctr.TwoTower(SPEC, top_k_metrics=(5, 50)).validation_monitor == (
        "val_factorized_top_k/top_5_categorical_accuracy")
