"""The embedded default: MovieLens-shaped data that `ctr` generates itself, with planted structure.

Users have demographics, items have genres, title words, a release year and a price (sometimes
missing); each rating has a timestamp. Whether a user likes an item is driven mostly by
*interactions*: the user's taste for the item's genres (set partly by age group and occupation),
a time-of-day × genre effect, and price sensitivity by age. A model of pairwise interactions (FM,
DeepFM) can learn these; logistic regression, which only adds per-value weights, cannot — so a good
model beats it by a margin the tests assert.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..spec import Categorical, FeatureSpec, Label, MultiCategorical, Numeric, Text, Timestamp

GENRES = ["Action", "Comedy", "Drama", "Thriller", "Romance", "Sci-Fi", "Animation", "Documentary",
          "Horror", "Family", "Crime", "Musical"]
OCCUPATIONS = ["student", "engineer", "artist", "doctor", "retired", "writer", "sales", "teacher",
               "programmer", "other"]
_GENRE_WORDS = {
    "Action": ["fury", "strike", "mission", "blade"], "Comedy": ["crazy", "wedding", "party", "dude"],
    "Drama": ["silent", "river", "mother", "letters"], "Thriller": ["shadow", "hunt", "night", "trap"],
    "Romance": ["love", "kiss", "heart", "paris"], "Sci-Fi": ["star", "galaxy", "robot", "planet"],
    "Animation": ["bunny", "toy", "dragon", "magic"], "Documentary": ["story", "life", "earth", "truth"],
    "Horror": ["blood", "grave", "curse", "scream"], "Family": ["home", "dog", "holiday", "friends"],
    "Crime": ["heist", "gang", "city", "deal"], "Musical": ["song", "dance", "stage", "rhythm"],
}
_FILLER = ["the", "of", "last", "return", "day", "man", "world", "secret", "great", "little"]
_AGE_EDGES = np.array([25, 35, 50])


def synthetic(n_rows: int = 100_000, n_users: int = 2_000, n_items: int = 1_000, seed: int = 0,
              item_skew: float = 1.2) -> pd.DataFrame:
    """A ratings table shaped like `movielens_100k` (same columns, plus `price`), reproducible by seed.

    `item_skew` is the Pareto shape of item popularity: small values make a few items dominate
    (as in MovieLens), large values spread interactions evenly, so that taste matters more.
    """
    rng = np.random.default_rng(seed)
    n_genres = len(GENRES)

    # Users: demographics set a group taste; each user adds a personal taste on top.
    age = rng.integers(16, 71, n_users)
    age_group = np.searchsorted(_AGE_EDGES, age, side="right")
    occupation = rng.integers(0, len(OCCUPATIONS), n_users)
    gender = rng.choice(["F", "M"], n_users)
    age_taste = rng.normal(0, 1.0, (len(_AGE_EDGES) + 1, n_genres))
    occupation_taste = rng.normal(0, 0.7, (len(OCCUPATIONS), n_genres))
    taste = age_taste[age_group] + occupation_taste[occupation] + rng.normal(0, 0.7, (n_users, n_genres))
    user_bias = rng.normal(0, 0.3, n_users)
    zip_code = np.char.zfill(rng.integers(0, 100_000, n_users).astype(str), 5)
    price_sensitivity = np.where(age < 25, -0.8, np.where(age >= 50, -0.2, -0.5))

    # Items: one to three genres, a title built from genre words, a year and a price.
    item_genres = np.zeros((n_items, n_genres))
    genre_lists = []
    titles = []
    for i in range(n_items):
        chosen = rng.choice(n_genres, size=rng.integers(1, 4), replace=False)
        item_genres[i, chosen] = 1.0
        genre_lists.append("|".join(GENRES[g] for g in chosen))
        words = [rng.choice(_GENRE_WORDS[GENRES[g]]) for g in chosen] + list(rng.choice(_FILLER, 2))
        rng.shuffle(words)
        titles.append(" ".join(words).title())
    item_genres /= item_genres.sum(axis=1, keepdims=True)
    item_bias = rng.normal(0, 0.4, n_items)
    year = rng.integers(1950, 2024, n_items).astype(float)
    year[rng.random(n_items) < 0.03] = np.nan
    price = np.round(np.exp(rng.normal(2.0, 0.6, n_items)), 2)
    price[rng.random(n_items) < 0.10] = np.nan

    # Interactions: active users and popular items dominate (Zipf-like), over two years.
    user_weight = rng.pareto(1.5, n_users) + 1
    item_weight = rng.pareto(item_skew, n_items) + 1
    users = rng.choice(n_users, n_rows, p=user_weight / user_weight.sum())
    items = rng.choice(n_items, n_rows, p=item_weight / item_weight.sum())
    start = 1_600_000_000
    timestamp = start + rng.integers(0, 2 * 365 * 86400, n_rows)
    hour = (timestamp % 86400) // 3600
    evening = ((hour >= 18) | (hour < 2)).astype(float)
    evening_genre = np.zeros(n_genres)
    evening_genre[[GENRES.index("Horror"), GENRES.index("Thriller")]] = 1.2
    evening_genre[[GENRES.index("Family"), GENRES.index("Animation")]] = -1.2

    item_price = np.nan_to_num(price[items], nan=np.nanmedian(price))
    affinity = np.einsum("ng,ng->n", taste[users], item_genres[items])
    score = (0.3 + user_bias[users] + item_bias[items] + 1.6 * affinity
             + (evening[:, None] * item_genres[items] @ evening_genre)
             + price_sensitivity[users] * (np.log(item_price) - 2.0)
             + rng.normal(0, 0.5, n_rows))
    # Ratings 1..5 by fixed cut points on the latent score, so "rating >= 4" is about 45 % of rows.
    rating = 1 + np.searchsorted(np.array([-1.2, -0.4, 0.35, 1.3]), score)

    frame = pd.DataFrame({
        "user_id": users.astype(np.int64) + 1,
        "item_id": items.astype(np.int64) + 1,
        "rating": rating.astype(np.int64),
        "timestamp": timestamp.astype(np.int64),
        "age": age[users].astype(np.int64),
        "gender": gender[users],
        "occupation": np.array(OCCUPATIONS, dtype=object)[occupation[users]],
        "zip_code": zip_code[users],
        "title": np.array(titles, dtype=object)[items],
        "release_year": year[items],
        "genres": np.array(genre_lists, dtype=object)[items],
        "price": price[items],
    })
    frame["zip_prefix"] = frame["zip_code"].str[:3]
    return frame


def synthetic_spec() -> FeatureSpec:
    """The spec of the embedded data (the same as `feature_specs/synthetic.yaml`)."""
    return FeatureSpec(
        name="synthetic",
        description="Generated ratings with planted user-taste x genre, hour x genre and age x price effects.",
        label=Label("rating", threshold=4),
        features=(
            Categorical("user_id", role="user", dtype="int"),
            Categorical("item_id", role="item", dtype="int"),
            Numeric("age", role="user", transform="quantile", buckets=8),
            Categorical("gender", role="user"),
            Categorical("occupation", role="user"),
            Categorical("zip_prefix", role="user", min_count=2),
            MultiCategorical("genres", role="item", separator="|", max_length=3),
            Text("title", role="item", max_tokens=2000, max_length=8),
            Numeric("release_year", role="item"),
            Numeric("price", role="item", transform="log"),
            Timestamp("timestamp", role="context", parts=("hour", "day_of_week")),
        ),
    )
