"""Ranking models: each is an interaction head over the same per-field embeddings."""

from .base import RankingModel
from .deepfm import DeepFM
from .fm import FM
from .lr import LogisticRegression

MODELS: dict[str, type[RankingModel]] = {"lr": LogisticRegression, "fm": FM, "deepfm": DeepFM}

__all__ = ["FM", "MODELS", "DeepFM", "LogisticRegression", "RankingModel"]
