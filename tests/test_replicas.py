"""Several replicas on one machine: click models and recommenders train as on one device (the training
runs in tests/replicas_child.py, whose CPU is split into two logical devices before TensorFlow starts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np


def test_models_on_two_replicas_train_as_on_one_device():
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("replicas_child.py"))], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, run in runs.items():
        assert (run["one"]["replicas"], run["two"]["replicas"]) == (1, 2), name
    # Click model and pointwise recommender: each replica takes half of every batch, so the summed
    # gradients, losses and regularisation are one device's (without the scaling, the steps and logged
    # losses double); the click model's row-wise Adam and weight average step as on one device.
    for name in ("fm_weighted_momentum", "mf_weighted"):
        one, two = runs[name]["one"], runs[name]["two"]
        assert one["history"].keys() == two["history"].keys()
        for key, values in one["history"].items():
            # A weighted batch's regularisation is counted by each replica's share of the batch's weight
            # (half), though an uneven last batch gives one replica a row more: off by about 1e-4.
            rtol = 1e-3 if key.endswith("regularization_loss") else 1e-4
            np.testing.assert_allclose(two["history"][key], values, rtol=rtol, err_msg=f"{name} {key}")
        assert two["ids"] == one["ids"]
        np.testing.assert_allclose(two["scores"], one["scores"], rtol=1e-4, atol=1e-5, err_msg=name)
    # Retrieval: each replica's in-batch negatives are its own half's items, so the model differs a
    # little; the regularisation is still one device's, and the recommendations mostly agree.
    one, two = runs["two_tower_weighted"]["one"], runs["two_tower_weighted"]["two"]
    np.testing.assert_allclose(two["history"]["regularization_loss"], one["history"]["regularization_loss"],
                               rtol=0.1)
    overlap = [len(set(a) & set(b)) for a, b in zip(one["ids"], two["ids"], strict=True)]
    assert min(overlap) >= 7, overlap
