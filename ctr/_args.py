"""Checks of the arguments users pass to models and functions, one rule per argument name, so that a
wrong value is named with what was expected before TensorFlow meets it."""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ._model_names import CLICK_MODEL_CLASSES
from .errors import ArgumentError, DataError

EMBEDDING_UPDATES = ("lazy", "momentum")  # the Adam-trained models' `embedding_updates`
CROSS_MODES = ("wide", "embedded")  # the click models' `crosses`: a weight per combination, or an embedding too
DEFAULT_EMBEDDING_UPDATES = "momentum"  # one default for the click models and the recommenders alike

F = TypeVar("F", bound=Callable[..., Any])


def _shown(value: Any, typed: bool = False) -> str:
    """A given value for a message, on one short line: a Series or an array passed by mistake is named
    by its type and length, not printed whole."""
    text = repr(value)
    if isinstance(value, str) and len(text) > 80:
        return repr(value[:60]) + "..."
    if "\n" in text or len(text) > 80:
        return f"a {type(value).__name__}" + (f" of {len(value)} values" if hasattr(value, "__len__") else "")
    return f"{text} ({type(value).__name__})" if typed else text


def _integer(low: int) -> Callable[[Any], str | None]:
    def rule(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return f"an integer, got {_shown(value, typed=True)}"
        return None if value >= low else f"an integer of at least {low}, got {value}"
    return rule


def _number(low: float, *, above: bool, high: float | None = None) -> Callable[[Any], str | None]:
    wanted = f"a number {'above' if above else 'of at least'} {low:g}"
    wanted += f" and below {high:g}" if high is not None else ""

    def rule(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return f"{wanted}, got {_shown(value, typed=True)}"
        ok = (value > low if above else value >= low) and (high is None or value < high)
        return None if ok else f"{wanted}, got {value}"
    return rule


def _real(value: Any) -> str | None:
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and value == value
    return None if ok else f"a number, got {_shown(value, typed=True)}"


def _widths(value: Any) -> str | None:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return f"a sequence of layer widths such as (256, 128), got {_shown(value)}"
    bad = [w for w in value if isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 1]
    return f"layer widths that are integers of at least 1, got {tuple(value)!r}" if bad else None


def _rate(value: Any) -> str | None:
    problem = _number(0.0, above=True)(value)
    if problem and callable(value):  # a Keras learning-rate schedule: its state could not be exported as JSON
        problem += "; schedules are not taken, but a callback such as keras.callbacks.ReduceLROnPlateau can lower it"
    return problem


def _folder(value: Any) -> str | None:
    if not isinstance(value, str | os.PathLike):
        return f"a folder path, got {_shown(value, typed=True)}"
    return f"a folder, but {value} is a file" if Path(value).exists() and not Path(value).is_dir() else None


def _fractions(value: Any) -> str | None:
    wanted = "non-negative numbers that sum to 1, such as (0.8, 0.1, 0.1)"
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value:
        return f"{wanted}, got {_shown(value)}"
    if any(isinstance(f, bool) or not isinstance(f, numbers.Real) or f < 0 for f in value):
        return f"{wanted}, got {tuple(value)!r}"
    if abs(sum(value) - 1.0) <= 1e-6:
        return None
    shares = f"; as shares, {tuple(f / 100 for f in value)!r}" if abs(sum(value) - 100) <= 1e-4 else ""  # percentages
    return f"{wanted}, got {tuple(value)!r} (sum {sum(value):g}{shares})"


def _share(value: Any) -> str | None:
    wanted = "a number above 0 and at most 1"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return f"{wanted}, got {_shown(value, typed=True)}"
    return None if 0 < value <= 1 else f"{wanted}, got {value}"


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"True or False, got {_shown(value, typed=True)}"


def _verbosity(value: Any) -> str | None:
    ok = isinstance(value, str | numbers.Integral) and not isinstance(value, bool) and value in ("auto", 0, 1, 2)
    return None if ok else f"0, 1, 2 or 'auto', got {_shown(value)}"


def _optional(rule: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    return lambda value: None if value is None else rule(value)


def _port(value: Any) -> str | None:
    if _integer(0)(value) is None and value <= 65535:
        return None
    return f"a port number from 0 (any free port) to 65535, got {_shown(value, typed=True)}"


_RULES: dict[str, Callable[[Any], str | None]] = {
    "embedding_dim": _integer(1), "output_dim": _integer(1), "batch_size": _optional(_integer(1)),
    "epochs": _integer(1), "n_negatives": _integer(1), "k": _integer(1), "n_candidates": _integer(1),
    "backup_every": _optional(_integer(1)), "seed": _integer(0),
    "learning_rate": _rate, "l2": _number(0.0, above=False),
    "dropout": _number(0.0, above=False, high=1.0), "bi_dropout": _number(0.0, above=False, high=1.0),
    "weight_averaging": _optional(_number(0.0, above=True, high=1.0)),
    "hidden_units": _widths, "top_k_metrics": _widths,
    "backup_dir": _optional(_folder), "logdir": _optional(_folder),
    "fractions": _fractions, "fraction": _number(0.0, above=True, high=1.0), "max_length": _integer(1),
    "profile_size": _integer(1), "keep": _share, "repeats": _integer(1), "bins": _integer(1),
    "permutations": _integer(2),
    "patience": _integer(1), "max_rows": _optional(_integer(2)),
    "cross_layers": _integer(0), "projection_dim": _optional(_integer(1)),
    "attention_layers": _integer(0), "num_heads": _integer(1), "key_dim": _integer(1), "residual": _flag,
    "cin_layers": _widths, "split_half": _flag, "reduction_ratio": _integer(1), "attention_factor": _integer(1),
    "validation_split": _optional(_number(0.0, above=True, high=1.0)), "verbose": _verbosity,
    "sample_rows": _integer(1), "threshold": _optional(_real), "demo_rows": _integer(100),
    "port": _port,
}


def check_arguments(owner: str, **values: Any) -> None:
    """Raise one ArgumentError listing every argument of `owner` (a class or function name) that breaks
    its rule."""
    problems = [f"{name} must be {problem}" for name, value in values.items()
                if (problem := _RULES[name](value)) is not None]
    if problems:
        raise ArgumentError(f"{owner}: " + "; ".join(problems))


def flag_type(rule: str, parse: Callable[[str], Any] = int) -> Callable[[str], Any]:
    """An argparse `type` that reads a shell flag's value with `parse` and holds it to the rule of the
    argument it sets (`_RULES`), so that `--epochs 0` is refused, the flag named, as the command line is
    read: before any data is, where the model's own check came after loading it."""
    import argparse

    def read(text: str) -> Any:
        value = parse(text)  # text that is no number: argparse's own "invalid int value: 'x'"
        problem = _RULES[rule](value)
        if problem is not None:
            raise argparse.ArgumentTypeError(f"must be {problem}")
        return value
    read.__name__ = parse.__name__
    return read


def keyword_arguments(cls: type) -> list[str]:
    """The keyword arguments `cls(...)` takes: its constructor's, and those of the constructors up its
    classes that its `**kwargs` are passed on to."""
    import inspect

    accepted: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters.values()
        accepted |= {p.name for p in parameters if p.kind is p.KEYWORD_ONLY}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return sorted(accepted)


def check_no_other_arguments(cls: type, others: Mapping[str, Any]) -> None:
    """Raise an ArgumentError naming the first of `others` (keywords `cls` does not take), with the
    nearest one it does take, and listing them all: Python's own TypeError named the base class."""
    if others:
        _refuse(cls.__name__, next(iter(others)), keyword_arguments(cls))


# Keras' arguments of fit, predict and evaluate that ctr's do otherwise, and how: the hints of
# `named_keywords`.
_CLICK_LABELS = {
    "y": "the labels are a column of the data, the one the spec's label names",
    "sample_weight": "row weights are a column of the data, the one the spec's label.weight names",
}
_RESUMED = "a second fit carries on from the first, and backup_dir resumes an interrupted one"
CLICK_FIT_ONLY = {
    "x": "the data is the first argument: a table of the features and the label",
    **_CLICK_LABELS,
    "class_weight": "weigh the rows with a column that the spec's label.weight names; "
                    "ctr.data.downsample_negatives writes one for the non-clicks it keeps",
    "shuffle": "the training rows are shuffled every epoch, in an order the model's seed fixes",
    "initial_epoch": _RESUMED,
}
RECOMMENDER_FIT_ONLY = {
    "x": "the data is the first argument: a table of interactions",
    "y": "every row of the data is an interaction, or with a label in the spec every row whose label is 1; "
         "the negatives are drawn",
    "sample_weight": "an interaction's weight (a play count, a quantity) is a column of the data, the one the "
                     "spec's label.weight names",
    "class_weight": "the negatives are drawn, n_negatives for each interaction; an interaction's weight is a column "
                    "of the data, the one the spec's label.weight names",
    "shuffle": "the interactions are shuffled every epoch, in an order the model's seed fixes",
    "initial_epoch": _RESUMED,
}
KERAS_SCORING_ONLY = {
    "x": "the data is the first argument",
    "steps": "every row of the data is scored; pass the rows to score",
    "callbacks": "scoring runs no callbacks; verbose=1 shows its progress",
    "max_queue_size": "the data is read chunk by chunk in this process, and TensorFlow scores each chunk on "
                      "every core",
    "workers": "the data is read chunk by chunk in this process, and TensorFlow scores each chunk on every core",
    "use_multiprocessing": "the data is read chunk by chunk in this process, and TensorFlow scores each chunk on "
                           "every core",
    "return_dict": "evaluate returns a dict of its figures already",
}

CLICK_EVALUATE_ONLY = {**KERAS_SCORING_ONLY, **_CLICK_LABELS}
RANKING_EVALUATE_ONLY = {
    **KERAS_SCORING_ONLY,
    "y": "the held-out interactions are the first argument, and the training interactions, which are not ranked "
         "again, the second",
    "sample_weight": "each held-out interaction counts once",
}


# Keras Model attributes that ctr's models do not have, and what they offer instead: `KerasNames`.
_EXPORT = "export(path) writes a SavedModel that serves raw features, and ctr.load(path) reads it back"
_NETWORK = "after fit, the Keras network is model.network_; summary() lists its weights"
_ROWS = "fit, evaluate and predict take any number of rows"
_MODEL_NAMES = {  # the click models' and the recommenders'
    "save": f"{_EXPORT}; save_weights(path) keeps the weights, for this same fitted model",
    "compile": "the loss and the optimiser are the model's own: set learning_rate, l2 and the other settings in "
               "the constructor, then call fit",
    **dict.fromkeys(("get_weights", "set_weights", "weights", "trainable_weights", "non_trainable_weights",
                     "variables", "trainable_variables", "layers", "get_layer", "count_params", "optimizer",
                     "inputs", "outputs", "metrics_names"), _NETWORK),
    **dict.fromkeys(("train_on_batch", "test_on_batch", "predict_on_batch"), _ROWS),
    "to_json": "get_config() gives the constructor's arguments, and export(path) writes them beside the model",
}
CLICK_MODEL_NAMES = {
    **_MODEL_NAMES,
    "__call__": "predict(rows) scores raw rows, which a Keras model's call would take encoded; after fit, the "
                "Keras network over encoded ids is model.network_",
    "predict_proba": "predict returns the click probabilities",
    "history": "fit returns the Keras History of its epochs; model.history_ holds the epochs of every fit",
    "recommend": "a click model scores the rows it is given (predict); to rank a catalogue with it, make it the "
                 "ranker of RecommendationPipeline(retriever, model)",
    "similar_items": "a click model has no item vectors to compare; MatrixFactorization and TwoTower have "
                     "similar_items",
}
_RANKS_ONLY = ("calibration makes a click model's scores click probabilities, and a recommender's scores rank "
               "items: they are no probabilities to calibrate")
_PAIRS = "predict(rows) scores (user, item) pairs and recommend(queries, k) ranks the catalogue"
RECOMMENDER_NAMES = {
    **_MODEL_NAMES,
    "__call__": _PAIRS,
    "calibrate": _RANKS_ONLY,
    "predict_proba": "predict returns each (user, item) pair's score; recommend(queries, k) ranks the catalogue",
    "history": "fit returns the Keras History of its epochs",
}


def _baseline_names(weights: str, compiling: str, probabilities: str, history: str) -> dict[str, str]:
    """The Keras names a baseline with no network (Popularity, EASE) lacks, each with what it offers instead."""
    return {"__call__": _PAIRS, "save": _EXPORT, "compile": compiling,
            **dict.fromkeys(("get_weights", "set_weights", "weights", "trainable_weights", "variables", "save_weights",
                             "load_weights", "count_params", "network_"), weights),
            "predict_proba": probabilities, "calibrate": _RANKS_ONLY, "history": history}


POPULARITY_NAMES = _baseline_names(
    "Popularity learns no weights: it counts each item's interactions, which predict gives",
    compiling="Popularity counts interactions: it has no loss and no optimiser",
    probabilities="predict returns each item's interaction count",
    history="fit counts the interactions in one pass and returns the model")
EASE_NAMES = _baseline_names(
    "EASE learns no weights by gradient: B is solved in closed form, model.weights_ after fit",
    compiling="EASE solves for its weights in closed form: it has no loss and no optimiser",
    probabilities="predict returns each (user, item) pair's score, Σ B[i, item] over the user's items",
    history="fit solves for B in one pass and returns the model")
PIPELINE_NAMES = {
    "__call__": "recommend(queries, k) ranks the catalogue; the ranker scores pairs: pipeline.ranker.predict(rows)",
    "save": _EXPORT,
    "fit": "fit the retriever and the ranker first, each on its own, then join them in "
           "RecommendationPipeline(retriever, ranker)",
    "predict": "the ranker scores pairs: pipeline.ranker.predict(rows)",
    "summary": "pipeline.retriever.summary() and pipeline.ranker.summary()",
    "calibrate": _RANKS_ONLY,
}

_SERVES = "an export serves what was trained; fit the model itself again, then export it anew"
_REBUILT = "ctr.load_model(path) rebuilds the export as the model"
SERVED_NAMES = {
    "__call__": "predict(rows) scores raw rows; the graph's own function, over tensors, is "
                "tf.saved_model.load(path).signatures['serving_default']",
    "fit": f"{_SERVES}; or {_REBUILT}, to fit further",
    "calibrate": f"{_REBUILT}, whose calibrate(rows) then export(path) write it calibrated (ctr calibrate does both)",
    "save": "an export is saved already: its folder is the whole model (copy it; ctr.load(path) reads it)",
    "recommend": "a click model's export scores rows (predict); a recommender's or a pipeline's export "
                 "recommends (ctr.load gives a RecommenderExport for those)",
    "predict_proba": "predict returns the click probabilities",
}
RECOMMENDER_EXPORT_NAMES = {
    "__call__": _PAIRS,
    "fit": f"{_SERVES}; or {_REBUILT}, to fit further",
    "calibrate": _RANKS_ONLY,
    "save": SERVED_NAMES["save"],
    "predict_proba": "predict returns each (user, item) pair's score; recommend(queries, k) ranks the catalogue",
}


class KerasNames:
    """Answers a Keras Model attribute that a ctr model lacks (`model.save`, `compile`) with what ctr
    offers instead, from the class's `_KERAS_NAMES`, where Python said only that it does not exist."""

    _KERAS_NAMES: Mapping[str, str] = {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """A Keras model is called on its inputs (`model(x)`); a ctr model or export is not, and says what to
        call (Python said only that the object is not callable)."""
        answer = type(self)._KERAS_NAMES.get("__call__")
        raise ArgumentError(f"{type(self).__name__!r} object is not callable" + (f" ({answer})" if answer else ""))

    def __getattr__(self, name: str) -> Any:
        answer = type(self)._KERAS_NAMES.get(name)
        message = f"{type(self).__name__!r} object has no attribute {name!r}"
        if answer is None:  # Python's own error, which suggests a near name when it is shown
            raise AttributeError(message, name=name, obj=self)
        raise AttributeError(f"{message} ({answer})")


def named_keywords(hints: Mapping[str, str] = KERAS_SCORING_ONLY) -> Callable[[F], F]:
    """Make a public method refuse a keyword it does not take with an ArgumentError that names the
    object's own class, the nearest keyword it does take, and from `hints` how ctr does what a Keras-only
    argument would (sample weights, labels apart from the data): Python's TypeError named the base class."""
    def decorate(method: F) -> F:
        import functools
        import inspect

        parameters = list(inspect.signature(method).parameters.values())[1:]  # after self
        keywords = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        known = frozenset(keywords)
        required = [p.name for p in parameters if p.default is p.empty and p.kind == p.POSITIONAL_OR_KEYWORD]

        # Keras' evaluate(x, y) and predict(x, y) put labels where ctr's second argument is batch_size.
        labels_second = keywords[1:2] == ["batch_size"]

        @functools.wraps(method)
        def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not known.issuperset(kwargs):
                name = next(k for k in kwargs if k not in known)
                _refuse(f"{type(self).__name__}.{method.__name__}", name, keywords[1:], hints.get(name))
            if len(args) < len(required) and any(name not in kwargs for name in required[len(args):]):
                _missing(f"{type(self).__name__}.{method.__name__}", required, [*required[:len(args)], *kwargs])
            if labels_second and len(args) > 1 and labels_apart(args[1]):
                raise ArgumentError(f"{type(self).__name__}.{method.__name__}: the second argument is batch_size, "
                                    f"got a {type(args[1]).__name__}; labels are not passed apart from the data: "
                                    f"they are {label_source(getattr(self, 'spec', None))}")
            return method(self, *args, **kwargs)
        return checked  # type: ignore[return-value]
    return decorate


def labels_apart(value: Any) -> bool:
    """Whether `value` is a column of values (a Series, a 1-D array, a list) or Keras' (x, y) pair, as
    Keras takes labels, rather than a setting or a table (a list of rows, each a mapping, is a table)."""
    if isinstance(value, str | bytes):
        return False
    if isinstance(value, Sequence):
        return not any(isinstance(row, Mapping) for row in value)
    return len(getattr(value, "shape", ())) == 1


def label_source(spec: Any) -> str:
    """Where a model's labels come from, for a message about labels given apart from the data."""
    label = getattr(spec, "label", None)
    return (f"the data's {label.column!r} column (the spec's label)" if label is not None
            else "the data's rows themselves (every row is an interaction)")


def _refuse(owner: str, name: str, accepted: Sequence[str], why: str | None = None) -> None:
    import difflib

    near = difflib.get_close_matches(name, accepted, n=1)
    hint = f" ({why})" if why else f" (did you mean {near[0]!r}?)" if near else ""
    takes = f"it takes {', '.join(accepted)}" if accepted else "it takes the data alone"
    raise ArgumentError(f"{owner} has no argument {name!r}{hint}; {takes}")


# What a required argument is, for the message that names it missing (Keras' evaluate(x) has no second).
MISSING_HINTS = {
    "train": "the interactions the model was trained on, whose items are not ranked again for their users; "
             "the held-out ones are the first argument",
}


def _missing(owner: str, required: Sequence[str], given: Collection[str]) -> None:
    """An ArgumentError naming the required arguments of `owner` left out, where Python's TypeError named
    the base class whose method it is (RankingModel.fit for an FM)."""
    missing = [name for name in required if name not in given]
    hints = "".join(f" ({name + ': ' if len(missing) > 1 else ''}{MISSING_HINTS[name]})"
                    for name in missing if name in MISSING_HINTS)
    raise ArgumentError(f"{owner}: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing{hints}; "
                        f"call it as {owner.rsplit('.', 1)[-1]}({', '.join(required)}, ...)")


def check_choice(owner: str, name: str, value: Any, allowed: Sequence[str]) -> None:
    """Raise an ArgumentError unless `value` is one of `allowed` (names, so a column given is refused too)."""
    if not isinstance(value, str) or value not in allowed:
        import difflib

        near = difflib.get_close_matches(value.lower(), allowed, n=1) if isinstance(value, str) else []
        raise ArgumentError(f"{owner}: {name} must be one of {', '.join(map(repr, allowed))}; got {_shown(value)}"
                            + (f" (did you mean {near[0]!r}?)" if near else ""))


def figure_path(path: str | os.PathLike) -> Path:
    """Where a figure goes: `path`, whose ending names an image format matplotlib writes (".png" added
    when it has none, as matplotlib adds it), or an ArgumentError naming the formats it writes."""
    path = Path(path)
    if not path.suffix:
        return path.with_suffix(".png")
    try:  # matplotlib is optional: without it, drawing says how to install it
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        return path
    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    if path.suffix.lower().lstrip(".") not in formats:
        raise ArgumentError(f"{path}: a figure is written as {', '.join('.' + f for f in formats)}; the file "
                            f"name's ending says which, and {path.suffix} is none of them")
    return path


def check_saved_model_only(owner: str, format: str) -> None:
    """Raise an ArgumentError for an export format other than a SavedModel, which is all a recommender has."""
    if format == "onnx":
        raise ArgumentError(f"{owner}.export: ONNX export covers the click models ({CLICK_MODEL_CLASSES}); "
                            "a recommender's catalogue search is exported as a SavedModel only "
                            "(format='saved_model')")
    check_choice(f"{owner}.export", "format", format, ("saved_model",))


def check_exclude(exclude: Sequence[Sequence[Any]] | None, n_queries: int) -> None:
    """Raise a DataError unless `exclude` (when given) holds one list of items per query row."""
    if exclude is None:
        return
    for i, items in enumerate(exclude):
        if isinstance(items, str | bytes) or not isinstance(items, Iterable):
            raise DataError(f"exclude[{i}] is {items!r} ({type(items).__name__}); exclude holds one list of item "
                            "ids per query row, e.g. [[1, 2]] for one row")
    if len(exclude) != n_queries:
        raise DataError(f"exclude has {len(exclude)} lists for {n_queries} query rows; "
                        "give one list (possibly empty) per row")
