"""Data sets: the embedded synthetic default and loaders for public formats (given a path)."""

from .criteo import criteo, criteo_chunks, criteo_spec, criteo_to_parquet
from .frappe import frappe, frappe_spec
from .movielens import movielens_1m, movielens_100k
from .synthetic import synthetic, synthetic_spec

__all__ = ["criteo", "criteo_chunks", "criteo_spec", "criteo_to_parquet", "frappe", "frappe_spec", "movielens_1m",
           "movielens_100k", "synthetic", "synthetic_spec"]
