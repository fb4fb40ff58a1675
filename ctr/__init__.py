"""ctr: feature-rich click-through-rate models on TensorFlow that export and serve raw features.

Write a feature spec, fit a model (`LogisticRegression`, `FM`, `WideDeep`, `DeepFM`, `DCN`, `AutoInt`,
`xDeepFM`, `FiBiNET`, `NFM`, `AFM`) with Keras verbs, and `export` a SavedModel whose graph holds all preprocessing.
"""

__version__ = "0.1.0"

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from . import _keras  # noqa: F401  (selects Keras 2 before anything touches tf.keras)
from .errors import ArgumentError, CtrError, DataError, NotFittedError, SpecError
from .spec import Categorical, Cross, FeatureSpec, History, Label, MultiCategorical, Numeric, Text, Timestamp, Vector

# What needs TensorFlow is imported when first used (PEP 562), so that `import ctr`, writing and
# checking a spec, and `ctr --help` take a fraction of a second, not TensorFlow's several.
# Submodules (`ctr.data`, `ctr.features`, ...) are imported on first use too.
_LAZY = {
    "evaluate_ranking": "evaluation", "compare": "comparison",
    "evaluate_by": "diagnostics", "explain": "diagnostics", "feature_importance": "diagnostics",
    "ExportError": "export", "ServedModel": "export", "load": "export",
    "RecommenderExport": "export_recommend",
    "MISSING_INT": "features", "Preprocessor": "features",
    "NegativeSampler": "implicit", "leave_one_out": "implicit", "load_model": "models",
    "inspect_data": "inspect",
    **dict.fromkeys(("EASE", "AutoInt", "DCN", "FM", "DeepFM", "LogisticRegression", "MatrixFactorization", "NeuMF",
                     "Popularity", "RankingModel", "Recommender", "TwoTower", "xDeepFM", "FiBiNET",
                     "NFM", "AFM", "WideDeep"),
                    "models"),
    "onnx_session": "onnx_export",
    "RecommendationPipeline": "pipeline",
    "Server": "serving",
    "draft_spec": "spec_draft",
}

if TYPE_CHECKING:
    from . import data, datasets, metrics
    from .comparison import compare
    from .diagnostics import evaluate_by, explain, feature_importance
    from .evaluation import evaluate_ranking
    from .export import ExportError, ServedModel, load
    from .export_recommend import RecommenderExport
    from .features import MISSING_INT, Preprocessor
    from .implicit import NegativeSampler, leave_one_out
    from .inspect import inspect_data
    from .models import (
        AFM,
        DCN,
        EASE,
        FM,
        NFM,
        AutoInt,
        DeepFM,
        FiBiNET,
        LogisticRegression,
        MatrixFactorization,
        NeuMF,
        Popularity,
        RankingModel,
        Recommender,
        TwoTower,
        WideDeep,
        load_model,
        xDeepFM,
    )
    from .onnx_export import onnx_session
    from .pipeline import RecommendationPipeline
    from .serving import Server
    from .spec_draft import draft_spec


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        # A submodule not imported yet (`ctr.data`, `ctr.features`), as the eager package offered.
        if not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
            return importlib.import_module(f".{name}", __name__)
        raise AttributeError(f"module 'ctr' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *__all__})


__all__ = [
    "AFM",
    "DCN",
    "EASE",
    "FM",
    "MISSING_INT",
    "NFM",
    "ArgumentError",
    "AutoInt",
    "Categorical",
    "Cross",
    "CtrError",
    "DataError",
    "DeepFM",
    "ExportError",
    "FeatureSpec",
    "FiBiNET",
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
    "Server",
    "SpecError",
    "Text",
    "Timestamp",
    "TwoTower",
    "Vector",
    "WideDeep",
    "__version__",
    "compare",
    "data",
    "datasets",
    "draft_spec",
    "evaluate_by",
    "evaluate_ranking",
    "explain",
    "feature_importance",
    "inspect_data",
    "leave_one_out",
    "load",
    "load_model",
    "metrics",
    "onnx_session",
    "xDeepFM",
]
