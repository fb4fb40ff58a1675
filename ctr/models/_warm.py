"""Warm start: a click model's fit that begins from an earlier model's weights instead of random ones.

The usual use is retraining on a newer window of data. The preprocessing is fitted on the new data as
any fit's is, so ids that are new get rows and ids gone from the window leave; each embedding row is
then carried over from the earlier model by its value (a user id, a genre, a word), not by its index,
and every other weight (MLP, cross layers, bias) is carried as it is. This is TensorFlow Estimator's
`WarmStartSettings` with vocabulary remapping, for every table at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ArgumentError, CtrError
from ..features import Preprocessor
from ._resume import progress
from .embeddings import FieldEmbeddings, table_layout


@dataclass
class Previous:
    """What a warm start reads of the earlier model: its class, settings, fitted preprocessing and weights."""

    name: str  # how messages name it: its export's path, or "the fitted DeepFM"
    model: str
    config: dict[str, Any]
    preprocessor: Preprocessor
    weights: list[tuple[str, np.ndarray]]  # the scorer's trainable variables, by name, in the scorer's order


def previous_model(source: Any, owner: str) -> Previous:
    """The earlier model `source` names: a fitted model, a loaded export (`ctr.load`) or an export's folder."""
    from ..export import load
    from . import TRAINED, untrained_export
    from .base import RankingModel
    from .recommender import Recommender

    if isinstance(source, RankingModel | Recommender):
        if source.network_ is None:
            raise ArgumentError(f"{owner}: warm_start_from is an untrained {type(source).__name__}; it has no "
                                "weights to start from")
        scorer = source.network_.scorer
        return Previous(f"the fitted {type(source).__name__}", type(source).__name__, source.get_config(),
                        source.preprocessor_, [(v.name, v.numpy()) for v in scorer.trainable_variables])
    if isinstance(source, str | Path):
        source = load(source)
    metadata = getattr(source, "metadata", None)
    if not isinstance(metadata, dict) or not hasattr(source, "_loaded"):
        raise ArgumentError(f"{owner}: warm_start_from takes a trained model ({', '.join(TRAINED)}): fitted, loaded "
                            f"with ctr.load, or its export's folder; got {type(source).__name__}")
    if metadata.get("model") not in TRAINED:
        raise ArgumentError(f"{owner}: warm_start_from is {untrained_export(str(metadata.get('model')))}; a trained "
                            f"model's export has ({', '.join(TRAINED)})")
    try:
        scorer = source._loaded.scorer
    except AttributeError:
        raise CtrError(f"{source.path}: the export holds no scorer whose weights a fit could start from; "
                       "export the model again with this version of ctr") from None
    preprocessor = Preprocessor(source.spec, source.metadata["preprocessing"])
    return Previous(str(source.path.resolve()), source.metadata["model"], source.metadata["config"], preprocessor,
                    [(v.name, v.numpy()) for v in scorer.trainable_variables])


def begin(model: Any, source: Any, owner: str) -> Previous | None:
    """What fit(warm_start_from=source) starts `model` from, checked as far as settings go before the pass over
    the data; None without a source."""
    if source is None:
        return None
    if model.network_ is not None:
        raise ArgumentError(f"{owner}: this model is trained, and fit carries on from its weights; "
                            "warm_start_from starts an untrained model from another's")
    previous = previous_model(source, owner)
    check_settings(previous, model, owner)
    return previous


def start(model: Any, previous: Previous, features: Any, owner: str, verbose: str | int) -> None:
    """Make the new network's weights from a few encoded rows and set them from `previous` (before the
    optimizer is built, so that a weight average starts from them); a model they do not fit is left untrained."""
    model.network_.scorer(features)
    try:
        model.warm_start_ = carry(previous, model, owner)
    except CtrError:
        model.network_ = None  # untrained still: not a trained model that fit would carry on
        raise
    progress(verbose, describe(model.warm_start_))


