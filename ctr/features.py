"""Spec + data → fitted preprocessing that lives in Keras layers, and the fields models embed.

`Preprocessor.fit` makes one streaming pass over the training data and keeps only plain,
JSON-able state (vocabularies, means and variances, quantile boundaries). `FeatureEncoder` turns
that state into Keras preprocessing layers (`Lookup`, a leaner `StringLookup`; `Hashing`;
`Standardize`, a fixed `Normalization`; and `Buckets`, a comparison-based `Discretization`) and maps
raw feature values to integer ids and scaled numbers. The same encoder runs once over the training
data (its output cached) and again inside the exported SavedModel, so the served graph needs
nothing but TensorFlow.

Encoded layout, per feature kind (index 0 always means "missing" or "padding"):
  categorical        int64 [B]      0 missing, 1..oov unseen values, then the vocabulary
  multi_categorical  int64 [B, L]   the same ids, padded with 0
                     + float32 [B, L] their weights (`weight_key`), when weighted; 0 for padding
  text               int64 [B, L]   word ids, padded with 0
  numeric            float32 [B, 2] (standardised value or 0 when missing, missing indicator)
  numeric quantile   int64 [B]      0 missing, 1..buckets
  vector             float32 [B, d + 1] (standardised components, or 0 when missing, missing indicator)
  timestamp          int64 [B, P]   one column per calendar part, 0 missing, then part value + 1
  history            int64 [B, H]   item-id indices (the item feature's vocabulary), padded with 0
A categorical with `id_dropout` maps unseen values to 0 (missing) rather than to an OOV bucket.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._keras import float32_layers, keras, tf
from .errors import CtrError, DataError, NotFittedError
from .spec import (
    CROSS_SEPARATOR,
    EPOCH_UNIT_NAMES,
    EPOCH_UNITS,
    TIMESTAMP_PARTS,
    UNSPACED_SCRIPTS,
    Categorical,
    Cross,
    Feature,
    FeatureSpec,
    History,
    MultiCategorical,
    Numeric,
    Text,
    Timestamp,
    Vector,
    raw_dtype,
    time_zones,
    zone_offsets,
    zone_spelled,
)

# int64 inputs (integer ids, timestamps) cannot hold NaN; this value stands for "missing".
MISSING_INT = np.iinfo(np.int64).min
_SCALED_MAX = 100.0  # standardised numbers are clipped to ±100 standard deviations
_QUANTILE_SAMPLE = 200_000  # values kept (reservoir) to place quantile boundaries, whatever the data size

SERVING_DTYPES = {"string": tf.string, "int64": tf.int64, "float32": tf.float32}


def raw_signature(spec: FeatureSpec, names: Iterable[str] | None = None) -> dict[str, tf.TensorSpec]:
    """One typed, batched input per feature (or per feature in `names`): a serving signature."""
    wanted = None if names is None else set(names)
    return {f.name: tf.TensorSpec(raw_shape(f), SERVING_DTYPES[raw_dtype(f)], name=f.name)
            for f in spec.features if wanted is None or f.name in wanted}


def raw_shape(feature: Feature) -> list[int | None]:
    """The shape of a feature's raw serving input: one value per row, or a vector's `dim` numbers per row."""
    return [None, feature.dim] if isinstance(feature, Vector) else [None]


def empty_raw(signature: Mapping[str, tf.TensorSpec]) -> dict[str, tf.Tensor]:
    """An input of no rows for each of a signature's: what a network's variables or an encoding's keys are made from."""
    return {name: tf.zeros([0, *spec.shape[1:]], spec.dtype) for name, spec in signature.items()}


def raw_tensors(raw: Mapping[str, np.ndarray], spec: FeatureSpec) -> dict[str, tf.Tensor]:
    """Raw feature arrays (`data.raw_features`) as tensors of their serving dtypes, ready for a signature."""
    return {name: tf.constant(values, SERVING_DTYPES[raw_dtype(spec[name])]) for name, values in raw.items()}


# -- tokenisers: the same TensorFlow ops fit the vocabulary and serve, so the two always agree ----
def split_multi(values: tf.Tensor, feature: MultiCategorical | History, truncate: bool = True) -> tf.RaggedTensor:
    """Each row's tokens (the first `max_length`; all of them without `truncate`, for a caller that pads
    to `max_length` anyway: slicing a ragged tensor is eight ops of a served call's hundred or so)."""
    # A regex rather than tf.strings.strip: ONNX (through onnxruntime-extensions) has the former.
    tokens = tf.strings.regex_replace(tf.strings.split(values, feature.separator), r"^\s+|\s+$", "")
    return tokens[:, : feature.max_length] if truncate else tokens


# A weight as a weighted bag's ids carry it (`Action:0.7`): a non-negative decimal, which
# `tf.strings.to_number` always parses (ONNX runtimes have no regex match to test text with first).
WEIGHT_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
WEIGHT_MAX = 1e9  # a larger weight is read as this: beyond float32's range it would be inf, and inf × 0 is NaN


def weight_key(name: str) -> str:
    """The encoded input holding a weighted bag's weights, beside its ids under `name`: no feature's name (a
    name has no '.'), and one a variable can be named by (the item table inside the graph holds it)."""
    return f"{name}.weights"


def split_weights(tokens: tf.RaggedTensor,
                  feature: MultiCategorical | History) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
    """A weighted bag's (or history's) tokens (`split_multi`'s) as (the ids, their weights):
    `id<weight_separator>weight` gives the id and the weight; a token without a weight (or whose weight
    is no non-negative number) is an id of weight 1."""
    weighted = weighted_token(feature)
    ids = tf.strings.regex_replace(tokens, f"(?s)^{weighted}$", r"\1")  # no match: the token as it is
    # The weight's text, or nothing where there is none (the second alternative), which reads 1.
    text = tf.strings.regex_replace(tf.strings.regex_replace(tokens, f"(?s)^(?:{weighted}|.*)$", r"\2"), "^$", "1")
    weights = tf.minimum(tf.strings.to_number(text, tf.float32), WEIGHT_MAX)
    return ids, weights


def weighted_token(feature: MultiCategorical | History) -> str:
    """The regular expression (RE2's and Python's) of a token with a weight: the id, then the weight."""
    return rf"(.*?)\s*{re.escape(feature.weight_separator)}\s*({WEIGHT_NUMBER})"


def bag_ids(text: str, feature: MultiCategorical | History) -> list[str]:
    """One row's distinct-able ids as `split_ids` reads them, in Python: split, stripped, without their
    weights, empty ones left out (inspection and slices count them)."""
    tokens = (t.strip() for t in text.split(feature.separator))
    if feature.weighted:
        weighted = re.compile(f"(?s){weighted_token(feature)}")
        tokens = ((match[1] if (match := weighted.fullmatch(t)) else t) for t in tokens)
    return [t for t in tokens if t]


_UNSPACED = "[" + "".join(f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in UNSPACED_SCRIPTS) + "]"  # in RE2's syntax


