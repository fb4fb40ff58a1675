"""Exact evaluation metrics on numpy arrays, the same for every model and baseline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError


def _columns(owner: str, labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None,
             probabilities: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, scores and weights as float64 rows, checked to be as many and the scores to be numbers
    (probabilities: in [0, 1]), so that a mismatch is named rather than scored."""
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    what = "probabilities" if probabilities else "scores"
    if not len(y) == len(s) == len(w):
        counted = f"{len(y)} labels, {len(s)} {what}" + ("" if weights is None else f", {len(w)} weights")
        raise DataError(f"{owner}: {counted}; give one of each per row")
    bad = np.isnan(s) if not probabilities else ~((s >= 0) & (s <= 1))
    if bad.any():
        raise DataError(f"{owner}: {int(bad.sum())} of the {len(s)} {what} are "
                        + ("NaN" if not probabilities else f"not in [0, 1] (the first: {float(s[bad][0])})"))
    return y, s, w


def auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC curve: the probability that a random positive outranks a random negative
    (ties count one half), each row drawn in proportion to its weight when `weights` are given. NaN
    when only one class is present (or weighs anything)."""
    y, s, w = _columns("auc", labels, scores, weights)
    positives, negatives = float((w * y).sum()), float((w * (1 - y)).sum())
    if positives <= 0 or negatives <= 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    sorted_scores = s[order]
    # Runs of equal scores: each run's positives beat the negatives of every lower run, and tie
    # with half of its own.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    run_positives = np.add.reduceat((w * y)[order], starts)
    run_negatives = np.add.reduceat((w * (1 - y))[order], starts)
    below = np.cumsum(run_negatives) - run_negatives
    return float((run_positives * (below + 0.5 * run_negatives)).sum() / (positives * negatives))


def group_auc(labels: np.ndarray, scores: np.ndarray, groups: np.ndarray,
              weights: np.ndarray | None = None) -> dict[str, float]:
    """Group AUC (gAUC, Zhou et al. 2018, DIN): each group's AUC (as a rule, a user's: how well the
    model orders one user's rows, which a global AUC mixes with how it orders users), averaged over the
    groups weighted by their rows (by their weight, with `weights`). A group of one class has no AUC
    and is left out, as are rows with no group; "gauc_groups" and "gauc_rows" count what is left."""
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    codes = _group_codes("group_auc", groups)
    if not len(y) == len(s) == len(w) == len(codes):
        raise DataError(f"group_auc: {len(y)} labels, {len(s)} scores, {len(w)} weights, {len(codes)} groups")
    keep = codes >= 0
    y, s, w, codes = y[keep], s[keep], w[keep], codes[keep]
    if len(y) == 0:
        return {"gauc": float("nan"), "gauc_groups": 0, "gauc_rows": 0}
    order = np.lexsort((s, codes))  # by group, then score
    y, s, w, codes = y[order], s[order], w[order], codes[order]
    row_group = np.cumsum(np.r_[True, np.diff(codes) != 0]) - 1
    # Runs of equal scores within a group, as in `auc`; a run's negatives below are those of the
    # group's earlier runs.
    starts = np.flatnonzero(np.r_[True, (np.diff(codes) != 0) | (np.diff(s) != 0)])
    run_positives, run_negatives = np.add.reduceat(w * y, starts), np.add.reduceat(w * (1 - y), starts)
    group = row_group[starts]
    earlier = np.cumsum(run_negatives) - run_negatives
    below = earlier - earlier[np.r_[True, np.diff(group) != 0]][group]
    positives, negatives = np.bincount(group, run_positives), np.bincount(group, run_negatives)
    won = np.bincount(group, run_positives * (below + 0.5 * run_negatives))
    scored = (positives > 0) & (negatives > 0)
    size = (positives + negatives)[scored]
    gauc = float((size * won[scored] / (positives * negatives)[scored]).sum() / size.sum()) if size.sum() > 0 \
        else float("nan")
    rows = int(np.bincount(row_group)[scored].sum())
    return {"gauc": gauc, "gauc_groups": int(scored.sum()), "gauc_rows": rows}


def _group_codes(owner: str, groups: np.ndarray | pd.Series | Sequence[Any]) -> np.ndarray:
    """Each row's group as a code from 0 (-1 for a row with no group), or a DataError for a row of several."""
    if isinstance(groups, pd.Series):
        values = groups.reset_index(drop=True)
    elif isinstance(groups, np.ndarray):
        values = pd.Series(groups.reshape(-1))
    else:  # a list or another sequence: pandas infers its dtype
        values = pd.Series(list(groups))
    # The ids are factorized in their own dtype, not boxed into Python objects one by one (fit's
    # `val_gauc` does this every epoch); only a column of Python objects can hold lists.
    if values.dtype == object:
        several = values.map(lambda v: isinstance(v, list | tuple | set | dict | np.ndarray))
        if several.any():
            where = f"column {groups.name!r}" if isinstance(groups, pd.Series) and groups.name is not None else "groups"
            raise DataError(f"{owner}: {where} must hold one group per row (a user id, say), but row "
                            f"{int(np.flatnonzero(several)[0])} holds {values[several].iloc[0]!r}")
    return pd.factorize(values)[0]


