"""`ctr.compare`: several models trained on one split of the same data and set side by side, each picked by
its validation figure and reported on test rows it never saw: which model to use for a data set."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import data as ctr_data
from ._args import check_arguments, check_choice, keyword_arguments
from ._files import write_atomically
from ._model_names import CLICK_MODELS, RECOMMENDERS, model_key, unknown_model
from .errors import ArgumentError, DataError
from .spec import FeatureSpec, Label, SpecLike, Timestamp

CLICK_METRICS = ("auc", "gauc", "logloss")
RANKING_K = 10


@dataclasses.dataclass
class Entry:
    """One model of a comparison: its label in the table, whether it is a click model, and how to make it
    untrained with a seed."""

    label: str
    click: bool
    make: Callable[[int], Any]
    settings: dict[str, Any]  # its class and arguments, which a backup of the comparison records


@dataclasses.dataclass(repr=False)
class Comparison:
    """What `compare` measured: `table` (one row a model, the best by the validation figure first, each
    figure the median over the seeds), `runs` (one row a model and seed) and `best` (that model fitted: its
    seed with the best validation figure)."""

    table: pd.DataFrame
    runs: pd.DataFrame
    best: Any
    best_label: str
    selected_by: str  # the validation figure, e.g. "val_auc"
    shown: str  # the test figure the plot draws, e.g. "test_auc"
    protocol: str

    @property
    def selected_by_name(self) -> str:
        """The validation figure in words: "validation AUC"."""
        return _FIGURE_NAMES.get(self.selected_by, self.selected_by)

    @property
    def close_to_best(self) -> list[str]:
        """The other models whose median validation figure lies within the range of the best model's seeds: with
        several seeds, those the seeds do not tell apart from the best (none with one seed)."""
        best = self.runs.loc[self.runs["model"] == self.best_label, self.selected_by]
        if len(best) < 2:
            return []
        others = self.table[self.table["model"] != self.best_label]
        inside = others[self.selected_by].between(best.min(), best.max())
        return [str(label) for label in others.loc[inside, "model"]]

    def _formats(self) -> dict[str, Callable[[Any], str]]:
        formats = {c: "{:.4f}".format for c in self.table.columns if self.table[c].dtype.kind == "f"}
        return formats | {"fit_s": "{:.1f}".format, "parameters": "{:,}".format}

    def __str__(self) -> str:
        return self.table.to_string(index=False, formatters=self._formats())

    def __repr__(self) -> str:
        return f"<Comparison: the best is {self.best_label}, by {self.selected_by_name}; {self.protocol}>\n{self}"

    def _repr_html_(self) -> str:
        """The table in a notebook, captioned with how it was measured."""
        import html

        caption = html.escape(f"the best is {self.best_label}, by {self.selected_by_name}; {self.protocol}")
        return f"<p>{caption}</p>" + self.table.to_html(index=False, formatters=self._formats())

    def to_dict(self) -> dict[str, Any]:
        """The table, the runs and how they were measured, as plain data for JSON."""
        return {"protocol": self.protocol, "selected_by": self.selected_by, "best": self.best_label,
                "table": _records(self.table), "runs": _records(self.runs)}

    def to_json(self, path: str | Path) -> Path:
        """Write `to_dict()` to `path` (atomically: the file appears only when complete)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(self.to_dict(), indent=1, default=float) + "\n")
        return path

    def plot(self, path: str | Path, title: str = "ctr compare") -> Path:
        """A PNG of the table: each model's test figure (a dot: the median; whiskers: the seeds' range) and
        its training seconds, best first."""
        from .inspect import _pyplot, save_figure

        shown = self.shown
        runs = self.runs.groupby("model", sort=False)[[shown, "fit_s"]]
        low, high = runs.min(), runs.max()
        labels = list(self.table["model"])
        values = self.table[shown].to_numpy(dtype=float)
        y = np.arange(len(labels))[::-1]  # the table's first model on top
        plt = _pyplot()
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 1.6 + 0.45 * len(labels)), sharey=True,
                                          gridspec_kw={"width_ratios": [3, 2]})
        colours = ["#c44e52" if label == self.best_label else "#4c72b0" for label in labels]
        several = self.runs["seed"].nunique() > 1
        # Dots on an axis fitted to the figures: models often differ in the third decimal, which bars from
        # chance (or from 0) would flatten.
        spread = [values - low.loc[labels, shown].to_numpy(dtype=float),
                  high.loc[labels, shown].to_numpy(dtype=float) - values] if several else None
        left.errorbar(values, y, xerr=spread, fmt="none", ecolor="#555555", capsize=4)
        left.scatter(values, y, color=colours, s=60, zorder=3)
        for at, value in zip(y, values, strict=True):
            left.annotate(f"{value:.4f}", (value, at), xytext=(0, 8), textcoords="offset points", ha="center",
                          fontsize="small")
        lowest, highest = np.nanmin(low.loc[labels, shown]), np.nanmax(high.loc[labels, shown])
        if np.isfinite(lowest) and np.isfinite(highest):
            margin = max(0.15 * (highest - lowest), 1e-3)
            left.set_xlim(lowest - margin, highest + margin)
        left.set_ylim(-0.6, len(labels) - 0.4)
        left.set_yticks(y, labels)
        left.set_xlabel(f"{_FIGURE_NAMES.get(shown, shown)} (red: the best by {self.selected_by_name})")
        seconds = self.table["fit_s"].to_numpy(dtype=float)
        taken = [seconds - low.loc[labels, "fit_s"].to_numpy(dtype=float),
                 high.loc[labels, "fit_s"].to_numpy(dtype=float) - seconds] if several else None
        right.barh(y, seconds, height=0.5, xerr=taken, color="#55a868", capsize=3)
        right.set_xlabel("training seconds")
        seeds = sorted(self.runs["seed"].unique())
        runs_said = f"median of {len(seeds)} seeds; whiskers: their range" if len(seeds) > 1 else f"seed {seeds[0]}"
        fig.suptitle(f"{title} ({runs_said})")
        return save_figure(plt, fig, path)


