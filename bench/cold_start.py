"""Cold start on MovieLens 100K: users held out of training entirely, served from a 5-item profile.

Protocol: 20 % of the users are held out (seeded); each held-out user's earliest 5 ratings (by
time) are the profile given at serving time, the rest are their test rows. The other (warm) users'
ratings are split in time per user, 80 % train / 20 % test; 10 % of the warm training rows (random)
are the validation set for early stopping on AUC. A cold user's `history` is their profile; a warm
row's is built the same way: the first 5 items its user rated (only those before the row), so that
the models learn from what they will be served. One row is trained instead on each row's latest 5
items before it (`latest_history`), the usual construction, to show what the difference is worth.

Models: (a) on user and item ids only (the two-tower also with the user id's id_dropout at 0.1, so
that an unseen user's query is trained), (b) with the content profile: user id with id_dropout 0.5,
age, gender, occupation, the history (pooled item content), item id, genres, release year; each as a
DeepFM click model (trained on rating >= 4 over rated items; one content-profile row with each profile
film weighted by its rating, a weighted history; one content-profile row also on 4 films
never rated per training rating, as non-clicks, from `ctr.data.add_negatives`, with its validation
rows made the same way) and as a two-tower retriever (trained
on every warm training rating as an interaction, the whole catalogue as candidates; one id-only row
on the positive ratings only); (c) popularity (positive ratings in training). References, not ctr
models: item-kNN, EASE and demographic popularity, each blended with popularity. Metrics on warm
and cold test users: AUC of rating >= 4 over their test rows, and NDCG@10 over the full catalogue (items already
rated in training, or in the profile, excluded; relevant = test items rated >= 4). Median of
`--runs` seeds (the held-out users stay the same).

    python bench/cold_start.py [--data ../shared/data/ml-100k] [--runs 3]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ctr  # noqa: E402
from bench._report import arguments, machine, report_only_or_check_data, save, show_table  # noqa: E402
from ctr._keras import keras  # noqa: E402
from ctr.metrics import auc, ranking_metrics, ranks_with_random_ties  # noqa: E402

DEFAULT_OUT = str(ROOT / "bench" / "results" / "cold_start.json")
LABEL = {"column": "rating", "threshold": 4}
USER_ITEM = [{"name": "user_id", "kind": "categorical", "dtype": "int", "role": "user"},
             {"name": "item_id", "kind": "categorical", "dtype": "int", "role": "item"}]
PROFILE = [
    {"name": "user_id", "kind": "categorical", "dtype": "int", "role": "user", "id_dropout": 0.5},
    {"name": "age", "kind": "numeric", "transform": "quantile", "buckets": 8, "role": "user"},
    {"name": "gender", "kind": "categorical", "role": "user"},
    {"name": "occupation", "kind": "categorical", "role": "user"},
    {"name": "history", "kind": "history", "items": "item_id", "max_length": 5, "pooling": "attention"},
    {"name": "item_id", "kind": "categorical", "dtype": "int", "role": "item"},
    {"name": "genres", "kind": "multi_categorical", "separator": "|", "max_length": 6, "role": "item"},
    {"name": "release_year", "kind": "numeric", "role": "item"},
]
# DeepFM rows: name → (features, sampled non-clicks per training rating). With them
# (`ctr.data.add_negatives`), each rating is followed by films its user never rated, as non-clicks,
# so that the model learns what goes unrated as well as what is liked among what was rated.
# The rating-weighted row's profile carries each film's rating as its weight (`12:5|85:3`, a
# weighted history): a cold user's 1-star film counts a fifth of their 5-star one in the pooling.
SPECS = {"id-only DeepFM": (USER_ITEM, 0), "content-profile DeepFM": (PROFILE, 0),
         "content-profile DeepFM (profile weighted by rating)": (
             [{**f, "column": "rated_history", "weighted": True} if f["kind"] == "history" else f
              for f in PROFILE], 0),
         "content-profile DeepFM (+ 4 unrated films per rating)": (PROFILE, 4)}
# The id-only retriever is run twice: as is, and dropping 10 % of user ids in training, so that the
# "missing id" query an unseen user gets is trained (the average user's answer) rather than wherever
# an untouched vector lands.
# The last id-only row learns from the positive ratings only (the spec's label), what the NDCG counts
# as relevant and the popularity row counts; the others from every rating.
RETRIEVERS = {"id-only two-tower": (USER_ITEM, None),
              "id-only two-tower (id_dropout 0.1)": ([{**USER_ITEM[0], "id_dropout": 0.1}, USER_ITEM[1]], None),
              "id-only two-tower (id_dropout 0.1, trained on ratings >= 4)": (
                  [{**USER_ITEM[0], "id_dropout": 0.1}, USER_ITEM[1]], LABEL),
              "content-profile two-tower": ([{**f, "pooling": "mean"} if f["kind"] == "history" else f
                                             for f in PROFILE], None),
              "content-profile two-tower (trained on latest-5 histories)": (
                  [{**f, "pooling": "mean", "column": "latest_history"} if f["kind"] == "history" else f
                   for f in PROFILE], None)}
ANCHORS = "LightFM paper (Kula 2015), MovieLens 10M item cold start: AUC 0.716 for LightFM vs 0.500 for plain MF"


def main() -> None:
    parser = arguments(__doc__, DEFAULT_OUT)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--warm-users", type=int, default=300, help="warm users ranked for NDCG (random sample)")
    args = parser.parse_args()
    if report_only_or_check_data(args, publish, "bench/cold_start.py"):
        return
    table = ctr.datasets.movielens_100k(args.data)
    warm, profile, cold_test = ctr.data.cold_user_split(table, fraction=0.2, profile_size=5, seed=0)
    warm = ctr.data.add_history(warm, max_length=5, first=True)
    warm = ctr.data.add_history(warm, column="latest_history", max_length=5)
    warm = ctr.data.add_history(warm, column="rated_history", max_length=5, first=True, weight="rating")
    warm_train, warm_test = ctr.data.temporal_split(warm, (0.8, 0.2))
    train, valid = ctr.data.random_split(warm_train, (0.9, 0.1), seed=0)
    cold_test = ctr.data.add_history(cold_test, profiles=profile)
    cold_test = ctr.data.add_history(cold_test, column="rated_history", profiles=profile, weight="rating")
    cold_test = cold_test.assign(latest_history=cold_test["history"])
    print(f"MovieLens 100K: {warm['user_id'].nunique()} warm users ({len(train)} train / {len(valid)} valid / "
          f"{len(warm_test)} test rows), {cold_test['user_id'].nunique()} cold users (5-item profiles, "
          f"{len(cold_test)} test rows)", flush=True)
    split = profile_statistics(table, profile, cold_test)
    print(f"  profiles: {split}", flush=True)
    rng = np.random.default_rng(0)
    ranked_warm = rng.choice(warm_test["user_id"].unique(), size=min(args.warm_users,
                                                                     warm_test["user_id"].nunique()), replace=False)
    items = table.drop_duplicates("item_id").set_index("item_id", drop=False).sort_index()
    seen = {"warm": warm_train.groupby("user_id")["item_id"].apply(set),
            "cold": profile.groupby("user_id")["item_id"].apply(set)}
    tests = {"warm": warm_test, "cold": cold_test}
    results: dict[str, dict] = {}

    popularity = train[train["rating"] >= 4]["item_id"].value_counts().reindex(items.index, fill_value=0)
    results["popularity"] = evaluate(lambda rows: popularity.reindex(rows["item_id"]).to_numpy(float), tests,
                                     items, seen, ranked_warm)
    print(f"  popularity: {results['popularity']}", flush=True)
    # References, not ctr models: what a 5-item profile can carry by classical means, on the same split.
    ratings = pd.concat([warm_train, profile])
    results["reference: item-kNN + popularity"] = evaluate(knn_scores(warm_train, items.index, popularity), tests,
                                                           items, seen, ranked_warm)
    results["reference: EASE + popularity"] = evaluate(ease_scores(warm_train, items.index, popularity), tests,
                                                       items, seen, ranked_warm)
    results["reference: popularity by gender and age"] = evaluate(
        group_popularity(train, ["gender", "age"], items.index, popularity), tests, items, seen, ranked_warm)
    results["reference: rating biases"] = evaluate(bias_scores(ratings), tests, items, seen, ranked_warm)
    for name in [n for n in results if n.startswith("reference")]:
        print(f"  {name}: {results[name]}", flush=True)
    catalogue = items[["item_id", "title", "genres", "release_year"]].reset_index(drop=True)
    for name, (features, negatives) in SPECS.items():
        rated = ctr.FeatureSpec.from_dict({"name": name, "label": LABEL, "features": features})
        spec = ctr.FeatureSpec(rated.features, label=ctr.Label("clicked"), name=name) if negatives else rated
        runs = []
        for seed in range(args.runs):
            fit_rows, valid_rows = train, valid
            if negatives:  # the rating's label (>= 4) on rated films, 0 on the unrated ones drawn
                fit_rows, valid_rows = (ctr.data.add_negatives(rows, rated, negatives, items=catalogue, seed=seed + at)
                                        for at, rows in ((0, train), (1000, valid)))
            model = ctr.DeepFM(spec, embedding_dim=16, hidden_units=(64, 32), dropout=0.2, learning_rate=1e-3,
                               l2=1e-5, batch_size=256, seed=seed)
            stop = keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=2,
                                                 restore_best_weights=True)
            started = time.perf_counter()
            model.fit(fit_rows, validation_data=valid_rows, epochs=args.epochs, callbacks=[stop], verbose=0)
            scores = evaluate(model.predict, tests, items, seen, ranked_warm)
            runs.append({"seed": seed, "train_seconds": time.perf_counter() - started, **scores})
            print(f"  {name} seed {seed}: {scores}", flush=True)
        results[name] = {key: statistics.median(r[key] for r in runs) for key in runs[0] if key != "seed"}
        results[name]["runs"] = runs
    for name, (features, label) in RETRIEVERS.items():
        spec = ctr.FeatureSpec.from_dict({"name": name, "features": features, **({"label": label} if label else {})})
        runs = []
        for seed in range(args.runs):
            model = ctr.TwoTower(spec, embedding_dim=32, output_dim=32, learning_rate=0.1, batch_size=4096, seed=seed)
            started = time.perf_counter()
            model.fit(warm_train, items=catalogue, epochs=10, verbose=0)
            scores = evaluate(pair_scores(model), tests, items, seen, ranked_warm)
            runs.append({"seed": seed, "train_seconds": time.perf_counter() - started, **scores})
            print(f"  {name} seed {seed}: {scores}", flush=True)
        results[name] = {key: statistics.median(r[key] for r in runs) for key in runs[0] if key != "seed"}
        results[name]["runs"] = runs
    report = {"benchmark": "cold_start_movielens_100k",
              "protocol": {"cold_users": "20% of users, seed 0", "profile": "earliest 5 ratings",
                           "warm_split": "per-user temporal 80/20; 10% of train as validation",
                           "auc": "rating >= 4 over test rows", "ndcg": "NDCG@10 over all items, seen excluded",
                           "warm_users_ranked": len(ranked_warm), "runs": args.runs},
              "split": split, "anchors": ANCHORS, "machine": machine(),
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "results": results}
    save(report, args.out, DEFAULT_OUT, publish)


def profile_statistics(table: pd.DataFrame, profile: pd.DataFrame, cold_test: pd.DataFrame) -> dict:
    """How typical the profile items are: median popularity rank (1 = most rated film) of the cold
    users' profile items and of their later (test) items, and how fast the profiles were entered."""
    rank = table["item_id"].value_counts().rank(ascending=False, method="min")
    span = profile.groupby("user_id")["timestamp"].agg(lambda t: t.max() - t.min())
    return {"profile_items_median_popularity_rank": float(rank.reindex(profile["item_id"]).median()),
            "test_items_median_popularity_rank": float(rank.reindex(cold_test["item_id"]).median()),
            "profiles_entered_within_a_minute": float((span <= 60).mean()),
            "profile_positive_share": float((profile["rating"] >= 4).mean())}


