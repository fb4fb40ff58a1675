"""Platt scaling: a click model's logits mapped by slope × logit + intercept, fitted on held-out rows so that
its probabilities match the click rates they stand for. The order of the rows, and so every AUC, is kept.

Probabilities drift from click rates when a model is trained on non-clicks downsampled without weights,
and when it grows overconfident over its epochs (bench/downsampling.py measures both on Frappe); bids
and expected-click counts read the probabilities themselves.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError


def platt_scaling(logits: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None,
                  iterations: int = 100) -> tuple[float, float]:
    """(slope, intercept) minimising the logloss of sigmoid(slope × logit + intercept) against `labels`
    (weighted), by Newton's method on Platt's smoothed targets, which keep the fit finite when the
    rows are separable (Platt 1999)."""
    x = np.asarray(logits, np.float64)
    y = np.asarray(labels, np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, np.float64)
    positives, negatives = float((w * y).sum()), float((w * (1 - y)).sum())
    # A click rate (an aggregated row's) is that share of clicks and the rest non-clicks.
    targets = y * (positives + 1) / (positives + 2) + (1 - y) / (negatives + 2)
    slope, intercept = 1.0, 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(slope * x + intercept)))
        residual, curvature = w * (p - targets), w * p * (1 - p)
        gradient = np.array([(residual * x).sum(), residual.sum()])
        hessian = np.array([[(curvature * x * x).sum(), (curvature * x).sum()],
                            [(curvature * x).sum(), curvature.sum()]]) + 1e-12 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        # Halved until the loss falls: a full Newton step can overshoot from the starting point.
        loss = _loss(x, targets, w, slope, intercept)
        scale = 1.0
        while scale > 1e-6 and _loss(x, targets, w, slope - scale * step[0], intercept - scale * step[1]) > loss:
            scale /= 2
        slope, intercept = slope - scale * step[0], intercept - scale * step[1]
        if np.abs(scale * step).max() < 1e-10:
            break
    if not slope > 0:
        raise DataError(f"calibration: on these rows the click rate falls as the model's score rises (fitted slope "
                        f"{slope:.3g}), so no increasing map makes its scores into click rates; check that the rows "
                        "are labelled as the training rows were, and that the model learned anything")
    return float(slope), float(intercept)


def _loss(x: np.ndarray, targets: np.ndarray, w: np.ndarray, slope: float, intercept: float) -> float:
    z = slope * x + intercept
    # log(1 + e^z) - t z, written to stay finite for large |z|
    return float((w * (np.logaddexp(0.0, z) - targets * z)).sum())


def describe_calibration(calibration: dict) -> str:
    """One line saying how a model's probabilities are calibrated, and what it changed where it was fitted."""
    before, after = calibration["before"], calibration["after"]
    sign = "+" if calibration["intercept"] >= 0 else "−"
    return (f"calibrated (Platt scaling on {calibration['rows']:,} rows): probability = sigmoid("
            f"{calibration['slope']:.4g} × logit {sign} {abs(calibration['intercept']):.4g}); there, logloss "
            f"{before['logloss']:.4f} → {after['logloss']:.4f} and calibration {before['calibration']:.3f} → "
            f"{after['calibration']:.3f}")
