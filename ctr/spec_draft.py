"""A first feature spec drafted from data: each column's kind and role guessed from its values, with the
reason beside it, so that a new user starts from a spec to check rather than a blank page."""

from __future__ import annotations

import dataclasses
import math
import os
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import yaml

from . import data as ctr_data
from ._args import check_arguments
from ._files import format_suffix, make_parent
from ._spread import spread_rows
from .errors import ArgumentError, DataError
from .features import MISSING_INT, bag_ids, readable, token_text, weighted_token
from .spec import (
    DIGIT_TIME_FORMATS,
    EPOCH_UNIT_NAMES,
    UNSPACED_SCRIPTS,
    Categorical,
    Feature,
    FeatureSpec,
    History,
    Label,
    MultiCategorical,
    Numeric,
    Text,
    Timestamp,
    Vector,
    identifier,
    time_zones,
    written_value,
    zone_offsets,
)

SAMPLE_ROWS = 200_000  # enough to tell a column's kind; a large log is not read whole
_UNSPACED = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in UNSPACED_SCRIPTS) + "]")

_USER = re.compile(r"^(user|customer|member|visitor|account|uid)[ ._-]?(id)?$", re.IGNORECASE)
# What a log's rows are about: a catalogue's items, and those of public datasets (Yelp's business_id, MIND's
# news_id, Steam's app_id and game, Food.com's recipe_id, Airbnb's listing_id, Foursquare's venue and poi).
_ITEM = re.compile(r"^(item|movie|product|sku|song|track|article|ad|video|book|offer|doc|document|business|news|"
                   r"app|game|anime|recipe|listing|hotel|restaurant|venue|poi|course|job)[ ._-]?(id)?$", re.IGNORECASE)
_LABEL = re.compile(r"^(click|clicked|is_click|label|target|y|converted|purchased|rating|stars|star_rating)$",
                    re.IGNORECASE)
# An outcome named by what the user did, read as a label when its values are two (0/1, true/false, yes/no);
# those of a bad outcome (a skip) are clicks when false, so that a model scores what users want.
_OUTCOME = re.compile(r"^(is_|was_|has_)?(liked?|bought|watched|completed|finished|played|saved|shared|booked|ordered|"
                      r"added_to_cart|in_cart|engaged|opened|replied|accepted|success|conversion|"
                      r"skip|skipped|disliked?|bounced?|hidden|not_interested)$", re.IGNORECASE)
_BAD_OUTCOME = re.compile(r"^(is_|was_|has_)?(skip|skipped|disliked?|bounced?|hidden|not_interested)$", re.IGNORECASE)
# Others' reactions to a row (a review's votes: Yelp's useful, funny and cool, Amazon's vote), counted after it
# is written: outcomes, where a count constant per item (a video's likes) is the item's.
_REACTIONS = re.compile(r"^(n_|num_)?(useful|funny|cool|helpful|helpful_?votes|total_?votes|votes?|upvotes|downvotes|"
                        r"likes|like_?count|reactions|replies|reply_?count|comments?_?count)$", re.IGNORECASE)
# An event log's kind of event, read as a label when it holds a word for a strong signal (_STRONG).
_EVENT = re.compile(r"^(event|event_?type|event_?name|action|action_?type|behaviou?r|behaviou?r_?type|interaction|"
                    r"interaction_?type|activity)$", re.IGNORECASE)
_STRONG = ("transaction", "purchase", "buy", "order", "checkout", "conversion", "booking", "book", "addtocart", "cart",
           "favorite", "favourite", "like", "save", "share", "click", "play", "listen", "watch")
_YES_NO = {"yes": True, "no": False, "y": True, "n": False, "true": True, "false": False, "t": True, "f": False}
# A whole word at the end (`zip_code`, `user id`, a struct's `user.id`), or a camel-case one (`userId`,
# `createdAt`): not 'paid'.
_ID = re.compile(r"(?i:(^|[ ._-])(id|ids|code|zip|zipcode|postcode|postal_code)$)|[a-z](Id|ID|Code)$")
_TIME = re.compile(r"(?i:(^|[ ._-])(time|timestamp|ts|date|datetime|created|updated|at)$)|[a-z](Time|Date|At)$")
# A time written as digits with a two-digit year (Avazu's hour, 14102100) is read as one only under such a name.
_WHEN = re.compile(r"(?i:(^|[ ._-])(hour|day|dt|ds|date|time|month|period)$)")
# Criteo's and Avazu's anonymised categorical fields: their whole numbers are codes, not amounts.
_ANONYMOUS = re.compile(r"^C\d+$")
_PART = re.compile(r"^(split|fold|partition|subset|is_train|is_test|is_valid)$", re.IGNORECASE)
_SESSION = re.compile(r"^session[ ._-]?(id)?$", re.IGNORECASE)
# The id of the request or event a row belongs to (MIND's impression_id): new for each one served.
_EVENT_ID = re.compile(r"^(impression|request|session|event|log|trace|click|query|search|page_?view)[ ._-]?id$",
                       re.IGNORECASE)
# Aggregated rows: a count of clicks out of a count of impressions.
_CLICKS = re.compile(r"^(n_|num_)?(clicks|click_?count|conversions)$", re.IGNORECASE)
_IMPRESSIONS = re.compile(r"^(n_|num_)?(impressions|imps|impression_?count|shown|views|trials)$", re.IGNORECASE)
# How much of an interaction there was: in a log without a label, the interactions' weights.
_COUNT = re.compile(r"^(n_|num_)?(plays?|play_?count|listens?|listen_?count|qty|quantity|count|views?|view_?count|"
                    r"visits|purchases)$", re.IGNORECASE)
_SEPARATORS = ("|", ";", ",")
_FEW_CODES = 12  # at most this many whole numbers with gaps between them are read as codes
# Where an epoch count in each unit falls for dates from 1973 to 2096.
_EPOCH_RANGES = {"s": (1e8, 4e9), "ms": (1e11, 4e12), "us": (1e14, 4e15), "ns": (1e17, 4e18)}


