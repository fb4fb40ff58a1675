"""The shell: `ctr describe | fit | predict | evaluate | demo`, and clean errors with exit code 2."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

import ctr
from ctr import cli
from ctr.cli import main
from ctr.data import keras_verbose

from .conftest import ML1M, ML100K, ROOT, needs


def test_describe_prints_features_inputs_and_encoders(capsys, tmp_path):
    assert main(["describe", str(ROOT / "feature_specs" / "movielens-100k.yaml")]) == 0
    out = capsys.readouterr().out
    assert "spec 'movielens-100k': 10 features" in out
    assert "genres" in out and "split on '|'" in out and "int64[batch]" in out
    assert main(["describe", str(tmp_path)]) == 2  # a folder that is not an export: said, not an OSError
    assert f"ctr describe: error: {tmp_path}: no SavedModel here (saved_model.pb is missing)" in capsys.readouterr().err
    assert main(["describe", "--spec", "movielens-100k"]) == 0
    assert capsys.readouterr().out == out
    for argv in ([], ["movielens-100k", "--spec", "movielens-100k"]):
        with pytest.raises(SystemExit, match="2"):
            main(["describe", *argv])
        assert "ctr describe: error: give one spec or export to describe: ctr describe SPEC, --spec SPEC or " \
               "--model EXPORT" in capsys.readouterr().err


def test_import_help_and_specs_do_not_start_tensorflow(tmp_path):
    """`import ctr`, `ctr --help`, usage errors (a fit's flags and spec too) and a spec check are instant:
    TensorFlow is imported when a model, the data layer or an export is first used; every public name
    still resolves."""
    code = """
import contextlib, io, sys
import ctr
import ctr
from ctr import cli
from ctr.cli import main
for argv, said in [(["--help"], ""), (["fit", "--spec"], "expected one argument"),
                   (["fit", "--spec", "s.yaml", "--data", "synthetic", "--split", "0.8,0.2"],
                    "--split: expected three comma-separated fractions, train,valid,test"),
                   (["fit", "--spec", "s.yaml", "--data", "synthetic", "--split", "80,10,10"],
                    "argument --split: must be non-negative numbers that sum to 1, such as (0.8, 0.1, 0.1), got "
                    "(80.0, 10.0, 10.0) (sum 100; as shares, (0.8, 0.1, 0.1))"),
                   # A number outside its argument's rule, as the command line is read, not after the data is.
                   (["fit", "--spec", "s.yaml", "--data", "synthetic", "--epochs", "0"],
                    "ctr fit: error: argument --epochs: must be an integer of at least 1, got 0"),
                   (["fit", "--spec", "s.yaml", "--data", "synthetic", "--learning-rate", "-0.1"],
                    "argument --learning-rate: must be a number above 0, got -0.1"),
                   (["evaluate", "--model", "m", "--data", "synthetic", "--k", "0"],
                    "argument --k: must be an integer of at least 1, got 0"),
                   (["demo", "--rows", "5"], "argument --rows: must be an integer of at least 100, got 5"),
                   (["fit", "--spec", "s.yaml", "--data", "synthetic", "--epochs", "x"],
                    "argument --epochs: invalid int value: 'x'"),
                   # An option of one value given twice, where argparse kept the last alone.
                   (["fit", "--spec", "s.yaml", "--data", "a.csv", "--epochs", "2", "--data", "b.csv"],
                    "ctr fit: error: argument --data given twice ('a.csv' and 'b.csv'): it takes one file or folder; "
                    "put the files in one folder and pass the folder"),
                   (["fit", "--spec", "s.yaml", "--data", "a.csv", "--epochs", "2", "--epochs=3"],
                    "argument --epochs given twice ('2' and '3'): it takes one value: give it once"),
                   (["fit", "--spec", "s.yaml", "--data", "a.csv", "--export", "a", "--out", "b"],
                    "argument --export (or --out) given twice ('a' and 'b')"),
                   (["fit", "--spec", "s.yaml", "--data", "a.csv", "-o", "a", "--out=b"],
                    "argument -o (or --out) given twice ('a' and 'b')"),
                   # The second shortened, as argparse takes the start of an option that no other shares.
                   (["fit", "--spec", "s.yaml", "--data", "a.csv", "--dat", "b.csv"],
                    "argument --data given twice ('a.csv' and 'b.csv')"),
                   # A model it does not have is named as it was typed, not as the names are matched.
                   (["fit", "--spec", "s.yaml", "--data", "a.csv", "--model", "XGBoost"],
                    "argument --model: invalid choice: 'XGBoost' (choose from 'lr', 'fm', 'widedeep', 'deepfm',")]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            main(argv)
        except SystemExit as done:
            assert done.code == (0 if argv == ["--help"] else 2), done.code
    assert said in err.getvalue(), err.getvalue()
# A wrong path, or a fit's clashing flags, is named before TensorFlow starts (and the data loads).
for argv, said in [
        (["fit", "--spec", "no-such-spec.yaml", "--data", "synthetic"], "no spec file at no-such-spec.yaml"),
        (["fit", "--spec", "FRAPPE", "--data", "synthetic", "--model", "MatrixFactorization"],
         "spec 'frappe' has no timestamp feature, and a recommender is tested on each user's latest interaction: "
         "name the data's time column with --split-by-time COLUMN"),
        (["fit", "--spec", "SPEC", "--data", "synthetic", "--model", "popularity", "--logdir", "tb"],
         "--logdir: popularity counts"),
        (["fit", "--spec", "SPEC", "--data", "synthetic", "--stop-on", "gauc"], "give --group-by COLUMN"),
        (["fit", "--spec", "SPEC", "--data", "no-such-rows.csv"], "--data 'no-such-rows.csv': no such file"),
        (["evaluate", "--model", "no-such-export", "--data", "synthetic"], "no-such-export: no SavedModel here"),
        (["recommend", "--model", "no-such-export", "--user", "1"], "no-such-export: no SavedModel here"),
        (["inspect-data", "--spec", "no-such-spec.yaml", "--data", "synthetic"], "no spec file"),
        (["fit", "--data", "no such.csv"], "--data 'no such.csv': no such file"),  # before the spec is asked for
        (["fit", "--data", "SPEC", "--format", "table", "--model", "fm"], "the following arguments are required: "
         "--spec (a feature spec YAML); draft one from the data, check it, then pass it: ctr draft-spec --data "),
        (["fit", "--data", "SPEC", "--format", "CSV", "--model", "fm"], "the following arguments are required: "
         "--spec (a feature spec YAML); draft one from the data, check it, then pass it: ctr draft-spec --data "),
        (["inspect-data", "--data", "synthetic", "--format", "synthetic"],
         "required: --spec (a feature spec YAML, or a ready spec's name); for this data (synthetic), pass --spec "
         "synthetic, or draft one: ctr draft-spec --data synthetic --format synthetic --out spec.yaml"),
        (["fit", "--data", "synthetic", "--format", "movielens-100k"], "pass --spec movielens-100k, or draft one"),
        (["fit", "--spec", "no-such-spec", "--data", "synthetic"], "no spec file at no-such-spec; or name a ready "
         "spec: synthetic, movielens-100k, movielens-1m, frappe, criteo"),
        (["evaluate", "--model", "EXPORT", "--data", "synthetic", "--train", "no-such.parquet"],
         "--train 'no-such.parquet': no such file or folder"),
        (["predict", "--model", "EXPORT", "--data", "no-such-rows.csv"], "--data 'no-such-rows.csv': no such file"),
        (["predict", "--model", "EXPORT", "--data", "synthetic", "--out", "rows.xlsx"],
         "--out rows.xlsx: the file name must end in .csv"),
        (["predict", "--model", "EXPORT", "--data", "synthetic", "--out", "EXPORT"],
         ": a folder; --out names the file to write, such as "),
        (["evaluate", "--model", "EXPORT", "--data", "synthetic", "--plot", "curve.txt"],
         "curve.txt: a figure is written as"),
        (["fit", "--spec", "SPEC", "--data", "synthetic", "--export", "SPEC"], "is a file; an export is a folder"),
        (["demo", "--out", "SPEC"], "is a file; an export is a folder"),
        (["fit", "--spec", "SPEC", "--data", "synthetic", "--export", "runs/deepfm.keras"], "names a Keras file"),
        (["fit", "--spec", "SPEC", "--data", "synthetic", "--out", "runs/deepfm.keras"], "names a Keras file"),
        (["evaluate", "--model", "EXPORT", "--data", "synthetic", "--plot", "SPEC/curve.png"],
         "/curve.png: /"),  # --plot PATH: the spec's full path, "is a file, ..."
        (["predict", "--model", "EXPORT", "--data", "synthetic", "--out", "SPEC/rows.csv"],
         ".yaml is a file, so no folder can be made in it; choose another path"),
        (["fit", "--spec", "SPEC", "--data", "synthetic", "--logdir", "SPEC"], ": a file, where a folder is wanted"),
        (["fit", "--spec", "SPEC", "--data", "synthetic", "--valid", "no-such.parquet"],
         "--valid 'no-such.parquet': no such file or folder"),
        (["fit", "--spec", "SPEC", "--data", "synthetic", "--valid", "SPEC", "--split-by-time", "timestamp"],
         "--split-by-time splits --data (or adds to it in memory), and with --valid --data is the training rows"),
        (["fit", "--spec", "SPEC", "--data", "synthetic", "--test", "SPEC", "--model", "mf"],
         "--test: a recommender holds out each user's latest interactions from --data itself")]:
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert main([a.replace("SPEC", sys.argv[1]).replace("EXPORT", sys.argv[2])
                     .replace("FRAPPE", sys.argv[1].replace("synthetic", "frappe")) for a in argv]) == 2
    assert f"ctr {argv[0]}: error: " in err.getvalue() and said in err.getvalue(), err.getvalue()
ctr.FeatureSpec([ctr.Categorical("user_id")])
assert "tensorflow" not in sys.modules, "TensorFlow was imported"
assert set(ctr.__all__) <= set(dir(ctr))
for name in ctr.__all__:
    getattr(ctr, name)
assert ctr.features.raw_dtype is ctr.spec.raw_dtype  # submodules too, as before
assert ctr.data.time_split is ctr.splits.time_split and "add_history" in dir(ctr.data)  # the splits moved
try:
    ctr.data.no_such_name
except AttributeError as err:
    assert "ctr.data" in str(err) and "no_such_name" in str(err)
else:
    raise AssertionError("an unknown name of ctr.data resolved")
assert sys.modules["tensorflow"].keras.__name__.startswith("tf_keras")
try:
    ctr.no_such_name
except AttributeError as err:
    assert "no_such_name" in str(err)
else:
    raise AssertionError("an unknown name resolved")
"""
    export = tmp_path / "export"  # what the shell checks of an export, without TensorFlow: its files
    (export / "assets.extra").mkdir(parents=True)
    (export / "saved_model.pb").write_bytes(b"")
    (export / "assets.extra" / "ctr.json").write_text("{}")
    done = subprocess.run([sys.executable, "-c", code, str(ROOT / "feature_specs" / "synthetic.yaml"), str(export)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    # TensorFlow's start-up notices (oneDNN, no CUDA driver) are below ctr's default log level.
    assert "absl::InitializeLog" not in done.stderr and not re.search(r"(?m)^I\d{4} ", done.stderr), done.stderr
    # `python -m ctr` is the command too, for environments whose scripts folder is not on the PATH.
    module = subprocess.run([sys.executable, "-m", "ctr", "fit", "--spec"], capture_output=True, text=True, timeout=300)
    assert module.returncode == 2 and "ctr fit: error: argument --spec: expected one argument" in module.stderr, \
        module.stderr


STARTUP_LOG = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796264726.372665    8062 port.cc:153] oneDNN custom operations are on. You may see slightly different
numerical results due to floating-point round-off errors from different computation orders.
I0000 00:00:1796264726.373496    8062 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will
2025-09-17 14:44:05.176998: W external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:467] Unable to register cuFFT
E0000 00:00:1796264728.272649    8062 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call
E0000 00:00:1796264728.272650    8062 op_kernel.cc:1] a real error
/site-packages/tensorflow/__init__.py:1: UserWarning: a Python warning
"""


@pytest.mark.parametrize("level, kept", [
    ("0", STARTUP_LOG.splitlines()),
    ("1", ["2025-09-17 14:44:05.176998: W external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:467] Unable to "
           "register cuFFT", "E0000 00:00:1796264728.272650    8062 op_kernel.cc:1] a real error",
           "/site-packages/tensorflow/__init__.py:1: UserWarning: a Python warning"]),
    ("2", ["E0000 00:00:1796264728.272650    8062 op_kernel.cc:1] a real error",
           "/site-packages/tensorflow/__init__.py:1: UserWarning: a Python warning"]),
])
def test_tensorflow_startup_log_is_held_to_the_log_level(monkeypatch, level, kept):
    # A line's continuation goes with it; the failed cuInit repeats "no CUDA driver"; other text stays.
    from ctr._keras import _startup_log_kept

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)
    assert _startup_log_kept(STARTUP_LOG).splitlines() == kept


