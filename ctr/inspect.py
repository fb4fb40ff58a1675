"""Looking at data and training before trusting them: a dataset report, its plot, training curves.

`inspect_data` counts what a recommender cares about (rows, users, items, how sparse the
interaction matrix is, label balance, each feature's missing rate and cardinality);
`plot_data_report` draws the label distribution and the per-user and per-item interaction counts
on log scales; `plot_history` draws loss and AUC per epoch. Plots need matplotlib (`ctr[plot]`).
"""

from __future__ import annotations

import reprlib
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import data as ctr_data
from ._args import figure_path
from ._files import make_parent
from .errors import ArgumentError, CtrError, NotFittedError
from .features import (
    MISSING_INT,
    bag_ids,
    bag_weights,
    binary_token,
    missing_mask,
    raw_text,
    readable,
    token_bytes,
    token_text,
)
from .metrics import sigmoid
from .spec import Categorical, FeatureSpec, History, MultiCategorical, Numeric, SpecLike, Text, Vector


@dataclass
class FeatureSummary:
    name: str
    kind: str
    role: str
    missing_rate: float
    cardinality: int  # distinct values; distinct tokens for multi-valued and text features
    # Beside a model (inspect_data's `model`): what it was fitted on, and what it never saw.
    trained_missing_rate: float | None = None
    unseen_rate: float | None = None  # share of the present values (tokens) outside its vocabulary
    trained_unseen_rate: float | None = None  # the same in its training data (min_count, max_tokens cut them)
    unseen: list[str] = field(default_factory=list)  # the most frequent of them
    # a number's mean minus the training mean, in training standard deviations (a vector's component furthest off)
    shift: float | None = None


