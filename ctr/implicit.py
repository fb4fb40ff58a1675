"""Implicit feedback: interactions as positives, sampled negatives, and the leave-one-out split.

Most recommendation data says only what a user touched. Training a scorer on it needs negatives:
items the user did not touch, drawn uniformly or in proportion to popularity, never one of the
user's known positives, and fresh every epoch so the model does not memorise one fixed sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import data as ctr_data
from ._args import check_choice
from .errors import DataError
from .spec import FeatureSpec, SpecLike
from .splits import column_arguments_hint, spec_columns, time_order

__all__ = ["Interactions", "NegativeSampler", "keys", "leave_one_out"]


def keys(spec: FeatureSpec) -> tuple[str, str]:
    """The user and item id features: the first categorical feature of role user, and of role item."""
    found = []
    for role in ("user", "item"):
        key = spec.id_feature(role)
        if key is None:
            raise DataError(f"spec {spec.name!r}: a recommender needs a categorical feature with role {role!r} "
                            "(its id), and there is none")
        found.append(key.name)
    return found[0], found[1]


@dataclass
class Interactions:
    """Positive (user, item) pairs, as row numbers into one table of users and one of items."""

    users: pd.DataFrame  # one row per user: the user-role columns (latest values seen)
    items: pd.DataFrame  # one row per item: the item-role columns
    context: pd.DataFrame  # per interaction: the context-role columns
    user_index: np.ndarray  # int64 row of `users` for each interaction
    item_index: np.ndarray  # int64 row of `items` for each interaction
    weights: np.ndarray | None = None  # float32 weight of each interaction (`label.weight`), or None: all 1

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, spec: FeatureSpec, items: pd.DataFrame | None = None,
                   owner: str = "fit", anonymous: bool = False) -> Interactions:
        """Positives from an interaction table: rows whose label is 1, or every row when the spec has no label, each
        weighing its `label.weight` if the spec names one. `items` (a catalogue with the item columns) may add items
        nobody interacted with; `owner` is the function whose `items` errors name. A row without a user id is
        refused unless `anonymous` (a count of items needs no user)."""
        user_key, item_key = keys(spec)
        source = {f.name: f.source for f in spec.features}
        # Each column once, though two features read it (a title as words and hashed): a frame's columns
        # picked twice would be two columns of one name.
        user_cols, item_cols, context_cols = (list(dict.fromkeys(source[f.name] for f in spec.by_role(role)))
                                              for role in ("user", "item", "context"))
        label_cols = [c for c in spec.columns if c not in {*user_cols, *item_cols, *context_cols}]
        dtypes = ctr_data.csv_dtypes(spec)
        frame = ctr_data.read(frame, user_cols + item_cols + context_cols + label_cols,
                              hint=ctr_data.column_hints(spec), dtypes=dtypes)
        if spec.label is not None:
            frame = frame[ctr_data.labels(frame, spec) == 1]
        if len(frame) == 0:
            raise DataError("no positive interactions to learn from (the data is empty, or no label is 1)")
        weights = ctr_data.sample_weights(frame, spec)
        if weights is not None and not weights.any():
            raise DataError(f"weight column {spec.label.weight!r} (label.weight): all {len(frame)} positive "
                            "interactions weigh 0, so there is nothing to learn from")
        user_col, item_col = source[user_key], source[item_key]
        users = frame[user_cols].drop_duplicates(user_col, keep="last").reset_index(drop=True)
        possessive = f"{owner}'" if owner.endswith("s") else f"{owner}'s"
        hint = f". That table is {possessive} `items`, the catalogue, which needs every item feature"
        catalogue = frame[item_cols] if items is None else pd.concat(
            [ctr_data.read(items, item_cols, hint=hint, dtypes=dtypes), frame[item_cols]], ignore_index=True)
        item_table = catalogue.drop_duplicates(item_col, keep="first").reset_index(drop=True)
        require_ids(item_table, item_col, owner if items is None else f"{owner} (the interactions or `items`)")
        if not anonymous:
            require_ids(users, user_col, owner, "user")
        user_index = _positions(users[user_col], frame[user_col])
        item_index = _positions(item_table[item_col], frame[item_col])
        return cls(users, item_table, frame[context_cols].reset_index(drop=True), user_index, item_index, weights)

    def __len__(self) -> int:
        return len(self.user_index)

    def item_counts(self, weighted: bool = False) -> np.ndarray:
        """Each item's interactions: how often it occurs, or (`weighted`) the sum of their weights."""
        weights = self.weights if weighted else None
        return np.bincount(self.item_index, weights=weights, minlength=len(self.items)).astype(np.float64)


