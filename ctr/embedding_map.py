"""A 2-D map of a learned embedding table, and the TSV files TensorBoard's projector reads.

Rows of the table are the feature's vocabulary (the missing and unseen rows are left out). They are
projected with UMAP when `umap-learn` is installed (`ctr[umap]`), with PCA otherwise, and coloured
by another column of the data (for example an item's first genre).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .data import LIST_TYPES, list_items
from .errors import CtrError
from .export import load_graph
from .export_files import read_metadata
from .features import readable
from .inspect import _pyplot, save_figure
from .spec import FeatureSpec, MultiCategorical, did_you_mean


def embedding_vectors(model_dir: str | Path, feature: str) -> tuple[list[str], np.ndarray]:
    """The vocabulary of `feature` (binary ids as escapes, `\\xff`) and its rows of the exported embedding table."""
    path = Path(model_dir)
    metadata = read_metadata(path)
    spec = FeatureSpec.from_yaml(path / "assets" / "spec.yaml")
    if feature not in spec.names:
        raise CtrError(f"no feature {feature!r} in the model; it has {', '.join(spec.names)}"
                       + did_you_mean(feature, spec.names))
    if metadata["preprocessing"] is None:  # Popularity and EASE: ids alone, no encoded feature
        how = ("it scores items by item × item weights over a user's history (similar_items lists an item's "
               "strongest)" if metadata["model"] == "EASE" else "it ranks items by their count of interactions")
        raise CtrError(f"the {metadata['model']} export learns no embeddings: {how}")
    table_name = spec[feature].shared_embedding or feature
    state = metadata["preprocessing"]["tables"].get(table_name)
    if state is None or "vocabulary" not in state:
        raise CtrError(f"feature {feature!r} has no learned vocabulary (it is {spec[feature].kind}"
                       f"{', hashed' if state else ''}), so its embedding rows have no names to map")
    loaded = load_graph(path)
    tables = getattr(loaded, "embedding_tables", {})
    if table_name not in tables:
        raise CtrError(f"the {metadata['model']} export has no embedding table for {feature!r} "
                       "(logistic regression learns only one weight per value)")
    matrix = tables[table_name].numpy()
    first = 1 + state["oov_buckets"]  # row 0 is "missing", then the unseen-value buckets
    return [readable(v) for v in state["vocabulary"]], matrix[first:first + len(state["vocabulary"])]


def project(vectors: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D coordinates (UMAP if available and there are enough rows for its 15 neighbours, else PCA)
    and the method's name."""
    if len(vectors) > 15:
        try:
            import umap  # optional extra

            return umap.UMAP(n_components=2, random_state=seed).fit_transform(vectors), "UMAP"
        except ImportError:
            pass
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    coords = centred @ components[:2].T
    return np.pad(coords, ((0, 0), (0, 2 - coords.shape[1]))), "PCA"  # a second axis of zeros for one row


def _stored_table(path: Path, key: str, color_by: str) -> pd.DataFrame:
    """The table a recommender export keeps (its catalogue, or its known users) that holds `key` and
    `color_by`, read for those two; a CtrError asking for --data when it keeps none."""
    import pyarrow.parquet as pq

    kept = [path / "assets.extra" / name for name in ("catalogue.parquet", "users.parquet")]
    for table in (t for t in kept if t.exists()):
        columns = pq.read_schema(table).names
        if key in columns and color_by in columns:
            return pd.read_parquet(table, columns=[key, color_by])
    held = {t.stem: pq.read_schema(t).names for t in kept if t.exists()}
    named = "; ".join(f"{stem}: {', '.join(columns)}" for stem, columns in held.items())
    raise CtrError("--color-by needs --data, the table that holds that column"
                   + (f"; the export keeps no {color_by!r} beside {key!r} ({named})"
                      + did_you_mean(color_by, [c for columns in held.values() for c in columns]) if held else ""))


def _first_value(value: Any, separator: str) -> str:
    """A cell's first value, to colour by: a list's first item, a separated text's first id."""
    if isinstance(value, dict):
        value = list(value)
    if isinstance(value, LIST_TYPES):
        items = list_items(value)
        return str(items[0]) if len(items) else ""
    if not isinstance(value, str | bytes) and pd.isna(value):  # None, NaN, pd.NA
        return ""
    return str(value).split(separator)[0].strip()


def embedding_map(model_dir: str | Path, feature: str, out: str | Path, data: pd.DataFrame | None = None,
                  color_by: str | None = None, top: int = 10) -> dict[str, Any]:
    """Write `out` (a figure, PNG unless its ending says otherwise), `<out>.vectors.tsv` and
    `<out>.metadata.tsv`; returns what was written."""
    plt = _pyplot()
    names, vectors = embedding_vectors(model_dir, feature)
    coords, method = project(vectors)
    spec = FeatureSpec.from_yaml(Path(model_dir) / "assets" / "spec.yaml")
    labels = None
    if color_by is not None:
        key = spec[feature].source
        data = data if data is not None else _stored_table(Path(model_dir), key, color_by)
        if color_by not in data.columns:
            raise CtrError(f"--color-by {color_by!r}: no such column; the data has {', '.join(data.columns)}"
                           + did_you_mean(color_by, [str(c) for c in data.columns]))
        listed = next((f for f in spec.features if f.source == color_by and isinstance(f, MultiCategorical)), None)
        separator = listed.separator if listed is not None else "|"
        first = data.drop_duplicates(key).set_index(key)[color_by].map(lambda v: _first_value(v, separator))
        first.index = first.index.map(readable)  # spelt as the names are, binary ids too
        labels = pd.Series(names).map(first).fillna("(unknown)").replace("", "(none)").to_numpy()
    out = Path(out)
    fig, ax = plt.subplots(figsize=(8, 7))
    if labels is None:
        ax.scatter(coords[:, 0], coords[:, 1], s=6, alpha=0.7)
    else:
        common = pd.Series(labels).value_counts().index[:top]
        for name in common:
            mask = labels == name
            ax.scatter(coords[mask, 0], coords[mask, 1], s=7, alpha=0.75, label=name)
        rest = ~np.isin(labels, common)
        if rest.any():
            ax.scatter(coords[rest, 0], coords[rest, 1], s=5, alpha=0.4, color="lightgrey", label="other")
        ax.legend(markerscale=2, fontsize=8, title=color_by, loc="best")
    ax.set_title(f"{feature} embeddings ({len(names):,} values, {method})")
    figure = save_figure(plt, fig, out)
    vectors_tsv, metadata_tsv = out.with_suffix(".vectors.tsv"), out.with_suffix(".metadata.tsv")
    np.savetxt(vectors_tsv, vectors, delimiter="\t", fmt="%.6g")
    meta = pd.DataFrame({feature: names})
    if labels is not None:
        meta[color_by] = labels
    # The projector wants a header only when there are several columns.
    meta.to_csv(metadata_tsv, sep="\t", index=False, header=labels is not None)
    return {"figure": figure, "vectors": vectors_tsv, "metadata": metadata_tsv, "method": method, "rows": len(names)}
