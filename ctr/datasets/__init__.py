"""Data sets: the embedded synthetic default and loaders for public formats (given a path)."""

from .movielens import movielens_1m, movielens_100k
from .synthetic import synthetic, synthetic_spec

__all__ = ["movielens_1m", "movielens_100k", "synthetic", "synthetic_spec"]
