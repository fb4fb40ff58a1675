"""The `ctr` command: demo, fit (click models and recommenders), evaluate, predict, recommend, describe and the
plots, over the same Python API."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import json
import os
import shlex
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._args import EMBEDDING_UPDATES, figure_path, flag_type, keyword_arguments
from ._files import pattern_hint, several_paths
from ._model_names import CLICK_MODELS as _CLICK_MODELS
from ._model_names import RECOMMENDERS as _RECOMMENDERS
from ._model_names import SOLVED as _SOLVED
from ._model_names import model_key, unknown_model
from .errors import ArgumentError, CtrError, DataError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ctr", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = commands.add_parser("demo", help="train LR, FM and DeepFM on the embedded data, export and serve")
    demo.add_argument("--rows", type=flag_type("demo_rows"), default=100_000, help="synthetic rows to generate")
    demo.add_argument("--epochs", type=flag_type("epochs"), default=3)
    demo.add_argument("-o", "--out", default="runs/demo", help="folder for the DeepFM export")
    demo.add_argument("--seed", type=flag_type("seed"), default=0)

    draft = commands.add_parser("draft-spec", help="draft a feature spec from data: each column's kind and role "
                                                   "guessed from its values, the reason written beside it")
    draft.add_argument("--data", required=True, help="as for fit: a Parquet file or folder, CSV or JSON lines, "
                                                     "TFRecords, a MovieLens or Frappe folder, or 'synthetic'")
    _add_format(draft)
    draft.add_argument("--label", metavar="COLUMN", help="the click column (default: one named like a label: "
                                                         "click, label, target, rating, ...; none if no column is)")
    draft.add_argument("--label-threshold", type=flag_type("threshold", float), metavar="VALUE",
                       help="for a rating label: the value from which a row counts as a click, e.g. 4")
    draft.add_argument("--label-positive", metavar="VALUE", action="append",
                       help="for a label of words (an event log's): a value that makes a row a click, e.g. "
                            "purchase; give it again for several")
    draft.add_argument("--user", metavar="COLUMN", help="the user id column (default: one named like it)")
    draft.add_argument("--item", metavar="COLUMN", help="the item id column (default: one named like it)")
    draft.add_argument("--name", help="the spec's name (default: the data file's)")
    draft.add_argument("--rows", type=flag_type("sample_rows"), default=200_000,
                       help="guess from this many rows (read from 8 places spread through a larger source)")
    draft.add_argument("-o", "--out", help="write the spec to this new .yaml file (default: print it)")

    fit = commands.add_parser("fit", help="train a model on data described by a spec and export it")
    fit.add_argument("--spec", help="feature spec YAML, or a ready spec's name (synthetic, movielens-100k, "
                                    "movielens-1m, frappe, criteo); required: `ctr draft-spec` drafts one from data")
    fit.add_argument("--data", required=True, help="MovieLens or Frappe folder, Parquet file/folder, Arrow/Feather, "
                                                   "CSV or JSON lines, TFRecords; 'synthetic' for the embedded data")
    _add_format(fit)
    fit.add_argument("--model", choices=[*_CLICK_MODELS, *_RECOMMENDERS], type=_model_choice,
                     help=f"a click model ({', '.join(_CLICK_MODELS)}: random split, AUC) or a recommender (mf, "
                          "bpr, neumf, two_tower, or the baselines ease and popularity: each user's latest "
                          "interaction held out for test and the one before for validation, ranked against the whole "
                          "catalogue); default "
                          "deepfm, or --warm-start-from's")
    fit.add_argument("--export", "--out", "-o", help="write the raw-feature SavedModel here (--out, as the other "
                                               "commands name what they write, is the same)")
    fit.add_argument("--epochs", type=flag_type("epochs"), default=5)
    fit.add_argument("--patience", type=flag_type("patience"),
                     help="stop once the validation figure (AUC; the two-tower's top-10 accuracy) has not improved "
                          "for this many epochs, and keep the best epoch's weights; --epochs is then the most it "
                          "trains")
    fit.add_argument("--stop-on", choices=["auc", "gauc", "logloss"], default="auc",
                     help="click models: the validation figure --patience watches, the AUC, (with --group-by) "
                          "the group AUC, or the logloss (when the probabilities themselves matter)")
    fit.add_argument("--batch-size", type=flag_type("batch_size"),
                     help="default: the model's (512; the two-tower's 4096)")
    fit.add_argument("--embedding-dim", type=flag_type("embedding_dim"), help="default: the model's (16)")
    fit.add_argument("--hidden-units", type=_widths,
                     help="MLP widths, comma-separated (WideDeep, DeepFM, DCN, AutoInt, xDeepFM, FiBiNET and NFM: "
                          "256,128; NeuMF: its own; the two-tower's towers: none)")
    fit.add_argument("--learning-rate", type=flag_type("learning_rate", float),
                     help="default: the model's (Adam 1e-3; lr's 1e-2; the two-tower's Adagrad 0.1)")
    fit.add_argument("--embedding-updates", choices=EMBEDDING_UPDATES,
                     help="Adam on the embedding rows a batch used, plus the steps Keras' Adam takes on the "
                          "others meanwhile, applied when a row is next used (momentum; the default), or on the "
                          "rows a batch used only (lazy)")
    fit.add_argument("--split", type=flag_type("fractions", _fractions),
                     help="random train,valid,test fractions (click models; default 0.8,0.1,0.1)")
    fit.add_argument("--valid", metavar="PATH",
                     help="click models: the validation rows, already apart; --data is then the training rows "
                          "alone, streamed from a file or folder (not loaded whole to be split)")
    fit.add_argument("--test", metavar="PATH", help="click models: the test rows, already apart (as --valid)")
    fit.add_argument("--split-by-time", metavar="COLUMN",
                     help="click models: cut --split's fractions in the order of this time column (the past "
                          "trains, the future tests) instead of at random; recommenders: the column whose latest "
                          "interaction per user is the test (default: the spec's timestamp feature)")
    fit.add_argument("--group-by", metavar="COLUMN",
                     help="click models: also report the group AUC over this column's values (gAUC, e.g. "
                          "user_id: how well each user's rows are ordered), each epoch's on the validation rows "
                          "and the test rows'")
    fit.add_argument("--negatives", type=flag_type("n_negatives"), metavar="N",
                     help="click models, for data of interactions only: follow each interaction (a click) with N "
                          "items its user never touched, as non-clicks, in every part of the split "
                          "(ctr.data.add_negatives; the label is then the 'clicked' column it writes)")
    fit.add_argument("--param", action="append", type=_param, metavar="NAME=VALUE", default=[],
                     help="any other argument of the model (repeat for several), e.g. dropout=0.3, l2=1e-5, "
                          "cross_layers=3 or structure=stacked (dcn), n_negatives=8 (mf, neumf); the value is "
                          "read as YAML")
    fit.add_argument("--seed", type=flag_type("seed"), default=0)
    fit.add_argument("--logdir", help="TensorBoard log folder")
    fit.add_argument("--backup-dir", metavar="DIR",
                     help="make the training resumable: checkpoints go here (each epoch, or every --backup-every "
                          "steps), and the same command run again after a crash or kill carries on from the last "
                          "one (--patience then watches the epochs from there); removed when training completes")
    fit.add_argument("--backup-every", type=flag_type("backup_every"), metavar="STEPS",
                     help="with --backup-dir: a checkpoint every STEPS training steps instead of every epoch")
    fit.add_argument("--calibrate", action="store_true",
                     help="click models: after training, fit Platt scaling on the validation rows so that the "
                          "probabilities match click rates (the export applies it; AUC is unchanged)")
    fit.add_argument("--warm-start-from", metavar="DIR",
                     help="an export to start from (retraining on newer data): its weights, each embedding row "
                          "carried over by its value onto the vocabularies fitted on --data; its model, settings "
                          "and spec unless --model, the flags or --spec say otherwise")

    compare = commands.add_parser("compare", help="train several models on one split of the data and set them side "
                                                  "by side, each picked by its validation figure and tested on rows "
                                                  "it never saw: which model to use")
    compare.add_argument("--spec", help="feature spec YAML, or a ready spec's name (as for fit)")
    compare.add_argument("--data", required=True, help="as for fit")
    _add_format(compare)
    compare.add_argument("--models", type=_model_list, metavar="NAMES",
                         help=f"comma-separated: click models ({', '.join(_CLICK_MODELS)}: the default for a "
                              "spec with a label) or recommenders (popularity, ease, mf, bpr, neumf, two_tower: the "
                              "default without one), not both")
    compare.add_argument("--seeds", type=flag_type("repeats"), default=1, metavar="N",
                         help="train each model with the seeds 0..N-1; the table gives their medians")
    compare.add_argument("--epochs", type=flag_type("epochs"), default=20, help="the most each model trains")
    compare.add_argument("--patience", type=flag_type("patience"), default=2,
                         help="stop a model once its validation figure has not improved for this many epochs, "
                              "keeping its best epoch's weights (default 2)")
    compare.add_argument("--stop-on", choices=["auc", "gauc", "logloss"], default="auc",
                         help="click models: the validation figure that stops each model and picks the best "
                              "(recommenders: NDCG@10)")
    compare.add_argument("--group-by", metavar="COLUMN", help="click models: also the group AUC over this column")
    compare.add_argument("--split", type=flag_type("fractions", _fractions),
                         help="click models: random train,valid,test fractions (default 0.8,0.1,0.1)")
    compare.add_argument("--split-by-time", metavar="COLUMN",
                         help="click models: cut --split's fractions in this time column's order; recommenders: "
                              "the column whose latest interaction per user is the test (default: the spec's "
                              "timestamp)")
    compare.add_argument("--negatives", type=flag_type("n_negatives"), metavar="N",
                         help="click models, for data of interactions only: follow each interaction with N items its "
                              "user never touched, as non-clicks, in every part (as fit --negatives)")
    compare.add_argument("--valid", metavar="PATH", help="click models: the validation rows, apart (with --test)")
    compare.add_argument("--test", metavar="PATH", help="click models: the test rows, apart (with --valid)")
    compare.add_argument("--embedding-dim", type=flag_type("embedding_dim"), help="for every model (default: each "
                                                                                    "model's)")
    compare.add_argument("--batch-size", type=flag_type("batch_size"), help="for every model (default: each model's)")
    compare.add_argument("--learning-rate", type=flag_type("learning_rate", float),
                         help="for every model (default: each model's)")
    compare.add_argument("--hidden-units", type=_widths, help="MLP widths for every model that has an MLP")
    compare.add_argument("--param", action="append", type=_model_param, metavar="[MODEL:]NAME=VALUE", default=[],
                         help="another argument, for one model (deepfm:dropout=0.3) or for every model that takes "
                              "it (l2=1e-5); repeat for several")
    compare.add_argument("-o", "--out", help="write the table and every run's figures to this .json file")
    compare.add_argument("--plot", help="draw each model's test figure and training time to this PNG")
    compare.add_argument("--export", metavar="DIR", help="export the best model (by the validation figure) here")
    compare.add_argument("--backup-dir", metavar="DIR",
                         help="make the comparison resumable: each finished run is recorded here and the running fit "
                              "checkpoints here, and the same command run again after a crash or kill carries on "
                              "from there; removed when the comparison completes")

    evaluate = commands.add_parser("evaluate", help="AUC and logloss of an exported model on labelled data")
    evaluate.add_argument("--model", required=True, help="export folder")
    evaluate.add_argument("--data", required=True, help="labelled rows (click model) or held-out interactions "
                                                        "(recommender)")
    _add_format(evaluate)
    evaluate.add_argument("--train", help="recommender exports: the interactions it was trained on (Parquet or "
                                          "CSV), left out of each user's ranking")
    evaluate.add_argument("--protocol", choices=["full", "sampled"], default="full",
                          help="recommender exports: rank against the whole catalogue, or 99 sampled items")
    evaluate.add_argument("--k", type=flag_type("k"), default=10,
                          help="recommender exports: the cut-off of HR, NDCG, Recall")
    evaluate.add_argument("--by", action="append", help="click models: also the figures for each value of this "
                                                        "column (repeat for combinations; numbers with many values "
                                                        "are cut into --bins quantile ranges)")
    evaluate.add_argument("--bins", type=flag_type("bins"), default=5, help="ranges a numeric --by column is cut into")
    evaluate.add_argument("--group-by", metavar="COLUMN",
                          help="click models: also the group AUC over this column's values (gAUC, e.g. user_id)")
    evaluate.add_argument("--plot", help="click models: write the reliability curve (observed click rate against "
                                         "predicted probability) to this PNG; with --by, each slice's AUC and "
                                         "calibration beside it (PLOT_by_COLUMN.png)")
    evaluate.add_argument("--negatives", type=flag_type("n_negatives"), metavar="N", help=_NEGATIVES_HELP)
    evaluate.add_argument("--seed", type=flag_type("seed"), default=0, help="--negatives' draw")

    predict = commands.add_parser("predict", help="score raw rows with an exported model")
    predict.add_argument("--model", required=True, help="export folder")
    predict.add_argument("--data", required=True, help="raw feature columns: Parquet, CSV, JSON lines or TFRecords "
                                                       "(streamed), a MovieLens or Frappe folder, or 'synthetic'")
    _add_format(predict)
    predict.add_argument("-o", "--out", help="write the rows with a 'probability' column (a recommender's: 'score') "
                                             "here (.csv, .tsv, .parquet, .feather or .json lines)")
    predict.add_argument("--column", metavar="NAME", help="the scores' column (default: probability; a "
                                                          "recommender's: score), replacing one the data has")

    recommend = commands.add_parser("recommend", help="top-k items for one user from an exported recommender")
    recommend.add_argument("--model", required=True, help="export folder with a recommend signature")
    recommend.add_argument("--user", help="user id; a known user's stored features fill what --feature leaves out")
    recommend.add_argument("--feature", action="append", default=[], metavar="NAME=VALUE",
                           help="a query feature value (repeatable), e.g. --feature age=25")
    recommend.add_argument("--history", default="",
                           help="comma-separated ids of items the user touched (a user never seen: cold start), "
                                "each with its weight (12:5,85:3) if the history is weighted; fills the spec's "
                                "history feature, and these items are not recommended again")
    recommend.add_argument("--similar-to", metavar="ITEM",
                           help="instead of a user: the items nearest to this catalogue item (MF and two-tower "
                                "exports: the cosine of their item vectors; EASE: its item × item weight)")
    recommend.add_argument("--k", type=flag_type("k"), default=10)
    recommend.add_argument("--exclude", default="", help="comma-separated item ids never to return")
    recommend.add_argument("--data", help="instead of one user: a file of queries (user ids, and any other query "
                                          "features, such as a history; a known user's stored features fill the "
                                          "columns it lacks), each distinct one recommended for; needs --out")
    recommend.add_argument("--seen", help="with --data or --user: interactions (user and item columns) whose "
                                          "items are not recommended again to their user")
    recommend.add_argument("-o", "--out", help="with --data: write one row per recommendation (the user, rank, item "
                                               "and score) here (.csv, .tsv, .parquet, .feather or .json lines)")
    recommend.add_argument("--explain", action="store_true",
                           help="with one user: why each item ranks where it does, the columns whose values raise "
                                "or lower its score most against 100 other catalogue items for the same user "
                                "(Shapley values, as ctr explain)")

    inspect = commands.add_parser("inspect-data", help="rows, users, items, sparsity, label balance, missing "
                                                       "rates and cardinalities, and a PNG of the distributions")
    inspect.add_argument("--spec", help="feature spec YAML or a ready spec's name, as for fit (required without "
                                        "--model; `ctr draft-spec` drafts one from the data)")
    inspect.add_argument("--model", help="an export folder: set the data beside what the model was fitted on (its "
                                         "missing rates, vocabularies and means) and name the skew; its spec is the "
                                         "default")
    inspect.add_argument("--data", required=True, help="as for fit, including 'synthetic'")
    _add_format(inspect)
    inspect.add_argument("-o", "--out", default="data_report.png", help="PNG to write")
    inspect.add_argument("--json", help="also write the report as JSON here")

    embeddings = commands.add_parser("embeddings", help="2-D map of a learned embedding table, plus projector TSVs")
    embeddings.add_argument("--model", required=True, help="export folder")
    embeddings.add_argument("--feature", required=True, help="feature whose table to map, e.g. item_id")
    embeddings.add_argument("-o", "--out", default="embeddings.png")
    embeddings.add_argument("--data", help="table holding the --color-by column (as for fit)")
    _add_format(embeddings)
    embeddings.add_argument("--color-by", help="column to colour by; its first |-separated value is used")

    importance = commands.add_parser("importance", help="permutation importance of a click model's input columns "
                                                        "on labelled data")
    importance.add_argument("--model", required=True, help="export folder of a click model")
    importance.add_argument("--data", required=True, help="labelled rows, e.g. the test split")
    _add_format(importance)
    importance.add_argument("--repeats", type=flag_type("repeats"), default=3,
                            help="shuffles per column (their mean is reported)")
    importance.add_argument("--seed", type=flag_type("seed"), default=0)
    importance.add_argument("--negatives", type=flag_type("n_negatives"), metavar="N", help=_NEGATIVES_HELP)
    importance.add_argument("--max-rows", type=flag_type("max_rows"), default=200_000,
                            help="measure on this many rows, drawn with --seed, when the data has more")
    importance.add_argument("--plot", default="importance.png", help="PNG to write")
    importance.add_argument("--json", help="also write the table here as JSON")

    explain = commands.add_parser("explain", help="why a model scores rows as it does: each input column's share of "
                                                  "each row's logit (a recommender's: of the row's user and item's "
                                                  "score; Shapley values)")
    explain.add_argument("--model", required=True, help="export folder of a click model or a recommender")
    explain.add_argument("--data", required=True, help="the rows to explain (no label needed; a recommender's: user "
                                                       "and item columns, each pair's score taken apart)")
    _add_format(explain)
    explain.add_argument("--rows", type=flag_type("repeats"), default=5, metavar="N",
                         help="explain the first N rows of --data")
    explain.add_argument("--background", metavar="PATH", help="rows the shares are measured against, e.g. the "
                                                              "training data (default: --data's)")
    explain.add_argument("--background-rows", type=flag_type("repeats"), default=1000, metavar="N",
                         help="at most this many background rows, drawn with --seed")
    explain.add_argument("--permutations", type=flag_type("permutations"), default=32,
                         help="orders of the columns a row (even; exact for LR and FM at any number)")
    explain.add_argument("--seed", type=flag_type("seed"), default=0)
    explain.add_argument("--plot", help="also draw the first row's shares and the mean absolute shares to this PNG")
    explain.add_argument("-o", "--out", help="write the shares here (.csv, .parquet, .json, ...), one row a row")

    downsample = commands.add_parser("downsample", help="keep every click and a share of the non-clicks, weighted "
                                                        "back in the spec's label.weight column")
    downsample.add_argument("--spec", required=True, help="feature spec YAML with label.weight")
    downsample.add_argument("--data", required=True, help="labelled rows: Parquet file or folder, CSV, JSON "
                                                          "lines or TFRecords (streamed), a MovieLens or Frappe "
                                                          "folder, or 'synthetic'")
    _add_format(downsample)
    downsample.add_argument("--keep", type=flag_type("keep", float), required=True,
                            help="share of the non-clicks kept, e.g. 0.1")
    downsample.add_argument("--seed", type=flag_type("seed"), default=0)
    downsample.add_argument("-o", "--out", required=True,
                            help="file to write (.parquet, .feather, .csv, .tsv or .json)")

    calibrate = commands.add_parser("calibrate", help="fit Platt scaling on a click model export's held-out rows and "
                                                      "write it calibrated (AUC unchanged)")
    calibrate.add_argument("--model", required=True, help="a click model's export folder")
    calibrate.add_argument("--data", required=True, help="labelled rows it was not trained on (its validation rows), "
                                                         "as for fit")
    _add_format(calibrate)
    calibrate.add_argument("-o", "--out", required=True,
                           help="the export to write (--model itself: replaced atomically)")

    export = commands.add_parser("export", help="convert a click model's SavedModel export to one ONNX file")
    export.add_argument("--model", required=True, help="export folder (ctr fit --export)")
    export.add_argument("-o", "--out", required=True, help="the ONNX file to write, e.g. runs/deepfm.onnx")

    serve = commands.add_parser("serve", help="serve an export over HTTP as TensorFlow Serving's REST API does "
                                              "(POST /v1/models/NAME:predict), to try a client before deploying")
    serve.add_argument("--model", required=True, help="export folder (ctr fit --export)")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1, this "
                                                           "machine only; 0.0.0.0 for every interface)")
    serve.add_argument("--port", type=flag_type("port"), default=8501,
                       help="default 8501, TensorFlow Serving's REST port; 0 picks a free one")
    serve.add_argument("--name", help="the model's name in the URL (default: the export folder's name)")
    serve.add_argument("--quiet", action="store_true", help="no line per request")

    describe = commands.add_parser("describe", help="print a spec's features, inputs, encoders and sizes")
    describe.add_argument("target", nargs="?", metavar="spec", help="feature spec YAML, a ready spec's name "
                                                                    "(movielens-100k, ...), or an export folder "
                                                                    "(shows fitted sizes)")
    described = describe.add_mutually_exclusive_group()
    described.add_argument("--spec", help="the same, as the other commands name a spec")
    described.add_argument("--model", help="an export folder, as the other commands name one")

    args, extra = parser.parse_known_args(argv)
    if extra:
        _refuse_extra_arguments(commands.choices[args.command], args,
                                list(sys.argv[1:] if argv is None else argv), extra)
    if args.command == "describe" and (args.target is None) == (args.spec is None and args.model is None):
        describe.error("give one spec or export to describe: ctr describe SPEC, --spec SPEC or --model EXPORT")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_line(args.command)
            _check_paths(args)
            return _COMMANDS[args.command](args)
    except (CtrError, OSError) as err:  # OSError: a file that cannot be read or written, with its path
        print(f"ctr {args.command}: error: {err}", file=sys.stderr)
        return 2


class _Parser(argparse.ArgumentParser):
    """A command's parser, whose 'the following arguments are required' says which of them a path given
    without its flag would be (`ctr predict runs/deepfm test.parquet`), and how to write it."""

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None,
                         ) -> tuple[argparse.Namespace, list[str]]:
        self.given = list(sys.argv[1:] if args is None else args)  # this command's own arguments
        self._refuse_repeats(self.given)
        return super().parse_known_args(args, namespace)

    def _refuse_repeats(self, argv: list[str]) -> None:
        """An option of one value given twice (`--data a.csv --data b.csv`) is an error, where argparse
        keeps the last alone and a fit would train on half the files without a word."""
        given: dict[argparse.Action, tuple[str, str]] = {}
        for at, token in enumerate(argv):
            given_as, equals, value = token.partition("=")
            option = self._whole_option(given_as)
            action = self._option_string_actions.get(option)
            if not isinstance(action, argparse._StoreAction):
                continue
            value = value if equals else argv[at + 1] if at + 1 < len(argv) else ""
            if action not in given:
                given[action] = (option, value)
                continue
            first, before = given[action]
            named = first if first == option else f"{first} (or {option})"
            why = ("it takes one file or folder; put the files in one folder and pass the folder"
                   if action.dest in _PATH_FLAGS else "it takes one value: give it once")
            self.error(f"argument {named} given twice ({before!r} and {value!r}): {why}")

    def _whole_option(self, token: str) -> str:
        """The option a `--flag` token names as argparse reads it: itself, or the one option it starts (`--dat`)."""
        if not token.startswith("--") or token in self._option_string_actions or not self.allow_abbrev:
            return token
        starting = [option for option in self._option_string_actions if option.startswith(token)]
        return starting[0] if len(starting) == 1 else token

    def error(self, message: str) -> NoReturn:
        if message.startswith("the following arguments are required: "):
            missing = message.split(": ", 1)[1].split(", ")
            message += _unflagged_hint(self, getattr(self, "given", []), missing)
        super().error(message)


def _unflagged_hint(parser: argparse.ArgumentParser, argv: list[str], missing: Sequence[str]) -> str:
    """' (x was given without its flag: ctr CMD --flag x ...)' for the paths in a command's `argv` that
    follow no flag and would be one of the `missing` flags: an export folder --model, a YAML file --spec,
    any other file or folder --data; '' when there are none."""
    takes_value = {option for option, action in parser._option_string_actions.items() if action.nargs != 0}
    model = parser._option_string_actions.get("--model")
    exports = model is not None and model.choices is None  # fit's --model names a model to train
    flags: dict[int, str] = {}
    for at, token in enumerate(argv):
        if token.startswith("-") or (at and argv[at - 1] in takes_value):
            continue
        path = Path(token)
        flag = ("--model" if (path / "saved_model.pb").exists() and exports else
                "--spec" if path.suffix.lower() in (".yaml", ".yml") else
                "--data" if path.exists() or path.suffix else None)
        if flag in missing and flag not in flags.values():
            flags[at] = flag
    if not flags:
        return ""
    fixed = " ".join(f"{flags[at]} {shlex.quote(t)}" if at in flags else shlex.quote(t) for at, t in enumerate(argv))
    given = " and ".join(shlex.quote(argv[at]) for at in flags)
    return (f" ({given} {'was' if len(flags) == 1 else 'were'} given without "
            f"{'its flag' if len(flags) == 1 else 'their flags'}: {parser.prog} {fixed})")


def _refuse_extra_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str],
                            extra: list[str]) -> None:
    """argparse's 'unrecognized arguments', but for a path flag followed by more paths (the shell expanded
    `--data logs/*.csv` into every file), which says how to give several files, and for a path given
    without its flag where that flag is not given (`ctr fit spec.yaml --data x.csv`)."""
    command = args.command
    # The last place the first extra is at: a pattern's files follow its flag, after any the same file given before.
    at = len(argv) - 1 - argv[::-1].index(extra[0]) if extra[0] in argv else 0
    start = at
    while start > 0 and not argv[start - 1].startswith("-"):
        start -= 1
    flag, paths = (argv[start - 1], argv[start:at] + extra) if start > 0 else ("", [])
    if flag.removeprefix("--") in _PATH_FLAGS and all(Path(p).exists() for p in paths):
        print(f"ctr {command}: error: {several_paths(flag, paths)}", file=sys.stderr)
        sys.exit(2)
    unset = [f"--{name}" for name in ("model", "spec", "data") if getattr(args, name, "") is None]
    own = argv[argv.index(command) + 1:] if command in argv else argv
    flags = [o for o in parser._option_string_actions if o.startswith("--")]
    near = {e: close[0] for e in extra if e.startswith("--")
            for close in [difflib.get_close_matches(e.split("=", 1)[0], flags, n=1, cutoff=0.7)] if close}
    meant = ("" if not near else f" (did you mean {next(iter(near.values()))}?)" if len(near) == 1 else
             f" (did you mean {', '.join(f'{flag} for {e}' for e, flag in near.items())}?)")
    parser.error(f"unrecognized arguments: {' '.join(extra)}{meant}{_unflagged_hint(parser, own, unset)}")


def _check_paths(args: argparse.Namespace) -> None:
    """Name a --model folder that is not an export, a --spec that is not a spec, --data that is not there
    and an --out or --plot whose ending names no format before TensorFlow starts, which took 3 to 4 s
    before a typo was reported (and, for a figure, came after the work, as a matplotlib traceback)."""
    from ._files import check_parent
    from .export_files import check_export_target, read_metadata
    from .spec import FeatureSpec

    if args.command != "fit" and getattr(args, "model", None):  # fit's --model names a model to train
        read_metadata(Path(args.model))
    if args.command == "fit":
        _warm_start_defaults(args)
    export = {"fit": "export", "compare": "export", "demo": "out", "calibrate": "out"}.get(args.command)
    if export and getattr(args, export):  # not after the training
        check_export_target(getattr(args, export))
    if args.command != "describe" and getattr(args, "spec", None):  # describe's is a spec or an export
        FeatureSpec.of(args.spec)  # a file, or a ready spec's name
    if getattr(args, "data", None):
        _data_format(args.data, getattr(args, "format", "auto"))
    if args.command in ("fit", "compare", "inspect-data") and args.spec is None and not (
            args.command == "inspect-data" and args.model):
        # argparse would only say that --spec is required; someone who has data and no spec yet is
        # told how to get one.
        given = " ".join(shlex.quote(a) for a in ("--data", args.data) + (
            ("--format", args.format) if args.format != "auto" else ()))
        from .datasets import READY_SPECS

        ready = _data_format(args.data, args.format)
        if ready in READY_SPECS:  # a data set whose spec ctr carries
            raise ArgumentError(f"the following arguments are required: --spec (a feature spec YAML, or a ready "
                                f"spec's name); for this data ({ready}), pass --spec {ready}, or draft one: "
                                f"ctr draft-spec {given} --out spec.yaml")
        raise ArgumentError(f"the following arguments are required: --spec (a feature spec YAML); draft one from "
                            f"the data, check it, then pass it: ctr draft-spec {given} --out spec.yaml")
    for flag in ("train", "seen", "valid", "test"):  # tables of interactions, or a click model's other rows
        if getattr(args, flag, None) and not Path(getattr(args, flag)).exists():
            raise DataError(f"--{flag} {getattr(args, flag)!r}: no such file or folder"
                            f"{pattern_hint(getattr(args, flag))}")
    if args.command in ("predict", "recommend", "downsample", "explain") and args.out:
        _output_file(args.out)
    if args.command == "draft-spec" and args.out:
        _spec_file(args.out)
    figure = {"compare": "plot", "evaluate": "plot", "importance": "plot", "explain": "plot", "inspect-data": "out",
              "embeddings": "out"}.get(args.command)
    if figure and getattr(args, figure):
        figure_path(getattr(args, figure))
    for flag in ("out", "plot", "json", "logdir", "backup_dir"):  # a file where a folder of theirs must be
        given, option = getattr(args, flag, None), "--" + flag.replace("_", "-")
        if isinstance(given, str):
            check_parent(given, f"{option} {given}")
            if flag in ("logdir", "backup_dir") and Path(given).exists() and not Path(given).is_dir():
                raise ArgumentError(f"{option} {given}: a file, where a folder is wanted")


def _warm_start_defaults(args: argparse.Namespace) -> None:
    """fit's --model and --spec: those given, else --warm-start-from's (checked to be a trained model's export),
    else DeepFM and none."""
    if args.warm_start_from is None:
        args.model = args.model or "deepfm"
        return
    from .export_files import read_metadata

    metadata = read_metadata(Path(args.warm_start_from))
    model = metadata.get("model")
    names = {**{cls: name for name, cls in _CLICK_MODELS.items()}, "NeuMF": "neumf", "TwoTower": "two_tower",
             "MatrixFactorization": "bpr" if metadata.get("config", {}).get("loss") == "bpr" else "mf"}
    if model not in names:
        raise ArgumentError(f"--warm-start-from {args.warm_start_from}: a {model} export, which has no weights of "
                            f"its own to start from; a trained model's do ({', '.join(sorted(set(names.values())))})")
    args.model = args.model or names[model]
    args.spec = args.spec or str(Path(args.warm_start_from) / "assets" / "spec.yaml")
    # The settings --warm-start-from's model was trained with: the flags and --param change them (_fit).
    args.warm_settings = metadata["config"] if args.model == names[model] else {}


def _warning_line(command: str) -> Callable[..., None]:
    """Python's warning display for the shell: one line after the command's name, as errors are,
    not the file and line of the code that warned followed by that line of code."""
    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        kind = "" if category is UserWarning else f"{category.__name__}: "
        print(f"ctr {command}: warning: {kind}{message}", file=sys.stderr)

    return show


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(rows=args.rows, epochs=args.epochs, out=Path(args.out), seed=args.seed)
    return 0


def _fit(args: argparse.Namespace) -> int:
    from .spec import FeatureSpec, Label, refuse_aggregated

    _check_fit_flags(args)  # before TensorFlow starts and the data loads, as main checks the paths
    spec = FeatureSpec.of(args.spec)
    if args.model not in _RECOMMENDERS and args.negatives is None and spec.label is None:
        raise ArgumentError(f"spec {spec.name!r} has no label, and a click model learns what gets clicked: give "
                            "the spec one (label: {column: rating, threshold: 4}), or --negatives N to follow "
                            "each interaction with N items its user never touched as non-clicks, or train a "
                            "recommender (--model mf, bpr, neumf or two_tower)")
    if args.model in _RECOMMENDERS:
        refuse_aggregated(spec, _RECOMMENDERS[args.model][0])  # what the spec is wrong for, before how to split it
    held_out_by = _held_out_by(args, spec) if args.model in _RECOMMENDERS else None  # refused before TensorFlow
    from . import data, models

    given = {"embedding_dim": args.embedding_dim, "learning_rate": args.learning_rate, "batch_size": args.batch_size,
             "embedding_updates": args.embedding_updates}
    kwargs = {"seed": args.seed, **{k: v for k, v in given.items() if v is not None}}
    cls = models.MODELS[args.model] if args.model in models.MODELS else getattr(models, _RECOMMENDERS[args.model][0])
    if args.hidden_units is not None and "hidden_units" in keyword_arguments(cls):
        kwargs["hidden_units"] = args.hidden_units
    if args.model in _SOLVED:  # no seed, no training settings: --param alone (ease's l2)
        kwargs = {}
    kwargs.update(_model_params(cls, args.param, given=set(kwargs)))  # what the flags set already
    kwargs = {**getattr(args, "warm_settings", {}), **kwargs}
    if args.model in _RECOMMENDERS:
        frame = load_table(args.data, args.format, seed=args.seed, spec=spec)
        _require_spec_columns(args, spec, frame)
        model, history = _fit_recommender(args, spec, frame, kwargs, held_out_by)
    else:
        if args.valid or args.test:  # apart already: each part streamed from its path
            train, valid, test = (_streamed_source(path, args.format if path == args.data else "auto")
                                  if path else None for path in (args.data, args.valid, args.test))
            rows = [data.count_rows(part) if part is not None else 0 for part in (train, valid, test)]
        else:
            frame, (train, valid, test) = _split(args, spec)
            if args.negatives is not None:
                # Each part's non-clicks are drawn from every item of the data, so that validation and test
                # rank items their users never touched too.
                train, valid, test = (data.add_negatives(part, spec, args.negatives, items=frame, seed=args.seed + i)
                                      if len(part) else part for i, part in enumerate((train, valid, test)))
                spec = dataclasses.replace(spec, label=Label("clicked"))
            rows = [len(train), len(valid), len(test)]
            valid, test = (part if len(part) else None for part in (valid, test))
        model = cls(spec, **kwargs)
        print(f"ctr fit: {type(model).__name__} on {rows[0]} rows ({rows[1]} valid, {rows[2]} test)")
        none = "no --valid is given" if args.test else "--split leaves no validation rows"
        if args.patience is not None and valid is None:
            watched = {"auc": "AUC", "gauc": "group AUC", "logloss": "logloss"}[args.stop_on]
            raise ArgumentError(f"--patience stops on the validation {watched}, and {none}")
        if args.calibrate and valid is None:
            raise ArgumentError(f"--calibrate fits Platt scaling on the validation rows, and {none}")
        stopping = _early_stopping(args, f"val_{args.stop_on}", mode="min" if args.stop_on == "logloss" else "max")
        model.fit(train, validation_data=valid, epochs=args.epochs, logdir=args.logdir, callbacks=stopping,
                  group_by=args.group_by if valid is not None else None, warm_start_from=args.warm_start_from,
                  **_backup(args))
        _report_stopping(stopping)
        if args.calibrate:
            from .calibration import describe_calibration

            print(f"ctr fit: {describe_calibration(model.calibrate(valid))} (the validation rows)")
        history = model.history_
        if test is not None:
            print(json.dumps({"test": model.evaluate(test, group_by=args.group_by)}, indent=1))
    if args.export:
        path = model.export(args.export)
        print(f"ctr fit: exported to {path}")
        if not history:  # popularity: no epochs to draw
            return 0
        try:
            from .inspect import plot_history

            curves = plot_history(history, path.parent / f"{path.name}_training.png",
                                  title=f"{type(model).__name__} on {Path(args.data).name}")
            print(f"ctr fit: training curves in {curves}")
        except CtrError as err:  # matplotlib is optional
            print(f"ctr fit: no training-curve plot ({err})")
    return 0


def _split(args: argparse.Namespace, spec: Any) -> tuple[Any, tuple[Any, Any, Any]]:
    """--data loaded, and its train, valid and test parts: at random, or in time with --split-by-time
    (each part's times printed)."""
    from . import data, splits
    from .spec import Timestamp

    frame = load_table(args.data, args.format, seed=args.seed, spec=spec)
    _require_spec_columns(args, spec, frame)
    if args.group_by:  # before the training, not after it
        data.require_columns(frame, [args.group_by], where=args.data,
                             hint=" (--group-by names it: the group AUC is over its values)")
    fractions = args.split or (0.8, 0.1, 0.1)
    if not args.split_by_time:
        return frame, splits.random_split(frame, fractions, seed=args.seed)
    parts = splits.time_split(frame, fractions, time=args.split_by_time)
    # The times as the spec's timestamp reads this column; epoch seconds for any other column.
    stamp = next((f for f in spec.features if isinstance(f, Timestamp) and f.source == args.split_by_time), None)
    for name, part in zip(("train", "valid", "test"), parts, strict=True):
        print(f"ctr fit: {name} {len(part)} rows, {splits.time_range(part, args.split_by_time, stamp)}")
    return frame, parts


def _require_spec_columns(args: argparse.Namespace, spec: Any, frame: Any, label: bool = True) -> None:
    """--data's rows checked for the columns the spec reads (its features', and its label's with `label`) and
    named by its path: fit's before the split, which named a column missing from the whole file as missing
    from 'the validation data', and the scoring commands' where the model named it as missing from 'the data'."""
    from . import data

    needed = spec.columns if label else spec.feature_columns
    data.require_columns(frame, needed, where=args.data, hint=data.column_hints(spec))


def _check_fit_flags(args: argparse.Namespace) -> None:
    """Refuse flags that do not go together or do not apply to the model, from the flags alone."""
    if args.embedding_updates is not None and args.model == "two_tower":
        adam = [m for m in (*_CLICK_MODELS, *_RECOMMENDERS) if m != "two_tower" and m not in _SOLVED]
        raise ArgumentError(f"--embedding-updates applies to the Adam-trained models ({', '.join(adam)}); "
                            "two_tower trains with Adagrad")
    if args.model in _SOLVED:
        _refuse_training_flags(args)
    apart = [flag for flag, value in (("--valid", args.valid), ("--test", args.test)) if value]
    if apart and args.model in _RECOMMENDERS:
        raise ArgumentError(f"{' and '.join(apart)}: a recommender holds out each user's latest interactions from "
                            "--data itself (by --split-by-time's column or the spec's timestamp)")
    together = [flag for flag, value in (("--split", args.split), ("--split-by-time", args.split_by_time),
                                         ("--negatives", args.negatives is not None)) if value]
    if apart and together:
        raise ArgumentError(f"{together[0]} splits --data (or adds to it in memory), and with {apart[0]} --data is "
                            "the training rows alone: give the parts apart, or --data whole with "
                            + ("--split" if together[0] != "--negatives" else "--negatives") + " and no "
                            + " or ".join(apart))
    if args.model in _RECOMMENDERS:
        if args.calibrate:
            raise ArgumentError("--calibrate maps a click model's scores to click rates; a recommender's scores "
                                "rank a catalogue")
        if args.group_by or args.stop_on != "auc":
            raise ArgumentError("--group-by and --stop-on apply to the click models; a recommender is tested by "
                                "ranking each user's held-out items, which is per user already")
        if args.negatives is not None:
            raise ArgumentError(f"--negatives applies to the click models; {args.model} draws its own negatives "
                                "(--param n_negatives=N), fresh every epoch")
    elif args.stop_on == "gauc" and not args.group_by:
        raise ArgumentError("--stop-on gauc watches the validation group AUC: give --group-by COLUMN (e.g. user_id)")


def _refuse_training_flags(args: argparse.Namespace) -> None:
    """The baselines without a training loop (popularity counts, ease solves): a flag that sets how a model
    trains has nothing to set (ease takes --param l2=...)."""
    given = [flag for flag, value in (("--embedding-dim", args.embedding_dim), ("--learning-rate", args.learning_rate),
                                      ("--batch-size", args.batch_size), ("--hidden-units", args.hidden_units),
                                      ("--embedding-updates", args.embedding_updates),
                                      ("--param", args.param and args.model == "popularity"),
                                      ("--patience", args.patience), ("--logdir", args.logdir),
                                      ("--backup-dir", args.backup_dir),
                                      ("--warm-start-from", args.warm_start_from)) if value]
    if given:
        raise ArgumentError(f"{', '.join(given)}: {_SOLVED[args.model]}, so it has no "
                            + ("settings, " if args.model == "popularity" else "")
                            + "training loop or checkpoints" + (" (--param l2=N sets its ridge penalty)"
                                                                if args.model == "ease" else ""))


def _early_stopping(args: argparse.Namespace, monitor: str, mode: str = "max") -> list:
    """--patience as Keras' EarlyStopping on `monitor` (higher is better, or with mode "min" lower), the
    best epoch's weights kept."""
    if args.patience is None:
        return []
    from ._args import check_arguments
    from ._keras import keras

    check_arguments("ctr fit --patience", patience=args.patience)
    return [keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=args.patience,
                                          restore_best_weights=True)]


def _backup(args: argparse.Namespace) -> dict[str, Any]:
    """--backup-dir and --backup-every as fit's arguments."""
    if args.backup_every is not None and args.backup_dir is None:
        raise ArgumentError("--backup-every is how often --backup-dir is written; pass --backup-dir too")
    return {"backup_dir": args.backup_dir, "backup_every": args.backup_every}


def _report_stopping(stopping: list) -> None:
    if not stopping:
        return
    callback = stopping[0]
    if callback.stopped_epoch:
        print(f"ctr fit: stopped after epoch {callback.stopped_epoch + 1}: {callback.monitor} last improved at "
              f"epoch {callback.best_epoch + 1} ({callback.best:.4f}), whose weights are kept")
    else:
        print(f"ctr fit: {callback.monitor} was best at epoch {callback.best_epoch + 1} ({callback.best:.4f}), "
              "whose weights are kept")


def _param(text: str) -> tuple[str, Any]:
    """--param NAME=VALUE: the name and the value read as YAML (numbers such as 1e-5 as numbers; numbers separated
    by commas, 64,32, as a list, as --hidden-units reads them)."""
    import yaml

    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE such as dropout=0.3, got {text!r}")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        raise argparse.ArgumentTypeError(f"{name.strip()}: {value!r} is not a YAML value") from None
    if isinstance(parsed, str):  # YAML reads 1e-5 as text
        with contextlib.suppress(ValueError):
            parsed = float(parsed)
    if isinstance(parsed, str) and "," in parsed:
        with contextlib.suppress(ValueError):
            parsed = [float(part) if any(c in part for c in ".eE") else int(part) for part in parsed.split(",")]
    return name.strip(), parsed


def _model_params(cls: type, params: list[tuple[str, Any]], given: set[str]) -> dict[str, Any]:
    """--param's arguments for `cls`, each checked to be one of its arguments and not given twice."""
    accepted = keyword_arguments(cls)
    out: dict[str, Any] = {}
    for name, value in params:
        if name not in accepted:
            raise ArgumentError(f"--param {name}: {cls.__name__} has no argument {name!r}; it takes "
                                + ", ".join(accepted))
        if name in given or name in out:
            flag = f"--{name.replace('_', '-')} and " if name in given else ""
            raise ArgumentError(f"--param {name}: given twice ({flag}--param)")
        out[name] = value
    return out


def _model_list(text: str) -> list[str]:
    """--models: comma-separated model names, each in any case or as its class is named in Python."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated model names such as lr,fm,deepfm, got {text!r}")
    unknown = [name for name in names if model_key(name) is None]
    if unknown:
        raise argparse.ArgumentTypeError(unknown_model(unknown[0]))
    keys = [model_key(name) for name in names]
    if twice := sorted({key for key in keys if keys.count(key) > 1}):
        raise argparse.ArgumentTypeError(f"{twice[0]} is named twice")
    return keys


def _model_param(text: str) -> tuple[str | None, str, Any]:
    """compare's --param [MODEL:]NAME=VALUE: the model's short name (None: every model), the name and the value."""
    model, colon, _ = text.partition("=")[0].rpartition(":")
    if not colon:
        return (None, *_param(text))
    key = model_key(model)
    if key is None:
        raise argparse.ArgumentTypeError(f"{text!r}: no model is called {model!r}; write MODEL:NAME=VALUE, e.g. "
                                         "deepfm:dropout=0.3, or NAME=VALUE for every model")
    return (key, *_param(text[len(model) + 1:]))


def _fractions(text: str) -> tuple[float, ...]:
    """--split: the train, validation and test fractions."""
    wanted = f"expected three comma-separated fractions, train,valid,test, such as 0.8,0.1,0.1, got {text!r}"
    try:
        fractions = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(wanted) from None
    if len(fractions) != 3:
        raise argparse.ArgumentTypeError(wanted + " (0.9,0,0.1 validates on nothing)")
    return fractions


def _widths(text: str) -> tuple[int, ...]:
    """--hidden-units: comma-separated layer widths."""
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer widths such as 256,128, got {text!r}") from None


def _held_out_by(args: argparse.Namespace, spec: Any) -> str:
    """The time column whose latest interaction per user a recommender's fit holds out: --split-by-time's,
    else the spec's timestamp feature's; an ArgumentError when there is neither."""
    from .spec import Timestamp

    time = args.split_by_time or next((f.source for f in spec.features if isinstance(f, Timestamp)), None)
    if time is None:
        raise ArgumentError(f"spec {spec.name!r} has no timestamp feature, and a recommender is tested on each "
                            "user's latest interaction: name the data's time column with --split-by-time COLUMN "
                            "(or declare it in the spec, kind: timestamp, if the model should read it)")
    return time


def _fit_recommender(args: argparse.Namespace, spec: Any, frame: Any, kwargs: dict[str, Any],
                     time: str) -> tuple[Any, dict]:
    """A recommender trained on all but each user's two latest interactions (the latest is the test,
    the one before it validation), over the data's whole catalogue; prints its full-ranking metrics."""
    import pandas as pd

    from . import data, models
    from .data import labels
    from .evaluation import evaluate_ranking
    from .implicit import keys, leave_one_out

    data.require_columns(frame, [time], where=args.data,
                         hint=" (each user's latest interaction by it is the test: --split-by-time names it)"
                         if args.split_by_time else " (the spec's timestamp feature reads it)")
    user_col = spec[keys(spec)[0]].source
    train, valid, test = leave_one_out(frame, user=user_col, time=time, validation=True)
    cls, extra = _RECOMMENDERS[args.model]
    model = getattr(models, cls)(spec, **{**extra, **kwargs})
    ranked = ""
    if spec.label is not None:  # only held-out positives are ranked (evaluate_ranking)
        ranked = (f"; the {int(labels(test, spec).sum())} test rows with {spec.label.column} {spec.label.rule()} "
                  "are ranked")
    print(f"ctr fit: {type(model).__name__} on {len(train)} interactions ({len(valid)} valid, {len(test)} test: "
          f"each user's latest two){ranked}")
    if args.model in _SOLVED:
        model.fit(train, items=frame)
        history: dict = {}
    else:
        stopping = _early_stopping(args, model.validation_monitor)
        history = model.fit(train, validation_data=valid, items=frame, epochs=args.epochs, logdir=args.logdir,
                            callbacks=stopping, warm_start_from=args.warm_start_from, **_backup(args)).history
        _report_stopping(stopping)
    seen = pd.concat([train, valid], ignore_index=True)
    with contextlib.redirect_stdout(sys.stderr):  # the progress bar; stdout holds the figures alone
        result = evaluate_ranking(model, test, seen, protocol="full", verbose="auto")
    print(json.dumps({"test": result}, indent=1, default=float))
    return model, history


