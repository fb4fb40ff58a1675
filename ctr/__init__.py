"""ctr: feature-rich click-through-rate models on TensorFlow that export and serve raw features.

Write a feature spec, fit a model (`LogisticRegression`, `FM`, `DeepFM`) with Keras verbs, and
`export` a SavedModel whose graph holds all preprocessing.
"""

__version__ = "0.1.0"

from . import (
    _keras,  # noqa: F401  (selects Keras 2 before anything touches tf.keras)
    data,
    datasets,
    metrics,
)
from .errors import ArgumentError, CtrError, DataError, NotFittedError, SpecError
from .evaluation import evaluate_ranking
from .export import ExportError, ServedModel, load
from .export_recommend import RecommenderExport
from .features import MISSING_INT, Preprocessor
from .implicit import NegativeSampler, leave_one_out
from .models import (
    FM,
    DeepFM,
    LogisticRegression,
    MatrixFactorization,
    NeuMF,
    Popularity,
    RankingModel,
    Recommender,
    TwoTower,
)
from .onnx_export import onnx_session
from .pipeline import RecommendationPipeline
from .spec import Categorical, FeatureSpec, History, Label, MultiCategorical, Numeric, Text, Timestamp

__all__ = [
    "FM",
    "MISSING_INT",
    "ArgumentError",
    "Categorical",
    "CtrError",
    "DataError",
    "DeepFM",
    "ExportError",
    "FeatureSpec",
    "History",
    "Label",
    "LogisticRegression",
    "MatrixFactorization",
    "MultiCategorical",
    "NegativeSampler",
    "NeuMF",
    "NotFittedError",
    "Numeric",
    "Popularity",
    "Preprocessor",
    "RankingModel",
    "RecommendationPipeline",
    "Recommender",
    "RecommenderExport",
    "ServedModel",
    "SpecError",
    "Text",
    "Timestamp",
    "TwoTower",
    "__version__",
    "data",
    "datasets",
    "evaluate_ranking",
    "leave_one_out",
    "load",
    "metrics",
    "onnx_session",
]
