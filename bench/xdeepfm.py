"""Our xDeepFM beside DeepCTR's xDeepFM (the same network: a CIN of 128 and 128 feature maps, half of the
first carried on, ReLU, beside an MLP), and our DeepFM on the same runs for reference.

Data, splits, features and settings are bench/vs_deepctr.py's (MovieLens 100K as CTR and Frappe;
embedding size 16, MLP 256-128, Adam at 1e-3, batch 256, early stopping on validation AUC); the CIN
settings are DeepCTR's defaults in both libraries. One difference of design stays: DeepCTR's CIN reads
the categorical fields and passes numbers to the MLP alone, where ours reads every field (a number is a
scaled vector, as in our other models). The figures are vs_deepctr's: test AUC and logloss, training
throughput, time to the first epoch, peak memory, serving from raw rows. Each run is its own process;
figures are medians over `--runs` seeds.

    python bench/xdeepfm.py [--data ../shared/data/ml-100k] [--frappe ../shared/data/frappe] [--runs 5]
                            [--datasets movielens,frappe]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.vs_deepctr sets the Keras 2 stack up first

from bench.vs_deepctr import CIN, beside_the_peer  # the same runs, figures and table

RUNNERS = [("ctr", "xDeepFM"), ("deepctr", "xDeepFM"), ("ctr", "DeepFM")]


def main() -> None:
    beside_the_peer(__file__, __doc__, RUNNERS, {
        "cin": {**CIN, "cin_layers": list(CIN["cin_layers"])},
        "structure": "xDeepFM: the CIN (pooled feature maps) beside the MLP, and the first-order weights",
        "deepctr_xdeepfm": "deepctr.models.xDeepFM(cin_layer_size=(128, 128), cin_split_half=True, "
                           "cin_activation='relu', dnn_hidden_units=(256, 128))"})


if __name__ == "__main__":
    main()