@dataclass(frozen=True)
class SpecDraft:
    """A drafted spec, why each feature is what it is, and which columns were left out and why."""

    spec: FeatureSpec
    reasons: dict[str, str] = field(default_factory=dict)  # feature name (and "label") → why
    skipped: dict[str, str] = field(default_factory=dict)  # column → why it is no feature
    rows: int = 0  # how many rows the guesses were made from
    source: str = ""  # the file or folder read, if any
    more: bool = False  # whether the source has rows beyond those read
    places: int = 1  # how many places through the source they were read from (1: its first rows)

    def __str__(self) -> str:  # print(draft) shows what `ctr draft-spec` prints
        return self.to_yaml()

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The spec as YAML with each guess's reason as a comment (what `FeatureSpec.from_yaml` reads
        back as `spec`); also written to `path` when given."""
        read = (f"its {self.rows:,} rows" if not self.more else f"its first {self.rows:,} rows" if self.places == 1
                else f"{self.rows:,} of its rows, read from {self.places} places spread through it")
        plain = self.spec.to_dict()
        lines = [f"# Drafted by ctr from {self.source or 'a table'} ({read}): check each feature's kind and role "
                 "before training.", f"name: {_flow(plain['name'])}", f"# {self.reasons['label']}"]
        if "label" in plain:
            lines.append(f"label: {_flow(plain['label'])}")
        lines.append("features:")
        for f, written in zip(self.spec.features, plain["features"], strict=True):
            written = {"name": written.pop("name"), **written}  # as a spec is read: its name first
            lines += [f"  # {self.reasons[f.name]}", f"  - {_flow(written)}"]
        if self.skipped:
            lines.append("# columns left out:")
            lines += [f"#   {column}: {why}" for column, why in self.skipped.items()]
        text = "\n".join(lines) + "\n"
        if path is not None:
            make_parent(path)
            Path(path).write_text(text, encoding="utf-8")
        return text


def draft_spec(data: ctr_data.Source, label: str | None = None, *, threshold: float | None = None,
               positive: Any = None, user: str | None = None, item: str | None = None, name: str | None = None,
               sample_rows: int = SAMPLE_ROWS) -> SpecDraft:
    """Draft a spec from `data` (any source `fit` reads; its first `sample_rows` rows): a feature for each
    column that can be one, its kind from its values, its role from whether it is constant per `user`
    or per `item` (guessed from the column names when not given). `label` is the click column (guessed
    from its name when not given; none, for interactions only); a rating needs `threshold`, words (an
    event log's `purchase`) the `positive` value or values that make a click."""
    check_arguments("draft_spec", threshold=threshold, sample_rows=sample_rows)
    if threshold is not None and positive is not None:
        raise ArgumentError("draft_spec: threshold= and positive= both say which rows are clicks; give one")
    frame, places, source, more = _sample(data, sample_rows)
    if not len(frame):
        raise DataError(f"draft_spec: {source or 'the data'} has no rows to draft a spec from")
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if source and (unread := ctr_data.header_hint(Path(source), columns)):
        raise DataError(f"draft_spec: {source}: {unread}")
    for argument, column in (("label", label), ("user", user), ("item", item)):
        if column is not None and column not in columns:
            ctr_data.require_columns(columns, [column], where=f"the data of draft_spec ({argument}=)")
    reasons: dict[str, str] = {}
    user = user if user is not None else _named(columns, _USER, reasons, "user")
    if user is None and (user := next((c for c in columns if _SESSION.match(c)), None)) is not None:
        reasons["user"] = ("named like a session id, with no column named like a user's: each session is the user, "
                           "as in a session log (YooChoose's); name another with user= (in the shell --user)")
    item = item if item is not None else _named([c for c in columns if c != user], _ITEM, reasons, "item")
    if user is not None and user == item:
        raise ArgumentError(f"draft_spec: user= and item= both name the column {user!r}; they are two columns")
    spec_label = _label(frame, label, threshold, positive, {user, item}, reasons)
    skipped: dict[str, str] = {}
    features: list[Feature] = []
    names = {c for c in columns if identifier(c) == c}  # a column's own name is its feature's before another's
    printed, keys = {}, {}
    for column in columns:
        lists = _printed_lists(frame[column], column)
        if lists is not None:
            printed[column] = frame[column].dropna().iloc[0]
            frame[column] = lists
        objects = _objects(frame[column])
        if objects is not None:  # lists of objects: each object's id field, or no feature
            first, key = objects
            if key is None:
                skipped[column] = (f"lists of objects ({reprlib.repr(first)}) with no field of text or numbers in "
                                   "every one to read as its id: flatten them first")
                continue
            frame[column] = ctr_data.keyed_ids(frame[column], MultiCategorical(identifier(column), key=key),
                                               f"column {column!r}")
            keys[column] = (first, key)
    for column in columns:
        if (spec_label is not None and column in spec_label.columns) or column in skipped:
            continue
        if spec_label is not None and column not in (user, item) and (
                _LABEL.match(column) or (_OUTCOME.match(column) and _two_valued(frame[column]))):
            skipped[column] = (f"named like a label, beside the label {spec_label.column!r}: an outcome, known only "
                               "after the row is served, so as a feature it would leak the answer")
            continue
        if _PART.match(column) and column not in (user, item):
            skipped[column] = ("named like the part of a split (train, test): where the row was put, not what "
                               "it is, and unknown when it is served")
            continue
        if _EVENT_ID.match(column) and column not in (user, item):
            skipped[column] = ("named like the id of the request or event a row belongs to: each one served is new, "
                               "so no id a model learns is met again (keep it in the data to score by it: "
                               f"evaluate(..., group_by={column!r}) gives the AUC within each, as MIND's is)")
            continue
        role = "user" if column == user else "item" if column == item else None
        feature, why = _feature(frame[column], column, role, names)
        if feature is None:
            skipped[column] = why
            continue
        if isinstance(feature, MultiCategorical) and item is not None and role is None:
            feature, why = _history(feature, frame[column], frame[item], identifier(item), why)
        if column in keys and isinstance(feature, MultiCategorical | History):
            first, key = keys[column]
            feature = dataclasses.replace(feature, key=key)
            why += (f"; lists of objects ({reprlib.repr(first)}), each read by its {key!r} field (key: {key}; "
                    f"the fields: {', '.join(map(str, first))})")
        if column in printed:
            kind = "mapping" if isinstance(frame[column].dropna().iloc[0], Mapping) else "list"
            why += f"; each printed as text ({reprlib.repr(printed[column])}), which is read as the {kind} it prints"
        if isinstance(feature, History):
            role = "user"
        elif role is None and not isinstance(feature, Timestamp):
            role, whose = _role(frame, column, user, item)
            why += whose
            if alias := _alias(frame, column, feature, {"user": user, "item": item}.get(role)):
                skipped[column] = alias
                continue
            if role == "context" and _REACTIONS.match(column):
                skipped[column] = ("named like others' reactions to the row (a review's votes), counted after it is "
                                   "written: an outcome, unknown when the row is served, so as a feature it would "
                                   "leak the answer (a count that is one per item is the item's, and kept)")
                continue
        elif role is not None:
            why += f"; {reasons.pop(role, f'the {role} column (given)')}"
        features.append(dataclasses.replace(feature, role=role or "context"))
        reasons[feature.name] = why
        names.add(feature.name)
    item_name = next((f.name for f in features if f.role == "item" and f.source == item), None)
    features = [dataclasses.replace(f, items=item_name) if isinstance(f, History) and item_name else f
                for f in features]  # the item feature's name, which another column may have taken first
    features = _in_row_zones(features, reasons, frame)
    for column, why in skipped.items():
        if column in printed and why.startswith("objects ("):  # records printed as text: the line that parses them
            skipped[column] = (f"{why}, e.g. frame.join(pandas.json_normalize(frame[{column!r}].map("
                               f"ast.literal_eval).tolist()).add_prefix({column + '.'!r})) (each printed as text: "
                               f"{reprlib.repr(printed[column])})")
        if why.startswith("dates written as "):
            skipped[column] += _same_days(frame[column], [f for f in features if isinstance(f, Timestamp)], frame)
        if why.startswith("candidates with their clicks") and spec_label is None:
            reasons["label"] = (f"no label column: {column!r} holds each candidate's click; make a row of each "
                                "candidate, with its click as the label, first (the line is below)")
    if not features:
        raise DataError(f"draft_spec: none of the columns of {source or 'the data'} can be a feature: "
                        + "; ".join(f"{c}: {why}" for c, why in skipped.items()))
    files = _dataset_files(data)
    where = os.path.commonpath(files) if files else source
    spec_name = name or (name_of(where) if where else "drafted")
    if files:
        source = "the pyarrow dataset of " + (f"{len(files)} files in {where}" if len(files) > 1 else where)
    spec = FeatureSpec(tuple(features), label=spec_label, name=spec_name)
    return SpecDraft(spec, reasons, skipped, len(frame), source, more, places)


def _dataset_files(data: Any) -> list[str]:
    """The files of a pyarrow dataset of local files (its folder names the draft and its spec), else []."""
    if not isinstance(data, pads.FileSystemDataset) or not isinstance(data.filesystem, pafs.LocalFileSystem):
        return []
    return [os.path.dirname(f) if len(data.files) > 1 else f for f in data.files]  # a folder holds the files


def _same_days(text: pd.Series, stamps: list[Timestamp], frame: pd.DataFrame) -> str:
    """'; the same days as ts's times, ...' when a timestamp the draft reads falls on the days that dates
    written as text name, in 95 % of the rows that have both (Amazon's reviewTime beside unixReviewTime)."""
    fmt = ctr_data.date_text_format(text)
    days = pd.to_datetime(text.str.strip(), format=fmt, errors="coerce") if fmt else None
    for stamp in stamps if days is not None else []:
        try:
            counts, unit = ctr_data.time_counts(frame[stamp.source], f"column {stamp.source!r}", stamp)
        except DataError:
            continue
        known = (counts != MISSING_INT) & days.notna().to_numpy()
        moments = pd.to_datetime(counts[known], unit=unit, utc=True).tz_localize(None).normalize()
        if known.any() and np.mean(moments == days[known].dt.normalize().to_numpy()) >= 0.95:
            return f"; the same days as {stamp.name}'s times, which the spec reads"
    return ""


def _in_row_zones(features: list[Feature], reasons: dict[str, str], frame: pd.DataFrame) -> list[Feature]:
    """Each timestamp without a zone of its own read in each row's zone, when a categorical on its side (item,
    or user and context) holds IANA zone names only (a user's `tz`); its reason says so."""
    zones = [f for f in features if isinstance(f, Categorical) and f.dtype == "string" and not f.hash_buckets
             and _zone_names(frame[f.source])]
    out = []
    for f in features:
        zone = next((z for z in zones if (z.role == "item") == (f.role == "item")), None)
        if isinstance(f, Timestamp) and zone and not f.timezone and not f.utc_offset_hours:
            f = dataclasses.replace(f, timezone_feature=zone.name)
            reasons[f.name] += f"; read in each row's time zone, as named in {zone.name!r} (IANA zone names)"
        out.append(f)
    return out


def _zone_names(column: pd.Series) -> bool:
    """Whether the column's present values are IANA time zone names, one at least an area's city
    (`Europe/Berlin`: a column of 'UTC' alone says nothing of where its rows are)."""
    distinct = set(column.dropna().unique()[:10_000].tolist()) - {""}
    return bool(distinct) and distinct <= time_zones() and any("/" in z for z in distinct)


def name_of(path: str | Path) -> str:
    """A drafted spec's name from its data's file or folder: 'clicks.parquet' → 'clicks', 'ml-100k' → 'ml_100k'."""
    return identifier(Path(path).name.split(".")[0])


# -- reading --------------------------------------------------------------------------------------
def _sample(data: ctr_data.Source, rows: int) -> tuple[pd.DataFrame, int, str, bool]:
    """`rows` rows (a CSV's columns as text, so that '02134' keeps its zero), spread through a source that
    has more (`spread_rows`) or else its first, how many places they came from, the source's name, and
    whether it had more."""
    source = ctr_data.as_source(data, "data")
    name = str(source) if isinstance(source, str | Path) else ""
    text: dict[str, str] = {}
    first = ctr_data.first_file(name) if name else None
    if first and format_suffix(first) in (".csv", ".tsv", ".txt") and first.is_file():
        text = dict.fromkeys(ctr_data.csv_header(first), "str")
    chunks, held = [], 0
    # A JSON column of objects mapping ids to weights is one column (a weighted bag or history), not fields.
    whole = ctr_data.mapping_columns(source) if name else set()
    for chunk in ctr_data.iter_chunks(source, chunk_rows=min(rows + 1, ctr_data.CHUNK_ROWS), dtypes=text, whole=whole):
        chunks.append(chunk)
        held += len(chunk)
        if held > rows:
            break
    if held > rows and (spread := spread_rows(source, rows, text, whole)) is not None:
        return *spread, name, True  # a log sorted by time or by label is not told by its head
    frame = ctr_data.concat_chunks(chunks) if len(chunks) > 1 else chunks[0].reset_index(drop=True)
    return frame.iloc[:rows].copy(), 1, name, held > rows


# -- the label ------------------------------------------------------------------------------------
def _label(frame: pd.DataFrame, label: str | None, threshold: float | None, positive: Any, ids: set[str | None],
           reasons: dict[str, str]) -> Label | None:
    guessed = label is None
    if guessed:
        named = [c for c in frame.columns if _LABEL.match(c) and c not in ids]
        named.sort(key=lambda c: not _binary(frame[c]))  # a click column before a rating it may come from
        named += [c for c in frame.columns if _OUTCOME.match(c) and c not in ids and _two_valued(frame[c])]
        named += [c for c in frame.columns if _EVENT.match(c) and c not in ids and _strongest(frame[c]) is not None]
        if not named:
            if threshold is not None or positive is not None:
                which = "threshold=" if threshold is not None else "positive="
                raise ArgumentError(f"draft_spec: {which} is for the label, and no label column was named; "
                                    "name it with label=")
            aggregated = _clicks_out_of(frame, ids)
            if aggregated is not None:
                clicks, shown = aggregated
                rate = float(clicks.sum() / shown.sum())
                reasons["label"] = (f"label: {clicks.name!r} clicks out of {shown.name!r} impressions (aggregated "
                                    "rows), named like them, whole numbers, never more clicks than impressions: each "
                                    f"row stands for its {shown.name} ({shown.sum():,.0f} in the rows read, "
                                    f"{rate:.2%} clicked)")
                return Label(str(clicks.name), out_of=str(shown.name))
            count = next((c for c in frame.columns if _COUNT.match(c) and c not in ids and _counts(frame[c])), None)
            if count is not None:
                numbers = pd.to_numeric(frame[count])
                reasons["label"] = (f"label and weight: {count!r}, named like a count of the interaction, whole "
                                    f"numbers {numbers.min():g} to {numbers.max():g}: each row counting 1 or more is "
                                    f"an interaction ({float((numbers >= 1).mean()):.1%} of the rows read), weighing "
                                    "its count in a recommender's training (as a feature it would be an outcome); no "
                                    "column is named like a click: name one with label= (--label)")
                return Label(count, threshold=1, weight=count)
            reasons["label"] = ("no label: no column is named like one (click, label, target, rating, ...); a "
                                "spec without one trains recommenders on interactions; name it with label= "
                                "(--label)")
            return None
        label = named[0]
    values = frame[label].dropna()
    if values.empty:
        raise DataError(f"draft_spec: the label column {label!r} has no values")
    if positive is not None or (guessed and _BAD_OUTCOME.match(label)) or (
            not _binary(values) and (_two_valued(values) or _strongest(values) is not None)):
        return _label_of_values(frame, label, positive, guessed, reasons)
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        bad = values[numbers.isna()].iloc[0]
        raise DataError(f"draft_spec: the label column {label!r} holds {bad!r}, which is no number; a label is 0 or "
                        "1, a rating with a threshold, or words of which some make a click: pass positive= "
                        f"(--label-positive) the value or values that do (the words read: "
                        f"{ctr_data.values_read(values)})")
    low, high = numbers.min(), numbers.max()
    binary = _binary(numbers)
    how = "named like a label, " if guessed else ""
    gaps = len(frame) - len(values)
    unlabelled = f"; {gaps:,} {'row has' if gaps == 1 else 'rows have'} none: drop them before training" if gaps else ""
    if threshold is None and not binary:
        raise ArgumentError(f"draft_spec: the label column {label!r} holds {low:g} to {high:g}, not only 0 and 1; "
                            "pass threshold= (--label-threshold) the value from which a row counts as a click "
                            f"(e.g. {_a_threshold(numbers):g})" + ("" if not guessed else
                                                                  ", or name another label column (label=, --label)"))
    if threshold is not None:
        positive = float((numbers >= threshold).mean())
        if positive in (0.0, 1.0):
            every = "a non-click" if positive == 0 else "a click"
            advice = "a 0/1 label needs no threshold" if binary else f"choose one above {low:g} and at most {high:g}"
            raise ArgumentError(f"draft_spec: the label column {label!r} holds {low:g} to {high:g}: with threshold "
                                f"{threshold:g} every row would be {every}; {advice}")
        reasons["label"] = (f"label: {label!r}, {how}values {low:g} to {high:g}; a row counts as a click from "
                            f"{threshold:g} ({positive:.1%} of the rows read){unlabelled}")
        return Label(label, threshold=int(threshold) if float(threshold).is_integer() else float(threshold))
    reasons["label"] = (f"label: {label!r}, {how}0 or 1 ({float(numbers.mean()):.1%} ones in the rows read)"
                        f"{unlabelled}")
    return Label(label)


def _label_of_values(frame: pd.DataFrame, label: str, positive: Any, guessed: bool,
                     reasons: dict[str, str]) -> Label:
    """The label read from which values make a click: `positive`'s if given, else a two-valued column's
    true (a bad outcome's false), else an event column's strongest signal."""
    values = frame[label]
    how = ("named like an outcome, " if guessed and _OUTCOME.match(label) else
           "named like an event column, " if guessed else "")
    why = ""
    if positive is None:
        strongest = _strongest(values) if not _two_valued(values) else None
        if strongest is not None:
            positive = strongest
            others = ", ".join(sorted(str(v) for v in values.dropna().unique() if v != strongest))
            why = f": the strongest signal beside {others} (a list of values counts several)"
        else:
            bad = bool(_BAD_OUTCOME.match(label))
            positive = next(v for v in values.dropna().unique() if _truth(v) != bad)
            positive = positive.item() if isinstance(positive, np.generic) else positive
            if isinstance(positive, str) and positive.strip().casefold() in ("true", "false"):
                positive = positive.strip().casefold() == "true"  # a CSV's True or False: written false
            if bad:
                why = (f": {label!r} is a bad outcome, and a model should score what users want (for the chance of "
                       f"{label!r} itself, drop positive)")
    label_of = Label(label, positive=list(positive) if isinstance(positive, list | tuple) else positive)
    y = ctr_data.positive_rows(values.dropna(), label_of)
    positive_rate = float(y.mean())
    if positive_rate in (0.0, 1.0):
        every = "no row" if positive_rate == 0 else "every row"
        raise ArgumentError(f"draft_spec: with positive={positive!r} (--label-positive), {every} of the label column "
                            f"{label!r} would be a click; name the value or values that mark one (the values read: "
                            f"{ctr_data.values_read(values)})")
    gaps = int(values.isna().sum())
    unlabelled = f"; {gaps:,} {'row has' if gaps == 1 else 'rows have'} none: drop them before training" if gaps else ""
    clicks = " or ".join(map(written_value, label_of.positives))
    reasons["label"] = (f"label: {label!r}, {how}a row counts as a click when it is {clicks} ({positive_rate:.1%} of "
                        f"the rows read){why}{unlabelled}")
    return label_of


def _printed_lists(column: pd.Series, source: str) -> pd.Series | None:
    """The column's lists (or mappings) when each of its cells is one printed as text (`['folk', 'pop']`,
    `[12, 85]`, `{'calm': 0.7}`, as pandas writes a column of lists or dicts to CSV), but for vectors (numbers,
    not all whole), which stay text."""
    present = column.dropna()
    if present.empty or not (column.dtype == object or pd.api.types.is_string_dtype(column.dtype)):
        return None
    if not all(isinstance(v, str) for v in present):
        return None
    lists = ctr_data.lists_from_text(present)
    if not (lists.map(lambda v: isinstance(v, list)).all() or lists.map(lambda v: isinstance(v, dict)).all()):
        return None
    if present.str.fullmatch(_NUMBER_LIST).all() and _vector(present.map(lambda t: ctr_data.vector_text(t, source))):
        return None
    return lists.reindex(column.index)


def _objects(column: pd.Series) -> tuple[dict, str | None] | None:
    """(the first object, the field to read each one's id from) when the column's rows are lists of
    objects (TMDB's `[{"id": 28, "name": "Action"}]`): its name or title, else its first field of text,
    when every object has it; None as the field when none does; None when the rows are no such lists."""
    if column.dtype != object:
        return None
    lists = [v for v in column.dropna() if isinstance(v, ctr_data.LIST_TYPES) and len(v)]
    objects = [o for v in lists for o in ctr_data.list_items(v)]
    if not objects or not all(isinstance(o, dict) for o in objects):
        return None
    key = ctr_data.id_field(objects[0])
    held = all(isinstance(o.get(key), str | int) and not isinstance(o.get(key), bool) for o in objects)
    return objects[0], key if held else None


def _two_valued(column: pd.Series) -> bool:
    """Whether a column holds two values that say yes and no: 0/1, true/false, yes/no."""
    values = column.dropna()
    if values.map(lambda v: isinstance(v, (*ctr_data.LIST_TYPES, Mapping))).any():
        return False
    if column.dtype == bool or _binary(values):
        return bool(len(values))
    words = {str(v).strip().casefold() for v in values.unique()[:3]}
    return 1 <= len(words) <= 2 and words <= set(_YES_NO) and len({_YES_NO[w] for w in words}) == len(words)


def _truth(value: Any) -> bool:
    """A two-valued column's value as yes or no."""
    if isinstance(value, str):
        return _YES_NO.get(value.strip().casefold(), False)
    return bool(value)


def _strongest(column: pd.Series) -> Any:
    """An event column's value that is the strongest signal of a user's interest (`transaction` over
    `addtocart` over `view`), or None when the column holds no text naming one or too many values."""
    present = column.dropna()
    if not present.map(lambda v: isinstance(v, str)).all():
        return None
    distinct = present.unique()[:21]
    if not 2 <= len(distinct) <= 20:
        return None
    plain = {v: re.sub(r"[^a-z]", "", v.casefold()) for v in distinct}
    for word in _STRONG:
        found = [v for v, p in plain.items() if word in p]
        if found:
            return found[0]
    return None


def _clicks_out_of(frame: pd.DataFrame, ids: set[str | None]) -> tuple[pd.Series, pd.Series] | None:
    """(clicks, impressions) as numbers, when columns are named like them and hold counts with never
    more clicks than impressions: aggregated rows."""
    clicks = next((c for c in frame.columns if _CLICKS.match(c) and c not in ids and _counts(frame[c])), None)
    shown = next((c for c in frame.columns if _IMPRESSIONS.match(c) and c not in ids and _counts(frame[c])), None)
    if clicks is None or shown is None:
        return None
    numbers = pd.to_numeric(frame[clicks]), pd.to_numeric(frame[shown])
    return numbers if bool((numbers[0] <= numbers[1]).all()) else None


def _counts(column: pd.Series) -> bool:
    """Whether a column holds counts: whole numbers ≥ 0 on every row, some of them 1 or more."""
    if column.dtype == bool:
        return False
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)  # a CSV's columns are text here
    if np.isnan(numbers).any():
        return False
    return bool((numbers >= 0).all() and (numbers == np.floor(numbers)).all() and (numbers >= 1).any())


