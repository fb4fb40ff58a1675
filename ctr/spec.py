"""Declarative feature specs: which columns a model reads, what kind each is and whose it is.

A spec is plain data (no TensorFlow): a list of features, each of a kind (categorical, multi-valued
categorical, numeric, text, timestamp, history, vector) with a role (`user`, `item` or `context`), and a label. The
same spec is written in YAML or built in Python; both go through one validator whose errors name
the path of the offending field (`features[2].kind`).
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import functools
import math
import re
import reprlib
import types
import typing
import unicodedata
import zoneinfo
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Literal, Union

import yaml

from ._model_names import CLICK_MODEL_CLASSES
from .errors import SpecError

Role = Literal["user", "item", "context"]
ROLES = ("user", "item", "context")

# Serving signatures use feature names as input keys, so they must be identifiers.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

EPOCH_UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}  # a timestamp unit's count per second
EPOCH_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
TIMESTAMP_PARTS = {"hour": 24, "day_of_week": 7, "day_of_month": 31, "month": 12, "hour_of_week": 168}
# Times written as digits, year first (so that they sort as the times do): Timestamp.format.
DIGIT_TIME_FORMAT = r"%[Yy]%m(%d(%H(%M(%S)?)?)?)?"
DIGIT_TIME_FORMATS = tuple(year + "%m" + "".join(rest) for year in ("%Y", "%y") for rest in
                           ((), ("%d",), ("%d", "%H"), ("%d", "%H", "%M"), ("%d", "%H", "%M", "%S")))
# Code point ranges of the scripts written without spaces between words: CJK ideographs, hiragana and
# katakana (without the katakana middle dot, a punctuation mark). A text feature reads each of their
# characters as a word of its own, as BERT's tokeniser does, so that titles in Chinese or Japanese
# share words rather than each being one.
UNSPACED_SCRIPTS = ((0x3040, 0x30FA), (0x30FC, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
                    (0xFF66, 0xFF9F), (0x20000, 0x3134F))


@dataclass(frozen=True)
class Feature:
    """Fields every feature has: a name (the serving input), a role, and the data column it reads."""

    name: str
    role: Role = "context"
    column: str | None = None  # defaults to `name`
    shared_embedding: str | None = None  # features naming the same group share one table

    kind: ClassVar[str] = ""

    @property
    def source(self) -> str:
        """The data column this feature reads."""
        return self.column or self.name

    def _check(self, path: str) -> list[str]:
        return []


@dataclass(frozen=True)
class Categorical(Feature):
    """One id per row (user id, occupation): a learned vocabulary with OOV buckets, or hashing."""

    dtype: Literal["string", "int"] = "string"
    min_count: int = 1
    max_tokens: int | None = None
    oov_buckets: int = 1
    hash_buckets: int | None = None  # set to hash into N buckets instead of learning a vocabulary
    # Cold start: in training the id is dropped (read as missing) with this probability, so the model
    # learns to score from the other features; an unseen id is then served as missing, not as OOV.
    id_dropout: float = 0.0

    kind: ClassVar[str] = "categorical"

    def _check(self, path: str) -> list[str]:
        problems = _positive(self, path, "min_count", "max_tokens", "oov_buckets", "hash_buckets")
        if self.hash_buckets is not None and self.max_tokens is not None:
            problems.append(f"{path}: set either hash_buckets or max_tokens, not both")
        if not 0.0 <= self.id_dropout < 1.0:
            problems.append(f"{path}.id_dropout: must be in [0, 1), got {self.id_dropout}")
        if self.id_dropout and self.hash_buckets is not None:
            problems.append(f"{path}.id_dropout: needs a vocabulary (hashed ids have no 'unseen')")
        return problems


@dataclass(frozen=True)
class MultiCategorical(Feature):
    """Several ids per row (genres): a separated string such as `Action|Comedy`, or a list column.

    `weighted`: each id may carry a non-negative weight after `weight_separator` (`Action:0.7|Comedy:0.3`,
    or a mapping {id: weight}), 1 where it has none; the pooled vector is then the weighted mean (the
    weighted sum over the weights' sum), sum or sqrtn (over the root of their squares' sum) of the ids'
    embeddings, as TensorFlow's weighted categorical columns pool them. `hash_buckets`: ids hashed into
    that many rows instead of a vocabulary (too many ids to count, or ids that keep coming). `key`: for
    rows that are lists of objects (TMDB's `[{"id": 28, "name": "Action"}]`), the field each object's
    id is read from."""

    separator: str = "|"
    max_length: int = 8
    combiner: Literal["mean", "sum", "sqrtn"] = "mean"
    min_count: int = 1
    max_tokens: int | None = None
    oov_buckets: int = 1
    weighted: bool = False
    weight_separator: str = ":"
    hash_buckets: int | None = None
    key: str | None = None

    kind: ClassVar[str] = "multi_categorical"

    def _check(self, path: str) -> list[str]:
        problems = _positive(self, path, "max_length", "min_count", "max_tokens", "oov_buckets", "hash_buckets")
        if self.hash_buckets is not None and self.max_tokens is not None:
            problems.append(f"{path}: set either hash_buckets or max_tokens, not both")
        if self.separator == "":
            problems.append(f"{path}.separator: must be a non-empty string")
        return problems + weight_separator_problems(self, path, "'Action:0.7'") + key_problems(self, path)


def key_problems(f: MultiCategorical | History, path: str) -> list[str]:
    """A list of objects' `key` problems: a field's name, for ids without weights."""
    if f.key is None:
        return []
    if not f.key.strip():
        return [f"{path}.key: must name the field of each object that holds its id (e.g. key: name), got {f.key!r}"]
    if f.weighted:
        return [f"{path}.key: reads one id from each object, and weighted reads ids with weights; drop one of them"]
    return []


def weight_separator_problems(f: MultiCategorical | History, path: str, example: str) -> list[str]:
    """A weighted list's problems with its `weight_separator` (at `path`), which must tell an id's weight
    from the next id and from the weight itself."""
    if not f.weighted:
        return []
    if f.weight_separator == "" or f.weight_separator in f.separator or f.separator in f.weight_separator:
        return [f"{path}.weight_separator: must be a non-empty string other than the separator {f.separator!r} "
                f"(an id's weight follows it: {example}), got {f.weight_separator!r}"]
    if re.search(r"[0-9.\s]", f.weight_separator):
        return [f"{path}.weight_separator: must hold no digit, '.' or white space, which a weight may hold or be "
                f"spaced by, got {f.weight_separator!r}"]
    return []


@dataclass(frozen=True)
class Numeric(Feature):
    """A number: standardised, log-then-standardised, or cut into quantile buckets; NaN is filled."""

    transform: Literal["standardize", "log", "quantile"] = "standardize"
    buckets: int = 10  # only for transform: quantile

    kind: ClassVar[str] = "numeric"

    def _check(self, path: str) -> list[str]:
        problems = _positive(self, path, "buckets")
        if self.transform == "quantile" and self.buckets < 2:
            problems.append(f"{path}.buckets: quantile needs at least 2 buckets, got {self.buckets}")
        return problems


@dataclass(frozen=True)
class Text(Feature):
    """Free text (titles, descriptions): lower-cased, split into words (each Chinese or Japanese character
    a word), pooled word embeddings; with `hash_buckets`, words hashed into that many rows instead of a
    vocabulary of the `max_tokens` most frequent."""

    max_tokens: int = 10_000  # vocabulary size
    max_length: int = 16  # words kept per row
    min_count: int = 1
    combiner: Literal["mean", "sum", "sqrtn"] = "mean"
    oov_buckets: int = 1
    hash_buckets: int | None = None

    kind: ClassVar[str] = "text"

    def _check(self, path: str) -> list[str]:
        return _positive(self, path, "max_tokens", "max_length", "min_count", "oov_buckets", "hash_buckets")


@dataclass(frozen=True)
class Timestamp(Feature):
    """Time since the epoch (or a datetime column) turned into calendar parts, each a field. `unit` is
    what the epoch numbers count (and what serving sends): seconds, or milli-, micro- or nanoseconds.
    The parts are UTC's, shifted by `utc_offset_hours`, or the local time of an IANA `timezone`
    (`Europe/Berlin`), daylight saving included, or of each row's own zone, the value of the categorical
    feature `timezone_feature` names (a user's zone; UTC where it is missing or unseen). Times written
    as digits (Avazu's hour 14102100, a warehouse's date 20240131) name their `format` ('%y%m%d%H',
    '%Y%m%d'), year first; the served graph reads the digits, and their calendar parts are as written."""

    parts: tuple[str, ...] = ("hour", "day_of_week")
    utc_offset_hours: float = 0.0
    unit: Literal["s", "ms", "us", "ns"] = "s"
    timezone: str | None = None  # after the fields that were there before it, for positional arguments
    timezone_feature: str | None = None
    format: str | None = None

    kind: ClassVar[str] = "timestamp"

    def __post_init__(self) -> None:
        if isinstance(self.parts, list):  # as YAML gives them: a spec built either way compares equal
            object.__setattr__(self, "parts", tuple(self.parts))

    def _check(self, path: str) -> list[str]:
        problems = []
        if not self.parts:
            problems.append(f"{path}.parts: list at least one of {_quoted(TIMESTAMP_PARTS)}")
        for i, part in enumerate(self.parts):
            if part not in TIMESTAMP_PARTS:
                problems.append(f"{path}.parts[{i}]: {part!r} is not one of {_quoted(TIMESTAMP_PARTS)}"
                                + did_you_mean(part, TIMESTAMP_PARTS))
        if len(set(self.parts)) != len(self.parts):
            problems.append(f"{path}.parts: a part is listed twice")
        if isinstance(self.utc_offset_hours, int | float) and not -12 <= self.utc_offset_hours <= 14:
            problems.append(f"{path}.utc_offset_hours: local time is between 12 hours behind UTC and 14 ahead; "
                            f"got {self.utc_offset_hours:g}")
        if isinstance(self.timezone, str):
            problems += _zone_problems(self.timezone, f"{path}.timezone")
            if self.utc_offset_hours:
                problems.append(f"{path}: give utc_offset_hours or timezone, not both (a timezone has its "
                                "offsets, daylight saving's too)")
        if self.timezone_feature is not None and (self.timezone or self.utc_offset_hours):
            problems.append(f"{path}: give timezone_feature (each row's zone) or one zone for all rows (timezone, "
                            "utc_offset_hours), not both")
        if isinstance(self.format, str):
            problems += self._format_problems(path)
        return problems

    def _format_problems(self, path: str) -> list[str]:
        if not re.fullmatch(DIGIT_TIME_FORMAT, self.format or ""):
            return [f"{path}.format: {self.format!r} is no time written as digits, year first: one of "
                    f"{_quoted(DIGIT_TIME_FORMATS)} (%Y: 2014, %y: 14, then month, day, hour, minute, second); "
                    "for other times give epoch numbers, datetimes or ISO 8601 text and no format"]
        problems = []
        if self.unit != "s":
            problems.append(f"{path}: unit counts epoch numbers, and format reads digits written as a date; give one")
        if self.timezone or self.utc_offset_hours or self.timezone_feature:
            problems.append(f"{path}: a time written as digits ({self.format}) is read as written, its calendar parts "
                            "its own; timezone, utc_offset_hours and timezone_feature are for epoch times")
        written = digit_time_parts(self.format or "")
        unwritten = [(i, part) for i, part in enumerate(self.parts) if part in TIMESTAMP_PARTS and part not in written]
        if unwritten and self.parts == Timestamp.parts:  # the default, which the spec did not name
            problems.append(f"{path}.parts: by default hour and day_of_week, and {self.format!r} writes no "
                            f"{' and no '.join(p for _, p in unwritten)}; set parts to some of {_quoted(written)}")
        else:
            problems += [f"{path}.parts[{i}]: {part!r} is not written in {self.format!r}; its parts: {_quoted(written)}"
                         for i, part in unwritten]
        return problems


def digit_time_parts(fmt: str) -> tuple[str, ...]:
    """The calendar parts a time written as digits in `fmt` holds: a month alone has no day of the week."""
    parts = ("month",) + (("day_of_month", "day_of_week") if "%d" in fmt else ())
    return parts + (("hour", "hour_of_week") if "%H" in fmt else ())


def _zone_problems(name: str, path: str) -> list[str]:
    """What is wrong with an IANA time zone name: none when the zone database lists it (a file of its
    folder that is no zone, `zone.tab`, is not one)."""
    zones = time_zones()
    if name in zones:
        return []
    meant = zone_spelled(name)
    hint = f" (did you mean {meant!r}?)" if meant else ""
    return [f"{path}: {name!r} is no IANA time zone (such as 'Europe/Berlin', 'America/New_York' or "
            f"'Asia/Kolkata'){hint}"]


def zone_spelled(name: str) -> str | None:
    """The IANA zone `name` likely means: the same in other letter case or with white space around it
    ('europe/berlin'), else the nearest spelling ('Asia/Tokio': 'Asia/Tokyo'), if any is near."""
    zones = sorted(time_zones())
    same = next((zone for zone in zones if zone.lower() == name.strip().lower()), None)
    return same or next(iter(difflib.get_close_matches(name, zones, n=1)), None)


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA time zone names the zone database holds."""
    return frozenset(zoneinfo.available_timezones())


_ZONE_YEARS = (1970, 2100)  # offsets beyond are the last one's (no summer time after 2100)
_WEEK = 7 * 86400


@functools.cache
def zone_offsets(name: str) -> tuple[list[int], list[int]]:
    """The UTC offsets (seconds) of IANA zone `name` and the epoch seconds from which each is in force,
    the first from 1970, found from the zone database week by week and then to the second. No zone changes
    twice within a week: for all 599 zones of the database here, a day-by-day search found the same
    changes, in 20.3 s where this takes 4.3 s (each zone of the data a timestamp reads is found at fit)."""
    zone = zoneinfo.ZoneInfo(name)

    def offset(t: int) -> int:
        return int(datetime.datetime.fromtimestamp(t, zone).utcoffset().total_seconds())

    end = int(datetime.datetime(_ZONE_YEARS[1], 1, 1, tzinfo=datetime.UTC).timestamp())
    instants, offsets = [0], [offset(0)]
    for week in range(_WEEK, end + _WEEK, _WEEK):
        week = min(week, end)
        now = offset(week)
        if now != offsets[-1]:
            before, after = week - _WEEK, week
            while after - before > 1:  # the changing second: the last with the old offset is `before`
                middle = (before + after) // 2
                before, after = (middle, after) if offset(middle) == offsets[-1] else (before, middle)
            instants.append(after)
            offsets.append(now)
    return instants, offsets


@dataclass(frozen=True)
class History(Feature):
    """The items a user has touched, as item ids (`12|85|301`, most recent first): the model pools the
    content of those items (looked up inside the graph) into a profile, so a user the model has never
    seen is still described by what they touched.

    `weighted`: each item may carry a non-negative weight after `weight_separator` (`12:5|85:3`, a
    rating, a play count or a recency), 1 where it has none: the profile is then the items' weighted
    mean, or with attention each item's attention times its weight, renormalised."""

    items: str = "item_id"  # the item-id feature whose ids the history lists
    separator: str = "|"
    max_length: int = 20
    pooling: Literal["mean", "attention"] = "mean"  # attention: weigh history items by the candidate
    weighted: bool = False
    weight_separator: str = ":"
    role: Role = "user"
    key: str | None = None  # for lists of objects ([{"id": 12, "title": ...}]): the field holding each item's id

    kind: ClassVar[str] = "history"

    def _check(self, path: str) -> list[str]:
        problems = _positive(self, path, "max_length")
        if self.separator == "":
            problems.append(f"{path}.separator: must be a non-empty string")
        if self.role != "user":
            problems.append(f"{path}.role: a history describes the user who touched the items, so its role is "
                            f"'user'; got {self.role!r}")
        return problems + weight_separator_problems(self, path, "'12:5'") + key_problems(self, path)


MAX_VECTOR_DIM = 4096  # a vector's table rows, one per component: beyond, reduce the vectors first


@dataclass(frozen=True)
class Vector(Feature):
    """A fixed-length vector of numbers per row: an embedding computed elsewhere (a text encoder's of an item's
    description, an image model's of its poster). Each component is standardised (or taken as it is), and the
    model learns a projection of the whole into its embedding space; a row with no vector, or one with a
    NaN or infinite component, is missing and has a learned vector of its own."""

    dim: int = 0  # the vector's length, which every row and request must have
    transform: Literal["standardize", "none"] = "standardize"

    kind: ClassVar[str] = "vector"

    def _check(self, path: str) -> list[str]:
        if self.dim == 0:  # its default: not given
            return [f"{path}.dim: required, the length of the vectors (e.g. dim: 384 for 384 numbers a row)"]
        if self.dim < 1:
            return [f"{path}.dim: the length of the vectors must be at least 1, got {self.dim}"]
        if self.dim > MAX_VECTOR_DIM:
            return [f"{path}.dim: at most {MAX_VECTOR_DIM:,} components, got {self.dim:,}; reduce the vectors first "
                    "(e.g. PCA), since the model learns a row of its embedding table for each"]
        return []


CROSS_SEPARATOR = " × "  # between the members' values in a cross's tokens: 'F × Comedy'
# What a cross may read: one id a row, several (their every combination), or a number's quantile bucket.
_CROSSABLE = "categorical (without id_dropout), multi_categorical (unweighted) or numeric with transform: quantile"


@dataclass(frozen=True)
class Cross:
    """A feature cross: each combination of the values of two or more features (gender × genre, age bucket
    × occupation) is an id of its own, as Wide & Deep's crossed columns (a click model's wide part learns a
    weight for each; with `crosses="embedded"`, or in a tower, it is embedded as a field). It reads no
    column and has no serving input: the graph makes it from its features' inputs. A combination seen at
    least `min_count` times in training has a row of a vocabulary (at most `max_tokens`), others share the
    OOV row; or every combination is hashed into `hash_buckets`. With a multi-valued feature, a row holds
    each combination (up to `max_length`), pooled as a bag."""

    features: tuple[str, ...]
    name: str | None = None  # its encoded input and table; default the features' names joined by '_x_'
    min_count: int = 1
    max_tokens: int | None = None
    oov_buckets: int = 1
    hash_buckets: int | None = None
    max_length: int | None = None  # with a multi_categorical feature: default the product of their max_length

    def __post_init__(self) -> None:
        if isinstance(self.features, list):  # frozen, so hashable: Cross(["gender", "genres"])
            object.__setattr__(self, "features", tuple(self.features))

    @property
    def key(self) -> str:
        """Its name: the encoded input, the embedding table and the field that models read."""
        return self.name or "_x_".join(map(str, self.features))

    def _check(self, path: str) -> list[str]:
        problems = _positive(self, path, "min_count", "max_tokens", "oov_buckets", "hash_buckets", "max_length")
        if self.hash_buckets is not None and self.max_tokens is not None:
            problems.append(f"{path}: set either hash_buckets or max_tokens, not both")
        if len(self.features) < 2:
            problems.append(f"{path}.features: a cross combines two or more features, got {list(self.features)}")
        repeated = sorted({n for n in self.features if self.features.count(n) > 1})
        if repeated:
            problems.append(f"{path}.features: {_quoted(repeated)} listed more than once")
        return problems


KINDS: dict[str, type[Feature]] = {
    cls.kind: cls for cls in (Categorical, MultiCategorical, Numeric, Text, Timestamp, History, Vector)
}
# Kinds whose values are looked up in a vocabulary, and so may share one table.
_TOKEN_KINDS = ("categorical", "multi_categorical", "text")


@dataclass(frozen=True)
class Label:
    """What the model predicts: a binary column, a rating turned into a click by a threshold, or (with
    `out_of`) aggregated rows: a count of clicks out of a count of impressions."""

    column: str
    threshold: float | None = None  # set for ratings: value >= threshold is a positive
    # A column of row weights (≥ 0): for click models' loss and metrics, importance weights, or 1/rate
    # on negatives kept at that rate, so that predictions stay calibrated to the full data; for the
    # recommenders, how much each positive interaction counts (a play count, a quantity).
    weight: str | None = None
    # Aggregated rows (click models): each row's impressions, of which `column` counts the clicks. A row
    # counts as that many rows, its clicks positive and the rest negative: its click rate weighing its
    # impressions (times its weight), exactly the loss and metrics of the rows it stands for.
    out_of: str | None = None
    # The value (or values) of `column` that make a row a click, every other value a non-click: an
    # event log's `purchase`, a `skipped` column's false, a survey's "yes".
    positive: str | int | float | bool | tuple[str | int | float | bool, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.positive, list):  # frozen, so hashable: Label("event", positive=["cart", "buy"])
            object.__setattr__(self, "positive", tuple(self.positive))

    @property
    def positives(self) -> tuple[Any, ...]:
        """The values that make a row a click, as a tuple (empty without `positive`)."""
        if self.positive is None:
            return ()
        return self.positive if isinstance(self.positive, tuple) else (self.positive,)

    def rule(self) -> str:
        """How a row's label value makes a click, after the column's name: '>= 4', '= purchase', '= 1'."""
        if self.threshold is not None:
            return f">= {self.threshold:g}"
        if self.positive is not None:
            return "= " + " or ".join(map(written_value, self.positives))
        return "= 1"

    @property
    def weighted(self) -> bool:
        """Whether rows have weights: `weight`'s, or (aggregated rows) their impressions."""
        return self.weight is not None or self.out_of is not None

    @property
    def columns(self) -> list[str]:
        """The data columns the label reads: its own, the weights' and the impressions', without repeats."""
        return list(dict.fromkeys(c for c in (self.column, self.weight, self.out_of) if c is not None))

    def _check(self, path: str) -> list[str]:
        if self.out_of is not None:
            if self.out_of in (self.column, self.weight):
                which = "label column" if self.out_of == self.column else "weight column (label.weight)"
                return [f"{path}.out_of: {self.out_of!r} is the {which}; the impressions need a column of their own"]
            if self.threshold is not None:
                return [f"{path}.threshold: with out_of, {self.column!r} counts the clicks out of the impressions in "
                        f"{self.out_of!r}, and a threshold would turn it into a click; drop one of them"]
        if self.positive is not None:
            if self.positives == ():
                return [f"{path}.positive: an empty list; name the value (or values) of {self.column!r} that make a "
                        "row a click, e.g. positive: purchase"]
            if self.threshold is not None or self.out_of is not None:
                other = "threshold" if self.threshold is not None else "out_of"
                return [f"{path}.positive: with {other}, the rows' clicks are already defined; drop one of them"]
        # With a threshold, a count may be both: the rows with plays >= 1 are positives, each counting its plays.
        if self.weight is not None and self.weight == self.column and self.threshold is None:
            return [f"{path}.weight: {self.weight!r} is the label column; the weights need a column of their own "
                    f"(or, for a count that is both, a label.threshold: {{column: {self.column}, threshold: 1, "
                    f"weight: {self.column}}} makes the rows counting 1 or more positives, each weighing its count)"]
        return []


def written_value(value: Any) -> str:
    """A label value as a spec's YAML writes it: false, 0, purchase."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def refuse_aggregated(spec: FeatureSpec, who: str) -> None:
    """SpecError for a recommender given aggregated rows (`label.out_of`): it learns from interactions,
    and a row of clicks out of impressions is neither one interaction nor none."""
    if spec.label is not None and spec.label.out_of is not None:
        raise SpecError(f"label.out_of: {who} learns from interactions, one a row, and this spec's rows are "
                        f"aggregated (clicks out of the impressions in {spec.label.out_of!r}), which the click models "
                        f"({CLICK_MODEL_CLASSES}) learn from; for {who}, weigh each row "
                        f"that was clicked by its clicks: label: {{column: {spec.label.column}, threshold: 1, weight: "
                        f"{spec.label.column}}}")


def refuse_crosses_of_both_sides(spec: FeatureSpec, who: str) -> None:
    """SpecError for a recommender given a cross of an item's feature with a user's or the context's: its
    query side and its item side are encoded apart (a tower each, a catalogue of items), and such a cross
    belongs to neither."""
    for i, c in enumerate(spec.crosses):
        roles = [spec[n].role for n in c.features]
        if "item" in roles and any(r != "item" for r in roles):
            sides = ", ".join(f"{n} ({r})" for n, r in zip(c.features, roles, strict=True))
            raise SpecError(f"crosses[{i}]: {c.key!r} crosses {sides}: an item's feature with the query's; {who} "
                            "encodes its queries and its items apart, so a cross reads the features of one side "
                            f"(user and context, or item). Crosses of both sides are for the click models "
                            f"({CLICK_MODEL_CLASSES})")


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping, which YAML forbids and PyYAML lets the
    last one win silently (`{name: a, kind: categorical, kind: numeric}` would be numeric)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: its keys may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in first:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice in one mapping (first on line {first[key] + 1})",
                    key_node.start_mark)
            first.setdefault(key, key_node.start_mark.line)
        return super().construct_mapping(node, deep=deep)


@dataclass(frozen=True)
class FeatureSpec:
    """The whole declaration: features and label. Build it in Python or load it from YAML. A label given
    as a column's name (`label="clicked"`) is `Label("clicked")`, as in YAML."""

    features: tuple[Feature, ...]
    label: Label | None = None
    name: str = "spec"
    description: str = ""
    crosses: tuple[Cross, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.features, Feature | str | Mapping) or not isinstance(self.features, Iterable):
            raise SpecError(f"features: expected a list of features such as [ctr.Categorical(...)], got "
                            f"{_typename(self.features)}")
        object.__setattr__(self, "features", tuple(self.features))
        if isinstance(self.crosses, Cross | str | Mapping) or not isinstance(self.crosses, Iterable):
            raise SpecError(f"crosses: expected a list of crosses such as [ctr.Cross(['gender', 'genres'])], got "
                            f"{_typename(self.crosses)}")
        # A list of names is the cross of those features: crosses=[["gender", "genres"]].
        object.__setattr__(self, "crosses", tuple(Cross(c) if isinstance(c, list | tuple) else c for c in self.crosses))
        if isinstance(self.label, str):  # a column's name, as YAML's `label: clicked` gives it
            object.__setattr__(self, "label", Label(self.label))
        problems = _check_types(self, "")
        if not problems:
            problems = self._check_semantics()
        if problems:
            raise SpecError(problems)

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, raw: Any) -> FeatureSpec:
        """Build and validate a spec from plain data (as parsed from YAML or JSON)."""
        if not isinstance(raw, dict):
            raise SpecError("<root>: the spec is empty: expected a mapping with 'features' and 'label'" if raw is None
                            else f"<root>: expected a mapping with 'features' and 'label', got {_typename(raw)}")
        problems = _unknown_keys(raw, {"name", "description", "features", "label", "crosses"}, "")
        if "features" not in raw:
            problems.append("features: required, a list of features")
        elif not isinstance(raw["features"], list):
            problems.append(f"features: expected a list, got {_typename(raw['features'])}" + (
                "; write each feature as an item of a list, its name in it: '- {name: user_id, kind: categorical}'"
                if isinstance(raw["features"], dict) else ""))
        features: list[Feature] = []
        listed = raw.get("features") if isinstance(raw.get("features"), list) else []
        for i, item in enumerate(listed):
            feature, item_problems = _feature_from_dict(item, f"features[{i}]")
            problems += item_problems
            if feature is not None:
                features.append(feature)
        label = None
        if raw.get("label") is not None:
            label_raw = raw["label"]
            if isinstance(label_raw, str):
                label_raw = {"column": label_raw}
            label, label_problems = _build(Label, label_raw, "label")
            problems += label_problems
        crosses: list[Cross] = []
        listed = raw.get("crosses") or []
        if not isinstance(listed, list):
            problems.append(f"crosses: expected a list of crosses such as [{{features: [gender, genres]}}], got "
                            f"{_typename(listed)}")
            listed = []
        for i, item in enumerate(listed):
            # A bare list of names is the cross of those features: crosses: [[gender, genres]].
            cross, cross_problems = _build(Cross, {"features": item} if isinstance(item, list) else item,
                                           f"crosses[{i}]")
            problems += cross_problems
            if cross is not None:
                crosses.append(cross)
        if problems:
            raise SpecError(problems)
        kwargs = {k: raw[k] for k in ("name", "description") if k in raw}
        return cls(features=tuple(features), label=label, crosses=tuple(crosses), **kwargs)

    @classmethod
    def of(cls, spec: SpecLike) -> FeatureSpec:
        """A spec given as itself, as a YAML file's path (or YAML text), as the name of a data set's
        ready spec (`ctr.datasets.READY_SPECS`: "movielens-100k"), which the package carries, or as the
        plain data a YAML or JSON file parses to (`from_dict`)."""
        if isinstance(spec, FeatureSpec):
            return spec
        if isinstance(spec, dict):
            return cls.from_dict(spec)
        if not isinstance(spec, str | Path):
            listed = isinstance(spec, list | tuple) and spec and all(isinstance(f, Feature) for f in spec)
            raise SpecError(f"<root>: expected a FeatureSpec, a YAML file's path, a ready spec's name or a mapping "
                            f"such as a parsed YAML file, got {_typename(spec)}"
                            + ("; give the features with their label: ctr.FeatureSpec([...], label=ctr.Label(...))"
                               if listed else ""))
        from .datasets import READY_SPECS  # the data sets' module builds its specs with this one

        if isinstance(spec, str) and spec in READY_SPECS and not Path(spec).exists():
            return READY_SPECS[spec]()
        try:
            return cls.from_yaml(spec)
        except SpecError as err:
            if not err.problems[0].startswith("<file>: no spec file at"):
                raise
            # A bare word ("movielens") was meant as a ready spec's name, a path ("specs/clicks.yaml") as a file.
            named = isinstance(spec, str) and not Path(spec).suffix and len(Path(spec).parts) == 1
            near = did_you_mean(spec, READY_SPECS) if named else ""
            raise SpecError(f"{err.problems[0]}; or name a ready spec: {', '.join(READY_SPECS)}{near}") from None

    @classmethod
    def from_yaml(cls, source: str | Path) -> FeatureSpec:
        """Load a spec from a YAML file path, or from YAML text when `source` contains a newline."""
        text = str(source)
        where = "<text>"
        if "\n" not in text:
            path = Path(text)
            if not path.is_file():
                raise SpecError(f"<file>: {path} is a folder, not a spec file" if path.is_dir() else
                                f"<file>: no spec file at {path}")
            try:
                text, where = path.read_text(encoding="utf-8"), str(path)
            except (OSError, UnicodeDecodeError) as err:
                raise SpecError(f"<file>: cannot read {path} as UTF-8 text: {err}") from None
        try:
            raw = yaml.load(text, Loader=_UniqueKeyLoader)  # safe: a spec never runs code
        except yaml.YAMLError as err:
            # PyYAML calls text it was given "<unicode string>": name the file instead.
            said = str(err).replace('"<unicode string>"', where)
            tabs = " (YAML indents with spaces, not tabs: replace the tabs)" if "'\\t'" in said else ""
            raise SpecError(f"<yaml>: {where} is not valid YAML{tabs}: {said}") from None
        return cls.from_dict(raw)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that `from_dict` turns back into an equal spec (defaults left out)."""
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out["features"] = [_to_dict(f, kind=f.kind) for f in self.features]
        if self.label is not None:
            out["label"] = _to_dict(self.label)
        if self.crosses:
            out["crosses"] = [_to_dict(c) for c in self.crosses]
        return out

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The spec as YAML text; also written to `path` when given."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        if path is not None:
            from ._files import make_parent  # pandas: not for `import ctr.spec` alone

            make_parent(path)
            Path(path).write_text(text, encoding="utf-8")
        return text

    # -- queries --------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Feature:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(f"no feature named {name!r}; the spec has {_quoted(self.names)}"
                       + did_you_mean(name, self.names))

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def feature_columns(self) -> list[str]:
        """The data columns the features read (a model's inputs), in spec order without repeats."""
        return list(dict.fromkeys(f.source for f in self.features))

    @property
    def columns(self) -> list[str]:
        """Every data column the spec reads, label (and its weights) included, in spec order without repeats."""
        return list(dict.fromkeys(self.feature_columns + (self.label.columns if self.label is not None else [])))

    def cross_role(self, cross: Cross) -> str:
        """A cross's role: its features' when they share one, else 'context' (a user's with a context's
        is the query's; one with an item's side belongs to neither tower, and recommenders refuse it)."""
        roles = {self[n].role for n in cross.features}
        return roles.pop() if len(roles) == 1 else "context"

    def cross_length(self, cross: Cross) -> int | None:
        """How many combinations a row of a cross keeps: None for one (a cross of single ids), else its
        `max_length`, by default the product of its multi-valued features' `max_length`."""
        bags = [self[n] for n in cross.features if isinstance(self[n], MultiCategorical)]
        if not bags:
            return None
        return cross.max_length or math.prod(b.max_length for b in bags)

    def by_role(self, role: str) -> list[Feature]:
        return [f for f in self.features if f.role == role]

    def id_feature(self, role: str) -> Categorical | None:
        """The user's or the item's id (`role`): the first categorical feature of that role, if any."""
        return next((f for f in self.features if f.role == role and isinstance(f, Categorical)), None)

    def embedding_groups(self) -> dict[str, list[Feature]]:
        """Vocabulary/embedding table name → the features that use it (one each unless shared)."""
        groups: dict[str, list[Feature]] = {}
        for f in self.features:
            if f.kind in _TOKEN_KINDS:
                groups.setdefault(f.shared_embedding or f.name, []).append(f)
        return groups

    # -- validation -----------------------------------------------------------------------------
    def _check_semantics(self) -> list[str]:
        problems: list[str] = []
        if not self.features:
            problems.append("features: the spec needs at least one feature")
        if self.label is not None:
            problems += self.label._check("label")
        seen: dict[str, int] = {}
        for i, f in enumerate(self.features):
            path = f"features[{i}]"
            if not _NAME.match(f.name):
                problems.append(f"{path}.name: {f.name!r} must start with a letter and hold only letters, "
                                f"digits and '_' (it becomes a serving input name){_name_hint(f)}")
            if f.name in seen:
                problems.append(f"{path}.name: {f.name!r} is already used by features[{seen[f.name]}]")
            seen.setdefault(f.name, i)
            if self.label is not None and f.source == self.label.column:
                problems.append(f"{path}: reads the label column {f.source!r}; a feature cannot be the label")
            if self.label is not None and f.source == self.label.weight:
                problems.append(f"{path}: reads the weight column {f.source!r} (label.weight); a feature "
                                "cannot be the row weights")
            if self.label is not None and f.source == self.label.out_of:
                problems.append(f"{path}: reads the impressions column {f.source!r} (label.out_of); a feature "
                                "cannot be the rows' impressions")
            if f.shared_embedding is not None and f.kind not in _TOKEN_KINDS:  # what `embedding_groups` holds
                noun = {"numeric": "number", "history": "history (it reads the item tables)"}.get(f.kind, f.kind)
                problems.append(f"{path}.shared_embedding: a {noun} has no vocabulary to share; only "
                                f"{', '.join(_TOKEN_KINDS)} features share an embedding table")
            problems += f._check(path)
        for i, f in enumerate(self.features):
            if isinstance(f, History):
                target = next((g for g in self.features if g.name == f.items), None)
                if not isinstance(target, Categorical) or target.role != "item" or target.hash_buckets:
                    fits = [g.name for g in self.features
                            if isinstance(g, Categorical) and g.role == "item" and not g.hash_buckets]
                    hashed = " with hash buckets" if getattr(target, "hash_buckets", None) else ""
                    what = ("" if target is None else
                            f"; {target.name!r} is a {target.kind} feature of role {target.role!r}{hashed}")
                    problems.append(f"features[{i}].items: {f.items!r} must name a categorical item feature "
                                    f"with a vocabulary (the ids the history lists){what}"
                                    + did_you_mean(f.items, fits))
            if isinstance(f, Timestamp) and isinstance(f.timezone_feature, str):
                problems += self._zone_problems_of(f, f"features[{i}].timezone_feature")
        problems += self._cross_problems(seen)
        for group, members in self.embedding_groups().items():
            if group in seen and group not in {m.name for m in members}:
                problems.append(f"shared_embedding {group!r}: names a feature that is not in the group")
            if len(members) > 1:
                dtypes = {getattr(m, "dtype", "string") for m in members}
                if len(dtypes) > 1:
                    problems.append(f"shared_embedding {group!r}: members mix int and string ids "
                                    f"({_quoted(m.name for m in members)}); a shared vocabulary needs one dtype")
                if any(getattr(m, "hash_buckets", None) for m in members):
                    problems.append(f"shared_embedding {group!r}: hashed features cannot share a table")
        return problems

    def _cross_problems(self, seen: dict[str, int]) -> list[str]:
        """What is wrong with each cross: its fields, the features it names, and its name, which must be
        free (the model's encoded inputs and tables are named by features, shared groups and crosses)."""
        problems: list[str] = []
        taken = {**{n: f"features[{i}]" for n, i in seen.items()},
                 **{f.shared_embedding: "a shared_embedding group" for f in self.features if f.shared_embedding},
                 **{f"{f.name}_{p}": f"features[{seen[f.name]}]'s {p}" for f in self.features
                    if isinstance(f, Timestamp) for p in f.parts}}
        by_name = {f.name: f for f in self.features}
        for i, c in enumerate(self.crosses):
            path = f"crosses[{i}]"
            problems += c._check(path)
            for n in c.features:
                f = by_name.get(n)
                if f is None:
                    problems.append(f"{path}.features: {n!r} is not a feature of the spec"
                                    + did_you_mean(n, self.names))
                elif not ((isinstance(f, Categorical) and not f.id_dropout)
                          or (isinstance(f, MultiCategorical) and not f.weighted)
                          or (isinstance(f, Numeric) and f.transform == "quantile")):
                    why = (" with id_dropout (which hides the id in training, and the cross would carry it)"
                           if isinstance(f, Categorical) else " of weighted ids" if isinstance(f, MultiCategorical)
                           else f" with transform {f.transform!r}" if isinstance(f, Numeric) else "")
                    problems.append(f"{path}.features: {n!r} is a {f.kind} feature{why}; a cross reads features "
                                    f"that are {_CROSSABLE}")
            if c.name is not None and not _NAME.match(c.name):
                problems.append(f"{path}.name: {c.name!r} must start with a letter and hold only letters, digits "
                                "and '_'")
            if c.key in taken and (c.name is not None or len(c.features) > 1):
                problems.append(f"{path}.name: {c.key!r} is already {taken[c.key]}'s name; name the cross (name: ...)"
                                if c.name is None else f"{path}.name: {c.key!r} is already the name of {taken[c.key]}")
            taken.setdefault(c.key, path)
            if c.max_length is not None and not any(isinstance(by_name.get(n), MultiCategorical) for n in c.features):
                problems.append(f"{path}.max_length: a cross of single values has one combination a row; "
                                "max_length is for a cross with a multi_categorical feature")
        return problems

    def _zone_problems_of(self, f: Timestamp, path: str) -> list[str]:
        """What is wrong with the feature a timestamp reads each row's time zone from: it must be a
        categorical of text with a vocabulary (the zones the graph holds offsets for), on the timestamp's
        side: both items', or both of the query (user or context), as a recommender's towers read them."""
        def fits(g: Any) -> bool:
            return (isinstance(g, Categorical) and g.dtype == "string" and not g.hash_buckets
                    and (g.role == "item") == (f.role == "item"))

        zone = next((g for g in self.features if g.name == f.timezone_feature), None)
        if fits(zone):
            return []
        side = "'item'" if f.role == "item" else "'user' or 'context'"
        what = ("" if zone is None else f"; {zone.name!r} is a {zone.kind} feature"
                + (" of integer ids" if getattr(zone, "dtype", "") == "int" else "")
                + (" with hash buckets" if getattr(zone, "hash_buckets", None) else "")
                + f" of role {zone.role!r}")
        return [f"{path}: {f.timezone_feature!r} must name a categorical feature of text with a vocabulary and "
                f"role {side}, whose values are IANA time zones ('Europe/Berlin'){what}"
                + did_you_mean(f.timezone_feature, [g.name for g in self.features if fits(g)])]

    def describe(self) -> str:
        """A table of the features: role, kind, serving input and encoding (fitted sizes not known yet)."""
        return describe_spec(self)


def raw_dtype(feature: Feature) -> str:
    """The dtype of a feature's raw serving input: 'string', 'int64' or 'float32'."""
    if isinstance(feature, Numeric | Vector):
        return "float32"
    if isinstance(feature, Timestamp) or (isinstance(feature, Categorical) and feature.dtype == "int"):
        return "int64"
    return "string"


def describe_spec(spec: FeatureSpec, preprocessor: Any = None, weights: Collection[str] = ()) -> str:
    """A table of the spec's features: role, kind, raw input, encoding and, given a fitted `Preprocessor`,
    the sizes of their tables. `weights`: the features a model reads as a weight for each value (a linear
    model's, a wide part's), whose bags and words pool those weights, not embeddings."""
    sizes = preprocessor.table_sizes() if preprocessor is not None and preprocessor.fitted else {}
    rows = [("feature", "role", "kind", "column", "serving input", "encoding", "rows")]
    for f in spec.features:
        size = str(sizes[f.shared_embedding or f.name]) if sizes.get(f.shared_embedding or f.name) else "(fit)"
        pooled = "weights" if f.name in weights else "embeddings"  # what a bag's or a text's ids are pooled as
        if isinstance(f, Categorical):
            enc = f"hash into {f.hash_buckets} buckets" if f.hash_buckets else (
                f"vocabulary (min_count {f.min_count}, {f.oov_buckets} OOV)")
            size = str(f.hash_buckets + 1) if f.hash_buckets else size
            if f.id_dropout:
                enc += f"; dropped in training with p={f.id_dropout:g}, unseen → missing"
        elif isinstance(f, History):
            enc = (f"≤{f.max_length} ids of {f.items!r} split on {f.separator!r}"
                   + (f", each weighted after {f.weight_separator!r} (1 without)" if f.weighted else "")
                   + f"; their item features embedded and pooled ({'weighted ' if f.weighted else ''}{f.pooling})")
            size = "(item tables)"
        elif isinstance(f, MultiCategorical):
            enc = f"split on {f.separator!r}, ≤{f.max_length} ids, {f.combiner} of {pooled}"
            if f.weighted:
                enc = (f"split on {f.separator!r}, ≤{f.max_length} ids each weighted after {f.weight_separator!r} "
                       f"(1 without), weighted {f.combiner} of {pooled}")
            if f.hash_buckets:
                enc, size = f"{enc}; ids hashed into {f.hash_buckets} buckets", str(f.hash_buckets + 1)
        elif isinstance(f, Text):
            enc = f"words, ≤{f.max_length} per row, vocab ≤{f.max_tokens}, {f.combiner} of {pooled}"
            if f.hash_buckets:
                enc = f"words, ≤{f.max_length} per row, hashed into {f.hash_buckets} buckets, {f.combiner} of {pooled}"
                size = str(f.hash_buckets + 1)
        elif isinstance(f, Numeric):
            enc = (f"{f.buckets} quantile buckets" if f.transform == "quantile"
                   else f"{'log, then ' if f.transform == 'log' else ''}standardise; NaN → 0 + flag")
            if f.transform != "quantile":
                size = "2"  # the value's vector and the missing flag's
        elif isinstance(f, Vector):
            enc = (f"{f.dim} numbers{', each standardised' if f.transform == 'standardize' else ''}, projected; "
                   "a row with none (or NaN) → 0 + flag")
            size = str(f.dim + 1)  # a vector per component and the missing flag's
        else:
            written = f"digits {f.format}" if f.format else f"epoch {EPOCH_UNIT_NAMES[f.unit]}"
            enc = f"{written} → calendar parts: " + ", ".join(f.parts)
            if f.utc_offset_hours:
                enc += f" at UTC{f.utc_offset_hours:+g}h"
            if f.timezone:
                enc += f" in {f.timezone} time"
            if f.timezone_feature:
                enc += f" in each row's zone ({f.timezone_feature!r})"
            size = "+".join(str(TIMESTAMP_PARTS[p] + 1) for p in f.parts)
        if f.shared_embedding:
            enc += f"; shares table {f.shared_embedding!r}"
        shape = f"[batch, {f.dim}]" if isinstance(f, Vector) else "[batch]"
        rows.append((f.name, f.role, f.kind, f.source, f"{raw_dtype(f)}{shape}", enc, size))
    for c in spec.crosses:
        length = spec.cross_length(c)
        enc = CROSS_SEPARATOR.join(c.features) + (f", ≤{length} combinations a row, pooled (mean); " if length
                                                  else ": ")
        enc += (f"hashed into {c.hash_buckets} buckets" if c.hash_buckets
                else f"vocabulary (min_count {c.min_count}, {c.oov_buckets} OOV)")
        size = str(c.hash_buckets + 1) if c.hash_buckets else str(sizes.get(c.key) or "(fit)")
        rows.append((c.key, spec.cross_role(c), "cross", "", "(none: from its features)", enc, size))
    if spec.label is not None:
        rule = (f"clicks out of {spec.label.out_of}'s impressions" if spec.label.out_of is not None
                else "binary 0/1" if spec.label.rule() == "= 1" and spec.label.positive is None
                else f"1 if {spec.label.column} {spec.label.rule()}, else 0")
        rows.append(("(label)", "", "label", spec.label.column, "", rule, ""))
        if spec.label.out_of is not None:
            rows.append(("(impressions)", "", "impressions", spec.label.out_of, "",
                         "a row stands for this many, its clicks positive", ""))
        if spec.label.weight is not None:
            rows.append(("(weight)", "", "weight", spec.label.weight, "", "row weight ≥ 0: in a click model's loss "
                         "and metrics; how much a recommender's interaction counts", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    crosses = f" and {len(spec.crosses)} cross{'es' if len(spec.crosses) > 1 else ''}" if spec.crosses else ""
    return f"spec {spec.name!r}: {len(spec.features)} features{crosses}\n" + "\n".join(lines)


def _feature_from_dict(raw: Any, path: str) -> tuple[Feature | None, list[str]]:
    if not isinstance(raw, dict):
        written = f"; write it {{name: {raw}}}" if isinstance(raw, str) and raw.isidentifier() else ""
        got = f"{_typename(raw)} {reprlib.repr(raw)}"
        return None, [f"{path}: expected a mapping with name and kind, got {got}{written}"]
    kind = raw.get("kind", "categorical")
    if not isinstance(kind, str) or kind not in KINDS:
        return None, [f"{path}.kind: {kind!r} is not one of {_quoted(KINDS)}" + did_you_mean(kind, KINDS)]
    body = {k: v for k, v in raw.items() if k != "kind"}
    return _build(KINDS[kind], body, path)


def _build(cls: type, raw: Any, path: str) -> tuple[Any, list[str]]:
    """Construct dataclass `cls` from a mapping, reporting unknown, missing and mistyped fields."""
    if not isinstance(raw, dict):
        return None, [f"{path}: expected a mapping, got {_typename(raw)}"]
    names = {f.name for f in fields(cls)}
    problems = _unknown_keys(raw, names, path)
    for f in fields(cls):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in raw:
            problems.append(f"{_join(path, f.name)}: required")
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in raw.items():
        if key not in names:
            continue
        if isinstance(value, list):
            value = tuple(value)
        problem = _type_problem(value, hints[key])
        if problem:
            problems.append(f"{_join(path, key)}: {problem}")
        values[key] = value
    if problems:
        return None, problems
    return cls(**values), []


def _check_types(obj: Any, path: str) -> list[str]:
    """Type-check a dataclass built in Python, recursing into features and label."""
    problems = []
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        value = getattr(obj, f.name)
        sub = _join(path, f.name)
        if f.name == "features" and isinstance(obj, FeatureSpec):
            for i, feature in enumerate(value):
                if not isinstance(feature, Feature) or type(feature) is Feature:
                    problems.append(f"features[{i}]: expected a feature such as ctr.Categorical(...), "
                                    f"got {_typename(feature)}")
                else:
                    problems += _check_types(feature, f"features[{i}]")
            continue
        if f.name == "crosses":
            for i, cross in enumerate(value):
                if not isinstance(cross, Cross):
                    problems.append(f"crosses[{i}]: expected ctr.Cross([...]), the features it combines, got "
                                    f"{_typename(cross)}")
                else:
                    problems += _check_types(cross, f"crosses[{i}]")
            continue
        if f.name == "label":
            if value is not None and not isinstance(value, Label):
                problems.append(f"label: expected ctr.Label(...) or a column name, got {_typename(value)}")
            elif value is not None:
                problems += _check_types(value, "label")
            continue
        problem = _type_problem(value, hints[f.name])
        if problem:
            problems.append(f"{sub}: {problem}")
    return problems


def _type_problem(value: Any, hint: Any) -> str | None:
    """None if `value` fits the annotation `hint`, else what was expected and what came."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        problems = [_type_problem(value, o) for o in options if o is not type(None)]
        return None if any(p is None for p in problems) else problems[0]
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value in allowed:
            return None
        return f"{value!r} is not one of {_quoted(allowed)}" + did_you_mean(value, allowed) + _yaml_bool(value)
    if origin is tuple:
        if not isinstance(value, tuple | list):
            return f"expected a list, got {_typename(value)}"
        item = typing.get_args(hint)[0]
        for v in value:
            problem = _type_problem(v, item)
            if problem:
                return problem
        return None
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, hint)
    if ok:
        return None
    word = _yaml_bool(value) if hint is str else ""
    return f"expected {_typename_of(hint)}, got {_typename(value)} {value!r}{word}"


def _yaml_bool(value: Any) -> str:
    """The hint for a word YAML turned into a boolean (`dtype: no` arrives as False)."""
    return (" (YAML reads an unquoted yes, no, on, off, true or false as a boolean: quote the word, e.g. 'no')"
            if isinstance(value, bool) else "")


def _positive(obj: Any, path: str, *names: str) -> list[str]:
    return [f"{path}.{n}: must be at least 1, got {getattr(obj, n)}"
            for n in names if getattr(obj, n) is not None and getattr(obj, n) < 1]


def _unknown_keys(raw: dict, allowed: set[str], path: str) -> list[str]:
    return [f"{_join(path, str(k))}: unknown field; expected one of {_quoted(sorted(allowed))}"
            + (_elsewhere(str(k), raw[k]) or did_you_mean(str(k), allowed)) for k in raw if k not in allowed]


_EMBEDDING = ("the embedding size is the model's, one for every field, since FM's interactions take vectors of one "
              "width: ctr.DeepFM(spec, embedding_dim=8), or ctr fit --embedding-dim 8")
_TRAINING = ("a training setting, not the spec's: the model's argument (ctr.DeepFM(spec, learning_rate=0.001), "
             "model.fit(data, epochs=5)), or ctr fit's flag (--epochs 5, --param NAME=VALUE)")
# Fields written in a spec that belong elsewhere: said where, in place of a near name that would mislead.
_ELSEWHERE = {**dict.fromkeys(("embedding_dim", "embedding_size", "embed_dim", "emb_dim"), _EMBEDDING),
              **dict.fromkeys(("epochs", "batch_size", "learning_rate", "lr", "optimizer", "model", "l2",
                               "hidden_units"), _TRAINING)}


def _elsewhere(key: str, value: Any) -> str:
    """' (where it goes)' for a field that belongs to the model or the fit, or a feature's `type` (its kind);
    '' for others."""
    if key == "type":
        return (f" (a feature's type is its kind: kind: {value})" if isinstance(value, str) and value in KINDS
                else f" (a feature's type is its kind, one of {_quoted(KINDS)})")
    return f" ({_ELSEWHERE[key]})" if key in _ELSEWHERE else ""


def _to_dict(obj: Any, **first: Any) -> dict[str, Any]:
    out = dict(first)
    for f in fields(obj):
        value = getattr(obj, f.name)
        if value != f.default:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _quoted(values: Any) -> str:
    return ", ".join(repr(v) for v in values)


def did_you_mean(value: Any, options: Any) -> str:
    close = difflib.get_close_matches(str(value), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _typename(value: Any) -> str:
    return type(value).__name__


def _typename_of(hint: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def identifier(text: str) -> str:
    """A serving input name made from a column name: 'zip code' → 'zip_code', 'âge' → 'age', '2nd' → 'f_2nd'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", ascii_text)).strip("_") or "feature"
    return name if name[0].isalpha() else f"f_{name}"


def _name_hint(f: Feature) -> str:
    """How to keep a data column whose name is no serving input name: name the feature and read the column."""
    name = identifier(f.name)
    if f.column is not None:
        return f"; name it e.g. {name!r}"
    return f"; to read the data column {f.name!r}, name the feature e.g. {name!r} and set column: {f.name!r}"


# What a spec argument takes: a spec, a YAML file's path or text, a ready spec's name, or parsed YAML/JSON.
SpecLike = FeatureSpec | str | Path | dict[str, Any]
