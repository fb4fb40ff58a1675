"""Our AFM beside DeepCTR's AFM (the same network: the products of every pair of field vectors, weighed by an
attention network of 8 hidden units and summed, a projection of the sum beside the first-order weights; no
dropout on the sum), and our FM and DeepFM on the same runs for reference.

Data, splits, features and settings are bench/vs_deepctr.py's (MovieLens 100K as CTR and Frappe;
embedding size 16, Adam at 1e-3, batch 256, early stopping on validation AUC). Two differences of design
stay: DeepCTR's AFM weighs the categorical fields' pairs and leaves numbers to its linear part, where ours
crosses every field (a number is a scaled vector, as in our other models); and DeepCTR puts an L2 penalty of
1e-5 on the attention's kernel (`l2_reg_att`), where ours, as our other heads, penalises the embedding rows
alone. The figures are vs_deepctr's: test AUC and logloss, training throughput, time to the first epoch,
peak memory, serving from raw rows. Each run is its own process; figures are medians over `--runs` seeds.

    python bench/afm.py [--data ../shared/data/ml-100k] [--frappe ../shared/data/frappe] [--runs 5]
                        [--datasets movielens,frappe]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.vs_deepctr sets the Keras 2 stack up first

from bench.vs_deepctr import AFM_SETTINGS, beside_the_peer  # the same runs, figures and table

RUNNERS = [("ctr", "AFM"), ("deepctr", "AFM"), ("ctr", "FM"), ("ctr", "DeepFM")]


def main() -> None:
    beside_the_peer(__file__, __doc__, RUNNERS, {
        **AFM_SETTINGS,
        "structure": "AFM: the attention-weighed sum of the products of every pair of field vectors, projected, and "
                     "the first-order weights",
        "deepctr_afm": f"deepctr.models.AFM(attention_factor={AFM_SETTINGS['attention_factor']}, afm_dropout=0)"})


if __name__ == "__main__":
    main()