def _binary(column: pd.Series) -> bool:
    values = pd.to_numeric(column.dropna(), errors="coerce")
    return bool(len(values)) and set(values.unique()) <= {0, 1}


def _a_threshold(numbers: pd.Series) -> float:
    """A threshold to suggest for ratings: the top values (4 of 1 to 5), as MovieLens is read."""
    return float(np.ceil(numbers.min() + 0.75 * (numbers.max() - numbers.min())))


def _named(columns: list[str], pattern: re.Pattern, reasons: dict[str, str], role: str) -> str | None:
    found = next((c for c in columns if pattern.match(c)), None)
    if found is not None:
        reasons[role] = f"named like the {role} id (name another with {role}=, in the shell --{role})"
    return found


# -- one column -----------------------------------------------------------------------------------
def _feature(column: pd.Series, source: str, role: str | None, names: set[str]) -> tuple[Feature | None, str]:
    """The feature a column makes and why, or None and why it makes none."""
    name = identifier(source)
    stem, k = name, 1
    while name != source and name in names:  # 'a b' beside a column 'a_b' is 'a_b_2'
        k += 1
        name = f"{stem}_{k}"
    base: dict[str, Any] = {"name": name, "column": None if name == source else source}
    present = column.dropna()
    if present.empty:
        return None, "no values in the rows read"
    gaps = len(column) - len(present)
    share = gaps / len(column)
    missing = f", {gaps:,} missing ({share:.1%})" if share >= 0.001 else f", {gaps:,} missing" if gaps else ""
    first = present.iloc[0]
    if isinstance(first, Mapping):
        if ctr_data.weight_mappings(present):
            lengths = present.map(len)
            return (MultiCategorical(**base, weighted=True, max_length=_length(lengths, 0)),
                    f"mappings of {lengths.min()} to {lengths.max()} ids to weights "
                    f"({len({k for v in present for k in v}):,} distinct ids){missing}")
        return None, f"objects ({reprlib.repr(first)}): a feature reads one value or a list a row; flatten them first"
    listed = present.map(lambda v: isinstance(v, ctr_data.LIST_TYPES)) if present.dtype == object else None
    if listed is not None and listed.all():
        vector = _vector(present)
        if vector:
            return Vector(**base, dim=vector), f"vectors of {vector} numbers (embeddings){missing}"
    if listed is not None and listed.any():
        # Lists, some perhaps written out as text ('Drama|War', as a request may send them): the feature's
        # default separator reads those.
        present = present.map(lambda v: list(v) if isinstance(v, ctr_data.LIST_TYPES) else str(v).split("|"))
        lengths = present.map(len)
        pairs = all(isinstance(p, tuple | list | np.ndarray) and len(p) == 2 and ctr_data.is_weight(p[1])
                    for v in present for p in v)
        distinct = len({v[0] if pairs else v for values in present for v in values})
        if pairs and lengths.max():  # (id, weight): a Parquet map's rows
            return (MultiCategorical(**base, weighted=True, max_length=_length(lengths, 0)),
                    f"lists of {lengths.min()} to {lengths.max()} (id, weight) pairs ({distinct:,} distinct ids)"
                    f"{missing}")
        return (MultiCategorical(**base, max_length=_length(lengths, 0)),
                f"lists of {lengths.min()} to {lengths.max()} values ({distinct:,} distinct){missing}")
    if pd.api.types.is_bool_dtype(column.dtype):
        return Categorical(**base), f"true or false{missing}"
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return _timestamp(_local_time(base, column.dtype), "s", present, "datetimes", missing)
    if isinstance(column.dtype, pd.PeriodDtype):  # read as each period's start, as the data readers do
        return _timestamp(base, "s", present.dt.to_timestamp(), "periods (each read as its start)", missing)
    if pd.api.types.is_timedelta64_dtype(column.dtype):
        return None, "durations: make them numbers in a unit first (e.g. column.dt.total_seconds())"
    if pd.api.types.is_complex_dtype(column.dtype):
        return None, "complex numbers: no feature reads them"
    distinct = present.nunique()
    if distinct == 1 and role is None:
        only = first.item() if isinstance(first, np.generic) else first  # 1.5, not np.float64(1.5)
        return None, f"one value only ({only!r}) in the rows read: nothing to learn from"
    if pd.api.types.is_numeric_dtype(column.dtype):
        return _number(base, source, role, present, distinct, missing)
    text = present.map(readable) if present.dtype == object else present.astype(str)  # bytes that are no UTF-8 too
    numbers = pd.to_numeric(text, errors="coerce")
    spelled = text[numbers.isna()] if role is None else text.iloc[:0]
    if len(spelled):  # '1,234', '$9.99', '15%': numbers as a web page writes them
        read, units = ctr_data.written_numbers(spelled)
        # '?' or '-' among numbers (UCI's files mark a missing value so): missing, as the readers read them.
        marked = ctr_data.missing_marks(spelled).to_numpy()
        if marked.any() and marked.sum() < 0.5 * len(text) and read[~marked].notna().all():
            shown = ", ".join(repr(m) for m in spelled[marked].unique()[:3])
            missing += f"; {shown} on {int(marked.sum()):,} rows ({marked.sum() / len(present):.1%}), read as missing"
            kept = np.ones(len(text), dtype=bool)
            kept[np.flatnonzero(numbers.isna().to_numpy())[marked]] = False
            text, numbers = text[kept], numbers[kept]
            spelled, read, units = spelled[~marked], read[~marked], units[~marked]
            distinct = text.nunique()
            if distinct == 1:
                return None, f"one value only ({text.iloc[0]!r}) beside missing ones in the rows read: nothing to learn"
        if (mixed := ctr_data.mixed_units(spelled, units)) is not None:
            return None, (f"numbers in more than one unit ({mixed}), which no numeric feature reads as one "
                          "quantity: convert them to one first")
        numbers = numbers.fillna(read)
    if numbers.notna().all():
        written = _digit_time(base, source, role, numbers, missing)
        if written is not None:
            return written
        zeros = text[text.str.match(r"^-?0\d")]
        if len(zeros):
            return (Categorical(**base), f"codes with leading zeros ({zeros.iloc[0]!r}), read as text "
                                         f"({distinct:,} distinct{missing})")
        feature, why = _number(base, source, role, numbers, distinct, missing, timed=True)
        if len(spelled) and feature is not None:
            why += _written_why(spelled, units)
        return feature, why
    if role is None and text.str.fullmatch(_NUMBER_LIST).all():  # vectors written out, as a CSV cell holds them
        vector = _vector(text.map(lambda t: ctr_data.vector_text(t, source)))  # parsed as the data readers do
        if vector:
            return Vector(**base, dim=vector), f"vectors of {vector} numbers (embeddings) written as text{missing}"
    if role is None and text.str.match(r"^\d{4}-\d\d-\d\d").mean() > 0.99:
        try:
            moments = ctr_data.iso_times(text)
        except (ValueError, TypeError, OverflowError):
            pass
        else:
            offsets = _written_offsets(text)
            if len(offsets) == 1 and offsets[0] and -12 <= offsets[0] <= 14:  # one offset: parts at it
                return _timestamp({**base, "utc_offset_hours": offsets[0]}, "s",
                                  moments + pd.Timedelta(hours=offsets[0]), "ISO 8601 times", missing)
            feature, why = _timestamp(base, "s", moments, "ISO 8601 times", missing)
            if len(offsets) > 1:
                written = ", ".join(f"{hours:+g}h" for hours in offsets[:4])
                why += (f"; written at several offsets from UTC ({written}), as a zone's summer and winter "
                        "times are: set timezone (e.g. Europe/Berlin) for their local calendar parts")
            return feature, why
    if role is None and (fmt := ctr_data.date_text_format(text)) is not None:
        return None, (f"dates written as {text.iloc[0]!r} ({fmt}), which a timestamp does not read (it reads epoch "
                      f"numbers, datetimes and ISO 8601 text): convert the column first, e.g. "
                      f"pandas.to_datetime(frame[{source!r}], format={fmt!r})")
    if role is not None:
        return Categorical(**base), f"{distinct:,} distinct ids{missing}"
    if text.str.fullmatch(_SHOWN_WITH_CLICKS).all():
        return None, _impressions_why(text.iloc[0], source)
    for separator in _SEPARATORS:
        held = text.str.contains(separator, regex=False)
        if held.mean() >= 0.05 and (not text.str.contains(" ", regex=False).mean() > 0.5
                                    or _spaced_list(text, separator)):
            tokens = text.str.split(separator, regex=False)
            lengths = tokens.map(len)
            weighted = _weighted_ids(tokens)
            distinct_tokens = len(weighted[0] if weighted else {t.strip() for values in tokens for t in values})
            # Lists share their values ('Action|Comedy', 'Comedy|Drama'); a text's separators part words.
            if weighted and distinct_tokens < weighted[1]:
                return (MultiCategorical(**base, separator=separator, weighted=True, max_length=_length(lengths, 0)),
                        f"{separator!r}-separated lists of {lengths.min()} to {lengths.max()} ids with weights "
                        f"('id:weight'; {distinct_tokens:,} distinct ids){missing}")
            if distinct_tokens < sum(len(v.split(separator)) for v in text.unique()):
                return (MultiCategorical(**base, separator=separator, max_length=_length(lengths, 0)),
                        f"{separator!r}-separated lists of {lengths.min()} to {lengths.max()} values "
                        f"({distinct_tokens:,} distinct){missing}")
    spaced = text.str.split()
    if spaced.map(len).mean() >= 2 and (ids := {t for values in spaced for t in values}) and all(
            _ID_TOKEN.fullmatch(t) for t in ids) and len(ids) < spaced.map(len).sum():
        # Ids spaced apart (MIND's history of news 'N539 N615'): no words to read as text, and shared by rows.
        lengths = spaced.map(len)
        return (MultiCategorical(**base, separator=" ", max_length=_length(lengths, 0)),
                f"space-separated lists of {lengths.min()} to {lengths.max()} ids ({len(ids):,} distinct){missing}")
    # The model reads each Chinese or Japanese character as a word (`Text`); two of them count as one
    # word here, near the length of a word in those scripts, so that names ('王小明') stay categorical.
    unspaced = text.str.count(_UNSPACED)
    tokens = text.str.replace(_UNSPACED, " ", regex=True).str.split().map(len) + unspaced
    words = tokens - unspaced / 2
    if words.mean() >= 2.5 and (words > 1).mean() >= 0.5:
        if distinct <= _FEW_TEXTS and len(present) >= _FEW_TEXTS_SEEN * distinct:
            # Plans, devices, user agents: a text's words would share what each value learns whole.
            return Categorical(**base), (f"{distinct:,} distinct values, of {words.mean():.1f} words on average, each "
                                         f"on {len(present) // distinct:,} rows read on average: learned whole, as "
                                         f"categories, not word by word as text{missing}")
        counted = "; two Chinese or Japanese characters count as a word" if unspaced.any() else ""
        return (Text(**base, max_length=_length(tokens, 0.05)),
                f"text of {words.mean():.1f} words on average ({distinct:,} distinct{counted}){missing}")
    if (own := _own_ids(present, distinct)) is not None:
        return None, own
    rare, why = _rare(present, role)
    return Categorical(**base, **rare), f"{distinct:,} distinct values{missing}{why}"


