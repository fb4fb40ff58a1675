"""Loaders for the MovieLens 100K and 1M folders as GroupLens distributes them (nothing downloads).

Both return one table: each rating joined to its user's demographics and its movie's title,
release year and genres, with the same column names, so one spec fits either.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, first_line
from ..spec import Categorical, FeatureSpec, Label, MultiCategorical, Numeric, Text, Timestamp

_YEAR = re.compile(r"\((\d{4})\)\s*$")

# Occupation codes of ml-1m (its README).
_ML1M_OCCUPATIONS = [
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student", "customer service",
    "doctor/health care", "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer",
    "programmer", "retired", "sales/marketing", "scientist", "self-employed", "technician/engineer",
    "tradesman/craftsman", "unemployed", "writer",
]


def movielens_spec() -> FeatureSpec:
    """The spec of `movielens_100k()`'s and `movielens_1m()`'s tables as click-through prediction, a rating
    of 4 or 5 a click (= `feature_specs/movielens-100k.yaml`)."""
    return FeatureSpec([
        Categorical("user_id", dtype="int", role="user"), Categorical("item_id", dtype="int", role="item"),
        Numeric("age", transform="quantile", buckets=8, role="user"), Categorical("gender", role="user"),
        Categorical("occupation", role="user"), Categorical("zip_prefix", role="user", min_count=2),
        MultiCategorical("genres", separator="|", max_length=6, role="item"),
        Text("title", max_tokens=5000, max_length=10, min_count=2, role="item"),
        Numeric("release_year", role="item"), Timestamp("timestamp", parts=("hour", "day_of_week"), role="context"),
    ], label=Label("rating", threshold=4), name="movielens-100k",
        description="Ratings joined to user demographics and movie content; rating >= 4 is a click.")


def movielens_100k(path: str | Path) -> pd.DataFrame:
    """MovieLens 100K (`u.data`, `u.user`, `u.item`; `u.item` is Latin-1) as one joined table.

    Columns: user_id, item_id, rating, timestamp, age, gender, occupation, zip_code, zip_prefix,
    title, release_year (NaN when unknown), genres (`Action|Comedy`; empty when unknown).
    """
    folder = _folder(path, ["u.data", "u.user", "u.item", "u.genre"], "MovieLens 100K")
    ratings = _read(folder / "u.data", "\t", 4, [0, 1, 2, 3], names=["user_id", "item_id", "rating", "timestamp"],
                    dtype="int64")
    users = _read(folder / "u.user", "|", 5, [0, 1], names=["user_id", "age", "gender", "occupation", "zip_code"],
                  dtype={"user_id": "int64", "age": "int64", "zip_code": str}, encoding="latin-1")
    genre_names = [line.split("|")[0] for line in
                   (folder / "u.genre").read_text(encoding="latin-1").splitlines() if line.strip()]
    items = _read(folder / "u.item", "|", 5 + len(genre_names), [0, *range(5, 5 + len(genre_names))],
                  encoding="latin-1", names=["item_id", "title", "release_date", "video_release_date", "url",
                                             *genre_names])
    flags = items[genre_names].to_numpy(dtype=bool)
    names = np.array(genre_names, dtype=object)
    items["genres"] = ["|".join(names[row & (names != "unknown")]) for row in flags]
    items["release_year"] = pd.to_datetime(items["release_date"], format="%d-%b-%Y", errors="coerce").dt.year
    items["title"] = items["title"].fillna("").str.replace(_YEAR, "", regex=True).str.strip()
    items = items[["item_id", "title", "release_year", "genres"]]
    return _join(ratings, users, items)


def movielens_1m(path: str | Path, ratings: str | None = None) -> pd.DataFrame:
    """MovieLens 1M (`ratings.dat`, `users.dat`, `movies.dat`; `::`-separated, Latin-1) as one table.

    `ratings` names the ratings file inside the folder; by default `ratings.dat`, or else the
    `ratings.sample100k.dat` subset when only that is present (with a warning). Same columns as
    `movielens_100k`; age is the dataset's age-group code and occupation its name.
    """
    folder = _folder(path, ["users.dat", "movies.dat"], "MovieLens 1M")
    if ratings is None:
        ratings = "ratings.dat"
        if not (folder / ratings).exists() and (folder / "ratings.sample100k.dat").exists():
            warnings.warn(f"{folder}: ratings.dat is absent; using the 100k-row ratings.sample100k.dat",
                          stacklevel=2)
            ratings = "ratings.sample100k.dat"
    ratings_file = folder / ratings
    if not ratings_file.exists():
        raise DataError(f"{folder}: no ratings file {ratings!r} (MovieLens 1M needs ratings.dat)")
    # '::' separators: reading with ':' and keeping every other field keeps pandas' fast C parser.
    frame = _read(ratings_file, ":", 7, [0, 2, 4, 6], usecols=[0, 2, 4, 6], dtype="int64",
                  names=["user_id", "_a", "item_id", "_b", "rating", "_c", "timestamp"])
    users = _read(folder / "users.dat", ":", 9, [0, 4, 6], usecols=[0, 2, 4, 6, 8],
                  names=["user_id", "_a", "gender", "_b", "age", "_c", "occupation", "_d", "zip_code"],
                  dtype={"user_id": "int64", "age": "int64", "occupation": "int64", "zip_code": str},
                  encoding="latin-1")
    unknown = ~users["occupation"].between(0, len(_ML1M_OCCUPATIONS) - 1)
    if unknown.any():
        raise DataError(f"{folder / 'users.dat'}: occupation code {users['occupation'][unknown].iloc[0]} is not one "
                        f"of MovieLens 1M's 0–{len(_ML1M_OCCUPATIONS) - 1} (user {users['user_id'][unknown].iloc[0]})")
    users["occupation"] = users["occupation"].map(lambda code: _ML1M_OCCUPATIONS[code])
    lines = (folder / "movies.dat").read_text(encoding="latin-1").splitlines()
    parts = [line.split("::") for line in lines if line.strip()]
    bad = next((i for i, p in enumerate(parts) if len(p) != 3 or not p[0].strip().isdigit()), None)
    if bad is not None:
        raise DataError(f"{folder / 'movies.dat'}: not as GroupLens writes it (id::title::genres); the first line "
                        f"that is not: {[line for line in lines if line.strip()][bad]!r}")
    items = pd.DataFrame({"item_id": [int(p[0]) for p in parts], "title": [p[1] for p in parts],
                          "genres": [p[2] for p in parts]})
    items["release_year"] = pd.to_numeric(items["title"].str.extract(_YEAR)[0], errors="coerce")
    items["title"] = items["title"].str.replace(_YEAR, "", regex=True).str.strip()
    return _join(frame, users, items[["item_id", "title", "release_year", "genres"]])


def _folder(path: str | Path, required: list[str], what: str) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; {what} is read from its unpacked folder")
    missing = [name for name in required if not (folder / name).exists()]
    if missing:
        raise DataError(f"{folder}: {what} files missing: {', '.join(missing)}")
    return folder


def _read(file: Path, sep: str, fields: int, integers: list[int], **read_csv: Any) -> pd.DataFrame:
    """One GroupLens file read with pandas, or a DataError naming the file and its first line that
    does not hold `fields` fields split on `sep` with integers at the `integers` positions."""
    try:
        return pd.read_csv(file, sep=sep, header=None, **read_csv)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        detail = f"pandas: {first_line(err)}"
        with open(file, encoding="latin-1") as lines:  # Latin-1 reads any bytes
            for number, line in enumerate(lines, 1):
                values = line.rstrip("\r\n").split(sep)
                if len(values) != fields or not all(values[i].strip().lstrip("-").isdigit() for i in integers):
                    detail = f"line {number} is {line.rstrip()!r}, where {fields} fields split on {sep!r} are expected"
                    break
        raise DataError(f"{file}: not as GroupLens writes it; {detail}") from None


def _join(ratings: pd.DataFrame, users: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    for table, key, file in ((users, "user_id", "the users file"), (items, "item_id", "the items file")):
        twice = table[key][table[key].duplicated()]
        if len(twice):
            raise DataError(f"{file} lists {key} {twice.iloc[0]} more than once; each must be listed once")
    users = users.copy()
    users["zip_prefix"] = users["zip_code"].astype(str).str[:3]
    table = ratings.merge(users[["user_id", "age", "gender", "occupation", "zip_code", "zip_prefix"]],
                          on="user_id", how="left", validate="many_to_one")
    table = table.merge(items, on="item_id", how="left", validate="many_to_one")
    table["release_year"] = table["release_year"].astype("float64")
    return table
