"""Our Wide & Deep beside DeepCTR's WDL (the same network: a linear part over every feature beside an MLP
over the field embeddings), and our DeepFM on the same runs for reference.

Data, splits, features and settings are bench/vs_deepctr.py's (MovieLens 100K as CTR and Frappe;
embedding size 16, MLP 256-128, Adam at 1e-3, batch 256, early stopping on validation AUC), with the same
features in both parts in both libraries and no crosses (the paper's wide part adds cross-product
features; bench/crosses.py measures ours). The figures are vs_deepctr's: test AUC and logloss, training
throughput, time to the first epoch, peak memory, serving from raw rows. Each run is its own process;
figures are medians over `--runs` seeds.

    python bench/widedeep.py [--data ../shared/data/ml-100k] [--frappe ../shared/data/frappe] [--runs 5]
                             [--datasets movielens,frappe]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.vs_deepctr sets the Keras 2 stack up first

from bench.vs_deepctr import beside_the_peer  # the same runs, figures and table

RUNNERS = [("ctr", "WideDeep"), ("deepctr", "WideDeep"), ("ctr", "DeepFM")]


def main() -> None:
    beside_the_peer(__file__, __doc__, RUNNERS, {
        "structure": "Wide & Deep: the first-order weights of every feature beside an MLP over the field embeddings",
        "deepctr_wdl": "deepctr.models.WDL(linear_feature_columns=columns, dnn_feature_columns=columns, "
                       "dnn_hidden_units=(256, 128))"})


if __name__ == "__main__":
    main()
