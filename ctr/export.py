"""SavedModel export that serves raw feature values, and a loader that needs only TensorFlow.

The exported graph is the fitted `FeatureEncoder` followed by the model's scorer, so vocabularies,
scaling and the missing/unseen rules travel inside it. `serving_default` takes one batched, typed
input per feature (strings, int64, float32) and returns `probability` and `logit`. The spec is an
asset of the SavedModel (`assets/spec.yaml`); `assets.extra/ctr.json` records the model, its
arguments, its inputs and the preprocessing state as JSON. Export writes into a temporary folder
beside the target, reloads it and checks its predictions, and only then swaps it into place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import __version__
from . import data as ctr_data
from ._args import CLICK_EVALUATE_ONLY, SERVED_NAMES, KerasNames, check_arguments, named_keywords
from ._keras import tf
from .errors import CtrError, first_line
from .export_files import DAMAGED, METADATA, ExportError, check_export_target, read_metadata
from .features import FeatureEncoder, Preprocessor, raw_signature, raw_tensors, raw_text, token_bytes
from .models.embeddings import embedding_tables
from .spec import EPOCH_UNITS, FeatureSpec, describe_spec, raw_dtype

if TYPE_CHECKING:
    from .models.base import RankingModel

# Rows a loaded export scores in one call. Two million synthetic rows from Parquet, scored by DeepFM
# in one call, peaked at 7 GB; in calls of this size at 1.5 GB, and rows/s are the same from 8k to 500k.
SCORED_A_CALL = 65_536


class _RankingServer(tf.Module):
    """What the SavedModel holds: encoder + scorer, the spec asset, and the serving function."""

    def __init__(self, encoder: FeatureEncoder, scorer: Any, spec_file: Path, calibration: dict | None = None):
        super().__init__(name="ctr_ranking")
        self.encoder, self.scorer = encoder, scorer
        # Platt scaling's slope and intercept, as constants of the graph; uncalibrated: the logits as they are.
        self.calibrated = calibration is not None
        self.slope, self.intercept = (calibration["slope"], calibration["intercept"]) if calibration else (1.0, 0.0)
        self.embedding_tables = embedding_tables(scorer)  # by name, for `ctr embeddings`
        self.spec_asset = tf.saved_model.Asset(str(spec_file))

    def serve(self, inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        logits = self.scorer(self.encoder(inputs), training=False)
        if self.calibrated:
            logits = logits * self.slope + self.intercept
        return {"probability": tf.sigmoid(logits), "logit": logits}


def export_ranking_model(model: RankingModel, path: Path, verify: bool = True,
                         history: dict[str, list[float]] | None = None) -> Path:
    """Write `model` as a raw-feature SavedModel at `path` (see the module docstring); `history`, the
    training history to record, is the model's own unless given (a checkpoint's, mid-fit)."""
    network = model._require_network()
    spec = model.spec
    metadata = {
        "ctr_version": __version__,
        "model": type(model).__name__,
        "config": model.get_config(),
        "inputs": {f.name: raw_dtype(f) for f in spec.features},
        "outputs": {"probability": "float32", "logit": "float32"},
        "missing_int": int(np.iinfo(np.int64).min),
        "preprocessing": model.preprocessor_.state,
        "history": model.history_ if history is None else history,
        "warm_start": model.warm_start_,
        "calibration": model.calibration_,
        "rows_a_call": network.scorer.rows_a_call,
    }

    def write(tmp: Path) -> None:
        staging = Path(tempfile.mkdtemp(prefix="ctr-spec-"))
        try:
            spec_file = staging / "spec.yaml"
            spec.to_yaml(spec_file)
            server = _RankingServer(model.preprocessor_.encoder(), network.scorer, spec_file, model.calibration_)
            serve = tf.function(server.serve, input_signature=[raw_signature(spec)], autograph=False)
            tf.saved_model.save(server, str(tmp), signatures={"serving_default": serve.get_concrete_function()})
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        (tmp / "assets.extra").mkdir(exist_ok=True)
        (tmp / METADATA).write_text(json.dumps(metadata, indent=1))

    def check(tmp: Path) -> None:
        if not verify:
            return
        sample = _probe_rows(spec, model.preprocessor_.state)
        served = load(tmp).predict(sample)
        expected = model.predict(sample)
        worst = float(np.max(np.abs(served - expected))) if len(sample) else 0.0
        if not worst <= 1e-5:
            raise ExportError(f"the exported graph does not reproduce the model: max difference {worst:.3g}")

    return atomic_export(path, write, check)


def atomic_export(path: Path, write: Callable[[Path], None], check: Callable[[Path], None]) -> Path:
    """Write into a temporary sibling folder, check it, then swap it in; on failure the old one stays."""
    path = check_export_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        write(tmp)
        check(tmp)
        _fsync_tree(tmp)
        if path.exists():
            old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                os.fsync(handle.fileno())


def _probe_rows(spec: FeatureSpec, state: dict[str, Any], n: int = 16) -> pd.DataFrame:
    """Rows that exercise known, unseen and missing values of every feature, to verify an export."""
    rng = np.random.default_rng(0)
    rows: dict[str, list[Any]] = {}
    for f in spec.features:
        dtype = raw_dtype(f)
        group = f.shared_embedding or f.name
        if f.kind == "history":  # a history lists item ids: probe with real ones
            items = spec[f.items]
            group = items.shared_embedding or items.name
        table = state["tables"].get(group, {})
        vocab = table.get("vocabulary") or ["a", "b"]
        if f.kind == "vector":  # around its mean, with a component of NaN, one of inf, and no vector at all
            stats = state["numeric"][f.name]
            values = list(np.asarray(stats["mean"]) + rng.normal(size=(n, f.dim)) * 2)
            values[0][0], values[1][-1], values[2] = np.nan, np.inf, None
        elif dtype == "float32":
            stats = state["numeric"][f.name]
            centre = stats.get("mean", 0.0) if "mean" in stats else float(np.median(stats["boundaries"] or [0.0]))
            values = list(centre + rng.normal(size=n) * 2)
            values[0], values[1] = float("nan"), float("inf")
        elif dtype == "int64" and f.kind == "timestamp" and f.format:  # written as digits, and one missing
            moments = pd.to_datetime(1_500_000_000 + rng.integers(0, 10**8, n), unit="s")
            values = [None] + [int(m.strftime(f.format)) for m in moments[1:]]
        elif dtype == "int64" and f.kind == "timestamp":
            values = list((1_500_000_000 + rng.integers(0, 10**8, n)) * EPOCH_UNITS[f.unit])  # in its unit
        elif dtype == "int64":
            known = [int(v) for v in vocab[:n] if v.lstrip("-").isdigit()] or [1, 2]
            values = [known[i % len(known)] for i in range(n)]
            values[0] = -987654321  # unseen
        else:
            width = 1 if f.kind == "categorical" else min(3 if f.kind == "history" else 2, len(vocab))
            separator = getattr(f, "separator", " ")
            values = [raw_text(token_bytes(separator.join(rng.choice(vocab, size=width).tolist()))) for _ in range(n)]
            if getattr(f, "weighted", False):  # weights of every spelling: none, whole, zero, fractions, exponents
                spelt = ["", "2", "0", "0.25", " .5", "1e-3 ", "3."]
                weights = [f.weight_separator + w if w else "" for w in spelt]
                values = [separator.join(token + weights[(i + j) % len(weights)]
                                         for j, token in enumerate(value.split(separator)))
                          if isinstance(value, str) else value for i, value in enumerate(values)]
            unseen = "-987654321" if f.kind == "history" and raw_dtype(spec[f.items]) == "int64" else "never-seen-value"
            values[0], values[1] = "", unseen
        rows[f.source] = values
    return pd.DataFrame(rows)


def describe_export(metadata: dict[str, Any], spec: FeatureSpec) -> str:
    """An export's model and settings, then its features with their fitted table sizes (`ctr describe`)."""
    request = ", ".join(f"{name} ({dtype})" for name, dtype in metadata["inputs"].items())
    if metadata["model"] == "Popularity":  # no feature is encoded: the spec's table would describe nothing it does
        return (f"Popularity: every request gets the catalogue's items by their count of positive training "
                f"interactions; pair scores read the item id {metadata['item_key']!r} alone\n"
                f"request features (the spec's user and context features, not read): {request}")
    if metadata["model"] == "EASE":  # ids alone, no encoded feature, as for Popularity
        return (f"EASE {metadata['config']}: a user's score for an item is the sum of the item × item weights B from "
                f"the items in their history (the request's, else their training history, held in the export), the "
                f"item counts for a user with none\nrequest: {request}; pair scores also read the item id "
                f"{metadata['item_key']!r}")
    from .models import TRAINED
    from .models.base import RankingModel, read_as_weights

    fitted = Preprocessor(spec, metadata["preprocessing"])
    model = TRAINED.get(metadata["model"])
    weights = (read_as_weights(spec, metadata["config"], model.embeds)
               if isinstance(model, type) and issubclass(model, RankingModel) else ())
    head = "".join(line + "\n" for line in [f"{metadata['model']} {metadata['config']}",
                                             *provenance(metadata.get("warm_start"), metadata.get("calibration"))])
    if metadata["model"] == "RecommendationPipeline":
        head = (f"{metadata['model']}: {metadata['retriever']} retrieves {metadata['n_candidates']} candidates, "
                f"{metadata['ranker']} re-ranks them {metadata['config']}\n")
        if metadata["preprocessing"] is None:  # an EASE retriever reads ids: it has no fitted features to list
            return head + f"request: {request}"
        head += "the retriever's features (the request's schema):\n"
    return head + describe_spec(spec, fitted, weights)


