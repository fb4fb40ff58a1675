"""Which features a click model leans on: permutation importance on labelled data.

A feature's importance is how much the model's AUC falls (and its logloss rises) when that feature's
column is shuffled across the rows, which keeps its values but cuts their tie to each row. It takes
raw rows through `predict`, so it is the same for a model in memory and for its export, and features
read from one column are shuffled, and reported, together.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol

import numpy as np
import pandas as pd

from . import data as ctr_data
from ._args import check_arguments
from .errors import ArgumentError, DataError
from .metrics import click_metrics
from .spec import FeatureSpec


class Scorer(Protocol):
    spec: FeatureSpec

    def predict(self, data: Any, batch_size: int = ...) -> np.ndarray: ...


def feature_importance(model: Scorer, data: ctr_data.Source, *, repeats: int = 3, seed: int = 0,
                       batch_size: int = 8192, verbose: bool = False) -> pd.DataFrame:
    """Permutation importance of each input column of a click model (fitted, or loaded with
    `ctr.load`) on labelled `data`: one row per column, most important first, with the mean AUC drop
    over `repeats` shuffles (seeded by `seed`), its standard deviation and the mean logloss rise.
    Rows count by the spec's `label.weight` when it has one. `verbose` prints a line per column."""
    check_arguments("feature_importance", repeats=repeats, seed=seed, batch_size=batch_size)
    spec = getattr(model, "spec", None)
    if not isinstance(spec, FeatureSpec) or not callable(getattr(model, "predict", None)) or spec.label is None:
        raise ArgumentError("feature_importance: model must be a click model (LogisticRegression, FM, DeepFM, or "
                            f"one loaded with ctr.load) whose spec has a label; got {type(model).__name__}")
    frame = ctr_data.read(data, spec.columns, hint=ctr_data.column_hints(spec))
    targets = ctr_data.targets(frame, spec)
    ctr_data.require_both_classes(ctr_data.class_counts(targets), spec, "importance")
    if len(frame) < 2:
        raise DataError(f"feature_importance: {len(frame)} row(s); shuffling a column needs at least 2")
    y, w = ctr_data.labels(frame, spec), ctr_data.sample_weights(frame, spec)
    base = click_metrics(y, model.predict(frame, batch_size=batch_size), w)
    columns: dict[str, list[str]] = {}
    for f in spec.features:
        columns.setdefault(f.source, []).append(f.name)
    rng = np.random.default_rng(seed)
    rows = []
    started = time.time()
    for i, (column, names) in enumerate(columns.items(), 1):
        values = frame[column].to_numpy()
        drops, rises = [], []
        for _ in range(repeats):
            shuffled = click_metrics(y, model.predict(frame.assign(**{column: values[rng.permutation(len(values))]}),
                                                      batch_size=batch_size), w)
            drops.append(base["auc"] - shuffled["auc"])
            rises.append(shuffled["logloss"] - base["logloss"])
        rows.append({"feature": ", ".join(names), "column": column, "auc_drop": float(np.mean(drops)),
                     "auc_drop_std": float(np.std(drops)), "logloss_rise": float(np.mean(rises))})
        if verbose:
            print(f"  [{i}/{len(columns)}] {column}: AUC drop {rows[-1]['auc_drop']:+.4f} "
                  f"({time.time() - started:.0f} s)", file=sys.stderr, flush=True)
    table = pd.DataFrame(rows).sort_values("auc_drop", ascending=False, kind="stable").reset_index(drop=True)
    table.attrs.update(auc=base["auc"], logloss=base["logloss"], rows=len(frame), repeats=repeats, seed=seed)
    return table
