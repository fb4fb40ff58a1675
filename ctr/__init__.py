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
from .errors import CtrError, DataError, NotFittedError, SpecError
from .export import ExportError, ServedModel, load
from .features import MISSING_INT, Preprocessor
from .models import FM, DeepFM, LogisticRegression, RankingModel
from .spec import Categorical, FeatureSpec, Label, MultiCategorical, Numeric, Text, Timestamp

__all__ = [
    "FM",
    "MISSING_INT",
    "Categorical",
    "CtrError",
    "DataError",
    "DeepFM",
    "ExportError",
    "FeatureSpec",
    "Label",
    "LogisticRegression",
    "MultiCategorical",
    "NotFittedError",
    "Numeric",
    "Preprocessor",
    "RankingModel",
    "ServedModel",
    "SpecError",
    "Text",
    "Timestamp",
    "__version__",
    "data",
    "datasets",
    "load",
    "metrics",
]
