"""Splits of a table for training and testing: at random, in time, per user in time (each user's
latest rows test), and holding whole users out (cold start); and the histories of earlier items that
cold-start models read. Each user's rows are put in time order by the moments their times mean, not by
their text. `ctr.data` offers every public name here too.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ._args import check_arguments
from .data import (
    Source,
    _numpy_kind,
    _parsed_datetimes,
    epoch_counts,
    read,
    refuse_binary_ids,
    require_columns,
    time_counts,
)
from .errors import ArgumentError, DataError
from .features import MISSING_INT, WEIGHT_MAX
from .spec import EPOCH_UNIT_NAMES, FeatureSpec, History, SpecLike, Timestamp, weight_separator_problems

__all__ = ["add_history", "cold_user_split", "random_split", "temporal_split", "time_split"]


# -- time order -----------------------------------------------------------------------------------
def _time_keys(column: pd.Series, where: str) -> np.ndarray:
    """Numbers that sort as the column's times do: numbers as they are, datetimes and ISO 8601 text (any
    offsets) as epoch microseconds; NaN where a row has no time. Raw text would sort as text: wrongly
    across offsets, and for other formats (12/30/2023 after 1/2/2024) at all."""
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=np.int64) if _numpy_kind(column, "iu") else \
            column.to_numpy(dtype=np.float64, na_value=np.nan)
    parsed = column if pd.api.types.is_datetime64_any_dtype(column.dtype) else _parsed_datetimes(column)
    if pd.api.types.is_numeric_dtype(parsed.dtype) and not pd.api.types.is_bool_dtype(parsed.dtype):
        return _time_keys(parsed, where)  # numbers given as text
    # Anything else is refused there, in the words the spec's timestamps use.
    counts = epoch_counts(parsed, where, "us" if pd.api.types.is_datetime64_any_dtype(parsed.dtype) else "s")
    return np.where(counts == MISSING_INT, np.nan, counts.astype(np.float64))  # exact: µs stay below 2**53


def time_order(frame: pd.DataFrame, user: str, time: str, owner: str, latest_first: bool = False,
               what: str = "") -> np.ndarray:
    """Positions of `frame`'s rows grouped by `user` and in time order within each (ties: row order),
    the latest first with `latest_first`. Refuses rows with no user or no time, which have no place in
    the order, and time text that is no ISO 8601 (rows are named by `frame`'s index, and the frame by
    `what`)."""
    of = f" of {what}" if what else ""
    where = f"{owner}: column {time!r}{of}"
    keys = _time_keys(frame[time], where)
    missing = np.flatnonzero(np.isnan(keys)) if keys.dtype.kind == "f" else []
    if len(missing):
        first = frame.index[missing[0]]
        raise DataError(f"{where} has no time in {len(missing)} of its rows (the first is row {first!r}); drop them "
                        f"or give them a time, since {owner} orders each user's rows by it")
    userless = np.flatnonzero(frame[user].isna().to_numpy())
    if len(userless):  # grouped apart, such rows were dropped by one split and tested whole by another
        first = frame.index[userless[0]]
        raise DataError(f"{owner}: column {user!r}{of} has no user in {len(userless)} of its rows (the first is row "
                        f"{first!r}); drop them or give them a user, since {owner} orders each user's rows")
    ordered = pd.DataFrame({"user": frame[user].to_numpy(), "time": keys})
    return ordered.sort_values(["user", "time"], kind="stable", ascending=[True, not latest_first]).index.to_numpy()


# -- splits ---------------------------------------------------------------------------------------
def random_split(data: Source, fractions: Sequence[float] = (0.8, 0.1, 0.1),
                 seed: int = 0) -> tuple[pd.DataFrame, ...]:
    """Shuffle rows with `seed` and cut them into parts of the given fractions (summing to 1)."""
    check_arguments("random_split", fractions=fractions, seed=seed)
    frame = read(data)
    cuts = _cuts(len(frame), fractions)
    order = np.random.default_rng(seed).permutation(len(frame))
    return tuple(frame.iloc[np.sort(order[a:b])].reset_index(drop=True) for a, b in itertools.pairwise(cuts))


def time_split(data: Source, fractions: Sequence[float] = (0.8, 0.1, 0.1), time: str | None = None,
               spec: SpecLike | None = None) -> tuple[pd.DataFrame, ...]:
    """Cut the rows in time order into parts of the given fractions: the past trains, the future tests,
    as a model is used. Rows with the same time stay in one part (the earlier), so no part holds a
    moment that an earlier part also holds; each part keeps the data's row order. The time column is
    `time`, else the spec's timestamp feature's, else "timestamp"."""
    _fractions_not_a_column("time_split", fractions, "time")
    check_arguments("time_split", fractions=fractions)
    time = spec_columns("time_split", spec, time=time)["time"]
    frame = read(data)
    require_columns(frame, [time], where="the data of time_split",
                    hint=column_arguments_hint("time_split orders the rows by it", "time", spec=spec))
    keys = _time_keys(frame[time], f"time_split: column {time!r}")
    missing = np.flatnonzero(np.isnan(keys)) if keys.dtype.kind == "f" else []
    if len(missing):
        raise DataError(f"time_split: column {time!r} has no time in {len(missing)} of its rows (the first is row "
                        f"{missing[0]}); drop them or give them a time, since a split in time places every row")
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    shares = _cuts(len(frame), fractions)
    # A cut inside a run of equal times moves to the run's end (the run stays in the earlier part).
    inner = [int(np.searchsorted(ordered, ordered[c - 1], side="right")) if 0 < c < len(frame) else c
             for c in shares[1:-1]]
    cuts = [0, *np.maximum.accumulate(inner).tolist(), len(frame)] if inner else shares
    emptied = [i for i in range(len(fractions)) if shares[i + 1] > shares[i] and cuts[i + 1] == cuts[i]]
    if emptied:  # not too few rows: too few moments to cut between
        distinct = len(np.unique(ordered))
        sizes = ", ".join(f"{b - a:,}" for a, b in itertools.pairwise(cuts))
        times = f"{distinct:,} distinct time{'s' * (distinct > 1)}"
        raise DataError(f"time_split: part {emptied[0] + 1} of {tuple(fractions)!r} would hold no rows (the parts "
                        f"would be {sizes} rows): column {time!r} holds {times}, and rows of one time stay in one "
                        f"part, so no cut falls between them; give times finer than that, or split otherwise "
                        f"(random_split)")
    return tuple(frame.iloc[np.sort(order[a:b])].reset_index(drop=True) for a, b in itertools.pairwise(cuts))


def column_names(owner: str, **given: object) -> None:
    """An ArgumentError for a column argument that is no column's name: a spec given in its place
    (`leave_one_out(frame, spec)`, as `add_negatives(frame, spec)` takes it), or another type."""
    for argument, name in given.items():
        spec_given(owner, argument, name)
        if name is not None and not isinstance(name, str):
            raise ArgumentError(f"{owner}: {argument} must be a column's name, got {type(name).__name__} {name!r}")


def spec_given(owner: str, argument: str, value: object) -> None:
    """An ArgumentError for a spec (a FeatureSpec, a mapping or a YAML file's path) given as `argument`."""
    if isinstance(value, FeatureSpec | dict) or (isinstance(value, str | Path) and
                                                str(value).lower().endswith((".yaml", ".yml"))):
        raise ArgumentError(f"{owner}: {argument} got a spec ({type(value).__name__}); give a spec by its keyword: "
                            f"{owner}(data, ..., spec=...)")


def _fractions_not_a_column(owner: str, fractions: object, *keywords: str) -> None:
    """An ArgumentError for `time_split(frame, "timestamp")`: a column given where the fractions go."""
    spec_given(owner, "the second argument (the fractions)", fractions)
    if isinstance(fractions, str):
        named = " or ".join(f"{k}={fractions!r}" for k in keywords)
        raise ArgumentError(f"{owner}: the second argument is the fractions, such as (0.8, 0.1, 0.1); name a column "
                            f"by its keyword: {named}")


def time_range(part: pd.DataFrame, time: str, stamp: Timestamp | None = None) -> str:
    """'first … last' times of a part's `time` column (as the timestamp feature `stamp` reads it; epoch
    seconds without one), in UTC, for a line about a split; the numbers themselves when they are no
    dates pandas can write."""
    if not len(part):
        return "no rows"
    counts, unit = time_counts(part[time], f"column {time!r}", stamp)
    counts = counts[counts != MISSING_INT] if (counts != MISSING_INT).any() else counts
    try:
        first, last = (pd.Timestamp(int(c), unit=unit, tz="UTC").strftime("%Y-%m-%d %H:%M:%S") for c in
                       (counts.min(), counts.max()))
    except (OverflowError, ValueError, NotImplementedError):  # out of pandas' or strftime's range
        return f"{counts.min()} … {counts.max()} ({EPOCH_UNIT_NAMES[unit]} since the epoch)"
    return f"{first} … {last} UTC"


def column_arguments_hint(does: str, *arguments: str, spec: SpecLike | None = None) -> str:
    """The end of a missing-column error of a function that takes column names as arguments, or
    (`spec=`) the spec whose features name them."""
    named = [f"{a}=..." for a in arguments]
    listed = f"{', '.join(named[:-1])} and {named[-1]}" if len(named) > 1 else named[0]
    if spec is None:
        return f" ({does}: name the columns with {listed}, or give the spec whose features read them (spec=...))"
    lacking = [_SPEC_READS[a] for a in arguments if a not in _read_by(FeatureSpec.of(spec))]
    lacks = f" the spec has no {' and no '.join(lacking)} to name them, so" if lacking else ""
    return f" ({does}:{lacks} name the columns with {listed})"


_DEFAULT_COLUMNS = {"user": "user_id", "item": "item_id", "time": "timestamp"}
_SPEC_READS = {"user": "user id (a categorical feature of role user)",
               "item": "item id (a categorical feature of role item)", "time": "timestamp feature"}


def _read_by(spec: FeatureSpec) -> dict[str, str]:
    """The columns of the spec's user and item ids (the first categorical feature of each role) and
    first timestamp, by what splits call them (`user`, `item`, `time`)."""
    read_by = {role: key.source for role in ("user", "item") if (key := spec.id_feature(role)) is not None}
    times = [f for f in spec.features if isinstance(f, Timestamp)]
    return {**read_by, "time": times[0].source} if times else read_by


def spec_columns(owner: str, spec: SpecLike | None, **given: str | None) -> dict[str, str]:
    """The columns a split reads (`user`, `item`, `time`): as given, else those the spec's features read
    (its user and item ids, the first categorical feature of each role, and its first timestamp), else
    user_id, item_id and timestamp."""
    column_names(owner, **given)
    read_by = _read_by(FeatureSpec.of(spec)) if spec is not None else {}
    return {key: name if name is not None else read_by.get(key, _DEFAULT_COLUMNS[key]) for key, name in given.items()}


def temporal_split(data: Source, fractions: Sequence[float] = (0.8, 0.1, 0.1), user: str | None = None,
                   time: str | None = None, spec: SpecLike | None = None) -> tuple[pd.DataFrame, ...]:
    """Per user, the earliest interactions train and the latest test: each part takes its fraction
    of every user's history, in time order (ties broken by row order). The columns are `user` and
    `time`, else those of the spec's user id and timestamp features, else user_id and timestamp."""
    _fractions_not_a_column("temporal_split", fractions, "time", "user")
    check_arguments("temporal_split", fractions=fractions)
    user, time = spec_columns("temporal_split", spec, user=user, time=time).values()
    frame = read(data)
    require_columns(frame, [user, time], where="the data of temporal_split",
                    hint=column_arguments_hint("it cuts each user's rows in time order", "user", "time", spec=spec))
    ordered = frame.reset_index(drop=True)
    rank = ordered.iloc[time_order(ordered, user, time, "temporal_split")].groupby(user, sort=False).cumcount()
    size = ordered.groupby(user)[user].transform("size")
    position = (rank.reindex(ordered.index) / size).to_numpy()
    bounds = np.cumsum(fractions)[:-1]
    part = np.searchsorted(bounds, position, side="right")
    return tuple(ordered[part == i].reset_index(drop=True) for i in range(len(fractions)))


def add_history(data: Source, column: str | None = None, user: str | None = None, item: str | None = None,
                time: str | None = None, max_length: int | None = None, separator: str | None = None,
                profiles: pd.DataFrame | None = None, first: bool = False, weight: str | None = None,
                weight_separator: str | None = None, spec: SpecLike | None = None) -> pd.DataFrame:
    """The table with `column`: for each row, the ids of the items its user touched before it (most
    recent first, at most `max_length`), as a `History` feature reads them. With `first`, the user's
    first `max_length` items instead (those before the row): a new user's profile is what they touched
    first, so training on first items teaches the model what it will be served. With `profiles` (rows
    of other interactions), each user's history is those rows instead, the same for all their rows:
    the profile a cold user brings at serving time. With `weight` (a column of numbers ≥ 0: a rating, a
    play count), each item carries its row's weight (`12:5|85:3`), as a weighted `History` reads them.

    With `spec`, what is not given is what the spec reads: the column, item ids, separators and length of
    its history feature, and the columns of its user id and timestamp (else history, user_id, item_id,
    timestamp, at most 20 items, '|' and ':')."""
    column_names("add_history", column=column, weight=weight)
    spec = FeatureSpec.of(spec) if spec is not None else None  # a YAML file read once
    given = {"column": column, "item": item, "max_length": max_length, "separator": separator,
             "weight_separator": weight_separator}
    defaults = _history_defaults(spec, column)
    column, item, max_length, separator, weight_separator = (
        value if value is not None else defaults[name] for name, value in given.items())
    user, item, time = spec_columns("add_history", spec, user=user, item=item, time=time).values()
    check_arguments("add_history", max_length=max_length)
    frame = read(data).reset_index(drop=True)
    weighed = [weight] if weight is not None else []  # in the rows the histories are made of
    named = ("user", "item", "time", *(["weight"] if weighed else []))
    require_columns(frame, [user, item, time, *(weighed if profiles is None else [])], where="the data of add_history",
                    hint=column_arguments_hint("it lists each user's earlier items", *named, spec=spec))
    problems = weight_separator_problems(History(column, separator=separator, weighted=True,
                                                 weight_separator=weight_separator), "add_history", "'12:5'") \
        if weight is not None else []
    if problems:
        raise ArgumentError(problems[0])
    if column in frame.columns:
        raise DataError(f"add_history: the data already has a column {column!r}; pass column= another name for the "
                        "column to write, or drop it first")
    for rows in (frame, profiles) if profiles is not None else (frame,):
        refuse_binary_ids(rows[item], item, "add_history", "a history is text: the ids joined by the separator")
    if profiles is not None:
        if first:
            raise ArgumentError("add_history: `first` builds histories from the frame's own rows; with `profiles`, "
                             "each user's history is their profile rows, so pass one or the other")
        require_columns(profiles, [user, item, time, *weighed], where="add_history's profiles",
                        hint=column_arguments_hint("it lists each user's items", *named, spec=spec))
        ordered = profiles.iloc[time_order(profiles, user, time, "add_history", latest_first=True, what="profiles")]
        tokens = pd.Series(_tokens(ordered, item, weight, weight_separator, "the profiles'"), index=ordered.index)
        joined = tokens.groupby(ordered[user].to_numpy(), sort=False).agg(
            lambda ids: separator.join(list(ids)[:max_length]))
        return frame.assign(**{column: frame[user].map(joined).fillna("").to_numpy(object)})
    order = time_order(frame, user, time, "add_history")
    users = frame[user].to_numpy()[order]
    n = len(order)
    # In (user, time) order, each history is the row's predecessors (or its user's first items) latest
    # first: a slice of one string of all the items, latest first, cut where each history starts and ends.
    latest_first = _tokens(frame, item, weight, weight_separator, "the data's")[order][::-1].tolist()
    text = separator.join(latest_first)
    offsets = np.r_[0, np.cumsum(np.fromiter(map(len, latest_first), np.int64, n) + len(separator))]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if n else np.zeros(0, np.int64)
    start = np.repeat(starts, np.diff(np.r_[starts, n]))  # where each row's user begins
    taken = np.minimum(np.arange(n) - start, max_length)
    head = n - start - taken if first else n - np.arange(n)  # a history's latest item, in `latest_first`
    begin, end = offsets[head].tolist(), (offsets[head + taken] - len(separator)).tolist()
    out = np.empty(n, dtype=object)
    out[order] = [text[b:e] if t else "" for b, e, t in zip(begin, end, taken.tolist(), strict=True)]
    return frame.assign(**{column: out})


def _history_defaults(spec: FeatureSpec | None, column: str | None) -> dict[str, object]:
    """What add_history writes where it is not told: as the spec's history feature reads it (the one
    reading `column`, or its only one), else a 'history' column of at most 20 items ('|', ':'). The item
    column, when the spec has no history, is left to spec_columns (None)."""
    histories = [f for f in spec.features if isinstance(f, History)] if spec is not None else []
    if column is None and len(histories) > 1:
        raise ArgumentError(f"add_history: the spec has {len(histories)} history features "
                            f"({', '.join(repr(h.source) for h in histories)}); name the column to write with "
                            "column=...")
    history = next((h for h in histories if column in (None, h.source, h.name)), None)
    if history is None:
        return {"column": "history", "item": None, "max_length": 20, "separator": "|", "weight_separator": ":"}
    return {"column": history.source, "item": spec[history.items].source, "max_length": history.max_length,
            "separator": history.separator, "weight_separator": history.weight_separator}


def _tokens(rows: pd.DataFrame, item: str, weight: str | None, weight_separator: str, what: str) -> np.ndarray:
    """Each row's item id as a history lists it: the id, then its weight after `weight_separator` if any."""
    ids = rows[item].astype(str).to_numpy(dtype=object)
    if weight is None:
        return ids
    numbers = pd.to_numeric(rows[weight], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~((numbers >= 0) & (numbers <= WEIGHT_MAX))  # NaN too
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"add_history: {what} weight column {weight!r} holds {_plain(rows[weight].iloc[row])!r} at "
                        f"row {rows.index[row]} ({int(bad.sum())} such rows), where each item's weight is a number "
                        f"from 0 to {WEIGHT_MAX:g}; fill or drop those rows first")
    # repr: the shortest text that reads back as the same float; whole numbers without their '.0'
    text = [str(int(w)) if w.is_integer() and w < 1e15 else repr(w) for w in numbers.tolist()]
    return ids + weight_separator + np.array(text, dtype=object)


def _plain(value: object) -> object:
    """A NumPy scalar as the Python value it holds, which prints as users write it (nan, not np.float64(nan))."""
    return value.item() if isinstance(value, np.generic) else value


def cold_user_split(data: Source, fraction: float = 0.2, profile_size: int = 5, user: str | None = None,
                    time: str | None = None, seed: int = 0,
                    spec: SpecLike | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Hold `fraction` of the users out entirely: returns (rows of the other users, the held-out users'
    earliest `profile_size` rows each (their profile at serving time), the rest of their rows (test)).
    A held-out user with no rows beyond the profile has no test rows; a split with no training or no
    test rows at all is refused. The columns are `user` and `time`, else the spec's, as temporal_split's."""
    spec_given("cold_user_split", "fraction", fraction)
    check_arguments("cold_user_split", fraction=fraction, profile_size=profile_size, seed=seed)
    user, time = spec_columns("cold_user_split", spec, user=user, time=time).values()
    frame = read(data).reset_index(drop=True)
    require_columns(frame, [user, time], where="the data of cold_user_split",
                    hint=column_arguments_hint("it holds users out, their earliest rows the profile",
                                               "user", "time", spec=spec))
    if not len(frame):
        raise DataError("cold_user_split: the data has no rows, so there are no users to hold out")
    ids = frame[user].drop_duplicates().to_numpy()
    rng = np.random.default_rng(seed)
    cold = set(rng.choice(ids, size=max(1, round(fraction * len(ids))), replace=False).tolist())
    is_cold = frame[user].isin(cold).to_numpy()
    held = frame[is_cold]
    held = held.iloc[time_order(held, user, time, "cold_user_split")]
    rank = held.groupby(user, sort=False).cumcount().to_numpy()
    profile, rest = held[rank < profile_size], held[rank >= profile_size]
    if is_cold.all():
        raise DataError(f"cold_user_split: holding out {len(cold)} of the {len(ids)} users ({user!r}) leaves no "
                        "training rows; hold out a smaller fraction")
    if not len(rest):
        raise DataError(f"cold_user_split: none of the {len(cold)} held-out users has more than {profile_size} rows "
                        f"(the profile), so nothing is left to test on; use a smaller profile_size")
    return (frame[~is_cold].reset_index(drop=True), profile.reset_index(drop=True), rest.reset_index(drop=True))


def _cuts(n: int, fractions: Sequence[float]) -> list[int]:
    edges = np.round(np.cumsum([0.0, *fractions]) * n).astype(int)
    edges[-1] = n
    return edges.tolist()