_FIGURE_NAMES = {"val_auc": "validation AUC", "val_gauc": "validation group AUC", "val_logloss": "validation logloss",
                 "test_auc": "test AUC", f"val_NDCG@{RANKING_K}": f"validation NDCG@{RANKING_K}",
                 f"test_NDCG@{RANKING_K}": f"test NDCG@{RANKING_K}"}


def compare(spec: SpecLike, data: ctr_data.Source, models: Sequence[Any] | Mapping[str, Any] | None = None, *,
            validation_data: ctr_data.Source | None = None, test_data: ctr_data.Source | None = None,
            split: Sequence[float] = (0.8, 0.1, 0.1), split_by_time: str | None = None, seeds: int | Sequence[int] = 1,
            epochs: int = 20, patience: int | None = 2, metric: str = "auc", group_by: str | None = None,
            settings: Mapping[str, Any] | None = None, params: Mapping[str, Mapping[str, Any]] | None = None,
            negatives: int | None = None, backup_dir: str | Path | None = None,
            verbose: str | int = "auto") -> Comparison:
    """Train each of `models` on the same split of `data` with each seed, stop each on its validation
    figure (`patience`), pick the best by it and report every model on the test rows; see the README.

    `models`: short names ("lr", "fm", "widedeep", "deepfm", "dcn", "autoint", "xdeepfm", "fibinet", "nfm", "afm";
    recommenders "popularity", "ease", "mf", "bpr", "neumf", "two_tower"), model classes or unfitted models
    (`ctr.DeepFM(spec, dropout=0.3)`), or a mapping of label → one of those; by default the ten click models when
    the spec has a label, else the recommenders.
    `settings` go to every model that takes them (`{"embedding_dim": 32}`), `params` to one
    (`{"deepfm": {"dropout": 0.2}}`). Click models are split at random (`split`, drawn with the first seed; or
    in time with `split_by_time`) unless `validation_data` and `test_data` are given, and compared by `metric`
    ("auc"; "gauc" with `group_by`; "logloss"). With `negatives=N` (data of interactions only), each part's
    interactions are clicks followed by N items their user never touched, as non-clicks
    (`ctr.data.add_negatives`; the label is its "clicked" column). Recommenders hold out each user's latest
    interaction for the test and the one before for validation, and are compared by NDCG@10 over the whole
    catalogue. `backup_dir` makes the comparison resumable: each finished run is recorded there (and each
    model's best so far exported), the running fit checkpoints there, and the same call after a crash or kill
    carries on where it stopped; the folder is removed when the comparison completes.
    """
    check_arguments("compare", epochs=epochs, verbose=verbose)
    if patience is not None:
        check_arguments("compare", patience=patience)
    check_choice("compare", "metric", metric, CLICK_METRICS)
    spec = FeatureSpec.of(spec)
    interactions = spec
    if negatives is not None:  # the click models learn the label add_negatives writes
        check_arguments("compare", n_negatives=negatives)
        spec = dataclasses.replace(spec, label=Label("clicked"))
    seed_list = _seeds(seeds)
    entries = _entries(spec, models, settings or {}, params or {})
    if all(entry.click for entry in entries):
        return _compare_click(spec, data, entries, validation_data, test_data, split, split_by_time, seed_list,
                              epochs, patience, metric, group_by, verbose, negatives, interactions, backup_dir)
    if any(entry.click for entry in entries):
        click = [e.label for e in entries if e.click]
        others = [e.label for e in entries if not e.click]
        kind = "is a click model" if len(click) == 1 else "are click models"
        raise ArgumentError(f"compare: {', '.join(click)} {kind} (tested on held-out rows' clicks, by AUC) and "
                            f"{', '.join(others)} {'ranks' if len(others) == 1 else 'rank'} a catalogue (tested on "
                            "each user's held-out items, by NDCG@10): compare the two kinds apart")
    given = [name for name, value in (("validation_data", validation_data), ("test_data", test_data),
                                      ("group_by", group_by), ("negatives", negatives)) if value is not None]
    given += [name for name, changed in (("split", tuple(split) != (0.8, 0.1, 0.1)), ("metric", metric != "auc"))
              if changed]
    if given:
        raise ArgumentError(f"compare: {', '.join(given)} applies to the click models; recommenders are tested on "
                            "each user's latest interaction, held out of data (the one before validates), by "
                            f"NDCG@{RANKING_K}")
    return _compare_recommenders(spec, data, entries, split_by_time, seed_list, epochs, patience, verbose,
                                 backup_dir)