def check_settings(previous: Previous, model: Any, owner: str) -> None:
    """Refuse an earlier model of another class, or whose settings give its weights other shapes."""
    if type(model).__name__ != previous.model:
        raise ArgumentError(f"{owner}: warm_start_from is a {previous.model} ({previous.name}) and this is a "
                            f"{type(model).__name__}; weights carry over only to the same kind of model")
    config = model.get_config()
    changed = [f"{key} {previous.config.get(key)!r} before, {config[key]!r} now" for key in model.weight_settings
               if _plain(previous.config.get(key)) != _plain(config[key])]
    if changed:
        raise ArgumentError(f"{owner}: warm_start_from ({previous.name}) has weights of other shapes ("
                            + "; ".join(changed) + "): start from a model with the same "
                            + ", ".join(model.weight_settings))


def carry(previous: Previous, model: Any, owner: str) -> dict[str, Any]:
    """Set the built, untrained network of `model` from `previous`; returns what was carried (the
    export records it): per table, its rows and those carried, and the other weights carried."""
    from .base import WidePart, wide_apart  # which imports this module

    scorer = model.network_.scorer
    # The fused table of each embedding layer (NeuMF has two, laid out alike), by the variable's identity.
    layers = {id(layer.table): layer for layer in scorer._flatten_layers() if isinstance(layer, FieldEmbeddings)}
    variables = scorer.trainable_variables
    # A wide part (crosses, `wide_only` features) has a table of its own, the scorer's last weight: it is carried
    # by its fields' rows whether or not the earlier model had one (a cross added to the spec, or all removed).
    before = previous.preprocessor
    fields_before = before.fields()
    apart = wide_apart(before.spec, previous.config, getattr(model, "embeds", False))
    wide_before = [f for f in fields_before if f.key in apart]
    weights_before = previous.weights[:-1] if wide_before else previous.weights
    wide = scorer.wide.table if isinstance(scorer, WidePart) else None
    variables = [v for v in variables if v is not wide]
    if len(variables) != len(weights_before):
        raise ArgumentError(_mismatch(previous, model, owner, f"{len(weights_before)} weights before, "
                                                               f"{len(variables)} now"))
    tables: dict[str, list[int]] = {}
    wide_tables = {}
    if wide is not None:
        wide_tables = _carry_table(wide, previous.weights[-1][1] if wide_before else None, before, wide_before,
                                   model, layers[id(wide)])
    others = 0
    for variable, (name, value) in zip(variables, weights_before, strict=True):
        if id(variable) in layers:
            if value.shape[1] != variable.shape[1]:
                raise ArgumentError(_mismatch(previous, model, owner,
                                              f"embeddings {value.shape[1]} wide before, {variable.shape[1]} now"))
            laid_out = [f for f in fields_before if f.key not in apart]
            tables = _carry_table(variable, value, before, laid_out, model, layers[id(variable)])
        elif tuple(value.shape) != tuple(variable.shape):
            raise ArgumentError(_mismatch(previous, model, owner, f"{name} is {list(value.shape)} before, "
                                                                   f"{list(variable.shape)} now"))
        else:
            variable.assign(value)
            others += 1
    return {"from": previous.name, "tables": {**tables, **wide_tables}, "other_weights": others}


def _carry_table(variable: Any, value: np.ndarray | None, before: Preprocessor, fields_before: list[Any], model: Any,
                 embeddings: FieldEmbeddings) -> dict[str, list[int]]:
    """Set a fused table's rows from the earlier model's (`value`, laid out as `fields_before`; None: it had no
    such table, and every row starts afresh); per table of it, [rows carried, rows]."""
    if value is None:
        return {name: [0, rows] for name, rows in embeddings.rows.items()}
    rows, tables = _table_rows(before, model.preprocessor_, embeddings, fields_before)
    fresh = variable.numpy()
    fresh[rows[:, 0]] = value[rows[:, 1]]
    variable.assign(fresh)
    return tables


