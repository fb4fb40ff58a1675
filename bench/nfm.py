"""Our NFM beside DeepCTR's NFM (the same network: Bi-Interaction pooling of the field vectors, an MLP
over the pooled vector, and the first-order weights; no dropout on the pooled vector), and our DeepFM on
the same runs for reference.

Data, splits, features and settings are bench/vs_deepctr.py's (MovieLens 100K as CTR and Frappe;
embedding size 16, MLP 256-128 in both (DeepCTR's NFM defaults to 256-128-64), Adam at 1e-3, batch 256,
early stopping on validation AUC). One difference of design stays: DeepCTR pools the categorical fields
and passes numbers to the MLP beside the pooled vector, where ours pools every field (a number is a
scaled vector, as in our other models). The figures are vs_deepctr's: test AUC and logloss, training
throughput, time to the first epoch, peak memory, serving from raw rows. Each run is its own process;
figures are medians over `--runs` seeds.

    python bench/nfm.py [--data ../shared/data/ml-100k] [--frappe ../shared/data/frappe] [--runs 5]
                        [--datasets movielens,frappe]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.vs_deepctr sets the Keras 2 stack up first

from bench.vs_deepctr import BI_DROPOUT, beside_the_peer  # the same runs, figures and table

RUNNERS = [("ctr", "NFM"), ("deepctr", "NFM"), ("ctr", "DeepFM")]


def main() -> None:
    beside_the_peer(__file__, __doc__, RUNNERS, {
        "bi_dropout": BI_DROPOUT,
        "structure": "NFM: an MLP over the Bi-Interaction pooling of the field vectors, and the first-order weights",
        "deepctr_nfm": "deepctr.models.NFM(dnn_hidden_units=(256, 128), bi_dropout=0)"})


if __name__ == "__main__":
    main()