def split_text(values: tf.Tensor, feature: Text, truncate: bool = True) -> tf.RaggedTensor:
    """Each row's words, lower-cased, without punctuation, each Chinese or Japanese character a word of its
    own (`spec.UNSPACED_SCRIPTS`); the first `max_length`, as `split_multi`."""
    lowered = tf.strings.lower(values, encoding="utf-8")
    characters = tf.strings.regex_replace(lowered, f"({_UNSPACED})", r" \1 ")
    # Punctuation (ASCII's and Unicode's: '«', '—', '。') and runs of white space become one space,
    # trimmed, then split on " ": the same words as a white-space split, in ops that ONNX runtimes
    # implement the same way.
    spaced = tf.strings.regex_replace(characters, r"[[:punct:][:space:]\pP\pZ]+", " ")
    trimmed = tf.strings.regex_replace(spaced, r"^ | $", "")
    words = tf.strings.split(trimmed, " ")
    return words[:, : feature.max_length] if truncate else words


def split_ids(values: tf.Tensor, feature: MultiCategorical | History | Text,
              truncate: bool = True) -> tf.RaggedTensor:
    """Each row's ids, as a vocabulary reads them: a bag's (or history's) tokens without their weights, or a
    text's words."""
    if isinstance(feature, Text):
        return split_text(values, feature, truncate)
    tokens = split_multi(values, feature, truncate)
    return split_weights(tokens, feature)[0] if feature.weighted else tokens


def bag_weights(values: np.ndarray, feature: MultiCategorical | History) -> tuple[np.ndarray, np.ndarray]:
    """A weighted bag's (or history's) present ids in a chunk of raw values (the first `max_length` of each
    row), flat, and their weights: what fitting counts and keeps the weights' mean of, and what inspection
    compares."""
    ids, weights = split_weights(split_multi(tf.constant(values, dtype=tf.string), feature), feature)
    ids, weights = ids.flat_values.numpy(), weights.flat_values.numpy()
    present = ids != b""
    return ids[present], weights[present]


def _tokens(values: np.ndarray, feature: Feature) -> np.ndarray:
    """Flat array of the tokens a multi-valued or text feature yields for a chunk of raw values."""
    return split_ids(tf.constant(values, dtype=tf.string), feature).flat_values.numpy()


def missing_mask(values: np.ndarray) -> np.ndarray:
    """Which of a feature's canonical raw values (`data.raw_features`) are missing: '', MISSING_INT, NaN
    or ±inf (in any of a vector's components), as the encoder reads them."""
    if values.dtype == object:
        return values == ""
    if values.dtype == np.int64:
        return values == MISSING_INT
    finite = np.isfinite(values)
    return ~finite.all(axis=1) if values.ndim == 2 else ~finite


def _id_strings(values: tf.Tensor, feature: Categorical) -> tf.Tensor:
    if feature.dtype != "int":
        return values
    if feature.hash_buckets:  # the hash's mask is ""; a vocabulary `Lookup` knows MISSING_INT's text
        return _int_text(values)
    return tf.strings.as_string(values)


def _int_text(values: tf.Tensor) -> tf.Tensor:
    """Integer ids as text, "" where missing (MISSING_INT)."""
    return tf.where(values == MISSING_INT, "", tf.strings.as_string(values))


def cross_tokens(inputs: Mapping[str, tf.Tensor], cross: Cross, spec: FeatureSpec,
                 numeric: Mapping[str, Any]) -> tf.Tensor | tf.RaggedTensor:
    """A cross's tokens, its features' values joined ('F × Comedy'): one a row ('' where a value is missing),
    or with a multi-valued feature each row's combinations (none where one has no value). `numeric` holds
    the fitted boundaries of its numbers, whose bucket it reads ('age 25–35')."""
    # Each feature's values as [batch, n] ('' for none); the combinations as the grid of those, row by row.
    # (Not tf.sparse.cross: ONNX has no conversion of it, and these ops convert.)
    combined: tf.Tensor | None = None
    for name in cross.features:
        f, x = spec[name], inputs[name]
        if isinstance(f, MultiCategorical):
            values = split_ids(x, f).to_tensor(default_value="")
        elif isinstance(f, Numeric):
            clean, missing = _finite(x)
            boundaries = numeric[name]["boundaries"]
            labels = tf.constant(bucket_labels(name, boundaries))
            values = tf.where(missing, "", tf.gather(labels, bucket_of(clean, boundaries)))[:, None]
        elif f.dtype == "int":
            values = _int_text(x)[:, None]
        else:
            values = x[:, None]
        if combined is None:
            combined = values
            continue
        rows, width = tf.shape(x)[0], tf.shape(combined)[1] * tf.shape(values)[1]
        shape = tf.stack([rows, tf.shape(combined)[1], tf.shape(values)[1]])
        before, after = tf.broadcast_to(combined[:, :, None], shape), tf.broadcast_to(values[:, None, :], shape)
        joined = tf.where((before != "") & (after != ""),
                          tf.strings.join([before, after], separator=CROSS_SEPARATOR), "")
        combined = tf.reshape(joined, tf.stack([rows, width]))  # not [-1, width]: width may be 0 (no bag has ids)
    if spec.cross_length(cross) is None:
        return combined[:, 0]
    return tf.ragged.boolean_mask(combined, combined != "")


def bucket_of(x: tf.Tensor, boundaries: list[float]) -> tf.Tensor:
    """Each value's quantile bucket: how many boundaries it reaches (0 to len(boundaries))."""
    edges = tf.constant(boundaries, x.dtype)
    return tf.reduce_sum(tf.cast(x[:, None] >= edges[None, :], tf.int64), axis=1)


def bucket_labels(name: str, boundaries: list[float]) -> list[str]:
    """What each quantile bucket of a number holds, as a cross's tokens say it: 'age < 18', 'age 18–25', 'age ≥ 50'."""
    if not boundaries:
        return [name]
    return ([f"{name} < {boundaries[0]:g}"] + [f"{name} {a:g}–{b:g}" for a, b in itertools.pairwise(boundaries)]
            + [f"{name} ≥ {boundaries[-1]:g}"])


# -- fitting ------------------------------------------------------------------------------------
class _Counts:
    """Token counts for one vocabulary; bounded by the number of distinct values."""

    def __init__(self) -> None:
        self.counts: dict[Any, int] = {}
        self.unseen = 0.0  # set by vocabulary()

    def add(self, values: np.ndarray) -> None:
        # A hash count: np.unique sorts, and sorting Python strings was over half of fitting the
        # preprocessing on the synthetic million rows.
        counts = pd.Series(values, copy=False).value_counts(sort=False, dropna=False)
        for value, count in zip(counts.index.tolist(), counts.tolist(), strict=True):
            self.counts[value] = self.counts.get(value, 0) + count

    def vocabulary(self, min_count: int, max_tokens: int | None) -> list[str]:
        merged: dict[str, int] = {}
        for value, count in self.counts.items():  # tokens arrive as bytes from TF, ids as str or int
            text = token_text(value)
            merged[text] = merged.get(text, 0) + count
        kept = [(c, v) for v, c in merged.items() if c >= min_count and v != ""]
        kept.sort(key=lambda cv: (-cv[0], cv[1]))  # most frequent first, ties by value: deterministic
        present = sum(merged.values()) - merged.get("", 0)
        # The share of the values the vocabulary leaves out (min_count, max_tokens), which the model
        # serves as unseen in its own training data: data met later is set beside it (inspect_data).
        self.unseen = 1.0 - sum(c for c, _ in kept[:max_tokens]) / present if present else 0.0
        return [v for _, v in kept[:max_tokens]]


