"""Our AutoInt beside DeepCTR's AutoInt (the same network: AutoInt+, three interacting layers of two
heads 8 wide with residual connections, and an MLP beside them), and our DeepFM on the same runs for
reference.

Data, splits, features and settings are bench/vs_deepctr.py's (MovieLens 100K as CTR and Frappe;
embedding size 16, MLP 256-128, Adam at 1e-3, batch 256, early stopping on validation AUC); the
attention settings are DeepCTR's defaults in both libraries. One difference of design stays: DeepCTR's
attention reads the categorical fields and passes numbers to the MLP alone, where ours reads every
field (a number is a scaled vector, as in our other models). The figures are vs_deepctr's: test AUC
and logloss, training throughput, time to the first epoch, peak memory, serving from raw rows. Each
run is its own process; figures are medians over `--runs` seeds.

    python bench/autoint.py [--data ../shared/data/ml-100k] [--frappe ../shared/data/frappe] [--runs 5]
                            [--datasets movielens,frappe]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.vs_deepctr sets the Keras 2 stack up first

from bench.vs_deepctr import ATTENTION, beside_the_peer  # the same runs, figures and table

RUNNERS = [("ctr", "AutoInt"), ("deepctr", "AutoInt"), ("ctr", "DeepFM")]


def main() -> None:
    beside_the_peer(__file__, __doc__, RUNNERS, {
        "attention": ATTENTION,
        "structure": "AutoInt+: the interacting layers (residual, unscaled attention) beside the MLP",
        "deepctr_autoint": "deepctr.models.AutoInt(att_layer_num=3, att_head_num=2, att_embedding_size=8, "
                           "att_res=True)"})


if __name__ == "__main__":
    main()
