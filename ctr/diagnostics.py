"""What a click model does well and what it leans on: metrics by slice, permutation importance, and
each row's score taken apart into its columns' shares (`explain`).

`evaluate_by` scores the rows once and reports `evaluate`'s figures for each group of rows sharing a
column's value (numbers with many values are cut into quantile ranges). A feature's importance is how
much the model's AUC falls (and its logloss rises) when that feature's column is shuffled across the
rows, which keeps its values but cuts their tie to each row. Both take raw rows through `predict`, so
they are the same for a model in memory and for its export; features read from one column are
shuffled, and reported, together.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from . import data as ctr_data
from ._args import check_arguments
from ._model_names import CLICK_MODEL_CLASSES
from .errors import ArgumentError, DataError
from .evaluation import read_labelled
from .features import MISSING_INT, bag_ids, token_text
from .metrics import click_metrics, logit
from .spec import FeatureSpec, Timestamp


class Scorer(Protocol):
    spec: FeatureSpec

    def predict(self, data: Any, batch_size: int = ...) -> np.ndarray: ...


_MANY_VALUES = 20  # a number column with more distinct values than this is cut into ranges


def evaluate_by(model: Scorer, data: ctr_data.Source, by: str | Sequence[str], *, bins: int = 5,
                batch_size: int = 8192, scores: np.ndarray | None = None, group_by: str | None = None) -> pd.DataFrame:
    """`evaluate`'s figures for each group of rows sharing the values of the `by` column(s) (any
    column of the data, a feature's or not), the whole data first as "(all)", then the groups by
    size. A numeric column with more than 20 distinct values is cut into `bins` quantile ranges, and a
    timestamp feature's (or datetimes) into `bins` time ranges, shown lowest first (when every `by`
    column is cut so; missing values last).
    Rows count by the spec's `label.weight` when it has one; AUC is NaN in a group of one class.
    `scores`: the model's probabilities for these rows when already at hand (they are not recomputed).
    `group_by` (a column, e.g. "user_id"): each slice's group AUC over its values too, as `evaluate`'s."""
    check_arguments("evaluate_by", bins=bins, batch_size=batch_size)
    spec = _click_spec(model, "evaluate_by")
    by = [by] if isinstance(by, str) else list(by)
    if not by or not all(isinstance(column, str) for column in by):
        raise ArgumentError(f"evaluate_by: by must be a column name or a list of them, got {by!r}")
    vectors = [f.source for f in spec.features if f.kind == "vector" and f.source in by]
    if vectors:
        raise ArgumentError(f"evaluate_by: {', '.join(map(repr, vectors))} holds vectors (an embedding each row), "
                            "which make no groups of rows; slice by another column, or by one made from them "
                            "(a cluster id)")
    frame = read_labelled("evaluate_by", spec, data, group_by, extra=by)
    if len(frame) == 0:
        raise DataError("the evaluation data has no rows")
    y, w = ctr_data.labels(frame, spec), ctr_data.sample_weights(frame, spec)
    p = model.predict(frame, batch_size=batch_size) if scores is None else np.asarray(scores).reshape(-1)
    if len(p) != len(frame):
        raise DataError(f"evaluate_by: {len(p)} scores for {len(frame)} rows")
    grouped = {column: _grouping(frame[column], bins, spec) for column in by}
    keys = pd.DataFrame({column: values for column, (values, _) in grouped.items()}).reset_index(drop=True)
    ranges = {column: order for column, (_, order) in grouped.items() if order is not None}
    for column in by:  # a multi-valued column: each row counts in the group of each of its values
        if keys[column].map(lambda v: isinstance(v, list)).any():
            keys = keys.explode(column)
    groups = None if group_by is None else frame[group_by].reset_index(drop=True)
    rows = [{**dict.fromkeys(by, "(all)"), **click_metrics(y, p, w, groups)}]
    slices = keys.groupby(by, dropna=False, sort=False, observed=True).indices
    if len(ranges) == len(by):  # every column cut into ranges: the slices in the ranges' order (missing last)
        def place(item: tuple) -> Any:
            values = item[0] if isinstance(item[0], tuple) else (item[0],)
            return tuple(ranges[c].get(v, len(ranges[c])) for c, v in zip(by, values, strict=True))
    else:
        def place(item: tuple) -> Any:
            return -len(item[1])
    for values, positions in sorted(slices.items(), key=place):
        index = keys.index.to_numpy()[positions]  # the rows of the data
        values = values if isinstance(values, tuple) else (values,)
        named = {column: "(missing)" if pd.isna(v) else v for column, v in zip(by, values, strict=True)}
        rows.append({**named, **click_metrics(y[index], p[index], None if w is None else w[index],
                                              None if groups is None else groups.iloc[index])})
    table = pd.DataFrame(rows)
    return table[[*by, "rows", "positive_rate", *(c for c in table.columns if c not in {*by, "rows", "positive_rate"})]]


def _grouping(column: pd.Series, bins: int, spec: FeatureSpec) -> tuple[pd.Series, dict[str, int] | None]:
    """The column's values as groups: as they are; quantile ranges for a number with many values (with
    each range's place, lowest first); the list of its values for the column of a multi-valued feature
    (split on its separator), and of its words for a text feature's (a whole text is mostly one item's);
    for a history's, how many items it lists (as the model reads them, at
    most `max_length`; fewest first): each row's history is its own, and new users are those of few."""
    multi = next((f for f in spec.features if f.kind == "multi_categorical" and f.source == column.name), None)
    if multi is not None:  # its ids as the model reads them (a list's, a text's, without their weights)
        text = ctr_data.raw_features(column.to_frame(), FeatureSpec([multi]))[multi.name]
        return pd.Series([list(dict.fromkeys(bag_ids(token_text(v), multi))) or [np.nan] for v in text]), None
    prose = next((f for f in spec.features if f.kind == "text" and f.source == column.name), None)
    if prose is not None:  # its words as the model reads them (lower-cased, the first max_length)
        from ._keras import tf
        from .features import split_ids

        raw = ctr_data.raw_features(column.to_frame(), FeatureSpec([prose]))[prose.name]
        words = split_ids(tf.constant(raw, tf.string), prose).to_list()
        return pd.Series([list(dict.fromkeys(w.decode() for w in row if w)) or [np.nan] for row in words]), None
    history = next((f for f in spec.features if f.kind == "history" and f.source == column.name), None)
    if history is not None:
        text = ctr_data.raw_features(column.to_frame(), FeatureSpec([spec[history.items], history]),
                                     [history.name])[history.name]
        lengths = pd.Series([min(len(bag_ids(token_text(v), history)), history.max_length) for v in text])
        return lengths, {length: length for length in sorted(set(lengths))}
    stamp = next((f for f in spec.features if f.kind == "timestamp" and f.source == column.name), None)
    if stamp is not None or pd.api.types.is_datetime64_any_dtype(column):
        return _time_ranges(column, bins, stamp)
    number = next((f for f in spec.features if f.kind == "numeric" and f.source == column.name), None)
    if number is not None and not pd.api.types.is_numeric_dtype(column):  # text the model reads as numbers ('$5')
        numbers = pd.Series(ctr_data.raw_features(column.to_frame(), FeatureSpec([number]))[number.name],
                            dtype=np.float64)
        if numbers.nunique() > _MANY_VALUES:
            column = numbers.where(np.isfinite(numbers)).rename(column.name)
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column) \
            and column.nunique() > _MANY_VALUES:
        cut = pd.qcut(column, bins, duplicates="drop")
        order = {str(interval): i for i, interval in enumerate(cut.cat.categories)}
        return cut.astype(str).where(column.notna()).reset_index(drop=True), order
    return column.reset_index(drop=True), None


