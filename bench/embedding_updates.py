"""Embedding updates: lazy Adam, catching-up ("momentum") Adam and Keras' own Adam, side by side.

`embedding_updates="lazy"` moves only the embedding rows a batch used; `embedding_updates="momentum"`
(the default) also applies, when a row is next used, the steps Keras' Adam would have taken on it
meanwhile. Keras' Adam itself (every row's moments decayed and every weight rewritten at
every step) is the reference that "momentum" should match in accuracy, at the lazy form's cost. It is
our model with the optimizer's update swapped for Keras' (`keras_update`); everything else, the weight
average included, is the same.

Datasets, models and settings are bench/vs_deepctr.py's (MovieLens 100K as CTR and Frappe, random
80/10/10, seed 0; DeepFM and FM, embedding size 16, MLP 256-128, Adam at 1e-3, batch 256, early
stopping on validation AUC). Each (dataset, model, update, seed) runs in its own process; figures
are medians over `--runs` seeds: test AUC, epochs, steady-state training examples/s. Writes
bench/results/embedding_updates.json and the README's block.

    python bench/embedding_updates.py [--data ../shared/data/ml-100k] [--frappe ../shared/data/frappe] [--runs 3]
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

DEFAULT_OUT = str(ROOT / "bench" / "results" / "embedding_updates.json")
UPDATES = ("lazy", "momentum", "keras")
MODELS = ("DeepFM", "FM")


def main() -> None:
    from bench._report import (
        arguments,
        frappe_option,
        machine,
        run_child,
        run_options,
        save,
    )
    from bench.vs_deepctr import SETTINGS

    parser = arguments(__doc__, DEFAULT_OUT)
    frappe_option(parser)
    args = run_options(parser, child, publish, "bench/embedding_updates.py")
    if args is None:
        return
    datasets = ["movielens", "frappe"]
    if not Path(args.frappe).exists():
        print(f"Frappe not found at {args.frappe}: its rows are skipped (pass --frappe)", flush=True)
        datasets.remove("frappe")
    started = time.time()
    results: dict[str, dict] = {}
    for dataset in datasets:
        for model in MODELS:
            runs: dict[str, list[dict]] = {update: [] for update in UPDATES}
            for seed in range(args.runs):  # seed by seed, every update in turn: a slow spell falls on all
                for update in UPDATES:
                    job = {"dataset": dataset, "model": model, "update": update, "seed": seed,
                           "data": args.frappe if dataset == "frappe" else args.data, **SETTINGS[dataset]}
                    r = run_child(__file__, job)
                    runs[update].append(r)
                    print(f"  {dataset:<10}{model:<7}{update:<9} seed {seed}: AUC {r['auc']:.4f}  "
                          f"logloss {r['logloss']:.4f}  "
                          f"{r['epochs']:>2} epochs  {r['train_examples_per_s']:>8.0f} ex/s", flush=True)
            results[f"{dataset}/{model}"] = {
                update: {"runs": r, **{f"{k}_median": statistics.median(x[k] for x in r)
                                       for k in ("auc", "logloss", "epochs", "train_examples_per_s")}}
                for update, r in runs.items()}
    report = {"benchmark": "embedding_updates", "runs": args.runs, "settings": {d: SETTINGS[d] for d in datasets},
              "machine": machine(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "wall_minutes": round((time.time() - started) / 60, 1), "results": results}
    save(report, args.out, DEFAULT_OUT, publish)


def child(job: dict) -> dict:
    import ctr
    from bench.vs_deepctr import EMBEDDING_DIM, HIDDEN, LEARNING_RATE, _clock_callback, dataset
    from ctr._keras import keras
    from ctr.metrics import auc, logloss

    spec, (train, valid, test) = dataset(job)
    cls = ctr.DeepFM if job["model"] == "DeepFM" else ctr.FM
    extra = {"hidden_units": HIDDEN} if job["model"] == "DeepFM" else {}
    updates = "momentum" if job["update"] == "momentum" else "lazy"
    model = cls(spec, embedding_dim=EMBEDDING_DIM, learning_rate=LEARNING_RATE, batch_size=job["batch_size"],
                seed=job["seed"], embedding_updates=updates, **extra)
    if job["update"] == "keras":
        optimizer = keras_update()
        model._optimizer = lambda: optimizer(model.learning_rate, average=model.weight_averaging)
    clock = _clock_callback(time.perf_counter())
    stop = keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=job["patience"],
                                         restore_best_weights=True)
    model.fit(train, validation_data=valid, epochs=job["max_epochs"], callbacks=[clock, stop], verbose=0)
    steady = clock.epoch_seconds[1:] or clock.epoch_seconds
    labels, p = ctr.data.labels(test, spec), model.predict(test)
    return {"auc": auc(labels, p), "logloss": logloss(labels, p), "epochs": len(clock.epoch_seconds),
            "train_examples_per_s": len(train) / statistics.median(steady)}


def keras_update() -> type:
    """The models' own optimizer with Keras' Adam update (fused dense kernel aside, the same weight
    average and row sums), for a model's private optimizer factory (`model._optimizer`)."""
    from ctr._keras import keras
    from ctr.models._adam import LazyAdam

    class KerasUpdate(LazyAdam):
        def update_step(self, gradient, variable):
            return keras.optimizers.Adam.update_step(self, gradient, variable)

    return KerasUpdate


def publish(report: dict, update: bool) -> None:
    from bench._report import show_table

    labels = {"movielens": "MovieLens 100K", "frappe": "Frappe"}
    rows = ["| dataset | model | AUC lazy | AUC momentum (default) | AUC Keras' Adam | logloss lazy | momentum | "
            "Keras' Adam | epochs (l / m / K) | train ex/s lazy | momentum | Keras' Adam |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for key, r in report["results"].items():
        dataset, model = key.split("/")
        cells = [labels[dataset], model, *(f"{r[u]['auc_median']:.4f}" for u in UPDATES),
                 *(f"{r[u]['logloss_median']:.4f}" for u in UPDATES),
                 " / ".join(f"{r[u]['epochs_median']:g}" for u in UPDATES),
                 *(f"{r[u]['train_examples_per_s_median']:,.0f}" for u in UPDATES)]
        rows.append("| " + " | ".join(cells) + " |")
    info = report["machine"]
    rows += ["", f"Medians of {report['runs']} seeds, measured {report['measured_at'][:10]} on {info['cpu']} "
             f"({info['cores']} cores), TensorFlow {info['tensorflow']}, by `bench/embedding_updates.py` "
             "(bench/vs_deepctr.py's data, models and settings); raw figures in "
             "`bench/results/embedding_updates.json`."]
    show_table("embedding_updates", rows, update)


if __name__ == "__main__":
    main()