def _seeds(seeds: int | Sequence[int]) -> list[int]:
    """`seeds` as a list: a count (the seeds 0, 1, ...) or the seeds themselves."""
    wanted = f"compare: seeds must be a count of at least 1 or a list of distinct seeds (integers ≥ 0), got {seeds!r}"
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ArgumentError(wanted)
        return list(range(int(seeds)))
    if isinstance(seeds, str) or not isinstance(seeds, Sequence) or not seeds or len(set(seeds)) < len(seeds):
        raise ArgumentError(wanted)
    for seed in seeds:
        check_arguments("compare", seed=seed)
    return [int(s) for s in seeds]


def _entries(spec: FeatureSpec, models: Any, settings: Mapping[str, Any],
             params: Mapping[str, Mapping[str, Any]]) -> list[Entry]:
    """Each model to compare, made untrained once here so that a wrong argument is refused before any training."""
    if models is None:
        models = list(CLICK_MODELS) if spec.label is not None else list(RECOMMENDERS)
    elif isinstance(models, (str, type)) or not isinstance(models, (Sequence, Mapping)):
        models = [models]  # one model: compared with nothing, but measured as the others would be
    items = list(models.items()) if isinstance(models, Mapping) else [(None, m) for m in models]
    if not items:
        raise ArgumentError("compare: models is empty; give the models to compare, e.g. ['lr', 'fm', 'deepfm']")
    taken: set[str] = set()
    used: set[str] = set()
    entries = [_entry(spec, label, item, settings, params, taken, used) for label, item in items]
    if unused := [name for name in params if name not in used]:
        raise ArgumentError(f"compare: params names {', '.join(map(repr, unused))}, which is none of the models "
                            f"compared ({', '.join(e.label for e in entries)})")
    if untaken := [name for name in settings if name not in taken]:
        raise ArgumentError(f"compare: no model compared takes {', '.join(map(repr, untaken))} (settings go to "
                            "each model that takes them)")
    labels = [e.label for e in entries]
    if twice := sorted({label for label in labels if labels.count(label) > 1}):
        raise ArgumentError(f"compare: two models are labelled {twice[0]!r}; give them labels of their own, as a "
                            "mapping {label: model}")
    return entries