def _compare(args: argparse.Namespace) -> int:
    from .comparison import compare
    from .spec import FeatureSpec

    spec = FeatureSpec.of(args.spec)
    models = args.models or (list(_CLICK_MODELS) if spec.label is not None else list(_RECOMMENDERS))
    click = all(name in _CLICK_MODELS for name in models)
    if not click and any(name in _CLICK_MODELS for name in models):  # before the data loads
        kinds = [", ".join(name for name in models if (name in _CLICK_MODELS) == is_click) for is_click in (1, 0)]
        raise ArgumentError(f"--models: {kinds[0]} tested on held-out rows' clicks (by AUC) and {kinds[1]} on each "
                            "user's held-out items (by NDCG@10): compare click models and recommenders apart")
    if args.out and Path(args.out).suffix.lower() != ".json":
        raise ArgumentError(f"--out {args.out}: the table is written as JSON; give a .json name (--export DIR writes "
                            "the best model)")
    if not click:  # recommenders alone
        given = [flag for flag, value in (("--valid", args.valid), ("--test", args.test), ("--split", args.split),
                                          ("--group-by", args.group_by), ("--stop-on", args.stop_on != "auc"),
                                          ("--negatives", args.negatives is not None)) if value]
        if given:
            raise ArgumentError(f"{', '.join(given)}: for the click models; recommenders are tested on each user's "
                                "latest interaction, held out of --data (the one before validates), by NDCG@10")
    settings = {name: value for name, value in (("embedding_dim", args.embedding_dim),
                                                ("batch_size", args.batch_size),
                                                ("learning_rate", args.learning_rate),
                                                ("hidden_units", args.hidden_units)) if value is not None}
    params: dict[str, dict[str, Any]] = {}
    for model, name, value in args.param:
        into = settings if model is None else params.setdefault(model, {})
        if name in into:
            raise ArgumentError(f"--param {model + ':' if model else ''}{name}: given twice")
        into[name] = value
    if args.valid or args.test:
        if not (args.valid and args.test):
            given, other = ("--valid", "--test") if args.valid else ("--test", "--valid")
            raise ArgumentError(f"{given} without {other}: give both (--data is then the training rows), or neither "
                                "(--data is then split)")
        data, validation, test = (_streamed_source(path, args.format if path == args.data else "auto")
                                  for path in (args.data, args.valid, args.test))
    else:
        data = load_table(args.data, args.format, seed=0, spec=spec)
        _require_spec_columns(args, spec, data, label=click)
        validation = test = None
    result = compare(spec, data, models, validation_data=validation, test_data=test,
                     split=args.split or (0.8, 0.1, 0.1), split_by_time=args.split_by_time, seeds=args.seeds,
                     epochs=args.epochs, patience=args.patience, metric=args.stop_on, group_by=args.group_by,
                     settings=settings, params=params, negatives=args.negatives, backup_dir=args.backup_dir)
    print(f"\nctr compare: {result.protocol}; each model stopped on, and ranked by, its {result.selected_by_name}"
          + (f"; medians of {args.seeds} seeds" if args.seeds > 1 else ""))
    print(result)
    close = result.close_to_best
    print(f"ctr compare: the best is {result.best_label}" + (
        f", by a margin its seeds do not settle: the median {result.selected_by_name} of {', '.join(close)} lies "
        f"within the range of {result.best_label}'s {args.seeds} seeds" if close else ""))
    if args.out:
        print(f"ctr compare: the table and each run in {result.to_json(args.out)}")
    if args.plot:
        try:
            print(f"ctr compare: plotted in {result.plot(args.plot, title=f'ctr compare on {Path(args.data).name}')}")
        except CtrError as err:  # matplotlib is optional
            print(f"ctr compare: no plot ({err})")
    if args.export:
        print(f"ctr compare: {result.best_label} exported to {result.best.export(args.export)}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from . import data
    from .diagnostics import evaluate_by
    from .evaluation import evaluate_clicks, evaluate_ranking
    from .export import load
    from .export_recommend import RecommenderExport
    from .inspect import feature_skew
    from .metrics import reliability

    served = load(args.model)
    frame = load_table(args.data, args.format, spec=served.spec)
    if isinstance(served, RecommenderExport):
        if args.plot or args.by or args.group_by or args.negatives is not None:
            raise CtrError(f"{args.model} is a recommender export: --plot, --by, --group-by and --negatives are for "
                           "a click model's rows")
        if args.train is None:
            raise CtrError(f"{args.model} is a recommender export, tested by ranking each user's held-out items: "
                           "pass --train with the interactions it was trained on (they are left out of the ranking)")
        with contextlib.redirect_stdout(sys.stderr):  # the progress bar; stdout holds the JSON alone
            train = data.read(args.train, dtypes=data.csv_dtypes(served.spec))
            result = evaluate_ranking(served, frame, train, protocol=args.protocol, k=args.k,
                                      verbose="auto")
        print(json.dumps(result, indent=1))
        return 0
    if args.train is not None:
        raise CtrError(f"{args.model} is a click model export, tested by AUC on labelled rows: --train is for "
                       "recommender exports")
    if len(frame) == 0:
        raise CtrError(f"{args.data}: the evaluation data has no rows")
    _require_spec_columns(args, served.spec, frame, label=False)  # the label's, by _labelled and --negatives
    frame = _labelled(args, served.spec, frame)
    if args.by:  # before the rows are scored, not after
        data.require_columns(frame, args.by, where=args.data, hint=" (--by slices the figures by it)")
    with contextlib.redirect_stdout(sys.stderr):  # the progress bar; stdout holds the JSON alone
        scored = evaluate_clicks("ctr evaluate", served.spec, lambda rows: served.predict(rows, verbose="auto"), frame,
                                 args.group_by)
    y, p, w, result = scored.labels, scored.probabilities, scored.weights, scored.figures
    for line in feature_skew(frame, served):  # the likely cause of a poor figure, before it is read
        warnings.warn(f"skew: {line} (ctr inspect-data --model {args.model} --data ... sets every feature beside "
                      "training)", stacklevel=1)
    if args.by:
        slices = evaluate_by(served, frame, args.by, bins=args.bins, scores=p, group_by=args.group_by)
        result["by"] = json.loads(slices.iloc[1:].to_json(orient="records"))  # numpy values as JSON's
    print(json.dumps(result, indent=1))
    if args.plot:
        from .inspect import plot_reliability, plot_slices
        from .spec import identifier

        curve = plot_reliability(reliability(y, p, w), args.plot, title=Path(args.model).name)
        print(f"reliability curve: {curve}", file=sys.stderr)  # stdout stays one JSON document
        if args.by:  # beside it, named for the columns: curve_by_gender.png
            beside = curve.with_name(f"{curve.stem}_by_{'_'.join(map(identifier, args.by))}{curve.suffix}")
            print(f"figures by {', '.join(args.by)}: {plot_slices(slices, beside, Path(args.model).name)}",
                  file=sys.stderr)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from . import data
    from .export import load
    from .export_recommend import RecommenderExport

    out = _output_file(args.out) if args.out else None
    served = load(args.model)
    source = _streamed_source(args.data, args.format)
    # A recommender's pair scores are logits or dot products, not probabilities: named for what they are.
    column = args.column or ("score" if isinstance(served, RecommenderExport) else "probability")

    def scored_rows(chunk: Any) -> Any:
        if column in chunk.columns and args.column is None:  # e.g. a file scored before: its scores would vanish
            raise CtrError(f"the data already has a column {column!r}; name the scores' column with "
                           f"--column (the same name replaces it)")
        _require_read_header(source, chunk, [f.source for f in served.spec.features])
        if not isinstance(served, RecommenderExport):  # a recommender's stored features fill what rows lack
            _require_spec_columns(args, served.spec, chunk, label=False)
        return chunk.assign(**{column: served.predict(chunk)})

    if out is None:
        print(scored_rows(data.read(source, dtypes=data.csv_dtypes(served.spec))).to_string(max_rows=50))
        return 0
    # Chunk by chunk, so that memory follows the chunk and not the file.
    advance = data.progress(source, "auto")
    scored = 0

    def chunks() -> Any:
        nonlocal scored
        for chunk in data.iter_chunks(source, chunk_rows=SCORED_A_FILE, dtypes=data.csv_dtypes(served.spec)):
            yield scored_rows(chunk)
            scored += len(chunk)
            advance(len(chunk))

    data.write_frames(chunks(), out, served.spec)
    print(f"ctr predict: {scored:,} rows written to {out}")
    return 0


SCORED_A_FILE = 262_144  # rows `ctr predict` reads, scores and writes at a time


def _output_file(out: str) -> Path:
    """--out as a path whose suffix says how to write it (`data.write_frames`)."""
    from ._files import check_output

    path = Path(out)
    check_output(path, "--out")
    return path


def _recommend(args: argparse.Namespace) -> int:
    import pandas as pd

    from .export_recommend import RecommenderExport

    if args.explain and (args.similar_to is not None or args.data is not None):
        raise ArgumentError("--explain takes one user's list apart (--user, --feature, --history); for a file of "
                            "queries, explain chosen rows in Python: ctr.explain(ctr.load(model), rows)")
    served = RecommenderExport(args.model)
    if args.similar_to is not None:
        return _similar_items(args, served)
    if args.data is not None:
        return _recommend_file(args, served)
    if args.out is not None:
        raise ArgumentError("--out is for a file of queries (--data); one user's list is printed")
    if args.seen is not None and args.user is None:
        raise ArgumentError("--seen leaves out the items a user touched, matched by user id: give --user (or a "
                            "file of queries, --data); a new user's items go in --exclude or --history")
    spec, meta = served.spec, served.metadata
    user_feature = spec[meta["user_key"]]
    row: dict[str, object] = {}
    note = ""  # what the heading adds about the list
    if args.user is not None:  # a known user's stored features fill what --feature leaves out (recommend does)
        known = served.users.get(user_feature.source)
        if "," in args.user and (known is None or args.user not in set(known.astype(str))):
            raise ArgumentError(f"--user takes one user's id, got {args.user!r}; for several users, write their ids "
                                f"in a column {user_feature.source!r} of a file and pass it: ctr recommend --model "
                                f"{shlex.quote(args.model)} --data users.csv --out recs.csv")
        row[user_feature.source] = _parse_value(user_feature, args.user)
    for item in args.feature:
        name, sep, value = item.partition("=")
        if not sep or name not in served.query_features:
            from .spec import did_you_mean

            why = "expected NAME=VALUE with NAME one of "
            if sep and name in spec.names and spec[name].role == "item":
                why = f"{name!r} is an item's feature, which each ranked item brings; NAME is one of the query's: "
            elif sep and name in spec.names:  # EASE: its history of the user stands for the user's features
                why = (f"{name!r} is a {spec[name].role} feature that {served.metadata['model']} does not read; it "
                       "reads ")
            raise DataError(f"--feature {item!r}: {why}{', '.join(served.query_features)}"
                            + (did_you_mean(name, served.query_features) if sep else ""))
        if name == user_feature.name:  # --user also looks up the known user's features
            raise DataError(f"--feature {item!r}: give the user's id as --user {value}")
        row[spec[name].source] = _parse_value(spec[name], value)
    touched = [x.strip() for x in args.history.split(",") if x.strip()]
    if touched:
        histories = [spec[n] for n in served.query_features if spec[n].kind == "history"]
        if not histories:
            raise DataError(f"--history: the model's spec {spec.name!r} has no history feature, so a user's "
                            "items cannot describe them; use --feature with their own features instead")
        row[histories[0].source] = histories[0].separator.join(touched)
    query = pd.DataFrame([row]) if row else pd.DataFrame(index=[0])
    item_feature = spec[meta["item_key"]]
    exclude = [_parse_value(item_feature, x.strip()) for x in args.exclude.split(",") if x.strip()]
    if touched:
        listed = _history_items(query, histories[0], item_feature, spec)[0]
        exclude += listed
        catalogue = set(served.catalog_ids().tolist())
        unknown = [str(item) for item in listed if item not in catalogue]
        if unknown:  # the graph skips them: say so, rather than rank as if the user had touched them
            note += (f"; {len(unknown)} of the items in --history not in the model's catalogue "
                     f"({', '.join(unknown[:3])}{', ...' if len(unknown) > 3 else ''}), so not in the profile")
    if args.seen is not None:  # the items this user touched, as --data's queries leave theirs out
        mine = list(dict.fromkeys(_seen_items(args.seen, spec, user_feature.source, item_feature.source)
                                  .get(row[user_feature.source], ())))
        exclude += mine
        note += (f"; the {len(mine)} items they touched in {args.seen} left out" if mine
                 else f"; {args.seen} lists no item of theirs")
    ids, scores = served.recommend(query, k=args.k, exclude=[exclude])
    shown = served.catalogue.set_index(item_feature.source, drop=False)
    table = shown.reindex(ids[0]).assign(score=scores[0]).reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    who = f"user {args.user}" if args.user is not None else "a new user"
    known = served.users.get(user_feature.source)
    if args.user is not None and known is not None and row[user_feature.source] not in set(known):
        note = "; not seen in training, so ranked as a new user, from the features given" + note
    if touched and args.user is None:  # as the history reads them: '12|85' (its separator) is two
        who += f" who touched {len(listed)} item{'s' if len(listed) != 1 else ''}"
    print(f"top {len(table)} for {who} ({meta['model']}){note}:")
    with pd.option_context("display.width", 160, "display.max_colwidth", 40):
        print(table.to_string(index=False))
    if args.explain and len(table):
        _explain_ranking(served, query, table[item_feature.source], seed=0)
    return 0


def _explain_ranking(served: Any, query: Any, items: Any, seed: int, others: int = 100) -> None:
    """`ctr recommend --explain`: each ranked item's score for the query taken apart (`ctr.explain`)
    against the same query with `others` catalogue items drawn with `seed`, so that the shares say why
    this item rather than another; the three largest of each, beside the columns' values."""
    import numpy as np

    from .diagnostics import explain
    from .inspect import shown_value

    item_col = served.spec[served.metadata["item_key"]].source
    ids = served.catalog_ids()
    drawn = ids[np.random.default_rng(seed).choice(len(ids), min(others, len(ids)), replace=False)]
    pairs = served.pair_rows(query.loc[query.index.repeat(len(items))].reset_index(drop=True).assign(
        **{item_col: items.to_numpy()}))
    background = query.loc[query.index.repeat(len(drawn))].reset_index(drop=True).assign(**{item_col: drawn})
    with contextlib.redirect_stdout(sys.stderr):  # a progress bar, if any
        shares = explain(served, pairs, background=background, seed=seed)
    columns = [c for c in shares.columns if c not in ("base_score", "score")]
    print(f"\nwhy (each column's share of the score against other catalogue items for this user, "
          f"{shares.attrs['background_drawn']} of {len(drawn)} drawn; their mean score "
          f"{shares['base_score'].iloc[0]:+.3f}):")
    for rank, (i, share) in enumerate(shares.iterrows(), 1):
        top = sorted((c for c in columns if abs(share[c]) > 1e-6), key=lambda c: -abs(share[c]))[:3]
        said = ", ".join(f"{c} = {shown_value(pairs.at[i, c])} {share[c]:+.3f}" for c in top) or "no column stands out"
        print(f"  {rank}. {item_col} {shown_value(items.iloc[rank - 1])}: {said}")


def _similar_items(args: argparse.Namespace, served: Any) -> int:
    """`ctr recommend --similar-to ITEM`: the k catalogue items nearest to one, with their features."""
    import pandas as pd

    if args.user is not None or args.feature or args.history or args.exclude or args.data is not None:
        raise ArgumentError("--similar-to lists the items nearest to one item; it takes no user, query or exclusions "
                            "(--user, --feature, --history, --exclude, --data)")
    from ._args import check_arguments

    check_arguments("--k", k=args.k)
    item_feature = served.spec[served.metadata["item_key"]]
    item = _parse_value(item_feature, args.similar_to)
    if item not in set(served.catalog_ids().tolist()):
        raise ArgumentError(f"--similar-to {args.similar_to}: not an item of the model's catalogue "
                            f"({len(served.catalogue):,} items)")
    ids, scores = served.similar_items([item], k=args.k)
    shown = served.catalogue.set_index(item_feature.source, drop=False)
    measure = "weight" if served.metadata["model"] == "EASE" else "cosine"
    table = shown.reindex(ids[0]).assign(**{measure: scores[0]}).reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    print(f"the {len(table)} items nearest to {item_feature.source} {args.similar_to} ({served.metadata['model']}):")
    with pd.option_context("display.width", 160, "display.max_colwidth", 40):
        print(table.to_string(index=False))
    return 0


def _recommend_file(args: argparse.Namespace, served: Any) -> int:
    """`ctr recommend --data QUERIES --out FILE`: the top k for each distinct query, as rows of (user,
    rank, item, score), written a few thousand queries at a time."""
    import numpy as np
    import pandas as pd

    from . import data
    from ._args import check_arguments

    if args.user is not None or args.feature or args.history or args.exclude:
        raise ArgumentError("one user (--user, --feature, --history, --exclude) or a file of queries (--data), "
                            "not both")
    if args.out is None:
        raise ArgumentError("--data needs --out, the file to write, ending in .csv, .tsv, .parquet, .feather or .json "
                            "(one JSON object a line)")
    out = _output_file(args.out)
    check_arguments("--k", k=args.k)
    spec, meta = served.spec, served.metadata
    user_col, item_col = spec[meta["user_key"]].source, spec[meta["item_key"]].source
    columns = [spec[name].source for name in served.query_features]
    queries = data.read(args.data, dtypes=data.csv_dtypes(spec))
    present = [c for c in columns if c in queries.columns]
    if not present:
        raise DataError(f"--data {args.data}: no query column; the model's are {', '.join(columns)}")
    queries = queries[present]
    # Lists and mappings (a history's items) are compared by what they hold: pandas cannot hash them.
    queries = queries[~queries.map(_hashable).duplicated()].reset_index(drop=True)
    if not len(queries):
        raise DataError(f"--data {args.data}: no rows, so no query to recommend for")
    seen: dict[Any, list] = {}
    if args.seen is not None:
        if user_col not in present:
            raise DataError(f"--seen: the queries in {args.data} have no {user_col!r} column to match its users by")
        seen = _seen_items(args.seen, spec, user_col, item_col)
    # A history column's items are the query's own, not recommended again (as --history's are).
    item_feature = spec[meta["item_key"]]
    histories = [spec[n] for n in served.query_features if spec[n].kind == "history" and spec[n].source in present]

    def excluded(part: pd.DataFrame) -> list[list] | None:
        lists = [list(seen.get(u, ())) for u in part[user_col]] if seen else [[] for _ in range(len(part))]
        for history in histories:
            for items, listed in zip(lists, _history_items(part, history, item_feature, spec), strict=True):
                items += listed
        return lists if any(lists) else None

    advance, written = data.progress_bar(lambda: len(queries), "auto", unit="query"), 0

    def chunks() -> Any:
        nonlocal written
        for start in range(0, len(queries), RECOMMENDED_A_CALL):
            part = queries.iloc[start:start + RECOMMENDED_A_CALL].reset_index(drop=True)
            exclude = excluded(part)
            ids, scores = served.recommend(part, k=args.k, exclude=exclude)
            rank = np.broadcast_to(np.arange(1, ids.shape[1] + 1), ids.shape)
            kept = np.isfinite(scores)  # a list shorter than k (everything else excluded) is padded
            who = (part[user_col].to_numpy() if user_col in part.columns
                   else np.arange(start, start + len(part)))
            rows = pd.DataFrame({user_col if user_col in part.columns else "query": np.repeat(who, ids.shape[1]),
                                 "rank": rank.reshape(-1), item_col: ids.reshape(-1), "score": scores.reshape(-1)})
            written += int(kept.sum())
            advance(len(part))
            yield rows[kept.reshape(-1)]

    data.write_frames(chunks(), out)
    print(f"ctr recommend: {written:,} recommendations for {len(queries):,} queries written to {out}")
    return 0


def _seen_items(path: str, spec: Any, user_col: str, item_col: str) -> dict[Any, list]:
    """--seen: the items each user touched, by user id."""
    from . import data

    pairs = data.read(path, [user_col, item_col], dtypes=data.csv_dtypes(spec))
    return pairs.groupby(user_col, sort=False)[item_col].agg(list).to_dict()


RECOMMENDED_A_CALL = 4096  # queries `ctr recommend --data` recommends for at a time


def _hashable(value: Any) -> Any:
    """A value as one that can be hashed and compared: a list's, array's or mapping's contents as tuples."""
    from .data import LIST_TYPES, list_items

    if isinstance(value, dict):
        return ("mapping", *((key, _hashable(v)) for key, v in value.items()))
    if isinstance(value, LIST_TYPES):  # a set's in its sorted order, as a feature reads it
        return ("list", *(_hashable(v) for v in list_items(value)))
    return value


def _history_items(queries: Any, history: Any, item_feature: Any, spec: Any) -> list[list]:
    """Each query's history items as the item feature's values, without their weights: the items a query's
    own history keeps out of its list. The history is read as a request's is (lists, mappings, text)."""
    from .data import raw_features
    from .features import bag_ids, token_text

    listed = raw_features(queries, spec, [history.name])[history.name]
    return [[_parse_value(item_feature, t) for t in bag_ids(token_text(v), history)] for v in listed]


def _parse_value(feature, text: str):
    from .spec import raw_dtype

    dtype = raw_dtype(feature)
    if feature.kind in ("timestamp", "vector"):
        return text  # epoch numbers or ISO 8601 text, numbers separated by commas: read as a data column's are
    try:
        return float(text) if dtype == "float32" else int(text) if dtype == "int64" else text
    except ValueError:
        raise DataError(f"feature {feature.name!r} expects {dtype} values, got {text!r}") from None


def _downsample(args: argparse.Namespace) -> int:
    from . import data
    from .spec import FeatureSpec

    spec = FeatureSpec.of(args.spec)
    source = _streamed_source(args.data, args.format)
    out = data.downsample_negatives(source, spec, keep=args.keep, seed=args.seed, out=args.out)
    print(f"ctr downsample: {data.count_rows(out):,} of {data.count_rows(source):,} rows written to {out}")
    return 0


_NEGATIVES_HELP = ("click models, for data of interactions only (as fit --negatives trains on): follow each "
                   "interaction with N items of the data its user never touched, as non-clicks (--seed: the draw)")


def _labelled(args: argparse.Namespace, spec: Any, frame: Any) -> Any:
    """A click model's rows to measure: as given, or with --negatives N each (an interaction) followed by N
    items its user never touched, as non-clicks; a DataError naming the label when the rows have none."""
    from . import data
    from .spec import FeatureSpec

    label = spec.label.column
    if args.negatives is not None:
        frame = data.add_negatives(frame, FeatureSpec(spec.features, name=spec.name), args.negatives, label=label,
                                   seed=args.seed)
    data.require_columns(frame, [label], where=args.data,
                         hint=f" ({label!r} is the model's label: the rows measured must say whether each was "
                              "clicked; for interactions alone, as ctr fit --negatives N trains on, pass --negatives N "
                              "to draw N non-clicks for each)")
    return frame


def _importance(args: argparse.Namespace) -> int:
    from .diagnostics import feature_importance
    from .export import load
    from .export_recommend import RecommenderExport
    from .inspect import plot_importance

    served = load(args.model)
    if isinstance(served, RecommenderExport):
        raise CtrError(f"{args.model} is a recommender export; importance is measured on a click model's AUC")
    frame = load_table(args.data, args.format, spec=served.spec)
    _require_spec_columns(args, served.spec, frame, label=False)
    frame = _labelled(args, served.spec, frame)
    table = feature_importance(served, frame, repeats=args.repeats, seed=args.seed, max_rows=args.max_rows,
                               verbose=True)
    print(f"AUC {table.attrs['auc']:.4f} on {table.attrs['rows']:,} rows; each column shuffled {args.repeats} times")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"\nplot: {plot_importance(table, args.plot, title=Path(args.model).name)}")
    if args.json:
        from ._files import make_parent

        make_parent(args.json)
        Path(args.json).write_text(json.dumps({**table.attrs, "columns": table.to_dict(orient="records")}, indent=1))
        print(f"table: {args.json}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    import numpy as np

    from . import data
    from .diagnostics import explain
    from .export import load
    from .export_recommend import RecommenderExport
    from .inspect import plot_explanation
    from .metrics import sigmoid

    served = load(args.model)
    frame = load_table(args.data, args.format, spec=served.spec)
    if not isinstance(served, RecommenderExport):
        _require_spec_columns(args, served.spec, frame, label=False)
    if len(frame) == 0:
        raise DataError(f"--data {args.data}: no rows to explain")
    rows = frame.head(args.rows).reset_index(drop=True)
    others = frame if args.background is None else load_table(args.background, "auto", spec=served.spec)
    if len(others) > args.background_rows:
        drawn = np.random.default_rng(args.seed).choice(len(others), args.background_rows, replace=False)
        others = others.iloc[np.sort(drawn)].reset_index(drop=True)
    with contextlib.redirect_stdout(sys.stderr):  # the progress bar; stdout holds the shares
        table = explain(served, rows, background=others, permutations=args.permutations, seed=args.seed,
                        verbose="auto")
    scale = table.attrs["scale"]  # a click model's logit, a recommender's score
    columns = [c for c in table.columns if c not in (f"base_{scale}", scale)]
    print(f"each column's share of the {scale}, from {table.attrs['background_drawn']} of {len(others):,} background "
          f"rows ({args.permutations} orders of the columns a row); the shares add up to {scale} - background "
          f"{scale}")
    for i, share in table.iterrows():
        if scale == "score":
            print(f"\nrow {i}: score {share['score']:+.3f}, background {share['base_score']:+.3f}")
        else:
            p, base = sigmoid(share["logit"]), sigmoid(share["base_logit"])
            print(f"\nrow {i}: probability {p:.4f} (logit {share['logit']:+.3f}), background {base:.4f} "
                  f"(logit {share['base_logit']:+.3f})")
        for column in sorted(columns, key=lambda c: -abs(share[c])):
            value = rows.at[i, column]
            print(f"  {share[column]:+.3f}  {column} = {value.item() if isinstance(value, np.generic) else value!r}")
    if args.plot:
        print(f"\nplot: {plot_explanation(table, rows, args.plot, title=Path(args.model).name)}")
    if args.out:
        data.write_frames([table.reset_index(drop=True)], _output_file(args.out))
        print(f"shares: {args.out}")
    return 0


def _draft_spec(args: argparse.Namespace) -> int:
    from .spec_draft import draft_spec, name_of

    name = args.name or name_of(args.data)  # a dataset folder's too, which is read into a table
    positive = args.label_positive[0] if args.label_positive and len(args.label_positive) == 1 else args.label_positive
    draft = draft_spec(_streamed_source(args.data, args.format), args.label, threshold=args.label_threshold,
                       positive=positive, user=args.user, item=args.item, name=name, sample_rows=args.rows)
    draft = dataclasses.replace(draft, source=args.data)
    if not args.out:
        print(draft.to_yaml(), end="")
        return 0
    out = _spec_file(args.out)
    draft.to_yaml(out)
    label = draft.spec.label
    said = "no label" if label is None else f"label {label.column}" + (
        f" {label.rule()}" if label.threshold is not None or label.positive is not None else "") + (
        f" out of {label.out_of}" if label.out_of is not None else "") + (
        f", weighted by {label.weight}" if label.weight is not None else "")
    counted = label is not None and label.weight == label.column  # a log of counts: interactions that weigh them
    then = f"ctr fit --spec {out} --data {args.data}" + (
        " --model two_tower (interactions without a label train a recommender, or a click model with --negatives N)"
        if label is None else " --model two_tower (interactions weighing their counts train a recommender)"
        if counted else "")
    print(f"ctr draft-spec: wrote {out} ({len(draft.spec.features)} features, {said}); read its comments, mend "
          f"what was guessed wrong, then: {then}")
    return 0


def _spec_file(out: str) -> Path:
    """--out of draft-spec: a new YAML file (a spec written by hand is not overwritten)."""
    from ._files import check_parent

    path = Path(out)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise ArgumentError(f"--out {out}: a spec is written as YAML; end the file name in .yaml")
    if path.exists():
        raise ArgumentError(f"--out {out}: the file exists; a drafted spec does not replace it: remove it or "
                            "name another file")
    check_parent(path, f"--out {out}")  # the folders it goes in are made, as for every other --out
    return path


def _inspect_data(args: argparse.Namespace) -> int:
    from .inspect import inspect_data, plot_data_report
    from .spec import FeatureSpec

    spec = FeatureSpec.of(args.spec) if args.spec else FeatureSpec.from_yaml(Path(args.model) / "assets" / "spec.yaml")
    frame = load_table(args.data, args.format, spec=spec)
    report = inspect_data(frame, spec, model=args.model)
    print(report.to_text())
    print(f"\nplot: {plot_data_report(frame, spec, args.out, report)}")
    if args.json:
        from ._files import make_parent

        make_parent(args.json)
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=1))
        print(f"report: {args.json}")
    return 0


