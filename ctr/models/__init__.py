"""Ranking models: each is an interaction head over the same per-field embeddings."""

from .._keras import tf as _tf  # noqa: F401  (TensorFlow loads through ctr._keras, before TFRS imports it)
from ._reload import load_model
from .afm import AFM
from .autoint import AutoInt
from .base import RankingModel
from .dcn import DCN
from .deepfm import DeepFM, WideDeep
from .ease import EASE
from .fibinet import FiBiNET
from .fm import FM
from .lr import LogisticRegression
from .mf import MatrixFactorization
from .neumf import NeuMF
from .nfm import NFM
from .popularity import Popularity
from .recommender import Recommender
from .two_tower import TwoTower
from .xdeepfm import xDeepFM

MODELS: dict[str, type[RankingModel]] = {"lr": LogisticRegression, "fm": FM, "widedeep": WideDeep, "deepfm": DeepFM,
                                         "dcn": DCN, "autoint": AutoInt, "xdeepfm": xDeepFM, "fibinet": FiBiNET,
                                         "nfm": NFM, "afm": AFM}
# The models with trained weights, by class name: what a warm start and load_model start from.
TRAINED: dict[str, type] = {cls.__name__: cls for cls in (*MODELS.values(), MatrixFactorization, NeuMF, TwoTower)}
_UNTRAINED = {"Popularity": "its counts come from one pass over the data: fit Popularity on the data instead",
              "EASE": "its weights are solved in closed form from the data: fit EASE on the data instead",
              "RecommendationPipeline": "its retriever and ranker have, each in its own export"}


def untrained_export(name: str) -> str:
    """An export of `name` (no TRAINED model) and why it has no trained weights to carry on from."""
    article = "an" if name[:1] in "AEIOU" else "a"
    return f"{article} {name} export, which has no trained weights of its own ({_UNTRAINED.get(name, 'not a model')})"

__all__ = [
    "AFM",
    "DCN",
    "EASE",
    "FM",
    "MODELS",
    "NFM",
    "AutoInt",
    "DeepFM",
    "FiBiNET",
    "LogisticRegression",
    "MatrixFactorization",
    "NeuMF",
    "Popularity",
    "RankingModel",
    "Recommender",
    "TwoTower",
    "WideDeep",
    "load_model",
    "xDeepFM",
]