def _entry(spec: FeatureSpec, label: str | None, item: Any, settings: Mapping[str, Any],
           params: Mapping[str, Mapping[str, Any]], taken: set[str], used: set[str]) -> Entry:
    from . import models as ctr_models

    recommenders = (ctr_models.MatrixFactorization, ctr_models.NeuMF, ctr_models.TwoTower, ctr_models.Popularity,
                    ctr_models.EASE)
    fixed: dict[str, Any] = {}  # arguments the item sets itself
    names: list[str] = []  # what params may call this model
    instance = False  # an untrained model given: its settings are its own
    if isinstance(item, str):
        key = model_key(item)
        if key is None:
            raise ArgumentError(f"compare: {unknown_model(item)}")
        cls = ctr_models.MODELS.get(key) or getattr(ctr_models, RECOMMENDERS[key][0])
        fixed = dict(RECOMMENDERS[key][1]) if key in RECOMMENDERS else {}
        names, model_spec, label = [key], spec, label or key
    elif isinstance(item, type) and issubclass(item, (ctr_models.RankingModel, *recommenders)):
        cls, model_spec, label = item, spec, label or item.__name__
        names = [item.__name__]
    elif isinstance(item, (ctr_models.RankingModel, *recommenders)):
        if getattr(item, "network_", None) is not None or getattr(item, "counts_", None) is not None:
            raise ArgumentError(f"compare: the {type(item).__name__} given is fitted already; compare trains each "
                                "model itself, on its split: give it untrained (or its class)")
        cls, model_spec = type(item), item.spec
        fixed = {k: v for k, v in _config(item).items() if k != "seed"}
        label, instance = label or _instance_label(item), True
    else:
        raise ArgumentError(f"compare: expected a model's name (e.g. 'deepfm'), class or untrained model, got "
                            f"{type(item).__name__} {item!r}"[:300])
    click = issubclass(cls, ctr_models.RankingModel)
    if click and model_spec.label is None:
        raise ArgumentError(f"compare: spec {model_spec.name!r} has no label, and {label} is a click model, which "
                            "learns what gets clicked: pass negatives=N (each interaction followed by N items its "
                            "user never touched, as non-clicks; --negatives in the shell), give the spec a label, or "
                            "compare recommenders (popularity, ease, mf, bpr, neumf, two_tower)")
    if click and model_spec.label != spec.label:
        raise ArgumentError(f"compare: {label}'s spec labels its rows otherwise ({model_spec.label}) than the spec "
                            f"compared ({spec.label}), so their AUCs would score different clicks")
    accepted = set(keyword_arguments(cls))
    own: dict[str, Any] = {}
    for name in (label, *names):
        if name in params:
            used.add(name)
            own.update(params[name])
    common = {} if instance else {k: v for k, v in settings.items() if k in accepted}
    taken.update(common)
    arguments = {**fixed, **common, **own}
    seeded = "seed" in accepted

    def make(seed: int) -> Any:
        return cls(model_spec, **arguments, **({"seed": seed} if seeded else {}))

    make(0)  # an argument the model refuses is refused now, not after the models before it have trained
    return Entry(label, click, make, {"class": cls.__name__, **json.loads(json.dumps(arguments, default=str))})


