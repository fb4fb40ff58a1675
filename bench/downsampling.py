"""Negative downsampling with row weights, ctr beside DeepCTR: what training on fewer non-clicks saves
and what it costs in AUC and calibration.

Frappe (bench/vs_deepctr.py's split, features and DeepFM settings: embedding size 16, MLP 256-128,
Adam at 1e-3, batch 256, early stopping on validation AUC with patience 5). The training split keeps
every click and a `keep` share of the non-clicks (`ctr.data.downsample_negatives`, seeded by the run),
each kept non-click weighing 1/keep: ctr reads the weights from the spec's `label.weight`, DeepCTR
gets them as Keras' `sample_weight`. Validation and test rows are the full, unsampled ones. The
patience and the epoch cap are scaled by (all training rows / sampled rows), so that every run may
train and wait for the same number of steps. Beside
them, ctr trained on the same sampled rows without weights, whose predictions overshoot the click
rate; and ctr weighted as before but stopped on the validation logloss instead of the AUC (the
README's advice when the probabilities matter). Calibration is the mean prediction over the test
click rate (1 is calibrated). Every run is its own process; figures are medians over `--runs` seeds.

    python bench/downsampling.py [--frappe ../shared/data/frappe] [--runs 3] [--keep 1,0.5,0.25,0.1]
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.vs_deepctr import (  # noqa: E402  (the peer's runner and encoding, as that benchmark has them)
    SETTINGS,
    _clock_callback,
    _DeepCTRRunner,
    _OursRunner,
    _version,
    dataset,
)

DEFAULT_OUT = str(ROOT / "bench" / "results" / "downsampling.json")
RUNNERS = ("ctr", "deepctr", "ctr-unweighted", "ctr-logloss")
FIGURES = ("auc", "logloss", "calibration", "normalized_entropy", "train_rows", "epochs", "train_s",
           "train_examples_per_s")


def main() -> None:
    import argparse
    import json

    from bench._report import machine, run_child, save

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frappe", default=str(ROOT.parent / "shared" / "data" / "frappe"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", default="1,0.5,0.25,0.1", help="shares of the non-clicks kept")
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--report", action="store_true", help="only re-print the saved results into the README")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(json.loads(args.child))), flush=True)
        return
    if args.report:
        publish(json.loads(Path(args.out).read_text()), True)
        return
    if not Path(args.frappe).exists():
        sys.exit(f"bench/downsampling.py: Frappe not found at {args.frappe} (pass --frappe)")
    started = time.time()
    keeps = [float(k) for k in args.keep.split(",")]
    runs: dict[str, list[dict]] = {f"{keep:g}/{runner}": [] for keep in keeps for runner in RUNNERS
                                   if keep < 1 or runner not in ("ctr-unweighted", "ctr-logloss")}
    for seed in range(args.runs):
        for key in runs:
            keep, runner = key.split("/")
            job = {"dataset": "frappe", "data": args.frappe, "runner": runner, "keep": float(keep), "seed": seed,
                   **SETTINGS["frappe"]}
            r = run_child(__file__, job)
            runs[key].append(r)
            print(f"  keep {keep:<5} {runner:<15} seed {seed}: AUC {r['auc']:.4f}  calibration "
                  f"{r['calibration']:.3f}  {r['train_rows']:>6} rows  {r['epochs']:>2} epochs  "
                  f"{r['train_s']:.1f} s", flush=True)
    results = {key: {"runs": value, **{f"{f}_median": statistics.median(r[f] for r in value) for f in FIGURES}}
               for key, value in runs.items()}
    report = {"benchmark": "downsampling", "runs": args.runs, "keeps": keeps, "settings": SETTINGS["frappe"],
              "machine": {**machine(), "deepctr": _version("deepctr")},
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "wall_minutes": round((time.time() - started) / 60, 1), "results": results}
    save(report, args.out, DEFAULT_OUT, publish)


def child(job: dict) -> dict:
    """One run: sample the training split, train with a clock, score the full test split."""
    import ctr
    from ctr._keras import keras
    from ctr.metrics import click_metrics

    spec, (train, valid, test) = dataset({**job, "dataset": "frappe"})
    raw = spec.to_dict()
    weighted = ctr.FeatureSpec.from_dict({**raw, "label": {**raw["label"], "weight": "weight"}})
    sampled = ctr.data.downsample_negatives(train, weighted, keep=job["keep"], seed=job["seed"])
    # The patience and the epoch cap count in passes over the whole split's worth of rows: Frappe's
    # validation AUC stalls for a few thousand steps before it climbs again, which on a third of the
    # rows is three times the epochs (patience 5 stopped half the runs inside that stall).
    scale = len(train) / len(sampled)
    run = {**job, "model": "DeepFM", "patience": math.ceil(job["patience"] * scale),
           "max_epochs": math.ceil(job["max_epochs"] * scale)}
    clock = _clock_callback(time.perf_counter())
    on_logloss = job["runner"] == "ctr-logloss"
    callbacks = [clock, keras.callbacks.EarlyStopping(monitor="val_logloss" if on_logloss else "val_auc",
                                                      mode="min" if on_logloss else "max", patience=run["patience"],
                                                      restore_best_weights=True)]
    if job["runner"] in ("ctr", "ctr-logloss"):
        runner = _OursRunner(weighted, run)
        valid = valid.assign(weight=1.0)
        runner.train(sampled, valid, callbacks)
    elif job["runner"] == "ctr-unweighted":
        runner = _OursRunner(spec, run)
        runner.train(sampled.drop(columns="weight"), valid, callbacks)
    else:
        runner = _WeightedDeepCTR(spec, run)
        runner.train(sampled, valid, callbacks)
    p = runner.predict(test)
    scored = click_metrics(ctr.data.labels(test, spec), p)
    steady = clock.epoch_seconds[1:] or clock.epoch_seconds
    out = {"auc": scored["auc"], "logloss": scored["logloss"], "calibration": scored["calibration"],
           "normalized_entropy": scored["normalized_entropy"], "train_rows": len(sampled),
           "epochs": len(clock.epoch_seconds), "train_s": sum(clock.epoch_seconds),
           "train_examples_per_s": len(sampled) / statistics.median(steady)}
    if job.get("calibrate") and job["runner"] != "deepctr":  # bench/calibration.py: Platt scaling on the valid rows
        started = time.perf_counter()
        runner.model.calibrate(valid)
        seconds = time.perf_counter() - started
        calibrated = click_metrics(ctr.data.labels(test, spec), runner.predict(test))
        out["calibrated"] = {**{k: calibrated[k] for k in ("auc", "logloss", "calibration", "normalized_entropy")},
                             "calibrate_s": seconds}
    return out


class _WeightedDeepCTR(_DeepCTRRunner):
    """bench/vs_deepctr.py's DeepCTR DeepFM, fitted with the sampled rows' weights as Keras'
    `sample_weight` (its documented way to weigh rows)."""

    def sample_weight(self, train):
        return train["weight"].to_numpy()


def publish(report: dict, update: bool) -> None:
    from bench._report import show_table

    res, info = report["results"], report["machine"]
    full = {runner: res.get(f"1/{runner}") for runner in ("ctr", "deepctr")}
    rows = ["| non-clicks kept | library | training rows | AUC | logloss | calibration | epochs | training s | "
            "training s vs all rows |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    names = {"ctr": "ctr, weighted", "deepctr": "DeepCTR, weighted", "ctr-unweighted": "ctr, no weights",
             "ctr-logloss": "ctr, weighted, stopped on logloss"}
    for key, r in res.items():
        keep, runner = key.split("/")
        base = full.get("ctr" if runner.startswith("ctr") else runner)
        ratio = f"{r['train_s_median'] / base['train_s_median']:.2f}×" if base else "–"
        rows.append(f"| {float(keep):g} | {names[runner]} | {r['train_rows_median']:,.0f} | {r['auc_median']:.4f} | "
                    f"{r['logloss_median']:.4f} | {r['calibration_median']:.3f} | {r['epochs_median']:.0f} | "
                    f"{r['train_s_median']:.1f} | {ratio} |")
    rows += ["", f"Frappe DeepFM (bench/vs_deepctr.py's settings), the training split sampled, validation and test "
             f"rows whole; medians of {report['runs']} seeds, measured {report['measured_at'][:10]} on "
             f"{info['cpu']} ({info['cores']} cores), TensorFlow {info['tensorflow']}, DeepCTR {info['deepctr']}, "
             f"by `bench/downsampling.py` ({report['wall_minutes']} min); raw figures in "
             "`bench/results/downsampling.json`. Training seconds: every epoch's training part, to early stopping; "
             "the patience (5) and the epoch cap (20) are scaled by all training rows / sampled rows. Early "
             "stopping watches the validation AUC, except in the rows stopped on logloss."]
    show_table("downsampling", rows, update)


if __name__ == "__main__":
    main()
