"""A model's export rebuilt as the model itself, to train further, calibrate or export again: the settings,
spec and fitted preprocessing from its metadata (a recommender's catalogue, users and item counts too),
every weight from its SavedModel. What an export does not hold starts afresh: the optimizer's moments
(a `backup_dir` keeps them mid-fit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._keras import tf
from ..errors import CtrError
from ..features import Preprocessor, empty_raw, raw_signature


def load_model(path: str | Path) -> Any:
    """The model exported at `path` (LogisticRegression, FM, WideDeep, DeepFM, DCN, AutoInt, xDeepFM, FiBiNET, NFM,
    AFM, MatrixFactorization, NeuMF or TwoTower), trainable again: `fit` carries on from its weights with its
    vocabularies (and a recommender's catalogue), and `calibrate`, `recommend` and `export` work as before."""
    from ..export import load  # which imports the models' embeddings: not at this module's import
    from . import TRAINED, RankingModel, untrained_export

    served = load(path)
    name = served.metadata.get("model")
    if name not in TRAINED:
        raise CtrError(f"{path}: {untrained_export(name)}; load_model rebuilds {', '.join(TRAINED)}")
    model = TRAINED[name](served.spec, **served.metadata["config"])
    clicks = isinstance(model, RankingModel)
    model.preprocessor_ = Preprocessor(served.spec, served.metadata["preprocessing"])
    saved = served._loaded.scorer.variables
    # A history's item content is a weight of the embeddings (not trained); the network is built with it.
    model.content_ = {v.name.split(":")[0][len("content_"):]: v.numpy() for v in saved
                      if v.name.split(":")[0].startswith("content_")} or None
    if clicks:
        model._new_network()
        model.network_.scorer(model._encoded_empty())
        model.history_ = dict(served.metadata.get("history") or {})
        model.calibration_ = served.metadata.get("calibration")
    else:
        _recommender_network(model, served, path)
    _assign(model.network_.scorer.variables, saved, name, path)
    model.warm_start_ = served.metadata.get("warm_start")
    return model


def _recommender_network(model: Any, served: Any, path: str | Path) -> None:
    """A recommender's catalogue, users and item counts from its export, and its network built over them."""
    counts = served.metadata.get("item_counts")
    if counts is None:
        raise CtrError(f"{path}: the export lacks its items' interaction counts, which training draws negatives "
                       "by (exports of ctr before load_model); export the model again")
    model.catalogue_ = served.catalogue.reset_index(drop=True)
    model.users_ = served.users if len(served.users) else None
    model.item_counts_ = np.asarray(counts, np.float64)
    model._catalogue_encoded = model._encode_table(model.catalogue_, model.item_features)
    model._new_network()
    empty = empty_raw(raw_signature(model.spec, model.query_features))
    queries = model.encoder(model.query_features)(empty)
    model.network_.scorer({**queries, **{k: tf.constant(v[:0]) for k, v in model._catalogue_encoded.items()}})


def _assign(variables: list, saved: list, name: str, path: str | Path) -> None:
    """Every weight of the new network from the export's, which its restored scorer keeps in the same order."""
    shapes = ([tuple(v.shape) for v in variables], [tuple(v.shape) for v in saved])
    if shapes[0] != shapes[1]:
        raise CtrError(f"{path}: the export's weights do not fit the {name} its metadata describes (shapes "
                       f"{shapes[1]} against {shapes[0]}); was it written by another version of ctr?")
    for variable, value in zip(variables, saved, strict=True):
        variable.assign(value.numpy())