def _time_ranges(column: pd.Series, bins: int, stamp: Timestamp | None) -> tuple[pd.Series, dict[str, int] | None]:
    """A time column (a timestamp feature's, in any form it is read in: epoch numbers, datetimes, ISO
    text) as `bins` ranges of equal rows, each named by its first and last moment in UTC; a few
    distinct moments stay as themselves. Each text or moment of its own made a slice of a row or two."""
    counts, unit = ctr_data.time_counts(column, f"column {column.name!r}", stamp)
    present = counts != MISSING_INT
    moments = pd.Series(pd.to_datetime(np.where(present, counts, 0), unit=unit, utc=True)).where(present)
    written = "%Y-%m-%d %H:%M:%S" if (moments.dropna().dt.second != 0).any() else "%Y-%m-%d %H:%M"
    if moments.nunique() <= _MANY_VALUES:
        named = moments.dt.strftime(written + " UTC")
        return named.where(present), {t: i for i, t in enumerate(named[present].sort_values().unique())}
    codes = pd.qcut(pd.Series(counts[present]), bins, labels=False, duplicates="drop").to_numpy()
    spans = moments[present].groupby(codes).agg(["min", "max"])
    names = {code: f"{first.strftime(written)} … {last.strftime(written)} UTC" for code, (first, last) in
             spans.iterrows()}
    ranges = pd.Series(np.nan, index=range(len(column)), dtype=object)
    ranges[present] = [names[c] for c in codes]
    return ranges, {names[c]: i for i, c in enumerate(sorted(names))}


