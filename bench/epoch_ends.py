"""What a fit spends outside its epochs, with tf.data autotuning of the input pipelines off (as
shipped) and on (TensorFlow's default).

Keras makes a new input iterator for every epoch. Deleting one that autotuning watched waits until
the autotuning thread wakes from its sleep, which grows through an epoch; the process idles
meanwhile. Three MovieLens 100K fits, each with bench/movielens.py's or bench/ranking.py's settings
and a fixed number of epochs (no early stopping): DeepFM (click model, validation each epoch), MF
(log loss) and the two-tower (leave-one-out training set). Each (model, setting, run) is its own
process, the settings alternating, so that a drift of the machine falls on both. Reported, medians of
`--runs`: the fit's wall time, the sum of its epochs (Keras' epoch callbacks, validation included)
and the rest (the time after the first epoch began that no epoch covers). Writes
bench/results/epoch_ends.json and the README's block.

    python bench/epoch_ends.py [--data ../shared/data/ml-100k] [--runs 3]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_OUT = str(ROOT / "bench" / "results" / "epoch_ends.json")
SETTINGS = ("as shipped", "autotuning on")
# model → (epochs, what it is); the settings are bench/movielens.py's and bench/ranking.py's.
FITS = {"DeepFM": (10, "click model, 80/10/10 split, validation each epoch"),
        "MF (log loss)": (20, "leave-one-out, 4 negatives"),
        "Two-tower": (10, "leave-one-out, batch 4096")}


def main() -> None:
    from bench._report import arguments, machine, run_child, run_options, save

    parser = arguments(__doc__, DEFAULT_OUT)
    args = run_options(parser, child, publish, "bench/epoch_ends.py")
    if args is None:
        return
    started = time.time()
    runs: dict[str, dict[str, list[dict]]] = {name: {s: [] for s in SETTINGS} for name in FITS}
    for name in FITS:
        for run in range(args.runs):
            order = SETTINGS if run % 2 == 0 else SETTINGS[::-1]
            for setting in order:
                result = run_child(__file__, {"model": name, "setting": setting, "data": args.data})
                runs[name][setting].append(result)
                print(f"  {name:<14} {setting:<14} run {run}: fit {result['wall_s']:.1f} s, epochs "
                      f"{result['epochs_s']:.1f} s, outside them {result['outside_s']:.1f} s", flush=True)
    results = {name: {setting: {**{f"{k}_median": statistics.median(r[k] for r in rs)
                                   for k in ("wall_s", "epochs_s", "outside_s")}, "runs": rs}
                      for setting, rs in by_setting.items()}
               for name, by_setting in runs.items()}
    report = {"benchmark": "epoch_ends", "runs": args.runs, "machine": machine(),
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "wall_minutes": round((time.time() - started) / 60, 1),
              "fits": {name: {"epochs": e, "protocol": p} for name, (e, p) in FITS.items()}, "results": results}
    save(report, args.out, DEFAULT_OUT, publish)


def child(job: dict) -> dict:
    """One fit, timed: wall, the epochs' own time, and what lies outside them."""
    import ctr
    from bench.movielens import models as click_models
    from bench.ranking import MODELS as RANKERS
    from ctr._keras import keras, tf
    from ctr.models import base, recommender

    if job["setting"] == "autotuning on":
        base.pipeline_options = recommender.pipeline_options = tf.data.Options  # TensorFlow's defaults
    table = ctr.datasets.movielens_100k(job["data"])
    name = job["model"]
    epochs = FITS[name][0]

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.epochs: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.begin = time.perf_counter()
            if epoch == 0:
                self.first = self.begin

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(time.perf_counter() - self.begin)

    clock = Clock()
    if name == "DeepFM":
        spec = ctr.FeatureSpec.from_yaml(ROOT / "feature_specs" / "movielens-100k.yaml")
        train, valid, _ = ctr.data.random_split(table, (0.8, 0.1, 0.1), seed=0)
        model = click_models(spec)["DeepFM"]  # seed 0
        start = time.perf_counter()
        model.fit(train, validation_data=valid, epochs=epochs, callbacks=[clock], verbose=0)
    else:
        items = table.drop_duplicates("item_id")[["item_id", "genres", "release_year"]]
        train, _ = ctr.leave_one_out(table)
        model = RANKERS[name][0](0)
        start = time.perf_counter()
        model.fit(train, items=items, epochs=epochs, callbacks=[clock], verbose=0)
    end = time.perf_counter()
    return {"wall_s": end - start, "epochs_s": sum(clock.epochs), "outside_s": end - clock.first - sum(clock.epochs),
            "epoch_s": clock.epochs}


def publish(report: dict, update: bool) -> None:
    from bench._report import show_table

    info = report["machine"]
    rows = ["| fit | epochs | autotuning | fit s | epochs s | outside the epochs s |",
            "|---|---:|---|---:|---:|---:|"]
    for name, by_setting in report["results"].items():
        for setting, r in by_setting.items():
            rows.append(f"| {name} | {report['fits'][name]['epochs']} | "
                        f"{'off (as shipped)' if setting == 'as shipped' else 'on'} | {r['wall_s_median']:.1f} | "
                        f"{r['epochs_s_median']:.1f} | {r['outside_s_median']:.1f} |")
    rows += ["", f"MovieLens 100K; median of {report['runs']} runs, each a fresh process, measured "
             f"{report['measured_at'][:10]} on {info['cpu']} ({info['cores']} cores), TensorFlow "
             f"{info['tensorflow']}, by `bench/epoch_ends.py`; raw figures in `bench/results/epoch_ends.json`. "
             "\"outside the epochs\": from the first epoch's start to the fit's return, less the epochs "
             "(validation included)."]
    show_table("epoch_ends", rows, update)


if __name__ == "__main__":
    main()