def _config(model: Any) -> dict[str, Any]:
    return model.get_config() if hasattr(model, "get_config") else {}


def _instance_label(model: Any) -> str:
    """An untrained model's label: its class, and the settings in which it differs from the class's defaults."""
    defaults = _config(type(model)(model.spec))
    differ = [f"{k}={v!r}" for k, v in _config(model).items() if k != "seed" and defaults.get(k) != v]
    return f"{type(model).__name__}({', '.join(differ)})" if differ else type(model).__name__


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A table's rows as plain data (NaN as None, which JSON has)."""
    return json.loads(table.to_json(orient="records"))


def _parameters(model: Any) -> int:
    network = getattr(model, "network_", None)
    if network is None:  # EASE's item × item weights; Popularity's counts are no parameters
        return int(model.weights_.size) if getattr(model, "weights_", None) is not None else 0
    return int(sum(np.prod(v.shape) for v in network.trainable_variables))


def _stopping(patience: int | None, monitor: str, mode: str) -> list:
    if patience is None:
        return []
    from ._keras import keras

    return [keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience, restore_best_weights=True)]


def _epochs(history: Any, stopping: list) -> tuple[int, int]:
    """Epochs trained (a Keras History's; None: no training loop), and the epoch whose weights were kept."""
    ran = len(history.epoch) if history is not None else 0
    if stopping and stopping[0].best_weights is not None:
        return ran, stopping[0].best_epoch + 1
    return ran, ran


def _say(verbose: str | int) -> Callable[[str], None]:
    return print if ctr_data.keras_verbose(verbose) else (lambda line: None)


def _fit_verbose(verbose: str | int) -> int:
    """How each fit shows its progress: as `verbose` asks (1, a bar; 2, a line an epoch); by default a bar on a
    terminal, redrawn in place, and nothing in a file or pipe, where a line a run says enough."""
    shown = ctr_data.keras_verbose(verbose)
    return (1 if shown == 1 else 0) if verbose == "auto" else shown


def _run_all(entries: list[Entry], seeds: list[int], selected_by: str, higher: bool, shown: str,
             verbose: str | int, run: Callable[[Any, int, Path | None], dict[str, Any]],
             backup: _Backup | None) -> tuple[pd.DataFrame, dict[str, tuple[float, Any]]]:
    """Every model with every seed through `run` (which fits one, checkpointing in the folder it is given, and
    returns its figures, `selected_by`, `shown` and `fit_s` among them); the runs' table, and the best run of the
    model whose median is best (its figure and the fitted model; a run recorded in `backup` before an interruption
    is not run again, and its model is loaded from there). Once a model's seeds are done, whichever of it and the
    leader so far has the worse median is let go: memory holds two fitted models at most, not one a model."""
    say = _say(verbose)
    rows, best = [], {}
    leader: tuple[str, float] | None = None  # the model with the best median so far, and that median
    total = len(entries) * len(seeds)
    for i, (index, entry, seed) in enumerate(((n, e, s) for n, e in enumerate(entries) for s in seeds), start=1):
        done = backup.done.get((entry.label, seed)) if backup is not None else None
        if done is not None:
            row, model = done, functools.partial(backup.best, index)
            say(f"compare: [{i}/{total}] {entry.label}" + (f", seed {seed}" if len(seeds) > 1 else "")
                + f": run before the interruption, its figures read from {backup.folder}")
        else:
            say(f"compare: [{i}/{total}] {entry.label}" + (f", seed {seed}" if len(seeds) > 1 else "") + " ...")
            model = entry.make(seed)
            row = {"model": entry.label, "seed": seed, **run(model, seed, backup.fit if backup else None)}
        rows.append(row)
        value = row[selected_by]
        trained = (f", {row['epochs']} epoch{'s' if row['epochs'] > 1 else ''} (best {row['best_epoch']})"
                   if row.get("epochs") else "")
        say(f"compare: {entry.label}: {_FIGURE_NAMES.get(selected_by, selected_by)} {value:.4f}, "
            f"{_FIGURE_NAMES.get(shown, shown)} {row[shown]:.4f}{trained}, {row['fit_s']:.1f} s")
        kept = best.get(entry.label)
        improves = kept is None or _better(value, kept[0], higher)
        if improves:
            best[entry.label] = (value, model)
        if backup is not None and done is None:
            backup.finished(row, index, model, improves)
        if seed == seeds[-1]:
            # The table's median (pandas', NaN left out), and its order: ties and NaN to the earlier model.
            median = float(pd.Series([r[selected_by] for r in rows if r["model"] == entry.label], dtype=float).median())
            if leader is None or _better(median, leader[1], higher):
                if leader is not None:
                    del best[leader[0]]
                leader = (entry.label, median)
            else:
                del best[entry.label]
    if backup is not None:  # the comparison is whole: the models chosen are loaded before the folder goes
        best = {label: (value, model() if isinstance(model, functools.partial) else model)
                for label, (value, model) in best.items()}
    return pd.DataFrame(rows), best