def _written_why(written: pd.Series, units: pd.Series) -> str:
    """The reason's words for numbers the readers read from text written for people."""
    marked = units.to_numpy() != ""
    if not marked.any():
        return f"; written with thousands separators ({written.iloc[0]!r}), which are read so"
    first = written.iloc[int(np.argmax(marked))]
    if units.iloc[int(np.argmax(marked))] == "%":
        return f"; written as percentages ({first!r}), each read as its fraction (15% is 0.15)"
    return f"; written as amounts ({first!r}), read without the currency's sign"


_FEW_TEXTS = 50  # text of at most this many distinct values, each on _FEW_TEXTS_SEEN rows or more: categories
_FEW_TEXTS_SEEN = 20
# Candidates shown with their clicks, 'id-label' spaced apart: MIND's impressions ('N1870-0 N554-1').
_SHOWN_WITH_CLICKS = r"\s*(?:[^\s-]\S*-[01]\s+)*[^\s-]\S*-[01]\s*"
_ID_TOKEN = re.compile(r"[A-Za-z_]{0,4}\d+")  # 'N539', 'U425', '1234': an id, where a word has no digits


def _spaced_list(text: pd.Series, separator: str) -> bool:
    """Whether text holding spaces is lists all the same (Yelp's categories, 'Coffee & Tea, Food'): parts of
    at most three words, few of them (a fifth of their uses, half the distinct values or fewer), where a
    sentence's parts are its own."""
    values = text.unique()
    parts = pd.Series([p.strip() for value in values for p in value.split(separator)])
    return (bool(len(parts)) and parts.str.split().map(len).max() <= 3
            and parts.nunique() <= min(0.2 * len(parts), 0.5 * len(values)))