def provenance(warm_start: dict | None, calibration: dict | None) -> list[str]:
    """What a model's settings do not say of how it was made: the warm start it began from, its calibration."""
    from .calibration import describe_calibration
    from .models._warm import describe

    return ([describe(warm_start)] if warm_start else []) + ([describe_calibration(calibration)] if calibration else [])


class ServedModel(KerasNames):
    """An exported ranking model loaded back with plain TensorFlow; `predict` takes a DataFrame."""

    _KERAS_NAMES = SERVED_NAMES

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.metadata = read_metadata(self.path)
        if "recommend" in self.metadata.get("signatures", []):
            raise CtrError(f"{self.path} is a recommender export ({self.metadata['model']}); it recommends items "
                           "rather than scoring rows: use ctr.RecommenderExport or `ctr recommend`")
        self.spec = FeatureSpec.from_yaml(self.path / "assets" / "spec.yaml")
        self._loaded = load_graph(self.path)
        self.signature = self._loaded.signatures["serving_default"]
        self._columns = self.spec.feature_columns
        self._hint = ctr_data.column_hints(self.spec, then="; the model needs " + ", ".join(map(repr, self._columns)))
        self._dtypes = ctr_data.csv_dtypes(self.spec)  # how a CSV's columns are read, known once

    @named_keywords()
    def predict(self, data: ctr_data.Source, batch_size: int = SCORED_A_CALL, verbose: str | int = 0) -> np.ndarray:
        """Click probabilities for raw rows (a DataFrame, any data source, or a dict of 1-D columns);
        missing, mistyped and misshapen features are named before TensorFlow sees them. Rows are
        scored `batch_size` at a time and files are streamed, so memory follows the batch, not the data.
        `verbose` 1 or "auto" shows a progress bar, as Keras' predict does."""
        check_arguments("ServedModel.predict", batch_size=batch_size, verbose=verbose)
        batch_size = batch_size or SCORED_A_CALL  # None: the default
        data = ctr_data.as_source(data)
        advance = ctr_data.progress(data, verbose)
        scores = []
        for chunk in ctr_data.iter_chunks(data, self._columns, batch_size, self._hint, self._dtypes):
            scores.append(self._probabilities(chunk))
            advance(len(chunk))
        return np.concatenate(scores)

    @named_keywords(CLICK_EVALUATE_ONLY)
    def evaluate(self, data: ctr_data.Source, batch_size: int = SCORED_A_CALL, *, group_by: str | None = None,
                 verbose: str | int = 0) -> dict[str, float]:
        """The figures the model's own `evaluate` gives, from the export: AUC, logloss, calibration, ...,
        and with `group_by` (a column, e.g. "user_id") the group AUC over its values."""
        from .evaluation import evaluate_clicks

        check_arguments("ServedModel.evaluate", batch_size=batch_size, verbose=verbose)
        return evaluate_clicks("ServedModel.evaluate", self.spec,
                               lambda frame: self.predict(frame, batch_size, verbose), data, group_by).figures

    @named_keywords()
    def to_onnx(self, path: str | Path, *, verify: bool = True) -> Path:
        """Write this export as one ONNX file that takes raw features, as the model's
        `export(path, format="onnx")` would have (`pip install 'ctr[onnx]'`); checked and atomic."""
        from .onnx_export import export_served

        return export_served(self, path, verify=verify)

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Print the exported model, its settings and its features with their fitted sizes."""
        print_fn(describe_export(self.metadata, self.spec))

    def _probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        return self._outputs(frame)["probability"]

    def _outputs(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """serving_default's outputs (probability, logit) for rows holding the model's columns, at most the
        model's `rows_a_call` a call (xDeepFM's, whose memory grows with the rows faster than its inputs do)."""
        most = self.metadata.get("rows_a_call")
        if most and len(frame) > most:  # only then: a serving call's rows go to the signature as they came
            parts = [self._outputs(frame.iloc[start:start + most]) for start in range(0, len(frame), most)]
            return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
        return {k: v.numpy() for k, v in self.signature(**raw_tensors(ctr_data.raw_features(frame, self.spec),
                                                                      self.spec)).items()}

    def __repr__(self) -> str:
        return f"ServedModel({str(self.path)!r}, model={self.metadata.get('model')!r})"


def load_graph(path: Path) -> Any:
    """The SavedModel at `path` loaded with TensorFlow, or a CtrError saying the export is damaged:
    a truncated or missing file fails inside TensorFlow with OSError, IndexError and the like."""
    try:
        return tf.saved_model.load(str(path))
    except Exception as err:  # whatever TensorFlow raised, the files are the problem (chained)
        raise CtrError(f"{path}: the SavedModel cannot be loaded ({first_line(err)}); {DAMAGED}") from err


def load(path: str | Path) -> Any:
    """Load an export written by `export`: a `ServedModel` for ranking models (predict on raw rows),
    a `RecommenderExport` for recommenders and pipelines (recommend for query rows)."""
    if "recommend" in read_metadata(Path(path)).get("signatures", []):
        from .export_recommend import RecommenderExport

        return RecommenderExport(path)
    return ServedModel(path)