def _click_spec(model: Any, owner: str) -> FeatureSpec:
    """The spec of a click model (fitted or exported) that can be scored against labels."""
    spec = getattr(model, "spec", None)
    # A recommender (it has a catalogue) predicts scores, not the probabilities that labels are tested against.
    if not isinstance(spec, FeatureSpec) or not callable(getattr(model, "predict", None)) or spec.label is None \
            or hasattr(model, "catalog_ids"):
        raise ArgumentError(f"{owner}: model must be a click model ({CLICK_MODEL_CLASSES}, "
                            f"or one loaded with ctr.load) whose spec has a label; got {type(model).__name__}")
    return spec


def feature_importance(model: Scorer, data: ctr_data.Source, *, repeats: int = 3, seed: int = 0,
                       max_rows: int | None = None, batch_size: int = 8192, verbose: bool = False) -> pd.DataFrame:
    """Permutation importance of each input column of a click model (fitted, or loaded with
    `ctr.load`) on labelled `data`: one row per column, most important first, with the mean AUC drop
    over `repeats` shuffles (seeded by `seed`), its standard deviation and the mean logloss rise.
    Rows count by the spec's `label.weight` when it has one. With `max_rows`, larger data is
    measured on that many of its rows, drawn with `seed` (each column costs `repeats` predictions of
    every row measured). `verbose` prints a line per column."""
    check_arguments("feature_importance", repeats=repeats, seed=seed, batch_size=batch_size, max_rows=max_rows)
    spec = _click_spec(model, "feature_importance")
    frame = ctr_data.read(data, spec.columns, hint=ctr_data.column_hints(spec), dtypes=ctr_data.csv_dtypes(spec))
    if len(frame) == 0:
        raise DataError("the importance data has no rows")
    rng = np.random.default_rng(seed)
    if max_rows is not None and len(frame) > max_rows:
        frame = frame.iloc[np.sort(rng.choice(len(frame), max_rows, replace=False))].reset_index(drop=True)
    targets = ctr_data.targets(frame, spec)
    ctr_data.require_both_classes(ctr_data.class_counts(targets), spec, "importance")  # so 2 rows at least
    y, w = (targets, None) if targets.ndim == 1 else (targets[:, 0], targets[:, 1])
    base = click_metrics(y, model.predict(frame, batch_size=batch_size), w)
    columns: dict[str, list[str]] = {}
    for f in spec.features:
        columns.setdefault(f.source, []).append(f.name)
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


