"""Property-based checks: random specs never crash without a clear message, and random raw serving
rows always give finite probabilities in [0, 1]."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ctr
from ctr._keras import tf
from ctr.data import raw_features
from ctr.errors import SpecError
from ctr.features import Preprocessor, raw_signature

KINDS = ["categorical", "multi_categorical", "numeric", "text", "timestamp", "bogus"]
KEYS = ["name", "kind", "role", "dtype", "column", "min_count", "max_tokens", "oov_buckets", "hash_buckets",
        "max_length", "separator", "combiner", "transform", "buckets", "parts", "shared_embedding",
        "utc_offset_hours", "timezone", "nonsense"]
WORDS = [*KINDS, "user", "item", "context", "int", "string", "hour", "log", "quantile", "mean", "a", "b"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(WORDS))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5),
                                                                                           inner, max_size=3),
                      max_leaves=6)
features = st.dictionaries(st.sampled_from(KEYS), values, max_size=6) | values
# Crosses name features by their names: often those of the features drawn ('a', 'b' and the words).
names = st.lists(st.sampled_from(WORDS) | values, max_size=3)
crosses = values | st.lists(names | st.dictionaries(st.sampled_from(["features", "name", "min_count", "hash_buckets",
                                                                     "max_length", "nonsense"]), names | values,
                                                    max_size=4), max_size=3)
specs = st.one_of(
    values,
    st.fixed_dictionaries({"name": values, "features": st.lists(features, max_size=4)},
                          optional={"label": st.dictionaries(st.sampled_from(["column", "threshold", "x"]), values),
                                    "description": values, "extra": values, "crosses": crosses}),
)


@settings(max_examples=300, deadline=None)
@given(specs)
def test_random_spec_dicts_load_or_raise_spec_error(raw: object) -> None:
    try:
        spec = ctr.FeatureSpec.from_dict(raw)
    except SpecError as err:
        assert str(err).startswith("invalid feature spec:") and len(str(err)) > len("invalid feature spec:")
    else:
        assert ctr.FeatureSpec.from_dict(spec.to_dict()) == spec


MISSING = np.iinfo(np.int64).min
ints = st.one_of(st.integers(-(2**63) + 1, 2**63 - 1), st.just(MISSING), st.integers(0, 400))
timestamps = st.one_of(st.integers(-(2**62), 2**62), st.just(MISSING), st.integers(0, 2_000_000_000))
floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
strings = st.one_of(st.text(max_size=30), st.sampled_from(["", "|", "Action|Comedy", "F", "M", " ", "\x00"]))


@pytest.fixture(scope="module")
def served(trained, tmp_path_factory):
    return ctr.load(trained["deepfm"].export(tmp_path_factory.mktemp("prop") / "deepfm"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_random_raw_rows_give_finite_probabilities(served, data) -> None:
    n = data.draw(st.integers(1, 6))
    row: dict[str, list] = {}
    for f in served.spec.features:
        kind = ctr.features.raw_dtype(f)
        strategy = (timestamps if f.kind == "timestamp" else ints) if kind == "int64" else \
            floats if kind == "float32" else strings
        row[f.source] = data.draw(st.lists(strategy, min_size=n, max_size=n))
    frame = pd.DataFrame({k: pd.Series(v, dtype="float32" if isinstance(v[0], float) else
                                       "int64" if isinstance(v[0], int) else object) for k, v in row.items()})
    try:
        p = served.predict(frame)
    except ctr.DataError as err:  # times that are mostly no plausible date (milliseconds read as seconds)
        assert "(timestamp, column" in str(err) and "since the epoch fall in" in str(err), err
        return
    assert p.shape == (n,) and np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()


CROSSABLE = [{"name": "a", "role": "user"}, {"name": "b", "kind": "multi_categorical", "max_length": 3, "role": "item"},
             {"name": "c", "kind": "numeric", "transform": "quantile", "buckets": 3},
             {"name": "d", "kind": "categorical", "dtype": "int", "hash_buckets": 5}, {"name": "e", "kind": "numeric"}]
crossable = st.lists(st.sampled_from("abcd"), min_size=2, max_size=3, unique=True)
cross_specs = st.lists(crossable | st.lists(st.sampled_from("abcdez"), max_size=4) | st.fixed_dictionaries(
    {"features": crossable},
    optional={"min_count": st.integers(0, 3), "hash_buckets": st.integers(1, 7), "max_length": st.integers(0, 9),
              "name": st.sampled_from(["x", "y", "a", "c_x_a"])}), min_size=1, max_size=3)
cross_rows = st.fixed_dictionaries({"a": strings, "b": strings, "c": floats, "d": ints, "e": floats})


@settings(max_examples=60, deadline=None)
@given(cross_specs, st.lists(cross_rows, min_size=1, max_size=6))
def test_random_crosses_are_refused_by_name_or_fit_and_encode_into_their_tables(crosses, rows) -> None:
    """Any crosses of a spec: a SpecError that names them, or a spec whose crosses fit on data and encode any
    raw rows into their tables (0 for missing, an OOV or vocabulary row otherwise, within the table)."""
    try:
        spec = ctr.FeatureSpec.from_dict({"features": CROSSABLE, "crosses": crosses})
    except SpecError as err:
        assert "crosses[" in str(err)
        return
    assert ctr.FeatureSpec.from_dict(spec.to_dict()) == spec and "cross " in spec.describe()
    training = pd.DataFrame({"a": ["F", "M", "F", ""] * 3, "b": ["x|y", "y", "", "z|x|y|w"] * 3,
                             "c": [1.0, 2.0, 3.0, np.nan] * 3, "d": [1, 2, 3, 4] * 3, "e": [0.5] * 12})
    pre = Preprocessor(spec).fit([raw_features(training, spec)])
    frame = pd.DataFrame(rows).astype({"d": "Int64"}).replace({"d": {MISSING: None}})
    raw, signature = raw_features(frame, spec), raw_signature(spec)
    encoded = pre.encoder()({k: tf.constant(v, signature[k].dtype) for k, v in raw.items()})
    sizes = pre.table_sizes()
    for c in spec.crosses:
        ids = encoded[c.key].numpy()
        assert ids.shape == ((len(rows),) if spec.cross_length(c) is None else (len(rows), spec.cross_length(c)))
        assert ids.min() >= 0 and ids.max() < sizes[c.key], (c, ids)