def _merged_moments(n: int, mean: Any, m2: Any, x: np.ndarray) -> tuple[int, Any, Any]:
    """(count, mean, sum of squared deviations) of the values so far merged with the rows of `x` (Chan et al.);
    per column for a 2-D `x` (a vector's components)."""
    rows, batch_mean = len(x), x.mean(axis=0)
    batch_m2 = ((x - batch_mean) ** 2).sum(axis=0)
    total = n + rows
    delta = batch_mean - mean
    return total, mean + delta * rows / total, m2 + batch_m2 + delta**2 * n * rows / total


class _Moments:
    """Count, mean and variance of the finite values seen, merged chunk by chunk (Chan et al.)."""

    def __init__(self, transform: str, seed: int) -> None:
        self.transform, self.n, self.mean, self.m2 = transform, 0, 0.0, 0.0
        self.sample, self.keys = np.empty(0), np.empty(0)
        self.rng = np.random.default_rng(seed)

    def add(self, values: np.ndarray) -> None:
        x = values.astype(np.float64)
        x = x[np.isfinite(x)]
        if self.transform == "log":
            x = np.sign(x) * np.log(1.0 + np.abs(x))
        if x.size == 0:
            return
        self.n, self.mean, self.m2 = _merged_moments(self.n, self.mean, self.m2, x)
        if self.transform == "quantile":
            self._reservoir(x)

    def _reservoir(self, x: np.ndarray) -> None:
        # A uniform sample of bounded size: keep the values with the smallest random keys.
        pool = np.concatenate([self.sample, x])
        keys = np.concatenate([self.keys, self.rng.random(x.size)])
        if pool.size > _QUANTILE_SAMPLE:
            keep = np.argpartition(keys, _QUANTILE_SAMPLE)[:_QUANTILE_SAMPLE]
            pool, keys = pool[keep], keys[keep]
        self.sample, self.keys = pool, keys

    def state(self, feature: Numeric) -> dict[str, Any]:
        if self.n == 0:
            raise DataError(f"feature {feature.name!r} (column {feature.source!r}): no finite value in the "
                            "training data, so it cannot be scaled; drop it from the spec or fill the column")
        variance = self.m2 / self.n
        moments = {"mean": self.mean, "variance": variance if variance > 0 else 1.0}
        if feature.transform == "quantile":  # its moments only describe the data (inspect_data's skew)
            qs = np.quantile(self.sample, np.linspace(0, 1, feature.buckets + 1)[1:-1])
            return {"boundaries": sorted({float(q) for q in qs}), **moments}
        return moments


class _VectorMoments:
    """Count, mean and variance of each component over the rows whose vector is whole (all finite)."""

    def __init__(self, dim: int) -> None:
        self.n, self.mean, self.m2 = 0, np.zeros(dim), np.zeros(dim)

    def add(self, values: np.ndarray) -> None:
        x = values.astype(np.float64)
        x = x[np.isfinite(x).all(axis=1)]
        if len(x):
            self.n, self.mean, self.m2 = _merged_moments(self.n, self.mean, self.m2, x)

    def state(self, feature: Vector) -> dict[str, Any]:
        if self.n == 0:
            raise DataError(f"feature {feature.name!r} (vector, column {feature.source!r}): no row of the training "
                            "data has a whole vector (every one is missing or holds NaN), so it cannot be scaled; "
                            "drop it from the spec or fill the column")
        variance = self.m2 / self.n
        return {"mean": self.mean.tolist(), "variance": np.where(variance > 0, variance, 1.0).tolist()}


