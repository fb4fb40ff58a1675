"""Trains a click model (row weights; row-wise Adam, lazy and catching up; weight average), a pointwise and
a retrieval recommender (both weighing their interactions) on one device and on two replicas, in one process
whose CPU is split into two logical devices (which must happen before any other TensorFlow work).

    python tests/replicas_child.py      prints JSON: per model, both runs' logs and recommendations or predictions
"""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import ctr  # noqa: E402

SPEC = ctr.FeatureSpec.from_dict({"name": "replicas", "features": [
    {"name": "user_id", "kind": "categorical", "dtype": "int", "role": "user"},
    {"name": "age", "kind": "numeric", "role": "user"},
    {"name": "item_id", "kind": "categorical", "dtype": "int", "role": "item"},
    {"name": "genres", "kind": "multi_categorical", "separator": "|", "role": "item"}]})
WEIGHTED = ctr.FeatureSpec(SPEC.features, label=ctr.Label("rating", threshold=4, weight="w"), name="replicas-weighted")
# Weighted rows only: unit weights train exactly as none (tests/test_weights.py), and each fit here is seconds of
# tracing. The click model's embedding updates are the default, "momentum", and the recommenders' too.
MODELS = {"fm_weighted_momentum": lambda: ctr.FM(WEIGHTED, l2=1e-4, batch_size=256, seed=0,
                                                 embedding_updates="momentum"),
          # The recommenders weigh their interactions too (the rows of rating 4 or more, by w).
          "mf_weighted": lambda: ctr.MatrixFactorization(WEIGHTED, l2=1e-4, batch_size=256, seed=0),
          "two_tower_weighted": lambda: ctr.TwoTower(WEIGHTED, l2=1e-4, batch_size=256, seed=0)}


def main() -> None:
    frame = ctr.datasets.synthetic(2000, n_users=80, n_items=50, seed=1)
    # Row weights that fall unevenly on the replicas' halves of each batch.
    frame = frame.assign(w=np.random.default_rng(0).choice([0.0, 0.5, 1.0, 4.0], len(frame)))
    train, valid = frame.iloc[:1600], frame.iloc[1600:]
    # One strategy for all the models: a second one in the same process clashes with the first's
    # collective ops (tensorflow/tensorflow#62790).
    two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    out = {}
    for name, make in MODELS.items():
        for label, strategy in (("one", None), ("two", two)):
            model = make()
            # The retrieval model's validation (top-K over the catalogue) is slow to trace; its
            # training step is what differs.
            history = model.fit(train, validation_data=None if name.startswith("two_tower") else valid, epochs=2,
                                verbose=0,
                                strategy=strategy)
            if name.startswith("fm"):
                ids, scores = np.zeros(0), model.predict(frame.iloc[:50])
            else:
                ids, scores = model.recommend(frame.iloc[:5], k=10)
            out.setdefault(name, {})[label] = {
                "replicas": model.network_.distribute_strategy.num_replicas_in_sync,
                "history": {k: [float(x) for x in v] for k, v in history.history.items()},
                "ids": ids.tolist(), "scores": scores.tolist()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
