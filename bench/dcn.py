"""Our DCN (DCN-V2) beside DeepCTR's DCN with matrix cross layers (its DCN-M, the same network), and
our DeepFM on the same runs for reference.

Data, splits, features and settings are bench/vs_deepctr.py's (MovieLens 100K as CTR and Frappe;
embedding size 16, MLP 256-128, Adam at 1e-3, batch 256, early stopping on validation AUC), with two
full-rank cross layers beside the MLP, whose outputs one logit reads with the first-order weights, in
both libraries (DeepCTR's default depth and shape, and ours). The figures are vs_deepctr's: test AUC
and logloss, training throughput, time to the first epoch, peak memory, serving from raw rows. Each
run is its own process; figures are medians over `--runs` seeds.

    python bench/dcn.py [--data ../shared/data/ml-100k] [--frappe ../shared/data/frappe] [--runs 5]
                        [--datasets movielens,frappe]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.vs_deepctr import (  # noqa: E402  (the same runners, encoding, figures and table)
    CROSS_LAYERS,
    EMBEDDING_DIM,
    HIDDEN,
    LEARNING_RATE,
    SERVE_CALLS_1,
    SERVE_CALLS_1024,
    SETTINGS,
    _version,
    child,
    measure,
    publish,
)

DEFAULT_OUT = str(ROOT / "bench" / "results" / "dcn.json")
RUNNERS = [("ctr", "DCN"), ("deepctr", "DCN"), ("ctr", "DeepFM")]


def main() -> None:
    from bench._report import arguments, frappe_option, machine, run_options, save

    parser = arguments(__doc__, DEFAULT_OUT)
    frappe_option(parser)
    parser.add_argument("--datasets", default="movielens,frappe")
    parser.set_defaults(runs=5)  # as bench/vs_deepctr.py: one run's speed moves by up to half on this machine
    args = run_options(parser, child, publish, "bench/dcn.py")
    if args is None:
        return
    datasets = args.datasets.split(",")
    if "frappe" in datasets and not Path(args.frappe).exists():
        print(f"Frappe not found at {args.frappe}: its rows are skipped (pass --frappe)", flush=True)
        datasets.remove("frappe")
    started = time.time()
    results = measure(__file__, args, datasets, RUNNERS)
    report = {
        "benchmark": "ctr_dcn_vs_deepctr", "script": "bench/dcn.py", "block": "dcn",
        "protocol": {"runs": args.runs, "settings": {d: SETTINGS[d] for d in datasets},
                     "embedding_dim": EMBEDDING_DIM, "hidden_units": list(HIDDEN), "cross_layers": CROSS_LAYERS,
                     "structure": "parallel (cross layers beside the MLP), full-rank",
                     "deepctr_dcn": "deepctr.models.DCN(cross_parameterization='matrix')",
                     "optimizer": "Adam", "learning_rate": LEARNING_RATE, "split": "random 80/10/10, seed 0",
                     "serving": f"batch 1: {SERVE_CALLS_1} calls, p50/p99; batch 1024: {SERVE_CALLS_1024} calls; "
                                "after gc.collect() and gc.freeze()"},
        "machine": {**machine(), "deepctr": _version("deepctr")},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "wall_minutes": round((time.time() - started) / 60, 1),
        "results": results,
    }
    save(report, args.out, DEFAULT_OUT, publish)


if __name__ == "__main__":
    main()