@dataclass
class Preprocessor:
    """Fitted preprocessing state for a spec: vocabularies and scaling, as plain JSON-able data."""

    spec: FeatureSpec
    state: dict[str, Any] | None = None

    @property
    def fitted(self) -> bool:
        return self.state is not None

    def fit(self, chunks: Iterable[Mapping[str, np.ndarray]] | Callable[[], Iterable[Mapping[str, np.ndarray]]],
            seed: int = 0) -> Preprocessor:
        """One pass over raw feature chunks (name → canonical numpy array, as `data.raw_features` gives
        them, timestamps' units checked); memory stays bounded. A cross of a number's quantile buckets counts
        its combinations in a second pass, once the buckets are known: `chunks` is then a list, or a
        function returning the chunks again."""
        source = chunks
        chunks = source() if callable(source) else source
        vocabulary_crosses = [c for c in self.spec.crosses if c.hash_buckets is None]
        # Crosses of ids (and bags) are counted in the first pass; those reading a number's bucket, after it.
        later = [c for c in vocabulary_crosses if any(isinstance(self.spec[n], Numeric) for n in c.features)]
        if later and not callable(source) and iter(source) is source:
            raise CtrError(f"cross {later[0].key!r} reads the quantile buckets of a number, fitted in the first pass "
                           "over the data, and counts its combinations in a second: give fit a list of chunks or a "
                           "function returning them, not an iterator")
        cross_counts = {c.key: _Counts() for c in vocabulary_crosses}
        groups = self.spec.embedding_groups()
        counts = {g: _Counts() for g, members in groups.items() if not _hashed(members[0])}
        moments: dict[str, _Moments | _VectorMoments] = {
            f.name: _Moments(f.transform, seed) if isinstance(f, Numeric) else _VectorMoments(f.dim)
            for f in self.spec.features if isinstance(f, Numeric | Vector)}
        absent = dict.fromkeys((f.name for f in self.spec.features), 0)
        weighted = [f for f in self.spec.features if isinstance(f, MultiCategorical | History) and f.weighted]
        weight_sums = {f.name: np.zeros(2) for f in weighted}  # the weights' sum, the ids'
        rows = 0
        for chunk in chunks:
            rows += len(next(iter(chunk.values()))) if chunk else 0
            for name in absent:  # kept so that data met later can be set beside it (inspect_data's skew)
                absent[name] += int(np.count_nonzero(missing_mask(chunk[name])))
            bags = {f.name: bag_weights(chunk[f.name], f) for f in weighted}
            for name, (ids, weights) in bags.items():  # kept, as the missing shares, for inspect_data's skew
                weight_sums[name] += [weights.sum(dtype=np.float64), len(ids)]
            for group, counter in counts.items():
                for f in groups[group]:
                    values = chunk[f.name]
                    if f.name in bags:
                        counter.add(bags[f.name][0])
                    elif isinstance(f, MultiCategorical | Text):
                        counter.add(_tokens(values, f))
                    else:
                        counter.add(values[values != MISSING_INT] if f.dtype == "int" else values)
            for name, moment in moments.items():
                moment.add(chunk[name])
            for c in vocabulary_crosses:
                if c not in later:
                    cross_counts[c.key].add(self._cross_tokens(chunk, c, {}))
        if rows == 0:
            raise DataError("the training data has no rows; preprocessing cannot be fitted on nothing")
        tables: dict[str, Any] = {}
        for group, members in groups.items():
            first = members[0]
            if _hashed(first):
                tables[group] = {"hash_buckets": first.hash_buckets}
                continue
            vocab = counts[group].vocabulary(
                min(m.min_count for m in members), _max_tokens(members))
            if not vocab:
                names = ", ".join(repr(m.name) for m in members)
                raise DataError(f"feature {names}: no value occurs at least min_count="
                                f"{first.min_count} times in the {rows} training rows, so there is no vocabulary")
            tables[group] = {"vocabulary": vocab, "oov_buckets": max(m.oov_buckets for m in members),
                             "unseen": counts[group].unseen}
        for f in self.spec.features:
            if isinstance(f, History) and f.weighted:
                _refuse_ids_read_as_weighted(f, self.spec[f.items], tables)
        numeric = {f.name: moments[f.name].state(f) for f in self.spec.features if isinstance(f, Numeric | Vector)}
        if later:  # the second pass
            for chunk in source() if callable(source) else source:
                for c in later:
                    cross_counts[c.key].add(self._cross_tokens(chunk, c, numeric))
        for c in self.spec.crosses:
            if c.hash_buckets is not None:
                tables[c.key] = {"hash_buckets": c.hash_buckets}
                continue
            vocab = cross_counts[c.key].vocabulary(c.min_count, c.max_tokens)
            if not vocab:
                raise DataError(f"cross {c.key!r} ({CROSS_SEPARATOR.join(c.features)}): no combination occurs at least "
                                f"min_count={c.min_count} times in the {rows} training rows, so there is no vocabulary")
            tables[c.key] = {"vocabulary": vocab, "oov_buckets": c.oov_buckets, "unseen": cross_counts[c.key].unseen}
        self.state = {"tables": tables, "numeric": numeric, "rows": rows,
                      "missing": {name: count / rows for name, count in absent.items()}}
        if weighted:
            self.state["weights"] = {name: {"mean": float(total / max(count, 1))}
                                     for name, (total, count) in weight_sums.items()}
        zones = {f.name: self._zones(f, tables) for f in self.spec.features
                 if isinstance(f, Timestamp) and f.timezone_feature}
        if zones:
            self.state["zones"] = zones
        return self

    def _cross_tokens(self, chunk: Mapping[str, np.ndarray], cross: Cross, numeric: Mapping[str, Any]) -> np.ndarray:
        """A chunk's tokens of `cross`, flat, as the graph makes them (`cross_tokens`): what fitting counts."""
        tokens = cross_tokens(raw_tensors({n: chunk[n] for n in cross.features}, self.spec), cross, self.spec, numeric)
        return (tokens.flat_values if isinstance(tokens, tf.RaggedTensor) else tokens).numpy()

    def _zones(self, f: Timestamp, tables: dict[str, Any]) -> dict[str, list]:
        """The offsets of each zone in the vocabulary of the feature `f` reads its rows' zones from, kept
        in the state: the export serves the offsets it was trained with, whatever zone database it meets."""
        source = self.spec[f.timezone_feature]
        names = tables[source.shared_embedding or source.name]["vocabulary"]
        bad = [name for name in names if name not in time_zones()]
        if bad:
            def hint(name: str) -> str:
                spelled = zone_spelled(name)
                return f"{readable(name)!r}" + (f" (did you mean {spelled!r}?)" if spelled else "")

            hints = "; ".join(hint(name) for name in bad[:5])
            raise DataError(f"feature {f.name!r} reads each row's time zone from {source.name!r} (column "
                            f"{source.source!r}), whose values must be IANA time zones such as 'Europe/Berlin' or "
                            f"'America/New_York'; it holds {len(bad)} that are not: {hints}. Correct them, or make "
                            "them missing (read as UTC)")
        pairs = [zone_offsets(name) for name in names]
        return {"names": names, "instants": [p[0] for p in pairs], "offsets": [p[1] for p in pairs]}

    def table_sizes(self) -> dict[str, int]:
        """Rows each embedding table needs: missing + OOV + vocabulary (or hash buckets + missing)."""
        state = self._require()
        sizes = {}
        for group, table in state["tables"].items():
            if "hash_buckets" in table:
                sizes[group] = table["hash_buckets"] + 1
            else:
                sizes[group] = 1 + table["oov_buckets"] + len(table["vocabulary"])
        for f in self.spec.features:
            if isinstance(f, Numeric) and f.transform == "quantile":
                sizes[f.name] = len(state["numeric"][f.name]["boundaries"]) + 2
            elif isinstance(f, Timestamp):
                for part in f.parts:
                    sizes[f"{f.name}_{part}"] = TIMESTAMP_PARTS[part] + 1
        return sizes

    def fields(self) -> list[Field]:
        """The fields a model embeds, one per feature (one per calendar part for timestamps)."""
        self._require()
        out = []
        for f in self.spec.features:
            if isinstance(f, Categorical):
                out.append(Field(f.name, f.name, "id", f.shared_embedding or f.name, f.role, dropout=f.id_dropout))
            elif isinstance(f, History):
                items = self.spec[f.items]
                out.append(Field(f.name, f.name, "history", items.shared_embedding or items.name, f.role,
                                 combiner=f.pooling, weights=weight_key(f.name) if f.weighted else None))
            elif isinstance(f, MultiCategorical | Text):
                weights = weight_key(f.name) if isinstance(f, MultiCategorical) and f.weighted else None
                out.append(Field(f.name, f.name, "bag", f.shared_embedding or f.name, f.role, combiner=f.combiner,
                                 length=f.max_length, weights=weights))
            elif isinstance(f, Numeric):
                if f.transform == "quantile":
                    out.append(Field(f.name, f.name, "id", f.name, f.role))
                else:
                    out.append(Field(f.name, f.name, "dense", f.name, f.role, length=2))
            elif isinstance(f, Vector):
                out.append(Field(f.name, f.name, "dense", f.name, f.role, length=f.dim + 1))
            elif isinstance(f, Timestamp):
                out += [Field(f"{f.name}_{p}", f.name, "id", f"{f.name}_{p}", f.role, column=j)
                        for j, p in enumerate(f.parts)]
        for c in self.spec.crosses:
            length = self.spec.cross_length(c)
            out.append(Field(c.key, c.key, "id" if length is None else "bag", c.key, self.spec.cross_role(c),
                             length=length or 1))
        return out

    def encoder(self, names: Iterable[str] | None = None) -> FeatureEncoder:
        """A fresh Keras layer holding this state, mapping raw feature tensors to encoded ones;
        for only the features in `names` when given (a user tower reads only user features)."""
        state = self._require()
        with float32_layers():
            return self._encoder(state, names)

    def _encoder(self, state: dict, names: Iterable[str] | None) -> FeatureEncoder:
        if names is None:
            return FeatureEncoder(self.spec.to_dict(), state)
        wanted = set(names)
        # A history needs its item feature in the spec (and its table), though only `names` are encoded;
        # a timestamp read in each row's zone, its zone's feature (on its side, so in `names` as well).
        needed = wanted | {f.items for f in self.spec.features if isinstance(f, History) and f.name in wanted} | {
            f.timezone_feature for f in self.spec.features
            if isinstance(f, Timestamp) and f.timezone_feature and f.name in wanted}
        features = [f for f in self.spec.features if f.name in needed]
        # A cross is made where all its features are read: a tower's of its side.
        crosses = tuple(c for c in self.spec.crosses if set(c.features) <= wanted)
        sub = FeatureSpec(features=tuple(features), name=self.spec.name, crosses=crosses)
        tables = {f.shared_embedding or f.name for f in features} | {c.key for c in crosses}
        sub_state = {**state, "tables": {g: t for g, t in state["tables"].items() if g in tables},
                     "numeric": {n: s for n, s in state["numeric"].items() if n in wanted}}
        return FeatureEncoder(sub.to_dict(), sub_state, only=sorted(wanted | {c.key for c in crosses}))

    def item_content(self, chunks: Iterable[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray] | None:
        """For a spec with a history: every item's encoded item features as arrays indexed by the item
        id's encoded index (the first row seen of each item), and `known` (1.0 for items with content).
        None when the spec has no history. One pass over raw chunks; memory grows with the items."""
        histories = [f for f in self.spec.features if isinstance(f, History)]
        if not histories:
            return None
        targets = {f.items for f in histories}
        if len(targets) > 1:
            raise DataError(f"the histories list ids of different item features ({sorted(targets)}); use one")
        items = self.spec[targets.pop()]
        names = [f.name for f in self.spec.features if f.role == "item" and not isinstance(f, History)]
        seen: set[str] = set()
        parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
        for chunk in chunks:
            ids = np.asarray(chunk[items.name]).astype(str)
            _, first = np.unique(ids, return_index=True)
            new = np.array([i for i in np.sort(first) if ids[i] not in seen], dtype=np.int64)
            seen.update(ids[new])
            for n in names:
                parts[n].append(np.asarray(chunk[n])[new])
        raw = {n: tf.constant(np.concatenate(v)) for n, v in parts.items()}
        encoded = {k: v.numpy() for k, v in self.encoder(names)(raw).items()}
        rows = self.table_sizes()[items.shared_embedding or items.name]
        index = encoded[items.name]
        keep = index > (0 if items.id_dropout else items.oov_buckets)  # unseen or rare ids have no row
        content = {}
        for key, values in encoded.items():
            if key == items.name:
                continue
            table = np.zeros((rows, *values.shape[1:]), values.dtype)
            table[index[keep]] = values[keep]
            content[key] = table
        known = np.zeros(rows, np.float32)
        known[index[keep]] = 1.0
        content["known"] = known
        return content

    def to_json(self) -> str:
        return json.dumps({"spec": self.spec.to_dict(), "state": self._require()})

    @classmethod
    def from_json(cls, text: str) -> Preprocessor:
        raw = json.loads(text)
        return cls(FeatureSpec.from_dict(raw["spec"]), raw["state"])

    def _require(self) -> dict[str, Any]:
        if self.state is None:
            raise NotFittedError("the preprocessing is not fitted yet; call fit(data) first")
        return self.state


@dataclass(frozen=True)
class Field:
    """One embedded field: which encoded input it reads, how, and which table holds its vectors.

    mode: 'id' (one index), 'bag' (padded indices, pooled with `combiner`), 'dense' (a number's scaled
    value or a vector's components, then a missing flag, each multiplying a learned vector) or 'history'
    (item indices whose content is embedded with the item fields and pooled; `table` is the item-id table).
    """

    name: str
    key: str
    mode: str
    table: str
    role: str
    combiner: str = "mean"  # bags: mean/sum/sqrtn; histories: mean/attention
    column: int | None = None  # timestamp part: column of the encoded [B, P] tensor
    dropout: float = 0.0  # ids: probability, in training, of reading the id as missing
    length: int = 1  # bags: the padded length (the spec's max_length); dense: the encoded width (its table's rows)
    weights: str | None = None  # weighted bags: the encoded input of each position's weight


class FeatureEncoder(keras.layers.Layer):
    """Raw feature tensors → encoded ids and scaled values, with all fitted state in Keras layers."""

    def __init__(self, spec: dict[str, Any], state: dict[str, Any], only: list[str] | None = None, **kwargs: Any):
        super().__init__(trainable=False, **kwargs)
        self._spec_dict, self._state, self._only = spec, state, only
        self.spec = FeatureSpec.from_dict(spec)
        self.encoded = [f for f in self.spec.features if only is None or f.name in only]
        self.crosses = [c for c in self.spec.crosses if only is None or c.key in only]
        self.lookups = {}
        integer_ids = {f.shared_embedding or f.name for f in self.spec.features
                       if isinstance(f, Categorical) and f.dtype == "int"}
        for group, table in state["tables"].items():
            if "hash_buckets" in table:
                self.lookups[group] = keras.layers.Hashing(table["hash_buckets"] + 1, mask_value="")
            else:
                self.lookups[group] = Lookup(table["vocabulary"], table["oov_buckets"], group in integer_ids)
        self.scalers = {}
        for f in self.spec.features:
            if isinstance(f, Numeric):
                s = state["numeric"][f.name]
                if f.transform == "quantile":
                    self.scalers[f.name] = Buckets(s["boundaries"])
                else:
                    self.scalers[f.name] = Standardize(s["mean"], s["variance"])
            elif isinstance(f, Vector) and f.transform == "standardize":
                s = state["numeric"][f.name]
                self.scalers[f.name] = Standardize(s["mean"], s["variance"])
        self.zones = {name: ZoneOffsets(**zones) for name, zones in state.get("zones", {}).items()}

    def call(self, inputs: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        out = {}
        for f in self.encoded:
            x = inputs[f.name]
            if isinstance(f, Categorical):
                ids = self.lookups[f.shared_embedding or f.name](_id_strings(x, f))
                if f.id_dropout:  # unseen ids read as missing: the vector the model learned for "no id"
                    ids = tf.where(ids <= f.oov_buckets, tf.zeros_like(ids), ids)
                out[f.name] = ids
            elif isinstance(f, History | MultiCategorical | Text):
                weighted = isinstance(f, History | MultiCategorical) and f.weighted
                tokens, weights = (split_weights(split_multi(x, f, truncate=False), f) if weighted else
                                   (split_ids(x, f, truncate=False), None))
                # A history's ids are its item feature's, looked up in that feature's table.
                table = self.spec[f.items] if isinstance(f, History) else f
                ids = self.lookups[table.shared_embedding or table.name](tokens)
                # Padded to, and cut at, max_length: to_tensor with a shape keeps each row's first ids.
                out[f.name] = ids.to_tensor(default_value=0, shape=[None, f.max_length])
                if weights is not None:
                    out[weight_key(f.name)] = weights.to_tensor(default_value=0.0, shape=[None, f.max_length])
            elif isinstance(f, Numeric):
                out[f.name] = self._numeric(x, f)
            elif isinstance(f, Vector):
                out[f.name] = self._vector(x, f)
            elif isinstance(f, Timestamp):
                zone = inputs[f.timezone_feature] if f.name in self.zones else None
                out[f.name] = _calendar_parts(x, f, None if zone is None else functools.partial(self.zones[f.name],
                                                                                             zones=zone))
        for c in self.crosses:
            ids = self.lookups[c.key](cross_tokens(inputs, c, self.spec, self._state["numeric"]))
            length = self.spec.cross_length(c)
            out[c.key] = ids if length is None else ids.to_tensor(default_value=0, shape=[None, length])
        return out

    def _numeric(self, x: tf.Tensor, f: Numeric) -> tf.Tensor:
        # NaN and infinities are missing: filled (0 after scaling, bucket 0) and flagged.
        clean, missing = _finite(x)
        if f.transform == "quantile":
            return tf.where(missing, tf.constant(0, tf.int64), self.scalers[f.name](clean) + 1)
        if f.transform == "log":
            clean = tf.sign(clean) * tf.math.log(1.0 + tf.abs(clean))  # not log1p: ONNX has no Log1p
        # Bounded: an absurd value (1e20 years) must not overflow the model's products into NaN.
        bounded_scaled = tf.clip_by_value(self.scalers[f.name](clean), -_SCALED_MAX, _SCALED_MAX)
        scaled = tf.where(missing, tf.constant(0.0, clean.dtype), bounded_scaled)
        return tf.stack([scaled, tf.cast(missing, tf.float32)], axis=-1)

    def _vector(self, x: tf.Tensor, f: Vector) -> tf.Tensor:
        # A row with a NaN or infinite component is missing as a whole (a broken embedding is no embedding).
        clean, not_finite = _finite(x)
        missing = tf.reduce_any(not_finite, axis=1, keepdims=True)
        scaled = self.scalers[f.name](clean) if f.name in self.scalers else clean
        bounded = tf.clip_by_value(scaled, -_SCALED_MAX, _SCALED_MAX)
        flag = tf.cast(missing, tf.float32)
        return tf.concat([bounded * (1.0 - flag), flag], axis=1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "spec": self._spec_dict, "state": self._state, "only": self._only}


def _finite(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(x with NaN and ±inf as 0, where they were). Written for converters: tf2onnx keeps a real select only
    when its test is a literal `x != x` or an IsInf and otherwise lowers tf.where to multiplications,
    through which NaN (and 0 * inf) would leak."""
    is_nan = tf.not_equal(x, x)
    no_nan = tf.where(is_nan, tf.constant(0.0, x.dtype), x)
    is_inf = tf.math.is_inf(no_nan)
    return tf.where(is_inf, tf.constant(0.0, x.dtype), no_nan), tf.logical_or(is_nan, is_inf)


def traced_encoder(encoder: FeatureEncoder, signature: Mapping[str, tf.TensorSpec]) -> Any:
    """A fitted encoder as a reusable tf.function over raw tensors. Traced without autograph: its
    Python loops run over features, never over tensors, and autograph's rewriting was most of the
    trace (MovieLens 100K's spec: 0.6 s → 0.12 s), which made eager encoding not worth having."""
    return own_function(encoder.__call__, input_signature=[dict(signature)], autograph=False)


def own_function(python_function: Callable[..., Any], **options: Any) -> Any:
    """`tf.function(python_function, **options)` whose traces TensorFlow's retracing warning counts on
    their own. It counts them per code object, so a function made from one `def` for each model (our
    step loop, Keras' predict function, an encoder's `__call__`) shares one count: a few models in a
    session, each tracing once or twice, read as "excessive retracing" (tensorflow/tensorflow#42441).
    A `functools.partial` has no code object, so TensorFlow keys the count on the partial itself.
    With an `input_signature` it is traced here: threads that call it first at once would each trace it."""
    function = tf.function(functools.partial(python_function), **options)
    if options.get("input_signature") is not None:
        function.get_concrete_function()
    return function


class Lookup(keras.layers.Layer):
    """Token → index as Keras' `StringLookup(vocabulary, mask_token="", num_oov_indices=oov)`: 0 for ""
    (missing), 1..oov for unseen tokens (hashed among them when oov > 1), then the vocabulary. With
    one OOV index this is one table lookup, where StringLookup adds a mask test, a select and an
    identity: at batch 1 every op of the served graph costs about as much as its work. With
    `integer_ids`, MISSING_INT's text is missing too, so integer ids need no select of their own."""

    def __init__(self, vocabulary: list[str], oov: int, integer_ids: bool = False, **kwargs: Any):
        super().__init__(trainable=False, **kwargs)
        self.vocabulary, self.oov, self.integer_ids = list(vocabulary), oov, integer_ids
        missing = ["", str(MISSING_INT)] if integer_ids else [""]
        keys = tf.constant(missing + [token_bytes(v) for v in self.vocabulary], tf.string)
        values = tf.constant([0] * len(missing) + list(range(oov + 1, oov + 1 + len(self.vocabulary))), tf.int64)
        with tf.init_scope():
            initializer = tf.lookup.KeyValueTensorInitializer(keys, values)
            self.table = tf.lookup.StaticHashTable(initializer, default_value=1 if oov == 1 else -1)

    def call(self, tokens: tf.Tensor | tf.RaggedTensor) -> tf.Tensor | tf.RaggedTensor:
        if isinstance(tokens, tf.RaggedTensor):
            return tf.ragged.map_flat_values(self._ids, tokens)
        return self._ids(tokens)

    def _ids(self, tokens: tf.Tensor) -> tf.Tensor:
        ids = self.table.lookup(tokens)
        if self.oov == 1:
            return ids
        return tf.where(ids < 0, tf.strings.to_hash_bucket_fast(tokens, self.oov) + 1, ids)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "vocabulary": self.vocabulary, "oov": self.oov, "integer_ids": self.integer_ids}


class ZoneOffsets(keras.layers.Layer):
    """Each row's UTC offset (seconds) at its epoch second in its own IANA zone, named by text: UTC for a
    zone it was not fitted with, or none. The zone is one table lookup; the offset in force is found by
    comparisons with the zone's changes (as `_calendar_parts` finds one zone's), padded to the longest."""

    def __init__(self, names: list[str], instants: list[list[int]], offsets: list[list[int]], **kwargs: Any):
        super().__init__(trainable=False, **kwargs)
        self.names, self.instants, self.offsets = list(names), instants, offsets
        width = max([len(i) - 1 for i in instants] + [1])
        never = np.iinfo(np.int64).max
        # Row 0 is UTC's: no change, offset 0. A zone's changes after its first (from 1970) are padded
        # with a time never reached, its offsets with its last.
        changes = np.full((len(names) + 1, width), never, np.int64)
        shifts = np.zeros((len(names) + 1, width + 1), np.int64)
        for z, (when, offset) in enumerate(zip(instants, offsets, strict=True), 1):
            changes[z, :len(when) - 1] = when[1:]
            shifts[z, :len(offset)] = offset
            shifts[z, len(offset):] = offset[-1]
        self._changes, self._shifts, self._width = changes, shifts.reshape(-1), width + 1
        with tf.init_scope():
            keys = [token_bytes(n) for n in self.names] or [b"\0"]
            initializer = tf.lookup.KeyValueTensorInitializer(  # constants, as ONNX converters read a table
                tf.constant(keys, tf.string), tf.constant(np.arange(1, len(keys) + 1), tf.int64))
            self.table = tf.lookup.StaticHashTable(initializer, default_value=0)

    def call(self, seconds: tf.Tensor, zones: tf.Tensor) -> tf.Tensor:
        zone = self.table.lookup(zones)
        changes = tf.gather(tf.constant(self._changes), zone)  # [B, changes]
        since = tf.reduce_sum(tf.cast(seconds[:, None] >= changes, tf.int64), axis=1)
        return tf.gather(tf.constant(self._shifts), zone * self._width + since)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "names": self.names, "instants": self.instants, "offsets": self.offsets}


class Standardize(keras.layers.Layer):
    """(x - mean) / std with both fixed (per component for vectors), as Keras' `Normalization(axis=None,
    mean, variance)` (to within a float32 rounding), in two ops where it takes four. Written as a product
    with 1 / std: TensorFlow's graph optimiser turns a division by a constant into that product, so a
    division would encode differently eagerly and traced, and the cached training data would differ from
    what is served."""

    def __init__(self, mean: float, variance: float, **kwargs: Any):
        super().__init__(trainable=False, **kwargs)
        self.mean, self.variance = mean, variance  # numbers, or lists of a vector's components
        self._mean = np.asarray(mean, np.float32)
        # In float64: the variance of values beyond about 1e19 overflows float32 (and the feature read as 0).
        inverse = 1.0 / np.maximum(np.sqrt(np.asarray(variance, np.float64)), keras.backend.epsilon())
        self._inverse = inverse.astype(np.float32)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return (x - self._mean) * self._inverse

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "variance": self.variance}


class Buckets(keras.layers.Layer):
    """Quantile bucket of each value: how many boundaries it reaches (Keras' `Discretization`,
    written with comparisons so that it also converts to ONNX, which has no `Bucketize`)."""

    def __init__(self, boundaries: list[float], **kwargs: Any):
        super().__init__(trainable=False, **kwargs)
        self.boundaries = list(boundaries)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return bucket_of(x, self.boundaries)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "boundaries": self.boundaries}


