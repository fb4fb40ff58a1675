"""Features read in the wide part alone (`wide_only`) on MovieLens 100K: test AUC and parameters of FM, WideDeep,
DeepFM and DCN with every feature embedded, and with the movie's title words, the user's zip-code prefix, or both
read only as a weight for each value (no vector in the FM's pairs, the MLP's input or the cross layers).

Protocol: bench/movielens.py's, through `ctr.compare` (rating >= 4 is a click; a random 80/10/10 split with
seed 0; every feature of `feature_specs/movielens-100k.yaml`; at most `--epochs` epochs with early stopping
on validation AUC, best weights restored; the models with bench/movielens.py's settings; median of
`--runs` seeds). DeepCTR splits its features into `linear_feature_columns` and `dnn_feature_columns` the same
way, so each model is compared with itself. Prints a table and writes bench/results/wide_only.json.

    python bench/wide_only.py [--data ../shared/data/ml-100k] [--runs 3] [--epochs 20]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ctr  # noqa: E402
from bench._report import arguments, measured, report_only_or_check_data, save, show_table  # noqa: E402
from bench.movielens import compare_variants  # noqa: E402
from bench.movielens import models as movielens_models  # noqa: E402

DEFAULT_OUT = str(ROOT / "bench" / "results" / "wide_only.json")
# Many rare values each: a word of a title, a zip-code prefix (of 943 users, about a thousand prefixes' rows).
WIDE_ONLY = {"none": [], "title": ["title"], "zip_prefix": ["zip_prefix"], "title, zip_prefix": ["title", "zip_prefix"]}
MODELS = ("FM", "WideDeep", "DeepFM", "DCN")


def main() -> None:
    parser = arguments(__doc__, DEFAULT_OUT)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    if report_only_or_check_data(args, publish, "bench/wide_only.py"):
        return
    started = time.time()
    spec = ctr.FeatureSpec.from_yaml(ROOT / "feature_specs" / "movielens-100k.yaml")
    table = ctr.datasets.movielens_100k(args.data)
    made = movielens_models(spec)
    compared_models = {f"{name} | {set_name}": type(made[name])(spec, **{**made[name].get_config(),
                                                                          "wide_only": wide_only})
                       for set_name, wide_only in WIDE_ONLY.items() for name in MODELS}
    report = {"benchmark": "wide_only_movielens_100k",
              **compare_variants(spec, table, compared_models, args, wide_only=WIDE_ONLY),
              "wall_minutes": round((time.time() - started) / 60, 1)}
    save(report, args.out, DEFAULT_OUT, publish)


def publish(report: dict, update: bool) -> None:
    """Print the table, and write it into the README's bench block when `update`."""
    results, runs = report["results"], report["protocol"]["runs"]
    sets = list(report["protocol"]["wide_only"])
    rows = ["| model | " + " | ".join("every feature embedded" if s == "none" else f"wide only: {s}" for s in sets)
            + " |", "|---|" + "---:|" * len(sets)]
    for name, by_set in results.items():
        embedded = by_set[sets[0]]
        cells = [f"{by_set[s]['auc_median']:.4f}" + (f" ({by_set[s]['auc_median'] - embedded['auc_median']:+.4f})"
                                                      if i else "") + f", {by_set[s]['parameters'] / 1000:.0f}k"
                 for i, s in enumerate(sets)]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    rows.append(f"\nTest AUC, median of {runs} runs (seeds 0–{runs - 1}), in brackets the change from the same "
                "model with every feature embedded, then its trainable parameters; "
                + measured(report, "wide_only.py"))
    show_table("wide_only", rows, update)


if __name__ == "__main__":
    main()
