"""The recommenders' Adam: what a step costs as the catalogue grows, and what it does to ranking quality.

MF and NeuMF train with Adam on the embedding rows a batch used (`embedding_updates="momentum"`, the
default, applies the steps Keras' Adam would have taken on a row meanwhile when the row is next used;
"lazy" does not). Keras' Adam, which they trained with before, decays every row's moments and
rewrites every weight at every step. Two parts, each (job, update, seed) in its own process:

1. Cost: MF (log loss, 32-d, batch 1024, 4 negatives) on 100,000 generated interactions, over
   catalogues of growing size passed whole (`fit(items=...)`), with as many possible users as items
   (user ids uniform, item popularity Pareto-skewed); seconds of the second epoch (the first traces
   and warms up), and interactions/s.
2. Quality: bench/ranking.py's MF (log loss), MF (BPR) and NeuMF on MovieLens 100K, its settings and
   leave-one-out protocol: HR@10 and NDCG@10 against 99 sampled items, NDCG@10 over the full catalogue.

Keras' Adam is the model's own optimizer with the update swapped for Keras' (as in
bench/embedding_updates.py). Medians over `--runs` seeds. Writes
bench/results/recommender_updates.json and the README's block.

    python bench/recommender_updates.py [--data ../shared/data/ml-100k] [--runs 3]
                                        [--catalogues 10000,100000,500000]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_OUT = str(ROOT / "bench" / "results" / "recommender_updates.json")
UPDATES = ("momentum", "lazy", "keras")
INTERACTIONS = 100_000
QUALITY_MODELS = ("MF (log loss)", "MF (BPR)", "NeuMF")  # bench/ranking.py's names and settings


def main() -> None:
    from bench._report import arguments, machine, run_child, run_options, save

    parser = arguments(__doc__, DEFAULT_OUT)
    parser.add_argument("--catalogues", default="10000,100000,500000",
                        help="comma-separated catalogue sizes (users = items) for the cost part")
    args = run_options(parser, child, publish, "bench/recommender_updates.py")
    if args is None:
        return
    started = time.time()
    jobs = [{"part": "cost", "name": f"{int(n)}", "catalogue": int(n)} for n in args.catalogues.split(",")]
    jobs += [{"part": "quality", "name": name, "data": args.data} for name in QUALITY_MODELS]
    results: dict[str, dict] = {"cost": {}, "quality": {}}
    for job in jobs:
        runs: dict[str, list[dict]] = {update: [] for update in UPDATES}
        for seed in range(args.runs):  # seed by seed, every update in turn: a slow spell falls on all
            for update in UPDATES:
                r = run_child(__file__, {**job, "update": update, "seed": seed})
                runs[update].append(r)
                print(f"  {job['part']:<8}{job['name']:<15}{update:<9} seed {seed}: "
                      + "  ".join(f"{k} {v:.4g}" for k, v in r.items()), flush=True)
        results[job["part"]][job["name"]] = {
            update: {"runs": r, **{f"{k}_median": statistics.median(x[k] for x in r) for k in r[0]}}
            for update, r in runs.items()}
    report = {"benchmark": "recommender_updates", "runs": args.runs, "interactions": INTERACTIONS,
              "machine": machine(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "wall_minutes": round((time.time() - started) / 60, 1), "results": results}
    save(report, args.out, DEFAULT_OUT, publish)


def child(job: dict) -> dict:
    import ctr
    from bench.embedding_updates import keras_update
    from bench.ranking import MODELS
    from bench.vs_deepctr import _clock_callback

    if job["part"] == "cost":
        build, epochs, (train, items) = MODELS["MF (log loss)"][0], 2, generated(job["catalogue"])
    else:
        table = ctr.datasets.movielens_100k(job["data"])
        items = table.drop_duplicates("item_id")[["item_id", "genres", "release_year"]]
        (build, epochs), (train, test) = MODELS[job["name"]], ctr.leave_one_out(table)
    model = build(job["seed"])
    if job["update"] == "keras":
        optimizer = keras_update()
        model._optimizer = lambda: optimizer(model.learning_rate)
    else:
        model.embedding_updates = job["update"]
    clock = _clock_callback(time.perf_counter())
    started = time.perf_counter()
    model.fit(train, items=items, epochs=epochs, callbacks=[clock], verbose=0)
    if job["part"] == "cost":
        return {"epoch_s": clock.epoch_seconds[-1], "interactions_per_s": len(train) / clock.epoch_seconds[-1],
                "users": int(train["user_id"].nunique()), "items": len(items)}
    sampled = ctr.evaluate_ranking(model, test, train, protocol="sampled", k=10, n_negatives=99)
    full = ctr.evaluate_ranking(model, test, train, protocol="full", k=10)
    return {"sampled_HR@10": sampled["HR@10"], "sampled_NDCG@10": sampled["NDCG@10"],
            "full_NDCG@10": full["NDCG@10"], "train_s": time.perf_counter() - started}


def generated(catalogue: int) -> tuple:
    """(INTERACTIONS (user_id, item_id) pairs over `catalogue` possible users and items, the catalogue
    of `catalogue` items), seed 0."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    items = (rng.pareto(1.2, INTERACTIONS) * catalogue / 50).astype(np.int64) % catalogue
    return (pd.DataFrame({"user_id": rng.integers(0, catalogue, INTERACTIONS), "item_id": items}),
            pd.DataFrame({"item_id": np.arange(catalogue)}))


def publish(report: dict, update: bool) -> None:
    from bench._report import show_table

    cost, quality, info = report["results"]["cost"], report["results"]["quality"], report["machine"]
    names = {"momentum": "momentum (default)", "lazy": "lazy", "keras": "Keras' Adam (before)"}
    rows = ["| catalogue items | users | " + " | ".join(f"s/epoch {names[u]}" for u in UPDATES)
            + " | Keras' Adam / momentum |", "|---:|---:|" + "---:|" * (len(UPDATES) + 1)]
    for r in cost.values():
        rows.append(f"| {r['momentum']['items_median']:,} | {r['momentum']['users_median']:,} | "
                    + " | ".join(f"{r[u]['epoch_s_median']:.1f}" for u in UPDATES)
                    + f" | {r['keras']['epoch_s_median'] / r['momentum']['epoch_s_median']:.1f}× |")
    rows += ["", "| MovieLens 100K | " + " | ".join(f"HR@10 {names[u]}" for u in UPDATES) + " | "
             + " | ".join(f"NDCG@10 full, {names[u]}" for u in UPDATES) + " |", "|---|" + "---:|" * (2 * len(UPDATES))]
    for name, r in quality.items():
        rows.append(f"| {name} | " + " | ".join(f"{r[u]['sampled_HR@10_median']:.4f}" for u in UPDATES) + " | "
                    + " | ".join(f"{r[u]['full_NDCG@10_median']:.4f}" for u in UPDATES) + " |")
    rows += ["", f"Medians of {report['runs']} seeds, measured {report['measured_at'][:10]} on {info['cpu']} "
             f"({info['cores']} cores), TensorFlow {info['tensorflow']}, by `bench/recommender_updates.py` "
             f"(cost: MF on {report['interactions']:,} generated interactions, the second epoch; quality: "
             "bench/ranking.py's models, settings and leave-one-out protocol, HR@10 against 99 sampled items); "
             "raw figures in `bench/results/recommender_updates.json`."]
    show_table("recommender_updates", rows, update)


if __name__ == "__main__":
    main()