_PLAUSIBLE_SECONDS = (1e8, 1e11)  # 1973 to 5138: epoch times of logs, read in the right unit


def check_epoch_unit(stamps: np.ndarray, f: Timestamp) -> None:
    """DataError when a timestamp's values, read in the spec's unit, are no plausible dates (milliseconds
    read as seconds fall tens of thousands of years ahead), naming the unit they fit; in training and
    in every request, whose calendar parts would otherwise be another time's."""
    known = np.abs(stamps[stamps != MISSING_INT])
    if not len(known):
        return
    per, (low, high) = EPOCH_UNITS[f.unit], _PLAUSIBLE_SECONDS
    if known.max() / per < high and (f.unit == "s" or known.min() / per >= low):
        return  # every value plausible: no median needed (a one-row request pays 2 µs, not 15)
    typical = float(np.median(known))
    seconds = typical / per
    fits = [unit for unit, count in EPOCH_UNITS.items() if low <= typical / count < high]
    if seconds < high and (f.unit == "s" or seconds >= low or not fits):
        return  # small seconds are fine (relative times); small milliseconds only when no unit fits better
    when = f"year {1970 + seconds / 31_556_952:,.0f}" if seconds >= high else "the first months of 1970"
    advice = (f"they look like {EPOCH_UNIT_NAMES[fits[0]]}: set unit: {fits[0]} in the spec before training, or "
              f"send {EPOCH_UNIT_NAMES[f.unit]} (or datetimes) to a model trained on them"
              if fits else "give the column as datetimes")
    raise DataError(f"feature {f.name!r} (timestamp, column {f.source!r}): the values (typically {typical:.0f}) "
                    f"read as {EPOCH_UNIT_NAMES[f.unit]} since the epoch fall in {when}; {advice}")


