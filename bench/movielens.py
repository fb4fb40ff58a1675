"""Test AUC, group AUC by user and logloss of LR, FM, DeepFM and DCN on MovieLens 100K as click-through
prediction.

Protocol: rating >= 4 is a click; a random 80/10/10 split of the ratings with seed 0; every feature of
`feature_specs/movielens-100k.yaml`; at most `--epochs` epochs with early stopping on validation
AUC (best weights restored). Each model is trained `--runs` times with seeds 0..runs-1 and the
median is reported. Prints a table and writes JSON to bench/results/movielens_100k.json.

    python bench/movielens.py [--data ../shared/data/ml-100k] [--runs 3] [--epochs 20]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ctr  # noqa: E402
from bench._report import arguments, machine, report_only_or_check_data, save, update_readme  # noqa: E402
from ctr._keras import keras  # noqa: E402

DEFAULT_OUT = str(ROOT / "bench" / "results" / "movielens_100k.json")
MODELS = {
    "LogisticRegression": lambda spec, seed: ctr.LogisticRegression(spec, learning_rate=3e-3, batch_size=256,
                                                                     seed=seed),
    "FM": lambda spec, seed: ctr.FM(spec, embedding_dim=16, learning_rate=1e-3, l2=1e-5, batch_size=256, seed=seed),
    "DeepFM": lambda spec, seed: ctr.DeepFM(spec, embedding_dim=16, hidden_units=(256, 128), dropout=0.3,
                                            learning_rate=1e-3, l2=1e-5, batch_size=256, seed=seed),
    "DCN": lambda spec, seed: ctr.DCN(spec, embedding_dim=16, hidden_units=(256, 128), dropout=0.3,
                                      learning_rate=1e-3, l2=1e-5, batch_size=256, seed=seed),
}


def main() -> None:
    parser = arguments(__doc__, DEFAULT_OUT)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    if report_only_or_check_data(args, publish, "bench/movielens.py"):
        return

    spec = ctr.FeatureSpec.from_yaml(ROOT / "feature_specs" / "movielens-100k.yaml")
    table = ctr.datasets.movielens_100k(args.data)
    train, valid, test = ctr.data.random_split(table, (0.8, 0.1, 0.1), seed=0)
    print(f"MovieLens 100K: {len(train)}/{len(valid)}/{len(test)} train/valid/test, "
          f"click rate {ctr.data.labels(test, spec).mean():.3f} on test")

    results = {}
    for name, build in MODELS.items():
        runs = []
        for seed in range(args.runs):
            model = build(spec, seed)
            stop = keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=2,
                                                 restore_best_weights=True)
            started = time.perf_counter()
            history = model.fit(train, validation_data=valid, epochs=args.epochs, callbacks=[stop], verbose=0)
            seconds = time.perf_counter() - started
            scores = model.evaluate(test, group_by="user_id")
            runs.append({"seed": seed, "auc": scores["auc"], "gauc": scores["gauc"], "logloss": scores["logloss"],
                         "epochs": len(history.history["loss"]), "train_seconds": seconds})
            print(f"  {name:<20} seed {seed}: AUC {scores['auc']:.4f}  gAUC {scores['gauc']:.4f}  "
                  f"logloss {scores['logloss']:.4f}  "
                  f"({runs[-1]['epochs']} epochs, {seconds:.0f} s)", flush=True)
        results[name] = {
            "auc_median": statistics.median(r["auc"] for r in runs),
            "gauc_median": statistics.median(r["gauc"] for r in runs),
            "gauc_users": scores["gauc_groups"], "gauc_rows": scores["gauc_rows"],
            "logloss_median": statistics.median(r["logloss"] for r in runs),
            "train_seconds_median": statistics.median(r["train_seconds"] for r in runs),
            "runs": runs,
        }

    report = {
        "benchmark": "movielens_100k_ctr",
        "protocol": {"label": "rating >= 4", "split": "random 80/10/10, seed 0", "runs": args.runs,
                     "max_epochs": args.epochs, "early_stopping": "val_auc, patience 2, best weights",
                     "spec": "feature_specs/movielens-100k.yaml"},
        "machine": machine(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "results": results,
    }
    save(report, args.out, DEFAULT_OUT, publish)


def publish(report: dict, update: bool) -> None:
    """Print the table, and write it into the README's bench block when `update`."""
    results, info, runs = report["results"], report["machine"], report["protocol"]["runs"]
    lr_auc = results["LogisticRegression"]["auc_median"]
    first = results["LogisticRegression"]
    print(f"\nMovieLens 100K, rating >= 4 as click, random 80/10/10 (seed 0), median of {runs} runs")
    print(f"{'model':<20}{'test AUC':>10}{'gAUC':>10}{'logloss':>10}{'AUC - LR':>10}{'train s':>10}")
    for name, r in results.items():
        print(f"{name:<20}{r['auc_median']:>10.4f}{r['gauc_median']:>10.4f}{r['logloss_median']:>10.4f}"
              f"{r['auc_median'] - lr_auc:>+10.4f}{r['train_seconds_median']:>10.1f}")
    print(f"machine: {info['cpu']}, {info['cores']} cores; TensorFlow {info['tensorflow']}")
    rows = ["| model | test AUC | gAUC by user | logloss | AUC − LR | train s |", "|---|---:|---:|---:|---:|---:|"]
    rows += [f"| {name} | {r['auc_median']:.4f} | {r['gauc_median']:.4f} | {r['logloss_median']:.4f} | "
             f"{r['auc_median'] - lr_auc:+.4f} | "
             f"{r['train_seconds_median']:.0f} |" for name, r in results.items()]
    rows.append(f"\nMedian of {runs} runs (seeds 0–{runs - 1}), measured {report['measured_at'][:10]} on "
                f"{info['cpu']} ({info['cores']} cores), TensorFlow {info['tensorflow']}, by `bench/movielens.py`; "
                "raw figures in `bench/results/movielens_100k.json`. gAUC: each test user's AUC over their own "
                f"rows, weighted by their rows ({first['gauc_users']} users with both clicks and non-clicks in the "
                f"test split, {first['gauc_rows']:,} of its rows).")
    if update:
        update_readme("movielens_100k", "\n".join(rows))


if __name__ == "__main__":
    main()
