"""A click model's export rebuilt as the model itself, to train further, calibrate or export again: the
settings, spec and fitted preprocessing from its metadata, every weight from its SavedModel. What an
export does not hold starts afresh: the optimizer's moments (a `backup_dir` keeps them mid-fit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CtrError
from ..features import Preprocessor


def load_model(path: str | Path) -> Any:
    """The click model (LogisticRegression, FM, DeepFM, DCN) exported at `path`, trainable again:
    `fit` carries on from its weights with its vocabularies, `calibrate` and `export` work as before."""
    from ..export import ServedModel, load  # which imports the models' embeddings: not at this module's import
    from . import MODELS

    served = load(path)
    classes = {cls.__name__: cls for cls in MODELS.values()}
    name = served.metadata.get("model")
    if not isinstance(served, ServedModel) or name not in classes:
        raise CtrError(f"{path}: a {name} export; load_model rebuilds a click model ({', '.join(classes)}), while "
                       "a recommender's export serves as ctr.load gives it, and trains again through "
                       "fit(warm_start_from=path) on a new model")
    model = classes[name](served.spec, **served.metadata["config"])
    model.preprocessor_ = Preprocessor(served.spec, served.metadata["preprocessing"])
    saved = served._loaded.scorer.variables
    # A history's item content is a weight of the embeddings (not trained); the network is built with it.
    model.content_ = {v.name.split(":")[0][len("content_"):]: v.numpy() for v in saved
                      if v.name.split(":")[0].startswith("content_")} or None
    model._new_network()
    model.network_.scorer(model._encoded_empty())
    variables = model.network_.scorer.variables
    shapes = ([tuple(v.shape) for v in variables], [tuple(v.shape) for v in saved])
    if shapes[0] != shapes[1]:
        raise CtrError(f"{path}: the export's weights do not fit the {name} its metadata describes (shapes "
                       f"{shapes[1]} against {shapes[0]}); was it written by another version of ctr?")
    for variable, value in zip(variables, saved, strict=True):
        variable.assign(value.numpy())
    model.history_ = dict(served.metadata.get("history") or {})
    model.warm_start_ = served.metadata.get("warm_start")
    model.calibration_ = served.metadata.get("calibration")
    return model