def _calendar_parts(stamps: tf.Tensor, f: Timestamp, local: Callable[..., tf.Tensor] | None = None) -> tf.Tensor:
    """Calendar parts (UTC plus the spec's offset, its time zone's local time, or each row's zone's:
    `local` gives the offsets of epoch seconds) of int64 epoch times in the feature's unit, or of times
    written as digits in its `format`; 0 marks missing, and digits that are no time."""
    missing = tf.equal(stamps, MISSING_INT)
    t = tf.where(missing, tf.zeros_like(stamps), stamps)
    written = None
    if f.format:
        t, written = _digit_time(t, f.format)
        missing |= tf.reduce_any(tf.not_equal(written[:, :2], 0), axis=1)  # a negative number, an hour of 24
    if f.unit != "s":
        t = tf.math.floordiv(t, EPOCH_UNITS[f.unit])
    if f.utc_offset_hours:
        t += int(f.utc_offset_hours * 3600)
    if f.timezone:
        instants, offsets = zone_offsets(f.timezone)
        # The offset in force: the index of the last change at or before t, as a count of comparisons
        # (which ONNX has; a binary search it has not), over some 260 changes for a zone with summer time.
        since = tf.reduce_sum(tf.cast(t[:, None] >= tf.constant(instants[1:], tf.int64)[None, :], tf.int32), axis=1)
        t += tf.gather(tf.constant(offsets, tf.int64), since)
    if local is not None:
        t += local(t)
    days = tf.math.floordiv(t, 86400)
    hour = tf.math.floormod(tf.math.floordiv(t, 3600), 24)
    day_of_week = tf.math.floormod(days + 3, 7)  # 1970-01-01 was a Thursday; Monday is 0
    # Civil date from a day count (H. Hinnant's algorithm), in integer ops that any TF runtime has.
    z = days + 719468
    era = tf.math.floordiv(z, 146097)
    doe = z - era * 146097
    yoe = tf.math.floordiv(doe - tf.math.floordiv(doe, 1460) + tf.math.floordiv(doe, 36524)
                           - tf.math.floordiv(doe, 146096), 365)
    doy = doe - (365 * yoe + tf.math.floordiv(yoe, 4) - tf.math.floordiv(yoe, 100))
    mp = tf.math.floordiv(5 * doy + 2, 153)
    day_of_month = doy - tf.math.floordiv(153 * mp + 2, 5)  # 0-based
    month = tf.where(mp < 10, mp + 2, mp - 10)  # 0-based
    if written is not None:  # a day the month has not (20150229) comes back as another: no time
        missing |= tf.not_equal(month + 1, written[:, 2]) | tf.not_equal(day_of_month + 1, written[:, 3])
    values = {"hour": hour, "day_of_week": day_of_week, "day_of_month": day_of_month, "month": month,
              "hour_of_week": day_of_week * 24 + hour}
    parts = tf.stack([values[p] for p in f.parts], axis=1) + 1  # not -1: tf2onnx needs a known rank for that
    return tf.where(missing[:, None], tf.zeros_like(parts), parts)


