"""Our FiBiNET beside DeepCTR's FiBiNET (the same network: SENET field weights with reduction ratio 3, a
bilinear matrix for each pair of fields over the plain and the weighed vectors, an MLP over both), and our
DeepFM on the same runs for reference.

Data, splits, features and settings are bench/vs_deepctr.py's (MovieLens 100K as CTR and Frappe;
embedding size 16, MLP 256-128, Adam at 1e-3, batch 256, early stopping on validation AUC); the SENET and
bilinear settings are DeepCTR's defaults in both libraries. One difference of design stays: DeepCTR's
SENET and bilinear layers read the categorical fields and pass numbers to the MLP alone, where ours read
every field (a number is a scaled vector, as in our other models). The figures are vs_deepctr's: test AUC
and logloss, training throughput, time to the first epoch, peak memory, serving from raw rows. Each run is
its own process; figures are medians over `--runs` seeds.

    python bench/fibinet.py [--data ../shared/data/ml-100k] [--frappe ../shared/data/frappe] [--runs 5]
                            [--datasets movielens,frappe]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.vs_deepctr sets the Keras 2 stack up first

from bench.vs_deepctr import BILINEAR, beside_the_peer  # the same runs, figures and table

RUNNERS = [("ctr", "FiBiNET"), ("deepctr", "FiBiNET"), ("ctr", "DeepFM")]


def main() -> None:
    beside_the_peer(__file__, __doc__, RUNNERS, {
        "bilinear": BILINEAR,
        "structure": "FiBiNET: an MLP over the bilinear products of the field vectors and of the SENET-weighed "
                     "ones, and the first-order weights",
        "deepctr_fibinet": "deepctr.models.FiBiNET(bilinear_type='interaction', reduction_ratio=3, "
                           "dnn_hidden_units=(256, 128))"})


if __name__ == "__main__":
    main()