class _Backup:
    """compare's `backup_dir`: what the comparison is (refused when another's), each finished run's figures
    (`runs.jsonl`), each model's best run so far (its export under `best/`), and the running fit's checkpoints
    (`fit/`, as fit's own `backup_dir`)."""

    def __init__(self, folder: str | Path, what: dict[str, Any]) -> None:
        from .models._resume import read_record

        self.folder = Path(folder)
        self.fit = self.folder / "fit"
        record = self.folder / "comparison.json"
        what = json.loads(json.dumps(what, default=str))
        if record.exists():
            before = read_record(record, "the interrupted comparison's record")
            if before != what:
                changed = [key for key in what if before.get(key) != what[key]]
                raise ArgumentError(f"{self.folder} holds an interrupted comparison with other {', '.join(changed)}, "
                                    "so it cannot resume this one; give the same arguments, another backup_dir, or "
                                    "delete it to start over")
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomically(record, json.dumps(what))
        self.done: dict[tuple[str, int], dict[str, Any]] = {}
        runs = self.folder / "runs.jsonl"
        if runs.exists():
            for line in runs.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError):  # a line a kill cut short: that run is run again
                    row = json.loads(line)
                    self.done[(row["model"], row["seed"])] = row

    def finished(self, row: dict[str, Any], index: int, model: Any, best: bool) -> None:
        """Record a run that completed, and export its model when it is its model's `best` so far."""
        if not hasattr(model, "network_"):  # popularity, EASE: no training to keep, counted or solved again in seconds
            return
        if best:
            model.export(self.folder / "best" / str(index))  # atomic: the previous best stays until it lands
        with (self.folder / "runs.jsonl").open("a", encoding="utf-8") as runs:
            runs.write(json.dumps(row, default=float) + "\n")
            runs.flush()
            os.fsync(runs.fileno())

    def best(self, index: int) -> Any:
        """The best run's model of the entry at `index`, rebuilt from its export."""
        from .models import load_model

        return load_model(self.folder / "best" / str(index))

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _better(value: float, than: float, higher: bool) -> bool:
    if not np.isfinite(than):
        return bool(np.isfinite(value))
    return bool(value > than if higher else value < than)


def _comparison(runs: pd.DataFrame, best: dict[str, tuple[float, Any]], selected_by: str, higher: bool, shown: str,
                protocol: str, backup: _Backup | None) -> Comparison:
    figures = [c for c in runs.columns if c not in ("model", "seed")]
    table = runs.groupby("model", sort=False)[figures].median().reset_index()
    for column in ("epochs", "best_epoch", "parameters"):
        if column in table and (table[column] % 1 == 0).all():
            table[column] = table[column].astype(int)
    if runs["seed"].nunique() > 1:
        spread = runs.groupby("model", sort=False)[shown].agg(lambda v: v.max() - v.min())
        table.insert(table.columns.get_loc(shown) + 1, f"{shown}_spread", table["model"].map(spread).to_numpy())
    order = table[selected_by].fillna(-np.inf if higher else np.inf)
    table = table.iloc[np.argsort(-order.to_numpy() if higher else order.to_numpy(), kind="stable")]
    table = table.reset_index(drop=True)
    label = str(table["model"].iloc[0])
    if backup is not None:
        backup.remove()
    return Comparison(table, runs, best[label][1], label, selected_by, shown, protocol)


