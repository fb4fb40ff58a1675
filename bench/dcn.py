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
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.vs_deepctr import CROSS_LAYERS, beside_the_peer  # noqa: E402  (the same runs, figures and table)

DEFAULT_OUT = str(ROOT / "bench" / "results" / "dcn.json")
RUNNERS = [("ctr", "DCN"), ("deepctr", "DCN"), ("ctr", "DeepFM")]


def main() -> None:
    beside_the_peer(__file__, __doc__, DEFAULT_OUT, RUNNERS, "ctr_dcn_vs_deepctr", "dcn", {
        "cross_layers": CROSS_LAYERS, "structure": "parallel (cross layers beside the MLP), full-rank",
        "deepctr_dcn": "deepctr.models.DCN(cross_parameterization='matrix')"})


if __name__ == "__main__":
    main()