@dataclass
class DataReport:
    """What `ctr inspect-data` prints; `to_dict` gives the same as JSON-able data."""

    rows: int
    users: int | None
    items: int | None
    sparsity: float | None  # 1 - interactions / (users × items), distinct (user, item) pairs
    label: dict[str, Any] = field(default_factory=dict)
    features: list[FeatureSummary] = field(default_factory=list)
    skew: list[str] = field(default_factory=list)  # beside a model: what differs enough from its training

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_text(self) -> str:
        lines = [f"rows: {self.rows:,}"]
        if self.users is not None:
            lines += [f"users: {self.users:,}", f"items: {self.items:,}",
                      f"interaction-matrix sparsity: {self.sparsity:.4%} (1 - interactions / (users x items))"]
        if self.label:
            lines.append("label: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                               for k, v in self.label.items() if k != "distribution"))
            if "distribution" in self.label:
                lines.append("label values: " + ", ".join(f"{k}: {v:,}" for k, v in self.label["distribution"].items()))
        width = max(len(f.name) for f in self.features) if self.features else 7
        compared = any(f.trained_missing_rate is not None for f in self.features)
        header = f"\n{'feature':<{width}}  {'kind':<17}  {'role':<7}  {'missing':>8}  {'distinct':>9}"
        lines.append(header + (f"  {'missing@fit':>11}  {'unseen':>7}  {'unseen@fit':>10}  {'shift':>6}" if compared
                               else ""))
        for f in self.features:
            line = f"{f.name:<{width}}  {f.kind:<17}  {f.role:<7}  {f.missing_rate:>8.2%}  {f.cardinality:>9,}"
            if compared:
                line += (f"  {_share(f.trained_missing_rate):>11}  {_share(f.unseen_rate):>7}  "
                         f"{_share(f.trained_unseen_rate):>10}  {'' if f.shift is None else f'{f.shift:+.2f}':>6}")
            lines.append(line)
        if compared:
            lines.append("\n(@fit: in the data the model was fitted on; unseen: the share of values, or words, outside "
                         "its vocabulary; shift: a number's mean minus the training mean, in training standard "
                         "deviations)")
            lines += [f"skew: {line}" for line in self.skew] or ["skew: none found"]
        return "\n".join(lines)


def _share(rate: float | None) -> str:
    return "" if rate is None else f"{rate:.2%}"


def inspect_data(data: ctr_data.Source, spec: SpecLike | None = None, *, model: Any = None) -> DataReport:
    """Counts, sparsity, label balance and per-feature missing rates and cardinalities of `data`. With
    `model` (a fitted ctr model, a loaded export, or an export's folder; its spec is the default), each
    feature is set beside what the model was fitted on: data it would serve that training never showed
    it (skew: a renamed category, a column gone empty, numbers in other units)."""
    fitted = None
    if model is not None:
        fitted = _fitted_state(model)
        spec = spec if spec is not None else fitted[0]
    if spec is None:
        raise ArgumentError("inspect_data: give the spec (a FeatureSpec, a spec file's path or a ready spec's name), "
                            "or model=, whose spec is used")
    spec = FeatureSpec.of(spec)
    frame = ctr_data.read(data, spec.columns, dtypes=ctr_data.csv_dtypes(spec))
    raw = ctr_data.raw_features(frame, spec)
    users = items = sparsity = None
    user_ids = [f for f in spec.by_role("user") if isinstance(f, Categorical)]
    item_ids = [f for f in spec.by_role("item") if isinstance(f, Categorical)]
    if user_ids and item_ids:
        pairs = frame[[user_ids[0].source, item_ids[0].source]].drop_duplicates()
        users, items = int(frame[user_ids[0].source].nunique()), int(frame[item_ids[0].source].nunique())
        sparsity = 1.0 - len(pairs) / max(users * items, 1)
    label: dict[str, Any] = {}
    if spec.label is not None:
        y = ctr_data.labels(frame, spec)
        label = {"column": spec.label.column, "positive_rate": float(y.mean()) if len(y) else float("nan")}
        if spec.label.threshold is not None or spec.label.positive is not None:
            label["rule"] = spec.label.rule()
            counts = frame[spec.label.column].value_counts().sort_index()
            label["distribution"] = {str(k): int(v) for k, v in counts.items()}
        if spec.label.out_of is not None:  # aggregated rows: the click rate is over all their impressions
            label["out_of"] = spec.label.out_of
            shown = float(pd.to_numeric(frame[spec.label.out_of]).sum())  # checked by labels()
            label["impressions"] = int(shown) if shown.is_integer() else shown
        w = ctr_data.sample_weights(frame, spec)
        if w is not None:  # what the model is fitted and scored to: each row counted by its weight
            if spec.label.weight is not None:
                label["weight"] = spec.label.weight
            label["weighted_positive_rate"] = float(np.average(y, weights=w)) if w.sum() > 0 else float("nan")
    summaries = [FeatureSummary(f.name, f.kind, f.role, *_missing_and_distinct(raw[f.name], f))
                 for f in spec.features]
    skew = []
    if fitted is not None:
        sample = _skew_sample(len(frame))
        skew = _skew(summaries, {name: values[sample] for name, values in raw.items()}, spec, *fitted)
    return DataReport(len(frame), users, items, sparsity, label, summaries, skew)


def feature_skew(data: ctr_data.Source, model: Any) -> list[str]:
    """What in `data` is far enough from what `model` was fitted on to name: `inspect_data`'s `skew` alone,
    without its counts (`ctr evaluate` warns with it)."""
    spec, state = _fitted_state(model)
    frame = ctr_data.read(data, spec.columns, dtypes=ctr_data.csv_dtypes(spec))
    raw = ctr_data.raw_features(frame.iloc[_skew_sample(len(frame))], spec)
    summaries = [FeatureSummary(f.name, f.kind, f.role, float(np.mean(missing_mask(raw[f.name])))
                                if len(raw[f.name]) else 0.0, 0) for f in spec.features]
    return _skew(summaries, raw, spec, spec, state)


def _skew(summaries: list[FeatureSummary], raw: dict[str, np.ndarray], spec: FeatureSpec, model_spec: FeatureSpec,
          state: dict[str, Any]) -> list[str]:
    """Fill each summary's comparison with the model's fitted state, measured on `raw` (the sampled rows,
    `_skew_sample`); what is far off, as sentences."""
    keys = {ids[0].name for ids in ([f for f in spec.by_role(role) if isinstance(f, Categorical)]
                                    for role in ("user", "item")) if ids}  # the user's and item's ids
    found = []
    for summary, f in zip(summaries, spec.features, strict=True):
        known = next((m for m in model_spec.features if m.name == f.name), None)
        if known is not None and known.kind == f.kind:
            found += _compare(summary, raw[f.name], known, model_spec, state, keys)
    return found


_SKEW_UNSEEN = 0.5  # a feature with half its values more unknown to the model than in training
_SKEW_ROWS = 100_000  # rows sampled to measure it
_SKEW_JOINED = 0.1  # a list's values of which this many are known values joined by another separator
_SKEW_MISSING = 0.2  # missing in this many more of the rows than in training
_SKEW_SHIFT = 1.0  # a mean moved by a training standard deviation
_SKEW_SCALE = 3.0  # a weighted bag's mean weight this many times training's, or this many times less


def _fitted_state(model: Any) -> tuple[FeatureSpec, dict[str, Any]]:
    """The spec and fitted preprocessing state of a model, a loaded export or an export's folder."""
    if isinstance(model, str | Path):
        from .export_files import read_metadata

        path = Path(model)
        metadata = read_metadata(path)
        spec, state = FeatureSpec.from_yaml(path / "assets" / "spec.yaml"), metadata.get("preprocessing")
    elif hasattr(model, "metadata") and isinstance(getattr(model, "spec", None), FeatureSpec):  # a loaded export
        spec, state = model.spec, model.metadata.get("preprocessing")
    elif isinstance(getattr(model, "spec", None), FeatureSpec) and hasattr(model, "preprocessor_"):
        if model.preprocessor_ is None or model.preprocessor_.state is None:
            raise NotFittedError(f"inspect_data: {type(model).__name__} is not trained yet; fit it first, or give "
                                 "no model")
        spec, state = model.spec, model.preprocessor_.state
    elif isinstance(getattr(model, "spec", None), FeatureSpec):  # Popularity, EASE: ids alone, no features
        spec, state = model.spec, None
    else:
        raise ArgumentError(f"inspect_data: model must be a fitted ctr model, a loaded export or an export's folder, "
                            f"got {type(model).__name__}")
    if not state:
        what = str(model) if isinstance(model, str | Path) else getattr(model, "path", type(model).__name__)
        raise ArgumentError(f"inspect_data: {what} holds no fitted features to set the data beside (it reads the "
                            "user and item ids alone, with no vocabulary or scaling fitted)")
    return spec, state


def _skew_sample(rows: int) -> np.ndarray:
    """The rows skew is measured on: all, or a seeded sample of `_SKEW_ROWS` in their order (shares
    within half a percent; a million rows' text tokenised took seconds)."""
    if rows <= _SKEW_ROWS:
        return np.arange(rows)
    return np.sort(np.random.default_rng(0).choice(rows, _SKEW_ROWS, replace=False))


def _compare(summary: FeatureSummary, values: np.ndarray, f: Any, spec: FeatureSpec, state: dict[str, Any],
             keys: set[str]) -> list[str]:
    """One feature's comparison (`_skew`)."""
    found = []
    trained = state.get("missing", {}).get(f.name)  # exports written before it was kept have none
    summary.trained_missing_rate = trained
    if trained is not None and summary.missing_rate - trained >= _SKEW_MISSING:
        found.append(f"{f.name!r} is missing in {summary.missing_rate:.1%} of the rows, against {trained:.1%} in "
                     "training: is the column still filled?")
    tokens = _present_tokens(values, f)
    items = spec[f.items] if isinstance(f, History) else f
    table = state["tables"].get(items.shared_embedding or items.name, {}) if tokens is not None else {}
    if "vocabulary" in table and len(tokens):
        vocabulary = table["vocabulary"]
        if tokens.dtype == np.int64:
            vocabulary = [int(v) for v in vocabulary]
        elif not isinstance(f, Categorical):
            vocabulary = [token_bytes(v) for v in vocabulary]
        else:  # an id's raw values are text, or bytes where they are no UTF-8
            vocabulary = [*vocabulary, *(token_bytes(v) for v in vocabulary if binary_token(v))]
        tokens = pd.Series(tokens, dtype=tokens.dtype)  # an object dtype stays one: no copy into pandas' str
        unseen = tokens[~tokens.isin(vocabulary)]
        summary.unseen_rate = len(unseen) / len(tokens)
        summary.trained_unseen_rate = table.get("unseen")  # exports written before it was kept have none
        examples = unseen.value_counts().index[:3]
        summary.unseen = [readable(v) for v in examples]
        many = len(unseen) >= _SKEW_JOINED * len(tokens)
        spelt = pd.Series([token_text(v) for v in unseen[:10_000]], dtype=object)  # binary ids: no pandas str
        separator = _other_separator(spelt, vocabulary, f) if many else None
        respelled = _respelled(spelt, vocabulary, f) if many and not separator else None
        if summary.unseen_rate - (summary.trained_unseen_rate or 0.0) >= _SKEW_UNSEEN or separator or respelled:
            why = (f": are they separated by {separator!r}, where the spec says {f.separator!r}?" if separator else
                   f": {respelled}" if respelled else
                   ": new ones, or ids spelled another way?" if f.name in keys else ": renamed or re-encoded?")
            then = (f" (against {summary.trained_unseen_rate:.1%} of the training data's, cut by min_count or "
                    "max_tokens)" if summary.trained_unseen_rate else "")
            found.append(f"{f.name!r}: {summary.unseen_rate:.1%} of its values are outside the model's vocabulary "
                         f"(e.g. {', '.join(map(_quoted, examples))}), and are served as unseen{then}{why}")
    weights = state.get("weights", {}).get(f.name) if isinstance(f, MultiCategorical | History) and f.weighted else None
    present = values[values != ""] if weights is not None else None
    if present is not None and len(present):
        mean = float(bag_weights(present, f)[1].mean(dtype=np.float64))
        trained = weights["mean"]
        if max(mean, trained) >= _SKEW_SCALE * max(min(mean, trained), 1e-12):
            found.append(f"{f.name!r}: its ids' weights average {mean:.3g}, against {trained:.3g} in training "
                         f"({mean / trained if trained else float('inf'):.3g}×): weights on another scale "
                         "(percentages for fractions?), or ids no longer given theirs?")
    stats = state["numeric"].get(f.name) if isinstance(f, Numeric | Vector) else None
    if stats is not None and "mean" in stats:
        x = values[~missing_mask(values)].astype(np.float64)
        if f.transform == "log":
            x = np.sign(x) * np.log1p(np.abs(x))
        if len(x):
            shifts = np.atleast_1d((x.mean(axis=0) - stats["mean"]) / np.sqrt(stats["variance"]))
            furthest = int(np.argmax(np.abs(shifts)))
            summary.shift = float(shifts[furthest])
            if abs(summary.shift) >= _SKEW_SHIFT:
                whose = f"component {furthest}'s" if isinstance(f, Vector) else "its"
                found.append(f"{f.name!r}: {whose} mean is {summary.shift:+.2f} training standard deviations from the "
                             "training mean: other units, or another population?"
                             + (" (or vectors of another model)" if isinstance(f, Vector) else ""))
    return found


def _other_separator(unseen: pd.Series, vocabulary: list[Any], f: Any) -> str | None:
    """The separator a multi-valued feature's unseen tokens seem to use instead of the spec's: the one
    that splits them into values the model knows ('Action,Drama' where the spec says '|')."""
    if not isinstance(f, MultiCategorical | History) or not pd.api.types.is_string_dtype(unseen.dtype):
        return None
    known = set(map(token_text, vocabulary))
    for separator in ctr_data.LIST_SEPARATORS:
        joined = unseen[unseen.str.contains(separator, regex=False)] if separator != f.separator else unseen[:0]
        parts = [p.strip() for value in joined[:1000] for p in value.split(separator) if p.strip()]
        if len(joined) >= len(unseen) / 2 and parts and sum(p in known for p in parts) >= 0.9 * len(parts):
            return separator
    return None


def _respelled(unseen: pd.Series, vocabulary: list[Any], f: Any) -> str | None:
    """What sets a string feature's unseen values apart when nearly all are known values but for the white
    space around them, their Unicode form (an accent as its own code point, full-width letters) or their
    letter case (' M' or 'm' where training had 'M'), with an example; else None. (Text is lower-cased and
    stripped of punctuation by the model, so only its words' Unicode form can differ.)"""
    if not isinstance(f, Categorical | MultiCategorical | Text) or getattr(f, "dtype", "string") != "string":
        return None
    known = {token_text(v) for v in vocabulary}
    formed = {_formed(v.strip()): v for v in known}
    folded = {k.casefold(): v for k, v in formed.items()}
    sample = unseen.drop_duplicates()[:1000]
    ways: dict[str, list[tuple[str, str]]] = {"the white space around them": [], "their Unicode form": [],
                                               "their letter case": []}
    matched = 0
    for u in sample:
        bare, formed_u = u.strip(), _formed(u.strip())
        v = bare if bare in known else formed.get(formed_u) or folded.get(formed_u.casefold())
        if v is None:
            continue
        matched += 1
        for way, differs in zip(ways, (bare != u, formed_u != bare, formed_u != _formed(v.strip())), strict=True):
            if differs:
                ways[way].append((u, v))
    if not len(sample) or matched < 0.9 * len(sample):
        return None
    named = [w for w, found in ways.items() if found]
    what = " and ".join([", ".join(named[:-1]), named[-1]] if len(named) > 1 else named)
    u, v = next(pair for found in ways.values() for pair in found)
    if ways["their Unicode form"]:  # the two spellings may print alike: show their code points
        u, v = ways["their Unicode form"][0]
        return (f"they are values the model knows but for {what} ({u!a} where training had {v!a}): "
                "tidy them before they are sent (unicodedata.normalize('NFC', value) for accents)")
    return (f"they are values the model knows but for {what} ({u!r} where training had {v!r}): tidy them before "
            "they are sent")


def _quoted(token: Any) -> str:
    """A token as a message quotes it: text as a string literal, a binary id as a bytes literal (b'\\xff')."""
    return repr(raw_text(token) if isinstance(token, bytes) else str(token))


def _formed(value: str) -> str:
    """A string in Unicode's compatibility composed form (NFKC): 'e' plus a combining accent as 'é', full-width
    'Ｍ' as 'M'."""
    return unicodedata.normalize("NFKC", value)


def _present_tokens(values: np.ndarray, f: Any) -> np.ndarray | None:
    """The values (a list's or text's tokens, as the model reads them) a vocabulary would look up, or None
    for a feature without one."""
    from ._keras import tf
    from .features import split_ids

    if isinstance(f, Categorical):
        return values[values != MISSING_INT] if f.dtype == "int" else values[values != ""]
    if isinstance(f, MultiCategorical | Text | History):  # a history's ids are text, as its item table's are
        flat = split_ids(tf.constant(values[values != ""], tf.string), f).flat_values.numpy()
        return flat[flat != b""]  # UTF-8 bytes, as TensorFlow gives them: decoding them all took seconds
    return None




def _missing_and_distinct(values: np.ndarray, feature: Any) -> tuple[float, int]:
    if len(values) == 0:
        return 0.0, 0
    missing = missing_mask(values)
    present = values[~missing]
    if isinstance(feature, MultiCategorical):
        return float(missing.mean()), len({t for v in present for t in bag_ids(token_text(v), feature)})
    if isinstance(feature, Text):
        return float(missing.mean()), len({t for v in present for t in token_text(v).lower().split()})
    if isinstance(feature, Vector):
        return float(missing.mean()), len(np.unique(present, axis=0))
    return float(missing.mean()), int(pd.Series(present, copy=False).nunique())  # hashed: text and bytes mix


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display is needed or assumed
        import matplotlib.pyplot as plt
    except ImportError:
        raise CtrError("plots need matplotlib: pip install 'ctr[plot]'") from None
    return plt


def save_figure(plt: Any, fig: Any, path: str | Path) -> Path:
    """Lay out, write (creating the folder; the file name's ending says the format, PNG when it has
    none) and release a figure."""
    try:
        path = figure_path(path)
        make_parent(path)
    except ArgumentError:
        plt.close(fig)
        raise
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_data_report(data: ctr_data.Source, spec: SpecLike, path: str | Path,
                     report: DataReport | None = None) -> Path:
    """A PNG of the label (or rating) distribution and per-user / per-item interaction counts; with a
    report made beside a model (`inspect_data(..., model=)`), each feature's missing and unseen shares
    here and at fit below them, the features named under skew in red."""
    plt = _pyplot()
    spec = FeatureSpec.of(spec)
    frame = ctr_data.read(data, spec.columns, dtypes=ctr_data.csv_dtypes(spec))
    user_ids = [f for f in spec.by_role("user") if isinstance(f, Categorical)]
    item_ids = [f for f in spec.by_role("item") if isinstance(f, Categorical)]
    panels = 1 + bool(user_ids) + bool(item_ids)
    compared = [f for f in (report.features if report is not None else []) if f.trained_missing_rate is not None]
    rows, columns = (2, max(panels, 3)) if compared else (1, panels)
    fig, grid = plt.subplots(rows, columns, figsize=(5 * columns, 4 * rows + (0.2 * len(compared) if compared else 0)),
                             squeeze=False)
    axes = grid[0]
    for ax in grid[0][panels:]:
        ax.set_axis_off()
    if compared:
        _plot_beside_training(grid[1], compared, report.skew)
    if spec.label is not None:
        counts = frame[spec.label.column].value_counts().sort_index()
        colours = ["#4c72b0"] * len(counts)
        if spec.label.out_of is None:  # each value's bar in the colour of what it makes, a click or not
            clicks = ctr_data.labels(pd.DataFrame({spec.label.column: counts.index}), spec)
            colours = ["#dd8452" if c else "#4c72b0" for c in clicks]
            axes[0].legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in ("#dd8452", "#4c72b0")],
                           labels=["click", "non-click"], fontsize="small")
        axes[0].bar([str(k) for k in counts.index], counts.to_numpy(), color=colours)
        rule = spec.label.rule().removeprefix("= ").replace(">=", "≥")
        rule = f" (click: {rule})" if rule != "1" else ""
        axes[0].set_title(f"{spec.label.column}{rule}")
        axes[0].set_ylabel("rows")
    else:
        axes[0].text(0.5, 0.5, "no label in the spec", ha="center", va="center")
        axes[0].set_axis_off()
    for ax, ids, who in zip(axes[1:], [user_ids, item_ids], ["user", "item"], strict=False):
        if not ids:
            continue
        per = frame[ids[0].source].value_counts().to_numpy()
        bins = np.logspace(0, np.log10(max(per.max(), 2)), 30)
        ax.hist(per, bins=bins, color="#55a868")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"interactions per {who} ({len(per):,} {who}s)")
        ax.set_xlabel("interactions")
        ax.set_ylabel(f"{who}s")
    fig.suptitle(f"{spec.name}: {len(frame):,} rows")
    return save_figure(plt, fig, path)