def _embeddings(args: argparse.Namespace) -> int:
    from .embedding_map import embedding_map

    frame = load_table(args.data, args.format) if args.data else None
    written = embedding_map(args.model, args.feature, args.out, data=frame, color_by=args.color_by)
    print(f"ctr embeddings: {written['rows']} {args.feature} vectors mapped with {written['method']} → "
          f"{written['figure']}; projector files {written['vectors']} and {written['metadata']}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .export import ServedModel, load

    served = load(args.model)
    if not isinstance(served, ServedModel):
        raise CtrError(f"{args.model} is a recommender export ({served.metadata['model']}): ONNX export covers the "
                       f"click models ({', '.join(_CLICK_MODELS)}); serve the recommender's SavedModel")
    print(f"ctr export: converting {args.model} to ONNX (tf2onnx), then checking it against the SavedModel",
          file=sys.stderr)
    print(f"ctr export: wrote {served.to_onnx(args.out)}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from .calibration import describe_calibration
    from .export_files import read_metadata
    from .models import load_model

    metadata = read_metadata(Path(args.model))
    if "recommend" in metadata.get("signatures", []):
        raise CtrError(f"{args.model} is a recommender export ({metadata['model']}): calibration makes a click "
                       f"model's scores click probabilities ({', '.join(_CLICK_MODELS)}), and a recommender's "
                       "scores rank items")
    model = load_model(args.model)
    frame = load_table(args.data, args.format, spec=model.spec)
    _require_spec_columns(args, model.spec, frame)
    print(f"ctr calibrate: {describe_calibration(model.calibrate(frame))}")
    print(f"ctr calibrate: exported to {model.export(args.out)}")
    return 0


def _describe(args: argparse.Namespace) -> int:
    from .spec import FeatureSpec

    named = args.target or args.spec or args.model
    target = Path(named)
    if target.is_dir():
        from .export import describe_export
        from .export_files import read_metadata

        metadata = read_metadata(target)  # names what is missing when the folder is not an export
        print(describe_export(metadata, FeatureSpec.from_yaml(target / "assets" / "spec.yaml")))
    else:
        print(FeatureSpec.of(named).describe())
    return 0


def _data_format(source: str, fmt: str = "auto") -> str:
    """What --data is: one of _FORMATS, recognised by its files unless --format says."""
    from .datasets.criteo import is_criteo_file

    if fmt != "auto":
        return fmt
    path = Path(source)
    if source == "synthetic":
        return "synthetic"
    if (path / "u.data").exists():
        return "movielens-100k"
    if (path / "movies.dat").exists():
        return "movielens-1m"
    if path.suffix == ".libfm" or (path.is_dir() and any(path.glob("frappe.*.libfm"))):
        return "frappe"
    if is_criteo_file(path):
        return "criteo"
    if path.exists():
        return "table"
    raise DataError(f"--data {source!r}: no such file or folder{pattern_hint(source)}")


def _streamed_source(source: str, fmt: str = "auto") -> Any:
    """--data for the commands that stream it: a table's path as it is (read chunk by chunk), or a
    dataset folder or the synthetic data loaded whole."""
    from .datasets.criteo import is_criteo_file

    fmt = _data_format(source, fmt)
    return source if fmt == "table" or (fmt == "criteo" and is_criteo_file(source)) else load_table(source, fmt)


def load_table(source: str, fmt: str = "auto", seed: int = 0, spec: Any = None):
    """Read --data: a MovieLens or Frappe folder, a Parquet or Arrow file/folder, a CSV, JSON-lines or TFRecord file, or
    'synthetic' (a CSV's columns that `spec` reads as text, as text)."""
    from . import data, datasets

    path = Path(source)
    fmt = _data_format(source, fmt)
    if fmt == "synthetic":
        return datasets.synthetic(seed=seed)
    if fmt == "movielens-100k":
        return datasets.movielens_100k(path)
    if fmt == "movielens-1m":
        return datasets.movielens_1m(path)
    if fmt == "frappe":
        return datasets.frappe(path)
    if fmt == "criteo":
        return datasets.criteo(path)
    frame = data.read(path, dtypes=data.csv_dtypes(spec) if spec is not None else None)
    if spec is not None:
        _require_read_header(source, frame, spec.columns)
    return frame


def _require_read_header(source: Any, frame: Any, needed: list[str]) -> None:
    """A DataError saying why, when --data is a file whose header did not read as its column names (another
    separator, no header line) and a column the spec reads is not among them."""
    from . import data

    unread = data.header_hint(Path(source), list(frame.columns)) if isinstance(source, str) else ""
    missing = [c for c in needed if c not in frame.columns] if unread else []
    if missing:
        raise DataError(f"--data {source}: {unread} (the spec reads {', '.join(map(repr, missing[:4]))}"
                        f"{', ...' if len(missing) > 4 else ''})")


def _serve(args: argparse.Namespace) -> int:
    from .serving import Server

    server = Server(args.model, host=args.host, port=args.port, name=args.name, log_requests=not args.quiet)
    # A process started in the background by a shell script ignores Ctrl-C (SIGINT) from the start, and
    # Python leaves it so; `kill` (SIGTERM, as process managers stop a service) stops it as Ctrl-C would.
    signal.signal(signal.SIGTERM, _interrupted)
    stops = ("Ctrl-C stops" if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
             else f"started with Ctrl-C ignored, as a background job: kill {os.getpid()} stops it")
    print(f"ctr serve: {server.export.metadata.get('model')} at {server.url} (POST {server.url}:predict with "
          f'{{"instances": [rows]}} or {{"inputs": {{columns}}}}); {stops}', flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        # A second Ctrl-C or kill (or one a wrapper passes on) while stopping.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ctr serve: stopped", flush=True)
    return 0


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


# name: its class in ctr.models (ctr.models.MODELS, named here so that a usage error needs no TensorFlow)
_FORMATS = ("auto", "movielens-100k", "movielens-1m", "frappe", "criteo", "table", "synthetic")  # how to read --data


# File kinds that --format "table" reads (it tells them apart by their contents), as users name them.
_TABLE_KINDS = ("csv", "tsv", "txt", "parquet", "json", "jsonl", "ndjson", "arrow", "feather", "ipc", "tfrecord",
                "tfrecords")


def _add_format(parser: argparse.ArgumentParser) -> None:
    """The --format flag of every command that reads --data."""
    parser.add_argument("--format", choices=_FORMATS, type=_format_choice, default="auto",
                        help="how to read --data (default: guess from its contents; 'table', or csv, parquet, json, "
                             "arrow, tfrecord: a file or folder of rows)")


def _format_choice(text: str) -> str:
    """--format in any case, a kind of file ("csv", "parquet", ...) read as "table"."""
    key = text.strip().lower()
    return "table" if key.lstrip(".") in _TABLE_KINDS else key


def _model_choice(text: str) -> str:
    """--model's name in any case, or named as its class is in Python (DeepFM, MatrixFactorization, two-tower)."""
    return model_key(text) or text  # argparse names the unknown as given


_PATH_FLAGS = ("data", "train", "valid", "test", "seen")  # options naming data: one file or folder each

_COMMANDS = {"demo": _demo, "draft-spec": _draft_spec,
             "fit": _fit, "compare": _compare, "evaluate": _evaluate, "predict": _predict, "recommend": _recommend,
             "importance": _importance, "explain": _explain, "downsample": _downsample,
             "inspect-data": _inspect_data, "embeddings": _embeddings, "export": _export, "describe": _describe,
             "calibrate": _calibrate, "serve": _serve}

if __name__ == "__main__":
    sys.exit(main())