def _backup(folder: str | Path | None, spec: FeatureSpec, entries: list[Entry], seeds: list[int], protocol: str,
            **settings: Any) -> _Backup | None:
    """compare's backup folder, recording what is compared (None: no backup_dir)."""
    if folder is None:
        return None
    check_arguments("compare", backup_dir=folder)
    return _Backup(folder, {"models": {e.label: e.settings for e in entries}, "seeds": seeds, "split": protocol,
                            "spec": spec.to_dict(), **settings})


def _compare_click(spec: FeatureSpec, data: ctr_data.Source, entries: list[Entry], validation_data: Any,
                   test_data: Any, split: Sequence[float], split_by_time: str | None, seeds: list[int], epochs: int,
                   patience: int | None, metric: str, group_by: str | None, verbose: str | int,
                   negatives: int | None, interactions: FeatureSpec, backup_dir: str | Path | None) -> Comparison:
    from . import splits

    if metric == "gauc" and group_by is None:
        raise ArgumentError("compare: metric 'gauc' is the validation group AUC: give group_by (e.g. 'user_id')")
    if (validation_data is None) != (test_data is None):
        given, other = ("validation_data", "test_data") if test_data is None else ("test_data", "validation_data")
        raise ArgumentError(f"compare: {given} is given and {other} is not: give both (data is then the training "
                            "rows), or neither (data is then split)")
    if validation_data is not None:
        if split_by_time is not None or negatives is not None:
            given = "split_by_time splits data" if negatives is None else "negatives adds to the parts of data"
            raise ArgumentError(f"compare: {given}, and with validation_data and test_data data is the training rows "
                                "alone")
        train, valid, test = data, validation_data, test_data
        counts = [ctr_data.count_rows(part) for part in (train, valid, test)]
        protocol = "{:,} training, {:,} validation and {:,} test rows, given apart".format(*counts)
    else:
        frame = ctr_data.read(data)
        ctr_data.require_columns(frame, interactions.columns, hint=ctr_data.column_hints(interactions))
        check_arguments("compare", fractions=split)
        if split_by_time is None:
            train, valid, test = splits.random_split(frame, split, seed=seeds[0])
            protocol = f"a random split of {len(frame):,} rows, {_parts(split)} (seed {seeds[0]})"
        else:
            train, valid, test = splits.time_split(frame, split, time=split_by_time)
            protocol = f"{len(frame):,} rows cut in the order of {split_by_time!r}, {_parts(split)}"
        if negatives is not None:
            # Each part's non-clicks are drawn from every item of the data, as ctr fit --negatives draws them.
            train, valid, test = (ctr_data.add_negatives(part, interactions, negatives, items=frame,
                                                         seed=seeds[0] + i) if len(part) else part
                                  for i, part in enumerate((train, valid, test)))
            protocol += f", each interaction followed by {negatives} items its user never touched, as non-clicks"
        for name, part in (("validation", valid), ("test", test)):
            if not len(part):
                raise DataError(f"compare: the split {tuple(split)} leaves no {name} rows; compare picks each model "
                                "by its validation figure and reports it on test rows apart from those")
        if group_by is not None:
            ctr_data.require_columns(frame, [group_by], hint=" (group_by names it: the group AUC is over its values)")
    selected_by = f"val_{metric}"
    higher = metric != "logloss"

    def run(model: Any, seed: int, fit_backup: Path | None) -> dict[str, Any]:
        stopping = _stopping(patience, selected_by, "max" if higher else "min")
        started = time.perf_counter()
        # Each epoch's group AUC costs a pass over the validation rows' groups: only when it stops the fit.
        history = model.fit(train, validation_data=valid, epochs=epochs, callbacks=stopping,
                            verbose=_fit_verbose(verbose), group_by=group_by if metric == "gauc" else None,
                            backup_dir=fit_backup)
        fit_s = time.perf_counter() - started
        ran, kept = _epochs(history, stopping)
        validation = model.evaluate(valid, group_by=group_by)
        tested = model.evaluate(test, group_by=group_by)
        return {selected_by: validation[metric], "test_auc": tested["auc"],
                **({"test_gauc": tested["gauc"]} if group_by is not None else {}),
                "test_logloss": tested["logloss"], "test_calibration": tested["calibration"], "epochs": ran,
                "best_epoch": kept, "fit_s": fit_s, "parameters": _parameters(model)}

    backup = _backup(backup_dir, spec, entries, seeds, protocol, epochs=epochs, patience=patience, metric=metric,
                     group_by=group_by)
    runs, best = _run_all(entries, seeds, selected_by, higher, "test_auc", verbose, run, backup)
    return _comparison(runs, best, selected_by, higher, "test_auc", protocol, backup)