def _plot_beside_training(axes: Any, features: list[FeatureSummary], skew: list[str]) -> None:
    """Missing and unseen shares of each feature, here beside at fit; a feature named under skew in red."""
    named = {f.name for f in features if any(line.startswith(repr(f.name)) for line in skew)}
    y = np.arange(len(features))
    for ax, (title, here, then) in zip(axes, (("missing", "missing_rate", "trained_missing_rate"),
                                              ("outside the vocabulary", "unseen_rate", "trained_unseen_rate")),
                                       strict=False):
        ax.barh(y - 0.2, [getattr(f, here) or 0.0 for f in features], height=0.4, color="#c44e52", label="here")
        ax.barh(y + 0.2, [getattr(f, then) or 0.0 for f in features], height=0.4, color="#8c8c8c", label="at fit")
        ax.set_yticks(y, [f.name for f in features])
        for label, f in zip(ax.get_yticklabels(), features, strict=True):
            label.set_color("#c44e52" if f.name in named else "black")
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of rows" if here == "missing_rate" else "share of present values")
        ax.set_title(f"{title}: here and at fit")
        ax.legend(loc="lower right")
    numbers = [f for f in features if f.shift is not None]
    axes[2].barh(np.arange(len(numbers)), [f.shift for f in numbers], color="#c44e52")
    axes[2].set_yticks(np.arange(len(numbers)), [f.name for f in numbers])
    for label, f in zip(axes[2].get_yticklabels(), numbers, strict=True):
        label.set_color("#c44e52" if f.name in named else "black")
    for edge in (-_SKEW_SHIFT, _SKEW_SHIFT):  # beyond these, skew names the feature
        axes[2].axvline(edge, color="#8c8c8c", linestyle="--", linewidth=1)
    axes[2].invert_yaxis()
    axes[2].set_xlabel("training standard deviations")
    axes[2].set_title("numbers: mean minus the training mean")
    for ax in axes[3:]:
        ax.set_axis_off()


