"""SavedModels that recommend: the catalogue travels inside, `k` and exclusions are chosen per request.

Signatures (all inputs raw and batched, as in the ranking export):
- `recommend`: the query features (user and context), `k` (int32 scalar) and `exclude` (item ids
  [batch, n], padded with any id not in the catalogue, e.g. -1 or "") → `item_ids` [batch, k] and
  `scores` [batch, k]. An excluded item is never returned; if fewer than k items remain, the tail is
  padded with -1 (integer ids) or "" (string ids) and score -inf.
- `user_embedding` / `item_embedding` (factorised models): query or item features → `embedding`.
- `similar_items` (factorised models): catalogue item ids [batch] and `k` → the `item_ids` [batch, k]
  nearest to each by the cosine of their item vectors (itself left out) and those `scores`; an id
  not in the catalogue gets a padded row.
- `serving_default`: query and item features → `score` of each (query, item) pair.

Only standard TensorFlow ops are used (matrix product, `top_k`, a static hash table), so the export
loads with plain TensorFlow.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import __version__
from . import data as ctr_data
from ._args import RECOMMENDER_EXPORT_NAMES, KerasNames, check_arguments, check_exclude, named_keywords
from ._keras import tf
from .errors import CtrError, DataError
from .evaluation import RankingEvaluation
from .export import SCORED_A_CALL, ExportError, atomic_export
from .export_files import DAMAGED, METADATA, read_metadata
from .features import MISSING_INT, raw_signature, raw_tensors
from .models.ease import EASE
from .models.embeddings import embedding_tables
from .models.recommender import PAIRS_A_CALL, exclude_ids, item_ids, similarity
from .spec import FeatureSpec, raw_dtype

if TYPE_CHECKING:
    from .models.popularity import Popularity
    from .models.recommender import Recommender
    from .pipeline import RecommendationPipeline

CATALOGUE = "assets.extra/catalogue.parquet"
USERS = "assets.extra/users.parquet"


class _Catalogue(tf.Module):
    """Item ids, their raw features and (for factorised retrieval) their vectors, held as variables."""

    def __init__(self, ids: np.ndarray, id_dtype: tf.DType, raw: dict[str, np.ndarray] | None = None,
                 vectors: np.ndarray | None = None):
        super().__init__()
        self.id_dtype = id_dtype
        self.ids = tf.Variable(tf.constant(ids, id_dtype), trainable=False, name="catalogue_ids")
        self.rows = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(ids, id_dtype), tf.range(len(ids), dtype=tf.int64)),
            default_value=-1)
        self.raw = {k: tf.Variable(tf.constant(v, _tf_dtype(v)), trainable=False, name=f"raw_{k}")
                    for k, v in (raw or {}).items()}
        self.vectors = None if vectors is None else tf.Variable(vectors, trainable=False, name="catalogue_vectors")

    def size(self) -> tf.Tensor:
        return tf.shape(self.ids, out_type=tf.int64)[0]

    def mask_excluded(self, scores: tf.Tensor, exclude: tf.Tensor) -> tf.Tensor:
        """Scores [B, N] with every excluded item set to -inf (exclude: ids [B, E])."""
        rows = self.rows.lookup(exclude)
        hits = tf.where(rows >= 0)  # [M, 2]: (batch, position) of ids that are in the catalogue
        indices = tf.stack([hits[:, 0], tf.gather_nd(rows, hits)], axis=1)
        updates = tf.fill(tf.shape(hits)[:1], tf.constant(-np.inf, scores.dtype))
        return tf.tensor_scatter_nd_update(scores, indices, updates)

    def top_k(self, scores: tf.Tensor, k: tf.Tensor) -> dict[str, tf.Tensor]:
        k = tf.minimum(tf.cast(k, tf.int64), tf.cast(tf.shape(scores)[1], tf.int64))
        values, rows = tf.math.top_k(scores, k=tf.cast(k, tf.int32))
        ids = tf.gather(self.ids, rows)
        pad = tf.fill(tf.shape(ids), tf.constant("" if self.id_dtype == tf.string else -1, self.id_dtype))
        return {"item_ids": tf.where(values > -np.inf, ids, pad), "scores": values}

    def raw_rows(self, rows: tf.Tensor) -> dict[str, tf.Tensor]:
        return {k: tf.gather(v, rows) for k, v in self.raw.items()}


class _RecommenderServer(tf.Module):
    """Query and item encoders, the scorer and the catalogue of one trained recommender."""

    def __init__(self, model: Recommender, catalogue: _Catalogue):
        super().__init__()
        self.query_encoder = model.preprocessor_.encoder(model.query_features)
        self.item_encoder = model.preprocessor_.encoder(model.item_features)
        self.scorer = model.network_.scorer
        self.embedding_tables = embedding_tables(self.scorer)  # by name, for `ctr embeddings`
        self.catalogue = catalogue
        self.factorized = model.factorized
        if not self.factorized:
            self.items_encoded = {k: tf.Variable(v, trainable=False, name=f"encoded_{k}")
                                  for k, v in model._catalogue_encoded.items()}

    def all_scores(self, query: dict[str, tf.Tensor]) -> tf.Tensor:
        """Scores [B, N] of every catalogue item for each query."""
        encoded = self.query_encoder(query)
        if self.factorized:
            return tf.matmul(self.scorer.query_vectors(encoded), self.catalogue.vectors, transpose_b=True)
        batch = tf.shape(next(iter(query.values())))[0]
        n = tf.shape(self.catalogue.ids)[0]
        tiled = {k: tf.repeat(v, n, axis=0) for k, v in encoded.items()}
        tiled.update({k: tf.tile(v, tf.concat([[batch], tf.ones([tf.rank(v) - 1], tf.int32)], 0))
                      for k, v in self.items_encoded.items()})
        return tf.reshape(self.scorer(tiled), [batch, n])

    def recommend(self, query: dict[str, tf.Tensor], k: tf.Tensor, exclude: tf.Tensor) -> dict[str, tf.Tensor]:
        return self.catalogue.top_k(self.catalogue.mask_excluded(self.all_scores(query), exclude), k)

    def pair_scores(self, features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        query = {k: v for k, v in features.items() if k in self.query_encoder.spec.names}
        items = {k: v for k, v in features.items() if k in self.item_encoder.spec.names}
        return {"score": self.scorer({**self.query_encoder(query), **self.item_encoder(items)})}


def _signatures(spec: FeatureSpec, query_names: list[str], id_dtype: tf.DType, recommend: Any) -> dict[str, Any]:
    query_sig = raw_signature(spec, query_names)

    # No signature here has Python control flow on tensors, so none is traced through autograph
    # (whose rewriting of every layer's source was most of a trace).
    @tf.function(input_signature=[query_sig, tf.TensorSpec([], tf.int32, name="k"),
                                  tf.TensorSpec([None, None], id_dtype, name="exclude")], autograph=False)
    def recommend_fn(query: dict[str, tf.Tensor], k: tf.Tensor, exclude: tf.Tensor) -> dict[str, tf.Tensor]:
        return recommend(query, k, exclude)

    return {"recommend": recommend_fn.get_concrete_function()}


def export_recommender(model: Recommender, path: Path, verify: bool = True) -> Path:
    """Write a recommender (MF, NeuMF, two-tower) as a SavedModel carrying its catalogue."""
    model._require_network()
    spec = model.spec
    id_feature = spec[model.item_key]
    catalogue_frame = model.catalogue_
    ids, id_dtype = _catalogue_ids(spec, model.item_key, catalogue_frame)
    vectors = model.catalogue_vectors() if model.factorized else None
    metadata = _metadata(model, spec, model.query_features)

    def write(tmp: Path) -> None:
        catalogue = _Catalogue(ids, id_dtype, vectors=vectors)
        server = _RecommenderServer(model, catalogue)
        signatures = _signatures(spec, model.query_features, id_dtype, server.recommend)
        pair_sig = raw_signature(spec, model.query_features + model.item_features)
        signatures["serving_default"] = tf.function(server.pair_scores, input_signature=[pair_sig],
                                                    autograph=False).get_concrete_function()
        if model.factorized:
            signatures["user_embedding"] = tf.function(
                lambda q: {"embedding": server.scorer.query_vectors(server.query_encoder(q))},
                input_signature=[raw_signature(spec, model.query_features)], autograph=False).get_concrete_function()
            signatures["item_embedding"] = tf.function(
                lambda i: {"embedding": server.scorer.item_vectors(server.item_encoder(i))},
                input_signature=[raw_signature(spec, model.item_features)], autograph=False).get_concrete_function()
            signatures["similar_items"] = _similar_items_signature(_nearest_vectors(server), id_feature.name, id_dtype)
        _save(server, tmp, signatures, spec, metadata, catalogue_frame, _users_table(model))

    def check(tmp: Path) -> None:
        if verify:
            _verify(tmp, model, ids)

    return atomic_export(path, write, check)


def _catalogue_ids(spec: FeatureSpec, item_key: str, catalogue: pd.DataFrame) -> tuple[np.ndarray, tf.DType]:
    """A catalogue's item ids as the item feature's serving input reads them, and their TensorFlow type."""
    ids = item_ids("export", spec, item_key, catalogue[spec[item_key].source])
    return ids, tf.string if raw_dtype(spec[item_key]) == "string" else tf.int64


def _similar_items_signature(similar: Callable[[tf.Tensor, tf.Tensor], dict[str, tf.Tensor]], id_name: str,
                             id_dtype: tf.DType) -> Any:
    """`similar_items`: catalogue item ids and k → the items nearest to each by `similar` (ids, k)."""
    return tf.function(
        similar, input_signature=[tf.TensorSpec([None], id_dtype, name=id_name), tf.TensorSpec([], tf.int32, name="k")],
        autograph=False).get_concrete_function()


def _nearest_vectors(server: _RecommenderServer) -> Callable[[tf.Tensor, tf.Tensor], dict[str, tf.Tensor]]:
    """A factorised model's similar items: by the cosine of their item vectors."""
    catalogue = server.catalogue
    return lambda ids, k: catalogue.top_k(similarity(catalogue.vectors, catalogue.rows.lookup(ids),
                                                     server.scorer.taste_width), k)


