"""Test AUC, group AUC by user and logloss of LR, FM, Wide & Deep, DeepFM, DCN, AutoInt, xDeepFM, FiBiNET, NFM
and AFM on MovieLens 100K as click-through prediction.

Protocol: rating >= 4 is a click; a random 80/10/10 split of the ratings with seed 0; every feature of
`feature_specs/movielens-100k.yaml`; at most `--epochs` epochs with early stopping on validation
AUC (best weights restored). Each model is trained `--runs` times with seeds 0..runs-1 and the
median is reported. The runs are `ctr.compare`'s, as `ctr compare` makes them. Prints a table, writes
JSON to bench/results/movielens_100k.json and draws docs/images/ml100k_compare.png.

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

DEFAULT_OUT = str(ROOT / "bench" / "results" / "movielens_100k.json")


def models(spec: ctr.FeatureSpec) -> dict:
    """The models compared, each untrained with its settings (`ctr.compare` trains each with every seed)."""
    return {
        "LogisticRegression": ctr.LogisticRegression(spec, learning_rate=3e-3, batch_size=256),
        "FM": ctr.FM(spec, embedding_dim=16, learning_rate=1e-3, l2=1e-5, batch_size=256),
        "WideDeep": ctr.WideDeep(spec, embedding_dim=16, hidden_units=(256, 128), dropout=0.3, learning_rate=1e-3,
                                 l2=1e-5, batch_size=256),
        "DeepFM": ctr.DeepFM(spec, embedding_dim=16, hidden_units=(256, 128), dropout=0.3, learning_rate=1e-3,
                             l2=1e-5, batch_size=256),
        "DCN": ctr.DCN(spec, embedding_dim=16, hidden_units=(256, 128), dropout=0.3, learning_rate=1e-3, l2=1e-5,
                       batch_size=256),
        "AutoInt": ctr.AutoInt(spec, embedding_dim=16, hidden_units=(256, 128), dropout=0.3, learning_rate=1e-3,
                               l2=1e-5, batch_size=256),
        "xDeepFM": ctr.xDeepFM(spec, embedding_dim=16, hidden_units=(256, 128), dropout=0.3, learning_rate=1e-3,
                               l2=1e-5, batch_size=256),
        "FiBiNET": ctr.FiBiNET(spec, embedding_dim=16, hidden_units=(256, 128), dropout=0.3, learning_rate=1e-3,
                               l2=1e-5, batch_size=256),
        "NFM": ctr.NFM(spec, embedding_dim=16, hidden_units=(256, 128), dropout=0.3, learning_rate=1e-3, l2=1e-5,
                       batch_size=256),
        "AFM": ctr.AFM(spec, embedding_dim=16, learning_rate=1e-3, l2=1e-5, batch_size=256),
    }


def compare_variants(spec: ctr.FeatureSpec, table, compared_models: dict, args, **protocol) -> dict:
    """`ctr.compare` of models labelled 'MODEL | VARIANT' with this file's protocol: the report's protocol (with
    `protocol`'s entries) and results, by model and variant (medians, parameters and each run)."""
    compared = ctr.compare(spec, table, compared_models, seeds=args.runs, epochs=args.epochs, patience=2, verbose=2)
    print(compared)
    results: dict[str, dict] = {}
    for label in compared_models:
        name, variant = label.split(" | ")
        runs = compared.runs[compared.runs["model"] == label]
        results.setdefault(name, {})[variant] = {
            "auc_median": statistics.median(runs["test_auc"]),
            "logloss_median": statistics.median(runs["test_logloss"]),
            "train_seconds_median": statistics.median(runs["fit_s"]),
            "parameters": int(runs["parameters"].iloc[0]),
            "runs": [{"seed": int(r.seed), "auc": r.test_auc, "logloss": r.test_logloss, "epochs": int(r.epochs),
                      "best_epoch": int(r.best_epoch), "val_auc": r.val_auc, "train_seconds": r.fit_s}
                     for r in runs.itertuples()]}
    return {"protocol": {"label": "rating >= 4", "split": "random 80/10/10, seed 0", "runs": args.runs,
                         "max_epochs": args.epochs, "early_stopping": "val_auc, patience 2, best weights",
                         "spec": "feature_specs/movielens-100k.yaml", "by": "ctr.compare", **protocol},
            "machine": machine(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "results": results}


def main() -> None:
    parser = arguments(__doc__, DEFAULT_OUT)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    if report_only_or_check_data(args, publish, "bench/movielens.py"):
        return

    spec = ctr.FeatureSpec.from_yaml(ROOT / "feature_specs" / "movielens-100k.yaml")
    table = ctr.datasets.movielens_100k(args.data)
    _, _, test = ctr.data.random_split(table, (0.8, 0.1, 0.1), seed=0)  # the split ctr.compare draws (seed 0)
    compared = ctr.compare(spec, table, models(spec), seeds=args.runs, epochs=args.epochs, patience=2,
                           group_by="user_id", verbose=2)  # a line an epoch, in a log too
    print(compared)
    picture = compared.plot(ROOT / "docs" / "images" / "ml100k_compare.png", title="ctr compare on MovieLens 100K")
    print(f"drew {picture.relative_to(ROOT)}")
    groups = compared.best.evaluate(test, group_by="user_id")  # the test users the gAUC is over, as any model's
    results = {}
    for name in models(spec):
        runs = compared.runs[compared.runs["model"] == name]
        results[name] = {
            "auc_median": statistics.median(runs["test_auc"]), "gauc_median": statistics.median(runs["test_gauc"]),
            "gauc_users": groups["gauc_groups"], "gauc_rows": groups["gauc_rows"],
            "logloss_median": statistics.median(runs["test_logloss"]),
            "train_seconds_median": statistics.median(runs["fit_s"]),
            "runs": [{"seed": int(r.seed), "auc": r.test_auc, "gauc": r.test_gauc, "logloss": r.test_logloss,
                      "epochs": int(r.epochs), "best_epoch": int(r.best_epoch), "val_auc": r.val_auc,
                      "train_seconds": r.fit_s} for r in runs.itertuples()],
        }

    report = {
        "benchmark": "movielens_100k_ctr",
        "protocol": {"label": "rating >= 4", "split": "random 80/10/10, seed 0", "runs": args.runs,
                     "max_epochs": args.epochs, "early_stopping": "val_auc, patience 2, best weights",
                     "spec": "feature_specs/movielens-100k.yaml", "by": "ctr.compare"},
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