def explain(model: Scorer, data: ctr_data.Source, *, background: ctr_data.Source | None = None,
            permutations: int = 32, seed: int = 0, batch_size: int = 8192, verbose: str | int = 0) -> pd.DataFrame:
    """Why a click model or a recommender (fitted, or loaded with `ctr.load`) scores each row of `data`
    as it does: each input column's share of the row's logit (a recommender's: of its score for the
    row's user and item, whose stored features fill the columns a row lacks, as its `predict` fills
    them), Shapley values against `background` rows (default: the rows themselves).
    For each row, `permutations` orders of the columns (half of them the others reversed), each
    starting from one of `permutations / 2` background rows drawn with `seed` (the same for every
    row), switch one column at a time to the row's value; a column's share is the mean change in
    logit when it switches. One row per row of `data`: the shares, `base_logit` (the drawn background
    rows' mean logit) and `logit` (the row's), or a recommender's `base_score` and `score`, which the
    shares add up to exactly; exact Shapley values (against those rows) when the columns interact in
    pairs at most, as in LogisticRegression, FM and MatrixFactorization. It costs `permutations` x
    (columns + 1) predictions a row; `verbose` 1 or "auto" shows their progress."""
    check_arguments("explain", permutations=permutations, seed=seed, batch_size=batch_size, verbose=verbose)
    if permutations % 2:
        raise ArgumentError(f"explain: permutations must be even (each order is paired with its reverse), got "
                            f"{permutations}")
    recommender = hasattr(model, "catalog_ids")  # scores, not probabilities
    spec = model.spec if recommender and isinstance(getattr(model, "spec", None), FeatureSpec) \
        else _click_spec(model, "explain")
    columns = spec.feature_columns
    hint = ctr_data.column_hints(spec)

    def rows(source: ctr_data.Source) -> pd.DataFrame:
        if not recommender:
            return ctr_data.read(source, columns, hint=hint, dtypes=ctr_data.csv_dtypes(spec))
        read = ctr_data.read(source, dtypes=ctr_data.csv_dtypes(spec))
        # A user id and an item id: their stored features fill the rest, as predict fills them.
        return model.pair_rows(read) if hasattr(model, "pair_rows") else read

    frame = rows(data)
    if recommender:  # the columns the rows hold of those it reads (popularity's: the item id alone)
        columns = [c for c in columns if c in frame.columns]
        frame = ctr_data.read(frame, columns, hint=hint)
    if len(frame) == 0:
        raise DataError("explain: the data has no rows to explain")
    others = frame if background is None else ctr_data.read(rows(background), columns, hint=hint)
    if len(others) == 0:
        raise DataError("explain: the background data has no rows")
    rng = np.random.default_rng(seed)
    n, c, half = len(frame), len(columns), permutations // 2
    orders = np.array([rng.permutation(c) for _ in range(n * half)]).reshape(n, half, c)
    orders = np.concatenate([orders, orders[:, :, ::-1]], axis=1)  # [n, P, C]: each order, then its reverse
    # The same background rows for every row, so that their base is one: an order and its reverse start
    # from one of them.
    drawn = rng.choice(len(others), size=half, replace=len(others) < half)
    drawn = np.broadcast_to(np.concatenate([drawn, drawn]), (n, permutations))
    rank = np.argsort(orders, axis=2)  # [n, P, C]: when each column switches to the row's value
    steps = np.arange(c + 1)  # before any switch, after the first, ..., after the last
    switched = rank[:, :, None, :] < steps[None, None, :, None]  # [n, P, C + 1, C]
    row_of = np.broadcast_to(np.arange(n)[:, None, None], (n, permutations, c + 1)).reshape(-1)
    other_of = np.broadcast_to(drawn[:, :, None], (n, permutations, c + 1)).reshape(-1)
    mixed = pd.DataFrame({column: frame[column].iloc[row_of].reset_index(drop=True).where(
        switched[..., j].reshape(-1), others[column].iloc[other_of].reset_index(drop=True))
        for j, column in enumerate(columns)})
    scores = model.predict(mixed, batch_size=batch_size, verbose=verbose)
    logits = (scores if recommender else logit(scores)).reshape(n, permutations, c + 1)
    changes = np.diff(logits, axis=2)  # [n, P, C]: the change as the k-th column in the order switches
    shares = np.zeros((n, c))
    for j in range(c):
        shares[:, j] = np.take_along_axis(changes, rank[:, :, j:j + 1], axis=2)[..., 0].mean(axis=1)
    table = pd.DataFrame(shares, columns=columns, index=frame.index)
    scale = "score" if recommender else "logit"
    table[f"base_{scale}"] = logits[:, :, 0].mean(axis=1)
    table[scale] = logits[:, 0, -1]
    table.attrs.update(scale=scale, permutations=permutations, seed=seed, background_rows=len(others),
                       background_drawn=len(set(drawn[0].tolist())))
    return table

