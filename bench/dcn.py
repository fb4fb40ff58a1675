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

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.vs_deepctr sets the Keras 2 stack up first

from bench.vs_deepctr import CROSS_LAYERS, beside_the_peer  # the same runs, figures and table

RUNNERS = [("ctr", "DCN"), ("deepctr", "DCN"), ("ctr", "DeepFM")]


def main() -> None:
    beside_the_peer(__file__, __doc__, RUNNERS, {
        "cross_layers": CROSS_LAYERS, "structure": "parallel (cross layers beside the MLP), full-rank",
        "deepctr_dcn": "deepctr.models.DCN(cross_parameterization='matrix')"})


if __name__ == "__main__":
    main()