def history_panels(history: dict[str, list[float]]) -> list[tuple[str, list[str]]]:
    """The panels of `plot_history` that the history has figures for: (title, its keys)."""
    # A click model's "logloss" is its loss without the regularisation; other models plot their "loss"
    # (a retriever's is summed over each batch's rows). A retriever's quality is its top-K accuracy.
    loss = ("log loss", ["logloss", "val_logloss"]) if "logloss" in history else ("loss", ["loss", "val_loss"])
    top_k = ("top-K accuracy (validation)", sorted((k for k in history if k.startswith("val_") and "/top_" in k),
                                                   key=lambda k: int(k.rsplit("top_", 1)[1].split("_")[0])))
    panels = [loss, ("AUC", ["auc", "val_auc", "val_gauc"]), top_k]
    panels = [(name, [k for k in keys if k in history]) for name, keys in panels]
    return [(name, keys) for name, keys in panels if keys]


def plot_history(history: dict[str, list[float]], path: str | Path, title: str = "training") -> Path:
    """A PNG of loss and AUC per epoch, training and validation (the keys Keras' History holds; the
    validation group AUC too, when fit had a `group_by`), and a retriever's validation top-K accuracies."""
    panels = history_panels(history)
    if not panels:
        raise CtrError(f"no loss, AUC or top-K accuracy in the history to plot (it has {sorted(history)})")
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (name, keys) in zip(axes[0], panels, strict=True):
        for key in keys:
            epochs = np.arange(1, len(history[key]) + 1)
            label = "validation" if key.startswith("val_") else "training"
            if key == "val_gauc":  # fit(group_by=...)
                label = "validation, group AUC"
            if "/" in key:  # a retriever's top-K accuracies, one line per K
                label = key.rsplit("/", 1)[1].removesuffix("_categorical_accuracy").replace("_", " ")
            ax.plot(epochs, history[key], marker="o", label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend()
    fig.suptitle(title)
    return save_figure(plt, fig, path)


def plot_reliability(curve: dict[str, np.ndarray], path: str | Path, title: str = "reliability") -> Path:
    """A PNG of `ctr.metrics.reliability`'s curve: each group's observed click rate against its mean
    prediction, beside the diagonal a calibrated model follows."""
    if not len(curve["mean_prediction"]):
        raise CtrError("no rows (or none that weigh anything) to draw a reliability curve from")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    top = float(max(curve["mean_prediction"].max(), curve["click_rate"].max(), 1e-3)) * 1.05
    ax.plot([0, top], [0, top], color="#999999", linestyle="--", label="calibrated")
    ax.plot(curve["mean_prediction"], curve["click_rate"], marker="o", color="#4c72b0",
            label=f"model ({len(curve['weight'])} groups of equal weight)")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("mean predicted click probability")
    ax.set_ylabel("observed click rate")
    ax.set_title(title)
    ax.legend(loc="upper left")
    return save_figure(plt, fig, path)


def plot_slices(table: pd.DataFrame, path: str | Path, title: str = "by slice", most: int = 30) -> Path:
    """A PNG of `ctr.evaluate_by`'s table: each slice's AUC beside the whole data's, and its calibration
    (mean prediction over click rate; 1 is calibrated), with its rows; the table's first `most` slices."""
    by = list(table.columns[:list(table.columns).index("rows")])
    whole, slices = table.iloc[0], table.iloc[1:]
    if slices.empty:
        raise CtrError("no slices in the table to plot")
    shown = slices.iloc[:most]
    names = [" · ".join(str(row[c]) for c in by) + f" ({int(row['rows']):,})" for _, row in shown.iterrows()]
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 1.4 + 0.32 * len(shown)), sharey=True)
    y = np.arange(len(shown))[::-1]  # the table's first slice on top
    aucs = shown["auc"].to_numpy(dtype=float)
    low = float(np.nanmin(np.append(aucs, whole["auc"]))) if np.isfinite(aucs).any() else 0.5
    left.barh(y, np.nan_to_num(aucs - 0.5), left=0.5, color="#4c72b0")
    for at, value in zip(y, aucs, strict=True):
        if not np.isfinite(value):  # one class: no AUC
            left.text(0.5, at, " one class", va="center", fontsize="small", color="#666666")
    left.axvline(whole["auc"], color="#c44e52", linestyle="--")
    left.set_xlim(min(0.5, low - 0.02), 1.0)
    left.set_yticks(y, names)
    left.set_xlabel(f"AUC (all rows, dashed: {whole['auc']:.4f})")
    calibration = shown["calibration"].to_numpy(dtype=float)
    right.barh(y, np.nan_to_num(calibration - 1.0), left=1.0, color="#55a868")
    right.axvline(1.0, color="#999999", linestyle="--")
    right.axvline(whole["calibration"], color="#c44e52", linestyle="--")
    right.set_xlabel(f"calibration: mean prediction / click rate (all rows, dashed: {whole['calibration']:.3f})")
    more = f"; the first {most} of {len(slices):,} slices" if len(slices) > most else ""
    fig.suptitle(f"{title} {' · '.join(by)} (rows in brackets{more})")
    return save_figure(plt, fig, path)