def pair_scores(model):
    """A retriever's score for each (query, item) row, as the evaluation's score function."""
    position = pd.Index(model.catalog_ids())

    def score(rows: pd.DataFrame) -> np.ndarray:
        out = np.full(len(rows), -np.inf)
        found = position.get_indexer(rows["item_id"])
        known = found >= 0
        if known.any():
            out[known] = model.score_candidates(rows[known].reset_index(drop=True), found[known][:, None])[:, 0]
        return out

    return score


def knn_scores(train: pd.DataFrame, catalogue: pd.Index, popularity: pd.Series, weight: float = 1.0):
    """Item-kNN from the row's history (cosine over training co-occurrence, mean over the history's
    items) plus `weight` × popularity scaled to [0, 1]. The weight is the best of 0.1, 0.3, 1 and 3 on
    the cold users, so this row is an optimistic reference."""
    seen = interactions(train, catalogue)
    similar = seen.T @ seen
    norm = np.sqrt(np.diag(similar)) + 1e-9
    similar = similar / norm[:, None] / norm[None, :]
    np.fill_diagonal(similar, 0)
    return history_scores(lambda touched: similar[touched].mean(axis=0), catalogue, popularity, weight)


def ease_scores(train: pd.DataFrame, catalogue: pd.Index, popularity: pd.Series, l2: float = 2000.0,
                weight: float = 4.0):
    """EASE (Steck 2019), the closed-form item-item model, learned from the positive training ratings
    and folded in from the row's history (its items' rows summed, scaled to a maximum of 1), plus
    `weight` × popularity scaled to [0, 1]. `l2` and `weight` are the best of {50, 200, 500, 2000} ×
    {0, 0.5, 1, 2, 4} on the cold users, so this row too is optimistic."""
    liked = interactions(train[train["rating"] >= 4], catalogue)
    inverse = np.linalg.inv(liked.T @ liked + l2 * np.eye(len(catalogue), dtype=np.float32))
    weights = -inverse / np.diag(inverse)[None, :]
    np.fill_diagonal(weights, 0)

    def fold_in(touched: np.ndarray) -> np.ndarray:
        vector = weights[touched].sum(axis=0)
        return vector / (np.abs(vector).max() + 1e-9)

    return history_scores(fold_in, catalogue, popularity, weight)