def group_ranking(labels: np.ndarray, scores: np.ndarray, groups: np.ndarray | pd.Series | Sequence[Any],
                  ks: Sequence[int] = (5, 10)) -> dict[str, float]:
    """How well each group's clicks are ranked among its rows, as MIND scores impressions (Wu et al. 2020):
    the mean over groups of the reciprocal rank of their clicks (`group_mrr`: the sum of 1/rank over the
    clicks, over their count) and of NDCG@k (`group_ndcg@5`, ...). A plain mean, each group counting once,
    where `gauc` weighs groups by their rows; groups of one class are left out, as for `gauc`. Rows whose
    scores tie are ranked in their order."""
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    codes = _group_codes("group_ranking", groups)
    if not len(y) == len(s) == len(codes):
        raise DataError(f"group_ranking: {len(y)} labels, {len(s)} scores, {len(codes)} groups")
    keep = codes >= 0
    y, s, codes = y[keep], s[keep], codes[keep]
    order = np.lexsort((np.arange(len(s)), -s, codes))  # by group, then score, best first
    y, codes = y[order], codes[order]
    first = np.r_[True, np.diff(codes) != 0]
    group = np.cumsum(first) - 1
    rank = np.arange(len(y)) - np.flatnonzero(first)[group] + 1
    positives, size = np.bincount(group, y), np.bincount(group)
    scored = (positives > 0) & (positives < size)
    out = {"group_mrr": float((np.bincount(group, y / rank)[scored] / positives[scored]).mean())
           if scored.any() else float("nan")}
    discount = 1 / np.log2(np.arange(len(y) + 1) + 2)  # of ranks 1, 2, ...
    best = np.cumsum(discount)
    for k in ks:
        gained = np.bincount(group, y * discount[rank - 1] * (rank <= k), minlength=len(size))
        ideal = best[np.minimum(positives, k).astype(int) - 1]
        out[f"group_ndcg@{k}"] = float((gained[scored] / ideal[scored]).mean()) if scored.any() else float("nan")
    return out


def logloss(labels: np.ndarray, probabilities: np.ndarray, eps: float = 1e-7,
            weights: np.ndarray | None = None) -> float:
    """Mean binary cross-entropy of probabilities against 0/1 labels (probabilities clipped to eps),
    weighted by `weights` when given."""
    y, p, w = _columns("logloss", labels, probabilities, weights, probabilities=True)
    p = np.clip(p, eps, 1 - eps)
    if len(y) == 0:
        return float("nan")
    losses = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    if weights is None:
        return float(losses.mean())
    return float((w * losses).sum() / w.sum()) if w.sum() > 0 else float("nan")


def click_metrics(labels: np.ndarray, probabilities: np.ndarray, weights: np.ndarray | None = None,
                  groups: np.ndarray | pd.Series | None = None) -> dict[str, float]:
    """What evaluating a click model reports, the rows counted by `weights` (the spec's
    `label.weight`) when given, in all but the row count: AUC; logloss; normalized entropy, the
    logloss over that of always predicting the positive rate (below 1 is better than that); the mean
    prediction, and calibration, its ratio to the positive rate (1 when clicks are predicted as
    often as they happen); the row count and the positive rate. With `groups` (a user id per row, say),
    the group AUC too (`group_auc`), and the clicks' ranks within groups (`group_ranking`)."""
    y, p, w = _columns("click_metrics", labels, probabilities, weights, probabilities=True)
    total = float(w.sum())
    rate = float((w * y).sum() / total) if total > 0 else float("nan")
    mean = float((w * p).sum() / total) if total > 0 else float("nan")
    loss = logloss(y, p, weights=weights)
    base = -(rate * np.log(rate) + (1 - rate) * np.log(1 - rate)) if 0 < rate < 1 else float("nan")
    return {"auc": auc(y, p, weights), "logloss": loss, "normalized_entropy": float(loss / base),
            "calibration": mean / rate if rate > 0 else float("nan"), "mean_prediction": mean, "rows": len(y),
            "positive_rate": rate, **({} if groups is None else {**group_auc(labels, probabilities, groups, weights),
                                                                  **group_ranking(labels, probabilities, groups)})}