def _digit_time(digits: tf.Tensor, fmt: str) -> tuple[tf.Tensor, tf.Tensor]:
    """Epoch seconds of int64 times written as digits in `fmt` (Timestamp.format), and per row [1 for
    a number out of the format's range, the count of fields out of theirs, month, day]: the first two
    must be 0, and the caller checks the date. A %y year is 1969 to 2068, as Python's strptime reads it."""
    fields = re.findall("%(.)", fmt)[::-1]  # read from the last digits
    value, got = digits, {}
    for field in fields[:-1]:
        got[field] = tf.math.floormod(value, 100)
        value = tf.math.floordiv(value, 100)
    year = value if fields[-1] == "Y" else tf.where(value < 69, value + 2000, value + 1900)
    # A negative number, or more digits than the format writes (a year past 9999 would overflow below).
    beyond = tf.cast((digits < 0) | (value > (9999 if fields[-1] == "Y" else 99)) | (year < 1), tf.int64)
    one, zero = tf.ones_like(digits), tf.zeros_like(digits)
    month, day = got["m"], got.get("d", one)
    hour, minute, second = got.get("H", zero), got.get("M", zero), got.get("S", zero)
    wrong = (tf.cast(hour > 23, tf.int64) + tf.cast(minute > 59, tf.int64) + tf.cast(second > 59, tf.int64)
             + tf.cast((month < 1) | (month > 12) | (day < 1), tf.int64))
    # Days since the epoch of a civil date (H. Hinnant's algorithm, the inverse of _calendar_parts').
    y = year - tf.cast(month <= 2, tf.int64)
    era = tf.math.floordiv(y, 400)
    yoe = y - era * 400
    doy = tf.math.floordiv(153 * tf.where(month > 2, month - 3, month + 9) + 2, 5) + day - 1
    doe = yoe * 365 + tf.math.floordiv(yoe, 4) - tf.math.floordiv(yoe, 100) + doy
    days = era * 146097 + doe - 719468
    seconds = days * 86400 + hour * 3600 + minute * 60 + second
    return seconds, tf.stack([beyond, wrong, month, day], axis=1)