def interactions(train: pd.DataFrame, catalogue: pd.Index) -> np.ndarray:
    """[users, items] 0/1 matrix of who touched what."""
    users = pd.factorize(train["user_id"])[0]
    seen = np.zeros((users.max() + 1, len(catalogue)), np.float32)
    seen[users, pd.Index(catalogue).get_indexer(train["item_id"])] = 1
    return seen


def history_scores(from_history, catalogue: pd.Index, popularity: pd.Series, weight: float):
    """A score function: `from_history(positions of the row's latest history items)` (a
    catalogue-wide vector) plus `weight` × popularity scaled to [0, 1]. A cold row's latest history is
    its profile, as its history is."""
    position = pd.Index(catalogue)
    prior = scaled_popularity(popularity, position, weight)

    def score(rows: pd.DataFrame) -> np.ndarray:
        out = np.empty(len(rows))
        wanted = position.get_indexer(rows["item_id"])
        for history, at in rows.groupby("latest_history", sort=False).indices.items():
            touched = position.get_indexer([int(i) for i in str(history).split("|") if i])
            touched = touched[touched >= 0]
            vector = from_history(touched) + prior if len(touched) else prior
            out[at] = vector[wanted[at]]
        return out

    return score


def scaled_popularity(popularity: pd.Series, catalogue: pd.Index, weight: float) -> np.ndarray:
    """`weight` × each catalogue item's popularity, scaled to [0, 1]: the prior the references add."""
    return weight * popularity.reindex(catalogue).to_numpy(float) / max(popularity.max(), 1)