def describe(carried: dict[str, Any]) -> str:
    """One line saying what a warm start carried over."""
    tables = carried["tables"]
    kept = sum(kept for kept, _ in tables.values())
    total = sum(rows for _, rows in tables.values())
    parts = ", ".join(f"{name} {kept:,}/{rows:,}" for name, (kept, rows) in tables.items())
    others = carried["other_weights"]
    return (f"warm-started from {carried['from']}: {kept:,} of {total:,} embedding rows carried over ({parts}) and "
            f"{others} other weight{'s' if others != 1 else ''}; the rest start afresh")


def _table_rows(before: Preprocessor, now: Preprocessor, embeddings: FieldEmbeddings,
                fields_before: list[Any]) -> tuple[np.ndarray, dict[str, list[int]]]:
    """[n, 2] pairs (row now, row before) in the fused tables (the earlier one laid out as `fields_before`),
    and per table [rows carried, rows]."""
    old_offsets, old_rows = table_layout(fields_before, before.table_sizes())
    old_modes = {f.table: f.mode for f in fields_before}
    modes = {f.table: f.mode for f in now.fields()}
    pairs, report = [], {}
    for name, offset in embeddings.offsets.items():
        rows = embeddings.rows[name]
        if name in old_offsets and old_modes[name] == modes[name]:
            here, there = _matching_rows(before.state["tables"].get(name), now.state["tables"].get(name),
                                         old_rows[name], rows)
            pairs.append(np.stack([here + offset, there + old_offsets[name]], axis=1))
            report[name] = [len(here), rows]
        else:  # a new feature, or one read another way (a number now in quantile buckets)
            report[name] = [0, rows]
    return (np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)), report


def _matching_rows(before: dict[str, Any] | None, now: dict[str, Any] | None, old_rows: int,
                   rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows of one table that mean the same value before and now: (indices now, indices before)."""
    if before is not None and now is not None and "vocabulary" in before and "vocabulary" in now:
        # Row 0 is "missing"; the unseen rows follow, hashed alike only when there are as many.
        shared = 1 + (now["oov_buckets"] if now["oov_buckets"] == before["oov_buckets"] else 0)
        index = {token: i for i, token in enumerate(before["vocabulary"], 1 + before["oov_buckets"])}
        pairs = [(i, index[token]) for i, token in enumerate(now["vocabulary"], 1 + now["oov_buckets"])
                 if token in index]
        here = np.array([*range(shared), *(p[0] for p in pairs)], np.int64)
        there = np.array([*range(shared), *(p[1] for p in pairs)], np.int64)
        return here, there
    # Hash buckets, calendar parts, a number's two vectors, quantile buckets: rows mean what they meant when the
    # table is as long (a value hashes alike; a quantile bucket's bounds are refitted, its rank kept).
    alike = before == now if before is not None and now is not None else before is None and now is None
    same = np.arange(rows if alike and rows == old_rows else 0, dtype=np.int64)
    return same, same


def _mismatch(previous: Previous, model: Any, owner: str, what: str) -> str:
    """Why the earlier model's weights do not fit this one: its features and settings set beside these."""
    old_features = [f.name for f in previous.preprocessor.spec.features]
    new_features = [f.name for f in model.spec.features]
    changes = [f"features added: {', '.join(sorted(set(new_features) - set(old_features)))}"
               if set(new_features) - set(old_features) else "",
               f"features removed: {', '.join(sorted(set(old_features) - set(new_features)))}"
               if set(old_features) - set(new_features) else ""]
    config = model.get_config()
    changes += [f"{key} {previous.config.get(key)!r} before, {value!r} now" for key, value in config.items()
                if _plain(previous.config.get(key)) != _plain(value)]
    said = "; ".join(c for c in changes if c) or "no setting differs"
    return (f"{owner}: warm_start_from ({previous.name}) does not fit this {type(model).__name__} ({what}; {said}): "
            "weights carry over to the same features and settings, apart from vocabularies")


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value

