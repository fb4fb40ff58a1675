"""Feature crosses on MovieLens 100K: test AUC of LR, FM, DeepFM, DCN and AutoInt without crosses, with crosses
of the user's demographics and the movie's genres, and with those and user × genres too; the crosses as a wide
part (the default) and embedded as fields (`crosses="embedded"`).

Protocol: bench/movielens.py's, through `ctr.compare` (rating >= 4 is a click; a random 80/10/10 split with
seed 0; every feature of `feature_specs/movielens-100k.yaml`; at most `--epochs` epochs with early stopping
on validation AUC, best weights restored; the models with bench/movielens.py's settings; median of
`--runs` seeds). The crosses are the spec's `crosses`, made in the graph from the features' inputs. DeepCTR
has no crosses to set beside them (its Wide & Deep's wide part reads the same sparse features), so each model
is compared with itself without them. Prints a table and writes bench/results/crosses.json.

    python bench/crosses.py [--data ../shared/data/ml-100k] [--runs 3] [--epochs 20]
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ctr  # noqa: E402
from bench._report import arguments, measured, report_only_or_check_data, save, show_table  # noqa: E402
from bench.movielens import compare_variants  # noqa: E402
from bench.movielens import models as movielens_models  # noqa: E402

DEFAULT_OUT = str(ROOT / "bench" / "results" / "crosses.json")
DEMOGRAPHIC = (ctr.Cross(["gender", "genres"]), ctr.Cross(["age", "genres"]), ctr.Cross(["occupation", "genres"]))
CROSS_SETS = {"none": (), "demographics × genres": DEMOGRAPHIC,
              "and user × genres": (*DEMOGRAPHIC, ctr.Cross(["user_id", "genres"], min_count=2))}
MODELS = ("LogisticRegression", "FM", "DeepFM", "DCN", "AutoInt")
EMBEDDED = MODELS[1:]  # LR has no embeddings: its crosses are wide either way


def main() -> None:
    parser = arguments(__doc__, DEFAULT_OUT)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    if report_only_or_check_data(args, publish, "bench/crosses.py"):
        return
    started = time.time()
    spec = ctr.FeatureSpec.from_yaml(ROOT / "feature_specs" / "movielens-100k.yaml")
    table = ctr.datasets.movielens_100k(args.data)
    compared_models = {}
    for crosses_name, crosses in CROSS_SETS.items():
        with_crosses = movielens_models(dataclasses.replace(spec, crosses=crosses))
        compared_models.update({f"{name} | {crosses_name}": with_crosses[name] for name in MODELS})
        if crosses:
            for name in EMBEDDED:
                model = with_crosses[name]
                config = {**model.get_config(), "crosses": "embedded"}
                compared_models[f"{name}, embedded | {crosses_name}"] = type(model)(model.spec, **config)
    crosses = {name: [dataclasses.asdict(c) for c in crosses] for name, crosses in CROSS_SETS.items()}
    report = {"benchmark": "crosses_movielens_100k",
              **compare_variants(spec, table, compared_models, args, crosses=crosses),
              "wall_minutes": round((time.time() - started) / 60, 1)}
    save(report, args.out, DEFAULT_OUT, publish)


def publish(report: dict, update: bool) -> None:
    """Print the table, and write it into the README's bench block when `update`."""
    results, runs = report["results"], report["protocol"]["runs"]
    sets = list(report["protocol"]["crosses"])
    rows = ["| model | " + " | ".join(f"crosses: {s}" for s in sets) + " |", "|---|" + "---:|" * len(sets)]
    for name, by_set in results.items():
        plain = results[name.split(",")[0]][sets[0]]["auc_median"]  # the model without crosses
        cells = [f"{by_set[s]['auc_median']:.4f}" + (f" ({by_set[s]['auc_median'] - plain:+.4f})" if i else "")
                 if s in by_set else "" for i, s in enumerate(sets)]
        label = name.replace(", embedded", ', `crosses="embedded"`') if "," in name else (
            f"{name} (wide)" if name in EMBEDDED else name)
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    rows.append(f"\nTest AUC, median of {runs} runs (seeds 0–{runs - 1}), in brackets the change from the same "
                f"model without crosses; " + measured(report, "crosses.py"))
    show_table("crosses", rows, update)


if __name__ == "__main__":
    main()