def _impressions_why(first: str, source: str) -> str:
    """Why a column of candidates with their clicks ('N1870-0 N554-1') is no feature, and how to make rows of it."""
    return (f"candidates with their clicks written as 'id-label' pairs ({reprlib.repr(first)}), as MIND's impressions "
            "are: a click model learns from a row per candidate, its click the label; make those rows first, e.g. "
            f"rows = frame.assign(candidate=frame[{source!r}].str.split()).explode('candidate'); "
            "rows[['item_id', 'clicked']] = rows['candidate'].str.rsplit('-', n=1, expand=True)")


def _own_ids(present: pd.Series, distinct: int) -> str | None:
    """Why a column of a different value on (nearly) every row makes no feature, or None."""
    if distinct > 0.9 * len(present) and len(present) >= 1000:
        return (f"a different value on {distinct / len(present):.0%} of the rows read (a row's own id?): "
                "nothing a model can learn to reuse")
    return None


def _rare(present: pd.Series, role: str | None) -> tuple[dict[str, Any], str]:
    """min_count: 2 and why, for a context column of many values most of which the rows read show once
    (Avazu's device_ip): each would be a table row trained on one row, so they share the unseen-value row.
    A user's or an item's ids keep theirs, which the recommenders need."""
    if role is not None:
        return {}, ""
    counts = present.value_counts(sort=False)
    once = float((counts == 1).mean()) if len(counts) >= 1000 else 0.0
    if once <= 0.5:
        return {}, ""
    return {"min_count": 2}, (f"; {once:.0%} of them seen once in the rows read: min_count 2, so that those share "
                              "the row for unseen values (each would be a row trained on one example)")