def plot_explanation(table: pd.DataFrame, rows: pd.DataFrame, path: str | Path, title: str = "explain") -> Path:
    """A PNG of `ctr.explain`'s table: the first row's score taken apart, each column's share of its
    logit (a recommender's: of its score) beside the column's value (largest first), and each column's
    mean absolute share over all the rows explained."""
    scale = table.attrs.get("scale", "score" if "score" in table.columns else "logit")
    columns = [c for c in table.columns if c not in (f"base_{scale}", scale)]
    if table.empty or not columns:
        raise CtrError("no rows in the explanation to plot")
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 1.6 + 0.34 * len(columns)))
    first = table.iloc[0]
    order = sorted(columns, key=lambda c: abs(first[c]))  # the largest on top
    values = rows.iloc[0]
    names = [f"{c} = {shown_value(values[c]) if c in values.index else '?'}" for c in order]
    shares = [first[c] for c in order]
    left.barh(names, shares, color=["#dd8452" if v > 0 else "#4c72b0" for v in shares])
    left.axvline(0, color="#999999", linewidth=1)
    if scale == "logit":
        probability, base = sigmoid(first["logit"]), sigmoid(first["base_logit"])
        left.set_title(f"first row: probability {probability:.3f}, from {base:.3f} (the background's)")
    else:
        left.set_title(f"first row: score {first['score']:+.3f}, from {first['base_score']:+.3f} (the background's)")
    left.set_xlabel(f"share of the {scale} (orange raises the score, blue lowers it)")
    mean = table[columns].abs().mean().sort_values()
    right.barh(mean.index, mean.to_numpy(), color="#55a868")
    right.set_title(f"mean absolute share over {len(table):,} rows")
    right.set_xlabel(scale)
    fig.suptitle(f"{title} ({table.attrs.get('permutations', '?')} orders of the columns a row)")
    return save_figure(plt, fig, path)


def shown_value(value: Any) -> str:
    """A value as a line or a label shows it: the Python value a NumPy scalar holds, repr'd, long ones cut."""
    return reprlib.repr(_plain(value))


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (528, not np.int64(528)), anything else as it is."""
    return value.item() if isinstance(value, np.generic) else value


def plot_importance(table: pd.DataFrame, path: str | Path, title: str = "permutation importance") -> Path:
    """A PNG of `ctr.feature_importance`'s table: each column's AUC drop when shuffled, with its spread
    over the shuffles, most important on top."""
    if table.empty:
        raise CtrError("no features in the importance table to plot")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.35 * len(table)))
    order = table.iloc[::-1]
    ax.barh(order["feature"], order["auc_drop"], xerr=order["auc_drop_std"], color="#4c72b0", ecolor="#333333")
    ax.axvline(0, color="#999999", linewidth=1)
    ax.set_xlabel("AUC drop when the column is shuffled")
    repeats = table.attrs.get("repeats")
    ax.set_title(title + (f" (mean of {repeats} shuffles; AUC {table.attrs['auc']:.4f})" if repeats else ""))
    return save_figure(plt, fig, path)