def export_pipeline(pipeline: RecommendationPipeline, path: Path, verify: bool = True) -> Path:
    """Write retrieval → ranking → filter as one SavedModel with a `recommend` signature."""
    retriever, ranker = pipeline.retriever, pipeline.ranker
    spec = retriever.spec
    id_feature = spec[retriever.item_key]
    catalogue_frame = retriever.catalogue_
    ids, id_dtype = _catalogue_ids(spec, retriever.item_key, catalogue_frame)
    ranker_spec = ranker.spec
    ranker_items = [f for f in ranker_spec.features if f.role == "item"]
    missing = [f.source for f in ranker_items if f.source not in catalogue_frame.columns]
    if missing:
        raise DataError(f"the ranker reads item column(s) {', '.join(map(repr, missing))}, which the retriever's "
                        "catalogue does not hold; give the retriever a spec with these item features")
    raw_items = ctr_data.raw_features(catalogue_frame, FeatureSpec(features=tuple(ranker_items)))
    query_names = pipeline.query_features
    metadata = _metadata(retriever, spec, query_names)
    metadata.update({"model": "RecommendationPipeline", "n_candidates": pipeline.n_candidates,
                     "retriever": type(retriever).__name__, "ranker": type(ranker).__name__,
                     "config": pipeline.get_config()})
    n_candidates = pipeline.n_candidates

    def write(tmp: Path) -> None:
        if isinstance(retriever, EASE):  # B's rows over the request's (or stored) history
            catalogue = _Catalogue(ids, id_dtype, raw=raw_items)
            server = _EASEServer(retriever, catalogue)
            retrieve, similar = server.scorer.scores, server.similar_items
        else:
            catalogue = _Catalogue(ids, id_dtype, raw=raw_items, vectors=retriever.catalogue_vectors())
            server = _RecommenderServer(retriever, catalogue)
            # The retriever's items are its catalogue's vectors and the ranker encodes its own, so the
            # retriever's item encoder is never called; saved unbuilt, it made Keras warn once per layer.
            del server.item_encoder
            retrieve, similar = server.all_scores, _nearest_vectors(server)
        server.ranker_encoder = ranker.preprocessor_.encoder()
        server.ranker_scorer = ranker.network_.scorer
        probability = not hasattr(ranker, "catalogue_")  # a CTR ranker scores probabilities
        calibration = getattr(ranker, "calibration_", None)  # its Platt scaling, as its own export applies it

        def recommend(query: dict[str, tf.Tensor], k: tf.Tensor, exclude: tf.Tensor) -> dict[str, tf.Tensor]:
            retrieval = catalogue.mask_excluded(retrieve({n: query[n] for n in retriever.query_features}), exclude)
            n = tf.minimum(n_candidates, tf.shape(retrieval)[1])
            first, rows = tf.math.top_k(retrieval, k=n)  # [B, n]
            batch = tf.shape(rows)[0]
            inputs = {f.name: tf.repeat(query[f.name], n, axis=0) for f in ranker_spec.features if f.role != "item"}
            inputs.update({k2: tf.reshape(v, [-1]) for k2, v in catalogue.raw_rows(rows).items()})
            logits = tf.reshape(server.ranker_scorer(server.ranker_encoder(inputs), training=False), [batch, n])
            if calibration is not None:
                logits = logits * calibration["slope"] + calibration["intercept"]
            scores = tf.sigmoid(logits) if probability else logits
            scores = tf.where(first > -np.inf, scores, -np.inf)  # excluded items stay out
            k2 = tf.minimum(k, n)
            values, order = tf.math.top_k(scores, k=k2)
            chosen = tf.gather(rows, order, batch_dims=1)
            pad = tf.fill(tf.shape(chosen), tf.constant("" if id_dtype == tf.string else -1, id_dtype))
            return {"item_ids": tf.where(values > -np.inf, tf.gather(catalogue.ids, chosen), pad), "scores": values}

        signatures = _signatures(spec, query_names, id_dtype, recommend)
        signatures["similar_items"] = _similar_items_signature(similar, id_feature.name, id_dtype)  # the retriever's
        _save(server, tmp, signatures, spec, metadata, catalogue_frame, _users_table(retriever))

    def check(tmp: Path) -> None:
        if verify:
            _verify(tmp, pipeline, ids)

    return atomic_export(path, write, check)