def _digit_time(base: dict[str, Any], source: str, role: str | None, numbers: pd.Series,
                missing: str) -> tuple[Feature, str] | None:
    """A timestamp of times written as digits, year first (20141021, Avazu's hour 14102100), and why,
    when every value reads as one in a format of Timestamp's; a two-digit year only under a time's name."""
    if role is not None or not (numbers == np.floor(numbers)).all() or numbers.min() < 0 or numbers.nunique() < 2:
        return None
    distinct = np.unique(numbers.to_numpy(dtype=np.int64))
    longest = len(str(int(distinct.max())))
    for fmt in DIGIT_TIME_FORMATS:
        width = sum(4 if field == "Y" else 2 for field in re.findall("%(.)", fmt))
        two = fmt.startswith("%y")  # whose years 2000 to 2009 lose their first digit to a number
        if longest not in ((width - 1, width) if two else (width,)) or (
                two and not (_WHEN.search(source) or _TIME.search(source))):
            continue
        moments = ctr_data.digit_moments(distinct, fmt)
        if moments.isna().any() or not ((moments.year >= 1990) & (moments.year <= 2060)).all():
            continue
        shown = f"{moments[0]:%Y-%m-%d %H:%M}" if "%H" in fmt else f"{moments[0]:%Y-%m-%d}"
        what = f"times written as digits, year first ({fmt}: {distinct[0]} is {shown})"
        if "%d" not in fmt:
            return (Timestamp(**base, format=fmt, parts=("month",)),
                    f"months written as digits ({fmt}: {distinct[0]} is {moments[0]:%B %Y}){missing}: the month")
        return _timestamp({**base, "format": fmt}, "s", pd.Series(moments), what, missing)
    return None


