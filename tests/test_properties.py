"""Property-based checks: random specs never crash without a clear message, and random raw serving
rows always give finite probabilities in [0, 1]."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ctr
from ctr.errors import SpecError

KINDS = ["categorical", "multi_categorical", "numeric", "text", "timestamp", "bogus"]
KEYS = ["name", "kind", "role", "dtype", "column", "min_count", "max_tokens", "oov_buckets", "hash_buckets",
        "max_length", "separator", "combiner", "transform", "buckets", "parts", "shared_embedding",
        "utc_offset_hours", "timezone", "nonsense"]
WORDS = [*KINDS, "user", "item", "context", "int", "string", "hour", "log", "quantile", "mean"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(WORDS))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5),
                                                                                           inner, max_size=3),
                      max_leaves=6)
features = st.dictionaries(st.sampled_from(KEYS), values, max_size=6) | values
specs = st.one_of(
    values,
    st.fixed_dictionaries({"name": values, "features": st.lists(features, max_size=4)},
                          optional={"label": st.dictionaries(st.sampled_from(["column", "threshold", "x"]), values),
                                    "description": values, "extra": values}),
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