class NegativeSampler:
    """Draws items a user never interacted with: uniformly, or in proportion to item popularity."""

    def __init__(self, user_index: np.ndarray, item_index: np.ndarray, n_items: int,
                 distribution: str = "uniform", item_counts: np.ndarray | None = None, seed: int = 0):
        check_choice("NegativeSampler", "distribution", distribution, ("uniform", "popularity"))
        self.n_items, self.seed = n_items, seed
        self.known = np.unique(user_index.astype(np.int64) * n_items + item_index)  # sorted (user, item) keys
        self.cumulative = None
        if distribution == "popularity":
            counts = item_counts if item_counts is not None else np.bincount(item_index, minlength=n_items)
            weights = counts.astype(np.float64) + 1e-9  # every item stays drawable
            self.cumulative = np.cumsum(weights / weights.sum())

    def saturated_users(self) -> np.ndarray:
        """User rows that have interacted with every item: no negative can be drawn for them."""
        per_user = np.bincount(self.known // self.n_items)
        return np.flatnonzero(per_user >= self.n_items)

    def sample(self, users: np.ndarray, n: int, epoch: int = 0, distinct: bool = False) -> np.ndarray:
        """[len(users), n] item rows, none a known positive of its user; new draws for each epoch. With
        `distinct`, each row holds n different items (as the sampled protocol's "n items" means)."""
        rng = np.random.default_rng([self.seed, epoch])
        users = users.astype(np.int64)
        items = self._sample(rng, users, n)
        return self._distinct(rng, users, items) if distinct else items

    def _sample(self, rng: np.random.Generator, users: np.ndarray, n: int) -> np.ndarray:
        users = np.repeat(users, n)
        items = self._draw(rng, len(users))
        # Rejection sampling, cheap while users have touched few of the items. Each round re-draws and
        # re-checks only the clashes (checking every draw again was most of an epoch's sampling).
        clash = np.flatnonzero(self.is_known(users, items))
        for _ in range(20):
            if clash.size == 0:
                return items.reshape(-1, n)
            items[clash] = self._draw(rng, clash.size)
            clash = clash[self.is_known(users[clash], items[clash])]
        # Heavy users: draw exactly from the items they have not touched.
        for user in np.unique(users[clash]):
            free = self._free(user)
            if free.size == 0:
                raise DataError(f"the user at row {user} has interacted with every item, so no negative item can "
                                "be sampled for them")
            slots = clash[users[clash] == user]
            items[slots] = self._draw_from(rng, free, slots.size)
        return items.reshape(-1, n)

    def _distinct(self, rng: np.random.Generator, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """`items` [Q, n] with each row's repeats drawn again until the row's n items differ."""
        for _ in range(20):
            rows, columns = np.nonzero(_repeats(items))
            if rows.size == 0:
                return items
            fresh = self._draw(rng, rows.size)
            new = ~self.is_known(users[rows], fresh)
            items[rows[new], columns[new]] = fresh[new]
        for row in np.flatnonzero(_repeats(items).any(axis=1)):  # few items left to the user: draw exactly
            free = self._free(users[row])
            if free.size < items.shape[1]:
                raise DataError(f"the user at row {users[row]} has {free.size} items they never interacted with, "
                                f"fewer than the {items.shape[1]} different negatives asked for")
            items[row] = self._draw_from(rng, free, items.shape[1], replace=False)
        return items

    def _free(self, user: int) -> np.ndarray:
        return np.setdiff1d(np.arange(self.n_items), self._positives(user), assume_unique=True)

    def _draw_from(self, rng: np.random.Generator, free: np.ndarray, size: int, replace: bool = True) -> np.ndarray:
        """`size` of the item rows `free`, drawn as `_draw` draws from all of them (uniformly or by popularity)."""
        weights = None if self.cumulative is None else np.diff(self.cumulative, prepend=0.0)[free]
        return rng.choice(free, size=size, replace=replace, p=None if weights is None else weights / weights.sum())

    def _positives(self, user: int) -> np.ndarray:
        lo, hi = np.searchsorted(self.known, [user * self.n_items, (user + 1) * self.n_items])
        return self.known[lo:hi] - user * self.n_items

    def is_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Whether each (user row, item row) pair is a known positive."""
        pairs = users.astype(np.int64) * self.n_items + items
        at = np.minimum(np.searchsorted(self.known, pairs), len(self.known) - 1)
        return self.known[at] == pairs

    def _draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.cumulative is None:
            return rng.integers(0, self.n_items, size)
        return np.minimum(np.searchsorted(self.cumulative, rng.random(size)), self.n_items - 1)


def _repeats(items: np.ndarray) -> np.ndarray:
    """[Q, n] marks of the entries that repeat an item earlier in the same row's sorted order."""
    order = np.argsort(items, axis=1, kind="stable")
    ordered = np.take_along_axis(items, order, axis=1)
    repeated = np.zeros(items.shape, bool)
    repeated[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    marks = np.zeros(items.shape, bool)
    np.put_along_axis(marks, order, repeated, axis=1)
    return marks


def leave_one_out(data: ctr_data.Source, user: str | None = None, time: str | None = None,
                  validation: bool = False, spec: SpecLike | None = None) -> tuple[pd.DataFrame, ...]:
    """Each user's latest interaction (ties: the later row) is the test item; with `validation`, the
    one before it is the validation item. Users with too few interactions stay whole in train. The
    columns are `user` and `time`, else those of the spec's user id and timestamp features, else
    user_id and timestamp."""
    user, time = spec_columns("leave_one_out", spec, user=user, time=time).values()
    frame = ctr_data.read(data).reset_index(drop=True)
    ctr_data.require_columns(frame, [user, time], where="the data of leave_one_out",
                             hint=column_arguments_hint("it holds out each user's latest row", "user", "time",
                                                        spec=spec))
    ranked = frame.iloc[time_order(frame, user, time, "leave_one_out")]
    from_end = ranked.groupby(user, sort=False).cumcount(ascending=False).reindex(frame.index).to_numpy()
    size = frame.groupby(user)[user].transform("size").to_numpy()
    held = 2 if validation else 1
    test = (from_end == 0) & (size > held)
    if len(frame) and not test.any():
        raise DataError(f"leave_one_out: no user ({user!r}) has more than {held} interaction(s), so none can be "
                        "held out" + (" for validation and test" if validation else " for the test"))
    parts = [frame[~test & ~((from_end == 1) & (size > held))] if validation else frame[~test]]
    if validation:
        parts.append(frame[(from_end == 1) & (size > held)])
    parts.append(frame[test])
    return tuple(p.reset_index(drop=True) for p in parts)


def require_ids(table: pd.DataFrame, column: str, where: str, what: str = "item") -> None:
    """Raise a DataError if any row of `table` (a catalogue: one row an item, or the users' table: the
    check costs what the items or users do, not the interactions) has no id: NaN, None, empty text or
    the integer missing value. Such an item (user) could be neither learned nor recommended (to)."""
    ids = table[column]
    ctr_data.refuse_binary_ids(ids, column, where, f"a recommender gives {what} ids back as text")
    missing = ids.isna().to_numpy()
    if ids.dtype.kind in "iu":
        missing = missing | (ids.to_numpy() == np.iinfo(np.int64).min)
    elif not pd.api.types.is_numeric_dtype(ids.dtype):
        missing = missing | ids.astype(str).str.strip().eq("").to_numpy()
    if missing.any():
        raise DataError(f"{where}: some rows have no {what} id (column {column!r}: NaN, None or empty); "
                        + ("an item without an id can be neither learned nor recommended" if what == "item" else
                           "a user without an id has no vector to learn and no items to leave out")
                        + ", so drop or fill those rows")


def _positions(table_keys: pd.Series, values: pd.Series) -> np.ndarray:
    index = pd.Index(table_keys)
    return index.get_indexer(values).astype(np.int64)
