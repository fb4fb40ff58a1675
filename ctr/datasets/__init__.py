"""Data sets: the embedded synthetic default and loaders for public formats (given a path)."""

from collections.abc import Callable

from ..spec import FeatureSpec
from .criteo import criteo, criteo_chunks, criteo_spec, criteo_to_parquet
from .frappe import frappe, frappe_spec
from .movielens import movielens_1m, movielens_100k, movielens_spec
from .synthetic import synthetic, synthetic_spec

__all__ = ["READY_SPECS", "criteo", "criteo_chunks", "criteo_spec", "criteo_to_parquet", "frappe", "frappe_spec",
           "movielens_1m", "movielens_100k", "movielens_spec", "synthetic", "synthetic_spec"]

# The ready spec of each data set, by the name the shell's --format gives it (`--spec NAME`).
READY_SPECS: dict[str, Callable[[], FeatureSpec]] = {
    "synthetic": synthetic_spec, "movielens-100k": movielens_spec, "movielens-1m": movielens_spec,
    "frappe": frappe_spec, "criteo": criteo_spec}