def _parts(split: Sequence[float]) -> str:
    return "/".join(f"{f:g}" for f in split) + " train/validation/test"


def _compare_recommenders(spec: FeatureSpec, data: ctr_data.Source, entries: list[Entry], split_by_time: str | None,
                          seeds: list[int], epochs: int, patience: int | None, verbose: str | int,
                          backup_dir: str | Path | None) -> Comparison:
    from . import models as ctr_models
    from .evaluation import evaluate_ranking
    from .implicit import keys, leave_one_out

    time_column = split_by_time or next((f.source for f in spec.features if isinstance(f, Timestamp)), None)
    if time_column is None:
        raise ArgumentError(f"compare: spec {spec.name!r} has no timestamp feature, and a recommender is tested on "
                            "each user's latest interaction: name the data's time column with split_by_time")
    frame = ctr_data.read(data)
    user_column = spec[keys(spec)[0]].source
    train, valid, test = leave_one_out(frame, user=user_column, time=time_column, validation=True)
    seen = pd.concat([train, valid], ignore_index=True)
    selected_by, shown = f"val_NDCG@{RANKING_K}", f"test_NDCG@{RANKING_K}"
    protocol = (f"{len(frame):,} interactions; each user's latest (by {time_column!r}) is the test and the one "
                f"before it validation, ranked against the whole catalogue ({len(test):,} test users)")

    def run(model: Any, seed: int, fit_backup: Path | None) -> dict[str, Any]:
        started = time.perf_counter()
        stopping: list = []
        history = None
        if isinstance(model, ctr_models.Popularity | ctr_models.EASE):  # one pass: no epochs, nothing to stop
            model.fit(train, items=frame, verbose=0)
        else:
            stopping = _stopping(patience, model.validation_monitor, "max")
            history = model.fit(train, validation_data=valid, items=frame, epochs=epochs, callbacks=stopping,
                                verbose=_fit_verbose(verbose), backup_dir=fit_backup)
        fit_s = time.perf_counter() - started
        ran, kept = _epochs(history, stopping)
        validation = evaluate_ranking(model, valid, train, protocol="full", k=RANKING_K)
        tested = evaluate_ranking(model, test, seen, protocol="full", k=RANKING_K)
        return {selected_by: validation[f"NDCG@{RANKING_K}"],
                **{f"test_{key}": tested[key] for key in (f"HR@{RANKING_K}", f"NDCG@{RANKING_K}", "MRR")},
                "epochs": ran, "best_epoch": kept, "fit_s": fit_s, "parameters": _parameters(model)}

    backup = _backup(backup_dir, spec, entries, seeds, protocol, epochs=epochs, patience=patience)
    runs, best = _run_all(entries, seeds, selected_by, True, shown, verbose, run, backup)
    return _comparison(runs, best, selected_by, True, shown, protocol, backup)