class _PopularityServer(tf.Module):
    """A popularity baseline's catalogue and counts: every query gets the same scores."""

    def __init__(self, catalogue: _Catalogue, counts: np.ndarray, item_name: str):
        super().__init__()
        self.catalogue, self.item_name = catalogue, item_name
        self.counts = tf.Variable(counts.astype(np.float32), trainable=False, name="item_counts")

    def recommend(self, query: dict[str, tf.Tensor], k: tf.Tensor, exclude: tf.Tensor) -> dict[str, tf.Tensor]:
        batch = tf.shape(next(iter(query.values())))[0]
        scores = tf.tile(self.counts[None, :], tf.stack([batch, 1]))
        return self.catalogue.top_k(self.catalogue.mask_excluded(scores, exclude), k)

    def pair_scores(self, features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        rows = self.catalogue.rows.lookup(features[self.item_name])
        return {"score": tf.where(rows >= 0, tf.gather(self.counts, tf.maximum(rows, 0)), 0.0)}


class _EASEServer(tf.Module):
    """EASE's scorer (the one its in-process scores come from) over the catalogue that names its rows."""

    def __init__(self, model: EASE, catalogue: _Catalogue):
        super().__init__()
        self.catalogue, self.scorer, self.item_name = catalogue, model.scorer, model.item_key

    def recommend(self, query: dict[str, tf.Tensor], k: tf.Tensor, exclude: tf.Tensor) -> dict[str, tf.Tensor]:
        return self.catalogue.top_k(self.catalogue.mask_excluded(self.scorer.scores(query), exclude), k)

    def pair_scores(self, features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return {"score": self.scorer.pair_scores(features, self.catalogue.rows.lookup(features[self.item_name]))}

    def similar_items(self, ids: tf.Tensor, k: tf.Tensor) -> dict[str, tf.Tensor]:
        return self.catalogue.top_k(self.scorer.similar(self.catalogue.rows.lookup(ids)), k)


def export_baseline(model: Popularity | EASE, path: Path, verify: bool = True) -> Path:
    """Write a baseline with no network (Popularity, EASE) as a SavedModel with the recommenders' `recommend` and
    `serving_default` (and EASE's `similar_items`) over the same request, carrying the catalogue and what scores
    it: Popularity's counts, or EASE's B and its users' histories."""
    spec = model.spec
    ids, id_dtype = _catalogue_ids(spec, model.item_key, model.catalogue_)
    metadata = _metadata(model, spec, model.query_features)

    def write(tmp: Path) -> None:
        catalogue = _Catalogue(ids, id_dtype)
        server = (_EASEServer(model, catalogue) if isinstance(model, EASE)
                  else _PopularityServer(catalogue, model.counts_, model.item_key))
        signatures = _signatures(spec, model.query_features, id_dtype, server.recommend)
        signatures["serving_default"] = tf.function(
            server.pair_scores, input_signature=[raw_signature(spec, [*model.query_features, model.item_key])],
            autograph=False).get_concrete_function()
        if isinstance(server, _EASEServer):
            signatures["similar_items"] = _similar_items_signature(server.similar_items, spec[model.item_key].name,
                                                                   id_dtype)
        _save(server, tmp, signatures, spec, metadata, model.catalogue_, model.users_)

    def check(tmp: Path) -> None:
        if verify:
            _verify(tmp, model, ids)

    return atomic_export(path, write, check)


def _metadata(model: Any, spec: FeatureSpec, query_names: list[str]) -> dict[str, Any]:
    return {
        "ctr_version": __version__, "model": type(model).__name__, "config": model.get_config(),
        "user_key": model.user_key, "item_key": model.item_key,
        "inputs": {n: raw_dtype(spec[n]) for n in query_names},
        "missing_int": int(MISSING_INT),
        # None for Popularity, which reads its request's features through no preprocessing
        "preprocessing": model.preprocessor_.state if hasattr(model, "preprocessor_") else None,
        "warm_start": getattr(model, "warm_start_", None),
        # Each catalogue item's count of training interactions, in the catalogue's order: what a recommender's
        # negatives and sampling corrections are drawn by, so that ctr.load_model can train it further.
        "item_counts": counts.tolist() if (counts := getattr(model, "item_counts_", None)) is not None else None,
    }


def _users_table(model: Recommender) -> pd.DataFrame:
    return model.users_ if model.users_ is not None else pd.DataFrame()


def _save(server: tf.Module, tmp: Path, signatures: dict[str, Any], spec: FeatureSpec, metadata: dict[str, Any],
          catalogue: pd.DataFrame, users: pd.DataFrame) -> None:
    metadata["signatures"] = list(signatures)  # what was saved, in order: recommend first
    staging = Path(tempfile.mkdtemp(prefix="ctr-spec-"))
    try:
        spec.to_yaml(staging / "spec.yaml")
        server.spec_asset = tf.saved_model.Asset(str(staging / "spec.yaml"))
        tf.saved_model.save(server, str(tmp), signatures=signatures)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    (tmp / "assets.extra").mkdir(exist_ok=True)
    (tmp / METADATA).write_text(json.dumps(metadata, indent=1))
    catalogue.to_parquet(tmp / CATALOGUE, index=False)
    if len(users):
        users.to_parquet(tmp / USERS, index=False)


def _verify(tmp: Path, model: Any, ids: np.ndarray) -> None:
    """The reloaded export must recommend, and find similar items, as the model does in process."""
    served = RecommenderExport(tmp)
    if not len(served.users):
        return
    queries = ctr_data.complete_queries(served.spec, served.query_features, served.users.head(8))
    exclude = [[ids[0]]] * len(queries)
    got_ids, got_scores = served.recommend(queries, k=5, exclude=exclude)
    _, want_scores = model.recommend(queries, k=5, exclude=exclude)
    if (got_ids.astype(str) == str(ids[0])).any():
        raise ExportError("the exported recommend signature returned an excluded item")
    if not np.allclose(got_scores, want_scores, atol=1e-4, rtol=1e-4):
        raise ExportError("the exported recommend signature does not reproduce the model's scores "
                          f"(max difference {np.max(np.abs(got_scores - want_scores)):.3g})")
    if "similar_items" in served.metadata["signatures"]:
        got_cosines, want_cosines = served.similar_items(ids[:4], k=5)[1], model.similar_items(ids[:4], k=5)[1]
        if not np.allclose(got_cosines, want_cosines, atol=1e-4, rtol=1e-4):
            raise ExportError("the exported similar_items signature does not reproduce the model's cosines")


class RecommenderExport(RankingEvaluation, KerasNames):
    """An exported recommender loaded with TensorFlow: `recommend` for query rows (a DataFrame); it can
    be tested with `ctr.evaluate_ranking` like the model it came from."""

    _KERAS_NAMES = RECOMMENDER_EXPORT_NAMES

    def __init__(self, path: str | Path):
        from .export import load_graph

        self.path = Path(path)
        self.metadata = read_metadata(self.path)
        if "recommend" not in self.metadata.get("signatures", []):
            raise CtrError(f"{self.path} is a ranking export ({self.metadata['model']}) with no recommend "
                           "signature: use ctr.load(path).predict(rows) or `ctr predict`")
        self.spec = FeatureSpec.from_yaml(self.path / "assets" / "spec.yaml")
        self._dtypes = ctr_data.csv_dtypes(self.spec)  # how a CSV's columns are read, known once
        if not (self.path / CATALOGUE).exists():
            raise CtrError(f"{self.path}: {CATALOGUE}, the catalogue, is missing; {DAMAGED}")
        self.catalogue = pd.read_parquet(self.path / CATALOGUE)
        self.users = pd.read_parquet(self.path / USERS) if (self.path / USERS).exists() else pd.DataFrame()
        self._loaded = load_graph(self.path)
        self.signature = self._loaded.signatures["recommend"]
        self._catalogue_raw: dict[str, np.ndarray] | None = None

    def __repr__(self) -> str:
        return (f"RecommenderExport({str(self.path)!r}, model={self.metadata.get('model')!r}, "
                f"items={len(self.catalogue)})")

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Print the exported model, its settings, its features with their fitted sizes and its catalogue's size."""
        from .export import describe_export

        print_fn(describe_export(self.metadata, self.spec) + f"\ncatalogue: {len(self.catalogue):,} items")

    @property
    def query_features(self) -> list[str]:
        return list(self.metadata["inputs"])

    def catalog_ids(self) -> np.ndarray:
        """Item ids of the exported catalogue, one per catalogue row."""
        return self.catalogue[self.spec[self.metadata["item_key"]].source].to_numpy()

    @named_keywords()
    def predict(self, data: ctr_data.Source, batch_size: int = SCORED_A_CALL, verbose: str | int = 0) -> np.ndarray:
        """Scores of (query, item) rows from their own raw features, by the export's `serving_default`:
        what the model's `predict` gives, with the columns a row lacks filled as it fills them (a known
        user's and a catalogue item's stored features). Rows are scored `batch_size` at a time; files
        are streamed (`verbose`: a progress bar, as in Keras)."""
        check_arguments("RecommenderExport.predict", batch_size=batch_size, verbose=verbose)
        batch_size = batch_size or SCORED_A_CALL  # None: the default
        pairs, names = self._pair_signature()
        data = ctr_data.as_source(data)
        advance = ctr_data.progress(data, verbose)
        scores = []
        for chunk in ctr_data.iter_chunks(data, chunk_rows=batch_size, dtypes=self._dtypes):
            frame = self.pair_rows(chunk)
            inputs = raw_tensors(ctr_data.raw_features(frame, self.spec, names), self.spec)
            scores.append(pairs(**inputs)["score"].numpy())
            advance(len(chunk))
        return np.concatenate(scores)

    def pair_rows(self, rows: pd.DataFrame) -> pd.DataFrame:
        """(user, item) rows with the columns they lack filled as `predict` fills them: a known user's
        stored features by the user id, a catalogue item's by the item id (missing for ids not stored)."""
        return ctr_data.complete_pairs(self.spec, self.query_features, self._pair_items, self.metadata["item_key"],
                                       rows, self.users, self.catalogue, self._reads_queries)

    @functools.cached_property
    def _pair_items(self) -> list[str]:
        """The item features the pair scores read (a pipeline has none: `_pair_signature` says so)."""
        return [n for n in self._pair_signature()[1] if n not in self.query_features]

    @property
    def _reads_queries(self) -> bool:
        """Whether the model reads the query features its signatures take (popularity's ignores them)."""
        return self.metadata["model"] != "Popularity"

    def _pair_signature(self) -> tuple[Any, list[str]]:
        """The pair-score signature and its input names (query and item features)."""
        if self.metadata["model"] == "RecommendationPipeline":
            raise CtrError(f"{self.path} is a retrieve → re-rank pipeline ({self.metadata['retriever']} → "
                           f"{self.metadata['ranker']}): it serves recommendations (`ctr recommend`, "
                           "RecommenderExport.recommend), not pair scores; score pairs with the ranker's own export")
        if "serving_default" not in self._loaded.signatures:
            raise CtrError(f"{self.path} has no serving_default (pair scores) signature")
        pairs = self._loaded.signatures["serving_default"]
        return pairs, list(pairs.structured_input_signature[1])

    def score_candidates(self, queries: ctr_data.Source, rows: np.ndarray,
                         allowed: np.ndarray | None = None) -> np.ndarray:
        """Scores [Q, C] of catalogue rows `rows` for each query row, from the export's own pair scores
        (`serving_default`), so that `ctr.evaluate_ranking` tests the export itself. A pipeline's export
        scores through its `recommend`, as `RecommendationPipeline.score_candidates` does in process:
        the ranker's scores of the candidates it keeps among the `allowed` ones, -inf for the others."""
        if self.metadata["model"] == "RecommendationPipeline":
            return self._pipeline_scores(queries, np.asarray(rows), allowed)
        pairs = self._pair_signature()[0]
        queries = ctr_data.complete_queries(self.spec, self.query_features, ctr_data.read(queries), self.users,
                                            self._reads_queries)
        query_raw = ctr_data.raw_features(queries, self.spec, self.query_features)
        if self._catalogue_raw is None:
            self._catalogue_raw = ctr_data.raw_features(self.catalogue, self.spec, self._pair_items)
        rows = np.asarray(rows)
        out = np.empty(rows.shape, np.float32)
        step = max(1, PAIRS_A_CALL // max(rows.shape[1], 1))
        for start in range(0, len(rows), step):
            part = rows[start:start + step]
            inputs = {n: np.repeat(v[start:start + step], part.shape[1]) for n, v in query_raw.items()}
            inputs.update({n: v[part.reshape(-1)] for n, v in self._catalogue_raw.items()})
            scores = pairs(**raw_tensors(inputs, self.spec))["score"]
            out[start:start + step] = scores.numpy().reshape(part.shape)
        return out

    def _pipeline_scores(self, queries: ctr_data.Source, rows: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
        ids = self.catalog_ids()
        competing = np.zeros((len(rows), len(ids)), bool)
        query_rows = np.repeat(np.arange(len(rows)), rows.shape[1])
        competing[query_rows, rows.reshape(-1)] = True if allowed is None else np.asarray(allowed).reshape(-1)
        # Every catalogue item that does not compete is excluded, so that the export retrieves from the rest
        # (on the sampled protocol, all but 100 items a query: fine for thousands of items, slow for millions).
        excluded = [ids[~row] for row in competing]
        got, scores = self.recommend(queries, k=int(self.metadata["n_candidates"]), exclude=excluded)
        got_rows = pd.Index(ids).get_indexer(got.reshape(-1)).reshape(got.shape)
        column = np.full(competing.shape, -1)
        column[query_rows, rows.reshape(-1)] = np.tile(np.arange(rows.shape[1]), len(rows))
        out = np.full(rows.shape, -np.inf)
        kept = got_rows >= 0
        out[np.nonzero(kept)[0], column[np.nonzero(kept)[0], got_rows[kept]]] = scores[kept]
        return out

    @named_keywords()
    def similar_items(self, items: Sequence[Any], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The k catalogue items nearest to each of `items` by the export's `similar_items`, as the
        model's `similar_items` gives them (an id not in the catalogue: a padded row)."""
        if "similar_items" not in self._loaded.signatures:
            raise CtrError(f"{self.path} ({self.metadata['model']}) has no similar_items signature: only the "
                           "factorised models (MatrixFactorization, TwoTower) place items in one vector space, and "
                           "exports written before ctr had it lack it")
        check_arguments("RecommenderExport.similar_items", k=k)
        key = self.metadata["item_key"]
        ids = {key: item_ids("RecommenderExport.similar_items", self.spec, key, items)}
        out = self._loaded.signatures["similar_items"](**raw_tensors(ids, self.spec), k=tf.constant(k, tf.int32))
        return decoded_ids(out["item_ids"]), out["scores"].numpy().astype(np.float64)  # as the model's

    @named_keywords()
    def recommend(self, queries: pd.DataFrame, k: int = 10,
                  exclude: Sequence[Sequence[Any]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k item ids and scores for each query row (columns: the query features; a known user's
        stored features fill the user columns it lacks, and other absent ones are served as missing)."""
        check_arguments("RecommenderExport.recommend", k=k)
        queries = ctr_data.complete_queries(self.spec, self.query_features, ctr_data.query_rows(self.spec, queries),
                                            self.users, self._reads_queries)
        check_exclude(exclude, len(queries))
        exclude = exclude_ids("RecommenderExport.recommend", self.spec, self.metadata["item_key"], exclude)
        inputs = raw_tensors(ctr_data.raw_features(queries, self.spec, self.query_features), self.spec)
        id_is_text = raw_dtype(self.spec[self.metadata["item_key"]]) == "string"
        width = max((len(e) for e in exclude), default=0) if exclude else 0
        pad = "" if id_is_text else -1
        table = [list(e) + [pad] * (width - len(e)) for e in (exclude or [[]] * len(queries))]
        excluded = tf.constant(np.array(table, dtype=object if id_is_text else np.int64).reshape(len(queries), width),
                               tf.string if id_is_text else tf.int64)
        out = self.signature(**inputs, k=tf.constant(k, tf.int32), exclude=excluded)
        return decoded_ids(out["item_ids"]), out["scores"].numpy().astype(np.float64)  # as the model's


def decoded_ids(tensor: tf.Tensor) -> np.ndarray:
    """A signature's output as numpy, text (item ids) decoded as UTF-8 (numpy's astype(str) decodes bytes
    as ASCII, and failed on an id such as 'crème') into an object array, as the model's ids are (a fixed
    width '<U5' array would cut a longer id written into it), numbers as they are."""
    ids = tensor.numpy()
    return np.char.decode(ids.astype(np.bytes_), "utf-8").astype(object) if ids.dtype == object else ids


def _tf_dtype(values: np.ndarray) -> tf.DType:
    if values.dtype == object:
        return tf.string
    return tf.int64 if values.dtype == np.int64 else tf.float32
