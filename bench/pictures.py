"""Render the README's pictures from MovieLens 100K: data report, training curves, item embedding map,
reliability curve, permutation importance and explanations (the last three on the test split, with
their figures).

    python bench/pictures.py [--data ../shared/data/ml-100k] [--images docs/images] [--report]

Writes the PNGs, bench/results/pictures.json (the test metrics, the reliability curve and the
importance table) and the README's block of figures beside the pictures.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_OUT = str(ROOT / "bench" / "results" / "pictures.json")


def main() -> None:
    import ctr
    from bench._report import arguments, machine, report_only_or_check_data, save
    from ctr.embedding_map import embedding_map
    from ctr.inspect import plot_data_report, plot_explanation, plot_history, plot_importance, plot_reliability
    from ctr.metrics import reliability

    parser = arguments(__doc__, DEFAULT_OUT)
    parser.add_argument("--images", default=str(ROOT / "docs" / "images"))
    parser.set_defaults(runs=5)  # the importance's shuffles per column
    args = parser.parse_args()
    if report_only_or_check_data(args, publish, "bench/pictures.py"):
        return
    started = time.time()
    images = Path(args.images)
    spec = ctr.FeatureSpec.from_yaml(ROOT / "feature_specs" / "movielens-100k.yaml")
    table = ctr.datasets.movielens_100k(args.data)
    print(ctr.inspect.inspect_data(table, spec).to_text())
    print(plot_data_report(table, spec, images / "ml100k_data_report.png"))
    train, valid, test = ctr.data.random_split(table, (0.8, 0.1, 0.1), seed=0)
    model = ctr.DeepFM(spec, embedding_dim=16, hidden_units=(256, 128), dropout=0.3, l2=1e-5, batch_size=256)
    model.fit(train, validation_data=valid, epochs=8, verbose=2)
    print(plot_history(model.history_, images / "ml100k_deepfm_training.png", title="DeepFM on MovieLens 100K"))
    export = model.export(ROOT / "runs" / "ml100k-deepfm-pictures")
    written = embedding_map(export, "item_id", images / "ml100k_item_embeddings.png", data=table, color_by="genres")
    print(written)
    for extra in ("vectors", "metadata"):  # the projector files stay out of the repository
        Path(written[extra]).unlink()
    metrics = model.evaluate(test)
    curve = reliability(ctr.data.labels(test, spec), model.predict(test))
    print(plot_reliability(curve, images / "ml100k_deepfm_reliability.png",
                           title="DeepFM on MovieLens 100K, test split"))
    importance = ctr.feature_importance(model, test, repeats=args.runs, seed=0, verbose=True)
    print(plot_importance(importance, images / "ml100k_deepfm_importance.png", title="DeepFM, MovieLens 100K test"))
    explained = test.head(200).reset_index(drop=True)
    shares = ctr.explain(model, explained, background=train, seed=0)
    print(plot_explanation(shares, explained, images / "ml100k_deepfm_explain.png",
                           title="DeepFM, MovieLens 100K test, against training rows"))
    report = {"benchmark": "pictures", "machine": machine(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "wall_minutes": round((time.time() - started) / 60, 1), "test": metrics,
              "reliability": {k: v.tolist() for k, v in curve.items()}, "repeats": args.runs,
              "importance": importance.to_dict(orient="records"),
              "explain": {"rows": len(shares), "permutations": shares.attrs["permutations"],
                          "mean_absolute_share": shares.drop(columns=["base_logit", "logit"]).abs().mean().to_dict()}}
    save(report, args.out, DEFAULT_OUT, publish)


def publish(report: dict, update: bool) -> None:
    from bench._report import show_table

    test, info = report["test"], report["machine"]
    rows = ["| column | AUC drop when shuffled | spread (sd) | logloss rise |", "|---|---:|---:|---:|"]
    rows += [f"| {r['feature']} | {r['auc_drop']:.4f} | {r['auc_drop_std']:.4f} | {r['logloss_rise']:.4f} |"
             for r in report["importance"]]
    rows += ["", f"DeepFM on the MovieLens 100K test split ({test['rows']:,} rows): AUC {test['auc']:.4f}, "
             f"logloss {test['logloss']:.4f}, normalized entropy {test['normalized_entropy']:.3f}, calibration "
             f"{test['calibration']:.3f} (mean prediction {test['mean_prediction']:.4f} against a click rate of "
             f"{test['positive_rate']:.4f}). Importance: mean of {report['repeats']} shuffles per column. Measured "
             f"{report['measured_at'][:10]} on {info['cpu']} ({info['cores']} cores), TensorFlow "
             f"{info['tensorflow']}, by `bench/pictures.py`; raw figures in `bench/results/pictures.json`."]
    show_table("pictures", rows, update)


if __name__ == "__main__":
    main()