def _number(base: dict[str, Any], source: str, role: str | None, numbers: pd.Series, distinct: int,
            missing: str, timed: bool = False) -> tuple[Feature | None, str]:
    """The feature numbers make and why; `timed`: they were found to be no times written as digits."""
    whole = bool((numbers == np.floor(numbers)).all())
    if not timed and (written := _digit_time(base, source, role, numbers, missing)) is not None:
        return written
    if role is None and _TIME.search(source):
        unit = _epoch_unit(numbers)
        if unit is not None:  # fractions of a unit (time.time()'s 1593898068.378) are floored, as the readers do
            what = f"epoch {EPOCH_UNIT_NAMES[unit]}" + ("" if whole else " with fractions (read as whole ones)")
            return _timestamp(base, unit, pd.to_datetime(np.floor(numbers).astype(np.int64), unit=unit, utc=True),
                              what, missing)
    if whole and (role is not None or _ID.search(source) or _ANONYMOUS.match(source)):
        if role is None and (own := _own_ids(numbers, distinct)) is not None:
            return None, own
        how = ("" if role is not None else ", named like ids or codes" if _ID.search(source)
               else ", named like an anonymised categorical field (Criteo's and Avazu's C1, C2, ...)")
        rare, why = _rare(numbers, role)
        return (Categorical(**base, dtype="int", **rare),
                f"ids, whole numbers{how} ({distinct:,} distinct{missing}){why}")
    if role is not None:
        return Categorical(**base), f"ids ({distinct:,} distinct{missing})"
    low, high = float(numbers.min()), float(numbers.max())
    if whole and low in (0, 1) and distinct >= 2 and distinct >= 0.9 * (high - low + 1):
        # Label-encoded fields (Frappe's, a libFM file's) count their values from 0 or 1: codes, not amounts.
        return (Categorical(**base, dtype="int"),
                f"codes {low:g} to {high:g}, {'all' if distinct == high - low + 1 else 'nearly all'} used "
                f"({distinct:,} distinct{missing}): ids of values, not amounts")
    if whole and 2 <= distinct <= _FEW_CODES and distinct < 0.9 * (high - low + 1) and len(numbers) >= 100:
        # A few whole numbers far apart (Avazu's banner_pos 0, 1, 2, 7; an ad's width 300, 320, 728): codes, each
        # its own embedding, where a line through them would order what has no order.
        shown = ", ".join(f"{v:g}" for v in sorted(numbers.unique())[:6]) + (", ..." if distinct > 6 else "")
        return (Categorical(**base, dtype="int"),
                f"a few whole numbers far apart ({shown}{missing}): codes of values, not amounts")
    skew = float(numbers.astype(np.float64).skew())
    skewed = low >= 0 and skew > 2 and distinct > 10  # a long right tail (prices, counts) that a log evens
    transform = "log" if skewed else "standardize"
    why = f"numbers from {low:,.6g} to {high:,.6g}{missing}"
    if skewed:
        why += f", a long tail (skewness {skew:.1f}): log, then standardised"
    return Numeric(**base, transform=transform), why


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER_LIST = rf"\s*\[?\s*{_NUMBER}(?:\s*[,;\s]\s*{_NUMBER})+\s*\]?\s*"  # '[0.1, -0.3]', '0.1 -0.3'


def _weighted_ids(tokens: pd.Series) -> tuple[set[str], int] | None:
    """(the distinct ids, the count of ids in the distinct rows) of lists of tokens most of which carry
    a weight ('Action:0.7'), as a weighted bag reads them; None when fewer than half of them do."""
    weighted = re.compile(f"(?s){weighted_token(MultiCategorical('draft', weighted=True))}")
    ids, with_weight, total = set(), 0, 0
    for row in dict.fromkeys(tuple(t.strip() for t in values if t.strip()) for values in tokens):
        for token in row:
            match = weighted.fullmatch(token)
            with_weight += match is not None
            ids.add(match[1] if match else token)
        total += len(row)
    return (ids, total) if total and with_weight >= total / 2 else None


def _vector(lists: pd.Series) -> int | None:
    """The length of the lists when every one holds that many real numbers, some not whole (vectors: a
    text or image model's embeddings), and at least two; lists of whole numbers are lists of ids."""
    lengths = {len(v) for v in lists}
    if len(lengths) != 1 or (dim := lengths.pop()) < 2:
        return None
    try:
        values = np.array([np.asarray(v, dtype=np.float64) for v in lists.iloc[:1000]])
    except (TypeError, ValueError):
        return None
    plain = all(isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool | np.bool_)
                for v in lists.iloc[:1000] for x in v)
    return dim if plain and not np.all(values == np.floor(values)) else None


def _local_time(base: dict[str, Any], dtype: Any) -> dict[str, Any]:
    """The feature's fields, with the time zone of datetimes that carry one (or its fixed offset), so
    that their calendar parts are their local time's, as the data shows them, not UTC's."""
    zone = getattr(dtype, "tz", None)
    if zone is None:
        return base
    name = getattr(zone, "key", None) or getattr(zone, "zone", None)  # zoneinfo's, pytz's
    if name is not None and name in time_zones():
        offsets = zone_offsets(name)[1]
        return base if set(offsets) == {0} else {**base, "timezone": name}
    offset = zone.utcoffset(None)  # a fixed offset, as ISO text's '+02:00' gives
    hours = offset.total_seconds() / 3600 if offset is not None else 0
    return {**base, "utc_offset_hours": hours} if hours and -12 <= hours <= 14 else base