AGE_BANDS = [0, 18, 25, 35, 45, 50, 56, 200]  # MovieLens 1M's age groups


def group_popularity(train: pd.DataFrame, keys: list[str], catalogue: pd.Index, popularity: pd.Series,
                     weight: float = 1.0):
    """Popularity among the users who share the row's `keys` (age in MovieLens 1M's bands), scaled to
    [0, 1], plus `weight` × overall popularity scaled the same way: what demographics alone carry.
    Keys and weight are the best of gender, age band, occupation, gender × age band and 0 or 1 on the
    cold users (optimistic)."""
    def groups(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[keys].copy()
        if "age" in keys:
            out["age"] = pd.cut(frame["age"], AGE_BANDS, right=False, labels=False)
        return out

    liked = train[train["rating"] >= 4]
    counts = liked.groupby([*(groups(liked)[k] for k in keys), liked["item_id"]]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=catalogue, fill_value=0)
    counts = counts.div(counts.max(axis=1).clip(lower=1), axis=0)
    position = pd.Index(catalogue)
    prior = scaled_popularity(popularity, position, weight)

    def score(rows: pd.DataFrame) -> np.ndarray:
        out = prior[position.get_indexer(rows["item_id"])].copy()
        for group, at in groups(rows).groupby(keys, sort=False).indices.items():
            if group in counts.index:
                out[at] += counts.loc[group].to_numpy()[position.get_indexer(rows["item_id"].iloc[at])]
        return out

    return score


def bias_scores(ratings: pd.DataFrame, shrink: float = 10.0):
    """Global mean + item bias + the user's offset, each shrunk towards 0: the user's offset comes
    from their training ratings (warm) or from the ratings of their 5 profile items (cold)."""
    mean = ratings["rating"].mean()
    per_item = ratings.groupby("item_id")["rating"].agg(["sum", "count"])
    item_bias = (per_item["sum"] - mean * per_item["count"]) / (per_item["count"] + shrink)
    residual = ratings["rating"] - mean - item_bias.reindex(ratings["item_id"]).to_numpy()
    per_user = residual.groupby(ratings["user_id"]).agg(["sum", "count"])
    user_bias = per_user["sum"] / (per_user["count"] + shrink)

    def score(rows: pd.DataFrame) -> np.ndarray:
        return (item_bias.reindex(rows["item_id"]).fillna(0).to_numpy()
                + user_bias.reindex(rows["user_id"]).fillna(0).to_numpy())

    return score


def evaluate(score, tests: dict, items: pd.DataFrame, seen: dict, ranked_warm: np.ndarray) -> dict:
    """AUC over each group's test rows and NDCG@10 of its users over the whole catalogue."""
    out = {}
    for group, test in tests.items():
        y = (test["rating"] >= 4).to_numpy(float)
        out[f"{group}_auc"] = auc(y, score(test))
        users = test["user_id"].unique() if group == "cold" else ranked_warm
        out[f"{group}_ndcg10"] = ndcg(score, test[test["user_id"].isin(users)], items, seen[group])
    return out


def ndcg(score, test: pd.DataFrame, items: pd.DataFrame, seen: pd.Series, k: int = 10) -> float:
    """Each user's features (their first test row, history included) paired with every item."""
    catalogue = items.index.to_numpy()
    position = pd.Index(catalogue)
    item_columns = ["item_id", "title", "genres", "release_year"]
    first = test.sort_values("timestamp").drop_duplicates("user_id")
    all_scores, targets, valid = [], [], []
    relevant = test[test["rating"] >= 4].groupby("user_id")["item_id"].apply(list)
    width = max((len(v) for v in relevant), default=1)
    for _, row in first.iterrows():
        pairs = items[item_columns].reset_index(drop=True).assign(
            **{c: row[c] for c in first.columns if c not in item_columns})
        all_scores.append(score(pairs))
        wanted = position.get_indexer(relevant.get(row["user_id"], []))
        targets.append(np.pad(wanted, (0, width - len(wanted)), constant_values=-1))
        valid.append(~np.isin(catalogue, list(seen.get(row["user_id"], set()))))
    ranks = ranks_with_random_ties(np.array(all_scores), np.array(targets), np.array(valid), seed=0)
    return ranking_metrics(ranks, k)[f"NDCG@{k}"]


def publish(report: dict, update: bool) -> None:
    res, info = report["results"], report["machine"]
    head = ("| model | warm AUC | cold AUC | cold / warm AUC | warm NDCG@10 | cold NDCG@10 | "
            "cold NDCG@10 / popularity's |")
    rows = [head, "|---|---:|---:|---:|---:|---:|---:|"]
    pop = res["popularity"]["cold_ndcg10"]
    for name, r in res.items():
        rows.append(f"| {name} | {r['warm_auc']:.4f} | {r['cold_auc']:.4f} | {r['cold_auc'] / r['warm_auc']:.3f} | "
                    f"{r['warm_ndcg10']:.4f} | {r['cold_ndcg10']:.4f} | {r['cold_ndcg10'] / pop:.2f}× |")
    split = report["split"]
    rows.append(f"\nThe profiles: a cold user's 5 earliest films have a median popularity rank of "
                f"{split['profile_items_median_popularity_rank']:.0f} (1 = the most rated film), their later "
                f"(test) films {split['test_items_median_popularity_rank']:.0f}; "
                f"{split['profiles_entered_within_a_minute']:.0%} of the profiles were entered within one "
                "minute.")
    rows.append(f"\nAnchor (other data, for orientation): {report['anchors']}.\n\nMedian of "
                f"{report['protocol']['runs']} runs (popularity: 1), measured {report['measured_at'][:10]} on "
                f"{info['cpu']} ({info['cores']} cores) by `bench/cold_start.py`; raw figures in "
                "`bench/results/cold_start.json`.")
    show_table("cold_start", rows, update)


if __name__ == "__main__":
    main()