_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def digit_seconds(digits: np.ndarray, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds of int64 times written as digits in `fmt`, and whether each is a time: in NumPy, as
    `_digit_time` reads them in the graph (the data readers refuse what it would serve as missing)."""
    fields = re.findall("%(.)", fmt)[::-1]
    value, got = digits.astype(np.int64), {}
    for field in fields[:-1]:
        got[field] = value % 100
        value = value // 100
    year = value if fields[-1] == "Y" else np.where(value < 69, value + 2000, value + 1900)
    one, zero = np.ones_like(value), np.zeros_like(value)
    month, day = got["m"], got.get("d", one)
    hour, minute, second = got.get("H", zero), got.get("M", zero), got.get("S", zero)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    longest = _MONTH_DAYS[np.clip(month - 1, 0, 11)] + (leap & (month == 2))
    ok = ((digits >= 0) & (value <= (9999 if fields[-1] == "Y" else 99)) & (year >= 1) & (month >= 1) & (month <= 12)
          & (day >= 1) & (day <= longest) & (hour <= 23) & (minute <= 59) & (second <= 59))
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return days * 86400 + hour * 3600 + minute * 60 + second, ok


def _hashed(feature: Feature) -> bool:
    return getattr(feature, "hash_buckets", None) is not None


def _refuse_ids_read_as_weighted(f: History, items: Feature, tables: dict[str, Any]) -> None:
    """A DataError when item ids would read as an id and a weight in the weighted history `f` ('tt:0012' as
    'tt' weighing 12): a history that lists them would be served other items, unknown, without a word."""
    pattern = re.compile(f"(?s){weighted_token(f)}")
    clashing = [v for v in tables.get(items.shared_embedding or items.name, {}).get("vocabulary", [])
                if pattern.fullmatch(v)]
    if clashing:
        raise DataError(f"feature {f.name!r} (history, weighted): {len(clashing)} ids of {items.name!r} read as an "
                        f"id and a weight after {f.weight_separator!r} (e.g. {clashing[0]!r}), so a history could not "
                        "list them; set the history's weight_separator to a character no id holds (e.g. '=')")


def _max_tokens(members: list[Feature]) -> int | None:
    caps = [m.max_tokens for m in members if getattr(m, "max_tokens", None) is not None]
    return max(caps) if caps else None


def token_text(value: Any) -> str:
    """A token as a vocabulary spells it: bytes decoded as UTF-8, where each byte that is no UTF-8 (a
    binary id: a hash digest, packed integers) becomes its own stand-in character (Python's
    surrogateescape), so that distinct ids stay distinct and `token_bytes` gives back the bytes served."""
    return value.decode("utf-8", errors="surrogateescape") if isinstance(value, bytes) else str(value)


def token_bytes(text: str) -> bytes:
    """The bytes a `token_text` stands for: what the served graph compares."""
    return text.encode("utf-8", errors="surrogateescape")


def binary_token(text: str) -> bool:
    """Whether a `token_text` stands for bytes that are no UTF-8 (a binary id)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a surrogate: one byte of a binary id
        return True
    return False


def raw_text(value: bytes) -> str | bytes:
    """A string input's bytes as text when they are UTF-8, else the bytes themselves: TensorFlow takes
    both, so a binary id is served as it was trained, where decoding it with a stand-in for each bad
    byte would give distinct ids one spelling."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def readable(token: Any) -> str:
    """A token to show in a message: bytes that are no UTF-8 as escapes (`\\xff`), which any terminal prints."""
    raw = token if isinstance(token, bytes) else token_bytes(str(token))
    return raw.decode("utf-8", errors="backslashreplace")
