"""`ctr demo`: the whole path on the embedded data, from spec to a served prediction, in a minute."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import datasets, splits
from .export import load
from .models import FM, DeepFM, LogisticRegression


def run_demo(rows: int = 100_000, epochs: int = 3, out: Path = Path("runs/demo"), seed: int = 0) -> dict:
    """Train LR, FM and DeepFM on generated data, print their test metrics, export DeepFM and serve it."""
    started = time.perf_counter()
    spec = datasets.synthetic_spec()
    frame = datasets.synthetic(rows, seed=seed)
    train, valid, test = splits.random_split(frame, (0.8, 0.1, 0.1), seed=seed)
    print(f"ctr demo: {rows} generated ratings (rating >= 4 is a click), "
          f"{len(train)}/{len(valid)}/{len(test)} train/valid/test\n")
    print(spec.describe(), "\n")

    results, models = {}, {}
    for name, model in [("LogisticRegression", LogisticRegression(spec, seed=seed)),
                        ("FM", FM(spec, embedding_dim=16, seed=seed)),
                        ("DeepFM", DeepFM(spec, embedding_dim=16, hidden_units=(128, 64), seed=seed))]:
        print(f"--- training {name}")
        t = time.perf_counter()
        model.fit(train, validation_data=valid, epochs=epochs, verbose=2)
        results[name] = {**model.evaluate(test), "seconds": time.perf_counter() - t}
        models[name] = model

    print(f"\nTest metrics (random 80/10/10 split, seed {seed})")
    print(f"{'model':<20}{'AUC':>8}{'logloss':>10}{'train s':>10}")
    for name, r in results.items():
        print(f"{name:<20}{r['auc']:>8.4f}{r['logloss']:>10.4f}{r['seconds']:>10.1f}")

    path = models["DeepFM"].export(out)
    print(f"\nExported DeepFM to {path} (signature serving_default: raw features → probability)")
    served = load(path)
    sample = test.head(4).copy()
    sample.loc[sample.index[1], "user_id"] = 10_000_000  # a user the model never saw
    sample.loc[sample.index[2], "price"] = np.nan  # a missing number
    sample.loc[sample.index[3], "genres"] = "Western|Noir"  # genres it never saw
    columns = ["user_id", "item_id", "age", "occupation", "genres", "price", "timestamp"]
    shown = sample[columns].assign(served=served.predict(sample), in_process=models["DeepFM"].predict(sample))
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print("Served from the reloaded SavedModel (unseen user, NaN price and unseen genres included):")
        print(shown.to_string(index=False))
    print(f"\nctr demo: done in {time.perf_counter() - started:.0f} s")
    return results