def _written_offsets(text: pd.Series) -> list[float]:
    """The offsets from UTC (hours) that ISO 8601 times are written with ('T10:00:00+02:00'), in order;
    0 for 'Z' or none, which read as UTC."""
    found = text.str.extract(r"([T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)(?:([+-])(\d\d):?(\d\d))?")
    hours = (found[2].astype(float) + found[3].astype(float) / 60).fillna(0) * found[1].map({"-": -1}).fillna(1)
    return sorted(set(hours[found[0].notna()]))


def _timestamp(base: dict[str, Any], unit: str, moments: pd.Series, what: str, missing: str) -> tuple[Feature, str]:
    first, last = moments.min(), moments.max()
    span = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
    if base.get("timezone"):
        what += f" in {base['timezone']} time"
    elif base.get("utc_offset_hours"):
        what += f" at UTC{base['utc_offset_hours']:+g}h"
    if not (moments == moments.dt.normalize()).all():
        return Timestamp(**base, unit=unit), f"{what} from {span}{missing}: calendar parts (hour, day of week)"
    # Dates with no time of day, whose hour is always 0. The month only when a year of them shows each
    # month: a month the training rows lack would be served with an embedding nothing trained.
    if last - first >= pd.Timedelta(days=365):
        return (Timestamp(**base, unit=unit, parts=("day_of_week", "month")),
                f"{what} from {span}{missing}, dates with no time of day: calendar parts (day of week, month)")
    return (Timestamp(**base, unit=unit, parts=("day_of_week",)),
            f"{what} from {span}{missing}, dates with no time of day: their day of week (the month when a year "
            "of them shows every month)")


def _epoch_unit(numbers: pd.Series) -> str | None:
    median = float(numbers.median())
    return next((unit for unit, (low, high) in _EPOCH_RANGES.items() if low <= median <= high), None)


def _length(lengths: pd.Series, cut: float) -> int:
    """Values kept per row: all but the longest `cut` of the rows read have all theirs (at most 64)."""
    return int(min(max(math.ceil(float(lengths.quantile(1 - cut))), 1), 64))


def _history(feature: MultiCategorical, lists: pd.Series, items: pd.Series, item_feature: str,
             why: str) -> tuple[Feature, str]:
    """A list of item ids is the user's history, whose items' content the model pools (cold start)."""
    known = set(items.dropna().astype(str))
    values = lists.dropna()
    if values.map(lambda v: isinstance(v, set | frozenset)).any():
        return feature, why  # a set has no order, and a history lists the latest first
    if feature.weighted:  # the ids without their weights, from text, mappings or pairs alike
        texts = ctr_data._weighted_bags(values, f"column {feature.source!r}", feature)
        tokens = [t for v in texts for t in bag_ids(token_text(v), feature)]
    else:
        tokens = [str(t).strip() for v in values for t in (v if isinstance(v, list | tuple | np.ndarray)
                                                            else str(v).split(feature.separator))]
    tokens = [t for t in tokens if t]
    if not tokens or sum(t in known for t in tokens) < 0.9 * len(tokens):
        return feature, why
    return (History(feature.name, column=feature.column, items=item_feature, separator=feature.separator,
                    max_length=max(feature.max_length, 1), weighted=feature.weighted,
                    weight_separator=feature.weight_separator),
            f"{why.replace('values', 'item ids', 1)}, nearly all of them ids of {item_feature}: the user's history, "
            "most recent first (check the order) → role user")


# -- roles ----------------------------------------------------------------------------------------
def _role(frame: pd.DataFrame, column: str, user: str | None, item: str | None) -> tuple[str, str]:
    """'user' or 'item' when the column holds one value per user (item) in nearly every row, else
    'context'; and why."""
    values = frame[column]
    if values.dtype == object and values.map(lambda v: isinstance(v, (*ctr_data.LIST_TYPES, Mapping))).any():
        values = values.map(lambda v: "|".join(map(str, ctr_data.list_items(v))) if isinstance(v, ctr_data.LIST_TYPES)
                            else repr(sorted(v.items(), key=repr)) if isinstance(v, Mapping) else v)
    best: tuple[float, str] | None = None
    for role, key in (("item", item), ("user", user)):
        if key is None:
            continue
        share = _constant_share(frame[key], values)
        if share is not None and share >= 0.99 and (best is None or share > best[0]):
            best = (share, role)
    if best is not None:
        key = item if best[1] == "item" else user
        return best[1], f"; one value per {key} → role {best[1]}"
    keys = " and within one ".join(repr(k) for k in (user, item) if k is not None)
    return "context", f"; varies within one {keys} → role context" if keys else "; no user or item column → context"


def _alias(frame: pd.DataFrame, column: str, feature: Feature, key: str | None) -> str | None:
    """Why a categorical column that names each user (item) by their id, one value per id and one id per
    value, such as an item's URL beside its id, makes no feature, or None: its table would learn what the
    ids' table does, and an unseen item's URL is as unseen as its id. Each value must hold its id or be a
    link (MIND's `https://assets.msn.com/labs/mind/AAGH0ET.html` for N55528): a zip code that is one user's
    in the rows read is kept, since a new user may share it."""
    if key is None or not isinstance(feature, Categorical):
        return None
    values = frame[column].nunique()
    if values < _ALIAS_VALUES:
        return None
    share = _constant_share(frame[column], frame[key])
    if share is None or share < 0.99:
        return None
    pairs = frame[[key, column]].dropna().drop_duplicates().astype(str).to_numpy()
    named, each = [_holds(v, k) for k, v in pairs], f"holding its {key}"
    if np.mean(named) < 0.99:
        named, each = [bool(_LINK.fullmatch(v)) for k, v in pairs], "a link"
    if np.mean(named) < 0.99:
        return None
    k, v = pairs[int(np.argmax(named))]
    return (f"{values:,} distinct values, one per {key} and one {key} per value in the rows read, each {each} "
            f"({v!r} for {k}): another name for {key!r}, whose ids the spec reads (its own table would learn what "
            "theirs does)")


_ALIAS_VALUES = 20  # fewer values, one per user (item), may be a property of the few users (items) read
_LINK = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)  # a URL: https://..., s3://..., gs://...


def _holds(text: str, word: str) -> bool:
    """Whether `word` is in `text` between characters that are no letters or digits ('85' in '/p/85?ref=1',
    not in '/p/851'). Found with str.find: a pattern compiled per id took 3 s for 100,000 items."""
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        if (start == 0 or not text[start - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
            return True
        start = text.find(word, start + 1)
    return False


def _constant_share(key: pd.Series, values: pd.Series) -> float | None:
    """The share of rows (of keys seen at least twice with a value) whose key has one value of the column;
    None when too few keys repeat to tell. A missing value is no other value: an item's price or a
    user's age missing from some of their rows is still theirs."""
    codes = pd.factorize(values)[0]  # -1: missing
    both = pd.DataFrame({"key": key.to_numpy(), "value": codes}).dropna(subset=["key"])
    both = both[both["value"] >= 0]
    grouped = both.groupby("key", sort=False)["value"]
    repeated = (grouped.transform("size") >= 2).to_numpy()
    if repeated.sum() < max(0.2 * len(both), 10):
        return None
    return float((grouped.transform("nunique").to_numpy()[repeated] == 1).mean())


# -- writing --------------------------------------------------------------------------------------
def _flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=math.inf, allow_unicode=True,
                          sort_keys=False).strip().removesuffix("\n...").strip()
