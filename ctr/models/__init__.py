"""Ranking models: each is an interaction head over the same per-field embeddings."""

from .._keras import tf as _tf  # noqa: F401  (TensorFlow loads through ctr._keras, before TFRS imports it)
from ._reload import load_model
from .autoint import AutoInt
from .base import RankingModel
from .dcn import DCN
from .deepfm import DeepFM
from .ease import EASE
from .fm import FM
from .lr import LogisticRegression
from .mf import MatrixFactorization
from .neumf import NeuMF
from .popularity import Popularity
from .recommender import Recommender
from .two_tower import TwoTower
from .xdeepfm import xDeepFM

MODELS: dict[str, type[RankingModel]] = {"lr": LogisticRegression, "fm": FM, "deepfm": DeepFM, "dcn": DCN,
                                         "autoint": AutoInt, "xdeepfm": xDeepFM}
# The models with trained weights, by class name: what a warm start and load_model start from.
TRAINED: dict[str, type] = {cls.__name__: cls for cls in (*MODELS.values(), MatrixFactorization, NeuMF, TwoTower)}

__all__ = [
                                         "DCN",
                                         "EASE",
                                         "FM",
                                         "MODELS",
                                         "AutoInt",
                                         "DeepFM",
                                         "LogisticRegression",
                                         "MatrixFactorization",
                                         "NeuMF",
                                         "Popularity",
                                         "RankingModel",
                                         "Recommender",
                                         "TwoTower",
                                         "load_model",
    "xDeepFM",
]