def test_fit_export_predict_evaluate_describe_round_trip(tmp_path, frame, capsys, monkeypatch):
    data = tmp_path / "ratings.parquet"
    frame.to_parquet(data)
    spec = str(ROOT / "feature_specs" / "synthetic.yaml")
    export = tmp_path / "model"
    # --model in any case, or as the class is named in Python
    assert main(["fit", "--spec", spec, "--data", str(data), "--model", "FM", "--epochs", "1",
                 "--embedding-dim", "4", "--embedding-updates", "momentum", "--export", str(export)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert '"auc"' in out and "exported to" in out
    assert ctr.load(export).metadata["config"]["embedding_updates"] == "momentum"
    assert ctr.load(export).metadata["model"] == "FM"
    # Output to a file or pipe (as here) gets a line an epoch, not a bar redrawn with \b and \r.
    assert re.search(r"^\d+/\d+ - \d+s - logloss: ", out, re.M) and not {"\b", "\r"} & set(out + captured.err)

    rows = tmp_path / "rows.csv"
    frame.head(20).drop(columns="rating").to_csv(rows, index=False)
    # A column the model reads missing from the file is named with the file, by every command that scores it.
    frame.head(20).drop(columns="price").to_parquet(tmp_path / "no_price.parquet")
    for command, *more in (["predict", "--out", str(tmp_path / "x.csv")], ["evaluate"], ["importance"], ["explain"],
                           ["calibrate", "--out", str(tmp_path / "calibrated")]):
        assert main([command, "--model", str(export), "--data", str(tmp_path / "no_price.parquet"), *more]) == 2
        assert f"ctr {command}: error: column 'price' is missing from {tmp_path / 'no_price.parquet'}; it has: " \
               in capsys.readouterr().err, command
    assert main(["predict", "--model", str(export), "--data", str(rows), "--out", str(tmp_path / "p.csv")]) == 0
    scored = pd.read_csv(tmp_path / "p.csv")
    assert len(scored) == 20 and scored.probability.between(0, 1).all()
    lines = tmp_path / "new" / "folder" / "p.json"  # folders made as needed; one JSON object a line; -o is --out
    assert main(["predict", "--model", str(export), "--data", str(rows), "-o", str(lines)]) == 0
    np.testing.assert_allclose(pd.read_json(lines, lines=True).probability, scored.probability, rtol=1e-6)
    # Rows scored before keep their scores unless --column says where the new ones go (the same name replaces).
    capsys.readouterr()
    assert main(["predict", "--model", str(export), "--data", str(tmp_path / "p.csv"), "--out", str(lines)]) == 2
    assert "the data already has a column 'probability'; name the scores' column with --column" in \
        capsys.readouterr().err
    assert main(["predict", "--model", str(export), "--data", str(tmp_path / "p.csv"), "--out", str(lines),
                 "--column", "again"]) == 0
    again = pd.read_json(lines, lines=True)
    np.testing.assert_allclose(again.again, again.probability, rtol=1e-6)
    assert main(["predict", "--model", str(export), "--data", str(tmp_path / "p.csv"), "--column", "probability"]) == 0
    assert main(["predict", "--model", str(export), "--data", str(rows), "--out", str(tmp_path / "p.csv.gz")]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "p.csv.gz"), scored)  # compressed as its name says
    capsys.readouterr()
    assert main(["predict", "--model", str(export), "--data", str(rows), "--out", str(tmp_path / "p.xlsx")]) == 2
    assert "must end in .csv, .tsv, .parquet, .feather (or .arrow) or .json" in capsys.readouterr().err
    # A CSV separated by semicolons, as Excel writes one where a comma is the decimal mark, is named as one.
    frame.head(3).to_csv(tmp_path / "excel.csv", sep=";", decimal=",", index=False)
    for out in ([], ["--out", str(tmp_path / "e.csv")]):
        assert main(["predict", "--model", str(export), "--data", str(tmp_path / "excel.csv"), *out]) == 2
        assert "that reads as 13 columns separated by semicolons, where .csv files are read comma-separated and " \
               ".tsv files tab-separated: convert it, e.g. pandas.read_csv(" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("")  # a file where a folder should be: the OS's error, on one line
    blocked = tmp_path / "a_file" / "p.csv"
    assert main(["predict", "--model", str(export), "--data", str(rows), "--out", str(blocked)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ctr predict: error: ") and "a_file" in err and "Traceback" not in err
    # The generated data by name, as `ctr fit --data synthetic` reads it (a dataset folder alike).
    assert main(["predict", "--model", str(export), "--data", "synthetic", "--out", str(tmp_path / "g.parquet")]) == 0
    generated = pd.read_parquet(tmp_path / "g.parquet")
    assert len(generated) == len(ctr.datasets.synthetic(seed=0)) and generated.probability.between(0, 1).all()

    # Files are scored chunk by chunk and written atomically; a bad value in a later chunk leaves the
    # earlier output whole and no temporary file behind.
    monkeypatch.setattr(cli, "SCORED_A_FILE", 7)
    whole = ctr.load(export).predict(rows, batch_size=3)
    np.testing.assert_allclose(whole, scored.probability, rtol=1e-6)
    for name in ("p.parquet", "p.tsv", "p.feather"):  # in chunks of 7 rows, each part of one file
        assert main(["predict", "--model", str(export), "--data", str(rows), "--out", str(tmp_path / name)]) == 0
        read = {"parquet": pd.read_parquet, "feather": pd.read_feather}.get(name.split(".")[-1],
                                                                           lambda path: pd.read_csv(path, sep="\t"))
        streamed = read(tmp_path / name)
        assert list(streamed.columns) == [*frame.columns.drop("rating"), "probability"] and len(streamed) == 20
        np.testing.assert_allclose(streamed.probability, whole, rtol=1e-6)
    before = (tmp_path / "p.parquet").read_bytes()
    broken = frame.head(20).drop(columns="rating").astype({"age": object})
    broken.loc[15, "age"] = "old"
    broken.to_csv(rows, index=False)
    capsys.readouterr()
    assert main(["predict", "--model", str(export), "--data", str(rows), "--out", str(tmp_path / "p.parquet")]) == 2
    assert "feature 'age'" in capsys.readouterr().err
    assert (tmp_path / "p.parquet").read_bytes() == before
    assert not list(tmp_path.glob(".p.parquet.*"))

    capsys.readouterr()
    assert main(["evaluate", "--model", str(export), "--data", str(data)]) == 0
    printed = capsys.readouterr()  # the figures alone on stdout (JSON for a pipe), the progress bar on stderr
    metrics = json.loads(printed.out)
    assert metrics["rows"] == len(frame) and 0.5 < metrics["auc"] < 1
    assert f"{len(frame):,}/{len(frame):,} rows (100%), " in printed.err  # in a pipe, lines rather than a bar
    assert metrics["positive_rate"] == pytest.approx((frame.rating >= 4).mean())
    frame.head(0).to_parquet(tmp_path / "empty.parquet")
    assert main(["evaluate", "--model", str(export), "--data", str(tmp_path / "empty.parquet")]) == 2
    assert "the evaluation data has no rows" in capsys.readouterr().err

    assert main(["describe", str(export)]) == 0
    out = capsys.readouterr().out
    assert "FM" in out and "(fit)" not in out
    assert main(["describe", "--model", str(export)]) == 0  # named as every other command names an export
    assert capsys.readouterr().out == out
    shown: list[str] = []
    ctr.load(export).summary(print_fn=shown.append)  # the same text in Python
    assert shown == [out.rstrip("\n")]


def test_several_files_for_data_say_how_to_give_them(tmp_path, capsys, monkeypatch):
    # A pattern, quoted (read as a path) or not (the shell gives every file it matches), and one folder.
    monkeypatch.chdir(tmp_path)
    for name in ("a.csv", "b.csv"):
        ctr.datasets.synthetic(50, seed=1).to_csv(name, index=False)
    assert main(["fit", "--spec", "synthetic", "--data", "*.csv"]) == 2
    assert ("--data '*.csv': no such file or folder: a path is read as it is written, not as a pattern (2 files "
            "match it); put the files in one folder and pass the folder") in capsys.readouterr().err
    assert main(["fit", "--spec", "synthetic", "--data", "a*.csv"]) == 2
    assert "not as a pattern; the one file it matches is a.csv" in capsys.readouterr().err
    (tmp_path / "logs").mkdir()
    for name in ("a.csv", "b.csv", ".a.csv.crc"):  # a hidden file is no data
        (tmp_path / "logs" / name).write_text((tmp_path / "a.csv").read_text())
    assert main(["fit", "--spec", "synthetic", "--data", "logs/*.csv"]) == 2
    assert ("not as a pattern; the 2 files it matches are all that logs holds: pass the folder, logs"
            in capsys.readouterr().err)
    for flag in ("--data", "--valid"):
        given = ["--data", "a.csv"] if flag == "--valid" else []
        with pytest.raises(SystemExit, match="2"):
            main(["fit", "--spec", "synthetic", *given, flag, "a.csv", "b.csv", "--epochs", "1"])
        assert (f"ctr fit: error: {flag} takes one file or folder, and got 2 (a.csv, b.csv): a shell pattern "
                "expands to every file it matches") in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):  # anything else is argparse's own
        main(["fit", "--spec", "synthetic", "--data", "a.csv", "stray"])
    assert "error: unrecognized arguments: stray" in capsys.readouterr().err


def test_paths_given_without_their_flags_are_told_which_flag(tmp_path, capsys, monkeypatch):
    # `ctr predict runs/x rows.csv`, as many tools take their inputs: argparse said only that --model and
    # --data are required (or that the spec is an unrecognized argument).
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "x").mkdir(parents=True)
    (tmp_path / "runs" / "x" / "saved_model.pb").write_bytes(b"")
    ctr.datasets.synthetic(20, seed=1).to_csv("rows.csv", index=False)
    ctr.datasets.synthetic_spec().to_yaml("spec.yaml")
    for argv, said in [
            (["predict", "runs/x", "rows.csv"], "the following arguments are required: --model, --data (runs/x and "
             "rows.csv were given without their flags: ctr predict --model runs/x --data rows.csv)"),
            (["draft-spec", "rows.csv", "--out", "s.yaml"], "the following arguments are required: --data (rows.csv "
             "was given without its flag: ctr draft-spec --data rows.csv --out s.yaml)"),
            (["fit", "spec.yaml", "--data", "rows.csv"], "unrecognized arguments: spec.yaml (spec.yaml was given "
             "without its flag: ctr fit --spec spec.yaml --data rows.csv)"),
            (["fit", "--spec", "spec.yaml", "runs/x"], "the following arguments are required: --data (runs/x was "
             "given without its flag: ctr fit --spec spec.yaml --data runs/x)"),  # fit: --model names a model
            (["predict", "--model", "runs/x", "--data", "rows.csv", "stray"], "unrecognized arguments: stray\n"),
            # A flag near one of the command's is named (argparse only takes a flag's beginning for it).
            (["fit", "--spec", "spec.yaml", "--data", "rows.csv", "--batchsize", "64"], "unrecognized arguments: "
             "--batchsize 64 (did you mean --batch-size?)\n"),
            (["fit", "--spec", "spec.yaml", "--data", "rows.csv", "--learning_rate", "0.1", "--seeds", "3"],
             "unrecognized arguments: --learning_rate 0.1 --seeds 3 (did you mean --learning-rate for "
             "--learning_rate, --seed for --seeds?)\n")]:
        with pytest.raises(SystemExit, match="2"):
            main(argv)
        assert f"ctr {argv[0]}: error: {said}" in capsys.readouterr().err


def test_errors_are_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("features:\n  - {name: a, kind: categoricl}\n")
    assert main(["describe", str(bad)]) == 2
    assert "features[0].kind: 'categoricl' is not one of" in capsys.readouterr().err
    good = str(ROOT / "feature_specs" / "synthetic.yaml")
    assert main(["fit", "--spec", good, "--data", str(tmp_path / "absent.parquet")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:  # argparse's own usage error
        main(["fit", "--spec", good, "--data", "synthetic", "--split", "0.8,abc"])
    assert exit_.value.code == 2
    assert ("--split: expected three comma-separated fractions, train,valid,test, such as 0.8,0.1,0.1, got "
            "'0.8,abc'") in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["fit", "--spec", good, "--data", "synthetic", "--hidden-units", "64,abc"])
    assert "--hidden-units: expected comma-separated layer widths such as 256,128" in capsys.readouterr().err
    assert main(["fit", "--spec", good, "--data", "synthetic", "--model", "two_tower", "--embedding-updates",
                 "lazy"]) == 2
    assert ("--embedding-updates applies to the Adam-trained models (lr, fm, widedeep, deepfm, dcn, autoint, xdeepfm, "
            "fibinet, nfm, afm, mf, bpr, neumf); two_tower trains with Adagrad") in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):  # argparse's: the flag's rule, as the command line is read
        main(["fit", "--spec", good, "--data", "synthetic", "--embedding-dim", "0"])
    assert "error: argument --embedding-dim: must be an integer of at least 1, got 0" in capsys.readouterr().err


def test_fit_trains_tests_and_exports_a_recommender_that_recommend_serves(tmp_path, frame, capsys):
    data = tmp_path / "ratings.parquet"
    frame.to_parquet(data)
    spec = ROOT / "feature_specs" / "synthetic.yaml"
    export = tmp_path / "tower"
    assert main(["fit", "--spec", str(spec), "--data", str(data), "--model", "two-tower", "--epochs", "1",
                 "--batch-size", "512", "--embedding-dim", "4", "--export", str(export)]) == 0
    out, err = capsys.readouterr()
    assert "\r" not in out + err  # the test users' progress, in a pipe: one line when all are ranked
    users = frame["user_id"].nunique()
    assert f"TwoTower on {len(frame) - 2 * users} interactions ({users} valid, {users} test" in out
    test = json.loads(out[out.index("{"):out.index("ctr fit: exported")])["test"]
    assert test["protocol"].startswith("full") and 0 <= test["NDCG@10"] <= 1 and test["queries"] > 0
    assert f"the {test['queries']} test rows with rating >= 4 are ranked" in out  # held-out positives only
    user = str(frame["user_id"].iloc[0])
    assert main(["recommend", "--model", str(export), "--user", user, "--k", "3"]) == 0
    assert f"top 3 for user {user} (TwoTower):" in capsys.readouterr().out
    assert main(["recommend", "--model", str(export), "--user", "987654", "--k", "3"]) == 0  # said, not silent
    assert ("top 3 for user 987654 (TwoTower); not seen in training, so ranked as a new user, from the features "
            "given:") in capsys.readouterr().out
    assert main(["recommend", "--model", str(export), "--user", f"{user},{user}", "--k", "3"]) == 2
    assert (f"--user takes one user's id, got '{user},{user}'; for several users, write their ids in a column "
            "'user_id' of a file and pass it: ctr recommend --model ") in capsys.readouterr().err
    # --seen leaves out what the user touched, as it does for a file of queries.
    assert main(["recommend", "--model", str(export), "--user", user, "--k", "3"]) == 0
    top = [int(line.split()[1]) for line in capsys.readouterr().out.splitlines()[2:5]]
    pd.DataFrame({"user_id": [int(user), int(user), int(user) + 1], "item_id": top}).to_parquet(
        tmp_path / "seen.parquet")  # their first two, and another user's third
    assert main(["recommend", "--model", str(export), "--user", user, "--k", "3", "--seen",
                 str(tmp_path / "seen.parquet")]) == 0
    out = capsys.readouterr().out
    assert f"(TwoTower); the 2 items they touched in {tmp_path / 'seen.parquet'} left out:" in out
    again = [int(line.split()[1]) for line in out.splitlines()[2:5]]
    assert not set(again) & set(top[:2]) and again[0] == top[2]  # another user's item stays
    # A context time given as ISO text is the same moment as its epoch seconds.
    lists = []
    for when in ("2024-01-01T10:00:00", "1704103200"):
        assert main(["recommend", "--model", str(export), "--user", user, "--k", "3", "--feature",
                     f"timestamp={when}"]) == 0
        lists.append(capsys.readouterr().out)
    assert lists[0] == lists[1]
    shown: list[str] = []
    ctr.load(export).summary(print_fn=shown.append)
    assert shown[0].startswith("TwoTower {") and f"catalogue: {frame['item_id'].nunique():,} items" in shown[0]
    assert main(["export", "--model", str(export), "--out", str(tmp_path / "tower.onnx")]) == 2
    assert "is a recommender export (TwoTower): ONNX export covers the click models" in capsys.readouterr().err
    # Leave-one-out needs each interaction's time: the spec's timestamp feature, or a column named.
    no_time = tmp_path / "no-time.yaml"
    no_time.write_text("\n".join(line for line in spec.read_text().splitlines() if "timestamp" not in line))
    assert main(["fit", "--spec", str(no_time), "--data", str(data), "--model", "mf"]) == 2
    assert "has no timestamp feature, and a recommender is tested on each user's latest" in capsys.readouterr().err
    assert main(["fit", "--spec", str(no_time), "--data", str(data), "--model", "popularity",
                 "--split-by-time", "timestamp", "--export", str(tmp_path / "popular")]) == 0
    assert f"Popularity on {len(frame) - 2 * users} interactions ({users} valid" in capsys.readouterr().out
    # It counted the positives of what leave-one-out by that column trains on (each user's latest two held out).
    train = ctr.leave_one_out(frame, time="timestamp", validation=True)[0]
    train = train[train["rating"] >= 4]["item_id"].value_counts()
    items = pd.DataFrame({"item_id": train.index})
    np.testing.assert_array_equal(ctr.load(tmp_path / "popular").predict(items), train.to_numpy())
    assert main(["fit", "--spec", str(no_time), "--data", str(data), "--model", "mf", "--split-by-time", "when"]) == 2
    assert "column 'when' is missing from" in capsys.readouterr().err


def test_fit_the_popularity_baseline_from_the_shell_and_serve_its_export(tmp_path, frame, capsys):
    """`--model popularity` is tested as the recommenders are, on the same held-out interactions, and
    exports; a flag that sets how a model trains is refused."""
    data = tmp_path / "ratings.parquet"
    frame.to_parquet(data)
    fit = ["fit", "--spec", str(ROOT / "feature_specs" / "synthetic.yaml"), "--data", str(data), "--model",
           "popularity"]
    assert main([*fit, "--export", str(tmp_path / "popular")]) == 0
    out = capsys.readouterr().out
    test = json.loads(out[out.index("{"):out.index("ctr fit: exported")])["test"]
    assert test["protocol"].startswith("full") and 0 < test["HR@10"] < 1, test
    assert "training curves" not in out  # no epochs to draw
    assert main(["recommend", "--model", str(tmp_path / "popular"), "--user", "3", "--k", "2"]) == 0
    shown = capsys.readouterr().out
    assert "top 2 for user 3 (Popularity)" in shown
    most = frame["item_id"].value_counts().index[0]  # training holds all but each user's latest two
    assert re.search(rf"\n +1 +{most} ", shown), shown
    assert main([*fit, "--embedding-dim", "8", "--param", "l2=0.1", "--patience", "2"]) == 2
    assert ("--embedding-dim, --param, --patience: popularity counts each item's interactions in one pass, so it "
            "has no settings, training loop or checkpoints") in capsys.readouterr().err


def test_a_split_in_time_reads_the_specs_unit_and_a_wrong_unit_is_named_not_a_traceback(tmp_path, capsys):
    rng = np.random.default_rng(0)
    ms = rng.integers(1_600_000_000_000, 1_700_000_000_000, 600)
    pd.DataFrame({"user": rng.integers(0, 20, 600), "ts": ms,
                  "clicked": rng.integers(0, 2, 600)}).to_parquet(tmp_path / "logs.parquet")
    for unit in ("ms", "s"):
        (tmp_path / f"{unit}.yaml").write_text(
            f"name: logs\nlabel: {{column: clicked}}\nfeatures:\n  - {{name: user, kind: categorical, dtype: int}}\n"
            f"  - {{name: ts, kind: timestamp, unit: {unit}}}\n")
    fit = ["fit", "--data", str(tmp_path / "logs.parquet"), "--model", "lr", "--epochs", "1", "--split-by-time", "ts"]
    assert main([*fit, "--spec", str(tmp_path / "ms.yaml")]) == 0
    assert re.search(r"ctr fit: train 480 rows, 2020-09-\d\d \S+ … 2023-\d\d-\d\d \S+ UTC", capsys.readouterr().out)
    # Milliseconds under a spec that counts seconds: the parts' ranges as numbers, then the unit they fit.
    assert main([*fit, "--spec", str(tmp_path / "s.yaml")]) == 2
    out, err = capsys.readouterr()
    assert re.search(r"ctr fit: train 480 rows, 16\d{11} … 16\d{11} \(seconds since the epoch\)", out), out
    assert "feature 'ts' (timestamp, column 'ts'): the values (typically " in err
    assert "they look like milliseconds: set unit: ms in the spec" in err and "Traceback" not in err


def test_the_shells_click_models_are_the_packages():
    from ctr.models import MODELS

    assert {name: cls.__name__ for name, cls in MODELS.items()} == cli._CLICK_MODELS


def test_fit_autoint_with_model_params_then_carry_on_from_its_export_in_the_shell(tmp_path, frame, capsys):
    data = tmp_path / "ratings.parquet"
    frame.head(3000).to_parquet(data)
    spec = str(ROOT / "feature_specs" / "synthetic.yaml")
    assert main(["fit", "--spec", spec, "--data", str(data), "--model", "autoint", "--epochs", "1",
                 "--embedding-dim", "4", "--hidden-units", "8", "--param", "num_heads=1", "--param", "key_dim=3",
                 "--param", "residual=false", "--export", str(tmp_path / "autoint")]) == 0
    assert "ctr fit: AutoInt on 2400 rows" in capsys.readouterr().out
    config = ctr.load(tmp_path / "autoint").metadata["config"]
    assert (config["hidden_units"], config["num_heads"], config["key_dim"], config["residual"],
            config["attention_layers"]) == ([8], 1, 3, False, 3)
    assert main(["fit", "--data", str(data), "--warm-start-from", str(tmp_path / "autoint"), "--epochs", "1",
                 "--export", str(tmp_path / "again")]) == 0
    assert "ctr fit: AutoInt on 2400 rows" in capsys.readouterr().out
    assert ctr.load(tmp_path / "again").metadata["config"]["key_dim"] == 3
    assert main(["fit", "--spec", spec, "--data", str(data), "--model", "autoint", "--param", "residual=2"]) == 2
    assert "AutoInt: residual must be True or False, got 2 (int)" in capsys.readouterr().err


def test_fit_xdeepfm_with_its_cin_layers_as_a_comma_list_and_a_warm_start_names_a_removed_feature(tmp_path, frame,
                                                                                                  capsys):
    data = tmp_path / "ratings.parquet"
    frame.head(3000).to_parquet(data)
    spec = ROOT / "feature_specs" / "synthetic.yaml"
    assert main(["fit", "--spec", str(spec), "--data", str(data), "--model", "xdeepfm", "--epochs", "1",
                 "--embedding-dim", "4", "--hidden-units", "8", "--param", "cin_layers=8,4",
                 "--param", "cin_activation=linear", "--export", str(tmp_path / "xdeepfm")]) == 0
    assert "ctr fit: xDeepFM on 2400 rows" in capsys.readouterr().out
    config = ctr.load(tmp_path / "xdeepfm").metadata["config"]
    assert (config["cin_layers"], config["cin_activation"], config["split_half"], config["hidden_units"]) == \
        ([8, 4], "linear", True, [8])
    # The CIN's first kernel holds a weight for each pair of fields: a field fewer cannot take them.
    fewer = yaml.safe_load(spec.read_text())
    fewer["features"] = [f for f in fewer["features"] if f["name"] != "price"]
    (tmp_path / "fewer.yaml").write_text(yaml.safe_dump(fewer))
    assert main(["fit", "--spec", str(tmp_path / "fewer.yaml"), "--data", str(data), "--warm-start-from",
                 str(tmp_path / "xdeepfm"), "--epochs", "1"]) == 2
    assert "features removed: price" in capsys.readouterr().err
    assert main(["fit", "--spec", str(spec), "--data", str(data), "--model", "xdeepfm", "--param",
                 "cin_layers=7,4"]) == 2
    assert "xDeepFM: with split_half, every CIN layer but the last must have an even number" in \
        capsys.readouterr().err
    assert main(["fit", "--spec", str(spec), "--data", str(data), "--model", "nfm", "--param", "bi_dropout=1.5"]) == 2
    assert "NFM: bi_dropout must be a number of at least 0 and below 1, got 1.5" in capsys.readouterr().err
    assert main(["fit", "--spec", str(spec), "--data", str(data), "--model", "afm", "--param",
                 "attention_factor=0"]) == 2
    assert "AFM: attention_factor must be an integer of at least 1, got 0" in capsys.readouterr().err
    # FiBiNET's settings likewise, and a warm start from its export takes them.
    assert main(["fit", "--spec", str(spec), "--data", str(data), "--model", "FiBiNET", "--epochs", "1",
                 "--embedding-dim", "4", "--hidden-units", "8", "--param", "bilinear_type=all",
                 "--param", "reduction_ratio=2", "--export", str(tmp_path / "fibinet")]) == 0
    assert "ctr fit: FiBiNET on 2400 rows" in capsys.readouterr().out
    assert main(["fit", "--spec", str(spec), "--data", str(data), "--warm-start-from", str(tmp_path / "fibinet"),
                 "--epochs", "1", "--export", str(tmp_path / "again")]) == 0
    config = ctr.load(tmp_path / "again").metadata["config"]
    assert (config["bilinear_type"], config["reduction_ratio"], config["hidden_units"]) == ("all", 2, [8])
    # Wide & Deep, by DeepCTR's name for it, with features in its wide part alone (its linear_feature_columns).
    assert main(["fit", "--spec", str(spec), "--data", str(data), "--model", "WDL", "--epochs", "1",
                 "--embedding-dim", "4", "--hidden-units", "8,4", "--param", "dropout=0.1", "--param",
                 "wide_only=zip_prefix,price", "--export", str(tmp_path / "widedeep")]) == 0
    assert "ctr fit: WideDeep on 2400 rows" in capsys.readouterr().out
    config = ctr.load(tmp_path / "widedeep").metadata["config"]
    assert (config["hidden_units"], config["dropout"], config["wide_only"]) == ([8, 4], 0.1, ["zip_prefix", "price"])


def test_fit_dcn_split_in_time_with_model_params_from_the_shell(tmp_path, frame, capsys):
    data = tmp_path / "ratings.parquet"
    frame.head(3000).to_parquet(data)
    spec = str(ROOT / "feature_specs" / "synthetic.yaml")
    assert main(["fit", "--spec", spec, "--data", str(data), "--model", "dcn", "--epochs", "1", "--embedding-dim",
                 "4", "--hidden-units", "8", "--split-by-time", "timestamp", "--param", "structure=stacked",
                 "--param", "l2=1e-5", "--param", "projection_dim=2", "--group-by", "user_id", "--patience", "1",
                 "--stop-on", "gauc", "--export",
                 str(tmp_path / "dcn")]) == 0
    out = capsys.readouterr().out
    assert "ctr fit: DCN on 2400 rows" in out
    assert "val_gauc: 0." in out  # each epoch's, on the validation rows
    assert re.search(r"ctr fit: val_gauc was best at epoch 1 \(0\.\d+\), whose weights are kept", out), out
    tested = json.loads(out[out.index("{"):out.rindex("}") + 1])["test"]
    assert 0 <= tested["gauc"] <= 1 and 0 < tested["gauc_rows"] <= 300, tested
    # The three parts' time ranges, in order, none overlapping.
    ranges = re.findall(r"ctr fit: (train|valid|test) (\d+) rows, (\S+ \S+) … (\S+ \S+) UTC", out)
    assert [(r[0], int(r[1])) for r in ranges] == [("train", 2400), ("valid", 300), ("test", 300)]
    assert ranges[0][3] < ranges[1][2] and ranges[1][3] < ranges[2][2]
    config = ctr.load(tmp_path / "dcn").metadata["config"]
    assert ctr.load(tmp_path / "dcn").metadata["model"] == "DCN"
    assert (config["hidden_units"], config["structure"], config["l2"], config["projection_dim"]) == (
        [8], "stacked", 1e-5, 2)
    for extra, message in [(["--param", "depth=3"], "--param depth: DCN has no argument 'depth'; it takes "
                                                     "batch_size, cross_layers, crosses, dropout,"),
                           (["--param", "seed=3"], "--param seed: given twice (--seed and --param)"),
                           (["--param", "cross_layers=-1"], "DCN: cross_layers must be an integer of at least 0"),
                           (["--split-by-time", "when"], "column 'when' is missing from the data of time_split"),
                           (["--group-by", "account"], "column 'account' is missing from " + str(data)),
                           (["--stop-on", "gauc", "--patience", "1"], "--stop-on gauc watches the validation "
                                                                      "group AUC: give --group-by COLUMN"),
                           (["--model", "mf", "--group-by", "user_id"],
                            "--group-by and --stop-on apply to the click models"),
                           (["--model", "bpr", "--stop-on", "logloss"],
                            "--group-by and --stop-on apply to the click models")]:
        model = [] if "--model" in extra else ["--model", "dcn"]  # an option given twice is an error of its own
        assert main(["fit", "--spec", spec, "--data", str(data), *model, *extra]) == 2, extra
        assert message in capsys.readouterr().err, extra
    with pytest.raises(SystemExit):
        main(["fit", "--spec", spec, "--data", str(data), "--param", "dropout"])
    assert "--param: expected NAME=VALUE such as dropout=0.3, got 'dropout'" in capsys.readouterr().err
    # A column missing from the whole file is named by the file, before the split names it in the validation part.
    frame.head(300).drop(columns=["price"]).to_parquet(tmp_path / "no_price.parquet")
    for model in ("dcn", "mf"):
        assert main(["fit", "--spec", spec, "--data", str(tmp_path / "no_price.parquet"), "--model", model]) == 2
        assert f"ctr fit: error: column 'price' is missing from {tmp_path / 'no_price.parquet'}; it has: " \
               in capsys.readouterr().err, model


def test_fit_can_stop_on_the_validation_logloss(tmp_path, frame, capsys):
    # The logloss is a loss: its best epoch is its lowest (AUC's is its highest).
    data = tmp_path / "ratings.parquet"
    frame.head(3000).to_parquet(data)
    spec = str(ROOT / "feature_specs" / "synthetic.yaml")
    assert main(["fit", "--spec", spec, "--data", str(data), "--model", "lr", "--epochs", "3", "--patience", "3",
                 "--stop-on", "logloss"]) == 0
    out = capsys.readouterr().out
    losses = [float(v) for v in re.findall(r"val_logloss: (\d\.\d+)", out)]
    best = re.search(r"ctr fit: val_logloss was best at epoch (\d) \((\d\.\d+)\)", out)
    assert len(losses) == 3 and best, out
    assert int(best[1]) == 1 + losses.index(min(losses)) and abs(float(best[2]) - min(losses)) < 1e-4, (losses, best[0])


def test_fit_on_parts_given_apart_streams_them_and_tests_on_the_test_rows(tmp_path, frame, capsys, monkeypatch):
    """--valid and --test: --data is the training rows alone, passed to fit as its path (streamed, not
    loaded whole to be split); the model is the one Python's fit gives on the same parts."""
    train, valid, test = ctr.data.random_split(frame.head(3000), (0.8, 0.1, 0.1), seed=0)
    (tmp_path / "train").mkdir()
    train.iloc[:1000].to_parquet(tmp_path / "train" / "a.parquet")
    train.iloc[1000:].to_parquet(tmp_path / "train" / "b.parquet")
    valid.to_csv(tmp_path / "valid.csv", index=False)
    test.to_json(tmp_path / "test.jsonl", orient="records", lines=True)
    seen = []
    fit = ctr.LogisticRegression.fit

    def recorded(self, data, *args, **kwargs):
        seen.append((data, kwargs["validation_data"]))
        return fit(self, data, *args, **kwargs)
    monkeypatch.setattr(ctr.LogisticRegression, "fit", recorded)
    spec = str(ROOT / "feature_specs" / "synthetic.yaml")
    assert main(["fit", "--spec", spec, "--data", str(tmp_path / "train"), "--valid", str(tmp_path / "valid.csv"),
                 "--test", str(tmp_path / "test.jsonl"), "--model", "lr", "--epochs", "2", "--patience", "2",
                 "--export", str(tmp_path / "lr")]) == 0
    out = capsys.readouterr().out
    assert seen == [(str(tmp_path / "train"), str(tmp_path / "valid.csv"))]  # paths, read chunk by chunk
    assert f"LogisticRegression on {len(train)} rows ({len(valid)} valid, {len(test)} test)" in out
    printed = json.loads(out[out.index("{"):out.rindex("}") + 1])["test"]
    assert printed["rows"] == len(test)
    assert printed["auc"] == pytest.approx(ctr.load(tmp_path / "lr").evaluate(test)["auc"], abs=1e-6)
    assert main(["fit", "--spec", spec, "--data", str(tmp_path / "train"), "--test", str(tmp_path / "test.jsonl"),
                 "--model", "lr", "--epochs", "1", "--patience", "1"]) == 2
    assert "--patience stops on the validation AUC, and no --valid is given" in capsys.readouterr().err


class _Killed(BaseException):
    """Stands for the process dying mid-training (kill -9): nothing after it runs, no cleanup either."""


@pytest.mark.parametrize("model", ["fm", "mf"])
def test_fit_with_a_backup_dir_resumes_where_a_killed_run_stopped(tmp_path, frame, capsys, monkeypatch, model):
    """The same command run again after a kill carries on from the last checkpoint, to the same steps."""
    from ctr.models._resume import _StepBackup

    data = tmp_path / "ratings.parquet"
    frame.head(3000).to_parquet(data)
    backup, steps = tmp_path / "backup", []
    keras_backup = _StepBackup._backup

    def backup_then_die(self, epoch, batch=0):
        keras_backup(self, epoch=epoch, batch=batch)
        steps.append(int(self.model.optimizer.iterations.numpy()))
        if len(steps) == 2:
            raise _Killed

    fit = ["fit", "--spec", str(ROOT / "feature_specs" / "synthetic.yaml"), "--data", str(data), "--model", model,
           "--epochs", "2", "--embedding-dim", "4", "--batch-size", "256", "--backup-dir", str(backup),
           "--backup-every", "3", "--export", str(tmp_path / "model")]
    monkeypatch.setattr(_StepBackup, "_backup", backup_then_die)
    with pytest.raises(_Killed):
        main(fit)
    assert steps == [3, 6] and (backup / "preprocessing.json").exists()
    monkeypatch.setattr(_StepBackup, "_backup", lambda self, epoch, batch=0: (
        keras_backup(self, epoch=epoch, batch=batch), steps.append(int(self.model.optimizer.iterations.numpy()))))
    capsys.readouterr()
    assert main(fit) == 0
    assert f"ctr: resuming from {backup}" in capsys.readouterr().err
    assert steps[2] == 9 and not backup.exists() and (tmp_path / "model" / "saved_model.pb").exists()
    assert main([*fit[:-6], "--backup-every", "3"]) == 2  # without --backup-dir
    assert "--backup-every is how often --backup-dir is written" in capsys.readouterr().err


def test_fit_a_click_model_on_interactions_only_with_sampled_non_clicks(tmp_path, frame, capsys):
    spec = tmp_path / "interactions.yaml"
    spec.write_text("features:\n  - {name: user_id, kind: categorical, dtype: int, role: user}\n"
                    "  - {name: item_id, kind: categorical, dtype: int, role: item}\n"
                    "  - {name: genres, kind: multi_categorical, role: item}\n")
    data = tmp_path / "touched.parquet"
    frame.head(3000).drop(columns="rating").to_parquet(data)
    fit = ["fit", "--spec", str(spec), "--data", str(data), "--epochs", "1", "--embedding-dim", "4"]
    assert main(fit) == 2  # no label: say how to get one, in the shell's words
    assert "has no label" in capsys.readouterr().err
    assert main([*fit, "--model", "fm", "--negatives", "2", "--export", str(tmp_path / "fm")]) == 0
    out = capsys.readouterr().out
    assert "FM on 7200 rows (900 valid, 900 test)" in out  # 2,400 / 300 / 300 interactions, each with 2 non-clicks
    test = json.loads(out[out.index("{"):out.index("ctr fit: exported")])["test"]
    assert test["positive_rate"] == pytest.approx(1 / 3) and test["auc"] > 0.6
    assert ctr.load(tmp_path / "fm").predict(frame.head(5)).shape == (5,)
    # Evaluated on other interactions alone, as it was trained: the same draw of non-clicks, from the shell.
    evaluate = ["evaluate", "--model", str(tmp_path / "fm"), "--data", str(data)]
    assert main(evaluate) == 2
    assert "'clicked' is the model's label: the rows measured must say whether each was clicked; for " \
           "interactions alone, as ctr fit --negatives N trains on, pass --negatives N" in capsys.readouterr().err
    assert main([*evaluate, "--negatives", "2", "--seed", "1"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["rows"] == 9000 and figures["positive_rate"] == pytest.approx(1 / 3) and figures["auc"] > 0.6
    assert main(["importance", *evaluate[1:], "--negatives", "2", "--seed", "1", "--repeats", "1",
                 "--plot", str(tmp_path / "importance.png")]) == 0
    assert f"AUC {figures['auc']:.4f} on 9,000 rows" in capsys.readouterr().out  # the same rows, drawn alike
    assert main([*fit, "--model", "mf", "--negatives", "2"]) == 2
    assert "--negatives applies to the click models; mf draws its own negatives" in capsys.readouterr().err


@needs(ML100K)
def test_fit_reads_a_movielens_folder(tmp_path, capsys):
    assert main(["fit", "--spec", str(ROOT / "feature_specs" / "movielens-100k.yaml"), "--data", str(ML100K),
                 "--model", "lr", "--epochs", "1", "--batch-size", "4096"]) == 0
    assert "LogisticRegression on 80000 rows" in capsys.readouterr().out


@needs(ML1M)
def test_warnings_are_one_line_after_the_command_name(tmp_path, capsys):
    """It printed `.../ctr/cli.py:611: UserWarning: ...` and then that line of ctr's code."""
    assert main(["inspect-data", "--spec", str(ROOT / "feature_specs" / "movielens-100k.yaml"), "--data", str(ML1M),
                 "--out", str(tmp_path / "report.png")]) == 0
    err = capsys.readouterr().err
    assert err == (f"ctr inspect-data: warning: {ML1M}: ratings.dat is absent; using the 100k-row "
                   "ratings.sample100k.dat\n"), err


def test_demo_runs_end_to_end(tmp_path, capsys):
    pytest.importorskip("ctr.demo")
    assert main(["demo", "--rows", "4000", "--epochs", "1", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "DeepFM" in out and "Served from the reloaded SavedModel" in out
    assert (tmp_path / "demo" / "saved_model.pb").exists()


def test_fit_stops_early_on_the_validation_auc_and_keeps_the_best_epoch(tmp_path, frame, capsys):
    data = tmp_path / "ratings.parquet"
    frame.to_parquet(data)
    spec = str(ROOT / "feature_specs" / "synthetic.yaml")
    assert main(["fit", "--spec", spec, "--data", str(data), "--model", "fm", "--epochs", "40", "--patience", "1",
                 "--learning-rate", "0.05", "--embedding-dim", "4", "--export", str(tmp_path / "fm")]) == 0
    out = capsys.readouterr().out
    stopped = re.search(r"stopped after epoch (\d+): val_auc last improved at epoch (\d+) \((0\.\d+)\)", out)
    assert stopped, out
    last, best, auc = int(stopped[1]), int(stopped[2]), float(stopped[3])
    assert best == last - 1 < 39
    test_auc = json.loads(out[out.index("{"):out.rindex("}") + 1])["test"]["auc"]
    assert abs(test_auc - auc) < 0.05  # the kept weights are the best epoch's, not the last one's
    assert main(["fit", "--spec", spec, "--data", str(data), "--model", "lr", "--patience", "2",
                 "--split", "0.9,0,0.1"]) == 2
    assert "--patience stops on the validation AUC, and --split leaves no validation rows" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):
        main(["fit", "--spec", spec, "--data", str(data), "--model", "lr", "--patience", "0"])
    assert "argument --patience: must be an integer of at least 1, got 0" in capsys.readouterr().err


def test_progress_is_redrawn_on_a_terminal_or_in_a_notebook_and_written_a_line_at_a_time_elsewhere(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdout", Terminal())
    assert keras_verbose("auto") == 1
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert keras_verbose("auto") == 2
    assert [keras_verbose(v) for v in (0, 1, 2)] == [0, 1, 2]  # asked for outright, as in Keras
    monkeypatch.setitem(sys.modules, "ipykernel", sys)
    assert keras_verbose("auto") == 1
