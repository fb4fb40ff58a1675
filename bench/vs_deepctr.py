"""ctr against DeepCTR (PyPI `deepctr` 0.9.4) on the same data, features, sizes and training budget.

Models: our DeepFM and FM beside DeepCTR's DeepFM and DeepCTR's FM. DeepCTR 0.9.4 has no FM model,
so its FM is the DeepFM function without the DNN: DeepCTR's own linear logit + its `FM` layer +
its `PredictionLayer` (see `_deepctr_model`).

Datasets: MovieLens 100K as CTR (rating >= 4, random 80/10/10, seed 0; user and item ids, age,
gender, occupation, zip prefix, genres, release year, hour and day of week), Frappe (the NFM
paper's validation and test files, the training file being absent here: 86,582 rows, random
80/10/10, seed 0; its ten categorical fields, `feature_specs/frappe.yaml`; skipped when the folder
is absent) and the embedded synthetic data at 1 M rows (every feature of
`feature_specs/synthetic.yaml`, random 80/10/10).

Shared settings: embedding size 16, MLP 256-128 (ReLU), Adam at 1e-3, the same batch size and the
same epoch budget. On MovieLens and Frappe both libraries stop early on validation AUC (patience 2 and 5,
best weights restored); the synthetic runs train a fixed number of epochs. Each library keeps its own
regularisation defaults (ours: l2 on the embedding rows used; DeepCTR's: l2 1e-5 on its tables).
DeepCTR gets its inputs encoded outside the model, its documented way (label encoding, padded
sequences, standardised numbers), by `ExternalEncoder` below; that encoding is timed wherever the
comparison is end to end (time to the first epoch, serving).

Every (dataset, library, model, seed) runs in its own Python process, so peak resident memory is
that run's alone; the runs go seed by seed, each library and model in turn, so that a slow spell of
the machine falls on both libraries. Figures are medians over `--runs` seeds. Prints a table, writes
bench/results/vs_deepctr.json and updates the README's block.

    python bench/vs_deepctr.py [--data ../shared/data/ml-100k] [--frappe ../shared/data/frappe] [--runs 5]
                               [--rows 1000000] [--datasets movielens,frappe,synthetic]
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # DeepCTR's children too: the same Keras 2 stack
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_OUT = str(ROOT / "bench" / "results" / "vs_deepctr.json")
EMBEDDING_DIM = 16
HIDDEN = (256, 128)
CROSS_LAYERS = 2  # DCN (bench/dcn.py): DeepCTR's default and ours
# AutoInt (bench/autoint.py): DeepCTR's defaults and ours, AutoInt+ (the MLP beside the attention).
ATTENTION = {"attention_layers": 3, "num_heads": 2, "key_dim": 8}
# xDeepFM (bench/xdeepfm.py): DeepCTR's CIN defaults and ours (half of each layer's maps carried on, ReLU).
CIN = {"cin_layers": (128, 128), "split_half": True, "cin_activation": "relu"}
# FiBiNET (bench/fibinet.py): DeepCTR's defaults and ours (a bilinear matrix per pair of fields, SENET's F // 3).
BILINEAR = {"bilinear_type": "interaction", "reduction_ratio": 3}
# NFM (bench/nfm.py): no dropout on the pooled vector, DeepCTR's default and ours; the MLP is HIDDEN in both.
BI_DROPOUT = 0.0
# AFM (bench/afm.py): DeepCTR's defaults and ours (8 attention units, no dropout on the weighed sum).
AFM_SETTINGS = {"attention_factor": 8, "dropout": 0.0}
# Each model's arguments beyond the shared ones, the same in both libraries.
OUR_MODELS = {"DeepFM": {"hidden_units": HIDDEN}, "FM": {}, "WideDeep": {"hidden_units": HIDDEN},
              "DCN": {"hidden_units": HIDDEN, "cross_layers": CROSS_LAYERS},
              "AutoInt": {"hidden_units": HIDDEN, **ATTENTION}, "xDeepFM": {"hidden_units": HIDDEN, **CIN},
              "FiBiNET": {"hidden_units": HIDDEN, **BILINEAR},
              "NFM": {"hidden_units": HIDDEN, "bi_dropout": BI_DROPOUT}, "AFM": AFM_SETTINGS}
LEARNING_RATE = 1e-3
# MovieLens: a small-batch regime, as DeepCTR's own MovieLens example; synthetic 1M: a large-batch one.
SETTINGS = {
    "movielens": {"batch_size": 256, "max_epochs": 20, "early_stopping": True, "patience": 2},
    # Frappe's validation AUC stalls for two or three epochs around the fourth and then climbs again
    # (a first run with patience 2 stopped there in some runs of both libraries, well below the others).
    "frappe": {"batch_size": 256, "max_epochs": 20, "early_stopping": True, "patience": 5},
    "synthetic": {"batch_size": 2048, "max_epochs": 3, "early_stopping": False},
}
RUNNERS = [("ctr", "DeepFM"), ("deepctr", "DeepFM"), ("ctr", "FM"), ("deepctr", "FM")]
SERVE_CALLS_1, SERVE_CALLS_1024 = 1000, 200
# The test gAUC's groups: each dataset's users (users of one class in the test rows are left out).
USER_COLUMN = {"movielens": "user_id", "frappe": "user", "synthetic": "user_id"}

# The MovieLens feature set of the issue: the bundled spec without the title.
MOVIELENS_SPEC = {
    "name": "movielens-100k-vs-deepctr",
    "label": {"column": "rating", "threshold": 4},
    "features": [
        {"name": "user_id", "kind": "categorical", "dtype": "int", "role": "user"},
        {"name": "item_id", "kind": "categorical", "dtype": "int", "role": "item"},
        {"name": "age", "kind": "numeric", "transform": "quantile", "buckets": 8, "role": "user"},
        {"name": "gender", "kind": "categorical", "role": "user"},
        {"name": "occupation", "kind": "categorical", "role": "user"},
        {"name": "zip_prefix", "kind": "categorical", "role": "user", "min_count": 2},
        {"name": "genres", "kind": "multi_categorical", "separator": "|", "max_length": 6, "role": "item"},
        {"name": "release_year", "kind": "numeric", "role": "item"},
        {"name": "timestamp", "kind": "timestamp", "parts": ["hour", "day_of_week"], "role": "context"},
    ],
}


# -- the parent: run every child, aggregate, report ------------------------------------------------
def main() -> None:
    from bench._report import arguments, frappe_option, run_options, save

    parser = arguments(__doc__, DEFAULT_OUT)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of synthetic data")
    frappe_option(parser)
    parser.add_argument("--datasets", default="movielens,frappe,synthetic")
    # Five seeds, not three: on the 2-core AMD machine one run's throughput moves by up to half
    # between runs (bench/training_speed.py's 2026-12-02 table), and a median of three followed it.
    parser.set_defaults(runs=5)
    args = run_options(parser, child, publish, "bench/vs_deepctr.py")
    if args is None:
        return
    datasets = available_datasets(args)

    started = time.time()
    results = measure(__file__, args, datasets, RUNNERS)
    protocol = {"synthetic_rows": args.rows, "settings": SETTINGS,
                "deepctr_fm": "DeepCTR linear logit + deepctr.layers.FM + PredictionLayer (no FM model in 0.9.4)"}
    save(report("ctr_vs_deepctr", args, protocol, started, results), args.out, DEFAULT_OUT, publish)


def beside_the_peer(script: str, doc: str, runners: list[tuple[str, str]], protocol: dict) -> None:
    """A benchmark of one model of ours beside DeepCTR's (bench/dcn.py, bench/autoint.py): this one's data,
    settings, runs, figures and table, on MovieLens 100K and Frappe; `script` is its file, whose name (dcn)
    names its JSON (bench/results/dcn.json), its README block and its benchmark (ctr_dcn_vs_deepctr)."""
    from bench._report import arguments, frappe_option, run_options, save

    name, block = str(Path(script).resolve().relative_to(ROOT)), Path(script).stem
    benchmark, default_out = f"ctr_{block}_vs_deepctr", str(ROOT / "bench" / "results" / f"{block}.json")
    parser = arguments(doc, default_out)
    frappe_option(parser)
    parser.add_argument("--datasets", default="movielens,frappe")
    parser.set_defaults(runs=5)  # as this benchmark: one run's speed moves by up to half on this machine
    args = run_options(parser, child, publish, name)
    if args is None:
        return
    datasets = available_datasets(args)
    started = time.time()
    results = measure(script, args, datasets, runners)
    protocol = {"settings": {d: SETTINGS[d] for d in datasets}, **protocol}
    save(report(benchmark, args, protocol, started, results, script=name, block=block), args.out, default_out,
         publish)


def report(benchmark: str, args, protocol: dict, started: float, results: dict, **extra) -> dict:
    """A comparison's JSON: its protocol (the settings shared by every comparison added), the machine
    and versions, when and how long, and the results."""
    from bench._report import machine

    shared = {"runs": args.runs, "embedding_dim": EMBEDDING_DIM, "hidden_units": list(HIDDEN), "optimizer": "Adam",
              "learning_rate": LEARNING_RATE, "split": "random 80/10/10, seed 0",
              "serving": f"batch 1: {SERVE_CALLS_1} calls, p50/p99; batch 1024: {SERVE_CALLS_1024} calls; "
                         "after gc.collect() and gc.freeze()"}
    return {"benchmark": benchmark, **extra, "protocol": {**shared, **protocol},
            "machine": {**machine(), "deepctr": _version("deepctr")},
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "wall_minutes": round((time.time() - started) / 60, 1), "results": results}


def available_datasets(args) -> list[str]:
    """--datasets, less Frappe (with a line saying so) when its folder is absent."""
    datasets = args.datasets.split(",")
    if "frappe" in datasets and not Path(args.frappe).exists():
        print(f"Frappe not found at {args.frappe}: its rows are skipped (pass --frappe)", flush=True)
        datasets.remove("frappe")
    return datasets


def measure(script: str, args, datasets: list[str], runners: list[tuple[str, str]]) -> dict[str, dict]:
    """Every (dataset, library, model) of `runners` for `args.runs` seeds, each run a child process of
    `script`; the runs and their medians by "dataset/library/model"."""
    from bench._report import run_child

    results: dict[str, dict] = {}
    for dataset in datasets:
        runs: dict[str, list[dict]] = {f"{dataset}/{library}/{model}": [] for library, model in runners}
        # Seed by seed, every library and model in turn: a slow spell of the machine falls on both
        # libraries, not on one library's runs.
        for seed in range(args.runs):
            for library, model in runners:
                job = {"dataset": dataset, "library": library, "model": model, "seed": seed,
                       "data": args.frappe if dataset == "frappe" else args.data,
                       "rows": getattr(args, "rows", None), **SETTINGS[dataset]}
                r = run_child(script, job)
                runs[f"{dataset}/{library}/{model}"].append(r)
                print(f"  {dataset:<10}{library:<8}{model:<7} seed {seed}: AUC {r['auc']:.4f}  gAUC {r['gauc']:.4f}  "
                      f"{r['train_examples_per_s']:>9.0f} ex/s  first epoch {r['first_epoch_s']:.1f} s  "
                      f"RSS {r['peak_rss_mb']:.0f} MB  serve b1 p50 {r['serve_b1_p50_ms']:.2f} ms  "
                      f"b1024 {r['serve_b1024_rows_per_s']:.0f} rows/s", flush=True)
        results.update({key: {"runs": value, **medians(value)} for key, value in runs.items()})
    return results


FIGURES = ["auc", "gauc", "logloss", "epochs", "train_examples_per_s", "first_epoch_s", "peak_rss_mb",
           "serve_b1_p50_ms", "serve_b1_p99_ms", "serve_b1024_rows_per_s", "serve_b1_model_p50_ms",
           "serve_b1_floor_p50_ms"]


def medians(runs: list[dict]) -> dict:
    # A figure that runs from before it was measured lack (the test gAUC) is left out, not invented.
    return {f"{k}_median": statistics.median(r[k] for r in runs) for k in FIGURES if all(k in r for r in runs)}


def publish(report: dict, update: bool) -> None:
    """Print the table (ours beside DeepCTR's, with ratios) and write it into the README's block (the
    report's "block", written by its "script": bench/vs_deepctr.py's unless another benchmark says)."""
    from bench._report import show_table

    res, info = report["results"], report["machine"]
    script, block = report.get("script", "bench/vs_deepctr.py"), report.get("block", "vs_deepctr")

    def dataset_label(dataset: str) -> str:
        rows_ = report["protocol"].get("synthetic_rows") or 0
        return {"movielens": "MovieLens 100K", "frappe": "Frappe (86,582)"}.get(dataset, f"synthetic {rows_:,}")

    columns = [("test AUC", "auc", "{:.4f}", "diff"), ("test gAUC", "gauc", "{:.4f}", "diff"),
               ("logloss", "logloss", "{:.4f}", "diff"),
               ("train ex/s", "train_examples_per_s", "{:,.0f}", "ratio"),
               ("1st epoch s", "first_epoch_s", "{:.1f}", "ratio"), ("peak RSS MB", "peak_rss_mb", "{:,.0f}", "ratio"),
               ("serve b1 p50 ms", "serve_b1_p50_ms", "{:.2f}", "ratio"),
               ("serve b1 p99 ms", "serve_b1_p99_ms", "{:.2f}", "ratio"),
               ("serve b1024 rows/s", "serve_b1024_rows_per_s", "{:,.0f}", "ratio")]
    # A column that a report from before it was measured lacks (the test gAUC) is not drawn.
    columns = [c for c in columns if all(f"{c[1]}_median" in r for r in res.values())]
    head = "| dataset | model | library | " + " | ".join(c[0] for c in columns) + " |"
    rows = [head, "|---|---|---|" + "---:|" * len(columns)]
    datasets = list(dict.fromkeys(key.split("/")[0] for key in res))
    models = list(dict.fromkeys(key.split("/")[2] for key in res))
    for dataset in datasets:
        for model in models:
            ours, peer = res.get(f"{dataset}/ctr/{model}"), res.get(f"{dataset}/deepctr/{model}")
            label = dataset_label(dataset)
            for lib, r in (("ctr", ours), ("DeepCTR", peer)):
                if r is not None:
                    cells = [fmt.format(r[f"{key}_median"]) for _, key, fmt, _ in columns]
                    rows.append(f"| {label} | {model} | {lib} | " + " | ".join(cells) + " |")
            if ours is None or peer is None:  # a model of one library only: no ratio
                continue
            ratio_cells = []
            for _, key, _, kind in columns:
                a, b = ours[f"{key}_median"], peer[f"{key}_median"]
                ratio_cells.append(f"{a - b:+.4f}" if kind == "diff" else f"{a / b:.2f}×")
            rows.append(f"| {label} | {model} | **ctr vs DeepCTR** | " + " | ".join(ratio_cells) + " |")
    settings = report["protocol"]["settings"]
    rows.append(
        f"\nMedian of {report['protocol']['runs']} runs per cell (seeds 0–{report['protocol']['runs'] - 1}), each in "
        f"its own process, the libraries in turn seed by seed; measured {report['measured_at'][:10]} on "
        f"{info['cpu']} ({info['cores']} cores), "
        f"TensorFlow {info['tensorflow']}, DeepCTR {info['deepctr']}, by `{script}` "
        f"({report['wall_minutes']} min); raw figures in `bench/results/{block}.json`. "
        + "; ".join(f"{dataset_label(d)}: batch {s['batch_size']}, "
                    + (f"early stopping on validation AUC (patience {s.get('patience', 2)}, at most "
                       f"{s['max_epochs']} epochs)" if s["early_stopping"]
                       else f"{s['max_epochs']} epochs")
                    for d, s in settings.items() if any(k.startswith(d + "/") for k in res))
        + (". Ratios are ctr / DeepCTR (AUC, gAUC and logloss: differences). gAUC: each user's AUC over "
           "their test rows, weighted by their rows (users whose test rows are all of one class left out)."
           if any(c[1] == "gauc" for c in columns) else ". Ratios are ctr / DeepCTR (AUC and logloss: differences)."))
    rows += ["", "Where batch-1 time goes (p50, ms): end to end from raw rows; the model's call on tensors "
             "already made; a do-nothing SavedModel signature with the same inputs, which is TensorFlow's "
             "cost of any call.", "",
             "| dataset | model | library | end to end | model call | do-nothing call |",
             "|---|---|---|---:|---:|---:|"]
    for key, r in res.items():
        if "serve_b1_model_p50_ms_median" in r:
            dataset, lib, model = key.split("/")
            rows.append(f"| {dataset_label(dataset)} | {model} | {'ctr' if lib == 'ctr' else 'DeepCTR'} | "
                        f"{r['serve_b1_p50_ms_median']:.2f} | {r['serve_b1_model_p50_ms_median']:.2f} | "
                        f"{r['serve_b1_floor_p50_ms_median']:.2f} |")
    show_table(block, rows, update)


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


# -- a child: one library, one model, one seed ----------------------------------------------------
def dataset(job: dict) -> tuple:
    """(spec, (train, valid, test)) of the job's dataset: random 80/10/10, seed 0."""
    import ctr

    if job["dataset"] == "movielens":
        spec, table = ctr.FeatureSpec.from_dict(MOVIELENS_SPEC), ctr.datasets.movielens_100k(job["data"])
    elif job["dataset"] == "frappe":
        spec, table = ctr.datasets.frappe_spec(), ctr.datasets.frappe(job["data"]).drop(columns="split")
    else:
        spec = ctr.datasets.synthetic_spec()
        table = ctr.datasets.synthetic(n_rows=job["rows"], seed=0)
    return spec, ctr.data.random_split(table, (0.8, 0.1, 0.1), seed=0)


def child(job: dict) -> dict:
    import resource

    import numpy as np

    import ctr
    from ctr.metrics import auc, group_auc, logloss

    spec, (train, valid, test) = dataset(job)
    y_test = ctr.data.labels(test, spec)
    runner = _OursRunner if job["library"] == "ctr" else _DeepCTRRunner
    result = runner(spec, job).run(train, valid, test)
    p = result.pop("probabilities")
    by_user = group_auc(y_test, p, test[USER_COLUMN[job["dataset"]]])
    result.update(auc=auc(y_test, p), logloss=logloss(y_test, p), gauc=by_user["gauc"],
                  gauc_users=by_user["gauc_groups"],
                  peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    assert np.isfinite(p).all()
    return result


class _Runner:
    """Train with a clock, predict the test rows, then time serving from raw rows."""

    def __init__(self, spec, job: dict):
        self.spec, self.job = spec, job

    def run(self, train, valid, test) -> dict:
        from ctr._keras import keras

        clock = _clock_callback(time.perf_counter())
        callbacks = [clock]
        if self.job["early_stopping"]:
            callbacks.append(keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=self.job["patience"],
                                                           restore_best_weights=True))
        self.train(train, valid, callbacks)
        steady = clock.epoch_seconds[1:] or clock.epoch_seconds
        probabilities = self.predict(test)
        raw = test.reset_index(drop=True)
        to_tensors, call = self.server()
        return {"probabilities": probabilities, "epochs": len(clock.epoch_seconds),
                "train_examples_per_s": len(train) / statistics.median(steady),
                "first_epoch_s": clock.first_epoch_end, **_serving_times(to_tensors, call, raw)}


class _OursRunner(_Runner):
    def train(self, train, valid, callbacks) -> None:
        import ctr

        cls, extra = getattr(ctr, self.job["model"]), OUR_MODELS[self.job["model"]]
        self.model = cls(self.spec, embedding_dim=EMBEDDING_DIM, learning_rate=LEARNING_RATE,
                         batch_size=self.job["batch_size"], seed=self.job["seed"], **extra)
        self.model.fit(train, validation_data=valid, epochs=self.job["max_epochs"], callbacks=callbacks, verbose=0)

    def predict(self, test):
        return self.model.predict(test)

    def server(self):
        """(raw rows → the exported signature's inputs, as a client would send them; the signature
        call), for the SavedModel that encodes raw values itself."""
        import numpy as np
        import pandas as pd
        import tensorflow as tf

        folder = _scratch_folder() / "model"
        self.model.export(folder)
        signature = tf.saved_model.load(str(folder)).signatures["serving_default"]
        missing_int = np.iinfo(np.int64).min
        columns = []  # (input name, column, dtype): what the client sends for each feature
        for f in self.spec.features:
            integer = f.kind == "timestamp" or (f.kind == "categorical" and f.dtype == "int")
            dtype = tf.int64 if integer else tf.float32 if f.kind == "numeric" else tf.string
            columns.append((f.name, f.source, dtype))

        def to_tensors(frame):
            inputs = {}
            for name, source, dtype in columns:
                values = frame[source].to_numpy()
                if dtype is tf.string and pd.isna(values).any():
                    values = np.where(pd.isna(values), "", values)
                elif dtype is tf.int64 and values.dtype.kind == "f":
                    values = np.where(np.isnan(values), missing_int, values)
                inputs[name] = tf.constant(values, dtype)
            return inputs

        return to_tensors, lambda inputs: signature(**inputs)["probability"].numpy()


class _DeepCTRRunner(_Runner):
    def train(self, train, valid, callbacks) -> None:
        import tensorflow as tf

        tf.keras.utils.set_random_seed(self.job["seed"])
        self.encoder = ExternalEncoder(self.spec).fit(train)  # timed: part of DeepCTR's end-to-end
        x, y = self.encoder.transform(train), self.encoder.labels(train)
        xv, yv = self.encoder.transform(valid), self.encoder.labels(valid)
        self.model = _deepctr_model(self.job["model"], self.encoder.feature_columns(), self.job["seed"])
        self.model.compile(tf.keras.optimizers.Adam(LEARNING_RATE), "binary_crossentropy",
                           metrics=[tf.keras.metrics.AUC(name="auc", num_thresholds=1000)])
        self.model.fit(x, y, sample_weight=self.sample_weight(train), batch_size=self.job["batch_size"],
                       epochs=self.job["max_epochs"], validation_data=(xv, yv), callbacks=callbacks, verbose=0,
                       shuffle=True)

    def sample_weight(self, train):
        """Keras' per-row weights for the training rows; none here (bench/downsampling.py gives some)."""
        return None

    def predict(self, test):
        return self.model.predict(self.encoder.transform(test), batch_size=8192, verbose=0).reshape(-1)

    def server(self):
        """(raw rows → the external encoding as tensors; the call of DeepCTR's model as a SavedModel,
        its fastest call path)."""
        import tensorflow as tf

        folder = _scratch_folder() / "model"
        tf.saved_model.save(self.model, str(folder))
        signature = tf.saved_model.load(str(folder)).signatures["serving_default"]
        (output,) = signature.structured_outputs

        def to_tensors(frame):
            return {k: tf.constant(v) for k, v in self.encoder.transform(frame).items()}

        return to_tensors, lambda inputs: signature(**inputs)[output].numpy()


def _scratch_folder() -> Path:
    """A temporary folder for a run's export, removed when the run's process ends."""
    import atexit
    import shutil

    folder = Path(tempfile.mkdtemp(prefix="vs-deepctr-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _deepctr_model(name: str, columns: list, seed: int):
    from deepctr.models import AFM, DCN, NFM, WDL, AutoInt, DeepFM, FiBiNET, xDeepFM

    if name == "DeepFM":
        return DeepFM(columns, columns, dnn_hidden_units=HIDDEN, seed=1024 + seed)
    if name == "WideDeep":  # the same columns in the wide (linear) part and the deep one, as ours
        return WDL(columns, columns, dnn_hidden_units=HIDDEN, seed=1024 + seed)
    if name == "DCN":  # DCN-M, DeepCTR's name for DCN-V2's full-rank cross layers
        return DCN(columns, columns, cross_num=CROSS_LAYERS, cross_parameterization="matrix", dnn_hidden_units=HIDDEN,
                   seed=1024 + seed)
    if name == "AutoInt":  # its defaults: residual connections, the unscaled attention
        return AutoInt(columns, columns, att_layer_num=ATTENTION["attention_layers"],
                       att_head_num=ATTENTION["num_heads"], att_embedding_size=ATTENTION["key_dim"], att_res=True,
                       dnn_hidden_units=HIDDEN, seed=1024 + seed)
    if name == "xDeepFM":
        return xDeepFM(columns, columns, dnn_hidden_units=HIDDEN, cin_layer_size=CIN["cin_layers"],
                       cin_split_half=CIN["split_half"], cin_activation=CIN["cin_activation"], seed=1024 + seed)
    if name == "FiBiNET":
        return FiBiNET(columns, columns, bilinear_type=BILINEAR["bilinear_type"],
                       reduction_ratio=BILINEAR["reduction_ratio"], dnn_hidden_units=HIDDEN, seed=1024 + seed)
    if name == "NFM":  # its MLP's default is 256-128-64: HIDDEN, as ours
        return NFM(columns, columns, dnn_hidden_units=HIDDEN, bi_dropout=BI_DROPOUT, seed=1024 + seed)
    if name == "AFM":  # its pairs are the categorical fields' (it refuses numbers there): numbers are linear only
        from deepctr.feature_column import DenseFeat

        return AFM(columns, [c for c in columns if not isinstance(c, DenseFeat)],
                   attention_factor=AFM_SETTINGS["attention_factor"], afm_dropout=AFM_SETTINGS["dropout"],
                   seed=1024 + seed)
    # DeepCTR's FM: the DeepFM function minus its DNN, from DeepCTR's own building blocks.
    import tensorflow as tf
    from deepctr.feature_column import (
        DEFAULT_GROUP_NAME,
        build_input_features,
        get_linear_logit,
        input_from_feature_columns,
    )
    from deepctr.layers.core import PredictionLayer
    from deepctr.layers.interaction import FM
    from deepctr.layers.utils import add_func, concat_func

    features = build_input_features(columns)
    linear = get_linear_logit(features, columns, seed=1024 + seed, prefix="linear", l2_reg=1e-5)
    groups, _ = input_from_feature_columns(features, columns, 1e-5, 1024 + seed, support_group=True)
    fm = FM()(concat_func(groups[DEFAULT_GROUP_NAME], axis=1))
    output = PredictionLayer("binary")(add_func([linear, fm]))
    return tf.keras.Model(inputs=list(features.values()), outputs=output)


class ExternalEncoder:
    """DeepCTR's inputs, encoded outside the model as its examples do: ids label-encoded (0 for
    unseen or rare), multi-valued and text columns padded id sequences, numbers standardised (NaN → 0),
    quantile numbers bucketed, timestamps split into hour and day of week. Driven by our spec, so
    both libraries see the same features."""

    def __init__(self, spec):
        self.spec = spec
        self.state: dict = {}

    def fit(self, frame):
        import numpy as np

        for f in self.spec.features:
            column = frame[f.source]
            if f.kind == "categorical":
                counts = column.dropna().astype(str).value_counts()
                self.state[f.name] = _index(counts[counts >= f.min_count].index)
            elif f.kind in ("multi_categorical", "text"):
                counts = self._tokens(column, f).value_counts()
                kept = counts[counts >= f.min_count].index
                self.state[f.name] = _index(kept[: getattr(f, "max_tokens", None) or len(kept)])
            elif f.kind == "numeric":
                x = self._numbers(column, f)
                x = x[np.isfinite(x)]
                if f.transform == "quantile":
                    self.state[f.name] = np.unique(np.quantile(x, np.linspace(0, 1, f.buckets + 1)[1:-1]))
                else:
                    self.state[f.name] = (float(x.mean()), float(x.std() or 1.0))
            elif f.kind == "timestamp":
                self.state[f.name] = None
        return self

    def transform(self, frame) -> dict:
        import numpy as np
        import pandas as pd

        out = {}
        for f in self.spec.features:
            column = frame[f.source]
            if f.kind == "categorical":
                out[f.name] = _codes(column.astype(str).to_numpy(), self.state[f.name])
            elif f.kind in ("multi_categorical", "text"):
                tokens = self._tokens(column, f)
                codes = _codes(tokens.to_numpy(), self.state[f.name])
                rows = pd.factorize(tokens.index)[0] if len(tokens) else np.zeros(0, int)
                position = pd.Series(rows).groupby(rows).cumcount().to_numpy()
                keep = position < f.max_length
                padded = np.zeros((len(frame), f.max_length), np.int32)
                padded[tokens.index.to_numpy()[keep], position[keep]] = codes[keep]
                out[f.name] = padded
            elif f.kind == "numeric":
                x = self._numbers(column, f)
                if f.transform == "quantile":
                    out[f.name] = np.where(np.isfinite(x), np.searchsorted(self.state[f.name], x, "right") + 1,
                                           0).astype(np.int32)
                else:
                    mean, std = self.state[f.name]
                    z = (x - mean) / std
                    out[f.name] = np.where(np.isfinite(z), z, 0.0).astype(np.float32)
            elif f.kind == "timestamp":
                seconds = column.to_numpy(np.int64)
                out[f"{f.name}_hour"] = ((seconds // 3600) % 24 + 1).astype(np.int32)
                out[f"{f.name}_day_of_week"] = ((seconds // 86400 + 3) % 7 + 1).astype(np.int32)
        # DeepCTR's inputs are [batch, 1] for single values (Keras' fit adds the axis; a signature does not).
        return {k: v if v.ndim == 2 else v[:, None] for k, v in out.items()}

    def labels(self, frame):
        import ctr

        return ctr.data.labels(frame, self.spec)

    def feature_columns(self) -> list:
        from deepctr.feature_column import DenseFeat, SparseFeat, VarLenSparseFeat

        columns = []
        for f in self.spec.features:
            if f.kind == "categorical":
                columns.append(SparseFeat(f.name, len(self.state[f.name]) + 1, embedding_dim=EMBEDDING_DIM))
            elif f.kind in ("multi_categorical", "text"):
                columns.append(VarLenSparseFeat(SparseFeat(f.name, len(self.state[f.name]) + 1,
                                                           embedding_dim=EMBEDDING_DIM),
                                                maxlen=f.max_length, combiner="mean"))
            elif f.kind == "numeric" and f.transform == "quantile":
                columns.append(SparseFeat(f.name, len(self.state[f.name]) + 2, embedding_dim=EMBEDDING_DIM))
            elif f.kind == "numeric":
                columns.append(DenseFeat(f.name, 1))
            elif f.kind == "timestamp":
                columns += [SparseFeat(f"{f.name}_hour", 25, embedding_dim=EMBEDDING_DIM),
                            SparseFeat(f"{f.name}_day_of_week", 8, embedding_dim=EMBEDDING_DIM)]
        return columns

    @staticmethod
    def _numbers(column, f):
        import numpy as np

        x = column.to_numpy(np.float64)
        return np.sign(x) * np.log1p(np.abs(x)) if f.transform == "log" else x

    @staticmethod
    def _tokens(column, f):
        text = column.fillna("").astype(str).reset_index(drop=True)  # index = row position
        if f.kind == "text":
            words = text.str.lower().str.replace(r"[^\w]+", " ", regex=True).str.split()
        else:
            words = text.str.split(re.escape(f.separator), regex=True)
        tokens = words.explode()
        tokens = tokens[tokens.notna()].astype(str).str.strip()
        return tokens[tokens != ""]


def _index(values) -> dict:
    return {v: i + 1 for i, v in enumerate(values)}


def _codes(values, index: dict):
    """Label codes (0 for unseen): a dict walk for a handful of values, pandas for many."""
    import numpy as np
    import pandas as pd

    if len(values) <= 64:
        return np.fromiter((index.get(v, 0) for v in values), np.int32, len(values))
    return (pd.Categorical(values, categories=list(index)).codes + 1).astype(np.int32)


def _clock_callback(start: float):
    """Times each epoch's training part (not its validation) and when the first one ended."""
    import tensorflow as tf

    class Clock(tf.keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epoch_seconds: list[float] = []
            self.first_epoch_end = float("nan")
            self._begin = self._train_end = None

        def on_epoch_begin(self, epoch, logs=None):
            self._begin, self._train_end = time.perf_counter(), None

        def on_test_begin(self, logs=None):
            if self._begin is not None and self._train_end is None:
                self._train_end = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            end = self._train_end or time.perf_counter()
            self.epoch_seconds.append(end - self._begin)
            if not self.epoch_seconds[1:]:
                self.first_epoch_end = end - start

    return Clock()


def _serving_times(to_tensors, call, raw) -> dict:
    """Batch-1 latency (p50, p99) and batch-1024 throughput from raw DataFrame rows (`to_tensors`
    then `call`); and, to show where batch-1 time goes, the p50 of `call` alone on ready tensors and
    of a do-nothing SavedModel signature with the same inputs (TensorFlow's cost of any call).
    Timed as a long-running server would run: the objects left by training and the test set are
    collected and frozen first (`gc.freeze`), so that a full collection sweeping the training process's
    heap does not land in the timed calls (one did: it halved a 50-call batch-1024 figure)."""
    import gc

    import numpy as np

    def serve(frame):
        return call(to_tensors(frame))

    singles = [raw.iloc[i:i + 1] for i in range(200)]
    ready = [to_tensors(frame) for frame in singles]
    batch = raw.iloc[:1024]
    floor = _do_nothing_signature(ready[0])
    for frame, inputs in zip(singles[:50], ready[:50], strict=True):
        serve(frame)
        floor(**inputs)
    serve(batch)
    gc.collect()
    gc.freeze()
    latencies, model, empty = [], [], []
    for i in range(SERVE_CALLS_1):
        frame, inputs = singles[i % len(singles)], ready[i % len(singles)]
        t = time.perf_counter()
        serve(frame)
        latencies.append(time.perf_counter() - t)
        t = time.perf_counter()
        call(inputs)
        model.append(time.perf_counter() - t)
        t = time.perf_counter()
        floor(**inputs)["n"].numpy()
        empty.append(time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(SERVE_CALLS_1024):
        serve(batch)
    seconds = time.perf_counter() - t
    gc.unfreeze()
    return {"serve_b1_p50_ms": float(np.percentile(latencies, 50) * 1e3),
            "serve_b1_p99_ms": float(np.percentile(latencies, 99) * 1e3),
            "serve_b1024_rows_per_s": SERVE_CALLS_1024 * len(batch) / seconds,
            "serve_b1_model_p50_ms": float(np.percentile(model, 50) * 1e3),
            "serve_b1_floor_p50_ms": float(np.percentile(empty, 50) * 1e3)}


def _do_nothing_signature(inputs: dict):
    """A saved and reloaded signature taking `inputs`' names, dtypes and shapes and returning one
    number: what calling any SavedModel with these inputs costs before the model does any work."""
    import tensorflow as tf

    spec = {k: tf.TensorSpec([None, *v.shape[1:]], v.dtype, name=k) for k, v in inputs.items()}

    class Empty(tf.Module):
        @tf.function(input_signature=[spec])
        def serve(self, x):
            return {"n": tf.add_n([tf.size(v) for v in x.values()])}

    module = Empty()
    folder = _scratch_folder() / "model"
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})
    return tf.saved_model.load(str(folder)).signatures["serving_default"]

if __name__ == "__main__":
    main()
