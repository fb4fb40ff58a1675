"""Top-K ranking quality of Popularity, EASE, MF (log loss), MF (BPR), NeuMF and the two-tower on MovieLens 100K.

Protocols (stated in the output):
1. NCF (He et al. 2017): every rating is an implicit interaction; each user's latest interaction is
   held out (leave-one-out); it is ranked against 99 sampled items the user never rated
   (HR@10, NDCG@10), and against the full catalogue with the user's training items excluded
   (Recall@10, NDCG@10).
2. TFRS basic-retrieval tutorial: an 80/20 random split of the ratings (seed 42), a two-tower of
   32-d user and movie embeddings, 3 epochs of Adagrad(0.1), batch 8192, top-100 categorical accuracy
   over the whole catalogue (seen items not excluded); the tutorial reports about 0.23.

Two retrieve → re-rank pipelines (`ctr.RecommendationPipeline`, 100 candidates) are measured on the
same protocol, from the models trained above with the same seed: the two-tower with side features
retrieving for NeuMF with side features, and for DeepFM trained as a click model two ways: on the
training ratings alone (rating >= 4 is a click, among rated films), and on every training
interaction as a click with 4 films its user never rated as non-clicks (`ctr.data.add_negatives`).

Each trained model runs `--runs` times (seeds 0..runs-1); medians are reported. Popularity and EASE
(Steck 2019, l2 = 500 as Steck sets it for MovieLens 20M; read from ids alone) have no seed: one run each. Writes
bench/results/ranking.json and, with the default output path, the README's ranking table.

    python bench/ranking.py [--data ../shared/data/ml-100k] [--runs 3]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ctr  # noqa: E402
from bench._report import arguments, machine, report_only_or_check_data, save, update_readme  # noqa: E402

DEFAULT_OUT = str(ROOT / "bench" / "results" / "ranking.json")
IDS = ctr.FeatureSpec([ctr.Categorical("user_id", dtype="int", role="user"),
                       ctr.Categorical("item_id", dtype="int", role="item")], name="movielens-ids")
SIDE = ctr.FeatureSpec([
    ctr.Categorical("user_id", dtype="int", role="user"), ctr.Numeric("age", role="user", transform="quantile",
                                                                       buckets=8),
    ctr.Categorical("gender", role="user"), ctr.Categorical("occupation", role="user"),
    ctr.Categorical("item_id", dtype="int", role="item"), ctr.MultiCategorical("genres", role="item", max_length=6),
    ctr.Numeric("release_year", role="item")], name="movielens-side")

# name → (builder, epochs): fixed settings, not tuned on the held-out items.
MODELS = {
    "MF (log loss)": (lambda seed: ctr.MatrixFactorization(IDS, embedding_dim=32, learning_rate=2e-3, l2=1e-6,
                                                           n_negatives=4, seed=seed), 20),
    "MF (BPR)": (lambda seed: ctr.MatrixFactorization(IDS, embedding_dim=32, loss="bpr", learning_rate=2e-3,
                                                      l2=1e-6, n_negatives=4, seed=seed), 20),
    "NeuMF": (lambda seed: ctr.NeuMF(IDS, embedding_dim=16, hidden_units=(64, 32, 16), learning_rate=1e-3,
                                     n_negatives=4, seed=seed), 20),
    "NeuMF + side features": (lambda seed: ctr.NeuMF(SIDE, embedding_dim=16, hidden_units=(64, 32, 16),
                                                     learning_rate=1e-3, n_negatives=4, seed=seed), 20),
    "Two-tower": (lambda seed: ctr.TwoTower(IDS, embedding_dim=32, output_dim=32, learning_rate=0.1,
                                            batch_size=4096, seed=seed), 10),
    "Two-tower + side features": (lambda seed: ctr.TwoTower(SIDE, embedding_dim=32, output_dim=32,
                                                            learning_rate=0.1, batch_size=4096, seed=seed), 10),
}
LIKED = ctr.FeatureSpec(SIDE.features, label=ctr.Label("rating", threshold=4), name="movielens-side-liked")
CLICKS = ctr.FeatureSpec(SIDE.features, label=ctr.Label("clicked"), name="movielens-side-clicks")
DEEPFM_EPOCHS = 5
# Click-model rankers trained here: name → (spec, training rows from the leave-one-out training part).
RANKERS = {
    "DeepFM on ratings >= 4": (LIKED, lambda train, seed: train),
    "DeepFM on interactions + 4 unrated": (CLICKS, lambda train, seed: ctr.data.add_negatives(train, SIDE, 4,
                                                                                              seed=seed)),
}
PIPELINES = {  # name → (retriever, ranker): rows of MODELS or RANKERS
    "Two-tower + side → NeuMF + side (100 candidates)": ("Two-tower + side features", "NeuMF + side features"),
    **{f"Two-tower + side → {ranker} (100 candidates)": ("Two-tower + side features", ranker) for ranker in RANKERS},
}
N_CANDIDATES = 100
ANCHORS = [
    "NCF paper (He et al. 2017), this sampled protocol on MovieLens 1M: NeuMF HR@10 0.726",
    "Rendle et al. 2020 ('NCF vs. MF revisited'), same protocol, MovieLens 1M: tuned MF HR@10 0.729",
    "TensorFlow Recommenders basic-retrieval tutorial, MovieLens 100K: top-100 accuracy about 0.23",
]


def main() -> None:
    parser = arguments(__doc__, DEFAULT_OUT)
    args = parser.parse_args()
    if report_only_or_check_data(args, publish, "bench/ranking.py"):
        return

    table = ctr.datasets.movielens_100k(args.data)
    items = table.drop_duplicates("item_id")[["item_id", "genres", "release_year"]]
    train, test = ctr.leave_one_out(table)
    print(f"MovieLens 100K, leave-one-out: {len(train)} training interactions, {len(test)} held out, "
          f"{len(items)} items")
    results: dict[str, dict] = {}

    trained: dict[tuple[str, int], object] = {}

    def measure(name: str, model, fit) -> dict:
        started = time.perf_counter()
        fit(model)
        seconds = time.perf_counter() - started
        return evaluate(name, model, seconds)

    def evaluate(name: str, model, seconds: float | None) -> dict:
        sampled = ctr.evaluate_ranking(model, test, train, protocol="sampled", k=10, n_negatives=99)
        full = ctr.evaluate_ranking(model, test, train, protocol="full", k=10)
        run = {"sampled_HR@10": sampled["HR@10"], "sampled_NDCG@10": sampled["NDCG@10"],
               "full_Recall@10": full["Recall@10"], "full_NDCG@10": full["NDCG@10"], "train_seconds": seconds,
               "protocols": [sampled["protocol"], full["protocol"]]}
        print(f"  {name:<58} HR@10 {run['sampled_HR@10']:.4f}  NDCG@10 {run['sampled_NDCG@10']:.4f}  "
              f"full Recall@10 {run['full_Recall@10']:.4f}  NDCG@10 {run['full_NDCG@10']:.4f}  ({_seconds(seconds)})",
              flush=True)
        return run

    results["Popularity"] = _summary([measure("Popularity", ctr.Popularity(IDS), lambda m: m.fit(train,
                                                                                              items=items))])
    results["EASE"] = _summary([measure("EASE", ctr.EASE(IDS, l2=500.0), lambda m: m.fit(train, items=items,
                                                                                        verbose=0))])
    for name, (build, epochs) in MODELS.items():
        runs = []
        for seed in range(args.runs):
            trained[name, seed] = build(seed)
            runs.append(measure(name, trained[name, seed],
                                lambda m, e=epochs: m.fit(train, items=items, epochs=e, verbose=0)))
        results[name] = _summary(runs)
    for name, (spec, rows) in RANKERS.items():
        for seed in range(args.runs):
            trained[name, seed] = ctr.DeepFM(spec, embedding_dim=16, hidden_units=(256, 128), seed=seed)
            started = time.perf_counter()
            trained[name, seed].fit(rows(train, seed), epochs=DEEPFM_EPOCHS, verbose=0)
            trained[name, "seconds", seed] = time.perf_counter() - started
    for name, (retriever, ranker) in PIPELINES.items():
        runs = []
        for seed in range(args.runs):
            pipeline = ctr.RecommendationPipeline(trained[retriever, seed], trained[ranker, seed], N_CANDIDATES)
            # Train seconds: those of a ranker trained for the pipeline alone (a DeepFM), else none.
            runs.append(evaluate(name, pipeline, trained.get((ranker, "seconds", seed))))
        results[name] = _summary(runs)

    # The TFRS tutorial's own protocol, for the two-tower alone.
    tutorial_train, tutorial_test = ctr.data.random_split(table, (0.8, 0.2), seed=42)
    accuracies = []
    for seed in range(args.runs):
        model = ctr.TwoTower(IDS, embedding_dim=32, output_dim=32, learning_rate=0.1, batch_size=8192,
                             top_k_metrics=(100,), seed=seed)
        history = model.fit(tutorial_train, validation_data=tutorial_test, items=items, epochs=3, verbose=0)
        accuracies.append(history.history["val_factorized_top_k/top_100_categorical_accuracy"][-1])
        print(f"  two-tower, TFRS tutorial protocol, seed {seed}: top-100 accuracy {accuracies[-1]:.4f}", flush=True)
    tutorial = {"top_100_accuracy_median": statistics.median(accuracies), "runs": accuracies,
                "protocol": "80/20 random split of ratings (seed 42), 3 epochs, Adagrad 0.1, batch 8192, "
                            "32-d id embeddings, top-100 over all items, seen items not excluded",
                "published": 0.23}

    report = {"benchmark": "ranking_movielens_100k", "runs": args.runs, "machine": machine(),
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "results": results, "tfrs_tutorial": tutorial,
              "anchors": ANCHORS}
    save(report, args.out, DEFAULT_OUT, publish)


def _summary(runs: list[dict]) -> dict:
    keys = ["sampled_HR@10", "sampled_NDCG@10", "full_Recall@10", "full_NDCG@10", "train_seconds"]
    return {**{f"{k}_median": None if any(r[k] is None for r in runs) else statistics.median(r[k] for r in runs)
               for k in keys}, "runs": runs}


def _one_run(results: dict) -> str:
    """The baselines measured once (reports written before EASE was measured have Popularity alone)."""
    return " and ".join(name for name in ("Popularity", "EASE") if name in results)


def _seconds(seconds: float | None, unit: str = " s") -> str:
    return "—" if seconds is None else f"{seconds:.0f}{unit}"


def publish(report: dict, update: bool) -> None:
    """Print the table, and write it into the README's ranking block when `update`."""
    results, info, tutorial = report["results"], report["machine"], report["tfrs_tutorial"]
    header = ["model", "HR@10 (sampled)", "NDCG@10 (sampled)", "Recall@10 (full)", "NDCG@10 (full)", "train s"]
    rows = [[name, *(f"{r[f'{k}_median']:.4f}" for k in ("sampled_HR@10", "sampled_NDCG@10", "full_Recall@10",
                                                         "full_NDCG@10")), _seconds(r["train_seconds_median"], "")]
            for name, r in results.items()]
    print(f"\nMovieLens 100K, leave-one-out; median of {report['runs']} runs; machine: {info['cpu']}, "
          f"{info['cores']} cores")
    print("sampled: held-out item vs 99 sampled unrated items; full: all items, training items excluded")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    print(f"two-tower under the TFRS tutorial protocol: top-100 accuracy {tutorial['top_100_accuracy_median']:.4f} "
          f"(published: about {tutorial['published']})")
    for anchor in report["anchors"]:
        print("anchor:", anchor)
    markdown = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    markdown += ["| " + " | ".join(row) + " |" for row in rows]
    markdown.append(f"\nTwo-tower under the TFRS basic-retrieval tutorial's protocol ({tutorial['protocol']}): "
                    f"top-100 accuracy **{tutorial['top_100_accuracy_median']:.4f}**; the tutorial publishes about "
                    f"{tutorial['published']}. Same data, split rule, embedding size, optimiser, batch and epochs; "
                    "ours adds the sampling-probability correction, accidental-hit removal and a linear projection "
                    "on each tower, which the tutorial's model does not have.\n")
    markdown.append(f"The pipeline rows (→) retrieve {N_CANDIDATES} candidates with the two-tower of the row named "
                    "first and re-rank them with the second model, the same seed's; `ctr.evaluate_ranking` ranks "
                    "the items it does not retrieve after the re-ranked ones, in random order. On the sampled "
                    f"protocol the {N_CANDIDATES} candidates are the held-out item and its 99 negatives, so the "
                    f"ranker alone orders them. A DeepFM's train s is its own training ({DEEPFM_EPOCHS} epochs, "
                    "embedding 16, MLP 256-128, Adam 1e-3, batch 512: the defaults); the NeuMF pipeline reuses "
                    "the models above. The DeepFM on ratings is trained on the training ratings, a rating >= 4 a "
                    "click; the other on every training interaction as a click and 4 films its user never rated as "
                    "non-clicks (`ctr.data.add_negatives`).\n")
    markdown += ["Anchors (other data, for orientation): " + "; ".join(report["anchors"]) + ".\n",
                 f"Median of {report['runs']} runs ({_one_run(results)}: 1, having no seed), measured "
                 f"{report['measured_at'][:10]} on {info['cpu']} ({info['cores']} cores), TensorFlow "
                 f"{info['tensorflow']}, by `bench/ranking.py`; "
                 "raw figures in `bench/results/ranking.json`."]
    if update:
        update_readme("ranking", "\n".join(markdown))


if __name__ == "__main__":
    main()