def reliability(labels: np.ndarray, probabilities: np.ndarray, weights: np.ndarray | None = None,
                bins: int = 10) -> dict[str, np.ndarray]:
    """The reliability curve: the rows cut into `bins` groups of equal weight by predicted
    probability, and each group's mean prediction, observed click rate and weight. A calibrated
    model's groups lie on the diagonal."""
    y, p, w = _columns("reliability", labels, probabilities, weights, probabilities=True)
    order = np.argsort(p, kind="mergesort")
    y, p, w = y[order], p[order], w[order]
    mass = np.cumsum(w)
    if len(y) == 0 or mass[-1] <= 0:
        return {"mean_prediction": np.zeros(0), "click_rate": np.zeros(0), "weight": np.zeros(0)}
    group = np.minimum((mass - w / 2) / mass[-1] * bins, bins - 1).astype(np.int64)  # by each row's midpoint
    weight = np.bincount(group, w, bins)
    used = weight > 0
    return {"mean_prediction": (np.bincount(group, w * p, bins) / np.where(used, weight, 1))[used],
            "click_rate": (np.bincount(group, w * y, bins) / np.where(used, weight, 1))[used],
            "weight": weight[used]}


def ranks_with_random_ties(scores: np.ndarray, targets: np.ndarray, valid: np.ndarray | None = None,
                           seed: int = 0) -> np.ndarray:
    """0-based rank of each target among the valid candidates of its row, ties broken at random.

    scores [Q, C]; targets [Q, R] candidate columns (-1 for none); valid [Q, C] marks candidates that
    compete (excluded items do not). Random tie-breaking keeps constant scores from looking perfect.
    """
    rng = np.random.default_rng(seed)
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets)
    if valid is not None:
        scores = np.where(valid, scores, -np.inf)
    scores = np.where(np.isnan(scores), -np.inf, scores)  # a NaN score outranks nothing
    q = np.arange(len(scores))[:, None]
    target_scores = scores[q, np.maximum(targets, 0)]  # [Q, R]
    # Counted in each row's sorted scores: memory [Q, C], where comparing every target with every
    # candidate took [Q, R, C] (hundreds of MB for users with hundreds of held-out items).
    ordered = np.sort(scores, axis=1)
    below = np.empty(target_scores.shape, np.int64)
    up_to = np.empty(target_scores.shape, np.int64)
    for i in range(len(scores)):
        below[i] = np.searchsorted(ordered[i], target_scores[i], side="left")
        up_to[i] = np.searchsorted(ordered[i], target_scores[i], side="right")
    greater, ties = scores.shape[1] - up_to, up_to - below - 1
    ranks = greater + np.floor(rng.random(ties.shape) * (ties + 1)).astype(np.int64)
    return np.where(targets >= 0, ranks, -1)


def ranking_metrics(ranks: np.ndarray, k: int) -> dict[str, float]:
    """HR@K, Recall@K, NDCG@K and MRR from 0-based ranks [Q, R] of each query's relevant items (-1 pads)."""
    ranks = np.asarray(ranks)
    relevant = ranks >= 0
    n_relevant = relevant.sum(axis=1)
    keep = n_relevant > 0
    ranks, relevant, n_relevant = ranks[keep], relevant[keep], n_relevant[keep]
    hit = relevant & (ranks < k)
    gains = (hit / np.log2(np.maximum(ranks, 0) + 2.0)).sum(axis=1)  # pads (-1) are never hits
    ideal = np.array([(1.0 / np.log2(np.arange(min(n, k)) + 2.0)).sum() for n in n_relevant])
    first = np.where(relevant, ranks, np.iinfo(np.int64).max).min(axis=1)
    return {f"HR@{k}": float(hit.any(axis=1).mean()), f"Recall@{k}": float((hit.sum(axis=1) / n_relevant).mean()),
            f"NDCG@{k}": float((gains / ideal).mean()), "MRR": float((1.0 / (first + 1.0)).mean()),
            "queries": int(keep.sum())}


def logit(p: np.ndarray) -> np.ndarray:
    """The log-odds of probabilities, as float64 (clipped 1e-12 from 0 and 1)."""
    p = np.clip(np.asarray(p, dtype=np.float64).reshape(-1), 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def sigmoid(x: Any) -> Any:
    """The probability of a logit (or of each of an array's)."""
    return 1 / (1 + np.exp(-np.asarray(x, dtype=np.float64)))
